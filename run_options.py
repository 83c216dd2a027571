"""The command line of the dataset scripts: its flags, their checks, the run they name.

:func:`parse_args` is what ``mnist.py``, ``cifar10.py`` and ``svhn.py`` do
with their arguments (through ``binary_net.main``): the flags every script
shares (:func:`build_parser`) and the script's own
(``Experiment.add_arguments``), with the script's defaults.  Every value is
checked; a bad one is a :class:`run_exits.UsageError` that says which flag
and why, never argparse's exit.  Flags that contradict each other, or that
the chosen ``--method`` does not read, give a warning line each.
:func:`run_config` is the part of the flags that defines a run (a checkpoint
resumes only under the same), and :func:`default_run_name` names the run
after it.

Examples
--------
>>> import binary_net
>>> toy = binary_net.Experiment('toy', None, None, dict(batch_size=10, epochs=3,
...                                                     lr_start=0.1, lr_end=0.01))
>>> notes = []
>>> args = parse_args(toy, ['--method', 'fp', '--update', 'sgd'], notes)
>>> args.epochs, args.method, args.run_name.startswith('toy-fp-b10-e3-')
(3, 'fp', True)
>>> print(notes[0].split(':')[0])
--update has no effect with --method fp
"""
from __future__ import absolute_import, division, print_function

import argparse
import hashlib
import json
import os
import re
import sys
from collections import OrderedDict

import gxnor_compat  # noqa: F401  (before theano and lasagne)
import lasagne
import numpy as np
import theano

import discrete_ops
import gxnor_layers
import methods
from run_exits import UsageError

__all__ = ['parse_args', 'build_parser', 'run_config', 'default_run_name',
           'print_hyperparameters', 'MAX_N', 'MAX_ACT_N', 'MAX_H', 'MAX_SEED']


def parse_args(experiment, argv=None, notes=None, **overrides):
    """The checked hyperparameters of a run of ``experiment``, from its command line.

    Parameters
    ----------
    experiment : binary_net.Experiment
        Its defaults, and its own flags (``add_arguments``) beside the common ones.
    argv : list of str, optional
        The arguments (None: ``sys.argv[1:]``).
    notes : list, optional
        Receives a warning line for each contradiction between the flags given:
        two values for one setting (the last one wins), a flag that the chosen
        method does not read.
    **overrides
        Values that win over the flags, where not None (``epochs=1``).

    Returns
    -------
    argparse.Namespace
        One attribute per flag (``dest`` names); ``run_name`` filled in by
        :func:`default_run_name` where not given.

    Raises
    ------
    run_exits.UsageError
        A flag that argparse refuses or a value out of its range, in one line.
    """
    parser = build_parser(experiment)
    args = parser.parse_args(_attach_negative_values(parser, sys.argv[1:] if argv is None
                                                     else argv))
    for key, value in overrides.items():
        if value is not None:
            setattr(args, key, value)
    _validate(args)
    if notes is not None:
        notes.extend(_flag_notes(parser.given, args))
    args.run_name = args.run_name or default_run_name(experiment.name, args)
    return args


class _Parser(argparse.ArgumentParser):
    """Raises UsageError instead of exiting, and keeps ``given``: (action, value) of
    every flag on the command line, in order, for :func:`_flag_notes`."""

    def __init__(self, *args, **kwargs):
        argparse.ArgumentParser.__init__(self, *args, **kwargs)
        self.given = []

    def error(self, message):
        raise UsageError(message)

    def _get_values(self, action, arg_strings):
        # Called once for each flag given (defaults do not pass here).
        values = argparse.ArgumentParser._get_values(self, action, arg_strings)
        self.given.append((action, action.const if action.nargs == 0 else values))
        return values


def _epoch_list(text):
    try:
        return [int(t) for t in text.split(',') if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError('expected comma-separated epochs, got %r' % text)


def build_parser(experiment):
    """The parser of ``experiment``'s script: the flags common to all dataset scripts and
    the experiment's own (``add_arguments``), with the experiment's defaults.

    A bad flag or value raises :class:`run_exits.UsageError` instead of exiting.
    """
    p = _Parser(description=experiment.description,
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add = p.add_argument
    add('--data-dir', default=None, help='folder with the dataset files (None: '
        '$PYLEARN2_DATA_PATH\'s folder, else ./data/<name>, downloading there if needed)')
    add('--download', action='store_true', default=False,
        help='download missing files into --data-dir (without --data-dir they are '
        'downloaded into ./data/<name> anyway)')
    add('--epochs', type=int, help='training epochs after the snap epoch 0')
    add('--batch-size', type=int, help='training minibatch size')
    add('--lr-start', type=float, help='learning rate of epoch 1')
    add('--lr-end', type=float, help='learning rate of the last epoch, before drops')
    add('--lr-drops', type=_epoch_list, default=[],
        help='comma-separated epochs at which the learning rate is multiplied by 0.1')
    add('--update', choices=discrete_ops.UPDATES, default='adam',
        help='increment D for DST: Adam step (authors); -lr*grad; -lr*grad over a '
        'running RMS kept per layer or per output unit; or -lr times a momentum of '
        'the layer-RMS-scaled gradient kept in one int8 per weight (the last four: no '
        'float state per weight)')
    add('--beta1', type=float, default=0.9,
        help="Adam's first-moment decay, for DST's increments and the float parameters "
        "(Lasagne's and the authors' 0.9): the increments average the gradient over about "
        '1/(1-beta1) steps')
    add('--method', choices=list(methods.METHODS), default='gxnor',
        help='gxnor (this paper), fp (full precision, ReLU) or a compared method: '
        'weights and activations as listed in methods.py')
    add('--discrete', dest='method', action='store_const', const='gxnor',
        help='same as --method gxnor%(default).0s')
    add('--no-discrete', dest='method', action='store_const', const='fp',
        help='same as --method fp%(default).0s')
    add('--H', type=float, default=1.0, help='weights in [-H, H]')
    add('--N', type=int, default=1, help='weight states 2^N+1 (0 binary, 1 ternary)')
    add('--act-N', type=int, default=1, help='activation levels 2^N+1 (0 binary, 1 ternary)')
    add('--r', type=float, default=1.0, help='activation threshold')
    add('--a', type=float, default=0.5, help='half-width of the derivative window')
    add('--window', choices=('rect', 'tri'), default='rect', help='derivative window shape')
    add('--m', type=float, default=3.0,
        help='DST nonlinearity: P(extra step) = tanh(m|v|), v the remainder of D/dz')
    add('--init-scale', type=float, default=1.0,
        help='initial conv weights uniform in [-s*H, s*H]')
    add('--dense-init-scale', type=float, default=1.0,
        help='initial dense weights uniform in [-s*H, s*H]')
    add('--weight-storage', choices=gxnor_layers.WEIGHT_STORAGES, default='float',
        help='int8: weights held as state indices, no float copy (gxnor)')
    add('--stochastic', action='store_true', default=False,
        help='binaryconnect, bnn: stochastic binarization (hidden weights at test time)')
    add('--w-bits', type=int, default=1, help='dorefa: weight bits')
    add('--a-bits', type=int, default=2, help='dorefa, syq: activation bits')
    add('--ttq-threshold', type=float, default=0.05, help='ttq: threshold t * max|W|')
    add('--syq-eta', type=float, default=0.05, help='syq: threshold eta * max|W|')
    add('--tbn-delta', type=float, default=0.4, help='tbn: activation threshold delta*mean|x|')
    add('--bn-epsilon', type=float, default=1e-4, help='batch norm epsilon')
    add('--bn-alpha', type=float, default=0.1, help='running-average rate of batch norm')
    add('--augment', dest='augment', action='store_true', default=False,
        help='random crops (4-pixel padding) and horizontal flips')
    add('--no-augment', dest='augment', action='store_false',
        help='no augmentation (turns --augment off)%(default).0s')
    add('--seed', type=int, default=1234,
        help='seed of the initial weights, the data order and the DST random numbers')
    add('--train-size', type=int, default=0, help='use the first N training examples (0: all)')
    add('--val-size', type=int, default=0, help='use the first N validation examples (0: all)')
    add('--test-size', type=int, default=0, help='use the first N test examples (0: all)')
    add('--eval-batch-size', type=int, default=500,
        help='minibatch size of the validation and test passes')
    add('--run-name', default=None, help='None: made from the main hyperparameters and a '
        'hash of all of them')
    add('--results-dir', default='results',
        help='where results/<run>/ (checkpoint, results.json, .mat, curves.png) goes')
    add('--weights-dir', default=None,
        help='where the model <run>.npz goes (None: the results folder)')
    add('--fresh', action='store_true',
        help='set an existing run of the same name aside (renamed, not deleted) and start over')
    if experiment.add_arguments:
        experiment.add_arguments(p)
    p.set_defaults(**experiment.defaults)
    return p


# The largest values the flags take: beyond them Theano's graph or NumPy's
# arithmetic overflows, or the staircase's 2^act-N thresholds never finish building.
MAX_N = 16
MAX_ACT_N = 8
MAX_H = 1e6
MAX_SEED = 2 ** 32 - 1


def _plain_name(name):
    """True for None or a name that stays one folder inside the results folder."""
    return name is None or (re.match(r'^[A-Za-z0-9._-]+$', name) is not None and
                            name not in (os.curdir, os.pardir))


def _validate(args):
    """UsageError for the first value of ``args`` out of its range."""
    for key, value in sorted(vars(args).items()):
        # inf passes every "> 0" below, and nan fails them with a misleading message.
        if isinstance(value, float) and not np.isfinite(value):
            raise UsageError('--%s must be a finite number, got %s' % (key.replace('_', '-'),
                                                                        value))
    checks = [(0 <= args.N <= MAX_N, '--N must be in 0..%d (2^N+1 weight states)' % MAX_N),
              (0 <= args.act_N <= MAX_ACT_N,
               '--act-N must be in 0..%d (2^act-N+1 activation levels, one threshold each)'
               % MAX_ACT_N),
              (args.r > 0, '--r must be > 0'), (args.a > 0, '--a must be > 0'),
              (0 < args.H <= MAX_H, '--H must be in (0, %g]' % MAX_H),
              (args.m > 0, '--m must be > 0'),
              (0 <= args.seed <= MAX_SEED, '--seed must be in 0..%d (2^32 - 1)' % MAX_SEED),
              (_plain_name(args.run_name), '--run-name must be a plain folder name (letters, '
               'digits, ".", "_", "-"; not "." or ".."), got %r' % args.run_name),
              (args.epochs >= 1, '--epochs must be >= 1'),
              (args.batch_size >= 1, '--batch-size must be >= 1'),
              (args.eval_batch_size >= 1, '--eval-batch-size must be >= 1'),
              (args.lr_start > 0 and args.lr_end > 0, 'learning rates must be > 0'),
              (0 < args.bn_alpha <= 1, '--bn-alpha must be in (0, 1]'),
              (args.bn_epsilon > 0, '--bn-epsilon must be > 0'),
              (min(args.train_size, args.val_size, args.test_size) >= 0,
               'subset sizes must be >= 0'),
              (args.weight_storage != 'int8' or args.N <= 6,
               '--weight-storage int8 holds at most N = 6'),
              (args.weight_storage == 'float' or args.method == 'gxnor',
               '--weight-storage int8 needs --method gxnor (discrete weights)'),
              (args.update != 'int8-momentum' or args.N <= 3,
               "--update int8-momentum keeps its momentum in the weight byte's 7 - N spare "
               'bits: --N at most 3'),
              (args.w_bits >= 1 and args.a_bits >= 1, '--w-bits and --a-bits must be >= 1'),
              (0 <= args.ttq_threshold < 1 and 0 <= args.syq_eta < 1,
               '--ttq-threshold and --syq-eta must be in [0, 1)'),
              (args.tbn_delta >= 0, '--tbn-delta must be >= 0'),
              (0 <= args.beta1 < 1, '--beta1 must be in [0, 1)')]
    for ok, message in checks:
        if not ok:
            raise UsageError(message)


CONFIG_IGNORED = ('data_dir', 'download', 'results_dir', 'weights_dir', 'fresh',
                  'eval_batch_size', 'run_name')

# Hyperparameters added after runs were made, with their defaults: left out of a run's
# config (and so of its name's hash) at the default, so that those runs still resume.
CONFIG_ADDED_LATER = {'beta1': 0.9}


def run_config(args):
    """The hyperparameters that define a run: a checkpoint resumes only under the same ones.

    Every flag but where files go, how big the evaluation batches are, and the
    flags added later while they keep their default (:data:`CONFIG_ADDED_LATER`).

    Examples
    --------
    >>> sorted(run_config(argparse.Namespace(epochs=3, beta1=0.9, data_dir='d', run_name='r')))
    ['epochs']
    """
    return dict((k, v) for k, v in sorted(vars(args).items()) if k not in CONFIG_IGNORED
                and not (k in CONFIG_ADDED_LATER and v == CONFIG_ADDED_LATER[k]))


def default_run_name(name, args):
    """Readable main hyperparameters plus a hash of all of them, so that the
    same command resumes its run and any other command starts its own."""
    method = methods.method_label(args)
    digest = hashlib.sha1(json.dumps(run_config(args), sort_keys=True).encode('utf-8'))
    return '%s-%s-b%d-e%d-%s' % (name, method, args.batch_size, args.epochs,
                                 digest.hexdigest()[:8])


# Why a flag does nothing for the other methods, where more than "only X reads it"
# says (which methods read which flag: each method's record in methods.py).
_FLAG_WHY = {
    'update': "only GXNOR-Net's discrete weights move by DST; every other method trains its "
              'weights with Adam',
    'stochastic': 'only BinaryConnect and BNN binarize at random',
}


def _ignored_flag_note(dest, method):
    """The warning for flag ``dest`` given to a method that does not read it, or None."""
    readers = methods.readers(dest)
    if method in readers:
        return None
    why = _FLAG_WHY.get(dest) or 'only --method %s read%s it' % (
        ', '.join(readers), 's' if len(readers) == 1 else '')
    return '--%s has no effect with --method %s: %s' % (dest.replace('_', '-'), method, why)


def _flag_notes(given, args):
    """One warning line for each contradiction on the command line: flags that set
    the same thing to different values (the last one wins), and flags that the
    chosen method ignores."""
    notes = []
    by_dest = OrderedDict()
    for action, value in given:
        by_dest.setdefault(action.dest, []).append((action, value))
    for dest, uses in by_dest.items():
        if len(set(json.dumps(value) for _, value in uses)) > 1:
            shown = [action.option_strings[-1] if action.nargs == 0 else
                     '%s %s' % (action.option_strings[-1], json.dumps(value).strip('"'))
                     for action, value in uses]
            notes.append('%s contradict each other; the last one wins: %s = %s'
                         % (' and '.join(shown), dest, getattr(args, dest)))
    for dest in by_dest:
        note = _ignored_flag_note(dest, args.method)
        if note:
            notes.append(note)
    return notes


def _attach_negative_values(parser, argv):
    """``argv`` with each value that starts with '-' joined to its flag ('--lr-end
    -inf' -> '--lr-end=-inf'): argparse takes '-inf' or '-8,8,8,8' for a flag and
    says 'expected one argument' instead of what is wrong with the value."""
    takes_value = set(option for action in parser._actions if action.nargs is None
                      for option in action.option_strings)
    argv, out = list(argv), []
    while argv:
        word = argv.pop(0)
        if (word in takes_value and argv and argv[0].startswith('-') and argv[0] != '--' and
                argv[0].split('=')[0] not in parser._option_string_actions):
            word = '%s=%s' % (word, argv.pop(0))
        out.append(word)
    return out


def print_hyperparameters(args, device=None):
    """Print what a run's log starts with: the versions, the device (``device``, else
    Theano's), every hyperparameter of ``args`` one a line, and the method in words."""
    print('Theano %s, Lasagne %s, Python %s, floatX %s'
          % (theano.__version__, lasagne.__version__, sys.version.split()[0],
             theano.config.floatX))
    device = device or theano.config.device
    if device == 'cpu':
        device += ' (BLAS: %s; OpenMP elementwise loops: %s)' % (
            theano.config.blas.ldflags or 'none, NumPy fallback',
            'on' if theano.config.openmp else 'off')
    print('Device: %s' % device)
    for key, value in sorted(vars(args).items()):
        print('%-18s = %s' % (key, value))
    weights, activations = methods.bits_label(args)
    print('%-18s = %s: %s weights, %s activations'
          % ('method is', methods.METHODS[args.method].title, weights, activations))
    if args.method == 'gxnor':
        print('%-18s = %g (%d states)' % ('weight step dz', discrete_ops.weight_grid_step(
            args.H, args.N), 2 ** args.N + 1))
    sys.stdout.flush()
