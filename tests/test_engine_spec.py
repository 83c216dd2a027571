"""Tests of gxnor_engine/spec.py."""
from __future__ import absolute_import, division, print_function

import numpy as np
import pytest

from engine_models import assert_refused, set_item
from gxnor_engine.spec import (
    ModelError, conv_pad, pair, param, positive_int, weight_grid, weights_to_int)


# What spec.py checks of a model file, and the message naming it.
@pytest.mark.parametrize('change,message', [
    (lambda m, a: a['conv2.W'].__setitem__((1, 2, 0, 1), 0.5), 'off the grid'),
    (lambda m, a: a.pop('fc3.W'), "'fc3.W' missing"),
    (lambda m, a: a.pop('fc3_bn.mean'), "'fc3_bn.mean' missing"),
    (lambda m, a: set_item(a, 'conv1.W', a['conv1.W'][:, :, :4]), 'shape'),
    (lambda m, a: set_item(a, 'fc4.b', np.zeros(11)), 'shape'),
    (lambda m, a: set_item(m['layers'][5], 'N', 2), 'N=2'),
    (lambda m, a: set_item(m['layers'][1], 'discrete', False), 'full-precision'),
    (lambda m, a: set_item(a, 'conv1.b', np.full(6, np.nan)), 'non-finite'),
])
def test_bad_models_raise_model_error(tmpdir, change, message):
    assert_refused(tmpdir, change, message)


@pytest.mark.parametrize('N,H', [(1, 1.0), (1, 0.5), (1, 2.0 / 3), (0, 0.25), (0, 3.0)])
def test_discrete_weights_come_back_as_their_grid(N, H):
    """Weights saved as float32 H * grid give the grid exactly and the scale H;
    1e-6 relative off the grid is float32 rounding, 1e-3 is an error naming the
    weight's index."""
    rng = np.random.RandomState(int(10 * H))
    levels = [-1, 1] if N == 0 else [-1, 0, 1]
    grid = rng.choice(levels, size=(5, 3, 2, 2)).astype(np.int8)
    W = (H * grid).astype(np.float32).astype(np.float64)
    spec = dict(kind='conv', discrete=True, N=N, H=H)
    got = weight_grid(spec, W, 0, 'c1')
    assert got.values.dtype == np.int8 and np.array_equal(got.values, grid)
    assert got.scale == H and got.N == N
    assert np.array_equal(weights_to_int(W * (1 + 1e-6), H, N, 'c1'), grid)
    W[2, 1, 0, 1] = H * (grid[2, 1, 0, 1] + 1e-3)
    with pytest.raises(ModelError) as info:
        weight_grid(spec, W, 0, 'c1')
    assert 'c1: weight W[2, 1, 0, 1]' in str(info.value)


def test_zero_is_off_the_binary_grid_and_h_must_be_positive():
    W = np.array([[0.5, 0.0], [-0.5, 0.5]])
    with pytest.raises(ModelError):
        weights_to_int(W, 0.5, 0, 'fc')
    assert weights_to_int(W, 0.5, 1, 'fc').tolist() == [[1, 0], [-1, 1]]
    for H in (0.0, -0.5, float('inf'), 'one'):
        with pytest.raises(ModelError):
            weight_grid(dict(kind='dense', discrete=True, N=1, H=H), W, 1, 'fc')


@pytest.mark.parametrize('unit_axis,shape', [(0, (4, 3, 2, 2)), (1, (12, 5))])
def test_bwn_and_binaryconnect_grids_are_signs_and_their_scales(unit_axis, shape):
    """sign(W) with sign(0) = +1 for both; BWN's scale is alpha = mean |W| of
    each output unit (conv: axis 0, dense: axis 1), within 1e-12 relative."""
    W = np.random.RandomState(unit_axis).uniform(-1, 1, shape)
    W[(0,) * len(shape)] = 0.0
    signs = np.where(W >= 0, 1, -1)
    bwn = weight_grid(dict(kind='quantized_conv', quantizer='bwn'), W, unit_axis, 'q')
    units = shape[unit_axis]
    alpha = [np.mean(np.abs(np.take(W, u, axis=unit_axis))) for u in range(units)]
    assert bwn.N == 0 and np.array_equal(bwn.values, signs) and bwn.scale.shape == (units,)
    np.testing.assert_allclose(bwn.scale, alpha, rtol=1e-12, atol=0)
    bc = weight_grid(dict(kind='quantized_dense', quantizer='binaryconnect'), W, unit_axis, 'q')
    assert bc.N == 0 and np.array_equal(bc.values, signs) and bc.scale == 1.0


@pytest.mark.parametrize('spec,message', [
    (dict(quantizer='binaryconnect', stochastic=True), 'stochastic BinaryConnect'),
    (dict(quantizer='twn'), 'TWN'), (dict(quantizer='ttq'), 'TTQ'),
    (dict(quantizer='dorefa'), 'DoReFa'), (dict(quantizer='syq'), 'SYQ'),
    (dict(quantizer='fancy'), "unknown quantizer 'fancy'"),
])
def test_quantizers_the_engine_cannot_run_are_refused(spec, message):
    spec = dict(spec, kind='quantized_dense')
    with pytest.raises(ModelError) as info:
        weight_grid(spec, np.ones((3, 2)), 1, 'layer d1')
    assert str(info.value).startswith('layer d1: ') and message in str(info.value)


def test_pairs_pads_and_positive_integers():
    assert pair(3, 's') == (3, 3) and pair([2, 1], 's') == (2, 1) and pair((4.0, 1), 's') == (4, 1)
    for bad in ([1, 2, 3], 1.5, 'two', [1, None]):
        with pytest.raises(ModelError):
            pair(bad, 'stride')
    assert conv_pad('valid', (3, 5), 'c') == (0, 0) and conv_pad('full', (3, 5), 'c') == (2, 4)
    assert conv_pad('same', (3, 5), 'c') == (1, 2) and conv_pad(b'same', (1, 3), 'c') == (0, 1)
    assert conv_pad([1, 0], (3, 3), 'c') == (1, 0)
    for bad in ('same', 'half'):
        with pytest.raises(ModelError):
            conv_pad(bad, (2, 3), 'c')       # 'same' needs odd filters
    assert positive_int(4.0, 'units') == 4 and positive_int(np.int64(7), 'units') == 7
    for bad in (0, -3, 2.5, True, '3', None):
        with pytest.raises(ModelError):
            positive_int(bad, 'units')


def test_param_reads_finite_float64_arrays():
    arrays = {'d.W': np.ones((3, 2), np.float32), 'd.n': np.array(['a', 'b']),
              'd.i': np.arange(3)}
    spec = dict(params=dict(W='d.W', n='d.n', i='d.i', missing='d.x', b=None))
    got = param(arrays, spec, 'W', 'd', (3, 2))
    assert got.dtype == np.float64 and np.array_equal(got, np.ones((3, 2)))
    assert param(arrays, spec, 'i', 'd').dtype == np.float64
    assert param(arrays, spec, 'b', 'd', required=False) is None
    for key, shape, message in (('b', None, "no parameter 'b'"), ('missing', None, 'missing'),
                                ('n', None, 'not numeric'), ('W', (2, 3), 'expected (2, 3)')):
        with pytest.raises(ModelError) as info:
            param(arrays, spec, key, 'd', shape)
        assert message in str(info.value)
