"""A precompiled header for Theano's C modules: their common headers parsed once.

Every C module Theano compiles (one per new op, or per new fused elementwise
loop) starts with the same includes: ``Python.h``, NumPy's ``arrayobject.h``
and a few C++ headers.  g++ spends about 60% of each module's time parsing
them.  :func:`use_precompiled_header` parses them once into a precompiled
header (``.gch``) in Theano's compile folder and has Theano compile each
module with ``-include`` of it, so each module skips that work (a first
``make test`` compiles about a thousand modules).

The header holds the six includes Theano writes at the top of every module, in
its order, then ``<vector>`` and ``<algorithm>``, which most modules include
next (the C++ standard library's: they declare nothing outside ``std``).  It is
built with Theano's compiler flags, so a module compiles to the same code.  The
modules are also compiled without debug information (``-g0`` after Theano's
``-g``: the same machine code, a quarter less time).  Where g++ cannot use it (other flags, another
compiler), g++ reads the header text instead, as without it.  It is left
out where the user sets ``gcc.cxxflags`` or ``GXNOR_THEANO_PCH=0``.

Examples
--------
>>> print(HEADER_LINES[0])
#include <Python.h>
"""
from __future__ import absolute_import

import hashlib
import os
import subprocess
import sys
import tempfile

__all__ = ['THEANO_PREFIX', 'HEADER_LINES', 'header_text', 'header_in_use',
           'use_precompiled_header']

# The top of every module Theano 0.8.2 and 1.0.5 write (theano/gof/cc.py): the
# first THEANO_PREFIX lines, then two standard headers most modules include next.
THEANO_PREFIX = 6
HEADER_LINES = ('#include <Python.h>', '#include <iostream>', '#include "theano_mod_helper.h"',
                '#include <math.h>', '#include <numpy/arrayobject.h>',
                '#include <numpy/arrayscalars.h>', '#include <vector>', '#include <algorithm>')

# What Theano's CLinker passes to every module besides GCC_compiler.compile_args()
# (cc.py: CLinker.compile_args and compile_str): -O3, its warnings and
# -fvisibility=hidden; and -g, which _EXTRA_FLAGS turns off.
_CLINKER_FLAGS = ['-O3', '-fno-math-errno', '-Wno-unused-label', '-Wno-unused-variable',
                  '-Wno-write-strings', '-g', '-fvisibility=hidden']
# No debug information (-g0 after Theano's -g): the same machine code, a quarter less
# compile time; nobody steps through Theano's generated C in a debugger here.
_EXTRA_FLAGS = ['-g0']


def header_text():
    return '\n'.join(HEADER_LINES) + '\n'


# How the source of every module Theano writes begins.
_PREFIX_TEXT = '\n'.join(HEADER_LINES[:THEANO_PREFIX]) + '\n'


def _include_dirs():
    import numpy
    import theano
    from distutils import sysconfig
    gof = os.path.join(os.path.dirname(theano.__file__), 'gof')
    helper = [d for d in (os.path.join(gof, 'c_code'), gof)
              if os.path.isfile(os.path.join(d, 'theano_mod_helper.h'))]
    return [numpy.get_include(), sysconfig.get_python_inc()] + helper[:1]


def _build(command, header, gch):
    """Write ``header`` and compile it to ``gch`` with ``command`` (atomically:
    another process may be building the same one)."""
    folder = os.path.dirname(gch)
    if not os.path.isdir(folder):
        os.makedirs(folder)
    if not os.path.isfile(header):
        handle, tmp = tempfile.mkstemp(dir=folder, prefix='.header.')
        with os.fdopen(handle, 'w') as out:
            out.write(header_text())
        os.rename(tmp, header)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix='.gch.', suffix='.gch')
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


_state = {'header': None}


def header_in_use():
    """The precompiled header's path where :func:`use_precompiled_header` put it in
    use, else None."""
    return _state['header']


def _with_header(compile_str):
    def compile_with_header(module_name, src_code, *args, **kwargs):
        header = _state['header']
        if header and src_code.startswith(_PREFIX_TEXT):
            kwargs = dict(kwargs)
            if len(args) >= 5:       # location, include_dirs, lib_dirs, libs, preargs
                args = args[:4] + (list(args[4] or []) + _EXTRA_FLAGS + ['-include', header],
                                   ) + args[5:]
            else:
                kwargs['preargs'] = (list(kwargs.get('preargs') or []) + _EXTRA_FLAGS +
                                     ['-include', header])
        return compile_str(module_name, src_code, *args, **kwargs)
    compile_with_header.gxnor_pch = True
    return compile_with_header


def use_precompiled_header(environ=None):
    """Build (once per compile folder and flags) and use the precompiled header.

    Theano's module compilations (``GCC_compiler.compile_str`` of a source that
    opens with Theano's prefix) get ``-include`` of it; its other compilations
    (the checks for OpenMP and BLAS) and the modules' cache keys are unchanged.
    Returns its path, or None where it is not used: ``GXNOR_THEANO_PCH=0``, the
    user set ``gcc.cxxflags``, Theano has no g++, or the header did not build.
    Call after ``import theano``.
    """
    import theano
    from theano.gof import cmodule
    environ = os.environ if environ is None else environ
    config = theano.config
    if (environ.get('GXNOR_THEANO_PCH') == '0' or config.gcc.cxxflags.strip() or
            not config.cxx or 'g++' not in os.path.basename(config.cxx)):
        return None
    try:
        command = ([config.cxx] + _CLINKER_FLAGS + list(cmodule.GCC_compiler.compile_args()) +
                   ['-I' + d for d in _include_dirs()] + _EXTRA_FLAGS)
        key = hashlib.sha1(('\0'.join(command + [header_text(), sys.version])).encode(
            'utf-8')).hexdigest()[:16]
        header = os.path.join(config.compiledir, 'gxnor_pch', key, 'theano_pch.h')
        if not (os.path.isfile(header + '.gch') or _build(command, header, header + '.gch')):
            return None
    except (OSError, IOError, ImportError):
        return None
    compiler = cmodule.GCC_compiler
    if not getattr(compiler.compile_str, 'gxnor_pch', False):
        compiler.compile_str = staticmethod(_with_header(compiler.compile_str))
    _state['header'] = header
    return header
