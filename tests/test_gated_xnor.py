"""Tests of gated_xnor.py against plain integer / float64 NumPy computations."""
from __future__ import absolute_import, division, print_function

import glob
import json
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import gated_xnor as gx  # noqa: E402
from gated_xnor import ModelError  # noqa: E402
from engine_models import (  # noqa: E402  (random data, reference conv, models)
    CONV_CASES, calibrated_method_model, fake_datasets, method_layers, mnist_like_layers,
    odd_layers, plain_conv, ref_forward, ternary, write_model)
from gxnor_engine import kernels as engine_kernels  # noqa: E402
from gxnor_engine.popcount import byte_counts, sum_bytes  # noqa: E402

# Bit counting methods to run every packed computation with.
METHODS = ['swar', 'table'] + (['bitwise_count'] if gx.HAVE_BITWISE_COUNT else [])
TABLE_MODES = [True, False] if gx.HAVE_BITWISE_COUNT else [True]


# ----------------------------------------------------------------------------- popcount

def naive_popcount(a):
    unsigned = a.view(np.dtype('u%d' % a.dtype.itemsize))
    return np.array([bin(int(v)).count('1') for v in unsigned.ravel()]).reshape(a.shape)


@pytest.mark.parametrize('dtype', [np.uint8, np.uint16, np.uint32, np.uint64, np.int64, np.int16])
def test_popcount_matches_naive_count(dtype):
    rng = np.random.RandomState(1)
    info = np.iinfo(dtype)
    raw = rng.randint(0, 256, size=(37, 5 * np.dtype(dtype).itemsize)).astype(np.uint8)
    a = raw.view(dtype)
    a[0, 0], a[1, 0] = info.max, info.min
    expected = naive_popcount(a)
    for mode in TABLE_MODES + [None]:
        got = gx.popcount(a, use_table=mode)
        assert got.shape == a.shape
        assert np.array_equal(got, expected), mode


def test_popcount_scalar_and_errors():
    assert int(gx.popcount(np.uint64(2 ** 64 - 1), use_table=True)) == 64
    with pytest.raises(TypeError):
        gx.popcount(np.zeros(3, dtype=np.float32))
    if not gx.HAVE_BITWISE_COUNT:
        with pytest.raises(ValueError):
            gx.popcount(np.zeros(3, dtype=np.uint64), use_table=False)


def test_swar_byte_counts_and_byte_sums():
    rng = np.random.RandomState(5)
    a = (rng.randint(0, 2 ** 62, size=500).astype(np.uint64) * np.uint64(7))
    a[:2] = [0, 2 ** 64 - 1]
    counts = byte_counts(a.copy())
    assert np.array_equal(counts.view(np.uint8), gx.popcount(a.view(np.uint8), use_table=True))
    assert np.array_equal(sum_bytes(counts), naive_popcount(a))
    full = np.full(3, 0xFFFFFFFFFFFFFFFF, dtype=np.uint64)
    assert sum_bytes(full).tolist() == [8 * 255] * 3


def test_method_names():
    x, w = gx.pack_ternary([[1, 0, -1]]), gx.pack_ternary([[1, 1, 1]])
    with pytest.raises(ValueError):
        gx.gated_xnor_dot(x, w, method='fast')
    if not gx.HAVE_BITWISE_COUNT:
        with pytest.raises(ValueError):
            gx.gated_xnor_dot(x, w, method='bitwise_count')


@pytest.mark.skipif(not gx.HAVE_BITWISE_COUNT, reason='np.bitwise_count needs NumPy >= 2')
def test_table_equals_bitwise_count():
    rng = np.random.RandomState(2)
    a = rng.randint(0, 2 ** 62, size=1000).astype(np.uint64) * np.uint64(5)
    assert np.array_equal(gx.popcount(a, use_table=True), np.bitwise_count(a))


# ----------------------------------------------------------------------------- packing, products

def test_pack_ternary_layout():
    p = gx.pack_ternary(np.array([[1, 0, -1] + [0] * 62]), axis=1)
    assert p.length == 65 and p.mask.shape == (1, 2) and p.mask.dtype == np.uint64
    assert int(gx.popcount(p.mask).sum()) == 2 and int(gx.popcount(p.sign).sum()) == 1
    q = gx.pack_ternary(np.array([[1, 0, -1] + [0] * 62]).T, axis=0)
    assert np.array_equal(q.mask, p.mask) and np.array_equal(q.sign, p.sign)
    with pytest.raises(ValueError):
        gx.pack_ternary([2, 0, 1])


@pytest.mark.parametrize('length', [0, 1, 7, 63, 64, 65, 127, 128, 200, 513, 2000])
@pytest.mark.parametrize('seed', [0, 1])
def test_gated_xnor_dot_equals_integer_matmul(length, seed):
    rng = np.random.RandomState(seed * 1000 + length)
    for density in (0.0, 0.1, 0.5, 2.0 / 3, 1.0):
        x = ternary(rng, (9, length), density)
        w = ternary(rng, (5, length), rng.uniform())
        x[0] = 0                                  # an empty row
        w[1] = 0
        if length:
            x[1] = 1
            w[2] = -1
        expected = x.astype(np.int64).dot(w.T.astype(np.int64))
        gates = (x != 0).astype(np.int64).dot((w != 0).T.astype(np.int64))
        px, pw = gx.pack_ternary(x), gx.pack_ternary(w)
        for mode in METHODS:
            z, gate = gx.gated_xnor_dot(px, pw, method=mode, return_gate=True)
            assert np.array_equal(z, expected), (density, mode)
            assert np.array_equal(gate, gates), (density, mode)


def test_gated_xnor_dot_many_words_and_blocks():
    # More than 1023 words switches the direct path to 64-bit counters; many
    # rows span several blocks; many words deepen the carry-save tree.
    rng = np.random.RandomState(3)
    for rows, units, length in ((3, 2, 70000), (5000, 7, 130), (2, 3000, 64 * 37)):
        x, w = ternary(rng, (rows, length)), ternary(rng, (units, length))
        expected = x.astype(np.int64).dot(w.T.astype(np.int64))
        for mode in METHODS:
            got = gx.gated_xnor_dot(gx.pack_ternary(x), gx.pack_ternary(w), method=mode)
            assert np.array_equal(got, expected), (rows, units, length, mode)


def test_gated_xnor_dot_leading_axes_and_errors():
    rng = np.random.RandomState(4)
    x, w = ternary(rng, (2, 3, 70)), ternary(rng, (4, 70))
    got = gx.gated_xnor_dot(gx.pack_ternary(x), gx.pack_ternary(w))
    assert np.array_equal(got, np.einsum('abk,uk->abu', x.astype(int), w.astype(int)))
    with pytest.raises(ValueError):
        gx.gated_xnor_dot(gx.pack_ternary(x), gx.pack_ternary(w[:, :69]))


@pytest.mark.parametrize('channels,size,kernel,stride,pad', CONV_CASES)
def test_packed_conv_equals_plain_conv(channels, size, kernel, stride, pad):
    rng = np.random.RandomState(channels)
    x = ternary(rng, (3, channels, size, size + 2), 0.6)
    w = ternary(rng, (4, channels) + kernel)
    expected = plain_conv(x, w, stride, pad)
    for mode in METHODS:
        got = gx.gated_xnor_conv2d(x, w, stride, pad, method=mode)
        assert got.shape == expected.shape
        assert np.array_equal(got, expected), mode


# ----------------------------------------------------------------------------- thresholds

def float_activation(z, scale, bias, mean, gamma, inv_std, beta, act_N, r):
    y = ((scale * z.astype(np.float64) + bias) - mean) * (gamma * inv_std) + beta
    if act_N == 0:
        return np.where(y >= 0, 1, -1)
    return np.where(y > r, 1, np.where(y < -r, -1, 0))


@pytest.mark.parametrize('seed', range(6))
def test_thresholds_equal_float_formula(seed):
    rng = np.random.RandomState(seed)
    channels, zmax = 40, 300
    scale = [1.0, 0.37, 1.0 / 255, 2.0, 0.5, 1.0 / 255 * 0.3][seed]
    params = dict(bias=rng.normal(0, 3, channels) * scale,
                  mean=rng.normal(0, 20, channels) * scale,
                  gamma=rng.normal(0, 1, channels),
                  inv_std=rng.uniform(0.01, 0.2, channels) / scale,
                  beta=rng.normal(0, 1, channels))
    params['gamma'][:4] = 0.0                          # constant channels
    params['gamma'][4:8] = -np.abs(params['gamma'][4:8])
    params['gamma'][8] = 1e-30                         # threshold far outside the range
    # Channels where y hits +-r exactly on integers: > versus >= matters.
    params['bias'][9:12], params['mean'][9:12] = 0.0, 3.0 * scale
    params['gamma'][9:12], params['inv_std'][9:12], params['beta'][9:12] = 1.0, 1.0 / scale, 0.0
    params['gamma'][10] = -1.0
    z = np.arange(-zmax, zmax + 1)[:, None]
    for act_N, r in ((1, 1.0), (1, 0.0), (1, 0.75), (0, 1.0)):
        th = gx.fold_thresholds(zmax, scale, act_N=act_N, r=r, **params)
        got = gx.apply_thresholds(z.astype(np.int32), th)
        expected = float_activation(z, scale, act_N=act_N, r=r, **params)
        assert np.array_equal(got, expected), (act_N, r)
        assert got.dtype == np.int8


def test_thresholds_without_batchnorm():
    z = np.arange(-50, 51)[:, None]
    th = gx.fold_thresholds(50, 0.5, np.array([0.25, -3.0]), r=1.0)
    y = 0.5 * z + np.array([0.25, -3.0])
    assert np.array_equal(gx.apply_thresholds(z, th), np.where(y > 1, 1, np.where(y < -1, -1, 0)))


# ----------------------------------------------------------------------------- models

@pytest.mark.parametrize('layers,input_shape,seed', [
    (mnist_like_layers(), (1, 16, 16), 0),
    (mnist_like_layers(), (1, 16, 16), 1),
    (odd_layers(), (3, 13, 11), 2),
])
def test_engine_equals_float64_reference(tmpdir, layers, input_shape, seed):
    path, arrays = write_model(tmpdir, layers, input_shape, seed)
    model = gx.load_model(path)
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
    model = gx.load_model(path)
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
    model = gx.load_model(path)
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
    model = gx.load_model(path)
    X = np.random.RandomState(8).randint(0, 256, size=(11, 1, 16, 16)).astype(np.uint8)
    assert np.array_equal(model.forward(X, batch_size=4), model.forward(X, batch_size=100))
    scores, z = model.forward(X[:0], return_preacts=True)
    assert scores.shape == (0, 10) and z['conv2'].shape == (0, 8, 2, 2)
    with pytest.raises(ValueError):
        model.forward(X[:, :, :15])


def test_save_model_is_atomic_and_round_trips(tmpdir):
    path, arrays = write_model(tmpdir, mnist_like_layers(), (1, 16, 16), 9)
    assert sorted(os.listdir(str(tmpdir))) == ['model.npz']
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(data['__meta__'].item())
        assert data['conv1.W'].dtype == np.float32
    assert meta['format'] == 'gxnor-model' and meta['version'] == 1
    assert meta['input_scaling'] == 'x*2/255-1' and meta['layers'] == mnist_like_layers()


# ----------------------------------------------------------------------------- compared methods

def c_kernels():
    try:
        return engine_kernels.select('c')[0] is not None
    except engine_kernels.KernelError:       # no compiler: the NumPy paths only
        return False


@pytest.mark.parametrize('quantizer,activation', [
    ('binaryconnect', 'bnn'), ('bwn', 'xnor'), ('bwn', 'tbn')])
def test_compared_methods_equal_float64_reference(tmpdir, kernel_path, quantizer, activation):
    """Integer products, float scales: equal to the float64 formulas (up to the
    order of float64 operations), identical on every kernel and popcount path
    (the compiled kernels on the test's kernel path)."""
    X = np.random.RandomState(17).randint(0, 256, size=(30, 2, 13, 12)).astype(np.uint8)
    layers = method_layers(quantizer, activation)
    path, arrays = calibrated_method_model(tmpdir, layers, X, seed=len(activation))
    model = gx.load_model(path)
    expected, records = ref_forward(model.meta, arrays, X)
    for act in (k for k in records if k.startswith('act:')):
        assert max(np.mean(np.sign(records[act]) == v) for v in (-1, 0, 1)) < 0.9, act
    runs = [model.forward(X, batch_size=7, method=mode, kernel='numpy') for mode in METHODS]
    if c_kernels():
        runs.append(model.forward(X, batch_size=7, kernel='c'))
    for scores in runs:
        assert np.array_equal(scores, runs[0])
    np.testing.assert_allclose(runs[0], expected, rtol=1e-9, atol=1e-9)
    assert np.array_equal(model.predict(X), expected.argmax(axis=1))
    folded = [info['name'] for info in model.layers if 'threshold_channels' in info]
    assert folded == (['c1', 'c2', 'd3'] if activation == 'bnn' else [])


# ----------------------------------------------------------------------------- errors

def rewrite(path, change):
    """Apply change(meta, arrays) to a model file."""
    with np.load(path, allow_pickle=False) as data:
        arrays = dict((k, data[k]) for k in data.files if k != '__meta__')
        meta = json.loads(data['__meta__'].item())
    change(meta, arrays)
    arrays['__meta__'] = np.array(u'' + json.dumps(meta))
    with open(path, 'wb') as stream:      # not save_model: it fixes format and version
        np.savez(stream, **arrays)


def set_item(d, key, value):
    d[key] = value


@pytest.mark.parametrize('change,message', [
    (lambda m, a: a['conv2.W'].__setitem__((1, 2, 0, 1), 0.5), 'off the grid'),
    (lambda m, a: a.pop('fc3.W'), "'fc3.W' missing"),
    (lambda m, a: a.pop('fc3_bn.mean'), "'fc3_bn.mean' missing"),
    (lambda m, a: set_item(a, 'conv1.W', a['conv1.W'][:, :, :4]), 'shape'),
    (lambda m, a: set_item(a, 'fc4.b', np.zeros(11)), 'shape'),
    (lambda m, a: set_item(m['layers'][5], 'N', 2), 'N=2'),
    (lambda m, a: set_item(m['layers'][4], 'act_N', 2), 'act_N=2'),
    (lambda m, a: set_item(m['layers'][1], 'discrete', False), 'full-precision'),
    (lambda m, a: set_item(m['layers'][4], 'kind', 'relu'), 'unsupported layer kind'),
    (lambda m, a: m['layers'].pop(4), 'activation before it'),
    (lambda m, a: set_item(m, 'version', 2), 'version'),
    (lambda m, a: set_item(m, 'input_shape', [1, 20, 16]), 'shape'),
    (lambda m, a: set_item(a, 'conv1.b', np.full(6, np.nan)), 'non-finite'),
])
def test_bad_models_raise_model_error(tmpdir, change, message):
    path, _ = write_model(tmpdir, mnist_like_layers(), (1, 16, 16), 10)
    rewrite(path, change)
    with pytest.raises(ModelError) as info:
        gx.load_model(path)
    assert message in str(info.value)
    assert "u'" not in str(info.value)   # names as written, on Python 2.7 too


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
            gx.load_model(path)
        assert message in str(info.value)
        assert isinstance(info.value, ValueError)


# ----------------------------------------------------------------------------- command line

def test_command_reports(tmpdir, capsys, monkeypatch):
    path, _ = write_model(tmpdir, mnist_like_layers(), (1, 16, 16), 11)
    X = np.random.RandomState(12).randint(0, 256, size=(30, 1, 16, 16)).astype(np.uint8)
    y = gx.load_model(path).predict(X).astype(np.int32)
    y[:3] = (y[:3] + 1) % 10
    monkeypatch.setitem(sys.modules, 'datasets', fake_datasets(X, y))
    assert gx.main([path, '--batch-size', '7', '--limit', '20']) == 0
    out = capsys.readouterr().out
    assert 'accuracy    85.00% (17/20 test images)' in out
    for word in ('conv1', 'fc4', 'gate skips', 'images/s', 'packed', 'float32'):
        assert word in out


def test_command_errors(tmpdir, capsys):
    assert gx.main([os.path.join(str(tmpdir), 'missing.npz')]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and err.count('\n') == 1
    path, _ = write_model(tmpdir, mnist_like_layers(), (1, 16, 16), 13)
    rewrite(path, lambda m, a: a['fc3.W'].__setitem__((0, 0), 0.3))
    assert gx.main([path]) == 2
    assert 'off the grid' in capsys.readouterr().err


def test_command_popcount_option(tmpdir, capsys, monkeypatch):
    path, _ = write_model(tmpdir, mnist_like_layers(), (1, 16, 16), 14)
    X = np.random.RandomState(15).randint(0, 256, size=(9, 1, 16, 16)).astype(np.uint8)
    monkeypatch.setitem(sys.modules, 'datasets', fake_datasets(X, np.zeros(9, np.int32)))
    assert gx.main([path, '--popcount', 'table']) == 0
    assert 'carry-save + lookup table' in capsys.readouterr().out


def test_bench_runs_on_a_random_mnist_model(tmpdir, capsys, monkeypatch):
    sys.path.insert(0, os.path.join(ROOT, 'bench'))
    try:
        import bench_gated_xnor as bench
    finally:
        sys.path.remove(os.path.join(ROOT, 'bench'))
    X = np.random.RandomState(16).randint(0, 256, size=(48, 1, 28, 28)).astype(np.uint8)
    path = os.path.join(str(tmpdir), 'random.npz')
    bench.random_mnist_model(path, X)
    monkeypatch.setattr(bench, 'load_images', lambda data_dir, limit, **kw: (X, None, 'random'))
    report = os.path.join(str(tmpdir), 'bench.json')
    assert bench.main([path, '--batch-size', '20', '--cifar-random', '--cifar-images', '6',
                       '--repeat', '2', '--no-theano', '--json', report]) == 0
    out = capsys.readouterr().out
    assert 'images/s' in out and 'model size' in out and 'cifar10     random model' in out
    # float32 rounding may flip a unit that sits on a threshold: not all need agree.
    agree = int(out.split('agreement')[1].split('/')[0])
    assert agree >= 40
    with open(report) as handle:
        saved = json.load(handle)
    assert saved['mnist']['agree'] == agree and saved['mnist']['images'] == 48
    assert saved['cifar10_random']['images'] == 6 and saved['cifar10_random']['ratio'] > 0
    assert len(saved['mnist']['round_ratios']) == 2 and saved['dataset'] == 'mnist'
    assert saved['mnist']['differ_float32'] == 48 - agree and 'theano' not in saved['mnist']
    assert saved['command'].endswith('--json ' + report) and saved['date'][:2] == '20'


def test_command_tells_a_model_file_from_other_files(tmpdir, capsys):
    text = os.path.join(str(tmpdir), 'notes.txt')
    with open(text, 'w') as handle:
        handle.write('not a model\n')
    assert gx.main([text]) == 2
    assert capsys.readouterr().err == 'error: %s: not a model file (not an .npz archive)\n' % text
    assert gx.main([str(tmpdir)]) == 2
    assert capsys.readouterr().err == 'error: %s: is a folder, not a model file\n' % tmpdir


def test_command_needs_only_the_test_files(tmpdir, capsys):
    """The committed model on a folder holding only MNIST's two test files."""
    from conftest import ROOT, real_mnist_dir
    import shutil
    folder = os.path.join(str(tmpdir), 'only-test')
    os.mkdir(folder)
    for name in os.listdir(real_mnist_dir()):
        if name.startswith('t10k-'):
            shutil.copy(os.path.join(real_mnist_dir(), name), folder)
    model = sorted(glob.glob(os.path.join(ROOT, 'weights', 'mnist-gxnor*.npz')))[0]
    assert gx.main([model, '--data-dir', folder, '--limit', '300']) == 0
    out = capsys.readouterr().out
    assert '/300 test images), error ' in out


def test_a_model_cut_short_is_refused(tmpdir, capsys):
    """A layer list that lost its last two layers (fc4 and its batch norm) ends on
    fc3's 20 hidden units, whose argmax is no class: the loader refuses it where
    the file states its classes (as the harness's files do), the command where
    its data set's classes say so."""
    path, _ = write_model(tmpdir, mnist_like_layers(), (1, 16, 16), 17)
    assert gx.load_model(path).output_width == 10
    rewrite(path, lambda m, a: set_item(m, 'layers', m['layers'][:-2]))
    assert gx.load_model(path).output_width == 20       # states no classes: loads
    why = 'the network has 20 outputs (after layer fc3), not the 10 classes %s: ' \
          'is its layer list cut short?'
    assert gx.main([path]) == 2
    assert capsys.readouterr().err == 'error: %s: %s\n' % (path, why % 'of mnist')
    rewrite(path, lambda m, a: set_item(m, 'classes', 10))
    with pytest.raises(ModelError) as info:
        gx.load_model(path)
    assert str(info.value) == '%s: %s' % (path, why % 'the file states')
    assert gx.main([path]) == 2
    assert capsys.readouterr().err == 'error: %s: %s\n' % (path, why % 'the file states')
