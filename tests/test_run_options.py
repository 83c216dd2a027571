"""run_options: the scripts' flags, their checks and warnings, the run they name."""
import json
import os

import pytest

import binary_net
import run_options
from conftest import ROOT


def test_a_flag_added_later_keeps_earlier_runs_names_so_they_resume():
    """--beta1 came after the committed runs: at its default every committed run's
    config and name (which the same command resumes under) are what they were; another
    value is another run, with beta1 in its config."""
    import glob
    import cifar10
    import mnist
    paths = sorted(glob.glob(os.path.join(ROOT, 'weights', '*.results.json')))
    assert len(paths) >= 2
    for path in paths:
        with open(path) as f:
            saved = json.load(f)
        experiment = cifar10.EXPERIMENT if saved['run'].startswith('cifar10') else \
            mnist.EXPERIMENT
        args = run_options.parse_args(experiment, [])
        vars(args).update(saved['config'])
        assert args.beta1 == 0.9
        assert json.dumps(run_options.run_config(args), sort_keys=True) == \
            json.dumps(saved['config'], sort_keys=True)
        assert run_options.default_run_name(experiment.name, args) == saved['run']
        args.beta1 = 0.99
        assert run_options.run_config(args)['beta1'] == 0.99
        assert run_options.default_run_name(experiment.name, args) != saved['run']


@pytest.mark.parametrize('flags, message', [
    (['--N', '-1'], '--N must be in 0..16'),
    (['--N', '64'], '--N must be in 0..16'),
    (['--act-N', '40'], '--act-N must be in 0..8'),
    (['--H', '1e308'], '--H must be in (0, 1e+06]'),
    (['--seed', '-1'], '--seed must be in 0..4294967295'),
    (['--seed', '4294967296'], '--seed must be in 0..4294967295'),
    # A value that starts with '-' is the value, not a flag (argparse would say
    # 'expected one argument').
    (['--lr-end', '-inf'], '--lr-end must be a finite number, got -inf'),
    (['--lr-end', '-0.5'], 'learning rates must be > 0'),
    (['--run-name', '../escape'], "--run-name must be a plain folder name"),
    (['--run-name', '..'], "--run-name must be a plain folder name"),
    (['--r', '0'], '--r must be > 0'),
    (['--a', '-0.5'], '--a must be > 0'),
    (['--batch-size', '301'], 'larger than the training set'),
    (['--window', 'gauss'], 'invalid choice'),
    (['--epochs', 'ten'], 'invalid int value'),
    # Every float must be finite: inf passes "> 0" and would train until NaN or freeze layers.
    (['--lr-start', 'inf'], '--lr-start must be a finite number, got inf'),
    (['--a', 'inf'], '--a must be a finite number, got inf'),
    (['--m', 'nan'], '--m must be a finite number, got nan'),
    (['--bn-epsilon=-inf'], '--bn-epsilon must be a finite number, got -inf'),
    (['--beta1', '1'], '--beta1 must be in [0, 1)'),
])
def test_bad_input_gives_one_line_and_exit_2(tiny, capsys, flags, message):
    experiment, common, _ = tiny
    with pytest.raises(SystemExit) as stop:
        binary_net.main(experiment, common + flags)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_help_shows_every_default():
    import mnist
    parser = run_options.build_parser(mnist.EXPERIMENT)
    text = parser.format_help()
    text = text[text.index('\n  -h, --help'):]  # the option list, after the usage lines
    for action in parser._actions:
        if action.dest == 'help' or action.const in ('gxnor', 'fp') or \
                action.option_strings[-1] == '--no-augment':
            continue
        option = action.option_strings[-1]
        block = ' '.join(text.split('\n  ' + option, 1)[1].split('\n  --')[0].split())
        assert '(default: ' in block, option
    # Aliases of --method and the off switch of --augment: no default of their own.
    for alias, says in (('--discrete ', 'same as --method'), ('--no-discrete ', 'same as --method'),
                        ('--no-augment ', 'turns --augment off')):
        block = text.split('\n  ' + alias, 1)[1].split('\n  --')[0]
        assert says in block and 'default' not in block


@pytest.mark.parametrize('flags, notes', [
    (['--method', 'bnn', '--no-discrete'],
     ['--method bnn and --no-discrete contradict each other; the last one wins: method = fp']),
    (['--augment', '--no-augment'],
     ['--augment and --no-augment contradict each other; the last one wins: augment = False']),
    (['--method', 'fp', '--update', 'sgd'],
     ["--update has no effect with --method fp: only GXNOR-Net's discrete weights move by "
      'DST; every other method trains its weights with Adam']),
    (['--stochastic'], ['--stochastic has no effect with --method gxnor: only BinaryConnect '
                        'and BNN binarize at random']),
    (['--discrete', '--method', 'gxnor', '--update', 'sgd', '--epochs', '3', '--epochs', '3'],
     []),
])
def test_contradictory_flags_give_a_warning_each(flags, notes):
    import mnist
    found = []
    run_options.parse_args(mnist.EXPERIMENT, flags, found)
    assert found == notes
