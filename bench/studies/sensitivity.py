#!/usr/bin/env python
"""GXNOR-Net on a reduced MNIST protocol: error and sparsity against r, a, m
and the number of weight and activation states (the paper's studies).

One parameter changes at a time from the paper's defaults (r = 1, a = 0.5,
m = 3, N = 1, ternary activations).  For every setting ``mnist.py`` trains
once per seed (``mnist_runs.py``: resumable, finished runs are read back);
then the model of the best validation epoch runs on the test images and
``model_sparsity.py`` counts its zero activations and closed gates (the
same integers as ``gated_xnor.py``, which handles N <= 1 only)::

    python bench/studies/sensitivity.py --data-dir ../shared/data/mnist \\
        [--epochs 5 --train-size 10000 --val-size 5000 --batch-size 100 \\
         --lr-start 0.1 --lr-end 0.01 --seeds 1234] [--out results/sensitivity] \\
        [--json bench/results/sensitivity.json --png bench/results/sensitivity.png]
    python bench/studies/sensitivity.py --plot bench/results/sensitivity.json --png out.png

``--only r,m`` runs some parameters; ``--settings r=0.5,N=2`` some points.
The JSON file (rewritten after every run) has one record per setting and
seed; the PNG one column per parameter: the test error at the best
validation epoch (the seeds' mean and range, one error axis for all) above
the shares of zero activations and of closed gates.
"""
from __future__ import absolute_import, division, print_function

import argparse
import os
import platform
import sys
import time
from collections import OrderedDict

if not __package__:  # python bench/studies/x.py: the project root on sys.path
    sys.path.insert(0, os.path.abspath(os.path.join(__file__, '..', '..', '..')))
from bench import common  # noqa: E402
from bench.studies import mnist_runs  # noqa: E402

__all__ = ['BASELINE', 'GRID', 'settings', 'setting_flags', 'plot', 'main']

# The paper's defaults, and the values tried for each parameter.
BASELINE = OrderedDict([('r', 1.0), ('a', 0.5), ('m', 3.0), ('N', 1), ('act_N', 1)])
GRID = OrderedDict([('r', [0.25, 0.5, 0.75, 1.0, 1.25, 1.5]),
                    ('a', [0.25, 0.5, 1.0]),
                    ('m', [1.0, 3.0, 10.0]),
                    ('N', [0, 1, 2, 3]),
                    ('act_N', [0, 1, 2, 3])])
LABELS = dict(r='activation threshold r', a='derivative window a', m='DST nonlinearity m',
              N='weight states 2^N+1 (N)', act_N='activation levels 2^N+1 (act-N)')
FLAG = dict(r='--r', a='--a', m='--m', N='--N', act_N='--act-N')


def _value(param, text):
    return int(text) if isinstance(BASELINE[param], int) else float(text)


def settings(only='', points=''):
    """(param, value) pairs to run, panel by panel.

    Examples
    --------
    >>> settings(points='r=0.5,N=2')
    [('r', 0.5), ('N', 2)]
    >>> len(settings(only='m'))
    3
    """
    if points:
        chosen = []
        for item in points.split(','):
            param, _, value = item.partition('=')
            if param not in BASELINE or not value:
                raise ValueError('unknown setting %r (use e.g. r=0.5; parameters: %s)'
                                 % (item, ', '.join(BASELINE)))
            chosen.append((param, _value(param, value)))
        return chosen
    params = [p for p in only.split(',') if p] or list(GRID)
    unknown = [p for p in params if p not in GRID]
    if unknown:
        raise ValueError('unknown parameters %s (choose from %s)'
                         % (', '.join(unknown), ', '.join(GRID)))
    return [(param, value) for param in params for value in GRID[param]]


def setting_flags(param, value):
    """mnist.py flags of the baseline with ``param`` set to ``value``."""
    config = OrderedDict(BASELINE)
    config[param] = value
    flags = ['--method', 'gxnor']
    for key, val in config.items():
        flags += [FLAG[key], str(val)]
    return flags


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    mnist_runs.add_protocol_arguments(p)
    p.add_argument('--lr-start', type=float, default=0.1)
    p.add_argument('--lr-end', type=float, default=0.01)
    p.add_argument('--seeds', default='1234', help='comma-separated')
    p.add_argument('--only', default='', help='parameters to vary (default: all of %s)'
                   % ', '.join(GRID))
    p.add_argument('--settings', default='', help='points to run instead, e.g. r=0.5,N=2')
    p.add_argument('--out', default=os.path.join('results', 'sensitivity'),
                   help='folder of the runs and logs')
    p.add_argument('--json', default=None, help='default: <out>/sensitivity.json')
    p.add_argument('--png', default=None, help='default: <out>/sensitivity.png')
    p.add_argument('--plot', metavar='JSON', default=None,
                   help='only draw --png from this summary file')
    args = p.parse_args(argv)
    try:
        args.seeds = [int(s) for s in args.seeds.split(',') if s]
        args.points = settings(args.only, args.settings)
    except ValueError as err:
        p.error(str(err))
    if not args.seeds:
        p.error('--seeds needs at least one seed')
    return args


def _measure(model_path, X):
    import model_sparsity
    counts = model_sparsity.measure_sparsity(model_path, X)
    layers = [dict((k, row[k]) for k in ('name', 'gate_closed_share', 'input_zero_share',
                                         'weight_zero_share')) for row in counts['layers']]
    return dict(gate_closed_share=counts['gate_closed_share'],
                activation_zero_share=counts['activation_zero_share'], layers=layers)


def run_setting(param, value, seed, args, X, measured):
    """Train (or read back) one setting and seed; one record."""
    argv = (mnist_runs.protocol_flags(args, args.lr_start, args.lr_end, seed) +
            setting_flags(param, value))
    run_name, _, model_path, _ = mnist_runs.run_paths(argv, args.out)
    data, note = mnist_runs.run_mnist('%s=%s seed %d' % (param, value, seed), argv, args.out)
    record = dict(param=param, value=value, seed=seed, run=run_name, note=note,
                  test_err_at_best_val=None)
    if data is None:
        return record
    record.update(test_err_at_best_val=data['test_err_at_best_val'],
                  best_test_err=data['best_test_err'], best_val_err=data['best_val_err'],
                  best_val_epoch=data['best_val_epoch'], epochs_done=data['epochs_done'])
    if run_name not in measured and os.path.exists(model_path):
        measured[run_name] = _measure(model_path, X)
    record.update(measured.get(run_name, {}))
    return record


def _by_value(records, param):
    """{value: (test errors of its seeds, mean zero activations, mean closed gates)}."""
    by_value = OrderedDict()
    for r in records:
        if r['param'] == param and r.get('test_err_at_best_val') is not None and \
                'gate_closed_share' in r:
            by_value.setdefault(r['value'], []).append(r)
    return OrderedDict(
        (value, ([r['test_err_at_best_val'] for r in rs],
                 sum(r['activation_zero_share'] for r in rs) / len(rs),
                 sum(r['gate_closed_share'] for r in rs) / len(rs)))
        for value, rs in sorted(by_value.items()))


def plot(summary, path):
    """One column per parameter: the test error at the best validation epoch (mean of the
    seeds, a bar over their range; one error axis shared by every panel, so a difference
    looks as large as it is), and below it the shares of zero activations and closed gates
    (0 to 1).  m, which grows tenfold, on a log axis."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    params = [p for p in GRID if _by_value(summary['records'], p)]
    columns = max(len(params), 1)
    fig, axes = plt.subplots(2, columns, figsize=(3.2 * columns, 6.2), squeeze=False,
                             sharey='row')
    for column, param in enumerate(params):
        top, bottom = axes[0][column], axes[1][column]
        points = _by_value(summary['records'], param)
        values = list(points)
        means = [sum(e) / len(e) for e, _, _ in points.values()]
        spread = [[m - min(e) for m, (e, _, _) in zip(means, points.values())],
                  [max(e) - m for m, (e, _, _) in zip(means, points.values())]]
        top.errorbar(values, means, yerr=spread, fmt='ro-', capsize=3,
                     label='test error, best validation epoch' + (
                         '\n(mean of the seeds; bar: their range)'
                         if len(summary['seeds']) > 1 else ' (one seed)'))
        top.axvline(BASELINE[param], color='0.7', ls=':', label="the paper's value")
        bottom.plot(values, [z for _, z, _ in points.values()], 'bs--', label='zero activations')
        bottom.plot(values, [g for _, _, g in points.values()], 'g^--', label='closed gates')
        bottom.axvline(BASELINE[param], color='0.7', ls=':')
        bottom.set_ylim(0, 1)
        for ax in (top, bottom):
            if param == 'm':
                ax.set_xscale('log')
            ax.set_xticks(values)
            ax.set_xticklabels(['%g' % v for v in values])
            ax.minorticks_off() if param == 'm' else None
            ax.grid(True, color='0.92')
        bottom.set_xlabel(LABELS[param])
    # from zero: one seed's noise must not look like an effect
    axes[0][0].set_ylim(0, max(1.0, axes[0][0].get_ylim()[1] * 1.15))
    axes[0][0].set_ylabel('test error (%)')
    axes[1][0].set_ylabel('share of the test images\' products')
    if params:
        axes[0][0].legend(loc='upper left', fontsize=7)
        axes[1][0].legend(loc='upper left', fontsize=7)
    seeds = summary['seeds']
    fig.suptitle('GXNOR-Net, MNIST %s training images, %d epochs of batch %d, %s %s (%s)' % (
        format(summary['protocol']['train_size'] or 50000, ','), summary['protocol']['epochs'],
        summary['protocol']['batch_size'], 'seed' if len(seeds) == 1 else 'seeds',
        ', '.join(str(s) for s in seeds), summary['date']), fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        os.makedirs(folder)
    fig.savefig(path, format='png', dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    json_path = args.json or os.path.join(args.out, 'sensitivity.json')
    png_path = args.png or os.path.join(args.out, 'sensitivity.png')
    if args.plot:
        plot(common.read_json(args.plot), png_path)
        print('Written to %s' % png_path)
        return 0
    import datasets
    X = datasets.load_test('mnist', args.data_dir, download=False)[0]
    if args.test_size:
        X = X[:args.test_size]
    summary = dict(protocol=dict(epochs=args.epochs, train_size=args.train_size,
                                 val_size=args.val_size, test_size=args.test_size,
                                 batch_size=args.batch_size, lr_start=args.lr_start,
                                 lr_end=args.lr_end),
                   baseline=BASELINE, seeds=args.seeds, date=time.strftime('%Y-%m-%d'),
                   python=platform.python_version(), machine=common.machine(),
                   command=common.command_line(__file__, argv),
                   records=[])
    measured = {}
    for param, value in args.points:
        for seed in args.seeds:
            summary['records'].append(run_setting(param, value, seed, args, X, measured))
            common.write_json(json_path, summary)
    plot(summary, png_path)
    for r in summary['records']:
        if r.get('test_err_at_best_val') is None:
            print('%s=%-5s seed %-5d %s' % (r['param'], r['value'], r['seed'], r['note']))
            continue
        print('%s=%-5s seed %-5d test err. at best val. %5.2f%%  zero activations %.3f  '
              'closed gates %.3f %s' % (r['param'], r['value'], r['seed'],
                                        r['test_err_at_best_val'],
                                        r.get('activation_zero_share', float('nan')),
                                        r.get('gate_closed_share', float('nan')), r['note']))
    print('Written to %s and %s' % (json_path, png_path))
    return 0


if __name__ == '__main__':
    sys.exit(main())
