"""Make Theano and Lasagne 0.1 import cleanly on Python 2.7 and 3.11.

Import this module before ``theano`` or ``lasagne``; every module of the
project does.  It does these things and nothing else:

* Fills in Theano flags the user did not set (``THEANO_FLAGS`` and
  ``.theanorc`` always win):

  - ``floatX=float32``: the authors ran float32 on the GPU; Theano's own
    default (float64) would double memory and halve CPU speed.
  - ``blas.ldflags``: Theano 1.0.5 crashes while auto-detecting BLAS on
    Python 3.11 (``numpy.distutils`` no longer has ``blas_opt_info``), so
    the flag is set explicitly: ``-lopenblas`` when OpenBLAS is installed,
    otherwise empty (Theano's slower NumPy-based fallback).
  - ``openmp=True`` on a machine with more than one core: Theano then runs
    its large elementwise loops (batch norm, activations and their windows,
    the DST arithmetic; loops under ``openmp_elemwise_minsize`` stay
    serial) on every core.  The numbers are the same bit for bit, and the
    MNIST training step runs faster on the 2-core CI machine
    (``bench/speed/bench_cpu_step.py``).  Theano falls back to serial code, with
    a warning, where the compiler lacks OpenMP.

* Provides ``theano.tensor.signal.downsample`` on Theano >= 0.9, where it
  was removed.  PyPI's Lasagne 0.1 imports it for its pooling layers.

* Makes the C code of three scalar ops valid OpenCL C, so that the gpuarray
  backend compiles them on OpenCL devices too: ``maximum`` and ``minimum``
  write NaN as ``nan("")`` and ``round`` (half to even) calls ``floorf``,
  which OpenCL C lacks.  They become ``NAN`` and ``floor``: the same values
  bit for bit on the CPU and on CUDA (``floor`` of a float is exact).

* On an OpenCL device, has the nodes of one elementwise GPU op share the
  kernels the first of them built (:mod:`gxnor_opencl`: each was built again
  for every node, most of a GPU-backend test's time on POCL).

* Has Theano compile its C modules against a precompiled header of the
  headers every module includes, without debug information (:mod:`gxnor_pch`:
  the same code, about half the compile time of a new network).

* Has Theano find the C modules it compiled again in the next process, those
  of ops without properties (``Dot22``, ``Alloc``, ...) and of ops whose C code
  is in files (``DimShuffle``, GPU ops), which Theano 1.0.5 on Python 3
  compiled again in every process (:mod:`gxnor_cache_keys`).

* In ``mnist.py``, ``cifar10.py`` and ``svhn.py`` run as commands, makes
  Ctrl-C while Theano imports one line and exit status 130 instead of a
  traceback (:func:`quiet_interrupt_while_starting`, until the harness's own
  handling starts: :func:`end_of_start`).

* Keeps, instead of printing, the errors Theano logs when a GPU backend
  fails to start (:func:`capture_init_errors`, installed before Theano is
  imported): :func:`gxnor_device.check_device` turns them into one line
  (:func:`init_error_reason`, :func:`setup_hint`).  This lives here, not in
  :mod:`gxnor_device`, because it must run before ``import theano``, and
  :mod:`gxnor_device` imports this module, never the reverse.

Examples
--------
>>> import gxnor_compat  # noqa: F401  (before theano and lasagne)
>>> import lasagne
"""
from __future__ import absolute_import

import ctypes.util
import logging
import os
import signal
import sys
import types

__all__ = ['openblas_available', 'configure_theano_flags', 'install_downsample_shim',
           'quiet_interrupt_while_starting', 'end_of_start',
           'make_scalar_code_opencl_safe', 'capture_init_errors', 'init_error_reason',
           'setup_hint', 'SETUP_HINT', 'DRIVER_HINT']

# Where Theano 1.0 (gpuarray) and 0.8 (old CUDA backend, experimental
# gpuarray) log why a GPU could not be used.
_INIT_LOGGERS = ('theano.gpuarray', 'theano.sandbox.cuda', 'theano.sandbox.gpuarray')

SETUP_HINT = ('for Theano\'s GPU backend run with the environment that `make venv-gpu` builds '
              '(.venv-gpu/bin/python) and see "GPU" in README.md')

DRIVER_HINT = ('this Python has the GPU backend (pygpu), so the device itself did not start: '
               'check its driver (nvidia-smi; clinfo for OpenCL) and its number, and see "GPU" '
               'in README.md')


def openblas_available():
    """Return True when a shared OpenBLAS library can be linked with ``-lopenblas``."""
    if ctypes.util.find_library('openblas') is None:
        return False
    # find_library also finds libopenblas.so.0 without the -dev symlink, which
    # the linker needs; look for the unversioned name too.
    for folder in ('/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu',
                   '/usr/lib64', '/usr/lib', '/usr/local/lib'):
        if os.path.exists(os.path.join(folder, 'libopenblas.so')):
            return True
    return False


def _cpu_count():
    try:
        import multiprocessing
        return multiprocessing.cpu_count()
    except (ImportError, NotImplementedError):
        return 1


def _theanorc_text():
    paths = os.environ.get('THEANORC', '~/.theanorc:~/.theanorc.txt')
    text = ''
    for path in paths.split(os.pathsep):
        path = os.path.expanduser(path)
        if os.path.isfile(path):
            with open(path) as handle:
                text += handle.read()
    return text


def _user_sets(flag, flags_env, rc_text):
    section, _, name = flag.rpartition('.')
    if any(item.split('=')[0].strip() == flag for item in flags_env.split(',')):
        return True
    if section:
        return ('[%s]' % section) in rc_text and name in rc_text
    return any(line.split('=')[0].strip() == name
               for line in rc_text.splitlines() if '=' in line)


def configure_theano_flags(environ=None):
    """Add the defaults described above to ``THEANO_FLAGS`` in ``environ``.

    Returns the resulting flags string.  Has no effect on an already
    imported Theano, so call it before the first ``import theano``.

    Examples
    --------
    >>> env = {'THEANO_FLAGS': 'floatX=float64'}
    >>> 'floatX=float64' in configure_theano_flags(env)
    True
    """
    environ = os.environ if environ is None else environ
    flags = environ.get('THEANO_FLAGS', '')
    rc_text = _theanorc_text()
    extra = []
    if not _user_sets('floatX', flags, rc_text):
        extra.append('floatX=float32')
    if not _user_sets('blas.ldflags', flags, rc_text):
        extra.append('blas.ldflags=' + ('-lopenblas' if openblas_available() else ''))
    if not _user_sets('openmp', flags, rc_text) and _cpu_count() > 1:
        extra.append('openmp=True')
    if extra:
        flags = ','.join([f for f in [flags] + extra if f])
        environ['THEANO_FLAGS'] = flags
    return flags


def _max_pool_2d(input, ds, ignore_border=None, st=None, padding=(0, 0), mode='max'):
    from theano.tensor.signal import pool
    return pool.pool_2d(input, ws=ds, ignore_border=ignore_border, stride=st,
                        pad=padding, mode=mode)


def install_downsample_shim():
    """Register ``theano.tensor.signal.downsample.max_pool_2d`` if Theano lacks it."""
    import warnings
    import theano.tensor.signal as signal
    try:
        with warnings.catch_warnings():
            # Theano 0.8 warns that downsample moved to pool; Lasagne 0.1 still uses it.
            warnings.simplefilter('ignore')
            from theano.tensor.signal import downsample  # noqa: F401  (Theano < 0.9)
        return
    except ImportError:
        pass
    module = types.ModuleType('theano.tensor.signal.downsample')
    module.max_pool_2d = _max_pool_2d
    sys.modules[module.__name__] = module
    signal.downsample = module


def _opencl_safe(c_code):
    def patched(self, *args, **kwargs):
        code = c_code(self, *args, **kwargs)
        return code.replace('nan("")', 'NAN').replace('floorf(', 'floor(')
    patched.opencl_safe = True
    return patched


def make_scalar_code_opencl_safe():
    """Patch the C code of Theano's scalar maximum, minimum and round-half-to-even
    (see the module docstring); returns the names of the classes patched."""
    from theano.scalar import basic
    patched = []
    for name in ('Maximum', 'Minimum', 'RoundHalfToEven'):
        cls = getattr(basic, name, None)
        if cls is not None and not getattr(cls.c_code, 'opencl_safe', False):
            cls.c_code = _opencl_safe(cls.c_code)
            patched.append(name)
    return patched


def setup_hint():
    """What to do about a GPU that did not start: get the GPU environment, or, where
    this interpreter is in it (pygpu imports), look at the device's driver."""
    try:
        import pygpu  # noqa: F401
    except Exception:  # ImportError, or a pygpu that cannot load its library
        return SETUP_HINT
    return DRIVER_HINT


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


def init_error_reason():
    """The last line of what Theano logged about a failed GPU start, or ''."""
    for record in reversed(_kept.records):
        if record.exc_info and record.exc_info[1] is not None:
            text = '%s: %s' % (type(record.exc_info[1]).__name__, record.exc_info[1])
        else:
            text = record.getMessage()
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        if lines:
            return lines[-1]
    return ''


def _script_name():
    """'mnist' for ``python mnist.py``: the prefix of the script's error lines."""
    return os.path.splitext(os.path.basename(sys.argv[0] if sys.argv else ''))[0] or 'python'


def _flag_value(name, flags):
    """The value ``THEANO_FLAGS`` (``flags``) gives ``name``, or None."""
    for item in flags.split(','):
        key, _, value = item.partition('=')
        if key.strip() == name:
            return value.strip()
    return None


def _import_theano():
    """Import Theano, keeping GPU start-up errors for :func:`gxnor_device.check_device`;
    flags that Theano refuses are one ``error:`` line and exit status 2."""
    capture_init_errors()
    try:
        import theano  # noqa: F401
    except ValueError as err:
        flags = os.environ.get('THEANO_FLAGS', '')
        device = _flag_value('device', flags)
        if 'old GPU back-end' in str(err):
            # Theano >= 0.9 refuses device=gpu while parsing its flags.
            message = ("THEANO_FLAGS asks for device=gpu, Theano 0.8's CUDA backend, which this "
                       "Theano removed: use device=cuda; %s" % setup_hint())
        elif device is not None and ('"device"' in str(err) or '"%s"' % device in str(err)):
            # (Theano 0.8 names the value and the variable the wrong way round.)
            message = ('THEANO_FLAGS asks for device=%s, which Theano does not know: use cpu, '
                       'cuda (cuda0, cuda1...) or opencl<platform>:<device>' % device)
        else:
            message = 'Theano refuses THEANO_FLAGS=%s: %s' % (flags, ' '.join(
                str(err).split()))
        sys.stderr.write('%s: error: %s\n' % (_script_name(), message))
        sys.exit(2)
    except Exception as err:   # not there, or e.g. a NumPy too new for it (AttributeError)
        _missing_package('Theano', err)


def _names_module(err, module):
    """Whether ImportError ``err`` says that ``module`` itself is missing (not a module it
    imports): Python 3 names it, Python 2 only words it."""
    name = getattr(err, 'name', None)
    if name is not None:
        return name == module
    return str(err) in ('No module named %s' % module, "No module named '%s'" % module)


def _missing_package(name, err):
    """One ``error:`` line for ``err``, raised by importing package ``name``, and exit
    status 2: an ImportError naming the package itself is a Python without it (a user who
    ran ``python3 cifar10.py`` outside the project's environments); any other error is the
    package failing on an import of its own (a dependency missing or of another version)."""
    installed = not (isinstance(err, ImportError) and _names_module(err, name.lower()))
    problem = ('is installed for %s but cannot be imported' if installed else
               'is not installed for %s') % (sys.executable or 'this Python')
    sys.stderr.write('%s: error: %s %s (%s): use the environment that `make venv311` (or '
                     '`make venv27`) builds, e.g. .venv311/bin/python %s.py, or pip install '
                     '-r requirements.txt\n' % (_script_name(), name, problem,
                                                 ' '.join(str(err).split()), _script_name()))
    sys.exit(2)


def _require_lasagne():
    """Import Lasagne, which must wait until the ``downsample`` shim is in place: one
    ``error:`` line where it is missing or fails on an import of its own."""
    try:
        import lasagne  # noqa: F401
    except Exception as err:   # not there (None in sys.modules too), or a Theano it does not fit
        _missing_package('Lasagne', err)


# The dataset scripts: Ctrl-C while they import Theano is one line, not a traceback.
_SCRIPTS = ('mnist', 'cifar10', 'svhn')


def _interrupted_while_starting(signum, frame):
    sys.stderr.write('\n%s: interrupted while starting (importing Theano); nothing was '
                     'written\n' % _script_name())
    os._exit(130)


def quiet_interrupt_while_starting():
    """In a dataset script run as a command, make Ctrl-C during the imports (Theano's
    take seconds) one line and exit status 130 until :func:`end_of_start`."""
    main = sys.modules.get('__main__')
    if (os.path.splitext(os.path.basename(getattr(main, '__file__', None) or ''))[0]
            in _SCRIPTS and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
        signal.signal(signal.SIGINT, _interrupted_while_starting)


def end_of_start():
    """Ctrl-C raises KeyboardInterrupt again (the harness says where it stopped)."""
    if signal.getsignal(signal.SIGINT) is _interrupted_while_starting:
        signal.signal(signal.SIGINT, signal.default_int_handler)


if 'theano' not in sys.modules:
    quiet_interrupt_while_starting()
    configure_theano_flags()
    _import_theano()
    import gxnor_pch
    gxnor_pch.use_precompiled_header()
install_downsample_shim()
make_scalar_code_opencl_safe()
import gxnor_opencl  # noqa: E402  (after theano is imported)
gxnor_opencl.install()
import gxnor_cache_keys  # noqa: E402  (after theano is imported)
gxnor_cache_keys.install()
_require_lasagne()
