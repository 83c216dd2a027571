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
