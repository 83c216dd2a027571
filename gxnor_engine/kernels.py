"""Compiled kernels for the gated-XNOR engine (:mod:`gated_xnor`), through ctypes.

NumPy cannot fuse the AND, XOR and popcount of a packed ternary product
into one pass, so the engine ran at about half the speed of a float32 BLAS
forward pass.  This module compiles ``kernels.c`` (next to it) into a
shared library on first use and runs the engine's stages there:

* :meth:`Kernels.matmul`: the packed product of :func:`gated_xnor.gated_xnor_dot`
  (row-major planes), with the same results as the NumPy path, and
  optionally the max-pooling after it, image by image while in the cache;
* :meth:`Kernels.pack_patches`: int8 ternary activations (NHWC) to the
  engine's packed im2col rows;
* :meth:`Kernels.conv_pixels`: the first layer, uint8 pixels times ternary
  weights, exact in int32, and optionally the max-pooling after it;
* :meth:`Kernels.max_pool`, :meth:`Kernels.threshold`: pooling of int32 sums
  and their ternary activation, in one pass each.

Kernel paths (:data:`PATHS`): the kernels run on 'scalar' (64-bit words
and POPCNT: the reference, and the only path off x86), 'avx2' (products of
4 units per 256-bit vector, popcount by nibble look-up; the first layer with
vpmaddubsw) or 'avx512' (AVX-512 F/BW/VL with VPOPCNTDQ and VNNI: products
of 8 units per vector, VPOPCNTQ; the first layer with vpdpbusd); pooling,
thresholds and packing use the path's vectors too.  One
library holds them all; :func:`available_paths` lists those this CPU runs,
the best of them runs unless ``$GXNOR_KERNEL_PATH`` (scalar, avx2, avx512 or
auto) or :meth:`Kernels.set_path` names another, and a path the CPU lacks is
an error (:class:`KernelPathError`), not a silent fallback.  All paths give
the same integers (tests run on each).

Build and cache: the library goes to ``$GXNOR_KERNEL_DIR``, else
``$XDG_CACHE_HOME/gxnor``, else ``~/.cache/gxnor``, under a name keyed by a
hash of the C source, the compiler (``$GXNOR_CC``, ``$CC`` or ``cc``) and
the candidate flags; it is compiled into a temporary file and renamed, so
concurrent processes never load a partial file, and later loads reuse it
without compiling.  Flags: ``-O3 -std=c99 -fPIC -shared``, plus
``-fopenmp`` and (x86 CPUs that have the instruction) ``-mpopcnt`` where a
test compilation accepts them; a compiler without the AVX-512 intrinsics
builds the scalar path only (``-DGX_SCALAR_ONLY``).  With OpenMP the kernels
run on ``OMP_NUM_THREADS`` threads (default all cores), or as many as
:meth:`Kernels.set_threads` says; unless set otherwise,
``OMP_WAIT_POLICY`` is made 'passive' before the library loads: threads that
spin between calls (libgomp's default) took the CPU from the Python thread
and ran the engine 3x slower on a machine busy with other work, while
sleeping costs microseconds per call.

C or NumPy (:func:`select`): ``kernel`` 'c' (fail if the library cannot
be built), 'numpy', or 'auto' / None: ``$GXNOR_KERNELS`` (auto, c or numpy)
if set, else C when it builds, else NumPy with a warning that says why.
An explicit NumPy popcount ``method`` with 'auto' selects the NumPy path,
which is the one that method belongs to.  Needs ctypes and NumPy only.

Examples
--------
>>> import gated_xnor as gx
>>> x, w = gx.pack_ternary([[1, -1, 0, 1]]), gx.pack_ternary([[1, 1, 1, 1], [-1, -1, 0, 0]])
>>> kernels = load()                                  # doctest: +SKIP
>>> kernels.matmul(x.mask, x.sign, w.mask, w.sign)    # doctest: +SKIP
(array([[1, 0]], dtype=int32), 5, None)
"""
from __future__ import absolute_import, division, print_function

import ctypes
import errno
import hashlib
import os
import platform
import subprocess
import sys
import tempfile
import warnings

import numpy as np

__all__ = ['KernelError', 'KernelPathError', 'KERNEL_CHOICES', 'PATHS', 'SOURCE', 'Kernels',
           'available_paths', 'cache_dir', 'load', 'select', 'gxnor_matmul']

KERNEL_CHOICES = ('auto', 'c', 'numpy')
# Kernel paths, slowest first; the index is the C library's GX_PATH_* number.
PATHS = ('scalar', 'avx2', 'avx512')
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'kernels.c')
_ABI = 2                        # GX_ABI of the C source
_BASE_FLAGS = ['-O3', '-std=c99', '-fPIC', '-shared']
_INT64 = ctypes.c_int64
_PTR = ctypes.c_void_p


class KernelError(RuntimeError):
    """The compiled kernels cannot be built or loaded (the message says why)."""


class KernelPathError(KernelError, ValueError):
    """A kernel path that does not exist or that this CPU cannot run was asked for."""


# ----------------------------------------------------------------------------- build

def cache_dir():
    """Folder of the compiled libraries: $GXNOR_KERNEL_DIR, else the user's cache.

    Examples
    --------
    >>> os.path.isabs(cache_dir())
    True
    """
    folder = os.environ.get('GXNOR_KERNEL_DIR')
    if folder:
        return os.path.abspath(folder)
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'gxnor')


def _compiler():
    return os.environ.get('GXNOR_CC') or os.environ.get('CC') or 'cc'


def _which(program):
    if os.path.dirname(program):
        return program if os.path.isfile(program) and os.access(program, os.X_OK) else None
    for folder in os.environ.get('PATH', '').split(os.pathsep):
        path = os.path.join(folder, program)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def _cpu_has_popcnt():
    """POPCNT on this x86 CPU (Linux: /proc/cpuinfo; elsewhere assumed, as on
    every x86-64 CPU since 2008); None on other architectures."""
    if platform.machine().lower() not in ('x86_64', 'amd64', 'i386', 'i686', 'x86'):
        return None
    try:
        with open('/proc/cpuinfo') as handle:
            return any(line.startswith('flags') and ' popcnt' in line for line in handle)
    except (IOError, OSError):
        return True


def _candidate_flags():
    """Optional flags, tried in this order; each kept only where it compiles."""
    flags = ['-fopenmp']
    if _cpu_has_popcnt():
        flags.append('-mpopcnt')
    return flags


def _run(command, what):
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output = process.communicate()[0].decode('utf-8', 'replace')
    except OSError as exc:
        raise KernelError('%s: cannot run %s (%s)' % (what, command[0], exc))
    return process.returncode, output


_PROBE = b'#include <omp.h>\nint gx_probe(void) { return omp_get_max_threads(); }\n'


def _accepted(compiler, flag, folder):
    """Does `compiler` build a shared library with `flag` (warnings count as no)?"""
    source = os.path.join(folder, 'probe.c')
    with open(source, 'wb') as handle:
        handle.write(_PROBE if flag == '-fopenmp' else b'int gx_probe(void) { return 1; }\n')
    code, _ = _run([compiler] + _BASE_FLAGS + ['-Werror', flag, '-o',
                                               os.path.join(folder, 'probe.so'), source],
                   'flag test')
    return code == 0


def _source_digest():
    with open(SOURCE, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _library_path(compiler_path, folder):
    """The cached library's path: a hash of the C source, then of everything else
    the build depends on (so that a library of this source can be found without
    the compiler)."""
    key = hashlib.sha256(_source_digest().encode('ascii'))
    try:
        stamp = '%d' % os.stat(compiler_path).st_mtime
    except OSError:
        stamp = '?'
    for part in [compiler_path, stamp, platform.machine(), sys.platform, str(_ABI)] + \
            _BASE_FLAGS + _candidate_flags():
        key.update(b'\0' + part.encode('utf-8'))
    return os.path.join(folder, 'gxnor_kernels-%s-%s.so' % (_source_digest()[:12],
                                                           key.hexdigest()[:12]))


def _cached_without_compiler(folder):
    """The newest library of this C source in ``folder`` (built by any compiler),
    or None: what runs where no compiler is on PATH."""
    prefix = 'gxnor_kernels-%s-' % _source_digest()[:12]
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix) and n.endswith('.so')]
    except OSError:
        return None
    paths = [os.path.join(folder, n) for n in names]
    return max(paths, key=os.path.getmtime) if paths else None


def _build(compiler, path):
    """Compile SOURCE into `path` atomically: a temporary file, then rename."""
    folder = os.path.dirname(path)
    work = tempfile.mkdtemp(prefix='.build-', dir=folder)
    try:
        flags = [f for f in _candidate_flags() if _accepted(compiler, f, work)]
        tmp = os.path.join(work, os.path.basename(path))
        described = '-DGX_FLAGS="%s"' % ' '.join(_BASE_FLAGS[:1] + flags)
        command = [compiler] + _BASE_FLAGS + flags + [described, '-o', tmp, SOURCE]
        code, output = _run(command, 'build')
        if code != 0:
            # A compiler without AVX-512 intrinsics or target attributes: scalar only.
            scalar = [compiler] + _BASE_FLAGS + flags + [
                '-DGX_SCALAR_ONLY', described[:-1] + ' -DGX_SCALAR_ONLY"', '-o', tmp, SOURCE]
            if _run(scalar, 'build')[0] == 0:
                code = 0
        if code != 0:
            raise KernelError('build failed (%s): %s'
                              % (' '.join(command), output.strip()[-600:] or 'exit %d' % code))
        os.rename(tmp, path)            # atomic on POSIX; a concurrent build's file is equal
    finally:
        for name in os.listdir(work):
            os.remove(os.path.join(work, name))
        os.rmdir(work)
    return flags


def _sizes(count):
    return [_INT64] * count


class Kernels(object):
    """The loaded library (see :func:`load`).

    Attributes
    ----------
    path : str
        The shared library.
    compiled : bool
        True if this load compiled it, False if it came from the cache.
    flags : str
        The optimisation and optional flags it was built with, e.g.
        '-O3 -fopenmp -mpopcnt' (read back from the library).
    supported : list of str
        The paths of :data:`PATHS` this CPU runs, slowest first.
    kernel_path : str
        The kernel path the kernels run on (:meth:`set_path`); the best
        supported one unless asked otherwise.
    """

    def __init__(self, path, compiled=False):
        self.path, self.compiled = path, compiled
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            raise KernelError('cannot load %s (%s)' % (path, exc))
        for name, restype, argtypes in (
                ('gx_abi', ctypes.c_int, []),
                ('gx_flags', ctypes.c_char_p, []),
                ('gx_threads', ctypes.c_int, []),
                ('gx_cpu_ok', ctypes.c_int, []),
                ('gx_paths', ctypes.c_int, []),
                ('gx_set_threads', None, [ctypes.c_int]),
                ('gx_matmul', _INT64, [ctypes.c_int, _PTR, _PTR, _INT64, _PTR, _PTR, _INT64,
                                       _INT64, _PTR, _PTR] + _sizes(8) + [_PTR]),
                ('gx_pack_patches', ctypes.c_int, [ctypes.c_int, _PTR] + _sizes(13) + [_PTR, _PTR]),
                ('gx_conv_pixels', ctypes.c_int, [ctypes.c_int, _PTR] + _sizes(4) + [_PTR] +
                 _sizes(15) + [_PTR, _PTR]),
                ('gx_max_pool', None, [ctypes.c_int, _PTR] + _sizes(10) + [_PTR, _PTR]),
                ('gx_threshold', None, [ctypes.c_int, _PTR, _INT64, _INT64] + [_PTR] * 4)):
            try:
                function = getattr(lib, name)
            except AttributeError:
                raise KernelError('%s: no function %s (stale library?)' % (path, name))
            function.restype, function.argtypes = restype, argtypes
        if lib.gx_abi() != _ABI:
            raise KernelError('%s: ABI %d, expected %d' % (path, lib.gx_abi(), _ABI))
        if not lib.gx_cpu_ok():
            raise KernelError('%s was built for POPCNT, which this CPU lacks' % path)
        self._lib = lib
        self.flags = lib.gx_flags().decode('ascii', 'replace')
        bits = lib.gx_paths()
        self.supported = [name for i, name in enumerate(PATHS) if bits >> i & 1]
        self.kernel_path = self.supported[-1]
        self._env_path = None           # the $GXNOR_KERNEL_PATH last applied

    def set_path(self, name, origin='requested'):
        """Run on kernel path `name` (one of :data:`PATHS`, or 'auto': the best).

        Raises
        ------
        KernelPathError
            An unknown name, or a path this CPU (or this build) cannot run;
            `origin` says where the name came from.

        Examples
        --------
        >>> kernels = load()                  # doctest: +SKIP
        >>> kernels.set_path('scalar')        # doctest: +SKIP
        """
        name = (name or 'auto').strip().lower()
        if name == 'auto':
            self.kernel_path = self.supported[-1]
            return
        if name not in PATHS:
            raise KernelPathError('kernel path %r (%s) unknown: choose one of %s or auto'
                                  % (name, origin, ', '.join(PATHS)))
        if name not in self.supported:
            raise KernelPathError('kernel path %s (%s) is not supported here: this CPU and '
                                  'build run %s' % (name, origin, ', '.join(self.supported)))
        self.kernel_path = name

    def apply_environment(self):
        """Follow ``$GXNOR_KERNEL_PATH`` when it changed since the last look
        (so a path set with :meth:`set_path` stays until the variable changes)."""
        value = os.environ.get('GXNOR_KERNEL_PATH', '').strip().lower() or 'auto'
        if value != self._env_path:
            self.set_path(value, 'GXNOR_KERNEL_PATH=%s' % value)
            self._env_path = value

    def set_threads(self, threads):
        """OpenMP threads of the following calls from this Python thread
        (``omp_set_num_threads``; no effect without OpenMP)."""
        threads = int(threads)
        if threads < 1:
            raise ValueError('threads must be >= 1, got %d' % threads)
        self._lib.gx_set_threads(threads)

    @property
    def _path_code(self):
        return PATHS.index(self.kernel_path)

    @property
    def threads(self):
        """OpenMP threads the kernels use (1 without OpenMP)."""
        return int(self._lib.gx_threads())

    @property
    def openmp(self):
        """Whether the library was built with OpenMP."""
        return '-fopenmp' in self.flags.split()

    def describe(self):
        """One line: what runs, e.g. 'C (gxnor_engine/kernels.c, avx512 path, OpenMP 2 threads,
        -O3 -fopenmp)'."""
        threads = self.threads
        return 'C (gxnor_engine/kernels.c, %s path, %s %d thread%s, %s)' % (
            self.kernel_path, 'OpenMP' if self.openmp else 'no OpenMP,', threads,
            '' if threads == 1 else 's', self.flags)

    def matmul(self, xm, xs, wm, ws, want_gate=False, pool=None):
        """Gated-XNOR product of row-major planes x (rows, nwords), w (units, nwords).

        Parameters
        ----------
        xm, xs, wm, ws : uint64 planes
        want_gate : bool
            Also return the per-element gate counts (not with `pool`).
        pool : (in_hw, pool, stride, out_hw, flip) or None
            The rows are images of in_hw positions (NHWC order): max-pool each
            image's sums right away, as :meth:`max_pool` with the other
            arguments would (while they are in the cache).

        Returns
        -------
        z : int32 array (rows, units), or (n,) + out_hw + (units,) pooled
        total : int, number of open gates (both factors non-zero)
        gate : int32 array (rows, units) of per-element open gates, or None

        Examples
        --------
        >>> import gated_xnor as gx
        >>> x = gx.pack_ternary([[1, -1, 0, 1]])
        >>> w = gx.pack_ternary([[1, 1, 1, 1], [-1, -1, 0, 0]])
        >>> z, total, _ = load().matmul(x.mask, x.sign, w.mask, w.sign)  # doctest: +SKIP
        >>> z.tolist(), total                                           # doctest: +SKIP
        ([[1, 0]], 5)
        """
        xm, xs, wm, ws = (np.ascontiguousarray(a, dtype=np.uint64) for a in (xm, xs, wm, ws))
        if xm.ndim != 2 or wm.ndim != 2 or xs.shape != xm.shape or ws.shape != wm.shape \
                or xm.shape[1] != wm.shape[1]:
            raise ValueError('matmul: need planes x (rows, nwords) and w (units, nwords), '
                             'got %s and %s' % (xm.shape, wm.shape))
        (rows, nwords), units = xm.shape, wm.shape[0]
        in_hw, window, step, out_hw, flip = pool or ((0, 0), (0, 0), (1, 1), None, None)
        if pool is not None:
            per_image = in_hw[0] * in_hw[1]
            if want_gate or rows % per_image:
                raise ValueError('matmul: pooling needs whole images and no gate counts')
            z = np.empty((rows // per_image,) + tuple(out_hw) + (units,), dtype=np.int32)
            if flip is not None:
                flip = np.ascontiguousarray(flip, dtype=np.int32)
        else:
            z = np.empty((rows, units), dtype=np.int32)
        gate = np.empty((rows, units), dtype=np.int32) if want_gate else None
        out_hw = out_hw or (0, 0)
        total = self._lib.gx_matmul(self._path_code, xm.ctypes.data, xs.ctypes.data, rows,
                                    wm.ctypes.data, ws.ctypes.data, units, nwords,
                                    z.ctypes.data, None if gate is None else gate.ctypes.data,
                                    in_hw[0], in_hw[1], window[0], window[1], step[0], step[1],
                                    out_hw[0], out_hw[1],
                                    None if flip is None else flip.ctypes.data)
        if total < 0:
            raise MemoryError('gx_matmul: out of memory')
        return z, int(total), gate

    def pack_patches(self, t, kernel, stride, pad, nwords):
        """Packed im2col rows of int8 ternary images t (n, height, width, channels).

        Parameters
        ----------
        t : int8 array (n, height, width, channels), values in {-1, 0, 1}
        kernel, stride, pad : pairs of int
            The window; (1, 1), (1, 1), (0, 0) with height = width = 1 packs
            dense rows.
        nwords : int
            Words per row, at least ceil(kh * kw * ceil(channels / 8) / 8).

        Returns
        -------
        mask, sign : uint64 arrays (n * oh * ow, nwords)
        out_hw : (oh, ow)
        """
        t = np.ascontiguousarray(t, dtype=np.int8)
        n, height, width, channels = t.shape
        (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad
        oh, ow = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
        if nwords * 8 < kh * kw * -(-channels // 8) or min(oh, ow, kh, kw, sh, sw) < 1 \
                or min(ph, pw) < 0:
            raise ValueError('pack_patches: bad geometry or too few words')
        mask = np.empty((n * oh * ow, nwords), dtype=np.uint64)
        sign = np.empty_like(mask)
        if self._lib.gx_pack_patches(self._path_code, t.ctypes.data, n, height, width, channels,
                                     kh, kw, sh, sw, ph, pw, oh, ow, nwords, mask.ctypes.data,
                                     sign.ctypes.data):
            raise MemoryError('gx_pack_patches: out of memory')
        return mask, sign, (oh, ow)

    def conv_pixels(self, X, w, stride, pad, pool=None):
        """First layer: int32 sums z = sum w * (2p - 255) of uint8 images, NHWC.

        Parameters
        ----------
        X : uint8 array (n, channels, height, width)
        w : int8 array (units, channels, kh, kw), values in {-1, 0, 1}
        stride, pad : pairs of int (zero padding: q = 0 outside the image)
        pool : (pool, stride, out_hw, flip) or None
            Max-pool the sums of each image right away, as :meth:`max_pool`
            with these arguments would (while they are in the cache).

        Returns
        -------
        z : int32 array (n, oh, ow, units), or (n,) + out_hw + (units,) pooled
        """
        X = np.ascontiguousarray(X, dtype=np.uint8)
        w = np.ascontiguousarray(w, dtype=np.int8)
        n, channels, height, width = X.shape
        units, _, kh, kw = w.shape
        (sh, sw), (ph, pw) = stride, pad
        if w.shape[1] != channels or 255 * channels * kh * kw >= 2 ** 31:
            raise ValueError('conv_pixels: channels differ or fan-in too large for int32')
        oh, ow = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
        window, step, out_hw, flip = pool or ((0, 0), (1, 1), (oh, ow), None)
        if flip is not None:
            flip = np.ascontiguousarray(flip, dtype=np.int32)
        z = np.empty((n,) + tuple(out_hw) + (units,), dtype=np.int32)
        if self._lib.gx_conv_pixels(self._path_code, X.ctypes.data, n, channels, height, width,
                                    w.ctypes.data, units, kh, kw, sh, sw, ph, pw, oh, ow,
                                    window[0], window[1], step[0], step[1], out_hw[0],
                                    out_hw[1], None if flip is None else flip.ctypes.data,
                                    z.ctypes.data):
            raise MemoryError('gx_conv_pixels: out of memory')
        return z

    def max_pool(self, a, pool, stride, out_hw, flip=None):
        """Max-pooling of int32 NHWC sums, as :func:`gated_xnor.max_pool_nhwc`.

        Parameters
        ----------
        a : int32 array (n, height, width, channels)
        pool, stride : pairs of int
        out_hw : (oh, ow); windows past the border are clipped, so
            ``ignore_border=False`` is the larger out_hw.
        flip : int32 array (channels,) of 0 and -1, or None
            -1 pools -a for that channel (returns the min).

        Returns
        -------
        int32 array (n, oh, ow, channels)
        """
        a = np.ascontiguousarray(a, dtype=np.int32)
        n, height, width, channels = a.shape
        out = np.empty((n,) + tuple(out_hw) + (channels,), dtype=np.int32)
        if flip is not None:
            flip = np.ascontiguousarray(flip, dtype=np.int32)
        self._lib.gx_max_pool(self._path_code, a.ctypes.data, n, height, width, channels,
                              pool[0], pool[1], stride[0], stride[1], out_hw[0], out_hw[1],
                              None if flip is None else flip.ctypes.data, out.ctypes.data)
        return out

    def threshold(self, z, sign, pos, neg):
        """Ternary int8 of int32 sums z (channels last), as
        :func:`gated_xnor.apply_thresholds` with int32 thresholds."""
        z = np.ascontiguousarray(z, dtype=np.int32)
        sign, pos, neg = (np.ascontiguousarray(a, dtype=np.int32) for a in (sign, pos, neg))
        out = np.empty(z.shape, dtype=np.int8)
        channels = z.shape[-1]
        self._lib.gx_threshold(self._path_code, z.ctypes.data, z.size // max(channels, 1),
                               channels, sign.ctypes.data, pos.ctypes.data, neg.ctypes.data,
                               out.ctypes.data)
        return out


_LOADED = {}


def load(compiler=None, folder=None, force=False):
    """Build (once per cache key) and load the kernels, on the path that
    ``$GXNOR_KERNEL_PATH`` names (see :meth:`Kernels.apply_environment`).

    Parameters
    ----------
    compiler : str, optional
        Default ``$GXNOR_CC``, ``$CC`` or ``cc``.
    folder : str, optional
        Cache folder, default :func:`cache_dir`.
    force : bool
        Load again even if this process already did (the file is still
        reused if it exists).

    Returns
    -------
    Kernels

    Raises
    ------
    KernelError
        No compiler, the build or the load failed; the message says why.
    KernelPathError
        ``$GXNOR_KERNEL_PATH`` names a path this CPU cannot run.
    """
    kernels = _load_library(compiler, folder, force)
    kernels.apply_environment()
    return kernels


def available_paths():
    """The kernel paths (names of :data:`PATHS`) this machine runs, slowest
    first; [] where the library cannot be built (the NumPy path only).

    Examples
    --------
    >>> available_paths()                       # doctest: +SKIP
    ['scalar', 'avx2', 'avx512']
    """
    try:
        return list(_load_library().supported)
    except KernelError:
        return []


def _load_library(compiler=None, folder=None, force=False):
    """The loaded library for (compiler, folder), built if needed.  A failure is kept
    too: later calls in this process raise it again without trying again."""
    compiler = compiler or _compiler()
    folder = folder or cache_dir()
    key = (compiler, folder)
    if key in _LOADED and not force:
        if isinstance(_LOADED[key], KernelError):
            raise _LOADED[key]
        return _LOADED[key]
    try:
        _LOADED[key] = _open_library(compiler, folder)
    except KernelError as exc:
        _LOADED[key] = exc
        raise
    return _LOADED[key]


def _open_library(compiler, folder):
    if not os.path.isfile(SOURCE):
        raise KernelError('%s is missing' % SOURCE)
    compiler_path = _which(compiler)
    if compiler_path is None:
        cached = _cached_without_compiler(folder)
        if cached is None:
            raise KernelError('no C compiler (%r not found; set $CC or $GXNOR_CC) and no '
                              'library of these kernels in %s' % (compiler, folder))
        os.environ.setdefault('OMP_WAIT_POLICY', 'passive')     # read when libgomp loads
        return Kernels(cached, False)
    try:
        os.makedirs(folder)
    except OSError as exc:
        if exc.errno != errno.EEXIST or not os.path.isdir(folder):
            raise KernelError('cannot create the cache folder %s (%s)' % (folder, exc))
    path = _library_path(compiler_path, folder)
    os.environ.setdefault('OMP_WAIT_POLICY', 'passive')     # read when libgomp loads
    if os.path.isfile(path):
        try:
            return Kernels(path, False)
        except KernelError:
            # A damaged cached file (a full disk, a copy cut short): built again below.
            try:
                os.remove(path)
            except OSError as exc:
                raise KernelError('cannot replace the damaged %s (%s)' % (path, exc))
    try:
        _build(compiler_path, path)
    except (IOError, OSError) as exc:
        raise KernelError('build failed in %s (%s)' % (folder, exc))
    return Kernels(path, True)


_WARNED = set()


def select(kernel=None, method=None):
    """Which path runs: (Kernels or None for NumPy, one line that says why).

    Parameters
    ----------
    kernel : {None, 'auto', 'c', 'numpy'}
        None and 'auto' follow ``$GXNOR_KERNELS`` (default auto: C when it
        builds, else NumPy with a RuntimeWarning saying why).
    method : NumPy popcount method or None
        Given with 'auto', the NumPy path runs; with 'c' it is an error.

    Raises
    ------
    ValueError
        Unknown choice, or 'c' with a popcount method.
    KernelError
        'c' (or ``GXNOR_KERNELS=c``) and the library cannot be built.
    KernelPathError
        ``$GXNOR_KERNEL_PATH`` names a kernel path this CPU cannot run.

    Examples
    --------
    >>> select('numpy')
    (None, 'NumPy (requested)')
    """
    choice = kernel or 'auto'
    origin = 'requested'
    if choice == 'auto' and os.environ.get('GXNOR_KERNELS'):
        choice = os.environ['GXNOR_KERNELS'].strip().lower()
        origin = 'GXNOR_KERNELS=%s' % choice
    if choice not in KERNEL_CHOICES:
        raise ValueError('kernel must be one of %s, got %r (%s)'
                         % (KERNEL_CHOICES, choice, origin))
    if choice == 'numpy':
        return None, 'NumPy (%s)' % origin
    if method is not None:
        if choice == 'c':
            raise ValueError('popcount method %r is for the NumPy kernel, not C' % (method,))
        return None, 'NumPy (popcount method %s given)' % method
    if choice == 'c':
        kernels = load()
        return kernels, kernels.describe()
    try:
        kernels = load()
    except KernelPathError:
        raise                           # asked for explicitly: never a silent fallback
    except KernelError as exc:
        why = str(exc)
        if why not in _WARNED:
            _WARNED.add(why)
            warnings.warn('gated_xnor: C kernels unavailable, using NumPy: %s' % why,
                          RuntimeWarning, stacklevel=3)
        return None, 'NumPy (C kernels unavailable: %s)' % why
    return kernels, kernels.describe()


def gxnor_matmul(xm, xs, wm, ws, method=None, want_gate=False):
    """The compiled equivalent of :func:`gxnor_engine.packing.gxnor_matmul` (word-major planes).

    Parameters
    ----------
    xm, xs : uint64 arrays (nwords, rows)
    wm, ws : uint64 arrays (nwords, units)
    method : ignored (the NumPy popcount method; the C kernel has one)
    want_gate : bool

    Returns
    -------
    (z int32 (rows, units), total open gates, per-element gates or None)

    Raises
    ------
    KernelError
        If the library cannot be built.
    """
    xm, xs, wm, ws = (np.asarray(a) for a in (xm, xs, wm, ws))
    return load().matmul(xm.T, xs.T, wm.T, ws.T, want_gate)
