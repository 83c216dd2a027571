"""Tests of gxnor_engine/model.py."""
from __future__ import absolute_import, division, print_function

import json
import os

import numpy as np
import pytest

from engine_models import (
    METHODS, assert_refused, mnist_like_layers, odd_layers, ref_forward, rewrite, set_item,
    write_model)
from gxnor_engine.model import load_model
from gxnor_engine.spec import ModelError


@pytest.mark.parametrize('layers,input_shape,seed', [
    (mnist_like_layers(), (1, 16, 16), 0),
    (mnist_like_layers(), (1, 16, 16), 1),
    (odd_layers(), (3, 13, 11), 2),
])
def test_engine_equals_float64_reference(tmpdir, layers, input_shape, seed):
    path, arrays = write_model(tmpdir, layers, input_shape, seed)
    model = load_model(path)
    rng = np.random.RandomState(seed + 100)
    X = rng.randint(0, 256, size=(40,) + input_shape).astype(np.uint8)
    X[0] = 0
    X[1] = 255
    ref_scores, records = ref_forward(model.meta, arrays, X)
    for act in (k for k in records if k.startswith('act:')):
        # Not degenerate: no activation value takes over.
        assert max(np.mean(records[act] == v) for v in (-1, 0, 1)) < 0.95, act
    for mode in METHODS:
        stats = {}
        scores, z = model.forward(X, return_preacts=True, batch_size=15, method=mode,
                                  stats=stats)
        assert np.array_equal(scores.argmax(axis=1), ref_scores.argmax(axis=1))
        np.testing.assert_allclose(scores, ref_scores, rtol=1e-9, atol=1e-9)
        first = True
        for spec in layers:
            if spec['kind'] not in ('conv', 'dense'):
                continue
            name = spec['name']
            assert z[name].dtype.kind == 'i'
            scale = spec['H'] / 255.0 if first else spec['H']
            bias = arrays[spec['params']['b']] if spec['params']['b'] else np.zeros(1)
            bias = bias.astype(np.float64).reshape((1, -1) + (1,) * (z[name].ndim - 2))
            np.testing.assert_allclose(scale * z[name] + bias, records[name], rtol=0, atol=1e-9)
            first = False
        assert set(stats) == set(s['name'] for s in layers if s['kind'] in ('conv', 'dense'))
        for entry in stats.values():
            assert 0 < entry['gates'] <= entry['products']
    assert np.array_equal(model.predict(X), ref_scores.argmax(axis=1))


@pytest.mark.parametrize('layers,input_shape,seed', [
    (mnist_like_layers(), (1, 16, 16), 0),
    (odd_layers(), (3, 13, 11), 2),
])
def test_compiled_engine_equals_float64_reference(tmpdir, kernel_path, layers, input_shape,
                                                  seed):
    """The compiled kernels on each kernel path: the reference's scores and the
    NumPy path's integer sums and gate counts, images of all-0 and all-255 pixels
    included."""
    path, arrays = write_model(tmpdir, layers, input_shape, seed)
    model = load_model(path)
    X = np.random.RandomState(seed + 100).randint(0, 256, size=(41,) + input_shape)
    X = X.astype(np.uint8)
    X[0], X[1] = 0, 255
    ref_scores, _ = ref_forward(model.meta, arrays, X)
    runs = []
    for kernel in ('c', 'numpy'):
        stats = {}
        runs.append(model.forward(X, return_preacts=True, batch_size=16, stats=stats,
                                  kernel=kernel) + (stats,))
    (scores, z, stats), (_, z_numpy, stats_numpy) = runs
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-9, atol=1e-9)
    assert all(np.array_equal(z[name], z_numpy[name]) for name in z_numpy)
    assert stats == stats_numpy
    plain, z_plain = model.forward(X, return_preacts=True, batch_size=16, kernel='c')
    assert np.array_equal(plain, scores)                 # without statistics
    assert all(np.array_equal(z_plain[name], z_numpy[name]) for name in z_numpy)


def test_gate_statistics_are_exact(tmpdir):
    layers = mnist_like_layers()
    path, arrays = write_model(tmpdir, layers, (1, 16, 16), 5)
    model = load_model(path)
    X = np.random.RandomState(6).randint(0, 256, size=(7, 1, 16, 16)).astype(np.uint8)
    stats = {}
    _, records = ref_forward(model.meta, arrays, X)
    model.forward(X, stats=stats)
    # conv2's input is the first activation; gates = sum over products of [x != 0][w != 0].
    x = records['act:1'] != 0
    w = arrays['conv2.W'] != 0
    gates = sum(np.einsum('nchw,fchw->', x[:, :, i:i + 3, j:j + 3].astype(int), w.astype(int))
                for i in range(4) for j in range(4))
    assert stats['conv2']['gates'] == gates
    assert stats['conv2']['products'] == 7 * 16 * 8 * 6 * 9
    assert stats['conv2']['input_nonzero'] == np.count_nonzero(x)
    # The first layer's input 2p - 255 is never 0: gates = non-zero weights * positions.
    assert stats['conv1']['gates'] == np.count_nonzero(arrays['conv1.W']) * 7 * 12 * 12
    size = model.model_bytes()
    assert size['float32_weights'] == 4 * sum(arrays[s['params']['W']].size
                                              for s in layers if 'params' in s and
                                              s['kind'] in ('conv', 'dense'))
    # Mask and sign planes of ceil(fan_in / 64) words per unit.
    words = [(6, 25), (8, 6 * 9), (20, 8 * 2 * 2), (10, 20)]
    assert size['packed_weights'] == sum(2 * 8 * units * -(-fan_in // 64)
                                         for units, fan_in in words)
    thresholds = 9 * (6 + 8 + 20)
    last = 4 * (4 + 1) * 10          # fc4: bias and batch norm stay float32
    assert size['packed'] == size['packed_weights'] + thresholds + last


def test_forward_batches_and_empty_input(tmpdir):
    path, _ = write_model(tmpdir, mnist_like_layers(), (1, 16, 16), 7)
    model = load_model(path)
    X = np.random.RandomState(8).randint(0, 256, size=(11, 1, 16, 16)).astype(np.uint8)
    assert np.array_equal(model.forward(X, batch_size=4), model.forward(X, batch_size=100))
    scores, z = model.forward(X[:0], return_preacts=True)
    assert scores.shape == (0, 10) and z['conv2'].shape == (0, 8, 2, 2)
    with pytest.raises(ValueError):
        model.forward(X[:, :, :15])


def test_forward_takes_integer_pixels_and_refuses_others(tmpdir):
    """Integer arrays of values 0..255 run as the same uint8 images; values
    outside, floats and images without the channel axis are refused."""
    path, _ = write_model(tmpdir, mnist_like_layers(), (1, 16, 16), 18)
    model = load_model(path)
    X = np.random.RandomState(19).randint(0, 256, size=(5, 1, 16, 16)).astype(np.uint8)
    X[0, 0, 0, 0], X[1, 0, 0, 0] = 0, 255
    scores = model.forward(X, kernel='numpy')
    for dtype in (np.int64, np.int16, np.uint16):
        assert np.array_equal(model.forward(X.astype(dtype), kernel='numpy'), scores), dtype
    for bad in (X.astype(np.int64) - 1, X.astype(np.int64) + 1, X.astype(np.float32), X[:, 0]):
        with pytest.raises(ValueError):
            model.forward(bad)


def test_save_model_is_atomic_and_round_trips(tmpdir):
    path, arrays = write_model(tmpdir, mnist_like_layers(), (1, 16, 16), 9)
    assert sorted(os.listdir(str(tmpdir))) == ['model.npz']
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(data['__meta__'].item())
        assert data['conv1.W'].dtype == np.float32
    assert meta['format'] == 'gxnor-model' and meta['version'] == 1
    assert meta['input_scaling'] == 'x*2/255-1' and meta['layers'] == mnist_like_layers()


def test_check_classes_and_stages(tmpdir):
    """A network's output width against a number of classes; the stages in order."""
    path, _ = write_model(tmpdir, mnist_like_layers(), (1, 16, 16), 20)
    model = load_model(path)
    assert model.output_width == 10 and model.output_shape == (10,)
    model.check_classes(10, 'of mnist')
    with pytest.raises(ModelError) as info:
        model.check_classes(12, 'the file states')
    assert str(info.value) == ('the network has 10 outputs (after layer fc4), not the 12 '
                               'classes the file states: is its layer list cut short?')
    assert isinstance(model.stages, tuple) and model.stages == tuple(model._stages)


# What model.py (through model_format.py) checks of a file's description.
@pytest.mark.parametrize('change,message', [
    (lambda m, a: set_item(m, 'version', 2), 'version'),
    (lambda m, a: set_item(m, 'input_scaling', 'x/255'), "input_scaling 'x/255' unsupported"),
    (lambda m, a: set_item(m, 'input_shape', [16, 16]), 'input_shape must be [C, H, W]'),
    (lambda m, a: set_item(m, 'input_shape', [1, 0, 16]), 'expected a positive integer'),
    (lambda m, a: set_item(m, 'classes', 0), 'expected a positive integer, got 0'),
])
def test_bad_models_raise_model_error(tmpdir, change, message):
    assert_refused(tmpdir, change, message)


def test_unsupported_method_is_named(tmpdir):
    """A file of a method the engine cannot run says which methods it runs."""
    path, _ = write_model(tmpdir, mnist_like_layers(), (1, 16, 16), 21)
    rewrite(path, lambda m, a: (set_item(m, 'method', 'twn'),
                                set_item(m['layers'][1], 'discrete', False)))
    with pytest.raises(ModelError) as info:
        load_model(path)
    assert str(info.value).startswith(path + ': layer conv1 (conv): full-precision layer')
    assert str(info.value).endswith(' (method twn: the engine runs gxnor, bnn, xnor, tbn '
                                    'models only)')


def test_not_a_model(tmpdir):
    other = os.path.join(str(tmpdir), 'other.npz')
    np.savez(other, a=np.zeros(3))
    garbage = os.path.join(str(tmpdir), 'garbage.npz')
    with open(garbage, 'wb') as f:
        f.write(b'not a zip file')
    wrong = os.path.join(str(tmpdir), 'wrong.npz')
    np.savez(wrong, __meta__=np.array(u'{"format": "something-else"}'))
    for path, message in ((other, 'not a gxnor-model'), (garbage, 'not a model file'),
                          (wrong, 'not a gxnor-model'),
                          (os.path.join(str(tmpdir), 'missing.npz'), 'no such file')):
        with pytest.raises(ModelError) as info:
            load_model(path)
        assert message in str(info.value)
        assert isinstance(info.value, ValueError)
