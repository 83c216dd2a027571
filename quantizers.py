"""Quantizers of the methods GXNOR-Net is compared with, one function each.

BinaryConnect, BNN, BWN / XNOR-Net, TWN, TTQ, DoReFa-Net, SYQ and TBN, as
``--method`` uses them (:mod:`methods`, :mod:`gxnor_layers`); GXNOR-Net's own
operations are in :mod:`discrete_ops`.  Each docstring gives the paper, the
forward formula and the pseudo-gradient; like larq's quantizers, each is a
small function of Theano ops, so it runs on the CPU and on a GPU backend.

Examples
--------
>>> x = T.vector('x')
>>> f = theano.function([x], bnn_activation(x))
>>> f(_floatx([-2.0, 0.0, 0.5])).tolist()
[-1.0, 1.0, 1.0]
"""
from __future__ import absolute_import, division

import gxnor_compat  # noqa: F401  (sets Theano flags before the first import)
import numpy as np
import theano
import theano.tensor as T
from theano.gradient import zero_grad

__all__ = ['binaryconnect_weights', 'bnn_activation', 'bwn_weights', 'xnor_activation',
           'twn_weights', 'ttq_weights', 'dorefa_weights', 'dorefa_activation',
           'syq_weights', 'tbn_activation']

# As in discrete_ops, every function returns
#     zero_grad(forward) + (surrogate - zero_grad(surrogate)),
# whose value is exactly ``forward`` and whose gradient is that of
# ``surrogate``.  A straight-through factor ``s`` (held constant) is written
# ``zero_grad(s) * x``: its gradient with respect to ``x`` is ``s * g``.
#
# Conventions shared by all functions below:
# * sign(0) = +1 wherever the output is binary ({-1, +1}); ternary outputs
#   send 0 to 0.
# * ``axes`` are the axes reduced for ONE output unit: Lasagne DenseLayer
#   W (n_in, n_out): axes=(0,); Conv2DLayer W (n_out, n_in, kh, kw):
#   axes=(1, 2, 3); axes=None: the whole tensor (one factor per layer).
# * Thresholds, scaling factors computed from the weights/inputs and masks
#   carry no gradient unless stated otherwise.
# * Clipping the hidden real-valued weights (BinaryConnect, BNN: to [-1, 1])
#   is an update rule, left to the optimizer/harness, not done here.


def _floatx(value):
    return np.asarray(value, dtype=theano.config.floatX)


def _pseudo(forward, surrogate):
    """Value of ``forward``, gradient of ``surrogate`` (both cast to floatX)."""
    forward = T.cast(forward, theano.config.floatX)
    surrogate = T.cast(surrogate, theano.config.floatX)
    return zero_grad(forward) + (surrogate - zero_grad(surrogate))


def _as_float(condition):
    """A comparison as 0./1. floatX (Theano 1.0 comparisons are bool)."""
    return T.cast(condition, theano.config.floatX)


def _binary_sign(x):
    """+1 where x >= 0, else -1 (sign(0) = +1), in floatX."""
    return T.switch(T.ge(x, 0), _floatx(1.0), _floatx(-1.0))


def _normalize_axes(x, axes):
    if axes is None:
        return None
    if isinstance(axes, (int, np.integer)):
        axes = (axes,)
    return tuple(sorted(int(a) % x.ndim for a in axes))


def _group_sum(x, axes):
    """Sum over ``axes`` (keepdims), or over the whole tensor (a scalar) for None."""
    return T.sum(x) if axes is None else T.sum(x, axis=axes, keepdims=True)


def _group_max(x, axes):
    return T.max(x) if axes is None else T.max(x, axis=axes, keepdims=True)


def _group_size(x, axes):
    """Number n of elements of one group, as a floatX scalar."""
    if axes is None:
        return T.cast(x.size, theano.config.floatX)
    size = 1
    for axis in axes:
        size = size * x.shape[axis]
    return T.cast(size, theano.config.floatX)


def _group_mean(x, axes):
    return _group_sum(x, axes) / _group_size(x, axes)


def binaryconnect_weights(w, stochastic=False, srng=None):
    """BinaryConnect (Courbariaux et al., 2015) binary weights.

    Forward:  deterministic: w_b = +1 if w >= 0 else -1;
              stochastic:    w_b = +1 with probability p = hard_sigmoid(w)
                             = clip((w + 1) / 2, 0, 1), else -1
                             (one draw per weight and call, from ``srng``,
                             an MRG_RandomStreams).
    Backward: dC/dw = dC/dw_b (straight-through, no cancellation for |w| > 1);
              the update rule then clips w to [-1, 1] (Algorithm 1 of the
              paper): that clipping belongs to the optimizer/harness.
    """
    if stochastic:
        from theano.sandbox.rng_mrg import MRG_RandomStreams
        srng = srng or MRG_RandomStreams(np.random.randint(1, 2147462579))
        p = T.clip((w + _floatx(1.0)) / _floatx(2.0), 0, 1)
        u = srng.uniform(size=w.shape, dtype=theano.config.floatX)
        forward = T.switch(T.lt(u, p), _floatx(1.0), _floatx(-1.0))
    else:
        forward = _binary_sign(w)
    return _pseudo(forward, w)


def bnn_activation(x):
    """BNN (Courbariaux, Hubara et al., 2016) binary activation.

    Forward:  x_b = +1 if x >= 0 else -1.
    Backward: g_x = g_{x_b} * 1{|x| <= 1}  (straight-through estimator,
              i.e. the derivative of Htanh(x) = clip(x, -1, 1)).
    """
    inside = _as_float(T.le(abs(x), 1))
    return _pseudo(_binary_sign(x), zero_grad(inside) * x)


def bwn_weights(w, axes):
    """BWN / XNOR-Net (Rastegari et al., 2016) weights, also TBN's weights.

    Forward:  W~ = alpha * sign(W), sign(0) = +1,
              alpha = (1/n) ||W||_l1 = mean |W| over ``axes`` (one alpha per
              output filter; n = number of weights of that filter).
    Backward: the XNOR-Net paper's approximation (Sec. 3.1), elementwise:
                  dC/dW_i = dC/dW~_i * (1/n + alpha * 1{|W_i| <= 1}),
              with alpha held constant (the exact cross terms of d alpha/dW
              are dropped, as in the paper).  The authors' Torch code uses a
              different factor, (1/n + alpha * 1{|W| < 1}) * (n - 1); not used.
    """
    axes = _normalize_axes(w, axes)
    alpha = _group_mean(abs(w), axes)
    slope = _floatx(1.0) / _group_size(w, axes) + alpha * _as_float(T.le(abs(w), 1))
    return _pseudo(alpha * _binary_sign(w), zero_grad(slope) * w)


def xnor_activation(x, axis=1, scale_gradient=False):
    """XNOR-Net binary activations with their scaling factor.

    Forward:  sign(x) * K, sign(0) = +1, K = mean |x| over ``axis`` (keepdims):
              conv input (batch, c, h, w), axis=1: K = A = sum_c |I_c| / c, one
              factor per sample and spatial position; dense input
              (batch, features), axis=1: beta = mean |x| per sample.
              The paper further averages A over each receptive field
              (K = A * k, k = 1/(kh kw)) and scales the convolution OUTPUT by
              K; for a dense layer sign(x) * beta is exactly equivalent, for a
              convolution this per-input-position factor is the layer's
              approximation of it (the box filter is the layer's business).
    Backward: g_x = g * K * 1{|x| <= 1} (STE for the sign, K constant) with
              the default ``scale_gradient=False``: the paper does not
              differentiate K (and its released code drops K altogether).
              ``scale_gradient=True`` adds the exact gradient through K.
    """
    K = T.mean(abs(x), axis=axis, keepdims=True)
    if not scale_gradient:
        K = zero_grad(K)
    inside = _as_float(T.le(abs(x), 1))
    ste_sign = _pseudo(_binary_sign(x), zero_grad(inside) * x)
    return ste_sign * K


def twn_weights(w, axes):
    """TWN (Li & Liu, 2016) ternary weights.

    Forward:  delta = 0.7 * mean |W|,
              t = sign(W) * 1{|W| > delta} in {-1, 0, +1},
              alpha = mean of |W_i| over I_delta = {i : |W_i| > delta}
                      (0 if I_delta is empty),
              W~ = alpha * t; delta and alpha per output filter (``axes``),
              or per layer with axes=None (the paper's n is the number of
              weights the pair (alpha, delta) is fitted to).
    Backward: dC/dW = dC/dW~ (straight-through, delta and alpha constant).
    """
    axes = _normalize_axes(w, axes)
    magnitude = abs(w)
    delta = _floatx(0.7) * _group_mean(magnitude, axes)
    mask = _as_float(T.gt(magnitude, delta))
    count = _group_sum(mask, axes)
    alpha = _group_sum(magnitude * mask, axes) / T.maximum(count, _floatx(1.0))
    return _pseudo(alpha * T.sgn(w) * mask, w)


def ttq_weights(w, wp, wn, t=0.05, axes=None):
    """TTQ (Zhu et al., 2017) trained ternary weights.

    Forward:  delta = t * max |w| (per layer with the default axes=None, as in
              the paper; per output filter with ``axes``),
              w_t = wp where w > delta, 0 where |w| <= delta, -wn where w < -delta;
              wp, wn: the layer's positive learned scalars (shared variables;
              anything broadcastable against w works).  Scaling w (the paper
              normalises it to [-1, 1]) does not change the masks.
    Backward (paper Eqs. 7-8, with the true sign for wn):
              dL/dwp = sum_{w > delta} g,   dL/dwn = -sum_{w < -delta} g
              (Eq. 7 prints the wn sum without the minus sign; d w_t / d wn = -1),
              dL/dw = wp * g (w > delta), g (|w| <= delta), wn * g (w < -delta).
    """
    axes = _normalize_axes(w, axes)
    delta = _floatx(t) * _group_max(abs(w), axes)
    positive = _as_float(T.gt(w, delta))
    negative = _as_float(T.lt(w, -delta))
    zero = _floatx(1.0) - positive - negative
    positive, negative, zero = zero_grad(positive), zero_grad(negative), zero_grad(zero)
    forward = wp * positive - wn * negative
    hidden_slope = wp * positive + zero + wn * negative
    surrogate_w = zero_grad(hidden_slope) * w
    surrogate_scales = wp * positive - wn * negative
    return (_pseudo(forward, surrogate_w) +
            T.cast(surrogate_scales - zero_grad(surrogate_scales), theano.config.floatX))


def _check_bits(k):
    if k < 1 or int(k) != k:
        raise ValueError('k must be an integer >= 1, got %r' % (k,))
    return _floatx(2 ** int(k) - 1)


def dorefa_weights(w, k):
    """DoReFa-Net (Zhou et al., 2016) k-bit weights.

    quantize_k(r) = round((2^k - 1) r) / (2^k - 1), r in [0, 1].
    k >= 2: forward  2 * quantize_k(tanh(w) / (2 max|tanh(w)|) + 1/2) - 1,
                     max over the whole tensor (the layer);
            backward STE through the round only: the gradient of
                     tanh(w) / max|tanh(w)| (the expression without round),
                     including its dependence on the max.
    k = 1:  forward  E(|w|) * sign(w), sign(0) = +1, E over the whole layer
                     (the paper's binary case: one scaling factor per layer);
            backward dC/dw = dC/dw_o (identity; E(|w|) carries no gradient),
                     as the paper and its released code (tensorpack).
    Ties of the round go away from zero (Theano's round; the reference code's
    tf.round rounds half to even).
    """
    levels = _check_bits(k)
    if int(k) == 1:
        scale = T.mean(abs(w))
        return _pseudo(scale * _binary_sign(w), w)
    th = T.tanh(w)
    r = th / (_floatx(2.0) * T.max(abs(th))) + _floatx(0.5)
    forward = _floatx(2.0) * (T.round(levels * r) / levels) - _floatx(1.0)
    return _pseudo(forward, _floatx(2.0) * r - _floatx(1.0))


def dorefa_activation(x, k):
    """DoReFa-Net k-bit activations (also SYQ's activations).

    Forward:  quantize_k(clip(x, 0, 1)) = round((2^k - 1) clip(x, 0, 1)) / (2^k - 1).
    Backward: g_x = g * 1{0 <= x <= 1} (STE through round, clip differentiated).
    """
    levels = _check_bits(k)
    forward = T.round(levels * T.clip(x, 0, 1)) / levels
    inside = _as_float(T.ge(x, 0)) * _as_float(T.le(x, 1))
    return _pseudo(forward, zero_grad(inside) * x)


def syq_weights(w, scale, eta=0.05, ternary=True):
    """SYQ (Faraone et al., 2018) symmetric binary/ternary weights, learned scales.

    Forward:  q = sign(w) * 1{|w| >= eta * max|w|} (ternary; max over the
              whole tensor, 0 maps to 0) or q = sign(w) with sign(0) = +1
              (binary); w_q = scale * q.
              ``scale`` holds one learned factor per group and broadcasts
              against w (a shared variable with the right broadcastable
              pattern): per pixel for convolutions, W (out, in, kh, kw) with
              scale (1, 1, kh, kw), broadcastable (True, True, False, False)
              (the paper's diag(alpha), alpha in R^{d^2}); per row for dense
              layers, one factor per output unit: Lasagne W (in, out) with
              scale (1, out), broadcastable (True, False).
    Backward: dE/dw = scale * dE/dw_q (the paper's STE, scale constant; no
              cancellation outside the threshold);
              dE/dscale = sum over the scale's broadcast group of
              dE/dw_q * q (the exact derivative; the paper's Eq. writes the
              plain sum over the group, i.e. this with the sign of q folded in).
    SYQ's activations are DoReFa's: use :func:`dorefa_activation`.
    """
    if ternary:
        threshold = _floatx(eta) * T.max(abs(w))
        q = T.sgn(w) * _as_float(T.ge(abs(w), threshold))
    else:
        q = _binary_sign(w)
    q = zero_grad(T.cast(q, theano.config.floatX))
    surrogate_scale = scale * q
    return (_pseudo(scale * q, zero_grad(scale) * w) +
            T.cast(surrogate_scale - zero_grad(surrogate_scale), theano.config.floatX))


def tbn_activation(x, delta=0.4, axis=None):
    """TBN (Wan et al., 2018) ternary activations; TBN's weights are :func:`bwn_weights`.

    Forward:  Delta = delta * E(|I|) = delta / (c h_in w_in) ||I||_1, the mean
              over ``axis`` (default: every axis but the batch axis 0, so one
              threshold per sample); output +1 (x > Delta), 0 (|x| <= Delta),
              -1 (x < -Delta).  No scaling factor on the inputs (the
              ternary-binary product is scaled by the weights' alpha only).
              delta = 0.4 is the paper's default.
    Backward: g_x = g * 1{|x| < 1} (the paper's STE, strict inequality);
              Delta carries no gradient.
    """
    if axis is None:
        axis = tuple(range(1, x.ndim))
    axes = _normalize_axes(x, axis)
    threshold = _floatx(delta) * _group_mean(abs(x), axes)
    forward = _as_float(T.gt(x, threshold)) - _as_float(T.lt(x, -threshold))
    inside = _as_float(T.lt(abs(x), 1))
    return _pseudo(forward, zero_grad(inside) * x)
