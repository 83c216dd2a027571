"""gxnor_device: a GPU that was asked for and did not start is an error, never a
silent fallback to the CPU."""
import os
import subprocess
import sys

import pytest

import gxnor_compat
import gxnor_device
from conftest import ROOT


def run_mnist(device, tmp_path):
    env = dict(os.environ, THEANO_FLAGS='device=' + device)
    data_dir = tmp_path / 'no-such-folder'
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, 'mnist.py'), '--data-dir',
                             str(data_dir), '--epochs', '1'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=str(tmp_path))
    out, err = proc.communicate()
    return proc.returncode, out.decode('utf-8'), err.decode('utf-8'), data_dir


def backend_can_start(device):
    """True where this interpreter has the GPU backend for ``device`` (then the
    error case cannot be shown with it)."""
    code = ('import gxnor_compat, gxnor_device, sys\n'
            'try:\n    gxnor_device.check_device()\nexcept gxnor_device.DeviceError:\n'
            '    sys.exit(1)\n')
    env = dict(os.environ, THEANO_FLAGS='device=' + device)
    return subprocess.call([sys.executable, '-c', code], env=env, cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE) == 0


@pytest.mark.parametrize('device', ['cuda', 'opencl0:0', 'gpu'])
def test_unavailable_gpu_is_one_error_line_before_any_data(device, tmp_path):
    if device != 'gpu' and backend_can_start(device):
        pytest.skip('this interpreter can start device=%s' % device)
    status, out, err, data_dir = run_mnist(device, tmp_path)
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith('mnist: error: THEANO_FLAGS asks for device=' + device)
    assert 'use device=cuda' in lines[0] if device == 'gpu' else 'make venv-gpu' in lines[0]
    assert out == ''                     # nothing printed, no hyperparameters, no training
    assert not data_dir.exists()         # no data loaded or downloaded


def test_cpu_is_described_as_cpu():
    assert gxnor_device.check_device() == 'cpu'


def test_failed_start_raises_with_the_reason(monkeypatch):
    monkeypatch.setattr(gxnor_device, 'requested_device', lambda: 'cuda0')
    monkeypatch.setattr(gxnor_device, '_gpuarray_context', lambda: None)
    monkeypatch.setattr(gxnor_compat, 'init_error_reason', lambda: 'libcuda.so: cannot open')
    with pytest.raises(gxnor_device.DeviceError) as info:
        gxnor_device.check_device()
    assert 'device=cuda0' in str(info.value) and 'libcuda.so: cannot open' in str(info.value)


def test_active_gpu_is_described(monkeypatch):
    monkeypatch.setattr(gxnor_device, 'requested_device', lambda: 'cuda')
    monkeypatch.setattr(gxnor_device, '_gpuarray_context', lambda: 'NVIDIA H100 80GB HBM3')
    assert gxnor_device.check_device() == 'cuda: NVIDIA H100 80GB HBM3 (gpuarray backend)'


def test_hint_in_the_gpu_environment_is_about_the_device(monkeypatch):
    """Where pygpu imports, this is the GPU environment already: the advice is the
    driver, not the environment."""
    import types
    monkeypatch.setitem(sys.modules, 'pygpu', None)   # import fails
    assert gxnor_compat.setup_hint() == gxnor_compat.SETUP_HINT
    monkeypatch.setitem(sys.modules, 'pygpu', types.ModuleType('pygpu'))
    monkeypatch.setattr(gxnor_device, 'requested_device', lambda: 'cuda0')
    monkeypatch.setattr(gxnor_device, '_gpuarray_context', lambda: None)
    monkeypatch.setattr(gxnor_compat, 'init_error_reason',
                        lambda: 'cuInit failed: no CUDA-capable device')
    with pytest.raises(gxnor_device.DeviceError) as info:
        gxnor_device.check_device()
    assert 'check its driver (nvidia-smi' in str(info.value)
    assert '.venv-gpu/bin/python' not in str(info.value)
