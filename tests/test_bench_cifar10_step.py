"""bench/speed/bench_cifar10_step.py: the parts of cifar10.py's training step, and
machine.keep_freed_memory, the speed-up it measures."""
import json
import platform

from bench.speed import bench_cifar10_step

# The parts add up to the measured step time up to the Python loop around the
# call; on a tiny network that loop weighs most (a few % measured), so 10%.
TOLERANCE = 0.10


def test_categorize_by_op_scalar_ops_and_shape():
    cat = bench_cifar10_step.categorize
    W = set([(4, 4, 3, 3), (64, 8), (8, 10)])
    batch = (6, 4, 32, 32)
    assert cat('CorrMM', (), [batch, (4, 4, 3, 3)], [batch], [], 6, W) == 'conv_forward'
    assert cat('CorrMM_gradInputs', (), [(4, 4, 3, 3), batch], [batch], [], 6, W) == \
        'conv_grad_inputs'
    assert cat('CorrMM_gradWeights', (), [batch, batch], [(4, 4, 3, 3)], [], 6, W) == \
        'conv_grad_weights'
    assert cat('Dot22Scalar', (), [(64, 6), (6, 8)], [(64, 8)], [], 6, W) == 'dense'
    assert cat('MaxPoolGrad', (), [batch], [batch], [], 6, W) == 'pooling'
    assert cat('mrg_uniform', (), [(6,)], [(6,), (4, 4, 3, 3)], [], 6, W) == 'random'
    # Adam and the transition, on a weight's shape
    assert cat('Elemwise', {'Mul', 'Switch'}, [(4, 4, 3, 3)], [(4, 4, 3, 3)], [], 6, W) == 'dst'
    assert cat('Sum', {'Add'}, [batch], [(4,)], [], 6, W) == 'batch_norm'
    assert cat('Elemwise', {'Sub', 'Sqr'}, [batch, (1, 4, 1, 1)], [batch], [], 6, W) == \
        'batch_norm'
    # the staircase (compares) and the window's mask times the gradient (reads a bool)
    assert cat('Elemwise', {'Switch', 'GT', 'Abs'}, [batch], [batch], [], 6, W) == 'activation'
    assert cat('Elemwise', {'Mul'}, [batch, batch], [batch], ['bool', 'float32'], 6, W) == \
        'activation'
    assert cat('Elemwise', {'Mul', 'Add'}, [(4,)], [(4,)], [], 6, W) == 'other'
    assert cat('Reshape', (), [(6, 4, 4, 4)], [(6, 64)], [], 6, W) == 'other'


def test_scalar_ops_look_inside_fused_loops():
    import theano
    import theano.tensor as T
    x = T.tensor4()
    f = theano.function([x], T.switch(T.gt(abs(x), 1), T.sgn(x), 0 * x) * 2)
    ops = set()
    for node in f.maker.fgraph.apply_nodes:
        ops |= bench_cifar10_step.scalar_ops(node.op)
    assert set(['GT', 'Abs', 'Switch']) <= ops


def test_tiny_profile_parts_add_up_to_the_step(tmp_path):
    out = str(tmp_path / 'step.json')
    # One profiled process, no timed rounds: one compile of the CIFAR-10 graph.
    assert bench_cifar10_step.main(['--out', out, '--widths', '4,4,4,8', '--batch-size', '6',
                                    '--steps', '2', '--rounds', '0', '--profile-steps', '2',
                                    '--profile-variants', 'after']) == 0
    with open(out) as handle:
        saved = json.load(handle)
    (setting,) = saved['settings']
    assert setting['widths'] == '4,4,4,8' and saved['load_average']['start'] is not None
    run = setting['variants']['after']['profiled_run']
    glibc = platform.system() == 'Linux' and platform.libc_ver()[0] == 'glibc'
    assert run['keep_freed_memory'] is glibc and not run['ambiguous_shapes']
    profile = run['profile']
    parts = profile['categories']
    assert set(parts) == set(bench_cifar10_step.CATEGORIES)
    total = sum(p['seconds_per_step'] for p in parts.values())
    assert abs(total - profile['seconds_per_step']) <= TOLERANCE * profile['seconds_per_step']
    assert abs(sum(p['share'] for p in parts.values()) + profile['unaccounted_share'] - 1) < 1e-9
    # every part of the GXNOR step is there
    for part in ('conv_forward', 'conv_grad_inputs', 'conv_grad_weights', 'dense', 'pooling',
                 'batch_norm', 'activation', 'dst', 'random', 'theano_overhead', 'host_input'):
        assert parts[part]['seconds_per_step'] > 0, part
    assert len(run['losses']) == 3 and all(loss > 0 for loss in run['losses'])
