"""The files of a training run, each written atomically, and read back.

* :func:`save_model`: the model, in the ``gxnor-model`` format of
  :mod:`model_format` (the file ``gated_xnor.py`` runs);
* :func:`save_checkpoint` and :func:`load_checkpoint`: everything needed to
  resume (parameters, optimizer and random states, the progress record);
  :func:`read_progress`: the progress record alone, every byte of the file
  checked, or why it cannot be read in plain words (:class:`CheckpointError`);
* :func:`write_results`: ``results.json``, ``results.mat`` (the authors'
  keys) and ``curves.png`` (drawn by :mod:`run_plots`).

Every file is written into memory, then to a temporary file renamed over
the old one (:func:`atomic_write`): a run stopped at any moment, or a full
disk (:class:`WriteError`), leaves the previous version intact, and the
next run of the same command removes the temporary files a killed process
left (:func:`remove_stale_temporaries`).  :mod:`binary_net` writes the
files of an epoch together (``together=`` then :func:`write_together`): all
of them or none.  Which of these files a run may resume from, and what
happens to its folder, is :mod:`run_folder`'s.

Examples
--------
>>> import tempfile
>>> path = os.path.join(tempfile.mkdtemp(), 'checkpoint.npz')
>>> atomic_write(path, lambda out: out.write(b'epoch 1'))
>>> open(path, 'rb').read() == b'epoch 1', temporary_prefix(path)
(True, '.tmp-checkpoint.npz.')
"""
from __future__ import absolute_import, division, print_function

import errno
import io
import json
import os
import re
import struct
import sys
import tempfile
import zipfile
import zlib
from collections import OrderedDict

import gxnor_compat  # noqa: F401  (before theano and lasagne)
import lasagne
import numpy as np

import gxnor_layers
import model_format

__all__ = ['WriteError', 'CheckpointError', 'DISK_FULL', 'atomic_write', 'write_together',
           'temporary_prefix', 'remove_stale_temporaries', 'layer_params', 'save_model',
           'save_checkpoint', 'load_checkpoint', 'read_progress', 'decode_json', 'write_results']

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
_BadZip = getattr(zipfile, 'BadZipFile', None) or zipfile.BadZipfile  # Python 2: BadZipfile
_TEMPORARY = '.tmp-'


class WriteError(IOError):
    """A file of the run could not be written (``errno``, ``strerror``, ``filename``)."""

    @property
    def disk_full(self):
        return self.errno in DISK_FULL


class CheckpointError(Exception):
    """A checkpoint that cannot be read; the message says why in plain words."""


def atomic_write(path, write, together=None):
    """Call ``write(binary_file)``, then put what it wrote at ``path`` atomically
    (a temporary file renamed); raises :class:`WriteError` when the
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
        handle, tmp = tempfile.mkstemp(dir=folder, prefix=temporary_prefix(path))
        with os.fdopen(handle, 'wb') as out:
            _write_bytes(path, out, buffer.getvalue())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it private
        return tmp
    except BaseException as err:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(err, EnvironmentError) and not isinstance(err, WriteError):
            raise WriteError(err.errno, err.strerror or str(err), path)
        raise


def _write_bytes(path, out, data):
    """Write ``data`` to ``out``, the open temporary file of ``path`` (the one place
    where the tests make a write fail)."""
    out.write(data)


def _json_array(obj):
    return np.array(json.dumps(obj, sort_keys=True))


def temporary_prefix(path):
    """Prefix of the temporary files that stand for ``path`` while it is written."""
    return '%s%s.' % (_TEMPORARY, os.path.basename(path))


def remove_stale_temporaries(folder, targets=None):
    """Remove the temporary files a killed writer left in ``folder``; returns their names.

    With ``targets`` (paths) only those of these files (``temporary_prefix``
    and the random part of ``tempfile``, 6 to 8 characters; or the layout
    before 2026-12-05, the random part first), else every temporary file: the
    caller holds the lock of a folder that only its run writes.
    """
    if not os.path.isdir(folder):
        return []
    patterns = None
    if targets is not None:
        patterns = [re.compile(r'^%s[A-Za-z0-9_]{6,8}$' % re.escape(temporary_prefix(t)))
                    for t in targets]
        patterns += [re.compile(r'^%s[a-z0-9_]{8}%s$' % (re.escape(_TEMPORARY),
                                                         re.escape(os.path.basename(t))))
                     for t in targets]
    removed = []
    for name in sorted(os.listdir(folder)):
        if not name.startswith(_TEMPORARY):
            continue
        if patterns is not None and not any(p.match(name) for p in patterns):
            continue
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            os.remove(path)
            removed.append(name)
    return removed


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

    Raises :class:`CheckpointError` saying why it cannot be restored
    (the caller words the advice: :func:`run_folder.restore` suggests ``--fresh``).
    """
    try:
        data = np.load(path, allow_pickle=False)   # a pickle in it could run code
        progress = decode_json(data['__progress__'])
        for key, var in params.items():
            _restore(var, data['param:' + key], key, path)
        for i, var in enumerate(state):
            _restore(var, data['state:%d' % i], 'optimizer state %d' % i, path)
        _set_rng(rng, data)
    except (IOError, KeyError, ValueError) as err:
        raise CheckpointError(str(err).strip() or type(err).__name__)
    return progress


def _restore(var, value, what, path):
    shape = var.get_value(borrow=True).shape
    if value.shape != shape:
        if value.size != int(np.prod(shape)):
            raise ValueError('%s has shape %s, the network needs %s' % (what, value.shape, shape))
        value = value.reshape(shape)  # Adam's step counter was a scalar before 2026-11-24
    var.set_value(value.astype(var.dtype))


def decode_json(array):
    """The object of a 0-d string array written by ``np.array(json.dumps(...))``,
    whichever Python wrote it (2.7 writes bytes, 3 text)."""
    text = np.asarray(array).item()
    if isinstance(text, bytes) and not isinstance(text, str):
        text = text.decode('utf-8')
    return json.loads(text)


def read_progress(path):
    """The ``__progress__`` record of the checkpoint ``path``, after checking every
    byte of it; raises :class:`CheckpointError` saying what is wrong."""
    if os.path.isdir(path):
        raise CheckpointError('it is a folder, not a file')
    try:
        with open(path, 'rb') as handle:
            head = handle.read(4)
    except (IOError, OSError) as err:
        raise CheckpointError('it cannot be read (%s)' % (err.strerror or err))
    if not head:
        raise CheckpointError('it is empty')
    if head != b'PK\x03\x04':
        raise CheckpointError('it is not a checkpoint (not an .npz archive)')
    try:
        archive = zipfile.ZipFile(path)
        try:
            damaged = archive.testzip()   # reads every member, checks its CRC
            if damaged is not None:
                raise CheckpointError('it is damaged (%s fails its checksum)' % damaged)
            if '__progress__.npy' not in archive.namelist():
                raise CheckpointError('it is not a checkpoint of these scripts '
                                      '(no __progress__ record)')
            record = archive.read('__progress__.npy')
        finally:
            archive.close()
        progress = decode_json(np.load(io.BytesIO(record), allow_pickle=False))
        if not isinstance(progress, dict) or 'next_epoch' not in progress:
            raise CheckpointError('it is not a checkpoint of these scripts (its __progress__ '
                                  'record has no next_epoch)')
        return progress
    except CheckpointError:
        raise
    except (_BadZip, EOFError):   # e.g. "File is not a zip file": the end is missing
        raise CheckpointError('it is truncated or damaged')
    except (zlib.error, IOError, OSError, ValueError, KeyError, TypeError, struct.error) as err:
        raise CheckpointError('it is truncated or damaged (%s)' % ' '.join(
            (str(err) or type(err).__name__).split()))


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
    picture = _curves_png(dict(summary, history=history)) if trained else None
    if picture is not None:
        atomic_write(os.path.join(folder, 'curves.png'), lambda out: out.write(picture),
                     together)


def _curves_png(results):
    """curves.png's bytes; None, with one warning line, when they cannot be drawn: a
    figure is never worth a stopped run (the figure comes back with the next epoch, or
    from ``python run_plots.py results.json``)."""
    import run_plots
    buffer = io.BytesIO()
    try:
        run_plots.plot_curves(buffer, results)
    except Exception as err:  # matplotlib's fonts, a backend, a bug in the figure
        sys.stderr.write('warning: curves.png not drawn this epoch (%s: %s); the run goes on\n'
                         % (type(err).__name__, ' '.join(str(err).split())))
        return None
    return buffer.getvalue()
