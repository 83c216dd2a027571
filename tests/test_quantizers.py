"""Forward values and pseudo-gradients of the comparison methods' quantizers.

Each quantizer q is checked as larq checks its quantizers: forward values on
small inputs (hand-computed numbers, or a plain NumPy reference written from
the formula in the docstring) and the gradient of sum(c * q(...)) for a
random c against the stated backward formula, learned scales included.
"""
from __future__ import division

import gxnor_compat  # noqa: F401
import numpy as np
import pytest
import theano
import theano.tensor as T
from theano.sandbox.rng_mrg import MRG_RandomStreams

import quantizers

floatX = theano.config.floatX
# The optimized graphs (as in training) run by the Python linker: no C code to
# compile, so a cold compile cache costs seconds, not minutes.
MODE = theano.compile.Mode(linker='py', optimizer='fast_run')


def fx(values):
    return np.asarray(values, dtype=floatX)


def compile_value_and_grads(inputs, output, wrt=None, mode=MODE):
    """f(*inputs, c) -> [q, d sum(c * q) / d wrt_1, ...] (wrt defaults to inputs)."""
    c = output.type()
    wrt = list(inputs) if wrt is None else list(wrt)
    grads = theano.grad(T.sum(c * output), wrt)
    return theano.function(list(inputs) + [c], [output] + grads, mode=mode)


def random_c(shape, seed=0):
    return fx(np.random.RandomState(seed).uniform(-2, 2, size=shape))


def binary_sign(x):
    return np.where(x >= 0, 1.0, -1.0)


# ------------------------------------------------------------------ dtypes

@pytest.mark.parametrize('build', [
    lambda w: quantizers.binaryconnect_weights(w),
    lambda w: quantizers.binaryconnect_weights(w, stochastic=True, srng=MRG_RandomStreams(1)),
    lambda w: quantizers.bnn_activation(w),
    lambda w: quantizers.bwn_weights(w, (0,)),
    lambda w: quantizers.xnor_activation(w),
    lambda w: quantizers.twn_weights(w, (0,)),
    lambda w: quantizers.ttq_weights(w, theano.shared(fx(1.0)), theano.shared(fx(1.0))),
    lambda w: quantizers.dorefa_weights(w, 1),
    lambda w: quantizers.dorefa_weights(w, 2),
    lambda w: quantizers.dorefa_activation(w, 2),
    lambda w: quantizers.syq_weights(w, T.row()),
    lambda w: quantizers.tbn_activation(w),
])
def test_outputs_are_floatx_and_keep_the_input_type(build):
    w = T.matrix()
    q = build(w)
    assert q.dtype == floatX and q.ndim == 2


# ------------------------------------------------------------------ BinaryConnect / BNN

def test_binaryconnect_deterministic_is_sign_with_identity_gradient():
    w = T.vector()
    f = compile_value_and_grads([w], quantizers.binaryconnect_weights(w))
    x, c = fx([-2.0, -0.5, 0.0, 0.3, 1.5]), random_c(5)
    value, grad = f(x, c)
    assert value.tolist() == [-1, -1, 1, 1, 1]
    assert np.array_equal(grad, c)  # no cancellation, even for |w| > 1


def test_binaryconnect_stochastic_frequency_is_hard_sigmoid():
    levels = fx([-1.5, -1.0, -0.6, -0.2, 0.0, 0.4, 0.9, 1.0, 1.2])
    n = 40000
    w = T.vector()
    f = compile_value_and_grads(
        [w], quantizers.binaryconnect_weights(w, stochastic=True, srng=MRG_RandomStreams(1234)),
        mode=theano.compile.get_default_mode())  # the C sampler: 360,000 draws
    x = np.repeat(levels, n)
    c = random_c(x.size)
    value, grad = f(x, c)
    assert set(np.unique(value).tolist()) <= {-1.0, 1.0}
    assert np.array_equal(grad, c)
    frequency = np.mean(value.reshape(len(levels), n) == 1, axis=1)
    p = np.clip((levels.astype(float) + 1) / 2, 0, 1)
    assert np.all(np.abs(frequency - p) <= 5 * np.sqrt(p * (1 - p) / n))
    assert frequency[0] == 0 and frequency[1] == 0 and frequency[-1] == 1 and frequency[-2] == 1
    value2, _ = f(x, c)
    assert not np.array_equal(value, value2)  # a fresh draw per call


def test_bnn_activation_is_sign_with_ste():
    x = T.vector()
    f = compile_value_and_grads([x], quantizers.bnn_activation(x))
    xs, c = fx([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5]), random_c(7)
    value, grad = f(xs, c)
    assert value.tolist() == [-1, -1, -1, 1, 1, 1, 1]
    assert np.array_equal(grad, c * fx([0, 1, 1, 1, 1, 1, 0]))


# ------------------------------------------------------------------ BWN / XNOR-Net

def bwn_reference(w, axes):
    alpha = np.mean(np.abs(w), axis=axes, keepdims=True)
    n = w.size / alpha.size
    return alpha * binary_sign(w), 1.0 / n + alpha * (np.abs(w) <= 1)


def test_bwn_dense_hand_values():
    w = T.matrix()
    f = compile_value_and_grads([w], quantizers.bwn_weights(w, (0,)))
    W = fx([[0.5, -1.5], [-0.1, 0.3], [2.0, 0.0]])
    c = random_c(W.shape)
    value, grad = f(W, c)
    a0, a1 = 2.6 / 3, 1.8 / 3  # mean |W| of each output column
    assert np.allclose(value, [[a0, -a1], [-a0, a1], [a0, a1]], rtol=1e-6)
    slope = [[1 / 3 + a0, 1 / 3], [1 / 3 + a0, 1 / 3 + a1], [1 / 3, 1 / 3 + a1]]
    assert np.allclose(grad, c * fx(slope), rtol=1e-6)


@pytest.mark.parametrize('axes', [(1, 2, 3), None])
def test_bwn_conv_filters_match_reference(axes):
    w = T.tensor4()
    f = compile_value_and_grads([w], quantizers.bwn_weights(w, axes))
    W = fx(np.random.RandomState(3).standard_normal((4, 3, 2, 2)))
    c = random_c(W.shape, 1)
    value, grad = f(W, c)
    expected, slope = bwn_reference(W.astype(float), axes)
    assert np.allclose(value, expected, rtol=1e-6)
    assert np.allclose(grad, c * slope, rtol=1e-5)
    assert len(np.unique(np.abs(value))) == (4 if axes else 1)


def test_xnor_dense_activation_hand_values():
    x = T.matrix()
    f = compile_value_and_grads([x], quantizers.xnor_activation(x, axis=1))
    xs = fx([[0.5, -2.0, 0.0, 1.5], [-0.2, 0.4, 0.6, -0.2]])
    c = random_c(xs.shape)
    value, grad = f(xs, c)
    # beta = mean |x| per sample: 1.0 and 0.35
    assert np.allclose(value, [[1, -1, 1, 1], [-0.35, 0.35, 0.35, -0.35]], rtol=1e-6)
    assert np.allclose(grad, c * fx([[1, 0, 1, 0], [0.35, 0.35, 0.35, 0.35]]), rtol=1e-6)


def test_xnor_conv_activation_matches_reference_with_and_without_scale_gradient():
    x = T.tensor4()
    f = compile_value_and_grads([x], quantizers.xnor_activation(x))
    g = compile_value_and_grads([x], quantizers.xnor_activation(x, scale_gradient=True))
    xs = fx(np.random.RandomState(5).standard_normal((2, 3, 2, 2)))
    c = random_c(xs.shape, 2)
    K = np.mean(np.abs(xs.astype(float)), axis=1, keepdims=True)
    s = binary_sign(xs)
    value, grad = f(xs, c)
    assert np.allclose(value, s * K, rtol=1e-6)
    assert np.allclose(grad, c * K * (np.abs(xs) <= 1), rtol=1e-5)
    value_k, grad_k = g(xs, c)
    assert np.array_equal(value_k, value)
    through_k = np.sum(c * s, axis=1, keepdims=True) * np.sign(xs) / 3
    assert np.allclose(grad_k, c * K * (np.abs(xs) <= 1) + through_k, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ TWN

def twn_reference(w, axes):
    a = np.abs(w)
    delta = 0.7 * np.mean(a, axis=axes, keepdims=True)
    mask = a > delta
    count = np.sum(mask, axis=axes, keepdims=True)
    alpha = np.sum(a * mask, axis=axes, keepdims=True) / np.maximum(count, 1)
    return alpha * np.sign(w) * mask


def test_twn_hand_values():
    w = T.vector()
    f = compile_value_and_grads([w], quantizers.twn_weights(w, None))
    W, c = fx([0.1, -0.9, 0.5, -0.2, 1.1, 0.05]), random_c(6)
    value, grad = f(W, c)
    # mean |W| = 2.85 / 6 = 0.475, delta = 0.3325; kept: -0.9, 0.5, 1.1
    a = 2.5 / 3
    assert np.allclose(value, [0, -a, a, 0, a, 0], rtol=1e-6)
    assert np.array_equal(grad, c)


def test_twn_per_filter_matches_reference_and_empty_filter_is_zero():
    w = T.matrix()
    f = compile_value_and_grads([w], quantizers.twn_weights(w, (0,)))
    W = fx(np.random.RandomState(7).standard_normal((6, 4)))
    W[:, 2] = 0.0  # no weight above the threshold: alpha = 0
    c = random_c(W.shape, 3)
    value, grad = f(W, c)
    assert np.allclose(value, twn_reference(W.astype(float), 0), rtol=1e-6)
    assert np.all(value[:, 2] == 0) and np.all(np.isfinite(value))
    assert np.array_equal(grad, c)
    for column in range(4):
        assert len(np.unique(np.abs(value[:, column])[value[:, column] != 0])) <= 1


# ------------------------------------------------------------------ TTQ

def test_ttq_hand_values_and_gradients_to_scales():
    w, wp, wn = T.vector(), T.scalar(), T.scalar()
    f = compile_value_and_grads([w, wp, wn], quantizers.ttq_weights(w, wp, wn, t=0.05))
    W = fx([0.9, -0.04, 0.06, -1.0, 0.03, -0.5, 0.2])  # delta = 0.05 * 1.0
    c = random_c(7)
    value, g_w, g_wp, g_wn = f(W, fx(1.3), fx(0.7), c)
    assert np.allclose(value, [1.3, 0, 1.3, -0.7, 0, -0.7, 1.3], rtol=1e-6)
    assert np.allclose(g_wp, c[0] + c[2] + c[6], rtol=1e-5)
    assert np.allclose(g_wn, -(c[3] + c[5]), rtol=1e-5)
    assert np.allclose(g_w, c * fx([1.3, 1, 1.3, 0.7, 1, 0.7, 1.3]), rtol=1e-6)


def test_ttq_per_filter_with_shared_scales_matches_reference():
    w = T.tensor4()
    wp, wn = theano.shared(fx(0.8), name='wp'), theano.shared(fx(1.6), name='wn')
    f = compile_value_and_grads([w], quantizers.ttq_weights(w, wp, wn, t=0.3, axes=(1, 2, 3)),
                                wrt=[w, wp, wn])
    W = fx(np.random.RandomState(11).standard_normal((3, 2, 3, 3)))
    c = random_c(W.shape, 4)
    value, g_w, g_wp, g_wn = f(W, c)
    delta = 0.3 * np.max(np.abs(W), axis=(1, 2, 3), keepdims=True)
    positive, negative = W > delta, W < -delta
    assert positive.any() and negative.any() and (~positive & ~negative).any()
    assert np.allclose(value, 0.8 * positive - 1.6 * negative, rtol=1e-6)
    assert np.allclose(g_wp, np.sum(c[positive]), rtol=1e-5)
    assert np.allclose(g_wn, -np.sum(c[negative]), rtol=1e-5)
    slope = np.where(positive, 0.8, np.where(negative, 1.6, 1.0))
    assert np.allclose(g_w, c * slope, rtol=1e-6)


# ------------------------------------------------------------------ DoReFa-Net

def dorefa_weights_reference(w, k, c):
    """Forward and the gradient of sum(c * tanh(w) / max|tanh(w)|)."""
    n = 2 ** k - 1
    th = np.tanh(w)
    i = np.argmax(np.abs(th))
    M = np.abs(th[i])
    r = th / (2 * M) + 0.5
    forward = 2 * np.round(n * r) / n - 1
    d_th = c / M
    d_th[i] -= np.sum(c * th) / M ** 2 * np.sign(th[i])
    return forward, r, d_th * (1 - th ** 2)


def test_dorefa_weights_2bit_hand_values():
    w = T.vector()
    f = compile_value_and_grads([w], quantizers.dorefa_weights(w, 2))
    W = fx([-1.0, -0.2, 0.05, 0.3, 2.0])
    c = random_c(5)
    value, grad = f(W, c)
    # tanh / (2 * 0.9640) + 0.5 = 0.105, 0.398, 0.526, 0.651, 1.0; *3 rounds to 0, 1, 2, 2, 3
    assert np.allclose(value, [-1, -1 / 3, 1 / 3, 1 / 3, 1], atol=1e-6)
    _, _, expected = dorefa_weights_reference(W.astype(float), 2, c.astype(float))
    assert np.allclose(grad, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('k', [3, 4])
def test_dorefa_weights_k_bit_match_reference(k):
    w = T.vector()
    f = compile_value_and_grads([w], quantizers.dorefa_weights(w, k))
    W = fx(np.random.RandomState(k).standard_normal(200))
    c = random_c(W.size, k)
    value, grad = f(W, c)
    expected, r, expected_grad = dorefa_weights_reference(W.astype(float), k, c.astype(float))
    n = 2 ** k - 1
    clear = np.abs(n * r - np.floor(n * r) - 0.5) > 1e-3  # away from rounding ties
    assert clear.mean() > 0.9
    assert np.allclose(value[clear], expected[clear], atol=1e-6)
    assert np.allclose(np.unique(value), 2 * np.arange(n + 1) / n - 1, atol=1e-6)
    assert np.allclose(grad, expected_grad, rtol=1e-4, atol=1e-6)


def test_dorefa_weights_1bit_is_mean_abs_times_sign_with_identity_gradient():
    w = T.matrix()
    f = compile_value_and_grads([w], quantizers.dorefa_weights(w, 1))
    W = fx([[0.5, -1.5], [-0.1, 0.0]])  # E(|W|) = 2.1 / 4 over the whole layer
    c = random_c(W.shape)
    value, grad = f(W, c)
    e = 2.1 / 4
    assert np.allclose(value, [[e, -e], [-e, e]], rtol=1e-6)
    assert np.array_equal(grad, c)


def test_dorefa_activation_hand_values():
    x = T.vector()
    f2 = compile_value_and_grads([x], quantizers.dorefa_activation(x, 2))
    f1 = compile_value_and_grads([x], quantizers.dorefa_activation(x, 1))
    xs = fx([-0.5, 0.0, 0.1, 0.2, 0.4, 0.8, 1.0, 1.7])
    c = random_c(8)
    value, grad = f2(xs, c)
    assert np.allclose(value, [0, 0, 0, 1 / 3, 1 / 3, 2 / 3, 1, 1], atol=1e-7)
    assert np.array_equal(grad, c * fx([0, 1, 1, 1, 1, 1, 1, 0]))
    value, grad = f1(xs, c)
    assert value.tolist() == [0, 0, 0, 0, 0, 1, 1, 1]
    assert np.array_equal(grad, c * fx([0, 1, 1, 1, 1, 1, 1, 0]))


def test_dorefa_activation_4bit_matches_reference():
    x = T.matrix()
    f = compile_value_and_grads([x], quantizers.dorefa_activation(x, 4))
    xs = fx(np.random.RandomState(8).uniform(-0.5, 1.5, size=(20, 10)))
    c = random_c(xs.shape, 5)
    value, grad = f(xs, c)
    scaled = 15 * np.clip(xs.astype(float), 0, 1)
    clear = np.abs(scaled - np.floor(scaled) - 0.5) > 1e-3
    assert np.allclose(value[clear], (np.round(scaled) / 15)[clear], atol=1e-6)
    assert np.array_equal(grad, c * ((xs >= 0) & (xs <= 1)))


def test_dorefa_rejects_bad_bit_widths():
    for k in (0, 1.5):
        with pytest.raises(ValueError):
            quantizers.dorefa_activation(T.vector(), k)
        with pytest.raises(ValueError):
            quantizers.dorefa_weights(T.vector(), k)


# ------------------------------------------------------------------ SYQ

def test_syq_dense_per_row_hand_values():
    w, scale = T.matrix(), T.row()  # Lasagne W (in, out): one factor per output unit
    f_t = compile_value_and_grads([w, scale], quantizers.syq_weights(w, scale, eta=0.05))
    f_b = compile_value_and_grads([w, scale], quantizers.syq_weights(w, scale, ternary=False))
    W = fx([[0.5, -0.01], [-0.3, 0.02], [0.0, 1.0]])  # threshold 0.05 * 1.0
    S = fx([[2.0, 0.5]])
    c = random_c(W.shape)
    value, g_w, g_s = f_t(W, S, c)
    assert np.allclose(value, [[2, 0], [-2, 0], [0, 0.5]], rtol=1e-6)
    assert np.allclose(g_s, [[c[0, 0] - c[1, 0], c[2, 1]]], rtol=1e-5)
    assert np.allclose(g_w, c * S, rtol=1e-6)
    value, g_w, g_s = f_b(W, S, c)
    q = fx([[1, -1], [-1, 1], [1, 1]])  # sign(0) = +1
    assert np.allclose(value, q * S, rtol=1e-6)
    assert np.allclose(g_s, np.sum(c * q, axis=0, keepdims=True), rtol=1e-5)
    assert np.allclose(g_w, c * S, rtol=1e-6)


def test_syq_conv_per_pixel_shared_scale_matches_reference():
    w = T.tensor4()
    S = fx(np.random.RandomState(9).uniform(0.5, 2.0, size=(1, 1, 3, 3)))
    scale = theano.shared(S, broadcastable=(True, True, False, False))
    f = compile_value_and_grads([w], quantizers.syq_weights(w, scale, eta=0.2), wrt=[w, scale])
    W = fx(np.random.RandomState(10).standard_normal((4, 2, 3, 3)))
    c = random_c(W.shape, 6)
    value, g_w, g_s = f(W, c)
    q = np.sign(W) * (np.abs(W) >= 0.2 * np.max(np.abs(W)))
    assert (q == 0).any()
    assert np.allclose(value, S * q, rtol=1e-6)
    assert np.allclose(g_s, np.sum(c * q, axis=(0, 1), keepdims=True), rtol=1e-5, atol=1e-6)
    assert np.allclose(g_w, c * S, rtol=1e-6)


# ------------------------------------------------------------------ TBN

def test_tbn_activation_hand_values():
    x = T.matrix()
    f = compile_value_and_grads([x], quantizers.tbn_activation(x))
    xs = fx([[0.5, -2.0, 0.1, 1.4], [0.2, -0.2, 0.05, -0.03]])
    c = random_c(xs.shape)
    value, grad = f(xs, c)
    # Delta = 0.4 * mean |x| per sample: 0.4 and 0.048
    assert value.tolist() == [[1, -1, 0, 1], [1, -1, 1, 0]]
    assert np.array_equal(grad, c * fx([[1, 0, 1, 0], [1, 1, 1, 1]]))


def test_tbn_conv_activation_matches_reference():
    x = T.tensor4()
    f = compile_value_and_grads([x], quantizers.tbn_activation(x, delta=0.4))
    xs = fx(np.random.RandomState(12).standard_normal((3, 4, 5, 5)))
    xs[0, 0, 0, :2] = [1.0, -1.0]  # the STE is 1{|x| < 1}: zero at |x| = 1
    c = random_c(xs.shape, 7)
    value, grad = f(xs, c)
    threshold = 0.4 * np.mean(np.abs(xs.astype(float)), axis=(1, 2, 3), keepdims=True)
    expected = (xs > threshold).astype(float) - (xs < -threshold)
    assert np.array_equal(value, expected)
    assert (value == 0).any() and (value == 1).any() and (value == -1).any()
    assert np.array_equal(grad, c * (np.abs(xs) < 1))
    assert grad[0, 0, 0, 0] == 0 and grad[0, 0, 0, 1] == 0
