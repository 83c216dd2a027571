"""The Lasagne layers: forward values, weight storage, batch norm semantics."""
from __future__ import division

import gxnor_compat  # noqa: F401
import lasagne
import numpy as np
import pytest
import theano
import theano.tensor as T

import discrete_ops
import gxnor_layers as gl

floatX = theano.config.floatX


def fx(values):
    return np.asarray(values, dtype=floatX)


def snapped(layer):
    layer.W.set_value(fx(discrete_ops.weight_grid(layer.H, layer.N)[
        discrete_ops.weight_state_index(layer.W.get_value(), layer.H, layer.N).astype(int)]))


def test_dense_forward_and_tags():
    rng = np.random.RandomState(0)
    l_in = lasagne.layers.InputLayer((None, 2, 3))
    layer = gl.DiscreteDenseLayer(l_in, 4, H=1.0, N=1, name='fc')
    snapped(layer)
    layer.b.set_value(fx([0.5, -1, 0, 2]))
    x = fx(rng.randn(5, 2, 3))
    out = lasagne.layers.get_output(layer).eval({l_in.input_var: x})
    assert np.allclose(out, x.reshape(5, 6).dot(layer.W.get_value()) + layer.b.get_value(),
                       atol=1e-5)
    assert layer.get_params(discrete=True) == [layer.W]
    assert layer.W not in layer.get_params(trainable=True)  # DST moves it, not optimizers
    assert set(np.unique(layer.W.get_value())) <= {-1.0, 0.0, 1.0}


def test_initial_weights_uniform_in_scaled_range():
    layer = gl.DiscreteDenseLayer((None, 400), 300, H=0.5, N=1, init_scale=1.5)
    w = layer.W.get_value()
    assert w.min() >= -0.75 and w.max() <= 0.75 and w.max() > 0.7 and w.min() < -0.7


def test_int8_storage_holds_indices_and_gives_float_view():
    layer = gl.DiscreteDenseLayer((None, 30), 20, H=1.0, N=2, weight_storage='int8')
    index = layer.W.get_value()
    assert index.dtype == np.int8 and index.min() >= 0 and index.max() <= 4
    assert np.array_equal(layer.W_values.eval(), discrete_ops.weight_grid(1.0, 2)[index])
    assert np.array_equal(layer.weight_values(), layer.W_values.eval())
    x = T.matrix()
    grad = theano.grad(layer.get_output_for(x).sum(), layer.W_values)
    assert grad.eval({x: fx(np.ones((2, 30)))}).shape == (30, 20)


def test_full_precision_layer_is_trainable_and_untagged():
    layer = gl.DiscreteDenseLayer((None, 30), 20, discrete=False)
    assert layer.get_params(discrete=True) == []
    assert layer.W in layer.get_params(trainable=True)


@pytest.mark.parametrize('kwargs', [dict(N=-1), dict(H=0.0), dict(weight_storage='int4'),
                                    dict(weight_storage='int8', N=7)])
def test_layer_rejects_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        gl.DiscreteDenseLayer((None, 3), 2, **kwargs)


def direct_correlation(x, w, pad, stride):
    x = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])), mode='constant')
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    oh, ow = (h - kh) // stride[0] + 1, (wd - kw) // stride[1] + 1
    out = np.zeros((n, f, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, :, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    return out


@pytest.mark.parametrize('filter_size, pad, stride', [(3, 1, 1), (5, 0, 1), ((3, 2), (0, 1), 2),
                                                      (3, 'same', 1)])
def test_conv_is_cross_correlation(filter_size, pad, stride):
    rng = np.random.RandomState(3)
    l_in = lasagne.layers.InputLayer((None, 2, 9, 8))
    layer = gl.DiscreteConv2DLayer(l_in, 3, filter_size, pad=pad, stride=stride, b=None)
    snapped(layer)
    x = fx(rng.randn(2, 2, 9, 8))
    out = lasagne.layers.get_output(layer).eval({l_in.input_var: x})
    expected = direct_correlation(x, layer.W.get_value(), layer.pad, layer.stride)
    assert out.shape == expected.shape == (2,) + layer.output_shape[1:]
    assert np.allclose(out, expected, atol=1e-4)


def test_batch_norm_training_deterministic_and_running_averages():
    rng = np.random.RandomState(4)
    l_in = lasagne.layers.InputLayer((None, 3, 2, 2))
    bn = gl.BatchNormLayer(l_in, epsilon=1e-4, alpha=0.1)
    bn.gamma.set_value(fx([1.0, 2.0, -1.0]))
    bn.beta.set_value(fx([0.0, 0.5, 1.0]))
    x = fx(rng.randn(6, 3, 2, 2) * 3 + 1)
    train = theano.function([l_in.input_var], lasagne.layers.get_output(bn))
    test = theano.function([l_in.input_var], lasagne.layers.get_output(bn, deterministic=True))

    mean = x.mean(axis=(0, 2, 3))
    inv_std = 1 / np.sqrt(x.var(axis=(0, 2, 3)) + 1e-4)
    shape = (1, 3, 1, 1)
    expected = ((x - mean.reshape(shape)) * (bn.gamma.get_value() * inv_std).reshape(shape) +
                bn.beta.get_value().reshape(shape))
    assert np.allclose(train(x), expected, atol=1e-4)
    # one training call moves the running averages by alpha towards the batch's
    assert np.allclose(bn.mean.get_value(), 0.1 * mean, atol=1e-5)
    assert np.allclose(bn.inv_std.get_value(), 0.9 + 0.1 * inv_std, atol=1e-5)
    # deterministic output uses them, and does not move them
    run_mean, run_inv = bn.mean.get_value(), bn.inv_std.get_value()
    expected = ((x - run_mean.reshape(shape)) * (bn.gamma.get_value() * run_inv).reshape(shape) +
                bn.beta.get_value().reshape(shape))
    assert np.allclose(test(x), expected, atol=1e-4)
    assert np.array_equal(bn.mean.get_value(), run_mean)


def test_activation_layer_and_describe_network():
    l_in = lasagne.layers.InputLayer((None, 1, 8, 8))
    net = gl.DiscreteConv2DLayer(l_in, 2, 3, pad=1, name='conv')
    net = lasagne.layers.MaxPool2DLayer(net, 2)
    net = gl.BatchNormLayer(net, name='bn')
    net = gl.DiscreteActivationLayer(net, act_N=1, r=0.7, a=0.3, window='tri')
    net = gl.DiscreteDenseLayer(net, 3, name='fc', weight_storage='int8')
    kinds = [spec['kind'] for spec in gl.describe_network(net)]
    assert kinds == ['input', 'conv', 'maxpool', 'batchnorm', 'activation', 'dense']
    act = gl.describe_network(net)[4]
    assert (act['act_N'], act['r'], act['a'], act['window']) == (1, 0.7, 0.3, 'tri')
    assert gl.describe_network(net)[5]['params'] == {'W': 'fc.W', 'b': 'fc.b'}
    assert [layer.name for layer in gl.discrete_layers(net)] == ['conv', 'fc']
    x = fx(np.random.RandomState(0).randn(4, 1, 8, 8))
    out = lasagne.layers.get_output(net.input_layer).eval({l_in.input_var: x})
    assert set(np.unique(out)) <= {-1.0, 0.0, 1.0}


def test_describe_network_refuses_unknown_layers():
    net = lasagne.layers.DropoutLayer(lasagne.layers.InputLayer((None, 3)))
    with pytest.raises(ValueError):
        gl.describe_network(net)


def quantized_output(layer, x, **kwargs):
    l_in = layer.input_layer
    return lasagne.layers.get_output(layer, **kwargs).eval({l_in.input_var: x})


def sign(w):
    return np.where(w >= 0, 1.0, -1.0)


def test_quantized_dense_bwn_has_one_alpha_per_output_unit():
    rng = np.random.RandomState(5)
    layer = gl.QuantizedDenseLayer(lasagne.layers.InputLayer((None, 6)), 4, 'bwn', b=None)
    w = layer.W.get_value()
    x = fx(rng.randn(3, 6))
    expected = x.dot(np.abs(w).mean(axis=0) * sign(w))
    assert np.allclose(quantized_output(layer, x), expected, atol=1e-5)
    assert layer.W in layer.get_params(trainable=True, hidden=True)
    assert layer.get_params(discrete=True) == []


def test_quantized_conv_bwn_has_one_alpha_per_filter():
    rng = np.random.RandomState(6)
    layer = gl.QuantizedConv2DLayer(lasagne.layers.InputLayer((None, 2, 6, 5)), 3, 3, 'bwn',
                                    pad=1, b=None)
    w = layer.W.get_value()
    wq = np.abs(w).mean(axis=(1, 2, 3), keepdims=True) * sign(w)
    x = fx(rng.randn(2, 2, 6, 5))
    assert np.allclose(quantized_output(layer, x), direct_correlation(x, wq, (1, 1), (1, 1)),
                       atol=1e-4)


def test_quantized_twn_and_dorefa_use_one_factor_per_layer():
    rng = np.random.RandomState(7)
    x = fx(rng.randn(3, 5))
    twn = gl.QuantizedDenseLayer(lasagne.layers.InputLayer((None, 5)), 4, 'twn', b=None)
    w = twn.W.get_value()
    mask = np.abs(w) > 0.7 * np.abs(w).mean()
    expected = x.dot(np.abs(w)[mask].mean() * np.sign(w) * mask)
    assert np.allclose(quantized_output(twn, x), expected, atol=1e-5)
    dorefa = gl.QuantizedDenseLayer(lasagne.layers.InputLayer((None, 5)), 4, 'dorefa', bits=2,
                                    b=None)
    t = np.tanh(dorefa.W.get_value())
    wq = 2 * np.round(3 * (t / (2 * np.abs(t).max()) + 0.5)) / 3 - 1
    assert np.allclose(quantized_output(dorefa, x), x.dot(wq), atol=1e-5)


def test_quantized_ttq_scales_are_learned_parameters():
    layer = gl.QuantizedDenseLayer(lasagne.layers.InputLayer((None, 8)), 3, 'ttq', b=None)
    w = layer.W.get_value()
    delta = 0.05 * np.abs(w).max()
    alpha = np.abs(w)[np.abs(w) > delta].mean()
    assert np.isclose(layer.wp.get_value(), alpha) and np.isclose(layer.wn.get_value(), alpha)
    layer.wp.set_value(fx(2.0))
    layer.wn.set_value(fx(0.5))
    x = T.matrix()
    out = layer.get_output_for(x)
    ones = fx(np.ones((1, 8)))
    expected = ones.dot(np.where(w > delta, 2.0, np.where(w < -delta, -0.5, 0.0)))
    assert np.allclose(out.eval({x: ones}), expected, atol=1e-5)
    grad_wp, grad_wn = theano.grad(out.sum(), [layer.wp, layer.wn])
    assert np.isclose(grad_wp.eval({x: ones}), (w > delta).sum())
    assert np.isclose(grad_wn.eval({x: ones}), -(w < -delta).sum())


def test_quantized_syq_conv_has_one_learned_scale_per_kernel_pixel():
    rng = np.random.RandomState(8)
    layer = gl.QuantizedConv2DLayer(lasagne.layers.InputLayer((None, 2, 5, 5)), 3, (3, 2),
                                    'syq', b=None)
    w = layer.W.get_value()
    scale = layer.scale.get_value()
    assert scale.shape == (3, 2)
    assert np.allclose(scale, np.abs(w).mean(axis=(0, 1)), atol=1e-6)
    q = np.sign(w) * (np.abs(w) >= 0.05 * np.abs(w).max())
    x = fx(rng.randn(2, 2, 5, 5))
    assert np.allclose(quantized_output(layer, x),
                       direct_correlation(x, scale[None, None] * q, (0, 0), (1, 1)), atol=1e-4)
    dense = gl.QuantizedDenseLayer(lasagne.layers.InputLayer((None, 7)), 4, 'syq')
    assert dense.scale.get_value().shape == (4,)


def test_stochastic_binaryconnect_samples_in_training_and_uses_hidden_weights_in_test():
    from theano.sandbox.rng_mrg import MRG_RandomStreams
    layer = gl.QuantizedDenseLayer(lasagne.layers.InputLayer((None, 50)), 40, 'binaryconnect',
                                   stochastic=True, b=None)
    assert layer.hidden_clip == 1.0
    eye = fx(np.eye(50))
    w = layer.W.get_value()
    assert np.allclose(quantized_output(layer, eye, deterministic=True), w, atol=1e-6)
    sampled = quantized_output(layer, eye, srng=MRG_RandomStreams(3))
    assert set(np.unique(sampled)) == {-1.0, 1.0}
    # +1 with probability (w + 1) / 2: the sample agrees with sign(w) more often than not
    assert (sampled == sign(w)).mean() > 0.6
    deterministic = gl.QuantizedDenseLayer(lasagne.layers.InputLayer((None, 50)), 40,
                                           'binaryconnect', b=None)
    assert np.array_equal(quantized_output(deterministic, eye), sign(deterministic.W.get_value()))


@pytest.mark.parametrize('method, reference', [
    ('bnn', lambda x: sign(x)),
    ('xnor', lambda x: sign(x) * np.abs(x).mean(axis=1, keepdims=True)),
    ('dorefa', lambda x: np.round(3 * np.clip(x, 0, 1)) / 3),
    ('tbn', lambda x: np.sign(x) * (np.abs(x) > 0.4 * np.abs(x).mean(axis=(1, 2, 3),
                                                                      keepdims=True))),
])
def test_quantized_activation_layer_forward(method, reference):
    x = fx(np.random.RandomState(9).randn(3, 4, 2, 2) * 1.5)
    layer = gl.QuantizedActivationLayer(lasagne.layers.InputLayer((None, 4, 2, 2)), method,
                                        bits=2, delta=0.4)
    assert np.allclose(quantized_output(layer, x), reference(x), atol=1e-5)


def test_quantized_layers_describe_themselves_and_refuse_bad_options():
    l_in = lasagne.layers.InputLayer((None, 1, 6, 6))
    net = gl.QuantizedConv2DLayer(l_in, 2, 3, 'ttq', name='conv')
    net = gl.QuantizedActivationLayer(net, 'tbn')
    net = gl.QuantizedDenseLayer(net, 3, 'syq', name='fc')
    specs = gl.describe_network(net)
    assert [s['kind'] for s in specs] == ['input', 'quantized_conv', 'quantized_activation',
                                          'quantized_dense']
    assert specs[1]['params'] == {'W': 'conv.W', 'wp': 'conv.wp', 'wn': 'conv.wn',
                                  'b': 'conv.b'}
    assert specs[3]['quantizer'] == 'syq' and specs[3]['params']['scale'] == 'fc.scale'
    for bad in (dict(quantizer='xnor'), dict(quantizer='dorefa', bits=0),
                dict(quantizer='ttq', threshold=1.0), dict(quantizer='bwn', H=0)):
        with pytest.raises(ValueError):
            gl.QuantizedDenseLayer((None, 3), 2, **bad)
    with pytest.raises(ValueError):
        gl.QuantizedActivationLayer((None, 3), 'relu')
