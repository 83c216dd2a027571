"""The curves of a training run (``curves.png``), drawn from its ``results.json``.

Three panels over the epochs: the validation and test error (%) on a log axis, so the
tenths of a point that matter late in a run stay readable beside the first epoch's tens,
with the best validation epoch marked and the paper's error for the run's method and
dataset as a line; the losses; the share of discrete weights each epoch changed.  The
title names the dataset, the method and the protocol, not the run's digest.

    python run_plots.py weights/*.results.json     # redraws each .curves.png beside it
    python run_plots.py results/RUN/results.json   # redraws results/RUN/curves.png

Examples
--------
>>> title(dict(run='mnist-gxnor-N1-act1-adam-b1000-e120-2dc65855', method='gxnor',
...            config=dict(batch_size=1000, epochs=120, lr_start=0.1, lr_end=0.0001, a=1.0,
...                        seed=1234, train_size=0)))
'MNIST, GXNOR-Net: batch 1000, 120 epochs, LR 0.1 -> 0.0001, a = 1, seed 1234'
>>> curves_path('weights/x.results.json'), curves_path('results/x/results.json')
('weights/x.curves.png', 'results/x/curves.png')
"""
from __future__ import absolute_import, division, print_function

import os
import sys

import dataset_names

__all__ = ['plot_curves', 'title', 'dataset_of', 'paper_error', 'curves_path', 'redraw',
           'main']


def dataset_of(results):
    """The run's dataset ('mnist', 'cifar10', 'svhn'), or None: its ``dataset`` field, else
    the first word of its run name (the scripts' default names begin with it)."""
    name = results.get('dataset') or (results.get('run') or '').split('-')[0]
    return name if name in dataset_names.TITLES else None


def _method(results):
    """The run's record in methods.py (its ``method``, else its config's), or None."""
    import methods
    return methods.METHODS.get(results.get('method') or
                               results.get('config', {}).get('method', 'gxnor'))


def paper_error(results):
    """The paper's test error (%) for the run's method on its dataset, or None."""
    method = _method(results)
    accuracy = method.paper.get(dataset_of(results)) if method else None
    return round(100 - accuracy, 2) if accuracy else None


def title(results):
    """Dataset, method and protocol in one line."""
    config = results.get('config', {})
    method = _method(results)
    name = method.title.split(' (')[0] if method else results.get('method', '')
    words = ['batch %s' % config['batch_size'] if 'batch_size' in config else None,
             '%s epochs' % config['epochs'] if 'epochs' in config else None,
             'LR %g -> %g' % (config['lr_start'], config['lr_end'])
             if 'lr_start' in config and 'lr_end' in config else None,
             'a = %g' % config['a'] if 'a' in config else None,
             '%s training images' % format(config['train_size'], ',')
             if config.get('train_size') else None,
             'seed %s' % config['seed'] if 'seed' in config else None]
    dataset = dataset_names.TITLES.get(dataset_of(results), results.get('run', ''))
    return '%s, %s: %s' % (dataset, name, ', '.join(w for w in words if w))


def _log_axis(axes, values, label_every=(1.0, 2.0, 5.0)):
    """A log y axis labelled 1, 2 and 5 of each decade in plain numbers ('0.2', not
    '2x10^-1') when ``values`` span a factor 5 or more; a linear axis otherwise."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter
    if min(values) <= 0 or max(values) < 5 * min(values):
        return
    axes.set_yscale('log')
    axes.yaxis.set_major_locator(LogLocator(subs=label_every))
    axes.yaxis.set_major_formatter(FormatStrFormatter('%g'))
    axes.yaxis.set_minor_formatter(NullFormatter())


def plot_curves(out, results):
    """Draw ``results`` (a results.json as a dict) as PNG into the file object ``out``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    trained = [h for h in results['history'] if h['epoch'] >= 1]
    epochs = [h['epoch'] for h in trained]
    # Runs begun before the harness measured it lack the share in their first epochs.
    changed = [(h['epoch'], h['weights_changed']) for h in trained
               if h.get('weights_changed') is not None]
    if changed:
        fig, (top, bottom, moved) = plt.subplots(3, 1, sharex=True, figsize=(7, 8))
        moved.plot([e for e, _ in changed], [c for _, c in changed], 'k-')
        label = 'weights changed (%)'
        if changed[0][0] > epochs[0]:
            label += '\nmeasured from epoch %d' % changed[0][0]
        moved.set_ylabel(label)
        _log_axis(moved, [c for _, c in changed])
    else:
        fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7, 6))
    errors = [h['val_err'] for h in trained] + [h['test_err'] for h in trained]
    top.plot(epochs, [h['val_err'] for h in trained], 'r-', lw=1, label='validation')
    top.plot(epochs, [h['test_err'] for h in trained], 'g-', lw=1, label='test')
    best = results.get('best_val_epoch')
    if best in epochs:
        point = trained[epochs.index(best)]
        top.plot([best], [point['test_err']], 'k*', ms=10,
                 label='best validation epoch %d: test %.2f%%' % (best, point['test_err']))
    paper = paper_error(results)
    if paper:
        top.axhline(paper, color='b', ls='--', lw=1, label='the paper: %.2f%%' % paper)
        errors.append(paper)
    top.set_ylabel('error rate (%), log scale')
    _log_axis(top, errors, (1.0, 1.5, 2.0, 3.0, 5.0, 7.0))
    top.grid(True, which='both', color='0.92')
    top.legend(fontsize=8)
    top.set_title(title(results), fontsize=9)
    bottom.plot(epochs, [h['train_loss'] for h in trained], 'b-', label='training')
    bottom.plot(epochs, [h['val_loss'] for h in trained], 'm-', label='validation')
    bottom.set_ylabel('squared hinge loss')
    _log_axis(bottom, [h['train_loss'] for h in trained] + [h['val_loss'] for h in trained])
    bottom.legend(fontsize=8)
    (moved if changed else bottom).set_xlabel('epoch')
    fig.tight_layout()
    fig.savefig(out, format='png', dpi=80)
    plt.close(fig)


def curves_path(results_path):
    """Where the curves of ``results_path`` go: ``X.curves.png`` beside ``X.results.json``
    (the published models in ``weights/``), else ``curves.png`` in its folder."""
    if results_path.endswith('.results.json'):
        return results_path[:-len('.results.json')] + '.curves.png'
    return os.path.join(os.path.dirname(results_path), 'curves.png')


def redraw(results, path):
    """Draw the curves of ``results`` (read from ``path``) beside it; their path, or None
    before the first trained epoch."""
    import run_files
    if not any(h['epoch'] >= 1 for h in results['history']):
        return None
    out = curves_path(path)
    run_files.atomic_write(out, lambda handle: plot_curves(handle, results))
    return out


def main(argv=None):
    from bench import common
    return common.redraw(argv, __doc__, 'run_plots.py', "a run's results.json", redraw)


if __name__ == '__main__':
    sys.exit(main())
