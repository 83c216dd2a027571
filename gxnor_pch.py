"""Precompiled headers for Theano's C modules: their common headers parsed once.

Every C module Theano compiles (one per new op, or per new fused elementwise
loop) opens with the same includes: ``Python.h``, ``<iostream>``, NumPy's
``arrayobject.h`` and a few C++ headers (libgpuarray's on the GPU backend).
g++ spends most of a small module's time parsing them.
:func:`use_precompiled_header` has Theano compile each module with
``-include`` of a precompiled header (``.gch``, in Theano's compile folder) of
the include lines the module opens with, so each module skips that work (a
first ``make test`` compiles about a thousand modules, most of them with one of
a few such openings).  g++ uses a precompiled header only for a compilation
with the flags it was built with, and Theano's flags differ between modules
(``-fopenmp`` for its parallel loops, which defines ``_OPENMP``; the GPU
backend's), so there is one header per opening and set of flags, built the
second time a module asks for it.

The header holds exactly the lines the module's source opens with, so the
module compiles to the same code (its own includes of the same files then do
nothing).  The modules are also compiled without debug information (``-g0``
after Theano's ``-g``: the same machine code, a quarter less time) and, where
the machine has it, linked by GNU gold (``-fuse-ld=gold``: the same library,
linked in half the time of the default linker).  Where a
header does not build or a module does not compile with it, the module
compiles as without it.  It is left out where the user sets ``gcc.cxxflags``
or ``GXNOR_THEANO_PCH=0``.

Examples
--------
>>> THEANO_PREFIX[0]
'#include <Python.h>'
"""
from __future__ import absolute_import

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

__all__ = ['THEANO_PREFIX', 'leading_includes', 'header_in_use', 'header_command', 'header_for',
           'link_flags', 'use_precompiled_header']

# How every module Theano 0.8.2 and 1.0.5 write opens (theano/gof/cc.py); what follows
# is the includes of the module's ops: for most CPU modules <math.h>, NumPy's two
# headers, <vector> and <algorithm>, for the GPU backend's libgpuarray's.
THEANO_PREFIX = ('#include <Python.h>', '#include <iostream>', '#include "theano_mod_helper.h"')

# No debug information (-g0 after Theano's -g): the same machine code, a quarter less
# compile time; nobody steps through Theano's generated C in a debugger here.
_EXTRA_FLAGS = ['-g0']


def leading_includes(src_code):
    """The ``#include`` lines a Theano module's source opens with (blank lines
    skipped), or () for a source that does not open as Theano's modules do.

    >>> leading_includes('#include <Python.h>\\n#include <iostream>\\n'
    ...                  '#include "theano_mod_helper.h"\\n\\n#include <vector>\\nint x;\\n')[3:]
    ('#include <vector>',)
    >>> leading_includes('#include <stdio.h>\\nint main() {}\\n')
    ()
    """
    lines = []
    for line in src_code.splitlines():
        line = line.strip()
        if not line:
            continue
        if not line.startswith('#include'):
            break
        lines.append(line)
    return tuple(lines) if tuple(lines[:len(THEANO_PREFIX)]) == THEANO_PREFIX else ()


def _write(path, text):
    """Write ``text`` to ``path`` atomically (another process may write the same)."""
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix='.header.')
    with os.fdopen(handle, 'w') as out:
        out.write(text)
    os.rename(tmp, path)


def _build(command, header, gch):
    """Compile ``header`` to ``gch`` with ``command`` (atomically)."""
    handle, tmp = tempfile.mkstemp(dir=os.path.dirname(gch), prefix='.gch.', suffix='.gch')
    os.close(handle)
    try:
        with open(os.devnull, 'wb') as devnull:
            status = subprocess.call(command + ['-x', 'c++-header', header, '-o', tmp],
                                     stdout=devnull, stderr=devnull)
        if status == 0:
            os.rename(tmp, gch)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return os.path.isfile(gch)


_state = {'folder': None, 'failed': set(), 'link_flags': None}


def link_flags():
    """``['-fuse-ld=gold']`` where g++ links a shared library with GNU gold, else ``[]``
    (tried once per process, on the first module compiled).

    Gold writes the same shared library as the default linker (bfd) in about half
    its time: about 0.08 s less for each of the thousand modules a first ``make test``
    compiles.
    """
    if _state['link_flags'] is None:
        import theano
        folder = tempfile.mkdtemp(prefix='gxnor_gold_')
        try:
            source = os.path.join(folder, 'probe.cpp')
            with open(source, 'w') as handle:
                handle.write('int gxnor_probe() { return 0; }\n')
            with open(os.devnull, 'wb') as devnull:
                status = subprocess.call([theano.config.cxx, '-shared', '-fPIC', '-fuse-ld=gold',
                                          source, '-o', os.path.join(folder, 'probe.so')],
                                         stdout=devnull, stderr=devnull)
        except OSError:
            status = 1
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        _state['link_flags'] = ['-fuse-ld=gold'] if status == 0 else []
    return list(_state['link_flags'])


def header_in_use():
    """The folder holding the precompiled headers where :func:`use_precompiled_header`
    put them in use, else None."""
    return _state['folder']


_ARGS = ('location', 'include_dirs', 'lib_dirs', 'libs', 'preargs', 'py_module',
         'hide_symbols')


def header_command(preargs, include_dirs, hide_symbols=True):
    """The g++ command (without its input and output) that compiles a module with
    ``preargs`` and ``include_dirs`` as Theano's ``GCC_compiler.compile_str`` does, less
    linking: the flags a precompiled header must be built with to be valid for it.

    g++ refuses a header built under other settings (``-fopenmp``, which Theano adds to
    its parallel loops, defines ``_OPENMP``; ``-O3``, ``-march``...), so each set of
    flags gets its own header.
    """
    import theano
    from theano.gof import cmodule
    preargs = list(preargs or [])
    if theano.config.cmodule.remove_gxx_opt:
        preargs = [p for p in preargs if not p.startswith('-O')]
    dirs = [d for d in (include_dirs or []) if d] + list(cmodule.std_include_dirs())
    command = [theano.config.cxx, '-g'] + preargs + _EXTRA_FLAGS + ['-I' + d for d in dirs]
    if hide_symbols and sys.platform != 'win32':
        command.append('-fvisibility=hidden')
    return command


def _key(command, lines):
    import theano
    return hashlib.sha1(('\0'.join(command + list(lines) + [sys.version, theano.__version__])
                         ).encode('utf-8')).hexdigest()[:16]


def header_for(command, lines):
    """The precompiled header of the include ``lines`` valid for a module compiled
    with ``command``, or None.

    A header is built the second time a module asks for it (in this compile
    folder, by any process): building one costs about two modules' compilations,
    and an opening that only one module has (some of the GPU backend's) would not
    pay that back.  None too where it does not build (tried once per process).
    """
    key = _key(command, lines)
    if key in _state['failed']:
        return None
    header = os.path.join(_state['folder'], key, 'theano_pch.h')
    try:
        if os.path.isfile(header + '.gch'):
            return header
        if not os.path.isfile(header):
            _write(header, '\n'.join(lines) + '\n')     # the first asker: remembered
            return None
        if _build(command, header, header + '.gch'):
            return header
    except (OSError, IOError):
        pass
    _state['failed'].add(key)
    return None


def _with_header(compile_str):
    def compile_with_header(module_name, src_code, *args, **kwargs):
        lines = leading_includes(src_code) if _state['folder'] else ()
        if lines:
            named = dict(zip(_ARGS, args))
            named.update(kwargs)
            command = header_command(named.get('preargs'), named.get('include_dirs'),
                                     named.get('hide_symbols', True))
            header = header_for(command, lines)
            extra = _EXTRA_FLAGS + link_flags() + (['-include', header] if header else [])
            try:
                return compile_str(module_name, src_code,
                                   **dict(named, preargs=list(named.get('preargs') or []) + extra))
            except Exception:
                # Compiled again as Theano would: an error of the module's own is
                # raised as before; where the header was the cause (a header g++
                # cannot take twice, without an include guard), it is not used again.
                compiled = compile_str(module_name, src_code, *args, **kwargs)
                if header:
                    _state['failed'].add(_key(command, lines))
                return compiled
        return compile_str(module_name, src_code, *args, **kwargs)
    compile_with_header.gxnor_pch = True
    return compile_with_header


def use_precompiled_header(environ=None):
    """Have Theano's module compilations use precompiled headers.

    Theano's module compilations (``GCC_compiler.compile_str`` of a source that
    opens with Theano's prefix) get ``-include`` of the header built with their
    flags (:func:`header_command`), built the first time; its other compilations
    (the checks for OpenMP and BLAS) and the modules' cache keys are unchanged.
    Returns the folder of the headers (in Theano's compile folder), or None where
    they are not used: ``GXNOR_THEANO_PCH=0``, the user set ``gcc.cxxflags``, or
    Theano has no g++.  Call after ``import theano``.
    """
    import theano
    from theano.gof import cmodule
    environ = os.environ if environ is None else environ
    config = theano.config
    if (environ.get('GXNOR_THEANO_PCH') == '0' or config.gcc.cxxflags.strip() or
            not config.cxx or 'g++' not in os.path.basename(config.cxx)):
        return None
    compiler = cmodule.GCC_compiler
    if not getattr(compiler.compile_str, 'gxnor_pch', False):
        compiler.compile_str = staticmethod(_with_header(compiler.compile_str))
    _state['folder'] = os.path.join(config.compiledir, 'gxnor_pch')
    return _state['folder']
