"""Bias, batch norm and a sign or ternary activation folded into integer thresholds.

A hidden layer's float output is an increasing (or, per channel,
decreasing) function of its integer sum z::

    y = ((scale * z + bias) - mean) * (gamma * inv_std) + beta

(:class:`Affine`), so a sign activation (+1 where y >= 0) or the ternary
staircase (+1 where y > r, -1 where y < -r) is decided by comparing sign*z
with two integers per channel: hidden layers never leave integers.

Exactness: the thresholds are found by bisection on the float64 formula
itself, which is non-decreasing in sign*z (every float operation is
monotone), so they agree exactly with it on every reachable integer z.
Theano evaluates the same formula in float32 (and may fuse or contract it),
so a unit within float32 rounding (about 1e-7 relative) of a threshold can
come out differently there; the comparisons with Theano measure that risk.

Examples
--------
>>> t = fold_thresholds(10, 1.0, [0.5], r=1.0)
>>> apply_thresholds(np.arange(-3, 4)[:, None], t).ravel().tolist()
[-1, -1, 0, 0, 1, 1, 1]
"""
from __future__ import absolute_import, division, print_function

import collections

import numpy as np

__all__ = ['Affine', 'Thresholds', 'fold_thresholds', 'fold_affine', 'apply_thresholds']


class Affine(object):
    """A layer's float output as a function of its sum z, per channel (last axis).

    y = ((scale * z + bias) - mean) * slope + beta, in float64, slope =
    gamma * inv_std; without batch norm mean = beta = 0 and slope = 1, which
    leaves scale * z + bias exactly.  `scale` is one number (H, H/255) or one
    per channel (BWN's alpha, alpha/255).

    Examples
    --------
    >>> Affine([2.0, 0.5], [1.0, 0.0])(np.array([[3, 4]])).tolist()
    [[7.0, 2.0]]
    """

    def __init__(self, scale, bias, mean=None, slope=None, beta=None):
        bias = np.asarray(bias, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.bias = bias
        self.mean = np.zeros_like(bias) if mean is None else np.asarray(mean, np.float64)
        self.slope = np.ones_like(bias) if slope is None else np.asarray(slope, np.float64)
        self.beta = np.zeros_like(bias) if beta is None else np.asarray(beta, np.float64)

    def __call__(self, z):
        z = np.asarray(z, dtype=np.float64)
        return ((self.scale * z + self.bias) - self.mean) * self.slope + self.beta


class Thresholds(collections.namedtuple('Thresholds', 'sign pos neg')):
    """Per-channel integer thresholds: out = +1 where sign*z >= pos, -1 where
    sign*z <= neg, else 0 (sign in {-1, 1}; int arrays)."""
    __slots__ = ()


def _first_true(predicate, lo, hi):
    """Per channel, the smallest t in [lo, hi) with predicate(t), or hi: bisection.

    `predicate` must be monotone in t (False then True) for every channel.
    """
    lo, hi = lo.copy(), hi.copy()
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) // 2
        ok = predicate(mid)
        hi = np.where(active & ok, mid, hi)
        lo = np.where(active & ~ok, mid + 1, lo)


def fold_thresholds(zmax, scale, bias, mean=None, gamma=None, inv_std=None, beta=None,
                    act_N=1, r=1.0):
    """Fold bias, batch norm and a ternary/binary activation into integer thresholds.

    The float path is y = ((scale*z + bias) - mean) * (gamma*inv_std) + beta,
    then +1 if y > r, -1 if y < -r, else 0 (act_N = 1), or +1 if y >= 0
    else -1 (act_N = 0).  The thresholds reproduce the float64 evaluation of
    that formula exactly for every integer |z| <= zmax (bisection on the
    formula itself, which is monotone in sign*z).  gamma*inv_std < 0 flips the
    channel (sign = -1); == 0 makes its output constant.

    Parameters
    ----------
    zmax : int
        Largest |z| the layer can produce.
    scale : float > 0, or array (channels,) of floats >= 0
        Value of one unit of z (H, or H/255 for the first layer).
    bias : array (channels,)
        Zeros for a layer without bias.
    mean, gamma, inv_std, beta : arrays (channels,) or None
        None (all of them) for no batch norm.
    act_N : {0, 1}
    r : float >= 0

    Returns
    -------
    Thresholds

    Examples
    --------
    >>> t = fold_thresholds(10, 1.0, [0.0], [0.0], [2.0], [1.0], [0.0], r=1.0)
    >>> apply_thresholds(np.arange(-2, 3)[:, None], t).ravel().tolist()
    [-1, -1, 0, 1, 1]
    """
    if act_N not in (0, 1):
        raise ValueError('only act_N 0 (binary) and 1 (ternary) fold into thresholds')
    slope = None
    if gamma is not None:
        inv_std = 1.0 if inv_std is None else np.asarray(inv_std, np.float64)
        slope = np.asarray(gamma, np.float64) * inv_std
    return fold_affine(Affine(scale, bias, mean, slope, beta), zmax, act_N, r)


def fold_affine(affine, zmax, act_N, r):
    """:func:`fold_thresholds` of an :class:`Affine` (non-negative scale).

    Examples
    --------
    >>> fold_affine(Affine(1.0, [0.0]), 5, act_N=0, r=1.0).pos.tolist()
    [0]
    """
    channels = affine.bias.shape[0]
    sign = np.where(affine.slope < 0, -1, 1).astype(np.int64)
    if act_N == 1:
        def positive(y):
            return y > r

        def negative(y):
            return y < -r
    else:
        def positive(y):
            return y >= 0

        def negative(y):
            return y < 0
    lo = np.full(channels, -zmax, dtype=np.int64)
    hi = np.full(channels, zmax + 1, dtype=np.int64)
    pos = _first_true(lambda t: positive(affine(sign * t)), lo, hi)
    neg = _first_true(lambda t: ~negative(affine(sign * t)), lo, hi) - 1
    dtype = np.int32 if zmax < 2 ** 31 - 2 else np.int64
    return Thresholds(sign.astype(dtype), pos.astype(dtype), neg.astype(dtype))


def apply_thresholds(z, thresholds):
    """Ternary int8 output of integer sums z (channels on the last axis).

    Examples
    --------
    >>> t = Thresholds(np.array([1, -1]), np.array([2, 2]), np.array([-2, -2]))
    >>> apply_thresholds(np.array([[3, 3], [0, 0]]), t).tolist()
    [[1, -1], [0, 0]]
    """
    z = np.asarray(z)
    sign, pos, neg = thresholds
    if np.any(sign < 0):
        z = z * sign.astype(z.dtype)
    return np.subtract(z >= pos, z <= neg, dtype=np.int8)
