"""The methods the harness trains: GXNOR-Net, full precision, and the binary and
ternary networks the paper compares with, on the same architecture.

Every dataset script builds its network from :func:`binary_net.conv_block` and
:func:`binary_net.dense_block`; those ask this module which weight layer and
which activation the ``--method`` wants, so a method is chosen on the command
line of any script and no script holds method-specific code.

=============  ==========================  ===============================  ==============
method         weights                     activations                      hidden weights
=============  ==========================  ===============================  ==============
gxnor          Z_N, moved by DST           discrete staircase (act-N)       none
fp             float32                     ReLU                             (are the weights)
binaryconnect  sign(W) or stochastic       ReLU                             clipped [-H, H]
bnn            sign(W) or stochastic       sign, STE 1{|x|<=1}              clipped [-H, H]
bwn            alpha sign(W), per filter   ReLU                             yes
xnor           alpha sign(W), per filter   sign(x) * mean|x| over channels  yes
twn            ternary, 0.7 mean|W|        ReLU                             yes
ttq            ternary, learned wp / wn    ReLU                             yes
dorefa         k-bit (``--w-bits``)        k-bit (``--a-bits``)             yes
syq            ternary, learned scales     k-bit (``--a-bits``)             yes
tbn            alpha sign(W), per filter   ternary, 0.4 mean|x|             yes
=============  ==========================  ===============================  ==============

Every layer is quantized, the first and the last included (as GXNOR-Net;
some of the papers keep those two in full precision), and every method
starts from the same hidden weights, uniform in [-init_scale*H, init_scale*H],
and trains with the same Adam schedule.

Examples
--------
>>> sorted(METHODS)[:3]
['binaryconnect', 'bnn', 'bwn']
>>> METHODS['xnor'].activation
'xnor'
"""
from __future__ import absolute_import, division

from collections import OrderedDict, namedtuple

import gxnor_compat  # noqa: F401  (before theano and lasagne)
import lasagne

import gxnor_layers

__all__ = ['Method', 'METHODS', 'weight_layer', 'activation_layer', 'bits_label',
           'method_label']

Method = namedtuple('Method', ['name', 'weights', 'activation', 'title'])

METHODS = OrderedDict((m.name, m) for m in [
    Method('gxnor', 'gxnor', 'gxnor', 'GXNOR-Net (Deng et al. 2018)'),
    Method('fp', 'fp', 'relu', 'full precision'),
    Method('binaryconnect', 'binaryconnect', 'relu', 'BinaryConnect (Courbariaux et al. 2015)'),
    Method('bnn', 'binaryconnect', 'bnn', 'BNN (Courbariaux, Hubara et al. 2016)'),
    Method('bwn', 'bwn', 'relu', 'BWN (Rastegari et al. 2016)'),
    Method('xnor', 'bwn', 'xnor', 'XNOR-Net (Rastegari et al. 2016)'),
    Method('twn', 'twn', 'relu', 'TWN (Li and Liu 2016)'),
    Method('ttq', 'ttq', 'relu', 'TTQ (Zhu et al. 2017)'),
    Method('dorefa', 'dorefa', 'dorefa', 'DoReFa-Net (Zhou et al. 2016)'),
    Method('syq', 'syq', 'dorefa', 'SYQ (Faraone et al. 2018)'),
    Method('tbn', 'bwn', 'tbn', 'TBN (Wan et al. 2018)'),
])


def _threshold(args, quantizer):
    return args.syq_eta if quantizer == 'syq' else args.ttq_threshold


def weight_layer(kind, net, args, name, init_scale, **shape):
    """The weight layer of ``args.method``: kind 'dense' (``num_units``) or
    'conv' (``num_filters``, ``filter_size``, ``pad``)."""
    method = METHODS[args.method]
    if method.weights in ('gxnor', 'fp'):
        layer = (gxnor_layers.DiscreteConv2DLayer if kind == 'conv'
                 else gxnor_layers.DiscreteDenseLayer)
        return layer(net, discrete=method.weights == 'gxnor', H=args.H, N=args.N,
                     init_scale=init_scale, weight_storage=args.weight_storage,
                     W=_fp_init(args, init_scale) if method.weights == 'fp' else None,
                     name=name, **shape)
    layer = (gxnor_layers.QuantizedConv2DLayer if kind == 'conv'
             else gxnor_layers.QuantizedDenseLayer)
    return layer(net, quantizer=method.weights, H=args.H, init_scale=init_scale,
                 bits=args.w_bits, stochastic=args.stochastic,
                 threshold=_threshold(args, method.weights), name=name, **shape)


def _fp_init(args, init_scale):
    """Full precision starts where every other method starts (one protocol)."""
    return lasagne.init.Uniform((-init_scale * args.H, init_scale * args.H))


def activation_layer(net, args, name):
    """The activation of ``args.method``, applied after batch norm."""
    kind = METHODS[args.method].activation
    if kind == 'gxnor':
        return gxnor_layers.DiscreteActivationLayer(net, act_N=args.act_N, r=args.r, a=args.a,
                                                    window=args.window, name=name)
    if kind == 'relu':
        return lasagne.layers.NonlinearityLayer(net, lasagne.nonlinearities.rectify, name=name)
    return gxnor_layers.QuantizedActivationLayer(net, kind, bits=args.a_bits,
                                                 delta=args.tbn_delta, name=name)


# Weight and activation kinds whose precision no flag changes.
_FIXED_LABELS = {'fp': 'float', 'relu': 'float', 'binaryconnect': 'binary', 'bwn': 'binary',
                 'bnn': 'binary', 'xnor': 'binary', 'twn': 'ternary', 'ttq': 'ternary',
                 'syq': 'ternary', 'tbn': 'ternary'}


def _label(kind, levels_N, bits):
    if kind == 'gxnor':
        states = 2 ** levels_N + 1
        return {2: 'binary', 3: 'ternary'}.get(states, '%d levels' % states)
    if kind == 'dorefa':
        return 'binary' if bits == 1 else '%d-bit' % bits
    return _FIXED_LABELS[kind]


def bits_label(args):
    """(weights, activations) as short words: 'ternary', 'binary', '2-bit', 'float'.

    Examples
    --------
    >>> from argparse import Namespace
    >>> bits_label(Namespace(method='dorefa', N=1, act_N=1, w_bits=1, a_bits=2))
    ('binary', '2-bit')
    """
    method = METHODS[args.method]
    return (_label(method.weights, args.N, args.w_bits),
            _label(method.activation, args.act_N, args.a_bits))


def method_label(args):
    """Short name of the method and its main options, for run names.

    Examples
    --------
    >>> from argparse import Namespace
    >>> method_label(Namespace(method='gxnor', N=1, act_N=1, update='adam'))
    'gxnor-N1-act1-adam'
    """
    if args.method == 'gxnor':
        return 'gxnor-N%d-act%d-%s' % (args.N, args.act_N, args.update)
    if args.method in ('dorefa', 'syq'):
        weights = 'w%d' % args.w_bits if args.method == 'dorefa' else ''
        return '%s-%sa%d' % (args.method, weights, args.a_bits)
    if args.method in ('binaryconnect', 'bnn') and args.stochastic:
        return args.method + '-stochastic'
    return args.method
