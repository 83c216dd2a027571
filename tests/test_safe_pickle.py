"""safe_pickle: a CIFAR-10 batch is read without running anything it names."""
import collections
import io
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import datasets
import safe_pickle
from conftest import ROOT
from data_files import make_cifar


def command_pickle(command):
    """Protocol-2 bytes that call ``os.system(command)`` when pickle.load reads them
    (written opcode by opcode: the same bytes on Python 2.7 and 3)."""
    module = 'posix' if os.name == 'posix' else 'nt'
    text = command.encode('ascii')
    return (b'\x80\x02c' + module.encode('ascii') + b'\nsystem\n' + b'U' +
            bytes(bytearray([len(text)])) + text + b'\x85R.')


def test_the_crafted_pickle_runs_its_command_under_pickle_load(tmp_path):
    """The attack the loader must stop is real: plain pickle.load runs it."""
    marker = tmp_path / 'ran'
    pickle.loads(command_pickle('touch %s' % marker))
    assert marker.exists()


def test_a_crafted_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / 'ran'
    with pytest.raises(safe_pickle.RefusedPickle) as info:
        safe_pickle.load(io.BytesIO(command_pickle('touch %s' % marker)))
    assert 'posix.system' in str(info.value) or 'nt.system' in str(info.value)
    assert not marker.exists()


def test_a_pickle_of_another_class_is_refused():
    data = pickle.dumps(collections.OrderedDict([('data', 1)]), 2)
    with pytest.raises(safe_pickle.RefusedPickle) as info:
        safe_pickle.load(io.BytesIO(data))
    assert 'collections.OrderedDict' in str(info.value)


@pytest.mark.parametrize('protocol', [0, 1, 2, pickle.HIGHEST_PROTOCOL])
def test_batches_as_numpy_pickles_them_load_equal(protocol):
    """Every name a pickled uint8 array, int list or NumPy scalar needs is allowed."""
    batch = {'batch_label': 'training batch 1 of 5', 'labels': [3, 7, 0],
             'data': np.arange(3 * 3072, dtype=np.uint8).reshape(3, 3072),
             'filenames': ['a.png', 'b.png', 'c.png'], 'count': np.int64(3)}
    loaded = safe_pickle.load(io.BytesIO(pickle.dumps(batch, protocol)))
    assert sorted(loaded) == sorted(batch)
    assert np.array_equal(loaded['data'], batch['data']) and loaded['data'].dtype == np.uint8
    assert loaded['labels'] == [3, 7, 0] and loaded['count'] == 3


def test_load_cifar10_refuses_a_crafted_batch_in_one_line(tmp_path):
    make_cifar(str(tmp_path), per_batch=4)
    marker = tmp_path / 'ran'
    with open(str(tmp_path / 'data_batch_1'), 'wb') as handle:
        handle.write(command_pickle('touch %s' % marker))
    with pytest.raises(datasets.DataError) as info:
        datasets.load_cifar10(str(tmp_path), download=False, n_valid=4)
    message = str(info.value)
    assert 'data_batch_1 is not a CIFAR-10 batch' in message and 'system' in message
    assert 'nothing in it was run' in message and '\n' not in message
    assert not marker.exists()


def test_cifar10_py_with_a_crafted_batch_exits_2_with_one_line(tmp_path):
    make_cifar(str(tmp_path), per_batch=4)
    marker = tmp_path / 'ran'
    with open(str(tmp_path / 'data_batch_3'), 'wb') as handle:
        handle.write(command_pickle('touch %s' % marker))
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, 'cifar10.py'), '--data-dir',
                             str(tmp_path), '--results-dir', str(tmp_path / 'results'),
                             '--epochs', '1'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(tmp_path))
    out, err = proc.communicate()
    lines = err.decode('utf-8').strip().splitlines()
    assert proc.returncode == 2, (out, err)
    assert len(lines) == 1 and lines[0].startswith('cifar10: error: '), lines
    assert 'data_batch_3 is not a CIFAR-10 batch' in lines[0]
    assert not marker.exists()
