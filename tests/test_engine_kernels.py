"""Tests of gxnor_engine/kernels.py: the compiled kernels equal the NumPy engine and
plain integer arithmetic on every kernel path this machine runs (the tests'
ids name the path: [scalar], [avx2], [avx512]; the others are skipped with
the reason), and the build, cache, paths and fallback behave."""
from __future__ import absolute_import, division, print_function

import glob
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import gated_xnor as gx  # noqa: E402
from gxnor_engine import kernels as gk  # noqa: E402
from gxnor_engine.activations import PoolStage  # noqa: E402
from gxnor_engine.packing import gxnor_matmul, word_major  # noqa: E402
from gxnor_engine.products import Context, PackedStage  # noqa: E402
import engine_models as em  # noqa: E402  (random ternary data, reference conv, models)

ternary = em.ternary


@pytest.fixture(scope='module')
def kernels():
    """The compiled kernels; skip where there is no compiler at all, fail where the build does."""
    if gk._which(gk._compiler()) is None:
        pytest.skip('no C compiler (%s)' % gk._compiler())
    return gk.load()


@pytest.fixture
def isolated(monkeypatch, tmpdir):
    """A fresh cache folder and no library loaded or warning given in this process yet."""
    monkeypatch.setenv('GXNOR_KERNEL_DIR', str(tmpdir.join('cache')))
    monkeypatch.delenv('GXNOR_KERNELS', raising=False)
    monkeypatch.setattr(gk, '_LOADED', {})
    monkeypatch.setattr(gk, '_WARNED', set())
    return str(tmpdir.join('cache'))


def integer_products(x, w):
    x, w = x.astype(np.int64), w.astype(np.int64)
    return x.dot(w.T), (x != 0).astype(np.int64).dot((w != 0).T.astype(np.int64))


# ----------------------------------------------------------------------------- product

@pytest.mark.parametrize('rows,units,length', [
    (1, 1, 0), (9, 5, 0), (1, 3, 1), (7, 5, 63), (7, 5, 64), (7, 5, 65), (1, 1, 130),
    (33, 3, 200), (70, 7, 2000), (3, 1000, 127), (2, 3000, 64 * 37), (5000, 7, 130),
    (65, 9, 70000), (37, 17, 64 * 31 + 9), (6, 8, 64 * 32), (3, 4, 64 * 62 + 1),
])
def test_matmul_equals_numpy_product_and_integer_matmul(kernels, kernel_path, rows, units,
                                                        length):
    # Units and rows not multiples of the vector widths (4 and 8 units, 2 and
    # 4 rows), words around the AVX2 path's flushes of byte counts (31).
    rng = np.random.RandomState(rows * 7 + units + length)
    x, w = ternary(rng, (rows, length), 0.6), ternary(rng, (units, length), rng.uniform())
    x[0] = 0
    if rows > 1:
        x[-1] = 1                                       # all-one planes
    if length and units > 1:
        w[1] = -1
    expected, gates = integer_products(x, w)
    px, pw = gx.pack_ternary(x), gx.pack_ternary(w)
    z, total, gate = kernels.matmul(px.mask, px.sign, pw.mask, pw.sign, want_gate=True)
    assert z.dtype == np.int32 and gate.dtype == np.int32
    assert np.array_equal(z, expected) and np.array_equal(gate, gates)
    assert total == gates.sum()
    words = [word_major(p) for p in (px.mask, px.sign, pw.mask, pw.sign)]
    ref = gxnor_matmul(*words, want_gate=True)
    got = gk.gxnor_matmul(*words, want_gate=True)       # the NumPy function's contract
    assert np.array_equal(ref[0], got[0]) and ref[1] == got[1]
    assert np.array_equal(ref[2], got[2])
    for kernel in ('c', 'numpy'):
        z, gate = gx.gated_xnor_dot(px, pw, return_gate=True, kernel=kernel)
        assert np.array_equal(z, expected) and np.array_equal(gate, gates), kernel


@pytest.mark.parametrize('in_hw,pool,stride,ignore_border,units', [
    ((8, 8), (2, 2), (2, 2), True, 64), ((5, 7), (3, 2), (2, 1), False, 13),
    ((4, 4), (2, 2), (1, 1), True, 9),
])
def test_matmul_pooled_equals_max_pool_of_the_product(kernels, kernel_path, in_hw, pool, stride,
                                                      ignore_border, units):
    rng = np.random.RandomState(units)
    rows = 3 * in_hw[0] * in_hw[1]
    x, w = ternary(rng, (rows, 150), 0.6), ternary(rng, (units, 150))
    px, pw = gx.pack_ternary(x), gx.pack_ternary(w)
    z, total, _ = kernels.matmul(px.mask, px.sign, pw.mask, pw.sign)
    out_hw = PoolStage(pool, stride, ignore_border).output_hw(*in_hw)
    flip = np.where(np.arange(units) % 2, -1, 0)
    for f in (None, flip):
        pooled, pooled_total, _ = kernels.matmul(px.mask, px.sign, pw.mask, pw.sign,
                                                 pool=(in_hw, pool, stride, out_hw, f))
        expected = kernels.max_pool(z.reshape((3,) + in_hw + (units,)), pool, stride, out_hw, f)
        assert np.array_equal(pooled, expected) and pooled_total == total
    with pytest.raises(ValueError):
        kernels.matmul(px.mask[:-1], px.sign[:-1], pw.mask, pw.sign,
                       pool=(in_hw, pool, stride, out_hw, None))


def test_matmul_without_gates_and_bad_shapes(kernels, kernel_path):
    x, w = gx.pack_ternary([[1, -1, 0, 1]]), gx.pack_ternary([[1, 1, 1, 1], [-1, -1, 0, 0]])
    z, total, gate = kernels.matmul(x.mask, x.sign, w.mask, w.sign)
    assert z.tolist() == [[1, 0]] and total == 5 and gate is None
    with pytest.raises(ValueError):
        kernels.matmul(x.mask, x.sign, w.mask[:, :0], w.sign[:, :0])


def test_gated_xnor_dot_leading_axes(kernels, kernel_path):
    rng = np.random.RandomState(4)
    x, w = ternary(rng, (2, 3, 70)), ternary(rng, (4, 70))
    got = gx.gated_xnor_dot(gx.pack_ternary(x), gx.pack_ternary(w), kernel='c')
    assert np.array_equal(got, np.einsum('abk,uk->abu', x.astype(int), w.astype(int)))


# ----------------------------------------------------------------------------- stages

@pytest.mark.parametrize('channels,size,kernel,stride,pad', em.CONV_CASES + [
    (2, 4, (7, 7), (1, 1), (3, 3)),            # windows wider than the image
])
def test_conv_through_the_engine_equal_on_both_paths(kernels, kernel_path, channels, size,
                                                     kernel, stride, pad):
    rng = np.random.RandomState(channels + size)
    x = ternary(rng, (3, channels, size, size + 2), 0.6)
    w = ternary(rng, (4, channels) + kernel)
    expected = em.plain_conv(x, w, stride, pad)
    got_c = gx.gated_xnor_conv2d(x, w, stride, pad, kernel='c')
    got_numpy = gx.gated_xnor_conv2d(x, w, stride, pad, kernel='numpy')
    assert np.array_equal(got_c, expected) and np.array_equal(got_numpy, expected)


@pytest.mark.parametrize('channels,size,kernel,stride,pad', [
    (32, 12, (5, 5), (1, 1), (0, 0)), (5, 6, (3, 2), (2, 3), (1, 2)),
    (9, 1, (1, 1), (1, 1), (0, 0)), (8, 7, (3, 3), (1, 1), (1, 1)),
    (24, 3, (1, 1), (1, 1), (0, 0)), (40, 4, (3, 3), (1, 1), (2, 2)),
    (1000, 1, (1, 1), (1, 1), (0, 0)),
])
def test_pack_patches_equals_numpy_packing(kernels, kernel_path, channels, size, kernel, stride,
                                           pad):
    # Channels multiple of 8 (packed with vectors; runs of 64 values and less)
    # and not; windows inside the image and over its border.
    rng = np.random.RandomState(channels)
    t = ternary(rng, (3, size, size + 1, channels), 0.5)
    t[0] = 0
    t[1, :, :1] = 1
    t[1, :, -1:] = -1
    w = ternary(rng, (2,) + kernel + (channels,))
    stage = PackedStage(dict(name='c', kind='conv', fan_in=w[0].size, units=2), w,
                            (kernel, stride, pad))
    (xm, xs), rows, out_hw = stage._pack_input(t)
    nwords = stage.rows_m.shape[1]
    mask, sign, hw = kernels.pack_patches(t, kernel, stride, pad, nwords)
    assert hw == out_hw and len(mask) == rows
    assert np.array_equal(mask, xm.T) and np.array_equal(sign, xs.T)


@pytest.mark.parametrize('channels,size,kernel,stride,pad,units', [
    (1, 28, (5, 5), (1, 1), (0, 0), 32), (3, 9, (3, 3), (1, 1), (1, 1), 6),
    (2, 10, (3, 2), (2, 3), (2, 1), 17), (1, 5, (5, 5), (1, 1), (0, 0), 6),
    (4, 3, (1, 1), (1, 1), (0, 0), 40), (3, 12, (7, 9), (2, 1), (3, 4), 33),
    (2, 11, (5, 5), (2, 2), (2, 2), 16), (1, 9, (6, 6), (1, 3), (3, 0), 1),
])
def test_conv_pixels_equals_integer_conv(kernels, kernel_path, channels, size, kernel, stride,
                                         pad, units):
    # Units around the vector widths (8 and 16), kernels whose width is not a
    # multiple of 4 (5 x 5: taps grouped down the columns too), padding.
    rng = np.random.RandomState(size)
    X = rng.randint(0, 256, size=(5, channels, size, size + 3)).astype(np.uint8)
    X[0] = 0
    X[1] = 255
    w = ternary(rng, (units, channels) + kernel)
    w[0] = 1
    expected = em.plain_conv(2 * X.astype(np.int64) - 255, w, stride, pad)
    got = kernels.conv_pixels(X, w, stride, pad)
    assert got.dtype == np.int32
    assert np.array_equal(got.transpose(0, 3, 1, 2), expected)
    # Pooled in the same call: as the pooling kernel on the sums.
    for pool, step, ignore_border in (((2, 2), (2, 2), True), ((3, 2), (2, 1), False)):
        stage = PoolStage(pool, step, ignore_border)
        out_hw = stage.output_hw(*got.shape[1:3])
        if min(out_hw) < 1:
            continue
        flip = np.where(rng.uniform(size=units) < 0.5, -1, 0)
        for f in (None, flip):
            pooled = kernels.conv_pixels(X, w, stride, pad, pool=(pool, step, out_hw, f))
            assert np.array_equal(pooled, kernels.max_pool(got, pool, step, out_hw, f))


@pytest.mark.parametrize('pool,stride,ignore_border', [
    ((2, 2), (2, 2), True), ((3, 2), (2, 1), False), ((2, 2), (1, 1), True),
    ((3, 3), (3, 3), False),
])
@pytest.mark.parametrize('channels', [5, 32])
def test_max_pool_and_threshold_equal_numpy(kernels, kernel_path, pool, stride, ignore_border,
                                            channels):
    rng = np.random.RandomState(pool[0] * 10 + stride[1])
    a = rng.randint(-500, 500, size=(3, 7, 8, channels)).astype(np.int32)
    sign = np.where(np.arange(channels) % 3 == 1, -1, 1).astype(np.int32)
    stage = PoolStage(pool, stride, ignore_border, sign)
    out_hw = stage.output_hw(7, 8)
    expected = stage.run(a, Context(None, None, None, 'numpy'))
    flip = np.where(sign < 0, -1, 0)
    assert np.array_equal(kernels.max_pool(a, pool, stride, out_hw, flip), expected)
    assert np.array_equal(kernels.max_pool(a, pool, stride, out_hw),
                          gx.max_pool_nhwc(a, pool, stride, ignore_border))
    thresholds = gx.Thresholds(sign, rng.randint(-50, 100, channels).astype(np.int32),
                               rng.randint(-100, 50, channels).astype(np.int32))
    thresholds.pos[0], thresholds.neg[0] = -10, 10      # crossed: both hold, the output is 0
    got = kernels.threshold(a, *thresholds)
    assert got.dtype == np.int8 and np.array_equal(got, gx.apply_thresholds(a, thresholds))


def first_dense_layers():
    return [em.dense_spec('d1', 20), em.bn_spec('b1', [0]), em.act_spec(),
            em.dense_spec('d2', 7, N=0), em.bn_spec('b2', [0])]


def strided_layers():
    return [em.conv_spec('c1', 5, (3, 4), stride=(2, 3), pad=(2, 1), H=0.5),
            em.bn_spec('b1', [0, 2, 3]), em.act_spec(),
            em.conv_spec('c2', 70, (2, 2), pad=(1, 1)), em.pool_spec(2, ignore_border=False),
            em.bn_spec('b2', [0, 2, 3]), em.act_spec(),
            em.dense_spec('d3', 130), em.bn_spec('b3', [0]), em.act_spec(),
            em.dense_spec('d4', 3), em.bn_spec('b4', [0])]


@pytest.mark.parametrize('layers,input_shape,seed', [
    (em.mnist_like_layers(), (1, 16, 16), 0),
    (em.odd_layers(), (3, 13, 11), 2),
    (first_dense_layers(), (2, 5, 7), 3),
    (strided_layers(), (3, 17, 14), 4),
])
def test_models_equal_on_both_paths(kernels, kernel_path, tmpdir, layers, input_shape, seed):
    path, arrays = em.write_model(tmpdir, layers, input_shape, seed)
    model = gx.load_model(path)
    X = np.random.RandomState(seed + 100).randint(0, 256, size=(40,) + input_shape)
    X = X.astype(np.uint8)
    X[0], X[1] = 0, 255
    runs = {}
    for kernel in ('c', 'numpy'):
        stats = {}
        scores, z = model.forward(X, return_preacts=True, batch_size=15, stats=stats,
                                  kernel=kernel)
        runs[kernel] = scores, z, stats
    (s_c, z_c, st_c), (s_np, z_np, st_np) = runs['c'], runs['numpy']
    assert np.array_equal(s_c, s_np)
    assert np.array_equal(model.forward(X, batch_size=15, kernel='c'), s_np)   # no statistics
    assert sorted(z_c) == sorted(z_np)
    for name in z_c:
        assert z_c[name].dtype == z_np[name].dtype and np.array_equal(z_c[name], z_np[name])
    assert st_c == st_np
    ref_scores, _ = em.ref_forward(model.meta, arrays, X)
    np.testing.assert_allclose(s_c, ref_scores, rtol=1e-9, atol=1e-9)


def test_committed_model_equal_on_both_paths(kernels, kernel_path, mnist_data):
    found = sorted(glob.glob(os.path.join(ROOT, 'weights', 'mnist-gxnor-*.npz')))
    if not found:
        pytest.skip('no committed model in weights/')
    model = gx.load_model(found[0])
    X, y = mnist_data['test']
    X = X[:500]
    results = {}
    for kernel in ('c', 'numpy'):
        stats = {}
        scores, z = model.forward(X, return_preacts=True, stats=stats, kernel=kernel)
        results[kernel] = scores.argmax(axis=1), scores, z, stats
    (p_c, s_c, z_c, st_c), (p_np, s_np, z_np, st_np) = results['c'], results['numpy']
    assert np.array_equal(p_c, p_np) and np.array_equal(s_c, s_np)
    assert all(np.array_equal(z_c[k], z_np[k]) for k in z_np)
    assert st_c == st_np
    assert np.mean(p_c == np.asarray(y)[:500]) > 0.97


# ----------------------------------------------------------------------------- build and fallback

def test_cache_is_reused(kernels, isolated, monkeypatch):
    first = gk.load(force=True)
    assert first.compiled and os.path.dirname(first.path) == isolated
    assert os.listdir(isolated) == [os.path.basename(first.path)]     # no temporary files left

    def no_build(*args):
        raise AssertionError('compiled again')
    monkeypatch.setattr(gk, '_build', no_build)
    second = gk.load(force=True)
    assert not second.compiled and second.path == first.path
    assert gk.load() is second                          # once per process
    # Other flags or another compiler: another key.
    monkeypatch.setattr(gk, '_candidate_flags', lambda: [])
    assert gk._library_path(gk._which(gk._compiler()), isolated) != first.path


def test_library_reports_its_build(kernels):
    assert kernels.flags.startswith('-O3')
    text = kernels.describe()
    assert text.startswith('C (gxnor_engine/kernels.c, ') and ('%d thread' % kernels.threads) in text
    assert kernels.openmp == ('-fopenmp' in text)


def test_threads_follow_omp_num_threads_and_sleep_when_idle(kernels):
    if not kernels.openmp:
        pytest.skip('built without OpenMP')
    env = dict(os.environ, OMP_NUM_THREADS='3')
    env.pop('OMP_WAIT_POLICY', None)
    code = ('import os, sys; from gxnor_engine import kernels as k; '
            'sys.stdout.write("%d %s" % (k.load().threads, os.environ["OMP_WAIT_POLICY"]))')
    out = subprocess.check_output([sys.executable, '-c', code], cwd=ROOT, env=env)
    assert out.decode().split() == ['3', 'passive']     # sleeping idle threads by default


def test_fallback_without_compiler(isolated, monkeypatch, tmpdir, capsys):
    monkeypatch.setenv('GXNOR_CC', os.path.join(str(tmpdir), 'no-such-cc'))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        kernels, text = gk.select()
        gk.select()                                      # warns once per reason
    assert kernels is None and 'no C compiler' in text and 'no-such-cc' in text
    assert len(caught) == 1 and issubclass(caught[0].category, RuntimeWarning)
    assert 'no C compiler' in str(caught[0].message)
    with pytest.raises(gk.KernelError):
        gk.select('c')
    # The engine still runs (NumPy) and the command says why.
    path, _ = em.write_model(tmpdir, em.mnist_like_layers(), (1, 16, 16), 11)
    X = np.random.RandomState(12).randint(0, 256, size=(9, 1, 16, 16)).astype(np.uint8)
    monkeypatch.setitem(sys.modules, 'datasets', em.fake_datasets(X, np.zeros(9, np.int32)))
    model = gx.load_model(path)
    assert np.array_equal(model.forward(X), model.forward(X, kernel='numpy'))
    assert gx.main([path]) == 0
    out = capsys.readouterr().out
    assert 'kernel      NumPy (C kernels unavailable: no C compiler' in out
    assert gx.main([path, '--kernel', 'c']) == 2
    assert 'error: no C compiler' in capsys.readouterr().err


def test_fallback_when_the_build_fails(isolated, monkeypatch, tmpdir):
    if sys.platform.startswith('win'):
        pytest.skip('needs a shell script as compiler')
    broken = os.path.join(str(tmpdir), 'broken-cc')
    with open(broken, 'w') as handle:
        handle.write('#!/bin/sh\necho "broken compiler says no" >&2\nexit 1\n')
    os.chmod(broken, 0o755)
    monkeypatch.setenv('GXNOR_CC', broken)
    with pytest.raises(gk.KernelError) as info:
        gk.load()
    assert 'build failed' in str(info.value) and 'broken compiler says no' in str(info.value)
    assert os.listdir(isolated) == []                   # nothing half-built left behind
    with warnings.catch_warnings(record=True):
        warnings.simplefilter('always')
        assert gk.select()[0] is None


def test_a_damaged_cached_library_is_built_again(kernels, isolated):
    """In new processes (one process never loads a library twice): the first builds it,
    the file is then damaged (a copy cut short, a full disk), the next builds it again."""
    code = ('import sys; from gxnor_engine import kernels as k; lib = k.load(); '
            'sys.stdout.write("%s %s" % (lib.compiled, lib.path))')
    env = dict(os.environ, GXNOR_KERNEL_DIR=isolated)
    compiled, path = subprocess.check_output([sys.executable, '-c', code], cwd=ROOT,
                                             env=env).decode().split()
    assert compiled == 'True'
    with open(path, 'wb') as handle:
        handle.write(b'\x7fELF not a library')
    compiled, again = subprocess.check_output([sys.executable, '-c', code], cwd=ROOT,
                                              env=env).decode().split()
    assert compiled == 'True' and again == path and os.path.getsize(path) > 1000


def test_without_a_compiler_a_cached_library_of_this_source_runs(kernels, isolated,
                                                                  monkeypatch, tmpdir):
    built = gk.load()                            # with the compiler: in the cache
    monkeypatch.setenv('GXNOR_CC', os.path.join(str(tmpdir), 'no-such-cc'))
    cached = gk.load(force=True)
    assert not cached.compiled and cached.path == built.path
    assert gk.select()[1].startswith('C (')


def test_a_failed_build_is_tried_once_per_process(isolated, monkeypatch, tmpdir):
    if sys.platform.startswith('win'):
        pytest.skip('needs a shell script as compiler')
    calls = os.path.join(str(tmpdir), 'calls')
    broken = os.path.join(str(tmpdir), 'broken-cc')
    with open(broken, 'w') as handle:
        handle.write('#!/bin/sh\necho x >> %s\nexit 1\n' % calls)
    os.chmod(broken, 0o755)
    monkeypatch.setenv('GXNOR_CC', broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        assert gk.available_paths() == []
        assert gk.select()[0] is None and gk.select()[0] is None
    with open(calls) as handle:
        tried = len(handle.readlines())
    with pytest.raises(gk.KernelError):
        gk.load()
    with open(calls) as handle:
        assert len(handle.readlines()) == tried      # no second build
    assert len(caught) == 1


def test_environment_and_popcount_choices(kernels, monkeypatch):
    monkeypatch.setenv('GXNOR_KERNELS', 'numpy')
    assert gk.select() == (None, 'NumPy (GXNOR_KERNELS=numpy)')
    assert gk.select('auto')[0] is None
    assert gk.select('c')[0] is kernels                  # an explicit choice wins
    monkeypatch.setenv('GXNOR_KERNELS', 'fortran')
    with pytest.raises(ValueError):
        gk.select()
    monkeypatch.delenv('GXNOR_KERNELS')
    assert gk.select()[0] is kernels
    assert gk.select(method='swar') == (None, 'NumPy (popcount method swar given)')
    with pytest.raises(ValueError):
        gk.select('c', method='swar')
    with pytest.raises(ValueError):
        gk.select('gpu')


def test_command_reports_the_kernel(kernels, tmpdir, capsys, monkeypatch):
    path, _ = em.write_model(tmpdir, em.mnist_like_layers(), (1, 16, 16), 14)
    X = np.random.RandomState(15).randint(0, 256, size=(9, 1, 16, 16)).astype(np.uint8)
    monkeypatch.setitem(sys.modules, 'datasets', em.fake_datasets(X, np.zeros(9, np.int32)))
    monkeypatch.delenv('GXNOR_KERNELS', raising=False)
    outputs = {}
    for kernel in ('c', 'numpy', 'auto'):
        assert gx.main([path, '--kernel', kernel]) == 0
        outputs[kernel] = capsys.readouterr().out
    assert '\nkernel      %s\n' % kernels.describe() in outputs['c']
    assert '\nkernel      NumPy (requested), popcount: ' in outputs['numpy']
    assert '\nkernel      C (' in outputs['auto']
    strip = [line for line in outputs['c'].splitlines() if not line.startswith(('kernel',
                                                                                  'throughput'))]
    assert strip == [line for line in outputs['numpy'].splitlines()
                     if not line.startswith(('kernel', 'throughput'))]
    assert gx.main([path, '--kernel', 'c', '--popcount', 'table']) == 2
    assert 'NumPy kernel' in capsys.readouterr().err


# ----------------------------------------------------------------------------- kernel paths

def test_available_paths_and_the_default(kernels, monkeypatch):
    monkeypatch.delenv('GXNOR_KERNEL_PATH', raising=False)
    paths = gk.available_paths()
    assert paths == kernels.supported and paths[0] == 'scalar'
    assert paths == [p for p in gk.PATHS if p in paths]         # slowest first
    assert gk.load().kernel_path == paths[-1]                   # the best by default
    assert '%s path' % paths[-1] in kernels.describe()


def test_environment_forces_a_path_and_refuses_what_the_cpu_lacks(kernels, monkeypatch, tmpdir,
                                                                  capsys):
    for name in kernels.supported:
        monkeypatch.setenv('GXNOR_KERNEL_PATH', name)
        assert gk.load().kernel_path == name and gk.select()[1] == kernels.describe()
        assert ', %s path, ' % name in kernels.describe()
    kernels.set_path('scalar')                  # explicit: stays while the variable is the same
    assert gk.load().kernel_path == 'scalar'
    monkeypatch.setenv('GXNOR_KERNEL_PATH', 'sse9')
    with pytest.raises(gk.KernelPathError) as info:
        gk.load()
    assert "kernel path 'sse9' (GXNOR_KERNEL_PATH=sse9) unknown" in str(info.value)
    with pytest.raises(gk.KernelPathError):
        gk.select()                              # never a silent fallback to NumPy
    # A path this CPU lacks (pretended where it has them all).
    monkeypatch.setattr(kernels, 'supported', ['scalar'])
    monkeypatch.setenv('GXNOR_KERNEL_PATH', 'auto')
    assert gk.load().kernel_path == 'scalar'
    monkeypatch.setenv('GXNOR_KERNEL_PATH', 'avx512')
    with pytest.raises(gk.KernelPathError) as info:
        gk.load()
    assert str(info.value) == ('kernel path avx512 (GXNOR_KERNEL_PATH=avx512) is not supported '
                               'here: this CPU and build run scalar')
    path, _ = em.write_model(tmpdir, em.mnist_like_layers(), (1, 16, 16), 21)
    assert gx.main([path, '--kernel', 'c']) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: kernel path avx512') and err.count('\n') == 1


def test_set_threads_changes_the_openmp_team(kernels):
    if not kernels.openmp:
        pytest.skip('built without OpenMP')
    before = kernels.threads
    try:
        kernels.set_threads(3)
        assert kernels.threads == 3 and 'OpenMP 3 threads' in kernels.describe()
        kernels.set_threads(1)
        assert kernels.threads == 1 and 'OpenMP 1 thread,' in kernels.describe()
    finally:
        kernels.set_threads(before)
    with pytest.raises(ValueError):
        kernels.set_threads(0)


def test_a_compiler_without_the_vector_paths_builds_the_scalar_one(kernels, isolated, tmpdir):
    """A compiler that rejects the vector code (old, or not x86) still gets the
    scalar path, which gives the same integers."""
    if sys.platform.startswith('win'):
        pytest.skip('needs a shell script as compiler')
    real = gk._which(gk._compiler())
    picky = os.path.join(str(tmpdir), 'picky-cc')
    with open(picky, 'w') as handle:
        handle.write('#!/bin/sh\ncase "$*" in *gxnor_engine/kernels.c*) case "$*" in '
                     '*GX_SCALAR_ONLY*) ;; *) echo "no AVX-512 here" >&2; exit 1;; esac;; '
                     'esac\nexec %s "$@"\n' % real)
    os.chmod(picky, 0o755)
    scalar = gk.load(compiler=picky)
    assert scalar.supported == ['scalar'] and '-DGX_SCALAR_ONLY' in scalar.flags
    rng = np.random.RandomState(22)
    x, w = ternary(rng, (9, 200)), ternary(rng, (13, 200))
    px, pw = gx.pack_ternary(x), gx.pack_ternary(w)
    z, total, _ = scalar.matmul(px.mask, px.sign, pw.mask, pw.sign)
    assert np.array_equal(z, integer_products(x, w)[0])
    X = rng.randint(0, 256, size=(2, 1, 9, 9)).astype(np.uint8)
    w4 = ternary(rng, (5, 1, 5, 5))
    assert np.array_equal(scalar.conv_pixels(X, w4, (1, 1), (2, 2)),
                          kernels.conv_pixels(X, w4, (1, 1), (2, 2)))
