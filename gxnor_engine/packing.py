"""Ternary values as bit planes, and their gated-XNOR dot product.

A product w*x of ternary values is non-zero only when both are (the
*gate*); it then equals the XNOR of their sign bits.  A ternary vector is
packed into two bit planes, the non-zero mask ``m`` and the sign ``s`` (1
for negative), 64 values per ``uint64`` word; binary values are ternary ones
whose mask is all ones.  The dot product of two packed vectors is::

    gate = mx & mw
    x . w = popcount(gate) - 2 * popcount(gate & (sx ^ sw))

:func:`gated_xnor_dot` runs it on the compiled kernels of
:mod:`gxnor_engine.kernels` or in NumPy (:func:`gxnor_matmul`, bits counted
as :mod:`gxnor_engine.popcount` says); both give the same integers.

Examples
--------
>>> x = pack_ternary([[1, -1, 0, 1]])
>>> w = pack_ternary([[1, 1, 1, 1], [-1, -1, 0, 0]])
>>> gated_xnor_dot(x, w, kernel='numpy').tolist()
[[1, 0]]
"""
from __future__ import absolute_import, division, print_function

import collections

import numpy as np

from gxnor_engine import kernels as engine_kernels
from gxnor_engine.popcount import CarrySaveCounter, resolve_method

__all__ = ['PackedTernary', 'pack_ternary', 'pack_bits', 'bytes_to_words', 'word_major',
           'gxnor_matmul', 'gated_xnor_dot']

# Units x rows handled per block of the packed product (uint64 words per
# plane): measured best, the carry-save path keeps more planes alive.
_BLOCK_DIRECT = 1 << 17
_BLOCK_CARRY_SAVE = 1 << 15


class PackedTernary(collections.namedtuple('PackedTernary', 'mask sign length')):
    """Ternary values packed along their last axis.

    mask, sign : uint64 arrays (..., ceil(length / 64)); bit set where the
        value is non-zero / negative; padding bits are 0.
    length : int, number of values packed per row.
    """
    __slots__ = ()


def bytes_to_words(packed):
    """uint8 (..., nbytes) -> uint64 (..., ceil(nbytes / 8)), zero padded.

    Examples
    --------
    >>> bytes_to_words(np.ones((2, 3), dtype=np.uint8)).shape
    (2, 1)
    """
    nbytes = packed.shape[-1]
    nwords = -(-nbytes // 8)
    out = np.zeros(packed.shape[:-1] + (nwords * 8,), dtype=np.uint8)
    out[..., :nbytes] = packed
    return out.view(np.uint64)


def pack_bits(bits):
    """Booleans (..., n) -> uint64 words (..., ceil(n / 64)), first value in the top bit."""
    return bytes_to_words(np.packbits(bits, axis=-1))


def word_major(planes):
    """(rows, words) planes -> contiguous (words, rows), the NumPy product's layout."""
    return np.ascontiguousarray(planes.T)


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
    return PackedTernary(pack_bits(a != 0), pack_bits(a < 0), a.shape[-1])


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
    gates, negatives = CarrySaveCounter(), CarrySaveCounter()
    for k in range(xm.shape[0]):
        gate = wm[k][:, None] & xm[k]
        negative = ws[k][:, None] ^ xs[k]
        negative &= gate
        gates.add(gate)             # may modify gate in place: after its last use
        negatives.add(negative)
    shape = (wm.shape[1], xm.shape[1])
    return gates.counts(shape, method), negatives.counts(shape, method)


def gxnor_matmul(xm, xs, wm, ws, method=None, want_gate=False):
    """Gated-XNOR product of word-major planes: x (nwords, rows), w (nwords, units).

    Each step combines one word of all units with one word of a block of
    rows, as (units, rows) arrays: the long, contiguous inner axis over rows
    keeps NumPy's per-loop overhead low.

    Returns
    -------
    (z int32 (rows, units), total number of open gates, per-element gate
    counts int32 (rows, units) or None)

    Examples
    --------
    >>> x, w = pack_ternary([[1, -1]]), pack_ternary([[1, 1]])
    >>> gxnor_matmul(*[word_major(p) for p in (x.mask, x.sign, w.mask, w.sign)])[:2]
    (array([[0]], dtype=int32), 2)
    """
    method = resolve_method(method)
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
        Compiled or NumPy product, see :func:`gxnor_engine.kernels.select`.

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
    kernels, _ = engine_kernels.select(kernel, method)
    if kernels is not None:
        z, _, gate = kernels.matmul(xm.reshape(rows, nwords), xs.reshape(rows, nwords), wm, ws,
                                    return_gate)
    else:
        z, _, gate = gxnor_matmul(word_major(xm.reshape(rows, nwords)),
                                  word_major(xs.reshape(rows, nwords)),
                                  word_major(wm), word_major(ws), method, return_gate)
    shape = lead + (wm.shape[0],)
    if return_gate:
        return z.reshape(shape), gate.reshape(shape)
    return z.reshape(shape)
