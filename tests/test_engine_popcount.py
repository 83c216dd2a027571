"""Tests of gxnor_engine/popcount.py."""
from __future__ import absolute_import, division, print_function

import numpy as np
import pytest

from gxnor_engine.packing import gated_xnor_dot, pack_ternary
from gxnor_engine.popcount import (
    HAVE_BITWISE_COUNT, CarrySaveCounter, byte_counts, popcount,
    resolve_method, sum_bytes)

TABLE_MODES = [True, False] if HAVE_BITWISE_COUNT else [True]


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
        got = popcount(a, use_table=mode)
        assert got.shape == a.shape
        assert np.array_equal(got, expected), mode


def test_popcount_scalar_and_errors():
    assert int(popcount(np.uint64(2 ** 64 - 1), use_table=True)) == 64
    with pytest.raises(TypeError):
        popcount(np.zeros(3, dtype=np.float32))
    if not HAVE_BITWISE_COUNT:
        with pytest.raises(ValueError):
            popcount(np.zeros(3, dtype=np.uint64), use_table=False)


def test_swar_byte_counts_and_byte_sums():
    rng = np.random.RandomState(5)
    a = (rng.randint(0, 2 ** 62, size=500).astype(np.uint64) * np.uint64(7))
    a[:2] = [0, 2 ** 64 - 1]
    counts = byte_counts(a.copy())
    assert np.array_equal(counts.view(np.uint8), popcount(a.view(np.uint8), use_table=True))
    assert np.array_equal(sum_bytes(counts), naive_popcount(a))
    full = np.full(3, 0xFFFFFFFFFFFFFFFF, dtype=np.uint64)
    assert sum_bytes(full).tolist() == [8 * 255] * 3


def test_method_names():
    """Unknown popcount methods, and np.bitwise_count without it, are refused:
    by resolve_method and by the product that runs it."""
    x, w = pack_ternary([[1, 0, -1]]), pack_ternary([[1, 1, 1]])
    with pytest.raises(ValueError):
        gated_xnor_dot(x, w, method='fast')
    with pytest.raises(ValueError):
        resolve_method('fast')
    assert resolve_method(None) == ('bitwise_count' if HAVE_BITWISE_COUNT else 'swar')
    assert [resolve_method(m) for m in ('swar', 'table')] == ['swar', 'table']
    if not HAVE_BITWISE_COUNT:
        with pytest.raises(ValueError):
            gated_xnor_dot(x, w, method='bitwise_count')
        with pytest.raises(ValueError):
            resolve_method('bitwise_count')


@pytest.mark.skipif(not HAVE_BITWISE_COUNT, reason='np.bitwise_count needs NumPy >= 2')
def test_table_equals_bitwise_count():
    rng = np.random.RandomState(2)
    a = rng.randint(0, 2 ** 62, size=1000).astype(np.uint64) * np.uint64(5)
    assert np.array_equal(popcount(a, use_table=True), np.bitwise_count(a))


@pytest.mark.parametrize('planes', [1, 2, 3, 4, 31, 32, 33, 64, 200])
def test_carry_save_counter_equals_sum_of_popcounts(planes):
    """Per element, the total set bits of all planes added, exactly, with
    'swar' and 'table': few planes (half adders), planes of weights 1 to 16
    summed in byte lanes (up to 63 planes) and weights 32 and more, summed
    on their own (64 and 200 planes)."""
    rng = np.random.RandomState(planes)
    shape = (3, 5)
    words = [rng.randint(0, 2 ** 62, size=shape).astype(np.uint64) * np.uint64(3)
             for _ in range(planes)]
    words[0][0, 0] = 2 ** 64 - 1                   # all ones: the largest total
    expected = sum(naive_popcount(w) for w in words)
    for method in ('swar', 'table'):
        counter = CarrySaveCounter()
        for w in words:
            counter.add(w.copy())                  # add() overwrites its plane
        got = counter.counts(shape, method)
        assert got.dtype == np.int32
        assert np.array_equal(got, expected), method
