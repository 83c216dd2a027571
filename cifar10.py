#!/usr/bin/env python
"""GXNOR-Net on CIFAR-10: 2x128C3-MP2-2x256C3-MP2-2x512C3-MP2-1024FC-10.

Defaults are the authors' (cifar10_GXNOR.py): batch 1000, 2000 epochs, Adam
increments, LR 0.01 -> 3e-5 with extra x0.1 drops at epochs 1000 and 1600,
dense weights initialised in [-1.5H, 1.5H]; plus the augmentation their code
computed but never used (random crops from 4-pixel padding and horizontal
flips), on by default; ``--no-augment`` turns it off.
"""
from __future__ import print_function

import gxnor_compat  # noqa: F401  (before theano and lasagne)
import lasagne

import binary_net
import datasets


def load_data(args):
    return datasets.load_cifar10(args.data_dir, download=args.download or None)


def build_network(input_var, args, widths=(128, 256, 512)):
    net = lasagne.layers.InputLayer((None, 3, 32, 32), input_var)
    for stage, width in enumerate(widths):
        net = binary_net.conv_block(net, args, 'conv%da' % (stage + 1), width, 3, pad=1)
        net = binary_net.conv_block(net, args, 'conv%db' % (stage + 1), width, 3, pad=1,
                                    pool=True)
    net = binary_net.dense_block(net, args, 'fc1', 1024)
    return binary_net.dense_block(net, args, 'fc2', 10, activation=False)


EXPERIMENT = binary_net.Experiment(
    'cifar10', load_data, build_network, description=__doc__,
    defaults=dict(batch_size=1000, epochs=2000, lr_start=0.01, lr_end=3e-5,
                  lr_drops=[1000, 1600], dense_init_scale=1.5, augment=True))


def main(argv=None, num_epochs=None, **overrides):
    return binary_net.main(EXPERIMENT, argv, num_epochs=num_epochs, **overrides)


if __name__ == '__main__':
    main()
