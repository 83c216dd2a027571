"""Unpickling that cannot run code: the official CIFAR-10 batches, and nothing else.

A pickle is a program: each ``GLOBAL`` it names is imported and may be
called, so ``pickle.load`` on a file from a mirror or a colleague's disk can
run any command.  The official CIFAR-10 batches are pickled dicts of strings,
lists, ints and one NumPy array, and a pickled array needs only a few NumPy
names.  `load` allows those and refuses every other name before anything is
imported or called, on Python 2.7 (``cPickle``'s ``find_global``) and 3.x
(``Unpickler.find_class``).

Allowed: ``numpy.ndarray``, ``numpy.dtype``, ``numpy.core.multiarray``'s
``_reconstruct`` and ``scalar`` and ``numpy.core.numeric``'s ``_frombuffer``
(also under NumPy 2's ``numpy._core``), and ``_codecs.encode`` (how Python 3
writes bytes at protocol 2).  Everything else raises `RefusedPickle`.

Examples
--------
>>> import io, pickle
>>> import numpy as np
>>> batch = {'data': np.arange(6, dtype=np.uint8).reshape(2, 3), 'labels': [0, 9]}
>>> loaded = load(io.BytesIO(pickle.dumps(batch, protocol=2)))
>>> loaded['data'].tolist(), loaded['labels']
([[0, 1, 2], [3, 4, 5]], [0, 9])
>>> import os
>>> try:
...     load(io.BytesIO(pickle.dumps(os.getcwd, protocol=2)))
... except RefusedPickle as err:
...     print(err)
it asks for posix.getcwd, which a CIFAR-10 batch never holds
"""
from __future__ import absolute_import, division, print_function

import importlib
import sys

__all__ = ['RefusedPickle', 'ALLOWED', 'load']

# (module, name) of every global a pickled CIFAR-10 batch may name.
ALLOWED = frozenset([
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'),
    ('numpy.core.numeric', '_frombuffer'),
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', 'scalar'),
    ('numpy._core.numeric', '_frombuffer'),
    ('_codecs', 'encode'),
])


class RefusedPickle(Exception):
    """A pickle names a global outside `ALLOWED` (nothing of it was run)."""


def find_global(module, name):
    """The object ``module.name`` if the pair is in `ALLOWED`, else raise
    `RefusedPickle` without importing anything."""
    if (module, name) not in ALLOWED:
        raise RefusedPickle('it asks for %s.%s, which a CIFAR-10 batch never holds'
                            % (module, name))
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError:
        # NumPy 1.x has no numpy._core, NumPy 2 keeps numpy.core as an alias.
        other = (module.replace('numpy._core', 'numpy.core') if '._core' in module
                 else module.replace('numpy.core', 'numpy._core'))
        return getattr(importlib.import_module(other), name)


if sys.version_info[0] >= 3:
    import pickle

    class _Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            return find_global(module, name)

    def load(handle):
        """Unpickle ``handle`` (a binary file) allowing only `ALLOWED` globals;
        Python 2 strings are read as latin-1, byte for byte, as NumPy expects."""
        return _Unpickler(handle, encoding='latin1').load()
else:  # Python 2.7
    import cPickle

    def load(handle):
        """Unpickle ``handle`` (a binary file) allowing only `ALLOWED` globals."""
        unpickler = cPickle.Unpickler(handle)
        unpickler.find_global = find_global
        return unpickler.load()
