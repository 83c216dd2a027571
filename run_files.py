"""The files of a training run, each written atomically.

* :func:`save_model`: the model, in the ``gxnor-model`` format of
  :mod:`model_format` (the file ``gated_xnor.py`` runs);
* :func:`save_checkpoint` and :func:`load_checkpoint`: everything needed to
  resume (parameters, optimizer and random states, the progress record);
* :func:`write_results`: ``results.json``, ``results.mat`` (the authors'
  keys) and ``curves.png`` (drawn by :mod:`run_plots`).

Every file is written into memory, then to a temporary file renamed over
the old one (:func:`atomic_write`): a run stopped at any moment, or a full
disk, leaves the previous version intact.  :mod:`binary_net` writes the
files of an epoch together (``together=`` then :func:`write_together`): all
of them or none.

Examples
--------
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), 'note.txt')
>>> atomic_write(path, lambda out: out.write(b'epoch 1'))
>>> open(path, 'rb').read() == b'epoch 1'
True
"""
from __future__ import absolute_import, division

import io
import json
import os
import tempfile
from collections import OrderedDict

import gxnor_compat  # noqa: F401  (before theano and lasagne)
import lasagne
import numpy as np

import gxnor_layers
import model_format
import run_guard

__all__ = ['atomic_write', 'write_together', 'layer_params', 'save_model', 'save_checkpoint', 'load_checkpoint',
           'write_results']


def atomic_write(path, write, together=None):
    """Call ``write(binary_file)``, then put what it wrote at ``path`` atomically
    (a temporary file renamed); raises :class:`run_guard.WriteError` when the
    file cannot be written.

    ``write`` writes into memory first: a write that fails on the disk (full)
    then fails once, and leaves no half-written archive for Python to
    finalise later with ``Exception ignored`` lines.  With ``together`` (a
    list), the file is only added to it, for :func:`write_together`.
    """
    if together is not None:
        together.append((path, write))
        return
    write_together([(path, write)])


def write_together(files):
    """Write each ``(path, write)`` of ``files`` as :func:`atomic_write` does, all
    or none: every file goes to its temporary first, and only when all are
    written are they renamed, in order.  A full disk leaves every old file as
    it was, so the files of a run always describe the same epoch (put the
    checkpoint last: a process killed between two renames resumes from the
    epoch before, and writes the others again)."""
    staged = []
    try:
        for path, write in files:
            staged.append((_stage(path, write), path))
    except BaseException:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.remove(tmp)
        raise
    for tmp, path in staged:
        os.rename(tmp, path)


def _stage(path, write):
    """The temporary file beside ``path`` holding what ``write`` writes."""
    buffer = io.BytesIO()
    write(buffer)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        if not os.path.isdir(folder):
            os.makedirs(folder)
        handle, tmp = tempfile.mkstemp(dir=folder, prefix=run_guard.temporary_prefix(path))
        with os.fdopen(handle, 'wb') as out:
            _write_bytes(path, out, buffer.getvalue())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it private
        return tmp
    except BaseException as err:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(err, EnvironmentError) and not isinstance(err, run_guard.WriteError):
            raise run_guard.WriteError(err.errno, err.strerror or str(err), path)
        raise


def _write_bytes(path, out, data):
    """Write ``data`` to ``out``, the open temporary file of ``path`` (the one place
    where the tests make a write fail)."""
    out.write(data)


def _json_array(obj):
    return np.array(json.dumps(obj, sort_keys=True))


def layer_params(network):
    """OrderedDict '<layer>.<param>' -> shared variable, for every layer."""
    named = OrderedDict()
    for layer in lasagne.layers.get_all_layers(network):
        for param in layer.get_params():
            key = '%s.%s' % (layer.name, _param_key(layer, param))
            if key in named:
                raise ValueError('two parameters named %s: give every layer a unique name' % key)
            named[key] = param
    return named


def _param_key(layer, param):
    for attr in ('W', 'b', 'beta', 'gamma', 'mean', 'inv_std', 'wp', 'wn', 'scale'):
        if getattr(layer, attr, None) is param:
            return attr
    return param.name


def save_model(path, network, meta, together=None):
    """Write the network in the ``gxnor-model`` format (atomically).

    Arrays '<layer>.<param>' hold float32 values (discrete weights as their
    values on the grid, whatever their storage); '__meta__' holds JSON with
    the architecture (:func:`gxnor_layers.describe_network`) and ``meta``.
    """
    arrays = OrderedDict()
    by_param = dict((p, layer) for layer in lasagne.layers.get_all_layers(network)
                    for p in layer.get_params())
    for key, param in layer_params(network).items():
        layer = by_param[param]
        if param is getattr(layer, 'W', None) and hasattr(layer, 'weight_values'):
            arrays[key] = np.asarray(layer.weight_values(), dtype=np.float32)
        else:
            arrays[key] = np.asarray(param.get_value(), dtype=np.float32)
    info = model_format.stamp(meta, gxnor_layers.describe_network(network))
    arrays['__meta__'] = _json_array(info)
    atomic_write(path, lambda out: np.savez_compressed(out, **arrays), together)


def _rng_arrays(rng):
    name, keys, pos, has_gauss, cached = rng.get_state()
    return {'__rng_keys__': keys, '__rng_rest__': np.array([pos, has_gauss, cached])}


def _set_rng(rng, data):
    pos, has_gauss, cached = data['__rng_rest__']
    rng.set_state(('MT19937', data['__rng_keys__'], int(pos), int(has_gauss), float(cached)))


def save_checkpoint(path, params, state, rng, progress, together=None):
    """Write everything a run resumes from: ``params`` (name -> shared variable, as
    :func:`layer_params`), the optimizer's ``state`` (shared variables), the
    NumPy ``rng`` that shuffles and the ``progress`` dict (JSON), atomically."""
    arrays = dict(('param:' + k, v.get_value()) for k, v in params.items())
    arrays.update(('state:%d' % i, v.get_value()) for i, v in enumerate(state))
    arrays.update(_rng_arrays(rng))
    arrays['__progress__'] = _json_array(progress)
    atomic_write(path, lambda out: np.savez(out, **arrays), together)


def load_checkpoint(path, params, state, rng):
    """Restore a checkpoint; returns its progress dict.

    Raises :class:`run_guard.CheckpointError` saying why it cannot be restored
    (the caller words the advice: :mod:`binary_net` suggests ``--fresh``).
    """
    try:
        data = np.load(path, allow_pickle=False)   # a pickle in it could run code
        progress = run_guard.decode_json(data['__progress__'])
        for key, var in params.items():
            _restore(var, data['param:' + key], key, path)
        for i, var in enumerate(state):
            _restore(var, data['state:%d' % i], 'optimizer state %d' % i, path)
        _set_rng(rng, data)
    except (IOError, KeyError, ValueError) as err:
        raise run_guard.CheckpointError(str(err).strip() or type(err).__name__)
    return progress


def _restore(var, value, what, path):
    shape = var.get_value(borrow=True).shape
    if value.shape != shape:
        if value.size != int(np.prod(shape)):
            raise ValueError('%s has shape %s, the network needs %s' % (what, value.shape, shape))
        value = value.reshape(shape)  # Adam's step counter was a scalar before 2026-11-24
    var.set_value(value.astype(var.dtype))


def write_results(folder, history, summary, together=None):
    """results.json, results.mat (authors' keys) and curves.png."""
    import scipy.io
    trained = [h for h in history if h['epoch'] >= 1]
    curves = dict((key, np.array([h[key] for h in trained], dtype=np.float64))
                  for key in ('train_loss', 'val_loss', 'val_err', 'test_err', 'lr', 'seconds'))
    curves['valid_err'] = curves['val_err']
    atomic_write(os.path.join(folder, 'results.json'), lambda out: out.write(
        json.dumps(dict(summary, history=history), indent=1, sort_keys=True).encode('utf-8')),
        together)
    atomic_write(os.path.join(folder, 'results.mat'),
                 lambda out: scipy.io.savemat(out, curves), together)
    if trained:
        import run_plots
        atomic_write(os.path.join(folder, 'curves.png'),
                     lambda out: run_plots.plot_curves(out, dict(summary, history=history)),
                     together)
