"""What the harness needs of the machine it trains on: its C library, threads, compiler, memory.

* :func:`keep_freed_memory`: glibc's malloc set to keep the memory a
  training step frees for the next step (fewer page faults, the same numbers);
* :func:`thread_counts` and :func:`thread_change`: the OpenMP and BLAS
  threads a step runs on, which a run records, and the warning when a run
  resumes on others (float sums are then added in another order);
* :func:`check_compiler`: the one line, before the data are read, where
  Theano cannot compile the training step;
* :func:`network_too_big`: the one line for a network that does not fit in
  the machine's memory.

Examples
--------
>>> thread_counts({'OMP_NUM_THREADS': '2', 'OPENBLAS_NUM_THREADS': '1'})
[2, 1]
>>> keep_freed_memory({'MALLOC_ARENA_MAX': '2'})   # the user tuned malloc: left as it is
False
"""
from __future__ import absolute_import, division, print_function

import os

import gxnor_compat  # noqa: F401  (before theano)
import numpy as np
import theano

from run_exits import UsageError

__all__ = ['keep_freed_memory', 'thread_counts', 'thread_change', 'check_compiler',
           'memory_bytes', 'network_too_big']


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


def thread_counts(environ=None):
    """[OpenMP threads, BLAS threads] the step runs on: OMP_NUM_THREADS, and
    OPENBLAS_NUM_THREADS (else OMP_NUM_THREADS) for OpenBLAS, where set; else one
    per core, their default."""
    environ = os.environ if environ is None else environ

    def count(*names):
        for name in names:
            try:
                return max(1, int(environ.get(name, '')))
            except ValueError:
                pass
        import multiprocessing
        return multiprocessing.cpu_count()
    return [count('OMP_NUM_THREADS'), count('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS')]


def thread_change(saved, current, last_epoch):
    """The warning for a run whose epochs up to ``last_epoch`` ran on the
    :func:`thread_counts` ``saved`` and go on with ``current``; None where they agree.

    Examples
    --------
    >>> thread_change([2, 2], [2, 2], 5) is None
    True
    >>> print(thread_change([1, 1], [2, 2], 0).split(':')[0])
    epochs up to 0 ran with 1 OpenMP and 1 BLAS threads, and these run with 2 and 2
    """
    if saved == current:
        return None
    return ('epochs up to %d ran with %d OpenMP and %d BLAS threads, and these run with %d '
            'and %d: float sums are added in another order, so the numbers will not be bit '
            'for bit those of a run that never stopped (OMP_NUM_THREADS and '
            'OPENBLAS_NUM_THREADS set the counts)' % tuple([last_epoch] + saved + current))


def check_compiler():
    """UsageError unless Theano found a C++ compiler and may use it: without one, or
    with a linker that runs every op in Python (``mode=FAST_COMPILE``, ``linker=py``),
    it needs Python versions of its ops, which its convolutions do not have (the
    first training step would fail with a traceback)."""
    if not theano.config.cxx:
        raise UsageError('Theano needs a C++ compiler (g++) to compile the training step and '
                         'found none on PATH: install g++ (as root: make sysdeps, or '
                         'apt-get install g++)')
    from theano.gof.link import PerformLinker
    linker = theano.compile.mode.get_default_mode().linker
    if isinstance(linker, PerformLinker) or getattr(linker, 'c_thunks', True) is False:
        flag = ('mode=%s' % theano.config.mode if theano.config.mode != 'Mode' else
                'linker=%s' % theano.config.linker)
        raise UsageError("THEANO_FLAGS %s runs every op in Python, and Theano's "
                         "convolutions have no Python version: for a quicker compile use "
                         "THEANO_FLAGS=optimizer=fast_compile (C code, fewer optimizations)"
                         % flag)


def memory_bytes():
    """This machine's memory in bytes, or None where it cannot be read."""
    try:
        return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
    except (AttributeError, ValueError, OSError):
        return None


def _gib(nbytes):
    return '%.3g GiB' % (nbytes / 2.0 ** 30)


def network_too_big(err):
    """The UsageError for the MemoryError ``err`` of building a network: how much one of
    its arrays needs (where NumPy said) against what the machine has."""
    shape, dtype = getattr(err, 'shape', None), getattr(err, 'dtype', None)
    need = 'more memory than NumPy could allocate'
    if shape is not None and dtype is not None:
        need = '%s for one weight array of shape %s alone' % (
            _gib(float(np.prod(shape, dtype=np.float64)) * np.dtype(dtype).itemsize),
            tuple(shape))
    total = memory_bytes()
    return UsageError('the network does not fit in memory: it needs %s, and this machine '
                      'has %s in all; choose a smaller network (--widths)'
                      % (need, _gib(total) if total else 'less'))
