"""The methods the harness trains: GXNOR-Net, full precision, and the binary and
ternary networks the paper compares with, on the same architecture.

Every dataset script builds its network from :func:`network_blocks.conv_block` and
:func:`network_blocks.dense_block`; those ask this module which weight layer and
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
>>> METHODS['gxnor'].paper['mnist']
99.32
"""
from __future__ import absolute_import, division

from collections import OrderedDict, namedtuple

import gxnor_compat  # noqa: F401  (before theano and lasagne)
import lasagne

import gxnor_layers

__all__ = ['Method', 'METHODS', 'PAPER_SOURCE', 'get', 'readers', 'weight_layer',
           'activation_layer', 'bits_label', 'method_label']


class Method(namedtuple('Method', ['name', 'weights', 'activation', 'title', 'flags', 'paper',
                                   'lr', 'engine'])):
    """One method: everything the harness, the engine and the sweeps ask about it.

    name : str
        What ``--method`` takes.
    weights, activation : str
        Its weight and activation quantizers (``gxnor_layers``' layers take them by
        these names; ``'fp'`` and ``'relu'``: none).
    title : str
        Its name in tables and figures, with the paper it comes from.
    flags : tuple of str
        The flags (argparse ``dest``) that this method reads and others ignore.
    paper : dict
        Test accuracy (%) per dataset (``'mnist'``, ``'cifar10'``, ``'svhn'``) as the
        comparison table of :data:`PAPER_SOURCE` lists it; absent where it lists none.
    lr : dict
        The starting learning rate chosen for it on the validation set, per protocol
        (a name; ``bench/results/`` holds the search that chose it).
    engine : bool
        Whether the gated-XNOR engine (``gated_xnor.py``) runs its models (with its
        default flags; stochastic BinaryConnect and BNN it refuses).
    """
    __slots__ = ()


# Where the accuracies of ``Method.paper`` come from: the comparison table that the TBN
# paper (Wan et al., ECCV 2018) compiles from each method's own paper (GXNOR-Net's
# 99.32 / 92.50 / 97.37 as Deng et al. report them); DoReFa-Net's at 1-bit weights and
# 2-bit activations, this harness's defaults.
PAPER_SOURCE = 'the comparison table of the TBN paper (Wan et al. 2018)'

# The protocol of bench/studies/compare_methods.py (MNIST, 10,000 training images,
# 5 epochs of batch 100, LR decayed tenfold): the LR of bench/results/compare_methods.json.
SHORT_MNIST = 'mnist-10k-5ep'

_GXNOR_FLAGS = ('N', 'act_N', 'r', 'a', 'window', 'm', 'update', 'weight_storage')

METHODS = OrderedDict((m.name, m) for m in [
    Method('gxnor', 'gxnor', 'gxnor', 'GXNOR-Net (Deng et al. 2018)', _GXNOR_FLAGS,
           dict(mnist=99.32, cifar10=92.50, svhn=97.37), {SHORT_MNIST: 0.3}, True),
    Method('fp', 'fp', 'relu', 'full precision', (),
           dict(mnist=99.48, cifar10=92.88, svhn=97.68), {SHORT_MNIST: 0.1}, False),
    Method('binaryconnect', 'binaryconnect', 'relu', 'BinaryConnect (Courbariaux et al. 2015)',
           ('stochastic',), dict(mnist=98.82, cifar10=91.73, svhn=97.85), {SHORT_MNIST: 0.1},
           False),
    Method('bnn', 'binaryconnect', 'bnn', 'BNN (Courbariaux, Hubara et al. 2016)',
           ('stochastic',), dict(mnist=98.60, cifar10=89.85, svhn=97.47), {SHORT_MNIST: 0.3},
           True),
    Method('bwn', 'bwn', 'relu', 'BWN (Rastegari et al. 2016)', (),
           dict(mnist=99.38, cifar10=92.58, svhn=97.46), {SHORT_MNIST: 0.1}, False),
    Method('xnor', 'bwn', 'xnor', 'XNOR-Net (Rastegari et al. 2016)', (),
           dict(mnist=99.21, cifar10=90.02, svhn=96.96), {SHORT_MNIST: 0.1}, True),
    Method('twn', 'twn', 'relu', 'TWN (Li and Liu 2016)', (),
           dict(mnist=99.38, cifar10=92.56), {SHORT_MNIST: 0.03}, False),
    Method('ttq', 'ttq', 'relu', 'TTQ (Zhu et al. 2017)', ('ttq_threshold',), {},
           {SHORT_MNIST: 0.1}, False),
    Method('dorefa', 'dorefa', 'dorefa', 'DoReFa-Net (Zhou et al. 2016)', ('w_bits', 'a_bits'),
           dict(svhn=97.6), {SHORT_MNIST: 0.1}, False),
    Method('syq', 'syq', 'dorefa', 'SYQ (Faraone et al. 2018)', ('a_bits', 'syq_eta'), {},
           {SHORT_MNIST: 0.1}, False),
    Method('tbn', 'bwn', 'tbn', 'TBN (Wan et al. 2018)', ('tbn_delta',),
           dict(mnist=99.38, cifar10=90.85, svhn=97.27), {SHORT_MNIST: 0.1}, True),
])


def get(name):
    """The record of method ``name``; a ValueError naming the methods otherwise.

    >>> get('xnor').engine
    True
    >>> get('XNOR')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown method 'XNOR': one of gxnor, fp, binaryconnect, ...
    """
    if name not in METHODS:
        raise ValueError('unknown method %r: one of %s' % (name, ', '.join(METHODS)))
    return METHODS[name]


def readers(dest):
    """The methods that read flag ``dest`` (all of them where none lists it as its own).

    >>> readers('stochastic')
    ['binaryconnect', 'bnn']
    >>> len(readers('H')) == len(METHODS)
    True
    """
    own = [m.name for m in METHODS.values() if dest in m.flags]
    return own or list(METHODS)


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
