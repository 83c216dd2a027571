"""Theano functions of GXNOR-Net's unified discretization framework.

Everything here is built from standard Theano ops only, so the same graph
runs on the CPU and on any Theano GPU backend.

* :func:`weight_grid_step`, :func:`quantize_weights`: the discrete weight
  space Z_N (2^N + 1 evenly spaced states in [-H, H]).
* :func:`discrete_activation`: the multi-step activation staircase with a
  window-shaped derivative approximation.
* :func:`dst_updates`, :func:`sgd_increments`, :func:`adam_increments`:
  discrete state transition (DST) of the weights.

Forward values are exact: the staircases are computed with comparisons and
integer-valued arithmetic, and the pseudo-gradients enter the graph through
``S(x) - zero_grad(S(x))``, which is exactly zero in the forward pass.
"""
from __future__ import absolute_import, division

from collections import OrderedDict

import gxnor_compat  # noqa: F401  (sets Theano flags before the first import)
import numpy as np
import theano
import theano.tensor as T
from theano.gradient import zero_grad

__all__ = ['weight_grid_step', 'weight_grid', 'quantize_weights', 'weight_state_index',
           'activation_thresholds', 'discrete_activation', 'ternary_activation',
           'sgd_increments', 'adam_increments', 'dst_updates']


def _floatx(value):
    return np.asarray(value, dtype=theano.config.floatX)


def weight_grid_step(H, N):
    """Distance dz = 2H / 2^N between neighbouring states of Z_N.

    Examples
    --------
    >>> weight_grid_step(1.0, 1)
    1.0
    """
    if N < 0 or int(N) != N:
        raise ValueError('N must be an integer >= 0, got %r' % (N,))
    if not H > 0:
        raise ValueError('H must be > 0, got %r' % (H,))
    return 2.0 * H / 2 ** int(N)


def weight_grid(H, N, dtype=None):
    """The 2^N + 1 states of Z_N as a NumPy array, computed as i*dz - H.

    Examples
    --------
    >>> weight_grid(1.0, 1).tolist()
    [-1.0, 0.0, 1.0]
    """
    dz = weight_grid_step(H, N)
    dtype = dtype or theano.config.floatX
    index = np.arange(2 ** int(N) + 1, dtype=dtype)
    return index * np.asarray(dz, dtype) - np.asarray(H, dtype)


def weight_state_index(w, H, N):
    """Index in 0..2^N of the nearest state of Z_N, after clipping to [-H, H].

    Works on NumPy arrays and Theano variables alike; returns floats holding
    integers.  Ties round half away from zero (Theano's ``round``).
    """
    dz = weight_grid_step(H, N)
    if isinstance(w, np.ndarray):
        scaled = (np.clip(w, -H, H) + H) / dz
        return np.clip(np.sign(scaled) * np.floor(np.abs(scaled) + 0.5), 0, 2 ** int(N))
    return T.clip(T.round((T.clip(w, -H, H) + H) / dz), 0, 2 ** int(N))


def quantize_weights(w, H, N):
    """Snap ``w`` to the nearest state of Z_N.

    Forward:  q(w) = dz * round((clip(w, -H, H) + H) / dz) - H,
              dz = 2H / 2^N  (N = 0 gives {-H, H}; N = 1 gives {-H, 0, H}).
    Backward: dq/dw = 1 for |w| <= H, else 0 (straight-through estimator).

    Examples
    --------
    >>> import theano.tensor as T
    >>> w = T.vector()
    >>> snap = theano.function([w], quantize_weights(w, H=1.0, N=1))
    >>> snap(_floatx([-0.7, -0.2, 0.4, 0.6, 3.0])).tolist()
    [-1.0, 0.0, 0.0, 1.0, 1.0]
    """
    dz = weight_grid_step(H, N)
    snapped = weight_state_index(w, H, N) * _floatx(dz) - _floatx(H)
    clipped = T.clip(w, -H, H)
    return zero_grad(snapped) + (clipped - zero_grad(clipped))


def activation_thresholds(act_N, r):
    """Positive thresholds of the activation staircase and the step between levels.

    act_N = 0: binary sign, one threshold at 0 with a jump of 2.
    act_N >= 1: 2^act_N + 1 levels k * s, s = 1 / 2^(act_N - 1), k = -K..K,
    K = 2^(act_N - 1); the positive thresholds are r, r + s, ..., r + (K-1) s,
    mirrored for negative inputs.  act_N = 1 is the ternary case {-1, 0, 1}
    with thresholds +-r.

    Returns
    -------
    thresholds : list of float (positive ones; binary returns [0.0])
    step : float, the jump of the output at each threshold
    """
    if act_N < 0 or int(act_N) != act_N:
        raise ValueError('act_N must be an integer >= 0, got %r' % (act_N,))
    if act_N == 0:
        return [0.0], 2.0
    if not r > 0:
        raise ValueError('r must be > 0, got %r' % (r,))
    levels = 2 ** (int(act_N) - 1)
    step = 1.0 / levels
    return [r + j * step for j in range(levels)], step


def _window_integral(u, a, step, window):
    """Integral of the derivative window centred at 0, from -inf to u."""
    v = T.clip(u, -a, a)
    if window == 'rect':
        return step * (v + a) / (2.0 * a)
    if window == 'tri':
        return step * (0.5 + v / a - v * abs(v) / (2.0 * a * a))
    raise ValueError("window must be 'rect' or 'tri', got %r" % (window,))


def discrete_activation(x, act_N=1, r=1.0, a=0.5, window='rect'):
    """Multi-step discretization of activations with a windowed derivative.

    Forward (act_N >= 1, s = 1 / 2^(act_N-1), thresholds t_j = r + j s):
        phi(x) = sign(x) * s * #{j : |x| > t_j}
    so the ternary case (act_N = 1) is 0 for |x| <= r, sign(x) otherwise.
    Forward (act_N = 0): phi(x) = +1 if x >= 0 else -1.

    Backward: the sum over all thresholds t (both signs) of a window around t
    whose area equals the jump of phi there:
        rect: dphi/dx = step / (2a)              for |x - t| <= a
        tri:  dphi/dx = (step / a) (1 - |x - t| / a)  for |x - t| <= a
    (ternary, r = 1, a = 0.5, rect: height 1 on 0.5 <= |x| <= 1.5, as in the
    authors' code; binary, a = 1: the straight-through estimator 1{|x| <= 1}).

    Examples
    --------
    >>> x = T.vector()
    >>> f = theano.function([x], discrete_activation(x, act_N=1, r=1.0))
    >>> f(_floatx([-2.0, -1.0, 0.3, 1.0, 1.01])).tolist()
    [-1.0, 0.0, 0.0, 0.0, 1.0]
    """
    if not a > 0:
        raise ValueError('a must be > 0, got %r' % (a,))
    thresholds, step = activation_thresholds(act_N, r)
    if act_N == 0:
        forward = T.switch(T.ge(x, 0), _floatx(1.0), _floatx(-1.0))
        surrogate = _window_integral(x, a, step, window)
    else:
        # Comparisons are bool in Theano 1.0, where bool + bool is OR: cast first.
        count = sum(T.cast(T.gt(abs(x), t), theano.config.floatX) for t in thresholds)
        forward = T.sgn(x) * count * _floatx(step)
        surrogate = sum(_window_integral(x - t, a, step, window) +
                        _window_integral(x + t, a, step, window) for t in thresholds)
    forward = T.cast(forward, theano.config.floatX)
    surrogate = T.cast(surrogate, theano.config.floatX)
    return zero_grad(forward) + (surrogate - zero_grad(surrogate))


def ternary_activation(x, r=1.0, a=0.5, window='rect'):
    """The GXNOR activation: ``discrete_activation(x, act_N=1, r, a, window)``."""
    return discrete_activation(x, act_N=1, r=r, a=a, window=window)


def sgd_increments(grads, learning_rate):
    """Plain gradient increments D = -lr * g: no per-weight state at all.

    Returns ``(increments, state_updates)`` with ``state_updates`` empty.
    """
    return [-learning_rate * g for g in grads], OrderedDict()


def adam_increments(grads, learning_rate, beta1=0.9, beta2=0.999, epsilon=1e-8, shapes=None):
    """Adam steps D = -lr_t * m_t / (sqrt(v_t) + epsilon), as Lasagne's ``adam``.

    lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t); m_t and v_t are the usual
    running moments.  ``shapes`` gives each gradient's shape (NumPy tuple)
    for the moment variables.

    Returns ``(increments, state_updates)``: the Adam moments and time step
    are per-weight float state, updated by ``state_updates``.
    """
    one, beta1, beta2, epsilon = _floatx(1.0), _floatx(beta1), _floatx(beta2), _floatx(epsilon)
    t_prev = theano.shared(_floatx(0.0), name='adam_t')
    t = t_prev + 1
    lr_t = learning_rate * T.sqrt(one - beta2 ** t) / (one - beta1 ** t)
    increments, state = [], OrderedDict()
    for g, shape in zip(grads, shapes):
        m_prev = theano.shared(np.zeros(shape, dtype=theano.config.floatX), name='adam_m')
        v_prev = theano.shared(np.zeros(shape, dtype=theano.config.floatX), name='adam_v')
        m = beta1 * m_prev + (one - beta1) * g
        v = beta2 * v_prev + (one - beta2) * g ** 2
        increments.append(-lr_t * m / (T.sqrt(v) + epsilon))
        state[m_prev] = m
        state[v_prev] = v
    state[t_prev] = t
    return increments, state


def dst_updates(params, increments, H, N, m=3.0, srng=None, index_storage=None):
    """Discrete state transition of weights that live on Z_N.

    For an increment D and dz = 2H / 2^N:
        k = trunc(D / dz)                 (whole steps, towards zero)
        v = D / dz - k                    (remainder, |v| < 1)
        extra = sign(D) with probability tanh(m |v|), else 0
        w_new = snap(clip(w + (k + extra) dz, -H, H))
    so E[w_new - w] grows with D while w_new stays exactly on the grid.

    Parameters
    ----------
    params : list of shared variables
        The discrete weights.  With ``index_storage`` true for a parameter,
        it holds integer state indices 0..2^N instead of weight values, and
        the transition is done on the indices.
    increments : list of Theano expressions
        The continuous increments D (see :func:`sgd_increments`,
        :func:`adam_increments`).
    H, N, m : float, int, float
        Range, grid exponent and nonlinearity of the transition probability.
    srng : MRG_RandomStreams
    index_storage : list of bool, optional

    Returns
    -------
    OrderedDict mapping each parameter to its new value.
    """
    from theano.sandbox.rng_mrg import MRG_RandomStreams
    srng = srng or MRG_RandomStreams(np.random.randint(1, 2147462579))
    index_storage = index_storage or [False] * len(params)
    dz = _floatx(weight_grid_step(H, N))
    top = 2 ** int(N)
    updates = OrderedDict()
    for param, increment, as_index in zip(params, increments, index_storage):
        ratio = increment / dz
        whole = T.sgn(ratio) * T.floor(abs(ratio))
        prob = T.tanh(m * abs(ratio - whole))
        jump = srng.uniform(size=param.shape, dtype=theano.config.floatX) < prob
        steps = whole + T.sgn(ratio) * jump
        if as_index:
            new_index = T.clip(T.cast(param, theano.config.floatX) + steps, 0, top)
            updates[param] = T.cast(new_index, param.dtype)
        else:
            moved = param + steps * dz
            updates[param] = weight_state_index(moved, H, N) * dz - _floatx(H)
    return updates
