"""The gated-XNOR engine reproduces the Theano model exactly.

A small network is trained here (so the test does not depend on a committed
file), saved by the harness, run by both, and compared on real MNIST images:
predictions, and each layer's integer pre-activations against Theano's float
ones.  The committed MNIST model, when present, is checked on all 10,000
test images.  The engine runs on each kernel path of the compiled kernels
(the test ids name it; paths this machine lacks are skipped, saying why);
Theano runs once per model.
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
import run_files
import run_options
from conftest import ROOT, committed_models


def build_small_network(input_var, args):
    net = lasagne.layers.InputLayer((None, 1, 28, 28), input_var)
    net = network_blocks.conv_block(net, args, 'conv1', 8, 5, pool=True)
    net = network_blocks.conv_block(net, args, 'conv2', 8, 3, pad=1)
    net = network_blocks.dense_block(net, args, 'fc3', 32)
    return network_blocks.dense_block(net, args, 'fc4', 10, activation=False)


def theano_outputs(network, X, names):
    """Deterministic scores and the float outputs of the named layers (after
    their max-pooling, if one follows directly)."""
    layers = dict((l.name, l) for l in lasagne.layers.get_all_layers(network) if l.name)
    taps = []
    for name in names:
        tap = layers[name]
        for layer in lasagne.layers.get_all_layers(network):
            if getattr(layer, 'input_layer', None) is tap and \
                    isinstance(layer, lasagne.layers.MaxPool2DLayer):
                tap = layer
        taps.append(tap)
    input_var = lasagne.layers.get_all_layers(network)[0].input_var
    outputs = lasagne.layers.get_output([network] + taps, deterministic=True)
    return theano.function([input_var], outputs)(datasets.to_float(X))


@pytest.fixture(scope='module')
def small_model(mnist_data, tmp_path_factory):
    """(model file, Theano's outputs on 1000 test images) of a network trained here."""
    folder = tmp_path_factory.mktemp('small')
    experiment = binary_net.Experiment(
        'small', lambda args: mnist_data, build_small_network,
        defaults=dict(batch_size=100, epochs=2, lr_start=0.03, lr_end=0.01))
    summary = binary_net.main(experiment, [
        '--train-size', '1000', '--val-size', '500', '--test-size', '500',
        '--results-dir', str(folder / 'r'), '--weights-dir', str(folder / 'w')])

    # Rebuild the Theano network from the same weights file.
    args = run_options.parse_args(experiment, [])
    input_var = T.tensor4()
    network = build_small_network(input_var, args)
    saved = np.load(summary['model'])
    for key, param in run_files.layer_params(network).items():
        param.set_value(saved[key].astype(param.dtype))

    X = mnist_data['test'][0][:1000]
    return summary['model'], theano_outputs(network, X, NAMES)


NAMES = ['conv1', 'conv2', 'fc3', 'fc4']


def test_engine_matches_theano_on_trained_small_model(mnist_data, small_model, kernel_path):
    path, outputs = small_model
    model = gated_xnor.load_model(path)
    saved = np.load(path)
    X = mnist_data['test'][0][:1000]
    scores, preacts = model.forward(X, return_preacts=True, kernel='c')
    assert np.array_equal(np.argmax(scores, 1), np.argmax(outputs[0], 1))
    assert np.allclose(scores, outputs[0], atol=1e-3)
    for name, out in zip(NAMES, outputs[1:]):
        bias = saved[name + '.b'].reshape((1, -1) + (1,) * (out.ndim - 2))
        scale = 1.0 / 255 if name == 'conv1' else 1.0  # first layer sees 2p - 255
        integer = (out - bias) / scale
        assert np.all(np.abs(integer - np.round(integer)) < 0.02), name
        assert np.array_equal(preacts[name], np.round(integer).astype(preacts[name].dtype)), name


_THEANO_PREDICTIONS = {}


def theano_predictions(path, X):
    """Theano's classes for images X of the model file `path` (once per session)."""
    if path not in _THEANO_PREDICTIONS:
        import model_sparsity
        network, input_var, _ = model_sparsity.load_network(path)
        theano_scores = theano.function(
            [input_var], lasagne.layers.get_output(network, deterministic=True))
        _THEANO_PREDICTIONS[path] = np.concatenate(
            [np.argmax(theano_scores(datasets.to_float(X[i:i + 500])), 1)
             for i in range(0, len(X), 500)])
    return _THEANO_PREDICTIONS[path]


@pytest.mark.skipif(not committed_models(), reason='no committed MNIST model in weights/')
@pytest.mark.parametrize('name', [os.path.basename(p) for p in committed_models()] or ['none'])
def test_committed_model_predictions_equal_theano_on_all_test_images(mnist_data, kernel_path,
                                                                      name):
    path = os.path.join(ROOT, 'weights', name)
    X, y = mnist_data['test']
    expected = theano_predictions(path, X)
    engine = gated_xnor.load_model(path).predict(X, kernel='c')
    assert np.array_equal(engine, expected)
    assert np.mean(engine != y) < 0.05
