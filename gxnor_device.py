"""Which device Theano computes on, and no silent fallback to the CPU.

When ``THEANO_FLAGS`` asks for a GPU (``device=cuda*``, ``gpu*`` or
``opencl*``) and the backend cannot start (pygpu missing, no driver...),
Theano logs an error and carries on on the CPU, with exit status 0: a
training that should take hours would take days.  This module keeps the
reason Theano gives (:func:`capture_init_errors`, installed by
:mod:`gxnor_compat` before Theano is imported, so Theano's own multi-line
log stays quiet) and :func:`check_device` turns a failed start into a
:class:`DeviceError` with one line saying why and what to do.

Examples
--------
>>> import gxnor_compat  # noqa: F401  (before theano)
>>> check_device()  # THEANO_FLAGS asks for no GPU here
'cpu'
"""
from __future__ import absolute_import

import logging

__all__ = ['DeviceError', 'GPU_PREFIXES', 'requested_device', 'capture_init_errors',
           'check_device']

GPU_PREFIXES = ('cuda', 'gpu', 'opencl')

# Where Theano 1.0 (gpuarray) and 0.8 (old CUDA backend, experimental
# gpuarray) log why a GPU could not be used.
_INIT_LOGGERS = ('theano.gpuarray', 'theano.sandbox.cuda', 'theano.sandbox.gpuarray')

SETUP_HINT = ('for Theano\'s GPU backend run with the environment that `make venv-gpu` builds '
              '(.venv-gpu/bin/python) and see "GPU" in README.md')


class DeviceError(Exception):
    """A GPU was asked for but Theano computes on the CPU."""


class _Keep(logging.Filter):
    """Keep the records of a failed GPU start instead of printing them."""

    def __init__(self):
        logging.Filter.__init__(self)
        self.records = []

    def filter(self, record):
        if record.levelno >= logging.ERROR:
            self.records.append(record)
            return False
        return True


_kept = _Keep()


def capture_init_errors():
    """Start keeping the GPU start-up errors Theano logs (call before importing it)."""
    for name in _INIT_LOGGERS:
        logger = logging.getLogger(name)
        if _kept not in logger.filters:
            logger.addFilter(_kept)


def _reason():
    """The last line of what Theano logged about the failed start, if anything."""
    for record in reversed(_kept.records):
        if record.exc_info and record.exc_info[1] is not None:
            text = '%s: %s' % (type(record.exc_info[1]).__name__, record.exc_info[1])
        else:
            text = record.getMessage()
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        if lines:
            return lines[-1]
    return ''


def requested_device():
    """The device Theano was configured with ('cpu', 'cuda', 'opencl0:0'...)."""
    import gxnor_compat  # noqa: F401  (Theano's flags, before theano)
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
    reason = _reason() or 'the GPU backend did not start'
    hint = SETUP_HINT
    if device.startswith('gpu'):
        hint = ('Theano 0.8\'s CUDA backend needs nvcc and a CUDA toolkit of its era; on a current '
                'box use device=cuda: ' + SETUP_HINT)
    raise DeviceError('THEANO_FLAGS asks for device=%s but Theano would compute on the CPU (%s); '
                      '%s' % (device, reason, hint))
