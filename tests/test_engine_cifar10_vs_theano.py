"""The gated-XNOR engine on a CIFAR-10 model equals Theano, prediction for prediction.

A small network of ``cifar10.py`` (its ``build_network``, narrow
``--widths``) is trained here by the harness for one epoch on a few
CIFAR-10 images, saved, and run by the engine and by Theano (the network
rebuilt from the file, deterministic pass): the predicted classes must be
identical on every test image, the scores equal within float32 rounding.
The same model then goes through ``gated_xnor.py`` (the command, finding
the test set by ``--data-dir`` and by ``$GXNOR_CIFAR10_DIR``) and
``bench/speed/bench_gated_xnor.py`` (CIFAR-10 images, its Theano comparison, its
JSON).

Images: the real CIFAR-10 (``$GXNOR_CIFAR10_DIR``, else ``data/cifar10``,
where ``cifar10.py`` looks; in this project the JPEG copy that ``make
cifar10-data`` writes), else generated ones (ten classes of smooth random
colour patterns plus noise) written as an official-format test batch, so
that the test runs without the data (unless ``GXNOR_REQUIRE_DATA=1``, where
missing data fail as in the other real-data tests) and never downloads.
"""
from __future__ import absolute_import, division, print_function

import json
import os
import pickle

import gxnor_compat  # noqa: F401  (before theano and lasagne)
import lasagne
import numpy as np
import pytest
import theano

import binary_net
import cifar10
import datasets
import gated_xnor
import model_sparsity
from conftest import ROOT

WIDTHS = '8,16,16,24'       # unequal, so a mixed-up dimension cannot pass
TRAIN, VALID, TEST = 500, 100, 2000


def real_cifar10():
    """(data, folder) of the real CIFAR-10, or (None, reason)."""
    folder = os.environ.get('GXNOR_CIFAR10_DIR') or os.path.join(ROOT, 'data', 'cifar10')
    try:
        return datasets.load_cifar10(folder, download=False), folder
    except datasets.DataError as exc:
        return None, str(exc)


def generated_cifar10(folder, seed=0):
    """Ten classes of smooth colour patterns plus noise, also written to `folder`
    as official batches (test_batch only: what the command and the bench read)."""
    rng = np.random.RandomState(seed)
    coarse = rng.uniform(0, 255, size=(10, 3, 4, 4))
    means = coarse.repeat(8, axis=2).repeat(8, axis=3)

    def draw(n):
        y = rng.randint(0, 10, size=n).astype(np.int32)
        X = means[y] + rng.normal(0, 40, size=(n, 3, 32, 32))
        return np.clip(np.round(X), 0, 255).astype(np.uint8), y
    data = dict(train=draw(TRAIN), valid=draw(VALID), test=draw(TEST))
    inner = os.path.join(folder, 'cifar-10-batches-py')
    os.makedirs(inner)
    X, y = data['test']
    with open(os.path.join(inner, 'test_batch'), 'wb') as handle:
        pickle.dump({'data': X.reshape(len(X), -1), 'labels': [int(v) for v in y]}, handle,
                    protocol=2)
    return data, folder


@pytest.fixture(scope='module')
def trained(tmpdir_factory):
    """(model path, test images, labels, data folder, data description)."""
    base = tmpdir_factory.mktemp('cifar10-engine')
    data, where = real_cifar10()
    if data is not None:
        folder, text = where, 'real CIFAR-10 (%s)' % where
    elif os.environ.get('GXNOR_REQUIRE_DATA') == '1':     # as conftest's real-data fixtures
        pytest.fail('real CIFAR-10 required (GXNOR_REQUIRE_DATA=1): %s' % where)
    else:
        data, folder = generated_cifar10(str(base.join('data')))
        text = 'generated images (no CIFAR-10: %s)' % where
    experiment = binary_net.Experiment(
        'cifar10', lambda args: data, cifar10.build_network,
        defaults=dict(cifar10.EXPERIMENT.defaults, batch_size=50, epochs=1, lr_start=0.01,
                      lr_end=0.01, augment=False),
        add_arguments=cifar10.add_arguments)
    summary = binary_net.main(experiment, [
        '--widths', WIDTHS, '--train-size', str(TRAIN), '--val-size', str(VALID),
        '--test-size', str(VALID), '--results-dir', str(base.join('results')),
        '--weights-dir', str(base.join('weights'))])
    X, y = data['test']
    return summary['model'], X[:TEST], np.asarray(y[:TEST]), folder, text


def theano_scores(path, X, batch_size=500):
    network, input_var, meta = model_sparsity.load_network(path)
    assert meta['dataset'] == 'cifar10' and meta['config']['widths'] == [8, 16, 16, 24]
    scores = theano.function([input_var], lasagne.layers.get_output(network, deterministic=True))
    return np.concatenate([scores(datasets.to_float(X[i:i + batch_size], theano.config.floatX))
                           for i in range(0, len(X), batch_size)])


def test_engine_predictions_equal_theano(trained):
    path, X, y, _, text = trained
    model = gated_xnor.load_model(path)
    assert [info['units'] for info in model.layers] == [8, 8, 16, 16, 16, 16, 24, 10], text
    expected = theano_scores(path, X)
    scores = model.forward(X)
    predictions = scores.argmax(axis=1)
    differ = np.flatnonzero(predictions != expected.argmax(axis=1))
    assert len(differ) == 0, '%s: %d of %d differ (first: %s)' % (text, len(differ), len(X),
                                                                   differ[:10])
    assert np.allclose(scores, expected, atol=1e-4 * np.abs(expected).max()), text
    # Not degenerate (one epoch on 500 images learns little: the accuracy is
    # not the point, the predictions must vary).
    assert len(set(predictions)) >= 3, text


def test_command_finds_cifar10_test_set(trained, capsys, monkeypatch):
    path, X, y, folder, _ = trained
    correct = int(np.sum(gated_xnor.load_model(path).predict(X[:300]) == y[:300]))
    assert gated_xnor.main([path, '--data-dir', folder, '--limit', '300']) == 0
    out = capsys.readouterr().out
    assert 'accuracy    %.2f%% (%d/300 test images)' % (correct / 3.0, correct) in out
    assert 'cifar10 test set, 300 images, from %s (--data-dir)' % folder in out
    monkeypatch.setenv('GXNOR_CIFAR10_DIR', folder)
    assert gated_xnor.main([path, '--limit', '300']) == 0
    out = capsys.readouterr().out
    assert '(%d/300 test images)' % correct in out and '($GXNOR_CIFAR10_DIR)' in out


def test_bench_on_cifar10_model(trained, capsys, tmpdir):
    path, X, y, folder, _ = trained
    from bench.speed import bench_gated_xnor as bench
    report = str(tmpdir.join('engine-cifar10.json'))
    assert bench.main([path, '--data-dir', folder, '--limit', '400', '--repeat', '2',
                       '--batch-size', '100', '--theano', '--json', report]) == 0
    out = capsys.readouterr().out
    assert 'theano      0/400 predictions differ from the engine' in out
    with open(report) as handle:
        saved = json.load(handle)
    result = saved['cifar10']
    assert saved['dataset'] == 'cifar10' and result['images'] == 400
    assert result['theano']['differ_engine'] == 0 and result['theano']['images'] == 400
    assert result['differ_float32'] + result['agree'] == 400
    assert len(result['round_ratios']) == 2 and result['ratio'] > 0
    source = saved['images_source']    # the project's JPEG copy is recognised and named
    assert source in ('CIFAR-10 test set (%s)' % folder,
                      'CIFAR-10 (JPEG copy) test set (%s)' % folder), source
    engine = gated_xnor.load_model(path).predict(X[:400])
    assert result['accuracy']['engine'] == np.mean(engine == y[:400])
    for key in ('command', 'date', 'machine', 'load_average'):
        assert saved[key]
