"""Tests of gxnor_engine/thresholds.py."""
from __future__ import absolute_import, division, print_function

import numpy as np
import pytest

from gxnor_engine.thresholds import Affine, apply_thresholds, fold_affine, fold_thresholds


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
        th = fold_thresholds(zmax, scale, act_N=act_N, r=r, **params)
        got = apply_thresholds(z.astype(np.int32), th)
        expected = float_activation(z, scale, act_N=act_N, r=r, **params)
        assert np.array_equal(got, expected), (act_N, r)
        assert got.dtype == np.int8


def test_thresholds_without_batchnorm():
    z = np.arange(-50, 51)[:, None]
    th = fold_thresholds(50, 0.5, np.array([0.25, -3.0]), r=1.0)
    y = 0.5 * z + np.array([0.25, -3.0])
    assert np.array_equal(apply_thresholds(z, th), np.where(y > 1, 1, np.where(y < -1, -1, 0)))


def test_per_channel_scales_fold_as_the_formula():
    """BWN's alpha: one scale per channel, a zero scale making its channel constant."""
    rng = np.random.RandomState(3)
    scale = rng.uniform(0.01, 0.3, 6)
    scale[0] = 0.0
    bias, mean = rng.normal(0, 1, 6), rng.normal(0, 1, 6)
    slope, beta = rng.uniform(-2, 2, 6), rng.normal(0, 0.5, 6)
    affine = Affine(scale, bias, mean, slope, beta)
    z = np.arange(-120, 121)[:, None]
    y = ((scale * z + bias) - mean) * slope + beta
    assert np.array_equal(affine(z), y)
    for act_N, r, expected in ((1, 0.6, np.where(y > 0.6, 1, np.where(y < -0.6, -1, 0))),
                               (0, 1.0, np.where(y >= 0, 1, -1))):
        got = apply_thresholds(z, fold_affine(affine, 120, act_N, r))
        assert np.array_equal(got, expected), act_N


def test_thresholds_of_sums_beyond_int32_are_int64_and_exact():
    """zmax >= 2**31 - 2: thresholds in int64, still the formula's first integer
    above (and last below) its cut points, found by bisection over the full range."""
    zmax = 3 * 2 ** 31
    bias = np.array([-1.5e9, 2.0e9, 0.0])
    gamma, beta = np.array([1.0, -1.0, 1.0]), np.zeros(3)
    th = fold_thresholds(zmax, 1.0, bias, np.zeros(3), gamma, np.ones(3), beta, r=0.5)
    assert th.pos.dtype == np.int64 and th.neg.dtype == np.int64
    # y = sign * (z + bias): +1 from sign*z >= ceil(0.5 - sign*bias) on, i.e. -bias + 1.
    assert th.pos.tolist() == [1500000001, 2000000001, 1]
    assert th.neg.tolist() == [1499999999, 1999999999, -1]
    z = np.array([[1500000000, -2000000000, 0], [1500000001, -2000000001, 1],
                  [1499999999, -1999999999, -1], [-2 ** 32, 2 ** 32, 2 ** 32 + 5]])
    y = (z + bias) * gamma
    assert np.array_equal(apply_thresholds(z, th), np.where(y > 0.5, 1, np.where(y < -0.5, -1, 0)))


def test_only_binary_and_ternary_activations_fold():
    with pytest.raises(ValueError):
        fold_thresholds(10, 1.0, [0.0], act_N=2)
