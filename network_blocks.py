"""The blocks the dataset scripts build their networks from, as the authors' code does.

A block is a weight layer (convolution or dense), [2x2 max-pooling], batch
norm and [an activation]; which weight layer and which activation is
``args.method``'s (:mod:`methods`: GXNOR-Net's discrete weights and
multi-level activation, full precision, or a compared method), with the
weight range, states and initial scale of ``args`` (``run_options.parse_args``).

Examples
--------
>>> import lasagne, run_options, binary_net
>>> toy = binary_net.Experiment('toy', None, None, dict(batch_size=10, epochs=1, lr_start=0.1,
...                                                     lr_end=0.1))
>>> args = run_options.parse_args(toy, ['--N', '2'])
>>> net = lasagne.layers.InputLayer((None, 1, 8, 8))
>>> net = conv_block(net, args, 'conv1', 4, 3, pool=True)
>>> net = dense_block(net, args, 'fc2', 10, activation=False)
>>> [layer.name or type(layer).__name__ for layer in lasagne.layers.get_all_layers(net)[1:]]
['conv1', 'MaxPool2DLayer', 'conv1_bn', 'conv1_act', 'fc2', 'fc2_bn']
>>> lasagne.layers.get_output_shape(net)
(None, 10)
"""
from __future__ import absolute_import, division, print_function

import gxnor_compat  # noqa: F401  (before theano and lasagne)
import lasagne

import gxnor_layers
import methods

__all__ = ['conv_block', 'dense_block']


def _finish_block(net, args, name, pool, activation):
    """[Pooling], batch norm and [the activation] after a block's weight layer."""
    if pool:
        net = lasagne.layers.MaxPool2DLayer(net, pool_size=(2, 2))
    net = gxnor_layers.BatchNormLayer(net, epsilon=args.bn_epsilon, alpha=args.bn_alpha,
                                      name=name + '_bn')
    if not activation:
        return net
    return methods.activation_layer(net, args, name + '_act')


def conv_block(net, args, name, num_filters, filter_size, pad=0, pool=False, activation=True):
    """Convolution, [2x2 max-pooling], batch norm, [activation], as the authors;
    weights and activation of ``args.method`` (:mod:`methods`).

    Parameters
    ----------
    net : lasagne.layers.Layer
        The block's input.
    args : argparse.Namespace
        The run's hyperparameters (``run_options.parse_args``).
    name : str
        The weight layer's name; the others are ``<name>_bn`` and ``<name>_act``.
    num_filters, filter_size, pad : int
        The convolution's; stride 1.
    pool : bool
        2x2 max-pooling after the convolution.
    activation : bool
        False for the last block, whose batch-normalized outputs are the scores.
    """
    net = methods.weight_layer('conv', net, args, name, args.init_scale,
                               num_filters=num_filters, filter_size=filter_size, pad=pad)
    return _finish_block(net, args, name, pool, activation)


def dense_block(net, args, name, num_units, activation=True):
    """Dense layer of ``num_units``, batch norm, [activation]; the last block has none
    (parameters as :func:`conv_block`'s)."""
    net = methods.weight_layer('dense', net, args, name, args.dense_init_scale,
                               num_units=num_units)
    return _finish_block(net, args, name, False, activation)
