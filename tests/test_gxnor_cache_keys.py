"""gxnor_cache_keys: a module Theano compiled once is found again by the next process."""
import os
import subprocess
import sys

import gxnor_compat  # noqa: F401  (installs gxnor_cache_keys)
import gxnor_cache_keys
import theano
import theano.tensor as T
from theano.gof import cc
from theano.gof.op import COp
from theano.tensor.blas import Dot22

from conftest import ROOT


def key_version(outputs, inputs):
    graph = theano.gof.FunctionGraph(inputs, outputs)
    return cc.CLinker().accept(graph).cmodule_key()[0]


class Unversioned(theano.Op):
    """x + 1 whose C code declares no cache version: compiled anew in each process."""
    __props__ = ()

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return theano.Apply(self, [x], [x.type()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = inputs[0] + 1

    def c_code(self, node, name, inputs, outputs, sub):
        return 'Py_XDECREF(%s); %s = NULL; %s' % (outputs[0], outputs[0], sub['fail'])

    def c_code_cache_version(self):
        return ()


def test_ops_without_properties_get_a_versioned_key_and_unversioned_ops_do_not(monkeypatch):
    x, y = T.matrix(), T.matrix()
    graph = theano.gof.FunctionGraph([x, y], [Dot22()(x, y)])
    linker = cc.CLinker().accept(graph)
    ours = linker.cmodule_key()
    assert ours[0] and Dot22.__props__ == ()
    assert key_version([Unversioned()(x)], [x]) == ()
    monkeypatch.setattr(cc.CLinker, 'cmodule_key_', cc.CLinker.cmodule_key_.original)
    theirs = linker.cmodule_key()
    assert theirs[1] == ours[1]   # the signature part is Theano's own
    # Theano 1.0.5 leaves it unversioned (its __props__ part is empty); 0.8.2 does not.
    assert bool(theirs[0]) == theano.__version__.startswith('0.'), theirs[0]


def test_version_of_changes_with_each_ops_version():
    x = T.matrix()
    node = T.exp(x).owner
    before = gxnor_cache_keys.version_of([node])
    assert before and node.op.c_code_cache_version_apply(node) in before
    assert gxnor_cache_keys.version_of([Unversioned()(x).owner]) == ()


FILE_CODE_VERSION = (
    'import gxnor_compat, theano.tensor as T\n'
    'print(T.DimShuffle((False,), ["x", 0]).c_code_cache_version())\n')


def test_file_code_version_is_the_same_in_every_process_and_follows_the_code():
    versions = set()
    for seed in ('1', '2'):   # Python 3 hashes text differently under each seed
        env = dict(os.environ, PYTHONHASHSEED=seed)
        versions.add(subprocess.check_output([sys.executable, '-c', FILE_CODE_VERSION],
                                             cwd=ROOT, env=env).strip())
    assert len(versions) == 1, versions
    op = T.DimShuffle((False,), ['x', 0])
    # DimShuffle's C code is in a file from Theano 0.9 on; on 0.8.2 it is written inline.
    assert isinstance(op, COp) == (not theano.__version__.startswith('0.'))
    if isinstance(op, COp):
        assert op.c_code_cache_version() == gxnor_cache_keys.file_code_version(op)
    before = gxnor_cache_keys.file_code_version(FileCode(['int a;', 'int b;']))
    assert gxnor_cache_keys.file_code_version(FileCode(['int a;', 'int b;'])) == before
    assert gxnor_cache_keys.file_code_version(FileCode(['int a;', 'int c;'])) != before


class FileCode(object):
    """What file_code_version reads of a COp: the text of its C files."""

    def __init__(self, func_codes):
        self.func_codes = func_codes


COMPILE_AND_COUNT = (
    'import gxnor_compat, numpy as np, theano, theano.tensor as T\n'
    'from theano.gof import cc\n'
    'x, y = T.matrix(), T.matrix()\n'
    # a Dot22 (no properties) and a DimShuffle of a constant (a COp, folded while compiling)
    'f = theano.function([x, y], T.dot(x, y) + T.constant(np.float32(0.5)).dimshuffle("x", "x"))\n'
    'print(cc.get_module_cache().stats[2])\n')


def test_a_second_process_compiles_nothing():
    """The first process may find its modules already there (this suite compiled them
    before); the second must."""
    compiled = [int(subprocess.check_output([sys.executable, '-c', COMPILE_AND_COUNT],
                                            cwd=ROOT).split()[-1])
                for _ in range(2)]
    assert compiled[1] == 0, compiled
