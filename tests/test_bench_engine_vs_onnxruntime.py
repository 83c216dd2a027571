"""Tests of bench/speed/bench_engine_vs_onnxruntime.py: its arithmetic on made-up timings,
its thread control, and one short run on random models and images.

They need onnx and onnxruntime (``make venv-bench``; ``make test`` runs them there)
and are skipped elsewhere.
"""
from __future__ import absolute_import, division, print_function

import json
import os

import numpy as np
import pytest

try:
    import onnx  # noqa: F401
    import onnxruntime  # noqa: F401
except ImportError as exc:
    pytest.skip('the engine-vs-ONNX-Runtime bench needs onnx and onnxruntime '
                '(make venv-bench): %s' % exc, allow_module_level=True)

import engine_models as em  # noqa: E402
from bench.speed import bench_engine_vs_onnxruntime as bench  # noqa: E402
from bench.speed import bench_gated_xnor as bgx  # noqa: E402
from gxnor_engine import kernels as engine_kernels  # noqa: E402


def test_summarize_pairs_rounds_and_picks_the_best_path():
    entries = [bench.Contender('engine-a-1t', 'engine', None, 'a', 1),
               bench.Contender('engine-b-1t', 'engine', None, 'b', 1),
               bench.Contender('onnxruntime-1t', 'onnxruntime', None, threads=1),
               bench.Contender('numpy-float32', 'numpy-float32', None)]
    seconds = {'engine-a-1t': [1.0, 2.0, 4.0], 'engine-b-1t': [0.5, 1.0, 0.25],
               'onnxruntime-1t': [2.0, 2.0, 2.0], 'numpy-float32': [4.0, 4.0, 8.0]}
    table, ratios = bench.summarize(entries, seconds, 100, [1])
    assert table['engine-a-1t']['images_per_s'] == dict(min=25.0, median=50.0, max=100.0)
    pair = ratios['engine-a-1t/onnxruntime-1t']
    assert pair['rounds'] == [2.0, 1.0, 0.5] and pair['median'] == 1.0 and pair['min'] == 0.5
    best = ratios['engine-1t/onnxruntime-1t']
    assert best['contender'] == 'engine-b-1t' and best['path'] == 'b'
    assert best['rounds'] == [4.0, 2.0, 8.0] and best['median'] == 4.0
    assert ratios['engine-1t/numpy-float32']['rounds'] == [8.0, 4.0, 32.0]


def test_engine_threads_change_inside_the_process():
    try:
        kernels = engine_kernels.select('c')[0]
    except engine_kernels.KernelError as exc:
        pytest.skip('no compiled kernels here: %s' % exc)
    if not kernels.openmp:
        pytest.skip('kernels built without OpenMP')
    before = kernels.threads
    try:
        assert bench.set_engine_threads(kernels, 1) == 1
        assert bench.set_engine_threads(kernels, 2) == 2
    finally:
        bench.set_engine_threads(kernels, before)


def small_cifar_layers():
    act = em.act_spec()
    return [dict(kind='input', shape=[3, 32, 32]),
            em.conv_spec('conv1', 8, (3, 3), pad=(1, 1)), em.pool_spec(2),
            em.bn_spec('conv1_bn', [0, 2, 3]), act,
            em.dense_spec('fc2', 10), em.bn_spec('fc2_bn', [0])]


def test_a_short_run_writes_the_report(tmpdir, capsys, monkeypatch):
    """Random MNIST-architecture model, a small stand-in for the CIFAR-10 network,
    random images: every contender timed, ONNX Runtime exact, the ratios the
    round times give."""
    rng = np.random.RandomState(3)

    def images(data_dir, limit, dataset='mnist', input_shape=(1, 28, 28), **kw):
        X = rng.randint(0, 256, size=(limit or 24,) + tuple(input_shape)).astype(np.uint8)
        y = rng.randint(0, 10, size=len(X))
        return X, y, 'random test images'
    monkeypatch.setattr(bgx, 'load_images', images)
    monkeypatch.setattr(bgx, 'cifar10_layers', small_cifar_layers)
    model = os.path.join(str(tmpdir), 'mnist.npz')
    bgx.random_mnist_model(model, images(None, 64)[0])
    report = os.path.join(str(tmpdir), 'report.json')
    argv = [model, '--limit', '24', '--cifar-images', '12', '--rounds', '5', '--json', report]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    assert 'engine-1t/onnxruntime-1t' in out and 'wrote       %s' % report in out
    with open(report) as handle:
        saved = json.load(handle)
    assert saved['command'].endswith('bench/speed/bench_engine_vs_onnxruntime.py ' + ' '.join(argv))
    assert sorted(saved['networks']) == ['cifar10', 'mnist']
    expected = ['numpy-float32', 'onnxruntime-1t', 'onnxruntime-2t']
    for path in bench.engine_paths():
        expected += ['engine-numpy'] if path == 'numpy' else [
            'engine-%s-%dt' % (path, threads) for threads in (1, 2)]
    for name, network in saved['networks'].items():
        assert sorted(network['contenders']) == sorted(expected)
        for entry in network['contenders'].values():
            assert len(entry['round_seconds']) == 5
            ips = entry['images_per_s']
            assert 0 < ips['min'] <= ips['median'] <= ips['max']
        check = network['exactness']
        assert check['onnxruntime_predictions_differ'] == {'onnxruntime-1t': 0,
                                                           'onnxruntime-2t': 0}
        assert check['images_with_differing_sums'] == 0 and check['engine_contenders_identical']
        assert check['images'] == (24 if name == 'mnist' else 12)
    mnist = saved['networks']['mnist']
    assert sorted(saved['ratios']) == ['engine-1t/onnxruntime-1t', 'engine-2t/onnxruntime-2t']
    for key, value in saved['ratios'].items():
        best = mnist['ratios'][key]
        engine = mnist['contenders'][best['contender']]['round_seconds']
        onnx_seconds = mnist['contenders'][key.split('/')[1]]['round_seconds']
        assert value == best['median'] == pytest.approx(
            np.median(np.divide(onnx_seconds, engine)), rel=1e-12)
    assert 'accuracy' in mnist and 'accuracy' not in saved['networks']['cifar10']


def test_too_few_rounds_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        bench.main(['--rounds', '3'])
    assert info.value.code == 2 and '--rounds must be >= 5' in capsys.readouterr().err
