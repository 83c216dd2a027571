"""Tests of bench/speed/onnx_export.py: ONNX Runtime, running the exported graph, gives the
engine's predictions and hidden sums on every image.

They need onnx and onnxruntime (``make venv-bench``; ``make test`` runs them there)
and are skipped elsewhere.
"""
from __future__ import absolute_import, division, print_function

import os

import numpy as np
import pytest

try:
    import onnx  # noqa: F401
    import onnxruntime  # noqa: F401
except ImportError as exc:
    pytest.skip('the ONNX export needs onnx and onnxruntime (make venv-bench): %s' % exc,
                allow_module_level=True)

import gated_xnor as gx  # noqa: E402
import engine_models as em  # noqa: E402  (the engine tests' random models)
from bench.speed import onnx_export as ox  # noqa: E402


def dense_first_layers():
    """A dense first layer on the whole image, binary weights, no batch norm at the end."""
    return [dict(kind='input', shape=[2, 7, 6]),
            em.dense_spec('d1', 24, H=0.5, N=0), em.bn_spec('b1', [0]), em.act_spec(r=0.3),
            em.dense_spec('d2', 10, bias=False)]


def engine_and_onnx(path, X):
    """(engine scores, engine sums, ONNX outputs by name, the graph) of a model file."""
    graph, model = ox.export_file(path, sums=True)
    names = [output.name for output in graph.graph.output]
    outputs = ox.run_session(ox.ort_session(graph, threads=1), X, batch_size=7, outputs=names)
    scores, sums = model.forward(X, return_preacts=True)
    return scores, sums, dict(zip(names, outputs)), graph


@pytest.mark.parametrize('layers,input_shape,seed', [
    (em.mnist_like_layers(), (1, 16, 16), 0),
    (em.odd_layers(), (3, 13, 11), 2),
    (dense_first_layers(), (2, 7, 6), 3),
])
def test_gxnor_graph_equals_engine_on_every_image(tmpdir, layers, input_shape, seed):
    """Integer layers: every hidden sum and every score identical, not just close
    (odd_layers: pooling after batch norm with negative gamma, partial pooling
    windows, binary weights and activations, flipped filters, a final activation)."""
    path, _ = em.write_model(tmpdir, layers, input_shape, seed)
    X = np.random.RandomState(seed).randint(0, 256, size=(40,) + input_shape).astype(np.uint8)
    scores, sums, outputs, graph = engine_and_onnx(path, X)
    assert sorted(sums) == sorted(k for k in outputs if k != ox.OUTPUT_NAME)
    for name, z in sums.items():
        assert outputs[name].shape == z.shape and np.array_equal(outputs[name], z), name
        assert len(np.unique(z)) > 3, name           # sums that vary: the check bites
    assert outputs['scores'].dtype == np.float64 and np.array_equal(outputs['scores'], scores)
    predictions = scores.reshape(len(X), -1).argmax(axis=1)
    assert len(np.unique(predictions)) > 1
    # Two intra-op threads, and the graph without its sums: the same scores.
    plain, _ = ox.export_file(path)
    assert [o.name for o in plain.graph.output] == ['scores']
    assert np.array_equal(ox.run_session(ox.ort_session(plain, threads=2), X), scores)


@pytest.mark.parametrize('quantizer,activation', [
    ('binaryconnect', 'bnn'), ('bwn', 'xnor'), ('bwn', 'tbn')])
def test_compared_methods_graph_equals_engine(tmpdir, quantizer, activation):
    """BNN folds into integer thresholds: identical.  TBN's per-image threshold and
    XNOR-Net's scale K are float64 means, which ONNX Runtime sums in another order,
    and XNOR-Net's products on sign * K run in float32: same predictions, scores
    within 1e-5 (XNOR-Net) of the largest, integer sums identical but for units
    within float rounding of a threshold."""
    X = np.random.RandomState(17).randint(0, 256, size=(30, 2, 13, 12)).astype(np.uint8)
    path, _ = em.calibrated_method_model(tmpdir, em.method_layers(quantizer, activation), X,
                                          seed=len(activation))
    scores, sums, outputs, _ = engine_and_onnx(path, X)
    assert np.array_equal(outputs['scores'].argmax(axis=1), scores.argmax(axis=1))
    if activation == 'bnn':
        assert np.array_equal(outputs['scores'], scores)
        for name, z in sums.items():
            assert np.array_equal(outputs[name], z), name
        return
    atol = 1e-5 * np.abs(scores).max()
    np.testing.assert_allclose(outputs['scores'], scores, rtol=0, atol=atol)
    for name, z in sums.items():
        np.testing.assert_allclose(outputs[name], z, rtol=1e-5, atol=1e-5 * np.abs(z).max(),
                                   err_msg=name)


def test_refusals_and_command(tmpdir, capsys):
    """A pooling whose ONNX output size differs from the engine's is refused in one
    line; the command writes a graph that ONNX Runtime loads."""
    good, _ = em.write_model(tmpdir, em.mnist_like_layers(), (1, 16, 16), 5)
    out = os.path.join(str(tmpdir), 'model.onnx')
    assert ox.main([good, out]) == 0
    assert 'opset %d' % ox.OPSET in capsys.readouterr().out
    session = onnxruntime.InferenceSession(out, providers=['CPUExecutionProvider'])
    X = np.random.RandomState(6).randint(0, 256, size=(5, 1, 16, 16)).astype(np.uint8)
    assert np.array_equal(ox.run_session(session, X), gx.load_model(good).forward(X))
    # Windows of 1 every 3 pixels past the border of a 6-pixel map (ignore_border=False):
    # 2 windows for Theano and the engine, 3 for ONNX's ceil_mode.
    layers = [dict(kind='input', shape=[1, 8, 8]), em.conv_spec('c1', 3, (3, 3)),
              em.pool_spec(1, stride=3, ignore_border=False), em.bn_spec('b1', [0, 2, 3]),
              em.act_spec(), em.dense_spec('d2', 10)]
    bad, _ = em.write_model(tmpdir, layers, (1, 8, 8), 7, name='bad.npz')
    with pytest.raises(ox.ExportError) as info:
        ox.export_file(bad)
    assert 'ONNX gives (3, 3), the engine (2, 2)' in str(info.value)
    assert ox.main([bad, out]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: max-pooling') and err.count('\n') == 1
