"""Each script's whole training step on Theano's GPU backend (gpuarray).

Without a GPU the backend runs on OpenCL through POCL (``device=opencl0:0``),
which is how CI checks it; ``GXNOR_GPU_DEVICE=cuda`` runs the same test on an
NVIDIA GPU.  Two device runs, each shared by the tests that need it: mnist.py
with GXNOR-Net (its own ops: DST, its random numbers, the ternary activation
and its window, on convolutions and dense layers) and cifar10.py with full
precision (the deep network's padded convolutions, pooling, batch norm and
Adam) with 8-16 filters a layer (``--widths``: the same layers and ops as the
paper's widths, at a small share of the work on POCL).  In each the compiled
step has no op on the host apart from moving its inputs in, its loss out and
integer shape bookkeeping; and three training steps from the same seed and
inputs give the CPU backend's numbers (tools/gpu_step.py states the
tolerances).  Checked here without a device, from the symbolic graphs: every
kind of op of cifar10.py's GXNOR-Net step is in one of the two runs, and
svhn.py's step is cifar10.py's, op for op; so the two runs cover all three
scripts.

These tests need pygpu, so they run in the GPU environment (``make
test-gpu``, part of ``make test``); elsewhere they skip, and with
``GXNOR_REQUIRE_GPU_BACKEND=1`` (as ``make test-gpu`` sets) they fail instead.
"""
import os
import subprocess
import sys

import pytest

from conftest import ROOT

DEVICE = os.environ.get('GXNOR_GPU_DEVICE', 'opencl0:0')
TOOL = os.path.join(ROOT, 'tools', 'gpu_step.py')


def require_pygpu():
    try:
        import pygpu  # noqa: F401
    except ImportError:
        reason = 'pygpu is not installed in this environment (make test-gpu runs these tests)'
        if os.environ.get('GXNOR_REQUIRE_GPU_BACKEND') == '1':
            pytest.fail(reason)
        pytest.skip(reason)


def gpu_step(device, *args):
    """Run tools/gpu_step.py on ``device``, keeping the caller's other Theano flags (its
    compile folder, say), and for a device other than the CPU those in
    ``GXNOR_GPU_THEANO_FLAGS`` (make test-gpu: a compile folder of its own)."""
    extra = os.environ.get('GXNOR_GPU_THEANO_FLAGS', '') if device != 'cpu' else ''
    flags = ','.join(f for f in (os.environ.get('THEANO_FLAGS', ''), extra,
                                 'device=%s,dnn.enabled=False' % device) if f)
    env = dict(os.environ, THEANO_FLAGS=flags)
    proc = subprocess.Popen([sys.executable, TOOL] + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    out = proc.communicate()[0].decode('utf-8')
    print(out)
    return proc.returncode, out


# The CIFAR-10 family's networks with 8-16 filters a layer instead of 64-1024: the same
# layers, so the same ops on the device, at a small share of the work (POCL runs the
# OpenCL kernels on the CPU).
NARROW = ['--widths', '8,8,16,16']
# The two device runs (see the module's docstring for why these two).
DEVICE_RUNS = [('mnist', []), ('cifar10', NARROW + ['--method', 'fp'])]
_gpu_runs = {}


def gpu_run(tmp_path_factory, script, flags):
    """(exit status, output, saved .npz) of three training steps of ``script`` with
    ``flags`` on the device: run once, shared by the tests that need it."""
    key = (script,) + tuple(flags)
    if key not in _gpu_runs:
        out = str(tmp_path_factory.mktemp('gpu') / 'gpu.npz')
        status, text = gpu_step(DEVICE, '--require-gpu', '--out', out, '--steps', '3',
                                '--batch-size', '8', script, *flags)
        _gpu_runs[key] = status, text, out
    return _gpu_runs[key]


@pytest.mark.parametrize('script, flags', DEVICE_RUNS)
def test_whole_training_step_runs_on_the_gpu_backend(script, flags, tmp_path_factory):
    require_pygpu()
    status, out, _ = gpu_run(tmp_path_factory, script, flags)
    assert status == 0, out
    assert ' 0 on the host apart from the transfer of inputs and outputs' in out


# Numbers: GXNOR-Net's own ops on MNIST's network; the deep CIFAR-10/SVHN
# network's convolutions, pooling, batch norm and Adam with --method fp.
# GXNOR-Net on the CIFAR-10 network is not compared: there the CPU backend
# parts from the GPU backends (CUDA and OpenCL agree with each other to 7
# digits) after the first training step; see the open issue in README.md.
@pytest.mark.parametrize('script, flags', DEVICE_RUNS)
def test_training_steps_give_the_cpu_backends_numbers(script, flags, tmp_path, tmp_path_factory):
    require_pygpu()
    status, out, gpu = gpu_run(tmp_path_factory, script, flags)
    assert status == 0, out
    cpu = str(tmp_path / 'cpu.npz')
    status, out = gpu_step('cpu', '--out', cpu, '--steps', '3', '--batch-size', '8', script,
                           *flags)
    assert status == 0, out
    status, out = gpu_step('cpu', '--compare', cpu, gpu)
    assert status == 0 and out.rstrip().endswith('agree'), out


def training_step(script, flags, monkeypatch):
    """(inputs, loss, updates) of the symbolic training step that tools/gpu_step.py
    compiles for ``script``, built on the CPU backend without compiling."""
    import gxnor_compat  # noqa: F401  (before theano)
    import theano
    import binary_net
    sys.path.insert(0, os.path.join(ROOT, 'tools'))
    try:
        import gpu_step
    finally:
        sys.path.pop(0)
    built = []
    monkeypatch.setattr(binary_net.gxnor_graph_cache, 'function',
                        lambda inputs, outputs, updates=None: built.append(
                            (inputs, outputs, list((updates or {}).items()))))
    gpu_step.build_step(script, flags)
    return built[0]


def training_graph(script, flags, monkeypatch):
    """The training step of :func:`training_step` as text."""
    import gxnor_compat  # noqa: F401  (before theano)
    import theano
    inputs, loss, updates = training_step(script, flags, monkeypatch)
    text = theano.printing.debugprint([loss] + [value for _, value in updates], file='str',
                                      print_type=True)
    return [str(v) for v in inputs], [(str(var), var.get_value().shape) for var, _ in updates], \
        text


def op_kinds(script, flags, monkeypatch):
    """Each kind of op in the training step: ``str(op)``, its class with its properties
    (an elementwise op's scalar op, a convolution's padding and shapes)."""
    import gxnor_compat  # noqa: F401  (before theano)
    import theano
    _, loss, updates = training_step(script, flags, monkeypatch)
    outputs = [loss] + [value for _, value in updates]
    nodes = theano.gof.graph.io_toposort(theano.gof.graph.inputs(outputs), outputs)
    return set(str(node.op) for node in nodes)


def test_the_device_runs_have_every_kind_of_op_of_cifar10s_gxnor_step(monkeypatch):
    """Why no device run trains GXNOR-Net on the CIFAR-10 network: which ops the GPU
    backend moves to the device depends on their kinds, and each of its kinds is in
    MNIST's GXNOR-Net step or CIFAR-10's full-precision step."""
    kinds = [op_kinds(script, flags, monkeypatch) for script, flags in DEVICE_RUNS]
    gxnor_cifar10 = op_kinds('cifar10', NARROW, monkeypatch)
    assert gxnor_cifar10 - (kinds[0] | kinds[1]) == set()
    # Each run brings kinds the other lacks, and the check sees a kind missing.
    assert 'Elemwise{tanh,no_inplace}' in kinds[0] - kinds[1]   # DST's probability
    assert any('Conv' in k and "border_mode='valid'" not in k   # padded
               for k in kinds[1] - kinds[0])
    assert gxnor_cifar10 - kinds[0] and gxnor_cifar10 - kinds[1]


def test_svhn_training_step_is_cifar10s_at_the_same_widths(monkeypatch):
    """Why the device runs leave svhn.py out: its step is cifar10.py's, op for op."""
    cifar10_step = training_graph('cifar10', NARROW, monkeypatch)
    assert training_graph('svhn', NARROW, monkeypatch) == cifar10_step
    assert 'Conv' in cifar10_step[2] and 'mrg_uniform' in cifar10_step[2]
    # and the check sees a difference where there is one
    assert training_graph('svhn', NARROW + ['--method', 'fp'], monkeypatch) != cifar10_step


def test_require_gpu_fails_on_the_cpu_backend():
    status, out = gpu_step('cpu', '--require-gpu', '--steps', '1', '--batch-size', '2', 'mnist')
    assert status == 1 and 'the CPU backend' in out


# n identical elementwise nodes on the device, their outputs checked; the kernels
# POCL builds are counted from its debug log.  {stub} replaces gxnor_opencl by one
# that patches nothing (what Theano does on its own).
_ELEMWISE_NODES = '''
import sys, types
if {stub}:
    sys.modules['gxnor_opencl'] = types.ModuleType('gxnor_opencl')
    sys.modules['gxnor_opencl'].install = lambda: False
import gxnor_compat, theano, theano.tensor as T, numpy as np
xs = [T.fmatrix() for _ in range({n})]
f = theano.function(xs, [T.tanh(x * 2 + 1) for x in xs])
values = [np.full((3, 4), i, np.float32) for i in range({n})]
for value, out in zip(values, f(*values)):
    assert np.allclose(out, np.tanh(value * 2 + 1), atol=1e-6)
print('ok')
'''


def opencl_builds(n, stub=False):
    """OpenCL programs POCL builds for a function of ``n`` identical elementwise nodes."""
    flags = ','.join(f for f in (os.environ.get('THEANO_FLAGS', ''),
                                 os.environ.get('GXNOR_GPU_THEANO_FLAGS', ''),
                                 'device=%s' % DEVICE) if f)
    env = dict(os.environ, THEANO_FLAGS=flags, POCL_DEBUG='all')
    proc = subprocess.Popen([sys.executable, '-c', _ELEMWISE_NODES.format(n=n, stub=stub)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    out = proc.communicate()[0].decode('utf-8', 'replace')
    assert proc.returncode == 0 and '\nok' in out, out[-3000:]
    return out.count('building from sources')


def test_on_opencl_the_nodes_of_one_elementwise_op_build_its_kernels_once():
    """gxnor_opencl: four nodes of one elementwise op build what one builds; without
    it (Theano alone) each node builds the kernels again."""
    require_pygpu()
    if not DEVICE.startswith('opencl'):
        pytest.skip('gxnor_opencl applies on OpenCL devices only')
    one, four = opencl_builds(1), opencl_builds(4)
    assert one > 0 and four == one
    assert opencl_builds(4, stub=True) > four
