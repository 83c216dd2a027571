"""Tests of gxnor_engine/packing.py."""
from __future__ import absolute_import, division, print_function

import numpy as np
import pytest

from engine_models import METHODS, ternary
from gxnor_engine.packing import (
    bytes_to_words, gated_xnor_dot, gxnor_matmul, pack_ternary, word_major)
from gxnor_engine.popcount import popcount


def test_pack_ternary_layout():
    p = pack_ternary(np.array([[1, 0, -1] + [0] * 62]), axis=1)
    assert p.length == 65 and p.mask.shape == (1, 2) and p.mask.dtype == np.uint64
    assert int(popcount(p.mask).sum()) == 2 and int(popcount(p.sign).sum()) == 1
    q = pack_ternary(np.array([[1, 0, -1] + [0] * 62]).T, axis=0)
    assert np.array_equal(q.mask, p.mask) and np.array_equal(q.sign, p.sign)
    with pytest.raises(ValueError):
        pack_ternary([2, 0, 1])


@pytest.mark.parametrize('length', [1, 8, 64, 65, 200])
def test_pack_ternary_unpacks_to_its_values(length):
    """Value k of a row is bit 7 - k % 8 of byte k // 8 of the row's words (as
    np.packbits orders bits); the mask bit is set where the value is non-zero,
    the sign bit where it is negative, and the padding bits are 0."""
    a = ternary(np.random.RandomState(length), (3, 2, length), 0.6)
    p = pack_ternary(a)
    nwords = -(-length // 64)
    assert p.mask.shape == p.sign.shape == (3, 2, nwords) and p.length == length
    for plane, expected in ((p.mask, a != 0), (p.sign, a < 0)):
        as_bytes = plane.view(np.uint8)                        # (3, 2, 8 * nwords)
        bits = [[[(int(as_bytes[i, j, k // 8]) >> (7 - k % 8)) & 1
                  for k in range(64 * nwords)] for j in range(2)] for i in range(3)]
        bits = np.array(bits, dtype=bool)
        assert np.array_equal(bits[..., :length], expected)
        assert not bits[..., length:].any()


def test_bytes_to_words_pads_with_zero_bytes():
    packed = np.arange(1, 31, dtype=np.uint8).reshape(3, 10)
    words = bytes_to_words(packed)
    assert words.dtype == np.uint64 and words.shape == (3, 2)
    as_bytes = words.view(np.uint8)
    assert np.array_equal(as_bytes[:, :10], packed) and not as_bytes[:, 10:].any()


@pytest.mark.parametrize('length', [0, 1, 7, 63, 64, 65, 127, 128, 200, 513, 2000])
@pytest.mark.parametrize('seed', [0, 1])
def test_gated_xnor_dot_equals_integer_matmul(length, seed):
    rng = np.random.RandomState(seed * 1000 + length)
    for density in (0.0, 0.1, 0.5, 2.0 / 3, 1.0):
        x = ternary(rng, (9, length), density)
        w = ternary(rng, (5, length), rng.uniform())
        x[0] = 0                                  # an empty row
        w[1] = 0
        if length:
            x[1] = 1
            w[2] = -1
        expected = x.astype(np.int64).dot(w.T.astype(np.int64))
        gates = (x != 0).astype(np.int64).dot((w != 0).T.astype(np.int64))
        px, pw = pack_ternary(x), pack_ternary(w)
        for mode in METHODS:
            z, gate = gated_xnor_dot(px, pw, method=mode, return_gate=True)
            assert np.array_equal(z, expected), (density, mode)
            assert np.array_equal(gate, gates), (density, mode)


def test_gated_xnor_dot_many_words_and_blocks():
    # More than 1023 words switches the direct path to 64-bit counters; many
    # rows span several blocks; many words deepen the carry-save tree.
    rng = np.random.RandomState(3)
    for rows, units, length in ((3, 2, 70000), (5000, 7, 130), (2, 3000, 64 * 37)):
        x, w = ternary(rng, (rows, length)), ternary(rng, (units, length))
        expected = x.astype(np.int64).dot(w.T.astype(np.int64))
        for mode in METHODS:
            got = gated_xnor_dot(pack_ternary(x), pack_ternary(w), method=mode)
            assert np.array_equal(got, expected), (rows, units, length, mode)


def test_gated_xnor_dot_leading_axes_and_errors():
    rng = np.random.RandomState(4)
    x, w = ternary(rng, (2, 3, 70)), ternary(rng, (4, 70))
    got = gated_xnor_dot(pack_ternary(x), pack_ternary(w))
    assert np.array_equal(got, np.einsum('abk,uk->abu', x.astype(int), w.astype(int)))
    with pytest.raises(ValueError):
        gated_xnor_dot(pack_ternary(x), pack_ternary(w[:, :69]))
    with pytest.raises(ValueError):                 # w's planes must be (units, words)
        gated_xnor_dot(pack_ternary(x), pack_ternary(w[None]))


def test_gxnor_matmul_total_gates_and_without_gate_counts():
    """The product of word-major planes: int32 sums, the total number of open
    gates (both factors non-zero) and, only when asked, the per-element counts."""
    rng = np.random.RandomState(6)
    x, w = ternary(rng, (11, 150), 0.5), ternary(rng, (6, 150), 0.7)
    gates = (x != 0).astype(np.int64).dot((w != 0).T.astype(np.int64))
    px, pw = pack_ternary(x), pack_ternary(w)
    planes = [word_major(p) for p in (px.mask, px.sign, pw.mask, pw.sign)]
    for mode in METHODS:
        z, total, gate = gxnor_matmul(*planes, method=mode, want_gate=True)
        assert z.dtype == np.int32 and z.shape == (11, 6)
        assert np.array_equal(z, x.astype(np.int64).dot(w.T.astype(np.int64)))
        assert np.array_equal(gate, gates) and total == gates.sum()
        z_alone, total_alone, none = gxnor_matmul(*planes, method=mode)
        assert np.array_equal(z_alone, z) and total_alone == total and none is None
