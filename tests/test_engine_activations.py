"""Tests of gxnor_engine/activations.py."""
from __future__ import absolute_import, division, print_function

import numpy as np
import pytest

from engine_models import ref_method_activation
from gxnor_engine.activations import (
    FloatActivationStage, PoolStage, RecordStage, max_pool_nhwc, pool_length)
from gxnor_engine.products import Context
from gxnor_engine.thresholds import Affine


def window_starts(size, pool, stride, ignore_border):
    """Where the pooling windows start, counted one by one: every multiple of
    `stride` whose window fits (ignore_border), or, without ignore_border, up
    to the first window that reaches the last element (partial windows)."""
    starts = []
    for start in range(0, size, stride):
        if ignore_border and start + pool > size:
            break
        if not ignore_border and starts and starts[-1] + pool >= size:
            break
        starts.append(start)
    return starts


def plain_pool(a, pool, stride, ignore_border, reduce=np.max):
    """Pooling of NHWC `a` written out: per window, `reduce` of the elements it holds."""
    rows = window_starts(a.shape[1], pool[0], stride[0], ignore_border)
    cols = window_starts(a.shape[2], pool[1], stride[1], ignore_border)
    out = np.zeros((len(a), len(rows), len(cols), a.shape[3]), dtype=a.dtype)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            out[:, i, j] = reduce(a[:, r:r + pool[0], c:c + pool[1]], axis=(1, 2))
    return out


def test_pool_length_counts_the_windows():
    for size in range(1, 12):
        for pool in range(1, 5):
            for stride in range(1, 5):
                assert pool_length(size, pool, stride, False) == \
                    len(window_starts(size, pool, stride, False)), (size, pool, stride)
                if size >= pool:
                    assert pool_length(size, pool, stride, True) == \
                        len(window_starts(size, pool, stride, True)), (size, pool, stride)


@pytest.mark.parametrize('pool,stride,ignore_border', [
    ((2, 2), (2, 2), True), ((2, 2), (2, 2), False), ((3, 2), (2, 1), False),
    ((3, 3), (1, 1), True), ((2, 3), (3, 3), False)])
@pytest.mark.parametrize('dtype', [np.int8, np.int32, np.float64])
def test_max_pool_equals_the_max_of_each_window(pool, stride, ignore_border, dtype):
    """Integer and float values, the lowest int8 among them: partial windows
    take the max of what they hold, never of their padding."""
    rng = np.random.RandomState(len(np.dtype(dtype).name))
    a = rng.randint(-128, 128, size=(2, 7, 8, 3)).astype(dtype)
    a[0, 6, 7] = -128
    expected = plain_pool(a, pool, stride, ignore_border)
    got = max_pool_nhwc(a, pool, stride, ignore_border)
    assert got.dtype == a.dtype and np.array_equal(got, expected)


def test_pool_stage_with_sign_takes_the_min_where_the_sign_is_negative():
    """After a batch norm with gamma * inv_std < 0 the pooling of z is a min."""
    a = np.random.RandomState(4).randint(-1000, 1000, size=(3, 7, 6, 4)).astype(np.int32)
    sign = np.array([1, -1, -1, 1], dtype=np.int32)
    stage = PoolStage((2, 2), (2, 2), False, sign)
    expected = np.where(sign < 0, plain_pool(a, (2, 2), (2, 2), False, np.min),
                        plain_pool(a, (2, 2), (2, 2), False))
    assert stage.output_hw(7, 6) == (4, 3)
    assert np.array_equal(stage.run(a, Context(None, None, None, 'numpy')), expected)


@pytest.mark.parametrize('method,delta', [('bnn', 0.4), ('xnor', 0.4), ('tbn', 0.4),
                                          ('tbn', 0.0)])
def test_float_activations_equal_their_formulas(method, delta):
    """Batch norm in float64, then BNN's sign (sign(0) = +1), XNOR-Net's
    sign * mean |y| over channels, TBN's ternary with threshold delta * mean |y|
    per image (as the reference forward pass of the tests writes them): signs
    exact, XNOR-Net's scales within 1e-12 relative."""
    rng = np.random.RandomState(len(method))
    z = rng.randint(-40, 40, size=(4, 3, 5, 6))                     # NHWC, 6 channels
    bias, mean, beta = rng.normal(0, 1, 6), rng.normal(0, 1, 6), rng.normal(0, 1, 6)
    bias[0], beta[0], z[0, 0, 0, 0] = mean[0], 0.0, 0                # y = 0 there
    affine = Affine(0.5, bias, mean, rng.uniform(-2, 2, 6), beta)
    y = affine(z)
    assert y[0, 0, 0, 0] == 0.0
    got = FloatActivationStage(affine, dict(bnn='sign').get(method, method),
                               delta=delta).run(z, None)
    expected = ref_method_activation(y.transpose(0, 3, 1, 2),
                                     dict(method=method, delta=delta)).transpose(0, 2, 3, 1)
    if method == 'xnor':
        assert got.values.dtype == np.int8 and got.scale.shape == (4, 3, 5)
        assert np.array_equal(got.values, np.sign(expected))
        np.testing.assert_allclose(got.to_float(), expected, rtol=1e-12, atol=0)
    else:
        assert got.dtype == np.int8 and np.array_equal(got, expected)


def test_ternary_activation_of_float_sums_is_strict_at_r():
    y = np.array([[-1.5, -1.0, -0.5, 0.0, 1.0, 1.0 + 1e-12]])
    stage = FloatActivationStage(Affine(1.0, np.zeros(6)), 'ternary', r=1.0)
    assert stage.run(y, None).tolist() == [[-1, 0, 0, 0, 0, 1]]
    with pytest.raises(ValueError):
        FloatActivationStage(Affine(1.0, np.zeros(6)), 'relu')


def test_record_stage_keeps_nchw_copies_only_when_asked():
    a = np.arange(2 * 3 * 4 * 5, dtype=np.int32).reshape(2, 3, 4, 5)       # NHWC
    stage = RecordStage('conv1', (5, 3, 4))
    preacts = {}
    ctx = Context(None, None, preacts, 'numpy')
    assert stage.run(a, ctx) is a
    stage.run(a + 1, ctx)
    assert [p.shape for p in preacts['conv1']] == [(2, 5, 3, 4)] * 2
    assert np.array_equal(preacts['conv1'][0], a.transpose(0, 3, 1, 2))
    assert np.array_equal(preacts['conv1'][1], a.transpose(0, 3, 1, 2) + 1)
    assert stage.run(a, Context(None, None, None, 'numpy')) is a
