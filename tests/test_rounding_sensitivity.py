"""bench/studies/rounding_sensitivity.py: how far a tiny change travels through a step."""
import json

import numpy as np

from bench.studies import rounding_sensitivity


def test_changed_share_counts_moves_above_the_tolerance():
    before = np.array([0.0, 1.0, -1.0, 0.5])
    after = np.array([0.0, 0.0, -1.0, 0.5 + 1e-5])
    assert rounding_sensitivity.changed_share(before, after) == 0.25
    assert rounding_sensitivity.changed_share(before, after, tolerance=1e-6) == 0.5


def test_sign_flip_share_ignores_zero_gradients():
    before = np.array([1.0, -2.0, 0.0, 3.0])
    after = np.array([1.0, 2.0, 5.0, 0.0])
    assert abs(rounding_sensitivity.sign_flip_share(before, after) - 2.0 / 3) < 1e-12
    assert rounding_sensitivity.sign_flip_share(np.zeros(3), np.ones(3)) == 0.0


def test_mnist_probe_repeats_itself_and_sees_a_threshold_crossing(tmp_path, capsys):
    path = str(tmp_path / 'rs.json')
    assert rounding_sensitivity.main(['--only', 'mnist', '--eps', '0,0.3', '--batch-size', '4',
                                      '--json', path]) == 0
    with open(path) as handle:
        case, = json.load(handle)['cases']
    assert case['activation_layers'] == ['conv1_act', 'conv2_act', 'fc3_act']
    assert case['weight_layers'] == ['conv1', 'conv2', 'fc3', 'fc4']
    assert case['perturbed'] == 'conv1_bn.beta'
    unchanged, moved = case['rows']
    # eps 0: the probe gives the unperturbed step again, to the last bit
    assert unchanged['loss'] == case['reference_loss']
    assert unchanged['activations_changed'] == [0.0, 0.0, 0.0]
    assert unchanged['gradient_signs_flipped'] == [0.0] * 4
    # a shift of 0.3 moves some first-layer pre-activations across +-r
    assert moved['activations_changed'][0] > 0
    assert moved['loss_relative_change'] > 0
    assert all(0.0 <= share <= 1.0 for share in
               moved['activations_changed'] + moved['gradient_signs_flipped'])
    capsys.readouterr()
    assert rounding_sensitivity.main(['--table', path]) == 0
    table = capsys.readouterr().out
    assert '| GXNOR-Net, mnist.py | 0.3 |' in table


def test_full_precision_network_changes_continuously():
    case = rounding_sensitivity.measure('mnist', ['--method', 'fp'], [1e-6], batch_size=4)
    row, = case['rows']
    # ReLU: a 1e-6 shift moves no activation by 1e-3 and the loss by far less than 1e-4
    assert max(row['activations_changed']) == 0.0
    assert row['loss_relative_change'] < 1e-4
