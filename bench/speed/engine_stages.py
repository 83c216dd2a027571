#!/usr/bin/env python
"""Where the gated-XNOR engine's time goes: each stage of a forward pass, timed.

One pass runs the model's stages (:mod:`gxnor_engine.builder`) batch by
batch, as :meth:`GXNORModel.forward` does, and times each stage; inside a
weight layer it also times the compiled kernels apart (the packing of the
activations into im2col rows, the product).  Rows of the table are
``<layer> <part>``: product, packing, pool, threshold, record (copies of
the sums, only with pre-activations), scores.  Columns: one per variant and
thread count, milliseconds per pass over the images and the share of the
pass; then images/s (median and best pass) and, with a baseline, the
median's ratio to the baseline's with the same threads.  ``--clock cpu``
times with the process's CPU time instead of the wall clock (steadier for
one thread on a machine busy with other work).

Variants: every kernel path of :func:`gxnor_engine.kernels.available_paths`
(or ``--paths``), and with ``--baseline DIR`` an older engine (``DIR``
holding its ``gated_xnor.py`` and ``gxnor_engine/``, and its top-level
``gxnor_kernels.py`` and ``.c`` where they predate ``gxnor_engine/kernels.py``,
e.g. from ``git archive``), imported into the same process.  Rounds
alternate the variants and thread counts (``--rounds``), so that a change
of load on the machine touches all of them alike; each cell is the median
over the rounds.  Threads are set inside the process
(:meth:`gxnor_engine.kernels.Kernels.set_threads`; the baseline shares the OpenMP
runtime, so the same count applies to it).

Usage::

    .venv311/bin/python bench/speed/engine_stages.py --images 10000 --threads 1,2 --rounds 5
    git archive HEAD gated_xnor.py gxnor_engine | tar -x -C /tmp/engine-before
    .venv311/bin/python bench/speed/engine_stages.py --baseline /tmp/engine-before

The model defaults to the newest committed ``weights/mnist*.npz``; images
are its data set's test set (``--data-dir``, else ``$GXNOR_<DATASET>_DIR``,
else ``../shared/data/mnist`` or ``data/<dataset>``), random uint8 images
where there is none (the table says so).  ``--json PATH`` writes the
numbers.
"""
from __future__ import absolute_import, division, print_function

import argparse
import collections
import glob
import importlib
import os
import sys
import time
import timeit

import numpy as np

if not __package__:  # python bench/speed/x.py: the project root on sys.path
    sys.path.insert(0, os.path.abspath(os.path.join(__file__, '..', '..', '..')))
from bench import common  # noqa: E402
from bench.common import ROOT  # noqa: E402
from gxnor_engine import kernels as engine_kernels  # noqa: E402

__all__ = ['import_engine', 'use_cpu_clock', 'StageTimer', 'time_pass', 'measure', 'summarise',
           'format_table', 'load_images', 'main']

# Top-level names of the engine's modules (imported again for a baseline);
# gxnor_kernels: the compiled kernels of engines from before gxnor_engine/kernels.py.
ENGINE_MODULES = ('gated_xnor', 'gxnor_kernels', 'gxnor_engine')
# Kernel calls and the part of a layer they belong to.
KERNEL_PARTS = dict(conv_pixels='product', matmul='product', pack_patches='packing',
                    max_pool='pool', threshold='threshold')
# A stage's own part (its time outside the kernel calls above).
STAGE_PARTS = dict(FirstStage='product', PackedStage='product', ScaledInputStage='product',
                   PoolStage='pool', ThresholdStage='threshold', RecordStage='record',
                   FloatActivationStage='activation', ScoreStage='scores',
                   UnscaleStage='scores')
clock = timeit.default_timer


def use_cpu_clock():
    """Time with the process's CPU time instead of the wall clock: on a machine
    busy with other work, a single-threaded pass then does not count the time
    it waited for a core (with several threads it adds up their times)."""
    global clock
    clock = getattr(time, 'process_time', None) or time.clock


def _kernels_module(engine):
    """The compiled-kernels module of an engine from :func:`import_engine`:
    ``gxnor_engine.kernels``, or ``gxnor_kernels`` in engines from before it."""
    for module in engine.engine_modules:
        if module.__name__ in ('gxnor_engine.kernels', 'gxnor_kernels'):
            return module
    raise SystemExit('error: the baseline engine has no compiled kernels')


def _engine_names():
    return [name for name in sys.modules if name.split('.')[0] in ENGINE_MODULES]


def import_engine(folder):
    """The module ``gated_xnor`` of the engine in `folder`, imported apart.

    The modules of the engine already imported stay as they are; the other
    engine's modules keep references to each other, so both run side by side.
    """
    saved = dict((name, sys.modules.pop(name)) for name in _engine_names())
    sys.path.insert(0, os.path.abspath(folder))
    try:
        module = importlib.import_module('gated_xnor')
        if not os.path.abspath(module.__file__).startswith(os.path.abspath(folder)):
            raise SystemExit('error: %s holds no gated_xnor.py' % folder)
    finally:
        sys.path.pop(0)
        # Keep the modules alive: Python 2 empties a module that is collected.
        module.engine_modules = [sys.modules.pop(name) for name in _engine_names()]
        sys.modules.update(saved)
    return module


class StageTimer(object):
    """Stands in for a Kernels object and adds each kernel call's time to
    ``times[(layer, part)]``."""

    def __init__(self, kernels, times):
        self._kernels, self.times, self.layer = kernels, times, None
        self.inside = 0.0           # kernel time of the stage running now

    def __getattr__(self, name):
        call = getattr(self._kernels, name)
        if name not in KERNEL_PARTS:
            return call

        def timed(*args, **kwargs):
            start = clock()
            try:
                return call(*args, **kwargs)
            finally:
                spent = clock() - start
                self.inside += spent
                _add(self.times, (self.layer, KERNEL_PARTS[name]), spent)
        return timed


def _add(times, key, seconds):
    times[key] = times.get(key, 0.0) + seconds


def time_pass(gx, model, X, batch_size, kernels):
    """Seconds per (layer, part) of one pass over X (in the order they ran), and
    the whole pass."""
    times = collections.OrderedDict()
    ctx = gx.Context(None, None, None, 'c')
    timer = StageTimer(kernels, times)
    ctx.kernels = timer
    stages = model._stages
    start = clock()
    for first in range(0, len(X), batch_size):
        a = X[first:first + batch_size]
        for stage in stages:
            if hasattr(stage, 'units') or timer.layer is None:
                timer.layer = getattr(stage, 'name', timer.layer)
            timer.inside = 0.0
            begin = clock()
            a = stage.run(a, ctx)
            part = STAGE_PARTS.get(type(stage).__name__, type(stage).__name__)
            _add(times, (timer.layer, part), clock() - begin - timer.inside)
    return times, clock() - start


def measure(variants, X, threads, rounds, batch_size, control):
    """{(variant, threads): [(times, seconds) per round]}, rounds alternating;
    `control` (this engine's Kernels) sets the threads and paths."""
    results = collections.OrderedDict()
    for r in range(rounds):
        order = variants if r % 2 == 0 else variants[::-1]
        for count in threads:
            for name, gx, model, kernels, path in order:
                control.set_threads(count)
                if path is not None:
                    control.set_path(path)
                results.setdefault((name, count), []).append(
                    time_pass(gx, model, X, batch_size, kernels))
    return results


def _median(values):
    return float(np.median(values)) if values else 0.0


def summarise(results, images):
    """Per column: medians per (layer, part), median and best images/s."""
    out = collections.OrderedDict()
    for key, runs in results.items():
        parts = []
        for times, _ in runs:
            parts.extend(k for k in times if k not in parts)
        seconds = [s for _, s in runs]
        out[key] = dict(parts=collections.OrderedDict(
            (p, _median([t.get(p, 0.0) for t, _ in runs])) for p in parts),
                        pass_s=_median(seconds), images_per_s=images / _median(seconds),
                        best_images_per_s=images / min(seconds))
    return out


def format_table(summary, row_order):
    """The per-stage table (ms per pass and share), then images/s."""
    columns = list(summary)
    head = '%-20s' % 'layer part' + ''.join(
        '%18s' % ('%s %dt' % (name, threads)) for name, threads in columns)
    lines = [head, '-' * len(head)]
    for row in row_order:
        cells = []
        for key in columns:
            ms = 1000 * summary[key]['parts'].get(row, 0.0)
            share = 100 * ms / (1000 * summary[key]['pass_s'])
            cells.append('%18s' % ('%.1f ms %4.1f%%' % (ms, share)))
        lines.append('%-20s' % ('%s %s' % row) + ''.join(cells))
    lines.append('-' * len(head))
    lines.append('%-20s' % 'pass' + ''.join(
        '%18s' % ('%.1f ms' % (1000 * summary[k]['pass_s'])) for k in columns))
    lines.append('%-20s' % 'images/s median' + ''.join(
        '%18s' % ('%.0f' % summary[k]['images_per_s']) for k in columns))
    lines.append('%-20s' % 'images/s best' + ''.join(
        '%18s' % ('%.0f' % summary[k]['best_images_per_s']) for k in columns))
    if any(name == 'baseline' for name, _ in columns):
        # Medians against the baseline's with the same threads.
        lines.append('%-20s' % 'x baseline' + ''.join(
            '%18s' % ('%.2fx' % (summary[k]['images_per_s'] /
                                 summary[('baseline', k[1])]['images_per_s']))
            for k in columns))
    return '\n'.join(lines)


def _row_order(summary):
    """Rows in the order of the first column's stages as they ran."""
    seen = []
    for entry in summary.values():
        for row in entry['parts']:
            if row not in seen:
                seen.append(row)
    layers = []
    for layer, _ in seen:
        if layer not in layers:
            layers.append(layer)
    order = ('product', 'packing', 'pool', 'threshold', 'activation', 'record', 'scores')
    return sorted(seen, key=lambda row: (layers.index(row[0]),
                                         order.index(row[1]) if row[1] in order else 99))


def load_images(dataset, input_shape, data_dir, limit):
    """(X uint8, text): the data set's test images, else random ones."""
    folder = data_dir or os.environ.get('GXNOR_%s_DIR' % dataset.upper()) or (
        os.path.join(ROOT, os.pardir, 'shared', 'data', 'mnist') if dataset == 'mnist'
        else os.path.join(ROOT, 'data', dataset))
    try:
        import datasets
        X, _ = datasets.load_test(dataset, folder, download=False)
        return np.asarray(X)[:limit], '%s test set (%s)' % (dataset, folder)
    except Exception as exc:    # missing files, any DataError: random images instead
        X = np.random.RandomState(0).randint(0, 256, size=(limit,) + tuple(input_shape))
        return X.astype(np.uint8), 'random uint8 images (%s)' % exc


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', help='model file (default: the newest weights/mnist*.npz)')
    parser.add_argument('--data-dir', help='folder of the test set')
    parser.add_argument('--images', type=int, default=10000, help='test images per pass')
    parser.add_argument('--batch-size', type=int, default=256, help='images per batch')
    parser.add_argument('--threads', default='1,2', help='OpenMP thread counts, e.g. 1,2')
    parser.add_argument('--rounds', type=int, default=5, help='alternating rounds')
    parser.add_argument('--paths', help='kernel paths, e.g. scalar,avx512 (default: all '
                                        'this machine runs)')
    parser.add_argument('--baseline', help='folder of an older engine to time beside')
    parser.add_argument('--clock', choices=('wall', 'cpu'), default='wall',
                        help='wall clock (default), or CPU time of the process: steadier '
                             'for 1 thread on a busy machine')
    parser.add_argument('--json', help='write the numbers to this file')
    return parser.parse_args(argv)


def main(argv=None):
    args = _parse(argv)
    if args.clock == 'cpu':
        use_cpu_clock()
    try:
        kernels = engine_kernels.load()
        threads = [int(t) for t in args.threads.split(',')]
    except (engine_kernels.KernelError, ValueError) as exc:
        print('error: %s' % exc, file=sys.stderr)
        return 2
    # main() also runs inside other programs (the tests): leave the loaded
    # library on the path and thread count it had.
    previous_path, previous_threads = kernels.kernel_path, kernels.threads
    try:
        return _run(args, argv, kernels, threads)
    finally:
        kernels.set_path(previous_path)
        kernels.set_threads(previous_threads)


def _run(args, argv, kernels, threads):
    paths = args.paths.split(',') if args.paths else kernels.supported
    for path in paths:
        try:
            kernels.set_path(path, '--paths')
        except engine_kernels.KernelPathError as exc:
            print('error: %s' % exc, file=sys.stderr)
            return 2
    found = sorted(glob.glob(os.path.join(ROOT, 'weights', 'mnist*.npz')),
                   key=os.path.getmtime)
    model_path = args.model or (found[-1] if found else None)
    if model_path is None or not os.path.isfile(model_path):
        print('error: no model file (%s)' % (model_path or 'weights/mnist*.npz'),
              file=sys.stderr)
        return 2
    import gated_xnor as gx
    model = gx.load_model(model_path)
    X, text = load_images(model.meta.get('dataset', 'mnist'), model.input_shape,
                          args.data_dir, args.images)
    variants = [(path, gx, model, kernels, path) for path in paths]
    if args.baseline:
        old = import_engine(args.baseline)
        variants.insert(0, ('baseline', old, old.load_model(model_path),
                            _kernels_module(old).load(), None))
    # Identical results before timing: every variant, the first batch.
    reference = model.forward(X[:args.batch_size], kernel='numpy')
    for name, module, other, _, path in variants:
        if path is not None:
            kernels.set_path(path)
        if not np.array_equal(other.forward(X[:args.batch_size], kernel='c'), reference):
            print('error: %s gives other scores than the NumPy path' % name, file=sys.stderr)
            return 1
    results = measure(variants, X, threads, args.rounds, min(args.batch_size, 256),
                      kernels)
    summary = summarise(results, len(X))
    print('model     %s' % os.path.relpath(model_path, ROOT))
    print('images    %d, %s, batch %d, %d alternating rounds (median per cell)'
          % (len(X), text, args.batch_size, args.rounds))
    print('machine   %s, %d cores, load %s' % (common.cpu_name(), common.cpu_count(),
                                               common.load_average()))
    print('kernels   %s' % kernels.describe())
    print('clock     %s' % ('CPU time of the process' if args.clock == 'cpu' else 'wall'))
    print()
    print(format_table(summary, _row_order(summary)))
    if args.json:
        common.write_json(args.json, dict(
            command=common.command_line(__file__, argv),
            model=os.path.relpath(model_path, ROOT), images=len(X), load=common.load_average(),
            clock=args.clock,
            cpu=common.cpu_name(), columns=[
                dict(variant=name, threads=count, pass_s=entry['pass_s'],
                     images_per_s=entry['images_per_s'],
                     best_images_per_s=entry['best_images_per_s'],
                     parts=dict(('%s %s' % k, v) for k, v in entry['parts'].items()))
                for (name, count), entry in summary.items()]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
