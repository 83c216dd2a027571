"""How sparse a trained GXNOR-Net is: zero activations and closed gates.

A product w * x of a weight layer has a *closed gate* when w = 0 or x = 0:
the gated-XNOR engine skips it (the paper's "resting" state).  This module
counts, per discrete weight layer and on given images:

- ``products``: every product w * x the layer computes (output positions x
  units x fan-in), zero padding included (a padded input is 0: closed);
- ``open``: products with w != 0 and x != 0;
- ``inputs`` and ``input_zeros``: the layer's input values, and the zeros
  among them (for hidden layers: the previous activation's zeros);
- ``weights`` and ``zero_weights``.

It runs the model with Theano (deterministic pass, batch-norm averages), so
it works for any number of weight states N and activation levels, where
``gated_xnor.py`` handles N <= 1 only; on models both handle the counts are
the same integers (a test checks it on the committed model).

Examples
--------
>>> counts = measure_sparsity('weights/<model>.npz', X_test)    # doctest: +SKIP
>>> counts['gate_closed_share'], counts['activation_zero_share']  # doctest: +SKIP
"""
from __future__ import absolute_import, division

import gxnor_compat  # noqa: F401  (Theano flags, before theano)
import lasagne
import numpy as np
import theano
import theano.tensor as T

import dataset_names
import datasets
import gxnor_layers
import model_format
import run_files
import run_options

__all__ = ['load_network', 'gate_counts', 'measure_sparsity']


def load_network(path):
    """Rebuild the Lasagne network of a gxnor-model file with its parameters.

    Returns (network, input_var, meta).  Discrete weights are loaded as
    their values on the grid (float storage), whatever the run stored.
    Raises :class:`model_format.ModelFormatError` for a file that is not a model,
    ValueError for one of a data set not in :data:`dataset_names.NAMES`.
    """
    meta, arrays = model_format.read_model(path)
    script = dataset_names.script(meta['dataset'])
    args = run_options.parse_args(script.EXPERIMENT, [])
    for key, value in meta['config'].items():
        if hasattr(args, key):
            setattr(args, key, value)
    args.weight_storage = 'float'
    input_var = T.tensor4('inputs')
    network = script.build_network(input_var, args)
    for key, param in run_files.layer_params(network).items():
        shape = param.get_value().shape
        param.set_value(np.asarray(arrays[key], dtype=param.dtype).reshape(shape))
    return network, input_var, meta


def gate_counts(x, w, spec):
    """(open, products) of one weight layer on its input ``x``.

    Parameters
    ----------
    x : array (n, C, H, W) for a conv layer, (n, ...) for a dense one
    w : array (F, C, kh, kw) (conv, cross-correlation) or (K, units) (dense)
    spec : dict, the layer's description (``kind``, ``stride``, ``pad``)

    Examples
    --------
    >>> x = np.array([[1., 0., -1.]]); w = np.array([[1., 0.], [1., 1.], [0., 1.]])
    >>> gate_counts(x, w, dict(kind='dense'))
    (2, 6)
    """
    n = len(x)
    if spec['kind'] == 'dense':
        flat = x.reshape(n, -1)
        open_ = np.dot(np.count_nonzero(flat, axis=0), np.count_nonzero(w, axis=1))
        return int(open_), int(flat.size * w.shape[1])
    F, C, kh, kw = w.shape
    sh, sw = spec.get('stride', (1, 1))
    ph, pw = spec.get('pad', (0, 0))
    nz = np.pad(x != 0, ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode='constant')
    oh, ow = (nz.shape[2] - kh) // sh + 1, (nz.shape[3] - kw) // sw + 1
    filters_open = np.count_nonzero(w, axis=0)          # (C, kh, kw): units with w != 0
    open_ = 0
    for u in range(kh):
        for v in range(kw):
            window = nz[:, :, u:u + sh * (oh - 1) + 1:sh, v:v + sw * (ow - 1) + 1:sw]
            open_ += int(np.dot(window.sum(axis=(0, 2, 3)), filters_open[:, u, v]))
    return open_, int(n * oh * ow * F * C * kh * kw)


def measure_sparsity(path, X, batch_size=500):
    """Counts per discrete weight layer of the model ``path`` on uint8 images X.

    Returns a dict: ``layers`` (one dict per layer: name, kind, products,
    open, inputs, input_zeros, weights, zero_weights, and the shares
    gate_closed_share, input_zero_share, weight_zero_share), and over the
    whole network ``gate_closed_share`` (closed products / all products)
    and ``activation_zero_share`` (zeros among the inputs of the hidden
    weight layers, i.e. the activations they read).
    """
    network, input_var, _ = load_network(path)
    layers = gxnor_layers.discrete_layers(network)
    if not layers:
        raise ValueError('%s: no discrete weight layer' % path)
    taps = lasagne.layers.get_output([layer.input_layer for layer in layers], deterministic=True)
    inputs_of = theano.function([input_var], taps)
    rows = [dict(name=layer.name, kind=layer.describe()['kind'], products=0, open=0, inputs=0,
                 input_zeros=0) for layer in layers]
    weights = [layer.weight_values() for layer in layers]
    specs = [layer.describe() for layer in layers]
    for start in range(0, len(X), batch_size):
        batch = datasets.to_float(X[start:start + batch_size])
        for row, x, w, spec in zip(rows, inputs_of(batch), weights, specs):
            open_, products = gate_counts(x, w, spec)
            row['open'] += open_
            row['products'] += products
            row['inputs'] += int(x.size)
            row['input_zeros'] += int(x.size - np.count_nonzero(x))
    for row, w in zip(rows, weights):
        row.update(weights=int(w.size), zero_weights=int(w.size - np.count_nonzero(w)))
        row['gate_closed_share'] = 1.0 - row['open'] / max(row['products'], 1)
        row['input_zero_share'] = row['input_zeros'] / max(row['inputs'], 1)
        row['weight_zero_share'] = row['zero_weights'] / max(row['weights'], 1)
    hidden = rows[1:]
    return dict(
        layers=rows,
        gate_closed_share=1.0 - sum(r['open'] for r in rows) / max(sum(r['products']
                                                                         for r in rows), 1),
        activation_zero_share=(sum(r['input_zeros'] for r in hidden) /
                               max(sum(r['inputs'] for r in hidden), 1)))
