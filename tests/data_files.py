"""Small data files in the official formats (MNIST idx, CIFAR-10 pickles as
either Python writes them, SVHN .mat), written for the tests.

Not a test module: tests/test_datasets.py and tests/test_scripts.py import it.
"""
from __future__ import absolute_import, division, print_function

import codecs
import gzip
import os
import pickle
import struct
import sys

import numpy as np
import scipy.io

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import datasets  # noqa: E402

PY2 = sys.version_info[0] < 3
MNIST_NAMES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
               't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')


def mkdir(*parts):
    path = os.path.join(*[str(p) for p in parts])
    if not os.path.isdir(path):
        os.makedirs(path)
    return path


# ---------------------------------------------------------------- writers

def write_idx(path, array, magic):
    payload = struct.pack('>%di' % (1 + array.ndim), magic, *array.shape) + array.tobytes()
    with (gzip.open if path.endswith('.gz') else open)(path, 'wb') as handle:
        handle.write(payload)


def make_mnist(folder, n_train=60, n_test=20, seed=0, gz=(True, False, False, True)):
    """Write the four MNIST files (gzipped where `gz` says); return their arrays."""
    rng = np.random.RandomState(seed)
    arrays = {}
    for name, n, zipped in zip(MNIST_NAMES, (n_train, n_train, n_test, n_test), gz):
        images = 'images' in name
        shape = (n, 28, 28) if images else (n,)
        arrays[name] = rng.randint(0, 256 if images else 10, shape).astype(np.uint8)
        write_idx(os.path.join(mkdir(folder), name + ('.gz' if zipped else '')),
                  arrays[name], 2051 if images else 2049)
    return arrays


def pickle_as(style, obj):
    """Pickle `obj` with protocol 2 as Python `style` (2 or 3) writes it."""
    if style == (2 if PY2 else 3):
        return pickle.dumps(obj, 2)
    if style == 2:
        # Python 3 imitating Python 2: bytes become plain 8-bit strings.
        class Pickler(pickle._Pickler):
            dispatch = dict(pickle._Pickler.dispatch)

            def save_py2_str(self, value):
                if len(value) < 256:
                    self.write(pickle.SHORT_BINSTRING + bytes([len(value)]) + value)
                else:
                    self.write(pickle.BINSTRING + struct.pack('<i', len(value)) + value)
                self.memoize(value)
            dispatch[bytes] = save_py2_str
    else:
        # Python 2 imitating Python 3: raw buffers become _codecs.encode(text, 'latin1').
        class Pickler(pickle.Pickler):
            dispatch = dict(pickle.Pickler.dispatch)

            def save_py3_bytes(self, value):
                if len(value) < 256:    # short strings are text in Python 3
                    return pickle.Pickler.save_string(self, value)
                self.save_reduce(codecs.encode, (value.decode('latin1'), 'latin1'), obj=value)
            dispatch[str] = save_py3_bytes
    import io
    buf = io.BytesIO()
    Pickler(buf, 2).dump(obj)
    return buf.getvalue()


def make_cifar(folder, per_batch=8, seed=0, style=2):
    """Write CIFAR-10 batches as pickled by Python `style`; return (data, labels) per file."""
    rng = np.random.RandomState(seed)
    key = (lambda s: s.encode('ascii')) if style == 2 else (lambda s: u'' + s)
    batches = []
    for name in datasets._CIFAR10_FILES:
        data = rng.randint(0, 256, (per_batch, 3072)).astype(np.uint8)
        labels = [int(v) for v in rng.randint(0, 10, per_batch)]
        batch = {key('data'): data, key('labels'): labels, key('batch_label'): key(name)}
        with open(os.path.join(mkdir(folder), name), 'wb') as handle:
            handle.write(pickle_as(style, batch))
        batches.append((data, np.array(labels)))
    return batches


def svhn_labels(rng, low, high):
    """Labels 1..10 with between `low` and `high` of each, shuffled."""
    labels = np.repeat(np.arange(1, 11), rng.randint(low, high + 1, 10))
    rng.shuffle(labels)
    return labels


def make_svhn_file(path, labels, file_id, rng):
    """Write an SVHN .mat file whose image i carries (i, file_id) in 3 pixels; return X."""
    n = len(labels)
    X = rng.randint(0, 256, (32, 32, 3, n)).astype(np.uint8)
    X[0, 0, 0], X[0, 1, 0], X[0, 2, 0] = np.arange(n) % 256, np.arange(n) // 256, file_id
    scipy.io.savemat(path, {'X': X, 'y': labels.astype(np.uint8).reshape(-1, 1)})
    return X


def make_svhn(folder, seed=0, extra=True):
    rng = np.random.RandomState(seed)
    folder = mkdir(folder)
    files = {}
    for file_id, (name, low, high) in enumerate([('train', 6, 9), ('test', 1, 4),
                                                 ('extra', 3, 6)][:3 if extra else 2]):
        labels = svhn_labels(rng, low, high)
        path = os.path.join(folder, name + '_32x32.mat')
        files[name] = (make_svhn_file(path, labels, file_id, rng), labels)
    return files
