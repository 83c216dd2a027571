"""gxnor_graph_cache: a graph built again loads its optimized graph and computes as
the freshly compiled function does, bit for bit."""
import os
import subprocess
import sys

import gxnor_compat  # noqa: F401
import lasagne
import numpy as np
import pytest
import theano
import theano.tensor as T

import binary_net
import datasets
import gxnor_graph_cache
from conftest import ROOT
import run_options
import tiny_mnist

FLAGS_ONLY = binary_net.Experiment('g', None, None, dict(batch_size=10, epochs=1, lr_start=0.1,
                                                         lr_end=0.1))


@pytest.fixture
def cache_in(tmp_path, monkeypatch):
    folder = str(tmp_path / 'graphs')
    monkeypatch.setattr(gxnor_graph_cache, 'cache_folder', lambda: folder)
    return folder


def kept_files(folder):
    return sorted(name for _, _, names in os.walk(folder) for name in names)


def tiny_step(method, seed=1):
    """A fresh tiny_mnist network (weights from ``seed``) and its compiled functions."""
    args = run_options.parse_args(FLAGS_ONLY, ['--method', method])
    lasagne.random.set_rng(np.random.RandomState(seed))
    input_var = T.tensor4('inputs')
    network = tiny_mnist.build_network(input_var, args)
    train_fn, eval_fn, _ = binary_net.compile_functions_for(network, input_var, args)
    return network, train_fn, eval_fn


@pytest.mark.parametrize('method', ['gxnor', 'ttq'])
def test_a_rebuilt_step_loads_its_graph_and_trains_bit_for_bit(cache_in, mnist_data,
                                                                monkeypatch, method):
    X, y = mnist_data['train']
    batches = [(datasets.to_float(X[s:s + 20]), binary_net.pm1_targets(y[s:s + 20], 10))
               for s in range(0, 80, 20)]
    fresh, fresh_train, fresh_eval = tiny_step(method)
    assert len(kept_files(cache_in)) == 2          # the training step and the evaluation

    def no_compiling(*args, **kwargs):
        raise AssertionError('theano.function was called: the kept graph was not loaded')
    monkeypatch.setattr(gxnor_graph_cache.theano, 'function', no_compiling)
    loaded, loaded_train, loaded_eval = tiny_step(method)
    monkeypatch.undo()

    def train(fn, network):
        losses = [float(fn(X_, y_, np.float32(0.05))) for X_, y_ in batches]
        return losses, [p.get_value() for p in lasagne.layers.get_all_params(network)]
    fresh_losses, fresh_params = train(fresh_train, fresh)
    loaded_losses, loaded_params = train(loaded_train, loaded)
    # The same numbers, and each function updated its own network's weights.
    assert fresh_losses == loaded_losses and fresh_losses[0] != fresh_losses[-1]
    assert all((a == b).all() for a, b in zip(fresh_params, loaded_params))
    assert not any(a is b for a, b in zip(fresh_params, loaded_params))
    # The evaluation has an in-place op beside a reader of the value it overwrites
    # (the loss beside the argmax of the same scores): loaded, it must order them as
    # Theano did, so the error counts agree too.
    for X_, y_ in batches:
        assert [np.asarray(v).tolist() for v in fresh_eval(X_, y_)] == \
            [np.asarray(v).tolist() for v in loaded_eval(X_, y_)]
    assert [str(n.op) for n in fresh_eval.maker.fgraph.toposort()] == \
        [str(n.op) for n in loaded_eval.maker.fgraph.toposort()]


def test_the_key_is_the_graph_not_its_names_values_or_variables():
    key = lambda inputs, outputs, updates=(): gxnor_graph_cache.graph_key(  # noqa: E731
        inputs, outputs, list(updates))[0]
    x, v, t3 = T.matrix('x'), T.matrix('other_name'), T.tensor3()
    w = theano.shared(np.ones((3, 4), dtype='float32'))
    w2 = theano.shared(np.zeros((5, 2), dtype='float32'))     # other values and shape
    assert key([x], T.dot(x, w)) == key([v], T.dot(v, w2))
    assert key([x], T.dot(x, w), [(w, w * 2)]) == key([v], T.dot(v, w2), [(w2, w2 * 2)])
    different = [
        key([x], T.dot(x, w) * 2),                              # another constant
        key([x], T.dot(x, w), [(w, w * 3)]),                    # another update
        key([t3], T.tensordot(t3, w, 1)),                       # another input type
        key([x], T.dot(x, theano.shared(np.ones((3, 4)))))      # a float64 weight
    ]
    assert key([x], T.dot(x, w)) not in different and len(set(different)) == 4
    # one shared variable used twice is not two shared variables
    assert key([x], T.dot(x, w) + T.dot(x, w)) != key([x], T.dot(x, w) + T.dot(x, theano.shared(
        np.ones((3, 4), dtype='float32'))))
    with pytest.raises(gxnor_graph_cache.Uncacheable):
        gxnor_graph_cache.graph_key([x], T.dot(x, T.matrix('free')), [])


def test_the_key_is_the_same_in_another_process():
    # Python 3 hashes strings differently in each process: the key must not depend on it.
    code = ('import sys; sys.path[:0] = [%r, %r]; import test_gxnor_graph_cache as t; '
            'print(t.tiny_step_key())' % (ROOT, os.path.join(ROOT, 'tests')))
    keys = set()
    for seed in ('1', '2'):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.check_output([sys.executable, '-c', code], env=env, cwd=ROOT)
        keys.add(out.decode('utf-8').strip().splitlines()[-1])
    assert len(keys) == 1 and len(keys.pop()) == 64


def tiny_step_key():
    """The key of tiny_mnist's GXNOR training step (built, not compiled)."""
    args = run_options.parse_args(FLAGS_ONLY, ['--method', 'gxnor'])
    input_var, target_var, lr = T.tensor4('inputs'), T.matrix('targets'), T.scalar('lr')
    network = tiny_mnist.build_network(input_var, args)
    loss = binary_net.squared_hinge_loss(lasagne.layers.get_output(network), target_var)
    updates = binary_net.build_updates(loss, network, lr)
    return gxnor_graph_cache.graph_key([input_var, target_var, lr], loss, updates)[0]


def test_a_damaged_file_is_removed_and_the_graph_compiled(cache_in):
    x = T.vector('x', dtype='float32')
    key, _ = gxnor_graph_cache.graph_key([x], x * 2, [])
    path = os.path.join(cache_in, key[:2], key + '.pkl')
    os.makedirs(os.path.dirname(path))
    with open(path, 'wb') as damaged:
        damaged.write(b'not a pickle')
    f = gxnor_graph_cache.function([x], x * 2)
    assert f(np.ones(2, dtype='float32')).tolist() == [2.0, 2.0]
    with open(path, 'rb') as kept:
        assert kept.read() != b'not a pickle'            # written anew
    assert gxnor_graph_cache.function([x], x * 2)(np.ones(1, dtype='float32')).tolist() == [2.0]


def test_turned_off_it_keeps_nothing(cache_in, monkeypatch):
    monkeypatch.setenv('GXNOR_GRAPH_CACHE', '0')
    x = T.vector('x', dtype='float32')
    assert gxnor_graph_cache.function([x], x + 1)(np.zeros(1, dtype='float32')).tolist() == [1.0]
    assert kept_files(cache_in) == []
