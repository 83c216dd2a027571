"""Run ``mnist.py`` once per setting, in its own process, resumably.

Shared by the MNIST studies (``compare_methods.py``, ``sensitivity.py``):
one failing setting does not stop the others, a finished run is read back
instead of trained again, and a stopped one resumes after its last
finished epoch (the harness's own checkpoints).

Examples
--------
>>> data, note = run_mnist('twn', ['--method', 'twn', '--epochs', '5'],
...                        'results/compare')                 # doctest: +SKIP
>>> data['test_err_at_best_val'], note                           # doctest: +SKIP
"""
from __future__ import absolute_import, division, print_function

import os
import subprocess
import sys
import time

import mnist
import run_options
from bench.common import ROOT, read_json

__all__ = ['add_protocol_arguments', 'protocol_flags', 'run_paths', 'run_mnist']


def add_protocol_arguments(parser):
    """The reduced MNIST protocol the studies share: data, subset sizes, epochs, batch."""
    add = parser.add_argument
    add('--data-dir', default=None)
    add('--epochs', type=int, default=5)
    add('--train-size', type=int, default=10000)
    add('--val-size', type=int, default=5000)
    add('--test-size', type=int, default=0, help='0: all 10,000')
    add('--batch-size', type=int, default=100)


def protocol_flags(args, lr_start, lr_end, seed):
    """mnist.py flags of the protocol of :func:`add_protocol_arguments`."""
    flags = ['--epochs', args.epochs, '--train-size', args.train_size,
             '--val-size', args.val_size, '--test-size', args.test_size,
             '--batch-size', args.batch_size, '--lr-start', lr_start, '--lr-end', lr_end,
             '--seed', seed]
    if args.data_dir:
        flags += ['--data-dir', args.data_dir]
    return [str(f) for f in flags]


def run_paths(argv, out):
    """(run name, results.json, model .npz, log) of ``mnist.py argv`` under ``out``."""
    argv = list(argv) + ['--results-dir', os.path.join(out, 'results')]
    run_name = run_options.parse_args(mnist.EXPERIMENT, argv).run_name
    folder = os.path.join(out, 'results')
    return (run_name, os.path.join(folder, run_name, 'results.json'),
            os.path.join(folder, run_name + '.npz'), os.path.join(out, 'logs', run_name + '.log'))


def run_mnist(label, argv, out, epochs=None):
    """Run (or resume, or read back) ``mnist.py argv`` with results under ``out``.

    Returns (results.json dict or None, note): note is '' for a finished
    run, else why it is not ('diverged', 'stopped (exit 1)', ...).
    """
    argv = [str(a) for a in argv]
    run_name, results, _, log = run_paths(argv, out)
    if epochs is None:
        epochs = run_options.parse_args(mnist.EXPERIMENT, argv).epochs
    if os.path.exists(results):
        data = read_json(results)
        if data['epochs_done'] >= epochs:
            print('%-24s finished earlier: %s' % (label, os.path.dirname(results)))
            return data, ''
    if not os.path.isdir(os.path.dirname(log)):
        os.makedirs(os.path.dirname(log))
    full = argv + ['--results-dir', os.path.join(out, 'results')]
    print('%-24s python mnist.py %s' % (label, ' '.join(full)))
    sys.stdout.flush()
    started = time.time()
    with open(log, 'ab') as handle:
        code = subprocess.call([sys.executable, os.path.join(ROOT, 'mnist.py')] + full,
                               stdout=handle, stderr=subprocess.STDOUT)
    print('%-24s exit %d after %.0f s; log %s' % ('', code, time.time() - started, log))
    sys.stdout.flush()
    if not os.path.exists(results):
        return None, 'no results (exit %d, see %s)' % (code, log)
    data = read_json(results)
    if code == 3:
        return data, 'diverged'
    if code != 0:
        return data, 'stopped (exit %d)' % code
    return data, ''
