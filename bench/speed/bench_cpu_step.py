#!/usr/bin/env python
"""Where the time of one MNIST training step goes on the CPU, and images/s
with and without the cheap speed-ups, side by side in one run.

Each variant (a set of Theano flags) runs in its own process: it compiles
``mnist.py``'s training step (GXNOR-Net, ``--batch-size``), times
``--steps`` steps on fixed random inputs after the LR-0 snap step, and
once more under Theano's profiler to split the step into parts::

    python bench/speed/bench_cpu_step.py --out bench/results/cpu-step.json

Variants run in turns (A B A B ...) so that drift of the machine hits
both alike; the file keeps every timing and the median per variant.  The
profiled run is slower than the timed ones (the profiler synchronises
every op); only its shares are reported.

``--quick`` (the tests) skips the timed runs: one profiled process per
variant, whose slowed images/s stands in for the timed ones.

Parts of the step, by op and by the shape of what it computes (a batch
dimension first, or a parameter's shape):

- ``conv_dense``: convolutions and dense products, forward and backward
- ``pooling``: max-pooling and its gradient
- ``batch_sums``: sums over the batch (batch-norm statistics, bias and
  batch-norm gradients)
- ``batch_elementwise``: elementwise work on activations (batch norm,
  staircase activations, their derivative windows)
- ``update``: elementwise work on parameters (Adam moments, the DST
  arithmetic, batch-norm parameter updates)
- ``random``: DST's uniform random numbers
- ``other``: everything else (reshapes, shapes)
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
from bench.common import ROOT  # noqa: E402

__all__ = ['VARIANTS', 'categorize', 'median', 'main']

# (name, Theano flags): Theano's own default, then what gxnor_compat sets.
VARIANTS = [('before: openmp off (Theano default)', 'openmp=False'),
            ('after: openmp on (gxnor_compat default)', 'openmp=True')]
PARTS = ('conv_dense', 'pooling', 'batch_sums', 'batch_elementwise', 'update',
         'random', 'other')


def categorize(op_name, in_shapes, out_shapes, batch):
    """Part of the step (one of ``PARTS``) an op belongs to.

    Examples
    --------
    >>> categorize('CorrMM_gradWeights', [(8, 1, 28, 28)], [(32, 1, 5, 5)], 8)
    'conv_dense'
    >>> categorize('Elemwise', [(32, 1, 5, 5)], [(32, 1, 5, 5)], 8)
    'update'
    """
    def batched(shapes):
        return any(isinstance(s, tuple) and len(s) >= 2 and s[0] == batch for s in shapes)
    if op_name.startswith(('CorrMM', 'Dot', 'Gemm', 'Gemv', 'Conv')):
        return 'conv_dense'
    if 'Pool' in op_name:
        return 'pooling'
    if op_name.startswith('mrg_uniform'):
        return 'random'
    if op_name in ('Sum', 'CAReduce', 'Mean') and batched(in_shapes):
        return 'batch_sums'
    if op_name in ('Elemwise', 'Sum', 'CAReduce'):
        return 'batch_elementwise' if batched(out_shapes) or batched(in_shapes) else 'update'
    return 'other'


def median(values):
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else 0.5 * (values[middle - 1] + values[middle])


def _shapes(stats, variables):
    found = [stats.variable_shape.get(v) for v in variables]
    return [tuple(s) if isinstance(s, (tuple, list)) else () for s in found]


def _child(batch, steps, profile, script):
    import gxnor_compat  # noqa: F401  (Theano flags, before theano)
    import theano
    gpu_step = common.tool('gpu_step')
    if profile:
        theano.config.profile = True
        theano.config.profile_memory = True  # records the shapes of what each op computes
    train_fn, _, _, shape = gpu_step.build_step(script, ['--batch-size', str(batch)])
    losses, seconds = gpu_step.run_steps(train_fn, shape, batch, steps, 0.01, seed=0)
    result = dict(images_per_second=batch * steps / seconds, seconds_per_step=seconds / steps,
                  loss=losses[-1], openmp=bool(theano.config.openmp))
    if profile:
        stats = train_fn.profile
        parts = dict((part, 0.0) for part in PARTS)
        ops = {}
        for node, spent in stats.apply_time.items():
            node = node[1] if isinstance(node, tuple) else node  # (fgraph, node) on 1.0
            name = type(node.op).__name__
            part = categorize(name, _shapes(stats, node.inputs), _shapes(stats, node.outputs),
                              batch)
            parts[part] += spent
            ops[name] = ops.get(name, 0.0) + spent
        total = sum(parts.values())
        result['profile_share'] = dict((k, v / total) for k, v in parts.items())
        result['profile_op_share'] = dict((k, v / total) for k, v in ops.items())
    print('RESULT ' + json.dumps(result))


def _run_variant(flags, batch, steps, profile, script):
    env = dict(os.environ)
    env['THEANO_FLAGS'] = ','.join(f for f in [env.get('THEANO_FLAGS', ''), 'device=cpu', flags]
                                   if f)
    command = [sys.executable, os.path.abspath(__file__), '--child', '--batch-size', str(batch),
               '--steps', str(steps), '--script', script] + (['--profile'] if profile else [])
    output = subprocess.check_output(command, env=env, cwd=ROOT).decode('utf-8', 'replace')
    for line in output.splitlines():
        if line.startswith('RESULT '):
            return json.loads(line[len('RESULT '):])
    raise RuntimeError('no result from %s' % ' '.join(command))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--out', help='JSON file to write')
    p.add_argument('--batch-size', type=int, default=1000)
    p.add_argument('--steps', type=int, default=20, help='timed steps per run')
    p.add_argument('--repeats', type=int, default=3, help='timed runs per variant')
    p.add_argument('--machine', default='', help='what ran it, for the file')
    p.add_argument('--quick', action='store_true',
                   help='one profiled run per variant, no timed runs: its images/s '
                   '(slowed by the profiler) stands for the timed ones; half the '
                   'processes, for the tests and a first look')
    p.add_argument('--script', default='mnist',
                   help='the dataset script whose GXNOR-Net training step is timed, as a '
                   'module name (the tests time tests/tiny_mnist.py\'s small network: the '
                   'same parts, compiled in a fraction of the time)')
    p.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--profile', action='store_true', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        _child(args.batch_size, args.steps, args.profile, args.script)
        return 0
    if not args.out:
        p.error('--out is required')
    variants = [dict(name=name, flags=flags, runs=[]) for name, flags in VARIANTS]
    for repeat in range(0 if args.quick else args.repeats):
        for variant in variants:
            run = _run_variant(variant['flags'], args.batch_size, args.steps, False, args.script)
            variant['runs'].append(run)
            print('%-42s run %d: %7.1f images/s' % (variant['name'], repeat + 1,
                                                    run['images_per_second']))
            sys.stdout.flush()
    for variant in variants:
        profiled = _run_variant(variant['flags'], args.batch_size,
                                args.steps if args.quick else max(3, args.steps // 4), True,
                                args.script)
        if args.quick:
            variant['runs'].append(dict((k, v) for k, v in profiled.items()
                                        if not k.startswith('profile_')))
        variant['profile_share'] = profiled['profile_share']
        variant['profile_op_share'] = profiled['profile_op_share']
        variant['images_per_second'] = median([r['images_per_second'] for r in variant['runs']])
        variant['openmp'] = variant['runs'][0]['openmp']
        print('%-42s median %7.1f images/s; profile: %s' % (
            variant['name'], variant['images_per_second'],
            ', '.join('%s %.0f%%' % (k, 100 * v) for k, v in
                      sorted(variant['profile_share'].items(), key=lambda kv: -kv[1]))))
    base = variants[0]['images_per_second']
    for variant in variants:
        variant['speedup'] = variant['images_per_second'] / base
    summary = dict(script=args.script, method='gxnor', batch_size=args.batch_size, steps=args.steps,
                   repeats=1 if args.quick else args.repeats, date=time.strftime('%Y-%m-%d'),
                   machine=args.machine or common.cpu_name(), cpus=common.cpu_count(),
                   python=platform.python_version(), command=common.command_line(__file__, argv),
                   variants=variants)
    if args.quick:
        summary['quick'] = True  # the runs are the profiled ones
    common.write_json(args.out, summary)
    print('wrote %s' % args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
