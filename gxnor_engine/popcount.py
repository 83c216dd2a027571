"""Bit counting for the gated-XNOR engine: popcount of uint64 words, three ways.

The engine's dot products reduce to counting set bits of many uint64 words.
NumPy >= 2.0 has ``np.bitwise_count``; older NumPy (1.16 on Python 2.7,
1.23 on Python 3) does not, and there the words of a dot product first go
through carry-save adders (:class:`CarrySaveCounter`: W words -> about
log2(W) weighted planes), whose bits are then counted either by
bit-parallel byte counts ('swar', 2 to 3 times faster than table look-ups on
NumPy 1.x) or by a 16-bit lookup table ('table').  All methods give the same
counts; ``method`` (``--popcount`` on the command line) picks one, so that
the tests can run every path on NumPy 2.

Examples
--------
>>> popcount(np.array([3, 255], dtype=np.uint64), use_table=True).tolist()
[2, 8]
>>> resolve_method('table')
'table'
"""
from __future__ import absolute_import, division, print_function

import numpy as np

__all__ = ['HAVE_BITWISE_COUNT', 'POPCOUNT_METHODS', 'popcount', 'resolve_method',
           'CarrySaveCounter', 'byte_counts', 'sum_bytes', 'TABLE16']

HAVE_BITWISE_COUNT = hasattr(np, 'bitwise_count')
POPCOUNT_METHODS = ('bitwise_count', 'swar', 'table')


def _bit_table():
    values = np.arange(1 << 16, dtype=np.uint32)
    table = np.zeros(1 << 16, dtype=np.uint8)
    for bit in range(16):
        table += ((values >> bit) & 1).astype(np.uint8)
    return table


TABLE16 = _bit_table()
_TABLE8 = TABLE16[:256].copy()


def resolve_method(method):
    """The popcount method to run: None -> 'bitwise_count' where NumPy has it, else 'swar'.

    Raises
    ------
    ValueError
        Unknown name, or 'bitwise_count' on NumPy < 2.

    Examples
    --------
    >>> resolve_method(None) in POPCOUNT_METHODS
    True
    """
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
    counts = TABLE16[halves].reshape(-1, per).sum(axis=1, dtype=np.uint8)
    return counts.reshape(a.shape)


class CarrySaveCounter(object):
    """Sum of the popcounts of many equal-shape uint64 planes, with few popcounts.

    A carry-save adder turns three planes of weight 2^k into one of weight 2^k
    and one of weight 2^(k+1) with five bitwise operations, so W planes end
    as about log2(W) weighted planes.  Without ``np.bitwise_count`` a popcount
    costs some 10 to 20 bitwise operations, so this halves the time.  Planes
    given to :meth:`add` are modified in place.

    Examples
    --------
    >>> counter = CarrySaveCounter()
    >>> for word in (1, 3, 7):
    ...     counter.add(np.array([[word]], dtype=np.uint64))
    >>> counter.counts((1, 1), 'swar').tolist()
    [[6]]
    """

    def __init__(self):
        self._levels = []

    def add(self, plane, level=0):
        """Add a plane of weight 2**level (modified in place)."""
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
                acc += np.multiply(TABLE16[plane.view(np.uint16)], weight, dtype=np.int32)
            return acc.reshape(rows, units, 4).sum(axis=2, dtype=np.int32)
        total = np.zeros(shape, dtype=np.int32)
        lanes, budget = None, 0
        for weight, plane in self._weighted_planes():
            counts = byte_counts(plane)
            if weight > 31:                 # 8 * weight would overflow a byte
                total += sum_bytes(counts).view(np.int64) * weight
                continue
            if budget + weight > 31:        # bytes hold sums up to 8 * 31 = 248
                total += sum_bytes(lanes).view(np.int64)
                lanes, budget = None, 0
            if weight > 1:
                counts <<= np.uint64(weight.bit_length() - 1)
            if lanes is None:
                lanes = counts
            else:
                lanes += counts
            budget += weight
        if lanes is not None:
            total += sum_bytes(lanes).view(np.int64)
        return total


_U64 = dict((k, np.uint64(v)) for k, v in dict(
    m1=0x5555555555555555, m2=0x3333333333333333, m4=0x0F0F0F0F0F0F0F0F,
    m8=0x00FF00FF00FF00FF, h16=0x0001000100010001,
    s1=1, s2=2, s4=4, s8=8, s48=48).items())


def byte_counts(x):
    """Bit counts of each byte of uint64 words (SWAR); `x` is overwritten.

    Examples
    --------
    >>> byte_counts(np.array([0x0103], dtype=np.uint64)).view(np.uint8)[:2].tolist()
    [2, 1]
    """
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


def sum_bytes(x):
    """Sum of the 8 bytes of each uint64 word (sum < 2**16); `x` is overwritten.

    Examples
    --------
    >>> int(sum_bytes(np.array([0x0102030405060708], dtype=np.uint64))[0])
    36
    """
    c = _U64
    t = x >> c['s8']
    t &= c['m8']
    x &= c['m8']
    x += t                  # four 16-bit lanes
    x *= c['h16']           # the top lane gathers the sum of all four
    x >>= c['s48']
    return x
