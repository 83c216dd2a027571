#!/usr/bin/env python
"""Training throughput and trainable-state bytes: GXNOR-Net against full precision.

Builds the paper's MNIST network (mnist.py) in each configuration below,
times the same number of training minibatches for each, side by side in one
run, and counts the bytes of every variable a training step updates (weights,
optimizer moments; the random generator state is left out):

    python bench/speed/bench_training.py [--batch-size 100] [--batches 30] [--json FILE]

--json writes the table's numbers, the command, the date and the machine to
FILE (``make bench`` writes bench/results/training.json).

Uses the real MNIST images when found (--data-dir, $GXNOR_MNIST_DIR or
../shared/data/mnist), random images otherwise: the timing does not depend
on the pixel values.
"""
from __future__ import absolute_import, division, print_function

import argparse
import datetime
import os
import platform
import sys
import time

if not __package__:  # python bench/speed/x.py: the project root on sys.path
    sys.path.insert(0, os.path.abspath(os.path.join(__file__, '..', '..', '..')))

import gxnor_compat  # noqa: F401,E402
import lasagne  # noqa: E402
import numpy as np  # noqa: E402
import theano  # noqa: E402
import theano.tensor as T  # noqa: E402
from theano.sandbox.rng_mrg import MRG_RandomStreams  # noqa: E402

import binary_net  # noqa: E402
import datasets  # noqa: E402
import gxnor_layers  # noqa: E402
import mnist  # noqa: E402
import run_options  # noqa: E402
from bench import common  # noqa: E402

CONFIGS = [
    ('full precision (Adam)', ['--method', 'fp']),
    ('GXNOR, Adam-DST, float weights', []),
    ('GXNOR, Adam-DST, int8 weights', ['--weight-storage', 'int8']),
    ('GXNOR, SGD-DST, float weights', ['--update', 'sgd']),
    ('GXNOR, SGD-DST, int8 weights', ['--update', 'sgd', '--weight-storage', 'int8']),
    ('GXNOR, layer-RMS-DST, int8 weights', ['--update', 'layer-rms', '--weight-storage', 'int8']),
    ('GXNOR, unit-RMS-DST, int8 weights', ['--update', 'unit-rms', '--weight-storage', 'int8']),
    ('GXNOR, int8-momentum-DST, int8 weights', ['--update', 'int8-momentum',
                                                '--weight-storage', 'int8']),
]


def load_images(data_dir, count):
    folder = data_dir or os.environ.get('GXNOR_MNIST_DIR') or os.path.join(
        common.ROOT, os.pardir, 'shared', 'data', 'mnist')
    try:
        X, y = datasets.load_mnist(folder, download=False)['train']
        return X[:count], y[:count], 'real MNIST'
    except datasets.DataError:
        rng = np.random.RandomState(0)
        return (rng.randint(0, 256, (count, 1, 28, 28)).astype(np.uint8),
                rng.randint(0, 10, count).astype(np.int32), 'random images')


def state_bytes(network, state):
    """(bytes of weights, of their optimizer state, of everything else trained)."""
    discrete = gxnor_layers.discrete_layers(network)
    weights = [l.W for l in discrete] or [l.W for l in lasagne.layers.get_all_layers(network)
                                          if hasattr(l, 'W')]
    weight_shapes = [w.get_value().shape for w in weights]
    rng_state = [v for v in state if v.dtype == 'int32']
    moments = [v for v in state if v not in rng_state]
    weight_moments = [v for v in moments if v.get_value().shape in weight_shapes]
    others = [p for p in lasagne.layers.get_all_params(network) if p not in weights]
    others += [v for v in moments if v not in weight_moments]
    size = lambda vs: sum(v.get_value().nbytes for v in vs)  # noqa: E731
    return size(weights), size(weight_moments), size(others)


def configuration_bytes(flags, batch_size=100):
    """:func:`state_bytes` of a configuration, from its update graph, nothing compiled.

    The same numbers as a run's (they follow from the shapes); seconds instead
    of the minutes of compiling each training step.
    """
    args = run_options.parse_args(mnist.EXPERIMENT, flags + ['--batch-size', str(batch_size)])
    input_var = T.tensor4()
    network = mnist.build_network(input_var, args)
    srng = MRG_RandomStreams(1234)
    loss = binary_net.squared_hinge_loss(lasagne.layers.get_output(
        network, deterministic=False, srng=srng), T.matrix('targets'))
    updates = binary_net.build_updates(loss, network, T.scalar('lr', dtype=theano.config.floatX),
                                       update=args.update, srng=srng)
    params = set(lasagne.layers.get_all_params(network))
    # as binary_net.compile_functions's state, less the random generator's (int32, left out)
    return state_bytes(network, [v for v in updates if v not in params])


def measure(flags, X, y, batch_size, batches):
    args = run_options.parse_args(mnist.EXPERIMENT, flags + ['--batch-size', str(batch_size)])
    input_var = T.tensor4()
    network = mnist.build_network(input_var, args)
    train_fn, _, state = binary_net.compile_functions_for(network, input_var, args,
                                                         evaluation=False)
    lr = np.asarray(0.001, dtype=theano.config.floatX)
    inputs = [(datasets.to_float(X[i:i + batch_size]),
               binary_net.pm1_targets(y[i:i + batch_size], 10))
              for i in range(0, batches * batch_size, batch_size)]
    train_fn(inputs[0][0], inputs[0][1], lr)  # warm-up
    started = time.time()
    for xb, tb in inputs:
        train_fn(xb, tb, lr)
    return batches * batch_size / (time.time() - started), state_bytes(network, state)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch-size', type=int, default=100)
    parser.add_argument('--batches', type=int, default=30)
    parser.add_argument('--data-dir', default=None)
    parser.add_argument('--json', default=None, metavar='FILE',
                        help='also write the results to FILE')
    parser.add_argument('--machine', default='', help='what ran it, for the file')
    parser.add_argument('--only', default='', help='configuration names separated by ";" '
                        '(default: all; the first one run is the reference)')
    opts = parser.parse_args(argv)
    if opts.batch_size < 1 or opts.batches < 1:
        parser.error('--batch-size and --batches must be positive')
    return opts


def main(argv=None):
    opts = parse_args(argv)
    wanted = [name.strip() for name in opts.only.split(';') if name.strip()]
    configs = [c for c in CONFIGS if not wanted or c[0] in wanted]
    if wanted and len(configs) != len(wanted):
        sys.exit('error: unknown configuration in --only; known: %s'
                 % '; '.join(name for name, _ in CONFIGS))
    X, y, source = load_images(opts.data_dir, opts.batch_size * opts.batches)
    print('Theano %s, Python %s, floatX %s, blas.ldflags %r, %s, batch %d, %d batches each'
          % (theano.__version__, sys.version.split()[0], theano.config.floatX,
             theano.config.blas.ldflags, source, opts.batch_size, opts.batches))
    rows = []
    for name, flags in configs:
        speed, (weights, moments, others) = measure(flags, X, y, opts.batch_size,
                                                    opts.batches)
        rows.append(dict(configuration=name, flags=flags, images_per_second=speed,
                         weight_bytes=weights, weight_optimizer_bytes=moments,
                         other_trained_bytes=others))
        sys.stdout.flush()
    base = rows[0]
    base_bytes = base['weight_bytes'] + base['weight_optimizer_bytes']
    print('\n| configuration | images/s | vs %s | weight bytes | weight optimizer '
          'bytes | weights + their state vs it | other trained bytes |' % base['configuration'])
    print('|---|---:|---:|---:|---:|---:|---:|')
    for row in rows:
        print('| %s | %.0f | %.2fx | %s | %s | %.3fx | %s |'
              % (row['configuration'], row['images_per_second'],
                 row['images_per_second'] / base['images_per_second'],
                 format(row['weight_bytes'], ','), format(row['weight_optimizer_bytes'], ','),
                 (row['weight_bytes'] + row['weight_optimizer_bytes']) / base_bytes,
                 format(row['other_trained_bytes'], ',')))
    if opts.json:
        common.write_json(opts.json, dict(
            command=common.command_line(__file__, argv),
            date=datetime.date.today().isoformat(), machine=opts.machine or common.machine(),
            python=platform.python_version(), theano=theano.__version__, images=source,
            batch_size=opts.batch_size, batches=opts.batches, rows=rows))
    return rows


if __name__ == '__main__':
    main()
