"""From a model file's layer list to the engine's stages, checking it on the way.

:func:`build` walks the layers once.  Each layer kind has its own small
function (:data:`LAYER_BUILDERS`); they share a :class:`BuildState` that
knows what the previous stages produce (its *domain*):

==========  ===================================================  =============
domain      values                                               made by
==========  ===================================================  =============
'input'     uint8 pixels                                         the file
'int'       int32 sums z of a weight layer (bias, batch norm     first/packed
            pending in the open *block*)                         weight stages
'float'     float64 sums of a layer on XNOR inputs (pending as   scaled-input
            above)                                               stage
'ternary'   int8 activations in {-1, 0, 1} or {-1, 1}            activations
'scaled'    XNOR activations sign * K (ScaledBinary)             xnor activation
==========  ===================================================  =============

A sign or ternary-staircase activation of 'int' sums folds into integer
thresholds; XNOR-Net's and TBN's activations depend on the data and are
evaluated in float64
(:class:`gxnor_engine.activations.FloatActivationStage`).

Examples
--------
>>> sorted(LAYER_BUILDERS)[:3]
['activation', 'batchnorm', 'conv']
"""
from __future__ import absolute_import, division, print_function

import numpy as np

from gxnor_engine.activations import (FloatActivationStage, PoolStage, RecordStage, ScoreStage,
                                      ThresholdStage, UnscaleStage)
from gxnor_engine.products import FirstStage, PackedStage, ScaledInputStage
from gxnor_engine.spec import ModelError, conv_pad, pair, param, positive_int, weight_grid
from gxnor_engine.thresholds import Affine, fold_affine

__all__ = ['BuildState', 'build', 'LAYER_BUILDERS', 'SUPPORTED_METHODS']

# Harness methods (methods.py) whose model files the engine runs.
SUPPORTED_METHODS = ('gxnor', 'bnn', 'xnor', 'tbn')

# Why the layer kinds of the other methods cannot run (added to the error).
_REFUSED_KINDS = {'relu': 'ReLU outputs are not binary or ternary'}


class BuildState(object):
    """What the stages built so far produce, and the open conv/dense block."""

    def __init__(self, meta, arrays):
        self.arrays = arrays
        self.shape = tuple(meta['input_shape'])     # logical (C, H, W) or (D,)
        self.domain = 'input'
        self.block = None       # dict(info, scale, zmax, bias, bn) of the open weight layer
        self.record = None      # name of the layer whose sums await recording
        self.stages, self.layers = [], []

    def flush_record(self):
        """Record the open layer's sums here (after any max-pooling that follows it)."""
        if self.record is not None:
            self.stages.append(RecordStage(self.record, self.shape))
            self.record = None

    def affine(self):
        """The open block's float output as a function of its sums."""
        block = self.block
        mean, slope, beta = block['bn'] if block['bn'] is not None else (None, None, None)
        return Affine(block['scale'], block['bias'], mean, slope, beta)

    def close_block(self, stage, domain):
        self.stages.append(stage)
        self.domain, self.block = domain, None


def build_input(state, spec, where):
    if state.domain != 'input' or state.stages:
        raise ModelError('%s: input layer after other layers' % where)
    if list(spec.get('shape', state.shape)) != list(state.shape):
        raise ModelError('%s: shape %r differs from input_shape %r'
                         % (where, spec.get('shape'), list(state.shape)))


def _conv_weights(state, spec, where):
    """(W float64 (F, C, kh, kw) as the cross-correlation uses it, geometry, out shape)."""
    if len(state.shape) != 3:
        raise ModelError('%s: convolution needs (C, H, W) input, got %r' % (where, state.shape))
    channels, height, width = state.shape
    filters = positive_int(spec.get('num_filters'), where + ' num_filters')
    kernel = pair(spec.get('filter_size'), where + ' filter_size')
    stride = pair(spec.get('stride', 1), where + ' stride')
    pad = conv_pad(spec.get('pad', 0), kernel, where)
    if min(kernel) < 1 or min(stride) < 1 or min(pad) < 0:
        raise ModelError('%s: bad filter_size/stride/pad' % where)
    W = param(state.arrays, spec, 'W', where, (filters, channels) + kernel)
    if spec.get('flip_filters', False):
        W = W[:, :, ::-1, ::-1]       # true convolution: Theano flips the kernel
    oh = (height + 2 * pad[0] - kernel[0]) // stride[0] + 1
    ow = (width + 2 * pad[1] - kernel[1]) // stride[1] + 1
    if oh < 1 or ow < 1:
        raise ModelError('%s: output would be empty' % where)
    return W, (kernel, stride, pad), (filters, oh, ow)


def _conv_grid(state, spec, where):
    W, geometry, out_shape = _conv_weights(state, spec, where)
    grid = weight_grid(spec, W, 0, where)
    w_int = np.ascontiguousarray(grid.values.transpose(0, 2, 3, 1))    # (F, kh, kw, C)
    return grid, w_int, geometry, out_shape


def _dense_grid(state, spec, where):
    units = positive_int(spec.get('num_units'), where + ' num_units')
    W = param(state.arrays, spec, 'W', where, (int(np.prod(state.shape)), units))
    grid = weight_grid(spec, W, 1, where)
    w_int = grid.values.T                       # (units, K), K in (C, H, W) order
    if len(state.shape) == 3:
        # The engine keeps activations NHWC: reorder the inputs once, here.
        w_int = w_int.reshape((units,) + state.shape).transpose(0, 2, 3, 1)
    return grid, np.ascontiguousarray(w_int.reshape(units, -1)), None, (units,)


def _weight_stage(state, info, w_int, geometry):
    """The stage that multiplies the current domain's values with `w_int`."""
    if state.domain == 'input':
        matrix = w_int.reshape(info['units'], -1).T   # (K, units) in NHWC reduction order
        return FirstStage(info, np.ascontiguousarray(matrix), geometry), 'int'
    if state.domain == 'ternary':
        return PackedStage(info, w_int, geometry), 'int'
    # XNOR inputs: a dense layer is a convolution whose window is the whole input.
    in_chw = state.shape if len(state.shape) == 3 else state.shape + (1, 1)
    if geometry is None:
        geometry = (in_chw[1:], (1, 1), (0, 0))
        w_int = w_int.reshape((info['units'],) + in_chw[1:] + in_chw[:1])
    return ScaledInputStage(info, w_int, geometry, in_chw), 'float'


def build_weight_layer(state, spec, where):
    """conv, dense, quantized_conv, quantized_dense."""
    state.flush_record()
    if state.domain in ('int', 'float'):
        raise ModelError('%s: needs ternary/binary input; add an activation before it' % where)
    conv = spec.get('kind') in ('conv', 'quantized_conv')
    name = spec.get('name')
    if not name:
        raise ModelError('%s: layer has no name' % where)
    grid, w_int, geometry, out_shape = (_conv_grid if conv else _dense_grid)(state, spec, where)
    units, fan_in, first = out_shape[0], w_int[0].size, state.domain == 'input'
    bias = param(state.arrays, spec, 'b', where, (units,), required=False)
    per_unit = grid.scale.ndim > 0
    info = dict(name=name, kind='conv' if conv else 'dense', in_shape=state.shape,
                out_shape=out_shape, fan_in=fan_in, units=units, N=grid.N,
                H=None if per_unit else float(grid.scale), scales=units if per_unit else 0,
                weights=w_int.size, nonzero_weights=int(np.count_nonzero(w_int)),
                params=[p for p in (spec.get('params') or {}).values() if p])
    stage, domain = _weight_stage(state, info, w_int, geometry)
    state.stages.append(stage)
    state.layers.append(info)
    state.shape, state.domain, state.record = out_shape, domain, name
    state.block = dict(info=info, scale=grid.scale / 255.0 if first else grid.scale,
                       zmax=(255 if first else 1) * fan_in,
                       bias=np.zeros(units) if bias is None else bias, bn=None)


def build_maxpool(state, spec, where):
    if state.domain == 'input':
        raise ModelError('%s: max-pooling of the input image is not supported' % where)
    if state.domain == 'scaled':
        raise ModelError('%s: max-pooling of XNOR activations (sign * K) is not supported'
                         % where)
    if len(state.shape) != 3:
        raise ModelError('%s: max-pooling needs (C, H, W) input' % where)
    pool = pair(spec.get('pool_size'), where + ' pool_size')
    stride = spec.get('stride')
    stride = pool if stride is None else pair(stride, where + ' stride')
    if pair(spec.get('pad', 0), where + ' pad') != (0, 0):
        raise ModelError('%s: padded max-pooling is not supported' % where)
    if min(pool) < 1 or min(stride) < 1:
        raise ModelError('%s: bad pool_size/stride' % where)
    sign = None
    if state.domain in ('int', 'float') and state.block['bn'] is not None:
        slope = state.block['bn'][1]
        if np.any(slope < 0):
            sign = np.where(slope < 0, -1, 1).astype(np.int32)
    stage = PoolStage(pool, stride, bool(spec.get('ignore_border', True)), sign)
    oh, ow = stage.output_hw(*state.shape[1:])
    if oh < 1 or ow < 1:
        raise ModelError('%s: output would be empty' % where)
    # Right after a conv layer, the pooling joins its stage (pooled while in the cache).
    absorb = getattr(state.stages[-1], 'absorb_pool', None)
    if absorb is None or not absorb(stage):
        state.stages.append(stage)
    state.shape = (state.shape[0], oh, ow)


def build_batchnorm(state, spec, where):
    state.flush_record()
    if state.domain not in ('int', 'float'):
        raise ModelError('%s: batch norm must follow a conv/dense layer '
                         '(before the activation)' % where)
    if state.block['bn'] is not None:
        raise ModelError('%s: two batch norms in one block' % where)
    expected = [0, 2, 3] if len(state.shape) == 3 else [0]
    if list(spec.get('axes', expected)) != expected:
        raise ModelError('%s: axes %r unsupported (per-channel only, %r)'
                         % (where, spec.get('axes'), expected))
    shape = (state.shape[0],)
    mean, gamma, inv_std, beta = (param(state.arrays, spec, key, where, shape)
                                  for key in ('mean', 'gamma', 'inv_std', 'beta'))
    state.block['bn'] = (mean, gamma * inv_std, beta)
    state.block['info']['params'] += [p for p in spec['params'].values() if p]


def _activation(state, where, act_N, r=1.0, kind=None, delta=0.4):
    """Close the open block with a folded (act_N 0 or 1 on int sums) or float activation."""
    state.flush_record()
    if state.domain not in ('int', 'float'):
        raise ModelError('%s: activation must follow a conv/dense layer' % where)
    if kind is None and state.domain == 'int':
        thresholds = fold_affine(state.affine(), state.block['zmax'], act_N, r)
        state.block['info']['threshold_channels'] = len(thresholds.sign)
        state.close_block(ThresholdStage(thresholds), 'ternary')
        return
    kind = kind or ('sign' if act_N == 0 else 'ternary')
    stage = FloatActivationStage(state.affine(), kind, r=r, delta=delta)
    state.close_block(stage, 'scaled' if kind == 'xnor' else 'ternary')


def build_activation(state, spec, where):
    """GXNOR's staircase: act_N 0 (sign) or 1 (ternary, threshold r)."""
    act_N = spec.get('act_N', 1)
    if act_N not in (0, 1):
        raise ModelError('%s: act_N=%r unsupported (0 binary or 1 ternary only)'
                         % (where, act_N))
    try:
        r = float(spec.get('r', 1.0))
    except (TypeError, ValueError):
        raise ModelError('%s: bad r %r' % (where, spec.get('r')))
    if act_N == 1 and not (r >= 0 and np.isfinite(r)):
        raise ModelError('%s: r must be >= 0, got %r' % (where, r))
    _activation(state, where, act_N, r)


def build_quantized_activation(state, spec, where):
    """The compared methods' activations: bnn (sign), xnor, tbn; not dorefa."""
    method = spec.get('method')
    if method == 'bnn':
        _activation(state, where, 0)
    elif method == 'xnor':
        _activation(state, where, 0, kind='xnor')
    elif method == 'tbn':
        try:
            delta = float(spec.get('delta', 0.4))
        except (TypeError, ValueError):
            delta = float('nan')
        if not (delta >= 0 and np.isfinite(delta)):
            raise ModelError('%s: TBN delta must be >= 0, got %r' % (where, spec.get('delta')))
        _activation(state, where, 1, kind='tbn', delta=delta)
    elif method == 'dorefa':
        raise ModelError('%s: unsupported layer kind for the engine: DoReFa-Net k-bit '
                         'activations are not binary or ternary' % where)
    else:
        raise ModelError("%s: unknown activation method '%s'" % (where, method))


LAYER_BUILDERS = {
    'input': build_input,
    'conv': build_weight_layer,
    'dense': build_weight_layer,
    'quantized_conv': build_weight_layer,
    'quantized_dense': build_weight_layer,
    'maxpool': build_maxpool,
    'batchnorm': build_batchnorm,
    'activation': build_activation,
    'quantized_activation': build_quantized_activation,
}


def _finish(state):
    state.flush_record()
    if state.domain == 'input':
        raise ModelError('the model has no conv or dense layer')
    if state.domain in ('int', 'float'):
        state.stages.append(ScoreStage(state.affine()))
    elif state.domain == 'scaled':
        state.stages.append(UnscaleStage())


def build(meta, arrays):
    """Check the layer list of `meta` against `arrays` and compile the stages.

    Returns
    -------
    (stages, layers, output_shape): the stages to run in order, per weight
    layer a dict of facts (see :class:`gxnor_engine.model.GXNORModel`), and the
    logical shape of the output.

    Raises
    ------
    ModelError
    """
    specs = meta.get('layers')
    if not isinstance(specs, list) or not specs:
        raise ModelError('no layers in the model description')
    state = BuildState(meta, arrays)
    for index, spec in enumerate(specs):
        if not isinstance(spec, dict):
            raise ModelError('layer %d: not a dict' % index)
        kind = spec.get('kind')
        where = 'layer %s (%s)' % (spec.get('name') or index, kind)
        builder = LAYER_BUILDERS.get(kind)
        if builder is None:
            why = _REFUSED_KINDS.get(kind)
            raise ModelError('%s: unsupported layer kind%s'
                             % (where, ' (%s)' % why if why else ''))
        builder(state, spec, where)
    _finish(state)
    return state.stages, state.layers, state.shape
