"""gxnor_pch: Theano's C modules compile against the precompiled header, and it is
left out where the user sets gcc.cxxflags."""
import os
import subprocess
import sys
try:
    from shutil import which
except ImportError:     # Python 2.7
    from distutils.spawn import find_executable as which

import numpy as np

import gxnor_compat  # noqa: F401  (before theano)
import gxnor_pch
import theano
import theano.tensor as T
from theano.gof import cmodule
from theano.gof.op import OpenMPOp
from conftest import ROOT


class Doubled(theano.Op):
    """x * 2 in C, with no cache version: Theano compiles its module once per process
    (and per ``tag``, which changes its code, not what it computes)."""
    __props__ = ('tag',)

    def __init__(self, tag=0):
        self.tag = tag

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return theano.Apply(self, [x], [x.type()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = inputs[0] * 2

    def c_code(self, node, name, inputs, outputs, sub):
        return """
        Py_XDECREF(%(z)s);
        %(z)s = (PyArrayObject*)PyArray_FROMANY((PyObject*)%(x)s, NPY_FLOAT32, 0, 0,
                                               NPY_ARRAY_ENSURECOPY | NPY_ARRAY_C_CONTIGUOUS);
        if (!%(z)s) %(fail)s
        for (npy_intp i = 0; i < PyArray_SIZE(%(z)s); ++i)
            ((npy_float32*)PyArray_DATA(%(z)s))[i] *= 2;  // %(tag)s
        """ % dict(x=inputs[0], z=outputs[0], fail=sub['fail'], tag=self.tag)

    def c_code_cache_version(self):
        return ()


class DoubledInParallel(Doubled, OpenMPOp):
    """x * 2 with Theano's OpenMP flag (-fopenmp, which defines _OPENMP), as its
    parallel elementwise loops have."""

    def __init__(self, tag=0):
        Doubled.__init__(self, tag)
        OpenMPOp.__init__(self, openmp=True)


def test_theano_compiles_each_module_with_the_precompiled_header(monkeypatch):
    """g++ -H marks a precompiled header it uses with '!' (and one it refuses, built
    under other flags, with 'x'): every new module is compiled with one, those
    with Theano's OpenMP flag (which defines _OPENMP) as well as those without; and
    each module's source opens with the header's includes in the same order, so
    it compiles to the same code."""
    folder = gxnor_pch.header_in_use()
    assert folder and folder.startswith(theano.config.compiledir), folder
    seen, sources = [], []
    original = cmodule.output_subprocess_Popen

    def with_header_tree(command):
        source = [word for word in command if str(word).endswith('mod.cpp')]
        if not source:   # not a module's compilation
            return original(command)
        out = original(list(command) + ['-H'])
        tree = out[1].decode('utf-8', 'replace') if isinstance(out[1], bytes) else out[1]
        seen.append((' '.join(command), tree))
        with open(source[0]) as handle:
            sources.append([line.strip() for line in handle if line.startswith('#include')])
        return out
    monkeypatch.setattr(cmodule, 'output_subprocess_Popen', with_header_tree)
    x = T.fvector()
    # One module each, twice: a header is built the second time an opening is asked
    # for (in a new compile folder these may be the first modules); the second round's.
    for tag in range(2):
        del seen[:], sources[:]
        for op in (Doubled(tag), DoubledInParallel(tag)):
            f = theano.function([x], op(x), mode=theano.compile.mode.Mode(linker='c'))
            assert f(np.array([1.5, -2.0], np.float32)).tolist() == [3.0, -4.0]
    commands = [command for command, _ in seen]
    assert any('-fopenmp' in c for c in commands) and any('-fopenmp' not in c for c in commands), \
        commands
    # and linked by gold where g++ has it (the modules ran above)
    assert all(c.split().count(flag) == 1 for c in commands for flag in gxnor_pch.link_flags())
    for (command, tree), includes in zip(seen, sources):
        used = [line for line in tree.splitlines() if line.endswith('theano_pch.h.gch')]
        assert len(used) == 1 and used[0].startswith('! ' + folder), (command, tree[:2000])
        # the header holds the include lines the module opens with, in their order
        with open(used[0][2:-len('.gch')]) as handle:
            header = handle.read().splitlines()
        assert list(gxnor_pch.THEANO_PREFIX) == header[:3] and header == includes[:len(header)]


def test_modules_link_with_gold_where_the_machine_has_it():
    gold = which('ld.gold')
    assert gxnor_pch.link_flags() == (['-fuse-ld=gold'] if gold else [])


def test_a_header_that_does_not_build_is_tried_once(monkeypatch):
    """A set of flags g++ refuses: no header, and the build (at the second asking) is
    not tried again in this process."""
    calls = []
    original = gxnor_pch._build
    monkeypatch.setattr(gxnor_pch, '_build', lambda *a: calls.append(a) or original(*a))
    command = gxnor_pch.header_command(['-fno-such-flag-here'], [])
    lines = gxnor_pch.THEANO_PREFIX + ('#include <cstdio>  // %d' % os.getpid(),)
    for _ in range(3):    # the first only remembers it, the second builds
        assert gxnor_pch.header_for(command, lines) is None
    assert len(calls) == 1


def test_a_module_that_fails_with_the_header_compiles_without_it(monkeypatch, tmp_path):
    """A header that breaks a module's compilation (one without an include guard,
    which the header and the module then define twice) is dropped for that module
    and not used again; the module compiles."""
    folder = str(tmp_path)
    name = 'unguarded_%d.h' % os.getpid()
    with open(os.path.join(folder, name), 'w') as handle:
        handle.write('int defined_twice = 1;\n')
    src = '\n'.join(gxnor_pch.THEANO_PREFIX + ('#include "%s"' % name,)) + \
        '\nint module_function() { return defined_twice; }\n'
    with_header = []
    original = cmodule.output_subprocess_Popen

    def record(command):
        with_header.append('-include' in [str(word) for word in command])
        return original(command)
    monkeypatch.setattr(cmodule, 'output_subprocess_Popen', record)
    library = os.path.join(folder, 'unguarded.' + cmodule.get_lib_extension())
    for _ in range(3):    # the first only remembers the opening, the second builds it
        cmodule.GCC_compiler.compile_str('unguarded', src, location=folder,
                                         include_dirs=[folder], py_module=False)
        assert os.path.isfile(library)
        os.remove(library)
    assert with_header == [False, True, False, False]


def run_python(code, **env):
    proc = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, cwd=ROOT, env=dict(os.environ, **env))
    return proc.communicate()[0].decode('utf-8').strip().splitlines()[-1]


def test_left_out_where_the_user_sets_cxxflags_or_turns_it_off():
    code = ('import gxnor_compat, gxnor_pch, theano; '
            'print("%s %s" % (gxnor_pch.header_in_use(), theano.config.openmp))')
    flags = os.environ.get('THEANO_FLAGS', '')
    user = ','.join(f for f in (flags, 'gcc.cxxflags=-DUSER_FLAG') if f)
    assert run_python(code, THEANO_FLAGS=user).startswith('None ')
    assert run_python(code, GXNOR_THEANO_PCH='0').startswith('None ')
    assert run_python(code).endswith('gxnor_pch %s' % theano.config.openmp)


def test_openmp_and_blas_checks_are_unchanged():
    """Theano's own compiler checks (OpenMP support, BLAS) compile small programs
    without Python's headers: the header must not reach them."""
    from theano.gof.op import OpenMPOp
    assert OpenMPOp.test_gxx_support()
    assert cmodule.GCC_compiler.try_flags(['-fopenmp'])
