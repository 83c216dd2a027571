"""network_blocks: the authors' block order, weights and activation of --method."""
import gxnor_compat  # noqa: F401  (before theano and lasagne)
import lasagne
import pytest

import binary_net
import gxnor_layers
import network_blocks
import run_options

FLAGS_ONLY = binary_net.Experiment('b', None, None, dict(batch_size=10, epochs=1, lr_start=0.1,
                                                         lr_end=0.1))


@pytest.mark.parametrize('method, discrete', [('gxnor', True), ('fp', False), ('bnn', False)])
def test_blocks_are_weights_pooling_batch_norm_activation(method, discrete):
    args = run_options.parse_args(FLAGS_ONLY, ['--method', method])
    net = lasagne.layers.InputLayer((None, 1, 8, 8))
    net = network_blocks.conv_block(net, args, 'conv1', 4, 3, pad=1, pool=True)
    net = network_blocks.dense_block(net, args, 'fc2', 10, activation=False)
    layers = lasagne.layers.get_all_layers(net)[1:]
    assert [type(l).__name__ for l in layers][1:3] == ['MaxPool2DLayer', 'BatchNormLayer']
    assert [l.name for l in layers if l.name] == ['conv1', 'conv1_bn', 'conv1_act', 'fc2',
                                                   'fc2_bn']
    assert lasagne.layers.get_output_shape(layers[1]) == (None, 4, 4, 4)
    assert len(gxnor_layers.discrete_layers(net)) == (2 if discrete else 0)
    # The authors' code ends with the batch-normalized scores: no activation after fc2.
    assert isinstance(layers[-1], gxnor_layers.BatchNormLayer)
