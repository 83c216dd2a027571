"""A compiled ``gxnor-model``: loading, checking and running a model file.

The model files are those the Theano harness writes (``results/<run>.npz``,
the published ``weights/*.npz``; :func:`run_files.save_model`), in the
format :mod:`model_format` defines and reads: float32 arrays
'<layer>.<param>' and a JSON ``__meta__`` with the input shape and the
layer list of :func:`gxnor_layers.describe_network`.  :func:`load_model`
checks the file and compiles its layers (:mod:`gxnor_engine.builder`) into a
:class:`GXNORModel`; :func:`save_model` writes such a file from a layer list
and arrays (tests, benchmarks).

Examples
--------
>>> model = load_model('weights/mnist-gxnor-N1-act1-adam-b1000-e120-2dc65855.npz')  # doctest: +SKIP
>>> model.predict(X_test[:5])                            # doctest: +SKIP
array([7, 2, 1, 0, 4])
"""
from __future__ import absolute_import, division, print_function

import json
import os
import tempfile

import numpy as np

import dataset_names
import model_format
from gxnor_engine.activations import RecordStage
from gxnor_engine.builder import SUPPORTED_METHODS, build
from gxnor_engine.products import Context, to_nchw
from gxnor_engine.spec import ModelError, positive_int

__all__ = ['GXNORModel', 'load_model', 'save_model', 'MODEL_FORMAT', 'MODEL_VERSION',
           'INPUT_SCALING', 'PASS_IMAGES', 'DATASET_CLASSES']

MODEL_FORMAT = model_format.MODEL_FORMAT
MODEL_VERSION = model_format.MODEL_VERSION
INPUT_SCALING = 'x*2/255-1'
# Most images run through the stages at once (see GXNORModel.forward).
PASS_IMAGES = 256
# Classes of the data sets the harness trains on, for files that do not state
# their own ``classes``.
DATASET_CLASSES = dataset_names.CLASSES


def _check_meta(meta, path):
    """What the engine needs of a ``__meta__`` that :mod:`model_format` accepted."""
    if meta.get('input_scaling', INPUT_SCALING) != INPUT_SCALING:
        raise ModelError("%s: input_scaling '%s' unsupported (need '%s')"
                         % (path, meta.get('input_scaling'), INPUT_SCALING))
    shape = meta.get('input_shape')
    if not isinstance(shape, list) or len(shape) != 3:
        raise ModelError('%s: input_shape must be [C, H, W], got %r' % (path, shape))
    meta['input_shape'] = [positive_int(s, path + ': input_shape') for s in shape]
    return meta


class GXNORModel(object):
    """A compiled gxnor-model: integer stages ready to run.

    Attributes
    ----------
    meta : dict
        The file's JSON description.
    input_shape : tuple (C, H, W)
    layers : list of dict
        Per conv/dense layer: name, kind, in_shape, out_shape, fan_in,
        units, weights, nonzero_weights, N (0: binary weights, 1: ternary),
        H (the weight unit; None for BWN weights, whose scale alpha is one
        float per unit), scales (number of such per-unit floats), params.

    Examples
    --------
    >>> model = load_model('weights/<model>.npz')  # doctest: +SKIP
    >>> scores, z = model.forward(X[:10], return_preacts=True)  # doctest: +SKIP
    """

    def __init__(self, meta, arrays, source='<model>'):
        self.meta, self.source = meta, source
        self.input_shape = tuple(meta['input_shape'])
        self._stages, self.layers, self.output_shape = build(meta, arrays)
        self._param_sizes = dict((name, int(np.asarray(a).size)) for name, a in arrays.items())
        if meta.get('classes') is not None:
            self.check_classes(positive_int(meta['classes'], 'classes'), 'the file states')

    @property
    def stages(self):
        """The compiled stages in the order they run (a tuple; for tools that
        translate the network, such as bench/speed/onnx_export.py)."""
        return tuple(self._stages)

    @property
    def output_width(self):
        """Scores per image: the number of outputs of the last stage."""
        return int(np.prod(self.output_shape))

    def check_classes(self, classes, origin):
        """Raise ModelError unless the network has one output per class.

        A file whose layer list lost its last layers still runs, but its argmax
        then picks a hidden unit, not a class.

        Parameters
        ----------
        classes : int
        origin : str, where `classes` comes from, for the message (e.g.
            'the file states', 'of mnist')

        Examples
        --------
        >>> model.check_classes(10, 'of mnist')        # doctest: +SKIP
        """
        if self.output_width != classes:
            last = self.layers[-1]['name'] if self.layers else '?'
            raise ModelError('the network has %d outputs (after layer %s), not the %d classes %s:'
                             ' is its layer list cut short?'
                             % (self.output_width, last, classes, origin))

    def forward(self, X, return_preacts=False, batch_size=PASS_IMAGES, method=None,
                stats=None, kernel=None):
        """Scores of uint8 images X (n, C, H, W).

        Parameters
        ----------
        X : uint8 array (n,) + input_shape
        return_preacts : bool
            Also return a dict: layer name -> integer sums z (NCHW or
            (n, units)), after the max-pooling that directly follows the
            layer.  The layer's float output is scale*z + b, scale = H or
            BWN's alpha per unit (divided by 255 for the first layer, whose
            input is 2p - 255).  Layers on XNOR-Net activations have float
            sums (the products weighted by the activations' scale K).
        batch_size : int
            Images per pass, at most 256: larger passes only spill the
            caches (and fault in fresh pages) and run slower.
        method : popcount method, as in :func:`gxnor_engine.packing.gated_xnor_dot`
        stats : dict or None
            If a dict, counts are added to it per layer name: products,
            gates (open ones), inputs, input_nonzero.
        kernel : {None, 'auto', 'c', 'numpy'}
            Compiled kernels or NumPy, see :func:`gxnor_engine.kernels.select`.

        Returns
        -------
        scores : float64 array (n, classes)
        preacts : dict, with `return_preacts`
        """
        X = self._check_input(X)
        batch_size = max(1, min(int(batch_size), PASS_IMAGES))
        preacts = {} if return_preacts else None
        ctx = Context(method, stats, preacts, kernel)
        outputs = [np.zeros((0,) + tuple(self.output_shape))]
        for start in range(0, len(X), batch_size):
            a = X[start:start + batch_size]
            for stage in self._stages:
                a = stage.run(a, ctx)
            outputs.append(np.asarray(to_nchw(a), dtype=np.float64))
        scores = np.concatenate(outputs)
        if not return_preacts:
            return scores
        for stage in self._stages:
            if isinstance(stage, RecordStage):
                preacts.setdefault(stage.name, []).insert(
                    0, np.zeros((0,) + tuple(stage.shape), dtype=np.int32))
        return scores, dict((k, np.concatenate(v)) for k, v in preacts.items())

    def predict(self, X, batch_size=PASS_IMAGES, method=None, kernel=None):
        """Predicted classes (argmax of the scores) of uint8 images X."""
        scores = self.forward(X, batch_size=batch_size, method=method, kernel=kernel)
        return scores.reshape(len(scores), -1).argmax(axis=1)

    def _check_input(self, X):
        X = np.asarray(X)
        if X.ndim != 4 or X.shape[1:] != self.input_shape:
            raise ValueError('expected images (n,) + %r, got shape %r'
                             % (self.input_shape, X.shape))
        if X.dtype != np.uint8:
            if X.dtype.kind not in 'iu' or (X.size and (X.min() < 0 or X.max() > 255)):
                raise ValueError('expected uint8 pixels, got %s' % X.dtype)
            X = X.astype(np.uint8)
        return X

    def model_bytes(self):
        """Storage of the model: packed bit planes + thresholds vs float32.

        Returns
        -------
        dict with packed, float32 (whole model) and packed_weights,
        float32_weights (weights only).  Packed: per unit one sign plane
        (binary) or mask and sign planes (ternary) of ceil(fan_in/64) uint64
        words; per hidden channel two int32 thresholds and a sign byte; layers
        whose batch norm runs in float (the last one, XNOR-Net's and TBN's)
        keep their float32 bias and batch-norm parameters, and BWN layers
        one float32 alpha per unit unless it is folded into thresholds.
        """
        out = dict(packed=0, float32=0, packed_weights=0, float32_weights=0)
        for info in self.layers:
            planes = 1 if info['N'] == 0 else 2
            weights = planes * info['units'] * -(-info['fan_in'] // 64) * 8
            out['packed_weights'] += weights
            out['float32_weights'] += 4 * info['weights']
            params = sum(self._param_sizes.get(p, 0) for p in info['params'])
            out['float32'] += 4 * params
            if 'threshold_channels' in info:
                out['packed'] += weights + 9 * info['threshold_channels']
            else:
                out['packed'] += weights + 4 * (params - info['weights'] + info['scales'])
        return out


def load_model(path):
    """Load and compile a ``gxnor-model`` .npz file.

    Raises
    ------
    ModelError
        Missing file, not a gxnor-model, weights off the grid, missing
        arrays, wrong shapes or unsupported layers.

    Examples
    --------
    >>> model = load_model('weights/<model>.npz')  # doctest: +SKIP
    """
    try:
        meta, arrays = model_format.read_model(path)
    except model_format.ModelFormatError as exc:
        raise ModelError(exc.args[0])   # the engine's own type, the same one line
    meta = _check_meta(meta, path)
    try:
        return GXNORModel(meta, arrays, source=path)
    except ModelError as exc:
        method = meta.get('method')
        hint = '' if method in (None,) + SUPPORTED_METHODS else (
            ' (method %s: the engine runs %s models only)'
            % (method, ', '.join(SUPPORTED_METHODS)))
        raise ModelError('%s: %s%s' % (path, exc, hint))


def save_model(path, layers, arrays, meta_extra=None):
    """Write a ``gxnor-model`` file atomically (temporary file, then rename).

    Parameters
    ----------
    path : str
    layers : list of dict
        Layer descriptions in forward order (see the module doc).
    arrays : dict name -> array
        Saved as float32 under their names ('<layer>.<param>').
    meta_extra : dict, optional
        More JSON fields; defaults: dataset 'mnist', input_shape [1, 28, 28],
        input_scaling 'x*2/255-1'.

    Examples
    --------
    >>> layers = [dict(kind='dense', name='fc', num_units=2, discrete=True, H=1.0, N=1,
    ...                params=dict(W='fc.W', b=None))]
    >>> save_model('/tmp/tiny.npz', layers, {'fc.W': np.ones((784, 2))})  # doctest: +SKIP
    """
    meta = dict(dataset='mnist', input_shape=[1, 28, 28], input_scaling=INPUT_SCALING)
    meta.update(meta_extra or {})
    meta = model_format.stamp(meta, layers)
    out = dict((str(k), np.asarray(v, dtype=np.float32)) for k, v in arrays.items())
    if '__meta__' in out:
        raise ValueError('__meta__ is reserved')
    out['__meta__'] = np.array(u'' + json.dumps(meta, sort_keys=True))
    folder = os.path.dirname(os.path.abspath(path))
    handle, tmp = tempfile.mkstemp(prefix='.tmp-', suffix='.npz', dir=folder)
    try:
        with os.fdopen(handle, 'wb') as stream:
            np.savez(stream, **out)
        os.rename(tmp, path)        # atomic on POSIX
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise

