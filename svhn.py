#!/usr/bin/env python
"""GXNOR-Net on SVHN: 2x64C3-MP2-2x128C3-MP2-2x256C3-MP2-1024FC-10.

The network is the CIFAR-10 family with BinaryNet's SVHN widths (64, 128,
256), and the training settings where the paper is silent are BinaryNet's
SVHN ones: batch 50, 200 epochs, LR 0.001 -> 1e-6 (Adam increments for
DST).  Training uses train + extra less pylearn2's validation split
(598,388 images, held as uint8); ``--no-extra`` uses train only.
"""
from __future__ import print_function

import gxnor_compat  # noqa: F401  (before theano and lasagne)

import binary_net
import cifar10
import datasets


def load_data(args):
    return datasets.load_svhn(args.data_dir, download=args.download or None,
                              use_extra=args.extra)


# BinaryNet's SVHN widths: half of CIFAR-10's convolutions, the same dense layer.
WIDTHS = (64, 128, 256, 1024)


def build_network(input_var, args):
    return cifar10.build_network(input_var, args, widths=getattr(args, 'widths', WIDTHS))


def add_arguments(parser):
    cifar10.add_arguments(parser, default_widths=WIDTHS)
    parser.add_argument('--extra', dest='extra', action='store_true', default=True,
                        help='train on train + extra (pylearn2 split)')
    parser.add_argument('--no-extra', dest='extra', action='store_false',
                        help='train on train only (turns --extra off)%(default).0s')


EXPERIMENT = binary_net.Experiment(
    'svhn', load_data, build_network, description=__doc__,
    defaults=dict(batch_size=50, epochs=200, lr_start=0.001, lr_end=1e-6),
    add_arguments=add_arguments)


def main(argv=None, num_epochs=None, **overrides):
    return binary_net.main(EXPERIMENT, argv, num_epochs=num_epochs, **overrides)


if __name__ == '__main__':
    main()
