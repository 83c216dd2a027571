"""bench/speed/bench_cpu_step.py: parts of the MNIST step, images/s per variant."""
import json
import os

from bench.speed import bench_cpu_step
from conftest import ROOT


def test_categorize_by_op_and_shape():
    cat = bench_cpu_step.categorize
    assert cat('CorrMM', [(8, 1, 28, 28), (32, 1, 5, 5)], [(8, 32, 24, 24)], 8) == 'conv_dense'
    assert cat('Dot22Scalar', [(512, 8), (8, 10)], [(512, 10)], 8) == 'conv_dense'
    assert cat('MaxPoolGrad', [(8, 32, 24, 24)], [(8, 32, 24, 24)], 8) == 'pooling'
    assert cat('mrg_uniform', [(6,)], [(6,), (32, 1, 5, 5)], 8) == 'random'
    assert cat('Sum', [(8, 32, 12, 12)], [(32,)], 8) == 'batch_sums'
    assert cat('Elemwise', [(8, 32, 12, 12), (1, 32, 1, 1)], [(8, 32, 12, 12)], 8) == \
        'batch_elementwise'
    assert cat('Elemwise', [(512, 10), (512, 10)], [(512, 10)], 8) == 'update'
    assert cat('Reshape', [(8, 64, 4, 4)], [(8, 1024)], 8) == 'other'


def test_median():
    assert bench_cpu_step.median([3.0, 1.0, 2.0]) == 2.0
    assert bench_cpu_step.median([4.0, 1.0, 2.0, 3.0]) == 2.5


def test_tiny_run_writes_every_variant_with_its_profile(tmp_path, monkeypatch):
    # --quick: the profiled process per variant only (two processes, not four).  The bench's
    # logic on tests/tiny_mnist.py's network (conv, pooling, batch norm, dense, DST): the
    # same parts as mnist.py's step, compiled in a fraction of the time (once more for the
    # openmp=False variant, whose modules no other test compiles).
    monkeypatch.setenv('PYTHONPATH', os.pathsep.join(
        [os.path.join(ROOT, 'tests')] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
    out = str(tmp_path / 'step.json')
    assert bench_cpu_step.main(['--out', out, '--batch-size', '8', '--steps', '1',
                                '--quick', '--script', 'tiny_mnist']) == 0
    with open(out) as handle:
        saved = json.load(handle)
    assert saved['script'] == 'tiny_mnist'
    variants = saved['variants']
    assert [v['openmp'] for v in variants] == [False, True]
    assert variants[0]['speedup'] == 1.0
    for variant in variants:
        assert len(variant['runs']) == 1 and variant['images_per_second'] > 0
        shares = variant['profile_share']
        assert abs(sum(shares.values()) - 1.0) < 1e-6
        # every part of the GXNOR step is there: products, pooling, batch norm, DST
        for part in ('conv_dense', 'pooling', 'batch_sums', 'batch_elementwise', 'update',
                     'random'):
            assert shares[part] > 0, part
    # same seed and inputs: OpenMP changes the speed, not the numbers
    assert variants[0]['runs'][0]['loss'] == variants[1]['runs'][0]['loss']


def test_without_quick_timed_runs_in_turns_then_one_profiled_run_each(tmp_path, monkeypatch):
    calls = []

    def fake_run(flags, batch, steps, profile, script):
        assert script == 'mnist'   # the default
        calls.append((flags, batch, steps, profile))
        speed = float(len(calls)) * (2 if flags == 'openmp=True' else 1)
        run = dict(images_per_second=speed, seconds_per_step=1.0, loss=0.5,
                   openmp=flags == 'openmp=True')
        if profile:
            run.update(profile_share={'update': 1.0}, profile_op_share={'Elemwise': 1.0})
        return run
    monkeypatch.setattr(bench_cpu_step, '_run_variant', fake_run)
    out = str(tmp_path / 'step.json')
    assert bench_cpu_step.main(['--out', out, '--batch-size', '5', '--steps', '20',
                                '--repeats', '3']) == 0
    off, on = 'openmp=False', 'openmp=True'
    assert calls == [(off, 5, 20, False), (on, 5, 20, False)] * 3 + [
        (off, 5, 5, True), (on, 5, 5, True)]
    with open(out) as handle:
        saved = json.load(handle)
    assert saved['repeats'] == 3 and 'quick' not in saved
    before, after = saved['variants']
    assert [r['images_per_second'] for r in before['runs']] == [1.0, 3.0, 5.0]
    assert before['images_per_second'] == 3.0 and after['images_per_second'] == 8.0
    assert after['speedup'] == 8.0 / 3.0 and after['profile_share'] == {'update': 1.0}
