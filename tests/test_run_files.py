"""run_files: a run's files written all or nothing, stale temporary files, a checkpoint
restored exactly or read back with why it cannot be, a model file in the gxnor-model format."""
import errno
import io
import json
import os

import gxnor_compat  # noqa: F401
import lasagne
import numpy as np
import pytest
import theano

import gxnor_layers
import model_format
import run_files


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
    with pytest.raises(run_files.WriteError) as info:
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
    with pytest.raises(run_files.CheckpointError) as info:
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


def test_stale_temporaries_of_the_run_only(tmp_path):
    names = ['.tmp-run.npz.Ab3dE6', '.tmp-run.npz.x1y2z3w4', '.tmp-abcdefghrun.npz',
             '.tmp-xrun.npz.abcdefgh', '.tmp-other.npz.abcdefgh', 'run.npz', 'run.npz.old-1']
    for name in names:
        (tmp_path / name).write_bytes(b'x')
    removed = run_files.remove_stale_temporaries(str(tmp_path), [str(tmp_path / 'run.npz')])
    assert removed == ['.tmp-abcdefghrun.npz', '.tmp-run.npz.Ab3dE6', '.tmp-run.npz.x1y2z3w4']
    assert sorted(os.listdir(str(tmp_path))) == sorted(names[3:])
    # In the run's own folder every temporary file is the run's.
    assert run_files.remove_stale_temporaries(str(tmp_path)) == sorted(names[3:5])


def write_checkpoint(path, progress, as_bytes=False):
    text = json.dumps(progress)
    np.savez(path, **{'param:w': np.arange(5000, dtype=np.float32),
                      '__progress__': np.array(text.encode('utf-8') if as_bytes else text)})


def test_progress_of_a_sound_checkpoint_from_either_python(tmp_path):
    path = str(tmp_path / 'checkpoint.npz')
    for as_bytes in (False, True):   # Python 3 writes text, Python 2.7 bytes
        write_checkpoint(path, dict(next_epoch=3, config={'a': 1}), as_bytes)
        assert run_files.read_progress(path) == dict(next_epoch=3, config={'a': 1})


def test_unreadable_checkpoints_say_why_in_plain_words(tmp_path):
    path = str(tmp_path / 'checkpoint.npz')
    write_checkpoint(path, dict(next_epoch=3))
    sound = open(path, 'rb').read()
    member = sound.index(b'\x00\x00\x80?')   # a float 1.0 of param:w, stored uncompressed
    np.savez(str(tmp_path / 'other.npz'), a=np.zeros(3))
    cases = [(sound[:len(sound) // 2], 'it is truncated or damaged'),
             (sound[:member] + b'\xff' + sound[member + 1:],
              'it is damaged (param:w.npy fails its checksum)'),
             (os.urandom(3000).replace(b'PK', b'pk'), 'it is not a checkpoint (not an .npz'),
             (b'', 'it is empty'),
             (open(str(tmp_path / 'other.npz'), 'rb').read(), 'it is not a checkpoint of these')]
    for data, message in cases:
        with open(path, 'wb') as out:
            out.write(data)
        with pytest.raises(run_files.CheckpointError) as info:
            run_files.read_progress(path)
        assert str(info.value).startswith(message), (message, str(info.value))


def test_write_error_knows_a_full_disk():
    import errno
    assert run_files.WriteError(errno.ENOSPC, 'No space left on device', 'f').disk_full
    assert not run_files.WriteError(errno.EACCES, 'Permission denied', 'f').disk_full
    assert isinstance(run_files.WriteError(errno.EIO, 'x', 'f'), IOError)


def test_json_of_either_python_decodes():
    assert run_files.decode_json(np.array(b'{"a": [1, 2]}')) == {'a': [1, 2]}
    assert run_files.decode_json(np.array(u'{"a": "b"}')) == {'a': 'b'}
    with io.BytesIO() as buffer:   # through an .npy file, as in a checkpoint
        np.save(buffer, np.array(u'[3]'))
        buffer.seek(0)
        assert run_files.decode_json(np.load(buffer)) == [3]


def _history(epochs):
    return [dict(epoch=e, train_loss=1.0 / (e + 1), val_loss=1.0 / (e + 1), val_err=10.0 - e,
                 test_err=10.5 - e, lr=0.1 if e else 0.0, seconds=1.0, weights_changed=None)
            for e in range(epochs + 1)]


def test_results_json_mat_and_curves_are_written_and_a_figure_that_fails_stops_nothing(
        tmp_path, monkeypatch, capsys):
    import run_plots
    summary = dict(run='mnist-x', method='gxnor', best_val_epoch=2, config=dict(epochs=2))
    folder = str(tmp_path / 'drawn')
    run_files.write_results(folder, _history(2), summary)
    assert sorted(os.listdir(folder)) == ['curves.png', 'results.json', 'results.mat']

    def broken(out, results):
        raise RuntimeError('no font\nfound')
    monkeypatch.setattr(run_plots, 'plot_curves', broken)
    folder = str(tmp_path / 'not-drawn')
    run_files.write_results(folder, _history(2), summary)
    # the epoch's results are written all the same; the figure is left out with one line
    assert sorted(os.listdir(folder)) == ['results.json', 'results.mat']
    assert capsys.readouterr().err == \
        'warning: curves.png not drawn this epoch (RuntimeError: no font found); the run goes on\n'
