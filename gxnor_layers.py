"""Lasagne layers of GXNOR-Net.

Built on the layer API common to Lasagne 0.1 (PyPI) and 0.2.dev1 (GitHub):

* :class:`DiscreteDenseLayer`, :class:`DiscreteConv2DLayer`: weights on the
  grid Z_N, tagged ``discrete`` (and not ``trainable``: ordinary optimizers
  must not touch them; :func:`binary_net.build_updates` moves them by DST).
  With ``weight_storage='int8'`` the parameter holds one byte per weight,
  the state index in its N + 1 low bits (the higher bits hold
  ``--update int8-momentum``'s momentum, else 0), and the float weights
  exist only as an expression in the graph.
* :class:`BatchNormLayer`: Lasagne 0.2's batch normalization (epsilon 1e-4,
  running averages with alpha 0.1), which Lasagne 0.1 lacks.
* :class:`DiscreteActivationLayer`: :func:`discrete_ops.discrete_activation`.
* :class:`QuantizedDenseLayer`, :class:`QuantizedConv2DLayer`,
  :class:`QuantizedActivationLayer`: the methods GXNOR-Net is compared with
  (BinaryConnect, BNN, BWN, XNOR-Net, TWN, TTQ, DoReFa-Net, SYQ, TBN), which
  keep full-precision hidden weights (tagged ``hidden``, trainable).
* :func:`describe_network`: the architecture as JSON-ready dicts, stored in
  model files beside the weights.
"""
from __future__ import absolute_import, division

import gxnor_compat  # noqa: F401  (before theano and lasagne)
import lasagne
import numpy as np
import theano
import theano.tensor as T

import discrete_ops
import quantizers

__all__ = ['DiscreteDenseLayer', 'DiscreteConv2DLayer', 'QuantizedDenseLayer',
           'QuantizedConv2DLayer', 'BatchNormLayer', 'DiscreteActivationLayer',
           'QuantizedActivationLayer', 'describe_network', 'discrete_layers']

WEIGHT_STORAGES = ('float', 'int8')
QUANTIZERS = ('binaryconnect', 'bwn', 'twn', 'ttq', 'dorefa', 'syq')
ACTIVATIONS = ('bnn', 'xnor', 'dorefa', 'tbn')


class _DiscreteWeightsMixin(object):
    """Creates ``self.W`` and ``self.W_values`` (the weights as floats)."""

    def _add_weights(self, shape, discrete, H, N, init_scale, weight_storage, W):
        if weight_storage not in WEIGHT_STORAGES:
            raise ValueError('weight_storage must be one of %s, got %r'
                             % (WEIGHT_STORAGES, weight_storage))
        self.discrete, self.H, self.N = bool(discrete), float(H), int(N)
        self.weight_storage = weight_storage if discrete else 'float'
        if not discrete:
            W = lasagne.init.GlorotUniform() if W is None else W   # W may be an array
            self.W = self.add_param(W, shape, name='W')
            self.W_values = self.W
            return
        discrete_ops.weight_grid_step(self.H, self.N)  # validates H and N
        init = W if W is not None else \
            lasagne.init.Uniform((-init_scale * self.H, init_scale * self.H))
        if self.weight_storage == 'float':
            # Left off the grid on purpose: epoch 0 (LR 0) snaps it, as the authors do.
            self.W = self.add_param(init, shape, name='W', discrete=True,
                                    trainable=False, regularizable=True)
            self.W_values = self.W
            return
        if self.N > 6:
            raise ValueError('int8 weight storage holds N <= 6 (65 states), got N=%d' % self.N)
        values = lasagne.utils.create_param(init, shape).get_value()
        index = discrete_ops.weight_state_index(values, self.H, self.N).astype(np.int8)
        self.W = self.add_param(theano.shared(index, name='W'), shape, name='W',
                                discrete=True, trainable=False, regularizable=True)
        # The same float formula as the DST's snap, so both views agree exactly.
        index, _ = discrete_ops.split_state_byte(self.W, self.N)
        self.W_values = discrete_ops.state_values(T.cast(index, theano.config.floatX),
                                                  self.H, self.N)

    def weights_for_output(self, **kwargs):
        return self.W_values

    def weight_values(self):
        """The weights as a float NumPy array, whatever the storage."""
        if self.weight_storage == 'int8':
            index = np.mod(self.W.get_value(), 2 ** (self.N + 1))   # see split_state_byte
            return discrete_ops.weight_grid(self.H, self.N)[index]
        return self.W.get_value()

    def _describe_weights(self):
        names = {'W': '%s.W' % self.name}
        names['b'] = None if self.b is None else '%s.b' % self.name
        return {'name': self.name, 'discrete': self.discrete, 'H': self.H, 'N': self.N,
                'weight_storage': self.weight_storage, 'params': names}


def _check_bits(bits):
    if bits < 1 or int(bits) != bits:
        raise ValueError('bits must be an integer >= 1, got %r' % (bits,))


class _QuantizedWeightsMixin(object):
    """Full-precision hidden weights ``self.W`` seen through a method's quantizer.

    The comparison methods keep real-valued weights that the optimizer
    updates; the forward pass uses their quantized image.  Learned scales
    (TTQ's ``wp``/``wn``, SYQ's ``scale``) are extra trainable parameters.
    """

    def _add_weights(self, shape, quantizer, H, init_scale, W, bits, stochastic, threshold,
                     filter_axes, scale_axes):
        if quantizer not in QUANTIZERS:
            raise ValueError('quantizer must be one of %s, got %r' % (QUANTIZERS, quantizer))
        if not H > 0:
            raise ValueError('H must be > 0, got %r' % (H,))
        if quantizer == 'dorefa':
            _check_bits(bits)
        if quantizer in ('ttq', 'syq') and not 0 <= threshold < 1:
            raise ValueError('threshold must be in [0, 1), got %r' % (threshold,))
        self.discrete, self.weight_storage = False, 'float'
        self.quantizer, self.H, self.bits = quantizer, float(H), int(bits)
        self.stochastic, self.threshold = bool(stochastic), float(threshold)
        self.filter_axes = filter_axes
        # BinaryConnect and BNN clip the hidden weights to [-H, H] after each update.
        self.hidden_clip = self.H if quantizer == 'binaryconnect' else None
        init = W if W is not None else \
            lasagne.init.Uniform((-init_scale * self.H, init_scale * self.H))
        self.W = self.add_param(init, shape, name='W', hidden=True)
        start = self.W.get_value()
        if quantizer == 'ttq':
            # Both scales start at TWN's alpha of the initial weights.
            magnitude = np.abs(start)
            above = magnitude[magnitude > self.threshold * magnitude.max()]
            alpha = np.float32(above.mean() if above.size else 1.0)
            self.wp = self.add_param(lasagne.init.Constant(alpha), (), name='wp')
            self.wn = self.add_param(lasagne.init.Constant(alpha), (), name='wn')
        elif quantizer == 'syq':
            # One scale per group of ``scale_axes``, starting at the group's mean |W|.
            group_axes = tuple(a for a in range(len(shape)) if a not in scale_axes)
            self.scale = self.add_param(
                np.abs(start).mean(axis=group_axes).astype(theano.config.floatX),
                tuple(shape[a] for a in scale_axes), name='scale')
            self._scale_pattern = [scale_axes.index(a) if a in scale_axes else 'x'
                                   for a in range(len(shape))]

    def weights_for_output(self, deterministic=False, srng=None, **kwargs):
        """The quantized weights (the stochastic BinaryConnect: the hidden
        weights at test time, as its paper did for the stochastic form)."""
        return _WEIGHT_QUANTIZERS[self.quantizer](self, deterministic, srng)

    def _describe_weights(self):
        names = dict((attr, None if getattr(self, attr) is None else
                      '%s.%s' % (self.name, attr))
                     for attr in ('W', 'b', 'wp', 'wn', 'scale') if hasattr(self, attr))
        return {'name': self.name, 'discrete': False, 'quantizer': self.quantizer, 'H': self.H,
                'bits': self.bits, 'stochastic': self.stochastic, 'threshold': self.threshold,
                'params': names}


class _DenseBase(lasagne.layers.Layer):
    """out = input.flatten(2) . W (+ b); ``weights_for_output`` gives W."""

    def _init_dense(self, num_units, nonlinearity):
        self.num_units = num_units
        self.nonlinearity = nonlinearity or (lambda x: x)
        return (int(np.prod(self.input_shape[1:])), num_units)

    def _add_bias(self, b):
        self.b = None if b is None else self.add_param(
            b, (self.num_units,), name='b', regularizable=False)

    def get_output_shape_for(self, input_shape):
        return (input_shape[0], self.num_units)

    def get_output_for(self, input, deterministic=False, srng=None, **kwargs):
        # Named here, not left in kwargs: Lasagne 0.2 warns about kwargs no layer names.
        if input.ndim > 2:
            input = input.flatten(2)
        activation = T.dot(input, self.weights_for_output(deterministic=deterministic,
                                                          srng=srng))
        if self.b is not None:
            activation = activation + self.b.dimshuffle('x', 0)
        return self.nonlinearity(activation)

    def describe(self):
        spec = dict(kind=self._kind_prefix + 'dense', num_units=self.num_units)
        spec.update(self._describe_weights())
        return spec


class DiscreteDenseLayer(_DiscreteWeightsMixin, _DenseBase):
    """Fully connected layer whose weights live on Z_N.

    Parameters
    ----------
    incoming : Layer or tuple
    num_units : int
    discrete : bool
        False gives an ordinary full-precision layer (Glorot init), for the
        baseline.
    H, N : float, int
        Weights in Z_N: 2^N + 1 states in [-H, H].
    init_scale : float
        Initial weights uniform in [-init_scale*H, init_scale*H] (the
        authors use 1, and 1.5 for CIFAR-10's dense layers).
    weight_storage : {'float', 'int8'}
    W : initializer or None
        None: uniform as above when discrete, Glorot uniform otherwise.
    b : initializer or None
    nonlinearity : callable or None

    Examples
    --------
    >>> l_in = lasagne.layers.InputLayer((None, 20))
    >>> l_fc = DiscreteDenseLayer(l_in, num_units=5, H=1.0, N=1)
    >>> l_fc.W.get_value().shape
    (20, 5)
    """
    _kind_prefix = ''

    def __init__(self, incoming, num_units, discrete=True, H=1.0, N=1, init_scale=1.0,
                 weight_storage='float', W=None, b=lasagne.init.Constant(0.),
                 nonlinearity=None, **kwargs):
        super(DiscreteDenseLayer, self).__init__(incoming, **kwargs)
        shape = self._init_dense(num_units, nonlinearity)
        self._add_weights(shape, discrete, H, N, init_scale, weight_storage, W)
        self._add_bias(b)


class QuantizedDenseLayer(_QuantizedWeightsMixin, _DenseBase):
    """Fully connected layer with full-precision hidden weights and a method's quantizer.

    Parameters
    ----------
    incoming : Layer or tuple
    num_units : int
    quantizer : {'binaryconnect', 'bwn', 'twn', 'ttq', 'dorefa', 'syq'}
        binaryconnect: sign(W) or stochastic +-1, hidden W clipped to [-H, H];
        bwn: alpha * sign(W), alpha = mean |W| per output unit; twn: ternary
        with threshold 0.7 mean |W| (per layer); ttq: ternary with learned
        scales ``wp``/``wn``, threshold ``threshold * max|W|``; dorefa:
        ``bits``-bit weights; syq: ternary (threshold ``threshold * max|W|``)
        with one learned scale per output unit.  See :mod:`discrete_ops`.
    H, init_scale : float
        Hidden weights start uniform in [-init_scale*H, init_scale*H].
    bits : int
        DoReFa's weight bits.
    stochastic : bool
        BinaryConnect's stochastic binarization (training only).
    threshold : float
        TTQ's t or SYQ's eta (0.05 in both papers).

    Examples
    --------
    >>> l_in = lasagne.layers.InputLayer((None, 20))
    >>> l_fc = QuantizedDenseLayer(l_in, num_units=5, quantizer='ttq')
    >>> sorted(p.name for p in l_fc.get_params(trainable=True))
    ['W', 'b', 'wn', 'wp']
    """
    _kind_prefix = 'quantized_'

    def __init__(self, incoming, num_units, quantizer, H=1.0, init_scale=1.0, bits=2,
                 stochastic=False, threshold=0.05, W=None, b=lasagne.init.Constant(0.),
                 nonlinearity=None, **kwargs):
        super(QuantizedDenseLayer, self).__init__(incoming, **kwargs)
        shape = self._init_dense(num_units, nonlinearity)
        self._add_weights(shape, quantizer, H, init_scale, W, bits, stochastic, threshold,
                          filter_axes=(0,), scale_axes=(1,))
        self._add_bias(b)


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


class _ConvBase(lasagne.layers.Layer):
    """Cross-correlation (no filter flip) with ``weights_for_output`` as filters."""

    def _init_conv(self, num_filters, filter_size, stride, pad, nonlinearity):
        self.num_filters = num_filters
        self.filter_size = _pair(filter_size)
        self.stride = _pair(stride)
        if pad == 'same':
            pad = tuple(s // 2 for s in self.filter_size)
        self.pad = _pair(pad)
        self.nonlinearity = nonlinearity or (lambda x: x)
        return (num_filters, self.input_shape[1]) + self.filter_size

    def _add_bias(self, b):
        self.b = None if b is None else self.add_param(
            b, (self.num_filters,), name='b', regularizable=False)

    def get_output_shape_for(self, input_shape):
        sizes = [None if n is None else (n + 2 * p - f) // s + 1
                 for n, f, s, p in zip(input_shape[2:], self.filter_size, self.stride, self.pad)]
        return (input_shape[0], self.num_filters) + tuple(sizes)

    def get_output_for(self, input, deterministic=False, srng=None, **kwargs):
        conved = T.nnet.conv2d(input, self.weights_for_output(deterministic=deterministic,
                                                              srng=srng),
                               input_shape=self.input_shape,
                               filter_shape=(self.num_filters, self.input_shape[1]) +
                               self.filter_size,
                               border_mode=self.pad, subsample=self.stride, filter_flip=False)
        if self.b is not None:
            conved = conved + self.b.dimshuffle('x', 0, 'x', 'x')
        return self.nonlinearity(conved)

    def describe(self):
        spec = dict(kind=self._kind_prefix + 'conv', num_filters=self.num_filters,
                    filter_size=list(self.filter_size), stride=list(self.stride),
                    pad=list(self.pad), flip_filters=False)
        spec.update(self._describe_weights())
        return spec


class DiscreteConv2DLayer(_DiscreteWeightsMixin, _ConvBase):
    """2D convolution (cross-correlation, no filter flip) with weights on Z_N.

    Parameters are those of :class:`DiscreteDenseLayer` plus ``num_filters``,
    ``filter_size``, ``stride`` and ``pad`` (int, pair, or 'same' for odd
    filters).  The output is out[n, f, i, j] = sum_{c,u,v}
    x[n, c, i*s + u - pad, j*s + v - pad] * W[f, c, u, v] (+ b[f]).

    Examples
    --------
    >>> l_in = lasagne.layers.InputLayer((None, 1, 28, 28))
    >>> l_conv = DiscreteConv2DLayer(l_in, num_filters=32, filter_size=5)
    >>> l_conv.output_shape
    (None, 32, 24, 24)
    """
    _kind_prefix = ''

    def __init__(self, incoming, num_filters, filter_size, stride=1, pad=0, discrete=True,
                 H=1.0, N=1, init_scale=1.0, weight_storage='float', W=None,
                 b=lasagne.init.Constant(0.), nonlinearity=None, **kwargs):
        super(DiscreteConv2DLayer, self).__init__(incoming, **kwargs)
        shape = self._init_conv(num_filters, filter_size, stride, pad, nonlinearity)
        self._add_weights(shape, discrete, H, N, init_scale, weight_storage, W)
        self._add_bias(b)


class QuantizedConv2DLayer(_QuantizedWeightsMixin, _ConvBase):
    """2D convolution with full-precision hidden weights and a method's quantizer.

    Parameters are those of :class:`QuantizedDenseLayer` plus ``num_filters``,
    ``filter_size``, ``stride`` and ``pad`` (as :class:`DiscreteConv2DLayer`).
    BWN's alpha is per output filter; SYQ's learned scale is per pixel
    (one per kernel position, shared by all filters, as the SYQ paper).

    Examples
    --------
    >>> l_in = lasagne.layers.InputLayer((None, 1, 28, 28))
    >>> l_conv = QuantizedConv2DLayer(l_in, 8, 5, quantizer='syq')
    >>> l_conv.scale.get_value().shape
    (5, 5)
    """
    _kind_prefix = 'quantized_'

    def __init__(self, incoming, num_filters, filter_size, quantizer, stride=1, pad=0, H=1.0,
                 init_scale=1.0, bits=2, stochastic=False, threshold=0.05, W=None,
                 b=lasagne.init.Constant(0.), nonlinearity=None, **kwargs):
        super(QuantizedConv2DLayer, self).__init__(incoming, **kwargs)
        shape = self._init_conv(num_filters, filter_size, stride, pad, nonlinearity)
        self._add_weights(shape, quantizer, H, init_scale, W, bits, stochastic, threshold,
                          filter_axes=(1, 2, 3), scale_axes=(2, 3))
        self._add_bias(b)


def _broadcast_pattern(ndim, axes):
    """dimshuffle pattern that puts a parameter over the non-normalized axes."""
    pattern, position = [], 0
    for axis in range(ndim):
        if axis in axes:
            pattern.append('x')
        else:
            pattern.append(position)
            position += 1
    return pattern


class BatchNormLayer(lasagne.layers.Layer):
    """Batch normalization with Lasagne 0.2's semantics.

    Training:      y = (x - mean_B) * gamma * inv_std_B + beta, with the batch
                   statistics over ``axes`` and inv_std_B = 1/sqrt(var_B + eps);
                   the running ``mean`` and ``inv_std`` move towards the batch
                   ones by ``alpha`` on every training step.
    Deterministic: the running ``mean`` and ``inv_std`` replace the batch ones.

    Parameters
    ----------
    incoming : Layer
    axes : 'auto' or tuple of int
        'auto' normalizes over all axes but the second (channels).
    epsilon, alpha : float
        1e-4 and 0.1, the authors' values (and Lasagne's defaults).

    Examples
    --------
    >>> l_in = lasagne.layers.InputLayer((None, 10))
    >>> l_bn = BatchNormLayer(l_in)
    >>> sorted(p.name for p in l_bn.get_params())
    ['beta', 'gamma', 'inv_std', 'mean']
    """

    def __init__(self, incoming, axes='auto', epsilon=1e-4, alpha=0.1, **kwargs):
        super(BatchNormLayer, self).__init__(incoming, **kwargs)
        if axes == 'auto':
            axes = (0,) + tuple(range(2, len(self.input_shape)))
        self.axes = tuple(axes)
        self.epsilon, self.alpha = epsilon, alpha
        shape = [size for axis, size in enumerate(self.input_shape) if axis not in self.axes]
        constant = lasagne.init.Constant
        self.beta = self.add_param(constant(0.), shape, 'beta', trainable=True,
                                   regularizable=False)
        self.gamma = self.add_param(constant(1.), shape, 'gamma', trainable=True,
                                    regularizable=True)
        self.mean = self.add_param(constant(0.), shape, 'mean', trainable=False,
                                   regularizable=False)
        self.inv_std = self.add_param(constant(1.), shape, 'inv_std', trainable=False,
                                      regularizable=False)

    def get_output_for(self, input, deterministic=False, batch_norm_use_averages=None,
                       batch_norm_update_averages=None, **kwargs):
        use_averages = deterministic if batch_norm_use_averages is None \
            else batch_norm_use_averages
        update_averages = (not deterministic) if batch_norm_update_averages is None \
            else batch_norm_update_averages
        mean, inv_std = self.mean, self.inv_std
        if not use_averages or update_averages:
            input_mean = input.mean(self.axes)
            input_inv_std = T.inv(T.sqrt(input.var(self.axes) + self.epsilon))
        if not use_averages:
            mean, inv_std = input_mean, input_inv_std
        if update_averages:
            # The running averages change as a side effect of any function that
            # computes this output (Lasagne 0.2's mechanism): clones of the shared
            # variables carry default updates, and are tied into the output graph.
            running_mean = theano.clone(self.mean, share_inputs=False)
            running_inv_std = theano.clone(self.inv_std, share_inputs=False)
            running_mean.default_update = ((1 - self.alpha) * running_mean +
                                           self.alpha * input_mean)
            running_inv_std.default_update = ((1 - self.alpha) * running_inv_std +
                                              self.alpha * input_inv_std)
            mean = mean + 0 * running_mean
            inv_std = inv_std + 0 * running_inv_std
        broadcast = _broadcast_pattern(input.ndim, self.axes)
        return ((input - mean.dimshuffle(broadcast)) *
                (self.gamma * inv_std).dimshuffle(broadcast) +
                self.beta.dimshuffle(broadcast))

    def describe(self):
        return dict(kind='batchnorm', name=self.name, epsilon=self.epsilon, alpha=self.alpha,
                    axes=list(self.axes),
                    params=dict((p, '%s.%s' % (self.name, p))
                                for p in ('beta', 'gamma', 'mean', 'inv_std')))


class DiscreteActivationLayer(lasagne.layers.Layer):
    """Applies :func:`discrete_ops.discrete_activation` (ternary by default).

    Examples
    --------
    >>> l_in = lasagne.layers.InputLayer((None, 10))
    >>> l_act = DiscreteActivationLayer(l_in, act_N=1, r=1.0, a=0.5)
    """

    def __init__(self, incoming, act_N=1, r=1.0, a=0.5, window='rect', **kwargs):
        super(DiscreteActivationLayer, self).__init__(incoming, **kwargs)
        discrete_ops.activation_thresholds(act_N, r)  # validates act_N and r
        if not a > 0:
            raise ValueError('a must be > 0, got %r' % (a,))
        if window not in ('rect', 'tri'):
            raise ValueError("window must be 'rect' or 'tri', got %r" % (window,))
        self.act_N, self.r, self.a, self.window = int(act_N), float(r), float(a), window

    def get_output_for(self, input, **kwargs):
        return discrete_ops.discrete_activation(input, self.act_N, self.r, self.a, self.window)

    def describe(self):
        return dict(kind='activation', act_N=self.act_N, r=self.r, a=self.a,
                    window=self.window)


class QuantizedActivationLayer(lasagne.layers.Layer):
    """The activation of a comparison method (see :mod:`discrete_ops`).

    Parameters
    ----------
    incoming : Layer
    method : {'bnn', 'xnor', 'dorefa', 'tbn'}
        bnn: sign(x) with the straight-through estimator; xnor: sign(x)
        times the mean |x| over channels (features); dorefa: ``bits``-bit
        quantization of clip(x, 0, 1); tbn: ternary with threshold
        ``delta`` * mean |x| of each sample.
    bits : int
        DoReFa's (and SYQ's) activation bits.
    delta : float
        TBN's threshold factor (0.4 in its paper).

    Examples
    --------
    >>> l_in = lasagne.layers.InputLayer((None, 10))
    >>> l_act = QuantizedActivationLayer(l_in, 'dorefa', bits=2)
    """

    def __init__(self, incoming, method, bits=2, delta=0.4, **kwargs):
        super(QuantizedActivationLayer, self).__init__(incoming, **kwargs)
        if method not in ACTIVATIONS:
            raise ValueError('method must be one of %s, got %r' % (ACTIVATIONS, method))
        if method == 'dorefa':
            _check_bits(bits)
        self.method, self.bits, self.delta = method, int(bits), float(delta)

    def get_output_for(self, input, **kwargs):
        return _ACTIVATION_QUANTIZERS[self.method](self, input)

    def describe(self):
        return dict(kind='quantized_activation', method=self.method, bits=self.bits,
                    delta=self.delta)


# What each quantizer kind of methods.py's records (``Method.weights``,
# ``Method.activation``) computes, from the layer's own settings: one entry per kind.
_WEIGHT_QUANTIZERS = {
    'binaryconnect': lambda layer, deterministic, srng: layer.W
    if layer.stochastic and deterministic
    else quantizers.binaryconnect_weights(layer.W, layer.stochastic, srng),
    'bwn': lambda layer, deterministic, srng: quantizers.bwn_weights(layer.W,
                                                                     layer.filter_axes),
    'twn': lambda layer, deterministic, srng: quantizers.twn_weights(layer.W, None),
    'ttq': lambda layer, deterministic, srng: quantizers.ttq_weights(
        layer.W, layer.wp, layer.wn, t=layer.threshold),
    'dorefa': lambda layer, deterministic, srng: quantizers.dorefa_weights(layer.W,
                                                                           layer.bits),
    'syq': lambda layer, deterministic, srng: quantizers.syq_weights(
        layer.W, layer.scale.dimshuffle(layer._scale_pattern), eta=layer.threshold,
        ternary=True),
}
_ACTIVATION_QUANTIZERS = {
    'bnn': lambda layer, x: quantizers.bnn_activation(x),
    'xnor': lambda layer, x: quantizers.xnor_activation(x, axis=1),
    'dorefa': lambda layer, x: quantizers.dorefa_activation(x, layer.bits),
    'tbn': lambda layer, x: quantizers.tbn_activation(x, delta=layer.delta),
}
assert sorted(_WEIGHT_QUANTIZERS) == sorted(QUANTIZERS)
assert sorted(_ACTIVATION_QUANTIZERS) == sorted(ACTIVATIONS)


def discrete_layers(network):
    """The layers below ``network`` whose weights are discrete."""
    return [layer for layer in lasagne.layers.get_all_layers(network)
            if getattr(layer, 'discrete', False)]


def describe_network(network):
    """JSON-ready description of every layer below ``network``, input first.

    Our layers describe themselves; Lasagne's InputLayer, MaxPool2DLayer and
    NonlinearityLayer (ReLU only, for the full-precision baseline) are
    translated here.  Any other layer raises ValueError, so that a model file
    never silently misses a layer.
    """
    specs = []
    for layer in lasagne.layers.get_all_layers(network):
        if hasattr(layer, 'describe'):
            specs.append(layer.describe())
        elif isinstance(layer, lasagne.layers.InputLayer):
            specs.append(dict(kind='input', shape=list(layer.shape[1:])))
        elif isinstance(layer, lasagne.layers.MaxPool2DLayer):
            specs.append(dict(kind='maxpool', pool_size=list(_pair(layer.pool_size)),
                              stride=list(_pair(layer.stride)), pad=list(_pair(layer.pad)),
                              ignore_border=bool(layer.ignore_border)))
        elif (isinstance(layer, lasagne.layers.NonlinearityLayer) and
              layer.nonlinearity is lasagne.nonlinearities.rectify):
            specs.append(dict(kind='relu'))
        else:
            raise ValueError('describe_network: cannot describe %s' % type(layer).__name__)
    return specs
