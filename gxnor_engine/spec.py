"""Reading the layer descriptions of a ``gxnor-model`` file, with clear errors.

Every check of a field or an array the engine relies on lives here, and
every failure raises :class:`ModelError` naming the layer and what is wrong.
:func:`weight_grid` turns a weight layer's saved array into the integers
the packed product runs on, and the float scale that multiplies them:

=====================================  =============  ======================
layer (method)                         integers       scale
=====================================  =============  ======================
``conv``/``dense``, discrete, N = 1    w / H in       H
(gxnor)                                {-1, 0, 1}
``conv``/``dense``, discrete, N = 0    w / H in       H
(gxnor --N 0)                          {-1, 1}
``quantized_*``, binaryconnect,        sign(W)        1
deterministic (bnn)
``quantized_*``, bwn (xnor, tbn)       sign(W)        alpha = mean |W| per
                                                      output unit
=====================================  =============  ======================

sign(0) = +1, as the harness's quantizers.  Other weights (full precision,
N >= 2, stochastic BinaryConnect, twn, ttq, dorefa, syq) raise ModelError.

Examples
--------
>>> pair(3, 'stride')
(3, 3)
>>> grid = weight_grid(dict(kind='quantized_dense', quantizer='bwn'),
...                    np.array([[0.5, -1.0], [-1.5, 0.0]]), 1, 'fc')
>>> grid.values.tolist(), grid.scale.tolist(), grid.N
([[1, -1], [-1, 1]], [1.0, 0.5], 0)
"""
from __future__ import absolute_import, division, print_function

import collections

import numpy as np

__all__ = ['ModelError', 'WeightGrid', 'pair', 'conv_pad', 'param', 'positive_int',
           'weights_to_int', 'weight_grid']

_STRING_TYPES = (type(u''), type(b''))

# Quantizers of the compared methods the engine cannot run, and why.
_REFUSED_QUANTIZERS = {
    'twn': 'TWN ternary weights (the method pairs them with ReLU activations)',
    'ttq': 'TTQ ternary weights with learned scales (paired with ReLU activations)',
    'dorefa': 'DoReFa-Net k-bit weights',
    'syq': 'SYQ weights with learned scales (paired with k-bit activations)',
}


class ModelError(ValueError):
    """A model file the engine cannot run (missing, malformed or unsupported)."""


class WeightGrid(collections.namedtuple('WeightGrid', 'values scale N')):
    """A weight layer on a grid: int8 `values` in {-1, 0, 1} (N = 1) or {-1, 1}
    (N = 0), shaped as the saved array; float weights = scale * values, with
    `scale` a float64 scalar or one per output unit."""
    __slots__ = ()


def pair(value, what):
    """An int or a pair of ints as a pair of ints (ModelError otherwise).

    Examples
    --------
    >>> pair([2, 1], 'pool_size')
    (2, 1)
    """
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ModelError('%s: expected two values, got %r' % (what, value))
        a, b = value
    else:
        a = b = value
    try:
        if int(a) != a or int(b) != b:
            raise ValueError
        return int(a), int(b)
    except (TypeError, ValueError):
        raise ModelError('%s: expected integers, got %r' % (what, value))


def conv_pad(value, kernel, where):
    """Padding of a convolution: a pair, or 'valid', 'full', 'same' (odd filters).

    Examples
    --------
    >>> conv_pad('same', (3, 5), 'conv1')
    (1, 2)
    """
    if isinstance(value, _STRING_TYPES):
        value = value.decode('ascii') if isinstance(value, bytes) else value
        if value == 'valid':
            return 0, 0
        if value == 'full':
            return kernel[0] - 1, kernel[1] - 1
        if value == 'same' and kernel[0] % 2 and kernel[1] % 2:
            return kernel[0] // 2, kernel[1] // 2
        raise ModelError("%s: unsupported pad %r" % (where, value))
    return pair(value, where + ' pad')


def param(arrays, spec, key, where, shape=None, required=True):
    """The array the layer names under params[key], as finite float64.

    Returns None for an absent optional parameter; raises ModelError for a
    missing, non-numeric, misshapen or non-finite one.
    """
    name = (spec.get('params') or {}).get(key)
    if name is None:
        if required:
            raise ModelError('%s: no parameter %r in the layer description' % (where, key))
        return None
    if name not in arrays:
        raise ModelError("%s: array '%s' missing from the file" % (where, name))
    value = np.asarray(arrays[name])
    if value.dtype.kind not in 'fiu':
        raise ModelError("%s: array '%s' is not numeric (%s)" % (where, name, value.dtype))
    if shape is not None and value.shape != tuple(shape):
        raise ModelError("%s: array '%s' has shape %s, expected %s"
                         % (where, name, value.shape, tuple(shape)))
    if not np.all(np.isfinite(value)):
        raise ModelError("%s: array '%s' holds non-finite values" % (where, name))
    return value.astype(np.float64)


def positive_int(value, what):
    """`value` as an int > 0 (bools refused), else ModelError.

    Examples
    --------
    >>> positive_int(4.0, 'num_units')
    4
    """
    try:
        ok = not isinstance(value, bool) and int(value) == value and value > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ModelError('%s: expected a positive integer, got %r' % (what, value))
    return int(value)


def weights_to_int(W, H, N, where):
    """Weights on Z_N (N = 0 or 1) -> int8 in {-1, 0, 1} (w / H).

    Examples
    --------
    >>> weights_to_int(np.array([0.5, 0.0, -0.5]), 0.5, 1, 'fc').tolist()
    [1, 0, -1]
    """
    scaled = W / H
    w_int = np.rint(scaled)
    allowed = (-1, 1) if N == 0 else (-1, 0, 1)
    bad = ~np.isin(w_int, allowed) | (np.abs(scaled - w_int) > 1e-5)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        grid = '{-H, H}' if N == 0 else '{-H, 0, H}'
        raise ModelError('%s: weight W%s = %r is off the grid %s with H = %r'
                         % (where, list(index), float(W[index]), grid, H))
    return w_int.astype(np.int8)


def _discrete_grid(spec, W, where):
    if not spec.get('discrete', False):
        raise ModelError('%s: full-precision layer; the engine needs discrete weights' % where)
    N, H = spec.get('N'), spec.get('H')
    if N not in (0, 1):
        raise ModelError('%s: weight levels N=%r unsupported (0 binary or 1 ternary only)'
                         % (where, N))
    try:
        H = float(H)
    except (TypeError, ValueError):
        raise ModelError('%s: bad H %r' % (where, H))
    if not H > 0 or not np.isfinite(H):
        raise ModelError('%s: H must be > 0, got %r' % (where, H))
    return WeightGrid(weights_to_int(W, H, N, where), np.float64(H), N)


def _sign(W):
    """sign(W) with sign(0) = +1, as int8 (the harness's binary quantizers)."""
    return np.where(W >= 0, 1, -1).astype(np.int8)


def _quantized_grid(spec, W, unit_axis, where):
    quantizer = spec.get('quantizer')
    if quantizer in _REFUSED_QUANTIZERS:
        raise ModelError('%s: unsupported layer kind for the engine: %s'
                         % (where, _REFUSED_QUANTIZERS[quantizer]))
    if quantizer == 'binaryconnect':
        if spec.get('stochastic', False):
            raise ModelError('%s: stochastic BinaryConnect runs its float hidden weights at '
                             'test time; the engine needs binary weights' % where)
        return WeightGrid(_sign(W), np.float64(1.0), 0)
    if quantizer == 'bwn':
        # alpha = mean |W| over each output unit's weights (quantizers.bwn_weights).
        others = tuple(axis for axis in range(W.ndim) if axis != unit_axis)
        return WeightGrid(_sign(W), np.abs(W).mean(axis=others), 0)
    raise ModelError("%s: unknown quantizer '%s'" % (where, quantizer))


def weight_grid(spec, W, unit_axis, where):
    """The integers and scale of a weight layer's float64 array `W`.

    Parameters
    ----------
    spec : dict, the layer description (kind conv/dense or quantized_conv/dense)
    W : float64 array as saved (conv (F, C, kh, kw), dense (inputs, units))
    unit_axis : int, the output-unit axis of `W` (0 conv, 1 dense)
    where : str, the layer, for messages

    Returns
    -------
    WeightGrid
    """
    if spec.get('kind', '').startswith('quantized_'):
        return _quantized_grid(spec, W, unit_axis, where)
    return _discrete_grid(spec, W, where)
