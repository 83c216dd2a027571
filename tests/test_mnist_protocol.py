"""bench/studies/mnist_protocol.py: records runs from results.json and makes the README table."""
import json
import os

from conftest import ROOT

from bench.studies import mnist_protocol


def results(run, epochs, done, seed=1, **method):
    history = [dict(epoch=e, val_err=5.0 - e, test_err=5.5 - e, seconds=60.0)
               for e in range(done + 1)]
    config = dict(batch_size=1000, epochs=epochs, lr_start=0.1, lr_end=1e-5, seed=seed,
                  train_size=0, a=0.5, r=1.0, update='adam', lr_drops=[])
    config.update(method)
    return dict(run=run, epochs_done=done, best_val_epoch=done, best_val_err=5.0 - done,
                test_err_at_best_val=5.5 - done, best_test_epoch=done, best_test_err=5.5 - done,
                history=history, config=config)


def test_add_replaces_a_run_and_the_table_says_what_finished(tmp_path):
    store, source = str(tmp_path / 'runs.json'), str(tmp_path / 'results.json')
    for done in (2, 3):   # the same run recorded while training, then when done
        with open(source, 'w') as handle:
            json.dump(results('a', 3, done), handle)
        mnist_protocol.add(store, source, 'python mnist.py ...', 'CPU', 'note')
    with open(source, 'w') as handle:
        json.dump(results('b', 10, 4, seed=2, a=1.0, lr_drops=[8]), handle)
    mnist_protocol.add(store, source, 'python mnist.py --seed 2', 'GPU')
    runs = mnist_protocol.load(store)
    assert [r['run'] for r in runs] == ['a', 'b']
    assert runs[0]['finished'] and not runs[1]['finished']
    assert runs[0]['epoch_seconds'] == 240.0 and runs[0]['val_err_curve'] == [4.0, 3.0, 2.0]
    lines = mnist_protocol.table(runs).splitlines()
    assert lines[2] == ('| 1000 | 3 | 0.1 -> 1e-05 | none | 1 | CPU | 4 min | 2.00% (3) | 2.50% | '
                        '2.50% | note |')
    assert lines[3].startswith('| 1000 | 10 (4) | 0.1 -> 1e-05 | a 1, lr_drops [8] | 2 | GPU |')


def test_departures_name_what_differs_from_the_papers_method():
    """Every method hyperparameter away from mnist.py's defaults is named; the
    schedule and the data are not method hyperparameters."""
    import mnist
    import run_options
    defaults = vars(run_options.parse_args(mnist.EXPERIMENT, []))
    assert set(mnist_protocol.PAPER_METHOD) <= set(defaults)
    assert mnist_protocol.departures(defaults) == ''
    changed = dict(defaults, a=1.0, m=10.0, update='int8-momentum', seed=7, batch_size=50)
    assert mnist_protocol.departures(changed) == 'a 1, m 10, update int8-momentum'


def test_every_committed_run_says_how_it_departs_from_the_paper():
    """Rows recorded before the column existed were filled in from their command;
    the runs with a results.json in weights/ must agree with it."""
    for run in mnist_protocol.load(mnist_protocol.DEFAULT_FILE):
        assert 'departures' in run, run['run']
        path = os.path.join(ROOT, 'weights', run['run'] + '.results.json')
        if os.path.exists(path):
            with open(path) as handle:
                config = json.load(handle)['config']
            assert run['departures'] == mnist_protocol.departures(config), run['run']


def test_committed_file_has_a_finished_cpu_run_of_the_makefile_protocol():
    """The README's `make mnist` figures come from a recorded run of MNIST_FLAGS:
    the same schedule, and the same departures from the paper's method."""
    import mnist
    import run_options
    with open(os.path.join(ROOT, 'Makefile')) as handle:
        line = [l for l in handle if l.startswith('MNIST_FLAGS ?=')][0]
    config = vars(run_options.parse_args(mnist.EXPERIMENT, line.split('?=')[1].split()))
    runs = mnist_protocol.load(mnist_protocol.DEFAULT_FILE)
    matching = [r for r in runs
                if r['batch_size'] == config['batch_size'] and r['epochs'] == config['epochs'] and
                r['lr_start'] == config['lr_start'] and r['lr_end'] == config['lr_end'] and
                r['departures'] == mnist_protocol.departures(config) and r['finished'] and
                r['device'].startswith('2-core CPU')]
    assert matching, (config, mnist_protocol.departures(config))
