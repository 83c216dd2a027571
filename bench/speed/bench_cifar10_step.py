#!/usr/bin/env python
"""Where the time of a CIFAR-10 training step goes on the CPU, and images/s
before and after keeping freed memory (:func:`machine.keep_freed_memory`),
side by side in one run.

Compiles ``cifar10.py``'s GXNOR-Net training step (the script's own network,
``--widths`` and batch, through ``tools/gpu_step.build_network`` and
``binary_net.compile_functions``, as ``cifar10.py`` compiles it) and runs it
as ``binary_net.train_epoch`` does: random uint8 images, augmented (random
crops and flips, ``cifar10.py``'s default), scaled to floats, one step with
LR 0 (the snap) and then ``--steps`` timed steps at ``cifar10.py``'s LR::

    python bench/speed/bench_cifar10_step.py --out bench/results/cifar10-step.json

Each run is its own process (a variant changes process-wide malloc settings);
the two variants run in turns, the order swapped every round (AB BA AB ...),
so that a machine whose load drifts slows both alike; the file keeps every
run, the median per variant and the per-round ratios.  Then one run per
variant under Theano's profiler splits the step into parts (op time as
Theano's profiler counts it; the profiler runs the slower Stack VM to record
shapes, so only its shares and the split matter, not its speed):

- ``conv_forward``, ``conv_grad_inputs``, ``conv_grad_weights``: the six
  convolutions (``CorrMM`` and its two gradients)
- ``dense``: the two dense layers' products, forward and backward
- ``pooling``: max-pooling and its gradient
- ``batch_norm``: sums over the batch (batch statistics, gradients of the
  batch-norm parameters and biases) and the other elementwise loops over
  activations (normalising, the biases before batch norm, their gradients;
  the loss, a (batch, 10) loop, counts here too)
- ``activation``: elementwise loops over activations that compare, or read a
  comparison's mask: the ternary staircase and its derivative window (where
  Theano fused batch-norm arithmetic into such a loop, it counts here)
- ``dst``: every op on arrays of a discrete weight's shape besides the
  gradient's product: Adam's moments and increments, the transition, the snap
- ``random``: DST's uniform random numbers (``MRG_RandomStreams``)
- ``other``: per-channel arithmetic (batch-norm statistics, Adam on biases
  and batch-norm parameters, running averages), shapes, reshapes
- ``theano_overhead``: the function call minus its ops (the VM)
- ``host_input``: augmenting and scaling the batch and the targets (NumPy)

The parts add up to the measured step time up to the Python loop around the
call (``unaccounted_share``, a few thousandths).
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import platform
import subprocess
import sys
import time

if not __package__:  # python bench/speed/x.py: the project root on sys.path
    sys.path.insert(0, os.path.abspath(os.path.join(__file__, '..', '..', '..')))
from bench import common  # noqa: E402
from bench.common import ROOT, cpu_count, cpu_name, load_average, write_json  # noqa: E402
from bench.speed.bench_cpu_step import _shapes, median  # noqa: E402  (the MNIST step bench)

__all__ = ['CATEGORIES', 'VARIANTS', 'categorize', 'scalar_ops', 'main']

CPU_PROTOCOL_WIDTHS = '32,64,128,256'
# (key, name, keep_freed_memory): glibc's default, then what binary_net.run does.
VARIANTS = [('before', 'before: glibc returns freed memory to the system (its default)', False),
            ('after', 'after: machine.keep_freed_memory() (binary_net.run calls it)', True)]
OP_CATEGORIES = ('conv_forward', 'conv_grad_inputs', 'conv_grad_weights', 'dense', 'pooling',
                 'batch_norm', 'activation', 'dst', 'random', 'other')
CATEGORIES = OP_CATEGORIES + ('theano_overhead', 'host_input')
# Scalar ops of a loop that compares: the staircase and its window.
COMPARISONS = frozenset(['GT', 'GE', 'LT', 'LE', 'EQ', 'NEQ', 'Switch', 'AND', 'OR', 'XOR',
                         'Invert'])
REDUCTIONS = ('Sum', 'CAReduce', 'CAReduceDtype', 'Prod', 'Mean', 'MaxAndArgmax', 'Max')
DENSE_OPS = ('Dot', 'Dot22', 'Dot22Scalar', 'Gemm', 'Gemv', 'Ger', 'CGemv', 'CGer',
             'BatchedDot')


def scalar_ops(op):
    """Names of the scalar ops an Elemwise computes (inside fused Composites too)."""
    scalar = getattr(op, 'scalar_op', None)
    if scalar is None:
        return frozenset()
    names, todo = set(), [scalar]
    while todo:
        current = todo.pop()
        inner = getattr(current, 'outputs', None)
        if type(current).__name__ == 'Composite' and inner is not None:
            from theano.gof.graph import io_toposort
            todo.extend(node.op for node in io_toposort(current.inputs, current.outputs))
        else:
            names.add(type(current).__name__)
    return frozenset(names)


def categorize(op_name, scalar, in_shapes, out_shapes, in_dtypes, batch, weight_shapes):
    """Part of the step (one of ``OP_CATEGORIES``) an op belongs to.

    ``scalar``: its :func:`scalar_ops`; shapes as tuples (a batch dimension
    first, or a parameter's shape); ``weight_shapes``: the discrete weights'.

    Examples
    --------
    >>> categorize('CorrMM_gradWeights', (), [(8, 4, 32, 32)], [(4, 4, 3, 3)], [], 8, [])
    'conv_grad_weights'
    >>> categorize('Elemwise', {'Mul', 'Add'}, [(4, 4, 3, 3)], [(4, 4, 3, 3)], [], 8,
    ...            [(4, 4, 3, 3)])
    'dst'
    """
    def batched(shapes):
        return any(len(s) >= 2 and s[0] == batch for s in shapes)
    if 'gradInputs' in op_name or 'GradInputs' in op_name:
        return 'conv_grad_inputs'
    if 'gradWeights' in op_name or 'GradWeights' in op_name:
        return 'conv_grad_weights'
    if op_name.startswith(('CorrMM', 'Conv', 'AbstractConv')):
        return 'conv_forward'
    if op_name in DENSE_OPS:
        return 'dense'
    if 'Pool' in op_name or 'DownsampleFactorMax' in op_name:
        return 'pooling'
    if op_name.startswith('mrg_uniform'):
        return 'random'
    if any(tuple(s) in weight_shapes for s in out_shapes):
        return 'dst'
    if op_name in REDUCTIONS and batched(in_shapes):
        return 'batch_norm'
    if op_name == 'Elemwise' and (batched(in_shapes) or batched(out_shapes)):
        if COMPARISONS & set(scalar) or 'bool' in in_dtypes:
            return 'activation'
        return 'batch_norm'
    return 'other'


def _profile_parts(train_fn, stats_before, batch, weight_shapes, steps):
    """Seconds per step of each op category, from the profile's growth since
    ``stats_before`` = (apply times, call time)."""
    stats = train_fn.profile
    apply_before, call_before = stats_before
    parts = dict((c, 0.0) for c in OP_CATEGORIES)
    ops = {}
    for key, spent in stats.apply_time.items():
        spent -= apply_before.get(key, 0.0)
        node = key[1] if isinstance(key, tuple) else key   # (fgraph, node) on Theano 1.0
        name = type(node.op).__name__
        part = categorize(name, scalar_ops(node.op), _shapes(stats, node.inputs),
                          _shapes(stats, node.outputs),
                          [str(getattr(v, 'dtype', '')) for v in node.inputs], batch,
                          weight_shapes)
        parts[part] += spent / steps
        label = '%s: %s' % (part, str(node.op)[:90])
        ops[label] = ops.get(label, 0.0) + spent / steps
    overhead = (stats.fct_call_time - call_before) / steps - sum(parts.values())
    top = sorted(ops.items(), key=lambda kv: -kv[1])[:15]
    return parts, overhead, [dict(op=k, seconds_per_step=v) for k, v in top]


def _child(widths, batch, steps, profile, keep):
    import resource
    import gxnor_compat  # noqa: F401  (Theano flags, before theano)
    import numpy as np
    import theano
    if profile:
        theano.config.profile = True
        theano.config.profile_memory = True   # records the shapes of what each op computes
    import binary_net
    import datasets
    import gxnor_layers
    import machine
    gpu_step = common.tool('gpu_step')
    kept = machine.keep_freed_memory() if keep else False   # before compiling, as run()
    network, input_var, args = gpu_step.build_network(
        'cifar10', ['--batch-size', str(batch), '--widths', widths])
    started = time.time()
    train_fn, _, _ = binary_net.compile_functions_for(network, input_var, args, evaluation=False)
    compile_seconds = time.time() - started     # the training function only
    weight_shapes = set(tuple(layer.W.get_value().shape)
                        for layer in gxnor_layers.discrete_layers(network))
    # A weight shape (fc2: (FC, 10)) that an activation (batch, 10) could share.
    ambiguous = any(shape[0] == batch for shape in weight_shapes)
    floatx = theano.config.floatX
    rng = np.random.RandomState(0)
    losses, host, call, wall = [], 0.0, 0.0, 0.0
    for step in range(steps + 1):
        images = rng.randint(0, 256, size=(batch, 3, 32, 32)).astype(np.uint8)
        labels = rng.randint(0, 10, size=batch)
        lr = np.asarray(0.0 if step == 0 else args.lr_start, floatx)
        if step == 1:   # after the snap step (LR 0): the timed steps
            usage = resource.getrusage(resource.RUSAGE_SELF)
            if profile:
                stats_before = (dict(train_fn.profile.apply_time),
                                train_fn.profile.fct_call_time)
        t0 = time.time()
        xb = datasets.random_crop_flip(images, rng) if args.augment else images
        X, y = datasets.to_float(xb, floatx), binary_net.pm1_targets(labels, 10)
        t1 = time.time()
        losses.append(float(train_fn(X, y, lr)))
        t2 = time.time()
        if step:
            host, call, wall = host + t1 - t0, call + t2 - t1, wall + t2 - t0
    end = resource.getrusage(resource.RUSAGE_SELF)
    result = dict(widths=widths, batch_size=batch, steps=steps, keep_freed_memory=kept,
                  ambiguous_shapes=ambiguous,
                  images_per_second=batch * steps / wall,
                  train_fn_images_per_second=batch * steps / call,
                  seconds_per_step=wall / steps, host_seconds_per_step=host / steps,
                  user_seconds_per_step=(end.ru_utime - usage.ru_utime) / steps,
                  system_seconds_per_step=(end.ru_stime - usage.ru_stime) / steps,
                  page_faults_per_step=(end.ru_minflt - usage.ru_minflt) / steps,
                  max_rss_mb=end.ru_maxrss / 1024.0, losses=losses,
                  compile_seconds=compile_seconds, openmp=bool(theano.config.openmp),
                  theano=theano.__version__, load_average=load_average())
    if profile:
        parts, overhead, top = _profile_parts(train_fn, stats_before, batch, weight_shapes,
                                              steps)
        parts['theano_overhead'] = overhead
        parts['host_input'] = host / steps
        total = wall / steps
        result['profile'] = dict(
            seconds_per_step=total,
            categories=dict((c, dict(seconds_per_step=parts[c], share=parts[c] / total))
                            for c in CATEGORIES),
            unaccounted_share=(total - sum(parts.values())) / total,
            top_ops=top,
            float64_ops=sorted(set(str(node.op)[:90] for node in train_fn.maker.fgraph.apply_nodes
                                   if any(getattr(v, 'dtype', '') == 'float64'
                                          for v in node.outputs))))
        import theano.compile.profiling as profiling
        del profiling._atexit_print_list[:]   # no profile summary at exit: the table is ours
    print('RESULT ' + json.dumps(result))


def _run(widths, batch, steps, profile, keep):
    command = [sys.executable, os.path.abspath(__file__), '--child', '--widths', widths,
               '--batch-size', str(batch), '--steps', str(steps)]
    command += (['--profile'] if profile else []) + (['--keep'] if keep else [])
    env = dict(os.environ)
    env['THEANO_FLAGS'] = ','.join(f for f in [env.get('THEANO_FLAGS', ''), 'device=cpu'] if f)
    output = subprocess.check_output(command, env=env, cwd=ROOT).decode('utf-8', 'replace')
    for line in output.splitlines():
        if line.startswith('RESULT '):
            return json.loads(line[len('RESULT '):])
    raise RuntimeError('no result from %s' % ' '.join(command))


def _each(values, count, what):
    if len(values) == 1:
        return values * count
    if len(values) != count:
        raise SystemExit('error: give one %s or one per --widths (%d)' % (what, count))
    return values


def _table(profile):
    lines = ['  %-18s %9s %7s' % ('part', 's/step', 'share')]
    for c in CATEGORIES:
        part = profile['categories'][c]
        lines.append('  %-18s %9.4f %6.1f%%' % (c, part['seconds_per_step'], 100 * part['share']))
    lines.append('  %-18s %9.4f %6.1f%%' % ('(unaccounted)', profile['unaccounted_share'] *
                                             profile['seconds_per_step'],
                                             100 * profile['unaccounted_share']))
    return '\n'.join(lines)


def _setting(widths, batch, steps, rounds, profile_variants, profile_steps):
    variants = [v for v in VARIANTS]
    timed = dict((key, []) for key, _, _ in variants)
    ratios = []
    for r in range(rounds):
        order = variants if r % 2 == 0 else variants[::-1]
        for key, name, keep in order:
            run = _run(widths, batch, steps, False, keep)
            run.update(round=r + 1, position=order.index((key, name, keep)) + 1)
            timed[key].append(run)
            print('%s b%d %-70s round %d: %6.1f images/s (%d page faults, %.3f s system '
                  'per step)' % (widths, batch, name, r + 1, run['images_per_second'],
                                 run['page_faults_per_step'], run['system_seconds_per_step']))
            sys.stdout.flush()
        ratios.append(timed['after'][-1]['images_per_second'] /
                      timed['before'][-1]['images_per_second'])
    result = dict(widths=widths, batch_size=batch, steps=steps, rounds=rounds, variants={})
    for key, name, keep in variants:
        runs = timed[key]
        summary = dict(name=name, keep_freed_memory=keep, runs=runs)
        if runs:
            for field in ('images_per_second', 'train_fn_images_per_second',
                          'page_faults_per_step', 'system_seconds_per_step',
                          'user_seconds_per_step', 'max_rss_mb'):
                summary[field] = median([run[field] for run in runs])
        result['variants'][key] = summary
    if rounds:
        before, after = result['variants']['before'], result['variants']['after']
        result['ratios_after_over_before'] = ratios
        result['speedup_median_of_ratios'] = median(ratios)
        result['speedup_of_medians'] = after['images_per_second'] / before['images_per_second']
        result['identical_losses'] = all(a['losses'] == b['losses'] for a, b in
                                         zip(timed['before'], timed['after']))
        print('%s b%d: median %.1f -> %.1f images/s, median ratio %.3f, losses %s'
              % (widths, batch, before['images_per_second'], after['images_per_second'],
                 result['speedup_median_of_ratios'],
                 'identical' if result['identical_losses'] else 'DIFFER'))
    for key, name, keep in variants:
        if key not in profile_variants:
            continue
        run = _run(widths, batch, profile_steps, True, keep)
        result['variants'][key]['profiled_run'] = run
        print('%s b%d %s, Theano profiler, %d steps (%.2f s/step):\n%s'
              % (widths, batch, name, profile_steps, run['profile']['seconds_per_step'],
                 _table(run['profile'])))
        sys.stdout.flush()
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--out', help='JSON file to write')
    p.add_argument('--widths', nargs='+', default=[CPU_PROTOCOL_WIDTHS],
                   help="cifar10.py's --widths, one setting each (the paper: 128,256,512,1024)")
    p.add_argument('--batch-size', type=int, default=100)
    p.add_argument('--steps', type=int, nargs='+', default=[10],
                   help='timed steps per run (one, or one per --widths)')
    p.add_argument('--rounds', type=int, nargs='+', default=[5],
                   help='timed runs per variant (one, or one per --widths); 0: profile only')
    p.add_argument('--profile-steps', type=int, nargs='+', default=[4],
                   help='steps of the profiled run (one, or one per --widths)')
    p.add_argument('--profile-variants', default='before,after',
                   help='variants profiled, of: before, after')
    p.add_argument('--machine', default='', help='what ran it, for the file')
    p.add_argument('--note', default='', help='a remark for the file (the machine\'s load...)')
    p.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--profile', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--keep', action='store_true', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        _child(args.widths[0], args.batch_size, args.steps[0], args.profile, args.keep)
        return 0
    if not args.out:
        p.error('--out is required')
    count = len(args.widths)
    steps = _each(args.steps, count, '--steps')
    rounds = _each(args.rounds, count, '--rounds')
    profile_steps = _each(args.profile_steps, count, '--profile-steps')
    profile_variants = [v.strip() for v in args.profile_variants.split(',') if v.strip()]
    load_start, started = load_average(), time.time()
    settings = [_setting(w, args.batch_size, s, r, profile_variants, ps)
                for w, s, r, ps in zip(args.widths, steps, rounds, profile_steps)]
    summary = dict(
        script='cifar10', method='gxnor', batch_size=args.batch_size,
        date=time.strftime('%Y-%m-%d'), machine=args.machine or cpu_name(), cpus=cpu_count(),
        python=platform.python_version(), theano_flags=os.environ.get('THEANO_FLAGS', ''),
        niceness=os.nice(0) if hasattr(os, 'nice') else None,
        command=common.command_line(__file__, argv),
        load_average=dict(start=load_start, end=load_average()),
        minutes=(time.time() - started) / 60.0,
        note=args.note, variants=[dict(key=k, name=n, keep_freed_memory=keep)
                                  for k, n, keep in VARIANTS],
        settings=settings)
    write_json(args.out, summary)
    print('wrote %s' % args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
