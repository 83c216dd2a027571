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

The quantizers of the compared methods (BinaryConnect, BNN, XNOR-Net, ...)
are in :mod:`quantizers`.
"""
from __future__ import absolute_import, division

from collections import OrderedDict

import gxnor_compat  # noqa: F401  (sets Theano flags before the first import)
import numpy as np
import theano
import theano.tensor as T
from theano.gradient import zero_grad

__all__ = ['weight_grid_step', 'weight_grid', 'state_values', 'quantize_weights',
           'weight_state_index',
           'activation_thresholds', 'discrete_activation', 'ternary_activation',
           'sgd_increments', 'adam_increments', 'rms_increments', 'int8_momentum_increments',
           'momentum_field', 'split_state_byte', 'join_state_byte', 'dst_new_index',
           'dst_updates', 'UPDATES']

# The rules that give DST its increments D, by name (--update): each function's *_increments
# below; all but 'adam' keep no float state per weight.  binary_net.build_updates builds them.
UPDATES = ('adam', 'sgd', 'layer-rms', 'unit-rms', 'int8-momentum')


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


def state_values(index, H, N):
    """Weights of the states ``index`` (floats holding integers 0..2^N): i*dz - H."""
    return index * _floatx(weight_grid_step(H, N)) - _floatx(H)


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
    snapped = state_values(weight_state_index(w, H, N), H, N)
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
        # switch, not sgn(x) * 0, which is -0.0 for negative x
        forward = T.switch(T.gt(count, 0), T.sgn(x) * count * _floatx(step), _floatx(0.0))
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
    # A vector of one element, not a scalar: Theano's GPU backend keeps 0-d
    # shared variables on the host, which would put this arithmetic there.
    t_prev = theano.shared(_floatx([0.0]), name='adam_t')
    t = t_prev + 1
    lr_t = learning_rate * T.sqrt(one - beta2 ** t[0]) / (one - beta1 ** t[0])
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


def rms_increments(grads, learning_rate, shapes, axes=None, beta=0.99, epsilon=1e-8):
    """Gradients scaled by a running RMS kept per layer or per unit, not per weight.

    D = -lr * g / (sqrt(v_t / (1 - beta^t)) + epsilon), where
    v_t = beta * v_{t-1} + (1 - beta) * mean(g^2 over ``axes``): one float
    per layer (``axes`` None: all axes) or per output unit (e.g. (1, 2, 3)
    for a conv W (units, C, kh, kw), (0,) for a dense W (inputs, units)).
    Like Adam it makes the increment's size independent of the gradient's
    scale, which differs by orders of magnitude between layers and over
    training; unlike Adam it keeps no moment per weight, so DST with int8
    weight storage trains with one byte per weight plus these few floats.

    Parameters
    ----------
    grads : list of Theano expressions
    learning_rate : scalar
    shapes : list of tuples, each gradient's shape
    axes : list (one per gradient) of tuples of axes, or None (all axes of
        every gradient)
    beta, epsilon : float

    Returns
    -------
    (increments, state_updates)

    Examples
    --------
    >>> g = T.matrix()
    >>> (d,), state = rms_increments([g], 0.1, shapes=[(3, 2)], axes=[(0,)])
    >>> sorted(v.get_value().shape for v in state)   # one float per unit, and t
    [(1,), (2,)]
    """
    t_prev = theano.shared(_floatx([0.0]), name='rms_t')   # a vector: see adam_increments
    t = t_prev + 1
    axes = axes or [None] * len(grads)
    increments, state = [], OrderedDict()
    for g, shape, reduced in zip(grads, shapes, axes):
        scale, v_prev, v = _running_rms(g, shape, reduced, t, beta, epsilon)
        increments.append(-learning_rate * g / scale)
        state[v_prev] = v
    state[t_prev] = t
    return increments, state


def _running_rms(g, shape, reduced, t, beta, epsilon):
    """sqrt(v_t / (1 - beta^t)) + epsilon, broadcastable against ``g``, with
    v_t = beta * v_{t-1} + (1 - beta) * mean(g^2 over the axes ``reduced``
    (None: all)); returns (scale, v_{t-1} shared variable, v_t)."""
    one, beta, epsilon = _floatx(1.0), _floatx(beta), _floatx(epsilon)
    ndim = len(shape)
    reduced = tuple(range(ndim)) if reduced is None else tuple(reduced)
    kept = [i for i in range(ndim) if i not in reduced]
    v_prev = theano.shared(np.zeros([shape[i] for i in kept] or [1],
                                    dtype=theano.config.floatX), name='rms_v')
    mean_square = T.mean(T.sqr(g), axis=reduced)
    v = beta * v_prev + (one - beta) * (mean_square if kept else mean_square.dimshuffle('x'))
    pattern = [kept.index(i) if i in kept else 'x' for i in range(ndim)]
    scale = (T.sqrt(v / (one - beta ** t[0])) + epsilon)
    return (scale.dimshuffle(pattern) if kept else scale[0]), v_prev, v


def momentum_field(N):
    """(bits, resolution) of the int8-momentum beside an N-grid state index.

    An int8 byte holds the state index (0..2^N) in its N + 1 low bits and a
    signed momentum q in the other 7 - N bits: |q| <= 2^(6-N) - 1, in units
    of 1 / resolution = 2 / 2^(6-N) of the layer's RMS gradient: a range of
    about +-2, which bounds the increment at about 2 lr as Adam's m / sqrt(v)
    bounds its own; a finer unit would clip more, a coarser one adds
    rounding noise (measured: range +-4 and +-8 learned worse).  N = 1
    (ternary): 6 bits, |q| <= 31, resolution 16.

    >>> momentum_field(1)
    (6, 16)
    """
    N = int(N)
    if not 0 <= N <= 3:
        raise ValueError('int8-momentum keeps its momentum in the 7 - N spare bits of the '
                         'weight byte: N must be 0..3, got %d' % N)
    return 7 - N, 2 ** (5 - N)


def split_state_byte(byte, N):
    """(state index, momentum) of int8 bytes = momentum * 2^(N+1) + index.

    Both int8 expressions; Theano's mod and floor division round towards
    minus infinity, as NumPy's, so negative momenta decode exactly.
    """
    base = 2 ** (int(N) + 1)
    return T.mod(byte, base), byte // base


def join_state_byte(index, momentum, N):
    """The int8 byte of a state index and a momentum (see :func:`split_state_byte`)."""
    return T.cast(momentum * 2 ** (int(N) + 1) + index, 'int8')


def int8_momentum_increments(grads, learning_rate, shapes, Ns, srng, momenta=None, beta=0.9,
                             rms_beta=0.99, epsilon=1e-8):
    """Momentum of layer-RMS-scaled gradients, a few bits per weight, no float.

    With u = g / (sqrt(v_t / (1 - rms_beta^t)) + epsilon) the gradient over
    its running RMS per layer (v_t as in :func:`rms_increments`, axes None)
    and (bits, res) = :func:`momentum_field` (N) (ternary: 6 bits, res 16):
        q_t = clip(floor(beta * q_{t-1} + (1 - beta) * res * u + uniform),
                   -(2^(bits-1) - 1), 2^(bits-1) - 1)
        D = -lr * (q_t / res) / (1 - beta^t)
    q_t is an integer per weight; the stochastic rounding floor(x + uniform)
    keeps it unbiased.  Like Adam's first moment it averages the gradient's
    noise over about 1 / (1 - beta) steps, so DST moves a weight mostly where
    its gradient keeps its sign; unlike Adam it keeps no float per weight.
    q fits in the spare bits of an int8 weight byte (:func:`split_state_byte`),
    so with int8 weight storage DST trains with one byte per weight plus one
    float per layer and a time step.

    Parameters
    ----------
    grads : list of Theano expressions
    learning_rate : scalar
    shapes : list of tuples, each gradient's shape
    Ns : list of int, each layer's N (0..3): the width of its momentum
    srng : MRG_RandomStreams (the rounding's uniform numbers)
    momenta : list, optional
        Per gradient, the previous momentum q as an integer expression (the
        high bits of a weight byte), or None to keep q in an int8 shared
        variable of its own (updated through ``state_updates``).
    beta, rms_beta : float
        Decay of the momentum and of the per-layer mean square.
    epsilon : float

    Returns
    -------
    (increments, state_updates, new_momenta): ``new_momenta`` are the q_t
    (float expressions holding integers), to be written back where the
    ``momenta`` came from.

    Examples
    --------
    >>> from theano.sandbox.rng_mrg import MRG_RandomStreams
    >>> g = T.matrix()
    >>> (d,), state, (q,) = int8_momentum_increments([g], 0.1, [(3, 2)], [1],
    ...                                              MRG_RandomStreams(1))
    >>> sorted((str(v.dtype), v.get_value().shape) for v in state)[-1]   # q, 6 bits used
    ('int8', (3, 2))
    """
    one, beta = _floatx(1.0), _floatx(beta)
    t_prev = theano.shared(_floatx([0.0]), name='momentum8_t')   # a vector: see adam_increments
    t = t_prev + 1
    momentum_correction = one - beta ** t[0]
    momenta = momenta or [None] * len(grads)
    increments, state, new_momenta = [], OrderedDict(), []
    for g, shape, N, q_prev in zip(grads, shapes, Ns, momenta):
        bits, resolution = momentum_field(N)
        limit, resolution = 2 ** (bits - 1) - 1, _floatx(resolution)
        own = None
        if q_prev is None:
            own = q_prev = theano.shared(np.zeros(shape, dtype='int8'), name='momentum8_q')
        scale, v_prev, v = _running_rms(g, shape, None, t, rms_beta, epsilon)
        u = g / scale
        target = beta * T.cast(q_prev, theano.config.floatX) + (one - beta) * resolution * u
        noise = srng.uniform(size=g.shape, dtype=theano.config.floatX)
        q = T.clip(T.floor(target + noise), -limit, limit)
        increments.append(-learning_rate * q / (resolution * momentum_correction))
        new_momenta.append(q)
        state[v_prev] = v
        if own is not None:
            state[own] = T.cast(q, 'int8')
    state[t_prev] = t
    return increments, state, new_momenta


def _dst_steps(increment, H, N, m, srng, shape):
    """Whole grid steps of DST for ``increment``: k plus the random extra step."""
    ratio = increment / _floatx(weight_grid_step(H, N))
    whole = T.sgn(ratio) * T.floor(abs(ratio))
    prob = T.tanh(m * abs(ratio - whole))
    jump = srng.uniform(size=shape, dtype=theano.config.floatX) < prob
    return whole + T.sgn(ratio) * jump


def dst_new_index(index, increment, H, N, m, srng):
    """State indices 0..2^N (a float expression) after DST's transition
    (:func:`dst_updates`) of the integer expression ``index``."""
    steps = _dst_steps(increment, H, N, m, srng, index.shape)
    return T.clip(T.cast(index, theano.config.floatX) + steps, 0, 2 ** int(N))


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
    updates = OrderedDict()
    for param, increment, as_index in zip(params, increments, index_storage):
        if as_index:
            updates[param] = T.cast(dst_new_index(param, increment, H, N, m, srng), param.dtype)
        else:
            moved = param + _dst_steps(increment, H, N, m, srng, param.shape) * dz
            updates[param] = state_values(weight_state_index(moved, H, N), H, N)
    return updates

