"""bench/speed/bench_training.py: state bytes per configuration, the JSON file."""
import json

import pytest

from bench.speed import bench_training

# The MNIST network's weights: 32x1x5x5 + 64x32x5x5 + 1024x512 + 512x10.
WEIGHTS = 800 + 51200 + 524288 + 5120


def test_state_bytes_follow_from_the_shapes():
    # From each configuration's update graph: no training step compiled.
    flags = dict(bench_training.CONFIGS)
    by_name = dict((name, bench_training.configuration_bytes(flags[name])) for name in (
        'GXNOR, Adam-DST, int8 weights', 'GXNOR, layer-RMS-DST, int8 weights',
        'GXNOR, unit-RMS-DST, int8 weights', 'GXNOR, int8-momentum-DST, int8 weights'))
    weights, moments, _ = by_name['GXNOR, Adam-DST, int8 weights']
    assert weights == WEIGHTS
    assert moments == 2 * 4 * WEIGHTS  # two float32 moments
    # The int8 momentum lives in the weight bytes' spare bits: nothing beside them.
    for name in ('GXNOR, layer-RMS-DST, int8 weights', 'GXNOR, unit-RMS-DST, int8 weights',
                 'GXNOR, int8-momentum-DST, int8 weights'):
        weights, moments, _ = by_name[name]
        assert weights == WEIGHTS and moments == 0
    # per-output-unit RMS: one float per filter or unit (32 + 64 + 512 + 10) more than per layer
    extra = (by_name['GXNOR, unit-RMS-DST, int8 weights'][2] -
             by_name['GXNOR, layer-RMS-DST, int8 weights'][2])
    assert extra == 4 * ((32 + 64 + 512 + 10) - 4)


def test_a_tiny_run_times_and_counts_as_the_graph_says_and_writes_json(tmp_path):
    out = str(tmp_path / 'training.json')
    name = 'GXNOR, unit-RMS-DST, int8 weights'
    rows = bench_training.main(['--batch-size', '4', '--batches', '1', '--json', out,
                                '--only', name])
    assert [r['configuration'] for r in rows] == [name]
    assert rows[0]['images_per_second'] > 0
    # the compiled step's state: the bytes counted from the graph alone
    assert (rows[0]['weight_bytes'], rows[0]['weight_optimizer_bytes'],
            rows[0]['other_trained_bytes']) == bench_training.configuration_bytes(
                dict(bench_training.CONFIGS)[name])
    saved = json.load(open(out))
    assert [r['configuration'] for r in saved['rows']] == [name]
    assert saved['batch_size'] == 4
    assert saved['command'].startswith('python bench/speed/bench_training.py ')


def test_unknown_configuration_is_one_error_line():
    with pytest.raises(SystemExit) as stop:
        bench_training.main(['--only', 'nonsense'])
    assert str(stop.value).startswith('error: unknown configuration')
