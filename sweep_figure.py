"""The figure of a sweep's table: each method's test error, its seeds, the paper's value.

One row per method (the table's order): a dot per seed at its test error at the best
validation epoch, a bar over the seeds' range, and the paper's error as a red tick where
the paper gives one.  The error axis is logarithmic, so 0.7% and 1.0% are as far apart
as 7% and 10%: the differences that matter on MNIST stay visible beside a method far
behind.  The title names the grid, the dataset and the protocol (epochs, batch size).

    python sweep.py grids/paper-mnist.json --out DIR --collect    # table.json, table.png
    python sweep_figure.py bench/results/paper-mnist-lr.json         # its .png again

Examples
--------
>>> summary = dict(dataset='mnist', grid=dict(name='g', flags=['--epochs', '3']), rows=[
...     dict(title='GXNOR-Net', runs=[dict(test_err_at_best_val=1.2),
...                                   dict(test_err_at_best_val=1.4)], paper_test_err=0.68),
...     dict(title='BNN', runs=[], paper_test_err=1.4)])
>>> protocol(summary['grid'])
'3 epochs'
>>> [r['title'] for r in plotted(summary)]
['GXNOR-Net']
"""
from __future__ import absolute_import, division, print_function

import os
import sys

import dataset_names

__all__ = ['plot', 'plotted', 'protocol', 'main']


def _flag(flags, name):
    return flags[flags.index(name) + 1] if name in flags[:-1] else None


def protocol(grid):
    """The grid's protocol in words, from its flags: epochs, batch size, training images."""
    flags = [str(f) for f in grid.get('flags', [])]
    words = []
    for name, unit in (('--epochs', 'epochs'), ('--batch-size', 'batch'),
                       ('--train-size', 'training images')):
        value = _flag(flags, name)
        if value is not None:
            words.append('%s %s' % (value, unit) if name != '--batch-size'
                         else 'batch %s' % value)
    return ', '.join(words) or "the script's defaults"


def plotted(summary):
    """The rows with at least one finished run (a row without any has nothing to draw)."""
    return [row for row in summary['rows'] if row.get('runs')]


def plot(summary, path):
    """Draw :mod:`sweep`'s table ``summary`` to the PNG file ``path``; returns ``path``, or
    None when no run has finished yet."""
    rows = plotted(summary)
    if not rows:
        return None
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.42 * len(rows)))
    values, paper_shown = [], False
    for y, row in enumerate(reversed(rows)):
        errors = [run['test_err_at_best_val'] for run in row['runs']]
        values += errors
        ax.plot([min(errors), max(errors)], [y, y], '-', color='0.6', lw=3, zorder=1)
        ax.plot(errors, [y] * len(errors), 'o', color='C0', zorder=2,
                label='ours: test error at the best validation epoch, one dot per seed'
                if y == 0 else None)
        if row.get('paper_test_err'):
            values.append(row['paper_test_err'])
            ax.plot([row['paper_test_err']], [y], '|', color='C3', ms=16, mew=2.5, zorder=3,
                    label=None if paper_shown else 'the paper')
            paper_shown = True
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(['%s (LR %g)' % (row['title'], row['lr']) if row.get('lr')
                        else row['title'] for row in reversed(rows)], fontsize=8)
    ax.set_ylim(-0.7, len(rows) - 0.3 + 0.9)     # room for the legend above the rows
    ax.set_xscale('log')
    ax.set_xlim(min(values) / 1.25, max(values) * 1.25)
    # a label every few ticks: more of them where the errors span less than a decade
    labelled = (1.0, 2.0, 5.0) if max(values) > 10 * min(values) else (1.0, 1.5, 2.0, 3.0,
                                                                         5.0, 7.0)
    ax.xaxis.set_major_locator(LogLocator(subs=labelled))
    ax.xaxis.set_minor_locator(LogLocator(subs=(1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0)))
    ax.xaxis.set_major_formatter(FormatStrFormatter('%g'))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, axis='x', which='both', color='0.9')
    ax.set_xlabel('test error (%), log scale')
    ax.legend(loc='upper right', fontsize=7, numpoints=1)
    grid = summary.get('grid', {})
    dataset = summary.get('dataset', '')
    ax.set_title('%s: %s, %s%s' % (
        grid.get('name', 'sweep'), dataset_names.TITLES.get(dataset, dataset), protocol(grid),
        '; each method at its LR of the lowest validation error'
        if grid.get('lr_search') or grid.get('lr_search_of') else ''), fontsize=9)
    fig.tight_layout()
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        os.makedirs(folder)
    fig.savefig(path, format='png', dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    from bench import common
    return common.redraw(argv, __doc__, 'sweep_figure.py', "a sweep's table",
                         lambda summary, path: plot(summary, os.path.splitext(path)[0] + '.png'))


if __name__ == '__main__':
    sys.exit(main())
