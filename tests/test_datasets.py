"""Tests of datasets.py on small files written in the official formats."""
from __future__ import absolute_import, division, print_function

import gzip
import hashlib
import os
import pickle
import struct
import sys
import tarfile

import numpy as np
import pytest
import scipy.io

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import datasets  # noqa: E402
from datasets import DataError  # noqa: E402
from data_files import (MNIST_NAMES, make_cifar, make_mnist, make_svhn, mkdir,  # noqa: E402
                        write_idx)


def file_url(folder):
    return 'file://' + os.path.abspath(folder) + '/'


def digest(path, algorithm):
    with open(path, 'rb') as handle:
        return hashlib.new(algorithm, handle.read()).hexdigest()


def image_ids(X):
    """The (file, index) code that make_svhn_file hid in each (3, 32, 32) image."""
    return X[:, 0, 0, 2].astype(int) * 65536 + X[:, 0, 0, 1] * 256 + X[:, 0, 0, 0]


def pylearn2_svhn(files, per_class, extra=True):
    """Expected SVHN sets, following pylearn2's SVHN.make_data step by step."""
    rng = np.random.RandomState(322)
    sources = ['train', 'extra'] if extra else ['train']
    train_x, train_y, valid_x, valid_y = [], [], [], []
    for name, k in zip(sources, per_class):
        X, labels = files[name]
        y = labels.reshape(-1, 1)
        chosen = []
        for label in range(1, 11):
            index = np.nonzero(y == label)[0]
            rng.shuffle(index)
            chosen.append(index[:k])
        chosen = set(np.concatenate(chosen))
        # pylearn2 lists the set difference, which is in ascending order at
        # the real sizes (see test_pylearn2_set_order_is_ascending), not
        # necessarily at these small ones.
        rest = sorted(set(np.arange(len(y))) - chosen)
        for xs, ys, rows in ((train_x, train_y, rest), (valid_x, valid_y, sorted(chosen))):
            xs.append(X[:, :, :, rows].transpose(3, 2, 0, 1))
            ys.append(labels[rows])
    train_x, train_y = np.concatenate(train_x), np.concatenate(train_y)
    index = list(range(len(train_x)))
    rng.shuffle(index)
    X, labels = files['test']
    test_index = list(range(len(labels)))
    np.random.RandomState(322).shuffle(test_index)
    return {'train': (train_x[index], train_y[index] % 10),
            'valid': (np.concatenate(valid_x), np.concatenate(valid_y) % 10),
            'test': (X.transpose(3, 2, 0, 1)[test_index], labels[test_index] % 10)}


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No PYLEARN2_DATA_PATH, and an empty current folder (so no ./data)."""
    monkeypatch.delenv('PYLEARN2_DATA_PATH', raising=False)
    monkeypatch.chdir(mkdir(tmp_path, 'cwd'))
    return str(tmp_path)


def check_sets(data, shapes):
    assert list(data) == ['train', 'valid', 'test']
    for (X, y), n in zip(data.values(), shapes):
        assert X.dtype == np.uint8 and X.flags.c_contiguous
        assert X.shape[0] == n and y.shape == (n,) and y.dtype == np.int32
        assert y.min() >= 0 and y.max() <= 9


# ---------------------------------------------------------------- to_float

def test_to_float_scales_like_the_authors():
    X = np.arange(256, dtype=np.uint8).reshape(2, 1, 8, 16)
    out = datasets.to_float(X)
    assert out.dtype == np.float32 and out.shape == X.shape
    flat = out.ravel()
    assert flat[0] == -1.0 and flat[255] == 1.0
    assert abs(flat[128] - 1.0 / 255) < 1e-7
    np.testing.assert_allclose(flat, np.arange(256) * 2.0 / 255 - 1, rtol=0, atol=1e-6)
    assert datasets.to_float(X, dtype='float64').dtype == np.float64


def test_to_float_leaves_input_alone():
    X = np.array([0., 255.], np.float32)
    out = datasets.to_float(X)
    assert list(X) == [0., 255.] and list(out) == [-1., 1.]


# ---------------------------------------------------------------- MNIST

def test_mnist_shapes_values_and_split(tmp_path):
    arrays = make_mnist(tmp_path, n_train=60, n_test=20)
    data = datasets.load_mnist(str(tmp_path), download=False, n_valid=15)
    check_sets(data, (45, 15, 20))
    X = arrays['train-images-idx3-ubyte']
    y = arrays['train-labels-idx1-ubyte']
    assert data['train'][0].shape == (45, 1, 28, 28)
    assert np.array_equal(data['train'][0][:, 0], X[:45])
    assert np.array_equal(data['valid'][0][:, 0], X[45:])
    assert np.array_equal(data['train'][1], y[:45]) and np.array_equal(data['valid'][1], y[45:])
    assert np.array_equal(data['test'][0][:, 0], arrays['t10k-images-idx3-ubyte'])
    assert np.array_equal(data['test'][1], arrays['t10k-labels-idx1-ubyte'])


def test_mnist_missing_file_is_named(tmp_path, clean_env):
    make_mnist(tmp_path)
    os.remove(os.path.join(str(tmp_path), 't10k-labels-idx1-ubyte.gz'))
    with pytest.raises(DataError) as err:
        datasets.load_mnist(str(tmp_path), download=False)
    message = str(err.value)
    assert 't10k-labels-idx1-ubyte' in message and str(tmp_path) in message
    assert '\n' not in message


def truncate_to_half(path):
    with open(path, 'rb') as handle:
        payload = handle.read()
    with open(path, 'wb') as handle:
        handle.write(payload[:len(payload) // 2])


def test_mnist_truncated_gzip(tmp_path):
    make_mnist(tmp_path)
    path = os.path.join(str(tmp_path), 'train-images-idx3-ubyte.gz')
    truncate_to_half(path)
    with pytest.raises(DataError) as err:
        datasets.load_mnist(str(tmp_path), download=False, n_valid=10)
    assert path in str(err.value) and 'truncated' in str(err.value)


def test_mnist_truncated_idx(tmp_path):
    make_mnist(tmp_path)
    path = os.path.join(str(tmp_path), 'train-labels-idx1-ubyte')
    with open(path, 'rb') as handle:
        payload = handle.read()
    with open(path, 'wb') as handle:
        handle.write(payload[:-7])
    with pytest.raises(DataError) as err:
        datasets.load_mnist(str(tmp_path), download=False, n_valid=10)
    assert str(err.value) == ('datasets: %s is truncated: expected 68 bytes of labels, got 61'
                              % path)


def test_mnist_huge_sparse_file_is_refused_before_reading(tmp_path):
    """A 100 GB training-images file (sparse: no disk used) is 'too long' from its size,
    without a byte of it read (reading it would raise MemoryError)."""
    make_mnist(tmp_path)
    path = os.path.join(str(tmp_path), 'train-images-idx3-ubyte')
    os.remove(path + '.gz')
    write_idx(path, np.zeros((60, 28, 28), np.uint8), 2051)
    with open(path, 'r+b') as handle:
        handle.truncate(100 * 10 ** 9)
    with pytest.raises(DataError) as err:
        datasets.load_mnist(str(tmp_path), download=False, n_valid=10)
    assert str(err.value) == ('datasets: %s is too long: expected 47056 bytes of images, '
                              'got 100000000000' % path)


def test_mnist_header_announcing_too_many_items_is_refused(tmp_path):
    make_mnist(tmp_path)
    path = os.path.join(str(tmp_path), 't10k-labels-idx1-ubyte.gz')
    with gzip.open(path, 'wb') as handle:
        handle.write(struct.pack('>2i', 2049, 2 ** 31 - 1))
    with pytest.raises(DataError) as err:
        datasets.load_mnist(str(tmp_path), download=False, n_valid=10)
    assert 'announces 2147483647 labels; an MNIST file holds at most 10000000' in str(err.value)


def test_mnist_wrong_magic_and_size(tmp_path):
    make_mnist(tmp_path)
    path = os.path.join(str(tmp_path), 't10k-images-idx3-ubyte')
    write_idx(path, np.zeros((20, 28, 28), np.uint8), 2049)
    with pytest.raises(DataError) as err:
        datasets.load_mnist(str(tmp_path), download=False, n_valid=10)
    assert 'magic number 0x00000801, expected 0x00000803' in str(err.value)
    write_idx(path, np.zeros((20, 28, 28), np.uint8), -1447259534)   # random bytes: as read
    with pytest.raises(DataError) as err:
        datasets.load_mnist(str(tmp_path), download=False, n_valid=10)
    assert 'magic number 0xa9bc9272, expected 0x00000803' in str(err.value)
    write_idx(path, np.zeros((20, 32, 32), np.uint8), 2051)
    with pytest.raises(DataError) as err:
        datasets.load_mnist(str(tmp_path), download=False, n_valid=10)
    assert path in str(err.value) and '(32, 32)' in str(err.value)


def test_mnist_too_few_images_for_validation(tmp_path):
    make_mnist(tmp_path, n_train=60)
    with pytest.raises(DataError) as err:
        datasets.load_mnist(str(tmp_path), download=False)
    assert '60 training images' in str(err.value)


# ---------------------------------------------------------------- locating

def test_pylearn2_layout_then_default_folder(tmp_path, clean_env, monkeypatch):
    pylearn2 = make_mnist(mkdir(tmp_path, 'p2', 'mnist'), seed=1)
    local = make_mnist(os.path.join('data', 'mnist'), seed=2)
    monkeypatch.setenv('PYLEARN2_DATA_PATH', os.path.join(str(tmp_path), 'p2'))
    X = datasets.load_mnist(download=False, n_valid=10)['test'][0]
    assert np.array_equal(X[:, 0], pylearn2['t10k-images-idx3-ubyte'])
    monkeypatch.setenv('PYLEARN2_DATA_PATH', os.path.join(str(tmp_path), 'elsewhere'))
    X = datasets.load_mnist(download=False, n_valid=10)['test'][0]
    assert np.array_equal(X[:, 0], local['t10k-images-idx3-ubyte'])


def test_data_dir_comes_first(tmp_path, clean_env, monkeypatch):
    make_mnist(mkdir(tmp_path, 'p2', 'mnist'), seed=1)
    make_mnist(os.path.join('data', 'mnist'), seed=2)
    mine = make_mnist(mkdir(tmp_path, 'mine'), seed=3)
    monkeypatch.setenv('PYLEARN2_DATA_PATH', os.path.join(str(tmp_path), 'p2'))
    X = datasets.load_mnist(os.path.join(str(tmp_path), 'mine'), download=False,
                            n_valid=10)['test'][0]
    assert np.array_equal(X[:, 0], mine['t10k-images-idx3-ubyte'])


def test_data_dir_is_not_searched_beyond(tmp_path, clean_env, monkeypatch):
    make_mnist(mkdir(tmp_path, 'p2', 'mnist'))
    monkeypatch.setenv('PYLEARN2_DATA_PATH', os.path.join(str(tmp_path), 'p2'))
    with pytest.raises(DataError) as err:
        datasets.load_mnist(mkdir(tmp_path, 'empty'), download=False)
    assert 'train-images-idx3-ubyte[.gz], ' in str(err.value)
    assert 't10k-labels-idx1-ubyte[.gz] not found in %s;' % os.path.join(
        str(tmp_path), 'empty') in str(err.value)


@pytest.mark.parametrize('sub', [os.path.join('cifar10', 'cifar-10-batches-py'), 'cifar10'])
def test_cifar_pylearn2_layouts(tmp_path, clean_env, monkeypatch, sub):
    batches = make_cifar(mkdir(tmp_path, 'p2', sub), per_batch=4)
    monkeypatch.setenv('PYLEARN2_DATA_PATH', os.path.join(str(tmp_path), 'p2'))
    X = datasets.load_cifar10(download=False, n_valid=4)['test'][0]
    assert np.array_equal(X.reshape(4, 3072), batches[-1][0])


@pytest.mark.parametrize('parent', [False, True])
def test_cifar_data_dir_or_its_parent(tmp_path, parent):
    folder = mkdir(tmp_path, 'cifar-10-batches-py')
    batches = make_cifar(folder, per_batch=4)
    data = datasets.load_cifar10(str(tmp_path) if parent else folder, download=False,
                                 n_valid=4)
    assert np.array_equal(data['test'][0].reshape(4, 3072), batches[-1][0])


def test_svhn_pylearn2_layout(tmp_path, clean_env, monkeypatch):
    files = make_svhn(mkdir(tmp_path, 'p2', 'SVHN', 'format2'))
    monkeypatch.setenv('PYLEARN2_DATA_PATH', os.path.join(str(tmp_path), 'p2'))
    data = datasets.load_svhn(download=False, valid_per_class=(4, 2))
    assert len(data['test'][0]) == len(files['test'][1])


# ---------------------------------------------------------------- download

def serve_mnist(tmp_path, monkeypatch):
    server = mkdir(tmp_path, 'server')
    arrays = make_mnist(server, gz=(True,) * 4)
    monkeypatch.setattr(datasets, 'MNIST_URL', file_url(server))
    return server, arrays


def test_download_mnist(tmp_path, clean_env, monkeypatch, capsys):
    server, arrays = serve_mnist(tmp_path, monkeypatch)
    monkeypatch.setattr(datasets, 'MNIST_SHA256', dict(
        (n + '.gz', ('0' * 64, digest(os.path.join(server, n + '.gz'), 'sha256')))
        for n in MNIST_NAMES))
    data = datasets.load_mnist(n_valid=10)
    assert np.array_equal(data['test'][0][:, 0], arrays['t10k-images-idx3-ubyte'])
    assert sorted(os.listdir(os.path.join('data', 'mnist'))) == sorted(
        n + '.gz' for n in MNIST_NAMES)
    assert 'downloading %st10k-labels-idx1-ubyte.gz' % file_url(server) in capsys.readouterr().out


def test_download_checksum_mismatch(tmp_path, clean_env, monkeypatch):
    serve_mnist(tmp_path, monkeypatch)
    target = os.path.join(str(tmp_path), 'target')
    with pytest.raises(DataError) as err:
        datasets.load_mnist(target)
    assert 'train-images-idx3-ubyte.gz' in str(err.value) and 'sha256' in str(err.value)
    assert not os.path.exists(target)   # the folder the failed download made is gone


def test_download_failure_says_what_to_do(tmp_path, clean_env, monkeypatch):
    monkeypatch.setattr(datasets, 'MNIST_URL', file_url(os.path.join(str(tmp_path), 'nowhere')))
    with pytest.raises(DataError) as err:
        datasets.load_mnist()
    message = str(err.value)
    assert message.startswith('datasets: could not download file://')
    assert os.path.abspath(os.path.join('data', 'mnist')) in message
    assert '--data-dir' in message and '\n' not in message
    assert not os.path.exists('data')   # no empty ./data/mnist left behind


def test_failed_download_keeps_a_folder_that_was_there(tmp_path, clean_env, monkeypatch):
    monkeypatch.setattr(datasets, 'MNIST_URL', file_url(os.path.join(str(tmp_path), 'nowhere')))
    os.makedirs(os.path.join('data', 'mnist'))
    with pytest.raises(DataError):
        datasets.load_mnist()
    assert os.listdir(os.path.join('data', 'mnist')) == []


def test_download_cifar10(tmp_path, clean_env, monkeypatch):
    batches = make_cifar(mkdir(tmp_path, 'src', 'cifar-10-batches-py'), per_batch=4)
    archive = os.path.join(str(tmp_path), 'cifar-10-python.tar.gz')
    with tarfile.open(archive, 'w:gz') as tar:
        tar.add(os.path.join(str(tmp_path), 'src', 'cifar-10-batches-py'),
                arcname='cifar-10-batches-py')
    monkeypatch.setattr(datasets, 'CIFAR10_URL', 'file://' + archive)
    monkeypatch.setattr(datasets, 'CIFAR10_MD5', (digest(archive, 'md5'),))
    data = datasets.load_cifar10(n_valid=4)
    assert np.array_equal(data['valid'][0].reshape(4, 3072), batches[4][0])
    assert os.listdir(os.path.join('data', 'cifar10')) == ['cifar-10-batches-py']


def test_download_svhn(tmp_path, clean_env, monkeypatch):
    server = mkdir(tmp_path, 'server')
    files = make_svhn(server, extra=False)
    monkeypatch.setattr(datasets, 'SVHN_URL', file_url(server))
    monkeypatch.setattr(datasets, 'SVHN_MD5', dict(
        (n, (digest(os.path.join(server, n), 'md5'),)) for n in os.listdir(server)))
    target = os.path.join(str(tmp_path), 'target')
    data = datasets.load_svhn(target, use_extra=False, valid_per_class=(4, 2))
    assert sorted(os.listdir(target)) == ['test_32x32.mat', 'train_32x32.mat']
    assert len(data['valid'][0]) == 40 and len(data['train'][0]) == len(files['train'][1]) - 40


# ---------------------------------------------------------------- CIFAR-10

@pytest.mark.parametrize('style', [2, 3])
def test_cifar_pickles_of_both_pythons(tmp_path, style):
    batches = make_cifar(tmp_path, per_batch=6, style=style)
    data = datasets.load_cifar10(str(tmp_path), download=False, n_valid=8)
    check_sets(data, (22, 8, 6))
    all_x = np.concatenate([x for x, _ in batches[:5]])
    all_y = np.concatenate([y for _, y in batches[:5]])
    X = np.concatenate([data['train'][0], data['valid'][0]])
    assert X.shape == (30, 3, 32, 32)
    # Row layout: 1024 red, 1024 green, 1024 blue values, each row-major.
    assert X[7, 1, 2, 3] == all_x[7, 1024 + 2 * 32 + 3]
    assert np.array_equal(X.reshape(30, 3072), all_x)
    assert np.array_equal(np.concatenate([data['train'][1], data['valid'][1]]), all_y)
    assert np.array_equal(data['test'][1], batches[5][1])


def test_cifar_truncated_pickle(tmp_path):
    make_cifar(tmp_path, per_batch=4)
    path = os.path.join(str(tmp_path), 'data_batch_3')
    truncate_to_half(path)
    with pytest.raises(DataError) as err:
        datasets.load_cifar10(str(tmp_path), download=False, n_valid=4)
    assert path in str(err.value) and 'truncated' in str(err.value)
    assert '\n' not in str(err.value)


def test_cifar_wrong_keys(tmp_path):
    make_cifar(tmp_path, per_batch=4)
    path = os.path.join(str(tmp_path), 'test_batch')
    with open(path, 'wb') as handle:
        pickle.dump({'pixels': np.zeros((4, 3072), np.uint8)}, handle, 2)
    with pytest.raises(DataError) as err:
        datasets.load_cifar10(str(tmp_path), download=False, n_valid=4)
    assert str(err.value) == 'datasets: %s lacks the keys data and labels (found: pixels)' % path


# ---------------------------------------------------------------- SVHN

def test_svhn_split_matches_pylearn2(tmp_path):
    files = make_svhn(tmp_path)
    data = datasets.load_svhn(str(tmp_path), download=False, valid_per_class=(4, 2))
    n_train, n_extra = len(files['train'][1]), len(files['extra'][1])
    check_sets(data, (n_train + n_extra - 60, 60, len(files['test'][1])))
    expected = pylearn2_svhn(files, (4, 2))
    for name in data:
        assert np.array_equal(data[name][0], expected[name][0]), name
        assert np.array_equal(data[name][1], expected[name][1]), name
    # 4 + 2 validation examples of every digit.
    assert np.bincount(data['valid'][1], minlength=10).tolist() == [6] * 10
    # Train and valid are disjoint and together hold every train and extra image.
    ids = np.concatenate([image_ids(data['train'][0]), image_ids(data['valid'][0])])
    everything = np.concatenate([np.arange(n_train), 2 * 65536 + np.arange(n_extra)])
    assert np.array_equal(np.sort(ids), everything)


@pytest.mark.parametrize('n, n_valid', [(73257, 4000), (531131, 2000)])
def test_pylearn2_set_order_is_ascending(n, n_valid):
    chosen = set(np.random.RandomState(0).permutation(n)[:n_valid])
    rest = list(set(np.arange(n)) - chosen)
    assert len(rest) == n - n_valid and all(np.diff(rest) > 0)


def test_svhn_labels_and_layout(tmp_path):
    files = make_svhn(tmp_path)
    X, y = datasets.load_svhn(str(tmp_path), download=False, valid_per_class=(4, 2))['test']
    source_X, source_y = files['test']
    index = image_ids(X) - 65536
    assert np.array_equal(np.sort(index), np.arange(len(source_y)))
    assert np.array_equal(y, source_y[index] % 10)
    assert set(y[source_y[index] == 10]) == set([0]) and 10 not in y
    assert np.array_equal(X[5], source_X[:, :, :, index[5]].transpose(2, 0, 1))
    assert X[5, 2, 7, 9] == source_X[7, 9, 2, index[5]]


def test_svhn_split_is_deterministic(tmp_path):
    make_svhn(tmp_path)
    first = datasets.load_svhn(str(tmp_path), download=False, valid_per_class=(4, 2))
    second = datasets.load_svhn(str(tmp_path), download=False, valid_per_class=(4, 2))
    for name in first:
        assert np.array_equal(first[name][0], second[name][0])


def test_svhn_without_extra(tmp_path):
    files = make_svhn(tmp_path, extra=False)
    data = datasets.load_svhn(str(tmp_path), download=False, use_extra=False,
                              valid_per_class=(4, 2))
    expected = pylearn2_svhn(files, (4,), extra=False)
    for name in data:
        assert np.array_equal(data[name][0], expected[name][0]), name
    assert np.bincount(data['valid'][1], minlength=10).tolist() == [4] * 10
    assert len(data['train'][0]) == len(files['train'][1]) - 40


def svhn_load_error(tmp_path, name, variables):
    """Good SVHN files, then ``name`` rewritten with ``variables``: (its path, the
    DataError of loading with extra)."""
    make_svhn(tmp_path)
    path = os.path.join(str(tmp_path), name)
    scipy.io.savemat(path, variables)
    with pytest.raises(DataError) as err:
        datasets.load_svhn(str(tmp_path), download=False, valid_per_class=(4, 2))
    return path, err.value


def test_svhn_wrong_keys(tmp_path):
    path, err = svhn_load_error(tmp_path, 'test_32x32.mat',
                                {'images': np.zeros((32, 32, 3, 2), np.uint8),
                                 'labels': np.ones((2, 1), np.uint8)})
    assert str(err) == ('datasets: %s lacks the variables X and y (found: images, labels)'
                        % path)


def test_svhn_wrong_shape_and_too_few(tmp_path):
    path, err = svhn_load_error(tmp_path, 'extra_32x32.mat',
                                {'X': np.zeros((28, 28, 1, 2), np.uint8),
                                 'y': np.ones((2, 1), np.uint8)})
    assert path in str(err) and '(28, 28, 1, 2)' in str(err)
    with pytest.raises(DataError) as err:
        datasets.load_svhn(str(tmp_path), download=False, use_extra=False,
                           valid_per_class=(10, 2))
    assert 'fewer than the 10 needed' in str(err.value)


def test_svhn_not_a_mat_file(tmp_path):
    make_svhn(tmp_path)
    path = os.path.join(str(tmp_path), 'train_32x32.mat')
    with open(path, 'wb') as handle:
        handle.write(b'MATLAB 5.0 but cut short')
    with pytest.raises(DataError) as err:
        datasets.load_svhn(str(tmp_path), download=False)
    assert path in str(err.value) and '\n' not in str(err.value)


# ---------------------------------------------------------------- augmentation

def all_crops(image, pad, fill):
    """Every (dy, dx, flip) crop of `image` padded with `fill`."""
    channels, height, width = image.shape
    padded = np.full((channels, height + 2 * pad, width + 2 * pad), fill, image.dtype)
    padded[:, pad:pad + height, pad:pad + width] = image
    crops = {}
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            crop = padded[:, dy:dy + height, dx:dx + width]
            crops[dy, dx, False], crops[dy, dx, True] = crop, crop[:, :, ::-1]
    return crops


def identify(out, X, pad, fill):
    """The (dy, dx, flip) that turned each X into out; fails if there is none."""
    found = []
    for image, result in zip(X, out):
        matches = [k for k, crop in all_crops(image, pad, fill).items()
                   if np.array_equal(crop, result)]
        assert matches, 'output is no crop of its input'
        found.append(matches[0])
    return found


def test_crop_flip_is_a_crop_of_the_padded_image():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, (12, 3, 32, 32)).astype(np.uint8)
    before = X.copy()
    out = datasets.random_crop_flip(X, np.random.RandomState(1))
    assert out.shape == X.shape and out.dtype == np.uint8 and out.flags.c_contiguous
    assert np.array_equal(X, before)
    identify(out, X, 4, 128)


def test_crop_flip_covers_all_offsets_and_flips():
    X = np.tile(np.random.RandomState(0).randint(0, 256, (1, 2, 6, 5)).astype(np.uint8),
                (600, 1, 1, 1))
    out = datasets.random_crop_flip(X, np.random.RandomState(2), pad=2, fill=7)
    found = identify(out, X, 2, 7)
    assert set((dy, dx) for dy, dx, _ in found) == set(
        (dy, dx) for dy in range(5) for dx in range(5))
    flips = sum(flip for _, _, flip in found)
    assert 240 < flips < 360
    assert np.array_equal(out, datasets.random_crop_flip(X, np.random.RandomState(2),
                                                         pad=2, fill=7))


def test_crop_flip_pads_with_fill():
    X = np.zeros((200, 1, 4, 4), np.uint8) + 200
    out = datasets.random_crop_flip(X, np.random.RandomState(3), pad=1)
    assert set(np.unique(out)) == set([128, 200])
    assert (out == 200).sum(axis=(1, 2, 3)).min() >= 9


# ---------------------------------------------------------------- real data

def test_real_mnist():
    folder = os.environ.get('GXNOR_MNIST_DIR',
                            os.path.join(ROOT, os.pardir, 'shared', 'data', 'mnist'))
    if not os.path.isdir(folder):
        reason = 'real MNIST not found in %s (set GXNOR_MNIST_DIR)' % folder
        if os.environ.get('GXNOR_REQUIRE_DATA') == '1':
            pytest.fail(reason)
        pytest.skip(reason)
    data = datasets.load_mnist(folder, download=False)
    check_sets(data, (50000, 10000, 10000))
    assert data['train'][0].shape[1:] == (1, 28, 28)
    assert data['train'][1][0] == 5
    for X, y in data.values():
        assert X.min() == 0 and X.max() == 255
        assert set(np.unique(y)) == set(range(10))
    for name in os.listdir(folder):
        if name.endswith('.gz'):
            assert digest(os.path.join(folder, name), 'sha256') in datasets.MNIST_SHA256[name]


# ---------------------------------------------------------------- named folders, test files only

def test_named_folder_that_lacks_the_files_is_an_error_not_a_download(tmp_path, clean_env,
                                                                    monkeypatch):
    serve_mnist(tmp_path, monkeypatch)
    typo = os.path.join(str(tmp_path), 'mnsit')
    with pytest.raises(DataError) as err:
        datasets.load_mnist(typo, download=None)
    assert not os.path.exists(typo)
    message = str(err.value)
    assert 'train-images-idx3-ubyte[.gz]' in message and 't10k-labels-idx1-ubyte[.gz]' in message
    assert typo in message and '--download' in message


def test_named_folder_downloads_when_asked(tmp_path, clean_env, monkeypatch):
    server, arrays = serve_mnist(tmp_path, monkeypatch)
    monkeypatch.setattr(datasets, 'MNIST_SHA256', dict(
        (n + '.gz', (digest(os.path.join(server, n + '.gz'), 'sha256'),)) for n in MNIST_NAMES))
    target = os.path.join(str(tmp_path), 'target')
    data = datasets.load_mnist(target, download=True, n_valid=10)
    assert np.array_equal(data['test'][0][:, 0], arrays['t10k-images-idx3-ubyte'])


def test_default_folder_still_downloads(tmp_path, clean_env, monkeypatch):
    server, _ = serve_mnist(tmp_path, monkeypatch)
    monkeypatch.setattr(datasets, 'MNIST_SHA256', dict(
        (n + '.gz', (digest(os.path.join(server, n + '.gz'), 'sha256'),)) for n in MNIST_NAMES))
    datasets.load_mnist(download=None, n_valid=10)
    assert len(os.listdir(os.path.join('data', 'mnist'))) == 4


def test_load_test_reads_only_the_test_files(tmp_path):
    folder = mkdir(tmp_path, 'mnist')
    arrays = make_mnist(folder)
    full = datasets.load_mnist(folder, download=False, n_valid=10)['test']
    for name in os.listdir(folder):
        if name.startswith('train-'):
            os.remove(os.path.join(folder, name))
    X, y = datasets.load_test('mnist', folder)
    assert np.array_equal(X, full[0]) and np.array_equal(y, full[1])
    assert np.array_equal(X[:, 0], arrays['t10k-images-idx3-ubyte'])


def test_load_test_cifar10_and_svhn_match_the_full_loaders(tmp_path, clean_env, monkeypatch):
    batches = make_cifar(str(tmp_path / 'cifar-10-batches-py'), per_batch=8)
    X, y = datasets.load_test('cifar10', str(tmp_path))
    assert np.array_equal(X.reshape(len(X), -1), batches[-1][0])
    monkeypatch.setenv('PYLEARN2_DATA_PATH', str(tmp_path / 'p2'))
    make_svhn(str(tmp_path / 'p2' / 'SVHN' / 'format2'))
    full = datasets.load_svhn(download=False, valid_per_class=(4, 2))['test']
    X, y = datasets.load_test('svhn')
    assert np.array_equal(X, full[0]) and np.array_equal(y, full[1])
    with pytest.raises(DataError):
        datasets.load_test('imagenet')
