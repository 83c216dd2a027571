"""sweep.py: a grid of real trainings (tests/tiny_mnist.py on an MNIST subset), run
two at a time, collected into a table; run again, nothing finished is run again."""
import json
import os
import re
import subprocess
import sys
import time

import pytest

from bench import common
from conftest import ROOT
import sweep

SUBSET = ['--train-size', '200', '--val-size', '100', '--test-size', '100', '--epochs', '1',
          '--batch-size', '50']


def write_grid(tmp_path, mnist_dir, **fields):
    grid = dict(name='t', script='tests/tiny_mnist.py', dataset='mnist', methods=['gxnor', 'fp'],
                seeds=[1], flags=SUBSET + ['--data-dir', mnist_dir], python=sys.executable)
    grid.update(fields)
    path = str(tmp_path / 'grid.json')
    with open(path, 'w') as handle:
        json.dump(grid, handle)
    return path


def run_sweep(*argv):
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, 'sweep.py')] + list(argv),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    out, err = proc.communicate()
    return proc.returncode, out.decode('utf-8'), err.decode('utf-8')


def test_a_grid_runs_two_at_a_time_then_is_read_back_not_run_again(tmp_path, mnist_dir):
    # the data folder from the command line (where this machine keeps it), not the grid
    grid = write_grid(tmp_path, mnist_dir, seeds_of=dict(fp=[1, 2]), flags=SUBSET)
    out, keep = str(tmp_path / 'out'), str(tmp_path / 'kept')
    code, text, err = run_sweep(grid, '--out', out, '--jobs', '2', '--data-dir', mnist_dir,
                                '--keep', keep)
    assert code == 0, text + err
    threads = os.environ.get('OMP_NUM_THREADS') or str(max(1, common.cpu_count() // 2))
    assert '3 runs, 0 finished before, 3 to run, 2 at a time with %s threads each' % threads \
        in text
    assert 'sweep t: 3 done (0 before), 0 running, 0 failed, 0 to start' in text
    with open(os.path.join(out, 'table.json')) as handle:
        rows = json.load(handle)['rows']
    assert [(r['method'], r['seeds'], len(r['runs'])) for r in rows] == \
        [('gxnor', [1], 1), ('fp', [1, 2], 2)]
    assert rows[0]['paper_test_err'] == 0.68 and rows[0]['title'].startswith('GXNOR-Net')
    assert os.path.getsize(os.path.join(out, 'table.png')) > 1000     # and its figure
    assert all(0 <= run['test_err_at_best_val'] <= 100 for row in rows for run in row['runs'])
    results = [os.path.join(out, 'results', run['run'], 'results.json')
               for row in rows for run in row['runs']]
    stamps = [os.path.getmtime(path) for path in results]
    # Again: every run is read back, none trains, and the table is the same.
    code, again, err = run_sweep(grid, '--out', out, '--jobs', '2', '--data-dir', mnist_dir)
    assert code == 0 and '3 finished before, 0 to run' in again, again + err
    assert [os.path.getmtime(path) for path in results] == stamps
    assert again.split('\n| method')[1] == text.split('\n| method')[1]
    # --keep holds a copy of each finished run's results.json: with --out wiped (a new
    # machine), the runs are still finished and the table is the same.
    assert sorted(os.listdir(keep)) == sorted(run['run'] + '.json'
                                              for row in rows for run in row['runs'])
    code, kept, err = run_sweep(grid, '--out', str(tmp_path / 'new'), '--keep', keep)
    assert code == 0 and '3 finished before, 0 to run' in kept, kept + err
    assert kept.split('\n| method')[1].replace('/new/', '/out/') == \
        text.split('\n| method')[1]


def test_a_failed_run_is_one_line_with_its_log_and_the_others_finish(tmp_path, mnist_dir):
    # seed -1 is refused by the harness (exit 2): that run fails, the other trains.
    grid = write_grid(tmp_path, mnist_dir, methods=['fp'], seeds=[-1, 1])
    out = str(tmp_path / 'out')
    code, text, err = run_sweep(grid, '--out', out, '--jobs', '2')
    assert code == 1, text + err
    failed = [line for line in text.splitlines() if 'FAILED' in line]
    assert len(failed) == 1 and 'fp seed -1 (exit 2); its log: ' in failed[0]
    log = failed[0].split('its log: ')[1]
    with open(log) as handle:
        assert '--seed must be in 0..' in handle.read()
    assert '1 done (0 before), 0 running, 1 failed' in text
    with open(os.path.join(out, 'table.json')) as handle:
        (row,) = json.load(handle)['rows']
    assert [run['seed'] for run in row['runs']] == [1]


@pytest.mark.parametrize('content, message', [
    (None, 'cannot read grid'),
    ('{"name": "x"', 'is not valid JSON'),
    ('{"name": "x", "script": "mnist.py"}', 'has no "methods"'),
])
def test_a_bad_grid_is_one_error_line(tmp_path, content, message):
    path = str(tmp_path / 'grid.json')
    if content is not None:
        with open(path, 'w') as handle:
            handle.write(content)
    code, text, err = run_sweep(path, '--out', str(tmp_path / 'out'))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith('sweep.py: error: ') and message in lines[0]


def test_an_lr_search_keeps_the_lr_with_the_best_validation_error(tmp_path):
    """Chosen on validation error, never on test error: LR 0.3 has the better test
    error but the worse validation error."""
    grid = dict(name='s', script='mnist.py', methods=['bnn'], seeds=[1, 2],
                lr_search=[0.1, 0.3])
    out = str(tmp_path)
    runs = sweep.expand(grid)
    for run in runs:
        folder = os.path.join(out, 'results', sweep.run_name(grid, run))
        os.makedirs(folder)
        val, test = (1.5, 1.4) if run.lr == 0.1 else (1.6, 1.0)
        with open(os.path.join(folder, 'results.json'), 'w') as handle:
            json.dump(dict(epochs_done=3, config=dict(epochs=3), best_val_err=val + run.seed,
                           test_err_at_best_val=test, best_test_err=test, best_val_epoch=2,
                           history=[dict(seconds=2.0)]), handle)
    (row,) = sweep.table(grid, runs, out)['rows']
    assert row['lr'] == 0.1 and row['test_err_at_best_val_mean'] == 1.4
    assert row['lr_at_edge'] and '| 0.1 (edge) |' in sweep.markdown(dict(rows=[row]))
    assert [(s['lr'], s['best_val_err_mean']) for s in row['search']] == [(0.1, 3.0), (0.3, 3.1)]
    assert row['paper_test_err'] == 1.4      # BNN: 98.60% in the paper's table


# ----------------------------------------------------------------- Slurm

@pytest.fixture(scope='module')
def slurm():
    import slurm_cluster
    reason = slurm_cluster.missing()
    if reason:
        if os.environ.get('GXNOR_REQUIRE_SLURM') == '1':
            pytest.fail(reason)
        pytest.skip(reason)
    cluster = slurm_cluster.start()
    yield cluster
    slurm_cluster.stop(cluster)


def wait_for(predicate, what, timeout=240):
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, what
        time.sleep(0.3)


def test_slurm_runs_the_grid_as_a_job_array_and_a_cancelled_task_resumes(tmp_path, mnist_dir,
                                                                          slurm):
    """A real single-node Slurm: the grid's two runs as one job array; task 0 cancelled
    (scancel: SIGTERM) once it trains is one FAILED line with its log, the other
    finishes; the same command submits only the cancelled run, which resumes."""
    flags = ['--train-size', '3000', '--val-size', '200', '--test-size', '200', '--epochs', '5',
             '--batch-size', '20', '--data-dir', mnist_dir]
    grid = write_grid(tmp_path, mnist_dir, flags=flags)
    out = str(tmp_path / 'out')
    command = [sys.executable, os.path.join(ROOT, 'sweep.py'), grid, '--out', out,
               '--executor', 'slurm', '--poll', '0.5']
    lines = []
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=slurm.env, cwd=ROOT)
    while not any(' as Slurm job ' in line for line in lines):
        line = proc.stdout.readline().decode('utf-8')
        assert line, ''.join(lines)
        lines.append(line)
    job = lines[-1].split(' as Slurm job ')[1].strip()
    runs = sweep.expand(sweep.load_grid(grid))
    log = sweep.log_path(json.load(open(grid)), runs[0], out)
    wait_for(lambda: os.path.exists(log) and 'epoch 1/5: minibatch' in open(log).read(),
             'run 0 never started training: ' + log)
    slurm.call('scancel', '%s_0' % job)
    text = ''.join(lines) + proc.communicate()[0].decode('utf-8')
    assert proc.returncode == 1, text
    failed = [line for line in text.splitlines() if 'FAILED' in line]
    assert len(failed) == 1 and 'gxnor seed 1 (Slurm task %s_0); its log: %s' % (job, log) \
        in failed[0], text
    with open(os.path.join(out, 'table.json')) as handle:
        rows = json.load(handle)['rows']
    assert [len(row['runs']) for row in rows] == [0, 1]
    fp_results = os.path.join(out, 'results', rows[1]['runs'][0]['run'], 'results.json')
    stamp = os.path.getmtime(fp_results)
    # The same command: only the cancelled run is submitted, and it resumes.
    code, text, err = run_sweep_env(slurm.env, *command[2:])
    assert code == 0 and '1 finished before, 1 to submit to Slurm' in text, text + err
    assert 'Resuming ' in open(log).read()
    assert os.path.getmtime(fp_results) == stamp
    with open(os.path.join(out, 'table.json')) as handle:
        assert [len(row['runs']) for row in json.load(handle)['rows']] == [1, 1]


def run_sweep_env(env, *argv):
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, 'sweep.py')] + list(argv),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    out, err = proc.communicate()
    return proc.returncode, out.decode('utf-8'), err.decode('utf-8')


def test_without_slurm_the_slurm_executor_is_one_error_line(tmp_path, mnist_dir):
    grid = write_grid(tmp_path, mnist_dir)
    env = dict(os.environ, PATH=str(tmp_path))      # no sbatch on it
    code, text, err = run_sweep_env(env, grid, '--out', str(tmp_path / 'out'),
                                    '--executor', 'slurm')
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith('sweep.py: error: sbatch: ') and 'is Slurm installed' in lines[0]


def test_sigterm_stops_the_runs_as_ctrl_c_and_the_same_command_resumes(tmp_path, mnist_dir):
    grid = write_grid(tmp_path, mnist_dir, methods=['fp'], flags=[
        '--train-size', '3000', '--val-size', '200', '--test-size', '200', '--epochs', '5',
        '--batch-size', '20', '--data-dir', mnist_dir])
    out = str(tmp_path / 'out')
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, 'sweep.py'), grid, '--out', out],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    (run,) = sweep.expand(sweep.load_grid(grid))
    log = sweep.log_path(json.load(open(grid)), run, out)
    wait_for(lambda: os.path.exists(log) and 'epoch 2/5: minibatch' in open(log).read(),
             'the run never reached epoch 2: ' + log)
    proc.terminate()
    out_text, err = proc.communicate()
    assert proc.returncode == 130, out_text + err
    assert 'interrupted; the same command resumes the sweep' in err.decode('utf-8')
    assert re.search(r'the same command resumes after epoch [1-4]\b', open(log).read())
    code, text, err = run_sweep(grid, '--out', out)
    assert code == 0 and 'Resuming ' in open(log).read(), text + err
