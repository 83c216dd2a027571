#!/usr/bin/env python
"""Every method of ``--method`` on MNIST, each with its learning rate chosen on
the validation set; write a JSON file and a markdown table.

For each method (row), the same protocol runs once per learning rate of
``--lrs`` (schedule LR -> LR x ``--lr-decay``, first seed of ``--seeds``);
the LR whose run reaches the lowest **validation** error is chosen (ties:
the smaller LR), and that setting runs again with every other seed.  The
test error never enters the choice.  Same data, network, epochs and, per
seed, initial weights for every method; only the method flags and the LR
differ::

    python bench/studies/compare_methods.py --data-dir ../shared/data/mnist \\
        [--epochs 5 --train-size 10000 --val-size 5000 --batch-size 100 \\
         --lrs 0.003,0.01,0.03,0.1,0.3 --lr-decay 0.1 --seeds 1234,1] \\
        [--out results/compare] [--json bench/results/compare_methods.json]
    python bench/studies/compare_methods.py --table bench/results/compare_methods.json

Each run is one ``mnist.py`` process (``mnist_runs.py``): starting the same
command again skips finished runs and resumes stopped ones, and the JSON
file is rewritten after every method.  The table gives per method: bits of
weights and activations, the chosen LR, the test error at the best
validation epoch (mean over seeds, and the range), the best test error over
the epochs (the paper's protocol, mean), the mean training time per epoch,
the bytes of trained state (parameters, hidden weights, optimizer moments)
and the paper's MNIST figure where one exists (as listed in the TBN paper's
table; other networks and protocols).
"""
from __future__ import absolute_import, division, print_function

import argparse
import os
import platform
import sys
import time

if not __package__:  # python bench/studies/x.py: the project root on sys.path
    sys.path.insert(0, os.path.abspath(os.path.join(__file__, '..', '..', '..')))
import methods  # noqa: E402
from bench import common  # noqa: E402
from bench.studies import mnist_runs  # noqa: E402

__all__ = ['ROWS', 'EXTRA_ROWS', 'choose_lr', 'markdown_table', 'main']

# (row label, mnist.py flags): every method with its defaults.
ROWS = [(name, ['--method', name]) for name in methods.METHODS]
# Further rows, run only when named in --only.
EXTRA_ROWS = [('gxnor N=0 act-N=0', ['--method', 'gxnor', '--N', '0', '--act-N', '0']),
              ('gxnor N=2 act-N=2', ['--method', 'gxnor', '--N', '2', '--act-N', '2']),
              ('gxnor int8', ['--method', 'gxnor', '--weight-storage', 'int8']),
              ('gxnor int8 SGD-DST', ['--method', 'gxnor', '--weight-storage', 'int8',
                                      '--update', 'sgd']),
              ('gxnor int8 layer-RMS-DST', ['--method', 'gxnor', '--weight-storage', 'int8',
                                            '--update', 'layer-rms']),
              ('gxnor int8 unit-RMS-DST', ['--method', 'gxnor', '--weight-storage', 'int8',
                                           '--update', 'unit-rms']),
              ('gxnor int8 momentum-DST', ['--method', 'gxnor', '--weight-storage', 'int8',
                                           '--update', 'int8-momentum'])]

# MNIST test accuracy (%) as the paper's comparison table lists them (methods.py's records).
PAPER_ACCURACY = dict((name, m.paper['mnist']) for name, m in methods.METHODS.items()
                      if 'mnist' in m.paper)


def _float_list(text):
    return [float(x) for x in text.split(',') if x.strip()]


def _int_list(text):
    return [int(x) for x in text.split(',') if x.strip()]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    mnist_runs.add_protocol_arguments(p)
    p.add_argument('--lrs', type=_float_list, default=[0.003, 0.01, 0.03, 0.1, 0.3],
                   help='learning rates tried per method (comma-separated)')
    p.add_argument('--lr-decay', type=float, default=0.1, help='LR of the last epoch / first')
    p.add_argument('--seeds', type=_int_list, default=[1234, 1],
                   help='the first chooses the LR; all run the chosen one')
    p.add_argument('--out', default=os.path.join('results', 'compare'),
                   help='folder of the runs, logs and table.md')
    p.add_argument('--json', default=None,
                   help='summary file (default: <out>/compare_methods.json)')
    p.add_argument('--only', default='', help='comma-separated row labels (default: '
                   'every method; also: %s)' % ', '.join(label for label, _ in EXTRA_ROWS))
    p.add_argument('--table', metavar='JSON', default=None,
                   help='print the markdown table of this summary file and exit')
    args = p.parse_args(argv)
    if not args.lrs or not args.seeds:
        p.error('--lrs and --seeds need at least one value each')
    return args


def protocol_flags(args, lr, seed):
    # '%.6g': 0.03 x 0.1 is 0.003, not 0.0030000000000000005, in the flags and run names
    return mnist_runs.protocol_flags(args, lr, float('%.6g' % (lr * args.lr_decay)), seed)


def choose_lr(grid):
    """The grid entry with the lowest validation error (ties: smaller LR).

    ``grid`` holds dicts with ``lr`` and ``best_val_err`` (None for a run
    that gave no result).  Test errors are ignored.

    Examples
    --------
    >>> choose_lr([dict(lr=0.01, best_val_err=2.0, test_err_at_best_val=1.0),
    ...            dict(lr=0.1, best_val_err=1.5, test_err_at_best_val=3.0)])['lr']
    0.1
    """
    usable = [g for g in grid if g.get('best_val_err') is not None]
    if not usable:
        return None
    return min(usable, key=lambda g: (g['best_val_err'], g['lr']))


def _run_record(data, note, lr, seed):
    record = dict(lr=lr, seed=seed, note=note, best_val_err=None)
    if data is not None:
        trained = [h for h in data['history'] if h['epoch'] >= 1]
        record.update(
            best_val_err=data['best_val_err'], best_val_epoch=data['best_val_epoch'],
            test_err_at_best_val=data['test_err_at_best_val'],
            best_test_err=data['best_test_err'], best_test_epoch=data['best_test_epoch'],
            epochs_done=data['epochs_done'],
            train_seconds_per_epoch=sum(h['train_seconds'] for h in trained) /
            max(len(trained), 1))
    return record


def run_method(label, flags, args):
    """The LR grid (first seed), the choice, the other seeds; one summary dict."""
    row = dict(label=label, flags=flags, grid=[], runs=[])
    first = args.seeds[0]
    for lr in args.lrs:
        data, note = mnist_runs.run_mnist('%s lr %g' % (label, lr),
                                          protocol_flags(args, lr, first) + flags, args.out)
        row['grid'].append(_run_record(data, note, lr, first))
        if data is not None:
            row.update(weights=data['weight_bits'], activations=data['activation_bits'],
                       state_bytes=data['state_bytes'])
    chosen = choose_lr(row['grid'])
    if chosen is None:
        return row
    row['chosen_lr'] = chosen['lr']
    row['runs'].append(chosen)
    for seed in args.seeds[1:]:
        data, note = mnist_runs.run_mnist('%s lr %g seed %d' % (label, chosen['lr'], seed),
                                          protocol_flags(args, chosen['lr'], seed) + flags,
                                          args.out)
        row['runs'].append(_run_record(data, note, chosen['lr'], seed))
    done = [r for r in row['runs'] if r['best_val_err'] is not None]
    for key in ('test_err_at_best_val', 'best_test_err', 'train_seconds_per_epoch'):
        values = [r[key] for r in done]
        row[key + '_mean'] = sum(values) / len(values)
        row[key + '_range'] = [min(values), max(values)]
    return row


def _cell(row, key, digits=2):
    if key + '_mean' not in row:
        return ''
    low, high = row[key + '_range']
    text = '%.*f' % (digits, row[key + '_mean'])
    return text if len(row['runs']) < 2 else '%s (%.*f-%.*f)' % (text, digits, low, digits, high)


def markdown_table(summary):
    """The README table of a summary written by :func:`main`."""
    lines = ['| method | weights | activations | chosen LR | test err. at best val. (%) '
             '| best test err. (%) | train s/epoch | trained state (bytes) '
             '| paper test err. (%) |', '|---|---|---|---:|---|---|---:|---:|---:|']
    for row in summary['rows']:
        paper = PAPER_ACCURACY.get(row['label'])
        notes = sorted(set(r['note'] for r in row['grid'] + row['runs'] if r['note']))
        lines.append('| %s | %s | %s | %s | %s%s | %s | %s | %s | %s |' % (
            row['label'], row.get('weights', ''), row.get('activations', ''),
            '%g' % row['chosen_lr'] if 'chosen_lr' in row else '-',
            _cell(row, 'test_err_at_best_val'), ' (%s)' % ', '.join(notes) if notes else '',
            _cell(row, 'best_test_err'),
            '%.0f' % row['train_seconds_per_epoch_mean'] if 'chosen_lr' in row else '',
            format(row['state_bytes'], ',') if 'state_bytes' in row else '',
            '%.2f' % (100 - paper) if paper else '-'))
    grid = ['', 'Validation error (%%) per learning rate, seed %d (the choice is the lowest):'
            % summary['seeds'][0], '',
            '| method | ' + ' | '.join('%g' % lr for lr in summary['lrs']) + ' |',
            '|---|' + '---:|' * len(summary['lrs'])]
    for row in summary['rows']:
        by_lr = dict((g['lr'], g) for g in row['grid'])
        cells = []
        for lr in summary['lrs']:
            g = by_lr.get(lr)
            value = '' if g is None or g['best_val_err'] is None else '%.2f' % g['best_val_err']
            if g is not None and g['note']:
                value += ' (%s)' % g['note']
            cells.append('**%s**' % value if lr == row.get('chosen_lr') else value)
        grid.append('| %s | %s |' % (row['label'], ' | '.join(cells)))
    return '\n'.join(lines + grid) + '\n'


def header(summary):
    p = summary['protocol']
    return ('MNIST, %d training images (first of the 50,000), %d validation, %s test; %d '
            'epochs after the snap epoch 0, batch %d, Adam LR -> LR x %g per method, chosen on '
            'validation from %s; seeds %s; %s, Python %s.\n\n' % (
                p['train_size'], p['val_size'], format(p['test_size'] or 10000, ','),
                p['epochs'], p['batch_size'], p['lr_decay'],
                ', '.join('%g' % lr for lr in summary['lrs']),
                ', '.join(str(s) for s in summary['seeds']), summary['date'],
                summary['python']))


def main(argv=None):
    args = parse_args(argv)
    if args.table:
        summary = common.read_json(args.table)
        sys.stdout.write(header(summary) + markdown_table(summary))
        return 0
    known = dict(ROWS + EXTRA_ROWS)
    only = [label for label in args.only.split(',') if label]
    unknown = [label for label in only if label not in known]
    if unknown:
        sys.exit('compare_methods: error: unknown rows %s' % ', '.join(unknown))
    rows = [(label, known[label]) for label in only] if only else ROWS
    json_path = args.json or os.path.join(args.out, 'compare_methods.json')
    summary = dict(protocol=dict(epochs=args.epochs, train_size=args.train_size,
                                 val_size=args.val_size, test_size=args.test_size,
                                 batch_size=args.batch_size, lr_decay=args.lr_decay),
                   lrs=args.lrs, seeds=args.seeds, date=time.strftime('%Y-%m-%d'),
                   python=platform.python_version(), machine=common.machine(),
                   command=common.command_line(__file__, argv),
                   rows=[])
    for label, flags in rows:
        summary['rows'].append(run_method(label, flags, args))
        common.write_json(json_path, summary)
    text = header(summary) + markdown_table(summary)
    path = os.path.join(args.out, 'table.md')
    with open(path + '.tmp', 'w') as out:
        out.write(text)
    os.rename(path + '.tmp', path)
    print('\n' + text + '\nWritten to %s and %s' % (path, json_path))
    return 0


if __name__ == '__main__':
    sys.exit(main())
