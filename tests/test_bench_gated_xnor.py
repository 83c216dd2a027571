"""Tests of bench/speed/bench_gated_xnor.py."""
from __future__ import absolute_import, division, print_function

import json
import os

import numpy as np



def test_bench_runs_on_a_random_mnist_model(tmpdir, capsys, monkeypatch):
    """The engine against a float32 NumPy pass on a random MNIST model and the
    random CIFAR-10 network, without Theano: its report and its JSON."""
    from bench.speed import bench_gated_xnor as bench
    X = np.random.RandomState(16).randint(0, 256, size=(48, 1, 28, 28)).astype(np.uint8)
    path = os.path.join(str(tmpdir), 'random.npz')
    bench.random_mnist_model(path, X)
    monkeypatch.setattr(bench, 'load_images', lambda data_dir, limit, **kw: (X, None, 'random'))
    report = os.path.join(str(tmpdir), 'bench.json')
    assert bench.main([path, '--batch-size', '20', '--cifar-random', '--cifar-images', '6',
                       '--repeat', '2', '--no-theano', '--json', report]) == 0
    out = capsys.readouterr().out
    assert 'images/s' in out and 'model size' in out and 'cifar10     random model' in out
    # float32 rounding may flip a unit that sits on a threshold: not all need agree.
    agree = int(out.split('agreement')[1].split('/')[0])
    assert agree >= 40
    with open(report) as handle:
        saved = json.load(handle)
    assert saved['mnist']['agree'] == agree and saved['mnist']['images'] == 48
    assert saved['cifar10_random']['images'] == 6 and saved['cifar10_random']['ratio'] > 0
    assert len(saved['mnist']['round_ratios']) == 2 and saved['dataset'] == 'mnist'
    assert saved['mnist']['differ_float32'] == 48 - agree and 'theano' not in saved['mnist']
    assert saved['command'].endswith('--json ' + report) and saved['date'][:2] == '20'
