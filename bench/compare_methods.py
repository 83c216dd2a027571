#!/usr/bin/env python
"""Train every method of ``--method`` on MNIST with one protocol; write a markdown table.

Each row is one run of ``mnist.py`` (same network, data, schedule, seed;
only the method flags differ), in its own process, so one failing method
does not stop the others:

    python bench/compare_methods.py --data-dir ../shared/data/mnist \\
        [--epochs 5 --train-size 10000 --val-size 5000 --batch-size 100 \\
         --lr-start 0.03 --lr-end 0.003] [--out results/compare]

Runs resume like any ``mnist.py`` run: starting the same command again
skips finished runs and continues stopped ones.  The table (``table.md`` in
``--out``, also printed) has, per method: bits of weights and activations,
the test error at the best validation epoch, the best test error over the
epochs (the paper's protocol), the mean training time per epoch, the bytes
of trained state (parameters, hidden weights, optimizer moments), and the
paper's MNIST figure where one exists (as listed in the TBN paper's table;
those come from other networks and protocols).
"""
from __future__ import division, print_function

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import binary_net  # noqa: E402
import methods  # noqa: E402
import mnist  # noqa: E402

# (row label, mnist.py flags); every method with its defaults, plus GXNOR-Net
# with binary and with 5-level weights and activations, and with its weights
# stored as int8 state indices: with Adam-DST, and with SGD-DST (no float
# state per weight at all).
ROWS = [(name, ['--method', name]) for name in methods.METHODS]
ROWS[1:1] = [('gxnor N=0 act-N=0', ['--method', 'gxnor', '--N', '0', '--act-N', '0']),
             ('gxnor N=2 act-N=2', ['--method', 'gxnor', '--N', '2', '--act-N', '2']),
             ('gxnor int8', ['--method', 'gxnor', '--weight-storage', 'int8']),
             ('gxnor int8 SGD-DST', ['--method', 'gxnor', '--weight-storage', 'int8',
                                     '--update', 'sgd'])]

# MNIST test accuracy (%) as the TBN paper's comparison table lists them.
PAPER_ACCURACY = {'gxnor': 99.32, 'bnn': 98.60, 'bwn': 99.38, 'twn': 99.38,
                  'binaryconnect': 98.82, 'xnor': 99.21, 'fp': 99.48}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--data-dir', default=None)
    p.add_argument('--epochs', type=int, default=5)
    p.add_argument('--train-size', type=int, default=10000)
    p.add_argument('--val-size', type=int, default=5000)
    p.add_argument('--test-size', type=int, default=0, help='0: all 10,000')
    p.add_argument('--batch-size', type=int, default=100)
    p.add_argument('--lr-start', type=float, default=0.03)
    p.add_argument('--lr-end', type=float, default=0.003)
    p.add_argument('--seed', type=int, default=1234)
    p.add_argument('--out', default=os.path.join('results', 'compare'))
    p.add_argument('--only', default='', help='comma-separated row labels (default: all)')
    return p.parse_args(argv)


def protocol_flags(args):
    flags = ['--epochs', args.epochs, '--train-size', args.train_size,
             '--val-size', args.val_size, '--test-size', args.test_size,
             '--batch-size', args.batch_size,
             '--lr-start', args.lr_start, '--lr-end', args.lr_end, '--seed', args.seed,
             '--results-dir', os.path.join(args.out, 'results'),
             '--weights-dir', os.path.join(args.out, 'weights')]
    if args.data_dir:
        flags += ['--data-dir', args.data_dir]
    return [str(f) for f in flags]


def _read(path):
    with open(path) as handle:
        return json.load(handle)


def run_row(label, flags, args):
    """Run (or resume) one method; returns its results.json dict, or None and why."""
    argv = protocol_flags(args) + flags
    run_name = binary_net.parse_args(mnist.EXPERIMENT, argv).run_name
    results = os.path.join(args.out, 'results', run_name, 'results.json')
    log = os.path.join(args.out, 'logs', run_name + '.log')
    if os.path.exists(results):
        data = _read(results)
        if data['epochs_done'] >= args.epochs:
            print('%-20s finished earlier: %s' % (label, os.path.dirname(results)))
            return data, ''
    if not os.path.isdir(os.path.dirname(log)):
        os.makedirs(os.path.dirname(log))
    print('%-20s python mnist.py %s' % (label, ' '.join(argv)))
    sys.stdout.flush()
    started = time.time()
    with open(log, 'ab') as out:
        code = subprocess.call([sys.executable, os.path.join(ROOT, 'mnist.py')] + argv,
                               stdout=out, stderr=subprocess.STDOUT)
    print('%-20s exit %d after %.0f s; log %s' % ('', code, time.time() - started, log))
    if not os.path.exists(results):
        return None, 'no results (exit %d, see %s)' % (code, log)
    data = _read(results)
    if code == 3:
        return data, 'diverged'
    if code != 0:
        return data, 'stopped (exit %d)' % code
    return data, ''


def table_row(label, data, note):
    method = label.split()[0]
    paper = PAPER_ACCURACY.get(method) if label == method else None
    paper = '%.2f' % (100 - paper) if paper else '-'
    if data is None:
        return '| %s | | | %s | | | | %s |' % (label, note, paper)
    trained = [h for h in data['history'] if h['epoch'] >= 1]
    seconds = sum(h['train_seconds'] for h in trained) / max(len(trained), 1)
    return '| %s | %s | %s | %.2f (ep %d)%s | %.2f (ep %d) | %.0f | %s | %s |' % (
        label, data['weight_bits'], data['activation_bits'], data['test_err_at_best_val'],
        data['best_val_epoch'], ' ' + note if note else '', data['best_test_err'],
        data['best_test_epoch'], seconds, format(data['state_bytes'], ','), paper)


def main(argv=None):
    args = parse_args(argv)
    only = set(filter(None, args.only.split(',')))
    rows = [row for row in ROWS if not only or row[0] in only]
    if only - set(label for label, _ in ROWS):
        sys.exit('compare_methods: error: unknown rows %s' % sorted(only - set(l for l, _ in ROWS)))
    lines = ['| method | weights | activations | test err. at best val. (%) | best test err. (%) '
             '| train s/epoch | trained state (bytes) | paper test err. (%) |',
             '|---|---|---|---|---|---|---|---|']
    for label, flags in rows:
        data, note = run_row(label, flags, args)
        lines.append(table_row(label, data, note))
    table = '\n'.join(lines) + '\n'
    header = ('MNIST, %d training images (first of the 50,000), %d validation, %s test; '
              '%d epochs after the snap epoch 0, batch %d, Adam LR %g -> %g, seed %d; '
              '%s, Python %s.\n\n' % (args.train_size, args.val_size,
                                      format(args.test_size or 10000, ','), args.epochs,
                                      args.batch_size, args.lr_start, args.lr_end, args.seed,
                                      time.strftime('%Y-%m-%d'), sys.version.split()[0]))
    path = os.path.join(args.out, 'table.md')
    with open(path + '.tmp', 'w') as out:
        out.write(header + table)
    os.rename(path + '.tmp', path)
    print('\n' + header + table + '\nWritten to %s' % path)


if __name__ == '__main__':
    main()
