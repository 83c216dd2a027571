#!/usr/bin/env python
"""How far a rounding-sized change travels through one training step.

Two backends (CPU and GPU, or float32 and float64) compute the same step
with sums in a different order, so their float parameters part by
rounding after the first update.  This script measures what such a change
does to the next step: for each network it trains the snap step and one
step (LR 0.01) on fixed random inputs as ``tools/gpu_step.py`` does, then,
on the next random batch, moves the shift (beta) of the first batch-norm
layer by +-eps (random signs) and reports, against the unperturbed step:

- per activation layer, the share of activations that changed (by more
  than 1e-3: a staircase activation changes by a whole step or not at all);
- per weight layer, the share of gradients (of the weights the layer
  uses) whose sign flipped;
- the relative change of the loss::

    python bench/studies/rounding_sensitivity.py --json bench/results/rounding_sensitivity.json
    python bench/studies/rounding_sensitivity.py --table bench/results/rounding_sensitivity.json

Only the first layer sees real-valued inputs, so only there does a tiny
shift move a pre-activation across a threshold; every later layer sums
staircase values, and each changed activation changes many sums.  The
default cases are GXNOR-Net on the three scripts' networks and, as a
control, the CIFAR-10 network with ``--method fp`` (float weights, ReLU).
"""
from __future__ import absolute_import, division, print_function

import argparse
import os
import platform
import sys
import time

if not __package__:  # python bench/studies/x.py: the project root on sys.path
    sys.path.insert(0, os.path.abspath(os.path.join(__file__, '..', '..', '..')))

import gxnor_compat  # noqa: E402,F401  (before theano and lasagne)
import numpy as np  # noqa: E402

from bench import common  # noqa: E402

__all__ = ['CASES', 'changed_share', 'sign_flip_share', 'measure', 'markdown_table', 'main']

# (label, script, flags)
CASES = [('GXNOR-Net, mnist.py', 'mnist', []),
         ('GXNOR-Net, cifar10.py', 'cifar10', []),
         ('GXNOR-Net, svhn.py', 'svhn', []),
         ('full precision (fp), cifar10.py', 'cifar10', ['--method', 'fp'])]
CHANGE = 1e-3


def changed_share(before, after, tolerance=CHANGE):
    """Share of entries that moved by more than ``tolerance``.

    >>> changed_share(np.array([0., 1., -1., 0.]), np.array([0., 0., -1., 1e-6]))
    0.25
    """
    return float(np.mean(np.abs(np.asarray(after) - np.asarray(before)) > tolerance))


def sign_flip_share(before, after):
    """Share of the non-zero entries of ``before`` whose sign differs in ``after``.

    >>> sign_flip_share(np.array([1., -2., 0., 3.]), np.array([1., 2., 5., 0.]))
    0.6666666666666666
    """
    before, after = np.asarray(before), np.asarray(after)
    nonzero = before != 0
    if not nonzero.any():
        return 0.0
    return float(np.mean(np.sign(before[nonzero]) != np.sign(after[nonzero])))


def _probe(network, input_var):
    """(activation layers, weight layers, function X, y -> [loss, grads..., activations...])."""
    import lasagne
    import theano
    import theano.tensor as T
    import binary_net
    layers = lasagne.layers.get_all_layers(network)
    acts = [l for l in layers if (l.name or '').endswith('_act')]
    weighted = [l for l in layers if hasattr(l, 'W')]
    target = T.matrix('targets')
    # The probe must not move the running batch-norm averages.
    outputs = lasagne.layers.get_output(acts + [network], deterministic=False,
                                        batch_norm_update_averages=False)
    loss = binary_net.squared_hinge_loss(outputs[-1], target)
    grads = theano.grad(loss, [getattr(l, 'W_values', l.W) for l in weighted])
    return acts, weighted, theano.function([input_var, target], [loss] + grads + outputs[:-1])


def measure(script, flags, eps_list, batch_size=16, lr=0.01, seed=0):
    """One network's answers to moving its first batch-norm shift by +-eps.

    Returns a dict with the layers' names and one row per eps (0 included
    when asked: it checks that the probe repeats itself exactly).
    """
    import lasagne
    import theano
    import binary_net
    gpu_step = common.tool('gpu_step')
    network, input_var, args = gpu_step.build_network(script, flags)
    train_fn, _, _ = binary_net.compile_functions_for(network, input_var, args, evaluation=False)
    shape = lasagne.layers.get_all_layers(network)[0].shape[1:]
    gpu_step.run_steps(train_fn, shape, batch_size, 1, lr, seed)      # snap + one step
    X, y = list(gpu_step.random_batches(shape, batch_size, 3, seed))[2]
    acts, weighted, probe = _probe(network, input_var)
    first_bn = [l for l in lasagne.layers.get_all_layers(network) if hasattr(l, 'beta')][0]
    n = len(weighted)
    beta = first_bn.beta.get_value()
    signs = np.random.RandomState(seed).choice([-1.0, 1.0], size=beta.shape)
    reference = probe(X, y)
    rows = []
    for eps in eps_list:
        first_bn.beta.set_value((beta + eps * signs).astype(beta.dtype))
        result = probe(X, y)
        first_bn.beta.set_value(beta)
        rows.append(dict(
            eps=eps, loss=float(result[0]),
            loss_relative_change=float(abs(result[0] - reference[0]) / abs(reference[0])),
            activations_changed=[changed_share(a, b) for a, b in
                                 zip(reference[1 + n:], result[1 + n:])],
            gradient_signs_flipped=[sign_flip_share(a, b) for a, b in
                                    zip(reference[1:1 + n], result[1:1 + n])]))
    return dict(script=script, flags=flags, batch_size=batch_size, lr=lr, seed=seed,
                floatX=theano.config.floatX, perturbed='%s.beta' % first_bn.name,
                reference_loss=float(reference[0]),
                activation_layers=[l.name for l in acts],
                weight_layers=[l.name for l in weighted], rows=rows)


def markdown_table(summary):
    """One line per case and eps: loss change, activations changed in the
    first and last activation layers, gradient signs flipped (first/last
    weight layer)."""
    lines = ['| network | eps | loss change | activations changed, first -> last layer '
             '| gradient signs flipped, first / last layer |', '|---|---:|---:|---|---|']
    for case in summary['cases']:
        for row in case['rows']:
            acts, flips = row['activations_changed'], row['gradient_signs_flipped']
            lines.append('| %s | %g | %.1e | %s | %.3f / %.3f |' % (
                case['label'], row['eps'], row['loss_relative_change'],
                ' -> '.join('%.1e' % a for a in acts) if acts else '(no staircase)',
                flips[0], flips[-1]))
    return '\n'.join(lines) + '\n'


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--eps', default='0,1e-7,1e-6,1e-5,1e-4',
                   help='changes of the first batch-norm shift (comma-separated)')
    p.add_argument('--only', default='', help='comma-separated scripts (default: every case)')
    p.add_argument('--batch-size', type=int, default=16)
    p.add_argument('--json', help='write the results here')
    p.add_argument('--table', metavar='JSON', help='print the table of a results file and exit')
    args = p.parse_args(argv)
    if args.table:
        sys.stdout.write(markdown_table(common.read_json(args.table)))
        return 0
    eps_list = [float(e) for e in args.eps.split(',') if e]
    only = [s for s in args.only.split(',') if s]
    import theano
    summary = dict(date=time.strftime('%Y-%m-%d'), python=platform.python_version(),
                   theano=theano.__version__, device=theano.config.device,
                   machine=common.machine(), command=common.command_line(__file__, argv),
                   cases=[])
    for label, script, flags in CASES:
        if only and script not in only:
            continue
        print('%s ...' % label)
        case = measure(script, flags, eps_list, args.batch_size)
        case['label'] = label
        summary['cases'].append(case)
    text = markdown_table(summary)
    print(text)
    if args.json:
        common.write_json(args.json, summary)
    return 0


if __name__ == '__main__':
    sys.exit(main())
