"""Tests of gxnor_engine/command.py."""
from __future__ import absolute_import, division, print_function

import glob
import os
import shutil
import sys

import numpy as np
import pytest

from conftest import ROOT, real_mnist_dir
from engine_models import fake_datasets, mnist_like_layers, rewrite, set_item, write_model
from gxnor_engine.command import data_folder, main
from gxnor_engine.model import load_model
from gxnor_engine.spec import ModelError


def test_command_reports(tmpdir, capsys, monkeypatch):
    path, _ = write_model(tmpdir, mnist_like_layers(), (1, 16, 16), 11)
    X = np.random.RandomState(12).randint(0, 256, size=(30, 1, 16, 16)).astype(np.uint8)
    y = load_model(path).predict(X).astype(np.int32)
    y[:3] = (y[:3] + 1) % 10
    monkeypatch.setitem(sys.modules, 'datasets', fake_datasets(X, y))
    assert main([path, '--batch-size', '7', '--limit', '20']) == 0
    out = capsys.readouterr().out
    assert 'accuracy    85.00% (17/20 test images)' in out
    for word in ('conv1', 'fc4', 'gate skips', 'images/s', 'packed', 'float32'):
        assert word in out


def test_command_errors(tmpdir, capsys):
    assert main([os.path.join(str(tmpdir), 'missing.npz')]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and err.count('\n') == 1
    path, _ = write_model(tmpdir, mnist_like_layers(), (1, 16, 16), 13)
    rewrite(path, lambda m, a: a['fc3.W'].__setitem__((0, 0), 0.3))
    assert main([path]) == 2
    assert 'off the grid' in capsys.readouterr().err


def test_command_popcount_option(tmpdir, capsys, monkeypatch):
    path, _ = write_model(tmpdir, mnist_like_layers(), (1, 16, 16), 14)
    X = np.random.RandomState(15).randint(0, 256, size=(9, 1, 16, 16)).astype(np.uint8)
    monkeypatch.setitem(sys.modules, 'datasets', fake_datasets(X, np.zeros(9, np.int32)))
    assert main([path, '--popcount', 'table']) == 0
    assert 'carry-save + lookup table' in capsys.readouterr().out


def test_command_tells_a_model_file_from_other_files(tmpdir, capsys):
    text = os.path.join(str(tmpdir), 'notes.txt')
    with open(text, 'w') as handle:
        handle.write('not a model\n')
    assert main([text]) == 2
    assert capsys.readouterr().err == 'error: %s: not a model file (not an .npz archive)\n' % text
    assert main([str(tmpdir)]) == 2
    assert capsys.readouterr().err == 'error: %s: is a folder, not a model file\n' % tmpdir


def test_command_needs_only_the_test_files(tmpdir, capsys):
    """The committed model on a folder holding only MNIST's two test files."""
    folder = os.path.join(str(tmpdir), 'only-test')
    os.mkdir(folder)
    for name in os.listdir(real_mnist_dir()):
        if name.startswith('t10k-'):
            shutil.copy(os.path.join(real_mnist_dir(), name), folder)
    model = sorted(glob.glob(os.path.join(ROOT, 'weights', 'mnist-gxnor*.npz')))[0]
    assert main([model, '--data-dir', folder, '--limit', '300']) == 0
    out = capsys.readouterr().out
    assert '/300 test images), error ' in out


def test_a_model_cut_short_is_refused(tmpdir, capsys):
    """A layer list that lost its last two layers (fc4 and its batch norm) ends on
    fc3's 20 hidden units, whose argmax is no class: the loader refuses it where
    the file states its classes (as the harness's files do), the command where
    its data set's classes say so."""
    path, _ = write_model(tmpdir, mnist_like_layers(), (1, 16, 16), 17)
    assert load_model(path).output_width == 10
    rewrite(path, lambda m, a: set_item(m, 'layers', m['layers'][:-2]))
    assert load_model(path).output_width == 20       # states no classes: loads
    why = 'the network has 20 outputs (after layer fc3), not the 10 classes %s: ' \
          'is its layer list cut short?'
    assert main([path]) == 2
    assert capsys.readouterr().err == 'error: %s: %s\n' % (path, why % 'of mnist')
    rewrite(path, lambda m, a: set_item(m, 'classes', 10))
    with pytest.raises(ModelError) as info:
        load_model(path)
    assert str(info.value) == '%s: %s' % (path, why % 'the file states')
    assert main([path]) == 2
    assert capsys.readouterr().err == 'error: %s: %s\n' % (path, why % 'the file states')


def test_data_folder_order(monkeypatch):
    """--data-dir, else $GXNOR_<DATASET>_DIR, else datasets.py's own search."""
    monkeypatch.setenv('GXNOR_CIFAR10_DIR', '/from/env')
    monkeypatch.delenv('GXNOR_SVHN_DIR', raising=False)
    assert data_folder('cifar10', '/given') == ('/given', '--data-dir')
    assert data_folder('cifar10') == ('/from/env', '$GXNOR_CIFAR10_DIR')
    folder, how = data_folder('svhn')
    assert folder is None and '$PYLEARN2_DATA_PATH/svhn' in how and './data/svhn' in how


def test_command_reads_the_models_data_set_from_its_folder(tmpdir, capsys, monkeypatch):
    """The model's ``dataset`` picks the folder variable and the loader's data
    set; the report says where the images came from."""
    path, _ = write_model(tmpdir, mnist_like_layers(), (1, 16, 16), 22)
    rewrite(path, lambda m, a: set_item(m, 'dataset', 'svhn'))
    X = np.random.RandomState(23).randint(0, 256, size=(6, 1, 16, 16)).astype(np.uint8)
    fake, asked = fake_datasets(X, np.zeros(6, np.int32)), []

    def load_test(name, data_dir=None):
        asked.append((name, data_dir))
        return X, np.zeros(6, np.int32)
    fake.load_test = load_test
    monkeypatch.setitem(sys.modules, 'datasets', fake)
    monkeypatch.setenv('GXNOR_SVHN_DIR', str(tmpdir))
    assert main([path, '--kernel', 'numpy']) == 0
    assert asked == [('svhn', str(tmpdir))]
    assert 'svhn test set, 6 images, from %s ($GXNOR_SVHN_DIR)' % tmpdir in capsys.readouterr().out


@pytest.mark.parametrize('flags', [['--batch-size', '0'], ['--limit', '0'],
                                   ['--kernel', 'gpu'], ['--popcount', 'fast']])
def test_command_refuses_bad_options(tmpdir, capsys, flags):
    with pytest.raises(SystemExit) as info:
        main([os.path.join(str(tmpdir), 'model.npz')] + flags)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('gated_xnor: error: '), err


def test_command_warnings_are_one_plain_line(tmpdir, capsys, monkeypatch):
    """No compiler: the fallback to NumPy is one 'gated_xnor: warning:' line, without the
    source line Python's warnings print."""
    from gxnor_engine import kernels as gk
    monkeypatch.setenv('GXNOR_KERNEL_DIR', str(tmpdir.join('cache')))
    monkeypatch.setenv('GXNOR_CC', str(tmpdir.join('no-such-cc')))
    monkeypatch.setattr(gk, '_LOADED', {})
    monkeypatch.setattr(gk, '_WARNED', set())
    path, _ = write_model(tmpdir, mnist_like_layers(), (1, 16, 16), 11)
    X = np.random.RandomState(12).randint(0, 256, size=(4, 1, 16, 16)).astype(np.uint8)
    monkeypatch.setitem(sys.modules, 'datasets', fake_datasets(X, np.zeros(4, np.int32)))
    assert main([path]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('gated_xnor: warning: C kernels unavailable, '
                                               'using NumPy: no C compiler'), err
