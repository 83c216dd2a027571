"""gxnor_pch: Theano's C modules compile against the precompiled header, and it is
left out where the user sets gcc.cxxflags."""
import os
import subprocess
import sys

import numpy as np

import gxnor_compat  # noqa: F401  (before theano)
import gxnor_pch
import theano
import theano.tensor as T
from theano.gof import cmodule
from conftest import ROOT


class Doubled(theano.Op):
    """x * 2 in C, with no cache version: Theano compiles its module every time."""
    __props__ = ()

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
            ((npy_float32*)PyArray_DATA(%(z)s))[i] *= 2;
        """ % dict(x=inputs[0], z=outputs[0], fail=sub['fail'])

    def c_code_cache_version(self):
        return ()


def test_theano_compiles_each_module_with_the_precompiled_header(monkeypatch):
    """g++ -H marks a precompiled header it uses with '!': a new module (an op whose
    code Theano never caches) is compiled with it, so Theano's own command line
    has the flags the header was built with; and the module's source opens with the
    header's includes in the same order, so it compiles to the same code."""
    header = gxnor_pch.header_in_use()
    assert header and os.path.isfile(header + '.gch'), header
    seen, sources = [], []
    original = cmodule.output_subprocess_Popen

    def with_header_tree(command):
        source = [word for word in command if str(word).endswith('mod.cpp')]
        if not source:   # not a module's compilation
            return original(command)
        out = original(list(command) + ['-H'])
        seen.append(out[1].decode('utf-8', 'replace') if isinstance(out[1], bytes) else out[1])
        with open(source[0]) as handle:
            sources.append([line.strip() for line in handle if line.startswith('#include')])
        return out
    monkeypatch.setattr(cmodule, 'output_subprocess_Popen', with_header_tree)
    x = T.fvector()
    f = theano.function([x], Doubled()(x), mode=theano.compile.mode.Mode(linker='c'))
    assert f(np.array([1.5, -2.0], np.float32)).tolist() == [3.0, -4.0]
    assert seen, 'no module was compiled'
    assert any('! %s.gch' % header in tree for tree in seen), seen[0][:2000]
    assert not any('invalid-pch' in tree or 'differing settings' in tree for tree in seen)
    prefix = list(gxnor_pch.HEADER_LINES[:gxnor_pch.THEANO_PREFIX])
    for includes in sources:
        assert includes[:len(prefix)] == prefix, includes
    # the rest: the C++ standard library's, which most modules include next
    assert gxnor_pch.HEADER_LINES[len(prefix):] == ('#include <vector>', '#include <algorithm>')


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
    assert run_python(code).endswith('theano_pch.h %s' % theano.config.openmp)


def test_openmp_and_blas_checks_are_unchanged():
    """Theano's own compiler checks (OpenMP support, BLAS) compile small programs
    without Python's headers: the header must not reach them."""
    from theano.gof.op import OpenMPOp
    assert OpenMPOp.test_gxx_support()
    assert cmodule.GCC_compiler.try_flags(['-fopenmp'])
