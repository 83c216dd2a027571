#!/usr/bin/env python
"""Gated-XNOR engine versus a float32 NumPy forward pass of the same model.

Both run in one process on the same images and batches: the engine
(:mod:`gated_xnor`, bit-packed integers) and a float32 pass written the
usual way (im2col + ``np.dot`` through BLAS, batch norm, activation).  They
are timed in alternating rounds (``--repeat R``: engine then float32 in
even rounds, float32 then engine in odd ones), so that a change of load on
the machine touches both; the script prints the best time of each
(images/s), their ratio and the median of the per-round ratios, the model
size packed versus float32, the load average before and after, and how
many predictions differ between the two.

For a trained model file it also runs the model's Lasagne network,
rebuilt from the file (:func:`model_sparsity.load_network`) and compiled
by Theano (deterministic pass, float32, as ``binary_net``'s test function),
on the same images, untimed, and counts the predictions that differ from
the engine's and from the float32 pass's (``--theano``: required;
``--no-theano``: skipped; default: when Theano imports).

Model: the MODEL argument (any data set the harness trains: an MNIST,
CIFAR-10 or SVHN model of any architecture, e.g. any ``cifar10.py
--widths``), else the newest ``weights/mnist*.npz``, else a random model of
the paper's MNIST architecture (32C5-MP2-64C5-MP2-512FC-10, ternary
weights, batch-norm statistics measured on the images, as training would
leave them).  Images: the test set of the model's data set through
``datasets.py``, found in ``--data-dir``, else ``$GXNOR_<DATASET>_DIR``
(``$GXNOR_MNIST_DIR``, ``$GXNOR_CIFAR10_DIR``), else the project's folders
(``../shared/data/mnist``; ``./data/cifar10``, where ``cifar10.py`` looks),
else random uint8 images of the model's input shape.  The CIFAR-10 test
set built from the project's JPEG copy (``make cifar10-data``) is
recognised by its pixels' SHA-256 and called "CIFAR-10 (JPEG copy)".

``--cifar-random`` adds, in the same run, the same comparison on the
CIFAR-10 network of ``cifar10.py`` (2x128C3-MP2-2x256C3-MP2-2x512C3-MP2-
1024FC-10) with random ternary weights, batch-norm statistics measured on
the images and random gamma, beta and biases, on random uint8 images
(``--cifar-images``), the same images for both sides.  The model file is
written to a temporary folder and removed.  ``--json PATH`` writes every
figure as JSON, with the command, date, machine and load average.

Examples
--------
::

    python bench/speed/bench_gated_xnor.py                         # newest model or random one
    python bench/speed/bench_gated_xnor.py weights/<model>.npz --limit 2000 --popcount table
    python bench/speed/bench_gated_xnor.py weights/<model>.npz --kernel numpy  # NumPy only
    python bench/speed/bench_gated_xnor.py weights/<model>.npz --cifar-random --json out.json
    python bench/speed/bench_gated_xnor.py results/cifar10-gxnor-....npz --data-dir data/cifar10 \
        --repeat 5 --theano --json bench/results/engine-cifar10.json
"""
from __future__ import absolute_import, division, print_function

import argparse
import datetime
import glob
import hashlib
import os
import shutil
import sys
import tempfile
import time

import numpy as np
from numpy.lib.stride_tricks import as_strided

if not __package__:  # python bench/speed/x.py: the project root on sys.path
    sys.path.insert(0, os.path.abspath(os.path.join(__file__, '..', '..', '..')))
import gated_xnor as gx  # noqa: E402
from bench import common  # noqa: E402
from bench.common import ROOT, load_average  # noqa: E402
from gxnor_engine import kernels as gk  # noqa: E402
from gxnor_engine.activations import pool_length  # noqa: E402
from gxnor_engine.popcount import resolve_method  # noqa: E402

__all__ = ['FloatNet', 'mnist_layers', 'cifar10_layers', 'random_model', 'random_mnist_model',
           'random_cifar10_model', 'load_images', 'theano_predictions', 'measure', 'main']

# SHA-256 of the CIFAR-10 test pixels (uint8, batch order) that the project's
# JPEG copy decodes to (../shared/data/cifar10-jpeg/make_cifar10.py).
CIFAR10_JPEG_TEST_SHA256 = '5681a721162d00a0d36b9874ec9ae04052c6fe5f8320393a80c9809cf2a44c56'
_TITLES = dict(mnist='MNIST', cifar10='CIFAR-10', svhn='SVHN')


# ----------------------------------------------------------------------------- float32 pass

def _im2col(a, kernel, stride, pad):
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad
    if ph or pw:
        a = np.pad(a, ((0, 0), (ph, ph), (pw, pw), (0, 0)), mode='constant')
    a = np.ascontiguousarray(a)
    n, height, width, channels = a.shape
    oh, ow = (height - kh) // sh + 1, (width - kw) // sw + 1
    s = a.strides
    view = as_strided(a, (n, oh, ow, kh, kw, channels),
                      (s[0], s[1] * sh, s[2] * sw, s[1], s[2], s[3]))
    return view.reshape(n * oh * ow, -1), (oh, ow)


class FloatNet(object):
    """The model as a plain float32 NumPy network (NHWC inside, NCHW semantics).

    With `calibrate` images, batch-norm layers whose statistics are missing
    from `arrays` get the mean and 1/sqrt(var + eps) of those images' batch
    (stored into `arrays`), as a trained model's running averages would be.
    """

    def __init__(self, meta, arrays, dtype=np.float32, calibrate=None):
        self.dtype, self.arrays = dtype, arrays
        self.stages = []
        shape = tuple(meta['input_shape'])
        x = None if calibrate is None else self._scale(calibrate)
        for spec in meta['layers']:
            stage, shape = self._compile(spec, shape, x)
            if stage is not None:
                self.stages.append(stage)
                if x is not None:
                    x = stage(x)

    def _scale(self, X):
        x = np.ascontiguousarray(X.transpose(0, 2, 3, 1), dtype=self.dtype)
        return x * self.dtype(2.0 / 255) - self.dtype(1)

    def _get(self, name):
        return np.asarray(self.arrays[name], dtype=self.dtype)

    def _compile(self, spec, shape, x):
        kind = spec['kind']
        params = spec.get('params') or {}
        if kind == 'input':
            return None, shape
        if kind == 'conv':
            W = self._get(params['W'])
            if spec.get('flip_filters'):
                W = W[:, :, ::-1, ::-1]
            matrix = np.ascontiguousarray(W.transpose(2, 3, 1, 0).reshape(-1, len(W)))
            b = self._get(params['b']) if params.get('b') else None
            geometry = (tuple(spec['filter_size']), tuple(spec.get('stride', (1, 1))),
                        tuple(spec.get('pad', (0, 0))))

            def conv(a):
                patches, (oh, ow) = _im2col(a, *geometry)
                out = patches.dot(matrix)
                if b is not None:
                    out += b
                return out.reshape(len(a), oh, ow, -1)
            C, H, Wd = shape
            (kh, kw), (sh, sw), (ph, pw) = geometry
            return conv, (len(W), (H + 2 * ph - kh) // sh + 1, (Wd + 2 * pw - kw) // sw + 1)
        if kind == 'dense':
            W = self._get(params['W'])
            if len(shape) == 3:     # rows in (C, H, W) order; activations are NHWC
                W = W.reshape(shape + (-1,)).transpose(1, 2, 0, 3).reshape(W.shape)
            b = self._get(params['b']) if params.get('b') else None

            def dense(a):
                out = a.reshape(len(a), -1).dot(W)
                return out if b is None else out + b
            return dense, (W.shape[1],)
        if kind == 'maxpool':
            pool = tuple(spec['pool_size'])
            stride = tuple(spec.get('stride') or pool)
            ignore = spec.get('ignore_border', True)
            out = (shape[0],) + tuple(pool_length(s, p, st, ignore)
                                      for s, p, st in zip(shape[1:], pool, stride))
            return (lambda a: gx.max_pool_nhwc(a, pool, stride, ignore)), out
        if kind == 'batchnorm':
            if x is not None and params['mean'] not in self.arrays:
                axes = tuple(range(x.ndim - 1))
                self.arrays[params['mean']] = x.mean(axis=axes)
                self.arrays[params['inv_std']] = 1 / np.sqrt(x.var(axis=axes) +
                                                             spec.get('epsilon', 1e-4))
            mean, beta = self._get(params['mean']), self._get(params['beta'])
            scale = self._get(params['gamma']) * self._get(params['inv_std'])
            return (lambda a: (a - mean) * scale + beta), shape
        if kind == 'activation':
            r, one = self.dtype(spec.get('r', 1.0)), self.dtype(1)
            if spec.get('act_N', 1) == 0:
                return (lambda a: np.where(a >= 0, one, -one)), shape
            return (lambda a: np.where(a > r, one, np.where(a < -r, -one, self.dtype(0)))), shape
        raise ValueError('FloatNet: unsupported layer kind %r' % kind)

    def forward(self, X, batch_size=1000):
        """Scores (n, classes) of uint8 images X (n, C, H, W)."""
        outputs = []
        for start in range(0, len(X), batch_size):
            a = self._scale(X[start:start + batch_size])
            for stage in self.stages:
                a = stage(a)
            outputs.append(a.transpose(0, 3, 1, 2) if a.ndim == 4 else a)
        return np.concatenate(outputs)


# ----------------------------------------------------------------------------- model and data

def _weights(name, kind, H, N, **extra):
    spec = dict(kind=kind, name=name, discrete=True, H=H, N=N,
                params=dict(W=name + '.W', b=name + '.b'))
    spec.update(extra)
    return spec


def _bn(name, axes):
    return dict(kind='batchnorm', name=name + '_bn', epsilon=1e-4, axes=axes,
                params=dict((p, '%s_bn.%s' % (name, p))
                            for p in ('beta', 'gamma', 'mean', 'inv_std')))


_POOL = dict(kind='maxpool', pool_size=[2, 2], stride=[2, 2], pad=[0, 0], ignore_border=True)


def _conv_block(name, filters, size, pad, pool, act, H, N):
    """conv, [pool], batch norm, activation: network_blocks.conv_block's order."""
    conv = _weights(name, 'conv', H, N, num_filters=filters, filter_size=[size, size],
                    stride=[1, 1], pad=[pad, pad], flip_filters=False)
    return [conv] + ([_POOL] if pool else []) + [_bn(name, [0, 2, 3]), act]


def mnist_layers(act_N=1, r=1.0, H=1.0, N=1):
    """The paper's MNIST network in the gxnor-model layer format."""
    act = dict(kind='activation', act_N=act_N, r=r, a=0.5, window='rect')
    return ([dict(kind='input', shape=[1, 28, 28])] +
            _conv_block('conv1', 32, 5, 0, True, act, H, N) +
            _conv_block('conv2', 64, 5, 0, True, act, H, N) +
            [_weights('fc3', 'dense', H, N, num_units=512), _bn('fc3', [0]), act,
             _weights('fc4', 'dense', H, N, num_units=10), _bn('fc4', [0])])


def cifar10_layers(act_N=1, r=1.0, H=1.0, N=1):
    """cifar10.py's network, 2x128C3-MP2-2x256C3-MP2-2x512C3-MP2-1024FC-10."""
    act = dict(kind='activation', act_N=act_N, r=r, a=0.5, window='rect')
    layers = [dict(kind='input', shape=[3, 32, 32])]
    for stage, width in enumerate((128, 256, 512)):
        layers += _conv_block('conv%da' % (stage + 1), width, 3, 1, False, act, H, N)
        layers += _conv_block('conv%db' % (stage + 1), width, 3, 1, True, act, H, N)
    return layers + [_weights('fc1', 'dense', H, N, num_units=1024), _bn('fc1', [0]), act,
                     _weights('fc2', 'dense', H, N, num_units=10), _bn('fc2', [0])]


def _weight_shapes(layers):
    """(name, W shape, units) of every conv/dense layer, walking the shapes."""
    shape, out = tuple(layers[0]['shape']), []
    for spec in layers[1:]:
        if spec['kind'] == 'conv':
            (kh, kw), (ph, pw) = spec['filter_size'], spec['pad']
            units = spec['num_filters']
            out.append((spec['name'], (units, shape[0], kh, kw), units))
            shape = (units, shape[1] + 2 * ph - kh + 1, shape[2] + 2 * pw - kw + 1)
        elif spec['kind'] == 'maxpool':
            shape = (shape[0], shape[1] // 2, shape[2] // 2)
        elif spec['kind'] == 'dense':
            units = spec['num_units']
            out.append((spec['name'], (int(np.prod(shape)), units), units))
            shape = (units,)
    return out


def random_model(path, layers, X_calibrate, seed=0, density=2.0 / 3, dataset='mnist'):
    """Write a random ternary model of `layers` whose batch norms fit `X_calibrate`.

    Weights in {-1, 0, 1} with P(non-zero) = `density`; biases, gamma > 0 and
    beta random; batch-norm mean and inv_std measured on the images (valid:
    inv_std > 0), as a trained model's running averages would be.
    """
    rng = np.random.RandomState(seed)
    arrays = {}
    for name, shape, units in _weight_shapes(layers):
        values = rng.choice([-1.0, 1.0], size=shape) * (rng.uniform(size=shape) < density)
        arrays[name + '.W'] = values.astype(np.float32)
        arrays[name + '.b'] = rng.normal(0, 0.5, units).astype(np.float32)
        arrays[name + '_bn.gamma'] = rng.uniform(0.5, 1.5, units).astype(np.float32)
        arrays[name + '_bn.beta'] = rng.normal(0, 0.3, units).astype(np.float32)
    input_shape = list(layers[0]['shape'])
    meta = dict(format='gxnor-model', version=1, input_shape=input_shape, layers=layers)
    FloatNet(meta, arrays, calibrate=X_calibrate)      # fills the batch-norm statistics
    gx.save_model(path, layers, arrays, dict(dataset=dataset, input_shape=input_shape,
                                             config=dict(random=True, seed=seed)))


def random_mnist_model(path, X_calibrate, seed=0, density=2.0 / 3):
    """Write a random ternary MNIST model whose batch norms fit `X_calibrate`."""
    random_model(path, mnist_layers(), X_calibrate, seed, density)


def random_cifar10_model(path, X_calibrate, seed=0, density=2.0 / 3):
    """Write a random ternary model of cifar10.py's network (batch norms fit `X_calibrate`)."""
    random_model(path, cifar10_layers(), X_calibrate, seed, density, dataset='cifar10')


def newest_model():
    found = glob.glob(os.path.join(ROOT, 'weights', 'mnist*.npz'))
    return max(found, key=os.path.getmtime) if found else None


def _data_folders(dataset, data_dir):
    """Folders to try for `dataset`'s test files, in order (None: datasets.py's default)."""
    if data_dir:
        return [data_dir]       # a folder the user named: that one only
    env = os.environ.get('GXNOR_%s_DIR' % dataset.upper())
    if env:
        return [env]
    if dataset == 'mnist':
        return [os.path.join(ROOT, '..', 'shared', 'data', 'mnist')]
    return [os.path.join(ROOT, 'data', dataset), None]


def _describe_test_set(dataset, X, folder):
    title = _TITLES.get(dataset, dataset)
    if dataset == 'cifar10' and len(X) == 10000 and \
            hashlib.sha256(np.ascontiguousarray(X).tobytes()).hexdigest() == \
            CIFAR10_JPEG_TEST_SHA256:
        title = 'CIFAR-10 (JPEG copy)'
    return '%s test set (%s)' % (title, folder or
                                 "datasets.py's default folders: $PYLEARN2_DATA_PATH, ./data")


def load_images(data_dir, limit, seed=0, dataset='mnist', input_shape=(1, 28, 28)):
    """(X, y, description): `dataset`'s test set, else random images (y None).

    Never downloads.  Random images have shape `input_shape` and are 10,000
    (or `limit`).
    """
    folders = _data_folders(dataset, data_dir)
    why = 'no folder of %s' % ', '.join(f for f in folders if f)
    try:
        import datasets
    except ImportError as exc:
        datasets, why = None, 'datasets.py: %s' % exc
    for folder in folders if datasets else []:
        if folder is not None and not os.path.isdir(folder):
            continue
        try:
            X, y = datasets.load_test(dataset, folder, download=False)
        except Exception as exc:   # any DataError: try the next folder
            why = str(exc)
            continue
        text = _describe_test_set(dataset, X, folder)
        return X[:limit], np.asarray(y)[:limit], text
    n = 10000 if limit is None else limit
    X = np.random.RandomState(seed).randint(0, 256, size=(n,) + tuple(input_shape))
    return X.astype(np.uint8), None, 'random uint8 images (no %s test set: %s)' % (
        _TITLES.get(dataset, dataset), why)


def theano_predictions(path, X, batch_size=500):
    """Predictions of the model file's Lasagne network compiled by Theano.

    The network is rebuilt from the file as :mod:`model_sparsity` does (the
    data set's script, the run's hyperparameters, the saved parameters) and
    run deterministically (batch-norm averages) on float32 inputs
    ``2x/255 - 1``, as ``binary_net``'s test function.  Returns (predictions,
    info dict: compile_seconds, run_seconds, theano version, floatX).
    """
    import model_sparsity       # imports gxnor_compat (Theano flags), Theano, Lasagne
    import datasets
    import lasagne
    import theano
    started = time.time()
    network, input_var, _ = model_sparsity.load_network(path)
    scores = theano.function([input_var], lasagne.layers.get_output(network, deterministic=True))
    compiled = time.time()
    predictions = np.concatenate([
        np.asarray(scores(datasets.to_float(X[i:i + batch_size], theano.config.floatX)))
        .reshape(len(X[i:i + batch_size]), -1).argmax(axis=1)
        for i in range(0, len(X), batch_size)])
    info = dict(compile_seconds=compiled - started, run_seconds=time.time() - compiled,
                theano=theano.__version__, floatX=theano.config.floatX,
                device=theano.config.device, batch_size=batch_size)
    return predictions, info


# ----------------------------------------------------------------------------- benchmark

def _load(path):
    """(engine model, float32 reference) of a model file."""
    model = gx.load_model(path)
    with np.load(path, allow_pickle=False) as data:
        arrays = dict((k, data[k]) for k in data.files if k != '__meta__')
    return model, FloatNet(model.meta, arrays)


def measure(model, reference, X, batch_size, repeat, method=None, kernel=None):
    """Throughput of the engine and the float32 pass on the same X, alternating.

    `repeat` rounds; each times one full pass of both, the engine first in
    even rounds and the float32 pass first in odd ones.

    Returns
    -------
    dict: images, rounds, engine_seconds and float32_seconds (best round),
    engine_images_per_s, float32_images_per_s, ratio (engine/float32
    throughput of the best rounds), round_engine_seconds,
    round_float32_seconds, round_ratios and median_round_ratio, agree and
    differ_float32 (equal and different predictions of the two), the model
    sizes of :meth:`GXNORModel.model_bytes`, and the predictions
    (pred_engine, pred_float32; arrays, not for JSON).
    """
    # Warm up both (page faults, BLAS thread start) on a small batch.
    model.forward(X[:50], method=method, kernel=kernel)
    reference.forward(X[:50])
    passes = dict(engine=lambda: model.forward(X, batch_size=batch_size, method=method,
                                               kernel=kernel),
                  float32=lambda: reference.forward(X, batch_size=batch_size))
    times = dict(engine=[], float32=[])
    results = {}
    for round_ in range(repeat):
        for side in ('engine', 'float32') if round_ % 2 == 0 else ('float32', 'engine'):
            start = time.time()
            results[side] = passes[side]()
            times[side].append(time.time() - start)
    n = len(X)
    t_engine, t_float = min(times['engine']), min(times['float32'])
    ratios = [f / e for e, f in zip(times['engine'], times['float32'])]
    pred_engine = results['engine'].reshape(n, -1).argmax(axis=1)
    pred_float = results['float32'].reshape(n, -1).argmax(axis=1)
    agree = int(np.sum(pred_engine == pred_float))
    out = dict(images=n, rounds=repeat, engine_seconds=t_engine, float32_seconds=t_float,
               engine_images_per_s=n / t_engine, float32_images_per_s=n / t_float,
               ratio=t_float / t_engine, round_engine_seconds=times['engine'],
               round_float32_seconds=times['float32'], round_ratios=ratios,
               median_round_ratio=float(np.median(ratios)),
               agree=agree, differ_float32=n - agree,
               pred_engine=pred_engine, pred_float32=pred_float)
    out.update(('size_' + k, v) for k, v in model.model_bytes().items())
    return out


def _print_measurement(r, prefix=''):
    n = r['images']
    print('%-11s %9.1f images/s  (%.2f s, gated XNOR on packed bits)'
          % (prefix + 'engine', r['engine_images_per_s'], r['engine_seconds']))
    print('%-11s %9.1f images/s  (%.2f s, im2col + BLAS)'
          % (prefix + 'float32', r['float32_images_per_s'], r['float32_seconds']))
    print('%-11s %.2fx engine/float32 throughput (best rounds of %d, alternating; '
          'median of the per-round ratios %.2fx)'
          % (prefix + 'ratio', r['ratio'], r['rounds'], r['median_round_ratio']))
    print('%-11s packed %d B vs float32 %d B: %.1fx smaller '
          '(weights alone: %d vs %d B, %.1fx)'
          % (prefix + 'model size', r['size_packed'], r['size_float32'],
             r['size_float32'] / r['size_packed'], r['size_packed_weights'],
             r['size_float32_weights'], r['size_float32_weights'] / r['size_packed_weights']))
    print('%-11s %d/%d predictions equal (%.3f%%): %d differ between engine and float32'
          % (prefix + 'agreement', r['agree'], n, 100.0 * r['agree'] / n, r['differ_float32']))


def _load_random(write_model, X):
    """(model, float32 reference) of a random model ``write_model(path, X)`` writes, from a
    temporary folder."""
    folder = tempfile.mkdtemp(prefix='gxnor-bench-')
    try:
        path = os.path.join(folder, 'random.npz')
        write_model(path, X)
        return _load(path)
    finally:
        shutil.rmtree(folder)


def _cifar_random(args, method):
    """The CIFAR-10 network, random ternary weights, random images: measurement dict."""
    X = np.random.RandomState(1).randint(0, 256, size=(args.cifar_images, 3, 32, 32))
    X = X.astype(np.uint8)
    model, reference = _load_random(random_cifar10_model, X[:64])
    return measure(model, reference, X, args.batch_size, args.repeat, method, args.kernel)


def _json_ready(result):
    return dict((k, v) for k, v in result.items() if not isinstance(v, np.ndarray))


def _compare_with_theano(path, X, y, result, required):
    """Theano's predictions against the engine's and the float32 pass's: a dict, or None."""
    try:
        predictions, info = theano_predictions(path, X)
    except Exception as exc:   # no Theano here, or a network it cannot rebuild
        if required:
            raise
        print('theano      not compared (%s: %s)'
              % (type(exc).__name__, ' '.join(str(exc).split())[:200]))
        return None
    differ = predictions != result['pred_engine']
    out = dict(info, images=len(X), differ_engine=int(np.sum(differ)),
               differ_float32=int(np.sum(predictions != result['pred_float32'])),
               differing_images=[int(i) for i in np.flatnonzero(differ)[:50]])
    if y is not None:
        out['accuracy'] = float(np.mean(predictions == y))
    print('theano      %d/%d predictions differ from the engine\'s, %d from the float32 '
          "pass's (Theano %s, %s, deterministic pass; compile %.1f s, run %.1f s, untimed)"
          % (out['differ_engine'], len(X), out['differ_float32'], info['theano'],
             info['floatX'], info['compile_seconds'], info['run_seconds']))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('model', nargs='?', help='gxnor-model .npz of any data set (default: '
                        'newest weights/mnist*.npz, else a random MNIST model)')
    parser.add_argument('--data-dir', default=None,
                        help="folder of the model's data set (default: $GXNOR_<DATASET>_DIR, "
                             'else ../shared/data/mnist or ./data/cifar10)')
    parser.add_argument('--limit', type=int, default=None, help='first N images only')
    parser.add_argument('--batch-size', type=int, default=256,
                        help='images per pass, both paths (the engine runs at most 256)')
    parser.add_argument('--repeat', type=int, default=3,
                        help='timed rounds, alternating engine and float32; best of each')
    parser.add_argument('--popcount', choices=gx.POPCOUNT_METHODS, default=None,
                        help='bit counting of the NumPy kernel (default: bitwise_count on '
                             'NumPy >= 2, else swar); selects it under --kernel auto')
    parser.add_argument('--kernel', choices=gk.KERNEL_CHOICES, default=None,
                        help='engine kernels: compiled C or NumPy (default auto, or '
                             '$GXNOR_KERNELS: C when it builds)')
    theano_flag = parser.add_mutually_exclusive_group()
    theano_flag.add_argument('--theano', dest='theano', action='store_const', const=True,
                             default=None, help="compare with Theano's predictions of the "
                             'model file (fail if it cannot; default: when Theano imports)')
    theano_flag.add_argument('--no-theano', dest='theano', action='store_const', const=False,
                             help='no Theano comparison')
    parser.add_argument('--cifar-random', action='store_true',
                        help="also measure cifar10.py's network with random ternary weights "
                             'on random images')
    parser.add_argument('--cifar-images', type=int, default=1000,
                        help='random images of the CIFAR-10 measurement')
    parser.add_argument('--json', default=None, metavar='PATH',
                        help='also write the figures as JSON to PATH')
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.batch_size < 1 or args.cifar_images < 1 or \
            (args.limit is not None and args.limit < 1):
        parser.error('--repeat, --batch-size, --cifar-images and --limit must be >= 1')
    load_start = load_average()

    path = args.model or newest_model()
    if path is None:
        X, y, data_text = load_images(args.data_dir, args.limit)
        model, reference = _load_random(random_mnist_model, X[:2000])
        model_text = 'random MNIST-architecture model (ternary weights, density 2/3)'
    else:
        model_text = path
        try:
            model, reference = _load(path)
        except gx.ModelError as exc:
            print('error: %s' % exc, file=sys.stderr)
            return 2
        X, y, data_text = load_images(args.data_dir, args.limit,
                                      dataset=model.meta.get('dataset', 'mnist'),
                                      input_shape=model.meta.get('input_shape', (1, 28, 28)))
    dataset = model.meta.get('dataset', 'mnist')

    method = args.popcount
    try:
        kernels, kernel_text = gk.select(args.kernel, method)  # builds, untimed
    except (ValueError, gk.KernelError) as exc:
        print('error: %s' % exc, file=sys.stderr)
        return 2
    if kernels is None:
        kernel_text += ', popcount %s' % resolve_method(method)
    result = measure(model, reference, X, args.batch_size, args.repeat, method, args.kernel)
    load_measured = load_average()

    n = len(X)
    print('model       %s' % model_text)
    print('images      %d, %s' % (n, data_text))
    print('numpy       %s, Python %s, batch %d'
          % (np.__version__, sys.version.split()[0], args.batch_size))
    print('kernel      %s' % kernel_text)
    print('load        %s before, %s after the timed rounds (1, 5, 15 min)'
          % (load_start, load_measured))
    _print_measurement(result)
    report = dict(model=model_text, dataset=dataset, images_source=data_text,
                  numpy=np.__version__, python=sys.version.split()[0],
                  batch_size=args.batch_size, repeat=args.repeat, kernel=kernel_text,
                  command=common.command_line(__file__, argv),
                  date=datetime.date.today().isoformat(),
                  machine=common.machine(),
                  engine_threads=os.environ.get('OMP_NUM_THREADS') or
                  'OpenMP default (one per core)',
                  float32_blas_threads=os.environ.get('OPENBLAS_NUM_THREADS') or
                  'OpenBLAS default (one per core)',
                  load_average=dict(start=load_start, after_timed_rounds=load_measured))
    report[dataset] = _json_ready(result)
    config = model.meta.get('config') or {}
    report['model_info'] = dict(
        (k, v) for k, v in [('run', model.meta.get('run')), ('method', model.meta.get('method')),
                            ('widths', config.get('widths')), ('epochs', config.get('epochs')),
                            ('best_val_epoch', model.meta.get('epoch')),
                            ('harness_val_err', model.meta.get('val_err')),
                            ('harness_test_err', model.meta.get('test_err')),
                            ('harness_test_size', config.get('test_size'))]
        if v is not None)
    if y is not None:
        accuracy = dict(engine=float(np.mean(result['pred_engine'] == y)),
                        float32=float(np.mean(result['pred_float32'] == y)))
        print('accuracy    engine %.2f%%, float32 %.2f%%'
              % (100.0 * accuracy['engine'], 100.0 * accuracy['float32']))
        report[dataset]['accuracy'] = accuracy
    if args.theano is not False and path is not None:
        try:
            theano = _compare_with_theano(path, X, y, result, required=args.theano)
        except Exception as exc:   # --theano: a comparison that cannot run is an error
            print('error: --theano: %s: %s' % (type(exc).__name__, exc), file=sys.stderr)
            return 2
        if theano is not None:
            report[dataset]['theano'] = theano
            if y is not None:
                report[dataset]['accuracy']['theano'] = theano['accuracy']
    if args.cifar_random:
        cifar = _cifar_random(args, method)
        print('')
        print('cifar10     random model of cifar10.py (ternary weights, density 2/3), '
              '%d random images' % cifar['images'])
        _print_measurement(cifar, prefix='  ')
        report['cifar10_random'] = _json_ready(cifar)
    report['load_average']['end'] = load_average()
    if args.json:
        common.write_json(args.json, report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
