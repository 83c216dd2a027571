"""Forward values, pseudo-gradients and DST statistics of discrete_ops."""
from __future__ import division

import gxnor_compat  # noqa: F401
import numpy as np
import pytest
import theano
import theano.tensor as T
from theano.sandbox.rng_mrg import MRG_RandomStreams

import discrete_ops as ops

floatX = theano.config.floatX


def fx(values):
    return np.asarray(values, dtype=floatX)


def compile_value_and_grad(expression_of):
    x = T.vector()
    y = expression_of(x)
    return theano.function([x], [y, theano.grad(y.sum(), x)])


# ------------------------------------------------------------------ weight grid

@pytest.mark.parametrize('H, N, expected', [
    (1.0, 0, [-1, 1]),
    (1.0, 1, [-1, 0, 1]),
    (1.0, 2, [-1, -0.5, 0, 0.5, 1]),
    (0.5, 3, [-0.5, -0.375, -0.25, -0.125, 0, 0.125, 0.25, 0.375, 0.5]),
    (2.0, 1, [-2, 0, 2]),
])
def test_weight_grid_states(H, N, expected):
    assert ops.weight_grid(H, N).tolist() == expected
    assert ops.weight_grid_step(H, N) == expected[1] - expected[0]


@pytest.mark.parametrize('H, N', [(1.0, -1), (0.0, 1), (1.0, 1.5)])
def test_weight_grid_rejects_bad_parameters(H, N):
    with pytest.raises(ValueError):
        ops.weight_grid_step(H, N)


@pytest.mark.parametrize('H, N', [(1.0, 0), (1.0, 1), (1.0, 2), (0.5, 3)])
def test_quantize_weights_is_nearest_state_and_straight_through(H, N):
    rng = np.random.RandomState(N)
    w = fx(rng.uniform(-2 * H, 2 * H, size=2000))
    grid = ops.weight_grid(H, N)
    distance = np.abs(w[:, None] - grid[None, :])
    nearest = np.sort(distance, axis=1)
    w = w[nearest[:, 1] - nearest[:, 0] > 1e-4]  # ties are a matter of convention
    expected = grid[np.argmin(np.abs(w[:, None] - grid[None, :]), axis=1)]
    value, grad = compile_value_and_grad(lambda x: ops.quantize_weights(x, H, N))(w)
    assert np.array_equal(value, expected)
    assert np.array_equal(grad, (np.abs(w) <= H).astype(floatX))


def test_quantize_weights_known_values():
    value, _ = compile_value_and_grad(lambda x: ops.quantize_weights(x, 1.0, 1))(
        fx([-3, -0.7, -0.2, 0.2, 0.7, 3]))
    assert value.tolist() == [-1, -1, 0, 0, 1, 1]


# ------------------------------------------------------------------ activations

def reference_activation(x, act_N, r):
    """The staircase written directly from its definition."""
    if act_N == 0:
        return np.where(x >= 0, 1.0, -1.0)
    thresholds, step = ops.activation_thresholds(act_N, r)
    count = sum((np.abs(x) > t).astype(float) for t in thresholds)
    return np.sign(x) * count * step


def reference_window_derivative(x, act_N, r, a, window):
    thresholds, step = ops.activation_thresholds(act_N, r)
    centres = [0.0] if act_N == 0 else [s * t for t in thresholds for s in (1, -1)]
    total = np.zeros_like(x, dtype=float)
    for c in centres:
        u = np.abs(x - c)
        if window == 'rect':
            total += np.where(u <= a, step / (2 * a), 0.0)
        else:
            total += np.where(u <= a, step / a * (1 - u / a), 0.0)
    return total


def test_ternary_activation_hand_values():
    x = fx([-2.5, -1.5, -1.0, -0.99, 0.0, 0.5, 1.0, 1.0001, 7.0])
    value, grad = compile_value_and_grad(lambda v: ops.ternary_activation(v, r=1.0, a=0.5))(x)
    assert value.tolist() == [-1, -1, 0, 0, 0, 0, 0, 1, 1]
    assert not np.signbit(value[value == 0]).any()  # no -0.0: the sign bit is data
    # window |x| in [0.5, 1.5], height 1/(2a) = 1 (the authors' values)
    assert grad.tolist() == [0, 1, 1, 1, 0, 1, 1, 1, 0]


def test_binary_activation_is_sign_with_ste():
    x = fx([-2.0, -0.5, 0.0, 0.5, 1.5])
    value, grad = compile_value_and_grad(
        lambda v: ops.discrete_activation(v, act_N=0, a=1.0))(x)
    assert value.tolist() == [-1, -1, 1, 1, 1]
    assert grad.tolist() == [0, 1, 1, 1, 0]  # BNN's straight-through 1{|x| <= 1}


def test_five_level_activation_hand_values():
    # act_N = 2: levels {-1, -0.5, 0, 0.5, 1}, thresholds r and r + 0.5
    x = fx([-2.0, -1.2, -0.9, 0.0, 0.95, 1.2, 1.45, 1.6])
    value, _ = compile_value_and_grad(lambda v: ops.discrete_activation(v, act_N=2, r=1.0))(x)
    assert value.tolist() == [-1, -0.5, 0, 0, 0, 0.5, 0.5, 1]


@pytest.mark.parametrize('act_N, r, a, window', [
    (0, 1.0, 1.0, 'rect'), (0, 1.0, 0.5, 'tri'),
    (1, 1.0, 0.5, 'rect'), (1, 0.5, 0.25, 'tri'), (1, 1.7, 1.0, 'rect'),
    (2, 1.0, 0.5, 'rect'), (2, 0.5, 0.25, 'tri'),
    (3, 1.0, 0.5, 'rect'), (3, 1.7, 0.5, 'tri'),
])
def test_activation_forward_and_window_match_definition(act_N, r, a, window):
    x = fx(np.linspace(-4, 4, 4001))
    value, grad = compile_value_and_grad(
        lambda v: ops.discrete_activation(v, act_N=act_N, r=r, a=a, window=window))(x)
    assert np.array_equal(value, reference_activation(x, act_N, r).astype(floatX))
    thresholds, _ = ops.activation_thresholds(act_N, r)
    edges = [s * t + d for t in thresholds for s in (1, -1) for d in (a, -a)]
    away = np.min(np.abs(x[:, None] - np.array(edges)[None, :]), axis=1) > 1e-3
    expected = reference_window_derivative(x, act_N, r, a, window)
    assert np.allclose(grad[away], expected[away], atol=1e-5)


@pytest.mark.parametrize('act_N, window', [(0, 'rect'), (1, 'rect'), (1, 'tri'), (2, 'tri')])
def test_window_area_equals_total_jump(act_N, window):
    x = fx(np.linspace(-5, 5, 200001))
    _, grad = compile_value_and_grad(
        lambda v: ops.discrete_activation(v, act_N=act_N, r=1.0, a=0.5, window=window))(x)
    area = np.trapz(grad.astype(float), x.astype(float))
    assert abs(area - 2.0) < 1e-3  # from -1 to +1


def test_triangular_window_peak_height():
    _, grad = compile_value_and_grad(
        lambda v: ops.discrete_activation(v, act_N=1, r=1.0, a=0.5, window='tri'))(
        fx([1.0, -1.0, 1.25, 0.5]))
    assert np.allclose(grad, [2.0, 2.0, 1.0, 0.0])  # step / a at the threshold


@pytest.mark.parametrize('kwargs', [dict(act_N=-1), dict(r=0.0), dict(a=0.0),
                                    dict(window='gauss')])
def test_activation_rejects_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        ops.discrete_activation(T.vector(), **kwargs)


# ------------------------------------------------------------------ DST

def dst_function(H, N, m=3.0, index=False, seed=42, init=None, size=1000):
    if index:
        w = theano.shared(np.asarray(init, dtype=np.int8))
    else:
        w = theano.shared(fx(init))
    increment = T.vector()
    updates = ops.dst_updates([w], [increment], H, N, m=m, srng=MRG_RandomStreams(seed),
                              index_storage=[index])
    return w, theano.function([increment], [], updates=updates)


@pytest.mark.parametrize('H, N', [(1.0, 0), (1.0, 1), (1.0, 2), (0.5, 3), (2.0, 1)])
def test_dst_keeps_weights_exactly_on_grid(H, N):
    rng = np.random.RandomState(0)
    grid = ops.weight_grid(H, N)
    w, step = dst_function(H, N, init=rng.choice(grid, size=5000))
    for scale in [0.01, 0.3, 1.0, 5.0] * 5:
        step(fx(rng.standard_normal(5000) * scale * H))
        values = w.get_value()
        assert np.isin(values, grid).all()
        assert values.min() >= -H and values.max() <= H


def test_dst_on_int8_indices_stays_in_range():
    rng = np.random.RandomState(1)
    w, step = dst_function(1.0, 2, index=True, init=rng.randint(0, 5, size=3000))
    for scale in [0.1, 0.5, 2.0, 10.0] * 5:
        step(fx(rng.standard_normal(3000) * scale))
        values = w.get_value()
        assert values.dtype == np.int8 and values.min() >= 0 and values.max() <= 4


def test_dst_with_zero_increment_snaps_to_nearest_state():
    init = fx([-0.8, -0.3, 0.2, 0.45, 0.55, 0.9])
    w, step = dst_function(1.0, 1, init=init)
    step(fx(np.zeros(6)))
    assert w.get_value().tolist() == [-1, 0, 0, 0, 1, 1]


@pytest.mark.parametrize('increment, m', [(0.1, 3.0), (0.3, 3.0), (-0.6, 3.0), (1.3, 3.0),
                                          (-2.25, 3.0), (0.3, 1.0)])
def test_dst_extra_step_frequency_is_tanh(increment, m):
    """k = trunc(D/dz) whole steps always, one more with probability tanh(m|v|).

    With n = 200,000 weights the frequency's standard deviation is at most
    0.0011; the tolerance is 5 of them.
    """
    H, N, n = 2.0, 3, 200000  # dz = 0.5: room for 4 steps either way from 0
    dz = ops.weight_grid_step(H, N)
    w, step = dst_function(H, N, m=m, init=np.zeros(n), seed=7)
    step(fx(np.full(n, increment * dz)))
    moved = np.round(w.get_value() / dz).astype(int)
    whole = int(np.trunc(increment))
    extra = int(np.sign(increment))
    assert set(np.unique(moved)) <= {whole, whole + extra}
    frequency = np.mean(moved == whole + extra)
    p = np.tanh(m * abs(increment - whole))
    assert abs(frequency - p) < 5 * np.sqrt(p * (1 - p) / n)


def test_dst_whole_steps_are_deterministic():
    H, N = 2.0, 3
    dz = ops.weight_grid_step(H, N)
    w, step = dst_function(H, N, init=np.zeros(1000))
    step(fx(np.full(1000, 2 * dz)))
    assert np.all(w.get_value() == 2 * dz)


def test_sgd_increments_have_no_state_and_adam_matches_lasagne():
    import lasagne
    g = T.vector()
    increments, state = ops.sgd_increments([g], 0.5)
    assert len(state) == 0
    f = theano.function([g], increments[0])
    assert np.allclose(f(fx([1.0, -2.0])), [-0.5, 1.0])

    # Adam: the same trajectory as lasagne.updates.adam on a quadratic.
    start = fx([1.0, -2.0, 3.0])
    ours, theirs = theano.shared(start.copy()), theano.shared(start.copy())
    loss_ours, loss_theirs = T.sum(ours ** 2), T.sum(theirs ** 2)
    (inc,), state = ops.adam_increments(theano.grad(loss_ours, [ours]), 0.01, shapes=[(3,)])
    state[ours] = ours + inc
    step_ours = theano.function([], [], updates=state)
    step_theirs = theano.function([], [], updates=lasagne.updates.adam(
        loss_theirs, [theirs], learning_rate=0.01))
    for _ in range(5):
        step_ours()
        step_theirs()
    assert np.allclose(ours.get_value(), theirs.get_value(), atol=1e-6)


def test_rms_increments_follow_their_formula_per_layer_and_per_unit():
    g = T.matrix()
    rng = np.random.RandomState(3)
    steps = [fx(rng.randn(4, 3) * scale) for scale in (1.0, 0.01, 0.5)]
    for axes, kept in ((None, None), ([(0,)], 1)):
        (inc,), state = ops.rms_increments([g], 0.1, shapes=[(4, 3)], axes=axes, beta=0.9)
        f = theano.function([g], inc, updates=state)
        v = np.zeros(3 if kept else 1)
        for t, step in enumerate(steps, 1):
            mean_square = (step ** 2).mean(axis=0) if kept else np.array([(step ** 2).mean()])
            v = 0.9 * v + 0.1 * mean_square
            expected = -0.1 * step / (np.sqrt(v / (1 - 0.9 ** t)) + 1e-8)
            assert np.allclose(f(step), expected, rtol=1e-5)
        sizes = sorted(var.get_value().size for var in state)
        assert sizes == ([1, 1] if kept is None else [1, 3])   # time step and the RMS
    # The first step of any size moves by about lr per weight: the scale is gone.
    (inc,), state = ops.rms_increments([g], 0.1, shapes=[(4, 3)])
    f = theano.function([g], inc, updates=state)
    out = f(fx(np.full((4, 3), 1e-4)))
    assert np.allclose(out, -0.1, rtol=1e-3)


def test_int8_momentum_increments_follow_their_formula_with_unbiased_rounding():
    """q_t = round(beta q + (1 - beta) res u) stochastically, D = -lr q / (res (1 - beta^t))."""
    g = T.matrix()
    (inc,), state, (q_new,) = ops.int8_momentum_increments(
        [g], 0.1, [(200, 100)], [1], MRG_RandomStreams(5), beta=0.9, rms_beta=0.99)
    q_var = [v for v in state if v.dtype == 'int8'][0]
    f = theano.function([g], [inc, q_new], updates=state)
    rng = np.random.RandomState(4)
    q, v = np.zeros((200, 100)), 0.0
    for t, scale in enumerate((1e-3, 5e-4, 2e-3), 1):
        step = fx(rng.randn(200, 100) * scale)
        v = 0.99 * v + 0.01 * (step.astype(np.float64) ** 2).mean()
        target = 0.9 * q + 0.1 * 16 * step / np.sqrt(v / (1 - 0.99 ** t))  # ternary: res 16
        out, returned = f(step)
        q = q_var.get_value().astype(np.float64)
        assert np.array_equal(q, returned)
        # Rounded down or up, never further; unbiased on average.
        assert np.all((q == np.floor(target)) | (q == np.ceil(target)) |
                      (np.abs(q - target) < 1e-4)), t
        assert abs((q - target).mean()) < 0.02
        assert np.allclose(out, -0.1 * q / (16 * (1 - 0.9 ** t)), rtol=1e-5)
    # One huge gradient per sign (u in the hundreds) saturates at +-31 (6 bits), not beyond.
    outliers = np.zeros((200, 100))
    outliers[0, 0], outliers[1, 1] = 1e6, -1e6
    f(fx(outliers))
    assert q_var.get_value()[0, 0] == 31 and q_var.get_value()[1, 1] == -31
    sizes = sorted((str(var.dtype), var.get_value().size) for var in state)
    assert sizes == [(floatX, 1), (floatX, 1), ('int8', 200 * 100)]


def test_state_byte_packs_index_and_signed_momentum_exactly():
    assert [ops.momentum_field(N) for N in range(4)] == [(7, 32), (6, 16), (5, 8), (4, 4)]
    with pytest.raises(ValueError):
        ops.momentum_field(4)
    index, momentum = T.bvector(), T.bvector()
    for N in range(4):
        top, limit = 2 ** N, 2 ** (6 - N) - 1
        idx = np.tile(np.arange(top + 1), 2 * limit + 1).astype(np.int8)
        mom = np.repeat(np.arange(-limit, limit + 1), top + 1).astype(np.int8)
        byte = theano.function([index, momentum], ops.join_state_byte(index, momentum, N))
        split = theano.function([index], list(ops.split_state_byte(index, N)))
        packed = byte(idx, mom)
        assert packed.dtype == np.int8
        back_index, back_momentum = split(packed)
        assert np.array_equal(back_index, idx) and np.array_equal(back_momentum, mom), N
