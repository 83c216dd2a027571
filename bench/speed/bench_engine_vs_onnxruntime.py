#!/usr/bin/env python
"""The gated-XNOR engine against ONNX Runtime float32 and NumPy float32, one process.

Contenders, on the same uint8 images in the same batches (``--batch-size``,
256: the engine's largest pass):

* ``engine-<path>-<T>t``: the engine (:mod:`gated_xnor`) with each kernel
  path the machine runs (``gxnor_engine.kernels.available_paths()``: e.g. scalar,
  avx2, avx512; where the kernels do not list paths: the compiled kernels
  'c'), with T OpenMP threads for T in ``--threads`` (1 and 2), set inside
  the process (``Kernels.set_path``, ``Kernels.set_threads``); the NumPy
  path (``--paths numpy``, or where the kernels list no paths) is one
  contender, ``engine-numpy``, which has no OpenMP;
* ``onnxruntime-<T>t``: ONNX Runtime's CPU provider, T intra-op threads,
  running the graph of :mod:`onnx_export` (the engine's network in float32,
  its activations as ONNX comparisons);
* ``numpy-float32``: the float32 im2col + BLAS pass of
  :mod:`bench_gated_xnor` (:class:`bench_gated_xnor.FloatNet`), OpenBLAS's
  own thread count.

Each of ``--rounds`` rounds (default 9, at least 5) times one full pass of
every contender; the order rotates from round to round and reverses in odd
rounds, so a change of load touches all of them.  Per contender: min,
median and max images/s over the rounds; per pair: the ratio of images/s
within each round (paired), its median and range.  ``engine-<T>t`` is the
engine path with the highest median images/s at T threads.

Networks: ``mnist``, the model file given (default: the newest
``weights/mnist*.npz``) on the MNIST test set (``--data-dir``, default
``../shared/data/mnist``); ``cifar10``, ``--cifar-model`` on the CIFAR-10
test set (``--cifar-data-dir``, default ``data/cifar10``), or without a
model cifar10.py's network at the paper's widths with random ternary
weights (density 2/3) and batch norms fitted to the images, on the first
``--cifar-images`` test images, or random uint8 images where there is no
test set (``--no-cifar``: MNIST only).

Exactness, untimed: ONNX Runtime's predictions against the engine's on
every image (the count that differ), and with ``--check-sums`` (default)
every weight layer's sums; all engine contenders must give the same scores.

``--json`` (default ``bench/results/engine-vs-onnxruntime.json``) writes
every figure, with a top-level ``ratios`` object for the MNIST network:
``"engine-1t/onnxruntime-1t"`` and ``"engine-2t/onnxruntime-2t"``, the
median paired ratio of the best engine path, plus the command, date,
machine, versions and load averages.  Runs in ``.venv-bench``
(``make venv-bench``: NumPy, onnx, onnxruntime).

Examples
--------
::

    .venv-bench/bin/python bench/speed/bench_engine_vs_onnxruntime.py \\
        weights/mnist-gxnor-N1-act1-adam-b1000-e120-2dc65855.npz
    .venv-bench/bin/python bench/speed/bench_engine_vs_onnxruntime.py MODEL --limit 300 \\
        --cifar-images 100 --rounds 5 --json /tmp/check.json      # a quick check
"""
from __future__ import absolute_import, division, print_function

import argparse
import contextlib
import datetime
import os
import shutil
import sys
import tempfile
import time

import numpy as np

if not __package__:  # python bench/speed/x.py: the project root on sys.path
    sys.path.insert(0, os.path.abspath(os.path.join(__file__, '..', '..', '..')))
import gated_xnor as gx  # noqa: E402
from bench import common  # noqa: E402
from bench.common import ROOT, cpu_count, cpu_name, load_average, write_json  # noqa: E402
from bench.speed import bench_gated_xnor as bgx  # noqa: E402
from bench.speed import onnx_export as ox  # noqa: E402
from gxnor_engine import kernels as gk  # noqa: E402
from gxnor_engine.popcount import resolve_method  # noqa: E402

__all__ = ['DEFAULT_JSON', 'PATH_VARIABLE', 'engine_paths', 'set_engine_threads', 'Contender',
           'contenders', 'time_rounds', 'summarize', 'check_exactness', 'measure_network',
           'main']

DEFAULT_JSON = os.path.join(common.RESULTS, 'engine-vs-onnxruntime.json')
# Forces one vector path of the compiled kernels (gxnor_engine.kernels).
PATH_VARIABLE = 'GXNOR_KERNEL_PATH'
_CLOCK = getattr(time, 'perf_counter', time.time)     # monotonic where there is one


# ----------------------------------------------------------------------------- engine control

def engine_paths():
    """The engine paths to time: the kernels' vector paths where they list them
    (``gxnor_engine.kernels.available_paths()``), else 'c' and 'numpy'."""
    listed = getattr(gk, 'available_paths', None)
    if listed is not None:
        return [str(path) for path in listed()]
    return ['c', 'numpy']


def set_engine_threads(kernels, threads):
    """OpenMP threads of the following kernel calls (``Kernels.set_threads``, where
    the kernels have it); returns the count the kernels report, which the
    caller compares with the one asked for."""
    setter = getattr(kernels, 'set_threads', None)
    if setter is not None:
        setter(threads)
    return kernels.threads


@contextlib.contextmanager
def _forced_path(path):
    """$GXNOR_KERNEL_PATH = path for the duration (a vector path only)."""
    if path in ('c', 'numpy'):
        yield
        return
    before = os.environ.get(PATH_VARIABLE)
    os.environ[PATH_VARIABLE] = path
    try:
        yield
    finally:
        if before is None:
            del os.environ[PATH_VARIABLE]
        else:
            os.environ[PATH_VARIABLE] = before


def _select_path(kernels, path):
    """Make `path` the kernels' path where they offer a setter (else the variable)."""
    setter = getattr(kernels, 'set_path', None)
    if setter is not None and path not in ('c', 'numpy'):
        setter(path)


# ----------------------------------------------------------------------------- contenders

class Contender(object):
    """One timed pass: name, kind ('engine', 'onnxruntime', 'numpy-float32'),
    path and threads (None where they do not apply), and run(X) -> scores."""

    def __init__(self, name, kind, run, path=None, threads=None, describe=''):
        self.name, self.kind, self.run = name, kind, run
        self.path, self.threads, self.describe = path, threads, describe


def _engine_contender(model, kernels, path, threads, batch_size):
    if path == 'numpy':     # no OpenMP there: one contender, whatever the thread counts
        return Contender('engine-numpy', 'engine', lambda X: model.forward(
            X, batch_size=batch_size, kernel='numpy'), path, None,
            'NumPy path (popcount %s; no OpenMP)' % resolve_method(None))

    def run(X):
        with _forced_path(path):
            _select_path(kernels, path)
            set_engine_threads(kernels, threads)
            return model.forward(X, batch_size=batch_size, kernel='c')
    with _forced_path(path):
        _select_path(kernels, path)
        actual = set_engine_threads(kernels, threads)
        describe = kernels.describe()
    if actual != threads:
        describe += ' [asked for %d threads, the kernels run %d]' % (threads, actual)
    return Contender('engine-%s-%dt' % (path, threads), 'engine', run, path, threads, describe)


def contenders(model, arrays, paths, threads, batch_size):
    """The engine per path and thread count, ONNX Runtime per thread count, NumPy."""
    kernels = None
    if any(path != 'numpy' for path in paths):
        kernels = gk.select('c')[0]
    out = []
    for path in paths:
        for count in ([None] if path == 'numpy' else threads):
            out.append(_engine_contender(model, kernels, path, count, batch_size))
    graph = ox.export(model, arrays)
    for count in threads:
        session = ox.ort_session(graph, count)
        out.append(Contender('onnxruntime-%dt' % count, 'onnxruntime',
                             lambda X, s=session: ox.run_session(s, X, batch_size),
                             threads=count, describe='ONNX Runtime %s, CPU provider, %d intra-op'
                             ' thread%s' % (_ort_version(), count, '' if count == 1 else 's')))
    reference = bgx.FloatNet(model.meta, dict(arrays))
    out.append(Contender('numpy-float32', 'numpy-float32',
                         lambda X: reference.forward(X, batch_size=batch_size),
                         describe='im2col + np.dot (OpenBLAS threads: %s)'
                         % (os.environ.get('OPENBLAS_NUM_THREADS') or 'its default')))
    return out


def _ort_version():
    import onnxruntime
    return onnxruntime.__version__


def time_rounds(entries, X, rounds):
    """Seconds of one full pass of every contender, `rounds` times.

    Round r runs the contenders rotated by r, reversed in odd rounds.  Each
    contender runs once on 50 images first (page faults, thread start-up).

    Returns
    -------
    (dict name -> list of seconds in round order, dict name -> last scores)
    """
    for entry in entries:
        entry.run(X[:50])
    seconds = dict((entry.name, []) for entry in entries)
    scores = {}
    for round_ in range(rounds):
        shift = round_ % len(entries)
        order = entries[shift:] + entries[:shift]
        for entry in (order[::-1] if round_ % 2 else order):
            start = _CLOCK()
            scores[entry.name] = entry.run(X)
            seconds[entry.name].append(_CLOCK() - start)
    return seconds, scores


def _spread(values):
    values = np.asarray(values, dtype=np.float64)
    return dict(min=float(values.min()), median=float(np.median(values)),
                max=float(values.max()))


def _ratio(seconds, numerator, denominator):
    """Paired ratio numerator/denominator of images/s, round by round."""
    per_round = [b / a for a, b in zip(seconds[numerator], seconds[denominator])]
    out = _spread(per_round)
    out.update(rounds=per_round, of_median_images_per_s=float(
        np.median(seconds[denominator]) / np.median(seconds[numerator])))
    return out


def summarize(entries, seconds, images, threads):
    """Per contender images/s (min, median, max) and the paired ratios.

    Returns
    -------
    (contenders dict, ratios dict): ratios of every engine contender to ONNX
    Runtime at its thread count and to NumPy float32, and ``engine-<T>t/...``
    for the best engine path at T threads (highest median images/s).
    """
    table = {}
    for entry in entries:
        table[entry.name] = dict(kind=entry.kind, path=entry.path, threads=entry.threads,
                                 describe=entry.describe, round_seconds=seconds[entry.name],
                                 images_per_s=_spread([images / s for s in seconds[entry.name]]))
    ratios = {}
    engines = [e for e in entries if e.kind == 'engine']
    for entry in engines:
        if entry.threads is not None:
            onnx_name = 'onnxruntime-%dt' % entry.threads
            ratios['%s/%s' % (entry.name, onnx_name)] = _ratio(seconds, entry.name, onnx_name)
        ratios['%s/numpy-float32' % entry.name] = _ratio(seconds, entry.name, 'numpy-float32')
    for count in threads:
        candidates = [e for e in engines if e.threads == count]
        if not candidates:
            continue
        best = max(candidates, key=lambda e: table[e.name]['images_per_s']['median'])
        for other in ('onnxruntime-%dt' % count, 'numpy-float32'):
            ratio = dict(ratios['%s/%s' % (best.name, other)], path=best.path,
                         contender=best.name)
            ratios['engine-%dt/%s' % (count, other)] = ratio
    return table, ratios


# ----------------------------------------------------------------------------- exactness

def check_exactness(model, arrays, X, scores, batch_size, sums=True):
    """What differs between ONNX Runtime, the engine paths and NumPy float32.

    `scores`: the last scores of every contender (name -> array).  With
    `sums`, every weight layer's sums of the engine and of the graph with sums
    are compared per batch (untimed).
    """
    engines = sorted(name for name in scores if name.startswith('engine-'))
    first = scores[engines[0]]
    predicted = dict((name, s.reshape(len(X), -1).argmax(axis=1)) for name, s in scores.items())
    onnx_names = sorted(name for name in scores if name.startswith('onnxruntime-'))
    out = dict(images=len(X), engine_contenders_identical=all(
        np.array_equal(scores[name], first) for name in engines),
        onnxruntime_predictions_differ=dict(
            (name, int(np.sum(predicted[name] != predicted[engines[0]]))) for name in onnx_names),
        onnxruntime_scores_identical=dict(
            (name, bool(np.array_equal(scores[name], first))) for name in onnx_names),
        numpy_float32_predictions_differ=int(np.sum(predicted['numpy-float32'] !=
                                                    predicted[engines[0]])))
    if sums:
        graph = ox.export(model, arrays, sums=True)
        names = [o.name for o in graph.graph.output if o.name != ox.OUTPUT_NAME]
        session = ox.ort_session(graph, 1)
        differ = np.zeros(len(X), dtype=bool)
        for start in range(0, len(X), batch_size):
            batch = X[start:start + batch_size]
            _, engine_sums = model.forward(batch, return_preacts=True)
            onnx_sums = session.run(names, {ox.INPUT_NAME: batch})
            for name, value in zip(names, onnx_sums):
                differ[start:start + len(batch)] |= np.any(
                    (value != engine_sums[name]).reshape(len(batch), -1), axis=1)
        out.update(sums_checked=names, images_with_differing_sums=int(differ.sum()))
    return out


# ----------------------------------------------------------------------------- networks

def _arrays(path):
    with np.load(path, allow_pickle=False) as data:
        return dict((k, data[k]) for k in data.files if k != '__meta__')


def _mnist_network(args):
    path = args.model or bgx.newest_model()
    X, y, text = bgx.load_images(args.data_dir, args.limit)
    if path is None:
        folder = tempfile.mkdtemp(prefix='gxnor-onnx-bench-')
        try:
            path = os.path.join(folder, 'random_mnist.npz')
            bgx.random_mnist_model(path, X[:2000])
            return gx.load_model(path), _arrays(path), X, y, text, \
                'random MNIST-architecture model (ternary weights, density 2/3)'
        finally:
            shutil.rmtree(folder)
    model = gx.load_model(path)
    return model, _arrays(path), X, y, text, os.path.relpath(path, ROOT)


def _cifar10_network(args):
    if args.cifar_model:
        model = gx.load_model(args.cifar_model)
        X, y, text = bgx.load_images(args.cifar_data_dir, args.cifar_images, dataset='cifar10',
                                     input_shape=model.input_shape)
        return model, _arrays(args.cifar_model), X, y, text, args.cifar_model
    X, _, text = bgx.load_images(args.cifar_data_dir, args.cifar_images, dataset='cifar10',
                                 input_shape=(3, 32, 32))
    folder = tempfile.mkdtemp(prefix='gxnor-onnx-bench-')
    try:
        path = os.path.join(folder, 'random_cifar10.npz')
        bgx.random_cifar10_model(path, X[:64])
        model, arrays = gx.load_model(path), _arrays(path)
    finally:
        shutil.rmtree(folder)
    # Random weights: no accuracy worth stating.
    return model, arrays, X, None, text, ("cifar10.py's network at the paper's widths, random "
                                       'ternary weights (density 2/3), batch norms fitted to 64 '
                                       'of the images')


def measure_network(name, model, arrays, X, y, args, paths):
    """Time every contender on X and check the exactness: a JSON-ready dict."""
    entries = contenders(model, arrays, paths, args.threads, args.batch_size)
    seconds, scores = time_rounds(entries, X, args.rounds)
    table, ratios = summarize(entries, seconds, len(X), args.threads)
    out = dict(images=len(X), batch_size=args.batch_size, rounds=args.rounds,
               contenders=table, ratios=ratios,
               exactness=check_exactness(model, arrays, X, scores, args.batch_size,
                                         args.check_sums))
    if y is not None:
        engine = sorted(k for k in scores if k.startswith('engine-'))[0]
        out['accuracy'] = dict((kind, float(np.mean(
            scores[key].reshape(len(X), -1).argmax(axis=1) == y)))
            for kind, key in (('engine', engine), ('onnxruntime', 'onnxruntime-%dt'
                                                    % args.threads[0]),
                              ('numpy_float32', 'numpy-float32')))
    _print_network(name, out)
    return out


def _print_network(name, result):
    print('')
    print('%s: %d images, batch %d, %d rounds (images/s: min / median / max)'
          % (name, result['images'], result['batch_size'], result['rounds']))
    for key in sorted(result['contenders'], key=lambda k: (result['contenders'][k]['kind'], k)):
        entry = result['contenders'][key]
        ips = entry['images_per_s']
        print('  %-22s %10.1f %10.1f %10.1f   %s'
              % (key, ips['min'], ips['median'], ips['max'], entry['describe']))
    for key in sorted(k for k in result['ratios'] if k.startswith('engine-') and
                      k.split('/')[0].count('-') == 1):
        ratio = result['ratios'][key]
        print('  %-36s %.2fx median of the paired rounds (%.2f-%.2fx), path %s'
              % (key, ratio['median'], ratio['min'], ratio['max'], ratio['path']))
    check = result['exactness']
    print('  exactness: ONNX Runtime predictions differing from the engine\'s: %s; '
          'images with differing hidden sums: %s; NumPy float32 predictions differing: %d'
          % (', '.join('%s %d' % kv for kv in sorted(check['onnxruntime_predictions_differ']
                                                       .items())),
             check.get('images_with_differing_sums', 'not checked'),
             check['numpy_float32_predictions_differ']))
    if 'accuracy' in result:
        print('  accuracy: %s' % ', '.join('%s %.2f%%' % (k, 100 * v) for k, v in
                                            sorted(result['accuracy'].items())))


# ----------------------------------------------------------------------------- command

def _thread_list(text):
    values = [int(v) for v in text.split(',') if v.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError('expected thread counts >= 1, e.g. 1,2')
    return values


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('model', nargs='?', help='an MNIST gxnor-model (default: the newest '
                        'weights/mnist*.npz, else a random one)')
    parser.add_argument('--data-dir', default=None,
                        help='MNIST folder (default: $GXNOR_MNIST_DIR, else ../shared/data/mnist)')
    parser.add_argument('--limit', type=int, default=None, help='first N MNIST test images')
    parser.add_argument('--cifar-model', default=None,
                        help="a CIFAR-10 gxnor-model (default: cifar10.py's network at the "
                             "paper's widths with random ternary weights)")
    parser.add_argument('--cifar-data-dir', default=None,
                        help='CIFAR-10 folder (default: $GXNOR_CIFAR10_DIR, else data/cifar10; '
                             'random uint8 images where there is none)')
    parser.add_argument('--cifar-images', type=int, default=1000,
                        help='first N CIFAR-10 test images (default 1000)')
    parser.add_argument('--no-cifar', action='store_true', help='the MNIST network only')
    parser.add_argument('--rounds', type=int, default=9,
                        help='timed rounds, every contender once per round (>= 5; default 9)')
    parser.add_argument('--batch-size', type=int, default=gx.PASS_IMAGES,
                        help='images per call, all contenders (default %d)' % gx.PASS_IMAGES)
    parser.add_argument('--threads', type=_thread_list, default=[1, 2],
                        help='thread counts of the engine and ONNX Runtime (default 1,2)')
    parser.add_argument('--paths', default=None,
                        help='engine paths, comma-separated (default: %s)'
                             % ','.join(engine_paths()))
    parser.add_argument('--no-check-sums', dest='check_sums', action='store_false',
                        help="skip the comparison of every layer's sums (untimed)")
    parser.add_argument('--json', default=DEFAULT_JSON, metavar='PATH',
                        help='where the figures go (default bench/results/%s)'
                        % os.path.basename(DEFAULT_JSON))
    args = parser.parse_args(argv)
    if args.rounds < 5:
        parser.error('--rounds must be >= 5 (paired medians need several rounds)')
    if args.batch_size < 1 or args.cifar_images < 1 or (args.limit is not None and
                                                        args.limit < 1):
        parser.error('--batch-size, --cifar-images and --limit must be >= 1')
    paths = engine_paths() if args.paths is None else [
        p.strip() for p in args.paths.split(',') if p.strip()]
    unknown = sorted(set(paths) - set(engine_paths()) - set(['c', 'numpy']))
    if not paths or unknown:
        parser.error('--paths: unknown or empty (this machine runs %s)'
                     % ', '.join(engine_paths()))
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        print('error: ONNX Runtime is not installed here (%s): run it in .venv-bench '
              '(make venv-bench)' % exc, file=sys.stderr)
        return 2
    load_start = load_average()
    started = datetime.datetime.utcnow()
    report = dict(command=common.command_line(__file__, argv, python=sys.executable),
                  date=started.strftime('%Y-%m-%dT%H:%M:%SZ'),
                  machine=dict(cpu=cpu_name(), cores=cpu_count()),
                  versions=dict(python=sys.version.split()[0], numpy=np.__version__,
                                onnx=__import__('onnx').__version__,
                                onnxruntime=_ort_version()),
                  engine_paths=paths, threads=args.threads,
                  load_average=dict(start=load_start), networks={})
    print('machine     %s, %d cores; load %s (1, 5, 15 min)'
          % (cpu_name(), cpu_count(), load_start))
    try:
        networks = [('mnist', _mnist_network)] + ([] if args.no_cifar else
                                                  [('cifar10', _cifar10_network)])
        for name, build in networks:
            model, arrays, X, y, text, model_text = build(args)
            print('%-11s %s on %d images: %s' % (name, model_text, len(X), text))
            result = measure_network(name, model, arrays, X, y, args, paths)
            result.update(model=model_text, images_source=text)
            report['networks'][name] = result
            report['load_average']['after_' + name] = load_average()
    except (gx.ModelError, ox.ExportError, gk.KernelError, ValueError) as exc:
        print('error: %s' % exc, file=sys.stderr)
        return 2
    mnist = report['networks']['mnist']['ratios']
    report['ratios'] = dict(('engine-%dt/onnxruntime-%dt' % (t, t),
                             mnist['engine-%dt/onnxruntime-%dt' % (t, t)]['median'])
                            for t in args.threads
                            if 'engine-%dt/onnxruntime-%dt' % (t, t) in mnist)
    report['ratios_are'] = ('the MNIST network: images/s of the best engine path over ONNX '
                            'Runtime float32 at equal threads, median of the paired rounds')
    report['seconds'] = (datetime.datetime.utcnow() - started).total_seconds()
    write_json(args.json, report)
    print('')
    print('ratios      %s  (MNIST, best engine path, median of the paired rounds)'
          % ', '.join('%s %.2fx' % kv for kv in sorted(report['ratios'].items())))
    print('wrote       %s' % args.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
