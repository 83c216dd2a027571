"""The training harness shared by ``mnist.py``, ``cifar10.py`` and ``svhn.py``: the
training graph, the learning-rate schedule and the epoch loop.

A dataset script gives an :class:`Experiment` (its data loader, its network
and its default hyperparameters) to :func:`main`, which parses the command
line (:mod:`run_options`), prints every hyperparameter, trains (:func:`run`)
and writes:

* ``results/<run>/checkpoint.npz``: everything needed to resume (all
  parameters, optimizer and random states, the history), after every epoch;
* ``results/<run>.npz`` (``--weights-dir``): the model of the best validation epoch, in the
  ``gxnor-model`` format that ``gated_xnor.py`` runs;
* ``results/<run>/results.json`` and ``results.mat`` (the authors' keys
  ``valid_err`` and ``train_loss``, plus the other curves) and
  ``curves.png``.

This module holds the graph (:func:`build_updates`, :func:`compile_functions`:
the squared hinge loss, DST for the discrete weights, Adam for the rest), the
schedule (:func:`learning_rate`) and the loop (:func:`run`,
:func:`train_epoch`, :func:`evaluate`).  Around them: the blocks the scripts
build their networks from (:mod:`network_blocks`; ``conv_block`` and
``dense_block`` are offered here too), what the loop measures of the weights
(:mod:`weight_stats`), the machine (:mod:`machine`), the run's files, each
written atomically so that a run stopped at any moment leaves the previous
versions intact (:mod:`run_files`), the rules of its folder, by which the same
command resumes after the last finished epoch (:mod:`run_folder`), its lock
and signals (:mod:`run_guard`), and how it ends: every failure one line on
stderr with its exit status (:mod:`run_exits`).

Protocol, as the authors' code: epoch 0 runs the training function with
learning rate 0, which snaps the initial weights onto the grid (a DST step
with D = 0), fills the batch-norm averages and warms Adam's moments; epochs
1..E train with a learning rate going geometrically from ``--lr-start`` to
``--lr-end``, times 0.1 at each epoch of ``--lr-drops``; the last partial
minibatch of an epoch is dropped.  Two results are reported: the best test
error over all epochs (the paper's protocol, which selects on the test set)
and the test error at the epoch of best validation error (model selection
without the test set).
"""
from __future__ import absolute_import, division, print_function

import os
import sys
import time
from collections import OrderedDict

import gxnor_compat  # before theano and lasagne
import lasagne
import numpy as np
import theano
import theano.tensor as T
from theano.sandbox.rng_mrg import MRG_RandomStreams

import datasets
import discrete_ops
import gxnor_graph_cache
import gxnor_device
import gxnor_layers
import machine
import methods
import run_exits
import run_files
import run_folder
import run_guard
import run_options
import weight_stats
# Offered here too, where the scripts' users have always found them.
from network_blocks import conv_block, dense_block
from progress import Progress
from run_exits import TrainingDiverged, UsageError
from run_options import parse_args

__all__ = ['Experiment', 'main', 'run', 'squared_hinge_loss', 'build_updates',
           'compile_functions', 'compile_functions_for', 'learning_rate', 'pm1_targets',
           'train_epoch', 'evaluate', 'conv_block', 'dense_block', 'parse_args', 'UsageError',
           'TrainingDiverged']


class Experiment(object):
    """What a dataset script gives the harness.

    Parameters
    ----------
    name : str
        Dataset name, used in run names and model files ('mnist').
    load_data : callable(args) -> OrderedDict
        Returns {'train': (X, y), 'valid': (X, y), 'test': (X, y)} with X uint8
        (n, C, H, W) and y int labels (see :mod:`datasets`).
    build_network : callable(input_var, args) -> Layer
        The network, its output layer giving one score per class.
    defaults : dict
        Defaults of the command-line flags (``dest`` names), the paper's or
        the authors' values for this dataset.
    description : str, optional
        The ``--help`` text above the flags (the script's docstring).
    add_arguments : callable(parser), optional
        Adds the script's own flags (``cifar10.py --widths``) to the
        :class:`argparse.ArgumentParser` that holds the flags common to every
        script; their values reach ``load_data`` and ``build_network`` in
        ``args`` and, as every flag, the run's config.

    Examples
    --------
    A script's own flag reaches ``args`` beside the common ones and its defaults:

    >>> experiment = Experiment('toy', load_data=None, build_network=None,
    ...                         defaults=dict(batch_size=10, epochs=1, lr_start=0.1,
    ...                                       lr_end=0.1),
    ...                         add_arguments=lambda parser: parser.add_argument(
    ...                             '--width', type=int, default=4))
    >>> args = parse_args(experiment, ['--width', '8'])
    >>> args.width, args.epochs, args.run_name.startswith('toy-gxnor-')
    (8, 1, True)
    """

    def __init__(self, name, load_data, build_network, defaults, description='',
                 add_arguments=None):
        self.name, self.load_data, self.build_network = name, load_data, build_network
        self.defaults, self.description = dict(defaults), description
        self.add_arguments = add_arguments


# ----------------------------------------------------------------------------- graph

def squared_hinge_loss(scores, targets, per_example=False):
    """mean(max(0, 1 - t * s)^2) with targets t in {-1, +1}, as the authors.

    With ``per_example``, the mean over classes only: one loss per example.
    """
    losses = T.mean(T.sqr(T.maximum(0., 1. - targets * scores)), axis=1)
    return losses if per_example else losses.mean()


def build_updates(loss, network, learning_rate, update='adam', m=3.0, srng=None, beta1=0.9):
    """Updates of every parameter of ``network`` for one training step.

    Discrete weights move by DST (:func:`discrete_ops.dst_updates`) with
    increments from Adam (``update='adam'``, the authors' choice), plain
    SGD (``'sgd'``), the gradient over a running RMS kept per layer
    (``'layer-rms'``) or per output unit (``'unit-rms'``,
    :func:`discrete_ops.rms_increments`), or a momentum of the layer-RMS-scaled
    gradient kept in one int8 per weight (``'int8-momentum'``,
    :func:`discrete_ops.int8_momentum_increments`); the last four keep no
    float state per weight.  All other trainable
    parameters (biases, batch-norm scales and shifts, the full-precision
    baseline's weights, the comparison methods' hidden weights and learned
    scales) use Adam.  ``beta1`` is Adam's first-moment decay for both (Lasagne's
    and the authors' 0.9): Adam-DST's increments average the gradient over about
    1 / (1 - beta1) steps, so a larger one moves fewer weights on minibatch noise.
    Hidden weights of layers with ``hidden_clip`` (the
    BinaryConnect family) are then clipped to [-hidden_clip, hidden_clip].
    """
    discrete = gxnor_layers.discrete_layers(network)
    discrete_params = set(layer.W for layer in discrete)
    others = [p for p in lasagne.layers.get_all_params(network, trainable=True)
              if p not in discrete_params]
    grads = theano.grad(loss, [layer.W_values for layer in discrete] + others)
    discrete_grads, other_grads = grads[:len(discrete)], grads[len(discrete):]
    updates = OrderedDict()
    packed = {}   # int8-momentum, int8 storage: layer -> (state index, new momentum)
    if discrete:
        shapes = [layer.W.get_value().shape for layer in discrete]
        if update == 'adam':
            increments, state = discrete_ops.adam_increments(discrete_grads, learning_rate,
                                                             beta1=beta1, shapes=shapes)
        elif update == 'sgd':
            increments, state = discrete_ops.sgd_increments(discrete_grads, learning_rate)
        elif update in ('layer-rms', 'unit-rms'):
            # Output units: conv W (units, C, kh, kw), dense W (inputs, units).
            axes = None if update == 'layer-rms' else \
                [(1, 2, 3) if len(shape) == 4 else (0,) for shape in shapes]
            increments, state = discrete_ops.rms_increments(discrete_grads, learning_rate,
                                                            shapes=shapes, axes=axes)
        elif update == 'int8-momentum':
            # With int8 storage the momentum shares the weight's byte: read it from there.
            srng = srng or MRG_RandomStreams(1234)
            split = [discrete_ops.split_state_byte(layer.W, layer.N)
                     if layer.weight_storage == 'int8' else (None, None) for layer in discrete]
            increments, state, momenta = discrete_ops.int8_momentum_increments(
                discrete_grads, learning_rate, shapes, [layer.N for layer in discrete], srng,
                momenta=[q for _, q in split])
            packed = dict((layer, (index, q)) for layer, (index, _), q
                          in zip(discrete, split, momenta) if index is not None)
        else:
            raise ValueError("update must be one of %s, got %r"
                             % (', '.join(discrete_ops.UPDATES), update))
        updates.update(state)
        for layer, increment in zip(discrete, increments):
            if layer in packed:
                index, momentum = packed[layer]
                new_index = discrete_ops.dst_new_index(index, increment, layer.H, layer.N, m,
                                                       srng)
                updates[layer.W] = discrete_ops.join_state_byte(new_index, momentum, layer.N)
            else:
                updates.update(discrete_ops.dst_updates(
                    [layer.W], [increment], layer.H, layer.N, m=m, srng=srng,
                    index_storage=[layer.weight_storage == 'int8']))
    if others:
        shapes = [p.get_value().shape for p in others]
        increments, state = discrete_ops.adam_increments(other_grads, learning_rate,
                                                         beta1=beta1, shapes=shapes)
        updates.update(state)
        for param, increment in zip(others, increments):
            updates[param] = param + increment
    for layer in lasagne.layers.get_all_layers(network):
        clip = getattr(layer, 'hidden_clip', None)
        if clip is not None:
            updates[layer.W] = T.clip(updates[layer.W], -clip, clip)
    # Lasagne 0.2 makes size-1 axes of parameters broadcastable; updates must match.
    return OrderedDict((var, T.patternbroadcast(value, var.broadcastable))
                       for var, value in updates.items())


def compile_functions(network, input_var, update='adam', m=3.0, seed=1234, beta1=0.9,
                      evaluation=True):
    """Compile the training and evaluation functions.

    Returns
    -------
    train_fn : (X, T, lr) -> mean loss, updating every parameter
    eval_fn : (X, T) -> (sum of losses, number of errors), deterministic; None
        with ``evaluation=False`` (for a tool that only trains a few steps)
    state : list of shared variables that the training changes besides the
        network's parameters (optimizer moments, random generator states)
    """
    target_var = T.matrix('targets')
    lr = T.scalar('lr', dtype=theano.config.floatX)
    srng = MRG_RandomStreams(seed)
    # Layers that draw random numbers (stochastic BinaryConnect) use ``srng``,
    # whose state is checkpointed with the rest.
    loss = squared_hinge_loss(lasagne.layers.get_output(network, deterministic=False,
                                                        srng=srng), target_var)
    updates = build_updates(loss, network, lr, update=update, m=m, srng=srng, beta1=beta1)
    # Compiled once per graph: a later build of the same graph loads it optimized.
    train_fn = gxnor_graph_cache.function([input_var, target_var, lr], loss, updates=updates)
    eval_fn = None
    if evaluation:
        scores = lasagne.layers.get_output(network, deterministic=True)
        per_example = squared_hinge_loss(scores, target_var, per_example=True)
        errors = T.neq(T.argmax(scores, axis=1), T.argmax(target_var, axis=1))
        eval_fn = gxnor_graph_cache.function([input_var, target_var],
                                             [per_example.sum(), errors.sum()])
    params = set(lasagne.layers.get_all_params(network))
    state = [v for v in updates if v not in params]
    state += [item[0] for item in srng.state_updates if item[0] not in state]
    return train_fn, eval_fn, state


def compile_functions_for(network, input_var, args, evaluation=True):
    """:func:`compile_functions` with the update rule, m, seed and beta1 of ``args``.

    What every script and tool calls, so that a flag that shapes the update
    reaches each of them (``args`` from :func:`parse_args`).
    """
    return compile_functions(network, input_var, args.update, args.m, seed=args.seed,
                             beta1=args.beta1, evaluation=evaluation)


def learning_rate(epoch, lr_start, lr_end, epochs, drops=()):
    """Learning rate of ``epoch`` (0 is the snap epoch: 0).

    Geometric from ``lr_start`` at epoch 1 to ``lr_end`` at epoch ``epochs``,
    times 0.1 for every epoch in ``drops`` that is <= ``epoch``.

    Examples
    --------
    >>> learning_rate(1, 0.1, 0.001, 3), round(learning_rate(2, 0.1, 0.001, 3), 6)
    (0.1, 0.01)
    """
    if epoch == 0:
        return 0.0
    decay = (lr_end / lr_start) ** (1.0 / (epochs - 1)) if epochs > 1 else 1.0
    return lr_start * decay ** (epoch - 1) * 0.1 ** sum(1 for d in drops if d <= epoch)


# ----------------------------------------------------------------------------- training

def pm1_targets(labels, classes):
    """One-hot targets in {-1, +1}, as the squared hinge loss wants."""
    targets = -np.ones((len(labels), classes), dtype=theano.config.floatX)
    targets[np.arange(len(labels)), labels] = 1
    return targets


def evaluate(eval_fn, X, y, classes, batch_size):
    """(mean loss, error rate in %) over every example of (X, y)."""
    loss = errors = 0.0
    for start in range(0, len(X), batch_size):
        xb, yb = X[start:start + batch_size], y[start:start + batch_size]
        batch_loss, batch_errors = eval_fn(datasets.to_float(xb, theano.config.floatX),
                                           pm1_targets(yb, classes))
        loss += float(batch_loss)
        errors += float(batch_errors)
    return loss / len(X), 100.0 * errors / len(X)


def train_epoch(train_fn, X, y, classes, args, lr, rng, epoch, seconds_per_epoch=None,
                status=None):
    """One pass over the training set in random order; returns the mean loss.

    Prints a progress line (:class:`progress.Progress`); ``status`` (a dict that
    :func:`run` fills with the epoch), if given, holds the minibatch in progress and
    the phase, for the message after Ctrl-C.
    """
    order = rng.permutation(len(X))
    batches = len(X) // args.batch_size
    total = 0.0
    meter = Progress(batches, epoch, args.epochs, seconds_per_epoch)
    status = {} if status is None else status
    for b in range(batches):
        status['minibatch'] = b + 1
        index = np.sort(order[b * args.batch_size:(b + 1) * args.batch_size])
        xb = X[index]
        if args.augment:
            xb = datasets.random_crop_flip(xb, rng)
        loss = float(train_fn(datasets.to_float(xb, theano.config.floatX),
                              pm1_targets(y[index], classes), np.asarray(lr, theano.config.floatX)))
        if not np.isfinite(loss):
            meter.finish()
            raise TrainingDiverged('training loss became %s at epoch %d, minibatch %d of %d'
                                   % (loss, epoch, b + 1, batches))
        total += loss
        meter.update(b + 1, len(index))
    meter.finish()
    status['phase'] = 'evaluating'
    return total / batches


def _subsets(name, data, args):
    """The splits of ``data`` cut to --train-size, --val-size and --test-size; a size over
    its split's is a warning (all of it is used)."""
    subsets = OrderedDict()
    for split, flag in (('train', 'train_size'), ('valid', 'val_size'), ('test', 'test_size')):
        (X, y), size = data[split], getattr(args, flag)
        if size > len(X):
            run_exits.warn(name, '--%s %d is more than the %d examples of the %s set: all %d '
                           'are used' % (flag.replace('_', '-'), size, len(X), split, len(X)))
        subsets[split] = (X[:size], y[:size]) if size else (X, y)
    return subsets


def _best_line(progress):
    val, test = progress['best_val'], progress['best_test']
    return ('  best validation error rate:   %.2f%% (epoch %d), test error there: %.2f%%\n'
            '  best test error rate:         %.2f%% (epoch %d)  [paper protocol: selected on test]'
            % (val['val_err'], val['epoch'], val['test_err'], test['test_err'], test['epoch']))


def _seconds_per_epoch(history):
    """Mean length of the last (up to 5) epochs (the snap epoch 0 is a full pass
    too), or None before any."""
    seconds = [h['seconds'] for h in history][-5:]
    return sum(seconds) / len(seconds) if seconds else None


def run(experiment, args, status=None):
    """Train ``experiment`` under ``args``; returns the summary dict.

    ``status`` (a dict), if given, is kept up to date with the checkpoint
    path, the last saved epoch and the epoch and minibatch in progress.
    """
    status = {} if status is None else status
    lasagne.random.set_rng(np.random.RandomState(args.seed))
    np.random.seed(args.seed)
    machine.check_compiler()
    data = _subsets(experiment.name, experiment.load_data(args), args)
    X_train = data['train'][0]
    if args.batch_size > len(X_train):
        raise UsageError('--batch-size %d is larger than the training set (%d examples)'
                         % (args.batch_size, len(X_train)))
    print('Data: %d training, %d validation, %d test examples of shape %s'
          % (len(X_train), len(data['valid'][0]), len(data['test'][0]), X_train.shape[1:]))
    folder, checkpoint, model_path = run_folder.paths(args)
    status.update(checkpoint=checkpoint, saved_epoch=None)
    with run_folder.opened(args, folder, model_path, status):
        return _train(experiment, args, status, data, folder, checkpoint, model_path)


def _build_network(experiment, input_var, args):
    """The experiment's network; one too big for this machine's memory is a UsageError."""
    try:
        return experiment.build_network(input_var, args)
    except MemoryError as err:
        raise machine.network_too_big(err)


def _train(experiment, args, status, data, folder, checkpoint, model_path):
    """:func:`run`'s training, once the data are loaded and the run's lock is held."""
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = data.values()
    classes = int(max(y.max() for _, y in data.values())) + 1
    config = run_options.run_config(args)
    versions = run_folder.software_versions()
    named = args.run_name != run_options.default_run_name(experiment.name, args)
    saved = run_folder.progress_to_resume(checkpoint, model_path, args, config, versions, named)

    print('Building the network and compiling...')
    input_var = T.tensor4('inputs')
    network = _build_network(experiment, input_var, args)
    started = time.time()
    machine.keep_freed_memory()   # the same numbers, fewer page faults per step
    train_fn, eval_fn, state = compile_functions_for(network, input_var, args)
    print('  compiled in %.1fs' % (time.time() - started))
    weights, activations = methods.bits_label(args)
    facts = dict(method=args.method, weight_bits=weights, activation_bits=activations,
                 state_bytes=weight_stats.trained_state_bytes(network, state))
    print('  trained state: %s bytes (parameters and optimizer moments)'
          % format(facts['state_bytes'], ','))
    params = run_files.layer_params(network)
    rng = np.random.RandomState(args.seed)
    progress = dict(next_epoch=0, history=[], config=config,
                    best_val=dict(epoch=-1, val_err=101.0, test_err=101.0),
                    best_test=dict(epoch=-1, test_err=101.0))
    if saved is not None:
        progress = run_folder.restore(checkpoint, params, state, rng)
        status['saved_epoch'] = progress['next_epoch'] - 1
        print('Resuming %s after epoch %d' % (checkpoint, progress['next_epoch'] - 1))
    progress['versions'] = versions  # checkpoints from before 2026-12-05 have none
    threads = machine.thread_counts()
    note = machine.thread_change(progress.get('threads', threads), threads,
                                 progress['next_epoch'] - 1)
    if note and progress['next_epoch'] <= args.epochs:
        run_exits.warn(experiment.name, note)
    progress['threads'] = threads

    meta = dict(facts, dataset=experiment.name, run=args.run_name, config=config,
                input_shape=list(X_train.shape[1:]), input_scaling='x*2/255-1',
                classes=classes)
    for epoch in range(progress['next_epoch'], args.epochs + 1):
        lr = learning_rate(epoch, args.lr_start, args.lr_end, args.epochs, args.lr_drops)
        status.update(epoch=epoch, minibatch=0, batches=len(X_train) // args.batch_size,
                      phase='training')
        weights_before = weight_stats.discrete_weight_values(network)
        started = time.time()
        train_loss = train_epoch(train_fn, X_train, y_train, classes, args, lr, rng, epoch,
                                 _seconds_per_epoch(progress['history']), status)
        train_seconds = time.time() - started
        changed, changed_by_layer = weight_stats.weights_changed(
            weights_before, weight_stats.discrete_weight_values(network))
        val_loss, val_err = evaluate(eval_fn, X_val, y_val, classes, args.eval_batch_size)
        test_loss, test_err = evaluate(eval_fn, X_test, y_test, classes, args.eval_batch_size)
        record = dict(epoch=epoch, lr=lr, train_loss=train_loss, val_loss=val_loss,
                      val_err=val_err, test_loss=test_loss, test_err=test_err,
                      weights_changed=changed, weights_changed_by_layer=changed_by_layer,
                      seconds=time.time() - started, train_seconds=train_seconds,
                      images_per_second=(len(X_train) // args.batch_size) * args.batch_size /
                      max(train_seconds, 1e-9))
        progress['history'].append(record)
        if test_err <= progress['best_test']['test_err']:
            progress['best_test'] = dict(epoch=epoch, test_err=test_err)
        progress['next_epoch'] = epoch + 1
        # Ctrl-C or SIGTERM here waits for the files of the epoch, written all or none.
        # All of them or none (a full disk leaves the previous epoch's), the checkpoint last.
        with run_guard.interrupts_held():
            files = []
            if val_err <= progress['best_val']['val_err']:
                progress['best_val'] = dict(epoch=epoch, val_err=val_err, test_err=test_err)
                run_files.save_model(model_path, network, dict(
                    meta, epoch=epoch, val_err=val_err, test_err=test_err), files)
            run_files.write_results(folder, progress['history'],
                                    _summary(args, progress, model_path, facts), files)
            run_files.save_checkpoint(checkpoint, params, state, rng, progress, files)
            run_files.write_together(files)
            status['saved_epoch'] = epoch
        print('Epoch %d of %d took %.1fs (training %.0f images/s)'
              % (epoch, args.epochs, record['seconds'], record['images_per_second']))
        print('  learning rate:                %.3g%s' % (lr, '  (snap epoch)' if epoch == 0
                                                         else ''))
        print('  training loss:                %.6f' % train_loss)
        if changed is not None:
            print(weight_stats.changed_line(changed, changed_by_layer, epoch))
        print('  validation loss:              %.6f' % val_loss)
        print('  validation error rate:        %.2f%%' % val_err)
        print('  test error rate:              %.2f%%' % test_err)
        print(_best_line(progress))
        sys.stdout.flush()
    summary = _summary(args, progress, model_path, facts)
    run_folder.repair_results(folder, progress, summary)
    print('Done. Test error at best validation epoch %d: %.2f%%; best test error (paper '
          'protocol) %.2f%% at epoch %d.\nModel: %s  Results: %s'
          % (summary['best_val_epoch'], summary['test_err_at_best_val'],
             summary['best_test_err'], summary['best_test_epoch'], model_path, folder))
    return summary


def _summary(args, progress, model_path, facts):
    return dict(facts, run=args.run_name, model=model_path,
                results=os.path.join(args.results_dir, args.run_name),
                epochs_done=progress['next_epoch'] - 1,
                best_val_epoch=progress['best_val']['epoch'],
                best_val_err=progress['best_val']['val_err'],
                test_err_at_best_val=progress['best_val']['test_err'],
                best_test_epoch=progress['best_test']['epoch'],
                best_test_err=progress['best_test']['test_err'],
                config=run_options.run_config(args), versions=progress.get('versions'))


def main(experiment, argv=None, num_epochs=None, **overrides):
    """Command-line entry point of a dataset script.

    Returns the summary dict.  Every failure is one line on stderr and an exit
    status (``run_exits.EXIT_STATUS``): 2 bad input, 3 the training diverged, 4 a file
    could not be written (disk full), 130 Ctrl-C, 143 SIGTERM and 129 SIGHUP (which
    stop the run as Ctrl-C does; a SIGHUP ignored under ``nohup`` stays ignored).
    """
    status = {}
    gxnor_compat.end_of_start()
    with run_exits.exits_on_failure(experiment.name, status, argv):
        notes = []
        args = parse_args(experiment, argv, notes, epochs=num_epochs, **overrides)
        for note in notes:
            run_exits.warn(experiment.name, note)
        run_options.print_hyperparameters(args, gxnor_device.check_device())
        return run(experiment, args, status)
