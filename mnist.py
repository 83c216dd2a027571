#!/usr/bin/env python
"""GXNOR-Net on MNIST: the paper's 32C5-MP2-64C5-MP2-512FC-10 network.

Defaults are the authors' (mnist_GXNOR.py): batch 10000, 4000 epochs, Adam
increments, LR 0.1 -> 1e-7, H = 1, N = 1 (ternary weights), ternary
activations with r = 1, a = 0.5, m = 3.  Run ``python mnist.py --help``.
"""
from __future__ import print_function

import gxnor_compat  # noqa: F401  (before theano and lasagne)
import lasagne

import binary_net
import datasets
import network_blocks


def load_data(args):
    return datasets.load_mnist(args.data_dir, download=args.download or None)


def build_network(input_var, args):
    net = lasagne.layers.InputLayer((None, 1, 28, 28), input_var)
    net = network_blocks.conv_block(net, args, 'conv1', 32, 5, pool=True)
    net = network_blocks.conv_block(net, args, 'conv2', 64, 5, pool=True)
    net = network_blocks.dense_block(net, args, 'fc3', 512)
    return network_blocks.dense_block(net, args, 'fc4', 10, activation=False)


EXPERIMENT = binary_net.Experiment(
    'mnist', load_data, build_network, description=__doc__,
    defaults=dict(batch_size=10000, epochs=4000, lr_start=0.1, lr_end=1e-7))


def main(argv=None, num_epochs=None, **overrides):
    return binary_net.main(EXPERIMENT, argv, num_epochs=num_epochs, **overrides)


if __name__ == '__main__':
    main()
