"""Every method of ``--method`` trains on real MNIST subsets; method plumbing."""
from __future__ import division

import json
import os

import gxnor_compat  # noqa: F401
import lasagne
import numpy as np
import pytest
import theano.tensor as T

import binary_net
import network_blocks
from conftest import ROOT, subset_experiment
import datasets
import gated_xnor
import gxnor_layers
import methods
import run_options
import weight_stats


def build_small_network(input_var, args):
    """8C5-MP2-64FC-10: every block kind (conv with pooling, hidden dense, last dense)."""
    net = lasagne.layers.InputLayer((None, 1, 28, 28), input_var)
    net = network_blocks.conv_block(net, args, 'conv1', 8, 5, pool=True)
    net = network_blocks.dense_block(net, args, 'fc2', 64)
    return network_blocks.dense_block(net, args, 'fc3', 10, activation=False)


@pytest.fixture
def small(mnist_data, tmp_path):
    return subset_experiment('small', mnist_data, build_small_network, tmp_path,
                             (2000, 500, 1000))


METHOD_FLAGS = [[name] for name in methods.METHODS] + [
    ['gxnor', '--N', '0', '--act-N', '0'], ['gxnor', '--N', '2', '--act-N', '2'],
    ['gxnor', '--N', '3', '--weight-storage', 'int8'],
    ['binaryconnect', '--stochastic'], ['bnn', '--stochastic'],
    ['dorefa', '--w-bits', '2', '--a-bits', '3'], ['syq', '--a-bits', '1']]


@pytest.mark.parametrize('flags', METHOD_FLAGS, ids=['-'.join(f).replace('--', '')
                                                     for f in METHOD_FLAGS])
def test_every_method_learns_mnist_subset(small, flags):
    """2,000 training images, 2 epochs of batch 50, the network above, seed 1.

    Chance is 90% error.  Measured (Python 3.11, test error at the best
    validation epoch, 1,000 test images): 15.2-26.7% for the eleven methods
    with their defaults, 21.1-22.7% for GXNOR-Net with N = 0, 2, 3, 16.8% and
    27.2% for DoReFa W2A3 and SYQ A1; 37.8% and 40.2% for stochastic
    BinaryConnect and BNN, whose test-time network uses the real-valued hidden
    weights, still close to their uniform start after 2 epochs.  Required: no
    NaN, and < 45% (45 points better than chance); stochastic: < 60%.
    """
    experiment, common = small
    limit = 60.0 if '--stochastic' in flags else 45.0
    summary = binary_net.main(experiment, common + ['--method'] + flags + ['--seed', '1'])
    with open(os.path.join(summary['results'], 'results.json')) as results:
        history = json.load(results)['history']
    assert all(np.isfinite(h['train_loss']) for h in history)
    assert summary['test_err_at_best_val'] < limit, summary
    assert summary['method'] == flags[0] and summary['state_bytes'] > 0


# No data and no network: enough to parse flags and build networks by hand.
FLAGS_ONLY = binary_net.Experiment('m', None, None, dict(batch_size=10, epochs=1, lr_start=0.1,
                                                         lr_end=0.1))


def test_method_flag_aliases_run_names_and_labels():
    parse = lambda *argv: run_options.parse_args(FLAGS_ONLY, list(argv))  # noqa: E731
    assert parse().method == 'gxnor' and parse('--no-discrete').method == 'fp'
    assert parse('--no-discrete', '--discrete').method == 'gxnor'
    names = set(parse('--method', name).run_name for name in methods.METHODS)
    assert len(names) == len(methods.METHODS)
    assert parse('--method', 'dorefa', '--w-bits', '2').run_name.startswith('m-dorefa-w2a2-')
    assert methods.bits_label(parse('--method', 'gxnor', '--N', '2', '--act-N', '0')) == \
        ('5 levels', 'binary')
    assert methods.bits_label(parse('--method', 'tbn')) == ('binary', 'ternary')


@pytest.mark.parametrize('flags, message', [
    (['--method', 'bwn', '--weight-storage', 'int8'], 'needs --method gxnor'),
    (['--method', 'lbp'], 'invalid choice'),
    (['--method', 'dorefa', '--w-bits', '0'], '--w-bits and --a-bits must be >= 1'),
    (['--method', 'ttq', '--ttq-threshold', '1.5'], 'must be in [0, 1)'),
])
def test_bad_method_options_give_one_line_and_exit_2(small, capsys, flags, message):
    experiment, common = small
    with pytest.raises(SystemExit) as stop:
        binary_net.main(experiment, common + flags)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def compiled_small(method, *flags):
    args = run_options.parse_args(FLAGS_ONLY, ['--method', method] + list(flags))
    input_var = T.tensor4()
    network = build_small_network(input_var, args)
    return network, binary_net.compile_functions_for(network, input_var, args)


def test_binaryconnect_hidden_weights_stay_clipped(mnist_data):
    network, (train_fn, _, _) = compiled_small('bnn')
    X, y = mnist_data['train']
    for start in range(0, 200, 20):  # a learning rate far too large pushes weights out
        train_fn(datasets.to_float(X[start:start + 20]), binary_net.pm1_targets(
            y[start:start + 20], 10), np.float32(1.0))
    hidden = [layer.W.get_value() for layer in lasagne.layers.get_all_layers(network)
              if getattr(layer, 'hidden_clip', None)]
    assert len(hidden) == 3
    for w in hidden:
        assert np.abs(w).max() <= 1.0 and (np.abs(w) == 1.0).mean() > 0.05


def test_method_models_record_method_and_engine_refuses_them(small, capsys):
    experiment, common = small
    summary = binary_net.main(experiment, common + ['--method', 'ttq', '--epochs', '1',
                                                    '--train-size', '200'])
    model = np.load(summary['model'])
    meta = json.loads(str(model['__meta__']))
    assert (meta['method'], meta['weight_bits'], meta['activation_bits']) == \
        ('ttq', 'ternary', 'float')
    assert model['conv1.wp'].shape == () and model['conv1.W'].dtype == np.float32
    with pytest.raises(gated_xnor.ModelError) as refused:
        gated_xnor.load_model(summary['model'])
    assert 'unsupported layer kind' in str(refused.value)


# ------------------------------------------------------------- the records

def test_each_record_names_quantizers_the_layers_know_and_flags_the_harness_has():
    import mnist
    dests = set(action.dest for action in run_options.build_parser(mnist.EXPERIMENT)._actions)
    for name, method in methods.METHODS.items():
        assert method.name == name and methods.get(name) is method
        assert method.weights in gxnor_layers.QUANTIZERS + ('gxnor', 'fp'), name
        assert method.activation in gxnor_layers.ACTIVATIONS + ('gxnor', 'relu'), name
        assert set(method.flags) <= dests, (name, set(method.flags) - dests)
        assert set(method.paper) <= set(['mnist', 'cifar10', 'svhn']), name
        assert all(85 < accuracy < 100 for accuracy in method.paper.values()), name
    with pytest.raises(ValueError) as unknown:
        methods.get('gxnor-net')
    assert 'one of gxnor, fp,' in str(unknown.value)


def test_a_flag_given_to_a_method_that_does_not_read_it_is_one_note():
    import mnist
    for name, method in methods.METHODS.items():
        for dest, value in (('stochastic', []), ('a_bits', ['3']), ('ttq_threshold', ['0.1']),
                            ('N', ['2'])):
            flag = '--' + dest.replace('_', '-')
            argv = ['--method', name, flag] + value
            found = []
            run_options.parse_args(mnist.EXPERIMENT, argv, found)
            reads = name in methods.readers(dest)
            assert reads == (dest in method.flags)
            assert len(found) == (0 if reads else 1), (argv, found)
            assert reads or found[0].startswith(flag + ' has no effect with --method %s: only '
                                                % name)


def test_the_recorded_lr_is_the_one_the_short_protocols_search_chose():
    with open(os.path.join(ROOT, 'bench', 'results', 'compare_methods.json')) as handle:
        rows = dict((row['label'], row) for row in json.load(handle)['rows'])
    for name, method in methods.METHODS.items():
        assert method.lr[methods.SHORT_MNIST] == rows[name]['chosen_lr'], name
