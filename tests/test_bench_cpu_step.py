"""bench/bench_cpu_step.py: parts of the MNIST step, images/s per variant."""
import json
import os
import sys

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, 'bench'))
import bench_cpu_step  # noqa: E402


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


def test_tiny_run_writes_every_variant_with_its_profile(tmp_path):
    out = str(tmp_path / 'step.json')
    assert bench_cpu_step.main(['--out', out, '--batch-size', '8', '--steps', '1',
                                '--repeats', '1']) == 0
    with open(out) as handle:
        saved = json.load(handle)
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
