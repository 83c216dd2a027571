"""Which device Theano computes on, and no silent fallback to the CPU.

When ``THEANO_FLAGS`` asks for a GPU (``device=cuda*``, ``gpu*`` or
``opencl*``) and the backend cannot start (pygpu missing, no driver...),
Theano logs an error and carries on on the CPU, with exit status 0: a
training that should take hours would take days.  :mod:`gxnor_compat`
keeps the reason Theano gives (:func:`gxnor_compat.capture_init_errors`,
installed before Theano is imported, so Theano's own multi-line log stays
quiet) and :func:`check_device` turns a failed start into a
:class:`DeviceError` with one line saying why and what to do.

Examples
--------
>>> import gxnor_compat  # noqa: F401  (before theano)
>>> check_device()  # THEANO_FLAGS asks for no GPU here
'cpu'
"""
from __future__ import absolute_import

import gxnor_compat  # (Theano's flags and its start-up errors kept, before theano)

__all__ = ['DeviceError', 'GPU_PREFIXES', 'requested_device', 'check_device']

GPU_PREFIXES = ('cuda', 'gpu', 'opencl')


class DeviceError(Exception):
    """A GPU was asked for but Theano computes on the CPU."""


def requested_device():
    """The device Theano was configured with ('cpu', 'cuda', 'opencl0:0'...)."""
    import theano
    return str(theano.config.device)


def _gpuarray_context():
    """Name of the active gpuarray device, or None (Theano 1.0 or 0.8)."""
    for module in ('theano.gpuarray', 'theano.sandbox.gpuarray'):
        try:
            gpuarray = __import__(module, fromlist=['type'])
        except ImportError:
            continue
        if getattr(gpuarray, 'pygpu_activated', False):
            try:
                return gpuarray.type.get_context(None).devname
            except Exception:  # a context exists but has no readable name
                return 'unknown device'
    return None


def _old_cuda_device():
    """Name of the active device of Theano 0.8's old CUDA backend, or None."""
    try:
        import theano.sandbox.cuda as cuda
    except ImportError:
        return None
    if not getattr(cuda, 'cuda_enabled', False):
        return None
    try:
        return cuda.device_properties(cuda.active_device_number())['name']
    except Exception:  # enabled, name unavailable
        return 'unknown device'


def check_device():
    """Describe the device Theano computes on; raise DeviceError on a silent fallback.

    Returns 'cpu' for the CPU, else e.g. 'cuda: NVIDIA H100 80GB HBM3
    (gpuarray backend)'.
    """
    device = requested_device()
    if not device.startswith(GPU_PREFIXES):
        return device
    if device.startswith('gpu'):
        name, backend = _old_cuda_device(), "Theano 0.8's CUDA backend"
    else:
        name, backend = _gpuarray_context(), 'gpuarray backend'
    if name:
        return '%s: %s (%s)' % (device, name, backend)
    reason = gxnor_compat.init_error_reason() or 'the GPU backend did not start'
    hint = gxnor_compat.setup_hint()
    if device.startswith('gpu'):
        hint = ('Theano 0.8\'s CUDA backend needs nvcc and a CUDA toolkit of its era; on a current '
                'box use device=cuda: ' + gxnor_compat.SETUP_HINT)
    raise DeviceError('THEANO_FLAGS asks for device=%s but Theano would compute on the CPU (%s); '
                      '%s' % (device, reason, hint))
