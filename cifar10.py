#!/usr/bin/env python
"""GXNOR-Net on CIFAR-10: 2x128C3-MP2-2x256C3-MP2-2x512C3-MP2-1024FC-10.

Defaults are the authors' (cifar10_GXNOR.py): batch 1000, 2000 epochs, Adam
increments, LR 0.01 -> 3e-5 with extra x0.1 drops at epochs 1000 and 1600,
dense weights initialised in [-1.5H, 1.5H]; plus the augmentation their code
computed but never used (random crops from 4-pixel padding and horizontal
flips), on by default; ``--no-augment`` turns it off.
"""
from __future__ import print_function

import argparse

import gxnor_compat  # noqa: F401  (before theano and lasagne)
import lasagne

import binary_net
import datasets
import network_blocks


def load_data(args):
    return datasets.load_cifar10(args.data_dir, download=args.download or None)


PAPER_WIDTHS = (128, 256, 512, 1024)


def _widths(text):
    try:
        widths = tuple(int(t) for t in text.split(','))
    except ValueError:
        widths = ()
    if len(widths) != 4 or min(widths) < 1:
        raise argparse.ArgumentTypeError(
            'expected four positive widths C1,C2,C3,FC (the paper: %s), got %r'
            % (','.join(map(str, PAPER_WIDTHS)), text))
    return widths


def add_arguments(parser, default_widths=PAPER_WIDTHS):
    parser.add_argument('--widths', type=_widths, default=default_widths,
                        help='filters of the three conv stages and units of the hidden dense '
                        'layer (a narrower network is a departure from the paper)')


def build_network(input_var, args, widths=None):
    """The network; ``widths`` (C1, C2, C3[, FC]) default to ``args.widths``."""
    widths = tuple(widths or getattr(args, 'widths', PAPER_WIDTHS))
    fc_units = widths[3] if len(widths) > 3 else PAPER_WIDTHS[3]
    net = lasagne.layers.InputLayer((None, 3, 32, 32), input_var)
    for stage, width in enumerate(widths[:3]):
        net = network_blocks.conv_block(net, args, 'conv%da' % (stage + 1), width, 3, pad=1)
        net = network_blocks.conv_block(net, args, 'conv%db' % (stage + 1), width, 3, pad=1,
                                        pool=True)
    net = network_blocks.dense_block(net, args, 'fc1', fc_units)
    return network_blocks.dense_block(net, args, 'fc2', 10, activation=False)


EXPERIMENT = binary_net.Experiment(
    'cifar10', load_data, build_network, description=__doc__,
    defaults=dict(batch_size=1000, epochs=2000, lr_start=0.01, lr_end=3e-5,
                  lr_drops=[1000, 1600], dense_init_scale=1.5, augment=True),
    add_arguments=add_arguments)


def main(argv=None, num_epochs=None, **overrides):
    return binary_net.main(EXPERIMENT, argv, num_epochs=num_epochs, **overrides)


if __name__ == '__main__':
    main()
