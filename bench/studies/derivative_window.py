#!/usr/bin/env python
"""How many pre-activations the activation's derivative window reaches.

A staircase activation passes a gradient only within +-a of a threshold
(``discrete_ops.discrete_activation``): for the ternary one with r = 1, on
r - a <= |x| <= r + a.  Every other unit sends no gradient to the weights
below it, so its weights see no DST transition from that example.  This
script runs trained models on training images (training-mode batch norm,
as a training step sees them) and reports, per activation layer, the share
of pre-activations that receive a non-zero derivative for each window
half-width ``a`` (the derivative itself is taken from
``discrete_activation``, not re-implemented)::

    python bench/studies/derivative_window.py weights/mnist-gxnor-*-adam-*.npz \
        --data-dir ../shared/data/mnist --json bench/results/derivative_window.json

Examples
--------
>>> window_share(np.array([0.2, 0.7, 1.2, -1.8, 2.5]), act_N=1, r=1.0, a=0.5)
0.4
"""
from __future__ import absolute_import, division, print_function

import argparse
import os
import sys
import time

if not __package__:  # python bench/studies/x.py: the project root on sys.path
    sys.path.insert(0, os.path.abspath(os.path.join(__file__, '..', '..', '..')))

import gxnor_compat  # noqa: E402,F401  (before theano and lasagne)
import lasagne  # noqa: E402
import numpy as np  # noqa: E402
import theano  # noqa: E402
import theano.tensor as T  # noqa: E402

import datasets  # noqa: E402
import discrete_ops  # noqa: E402
import gxnor_layers  # noqa: E402
import model_sparsity  # noqa: E402  (load_network)
from bench import common  # noqa: E402
from bench.common import ROOT  # noqa: E402

__all__ = ['window_share', 'pre_activations', 'measure', 'main']

_DERIVATIVES = {}


def _derivative_fn(act_N, r, a):
    key = (act_N, r, a)
    if key not in _DERIVATIVES:
        x = T.vector('x')
        out = discrete_ops.discrete_activation(x, act_N, r, a)
        _DERIVATIVES[key] = theano.function([x], T.grad(out.sum(), x))
    return _DERIVATIVES[key]


def window_share(x, act_N=1, r=1.0, a=0.5):
    """Share of the values ``x`` where the activation's derivative is non-zero."""
    x = np.asarray(x, dtype=theano.config.floatX).ravel()
    grad = _derivative_fn(int(act_N), float(r), float(a))(x)
    return float(np.count_nonzero(grad)) / x.size


def pre_activations(network, input_var, X):
    """[(name, layer, its input on ``X``)] per discrete activation layer (training-mode batch norm)."""
    layers = [l for l in lasagne.layers.get_all_layers(network)
              if isinstance(l, gxnor_layers.DiscreteActivationLayer)]
    outputs = lasagne.layers.get_output([l.input_layer for l in layers], deterministic=False)
    values = theano.function([input_var], outputs)(X)
    return [(l.name or 'act%d' % i, l, v) for i, (l, v) in enumerate(zip(layers, values))]


def measure(path, X, widths):
    """Per activation layer of the model at ``path``: window shares for each a."""
    network, input_var, meta = model_sparsity.load_network(path)
    rows = []
    for name, layer, values in pre_activations(network, input_var, X):
        rows.append(dict(layer=name, values=int(values.size), trained_a=layer.a,
                         share=dict(('%g' % a, window_share(values, layer.act_N, layer.r, a))
                                    for a in widths)))
    return dict(model=os.path.relpath(path, ROOT) if path.startswith(ROOT) else path,
                config=dict((k, meta['config'].get(k)) for k in ('a', 'r', 'seed', 'act_N')),
                layers=rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('models', nargs='+', help='gxnor-model .npz files (MNIST)')
    parser.add_argument('--data-dir', default=None,
                        help='MNIST folder (default: found as mnist.py finds it)')
    parser.add_argument('--images', type=int, default=1000,
                        help='first training images used, one batch (default 1000)')
    parser.add_argument('--a', type=float, nargs='+', default=[0.5, 1.0],
                        help='window half-widths to count for (default 0.5 1)')
    parser.add_argument('--json', help='write the result to this file')
    args = parser.parse_args(argv)
    if args.images < 1:
        parser.error('--images must be >= 1')
    for path in args.models:
        if not os.path.isfile(path):
            parser.error('no model file %s' % path)
    try:
        data = datasets.load_mnist(args.data_dir, download=None)
    except datasets.DataError as err:
        parser.error(str(err))
    X = datasets.to_float(data['train'][0][:args.images])
    result = dict(date=time.strftime('%Y-%m-%d'), machine=common.machine(),
                  command=common.command_line(__file__, argv),
                  images=int(len(X)), widths=args.a,
                  models=[measure(path, X, args.a) for path in args.models])
    for model in result['models']:
        print('%s (trained with a = %s, seed %s)' % (model['model'], model['config']['a'],
                                                     model['config']['seed']))
        for row in model['layers']:
            print('  %-12s %s' % (row['layer'], '  '.join(
                'a=%s: %5.1f%%' % (a, 100 * row['share'][a]) for a in sorted(row['share']))))
    if args.json:
        common.write_json(args.json, result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
