"""MNIST, CIFAR-10 and SVHN as uint8 images, split as the authors split them.

The GXNOR-Net authors loaded all three data sets through pylearn2.  This module
reads the same official files without pylearn2 (or Theano), finds them where
pylearn2 keeps them, downloads them when they are missing, and reproduces
pylearn2's train / valid / test splits:

=========  =====================================  ============  =======
data set   train                                  valid         test
=========  =====================================  ============  =======
MNIST      first 50,000 of the training file      last 10,000   10,000
CIFAR-10   first 45,000 of data_batch_1..5        last 5,000    10,000
SVHN       train + extra less valid (598,388)     6,000         26,032
=========  =====================================  ============  =======

Images stay uint8, shaped (n, channels, 32 or 28, 32 or 28), so that SVHN with
its extra set needs 1.9 GB rather than 7.4 GB as float32; the training loop
converts each minibatch with `to_float` (and, for CIFAR-10, augments it with
`random_crop_flip` first).

Files are searched, in this order, in the ``data_dir`` argument; in
pylearn2's folders under ``$PYLEARN2_DATA_PATH`` (``mnist/``,
``cifar10/cifar-10-batches-py/``, ``SVHN/format2/``); in ``./data/<name>``,
which is also where missing files are downloaded when no ``data_dir`` is
given.  Every problem with the files raises `DataError` with a one-line
message.

Examples
--------
>>> data = load_mnist(download=False)              # doctest: +SKIP
>>> X, y = data['train']                            # doctest: +SKIP
>>> X.shape, X.dtype, y.dtype                       # doctest: +SKIP
((50000, 1, 28, 28), dtype('uint8'), dtype('int32'))
>>> to_float(np.array([0, 255], dtype=np.uint8)).tolist()
[-1.0, 1.0]
"""
from __future__ import absolute_import, division, print_function

import gzip
import hashlib
import os
import struct
import sys
import tarfile
import tempfile
import zlib
from collections import OrderedDict

import numpy as np

import dataset_names
import safe_pickle

try:
    from urllib.request import urlopen
    from http.client import HTTPException
except ImportError:
    from urllib2 import urlopen
    from httplib import HTTPException

__all__ = ['DataError', 'load_mnist', 'load_cifar10', 'load_svhn', 'to_float',
           'random_crop_flip']

# Download sources; tests point them at file:// URLs.
MNIST_URL = 'https://ossci-datasets.s3.amazonaws.com/mnist/'
CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz'
SVHN_URL = 'http://ufldl.stanford.edu/housenumbers/'

# Accepted SHA-256 of each MNIST .gz: the original files (as served by the
# mirrors) and the re-compressed copies in the project's shared data folder,
# which hold the same bytes once decompressed.
MNIST_SHA256 = {
    'train-images-idx3-ubyte.gz': (
        '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609',
        '0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971'),
    'train-labels-idx1-ubyte.gz': (
        '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c',
        '1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203'),
    't10k-images-idx3-ubyte.gz': (
        '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
        '1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be'),
    't10k-labels-idx1-ubyte.gz': (
        'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
        'b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b'),
}
# MD5 published with CIFAR-10 and used by torchvision for SVHN.
CIFAR10_MD5 = ('c58f30108f718f92721af3b95e74349a',)
SVHN_MD5 = {
    'train_32x32.mat': ('e26dedcc434d2e4c54c9b2d4a06d8373',),
    'test_32x32.mat': ('eb5a983be6a315427106f1b164d9cef3',),
    'extra_32x32.mat': ('a93ce644f1a588dc4d68dda5feec44a7',),
}

_MNIST_FILES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
                't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')
_CIFAR10_FILES = tuple('data_batch_%d' % i for i in range(1, 6)) + ('test_batch',)
_CIFAR10_FOLDER = 'cifar-10-batches-py'
_SVHN_SEED = 322        # pylearn2's seed for the SVHN split and shuffles
_SVHN_CHUNK = 8192      # images transposed at a time


class DataError(Exception):
    """A data file is missing, unreadable or not what it should be."""


# ---------------------------------------------------------------- locating

def _existing(folder, name, gz_ok=False):
    """Return the path of ``name`` (or ``name.gz`` if `gz_ok`) in `folder`, else None."""
    for candidate in (name, name + '.gz') if gz_ok else (name,):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    return None


def _locate(title, names, data_dir, pylearn2_sub, default_sub, inner=None,
            gz_ok=False, download=True, fetch=None):
    """Return the folder holding all `names`, downloading them if allowed.

    ``download``: True (allowed), False (never), or None: only into the
    default folder ./data/<name>, never into a ``data_dir`` the user named
    (a mistyped folder is an error, not a download target).
    """
    default = data_dir is None
    if download is None:
        download = default
    target = os.path.abspath(os.path.join('data', default_sub) if default else data_dir)
    roots = [target]
    if default and os.environ.get('PYLEARN2_DATA_PATH'):
        roots.insert(0, os.path.join(os.environ['PYLEARN2_DATA_PATH'], pylearn2_sub))
    searched = []
    for root in roots:
        for folder in ([os.path.join(root, inner)] if inner else []) + [root]:
            searched.append(folder)
            if all(_existing(folder, name, gz_ok) for name in names):
                return folder
    if download and fetch is not None:
        created = _missing_folders(target)
        try:
            fetch(target)
        except BaseException:
            _remove_empty(created)   # a failed download leaves no empty folders
            raise
        return _locate(title, names, target, pylearn2_sub, default_sub, inner,
                       gz_ok, download=False)
    missing = [n + ('[.gz]' if gz_ok else '') for n in names
               if not _existing(searched[-1], n, gz_ok)]
    hint = 'pass --data-dir' if default else 'add --download to download them there'
    raise DataError('datasets: %s file%s %s not found in %s; place the files there or %s'
                    % (title, 's' if len(missing) > 1 else '', ', '.join(missing),
                       ' or '.join(searched), hint))


# ---------------------------------------------------------------- download

def _missing_folders(path):
    """The folders of ``path`` (itself included) that do not exist yet, deepest first."""
    missing = []
    while path and not os.path.exists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        path = parent if parent != path else ''
    return missing


def _remove_empty(folders):
    """Remove each of ``folders`` (deepest first) that is empty."""
    for folder in folders:
        try:
            os.rmdir(folder)
        except OSError:   # not empty (another download's files), or gone
            break


def _download(url, dest, algorithm=None, digests=()):
    """Copy `url` to `dest` through a temporary file, checking its digest."""
    folder = os.path.dirname(os.path.abspath(dest))
    print('datasets: downloading %s to %s' % (url, dest))
    sys.stdout.flush()
    hasher = hashlib.new(algorithm) if algorithm else None
    tmp = None
    try:
        if not os.path.isdir(folder):
            os.makedirs(folder)
        handle, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(dest) + '.',
                                       suffix='.part', dir=folder)
        with os.fdopen(handle, 'wb') as out:
            response = urlopen(url, timeout=60)
            try:
                for chunk in iter(lambda: response.read(1 << 20), b''):
                    out.write(chunk)
                    if hasher:
                        hasher.update(chunk)
            finally:
                response.close()
    except (IOError, OSError, ValueError, HTTPException) as err:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
        reason = ' '.join(str(err).split()) or type(err).__name__
        raise DataError('datasets: could not download %s (%s); place the files in %s '
                        'or pass --data-dir' % (url, reason, folder))
    if hasher and hasher.hexdigest() not in digests:
        os.remove(tmp)
        raise DataError('datasets: %s from %s has %s %s, expected %s; the download is '
                        'corrupt or the mirror changed' % (os.path.basename(dest), url,
                                                           algorithm, hasher.hexdigest(),
                                                           ' or '.join(digests)))
    os.chmod(tmp, 0o644)    # mkstemp makes files private
    os.rename(tmp, dest)


def _fetch_mnist(names=_MNIST_FILES):
    def fetch(folder):
        for name in names:
            if not _existing(folder, name, gz_ok=True):
                gz = name + '.gz'
                _download(MNIST_URL + gz, os.path.join(folder, gz), 'sha256', MNIST_SHA256[gz])
    return fetch


def _fetch_cifar10(folder):
    archive = os.path.join(folder, os.path.basename(CIFAR10_URL))
    _download(CIFAR10_URL, archive, 'md5', CIFAR10_MD5)
    out_dir = os.path.join(folder, _CIFAR10_FOLDER)
    print('datasets: extracting %s to %s' % (archive, out_dir))
    try:
        with tarfile.open(archive, 'r:gz') as tar:
            members = dict((os.path.basename(m.name), m) for m in tar.getmembers()
                           if m.isfile() and os.path.basename(m.name) in _CIFAR10_FILES)
            missing = [n for n in _CIFAR10_FILES if n not in members]
            if missing:
                raise DataError('datasets: %s lacks %s' % (archive, missing[0]))
            if not os.path.isdir(out_dir):
                os.makedirs(out_dir)
            for name, member in members.items():
                handle, tmp = tempfile.mkstemp(prefix='.' + name + '.', dir=out_dir)
                with os.fdopen(handle, 'wb') as out:
                    out.write(tar.extractfile(member).read())
                os.chmod(tmp, 0o644)
                os.rename(tmp, os.path.join(out_dir, name))
    except (tarfile.TarError, IOError, OSError, EOFError, zlib.error) as err:
        raise DataError('datasets: could not extract %s (%s)' % (archive, err))
    os.remove(archive)


def _fetch_svhn(names):
    def fetch(folder):
        for name in names:
            if not _existing(folder, name):
                _download(SVHN_URL + name, os.path.join(folder, name), 'md5', SVHN_MD5[name])
    return fetch


# ---------------------------------------------------------------- MNIST

# Items an IDX file may announce (MNIST's largest holds 60,000): a larger count is
# a damaged or hostile header, refused before anything that size is read.
_MAX_IDX_ITEMS = 10 ** 7

def _read_idx(path, magic, item_shape, what):
    """Return the uint8 array of an IDX file (plain or gzip) after checking it.

    The header is read and checked first, and then at most the bytes it
    announces (plus one, to tell a file that is too long), so that a huge or
    endless file never fills the memory."""
    header = 4 * (2 + len(item_shape))
    try:
        with (gzip.open if path.endswith('.gz') else open)(path, 'rb') as handle:
            head = handle.read(header)
            if len(head) < header:
                raise DataError('datasets: %s is truncated: %d bytes, shorter than the %d-byte '
                                'IDX header' % (path, len(head), header))
            fields = struct.unpack('>%di' % (2 + len(item_shape)), head)
            if fields[0] != magic:
                # The magic number as its four bytes read (the header is big-endian).
                raise DataError('datasets: %s is not an IDX file of %s: magic number 0x%08x, '
                                'expected 0x%08x' % (path, what, fields[0] & 0xffffffff, magic))
            if fields[2:] != item_shape:
                raise DataError('datasets: %s holds %s of shape %s, expected %s'
                                % (path, what, fields[2:], item_shape))
            if not 0 <= fields[1] <= _MAX_IDX_ITEMS:
                raise DataError('datasets: %s announces %d %s; an MNIST file holds at most '
                                '%d' % (path, fields[1], what, _MAX_IDX_ITEMS))
            size = fields[1] * int(np.prod(item_shape, dtype=np.int64))
            if not path.endswith('.gz') and os.path.getsize(path) != header + size:
                length = os.path.getsize(path) - header
            else:
                data = handle.read(size + 1)
                length = len(data)
    except (IOError, OSError, EOFError, zlib.error) as err:
        raise DataError('datasets: %s is corrupt or truncated (%s)'
                        % (path, ' '.join(str(err).split())))
    if length != size:
        raise DataError('datasets: %s is %s: expected %d bytes of %s, got %d'
                        % (path, 'truncated' if length < size else 'too long',
                           header + size, what, header + length))
    return np.frombuffer(data, np.uint8).reshape(fields[1:])


def _mnist_part(folder, prefix):
    find = lambda name: _existing(folder, name, gz_ok=True)
    images = _read_idx(find(prefix + '-images-idx3-ubyte'), 2051, (28, 28), 'images')
    labels_path = find(prefix + '-labels-idx1-ubyte')
    labels = _read_idx(labels_path, 2049, (), 'labels')
    if len(labels) != len(images):
        raise DataError('datasets: %s has %d labels for %d images'
                        % (labels_path, len(labels), len(images)))
    if labels.size and labels.max() > 9:
        raise DataError('datasets: %s has label %d, expected 0..9' % (labels_path, labels.max()))
    # frombuffer views are read-only; copy once into owned arrays.
    return images.reshape(-1, 1, 28, 28).copy(), labels.astype(np.int32)


def load_mnist(data_dir=None, download=True, n_valid=10000):
    """Load MNIST split as in the authors' code: 50,000 / 10,000 / 10,000.

    Parameters
    ----------
    data_dir : str, optional
        Folder holding the four IDX files, each plain or gzipped.  By default
        ``$PYLEARN2_DATA_PATH/mnist`` then ``./data/mnist`` are searched.
    download : bool or None
        Download the missing files (into `data_dir`, else ``./data/mnist``)
        and check their SHA-256.  None: only when no `data_dir` is given
        (what the scripts do unless ``--download``).
    n_valid : int
        Validation images, taken from the end of the training file
        (pylearn2 ``MNIST('train', start=50000, stop=60000)``).

    Returns
    -------
    OrderedDict
        ``'train'``, ``'valid'``, ``'test'``: each ``(X, y)`` with `X` uint8
        of shape (n, 1, 28, 28) and `y` int32 labels 0..9, in file order.

    Raises
    ------
    DataError
        If a file is missing and cannot be downloaded, or is corrupt.
    """
    folder = _locate('MNIST', _MNIST_FILES, data_dir, 'mnist', 'mnist', gz_ok=True,
                     download=download, fetch=_fetch_mnist())
    X, y = _mnist_part(folder, 'train')
    if not 0 <= n_valid < len(X):
        raise DataError('datasets: MNIST in %s has %d training images, too few for %d '
                        'validation images' % (folder, len(X), n_valid))
    cut = len(X) - n_valid
    return OrderedDict([('train', (X[:cut], y[:cut])), ('valid', (X[cut:], y[cut:])),
                        ('test', _mnist_part(folder, 't10k'))])


# ---------------------------------------------------------------- CIFAR-10

def _read_cifar_batch(path):
    """Return (data, labels) of a CIFAR-10 batch pickled by Python 2 or 3."""
    try:
        with open(path, 'rb') as handle:
            # Never pickle.load: a crafted batch would run its commands.
            batch = safe_pickle.load(handle)
    except MemoryError:
        raise
    except safe_pickle.RefusedPickle as err:
        raise DataError('datasets: %s is not a CIFAR-10 batch: %s; refused, nothing in it '
                        'was run' % (path, err))
    except Exception as err:
        raise DataError('datasets: %s is not a readable pickle, probably truncated or '
                        'corrupt (%s: %s)' % (path, type(err).__name__,
                                              ' '.join(str(err).split())))
    if not isinstance(batch, dict):
        raise DataError('datasets: %s holds a %s, expected a dict' % (path, type(batch).__name__))
    batch = dict((k.decode('latin1') if isinstance(k, bytes) else k, v) for k, v in batch.items())
    if 'data' not in batch or 'labels' not in batch:
        raise DataError('datasets: %s lacks the keys data and labels (found: %s)'
                        % (path, ', '.join(sorted(map(str, batch))) or 'none'))
    data, labels = np.asarray(batch['data']), np.asarray(batch['labels'])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError('datasets: %s data is %s %s, expected uint8 (n, 3072)'
                        % (path, data.dtype, data.shape))
    if labels.shape != (len(data),) or labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError('datasets: %s labels are not %d values in 0..9' % (path, len(data)))
    return data, labels.astype(np.int32)


def load_cifar10(data_dir=None, download=True, n_valid=5000):
    """Load CIFAR-10 split as in the authors' code: 45,000 / 5,000 / 10,000.

    Parameters
    ----------
    data_dir : str, optional
        Folder holding ``data_batch_1`` .. ``data_batch_5`` and
        ``test_batch``, or its parent holding ``cifar-10-batches-py/``.  By
        default ``$PYLEARN2_DATA_PATH/cifar10/cifar-10-batches-py``,
        ``$PYLEARN2_DATA_PATH/cifar10`` and ``./data/cifar10`` (and its
        ``cifar-10-batches-py``) are searched.
    download : bool or None
        Download and extract the official archive when the files are missing
        (None: only when no `data_dir` is given).
    n_valid : int
        Validation images, the last of the 50,000 training images in batch
        order (pylearn2 ``CIFAR10('train', start=45000, stop=50000)``).

    Returns
    -------
    OrderedDict
        ``'train'``, ``'valid'``, ``'test'``: each ``(X, y)`` with `X` uint8
        of shape (n, 3, 32, 32) (each 3072-byte row is channel-major: red,
        green, blue planes) and `y` int32 labels 0..9.

    Raises
    ------
    DataError
        If a file is missing and cannot be downloaded, or is corrupt.
    """
    folder = _locate('CIFAR-10', _CIFAR10_FILES, data_dir, 'cifar10', 'cifar10',
                     inner=_CIFAR10_FOLDER, download=download, fetch=_fetch_cifar10)
    batches = [_read_cifar_batch(os.path.join(folder, name)) for name in _CIFAR10_FILES]
    X = np.concatenate([data for data, _ in batches[:-1]]).reshape(-1, 3, 32, 32)
    y = np.concatenate([labels for _, labels in batches[:-1]])
    if not 0 <= n_valid < len(X):
        raise DataError('datasets: CIFAR-10 in %s has %d training images, too few for %d '
                        'validation images' % (folder, len(X), n_valid))
    cut = len(X) - n_valid
    test = (batches[-1][0].reshape(-1, 3, 32, 32), batches[-1][1])
    return OrderedDict([('train', (X[:cut], y[:cut])), ('valid', (X[cut:], y[cut:])),
                        ('test', test)])


# ---------------------------------------------------------------- SVHN

def _loadmat(path, name):
    import scipy.io
    try:
        return scipy.io.loadmat(path, variable_names=[name])[name]
    except MemoryError:
        raise
    except Exception as err:
        raise DataError('datasets: %s is not a readable MATLAB file (%s: %s)'
                        % (path, type(err).__name__, ' '.join(str(err).split())))


def _svhn_labels(path):
    """Check the variables of an SVHN .mat file; return its labels 1..10."""
    import scipy.io
    try:
        found = dict((name, (shape, cls)) for name, shape, cls in scipy.io.whosmat(path))
    except MemoryError:
        raise
    except Exception as err:
        raise DataError('datasets: %s is not a readable MATLAB file (%s: %s)'
                        % (path, type(err).__name__, ' '.join(str(err).split())))
    if 'X' not in found or 'y' not in found:
        raise DataError('datasets: %s lacks the variables X and y (found: %s)'
                        % (path, ', '.join(sorted(found)) or 'none'))
    shape, cls = found['X']
    if len(shape) != 4 or tuple(shape[:3]) != (32, 32, 3) or cls != 'uint8':
        raise DataError('datasets: %s X is %s %s, expected uint8 (32, 32, 3, n)'
                        % (path, cls, tuple(shape)))
    labels = _loadmat(path, 'y')
    if labels.size != shape[3] or labels.ndim != 2 or 1 not in labels.shape:
        raise DataError('datasets: %s y has shape %s, expected (%d, 1)'
                        % (path, labels.shape, shape[3]))
    labels = labels.ravel().astype(np.int64)
    if labels.size and (labels.min() < 1 or labels.max() > 10):
        raise DataError('datasets: %s y has values outside 1..10' % path)
    return labels


def _draw_valid(path, labels, per_class, rng):
    """Mark `per_class` random examples of each label as validation, as pylearn2 does."""
    valid = np.zeros(len(labels), bool)
    for label in range(1, 11):      # pylearn2's order: .mat labels 1..10
        index = np.flatnonzero(labels == label)
        if len(index) < per_class:
            raise DataError('datasets: %s has %d examples of label %d, fewer than the %d '
                            'needed for validation' % (path, len(index), label, per_class))
        rng.shuffle(index)
        valid[index[:per_class]] = True
    return valid


def _scatter_mat(path, n, outputs, part, dest):
    """Copy image i of `path` to ``outputs[part[i]][dest[i]]`` as (3, 32, 32)."""
    X = _loadmat(path, 'X')
    if X.shape != (32, 32, 3, n) or X.dtype != np.uint8:
        raise DataError('datasets: %s X is %s %s, expected uint8 (32, 32, 3, %d)'
                        % (path, X.dtype, X.shape, n))
    # Chunks keep the transposed temporaries small next to the loaded file.
    for start in range(0, n, _SVHN_CHUNK):
        block = X[:, :, :, start:start + _SVHN_CHUNK].transpose(3, 2, 0, 1)
        for k, out in enumerate(outputs):
            mask = part[start:start + _SVHN_CHUNK] == k
            out[dest[start:start + _SVHN_CHUNK][mask]] = block[mask]


def _inverse(order):
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    return position


def load_svhn(data_dir=None, download=True, use_extra=True, valid_per_class=(400, 200)):
    """Load SVHN with pylearn2's split: 598,388 / 6,000 / 26,032 images.

    As in pylearn2 (``SVHN('splitted_train')``, ``SVHN('valid')``,
    ``SVHN('test')``), one ``RandomState(322)`` draws, for each label 1..10
    in turn, a random `valid_per_class[0]` examples of the train file and
    then, again per label, `valid_per_class[1]` examples of the extra file
    for validation; everything else of train and extra is the training set.

    Parameters
    ----------
    data_dir : str, optional
        Folder holding ``train_32x32.mat``, ``test_32x32.mat`` and
        ``extra_32x32.mat``.  By default ``$PYLEARN2_DATA_PATH/SVHN/format2``
        then ``./data/svhn`` are searched.
    download : bool or None
        Download the missing files (extra is 1.3 GB; None: only when no
        `data_dir` is given).
    use_extra : bool
        If False, ignore the extra file: validation is then the same
        `valid_per_class[0]` examples per label drawn from train, and the
        rest of train (69,257 images) is the training set.
    valid_per_class : tuple of int
        Validation examples per label taken from train and from extra.

    Returns
    -------
    OrderedDict
        ``'train'``, ``'valid'``, ``'test'``: each ``(X, y)`` with `X` uint8
        of shape (n, 3, 32, 32) and `y` int32 digits 0..9 (the files' label
        10 is digit 0).  Training and test sets are in pylearn2's order:
        the training rows of train then extra, each in file order, permuted
        by the same generator's next ``shuffle``; the test file permuted by a
        fresh ``RandomState(322).shuffle``.  Validation is in file order,
        train rows first (pylearn2's order there depends on Python's set
        iteration order).

    Raises
    ------
    DataError
        If a file is missing and cannot be downloaded, or is not an SVHN
        format 2 file.

    Notes
    -----
    Memory peaks at about the output plus one loaded file (3.5 GB with extra).
    """
    sources = ['train_32x32.mat'] + (['extra_32x32.mat'] if use_extra else [])
    names = sources + ['test_32x32.mat']
    folder = _locate('SVHN', names, data_dir, os.path.join('SVHN', 'format2'), 'svhn',
                     download=download, fetch=_fetch_svhn(names))
    paths = [os.path.join(folder, name) for name in sources]
    labels = [_svhn_labels(path) for path in paths]
    test_path = os.path.join(folder, 'test_32x32.mat')
    test_labels = _svhn_labels(test_path)

    rng = np.random.RandomState(_SVHN_SEED)
    valid = [_draw_valid(path, y, k, rng) for path, y, k in zip(paths, labels, valid_per_class)]
    n_train = sum(int((~v).sum()) for v in valid)
    order = np.arange(n_train)
    rng.shuffle(order)
    # Training row j (train file rows first) lands at position[j].
    train_position = _inverse(order)

    X_train = np.empty((n_train, 3, 32, 32), np.uint8)
    X_valid = np.empty((sum(int(v.sum()) for v in valid), 3, 32, 32), np.uint8)
    y_train = np.empty(len(X_train), np.int32)
    y_valid = np.empty(len(X_valid), np.int32)
    done_train = done_valid = 0
    for path, y, v in zip(paths, labels, valid):
        dest = np.empty(len(y), np.intp)
        dest[~v] = train_position[done_train:done_train + int((~v).sum())]
        dest[v] = np.arange(done_valid, done_valid + int(v.sum()))
        done_train += int((~v).sum())
        done_valid += int(v.sum())
        part = v.astype(np.int8)
        y_train[dest[~v]] = y[~v] % 10
        y_valid[dest[v]] = y[v] % 10
        _scatter_mat(path, len(y), (X_train, X_valid), part, dest)

    return OrderedDict([('train', (X_train, y_train)), ('valid', (X_valid, y_valid)),
                        ('test', _svhn_test(test_path, test_labels))])


def _svhn_test(path, labels):
    """The test file permuted as pylearn2 does: a fresh RandomState(322).shuffle."""
    order = np.arange(len(labels))
    np.random.RandomState(_SVHN_SEED).shuffle(order)
    X_test = np.empty((len(order), 3, 32, 32), np.uint8)
    dest = _inverse(order)
    _scatter_mat(path, len(order), (X_test,), np.zeros(len(order), np.int8), dest)
    y_test = np.empty(len(order), np.int32)
    y_test[dest] = labels % 10
    return X_test, y_test


def load_test(name, data_dir=None, download=None):
    """The test split of data set ``name`` alone, reading only its files.

    ``name`` is one of :data:`dataset_names.NAMES` ('mnist', 'cifar10',
    'svhn').  Same folders, checks and order as :func:`load_mnist`,
    :func:`load_cifar10` and :func:`load_svhn` (their ``'test'`` item);
    the training files need not be there.  ``download`` as there (None:
    only into the default folder, and only the test files).

    Returns
    -------
    (X, y) : uint8 images (n, C, H, W) and int32 labels.
    """
    if name not in dataset_names.NAMES:
        raise DataError('datasets: no data set named %r (%s)'
                        % (name, ', '.join(dataset_names.NAMES)))
    return _TEST_READERS[name](data_dir, download)


def _mnist_test_split(data_dir, download):
    names = _MNIST_FILES[2:]
    folder = _locate('MNIST', names, data_dir, 'mnist', 'mnist', gz_ok=True,
                     download=download, fetch=_fetch_mnist(names))
    return _mnist_part(folder, 't10k')


def _cifar10_test_split(data_dir, download):
    folder = _locate('CIFAR-10', ('test_batch',), data_dir, 'cifar10', 'cifar10',
                     inner=_CIFAR10_FOLDER, download=download, fetch=_fetch_cifar10)
    data, labels = _read_cifar_batch(os.path.join(folder, 'test_batch'))
    return data.reshape(-1, 3, 32, 32), labels


def _svhn_test_split(data_dir, download):
    names = ['test_32x32.mat']
    folder = _locate('SVHN', names, data_dir, os.path.join('SVHN', 'format2'), 'svhn',
                     download=download, fetch=_fetch_svhn(names))
    path = os.path.join(folder, names[0])
    return _svhn_test(path, _svhn_labels(path))


# The test split's reader of each data set of dataset_names.NAMES.
_TEST_READERS = dict(mnist=_mnist_test_split, cifar10=_cifar10_test_split, svhn=_svhn_test_split)


# ---------------------------------------------------------------- minibatches

def to_float(X, dtype='float32'):
    """Scale uint8 pixels to [-1, 1] as the authors did: ``2 * X / 255 - 1``.

    Parameters
    ----------
    X : ndarray
        Pixels 0..255, any shape.
    dtype : str or dtype
        Output type (Theano's ``floatX``).

    Returns
    -------
    ndarray
        New array of `dtype`: 0 gives -1, 255 gives 1 exactly.
    """
    out = np.array(X, dtype=dtype)
    # Dividing by 127.5 (exact in binary) keeps both ends exact.
    out /= 127.5
    out -= 1
    return out


def random_crop_flip(X, rng, pad=4, fill=128):
    """Randomly shift and mirror a uint8 minibatch (CIFAR-10 augmentation).

    Each image independently is padded with `pad` pixels of value `fill`
    on every side, cropped back to its size at offsets drawn uniformly from
    0..2*pad for rows and for columns, and flipped left-right with
    probability 1/2.

    Parameters
    ----------
    X : ndarray
        Images of shape (n, channels, height, width); left unchanged.
    rng : numpy.random.RandomState
        Source of the offsets and flips.
    pad : int
        Largest shift in pixels.
    fill : int
        Value of the padding.  The authors padded images already scaled to
        [-1, 1] with 0.0; 128 is the nearest uint8 (0.0039 after `to_float`).

    Returns
    -------
    ndarray
        New array of the same shape and dtype as `X`.
    """
    n, channels, height, width = X.shape
    padded = np.full((n, channels, height + 2 * pad, width + 2 * pad), fill, X.dtype)
    padded[:, :, pad:pad + height, pad:pad + width] = X
    rows = rng.randint(0, 2 * pad + 1, size=n)[:, None] + np.arange(height)
    cols = rng.randint(0, 2 * pad + 1, size=n)[:, None] + np.arange(width)
    flip = rng.randint(0, 2, size=n).astype(bool)
    cols[flip] = cols[flip, ::-1]
    return padded[np.arange(n)[:, None, None, None], np.arange(channels)[:, None, None],
                  rows[:, None, :, None], cols[:, None, None, :]]
