"""The training harness: schedule, snap epoch, files, resume, bad input."""
from __future__ import division

import json
import os
import signal
import struct
import subprocess
import sys
import time

import gxnor_compat  # noqa: F401
import lasagne
import numpy as np
import pytest
import scipy.io
import theano
import theano.tensor as T
from theano.sandbox.rng_mrg import MRG_RandomStreams

import binary_net
from conftest import ROOT
import discrete_ops
import gxnor_layers
import run_exits
import run_files
import run_options
import tiny_mnist


def checkpoint_arrays(tmp_path, run):
    data = np.load(str(tmp_path / 'results' / run / 'checkpoint.npz'))
    return dict((k, data[k]) for k in data.files if k.startswith(('param:', 'state:')))


def test_learning_rate_schedule():
    lr = binary_net.learning_rate
    assert lr(0, 0.1, 1e-7, 4000) == 0.0
    assert lr(1, 0.1, 1e-7, 4000) == 0.1
    assert np.isclose(lr(4000, 0.1, 1e-7, 4000), 1e-7)
    assert np.isclose(lr(2, 0.1, 1e-3, 3), 1e-2)
    # CIFAR-10's multistep policy: x0.1 from epoch 1000 on, x0.01 from 1600 on
    base = [lr(e, 0.01, 3e-5, 2000) for e in (999, 1000, 1600)]
    drops = [lr(e, 0.01, 3e-5, 2000, drops=[1000, 1600]) for e in (999, 1000, 1600)]
    assert np.allclose(drops, [base[0], base[1] * 0.1, base[2] * 0.01])


def test_snap_epoch_puts_weights_on_grid_and_keeps_other_parameters(mnist_data):
    args = run_options.parse_args(binary_net.Experiment(
        't', None, None, dict(batch_size=10, epochs=1, lr_start=0.1, lr_end=0.1)), [])
    input_var = T.tensor4()
    net = tiny_mnist.build_network(input_var, args)
    train_fn, _, _ = binary_net.compile_functions(net, input_var, evaluation=False)
    conv = gxnor_layers.discrete_layers(net)[0]
    before = conv.W.get_value()
    assert not np.isin(before, [-1, 0, 1]).all()
    bias = conv.b.get_value() + 0.25
    conv.b.set_value(bias)
    X, y = mnist_data['train']
    import datasets
    train_fn(datasets.to_float(X[:10]), binary_net.pm1_targets(y[:10], 10),
             np.float32(0.0))
    after = conv.W.get_value()
    assert np.array_equal(after, np.clip(np.round(before), -1, 1))  # nearest state
    assert np.array_equal(conv.b.get_value(), bias)


def test_sgd_dst_keeps_no_float_state_per_weight():
    input_var = T.matrix()
    net = lasagne.layers.InputLayer((None, 20), input_var)
    net = gxnor_layers.DiscreteDenseLayer(net, 30, b=None)
    net = gxnor_layers.DiscreteDenseLayer(net, 10, b=None, weight_storage='int8')
    loss = binary_net.squared_hinge_loss(lasagne.layers.get_output(net), T.matrix())
    updates = binary_net.build_updates(loss, net, 0.1, update='sgd')
    assert set(updates) == set(lasagne.layers.get_all_params(net))
    adam = binary_net.build_updates(loss, net, 0.1, update='adam')
    extra = [v for v in adam if v not in updates]
    assert sum(v.get_value().size for v in extra) == 2 * (20 * 30 + 30 * 10) + 1
    # The RMS rules: one float per layer, or per output unit, plus the time step.
    for update, floats in (('layer-rms', 2 + 1), ('unit-rms', 30 + 10 + 1)):
        rms = binary_net.build_updates(loss, net, 0.1, update=update)
        extra = [v for v in rms if v not in updates]
        assert all(np.dtype(v.dtype).kind == 'f' for v in extra)
        assert sum(v.get_value().size for v in extra) == floats, update
    # int8-momentum: with int8 storage the momentum shares the weight's byte; with float
    # storage it takes an int8 of its own; one float per layer and the time step.
    momentum = binary_net.build_updates(loss, net, 0.1, update='int8-momentum')
    extra = [v for v in momentum if v not in updates]
    assert [v.get_value().size for v in extra if v.dtype == 'int8'] == [20 * 30]
    floats = [v for v in extra if v.dtype != 'int8']
    assert all(np.dtype(v.dtype).kind == 'f' for v in floats)
    assert sum(v.get_value().size for v in floats) == 2 + 1
    with pytest.raises(ValueError):
        binary_net.build_updates(loss, net, 0.1, update='rmsprop')


def test_beta1_is_adams_first_moment_decay_for_dst_and_the_float_parameters():
    """One step from zero moments: m = (1 - beta1) g, for the discrete weights' Adam-DST
    and for the biases' Adam alike, so beta1 = 0.5 gives 5 times beta1 = 0.9's m."""
    input_var, target_var = T.matrix(), T.matrix()
    net = lasagne.layers.InputLayer((None, 20), input_var)
    net = gxnor_layers.DiscreteDenseLayer(net, 10)
    loss = binary_net.squared_hinge_loss(lasagne.layers.get_output(net), target_var)
    rng = np.random.RandomState(0)
    X = rng.randn(8, 20).astype(theano.config.floatX)
    Y = binary_net.pm1_targets(rng.randint(0, 10, 8), 10)
    moments = {}
    for beta1 in (0.9, 0.5):
        updates = binary_net.build_updates(loss, net, 0.1, beta1=beta1)
        first = [v for v in updates if v.name == 'adam_m']
        assert sorted(v.get_value().size for v in first) == [10, 200]   # b, then W
        moments[beta1] = theano.function([input_var, target_var],
                                         [updates[v] for v in first])(X, Y)
    for m9, m5 in zip(moments[0.9], moments[0.5]):
        assert np.abs(m9).max() > 0
        assert np.allclose(m5, 5 * m9, rtol=1e-5, atol=1e-7)


def test_compile_functions_for_takes_the_update_rule_and_beta1_from_the_flags():
    """What every script and tool compiles through: --update and --beta1 reach the step
    (DST by SGD keeps no moment for W, the float biases keep Adam's; after one step from
    zero moments, beta1 = 0.5 leaves 5 times beta1 = 0.9's m)."""
    import mnist
    rng = np.random.RandomState(0)
    X = rng.randn(8, 20).astype(theano.config.floatX)
    Y = binary_net.pm1_targets(rng.randint(0, 10, 8), 10)
    lr = np.asarray(0.1, dtype=theano.config.floatX)
    moments = {}
    for flags in (['--update', 'sgd'], [], ['--beta1', '0.5']):
        args = run_options.parse_args(mnist.EXPERIMENT, flags)
        input_var = T.matrix()
        lasagne.random.set_rng(np.random.RandomState(1))
        net = gxnor_layers.DiscreteDenseLayer(lasagne.layers.InputLayer((None, 20), input_var),
                                              10)
        train_fn, _, state = binary_net.compile_functions_for(net, input_var, args,
                                                               evaluation=False)
        train_fn(X, Y, lr)
        moments[args.update, args.beta1] = [v.get_value() for v in state if v.name == 'adam_m']
    sizes = dict((key, sorted(m.size for m in value)) for key, value in moments.items())
    assert sizes == {('sgd', 0.9): [10], ('adam', 0.9): [10, 200], ('adam', 0.5): [10, 200]}
    for m9, m5 in zip(moments['adam', 0.9], moments['adam', 0.5]):
        assert np.abs(m9).max() > 0
        assert np.allclose(m5, 5 * m9, rtol=1e-5, atol=1e-7)


def test_int8_momentum_packed_in_the_weight_byte_trains_as_with_a_separate_momentum():
    """Same seed, same steps: int8 storage (index and momentum in one byte) and float
    storage (an int8 momentum of its own) give the same weights and momenta exactly."""
    rng = np.random.RandomState(0)
    X = rng.randn(64, 20).astype(theano.config.floatX)
    targets = binary_net.pm1_targets(rng.randint(0, 10, 64), 10)
    starts = [rng.randint(-1, 2, shape).astype(theano.config.floatX)
              for shape in ((20, 30), (30, 10))]
    runs = {}
    for storage in ('float', 'int8'):
        input_var, target_var = T.matrix(), T.matrix()
        net = lasagne.layers.InputLayer((None, 20), input_var)
        for W in starts:
            net = gxnor_layers.DiscreteDenseLayer(net, W.shape[1], b=None, W=W.copy(),
                                                  weight_storage=storage)
        loss = binary_net.squared_hinge_loss(lasagne.layers.get_output(net), target_var)
        updates = binary_net.build_updates(loss, net, 0.3, update='int8-momentum',
                                           srng=MRG_RandomStreams(7))
        step = theano.function([input_var, target_var], loss, updates=updates)
        losses = [step(X, targets) for _ in range(6)]
        runs[storage] = (gxnor_layers.discrete_layers(net), updates, losses)
    float_layers, float_updates, float_losses = runs['float']
    int8_layers, _, int8_losses = runs['int8']
    assert np.allclose(float_losses, int8_losses, rtol=1e-5)
    own = [v for v in float_updates if v.dtype == 'int8']
    moved = 0
    for f_layer, i_layer, q_var, start in zip(float_layers, int8_layers, own, starts):
        assert np.array_equal(f_layer.weight_values(), i_layer.weight_values())
        byte = i_layer.W.get_value()
        assert byte.dtype == np.int8
        assert np.array_equal(byte // 4, q_var.get_value())     # the momentum, 6 bits
        assert np.abs(q_var.get_value()).max() > 0
        moved += (f_layer.weight_values() != start).sum()
    assert moved > 0


def test_run_writes_model_results_and_resumes_exactly(tiny, capsys):
    experiment, common, tmp_path = tiny
    summary = binary_net.main(experiment, common + ['--run-name', 'straight'])
    assert summary['epochs_done'] == 2
    results = tmp_path / 'results' / 'straight'
    data = json.loads((results / 'results.json').read_text())
    assert [h['epoch'] for h in data['history']] == [0, 1, 2]
    assert data['test_err_at_best_val'] == data['history'][data['best_val_epoch']]['test_err']
    assert data['best_test_err'] == min(h['test_err'] for h in data['history'])
    mat = scipy.io.loadmat(str(results / 'results.mat'))
    assert mat['valid_err'].size == 2 and mat['train_loss'].size == 2
    png = (results / 'curves.png').read_bytes()
    # PNG width and height: 7 x 8 inches at 80 dpi, the third panel being the weights changed.
    assert png[:4] == b'\x89PNG' and struct.unpack('>II', png[16:24]) == (560, 640)
    model = np.load(str(tmp_path / 'weights' / 'straight.npz'))
    meta = json.loads(str(model['__meta__']))
    assert meta['format'] == 'gxnor-model' and meta['epoch'] == data['best_val_epoch']
    assert np.isin(model['conv1.W'], [-1, 0, 1]).all()
    out = capsys.readouterr().out
    assert 'lr_start           = 0.03' in out and 'Epoch 2 of 2' in out
    # Epoch 0 snaps every float-initialised weight onto the grid; DST moves a share.
    changed = [h['weights_changed'] for h in data['history']]
    assert changed[0] == 100.0 and all(0.0 < c < 100.0 for c in changed[1:]), changed
    assert sorted(data['history'][1]['weights_changed_by_layer']) == ['conv1', 'fc2']
    assert 'discrete weights changed:     %.2f%% (conv1 ' % changed[2] in out

    # The same run stopped during epoch 2, then started again, ends identically.
    calls = {'n': 0}
    original = binary_net.train_epoch

    def interrupted(*a, **k):
        calls['n'] += 1
        if calls['n'] == 3:
            raise KeyboardInterrupt
        return original(*a, **k)

    binary_net.train_epoch = interrupted
    try:
        with pytest.raises(SystemExit) as stop:   # Ctrl-C: exit 130 with one line
            binary_net.main(experiment, common + ['--run-name', 'resumed'])
    finally:
        binary_net.train_epoch = original
    assert stop.value.code == 130
    assert 'interrupted at epoch 2' in capsys.readouterr().err
    progress = json.loads(str(np.load(str(tmp_path / 'results' / 'resumed' /
                                          'checkpoint.npz'))['__progress__']))
    assert progress['next_epoch'] == 2
    binary_net.main(experiment, common + ['--run-name', 'resumed'])
    assert 'Resuming' in capsys.readouterr().out
    straight, resumed = (checkpoint_arrays(tmp_path, r) for r in ('straight', 'resumed'))
    assert sorted(straight) == sorted(resumed)
    for key in straight:
        assert np.array_equal(straight[key], resumed[key]), key

    # A finished run whose results.json was damaged: the same command writes it again
    # from the checkpoint (which holds the whole history), and says so.
    (results / 'results.json').write_bytes(b'{"history": [tru')
    binary_net.main(experiment, common + ['--run-name', 'straight'])
    assert 'results.json (and results.mat, curves.png) again from the checkpoint' in \
        capsys.readouterr().out
    assert json.loads((results / 'results.json').read_text()) == data


def test_resume_under_another_thread_count_says_the_numbers_will_differ(tiny, capsys,
                                                                        monkeypatch):
    experiment, common, _ = tiny
    original = binary_net.train_epoch

    def stopped_in_epoch_1(*a, **k):
        if a[7] == 1:    # the epoch argument
            raise KeyboardInterrupt
        return original(*a, **k)
    monkeypatch.delenv('OPENBLAS_NUM_THREADS', raising=False)
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    monkeypatch.setattr(binary_net, 'train_epoch', stopped_in_epoch_1)
    with pytest.raises(SystemExit):
        binary_net.main(experiment, common + ['--run-name', 'threads'])
    monkeypatch.setattr(binary_net, 'train_epoch', original)
    monkeypatch.setenv('OMP_NUM_THREADS', '2')
    capsys.readouterr()
    binary_net.main(experiment, common + ['--run-name', 'threads'])
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ['tiny: warning: epochs up to 0 ran with 1 OpenMP and 1 BLAS threads, and '
                   'these run with 2 and 2: float sums are added in another order, so the '
                   'numbers will not be bit for bit those of a run that never stopped '
                   '(OMP_NUM_THREADS and OPENBLAS_NUM_THREADS set the counts)']


def test_nan_loss_stops_with_epoch_and_keeps_checkpoint(tiny, capsys):
    experiment, common, tmp_path = tiny
    original = binary_net.train_epoch

    def diverging(train_fn, X, y, classes, args, lr, rng, epoch, *rest):
        if epoch == 2:
            train_fn = lambda *a: np.float32('nan')  # noqa: E731
        return original(train_fn, X, y, classes, args, lr, rng, epoch, *rest)

    binary_net.train_epoch = diverging
    try:
        with pytest.raises(SystemExit) as stop:
            binary_net.main(experiment, common + ['--run-name', 'nan'])
    finally:
        binary_net.train_epoch = original
    assert stop.value.code == 3
    assert 'became nan at epoch 2, minibatch 1' in capsys.readouterr().err
    progress = json.loads(str(np.load(str(tmp_path / 'results' / 'nan' /
                                          'checkpoint.npz'))['__progress__']))
    assert progress['next_epoch'] == 2


def test_grid_invariant_after_training(tiny):
    experiment, common, tmp_path = tiny
    binary_net.main(experiment, common + ['--run-name', 'grid', '--N', '2', '--H', '0.5',
                                          '--update', 'sgd', '--lr-start', '0.5',
                                          '--lr-end', '0.1'])
    model = np.load(str(tmp_path / 'weights' / 'grid.npz'))
    grid = discrete_ops.weight_grid(0.5, 2)
    for key in ('conv1.W', 'fc2.W'):
        assert np.isin(model[key], grid).all()


# ---------------------------------------------------------------- living with long runs

def tiny_command(data_dir, tmp_path, *flags):
    """tests/tiny_mnist.py (MNIST, a 4-filter network) as a command: 250 minibatches an
    epoch, about 2 s."""
    return [sys.executable, os.path.join(ROOT, 'tests', 'tiny_mnist.py'), '--data-dir',
            data_dir, '--train-size', '5000', '--val-size', '200', '--test-size', '200',
            '--batch-size', '20', '--epochs', '3', '--results-dir', str(tmp_path / 'results'),
            '--weights-dir', str(tmp_path / 'weights')] + list(flags)


def test_ctrl_c_says_where_it_stopped_and_the_same_command_resumes(mnist_dir, tmp_path):
    command = tiny_command(mnist_dir, tmp_path)
    log = open(str(tmp_path / 'log.txt'), 'w+')
    # SIGINT as a terminal sends it, even where this test runs in a background job
    # (which starts with SIGINT ignored, and Python then leaves it ignored).
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.PIPE, cwd=str(tmp_path),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 240
    while 'epoch 1/3: minibatch' not in open(str(tmp_path / 'log.txt')).read():
        assert proc.poll() is None and time.time() < deadline, 'epoch 1 never started'
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate()[1].decode('utf-8')
    assert proc.returncode == 130
    # (Theano may log that it waits for its compile lock when other tests compile.)
    # Not even a blank line before it: stderr is a pipe here, not a terminal.
    lines = [l for l in err.splitlines() if not l.startswith('INFO (theano.')]
    assert len(lines) == 1, err
    assert lines[0].startswith('tiny: interrupted at epoch 1, minibatch ')
    assert 'epochs up to 0 are safe in ' in lines[0] and 'checkpoint.npz' in lines[0]
    assert lines[0].endswith(' '.join(command[1:]))  # the command that resumes
    out = subprocess.check_output(command, cwd=str(tmp_path)).decode('utf-8')
    assert 'Resuming ' in out and 'after epoch 0' in out and 'Done.' in out


def test_a_run_prints_progress_lines_in_a_log_with_speed_and_time_left(mnist_dir, tmp_path):
    # How many lines an epoch gets is tests/test_progress.py's; here: that a run prints
    # them at all, to a log, with the run's time left once an epoch has ended; exit 0.
    command = tiny_command(mnist_dir, tmp_path, '--epochs', '1')
    for flag, size in (('--train-size', '100'), ('--val-size', '20'), ('--test-size', '20')):
        command[command.index(flag) + 1] = size   # 5 minibatches an epoch
    out = subprocess.check_output(command, cwd=str(tmp_path)).decode('utf-8')
    assert '\r' not in out
    for epoch in (0, 1):
        lines = [l for l in out.splitlines() if l.startswith('  epoch %d/1: minibatch' % epoch)]
        assert lines and all('images/s, epoch left ' in l for l in lines)
    assert 'run left ' not in out.split('Epoch 0 of 1 took')[0]  # no estimate before epoch 0
    assert ', run left ' in out.split('Epoch 0 of 1 took')[1]


# ---------------------------------------------------------------- faults and bad input

def test_full_disk_is_one_line_and_the_next_run_cleans_up(tiny, capfd, monkeypatch):
    experiment, common, tmp_path = tiny
    import errno
    import gc
    original = run_files._write_bytes
    checkpoints = []

    def disk_fills_at(number):
        def write(path, out, data):
            if path.endswith('checkpoint.npz'):
                checkpoints.append(path)
                if len(checkpoints) == number:
                    raise IOError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            original(path, out, data)
        checkpoints[:] = []
        monkeypatch.setattr(run_files, '_write_bytes', write)

    # Full at the checkpoint of epoch 1: epoch 0 is safe.  (--test-size given twice, and
    # more than there is: a warning each.)
    disk_fills_at(2)
    with pytest.raises(SystemExit) as stop:
        binary_net.main(experiment, common + ['--run-name', 'full', '--test-size', '20000'])
    assert stop.value.code == 4
    gc.collect()   # a half-written archive would complain as it is collected
    lines = capfd.readouterr().err.strip().splitlines()
    checkpoint = str(tmp_path / 'results' / 'full' / 'checkpoint.npz')
    assert lines == [
        'tiny: warning: --test-size 200 and --test-size 20000 contradict each other; the last '
        'one wins: test_size = 20000',
        'tiny: warning: --test-size 20000 is more than the 10000 examples of the test set: '
        'all 10000 are used',
        'tiny: error: no space left on the device while writing %s; epochs up to 0 are safe in '
        '%s; once space is freed the same command resumes after epoch 0: %s'
        % (checkpoint, checkpoint, run_exits.resume_command(common + [
            '--run-name', 'full', '--test-size', '20000']))]
    # Every file of the run still describes epoch 0: none of epoch 1's was renamed.
    assert sorted(os.listdir(os.path.dirname(checkpoint))) == [
        '.lock', 'checkpoint.npz', 'results.json', 'results.mat']
    assert run_files.read_progress(checkpoint)['next_epoch'] == 1
    with open(str(tmp_path / 'results' / 'full' / 'results.json')) as handle:
        assert [h['epoch'] for h in json.load(handle)['history']] == [0]
    model = np.load(str(tmp_path / 'weights' / 'full.npz'))
    assert json.loads(str(model['__meta__']))['epoch'] == 0

    # Full at the first checkpoint: nothing of the run is written, the model neither.
    flags = common + ['--run-name', 'killed']
    disk_fills_at(1)
    with pytest.raises(SystemExit) as stop:
        binary_net.main(experiment, flags)
    assert stop.value.code == 4
    assert capfd.readouterr().err.strip().endswith('no epoch had finished, so nothing was saved')
    assert not (tmp_path / 'results' / 'killed').exists()
    assert sorted(os.listdir(str(tmp_path / 'weights'))) == ['full.npz']
    monkeypatch.setattr(run_files, '_write_bytes', original)

    # Killed between the renames, after the model's and before the checkpoint's: the
    # model of epoch 0 is there without its checkpoint.  Then temporary files that killed
    # writers left.  The same command removes those, and overwrites its own model.
    write_together = run_files.write_together

    def killed_before_the_checkpoint(files):
        write_together([f for f in files if not f[0].endswith('checkpoint.npz')])
        raise KeyboardInterrupt
    monkeypatch.setattr(run_files, 'write_together', killed_before_the_checkpoint)
    with pytest.raises(SystemExit) as stop:
        binary_net.main(experiment, flags)
    assert stop.value.code == 130
    capfd.readouterr()
    assert sorted(os.listdir(str(tmp_path / 'weights'))) == ['full.npz', 'killed.npz']
    monkeypatch.undo()
    assert (tmp_path / 'results' / 'killed' / 'results.json').exists()
    stale = [tmp_path / 'results' / 'killed' / '.tmp-checkpoint.npz.Ab3dE6',
             tmp_path / 'results' / 'killed' / '.tmp-abcdefghcheckpoint.npz',
             tmp_path / 'weights' / '.tmp-killed.npz.abcdefgh']
    others = tmp_path / 'weights' / '.tmp-other.npz.abcdefgh'
    for path in stale + [others]:
        path.write_bytes(b'half')
    binary_net.main(experiment, flags)
    out = capfd.readouterr().out
    assert 'Removed 3 temporary files left by a process stopped while writing' in out
    assert sorted(os.listdir(str(tmp_path / 'weights'))) == ['.tmp-other.npz.abcdefgh',
                                                             'full.npz', 'killed.npz']
    assert not [n for n in os.listdir(str(tmp_path / 'results' / 'killed'))
                if n.startswith('.tmp-')]


def test_sigterm_and_sighup_stop_as_ctrl_c_does_and_a_second_copy_is_refused(mnist_dir, tmp_path):
    import fcntl
    from run_exits import shell_quote
    command = tiny_command(mnist_dir, tmp_path)
    command[command.index('--epochs') + 1] = '30'   # runs until stopped
    log = open(str(tmp_path / 'log.txt'), 'w+')
    first = subprocess.Popen(command, stdout=log, stderr=subprocess.PIPE, cwd=str(tmp_path))
    deadline = time.time() + 240
    while 'epoch 1/30: minibatch' not in open(str(tmp_path / 'log.txt')).read():
        assert first.poll() is None and time.time() < deadline, 'epoch 1 never started'
        time.sleep(0.2)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              cwd=str(tmp_path))
    out, err = second.communicate()
    lines = [l for l in err.decode('utf-8').strip().splitlines()
             if not l.startswith('INFO (theano.')]
    assert second.returncode == 2 and len(lines) == 1, err
    assert lines[0].startswith('tiny: error: run ') and lines[0].endswith(
        ' is in progress in another process (pid %d), which holds %s; wait for it to end or '
        'stop it' % (first.pid, os.path.join(lines[0].split()[3], '.lock')))
    assert b'Building the network' not in out and first.poll() is None
    first.send_signal(signal.SIGTERM)   # what a batch scheduler sends before it kills
    err = first.communicate()[1].decode('utf-8')
    log.close()
    lines = [l for l in err.splitlines() if not l.startswith('INFO (theano.')]
    assert first.returncode == 143 and len(lines) == 1, err
    assert lines[0].startswith('tiny: interrupted by SIGTERM at epoch ')
    assert ' are safe in ' in lines[0] and 'checkpoint.npz' in lines[0]
    # The command that resumes, as typed here: this interpreter by its full path (the
    # current folder is not above it), the script, the flags.
    assert lines[0].endswith('after epoch %s: %s' % (
        lines[0].split('epochs up to ')[1].split()[0],
        ' '.join(shell_quote(w) for w in command)))
    folder = os.path.join(str(tmp_path / 'results'), os.listdir(str(tmp_path / 'results'))[0])
    assert not [n for n in os.listdir(folder) if n.startswith('.tmp-')]
    with open(os.path.join(folder, '.lock')) as lock:   # freed by the process's end
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    # The same command resumes; a closed terminal (SIGHUP) stops it as SIGTERM did.
    # SIGHUP as a terminal sends it, even where this test runs under nohup.
    log = open(str(tmp_path / 'log2.txt'), 'w+')
    third = subprocess.Popen(command, stdout=log, stderr=subprocess.PIPE, cwd=str(tmp_path),
                             preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
    while ': minibatch' not in open(str(tmp_path / 'log2.txt')).read():
        assert third.poll() is None and time.time() < deadline + 120, 'it never resumed'
        time.sleep(0.2)
    third.send_signal(signal.SIGHUP)
    err = third.communicate()[1].decode('utf-8')
    log.close()
    lines = [l for l in err.splitlines() if not l.startswith('INFO (theano.')]
    assert third.returncode == 129 and len(lines) == 1, err
    assert lines[0].startswith('tiny: interrupted by SIGHUP at epoch ')
    assert 'Resuming' in open(str(tmp_path / 'log2.txt')).read()
    assert not [n for n in os.listdir(folder) if n.startswith('.tmp-')]


def test_full_disk_on_a_small_filesystem(mnist_dir, tmp_path):
    """A real 14 MiB filesystem (tmpfs, in a mount namespace of its own, gone with the
    process): epoch 0's files fit, epoch 1's checkpoint does not."""
    try:
        usable = subprocess.call(['unshare', '-rm', 'true'], stderr=subprocess.PIPE) == 0
    except OSError:   # no unshare
        usable = False
    if not usable:
        pytest.skip('this machine lets no process mount a filesystem of its own')
    from run_exits import shell_quote
    (tmp_path / 'small').mkdir()
    command = [sys.executable, os.path.join(ROOT, 'mnist.py'), '--data-dir', mnist_dir,
               '--train-size', '300', '--val-size', '100', '--test-size', '100',
               '--epochs', '2', '--batch-size', '100', '--results-dir', 'small/r',
               '--weights-dir', 'small/w']
    script = ('mount -t tmpfs -o size=14m tmpfs small && %s; echo "exit $?"; '
              'find small -name ".tmp-*"' % ' '.join(shell_quote(w) for w in command))
    proc = subprocess.Popen(['unshare', '-rm', 'sh', '-c', script], cwd=str(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    lines = [l for l in err.decode('utf-8').strip().splitlines()
             if not l.startswith('INFO (theano.')]
    assert len(lines) == 1 and lines[0].startswith(
        'mnist: error: no space left on the device while writing small/r/'), err
    assert 'checkpoint.npz; epochs up to 0 are safe in small/r/' in lines[0]
    assert out.decode('utf-8').strip().splitlines()[-1] == 'exit 4'   # and no .tmp-* found


# ---------------------------------------------------------------- the harness's modules

HARNESS = ('binary_net', 'run_options', 'run_exits', 'run_files', 'run_folder', 'run_guard',
           'machine', 'network_blocks', 'weight_stats', 'dataset_names')


def project_imports(name):
    """The project's top-level modules that module ``name`` imports, anywhere in its code."""
    import ast
    with open(os.path.join(ROOT, name + '.py')) as handle:
        tree = ast.parse(handle.read())
    names = set(alias.name.split('.')[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names)
    names |= set(node.module.split('.')[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module)
    return sorted(n for n in names if os.path.exists(os.path.join(ROOT, n + '.py')))


def test_the_harness_modules_import_each_other_without_a_circle():
    """binary_net stands above the modules it was split into; none of them imports it, and
    each can be read with only what is below it in mind."""
    imports = dict((name, [n for n in project_imports(name) if n in HARNESS])
                   for name in HARNESS)
    assert not [name for name in HARNESS if 'binary_net' in imports[name]]
    order, placed = [], set()
    while len(order) < len(HARNESS):   # peel off the modules whose imports are all placed
        ready = [name for name in HARNESS if name not in placed and set(imports[name]) <= placed]
        assert ready, 'a circle among %s' % sorted(set(HARNESS) - placed)
        order += sorted(ready)
        placed |= set(ready)
    assert order[-1] == 'binary_net'
    assert project_imports('dataset_names') == [] and project_imports('run_guard') == []
