"""Random ternary data, the integer reference convolution, random engine
models and their float64 reference forward pass, model files rewritten to
be wrong, for the engine's tests.

Not a test module: the test files of the engine's modules
(tests/test_engine_<module>.py, one per module of gxnor_engine/, e.g.
tests/test_engine_model.py), tests/test_engine_kernels.py, tests/test_onnx_export.py
and the bench tests import it.
"""
from __future__ import absolute_import, division, print_function

import json
import os
import sys
import types

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import gated_xnor as gx  # noqa: E402
from gxnor_engine import kernels as engine_kernels  # noqa: E402
from gxnor_engine.popcount import HAVE_BITWISE_COUNT  # noqa: E402
from gxnor_engine.spec import ModelError  # noqa: E402

# Bit counting methods to run every packed computation of the NumPy path with.
METHODS = ['swar', 'table'] + (['bitwise_count'] if HAVE_BITWISE_COUNT else [])


def c_kernels():
    """Whether the compiled kernels run here (no compiler: the NumPy paths only)."""
    try:
        return engine_kernels.select('c')[0] is not None
    except engine_kernels.KernelError:
        return False


def ternary(rng, shape, density=2.0 / 3):
    """Random values in {-1, 0, 1} with P(non-zero) = density."""
    values = rng.choice([-1, 1], size=shape)
    return (values * (rng.uniform(size=shape) < density)).astype(np.int8)


def plain_conv(x, w, stride, pad, dtype=np.int64):
    """Integer (or, with dtype float64, float) cross-correlation, NCHW, zero
    padding, the definition written out."""
    (sh, sw), (ph, pw) = stride, pad
    n, c, height, width = x.shape
    f, _, kh, kw = w.shape
    xp = np.zeros((n, c, height + 2 * ph, width + 2 * pw), dtype=dtype)
    xp[:, :, ph:ph + height, pw:pw + width] = x
    oh, ow = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
    out = np.zeros((n, f, oh, ow), dtype=dtype)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = np.einsum('nchw,fchw->nf', patch, w.astype(dtype))
    return out


# (channels, size, kernel, stride, pad) of the packed convolution tests.
CONV_CASES = [
    (1, 7, (3, 3), (1, 1), (0, 0)),
    (3, 9, (5, 3), (2, 1), (2, 1)),
    (8, 6, (1, 1), (1, 1), (0, 0)),
    (13, 11, (3, 5), (3, 2), (1, 2)),
    (70, 5, (3, 3), (1, 1), (1, 1)),
]


def conv_spec(name, filters, kernel, stride=(1, 1), pad=(0, 0), H=1.0, N=1, bias=True,
              flip=False):
    return dict(kind='conv', name=name, num_filters=filters, filter_size=list(kernel),
                stride=list(stride), pad=list(pad), flip_filters=flip, discrete=True,
                H=H, N=N, params=dict(W=name + '.W', b=name + '.b' if bias else None))


def dense_spec(name, units, H=1.0, N=1, bias=True):
    return dict(kind='dense', name=name, num_units=units, discrete=True, H=H, N=N,
                params=dict(W=name + '.W', b=name + '.b' if bias else None))


def bn_spec(name, axes):
    return dict(kind='batchnorm', name=name, epsilon=1e-4, axes=axes,
                params=dict((p, '%s.%s' % (name, p)) for p in ('beta', 'gamma', 'mean', 'inv_std')))


def pool_spec(size=2, stride=None, ignore_border=True):
    stride = size if stride is None else stride
    return dict(kind='maxpool', pool_size=[size, size], stride=[stride, stride], pad=[0, 0],
                ignore_border=ignore_border)


def act_spec(act_N=1, r=1.0):
    return dict(kind='activation', act_N=act_N, r=r, a=0.5, window='rect')


def conv_out(size, kernel, stride, pad):
    return (size + 2 * pad - kernel) // stride + 1


def pool_out(size, pool, stride, ignore_border):
    if ignore_border:
        return (size - pool) // stride + 1
    if stride >= pool:
        return (size - 1) // stride + 1
    return max(0, (size - 1 - pool + stride) // stride) + 1


def random_model(rng, layers, input_shape, act_density=0.5):
    """Random weights on the grid and batch-norm statistics that keep activations mixed."""
    arrays = {}
    shape = tuple(input_shape)
    first, fan_in, units, H, N = True, None, None, 1.0, 1
    for spec in layers:
        kind = spec['kind']
        if kind in ('conv', 'dense'):
            H, N = spec['H'], spec['N']
            if kind == 'conv':
                kh, kw = spec['filter_size']
                units = spec['num_filters']
                wshape = (units, shape[0], kh, kw)
                shape = (units,) + tuple(conv_out(s, k, st, p) for s, k, st, p in zip(
                    shape[1:], spec['filter_size'], spec['stride'], spec['pad']))
            else:
                units = spec['num_units']
                wshape = (int(np.prod(shape)), units)
                shape = (units,)
            grid = ternary(rng, wshape) if N == 1 else rng.choice([-1, 1], size=wshape)
            arrays[spec['params']['W']] = (grid * H).astype(np.float32)
            if spec['params']['b']:
                arrays[spec['params']['b']] = rng.normal(0, 0.3, units).astype(np.float32)
            fan_in = int(np.prod(wshape)) // units
            # Spread of the pre-activation: uniform pixels (var 1/3) or ternary inputs.
            spread = H * np.sqrt(fan_in * (2.0 / 3 if N == 1 else 1.0) *
                                 (1.0 / 3 if first else act_density))
            first = False
        elif kind == 'maxpool':
            shape = (shape[0],) + tuple(pool_out(s, p, st, spec['ignore_border']) for s, p, st
                                        in zip(shape[1:], spec['pool_size'], spec['stride']))
        elif kind == 'batchnorm':
            names = spec['params']
            gamma = rng.uniform(0.5, 2.0, units) * rng.choice([-1, 1], size=units)
            gamma[0] = 0.0
            arrays[names['gamma']] = gamma.astype(np.float32)
            arrays[names['beta']] = rng.normal(0, 0.5, units).astype(np.float32)
            arrays[names['mean']] = rng.normal(0, 0.5 * spread, units).astype(np.float32)
            arrays[names['inv_std']] = (rng.uniform(0.8, 1.2, units) / spread).astype(np.float32)
    return arrays


def ref_weights(spec, arrays, unit_axis):
    """The float64 weights a layer computes with (the compared methods' quantizers)."""
    W = arrays[spec['params']['W']].astype(np.float64)
    if spec.get('quantizer') == 'binaryconnect':
        return np.where(W >= 0, 1.0, -1.0)
    if spec.get('quantizer') == 'bwn':
        others = tuple(a for a in range(W.ndim) if a != unit_axis)
        alpha = np.abs(W).mean(axis=others, keepdims=True)
        return alpha * np.where(W >= 0, 1.0, -1.0)
    return W


def ref_method_activation(x, spec):
    """bnn: sign; xnor: sign times the mean |x| over channels; tbn: ternary with
    threshold delta * mean |x| of each image (discrete_ops' formulas)."""
    sign = np.where(x >= 0, 1.0, -1.0)
    if spec['method'] == 'bnn':
        return sign
    if spec['method'] == 'xnor':
        return sign * np.abs(x).mean(axis=1, keepdims=True)
    threshold = spec['delta'] * np.abs(x.reshape(len(x), -1)).mean(axis=1)
    threshold = threshold.reshape((-1,) + (1,) * (x.ndim - 1))
    return np.where(x > threshold, 1.0, np.where(x < -threshold, -1.0, 0.0))


def ref_forward(meta, arrays, X):
    """Float64 forward pass, written straight from the format description."""
    x = X.astype(np.float64) * 2 / 255 - 1
    records = {}
    last = None
    for spec in meta['layers']:
        kind = spec['kind']
        if kind != 'maxpool' and last is not None:
            records[last] = x     # after the max-pooling that directly follows
            last = None
        if kind in ('conv', 'quantized_conv'):
            W = ref_weights(spec, arrays, unit_axis=0)
            if spec['flip_filters']:
                W = W[:, :, ::-1, ::-1]
            (sh, sw), (ph, pw) = spec['stride'], spec['pad']
            n, c, height, width = x.shape
            kh, kw = W.shape[2:]
            xp = np.zeros((n, c, height + 2 * ph, width + 2 * pw))
            xp[:, :, ph:ph + height, pw:pw + width] = x
            oh, ow = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
            out = np.zeros((n, len(W), oh, ow))
            for i in range(oh):
                for j in range(ow):
                    out[:, :, i, j] = np.einsum('nchw,fchw->nf',
                                                xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw], W)
            if spec['params']['b']:
                out += arrays[spec['params']['b']].astype(np.float64)[None, :, None, None]
            x, last = out, spec['name']
        elif kind in ('dense', 'quantized_dense'):
            x = x.reshape(len(x), -1).dot(ref_weights(spec, arrays, unit_axis=1))
            if spec['params']['b']:
                x = x + arrays[spec['params']['b']].astype(np.float64)
            last = spec['name']
        elif kind == 'maxpool':
            (ph, pw), (sh, sw) = spec['pool_size'], spec['stride']
            n, c, height, width = x.shape
            oh = pool_out(height, ph, sh, spec['ignore_border'])
            ow = pool_out(width, pw, sw, spec['ignore_border'])
            out = np.zeros((n, c, oh, ow))
            for i in range(oh):
                for j in range(ow):
                    window = x[:, :, i * sh:i * sh + ph, j * sw:j * sw + pw]
                    out[:, :, i, j] = window.max(axis=(2, 3))
            x = out
        elif kind == 'batchnorm':
            p = dict((k, arrays[v].astype(np.float64)) for k, v in spec['params'].items())
            shape = (1, -1) + (1,) * (x.ndim - 2)
            x = ((x - p['mean'].reshape(shape)) * (p['gamma'] * p['inv_std']).reshape(shape) +
                 p['beta'].reshape(shape))
        elif kind == 'activation':
            if spec['act_N'] == 0:
                x = np.where(x >= 0, 1.0, -1.0)
            else:
                x = np.where(x > spec['r'], 1.0, np.where(x < -spec['r'], -1.0, 0.0))
            records['act:%d' % len(records)] = x
        elif kind == 'quantized_activation':
            x = ref_method_activation(x, spec)
            records['act:%d' % len(records)] = x
    if last is not None:
        records[last] = x
    return x, records


def mnist_like_layers():
    return [dict(kind='input', shape=[1, 16, 16]),
            conv_spec('conv1', 6, (5, 5)), pool_spec(2), bn_spec('conv1_bn', [0, 2, 3]), act_spec(),
            conv_spec('conv2', 8, (3, 3)), pool_spec(2), bn_spec('conv2_bn', [0, 2, 3]), act_spec(),
            dense_spec('fc3', 20), bn_spec('fc3_bn', [0]), act_spec(),
            dense_spec('fc4', 10), bn_spec('fc4_bn', [0])]


def odd_layers():
    """Strides, padding, odd sizes, pooling after batch norm and after the
    activation, partial pooling windows, binary weights and activations, no
    biases, H != 1, flipped filters, a final activation."""
    return [conv_spec('c1', 5, (3, 3), pad=(1, 1), H=0.5, flip=True),
            pool_spec(2, ignore_border=False), bn_spec('b1', [0, 2, 3]), act_spec(r=0.7),
            conv_spec('c2', 9, (3, 2), stride=(2, 1), pad=(1, 0), H=0.75, bias=False),
            bn_spec('b2', [0, 2, 3]), pool_spec(2, stride=1), act_spec(),
            conv_spec('c3', 6, (2, 2), N=0, H=2.0), bn_spec('b3', [0, 2, 3]), act_spec(act_N=0),
            pool_spec(2, ignore_border=False),
            dense_spec('d4', 13, N=0), bn_spec('b4', [0]), act_spec(r=0.5),
            dense_spec('d5', 4, H=0.25), bn_spec('b5', [0]), act_spec(r=0.1)]


def write_model(tmpdir, layers, input_shape, seed, name='model.npz'):
    rng = np.random.RandomState(seed)
    arrays = random_model(rng, layers, input_shape)
    path = os.path.join(str(tmpdir), name)
    gx.save_model(path, layers, arrays, dict(input_shape=list(input_shape)))
    return path, arrays


def quantized_spec(kind, name, quantizer, **shape):
    spec = dict(kind='quantized_' + kind, name=name, quantizer=quantizer, H=1.0, bits=1,
                stochastic=False, threshold=0.05, params=dict(W=name + '.W', b=name + '.b'))
    if kind == 'conv':
        spec.update(flip_filters=False, stride=[1, 1], pad=[0, 0])
    spec.update(shape)
    return spec


def method_layers(quantizer, activation):
    """As binary_net's blocks: conv1 with pooling, a strided and padded conv2
    with partial pooling windows, dense after conv, dense after dense."""
    act = dict(kind='quantized_activation', method=activation, bits=2, delta=0.4)
    return [dict(kind='input', shape=[2, 13, 12]),
            quantized_spec('conv', 'c1', quantizer, num_filters=6, filter_size=[3, 3]),
            pool_spec(2), bn_spec('b1', [0, 2, 3]), act,
            quantized_spec('conv', 'c2', quantizer, num_filters=70, filter_size=[3, 2],
                           stride=[2, 1], pad=[1, 1]),
            pool_spec(2, ignore_border=False), bn_spec('b2', [0, 2, 3]), act,
            quantized_spec('dense', 'd3', quantizer, num_units=20), bn_spec('b3', [0]), act,
            quantized_spec('dense', 'd4', quantizer, num_units=5), bn_spec('b4', [0])]


def calibrated_method_model(tmpdir, layers, X, seed):
    """Hidden weights, biases, gamma (both signs), beta at random; batch-norm
    statistics of the float64 reference on X, perturbed."""
    rng = np.random.RandomState(seed)
    arrays, shape = {}, tuple(layers[0]['shape'])
    for index, spec in enumerate(layers):
        if spec['kind'].startswith('quantized_') and 'params' in spec:
            if spec['kind'] == 'quantized_conv':
                wshape = (spec['num_filters'], shape[0]) + tuple(spec['filter_size'])
            else:
                wshape = (int(np.prod(shape)), spec['num_units'])
            arrays[spec['params']['W']] = rng.uniform(-1, 1, wshape).astype(np.float32)
            units = wshape[0] if spec['kind'] == 'quantized_conv' else wshape[1]
            arrays[spec['params']['b']] = rng.normal(0, 0.3, units).astype(np.float32)
            shape = ref_forward(dict(layers=layers[:index + 1]), arrays, X)[0].shape[1:]
        elif spec['kind'] == 'maxpool':
            shape = ref_forward(dict(layers=layers[:index + 1]), arrays, X)[0].shape[1:]
        elif spec['kind'] == 'batchnorm':
            x = ref_forward(dict(layers=layers[:index]), arrays, X)[0]
            axes = tuple(a for a in range(x.ndim) if a != 1)
            p, units = spec['params'], x.shape[1]
            arrays[p['mean']] = (x.mean(axis=axes) + rng.normal(0, 0.1, units) *
                                 x.std(axis=axes)).astype(np.float32)
            arrays[p['inv_std']] = (rng.uniform(0.8, 1.2, units) /
                                    x.std(axis=axes)).astype(np.float32)
            arrays[p['gamma']] = (rng.uniform(0.5, 2, units) *
                                  rng.choice([-1, 1], units)).astype(np.float32)
            arrays[p['beta']] = rng.normal(0, 0.5, units).astype(np.float32)
    path = os.path.join(str(tmpdir), 'method.npz')
    gx.save_model(path, layers, arrays, dict(input_shape=list(layers[0]['shape'])))
    return path, arrays


def fake_datasets(X, y):
    module = types.ModuleType('datasets')
    module.DataError = type('DataError', (Exception,), {})
    module.load_test = lambda name, data_dir=None: (X, y)
    return module


def rewrite(path, change):
    """Apply change(meta, arrays) to a model file."""
    with np.load(path, allow_pickle=False) as data:
        arrays = dict((k, data[k]) for k in data.files if k != '__meta__')
        meta = json.loads(data['__meta__'].item())
    change(meta, arrays)
    arrays['__meta__'] = np.array(u'' + json.dumps(meta))
    with open(path, 'wb') as stream:      # not save_model: it fixes format and version
        np.savez(stream, **arrays)


def set_item(d, key, value):
    d[key] = value


def assert_refused(tmpdir, change, message):
    """A random MNIST-like model file changed by change(meta, arrays) does not
    load: ModelError with `message` in it, names as written (no u'' on 2.7)."""
    path, _ = write_model(tmpdir, mnist_like_layers(), (1, 16, 16), 10)
    rewrite(path, change)
    with pytest.raises(ModelError) as info:
        gx.load_model(path)
    assert message in str(info.value)
    assert "u'" not in str(info.value)   # names as written, on Python 2.7 too
