"""The gated-XNOR engine runs the compared methods that are binary or ternary on
both sides (BNN, XNOR-Net, TBN, GXNOR with N = 0 / act-N = 0) as Theano does.

Each model is built by the harness (``network_blocks.conv_block`` /
``dense_block`` with ``--method``), given random weights, biases and
batch-norm scales (gamma of both signs), its batch-norm statistics set from
one training-mode pass over the test images (``--bn-alpha 1``: the running
averages become that batch's statistics) and then perturbed, and saved by
``run_files.save_model`` exactly as training saves it.  The engine, on the
compiled and on the NumPy kernels, must give the same predicted classes as
Theano's deterministic pass and the same scores within a float tolerance;
both kernels must agree exactly.

Tolerance: scores within 1e-5 * max |score| (largest absolute difference).
Theano computes in float32 while the engine's integer products are exact and
its float parts (BWN's alpha, XNOR-Net's K, batch norm, TBN's threshold) run
in float64 and in another order, so the scores differ by float32 rounding:
at most 2e-7 of max |score| in these models.  1e-5 leaves a margin of 50,
and stays far below what one flipped hidden activation would change (a whole
term 2 * alpha * K of the next layer's sums).
"""
from __future__ import division

import os

import gxnor_compat  # noqa: F401
import lasagne
import numpy as np
import pytest
import theano
import theano.tensor as T

import binary_net
import network_blocks
import datasets
import gated_xnor
import gxnor_layers
import run_files
import run_options
from gxnor_engine import kernels as engine_kernels

SCORE_TOLERANCE = 1e-5          # of max |score|; see the module doc

FLAGS_ONLY = binary_net.Experiment('m', None, None, dict(batch_size=10, epochs=1, lr_start=0.1,
                                                         lr_end=0.1))

# The methods the engine runs, as harness flags.
SUPPORTED = [
    ['--method', 'bnn'],
    ['--method', 'xnor'],
    ['--method', 'tbn'],
    ['--method', 'gxnor', '--N', '0'],
    ['--method', 'gxnor', '--N', '0', '--act-N', '0'],
]


def build_network(input_var, args):
    """12x12 input, 6C3-MP2-8C3(pad 1)-MP2-16FC-10: first layer, pooled hidden
    convolution with padding, dense after conv, dense after dense."""
    net = lasagne.layers.InputLayer((None, 1, 12, 12), input_var)
    net = network_blocks.conv_block(net, args, 'conv1', 6, 3, pool=True)
    net = network_blocks.conv_block(net, args, 'conv2', 8, 3, pad=1, pool=True)
    net = network_blocks.dense_block(net, args, 'fc3', 16)
    return network_blocks.dense_block(net, args, 'fc4', 10, activation=False)


def random_parameters(network, args, rng):
    """Weights (on the grid for gxnor, hidden floats otherwise), biases, gamma, beta."""
    for key, param in run_files.layer_params(network).items():
        shape = param.get_value().shape
        kind = key.split('.')[-1]
        if kind == 'W':
            if args.method == 'gxnor':      # N = 0: {-H, H}
                value = rng.choice([-args.H, args.H], size=shape)
            else:
                value = rng.uniform(-1, 1, size=shape)
        elif kind == 'b':
            value = rng.normal(0, 0.3, size=shape)
        elif kind == 'gamma':
            value = rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1, 1], size=shape)
        elif kind == 'beta':
            value = rng.normal(0, 0.5, size=shape)
        else:
            continue
        param.set_value(value.astype(param.dtype))


def calibrate_batch_norm(network, input_var, x, rng):
    """Running statistics from one training-mode pass (alpha = 1), then perturbed."""
    outputs = lasagne.layers.get_output(network, deterministic=False)
    theano.function([input_var], outputs)(x)       # default updates set mean, inv_std
    for layer in lasagne.layers.get_all_layers(network):
        if isinstance(layer, gxnor_layers.BatchNormLayer):
            size = layer.mean.get_value().shape
            spread = 1.0 / layer.inv_std.get_value()
            layer.mean.set_value((layer.mean.get_value() + rng.normal(0, 0.1, size) * spread)
                                 .astype(layer.mean.dtype))
            layer.inv_std.set_value((layer.inv_std.get_value() * rng.uniform(0.8, 1.2, size))
                                    .astype(layer.inv_std.dtype))


def harness_model(flags, path, X, seed):
    """Build, fill and save a model of ``flags``; return its Theano scores on X."""
    args = run_options.parse_args(FLAGS_ONLY, flags + ['--bn-alpha', '1'])
    input_var = T.tensor4()
    network = build_network(input_var, args)
    rng = np.random.RandomState(seed)
    random_parameters(network, args, rng)
    x = datasets.to_float(X)
    calibrate_batch_norm(network, input_var, x, rng)
    run_files.save_model(path, network, dict(dataset='mnist', input_shape=[1, 12, 12],
                                             method=args.method))
    scores = lasagne.layers.get_output(network, deterministic=True)
    return theano.function([input_var], scores)(x)


def args_method(flags):
    return flags[flags.index('--method') + 1]


def c_kernels_available():
    try:
        engine_kernels.load()
    except engine_kernels.KernelError:
        return False
    return True


@pytest.mark.parametrize('flags', SUPPORTED, ids=lambda f: '-'.join(f).replace('--', ''))
def test_engine_equals_theano(flags, tmp_path):
    X = np.random.RandomState(7).randint(0, 256, size=(64, 1, 12, 12)).astype(np.uint8)
    path = str(tmp_path / 'model.npz')
    expected = harness_model(flags, path, X, seed=len(' '.join(flags)))
    model = gated_xnor.load_model(path)
    kernels = ['c', 'numpy'] if c_kernels_available() else ['numpy']
    results = dict((k, model.forward(X, batch_size=20, kernel=k)) for k in kernels)
    for kernel, scores in results.items():
        assert np.array_equal(scores.argmax(axis=1), expected.argmax(axis=1)), kernel
        error = np.abs(scores - expected).max() / np.abs(expected).max()
        assert error < SCORE_TOLERANCE, (kernel, error)
    if 'c' in results:
        assert np.array_equal(results['c'], results['numpy'])
    # Sign and staircase activations of integer sums stay folded into integer
    # thresholds; XNOR-Net's and TBN's depend on the data and run in float.
    folded = [info['name'] for info in model.layers if 'threshold_channels' in info]
    assert folded == ([] if args_method(flags) in ('xnor', 'tbn') else ['conv1', 'conv2', 'fc3'])
    # Not degenerate: the classes vary and batch norm is not the identity.
    assert len(set(expected.argmax(axis=1))) > 2


@pytest.mark.parametrize('flags,message', [
    (['--method', 'fp'], 'full-precision'),
    (['--method', 'binaryconnect'], 'ReLU'),
    (['--method', 'bwn'], 'ReLU'),
    (['--method', 'twn'], 'TWN'),
    (['--method', 'ttq'], 'TTQ'),
    (['--method', 'dorefa'], 'DoReFa'),
    (['--method', 'syq'], 'SYQ'),
    (['--method', 'bnn', '--stochastic'], 'stochastic'),
    # int8 storage: weights on the grid from the start (float storage snaps them in epoch 0)
    (['--method', 'gxnor', '--N', '2', '--weight-storage', 'int8'], 'N=2'),
    (['--method', 'gxnor', '--act-N', '2', '--weight-storage', 'int8'], 'act_N=2'),
])
def test_unsupported_methods_raise_model_error(flags, message, tmp_path):
    args = run_options.parse_args(FLAGS_ONLY, flags)
    network = build_network(T.tensor4(), args)
    path = str(tmp_path / 'model.npz')
    run_files.save_model(path, network, dict(dataset='mnist', input_shape=[1, 12, 12],
                                             method=args.method))
    with pytest.raises(gated_xnor.ModelError) as refused:
        gated_xnor.load_model(path)
    text = str(refused.value)
    assert message in text and os.path.basename(path) in text
    if args.method not in gated_xnor.SUPPORTED_METHODS:     # not bnn --stochastic
        assert 'the engine runs gxnor, bnn, xnor, tbn models only' in text


def test_the_method_records_say_which_methods_the_engine_runs():
    """methods.py's ``engine`` field is what the engine (which imports no Theano, so not
    methods.py) accepts, and what the test above compares."""
    import methods
    engine = set(gated_xnor.SUPPORTED_METHODS)
    assert set(m.name for m in methods.METHODS.values() if m.engine) == engine
    assert set(flags[1] for flags in SUPPORTED) == engine
