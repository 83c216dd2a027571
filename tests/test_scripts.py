"""cifar10.py and svhn.py end to end, one short epoch on generated files in the
official formats (the real data sets cannot be downloaded here).

The networks have the paper's layers with 8-16 filters a layer (``--widths``): every
step of a run is the same, in half the time of the paper's widths on a CPU
(tests/test_cifar10.py checks that the default widths are the paper's)."""
import json

import numpy as np

import cifar10
import svhn
from data_files import make_cifar, make_svhn_file


def common_flags(tmp_path, data_dir):
    return ['--data-dir', str(data_dir), '--batch-size', '20', '--train-size', '40',
            '--val-size', '20', '--test-size', '20', '--eval-batch-size', '20',
            '--widths', '8,8,16,16', '--results-dir', str(tmp_path / 'results'),
            '--weights-dir', str(tmp_path / 'weights')]


def check_outputs(tmp_path, summary, conv_names):
    assert summary['epochs_done'] == 1
    model = np.load(summary['model'])
    meta = json.loads(str(model['__meta__']))
    assert [l['name'] for l in meta['layers'] if l['kind'] == 'conv'] == conv_names
    for name in conv_names + ['fc1', 'fc2']:
        assert np.isin(model[name + '.W'], [-1, 0, 1]).all()
    assert (tmp_path / 'results' / summary['run'] / 'results.mat').exists()


def test_cifar10_one_epoch_with_augmentation(tmp_path, capsys):
    make_cifar(str(tmp_path / 'cifar-10-batches-py'), per_batch=1010)  # 45 train after 5k valid
    summary = cifar10.main(common_flags(tmp_path, tmp_path), num_epochs=1)
    check_outputs(tmp_path, summary, ['conv1a', 'conv1b', 'conv2a', 'conv2b', 'conv3a', 'conv3b'])
    out = capsys.readouterr().out
    assert 'augment            = True' in out and 'dense_init_scale   = 1.5' in out
    assert 'lr_drops           = [1000, 1600]' in out


def make_svhn_files(folder):
    rng = np.random.RandomState(0)
    for name, per_class in (('train', 410), ('extra', 210), ('test', 3)):
        labels = np.repeat(np.arange(1, 11), per_class)
        rng.shuffle(labels)
        make_svhn_file(str(folder / (name + '_32x32.mat')), labels, 0, rng)


def test_svhn_one_epoch_with_extra(tmp_path, capsys):
    make_svhn_files(tmp_path)
    summary = svhn.main(common_flags(tmp_path, tmp_path), num_epochs=1)
    check_outputs(tmp_path, summary, ['conv1a', 'conv1b', 'conv2a', 'conv2b', 'conv3a', 'conv3b'])
    out = capsys.readouterr().out
    assert 'Data: 40 training, 20 validation, 20 test' in out and 'extra              = True' in out


def test_svhn_takes_a_compared_method(tmp_path):
    """The dataset scripts hold no method code: --method reaches their blocks."""
    make_svhn_files(tmp_path)
    summary = svhn.main(common_flags(tmp_path, tmp_path) + ['--method', 'xnor'], num_epochs=1)
    model = np.load(summary['model'])
    layers = json.loads(str(model['__meta__']))['layers']
    kinds = [l['kind'] for l in layers]
    assert kinds.count('quantized_conv') == 6 and kinds.count('quantized_dense') == 2
    assert kinds.count('quantized_activation') == 7
    assert summary['method'] == 'xnor' and summary['run'].startswith('svhn-xnor-')
