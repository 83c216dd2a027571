"""The training harness shared by ``mnist.py``, ``cifar10.py`` and ``svhn.py``.

A dataset script gives an :class:`Experiment` (its data loader, its network
and its default hyperparameters) to :func:`main`, which parses the command
line, prints every hyperparameter, trains, and writes:

* ``results/<run>/checkpoint.npz``: everything needed to resume (all
  parameters, optimizer and random states, the history), after every epoch;
* ``results/<run>.npz`` (``--weights-dir``): the model of the best validation epoch, in the
  ``gxnor-model`` format that ``gated_xnor.py`` runs;
* ``results/<run>/results.json`` and ``results.mat`` (the authors' keys
  ``valid_err`` and ``train_loss``, plus the other curves) and
  ``curves.png``.

All files are written atomically (temporary file, then rename), so a run
stopped at any moment leaves the previous versions intact, and running the
same command again resumes after the last finished epoch.

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

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from collections import OrderedDict

try:
    from shlex import quote as shell_quote
except ImportError:  # Python 2
    from pipes import quote as shell_quote

import gxnor_compat  # noqa: F401  (before theano and lasagne)
import lasagne
import numpy as np
import theano
import theano.tensor as T
from theano.sandbox.rng_mrg import MRG_RandomStreams

import datasets
import discrete_ops
import gxnor_device
import gxnor_layers
import methods
from progress import Progress

__all__ = ['Experiment', 'main', 'conv_block', 'dense_block', 'squared_hinge_loss',
           'build_updates', 'compile_functions', 'keep_freed_memory', 'trained_state_bytes',
           'learning_rate', 'save_model', 'UsageError', 'TrainingDiverged']

MODEL_FORMAT = 'gxnor-model'
# Increment rules for DST (--update); all but 'adam' keep no float state per weight.
UPDATES = ('adam', 'sgd', 'layer-rms', 'unit-rms', 'int8-momentum')


class UsageError(Exception):
    """Bad hyperparameters or files: reported as one line, exit status 2."""


class TrainingDiverged(Exception):
    """The training loss became NaN or infinite: exit status 3."""


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
    """

    def __init__(self, name, load_data, build_network, defaults, description=''):
        self.name, self.load_data, self.build_network = name, load_data, build_network
        self.defaults, self.description = dict(defaults), description


# ----------------------------------------------------------------------------- graph

def squared_hinge_loss(scores, targets, per_example=False):
    """mean(max(0, 1 - t * s)^2) with targets t in {-1, +1}, as the authors.

    With ``per_example``, the mean over classes only: one loss per example.
    """
    losses = T.mean(T.sqr(T.maximum(0., 1. - targets * scores)), axis=1)
    return losses if per_example else losses.mean()


def build_updates(loss, network, learning_rate, update='adam', m=3.0, srng=None):
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
    scales) use Adam; hidden weights of layers with ``hidden_clip`` (the
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
                                                             shapes=shapes)
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
            raise ValueError("update must be one of %s, got %r" % (', '.join(UPDATES), update))
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
                                                         shapes=shapes)
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


def compile_functions(network, input_var, update='adam', m=3.0, seed=1234):
    """Compile the training and evaluation functions.

    Returns
    -------
    train_fn : (X, T, lr) -> mean loss, updating every parameter
    eval_fn : (X, T) -> (sum of losses, number of errors), deterministic
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
    updates = build_updates(loss, network, lr, update=update, m=m, srng=srng)
    train_fn = theano.function([input_var, target_var, lr], loss, updates=updates)
    scores = lasagne.layers.get_output(network, deterministic=True)
    per_example = squared_hinge_loss(scores, target_var, per_example=True)
    errors = T.neq(T.argmax(scores, axis=1), T.argmax(target_var, axis=1))
    eval_fn = theano.function([input_var, target_var], [per_example.sum(), errors.sum()])
    params = set(lasagne.layers.get_all_params(network))
    state = [v for v in updates if v not in params]
    state += [item[0] for item in srng.state_updates if item[0] not in state]
    return train_fn, eval_fn, state


# glibc's mallopt parameters.
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


def keep_freed_memory(environ=None):
    """Let glibc keep the memory a training step frees, for the next step to reuse.

    Theano frees every intermediate array of a step as soon as it is used
    (``allow_gc``), and glibc hands large freed blocks (mmap'ed ones, and the
    top of the heap) back to the system, so the next step faults every page
    of them in again, zero-filled: about 27,000 page faults and 0.06 s of
    system time per step of ``cifar10.py --widths 32,64,128,256`` at batch
    100, 97,000 and 0.66 s at the paper's widths.  With every block served
    from the heap (no mmap) and the heap never trimmed, the pages stay
    mapped; the same arrays come back every step, so the peak memory stays
    about what it was (the same, and 5% more at the paper's widths).  The
    numbers computed do not change; the step runs 8% (12%) faster on a
    2-core machine (``bench/results/cifar10-step.json``).

    Does nothing where the C library has no ``mallopt`` (not glibc) or the
    user tuned glibc's malloc (``MALLOC_*_`` or ``GLIBC_TUNABLES``); returns
    whether it changed the settings.
    """
    environ = os.environ if environ is None else environ
    if any(k.startswith('MALLOC_') for k in environ) or 'malloc' in environ.get(
            'GLIBC_TUNABLES', ''):
        return False
    try:
        import ctypes
        import ctypes.util
        mallopt = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6').mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_MAX, 0) and mallopt(_M_TRIM_THRESHOLD, 2 ** 31 - 1))


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


# ----------------------------------------------------------------------------- files

def _atomic_write(path, write):
    """Call ``write(binary_file)`` on a temporary file, then rename it to ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        os.makedirs(folder)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix='.tmp-', suffix=os.path.basename(path))
    try:
        with os.fdopen(handle, 'wb') as out:
            write(out)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it private
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _json_array(obj):
    return np.array(json.dumps(obj, sort_keys=True))


def layer_params(network):
    """OrderedDict '<layer>.<param>' -> shared variable, for every layer."""
    named = OrderedDict()
    for layer in lasagne.layers.get_all_layers(network):
        for param in layer.get_params():
            key = '%s.%s' % (layer.name, _param_key(layer, param))
            if key in named:
                raise ValueError('two parameters named %s: give every layer a unique name' % key)
            named[key] = param
    return named


def _param_key(layer, param):
    for attr in ('W', 'b', 'beta', 'gamma', 'mean', 'inv_std', 'wp', 'wn', 'scale'):
        if getattr(layer, attr, None) is param:
            return attr
    return param.name


def save_model(path, network, meta):
    """Write the network in the ``gxnor-model`` format (atomically).

    Arrays '<layer>.<param>' hold float32 values (discrete weights as their
    values on the grid, whatever their storage); '__meta__' holds JSON with
    the architecture (:func:`gxnor_layers.describe_network`) and ``meta``.
    """
    arrays = OrderedDict()
    by_param = dict((p, layer) for layer in lasagne.layers.get_all_layers(network)
                    for p in layer.get_params())
    for key, param in layer_params(network).items():
        layer = by_param[param]
        if param is getattr(layer, 'W', None) and hasattr(layer, 'weight_values'):
            arrays[key] = np.asarray(layer.weight_values(), dtype=np.float32)
        else:
            arrays[key] = np.asarray(param.get_value(), dtype=np.float32)
    info = dict(meta, format=MODEL_FORMAT, version=1,
                layers=gxnor_layers.describe_network(network))
    arrays['__meta__'] = _json_array(info)
    _atomic_write(path, lambda out: np.savez_compressed(out, **arrays))


def _rng_arrays(rng):
    name, keys, pos, has_gauss, cached = rng.get_state()
    return {'__rng_keys__': keys, '__rng_rest__': np.array([pos, has_gauss, cached])}


def _set_rng(rng, data):
    pos, has_gauss, cached = data['__rng_rest__']
    rng.set_state(('MT19937', data['__rng_keys__'], int(pos), int(has_gauss), float(cached)))


def save_checkpoint(path, params, state, rng, progress):
    arrays = dict(('param:' + k, v.get_value()) for k, v in params.items())
    arrays.update(('state:%d' % i, v.get_value()) for i, v in enumerate(state))
    arrays.update(_rng_arrays(rng))
    arrays['__progress__'] = _json_array(progress)
    _atomic_write(path, lambda out: np.savez(out, **arrays))


def load_checkpoint(path, params, state, rng):
    """Restore a checkpoint; returns its progress dict."""
    try:
        data = np.load(path)
        progress = json.loads(str(data['__progress__']))
        for key, var in params.items():
            _restore(var, data['param:' + key], key, path)
        for i, var in enumerate(state):
            _restore(var, data['state:%d' % i], 'optimizer state %d' % i, path)
        _set_rng(rng, data)
    except (IOError, KeyError, ValueError) as err:
        raise UsageError('cannot resume from %s (%s); move it away or pass --fresh'
                         % (path, str(err).strip() or type(err).__name__))
    return progress


def _restore(var, value, what, path):
    shape = var.get_value(borrow=True).shape
    if value.shape != shape:
        if value.size != int(np.prod(shape)):
            raise ValueError('%s has shape %s, the network needs %s' % (what, value.shape, shape))
        value = value.reshape(shape)  # Adam's step counter was a scalar before 2026-11-24
    var.set_value(value.astype(var.dtype))


def write_results(folder, history, summary):
    """results.json, results.mat (authors' keys) and curves.png."""
    import scipy.io
    trained = [h for h in history if h['epoch'] >= 1]
    curves = dict((key, np.array([h[key] for h in trained], dtype=np.float64))
                  for key in ('train_loss', 'val_loss', 'val_err', 'test_err', 'lr', 'seconds'))
    curves['valid_err'] = curves['val_err']
    _atomic_write(os.path.join(folder, 'results.json'), lambda out: out.write(
        json.dumps(dict(summary, history=history), indent=1, sort_keys=True).encode('utf-8')))
    _atomic_write(os.path.join(folder, 'results.mat'),
                  lambda out: scipy.io.savemat(out, curves))
    if trained:
        _atomic_write(os.path.join(folder, 'curves.png'),
                      lambda out: _plot_curves(out, trained, summary.get('run', '')))


def _scale_for_shares(axes, values):
    """A log y axis labelled 1, 2 and 5 of each decade in plain numbers ('0.2',
    not '2x10^-1') when ``values`` span a factor 5 or more, as the share of
    weights changed does while the LR decays; a linear axis otherwise."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter
    if min(values) <= 0 or max(values) < 5 * min(values):
        return
    axes.set_yscale('log')
    axes.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axes.yaxis.set_major_formatter(FormatStrFormatter('%g'))
    axes.yaxis.set_minor_formatter(NullFormatter())


def _plot_curves(out, trained, title):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    epochs = [h['epoch'] for h in trained]
    # Runs begun before the harness measured it lack the share in their first epochs.
    changed = [(h['epoch'], h['weights_changed']) for h in trained
               if h.get('weights_changed') is not None]
    if changed:
        fig, (top, bottom, moved) = plt.subplots(3, 1, sharex=True, figsize=(7, 8))
        moved.plot([e for e, _ in changed], [c for _, c in changed], 'k-')
        moved.set_ylabel('weights changed (%)')
        _scale_for_shares(moved, [c for _, c in changed])
    else:
        fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7, 6))
    top.plot(epochs, [h['val_err'] for h in trained], 'r-', label='validation')
    top.plot(epochs, [h['test_err'] for h in trained], 'g-', label='test')
    top.set_ylabel('error rate (%)')
    top.legend()
    top.set_title(title)
    bottom.plot(epochs, [h['train_loss'] for h in trained], 'b-', label='training')
    bottom.plot(epochs, [h['val_loss'] for h in trained], 'm-', label='validation')
    bottom.set_ylabel('squared hinge loss')
    bottom.legend()
    (moved if changed else bottom).set_xlabel('epoch')
    fig.tight_layout()
    fig.savefig(out, format='png', dpi=80)
    plt.close(fig)


# ----------------------------------------------------------------------------- blocks

def _finish_block(net, args, name, pool, activation):
    if pool:
        net = lasagne.layers.MaxPool2DLayer(net, pool_size=(2, 2))
    net = gxnor_layers.BatchNormLayer(net, epsilon=args.bn_epsilon, alpha=args.bn_alpha,
                                      name=name + '_bn')
    if not activation:
        return net
    return methods.activation_layer(net, args, name + '_act')


def conv_block(net, args, name, num_filters, filter_size, pad=0, pool=False, activation=True):
    """Convolution, [2x2 max-pooling], batch norm, [activation], as the authors;
    weights and activation of ``args.method`` (:mod:`methods`)."""
    net = methods.weight_layer('conv', net, args, name, args.init_scale,
                               num_filters=num_filters, filter_size=filter_size, pad=pad)
    return _finish_block(net, args, name, pool, activation)


def dense_block(net, args, name, num_units, activation=True):
    """Dense layer, batch norm, [activation]; the last block has none."""
    net = methods.weight_layer('dense', net, args, name, args.dense_init_scale,
                               num_units=num_units)
    return _finish_block(net, args, name, False, activation)


def discrete_weight_values(network):
    """OrderedDict layer name -> its discrete weights as a float array (a copy)."""
    return OrderedDict((layer.name, np.array(layer.weight_values()))
                       for layer in gxnor_layers.discrete_layers(network))


def weights_changed(before, after):
    """Share (%) of discrete weights whose value differs between two
    :func:`discrete_weight_values` snapshots: ``(over all, {layer: share})``.

    Under DST a weight moves only by a random transition, so this is how fast
    the learning rate lets the network move (too low: frozen; too high:
    churning); ``(None, {})`` for a network without discrete weights.

    Examples
    --------
    >>> a = OrderedDict([('c', np.zeros(4)), ('d', np.zeros(6))])
    >>> b = OrderedDict([('c', np.array([0., 1, 0, 0])), ('d', np.zeros(6))])
    >>> share, by_layer = weights_changed(a, b)
    >>> share, list(by_layer.items())
    (10.0, [('c', 25.0), ('d', 0.0)])
    """
    if not before:
        return None, OrderedDict()
    counts = OrderedDict((name, int(np.count_nonzero(before[name] != after[name])))
                         for name in before)
    by_layer = OrderedDict((name, 100.0 * n / before[name].size) for name, n in counts.items())
    total = sum(w.size for w in before.values())
    return 100.0 * sum(counts.values()) / total, by_layer


def _changed_line(share, by_layer, epoch):
    layers = ', '.join('%s %.2f%%' % item for item in by_layer.items())
    return ('  discrete weights changed:     %.2f%% (%s)%s'
            % (share, layers, '  (the snap onto the grid)' if epoch == 0 else ''))


def trained_state_bytes(network, state):
    """Bytes of everything the training keeps and changes besides the
    batch-norm averages: trainable and discrete parameters (hidden weights
    included) and optimizer state: float moments, int8 momenta (the random
    generators' int32 states excluded)."""
    params = set(lasagne.layers.get_all_params(network, trainable=True))
    params |= set(lasagne.layers.get_all_params(network, discrete=True))
    arrays = [p.get_value() for p in params]
    arrays += [v.get_value() for v in state if v not in params and v.dtype != 'int32']
    return int(sum(a.nbytes for a in arrays))


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


CONFIG_IGNORED = ('data_dir', 'download', 'results_dir', 'weights_dir', 'fresh',
                  'eval_batch_size', 'run_name')


def run_config(args):
    """The hyperparameters that define a run: a checkpoint resumes only under the same ones."""
    return dict((k, v) for k, v in sorted(vars(args).items()) if k not in CONFIG_IGNORED)


def _check_resumable(saved, current, path):
    changed = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
    if changed:
        detail = ', '.join('%s %r -> %r' % (k, saved.get(k), current.get(k)) for k in changed[:4])
        raise UsageError('%s was made with other hyperparameters (%s); pass --run-name NAME '
                         'for a new run or --fresh to set the old one aside' % (path, detail))


def _set_aside(path):
    if os.path.exists(path):
        stamp = time.strftime('%Y%m%d-%H%M%S')
        os.rename(path, '%s.old-%s' % (path, stamp))
        print('Set aside %s as %s.old-%s' % (path, path, stamp))


def _subset(split, size):
    X, y = split
    return (X[:size], y[:size]) if size else (X, y)


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
    data = experiment.load_data(args)
    data = OrderedDict([('train', _subset(data['train'], args.train_size)),
                        ('valid', _subset(data['valid'], args.val_size)),
                        ('test', _subset(data['test'], args.test_size))])
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = data.values()
    if args.batch_size > len(X_train):
        raise UsageError('--batch-size %d is larger than the training set (%d examples)'
                         % (args.batch_size, len(X_train)))
    classes = int(max(y.max() for _, y in data.values())) + 1
    print('Data: %d training, %d validation, %d test examples of shape %s'
          % (len(X_train), len(X_val), len(X_test), X_train.shape[1:]))

    print('Building the network and compiling...')
    input_var = T.tensor4('inputs')
    network = experiment.build_network(input_var, args)
    started = time.time()
    keep_freed_memory()   # the same numbers, fewer page faults per step
    train_fn, eval_fn, state = compile_functions(network, input_var, args.update, args.m,
                                                 seed=args.seed)
    print('  compiled in %.1fs' % (time.time() - started))
    weights, activations = methods.bits_label(args)
    facts = dict(method=args.method, weight_bits=weights, activation_bits=activations,
                 state_bytes=trained_state_bytes(network, state))
    print('  trained state: %s bytes (parameters and optimizer moments)'
          % format(facts['state_bytes'], ','))
    params = layer_params(network)
    rng = np.random.RandomState(args.seed)

    folder = os.path.join(args.results_dir, args.run_name)
    checkpoint = os.path.join(folder, 'checkpoint.npz')
    model_path = os.path.join(args.weights_dir or args.results_dir, args.run_name + '.npz')
    status.update(checkpoint=checkpoint, saved_epoch=None)
    if args.fresh:
        _set_aside(folder)
    if args.fresh or not os.path.exists(checkpoint):
        _set_aside(model_path)  # a model with no run behind it is kept, never overwritten
    config = run_config(args)
    progress = dict(next_epoch=0, history=[], config=config,
                    best_val=dict(epoch=-1, val_err=101.0, test_err=101.0),
                    best_test=dict(epoch=-1, test_err=101.0))
    if os.path.exists(checkpoint):
        saved = load_checkpoint(checkpoint, params, state, rng)
        _check_resumable(saved['config'], config, checkpoint)
        progress = saved
        status['saved_epoch'] = progress['next_epoch'] - 1
        print('Resuming %s after epoch %d' % (checkpoint, progress['next_epoch'] - 1))

    meta = dict(facts, dataset=experiment.name, run=args.run_name, config=config,
                input_shape=list(X_train.shape[1:]), input_scaling='x*2/255-1',
                classes=classes)
    for epoch in range(progress['next_epoch'], args.epochs + 1):
        lr = learning_rate(epoch, args.lr_start, args.lr_end, args.epochs, args.lr_drops)
        status.update(epoch=epoch, minibatch=0, batches=len(X_train) // args.batch_size,
                      phase='training')
        weights_before = discrete_weight_values(network)
        started = time.time()
        train_loss = train_epoch(train_fn, X_train, y_train, classes, args, lr, rng, epoch,
                                 _seconds_per_epoch(progress['history']), status)
        train_seconds = time.time() - started
        changed, changed_by_layer = weights_changed(weights_before,
                                                    discrete_weight_values(network))
        val_loss, val_err = evaluate(eval_fn, X_val, y_val, classes, args.eval_batch_size)
        test_loss, test_err = evaluate(eval_fn, X_test, y_test, classes, args.eval_batch_size)
        record = dict(epoch=epoch, lr=lr, train_loss=train_loss, val_loss=val_loss,
                      val_err=val_err, test_loss=test_loss, test_err=test_err,
                      weights_changed=changed, weights_changed_by_layer=changed_by_layer,
                      seconds=time.time() - started, train_seconds=train_seconds,
                      images_per_second=(len(X_train) // args.batch_size) * args.batch_size /
                      max(train_seconds, 1e-9))
        progress['history'].append(record)
        if val_err <= progress['best_val']['val_err']:
            progress['best_val'] = dict(epoch=epoch, val_err=val_err, test_err=test_err)
            save_model(model_path, network, dict(meta, epoch=epoch, val_err=val_err,
                                                 test_err=test_err))
        if test_err <= progress['best_test']['test_err']:
            progress['best_test'] = dict(epoch=epoch, test_err=test_err)
        progress['next_epoch'] = epoch + 1
        save_checkpoint(checkpoint, params, state, rng, progress)
        status['saved_epoch'] = epoch
        write_results(folder, progress['history'], _summary(args, progress, model_path, facts))
        print('Epoch %d of %d took %.1fs (training %.0f images/s)'
              % (epoch, args.epochs, record['seconds'], record['images_per_second']))
        print('  learning rate:                %.3g%s' % (lr, '  (snap epoch)' if epoch == 0
                                                         else ''))
        print('  training loss:                %.6f' % train_loss)
        if changed is not None:
            print(_changed_line(changed, changed_by_layer, epoch))
        print('  validation loss:              %.6f' % val_loss)
        print('  validation error rate:        %.2f%%' % val_err)
        print('  test error rate:              %.2f%%' % test_err)
        print(_best_line(progress))
        sys.stdout.flush()
    summary = _summary(args, progress, model_path, facts)
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
                config=run_config(args))


# ----------------------------------------------------------------------------- command line

class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _epoch_list(text):
    try:
        return [int(t) for t in text.split(',') if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError('expected comma-separated epochs, got %r' % text)


def build_parser(experiment):
    """The flags common to all dataset scripts, with the experiment's defaults."""
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
    add('--update', choices=UPDATES, default='adam',
        help='increment D for DST: Adam step (authors); -lr*grad; -lr*grad over a '
        'running RMS kept per layer or per output unit; or -lr times a momentum of '
        'the layer-RMS-scaled gradient kept in one int8 per weight (the last four: no '
        'float state per weight)')
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
    add('--m', type=float, default=3.0, help='DST nonlinearity: P(extra step) = tanh(m|v|/dz)')
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
        help='no augmentation (the default shown is that of augment)')
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
    if getattr(experiment, 'add_arguments', None):
        experiment.add_arguments(p)
    p.set_defaults(**experiment.defaults)
    return p


def _validate(args):
    checks = [(args.N >= 0, '--N must be >= 0'), (args.act_N >= 0, '--act-N must be >= 0'),
              (args.r > 0, '--r must be > 0'), (args.a > 0, '--a must be > 0'),
              (args.H > 0, '--H must be > 0'), (args.m > 0, '--m must be > 0'),
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
              (args.tbn_delta >= 0, '--tbn-delta must be >= 0')]
    for ok, message in checks:
        if not ok:
            raise UsageError(message)


def default_run_name(name, args):
    """Readable main hyperparameters plus a hash of all of them, so that the
    same command resumes its run and any other command starts its own."""
    method = methods.method_label(args)
    digest = hashlib.sha1(json.dumps(run_config(args), sort_keys=True).encode('utf-8'))
    return '%s-%s-b%d-e%d-%s' % (name, method, args.batch_size, args.epochs,
                                 digest.hexdigest()[:8])


def parse_args(experiment, argv=None, **overrides):
    """Parse ``argv``; keyword overrides (e.g. ``epochs=1``) win over flags."""
    args = build_parser(experiment).parse_args(argv)
    for key, value in overrides.items():
        if value is not None:
            setattr(args, key, value)
    _validate(args)
    args.run_name = args.run_name or default_run_name(experiment.name, args)
    return args


def print_hyperparameters(args, device=None):
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


def resume_command(argv=None):
    """The command line that resumes this run: this interpreter, script and arguments."""
    python = sys.executable or 'python'
    relative = os.path.relpath(python)
    python = relative if not relative.startswith(os.pardir) else os.path.basename(python)
    words = [python, sys.argv[0]] + list(sys.argv[1:] if argv is None else argv)
    return ' '.join(shell_quote(w) for w in words)


def interrupted_message(status, argv=None):
    """The one line printed after Ctrl-C: where it stopped, what is safe, how to resume."""
    if 'epoch' not in status:
        return 'interrupted before training started; nothing was written'
    where = 'epoch %d, minibatch %d of %d' % (status['epoch'], status['minibatch'],
                                             status['batches'])
    if status['phase'] != 'training':
        where = 'epoch %d, after its training (evaluating or saving)' % status['epoch']
    if status.get('saved_epoch') is None:
        return 'interrupted at %s; no epoch had finished, so nothing was saved' % where
    return ('interrupted at %s; epochs up to %d are safe in %s; the same command resumes '
            'after epoch %d: %s' % (where, status['saved_epoch'], status['checkpoint'],
                                    status['saved_epoch'], resume_command(argv)))


def main(experiment, argv=None, num_epochs=None, **overrides):
    """Command-line entry point of a dataset script.

    Returns the summary dict; exits with status 2 on bad input (one line on
    stderr), 3 when the training diverges.
    """
    status = {}
    try:
        args = parse_args(experiment, argv, epochs=num_epochs, **overrides)
        print_hyperparameters(args, gxnor_device.check_device())
        return run(experiment, args, status)
    except KeyboardInterrupt:
        sys.stdout.flush()
        print('\n%s: %s' % (experiment.name, interrupted_message(status, argv)), file=sys.stderr)
        sys.exit(130)
    except (UsageError, datasets.DataError, gxnor_device.DeviceError) as err:
        print('%s: error: %s' % (experiment.name, err), file=sys.stderr)
        sys.exit(2)
    except TrainingDiverged as err:
        print('%s: error: %s; the last checkpoint is kept' % (experiment.name, err),
              file=sys.stderr)
        sys.exit(3)
