"""weight_stats: the discrete weights an epoch changed, the bytes the training keeps."""
from collections import OrderedDict

import gxnor_compat  # noqa: F401  (before theano and lasagne)
import lasagne
import numpy as np
import theano.tensor as T

import binary_net
import gxnor_layers
import weight_stats


def test_changes_are_counted_per_layer_and_over_all_weights():
    l_in = lasagne.layers.InputLayer((None, 20))
    net = gxnor_layers.DiscreteDenseLayer(l_in, 10, b=None, name='fc1')
    net = gxnor_layers.DiscreteDenseLayer(net, 5, b=None, name='fc2')
    before = weight_stats.discrete_weight_values(net)
    assert list(before) == ['fc1', 'fc2']
    fc1 = gxnor_layers.discrete_layers(net)[0]
    fc1.W.set_value(fc1.W.get_value() + 1)   # every fc1 weight moves; the snapshot is a copy
    share, by_layer = weight_stats.weights_changed(before, weight_stats.discrete_weight_values(net))
    assert by_layer == OrderedDict([('fc1', 100.0), ('fc2', 0.0)])
    assert share == 100.0 * 200 / 250
    assert weight_stats.changed_line(share, by_layer, 0).endswith('(the snap onto the grid)')
    # Full precision: nothing discrete to count.
    assert weight_stats.weights_changed(OrderedDict(), OrderedDict()) == (None, OrderedDict())
    assert np.array_equal(before['fc1'] + 1, weight_stats.discrete_weight_values(net)['fc1'])


def test_trained_state_bytes_counts_weights_scales_and_moments():
    l_in = lasagne.layers.InputLayer((None, 20))
    ttq = gxnor_layers.QuantizedDenseLayer(l_in, 10, 'ttq', b=None)
    loss = binary_net.squared_hinge_loss(lasagne.layers.get_output(ttq), T.matrix())
    updates = binary_net.build_updates(loss, ttq, 0.1)
    state = [v for v in updates if v not in ttq.get_params()]
    # W, wp, wn and their two Adam moments each, plus Adam's step count: float32
    assert weight_stats.trained_state_bytes(ttq, state) == 4 * (3 * (200 + 1 + 1) + 1)
    int8 = gxnor_layers.DiscreteDenseLayer(l_in, 10, b=None, weight_storage='int8')
    loss = binary_net.squared_hinge_loss(lasagne.layers.get_output(int8), T.matrix())
    updates = binary_net.build_updates(loss, int8, 0.1, update='sgd')
    assert weight_stats.trained_state_bytes(int8, [v for v in updates if v is not int8.W]) == 200
