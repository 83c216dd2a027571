"""The engine's stages between weight layers: pooling, activations, scores.

* :class:`PoolStage`: max-pooling of NHWC sums or activations.  Before
  batch norm it pools the sums z (max commutes with the increasing map
  z -> scale*z + b, scale >= 0); after batch norm it pools sign*z (a channel
  with gamma*inv_std < 0 turns max into min); after the activation it pools
  the ternary values.
* :class:`ThresholdStage`: bias, batch norm and a sign or ternary activation
  folded into integer thresholds (:mod:`gxnor_engine.thresholds`): int32 sums
  in, int8 activations out, no float.
* :class:`FloatActivationStage`: the activations that depend on the data
  (XNOR-Net's sign(y) * mean|y| over channels, TBN's threshold
  delta * mean|y| per image) and any activation of float sums: batch norm
  evaluated in float64, then the activation.
* :class:`ScoreStage`: the last layer's float64 scores
  ((scale*z + b) - mean) * (gamma*inv_std) + beta.

Examples
--------
>>> a = np.arange(16, dtype=np.int32).reshape(1, 4, 4, 1)
>>> max_pool_nhwc(a, (2, 2), (2, 2))[0, :, :, 0].tolist()
[[5, 7], [13, 15]]
"""
from __future__ import absolute_import, division, print_function

import numpy as np

from gxnor_engine.products import ScaledBinary, to_nchw
from gxnor_engine.thresholds import apply_thresholds

__all__ = ['pool_length', 'max_pool_nhwc', 'PoolStage', 'RecordStage', 'ThresholdStage',
           'FloatActivationStage', 'ScoreStage', 'UnscaleStage', 'FLOAT_ACTIVATIONS']

FLOAT_ACTIVATIONS = ('sign', 'ternary', 'xnor', 'tbn')


def pool_length(size, pool, stride, ignore_border):
    """Output length of max-pooling (Theano's rule for ``ignore_border``).

    Examples
    --------
    >>> pool_length(5, 2, 2, True), pool_length(5, 2, 2, False)
    (2, 3)
    """
    if ignore_border:
        return (size - pool) // stride + 1
    if stride >= pool:
        return (size - 1) // stride + 1
    return max(0, (size - 1 - pool + stride) // stride) + 1


def max_pool_nhwc(a, pool, stride, ignore_border=True):
    """Max-pooling of an (n, height, width, channels) array, integer or float.

    With ``ignore_border=False`` partial windows at the border take the max
    of what they hold.
    """
    (ph, pw), (sh, sw) = pool, stride
    oh = pool_length(a.shape[1], ph, sh, ignore_border)
    ow = pool_length(a.shape[2], pw, sw, ignore_border)
    need_h, need_w = (oh - 1) * sh + ph, (ow - 1) * sw + pw
    if need_h > a.shape[1] or need_w > a.shape[2]:
        lowest = np.iinfo(a.dtype).min if a.dtype.kind in 'iu' else -np.inf
        padded = np.full((len(a), max(need_h, a.shape[1]), max(need_w, a.shape[2]),
                          a.shape[3]), lowest, dtype=a.dtype)
        padded[:, :a.shape[1], :a.shape[2]] = a
        a = padded
    out = None
    for u in range(ph):
        for v in range(pw):
            window = a[:, u:u + (oh - 1) * sh + 1:sh, v:v + (ow - 1) * sw + 1:sw]
            out = window.copy() if out is None else np.maximum(out, window, out=out)
    return out


class PoolStage(object):
    """Max-pooling of NHWC values; `sign` (per channel) pools sign*z instead of z."""

    def __init__(self, pool, stride, ignore_border, sign=None):
        self.pool, self.stride, self.ignore_border = pool, stride, ignore_border
        self.sign = sign
        self.flip = None if sign is None else np.where(sign < 0, -1, 0).astype(np.int32)

    def output_hw(self, height, width):
        return tuple(pool_length(size, p, s, self.ignore_border)
                     for size, p, s in zip((height, width), self.pool, self.stride))

    def run(self, a, ctx):
        if ctx.kernels is not None and a.dtype == np.int32:
            return ctx.kernels.max_pool(a, self.pool, self.stride, self.output_hw(*a.shape[1:3]),
                                        self.flip)
        if self.sign is not None:
            a = a * self.sign.astype(a.dtype)
        out = max_pool_nhwc(a, self.pool, self.stride, self.ignore_border)
        if self.sign is not None:
            out *= self.sign.astype(out.dtype)
        return out


class RecordStage(object):
    """Keeps a copy of a layer's sums (NCHW) when pre-activations are asked for."""

    def __init__(self, name, shape):
        self.name, self.shape = name, shape

    def run(self, a, ctx):
        if ctx.preacts is not None:
            z = to_nchw(a)
            ctx.preacts.setdefault(self.name, []).append(z.copy() if z is a else z)
        return a


class ThresholdStage(object):
    """Folded bias + batch norm + sign/ternary activation: int sums -> int8."""

    def __init__(self, thresholds):
        self.thresholds = thresholds

    def run(self, a, ctx):
        if ctx.kernels is not None and a.dtype == np.int32 and \
                self.thresholds.pos.dtype == np.int32:
            return ctx.kernels.threshold(a, *self.thresholds)
        return apply_thresholds(a, self.thresholds)


def _binary_sign(y):
    return np.where(y >= 0, 1, -1).astype(np.int8)      # sign(0) = +1, as the harness


def _ternary(y, threshold):
    return np.subtract(y > threshold, y < -threshold, dtype=np.int8)


class FloatActivationStage(object):
    """Batch norm in float64, then an activation (channels on the last axis).

    kind 'sign' (+1 where y >= 0, else -1), 'ternary' (+1 where y > r, -1
    where y < -r, else 0), 'xnor' (:class:`gxnor_engine.products.ScaledBinary`
    of sign(y) and K = mean |y| over the channels of each position), 'tbn'
    (ternary with threshold delta * mean |y| of each image).

    Examples
    --------
    >>> from gxnor_engine.thresholds import Affine
    >>> stage = FloatActivationStage(Affine(1.0, [0.0, 0.0]), 'tbn', delta=0.5)
    >>> stage.run(np.array([[4.0, -1.0]]), None).tolist()
    [[1, 0]]
    """

    def __init__(self, affine, kind, r=1.0, delta=0.4):
        if kind not in FLOAT_ACTIVATIONS:
            raise ValueError('activation kind must be one of %s, got %r'
                             % (FLOAT_ACTIVATIONS, kind))
        self.affine, self.kind, self.r, self.delta = affine, kind, r, delta

    def run(self, a, ctx):
        y = self.affine(a)
        if self.kind == 'sign':
            return _binary_sign(y)
        if self.kind == 'ternary':
            return _ternary(y, self.r)
        if self.kind == 'xnor':
            return ScaledBinary(_binary_sign(y), np.abs(y).mean(axis=-1))
        per_image = np.abs(y.reshape(len(y), -1)).mean(axis=1)
        return _ternary(y, (self.delta * per_image).reshape((-1,) + (1,) * (y.ndim - 1)))


class ScoreStage(object):
    """The last layer's float64 scores."""

    def __init__(self, affine):
        self.affine = affine

    def run(self, a, ctx):
        return self.affine(a)


class UnscaleStage(object):
    """A model that ends on an XNOR activation: its float values sign * K."""

    def run(self, a, ctx):
        return a.to_float()
