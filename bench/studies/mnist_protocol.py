#!/usr/bin/env python
"""The runs that chose `make mnist`'s CPU protocol: one JSON file, one table.

(``bench/studies/cifar10_protocol.py`` is the same for `make cifar10`.)

Each run is recorded from the ``results.json`` that ``mnist.py`` wrote, with
the command that made it and where it ran::

    python bench/studies/mnist_protocol.py add results/<run>/results.json \\
        --command "python mnist.py ..." --device "2-core CPU (this project's machine)"
    python bench/studies/mnist_protocol.py table          # markdown, for the README

The file is ``bench/results/mnist_protocol.json`` (``--file``).  Adding a run
whose name is already there replaces it, so a run can be added while it trains
and again when it is done.
"""
from __future__ import absolute_import, division, print_function

import argparse
import os
import sys
from collections import OrderedDict

if not __package__:  # python bench/studies/x.py: the project root on sys.path
    sys.path.insert(0, os.path.abspath(os.path.join(__file__, '..', '..', '..')))
from bench import common  # noqa: E402

DEFAULT_FILE = os.path.join(common.RESULTS, 'mnist_protocol.json')


# The paper's method (mnist.py's defaults): a run that departs from one of
# these says so in the table, so that no row passes for the paper's method.
PAPER_METHOD = OrderedDict([
    ('method', 'gxnor'), ('H', 1.0), ('N', 1), ('act_N', 1), ('r', 1.0), ('a', 0.5),
    ('window', 'rect'), ('m', 3.0), ('update', 'adam'), ('weight_storage', 'float'),
    ('init_scale', 1.0), ('dense_init_scale', 1.0), ('bn_alpha', 0.1), ('bn_epsilon', 1e-4),
    ('augment', False), ('lr_drops', [])])
# cifar10.py's defaults: the authors' CIFAR-10 script, with the augmentation it
# computed (on), and the paper's widths.
CIFAR10_PAPER_METHOD = OrderedDict(
    list(PAPER_METHOD.items()) +
    [('dense_init_scale', 1.5), ('augment', True), ('lr_drops', [1000, 1600]),
     ('widths', [128, 256, 512, 1024])])
PAPER_METHODS = {'mnist': PAPER_METHOD, 'cifar10': CIFAR10_PAPER_METHOD}
TRAIN_SIZES = {'mnist': 50000, 'cifar10': 45000}


def _same(value, paper):
    if isinstance(paper, list):
        return list(value or []) == paper
    return value == paper


def _word(value):
    if isinstance(value, float):
        return '%g' % value
    if isinstance(value, tuple):
        return str(list(value))
    return str(value)


def departures(config, paper_method=PAPER_METHOD):
    """'name value' for every method hyperparameter of ``config`` (a run's
    ``results.json`` config) that differs from the paper's, comma-separated.

    Examples
    --------
    >>> departures(dict(a=1.0, r=1.0, update='int8-momentum', batch_size=1000))
    'a 1, update int8-momentum'
    >>> departures(dict(a=0.5))
    ''
    >>> departures(dict(widths=[32, 64, 128, 256], augment=True), CIFAR10_PAPER_METHOD)
    'widths [32, 64, 128, 256]'
    """
    return ', '.join('%s %s' % (key, _word(config[key]))
                     for key, paper in paper_method.items()
                     if key in config and not _same(config[key], paper))


def summarise(results, command, device, note='', paper_method=PAPER_METHOD,
              full_train_size=50000):
    """One record from a results.json dict."""
    history = results['history']
    config = results['config']
    trained = [h for h in history if h['epoch'] >= 1]
    return dict(
        run=results['run'], command=command, device=device, note=note,
        departures=departures(config, paper_method), method=config.get('method', 'gxnor'),
        batch_size=config['batch_size'], epochs=config['epochs'],
        lr_start=config['lr_start'], lr_end=config['lr_end'], seed=config['seed'],
        train_size=config.get('train_size', 0) or full_train_size,
        epochs_done=results['epochs_done'],
        finished=results['epochs_done'] >= config['epochs'],
        epoch_seconds=round(sum(h['seconds'] for h in history), 1),
        best_val_epoch=results['best_val_epoch'], best_val_err=results['best_val_err'],
        test_err_at_best_val=results['test_err_at_best_val'],
        best_test_epoch=results['best_test_epoch'], best_test_err=results['best_test_err'],
        last_val_err=trained[-1]['val_err'] if trained else None,
        val_err_curve=[round(h['val_err'], 2) for h in trained])


def load(path):
    return common.read_json(path)['runs'] if os.path.exists(path) else []


def save(path, runs):
    common.write_json(path, dict(runs=runs))


def add(path, results_path, command, device, note='', dataset='mnist'):
    record = summarise(common.read_json(results_path), command, device, note,
                       PAPER_METHODS[dataset], TRAIN_SIZES[dataset])
    runs = [r for r in load(path) if not (r['run'] == record['run'] and
                                          r['device'] == record['device'])]
    runs.append(record)
    save(path, runs)
    return record


def table(runs):
    """Markdown table, one row per run, in the file's order."""
    lines = ['| batch | epochs (done) | LR | method\'s departures from the paper | seed | device '
             '| wall (epochs) | best val. (epoch) | test at best val. | best test | note |',
             '|---:|---|---|---|---:|---|---:|---|---:|---:|---|']
    for r in runs:
        done = '%d' % r['epochs'] if r['finished'] else '%d (%d)' % (r['epochs'], r['epochs_done'])
        minutes = r['epoch_seconds'] / 60.0
        lines.append('| %d | %s | %g -> %g | %s | %d | %s | %.0f min | %.2f%% (%d) | %.2f%% | %.2f%% '
                     '| %s |'
                     % (r['batch_size'], done, r['lr_start'], r['lr_end'],
                        r.get('departures') or 'none', r['seed'], r['device'],
                        minutes, r['best_val_err'], r['best_val_epoch'],
                        r['test_err_at_best_val'], r['best_test_err'], r['note']))
    return '\n'.join(lines)


def main(argv=None, dataset='mnist'):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].replace('mnist', dataset))
    p.add_argument('--file', default=os.path.join(common.RESULTS, '%s_protocol.json' % dataset))
    sub = p.add_subparsers(dest='action')
    a = sub.add_parser('add', help='record a run from its results.json')
    a.add_argument('results')
    a.add_argument('--command', required=True)
    a.add_argument('--device', required=True)
    a.add_argument('--note', default='')
    sub.add_parser('table', help='print the markdown table')
    args = p.parse_args(argv)
    if args.action == 'add':
        record = add(args.file, args.results, args.command, args.device, args.note, dataset)
        print('recorded %s: %d of %d epochs' % (record['run'], record['epochs_done'],
                                               record['epochs']))
    elif args.action == 'table':
        print(table(load(args.file)))
    else:
        p.error('give add or table')
    return 0


if __name__ == '__main__':
    sys.exit(main())
