"""Tests of gxnor_engine/products.py."""
from __future__ import absolute_import, division, print_function

import numpy as np
import pytest

from engine_models import CONV_CASES, METHODS, c_kernels, plain_conv, ternary
from gxnor_engine.products import (
    Context, FirstStage, ScaledBinary, ScaledInputStage, gated_xnor_conv2d, im2col, to_nchw)


def contexts(stats=None):
    """A context per NumPy popcount method, and the compiled kernels' where they run."""
    runs = [Context(mode, stats, None, 'numpy') for mode in METHODS]
    return runs + ([Context(None, stats, None, 'c')] if c_kernels() else [])


def stage_info(kind, in_shape, w):
    """The facts a weight stage reads of its layer (as the builder writes them)."""
    return dict(name='layer', kind=kind, in_shape=in_shape, fan_in=w[0].size, units=len(w))


@pytest.mark.parametrize('channels,size,kernel,stride,pad', CONV_CASES)
def test_packed_conv_equals_plain_conv(channels, size, kernel, stride, pad):
    rng = np.random.RandomState(channels)
    x = ternary(rng, (3, channels, size, size + 2), 0.6)
    w = ternary(rng, (4, channels) + kernel)
    expected = plain_conv(x, w, stride, pad)
    for mode in METHODS:
        got = gated_xnor_conv2d(x, w, stride, pad, method=mode)
        assert got.shape == expected.shape
        assert np.array_equal(got, expected), mode


def test_conv2d_refuses_non_ternary_values_and_mismatched_channels():
    x, w = np.ones((1, 2, 4, 4)), np.ones((3, 2, 2, 2))
    for bad_x, bad_w in ((2 * x, w), (x, 0.5 * w), (x, w[:, :1]), (x[0], w)):
        with pytest.raises(ValueError):
            gated_xnor_conv2d(bad_x, bad_w)


@pytest.mark.parametrize('kernel,stride,pad', [((2, 3), (1, 1), (0, 0)),
                                               ((3, 3), (2, 1), (1, 2))])
def test_im2col_rows_are_the_zero_padded_windows(kernel, stride, pad):
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad
    a = np.random.RandomState(1).randint(-50, 50, size=(2, 6, 7, 3))
    patches, (oh, ow) = im2col(a, kernel, stride, pad)
    padded = np.zeros((2, 6 + 2 * ph, 7 + 2 * pw, 3), dtype=a.dtype)
    padded[:, ph:ph + 6, pw:pw + 7] = a
    rows = [padded[n, i * sh:i * sh + kh, j * sw:j * sw + kw].ravel()
            for n in range(2) for i in range(oh) for j in range(ow)]
    assert (oh, ow) == ((6 + 2 * ph - kh) // sh + 1, (7 + 2 * pw - kw) // sw + 1)
    assert np.array_equal(patches, np.array(rows))


@pytest.mark.parametrize('kind', ['conv', 'dense'])
def test_first_stage_sums_are_exact_integer_products_of_2p_minus_255(kind):
    """z = sum(w * (2p - 255)) exactly, padding counting as 0, and its gate
    count is that of the windows' taps inside the image (2p - 255 is never 0)."""
    rng = np.random.RandomState(7)
    X = rng.randint(0, 256, size=(5, 3, 9, 8)).astype(np.uint8)
    X[0] = 255
    q = 2 * X.astype(np.int64) - 255
    if kind == 'conv':
        w, geometry = ternary(rng, (4, 3, 3, 2)), ((3, 2), (2, 1), (1, 1))
        w_int = w.transpose(0, 2, 3, 1).reshape(len(w), -1).T        # (kh, kw, C) order
        expected = plain_conv(q, w, *geometry[1:])
        gates = plain_conv(np.ones_like(q), w != 0, *geometry[1:]).sum()
    else:
        w_chw, geometry = ternary(rng, (3 * 9 * 8, 6)), None           # (C, H, W) order
        w = w_chw.T.reshape(6, 3, 9, 8)
        w_int = w.transpose(0, 2, 3, 1).reshape(6, -1).T                # (H, W, C) order
        expected = q.reshape(5, -1).dot(w_chw)
        gates = 5 * np.count_nonzero(w_chw)
    stage = FirstStage(stage_info(kind, (3, 9, 8), w_int.T), np.ascontiguousarray(w_int),
                       geometry)
    for ctx in contexts():
        ctx.stats = {}
        z = stage.run(X, ctx)
        assert z.dtype.kind == 'i'
        assert np.array_equal(to_nchw(z), expected), ctx.kernel_text
        assert ctx.stats['layer']['gates'] == gates
        assert ctx.stats['layer']['products'] == expected.size * w_int.shape[0]
        assert ctx.stats['layer']['input_nonzero'] == X.size


def test_scaled_input_stage_equals_float_conv_of_sign_times_k():
    """XNOR-Net inputs sign * K (K one float per position): the stage's float
    sums equal the float64 cross-correlation of the float inputs within 1e-12
    relative, and open gates are the weights' taps inside the image."""
    rng = np.random.RandomState(8)
    n, channels, height, width = 3, 70, 6, 5
    signs = rng.choice([-1, 1], size=(n, height, width, channels)).astype(np.int8)
    K = rng.uniform(0.1, 2.0, size=(n, height, width))
    w = ternary(rng, (4, channels, 3, 3))
    geometry = ((3, 3), (2, 1), (1, 1))
    x = (signs * K[..., None]).transpose(0, 3, 1, 2)
    expected = plain_conv(x, w, *geometry[1:], dtype=np.float64)
    gates = plain_conv(np.ones_like(x), w != 0, *geometry[1:]).sum()
    w_int = np.ascontiguousarray(w.transpose(0, 2, 3, 1))              # (F, kh, kw, C)
    stage = ScaledInputStage(stage_info('conv', (channels, height, width), w_int), w_int,
                             geometry, (channels, height, width))
    outputs = []
    for ctx in contexts():
        ctx.stats = {}
        outputs.append(stage.run(ScaledBinary(signs, K), ctx))
        np.testing.assert_allclose(to_nchw(outputs[-1]), expected, rtol=1e-12, atol=1e-12)
        assert ctx.stats['layer']['gates'] == gates
    assert all(np.array_equal(out, outputs[0]) for out in outputs)   # the same float sums
