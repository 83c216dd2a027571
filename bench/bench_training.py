#!/usr/bin/env python
"""Training throughput and trainable-state bytes: GXNOR-Net against full precision.

Builds the paper's MNIST network (mnist.py) in each configuration below,
times the same number of training minibatches for each, side by side in one
run, and counts the bytes of every variable a training step updates (weights,
optimizer moments; the random generator state is left out):

    python bench/bench_training.py [--batch-size 100] [--batches 30]

Uses the real MNIST images when found (--data-dir, $GXNOR_MNIST_DIR or
../shared/data/mnist), random images otherwise: the timing does not depend
on the pixel values.
"""
from __future__ import division, print_function

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import gxnor_compat  # noqa: F401,E402
import lasagne  # noqa: E402
import numpy as np  # noqa: E402
import theano  # noqa: E402
import theano.tensor as T  # noqa: E402

import binary_net  # noqa: E402
import datasets  # noqa: E402
import gxnor_layers  # noqa: E402
import mnist  # noqa: E402

CONFIGS = [
    ('full precision (Adam)', ['--method', 'fp']),
    ('GXNOR, Adam-DST, float weights', []),
    ('GXNOR, Adam-DST, int8 weights', ['--weight-storage', 'int8']),
    ('GXNOR, SGD-DST, float weights', ['--update', 'sgd']),
    ('GXNOR, SGD-DST, int8 weights', ['--update', 'sgd', '--weight-storage', 'int8']),
]


def load_images(data_dir, count):
    folder = data_dir or os.environ.get('GXNOR_MNIST_DIR') or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, 'shared', 'data',
        'mnist')
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


def measure(flags, X, y, batch_size, batches):
    args = binary_net.parse_args(mnist.EXPERIMENT, flags + ['--batch-size', str(batch_size)])
    input_var = T.tensor4()
    network = mnist.build_network(input_var, args)
    train_fn, _, state = binary_net.compile_functions(network, input_var, args.update)
    lr = np.asarray(0.001, dtype=theano.config.floatX)
    inputs = [(datasets.to_float(X[i:i + batch_size]),
               binary_net.pm1_targets(y[i:i + batch_size], 10))
              for i in range(0, batches * batch_size, batch_size)]
    train_fn(inputs[0][0], inputs[0][1], lr)  # warm-up
    started = time.time()
    for xb, tb in inputs:
        train_fn(xb, tb, lr)
    return batches * batch_size / (time.time() - started), state_bytes(network, state)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch-size', type=int, default=100)
    parser.add_argument('--batches', type=int, default=30)
    parser.add_argument('--data-dir', default=None)
    opts = parser.parse_args()
    X, y, source = load_images(opts.data_dir, opts.batch_size * opts.batches)
    print('Theano %s, Python %s, floatX %s, blas.ldflags %r, %s, batch %d, %d batches each'
          % (theano.__version__, sys.version.split()[0], theano.config.floatX,
             theano.config.blas.ldflags, source, opts.batch_size, opts.batches))
    rows = []
    for name, flags in CONFIGS:
        speed, (weights, moments, others) = measure(flags, X, y, opts.batch_size,
                                                    opts.batches)
        rows.append((name, speed, weights, moments, others))
        sys.stdout.flush()
    base_speed, base_bytes = rows[0][1], sum(rows[0][2:4])
    print('\n| configuration | images/s | vs full precision | weight bytes | weight optimizer '
          'bytes | weights + their state vs full precision | other trained bytes |')
    print('|---|---:|---:|---:|---:|---:|---:|')
    for name, speed, weights, moments, others in rows:
        print('| %s | %.0f | %.2fx | %s | %s | %.3fx | %s |'
              % (name, speed, speed / base_speed, format(weights, ','), format(moments, ','),
                 (weights + moments) / base_bytes, format(others, ',')))


if __name__ == '__main__':
    main()
