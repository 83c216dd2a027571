"""The training harness: schedule, snap epoch, files, resume, bad input."""
from __future__ import division

import json
import os

import gxnor_compat  # noqa: F401
import lasagne
import numpy as np
import pytest
import scipy.io
import theano.tensor as T

import binary_net
from conftest import subset_experiment
import discrete_ops
import gxnor_layers


def build_tiny_network(input_var, args):
    """conv 4x5x5 - MP2 - BN - act - dense 10 - BN: compiles and runs in seconds."""
    net = lasagne.layers.InputLayer((None, 1, 28, 28), input_var)
    net = binary_net.conv_block(net, args, 'conv1', 4, 5, pool=True)
    return binary_net.dense_block(net, args, 'fc2', 10, activation=False)


@pytest.fixture
def tiny(mnist_data, tmp_path):
    experiment, common = subset_experiment('tiny', mnist_data, build_tiny_network, tmp_path,
                                           (300, 200, 200))
    return experiment, common, tmp_path


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
    args = binary_net.parse_args(binary_net.Experiment(
        't', None, None, dict(batch_size=10, epochs=1, lr_start=0.1, lr_end=0.1)), [])
    input_var = T.tensor4()
    net = build_tiny_network(input_var, args)
    train_fn, _, _ = binary_net.compile_functions(net, input_var)
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
    assert (results / 'curves.png').read_bytes()[:4] == b'\x89PNG'
    model = np.load(str(tmp_path / 'weights' / 'straight.npz'))
    meta = json.loads(str(model['__meta__']))
    assert meta['format'] == 'gxnor-model' and meta['epoch'] == data['best_val_epoch']
    assert np.isin(model['conv1.W'], [-1, 0, 1]).all()
    out = capsys.readouterr().out
    assert 'lr_start           = 0.03' in out and 'Epoch 2 of 2' in out

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
        with pytest.raises(KeyboardInterrupt):
            binary_net.main(experiment, common + ['--run-name', 'resumed'])
    finally:
        binary_net.train_epoch = original
    progress = json.loads(str(np.load(str(tmp_path / 'results' / 'resumed' /
                                          'checkpoint.npz'))['__progress__']))
    assert progress['next_epoch'] == 2
    binary_net.main(experiment, common + ['--run-name', 'resumed'])
    assert 'Resuming' in capsys.readouterr().out
    straight, resumed = (checkpoint_arrays(tmp_path, r) for r in ('straight', 'resumed'))
    assert sorted(straight) == sorted(resumed)
    for key in straight:
        assert np.array_equal(straight[key], resumed[key]), key


def test_resume_refuses_other_hyperparameters_and_fresh_sets_aside(tiny, capsys):
    experiment, common, tmp_path = tiny
    binary_net.main(experiment, common + ['--run-name', 'r', '--epochs', '1'])
    with pytest.raises(SystemExit) as stop:
        binary_net.main(experiment, common + ['--run-name', 'r', '--epochs', '1',
                                              '--lr-start', '0.5'])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'lr_start' in err
    binary_net.main(experiment, common + ['--run-name', 'r', '--epochs', '1', '--fresh'])
    names = os.listdir(str(tmp_path / 'results'))
    assert 'r' in names and any(n.startswith('r.old-') for n in names)


@pytest.mark.parametrize('flags, message', [
    (['--N', '-1'], '--N must be >= 0'),
    (['--r', '0'], '--r must be > 0'),
    (['--a', '-0.5'], '--a must be > 0'),
    (['--batch-size', '301'], 'larger than the training set'),
    (['--window', 'gauss'], 'invalid choice'),
    (['--epochs', 'ten'], 'invalid int value'),
])
def test_bad_input_gives_one_line_and_exit_2(tiny, capsys, flags, message):
    experiment, common, _ = tiny
    with pytest.raises(SystemExit) as stop:
        binary_net.main(experiment, common + flags)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_missing_data_gives_one_line_and_exit_2(tmp_path, capsys):
    import mnist
    with pytest.raises(SystemExit) as stop:
        mnist.main(['--data-dir', str(tmp_path / 'nothing'), '--results-dir',
                    str(tmp_path)], num_epochs=1)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'nothing' in err


def test_nan_loss_stops_with_epoch_and_keeps_checkpoint(tiny, capsys):
    experiment, common, tmp_path = tiny
    original = binary_net.train_epoch

    def diverging(train_fn, X, y, classes, args, lr, rng, epoch):
        if epoch == 2:
            return original(lambda *a: np.float32('nan'), X, y, classes, args, lr, rng, epoch)
        return original(train_fn, X, y, classes, args, lr, rng, epoch)

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


def test_existing_model_without_checkpoint_is_set_aside_not_overwritten(tiny):
    experiment, common, tmp_path = tiny
    (tmp_path / 'weights').mkdir()
    (tmp_path / 'weights' / 'kept.npz').write_bytes(b'earlier model')
    binary_net.main(experiment, common + ['--run-name', 'kept', '--epochs', '1'])
    old = [n for n in os.listdir(str(tmp_path / 'weights')) if n.startswith('kept.npz.old-')]
    assert len(old) == 1
    assert (tmp_path / 'weights' / old[0]).read_bytes() == b'earlier model'
    assert 'gxnor-model' in str(np.load(str(tmp_path / 'weights' / 'kept.npz'))['__meta__'])
