"""bench/bench_training.py: state bytes per configuration, the JSON file."""
import json
import os
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, 'bench'))
import bench_training  # noqa: E402

# The MNIST network's weights: 32x1x5x5 + 64x32x5x5 + 1024x512 + 512x10.
WEIGHTS = 800 + 51200 + 524288 + 5120


def test_state_bytes_and_json_of_a_tiny_run(tmp_path):
    out = str(tmp_path / 'training.json')
    rows = bench_training.main(['--batch-size', '4', '--batches', '1', '--json', out,
                                '--only', 'GXNOR, Adam-DST, int8 weights;'
                                'GXNOR, layer-RMS-DST, int8 weights;'
                                'GXNOR, unit-RMS-DST, int8 weights;'
                                'GXNOR, int8-momentum-DST, int8 weights'])
    by_name = dict((r['configuration'], r) for r in rows)
    adam = by_name['GXNOR, Adam-DST, int8 weights']
    assert adam['weight_bytes'] == WEIGHTS
    assert adam['weight_optimizer_bytes'] == 2 * 4 * WEIGHTS  # two float32 moments
    # The int8 momentum lives in the weight bytes' spare bits: nothing beside them.
    for name in ('GXNOR, layer-RMS-DST, int8 weights', 'GXNOR, unit-RMS-DST, int8 weights',
                 'GXNOR, int8-momentum-DST, int8 weights'):
        rms = by_name[name]
        assert rms['weight_bytes'] == WEIGHTS and rms['weight_optimizer_bytes'] == 0
        assert rms['images_per_second'] > 0
    # per-output-unit RMS: one float per filter or unit (32 + 64 + 512 + 10) more than per layer
    extra = (by_name['GXNOR, unit-RMS-DST, int8 weights']['other_trained_bytes'] -
             by_name['GXNOR, layer-RMS-DST, int8 weights']['other_trained_bytes'])
    assert extra == 4 * ((32 + 64 + 512 + 10) - 4)
    saved = json.load(open(out))
    assert [r['configuration'] for r in saved['rows']] == [r['configuration'] for r in rows]
    assert saved['batch_size'] == 4 and saved['command'].startswith('python bench/')


def test_unknown_configuration_is_one_error_line():
    with pytest.raises(SystemExit) as stop:
        bench_training.main(['--only', 'nonsense'])
    assert str(stop.value).startswith('error: unknown configuration')
