"""Tests of gxnor_engine/builder.py."""
from __future__ import absolute_import, division, print_function

import numpy as np
import pytest

from engine_models import (
    METHODS, act_spec, assert_refused, bn_spec, c_kernels, calibrated_method_model,
    method_layers, mnist_like_layers, odd_layers, pool_spec, random_model, ref_forward, set_item)
from gxnor_engine.activations import PoolStage, ScoreStage, ThresholdStage
from gxnor_engine.builder import build
from gxnor_engine.model import load_model
from gxnor_engine.products import FirstStage, PackedStage
from gxnor_engine.spec import ModelError
from gxnor_engine.thresholds import fold_thresholds


def built(layers, input_shape, seed):
    """build() of a random model of `layers`: (stages, layers, output shape, arrays)."""
    arrays = random_model(np.random.RandomState(seed), layers, input_shape)
    meta = dict(input_shape=list(input_shape), layers=layers)
    return build(meta, arrays) + (arrays,)


@pytest.mark.parametrize('quantizer,activation', [
    ('binaryconnect', 'bnn'), ('bwn', 'xnor'), ('bwn', 'tbn')])
def test_compared_methods_equal_float64_reference(tmpdir, kernel_path, quantizer, activation):
    """Integer products, float scales: equal to the float64 formulas (up to the
    order of float64 operations), identical on every kernel and popcount path
    (the compiled kernels on the test's kernel path)."""
    X = np.random.RandomState(17).randint(0, 256, size=(30, 2, 13, 12)).astype(np.uint8)
    layers = method_layers(quantizer, activation)
    path, arrays = calibrated_method_model(tmpdir, layers, X, seed=len(activation))
    model = load_model(path)
    expected, records = ref_forward(model.meta, arrays, X)
    for act in (k for k in records if k.startswith('act:')):
        assert max(np.mean(np.sign(records[act]) == v) for v in (-1, 0, 1)) < 0.9, act
    runs = [model.forward(X, batch_size=7, method=mode, kernel='numpy') for mode in METHODS]
    if c_kernels():
        runs.append(model.forward(X, batch_size=7, kernel='c'))
    for scores in runs:
        assert np.array_equal(scores, runs[0])
    np.testing.assert_allclose(runs[0], expected, rtol=1e-9, atol=1e-9)
    assert np.array_equal(model.predict(X), expected.argmax(axis=1))
    folded = [info['name'] for info in model.layers if 'threshold_channels' in info]
    assert folded == (['c1', 'c2', 'd3'] if activation == 'bnn' else [])


# What builder.py checks of a model file's layer list, and the message naming it.
@pytest.mark.parametrize('change,message', [
    (lambda m, a: set_item(m['layers'][4], 'act_N', 2), 'act_N=2'),
    (lambda m, a: set_item(m['layers'][4], 'kind', 'relu'), 'unsupported layer kind'),
    (lambda m, a: m['layers'].pop(4), 'activation before it'),
    (lambda m, a: set_item(m, 'input_shape', [1, 20, 16]), 'shape'),
])
def test_bad_models_raise_model_error(tmpdir, change, message):
    assert_refused(tmpdir, change, message)


@pytest.mark.parametrize('change,message', [
    (lambda layers: layers.insert(4, bn_spec('conv1_bn', [0, 2, 3])),
     'layer conv1_bn (batchnorm): two batch norms in one block'),
    (lambda layers: layers.insert(1, pool_spec(2)), 'max-pooling of the input image'),
    (lambda layers: layers.__delitem__(slice(1, None)), 'no conv or dense layer'),
    (lambda layers: set_item(layers[2], 'pad', [1, 1]), 'padded max-pooling'),
    (lambda layers: set_item(layers[3], 'axes', [0]), 'axes [0] unsupported'),
    (lambda layers: layers.insert(10, pool_spec(2)), 'max-pooling needs (C, H, W) input'),
    (lambda layers: layers.insert(5, act_spec()), 'activation must follow a conv/dense layer'),
    (lambda layers: set_item(layers, 4, dict(kind='quantized_activation', method='dorefa')),
     'DoReFa-Net k-bit activations'),
    (lambda layers: set_item(layers, 4, dict(kind='quantized_activation', method='tbn',
                                             delta=-1)), 'TBN delta must be >= 0'),
])
def test_layer_lists_the_stages_cannot_run_are_refused(change, message):
    layers = mnist_like_layers()
    arrays = random_model(np.random.RandomState(0), layers, (1, 16, 16))
    change(layers)
    with pytest.raises(ModelError) as info:
        build(dict(input_shape=[1, 16, 16], layers=layers), arrays)
    assert message in str(info.value)


def test_layer_facts_and_stages_of_an_mnist_like_model():
    """Per weight layer its shapes, fan-in and non-zero weights as counted on
    the arrays; first layer on pixels, packed hidden layers, each max-pooling
    right after a conv joined to its stage, thresholds for every hidden
    activation and float scores at the end."""
    stages, layers, output_shape, arrays = built(mnist_like_layers(), (1, 16, 16), 3)
    assert output_shape == (10,)
    expected = [('conv1', 'conv', (1, 16, 16), (6, 12, 12)), ('conv2', 'conv', (6, 6, 6),
                                                               (8, 4, 4)),
                ('fc3', 'dense', (8, 2, 2), (20,)), ('fc4', 'dense', (20,), (10,))]
    for info, (name, kind, in_shape, out_shape) in zip(layers, expected):
        W = arrays[name + '.W']
        units = W.shape[0] if kind == 'conv' else W.shape[1]
        assert (info['name'], info['kind'], info['in_shape'], info['out_shape']) == \
            (name, kind, in_shape, out_shape)
        assert info['units'] == units == out_shape[0] and info['fan_in'] * units == W.size
        assert info['nonzero_weights'] == np.count_nonzero(W) and info['weights'] == W.size
        assert info['H'] == 1.0 and info['N'] == 1 and info['scales'] == 0
        assert ('threshold_channels' in info) == (name != 'fc4')
    weight_stages = [s for s in stages if isinstance(s, (FirstStage, PackedStage))]
    assert [type(s) for s in weight_stages] == [FirstStage, PackedStage, PackedStage, PackedStage]
    assert [s.pool is not None for s in weight_stages] == [True, True, False, False]
    assert not any(isinstance(s, PoolStage) for s in stages)
    assert sum(isinstance(s, ThresholdStage) for s in stages) == 3
    assert isinstance(stages[-1], ScoreStage)


def test_folded_thresholds_are_those_of_each_block():
    """Each activation's thresholds equal fold_thresholds of its block: scale
    H / 255 and |z| <= 255 * fan-in for the first layer, H and fan-in after
    it, the layer's bias (0 without), its batch norm, the activation's act_N
    and r; a max-pooling after a batch norm with gamma * inv_std < 0 pools
    sign * z."""
    layers = odd_layers()
    stages, _, _, arrays = built(layers, (3, 13, 11), 4)
    thresholds = [s.thresholds for s in stages if isinstance(s, ThresholdStage)]
    expected, block = [], None
    for spec in layers:
        if spec['kind'] in ('conv', 'dense'):
            W = arrays[spec['params']['W']]
            fan_in = W[0].size if spec['kind'] == 'conv' else W.shape[0]
            units = W.shape[0] if spec['kind'] == 'conv' else W.shape[1]
            b = spec['params']['b']
            first = block is None
            block = dict(zmax=(255 if first else 1) * fan_in,
                         scale=spec['H'] / 255.0 if first else spec['H'],
                         bias=arrays[b].astype(np.float64) if b else np.zeros(units))
        elif spec['kind'] == 'batchnorm':
            block.update((k, arrays[v].astype(np.float64)) for k, v in spec['params'].items())
        elif spec['kind'] == 'activation':
            expected.append(fold_thresholds(act_N=spec['act_N'], r=spec['r'], **block))
    assert len(thresholds) == len(expected) == 5
    for got, want in zip(thresholds, expected):
        for a, b in zip(got, want):
            assert np.array_equal(a, b)
    b2 = arrays['b2.gamma'].astype(np.float64) * arrays['b2.inv_std']
    assert (b2 < 0).any() and (b2 > 0).any()
    pools = [s for s in stages if isinstance(s, PoolStage)]
    assert np.array_equal(pools[0].sign, np.where(b2 < 0, -1, 1))       # b2, then the pooling
    assert stages[0].pool is not None and stages[0].pool.sign is None  # c1's pooling, before b1
