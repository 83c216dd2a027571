"""Tests of bench/speed/engine_stages.py: the per-stage table of the engine, a
baseline engine imported beside the current one, the JSON it writes."""
from __future__ import absolute_import, division, print_function

import json
import sys

import pytest

from conftest import ROOT

import engine_models as em
from bench.speed import engine_stages
from gxnor_engine import kernels as engine_kernels


@pytest.fixture
def kernels():
    try:
        return engine_kernels.load()
    except engine_kernels.KernelError as exc:
        pytest.skip('no compiled kernels (%s)' % exc)


def test_table_json_and_a_baseline_beside(kernels, tmpdir, capsys):
    path, _ = em.write_model(tmpdir, em.mnist_like_layers(), (1, 16, 16), 31)
    out = str(tmpdir.join('stages.json'))
    before = kernels.kernel_path, kernels.threads
    code = engine_stages.main(['--model', path, '--data-dir', str(tmpdir.join('none')),
                               '--images', '30', '--batch-size', '8', '--rounds', '2',
                               '--threads', '1', '--baseline', ROOT, '--json', out])
    assert code == 0
    text = capsys.readouterr().out
    assert 'random uint8 images' in text and 'alternating rounds' in text
    ratios = [line for line in text.splitlines() if line.startswith('x baseline')][0].split()
    assert ratios[2] == '1.00x' and all(r.endswith('x') and float(r[:-1]) > 0
                                        for r in ratios[3:])
    columns = ['baseline 1t'] + ['%s 1t' % p for p in kernels.supported]
    header = [line for line in text.splitlines() if line.startswith('layer part')][0]
    assert header.split()[2:] == ' '.join(columns).split()
    for row in ('conv1 product', 'conv2 packing', 'conv2 product', 'fc3 packing',
                'fc4 scores', 'images/s median', 'x baseline'):
        assert any(line.startswith(row) for line in text.splitlines()), row
    with open(out) as handle:
        result = json.load(handle)
    assert [(c['variant'], c['threads']) for c in result['columns']] == \
        [('baseline', 1)] + [(p, 1) for p in kernels.supported]
    for column in result['columns']:
        # The stages' times add up to at most the pass (the loop's own time is outside).
        assert 0 < sum(column['parts'].values()) <= column['pass_s'] * 1.001
        assert column['best_images_per_s'] >= column['images_per_s'] > 0
    # conv1's max-pooling runs inside its product on the current engine.
    assert 'conv1 pool' not in result['columns'][1]['parts']
    # The engine imported for the baseline stays apart from this one.
    assert sys.modules['gxnor_engine.kernels'] is engine_kernels
    # It timed every path and thread count, then left the library as it was
    # (the other tests in this process use it).
    assert (kernels.kernel_path, kernels.threads) == before


def test_unknown_path_is_one_error_line(kernels, capsys):
    assert engine_stages.main(['--paths', 'scalar,mmx']) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: kernel path 'mmx' (--paths) unknown") and err.count('\n') == 1
