#!/usr/bin/env python
"""A ``gxnor-model`` file as an equivalent float32 ONNX graph (bench only).

The engine's float anchor: ONNX Runtime runs the network the engine builds
(:attr:`gated_xnor.GXNORModel.stages`, walked stage by stage), with float32
convolutions and matrix products and the activations written with ONNX
comparisons, so that its predictions and its hidden sums can be checked
against the engine's on every image and its speed compared with the same
inputs (uint8 images, NCHW).

How each stage becomes ONNX (opset :data:`OPSET`):

===========================  ==============================================
engine stage                 ONNX
===========================  ==============================================
first layer on pixels        Cast, q = 2p - 255 (Mul, Sub), Conv or Gemm
                             with the integer weights w / H: exact sums of
                             integers below 2**24 in float32
packed hidden layer          Conv or Gemm of the ternary float32 values with
                             the integer weights (exact, as above)
layer on XNOR inputs         Conv or Gemm of sign * K in float32 (rounding:
                             the engine sums the taps in float64)
max-pooling                  MaxPool (ceil_mode for ``ignore_border=False``;
                             Mul by the channel signs where the engine pools
                             sign * z)
folded thresholds            the engine's integer thresholds: out = +1
                             where sign*z >= pos, -1 where sign*z <= neg,
                             else 0 (Mul, GreaterOrEqual, LessOrEqual,
                             Where)
float activations            the layer's affine map in float64, then Where
                             (sign), Greater / Less (ternary), ReduceMean of
                             Abs (XNOR-Net's K, TBN's per-image threshold)
scores                       ((scale * z + b) - mean) * slope + beta in
                             float64, the engine's formula and order
===========================  ==============================================

Weights come from the file through the function the engine's builder uses
(:func:`gxnor_engine.spec.weight_grid`).  Needs ``onnx`` (imported when an
export runs) and, to run the graph, ``onnxruntime``: ``make venv-bench``.

Examples
--------
::

    .venv-bench/bin/python bench/speed/onnx_export.py weights/mnist-gxnor-...npz out.onnx
    .venv-bench/bin/python bench/speed/onnx_export.py MODEL out.onnx --sums   # hidden sums too

>>> graph, model = export_file('weights/<model>.npz', sums=True)  # doctest: +SKIP
>>> session = ort_session(graph, threads=1)                      # doctest: +SKIP
>>> scores = run_session(session, X)                             # doctest: +SKIP
"""
from __future__ import absolute_import, division, print_function

import argparse
import os
import sys

import numpy as np

if not __package__:  # python bench/speed/x.py: the project root on sys.path
    sys.path.insert(0, os.path.abspath(os.path.join(__file__, '..', '..', '..')))

import gated_xnor as gx  # noqa: E402
from gxnor_engine.spec import weight_grid  # noqa: E402

__all__ = ['ExportError', 'OPSET', 'IR_VERSION', 'INPUT_NAME', 'OUTPUT_NAME', 'export',
           'export_file', 'ort_session', 'run_session', 'main']

# Opset 17 with IR version 8 (its own): read by every ONNX Runtime since 1.13;
# onnx's helper would stamp its newest IR version, which older runtimes refuse.
OPSET = 17
IR_VERSION = 8
INPUT_NAME = 'images'
OUTPUT_NAME = 'scores'
# Integers up to 2**24 are exact in float32, whatever order a runtime sums them in.
_FLOAT32_EXACT = 2 ** 24
# onnx.TensorProto's element types (constants here: onnx is imported lazily).
_FLOAT, _UINT8, _DOUBLE = 1, 2, 11


class ExportError(ValueError):
    """A model the exporter cannot write as an exact ONNX graph (the message says why)."""


def _onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as exc:
        raise ExportError('the ONNX export needs the onnx package (make venv-bench): %s' % exc)
    return onnx, helper, numpy_helper


class _Graph(object):
    """Nodes and constants of the graph being written; every name unique."""

    def __init__(self):
        _, self.helper, self.numpy_helper = _onnx()
        self.nodes, self.constants, self.outputs = [], [], []
        self.count = 0

    def name(self, hint):
        self.count += 1
        return '%s_%d' % (hint, self.count)

    def const(self, hint, array):
        name = self.name(hint)
        self.constants.append(self.numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type, inputs, hint=None, **attributes):
        out = self.name(hint or op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out], **attributes))
        return out

    def output(self, tensor, name, elem_type, shape):
        self.nodes.append(self.helper.make_node('Identity', [tensor], [name]))
        self.outputs.append(self.helper.make_tensor_value_info(name, elem_type, shape))


class _Tensor(object):
    """The value between two stages: its name, float32 or float64, and its
    logical shape per image ((C, H, W) or (D,)); NCHW like the input."""

    def __init__(self, name, double, shape):
        self.name, self.double, self.shape = name, double, tuple(shape)

    @property
    def channel_shape(self):
        """Broadcast shape of a per-channel constant."""
        return (1, -1, 1, 1) if len(self.shape) == 3 else (1, -1)


class _Exporter(object):
    """Walks the engine's stages and writes the ONNX nodes of each."""

    def __init__(self, model, arrays, sums):
        self.model, self.arrays, self.sums = model, arrays, sums
        self.g = _Graph()
        self.specs = dict((spec.get('name'), spec) for spec in model.meta['layers']
                          if spec.get('kind') in ('conv', 'dense', 'quantized_conv',
                                                  'quantized_dense'))
        self.infos = dict((info['name'], info) for info in model.layers)

    # ------------------------------------------------------------- helpers
    def _per_channel(self, t, values, double):
        values = np.asarray(values, dtype=np.float64 if double else np.float32)
        return self.g.const('c', values.reshape(t.channel_shape) if values.ndim else values)

    def _to(self, t, double):
        if t.double == double:
            return t.name
        return self.g.op('Cast', [t.name], to=_DOUBLE if double else _FLOAT)

    def _affine(self, t, affine):
        """((scale * z + bias) - mean) * slope + beta in float64 (the engine's order)."""
        y = self._to(t, True)
        for op, values in (('Mul', affine.scale), ('Add', affine.bias), ('Sub', affine.mean),
                           ('Mul', affine.slope), ('Add', affine.beta)):
            y = self.g.op(op, [y, self._per_channel(t, values, True)])
        return _Tensor(y, True, t.shape)

    def _weights(self, stage):
        """The layer's integer weights as float32: conv (F, C, kh, kw), dense (K, units)."""
        spec, info = self.specs.get(stage.name), self.infos.get(stage.name)
        if spec is None or info is None:
            raise ExportError('layer %s: not in the layer list' % stage.name)
        W = np.asarray(self.arrays[spec['params']['W']], dtype=np.float64)
        conv = stage.kind == 'conv'
        if conv and spec.get('flip_filters', False):
            W = W[:, :, ::-1, ::-1]        # as the builder: a true convolution
        values = weight_grid(spec, W, 0 if conv else 1, 'layer %s' % stage.name).values
        if np.count_nonzero(values) != info['nonzero_weights']:
            raise ExportError('layer %s: weights differ from the engine\'s' % stage.name)
        return values.astype(np.float32)

    def _product(self, t, stage, bound):
        """Conv or Gemm of float32 t with the layer's integer weights."""
        if bound >= _FLOAT32_EXACT:
            raise ExportError('layer %s: sums up to %d are not exact in float32'
                              % (stage.name, bound))
        W = self._weights(stage)
        x = self._to(t, False)
        if stage.kind == 'dense':
            if len(t.shape) == 3:
                x = self.g.op('Flatten', [x], axis=1)      # (C, H, W) order, as W's rows
            z = self.g.op('Gemm', [x, self.g.const(stage.name + '_W', W)], hint=stage.name)
            return _Tensor(z, False, (W.shape[1],))
        (kh, kw), (sh, sw), (ph, pw) = stage.geometry
        z = self.g.op('Conv', [x, self.g.const(stage.name + '_W', W)], hint=stage.name,
                      kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw])
        height, width = t.shape[1:]
        z = _Tensor(z, False, (len(W), (height + 2 * ph - kh) // sh + 1,
                               (width + 2 * pw - kw) // sw + 1))
        # A max-pooling that the engine runs inside the layer's stage (absorb_pool).
        from gxnor_engine.activations import PoolStage
        pool = getattr(stage, 'pool', None)
        return self.pool(z, pool) if isinstance(pool, PoolStage) else z

    # ------------------------------------------------------------- stages
    def first(self, t, stage):
        x = self.g.op('Cast', [t.name], to=_FLOAT)
        q = self.g.op('Sub', [self.g.op('Mul', [x, self.g.const('two', np.float32(2))]),
                              self.g.const('c255', np.float32(255))], hint='q')
        return self._product(_Tensor(q, False, t.shape), stage, 255 * stage.fan_in)

    def packed(self, t, stage):
        return self._product(t, stage, stage.fan_in)

    def scaled_input(self, t, stage):
        z = self._product(t, stage, 0)
        return _Tensor(self._to(z, True), True, z.shape)

    def pool(self, t, stage):
        height, width = t.shape[1:]
        ceil = not stage.ignore_border
        onnx_hw = tuple((-(-(size - p) // s) if ceil else (size - p) // s) + 1
                        for size, p, s in zip((height, width), stage.pool, stage.stride))
        engine_hw = stage.output_hw(height, width)
        if onnx_hw != tuple(engine_hw):
            raise ExportError('max-pooling %s stride %s of %dx%d: ONNX gives %r, the engine %r'
                              % (stage.pool, stage.stride, height, width, onnx_hw, engine_hw))
        x = t.name
        if stage.sign is not None:       # pools sign * z: a min where the slope is < 0
            x = self.g.op('Mul', [x, self._per_channel(t, stage.sign, t.double)])
        x = self.g.op('MaxPool', [x], kernel_shape=list(stage.pool), strides=list(stage.stride),
                      ceil_mode=int(ceil))
        if stage.sign is not None:
            x = self.g.op('Mul', [x, self._per_channel(t, stage.sign, t.double)])
        return _Tensor(x, t.double, (t.shape[0],) + tuple(engine_hw))

    def threshold(self, t, stage):
        sign, pos, neg = stage.thresholds
        if max(np.abs(pos).max(), np.abs(neg).max()) > _FLOAT32_EXACT:
            raise ExportError('thresholds beyond 2**24 are not exact in float32')
        z = t.name
        if np.any(sign < 0):
            z = self.g.op('Mul', [z, self._per_channel(t, sign, False)])
        # neg < pos on every channel (fold_affine: {y < -r} and {y > r} are disjoint), so
        # nested Where gives the engine's [sign*z >= pos] - [sign*z <= neg].
        above = self.g.op('GreaterOrEqual', [z, self._per_channel(t, pos, False)])
        below = self.g.op('LessOrEqual', [z, self._per_channel(t, neg, False)])
        g = self.g
        lower = g.op('Where', [below, g.const('minus_one', np.float32(-1)),
                               g.const('zero', np.float32(0))])
        out = g.op('Where', [above, g.const('one', np.float32(1)), lower], hint='ternary')
        return _Tensor(out, False, t.shape)

    def float_activation(self, t, stage):
        y = self._affine(t, stage.affine)
        g = self.g
        if stage.kind in ('sign', 'xnor'):
            signs = g.op('Where', [g.op('GreaterOrEqual', [y.name, g.const('zero', 0.0)]),
                                   g.const('one', 1.0), g.const('minus_one', -1.0)])
            if stage.kind == 'sign':
                return _Tensor(signs, True, t.shape)
            # K = mean |y| over the channels of each position.
            k = g.op('ReduceMean', [g.op('Abs', [y.name])], axes=[1], keepdims=1)
            return _Tensor(g.op('Mul', [signs, k], hint='xnor'), True, t.shape)
        if stage.kind == 'ternary':
            threshold = g.const('r', np.float64(stage.r))
        else:                           # tbn: delta * mean |y| of each image
            axes = list(range(1, len(t.shape) + 1))
            mean = g.op('ReduceMean', [g.op('Abs', [y.name])], axes=axes, keepdims=1)
            threshold = g.op('Mul', [mean, g.const('delta', np.float64(stage.delta))])
        above = g.op('Greater', [y.name, threshold])
        below = g.op('Less', [y.name, g.op('Neg', [threshold])])
        out = g.op('Sub', [g.op('Cast', [above], to=_DOUBLE),
                           g.op('Cast', [below], to=_DOUBLE)],
                   hint='ternary')
        return _Tensor(out, True, t.shape)

    def record(self, t, stage):
        if self.sums:
            self.g.output(t.name, stage.name, _DOUBLE if t.double else _FLOAT,
                          ['n'] + list(t.shape))
        return t

    def score(self, t, stage):
        return self._affine(t, stage.affine)

    def unscale(self, t, stage):
        return t

    # ------------------------------------------------------------- graph
    def run(self):
        from gxnor_engine import activations as act, products as prod
        handlers = [(prod.FirstStage, self.first), (prod.PackedStage, self.packed),
                    (prod.ScaledInputStage, self.scaled_input), (act.PoolStage, self.pool),
                    (act.ThresholdStage, self.threshold),
                    (act.FloatActivationStage, self.float_activation),
                    (act.RecordStage, self.record), (act.ScoreStage, self.score),
                    (act.UnscaleStage, self.unscale)]
        t = _Tensor(INPUT_NAME, False, self.model.input_shape)
        for stage in self.model.stages:
            for cls, handler in handlers:
                if type(stage) is cls:
                    t = handler(t, stage)
                    break
            else:
                raise ExportError('no ONNX translation of the engine stage %s'
                                  % type(stage).__name__)
        helper = self.g.helper
        self.g.output(self._to(t, True), OUTPUT_NAME, _DOUBLE, ['n'] + list(t.shape))
        images = helper.make_tensor_value_info(INPUT_NAME, _UINT8,
                                               ['n'] + list(self.model.input_shape))
        graph = helper.make_graph(self.g.nodes, 'gxnor', [images], self.g.outputs,
                                  initializer=self.g.constants)
        onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET)],
                                       producer_name='gxnor bench/speed/onnx_export.py')
        onnx_model.ir_version = IR_VERSION
        _onnx()[0].checker.check_model(onnx_model)
        return onnx_model


def export(model, arrays, sums=False):
    """The ONNX graph of a compiled model.

    Parameters
    ----------
    model : gated_xnor.GXNORModel
    arrays : dict name -> array, the model file's arrays (its weights)
    sums : bool
        Also output each weight layer's sums, named as the layer, where the
        engine's ``forward(return_preacts=True)`` records them (NCHW or
        (n, units); float32 integers for integer layers).

    Returns
    -------
    onnx.ModelProto: input 'images' (uint8 (n, C, H, W)), output 'scores'
    (float64, the engine's scores) and, with `sums`, one per weight layer.

    Raises
    ------
    ExportError
    """
    return _Exporter(model, arrays, sums).run()


def export_file(path, sums=False):
    """(ONNX graph, GXNORModel) of a model file; see :func:`export`."""
    model = gx.load_model(path)
    with np.load(path, allow_pickle=False) as data:
        arrays = dict((k, data[k]) for k in data.files if k != '__meta__')
    return export(model, arrays, sums), model


def ort_session(onnx_model, threads=1):
    """An ONNX Runtime CPU session of the graph with `threads` intra-op threads
    (inter-op 1, sequential execution, default graph optimisations)."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(onnx_model.SerializeToString(), options,
                                providers=['CPUExecutionProvider'])


def run_session(session, X, batch_size=gx.PASS_IMAGES, outputs=(OUTPUT_NAME,)):
    """Run the graph on uint8 images X in batches: one array per name in `outputs`
    (a single array when only 'scores' is asked for)."""
    X = np.ascontiguousarray(X, dtype=np.uint8)
    parts = [[] for _ in outputs]
    for start in range(0, len(X), batch_size):
        for part, value in zip(parts, session.run(list(outputs),
                                                  {INPUT_NAME: X[start:start + batch_size]})):
            part.append(value)
    results = [np.concatenate(part) if part else np.zeros((0,)) for part in parts]
    return results[0] if len(outputs) == 1 else results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('model', help='a gxnor-model .npz (weights/..., results/<run>.npz)')
    parser.add_argument('out', help='the .onnx file to write')
    parser.add_argument('--sums', action='store_true',
                        help="also output every weight layer's sums (for checks)")
    args = parser.parse_args(argv)
    try:
        graph, model = export_file(args.model, args.sums)
    except (ExportError, gx.ModelError) as exc:
        print('error: %s' % exc, file=sys.stderr)
        return 2
    with open(args.out, 'wb') as handle:
        handle.write(graph.SerializeToString())
    print('%s: %d nodes, opset %d, from %s (%d conv/dense layers)'
          % (args.out, len(graph.graph.node), OPSET, args.model, len(model.layers)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
