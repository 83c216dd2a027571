"""model_sparsity: closed gates and zero activations, against brute force and the engine."""
from __future__ import division

import os

import numpy as np
import pytest

import model_sparsity
from conftest import committed_models


def brute_force_conv(x, w, stride, pad):
    """Count open gates product by product."""
    n, C, H, W = x.shape
    F, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])), mode='constant')
    oh, ow = (xp.shape[2] - kh) // stride[0] + 1, (xp.shape[3] - kw) // stride[1] + 1
    open_ = 0
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw]
            open_ += int(np.sum((patch[:, None] != 0) & (w[None] != 0)))
    return open_, n * oh * ow * F * C * kh * kw


@pytest.mark.parametrize('stride,pad', [((1, 1), (0, 0)), ((2, 1), (1, 2))])
def test_conv_counts_equal_brute_force(stride, pad):
    rng = np.random.RandomState(0)
    x = rng.randint(-1, 2, size=(3, 2, 7, 6)).astype(np.float32)
    w = rng.choice([-1.0, 0.0, 0.0, 1.0, 0.5], size=(4, 2, 3, 3))  # 5-level weights too
    spec = dict(kind='conv', stride=stride, pad=pad)
    assert model_sparsity.gate_counts(x, w, spec) == brute_force_conv(x, w, stride, pad)


def test_dense_counts_equal_brute_force():
    rng = np.random.RandomState(1)
    x = rng.randint(-1, 2, size=(5, 2, 3, 2)).astype(np.float32)   # flattened to 12 inputs
    w = rng.randint(-1, 2, size=(12, 7)).astype(np.float32)
    flat = x.reshape(5, -1)
    expected = int(np.sum((flat[:, :, None] != 0) & (w[None] != 0)))
    assert model_sparsity.gate_counts(x, w, dict(kind='dense')) == (expected, 5 * 12 * 7)


@pytest.mark.skipif(not committed_models(), reason='no committed MNIST model in weights/')
def test_committed_model_counts_equal_the_engines(mnist_data):
    import gated_xnor
    path = committed_models()[-1]
    X = mnist_data['test'][0][:200]
    counts = model_sparsity.measure_sparsity(path, X, batch_size=64)
    engine_stats = {}
    gated_xnor.load_model(path).forward(X, stats=engine_stats)
    assert [row['name'] for row in counts['layers']] == ['conv1', 'conv2', 'fc3', 'fc4']
    for row in counts['layers']:
        stats = engine_stats[row['name']]
        assert row['products'] == stats['products']
        assert row['open'] == stats['gates']
        assert row['inputs'] == stats['inputs']
        assert row['inputs'] - row['input_zeros'] == stats['input_nonzero']
    # a ternary network rests: well over a third of the products skipped, about half
    # the activations zero (58% and 50% on the committed model's test set)
    assert 0.35 < counts['gate_closed_share'] < 0.9
    assert 0.2 < counts['activation_zero_share'] < 0.8
    assert counts['layers'][0]['input_zero_share'] == 0.0   # pixels are never exactly 0
