"""cifar10.py on the real CIFAR-10 (the JPEG copy that `make cifar10-data` builds in the
official Python format): the splits as loaded, and short trainings that learn.

Runs on generated files in the official format are in test_scripts.py; these need the
real data (skipped without it, failed where GXNOR_REQUIRE_DATA=1, as in CI).
"""
import json
import os
import pickle
import sys

import numpy as np
import pytest

import cifar10

SIZES = dict(train=45000, valid=5000, test=10000)
# The official CIFAR-10's 50,000 training images: mean pixel value 120.71 and channel
# means (R, G, B) 125.31, 122.95, 113.87 (the usual 0.4914, 0.4822, 0.4465 x 255).  The
# JPEG copy measured 120.69 and 125.27, 122.93, 113.86.
MEAN = 120.7
CHANNEL_MEANS = (125.31, 122.95, 113.87)


def read_batch(cifar10_dir, name):
    """One batch file as pickled, read here without datasets.py: (data, labels)."""
    folder = cifar10_dir
    if os.path.isfile(os.path.join(folder, 'cifar-10-batches-py', name)):
        folder = os.path.join(folder, 'cifar-10-batches-py')
    with open(os.path.join(folder, name), 'rb') as handle:
        if sys.version_info[0] >= 3:
            batch = pickle.load(handle, encoding='bytes')
        else:
            batch = pickle.load(handle)
    batch = dict((k.decode('ascii') if isinstance(k, bytes) else k, v) for k, v in batch.items())
    return np.asarray(batch['data']), np.asarray(batch['labels'])


def test_real_cifar10_has_pylearn2s_split(cifar10_data):
    assert list(cifar10_data) == ['train', 'valid', 'test']
    for name, (X, y) in cifar10_data.items():
        assert X.shape == (SIZES[name], 3, 32, 32) and X.dtype == np.uint8, name
        assert y.shape == (SIZES[name],) and y.dtype.kind == 'i', name
        assert y.min() == 0 and y.max() == 9, name


def test_real_cifar10_classes_are_balanced(cifar10_data):
    """5,000 training images per class (train and valid together), 1,000 test images."""
    labels = np.concatenate([cifar10_data['train'][1], cifar10_data['valid'][1]])
    assert np.bincount(labels, minlength=10).tolist() == [5000] * 10
    assert np.bincount(cifar10_data['test'][1], minlength=10).tolist() == [1000] * 10


def test_real_cifar10_pixel_means(cifar10_data):
    """The 50,000 training images' mean pixel value and, in channel-major order (red,
    green, blue planes), their channel means: within 0.1 and 0.2 of the official files'."""
    parts = [cifar10_data['train'][0], cifar10_data['valid'][0]]
    sums = sum(X.sum(axis=(0, 2, 3), dtype=np.float64) for X in parts)
    channel_means = sums / (50000 * 32 * 32)
    assert abs(channel_means.mean() - MEAN) <= 0.1, channel_means.mean()
    assert np.allclose(channel_means, CHANNEL_MEANS, rtol=0, atol=0.2), channel_means


def test_real_cifar10_validation_is_the_end_of_data_batch_5(cifar10_dir, cifar10_data):
    """pylearn2's CIFAR10('train', start=45000, stop=50000): the last 5,000 images of
    data_batch_5; the training set ends with its first 5,000.  The test set is test_batch."""
    data, labels = read_batch(cifar10_dir, 'data_batch_5')
    assert data.shape == (10000, 3072) and data.dtype == np.uint8 and labels.shape == (10000,)
    X_val, y_val = cifar10_data['valid']
    assert np.array_equal(X_val.reshape(5000, 3072), data[5000:])
    assert np.array_equal(y_val, labels[5000:])
    X_train, y_train = cifar10_data['train']
    assert np.array_equal(X_train[-5000:].reshape(5000, 3072), data[:5000])
    assert np.array_equal(y_train[-5000:], labels[:5000])
    data, labels = read_batch(cifar10_dir, 'test_batch')
    assert np.array_equal(cifar10_data['test'][0].reshape(10000, 3072), data)
    assert np.array_equal(cifar10_data['test'][1], labels)


# ---------------------------------------------------------------- short trainings

# 1,000 training images, batch 50, the snap epoch 0 (learning rate 0) then 2 epochs at
# LR 0.01 -> 0.003, with the default augmentation, on a narrow network (widths
# 16,32,64,128 instead of the paper's 128,256,512,1024); error on the first 1,000 test
# images, at the best of the first 500 validation images' epochs.  Chance is 90%.
# Measured test error (%) at seeds 1, 2, 3, 4 on Python 3.11 (Theano 1.0.5):
#   gxnor 74.4, 75.5, 75.8, 73.4;  fp 75.2, 70.2, 76.1, 73.2
# and at seeds 1, 2 on Python 2.7 (Theano 0.8.2): gxnor 74.0, 73.7;  fp 75.2, 70.1
# (Theano's OpenMP off; with it on, as here on 2 cores, seed 1: gxnor 74.4, fp 74.7 on 3.11,
# gxnor 74.0, fp 75.2 on 2.7).
# Required (seed 1): at most 80%, 3.9 points above the worst of those 12 runs and 10
# points below chance.  Epoch 0 measured 87.6% to 91.4%.  Each test took 17 to 27 s of
# one core's time on either Python (OpenMP off, Theano's compile cache warm, about 10 s
# of it compiling; measured on a busy machine: idle takes no longer).
TRAINING = ['--widths', '16,32,64,128', '--train-size', '1000', '--val-size', '500',
            '--test-size', '1000', '--batch-size', '50', '--lr-start', '0.01',
            '--lr-end', '0.003']
EPOCHS = 2
MAX_TEST_ERR = 80.0


def train(cifar10_dir, tmp_path, method, seed=1):
    argv = ['--data-dir', cifar10_dir, '--method', method, '--seed', str(seed),
            '--results-dir', str(tmp_path / 'results'),
            '--weights-dir', str(tmp_path / 'weights')] + TRAINING
    return cifar10.main(argv, num_epochs=EPOCHS)


@pytest.mark.parametrize('method', ['gxnor', 'fp'])
def test_short_training_on_real_cifar10_learns(cifar10_dir, tmp_path, method):
    summary = train(cifar10_dir, tmp_path, method)
    assert summary['method'] == method and summary['epochs_done'] == EPOCHS
    with open(os.path.join(summary['results'], 'results.json')) as handle:
        results = json.load(handle)
    history = results['history']
    assert [h['epoch'] for h in history] == list(range(EPOCHS + 1))
    # Epoch 0 trains at learning rate 0: the untrained network is near chance.
    assert history[0]['test_err'] >= 80.0, history[0]
    # The model kept is a trained epoch's, and its test error is well below chance.
    assert summary['best_val_epoch'] >= 1
    assert results['test_err_at_best_val'] == summary['test_err_at_best_val']
    assert summary['test_err_at_best_val'] <= MAX_TEST_ERR, history


# ---------------------------------------------------------------- --widths

def test_widths_set_the_networks_layers():
    """--widths C1,C2,C3,FC: the three conv stages' filters and the hidden dense units;
    the default is the paper's network."""
    import lasagne
    import theano.tensor as T
    import run_options

    def layer_widths(argv):
        args = run_options.parse_args(cifar10.EXPERIMENT, argv + ['--epochs', '1'])
        net = cifar10.build_network(T.tensor4('x'), args)
        return [layer.W.get_value().shape[0] if layer.W.ndim == 4 else layer.W.get_value().shape[1]
                for layer in lasagne.layers.get_all_layers(net) if hasattr(layer, 'W')]

    assert layer_widths([]) == [128, 128, 256, 256, 512, 512, 1024, 10]
    assert layer_widths(['--widths', '8,16,24,40']) == [8, 8, 16, 16, 24, 24, 40, 10]


@pytest.mark.parametrize('value', ['32,64,128', '32,64,x,256', '0,64,128,256', '-8,8,8,8'])
def test_bad_widths_are_one_error_line(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cifar10.main(['--widths', value, '--data-dir', 'nowhere'])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('cifar10: error: argument --widths: expected four')


def test_a_network_too_big_for_memory_is_one_error_line(tmp_path, capsys):
    """--widths 100000,100000,8,8: a 671 GiB weight array, refused in one line saying
    how much it needs against the machine's memory (no MemoryError traceback).  NumPy
    before 1.17 (Python 2.7's) does not say how much it failed to allocate."""
    from data_files import make_cifar
    make_cifar(str(tmp_path / 'cifar-10-batches-py'), per_batch=1010)
    with pytest.raises(SystemExit) as exit_info:
        cifar10.main(['--widths', '100000,100000,8,8', '--data-dir', str(tmp_path),
                      '--batch-size', '10',
                      '--results-dir', str(tmp_path / 'results')], num_epochs=1)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'the network does not fit in memory: it needs ' in err[0]
    if hasattr(np.core, '_exceptions'):   # NumPy >= 1.17: the size of the array
        assert 'it needs 671 GiB for one weight array of shape (100000, 100000, 3, 3)' in err[0]
    assert 'this machine has' in err[0] and not (tmp_path / 'results').exists()
