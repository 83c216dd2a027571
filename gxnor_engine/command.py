"""Gated XNOR inference: run a trained GXNOR-Net with bit-packed integer arithmetic.

The command line of the engine (``python gated_xnor.py MODEL``): accuracy on
the test set of the model's dataset, per layer the share of products the
gate skips (the paper's resting probability), non-zero weights and inputs,
packed versus float32 size, and images/s.

Examples
--------
::

    python gated_xnor.py weights/mnist-gxnor-N1-act1-adam-b1000-e120-2dc65855.npz \
        --data-dir ../shared/data/mnist --limit 1000
    python gated_xnor.py results/run.npz --kernel numpy --popcount table
    GXNOR_CIFAR10_DIR=data/cifar10 python gated_xnor.py results/cifar10-gxnor-....npz

The test images are those of the model's data set (its ``dataset``: mnist,
cifar10 or svhn; any architecture, e.g. any ``cifar10.py --widths``), found
as the training scripts find them: ``--data-dir``, else
``$GXNOR_<DATASET>_DIR``, else ``$PYLEARN2_DATA_PATH`` and ``./data/<dataset>``.
"""
from __future__ import absolute_import, division, print_function

import argparse
import os
import sys
import time
import warnings

import numpy as np

from gxnor_engine import kernels as engine_kernels
from gxnor_engine.model import DATASET_CLASSES, PASS_IMAGES, load_model
from gxnor_engine.popcount import POPCOUNT_METHODS, resolve_method
from gxnor_engine.spec import ModelError

__all__ = ['main', 'data_folder']


class _CommandError(Exception):
    pass


def data_folder(dataset, data_dir=None):
    """(folder or None, how it was chosen) of the `dataset`'s files.

    As the training scripts find them: ``--data-dir``, else
    ``$GXNOR_<DATASET>_DIR`` (``$GXNOR_MNIST_DIR``, ``$GXNOR_CIFAR10_DIR``,
    ``$GXNOR_SVHN_DIR``), else None: :mod:`datasets`' default search
    (``$PYLEARN2_DATA_PATH``, then ``./data/<dataset>``).
    """
    if data_dir:
        return data_dir, '--data-dir'
    variable = 'GXNOR_%s_DIR' % str(dataset).upper()
    if os.environ.get(variable):
        return os.environ[variable], '$' + variable
    return None, "datasets.py's default folders ($PYLEARN2_DATA_PATH/%s, ./data/%s)" % (
        dataset, dataset)


def _load_test_set(dataset, data_dir):
    try:
        import datasets  # the project's loader; only the command needs it
    except ImportError as exc:
        raise _CommandError('cannot import datasets.py (%s)' % exc)
    try:
        return datasets.load_test(dataset, data_dir)  # the test files only
    except datasets.DataError as exc:
        raise _CommandError(str(exc))


def _report(model, stats, correct, total, seconds, method, kernels, kernel_text, data_text):
    """Print accuracy, speed, per-layer gate statistics and model size."""
    popcount_name = dict(bitwise_count='np.bitwise_count', swar='carry-save + SWAR',
                         table='carry-save + lookup table')[resolve_method(method)]
    print('model       %s (%s, %d conv/dense layers)'
          % (model.source, model.meta.get('dataset'), len(model.layers)))
    print('data        %s' % data_text)
    print('kernel      %s' % (kernel_text if kernels is not None else
                              '%s, popcount: %s' % (kernel_text, popcount_name)))
    print('accuracy    %.2f%% (%d/%d test images), error %.2f%%'
          % (100.0 * correct / total, correct, total, 100.0 - 100.0 * correct / total))
    print('throughput  %.1f images/s (%.2f s)' % (total / seconds, seconds))
    print('')
    print('%-10s %-5s %7s %6s %11s %10s %21s'
          % ('layer', 'kind', 'fan-in', 'units', 'nz weights', 'nz inputs',
             'gate skips (resting)'))
    products = gates = 0
    for info in model.layers:
        s = stats[info['name']]
        products, gates = products + s['products'], gates + s['gates']
        print('%-10s %-5s %7d %6d %11.4f %10.4f %21.4f'
              % (info['name'], info['kind'], info['fan_in'], info['units'],
                 info['nonzero_weights'] / info['weights'],
                 s['input_nonzero'] / max(s['inputs'], 1),
                 1.0 - s['gates'] / max(s['products'], 1)))
    print('%-10s %64.4f' % ('all', 1.0 - gates / max(products, 1)))
    size = model.model_bytes()
    print('')
    print('model size  packed %d B vs float32 %d B: %.1fx smaller'
          % (size['packed'], size['float32'], size['float32'] / size['packed']))
    print('  weights   packed %d B vs float32 %d B: %.1fx smaller'
          % (size['packed_weights'], size['float32_weights'],
             size['float32_weights'] / size['packed_weights']))


class _Parser(argparse.ArgumentParser):
    """Bad flags are one line, as in the training scripts, not the usage and a line."""

    def error(self, message):
        sys.stderr.write('%s: error: %s\n' % (self.prog, message))
        sys.exit(2)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """The engine's warnings as one plain line (not Python's two, with the source)."""
    text = str(message)
    if not text.startswith('gated_xnor: '):
        text = 'gated_xnor: ' + text
    sys.stderr.write(text.replace('gated_xnor: ', 'gated_xnor: warning: ', 1) + '\n')


def main(argv=None):
    """Command line: accuracy, gate statistics, size and speed on the test set."""
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _main(argv)


def _main(argv):
    parser = _Parser(prog='gated_xnor', description=__doc__.split('\n\n')[0])
    parser.add_argument('model', help='a gxnor-model .npz (results/<run>.npz, weights/...)')
    parser.add_argument('--data-dir', default=None,
                        help="folder of the model's data set files (default: "
                             '$GXNOR_<DATASET>_DIR, e.g. $GXNOR_CIFAR10_DIR, else '
                             "datasets.py's search: $PYLEARN2_DATA_PATH, ./data/<dataset>)")
    parser.add_argument('--batch-size', type=int, default=1000,
                        help='images per forward call (passes hold at most %d)' % PASS_IMAGES)
    parser.add_argument('--limit', type=int, default=None, help='first N test images only')
    parser.add_argument('--popcount', choices=POPCOUNT_METHODS, default=None,
                        help='bit counting method of the NumPy kernel (default: bitwise_count '
                             'where NumPy >= 2 has it, else swar); selects it under --kernel auto')
    parser.add_argument('--kernel', choices=engine_kernels.KERNEL_CHOICES, default=None,
                        help='compiled C kernels or NumPy (default auto, or $GXNOR_KERNELS: '
                             'C when it builds)')
    args = parser.parse_args(argv)
    if args.batch_size < 1 or (args.limit is not None and args.limit < 1):
        parser.error('--batch-size and --limit must be >= 1')
    method = args.popcount
    try:
        model = load_model(args.model)
        dataset = model.meta.get('dataset', 'mnist')
        if dataset in DATASET_CLASSES:      # an argmax over hidden units is no accuracy
            try:
                model.check_classes(DATASET_CLASSES[dataset], 'of %s' % dataset)
            except ModelError as exc:
                raise ModelError('%s: %s' % (args.model, exc))
        kernels, kernel_text = engine_kernels.select(args.kernel, method)  # builds, untimed
        folder, chosen = data_folder(dataset, args.data_dir)
        X, y = _load_test_set(dataset, folder)
        if args.limit is not None:
            X, y = X[:args.limit], y[:args.limit]
        stats = {}
        start = time.time()
        scores = model.forward(X, batch_size=args.batch_size, method=method, stats=stats,
                               kernel=args.kernel)
        seconds = time.time() - start
        predictions = scores.reshape(len(scores), -1).argmax(axis=1)
    except (ModelError, _CommandError, ValueError, engine_kernels.KernelError) as exc:
        print('error: %s' % exc, file=sys.stderr)
        return 2
    correct = int(np.sum(predictions == np.asarray(y)))
    data_text = '%s test set, %d images, from %s' % (
        dataset, len(y), '%s (%s)' % (folder, chosen) if folder else chosen)
    _report(model, stats, correct, len(y), seconds, method, kernels, kernel_text, data_text)
    return 0
