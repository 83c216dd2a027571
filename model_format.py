"""The ``gxnor-model`` file format: its name, its version, and reading a file.

A model file is an ``.npz`` archive of float32 arrays '<layer>.<param>'
and ``__meta__``, a 0-d string array holding a JSON object: ``format``
(:data:`MODEL_FORMAT`), ``version`` (:data:`MODEL_VERSION`), ``layers``
(:func:`gxnor_layers.describe_network`), ``input_shape`` and what the
writer adds (dataset, config, epoch...).  Training writes it
(:func:`run_files.save_model`), the engine reads and writes it
(:mod:`gxnor_engine.model`), :mod:`model_sparsity` reads it: all through
this module, the one place that defines the format.  It needs NumPy only,
since the engine runs without Theano.

Examples
--------
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), 'tiny.npz')
>>> meta = stamp(dict(dataset='mnist', input_shape=[1, 2, 2]), layers=[])
>>> np.savez(path, __meta__=np.array(json.dumps(meta)), **{'fc.W': np.ones((4, 2))})
>>> meta, arrays = read_model(path)
>>> print('%s %d %s' % (meta['format'], meta['version'], ' '.join(sorted(arrays))))
gxnor-model 1 fc.W
>>> with open(path, 'w') as handle:
...     _ = handle.write('a text file')
>>> try:
...     read_meta(path)
... except ModelFormatError as exc:
...     print(exc.args[0].replace(path, 'tiny.npz'))
tiny.npz: not a model file (not an .npz archive)
"""
from __future__ import absolute_import, print_function

import json
import os
import zipfile

import numpy as np

__all__ = ['MODEL_FORMAT', 'MODEL_VERSION', 'ModelFormatError', 'stamp', 'parse_meta',
           'read_meta', 'read_model']

MODEL_FORMAT = 'gxnor-model'
MODEL_VERSION = 1


class ModelFormatError(ValueError):
    """Not a readable model file of this format and version; the message is one line
    starting with the path."""


def stamp(meta, layers):
    """``meta`` with the format's name and version and the layer list: what a
    writer puts in ``__meta__``."""
    return dict(meta, format=MODEL_FORMAT, version=MODEL_VERSION, layers=list(layers))


def parse_meta(raw, path):
    """The dict of a ``__meta__`` array, checked to be of this format and version."""
    raw = np.asarray(raw)
    if raw.ndim != 0 or raw.dtype.kind not in 'US':
        raise ModelFormatError('%s: __meta__ is not a JSON string' % path)
    text = raw.item()
    if isinstance(text, bytes):   # written by Python 2.7
        text = text.decode('utf-8')
    try:
        meta = json.loads(text)
    except ValueError as exc:
        raise ModelFormatError('%s: __meta__ is not valid JSON (%s)' % (path, exc))
    if not isinstance(meta, dict) or meta.get('format') != MODEL_FORMAT:
        raise ModelFormatError('%s: not a %s file' % (path, MODEL_FORMAT))
    if meta.get('version') != MODEL_VERSION:
        raise ModelFormatError('%s: %s version %r unsupported (need %d)'
                               % (path, MODEL_FORMAT, meta.get('version'), MODEL_VERSION))
    return meta


def _open(path):
    if os.path.isdir(path):
        raise ModelFormatError('%s: is a folder, not a model file' % path)
    if not os.path.isfile(path):
        raise ModelFormatError('%s: no such file' % path)
    with open(path, 'rb') as handle:
        if handle.read(4) != b'PK\x03\x04':  # every .npz is a zip archive
            raise ModelFormatError('%s: not a model file (not an .npz archive)' % path)
    try:
        # The archive's directory first: NumPy 1.16's NpzFile, half-built on a truncated
        # file, prints 'Exception AttributeError ... ignored' when it is collected.
        zipfile.ZipFile(path).close()
        data = np.load(path, allow_pickle=False)
    except Exception as exc:  # zipfile and format errors alike
        raise ModelFormatError('%s: cannot read (%s)' % (path, exc))
    if not hasattr(data, 'files'):
        raise ModelFormatError('%s: not an .npz archive' % path)
    return data


def _read(path, with_arrays):
    data = _open(path)
    try:
        if '__meta__' not in data.files:
            raise ModelFormatError('%s: not a %s file (no __meta__)' % (path, MODEL_FORMAT))
        meta = parse_meta(data['__meta__'], path)
        arrays = (dict((k, data[k]) for k in data.files if k != '__meta__')
                  if with_arrays else None)
    except ModelFormatError:
        raise
    except Exception as exc:  # a damaged member
        raise ModelFormatError('%s: cannot read (%s)' % (path, exc))
    finally:
        data.close()
    return meta, arrays


def read_meta(path):
    """The checked ``__meta__`` dict of the model file ``path`` (no array is read);
    raises :class:`ModelFormatError`."""
    return _read(path, False)[0]


def read_model(path):
    """(meta, arrays) of the model file ``path``: the checked ``__meta__`` dict and
    name -> array for the rest; raises :class:`ModelFormatError`."""
    return _read(path, True)
