#!/usr/bin/env python
"""Gated XNOR inference: run a trained GXNOR-Net with bit-packed integer arithmetic.

With ternary weights and activations, a product w*x is non-zero only when
both factors are (the *gate*); it then equals the XNOR of their sign bits.
A ternary vector is packed into two bit planes, the non-zero mask ``m`` and
the sign ``s`` (1 for negative), 64 values per ``uint64`` word, and the dot
product of two packed vectors is::

    gate = mx & mw
    x . w = popcount(gate) - 2 * popcount(gate & (sx ^ sw))

This module reads the ``gxnor-model`` files of the Theano harness
(``results/<run>.npz``, and the published ``weights/*.npz``) and needs NumPy
only (1.16 on Python 2.7 and 1.23 / 2.x on Python 3); it never imports Theano.

How a model runs
----------------
* First layer: pixels p (uint8) are x = 2p/255 - 1 = (2p - 255)/255, so the
  layer's float output is (H/255) * z + b with z = sum(w_int * (2p - 255)) an
  exact integer (w_int = w/H in {-1, 0, 1}).  The input is not ternary, so it
  is not packed: z is a plain matrix product of integers, done by BLAS on
  integer-valued float32 operands.  That is exact because every partial sum
  is an integer of magnitude <= 255 * fan-in < 2**24 (checked at load time;
  float64, exact below 2**53, otherwise).
* Hidden layers: packed inputs (im2col patches packed once per layer for
  convolutions; padding has mask 0) and packed weights give the integer sum
  z; the layer's float output is H * z + b.
* Bias, batch norm and the ternary (or binary) activation fold into two
  integer thresholds per channel, so hidden layers never leave integers:
  out = +1 where sign*z >= pos, -1 where sign*z <= neg, 0 elsewhere, with
  sign = -1 for channels whose gamma*inv_std is negative.
* Max-pooling runs on integers.  Before batch norm it pools z (max commutes
  with the increasing map z -> H*z + b); after batch norm it pools sign*z
  (a channel with gamma*inv_std < 0 turns max into min); after the
  activation it pools the ternary values.
* Last layer (no activation): the scores are the float64 formula
  ((scale*z + b) - mean) * (gamma*inv_std) + beta; prediction is the argmax.

Exactness of the thresholds
---------------------------
The thresholds are found by bisection on the float64 formula above, which is
non-decreasing in sign*z (every float operation is monotone), so they agree
exactly with that formula on every reachable integer z.  Theano evaluates
the same formula in float32 (and may fuse or contract it), so a unit whose
pre-activation lies within float32 rounding (about 1e-7 relative) of +-r can
come out differently there.  The risk is tiny; comparing the predictions of
both (``bench/bench_gated_xnor.py``, the Theano test) measures it.

Bit counting: ``np.bitwise_count`` where NumPy has it (>= 2.0).  Without it
the words of a dot product first go through carry-save adders (W words ->
about log2(W) weighted planes), whose bits are then counted either by
bit-parallel byte counts ('swar', the default: 2 to 3 times faster than
fancy-indexing a table on NumPy 1.16 / 1.23) or by a 16-bit lookup table
('table').  All three give identical results and can be chosen with the
``method`` argument (``--popcount`` on the command line), so that tests run
every path on NumPy 2.  :func:`popcount` itself counts with the table or
``np.bitwise_count``.

Compiled kernels: where a C compiler works, :mod:`gxnor_kernels` builds
``gxnor_kernels.c`` once (cached per user) and the engine runs its packed
product, its packing of activations into im2col rows and its first layer
there (OpenMP threads, ``OMP_NUM_THREADS``); the NumPy code above stays the
reference and the fallback.  ``kernel`` ('auto', 'c', 'numpy'; ``--kernel``)
picks the path: 'auto' (default, or ``$GXNOR_KERNELS``) runs C when it
builds and warns why not otherwise; a popcount ``method`` belongs to the
NumPy path and selects it under 'auto'.  Both paths give identical results.

Examples
--------
>>> model = load_model('weights/mnist.npz')              # doctest: +SKIP
>>> model.predict(X_test[:5])                            # doctest: +SKIP
array([7, 2, 1, 0, 4])

Command line (accuracy on the test set, per-layer share of products the
gate skips, i.e. the paper's resting probability, non-zero weights and
inputs, packed versus float32 size, images/s)::

    python gated_xnor.py weights/mnist.npz [--data-dir DIR] [--batch-size 1000] [--limit N]
                         [--kernel {auto,c,numpy}] [--popcount {bitwise_count,swar,table}]
"""
from __future__ import absolute_import, division, print_function

import argparse
import collections
import json
import os
import sys
import tempfile
import time

import numpy as np
from numpy.lib.stride_tricks import as_strided

import gxnor_kernels

__all__ = ['ModelError', 'PackedTernary', 'Thresholds', 'GXNORModel', 'HAVE_BITWISE_COUNT',
           'POPCOUNT_METHODS', 'popcount', 'pack_ternary', 'gated_xnor_dot',
           'gated_xnor_conv2d', 'max_pool_nhwc', 'fold_thresholds', 'apply_thresholds', 'load_model',
           'save_model', 'main']

HAVE_BITWISE_COUNT = hasattr(np, 'bitwise_count')
POPCOUNT_METHODS = ('bitwise_count', 'swar', 'table')
MODEL_FORMAT = 'gxnor-model'
MODEL_VERSION = 1
INPUT_SCALING = 'x*2/255-1'

_STRING_TYPES = (type(u''), type(b''))
# Most images run through the stages at once (see GXNORModel.forward).
_PASS_IMAGES = 256
# Units x rows handled per block of the packed product (uint64 words per
# plane): measured best, the carry-save path keeps more planes alive.
_BLOCK_DIRECT = 1 << 17
_BLOCK_CARRY_SAVE = 1 << 15


class ModelError(ValueError):
    """A model file the engine cannot run (missing, malformed or unsupported)."""


# ----------------------------------------------------------------------------- popcount

def _bit_table():
    values = np.arange(1 << 16, dtype=np.uint32)
    table = np.zeros(1 << 16, dtype=np.uint8)
    for bit in range(16):
        table += ((values >> bit) & 1).astype(np.uint8)
    return table


_TABLE16 = _bit_table()
_TABLE8 = _TABLE16[:256].copy()


def _resolve_method(method):
    """None -> 'bitwise_count' where NumPy has it, else 'swar'."""
    if method is None:
        return 'bitwise_count' if HAVE_BITWISE_COUNT else 'swar'
    if method not in POPCOUNT_METHODS:
        raise ValueError('popcount method must be one of %s, got %r'
                         % (POPCOUNT_METHODS, method))
    if method == 'bitwise_count' and not HAVE_BITWISE_COUNT:
        raise ValueError('np.bitwise_count needs NumPy >= 2.0 (this is %s)' % np.__version__)
    return method


def _want_table(use_table):
    if use_table is None:
        return not HAVE_BITWISE_COUNT
    if not use_table and not HAVE_BITWISE_COUNT:
        raise ValueError('np.bitwise_count needs NumPy >= 2.0 (this is %s); '
                         'use use_table=None or True' % np.__version__)
    return bool(use_table)


def popcount(words, use_table=None):
    """Number of set bits of every element of an integer array.

    Parameters
    ----------
    words : array_like of integers (8, 16, 32 or 64 bits; signed values
        count their two's complement bits)
    use_table : bool or None
        None: ``np.bitwise_count`` where NumPy has it, else the table.
        True: a 16-bit lookup table (8-bit for 1-byte words).  False:
        ``np.bitwise_count`` (ValueError on NumPy < 2).

    Returns
    -------
    ndarray of uint8, shaped like `words`

    Examples
    --------
    >>> popcount(np.array([0, 1, 255, 2**64 - 1], dtype=np.uint64), use_table=True).tolist()
    [0, 1, 8, 64]
    """
    a = np.asarray(words)
    if a.dtype.kind not in 'ui' or a.dtype.itemsize not in (1, 2, 4, 8):
        raise TypeError('popcount needs an integer array, got %s' % a.dtype)
    a = a.view(np.dtype('u%d' % a.dtype.itemsize))
    if not _want_table(use_table):
        return np.bitwise_count(a)
    if a.dtype.itemsize == 1:
        return _TABLE8[a]
    per = a.dtype.itemsize // 2
    halves = np.ascontiguousarray(a).reshape(-1).view(np.uint16)
    counts = _TABLE16[halves].reshape(-1, per).sum(axis=1, dtype=np.uint8)
    return counts.reshape(a.shape)


class _CarrySaveCounter(object):
    """Sum of the popcounts of many equal-shape uint64 planes, with few popcounts.

    A carry-save adder turns three planes of weight 2^k into one of weight 2^k
    and one of weight 2^(k+1) with five bitwise operations, so W planes end
    as about log2(W) weighted planes.  Without ``np.bitwise_count`` a popcount
    costs some 10 to 20 bitwise operations, so this halves the time.  Planes
    given to :meth:`add` are modified in place.
    """

    def __init__(self):
        self._levels = []

    def add(self, plane, level=0):
        while True:
            if level == len(self._levels):
                self._levels.append([])
            pending = self._levels[level]
            pending.append(plane)
            if len(pending) < 3:
                return
            a, b, c = pending
            total = a ^ b
            a &= b
            a |= total & c          # carry: at least two of a, b, c
            total ^= c
            self._levels[level] = [total]
            plane, level = a, level + 1

    def _weighted_planes(self):
        level = 0
        while level < len(self._levels):
            pending = self._levels[level]
            if len(pending) == 2:   # half adder: one popcount less
                a, b = pending
                carry = a & b
                a ^= b
                self._levels[level] = [a]
                self.add(carry, level + 1)
            for plane in self._levels[level]:
                yield 1 << level, plane
            level += 1

    def counts(self, shape, method):
        """Per-element totals, int32 array of `shape` (rows, units).

        method 'table': a 16-bit table per plane; 'swar': bit-parallel byte
        counts, weighted and summed in byte lanes, one horizontal sum at the
        end (2 to 3 times faster than the table on NumPy 1.x).
        """
        rows, units = shape
        if method == 'table':
            acc = np.zeros((rows, units * 4), dtype=np.int32)
            for weight, plane in self._weighted_planes():
                acc += np.multiply(_TABLE16[plane.view(np.uint16)], weight, dtype=np.int32)
            return acc.reshape(rows, units, 4).sum(axis=2, dtype=np.int32)
        total = np.zeros(shape, dtype=np.int32)
        lanes, budget = None, 0
        for weight, plane in self._weighted_planes():
            counts = _byte_counts(plane)
            if weight > 31:                 # 8 * weight would overflow a byte
                total += _sum_bytes(counts).view(np.int64) * weight
                continue
            if budget + weight > 31:        # bytes hold sums up to 8 * 31 = 248
                total += _sum_bytes(lanes).view(np.int64)
                lanes, budget = None, 0
            if weight > 1:
                counts <<= np.uint64(weight.bit_length() - 1)
            if lanes is None:
                lanes = counts
            else:
                lanes += counts
            budget += weight
        if lanes is not None:
            total += _sum_bytes(lanes).view(np.int64)
        return total


_U64 = dict((k, np.uint64(v)) for k, v in dict(
    m1=0x5555555555555555, m2=0x3333333333333333, m4=0x0F0F0F0F0F0F0F0F,
    m8=0x00FF00FF00FF00FF, h16=0x0001000100010001,
    s1=1, s2=2, s4=4, s8=8, s48=48).items())


def _byte_counts(x):
    """Bit counts of each byte of uint64 words (SWAR); `x` is overwritten."""
    c = _U64
    t = x >> c['s1']
    t &= c['m1']
    x -= t
    t = x >> c['s2']
    t &= c['m2']
    x &= c['m2']
    x += t
    t = x >> c['s4']
    x += t
    x &= c['m4']
    return x


def _sum_bytes(x):
    """Sum of the 8 bytes of each uint64 word (sum < 2**16); `x` is overwritten."""
    c = _U64
    t = x >> c['s8']
    t &= c['m8']
    x &= c['m8']
    x += t                  # four 16-bit lanes
    x *= c['h16']           # the top lane gathers the sum of all four
    x >>= c['s48']
    return x


# ----------------------------------------------------------------------------- packing

class PackedTernary(collections.namedtuple('PackedTernary', 'mask sign length')):
    """Ternary values packed along their last axis.

    mask, sign : uint64 arrays (..., ceil(length / 64)); bit set where the
        value is non-zero / negative; padding bits are 0.
    length : int, number of values packed per row.
    """
    __slots__ = ()


def _bytes_to_words(packed):
    """uint8 (..., nbytes) -> uint64 (..., ceil(nbytes / 8)), zero padded."""
    nbytes = packed.shape[-1]
    nwords = -(-nbytes // 8)
    out = np.zeros(packed.shape[:-1] + (nwords * 8,), dtype=np.uint8)
    out[..., :nbytes] = packed
    return out.view(np.uint64)


def _pack_bits(bits):
    return _bytes_to_words(np.packbits(bits, axis=-1))


def pack_ternary(a, axis=-1):
    """Pack a ternary array (values in {-1, 0, 1}) into mask and sign bit planes.

    Parameters
    ----------
    a : array_like, at least 1-D
    axis : int
        The reduction axis, packed 64 values per word; it becomes the last
        axis of the planes.

    Returns
    -------
    PackedTernary

    Examples
    --------
    >>> p = pack_ternary([[1, 0, -1], [0, 0, 1]])
    >>> p.mask.shape, p.length
    ((2, 1), 3)
    """
    a = np.asarray(a)
    if a.ndim == 0:
        raise ValueError('pack_ternary needs at least one axis')
    a = np.moveaxis(a, axis, -1)
    if a.size and not np.all((a == 0) | (a == 1) | (a == -1)):
        raise ValueError('pack_ternary: values must be in {-1, 0, 1}')
    return PackedTernary(_pack_bits(a != 0), _pack_bits(a < 0), a.shape[-1])


def _count_direct(xm, xs, wm, ws):
    """Open gates and negative products per (unit, row), with np.bitwise_count."""
    nwords, rows = xm.shape
    shape = (wm.shape[1], rows)
    acc_dtype = np.uint16 if nwords * 64 <= 0xFFFF else np.int64
    gates = np.zeros(shape, dtype=acc_dtype)
    negatives = np.zeros(shape, dtype=acc_dtype)
    gate = np.empty(shape, dtype=np.uint64)
    negative = np.empty(shape, dtype=np.uint64)
    for k in range(nwords):
        np.bitwise_and(wm[k][:, None], xm[k], out=gate)
        np.bitwise_xor(ws[k][:, None], xs[k], out=negative)
        negative &= gate
        gates += np.bitwise_count(gate)
        negatives += np.bitwise_count(negative)
    return gates, negatives


def _count_carry_save(xm, xs, wm, ws, method):
    """As :func:`_count_direct`, through carry-save adders ('swar' or 'table')."""
    gates, negatives = _CarrySaveCounter(), _CarrySaveCounter()
    for k in range(xm.shape[0]):
        gate = wm[k][:, None] & xm[k]
        negative = ws[k][:, None] ^ xs[k]
        negative &= gate
        gates.add(gate)             # may modify gate in place: after its last use
        negatives.add(negative)
    shape = (wm.shape[1], xm.shape[1])
    return gates.counts(shape, method), negatives.counts(shape, method)


def _gxnor_matmul(xm, xs, wm, ws, method=None, want_gate=False):
    """Gated-XNOR product of word-major planes: x (nwords, rows), w (nwords, units).

    Each step combines one word of all units with one word of a block of
    rows, as (units, rows) arrays: the long, contiguous inner axis over rows
    keeps NumPy's per-loop overhead low.  Returns (z int32 (rows, units),
    total number of open gates, per-element gate counts or None).
    """
    method = _resolve_method(method)
    rows, units = xm.shape[1], wm.shape[1]
    z = np.empty((rows, units), dtype=np.int32)
    gate = np.empty((rows, units), dtype=np.int32) if want_gate else None
    total = 0
    block = _BLOCK_DIRECT if method == 'bitwise_count' else _BLOCK_CARRY_SAVE
    step = max(1, block // max(units, 1))
    for r0 in range(0, rows, step):
        r1 = min(rows, r0 + step)
        if method == 'bitwise_count':
            gates, negatives = _count_direct(xm[:, r0:r1], xs[:, r0:r1], wm, ws)
        else:
            gates, negatives = _count_carry_save(xm[:, r0:r1], xs[:, r0:r1], wm, ws, method)
        sums = gates.astype(np.int32)
        sums -= negatives
        sums -= negatives
        z[r0:r1] = sums.T
        total += int(gates.sum(dtype=np.int64))
        if gate is not None:
            gate[r0:r1] = gates.T
    return z, total, gate


def _word_major(planes):
    return np.ascontiguousarray(planes.T)


def gated_xnor_dot(x, w, method=None, return_gate=False, kernel=None):
    """Integer dot products of packed ternary rows: x (..., K) times w (units, K).

    Parameters
    ----------
    x : PackedTernary, planes (..., nwords)
    w : PackedTernary, planes (units, nwords)
    method : {None, 'bitwise_count', 'swar', 'table'}
        How bits are counted: ``np.bitwise_count`` (NumPy >= 2; the
        default there), else carry-save adders finished by bit-parallel
        byte counts ('swar', the default on NumPy 1.x) or by table look-ups.
        All give identical results.
    return_gate : bool
        Also return the number of open gates (both factors non-zero) of
        every dot product.
    kernel : {None, 'auto', 'c', 'numpy'}
        Compiled or NumPy product, see :func:`gxnor_kernels.select`.

    Returns
    -------
    z : int32 array (..., units), z[..., u] = sum_k x[..., k] * w[u, k]
    gate : int32 array (..., units), only with `return_gate`

    Examples
    --------
    >>> x = pack_ternary([[1, -1, 0, 1]])
    >>> w = pack_ternary([[1, 1, 1, 1], [-1, -1, 0, 0]])
    >>> gated_xnor_dot(x, w).tolist()
    [[1, 0]]
    """
    if x.length != w.length:
        raise ValueError('gated_xnor_dot: lengths differ (%d, %d)' % (x.length, w.length))
    wm, ws = np.asarray(w.mask), np.asarray(w.sign)
    if wm.ndim != 2:
        raise ValueError('gated_xnor_dot: w must hold 2-D planes (units, words)')
    xm, xs = np.asarray(x.mask), np.asarray(x.sign)
    lead, nwords = xm.shape[:-1], xm.shape[-1]
    if nwords != wm.shape[1]:
        raise ValueError('gated_xnor_dot: word counts differ (%d, %d)' % (nwords, wm.shape[1]))
    rows = int(np.prod(lead))       # reshape(-1, 0) fails: K = 0 has no words
    kernels, _ = gxnor_kernels.select(kernel, method)
    if kernels is not None:
        z, _, gate = kernels.matmul(xm.reshape(rows, nwords), xs.reshape(rows, nwords), wm, ws,
                                    return_gate)
    else:
        z, _, gate = _gxnor_matmul(_word_major(xm.reshape(rows, nwords)),
                                   _word_major(xs.reshape(rows, nwords)),
                                   _word_major(wm), _word_major(ws), method, return_gate)
    shape = lead + (wm.shape[0],)
    if return_gate:
        return z.reshape(shape), gate.reshape(shape)
    return z.reshape(shape)


# ----------------------------------------------------------------------------- thresholds

class _Affine(object):
    """A layer's float output as a function of its integer sum z, per channel (last axis).

    y = ((scale * z + bias) - mean) * slope + beta, in float64, slope =
    gamma * inv_std; without batch norm mean = beta = 0 and slope = 1, which
    leaves scale * z + bias exactly.
    """

    def __init__(self, scale, bias, mean=None, slope=None, beta=None):
        bias = np.asarray(bias, dtype=np.float64)
        self.scale = float(scale)
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
    scale : float > 0
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
    affine = _Affine(scale, bias, mean, slope, beta)
    return _fold(affine, zmax, act_N, r)


def _fold(affine, zmax, act_N, r):
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


# ----------------------------------------------------------------------------- model stages

def _im2col(a, kernel, stride, pad):
    """Patches of an NHWC array: (n*oh*ow, kh*kw*C), zero padded; and (oh, ow)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad
    n, height, width, channels = a.shape
    if ph or pw:
        padded = np.zeros((n, height + 2 * ph, width + 2 * pw, channels), dtype=a.dtype)
        padded[:, ph:ph + height, pw:pw + width] = a
        a = padded
    a = np.ascontiguousarray(a)
    oh = (a.shape[1] - kh) // sh + 1
    ow = (a.shape[2] - kw) // sw + 1
    s = a.strides
    view = as_strided(a, (n, oh, ow, kh, kw, channels),
                      (s[0], s[1] * sh, s[2] * sw, s[1], s[2], s[3]))
    return view.reshape(n * oh * ow, kh * kw * channels), (oh, ow)


def _to_nchw(a):
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2)) if a.ndim == 4 else a


def _add_stat(ctx, name, **counts):
    entry = ctx.stats.setdefault(name, dict(products=0, gates=0, inputs=0, input_nonzero=0))
    for key, value in counts.items():
        entry[key] += int(value)


class _WeightStage(object):
    """A conv or dense layer: integer sums z, NHWC (n, oh, ow, units) or (n, units)."""

    def __init__(self, info, w_int, geometry):
        self.info, self.geometry = info, geometry
        self.name, self.kind = info['name'], info['kind']
        self.fan_in, self.units = info['fan_in'], info['units']
        self.weight_gates = np.count_nonzero(w_int, axis=1)  # per reduction index

    def _stats(self, ctx, x, rows, gates, nonzero=None):
        if ctx.stats is None:
            return
        _add_stat(ctx, self.name, products=rows * self.units * self.fan_in, gates=gates,
                  inputs=x.size, input_nonzero=np.count_nonzero(x) if nonzero is None else nonzero)


def _taps_inside(size, ksize, stride, pad):
    """Per window offset, the number of output positions where it falls inside [0, size)."""
    at = np.arange((size + 2 * pad - ksize) // stride + 1)[:, None] * stride + np.arange(ksize)
    return ((at >= pad) & (at < size + pad)).sum(axis=0)


class _FirstStage(_WeightStage):
    """First layer: uint8 pixels, integer product on q = 2p - 255 (see module doc)."""

    def __init__(self, info, w_int, geometry):
        # w_int: (K, units), reduction order (kh, kw, C) or flattened (h, w, c).
        _WeightStage.__init__(self, info, w_int, geometry)
        bound = 255 * int(np.count_nonzero(w_int, axis=0).max()) if w_int.size else 0
        self.dtype = np.float32 if bound < 2 ** 24 else np.float64
        if bound >= 2 ** 53:
            raise ModelError('layer %s: fan-in too large for exact sums' % self.name)
        self.weights = w_int.astype(self.dtype)
        # The compiled kernel takes (units, C, kh, kw) weights; a dense layer
        # is a convolution whose window is the whole image.
        channels, height, width = info['in_shape']
        kernel, stride, pad = geometry or ((height, width), (1, 1), (0, 0))
        self.c_weights = np.ascontiguousarray(
            w_int.T.reshape((self.units,) + tuple(kernel) + (channels,)).transpose(0, 3, 1, 2))
        self.c_geometry = (stride, pad)
        self.c_ok = 255 * self.fan_in < 2 ** 31
        # Open gates per image: 2p - 255 is odd, never 0, so an input tap is
        # non-zero exactly where it falls inside the image (not in the padding).
        inside = [_taps_inside(*args) for args in zip((height, width), kernel, stride, pad)]
        taps = np.repeat(np.outer(*inside).ravel(), channels)      # (kh, kw, C) order
        self.gates_per_image = int(np.dot(taps, self.weight_gates))

    def run(self, X, ctx):
        if ctx.kernels is not None and self.c_ok:
            z = ctx.kernels.conv_pixels(X, self.c_weights, *self.c_geometry)
            n = len(X)
            self._stats(ctx, X, z.size // self.units, n * self.gates_per_image, X.size)
            return z if self.kind == 'conv' else z.reshape(n, self.units)
        q = np.ascontiguousarray(X.transpose(0, 2, 3, 1), dtype=self.dtype)
        q *= 2
        q -= 255
        n = len(q)
        if self.kind == 'conv':
            patches, (oh, ow) = _im2col(q, *self.geometry)
        else:
            patches = q.reshape(n, -1)
        z = patches.dot(self.weights).astype(np.int32)
        if ctx.stats is not None:
            # Open gates = sum over k of (non-zero inputs at k) * (non-zero weights at k).
            gates = np.dot(np.count_nonzero(patches, axis=0), self.weight_gates)
            self._stats(ctx, q, len(patches), gates)
        return z.reshape(n, oh, ow, self.units) if self.kind == 'conv' else z


class _PackedStage(_WeightStage):
    """Hidden layer on ternary input: packed gated-XNOR product."""

    def __init__(self, info, w_int, geometry):
        # w_int: conv (units, kh, kw, C); dense (units, K) in the input's NHWC flat order.
        _WeightStage.__init__(self, info, w_int.reshape(len(w_int), -1).T, geometry)
        # Bytes per (u, v) first, as for the input patches below, then words per unit;
        # row-major planes (units, nwords) for the compiled kernel, word-major for NumPy.
        self.rows_m, self.rows_s = (
            _bytes_to_words(np.packbits(plane, axis=-1).reshape(len(w_int), -1))
            for plane in (w_int != 0, w_int < 0))
        self.wm, self.ws = _word_major(self.rows_m), _word_major(self.rows_s)

    def _run_compiled(self, t, kernels):
        n = len(t)
        if self.kind == 'dense':
            geometry, t = ((1, 1), (1, 1), (0, 0)), t.reshape(n, 1, 1, -1)
        else:
            geometry = self.geometry
        xm, xs, out_hw = kernels.pack_patches(t, *geometry, nwords=self.rows_m.shape[1])
        z, gates, _ = kernels.matmul(xm, xs, self.rows_m, self.rows_s)
        return z, gates, len(xm), (out_hw if self.kind == 'conv' else None)

    def _pack_input(self, t):
        n = len(t)
        if self.kind == 'dense':
            flat = t.reshape(n, -1)
            return [_word_major(_pack_bits(plane)) for plane in (flat != 0, flat < 0)], n, None
        planes = []
        for plane in (t != 0, t < 0):
            # Pack channels per pixel first, then gather the patches of bytes: the
            # weights are packed per (u, v) the same way, so the bits line up.
            patches, out_hw = _im2col(np.packbits(plane, axis=-1), *self.geometry)
            planes.append(_word_major(_bytes_to_words(patches)))
        return planes, len(patches), out_hw

    def run(self, t, ctx):
        if ctx.kernels is not None:
            z, gates, rows, out_hw = self._run_compiled(t, ctx.kernels)
        else:
            (xm, xs), rows, out_hw = self._pack_input(t)
            z, gates, _ = _gxnor_matmul(xm, xs, self.wm, self.ws, ctx.method)
        self._stats(ctx, t, rows, gates)
        if out_hw is None:
            return z
        return z.reshape((len(t),) + out_hw + (self.units,))


def gated_xnor_conv2d(x, w, stride=1, pad=0, method=None, kernel=None):
    """Cross-correlation of ternary images with ternary filters, on packed bits.

    out[n, f, i, j] = sum_{c,u,v} x[n, c, i*s + u - pad, j*s + v - pad] * w[f, c, u, v],
    zero padding; computed as the engine's hidden conv layers are (channels
    packed per pixel, patches of packed bytes, gated-XNOR product).

    Parameters
    ----------
    x : array (n, C, H, W), values in {-1, 0, 1}
    w : array (F, C, kh, kw), values in {-1, 0, 1}
    stride, pad : int or pair
    method, kernel : as in :func:`gated_xnor_dot`

    Returns
    -------
    int32 array (n, F, oh, ow)

    Examples
    --------
    >>> x = np.ones((1, 1, 3, 3), dtype=np.int8)
    >>> gated_xnor_conv2d(x, -np.ones((1, 1, 2, 2)), pad=0)[0, 0].tolist()
    [[-4, -4], [-4, -4]]
    """
    x, w = np.asarray(x), np.asarray(w)
    if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[1]:
        raise ValueError('gated_xnor_conv2d: need x (n, C, H, W) and w (F, C, kh, kw)')
    for a in (x, w):
        if a.size and not np.all((a == 0) | (a == 1) | (a == -1)):
            raise ValueError('gated_xnor_conv2d: values must be in {-1, 0, 1}')
    geometry = (w.shape[2:], _pair(stride, 'stride'), _pair(pad, 'pad'))
    w_hwc = np.ascontiguousarray(w.transpose(0, 2, 3, 1), dtype=np.int8)
    info = dict(name='conv', kind='conv', fan_in=w_hwc[0].size, units=len(w))
    stage = _PackedStage(info, w_hwc, geometry)
    t = np.ascontiguousarray(x.transpose(0, 2, 3, 1), dtype=np.int8)
    return _to_nchw(stage.run(t, _Context(method, None, None, kernel)))


def _pool_length(size, pool, stride, ignore_border):
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
    oh = _pool_length(a.shape[1], ph, sh, ignore_border)
    ow = _pool_length(a.shape[2], pw, sw, ignore_border)
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


class _PoolStage(object):
    """Max-pooling of NHWC integers; `sign` (per channel) pools sign*z instead of z."""

    def __init__(self, pool, stride, ignore_border, sign=None):
        self.pool, self.stride, self.ignore_border = pool, stride, ignore_border
        self.sign = sign
        self.flip = None if sign is None else np.where(sign < 0, -1, 0).astype(np.int32)

    def output_hw(self, height, width):
        return tuple(_pool_length(size, p, s, self.ignore_border)
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


class _RecordStage(object):
    def __init__(self, name, shape):
        self.name, self.shape = name, shape

    def run(self, a, ctx):
        if ctx.preacts is not None:
            z = _to_nchw(a)
            ctx.preacts.setdefault(self.name, []).append(z.copy() if z is a else z)
        return a


class _ThresholdStage(object):
    def __init__(self, thresholds):
        self.thresholds = thresholds

    def run(self, a, ctx):
        if ctx.kernels is not None and a.dtype == np.int32 and \
                self.thresholds.pos.dtype == np.int32:
            return ctx.kernels.threshold(a, *self.thresholds)
        return apply_thresholds(a, self.thresholds)


class _ScoreStage(object):
    def __init__(self, affine):
        self.affine = affine

    def run(self, a, ctx):
        return self.affine(a)


class _Context(object):
    def __init__(self, method, stats, preacts, kernel=None):
        self.kernels, self.kernel_text = gxnor_kernels.select(kernel, method)
        self.method, self.stats, self.preacts = _resolve_method(method), stats, preacts


# ----------------------------------------------------------------------------- model file

def _pair(value, what):
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ModelError('%s: expected two values, got %r' % (what, value))
        a, b = value
    else:
        a = b = value
    try:
        if int(a) != a or int(b) != b:
            raise ValueError
        return int(a), int(b)
    except (TypeError, ValueError):
        raise ModelError('%s: expected integers, got %r' % (what, value))


def _conv_pad(value, kernel, where):
    if isinstance(value, _STRING_TYPES):
        value = value.decode('ascii') if isinstance(value, bytes) else value
        if value == 'valid':
            return 0, 0
        if value == 'full':
            return kernel[0] - 1, kernel[1] - 1
        if value == 'same' and kernel[0] % 2 and kernel[1] % 2:
            return kernel[0] // 2, kernel[1] // 2
        raise ModelError("%s: unsupported pad %r" % (where, value))
    return _pair(value, where + ' pad')


def _param(arrays, spec, key, where, shape=None, required=True):
    name = (spec.get('params') or {}).get(key)
    if name is None:
        if required:
            raise ModelError('%s: no parameter %r in the layer description' % (where, key))
        return None
    if name not in arrays:
        raise ModelError('%s: array %r missing from the file' % (where, name))
    value = np.asarray(arrays[name])
    if value.dtype.kind not in 'fiu':
        raise ModelError('%s: array %r is not numeric (%s)' % (where, name, value.dtype))
    if shape is not None and value.shape != tuple(shape):
        raise ModelError('%s: array %r has shape %s, expected %s'
                         % (where, name, value.shape, tuple(shape)))
    if not np.all(np.isfinite(value)):
        raise ModelError('%s: array %r holds non-finite values' % (where, name))
    return value.astype(np.float64)


def _weights_to_int(W, H, N, where):
    """Weights on Z_N (N = 0 or 1) -> int8 in {-1, 0, 1} (w / H)."""
    scaled = W / H
    w_int = np.rint(scaled)
    allowed = (-1, 1) if N == 0 else (-1, 0, 1)
    bad = ~np.isin(w_int, allowed) | (np.abs(scaled - w_int) > 1e-5)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        grid = '{-H, H}' if N == 0 else '{-H, 0, H}'
        raise ModelError('%s: weight W%s = %r is off the grid %s with H = %r'
                         % (where, list(index), float(W[index]), grid, H))
    return w_int.astype(np.int8)


def _check_weight_spec(spec, where):
    if not spec.get('discrete', False):
        raise ModelError('%s: full-precision layer; the engine needs discrete weights' % where)
    N, H = spec.get('N'), spec.get('H')
    if N not in (0, 1):
        raise ModelError('%s: weight levels N=%r unsupported (0 binary or 1 ternary only)'
                         % (where, N))
    try:
        H = float(H)
    except (TypeError, ValueError):
        raise ModelError('%s: bad H %r' % (where, H))
    if not H > 0 or not np.isfinite(H):
        raise ModelError('%s: H must be > 0, got %r' % (where, H))
    return H, N


def _positive_int(value, what):
    try:
        ok = not isinstance(value, bool) and int(value) == value and value > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ModelError('%s: expected a positive integer, got %r' % (what, value))
    return int(value)


class _Builder(object):
    """Walks the layer list once, checking it and compiling the stages."""

    def __init__(self, meta, arrays):
        self.arrays = arrays
        self.shape = tuple(meta['input_shape'])     # logical (C, H, W) or (D,)
        self.domain = 'input'                       # 'input', 'int' or 'ternary'
        self.block = None                           # the open conv/dense block
        self.record = None
        self.stages, self.layers = [], []

    def _flush_record(self):
        if self.record is not None:
            self.stages.append(_RecordStage(self.record, self.shape))
            self.record = None

    def build(self, specs):
        if not isinstance(specs, list) or not specs:
            raise ModelError('no layers in the model description')
        for index, spec in enumerate(specs):
            if not isinstance(spec, dict):
                raise ModelError('layer %d: not a dict' % index)
            kind = spec.get('kind')
            where = 'layer %s (%s)' % (spec.get('name') or index, kind)
            handler = getattr(self, '_layer_' + str(kind), None)
            if handler is None:
                raise ModelError('%s: unsupported layer kind' % where)
            handler(spec, where)
        self._flush_record()
        if self.domain == 'input':
            raise ModelError('the model has no conv or dense layer')
        if self.domain == 'int':
            self.stages.append(_ScoreStage(self._affine()))
        return self.stages, self.layers, self.shape

    def _layer_input(self, spec, where):
        if self.domain != 'input' or self.stages:
            raise ModelError('%s: input layer after other layers' % where)
        if list(spec.get('shape', self.shape)) != list(self.shape):
            raise ModelError('%s: shape %r differs from input_shape %r'
                             % (where, spec.get('shape'), list(self.shape)))

    def _layer_conv(self, spec, where):
        self._weight_layer(spec, where, conv=True)

    def _layer_dense(self, spec, where):
        self._weight_layer(spec, where, conv=False)

    def _weight_layer(self, spec, where, conv):
        self._flush_record()
        if self.domain == 'int':
            raise ModelError('%s: needs ternary/binary input; add an activation before it' % where)
        H, N = _check_weight_spec(spec, where)
        name = spec.get('name')
        if not name:
            raise ModelError('%s: layer has no name' % where)
        first = self.domain == 'input'
        if conv:
            w_int, geometry, out_shape = self._conv_weights(spec, where, H, N)
        else:
            w_int, geometry, out_shape = self._dense_weights(spec, where, H, N)
        units = out_shape[0]
        bias = _param(self.arrays, spec, 'b', where, (units,), required=False)
        fan_in = w_int[0].size
        zmax = (255 if first else 1) * fan_in
        info = dict(name=name, kind='conv' if conv else 'dense', in_shape=self.shape,
                    out_shape=out_shape, fan_in=fan_in, units=units, N=N, H=H,
                    weights=w_int.size, nonzero_weights=int(np.count_nonzero(w_int)),
                    params=[p for p in (spec.get('params') or {}).values() if p])
        if first:
            matrix = w_int.reshape(units, -1).T   # (K, units) in NHWC reduction order
            stage = _FirstStage(info, np.ascontiguousarray(matrix), geometry)
        else:
            stage = _PackedStage(info, w_int, geometry)
        self.stages.append(stage)
        self.layers.append(info)
        self.shape, self.domain, self.record = out_shape, 'int', name
        self.block = dict(info=info, scale=H / 255.0 if first else H, zmax=zmax,
                          bias=np.zeros(units) if bias is None else bias, bn=None)

    def _conv_weights(self, spec, where, H, N):
        if len(self.shape) != 3:
            raise ModelError('%s: convolution needs (C, H, W) input, got %r' % (where, self.shape))
        channels, height, width = self.shape
        filters = _positive_int(spec.get('num_filters'), where + ' num_filters')
        kernel = _pair(spec.get('filter_size'), where + ' filter_size')
        stride = _pair(spec.get('stride', 1), where + ' stride')
        pad = _conv_pad(spec.get('pad', 0), kernel, where)
        if min(kernel) < 1 or min(stride) < 1 or min(pad) < 0:
            raise ModelError('%s: bad filter_size/stride/pad' % where)
        W = _param(self.arrays, spec, 'W', where, (filters, channels) + kernel)
        if spec.get('flip_filters', False):
            W = W[:, :, ::-1, ::-1]       # true convolution: Theano flips the kernel
        oh = (height + 2 * pad[0] - kernel[0]) // stride[0] + 1
        ow = (width + 2 * pad[1] - kernel[1]) // stride[1] + 1
        if oh < 1 or ow < 1:
            raise ModelError('%s: output would be empty' % where)
        w_int = _weights_to_int(W, H, N, where).transpose(0, 2, 3, 1)  # (F, kh, kw, C)
        return np.ascontiguousarray(w_int), (kernel, stride, pad), (filters, oh, ow)

    def _dense_weights(self, spec, where, H, N):
        units = _positive_int(spec.get('num_units'), where + ' num_units')
        inputs = int(np.prod(self.shape))
        W = _param(self.arrays, spec, 'W', where, (inputs, units))
        w_int = _weights_to_int(W, H, N, where).T          # (units, K), K in (C, H, W) order
        if len(self.shape) == 3:
            # The engine keeps activations NHWC: reorder the inputs once, here.
            w_int = w_int.reshape((units,) + self.shape).transpose(0, 2, 3, 1)
        return np.ascontiguousarray(w_int.reshape(units, -1)), None, (units,)

    def _layer_maxpool(self, spec, where):
        if self.domain == 'input':
            raise ModelError('%s: max-pooling of the input image is not supported' % where)
        if len(self.shape) != 3:
            raise ModelError('%s: max-pooling needs (C, H, W) input' % where)
        pool = _pair(spec.get('pool_size'), where + ' pool_size')
        stride = spec.get('stride')
        stride = pool if stride is None else _pair(stride, where + ' stride')
        if _pair(spec.get('pad', 0), where + ' pad') != (0, 0):
            raise ModelError('%s: padded max-pooling is not supported' % where)
        if min(pool) < 1 or min(stride) < 1:
            raise ModelError('%s: bad pool_size/stride' % where)
        sign = None
        if self.domain == 'int' and self.block['bn'] is not None:
            slope = self.block['bn'][1]
            if np.any(slope < 0):
                sign = np.where(slope < 0, -1, 1).astype(np.int32)
        stage = _PoolStage(pool, stride, bool(spec.get('ignore_border', True)), sign)
        oh, ow = stage.output_hw(*self.shape[1:])
        if oh < 1 or ow < 1:
            raise ModelError('%s: output would be empty' % where)
        self.stages.append(stage)
        self.shape = (self.shape[0], oh, ow)

    def _layer_batchnorm(self, spec, where):
        self._flush_record()
        if self.domain != 'int':
            raise ModelError('%s: batch norm must follow a conv/dense layer '
                             '(before the activation)' % where)
        if self.block['bn'] is not None:
            raise ModelError('%s: two batch norms in one block' % where)
        expected = [0, 2, 3] if len(self.shape) == 3 else [0]
        if list(spec.get('axes', expected)) != expected:
            raise ModelError('%s: axes %r unsupported (per-channel only, %r)'
                             % (where, spec.get('axes'), expected))
        shape = (self.shape[0],)
        mean, gamma, inv_std, beta = (_param(self.arrays, spec, key, where, shape)
                                      for key in ('mean', 'gamma', 'inv_std', 'beta'))
        self.block['bn'] = (mean, gamma * inv_std, beta)
        self.block['info']['params'] += [p for p in spec['params'].values() if p]

    def _affine(self):
        block = self.block
        mean, slope, beta = block['bn'] if block['bn'] is not None else (None, None, None)
        return _Affine(block['scale'], block['bias'], mean, slope, beta)

    def _layer_activation(self, spec, where):
        self._flush_record()
        if self.domain != 'int':
            raise ModelError('%s: activation must follow a conv/dense layer' % where)
        act_N = spec.get('act_N', 1)
        if act_N not in (0, 1):
            raise ModelError('%s: act_N=%r unsupported (0 binary or 1 ternary only)'
                             % (where, act_N))
        try:
            r = float(spec.get('r', 1.0))
        except (TypeError, ValueError):
            raise ModelError('%s: bad r %r' % (where, spec.get('r')))
        if act_N == 1 and not (r >= 0 and np.isfinite(r)):
            raise ModelError('%s: r must be >= 0, got %r' % (where, r))
        thresholds = _fold(self._affine(), self.block['zmax'], act_N, r)
        self.stages.append(_ThresholdStage(thresholds))
        self.block['info']['threshold_channels'] = len(thresholds.sign)
        self.domain, self.block = 'ternary', None


def _parse_meta(raw, path):
    raw = np.asarray(raw)
    if raw.ndim != 0 or raw.dtype.kind not in 'US':
        raise ModelError('%s: __meta__ is not a JSON string' % path)
    text = raw.item()
    if isinstance(text, bytes):
        text = text.decode('utf-8')
    try:
        meta = json.loads(text)
    except ValueError as exc:
        raise ModelError('%s: __meta__ is not valid JSON (%s)' % (path, exc))
    if not isinstance(meta, dict) or meta.get('format') != MODEL_FORMAT:
        raise ModelError('%s: not a %s file' % (path, MODEL_FORMAT))
    if meta.get('version') != MODEL_VERSION:
        raise ModelError('%s: %s version %r unsupported (need %d)'
                         % (path, MODEL_FORMAT, meta.get('version'), MODEL_VERSION))
    if meta.get('input_scaling', INPUT_SCALING) != INPUT_SCALING:
        raise ModelError('%s: input_scaling %r unsupported (need %r)'
                         % (path, meta.get('input_scaling'), INPUT_SCALING))
    shape = meta.get('input_shape')
    if not isinstance(shape, list) or len(shape) != 3:
        raise ModelError('%s: input_shape must be [C, H, W], got %r' % (path, shape))
    meta['input_shape'] = [_positive_int(s, path + ': input_shape') for s in shape]
    return meta


class GXNORModel(object):
    """A compiled gxnor-model: integer stages ready to run.

    Attributes
    ----------
    meta : dict
        The file's JSON description.
    input_shape : tuple (C, H, W)
    layers : list of dict
        Per conv/dense layer: name, kind, in_shape, out_shape, fan_in,
        units, weights, nonzero_weights, N, H.

    Examples
    --------
    >>> model = load_model('weights/mnist.npz')      # doctest: +SKIP
    >>> scores, z = model.forward(X[:10], return_preacts=True)  # doctest: +SKIP
    """

    def __init__(self, meta, arrays, source='<model>'):
        self.meta, self.source = meta, source
        self.input_shape = tuple(meta['input_shape'])
        self._stages, self.layers, self.output_shape = _Builder(meta, arrays).build(
            meta.get('layers'))
        self._param_sizes = dict((name, int(np.asarray(a).size)) for name, a in arrays.items())

    def forward(self, X, return_preacts=False, batch_size=_PASS_IMAGES, method=None,
                stats=None, kernel=None):
        """Scores of uint8 images X (n, C, H, W).

        Parameters
        ----------
        X : uint8 array (n,) + input_shape
        return_preacts : bool
            Also return a dict: layer name -> integer sums z (NCHW or
            (n, units)), after the max-pooling that directly follows the
            layer.  The layer's float output is scale*z + b, scale = H (H/255
            for the first layer, whose input is 2p - 255).
        batch_size : int
            Images per pass, at most 256: larger passes only spill the
            caches (and fault in fresh pages) and run slower.
        method : popcount method, as in :func:`gated_xnor_dot`
        stats : dict or None
            If a dict, counts are added to it per layer name: products,
            gates (open ones), inputs, input_nonzero.
        kernel : {None, 'auto', 'c', 'numpy'}
            Compiled kernels or NumPy, see :func:`gxnor_kernels.select`.

        Returns
        -------
        scores : float64 array (n, classes)
        preacts : dict, with `return_preacts`
        """
        X = self._check_input(X)
        batch_size = max(1, min(int(batch_size), _PASS_IMAGES))
        preacts = {} if return_preacts else None
        ctx = _Context(method, stats, preacts, kernel)
        outputs = [np.zeros((0,) + tuple(self.output_shape))]
        for start in range(0, len(X), batch_size):
            a = X[start:start + batch_size]
            for stage in self._stages:
                a = stage.run(a, ctx)
            outputs.append(np.asarray(_to_nchw(a), dtype=np.float64))
        scores = np.concatenate(outputs)
        if not return_preacts:
            return scores
        for stage in self._stages:
            if isinstance(stage, _RecordStage):
                preacts.setdefault(stage.name, []).insert(
                    0, np.zeros((0,) + tuple(stage.shape), dtype=np.int32))
        return scores, dict((k, np.concatenate(v)) for k, v in preacts.items())

    def predict(self, X, batch_size=_PASS_IMAGES, method=None, kernel=None):
        """Predicted classes (argmax of the scores) of uint8 images X."""
        scores = self.forward(X, batch_size=batch_size, method=method, kernel=kernel)
        return scores.reshape(len(scores), -1).argmax(axis=1)

    def _check_input(self, X):
        X = np.asarray(X)
        if X.ndim != 4 or X.shape[1:] != self.input_shape:
            raise ValueError('expected images (n,) + %r, got shape %r'
                             % (self.input_shape, X.shape))
        if X.dtype != np.uint8:
            if X.dtype.kind not in 'iu' or (X.size and (X.min() < 0 or X.max() > 255)):
                raise ValueError('expected uint8 pixels, got %s' % X.dtype)
            X = X.astype(np.uint8)
        return X

    def model_bytes(self):
        """Storage of the model: packed bit planes + thresholds vs float32.

        Returns
        -------
        dict with packed, float32 (whole model) and packed_weights,
        float32_weights (weights only).  Packed: per unit one sign plane
        (binary) or mask and sign planes (ternary) of ceil(fan_in/64) uint64
        words; per hidden channel two int32 thresholds and a sign byte; the
        last layer keeps its float32 bias and batch-norm parameters.
        """
        out = dict(packed=0, float32=0, packed_weights=0, float32_weights=0)
        for info in self.layers:
            planes = 1 if info['N'] == 0 else 2
            weights = planes * info['units'] * -(-info['fan_in'] // 64) * 8
            out['packed_weights'] += weights
            out['float32_weights'] += 4 * info['weights']
            params = sum(self._param_sizes.get(p, 0) for p in info['params'])
            out['float32'] += 4 * params
            if 'threshold_channels' in info:
                out['packed'] += weights + 9 * info['threshold_channels']
            else:
                out['packed'] += weights + 4 * (params - info['weights'])
        return out


def load_model(path):
    """Load and compile a ``gxnor-model`` .npz file.

    Raises
    ------
    ModelError
        Missing file, not a gxnor-model, weights off the grid, missing
        arrays, wrong shapes or unsupported layers.

    Examples
    --------
    >>> model = load_model('weights/mnist.npz')        # doctest: +SKIP
    """
    if os.path.isdir(path):
        raise ModelError('%s: is a folder, not a model file' % path)
    if not os.path.isfile(path):
        raise ModelError('%s: no such file' % path)
    with open(path, 'rb') as handle:
        if handle.read(4) != b'PK\x03\x04':  # every .npz is a zip archive
            raise ModelError('%s: not a model file (not an .npz archive)' % path)
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:  # zipfile and format errors alike
        raise ModelError('%s: cannot read (%s)' % (path, exc))
    if not hasattr(data, 'files'):
        raise ModelError('%s: not an .npz archive' % path)
    try:
        if '__meta__' not in data.files:
            raise ModelError('%s: not a %s file (no __meta__)' % (path, MODEL_FORMAT))
        meta = _parse_meta(data['__meta__'], path)
        arrays = dict((k, data[k]) for k in data.files if k != '__meta__')
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError('%s: cannot read (%s)' % (path, exc))
    finally:
        data.close()
    try:
        return GXNORModel(meta, arrays, source=path)
    except ModelError as exc:
        raise ModelError('%s: %s' % (path, exc))


def save_model(path, layers, arrays, meta_extra=None):
    """Write a ``gxnor-model`` file atomically (temporary file, then rename).

    Parameters
    ----------
    path : str
    layers : list of dict
        Layer descriptions in forward order (see the module doc).
    arrays : dict name -> array
        Saved as float32 under their names ('<layer>.<param>').
    meta_extra : dict, optional
        More JSON fields; defaults: dataset 'mnist', input_shape [1, 28, 28],
        input_scaling 'x*2/255-1'.

    Examples
    --------
    >>> layers = [dict(kind='dense', name='fc', num_units=2, discrete=True, H=1.0, N=1,
    ...                params=dict(W='fc.W', b=None))]
    >>> save_model('/tmp/tiny.npz', layers, {'fc.W': np.ones((784, 2))})  # doctest: +SKIP
    """
    meta = dict(dataset='mnist', input_shape=[1, 28, 28], input_scaling=INPUT_SCALING)
    meta.update(meta_extra or {})
    meta.update(format=MODEL_FORMAT, version=MODEL_VERSION, layers=list(layers))
    out = dict((str(k), np.asarray(v, dtype=np.float32)) for k, v in arrays.items())
    if '__meta__' in out:
        raise ValueError('__meta__ is reserved')
    out['__meta__'] = np.array(u'' + json.dumps(meta, sort_keys=True))
    folder = os.path.dirname(os.path.abspath(path))
    handle, tmp = tempfile.mkstemp(prefix='.tmp-', suffix='.npz', dir=folder)
    try:
        with os.fdopen(handle, 'wb') as stream:
            np.savez(stream, **out)
        os.rename(tmp, path)        # atomic on POSIX
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


# ----------------------------------------------------------------------------- command line

class _CommandError(Exception):
    pass


def _load_test_set(dataset, data_dir):
    try:
        import datasets  # the project's loader; only the command needs it
    except ImportError as exc:
        raise _CommandError('cannot import datasets.py (%s)' % exc)
    try:
        return datasets.load_test(dataset, data_dir)  # the test files only
    except datasets.DataError as exc:
        raise _CommandError(str(exc))


def _report(model, stats, correct, total, seconds, method, kernels, kernel_text):
    popcount_name = dict(bitwise_count='np.bitwise_count', swar='carry-save + SWAR',
                         table='carry-save + lookup table')[_resolve_method(method)]
    print('model       %s (%s, %d conv/dense layers)'
          % (model.source, model.meta.get('dataset'), len(model.layers)))
    print('kernel      %s' % (kernel_text if kernels is not None else
                              '%s, popcount: %s' % (kernel_text, popcount_name)))
    print('accuracy    %.2f%% (%d/%d test images), error %.2f%%'
          % (100.0 * correct / total, correct, total, 100.0 - 100.0 * correct / total))
    print('throughput  %.1f images/s (%.2f s)' % (total / seconds, seconds))
    print('')
    print('%-10s %-5s %7s %6s %11s %10s %21s'
          % ('layer', 'kind', 'fan-in', 'units', 'nz weights', 'nz inputs',
             'gate skips (resting)'))
    products = gates = 0
    for info in model.layers:
        s = stats[info['name']]
        products, gates = products + s['products'], gates + s['gates']
        print('%-10s %-5s %7d %6d %11.4f %10.4f %21.4f'
              % (info['name'], info['kind'], info['fan_in'], info['units'],
                 info['nonzero_weights'] / info['weights'],
                 s['input_nonzero'] / max(s['inputs'], 1),
                 1.0 - s['gates'] / max(s['products'], 1)))
    print('%-10s %64.4f' % ('all', 1.0 - gates / max(products, 1)))
    size = model.model_bytes()
    print('')
    print('model size  packed %d B vs float32 %d B: %.1fx smaller'
          % (size['packed'], size['float32'], size['float32'] / size['packed']))
    print('  weights   packed %d B vs float32 %d B: %.1fx smaller'
          % (size['packed_weights'], size['float32_weights'],
             size['float32_weights'] / size['packed_weights']))


def main(argv=None):
    """Command line: accuracy, gate statistics, size and speed on the test set."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('model', help='a gxnor-model .npz (results/<run>.npz, weights/...)')
    parser.add_argument('--data-dir', default=None, help='folder of the data set files')
    parser.add_argument('--batch-size', type=int, default=1000,
                        help='images per forward call (passes hold at most %d)' % _PASS_IMAGES)
    parser.add_argument('--limit', type=int, default=None, help='first N test images only')
    parser.add_argument('--popcount', choices=POPCOUNT_METHODS, default=None,
                        help='bit counting method of the NumPy kernel (default: bitwise_count '
                             'where NumPy >= 2 has it, else swar); selects it under --kernel auto')
    parser.add_argument('--kernel', choices=gxnor_kernels.KERNEL_CHOICES, default=None,
                        help='compiled C kernels or NumPy (default auto, or $GXNOR_KERNELS: '
                             'C when it builds)')
    args = parser.parse_args(argv)
    if args.batch_size < 1 or (args.limit is not None and args.limit < 1):
        parser.error('--batch-size and --limit must be >= 1')
    method = args.popcount
    try:
        model = load_model(args.model)
        kernels, kernel_text = gxnor_kernels.select(args.kernel, method)  # builds, untimed
        X, y = _load_test_set(model.meta.get('dataset', 'mnist'), args.data_dir)
        if args.limit is not None:
            X, y = X[:args.limit], y[:args.limit]
        stats = {}
        start = time.time()
        scores = model.forward(X, batch_size=args.batch_size, method=method, stats=stats,
                               kernel=args.kernel)
        seconds = time.time() - start
        predictions = scores.reshape(len(scores), -1).argmax(axis=1)
    except (ModelError, _CommandError, ValueError, gxnor_kernels.KernelError) as exc:
        print('error: %s' % exc, file=sys.stderr)
        return 2
    correct = int(np.sum(predictions == np.asarray(y)))
    _report(model, stats, correct, len(y), seconds, method, kernels, kernel_text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
