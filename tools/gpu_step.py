#!/usr/bin/env python
"""Where a script's training step runs, and what it computes.

Compiles the training function of ``mnist.py``, ``cifar10.py`` or ``svhn.py``
(the script's own network and defaults, GXNOR-Net unless ``--method``) on
the device that ``THEANO_FLAGS`` selects, lists every op of the step that
runs on the host, runs a few training steps on fixed random inputs and
saves the losses and all parameters::

    THEANO_FLAGS=device=cpu python tools/gpu_step.py mnist --out cpu.npz
    THEANO_FLAGS=device=cuda,dnn.enabled=False python tools/gpu_step.py mnist \\
        --out gpu.npz --require-gpu
    python tools/gpu_step.py --compare cpu.npz gpu.npz

On a GPU device the only host work allowed is moving the step's inputs in
and its loss out: any other host op is listed and, with ``--require-gpu``,
makes the exit status 1.  ``--compare`` checks that two runs (CPU and GPU
backend, same seed and inputs) agree within float tolerance; exit status 1
if they do not.  DST draws its random numbers from ``MRG_RandomStreams``,
whose CPU and GPU kernels give the same numbers; a transition can still
differ where an increment lies within rounding of its threshold, so a small
share of differing weights is tolerated (``--max-weight-diff``).

Only MNIST's GXNOR-Net network agrees this way over several steps.  On the
deeper CIFAR-10/SVHN networks, rounding differences of about 1e-5 in the
float parameters after one Adam step are enough to flip a few first-layer
staircase activations, and the flips multiply layer by layer, so the next
steps part (float32 and float64 on one CPU part the same way);
``bench/studies/rounding_sensitivity.py`` measures this.  Compare those networks
with ``--method fp`` or a single step.
"""
from __future__ import absolute_import, division, print_function

import argparse
import importlib
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import gxnor_compat  # noqa: E402,F401  (before theano and lasagne)
import numpy as np  # noqa: E402

import dataset_names  # noqa: E402

SCRIPTS = dataset_names.NAMES


def _shape_bookkeeping(node):
    """True for a node that only handles integer shape metadata (Shape_i,
    MakeVector of sizes, the batch size moved to the device...)."""
    return all(out.type.dtype.startswith(('int', 'uint')) and out.ndim <= 1
               for out in node.outputs)


def host_ops(fn):
    """(host ops, shape ops) of a compiled Theano function, as strings.

    On the gpuarray backend, moving a function input to the device
    (``GpuFromHost`` of an input) and an output back (``HostFromGpu`` whose
    result is an output) are the only data the host needs to touch; they
    are not listed.  Nodes that only compute integer shapes (Theano keeps
    those on the host by design) are the second list.  Everything else is a
    host op.  On the CPU backend every op is a host op.
    """
    fgraph = fn.maker.fgraph
    inputs, outputs = set(fgraph.inputs), set(fgraph.outputs)
    hosted, shapes = [], []
    for node in fgraph.toposort():
        name = type(node.op).__name__
        if type(node.op).__module__.startswith('theano.gpuarray'):
            if name == 'GpuFromHost' and node.inputs[0] in inputs:
                continue
            if name == 'HostFromGpu' and node.outputs[0] in outputs:
                continue
            if name not in ('GpuFromHost', 'HostFromGpu'):
                continue
        if _shape_bookkeeping(node) or (name == 'GpuFromHost' and
                                        node.inputs[0].dtype.startswith('int')):
            shapes.append(str(node.op))
        else:
            hosted.append(str(node))
    return hosted, shapes


def device_description():
    """'cpu' or the gpuarray context's device and name."""
    import theano
    device = theano.config.device
    try:
        from theano.gpuarray.type import get_context
        context = get_context(None)
        return '%s (%s)' % (device, context.devname)
    except Exception:  # no gpuarray context: the CPU backend
        return device


def build_network(script, argv):
    """(network, input variable, parsed args) of ``script`` with flags ``argv``,
    its initial weights drawn from the script's seed.

    ``script`` is a module name: one of :data:`SCRIPTS` (the command line's
    choices), or another script of the same form (the benches time
    ``tests/tiny_mnist.py``)."""
    import lasagne
    import theano.tensor as T
    import run_options
    module = importlib.import_module(script)
    args = run_options.parse_args(module.EXPERIMENT, argv)
    lasagne.random.set_rng(np.random.RandomState(args.seed))
    np.random.seed(args.seed)
    input_var = T.tensor4('inputs')
    return module.build_network(input_var, args), input_var, args


def build_step(script, argv):
    """(train_fn, params, training state, input shape) of ``script``'s network."""
    import lasagne
    import binary_net
    import run_files
    network, input_var, args = build_network(script, argv)
    train_fn, _, state = binary_net.compile_functions_for(network, input_var, args,
                                                         evaluation=False)
    shape = lasagne.layers.get_all_layers(network)[0].shape[1:]
    return train_fn, run_files.layer_params(network), state, shape


def random_batches(shape, batch, count, seed, classes=10):
    """``count`` fixed random batches (X uniform in [-1, 1], y as +-1 targets)."""
    import theano
    import binary_net
    rng = np.random.RandomState(seed)
    for _ in range(count):
        X = rng.uniform(-1, 1, size=(batch,) + tuple(shape)).astype(theano.config.floatX)
        yield X, binary_net.pm1_targets(rng.randint(0, classes, size=batch), classes)


def run_steps(train_fn, shape, batch, steps, lr, seed, classes=10):
    """Train ``steps`` steps (after one with LR 0, the snap) on the first
    ``steps + 1`` of :func:`random_batches`; returns (losses, seconds of the
    timed steps)."""
    import theano
    floatx = theano.config.floatX
    losses, seconds = [], 0.0
    for step, (X, y) in enumerate(random_batches(shape, batch, steps + 1, seed, classes)):
        started = time.time()
        losses.append(float(train_fn(X, y, np.asarray(0.0 if step == 0 else lr, floatx))))
        if step:
            seconds += time.time() - started
    return losses, seconds


def record(args):
    import theano
    if args.require_gpu and theano.config.device.startswith('cpu'):
        # Before compiling anything: the answer is known, and the compile takes minutes.
        print('%s: --require-gpu, but THEANO_FLAGS selects the CPU backend (device=%s)'
              % (args.script, theano.config.device))
        return 1
    train_fn, params, state, shape = build_step(args.script, args.flags)
    hosted, shapes = host_ops(train_fn)
    on_gpu = not theano.config.device.startswith('cpu')
    losses, seconds = run_steps(train_fn, shape, args.batch_size, args.steps, args.lr,
                                args.data_seed)
    ops = len(train_fn.maker.fgraph.apply_nodes)
    images_per_second = args.steps * args.batch_size / seconds
    if on_gpu:
        print('%s on %s: %d ops in the training step, %d on the host apart from the transfer '
              'of inputs and outputs and %d integer shape ops'
              % (args.script, device_description(), ops, len(hosted), len(shapes)))
    else:
        print('%s on %s: %d ops in the training step (the CPU backend)'
              % (args.script, device_description(), ops))
    if on_gpu:
        for op in hosted:
            print('  host op: %s' % op)
    print('  losses: %s' % ' '.join('%.6f' % l for l in losses))
    print('  %d steps of batch %d: %.1f images/s' % (args.steps, args.batch_size,
                                                     images_per_second))
    if args.out:
        arrays = dict(('param:' + k, np.asarray(v.get_value())) for k, v in params.items())
        arrays['losses'] = np.array(losses)
        arrays['__info__'] = np.array(json.dumps(dict(
            script=args.script, device=device_description(), host_ops=hosted, shape_ops=shapes,
            ops=ops, lr=args.lr, steps=args.steps,
            images_per_second=images_per_second)))
        np.savez_compressed(args.out, **arrays)
    return 1 if (args.require_gpu and (not on_gpu or hosted)) else 0


def compare(path_a, path_b, loss_rtol, param_atol, max_weight_diff):
    """Print how two saved runs differ; returns 0 if within tolerance, else 1."""
    a, b = (np.load(p, allow_pickle=False) for p in (path_a, path_b))
    info_a, info_b = (json.loads(str(x['__info__'])) for x in (a, b))
    print('comparing %s (%s) with %s (%s)' % (path_a, info_a['device'], path_b, info_b['device']))
    ok = True
    rel = np.abs(a['losses'] - b['losses']) / np.maximum(np.abs(a['losses']), 1e-12)
    print('  losses: max relative difference %.2e (limit %.0e)' % (rel.max(), loss_rtol))
    ok &= bool(rel.max() <= loss_rtol)
    # Adam moves a parameter by about lr per step whatever the gradient's size,
    # so where the sign of a gradient is rounding noise (biases in front of
    # batch norm, which removes them; tiny gradients early on) two backends may
    # part by up to 2 lr per step; batch-norm averages get a relative tolerance.
    param_atol = 2 * info_a['lr'] * info_a['steps'] if param_atol is None else param_atol
    for key in sorted(k for k in a.files if k.startswith('param:')):
        x, y = a[key], b[key]
        if key.endswith('.W') and np.isin(x, np.unique(y)).all() and len(np.unique(x)) <= 9:
            share = float(np.mean(x != y))
            good = share <= max_weight_diff
            print('  %-22s %7.4f%% of discrete weights differ%s'
                  % (key[6:], 100 * share, '' if good else '  (limit %g%%)' % (100 * max_weight_diff)))
        else:
            diff = float(np.abs(x - y).max()) if x.size else 0.0
            good = bool(np.all(np.abs(x - y) <= param_atol + 1e-3 * np.abs(x)))
            print('  %-22s max |difference| %.2e%s'
                  % (key[6:], diff, '' if good else '  (limit %.0e)' % param_atol))
        ok &= good
    print('agree' if ok else 'DIFFER')
    return 0 if ok else 1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('script', nargs='?', choices=SCRIPTS)
    p.add_argument('flags', nargs=argparse.REMAINDER,
                   help="the script's own flags (e.g. --method bnn), after the name")
    p.add_argument('--batch-size', type=int, default=16)
    p.add_argument('--steps', type=int, default=3, help='training steps after the LR 0 step')
    p.add_argument('--lr', type=float, default=0.01)
    p.add_argument('--data-seed', type=int, default=0)
    p.add_argument('--out', help='save losses and parameters (.npz)')
    p.add_argument('--require-gpu', action='store_true',
                   help='exit 1 unless the step runs on a GPU device with no host op')
    p.add_argument('--compare', nargs=2, metavar=('A.npz', 'B.npz'))
    p.add_argument('--loss-rtol', type=float, default=1e-3)
    p.add_argument('--param-atol', type=float, default=None,
                   help='largest difference of a float parameter, plus 0.1%% of its size '
                   '(default: 2 x LR x steps)')
    p.add_argument('--max-weight-diff', type=float, default=1e-3,
                   help='largest share of discrete weights allowed to differ')
    args = p.parse_args(argv)
    if args.compare:
        return compare(args.compare[0], args.compare[1], args.loss_rtol, args.param_atol,
                       args.max_weight_diff)
    if not args.script:
        p.error('give a script (%s) or --compare A.npz B.npz' % ', '.join(SCRIPTS))
    return record(args)


if __name__ == '__main__':
    sys.exit(main())
