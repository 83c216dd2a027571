"""Let Theano find the C modules it compiled again in a new process.

Two things make Theano 1.0.5 compile some of the same modules again in every
process, however warm its cache; :func:`install` fixes both.

Ops with no properties.  Theano caches each compiled C module under a key
made of the code's version (each op's ``c_code_cache_version``, each type's)
and the graph's signature; a key whose version has an empty part is
"unversioned", and its module is compiled again in every new process.
Theano 1.0.5 also puts each op's ``__props__`` into that version, so an op
with no properties (``__props__ == ()``: ``Dot22``, ``Dot22Scalar``,
``Alloc``, ``ScalarFromTensor``, ...) makes every module it is in
unversioned, although its code is versioned.  Building the small network of
tests/test_methods.py compiled seven modules at each start (six of them these
and one ``DimShuffle``, below), 4.5 of its 12.6 s on a warm cache.

:func:`install` wraps ``CLinker.cmodule_key_``: where Theano's key is
unversioned, the version is worked out again with empty ``__props__`` left
out (they carry no version); a graph with an op or type that is unversioned
by its own declaration stays unversioned.  The signature part of the key is
Theano's, and a changed ``c_code_cache_version`` still changes the key, as
for every other module.  Theano 0.8.2 has no such ``__props__`` part: there
the wrapper leaves every key as it is.

Ops whose C code is in files (``COp``: ``DimShuffle``, many GPU ops).  Their
version is Python's ``hash()`` of the files' text, which Python 3 draws anew
in each process (string hashing is randomized; Python 2 too under ``-R`` or
``PYTHONHASHSEED``), and the module's hash on disk includes the version: each
process finds no module of its own.  Here it is the first 60 bits of the
text's SHA-256 instead: the same in every process, and new when the files
change.

Example
-------
>>> import gxnor_compat  # installs it
>>> import theano, theano.tensor as T
>>> from theano.tensor.blas import Dot22
>>> x, y = T.matrix(), T.matrix()
>>> graph = theano.gof.FunctionGraph([x, y], [Dot22()(x, y)])
>>> bool(theano.gof.cc.CLinker().accept(graph).cmodule_key()[0])   # versioned
True
"""
import hashlib

from theano.gof import cc, op

__all__ = ['install', 'version_of', 'file_code_version']


def version_of(order):
    """The version part of a module's key for the nodes ``order``, or ``()``.

    Each node contributes its op's ``c_code_cache_version_apply``, its op's
    ``__props__`` when it has any, and the ``c_code_cache_version`` of the
    types of its inputs and outputs; any empty one makes the whole ``()``.
    """
    version = []
    for node in order:
        parts = [node.op.c_code_cache_version_apply(node)]
        props = getattr(node.op, '__props__', None)
        if props:
            parts.append(props)
        parts.extend(v.type.c_code_cache_version() for v in node.inputs + node.outputs)
        if not all(parts):
            return ()
        version.extend(parts)
    return tuple(version)


def file_code_version(self):
    """``COp.c_code_cache_version`` with a digest of the code instead of ``hash()``."""
    text = '\0'.join(self.func_codes).encode('utf-8')
    version = (int(hashlib.sha256(text).hexdigest()[:15], 16),)
    if hasattr(self, 'params_type'):
        version += (self.params_type.c_code_cache_version(),)
    return version


def install():
    """Replace ``COp.c_code_cache_version`` and wrap ``CLinker.cmodule_key_``
    (once; later calls change nothing)."""
    if hasattr(op, 'COp'):
        op.COp.c_code_cache_version = file_code_version
    original = cc.CLinker.cmodule_key_
    if getattr(original, 'original', None):
        return

    def cmodule_key_(self, fgraph, no_recycling, *args, **kwargs):
        key = original(self, fgraph, no_recycling, *args, **kwargs)
        if key is None or key[0]:
            return key
        version = version_of(self.schedule(fgraph))
        return (version, key[1]) if version else key

    cmodule_key_.original = original
    cmodule_key_.__doc__ = original.__doc__
    cc.CLinker.cmodule_key_ = cmodule_key_
