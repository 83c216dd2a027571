"""run_files: a run's files written all or nothing, a checkpoint restored exactly,
a model file in the gxnor-model format."""
import errno
import os

import gxnor_compat  # noqa: F401
import lasagne
import numpy as np
import pytest
import theano

import gxnor_layers
import model_format
import run_files
import run_guard


def tiny_network():
    net = lasagne.layers.InputLayer((None, 1, 2, 2), name='input')
    net = gxnor_layers.DiscreteDenseLayer(net, 3, N=1, name='fc')
    return gxnor_layers.BatchNormLayer(net, name='fc_bn')


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = str(tmp_path / 'results.json')
    run_files.atomic_write(path, lambda out: out.write(b'epoch 1'))

    def disk_full(path, out, data):
        out.write(data[:3])
        raise IOError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(run_files, '_write_bytes', disk_full)
    with pytest.raises(run_guard.WriteError) as info:
        run_files.atomic_write(path, lambda out: out.write(b'epoch 2'))
    assert info.value.disk_full and info.value.filename == path
    assert os.listdir(str(tmp_path)) == ['results.json']
    with open(path, 'rb') as handle:
        assert handle.read() == b'epoch 1'


def test_interrupted_write_leaves_no_file_and_no_noise(tmp_path, capfd):
    import gc

    class Interrupting(object):
        def __array__(self, *args):
            raise KeyboardInterrupt

    path = str(tmp_path / 'checkpoint.npz')
    with pytest.raises(KeyboardInterrupt):
        run_files.atomic_write(path, lambda out: np.savez(
            out, a=np.zeros(100000), b=Interrupting()))
    gc.collect()
    assert os.listdir(str(tmp_path)) == []
    assert 'Exception ignored' not in capfd.readouterr().err


def test_checkpoint_round_trip_restores_parameters_state_and_random_numbers(tmp_path):
    params = run_files.layer_params(tiny_network())
    state = [theano.shared(np.float32(7.0)), theano.shared(np.arange(3, dtype='float32'))]
    rng = np.random.RandomState(5)
    rng.uniform(size=3)
    saved = dict((k, v.get_value().copy()) for k, v in params.items())
    progress = dict(next_epoch=2, history=[dict(epoch=1, val_err=1.5)])
    path = str(tmp_path / 'checkpoint.npz')
    run_files.save_checkpoint(path, params, state, rng, progress)
    expected = rng.uniform(size=4)
    for var in list(params.values()) + state:
        var.set_value(var.get_value() + 1)
    rng.uniform(size=10)
    assert run_files.load_checkpoint(path, params, state, rng) == progress
    for key, var in params.items():
        assert np.array_equal(var.get_value(), saved[key]), key
    assert float(state[0].get_value()) == 7.0
    assert np.array_equal(state[1].get_value(), np.arange(3))
    assert np.array_equal(rng.uniform(size=4), expected)


def test_checkpoint_of_another_network_is_a_checkpoint_error(tmp_path):
    params = run_files.layer_params(tiny_network())
    path = str(tmp_path / 'checkpoint.npz')
    run_files.save_checkpoint(path, params, [], np.random.RandomState(0), dict(next_epoch=1))
    params['fc.W'].set_value(np.zeros((5, 3), dtype=params['fc.W'].dtype))
    with pytest.raises(run_guard.CheckpointError) as info:
        run_files.load_checkpoint(path, params, [], np.random.RandomState(0))
    assert str(info.value) == 'fc.W has shape (4, 3), the network needs (5, 3)'


def test_model_file_is_marked_with_the_format_and_reads_back(tmp_path):
    network = tiny_network()
    path = str(tmp_path / 'model.npz')
    run_files.save_model(path, network, dict(dataset='mnist', epoch=3))
    meta, arrays = model_format.read_model(path)
    assert (meta['format'], meta['version']) == (model_format.MODEL_FORMAT, 1)
    assert meta['epoch'] == 3 and [l['kind'] for l in meta['layers']][0] == 'input'
    assert sorted(arrays) == sorted(run_files.layer_params(network))
    fc = lasagne.layers.get_all_layers(network)[1]
    assert np.array_equal(arrays['fc.W'], fc.weight_values())   # as stored by the layer
    assert all(a.dtype == np.float32 for a in arrays.values())
