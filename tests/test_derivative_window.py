"""bench/studies/derivative_window.py: the share of pre-activations a window reaches."""
import json

import numpy as np
import pytest

from conftest import committed_models

from bench.studies import derivative_window


@pytest.mark.parametrize('a', [0.25, 0.5, 1.0])
def test_window_share_counts_values_near_a_threshold(a):
    x = np.random.RandomState(0).uniform(-3, 3, size=5000)
    near = (np.abs(x - 1) <= a) | (np.abs(x + 1) <= a)    # ternary, thresholds +-1
    assert derivative_window.window_share(x, act_N=1, r=1.0, a=a) == near.mean()


def test_window_share_counts_every_threshold_of_a_staircase():
    # act_N = 2: thresholds at +-1 and +-1.5; a = 0.1 reaches 0.95 and 1.45, not 1.25
    x = np.array([0.95, -1.45, 1.25, 0.5, 3.0])
    assert derivative_window.window_share(x, act_N=2, r=1.0, a=0.1) == 0.4


ADAM_MODELS = committed_models('mnist-gxnor-*-adam-*.npz')


@pytest.mark.skipif(not ADAM_MODELS, reason='no committed MNIST model in weights/')
def test_committed_model_report(mnist_dir, tmp_path):
    out = str(tmp_path / 'dw.json')
    assert derivative_window.main([ADAM_MODELS[0], '--data-dir', mnist_dir, '--images', '20',
                                   '--a', '0.5', '1', '--json', out]) == 0
    with open(out) as handle:
        model, = json.load(handle)['models']
    assert [row['layer'] for row in model['layers']] == ['conv1_act', 'conv2_act', 'fc3_act']
    for row in model['layers']:
        assert row['trained_a'] == model['config']['a']
        narrow, wide = row['share']['0.5'], row['share']['1']
        # the rect window of a = 1 contains that of a = 0.5; neither reaches every unit
        assert 0.05 < narrow < wide < 0.99, row
