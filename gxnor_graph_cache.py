"""Theano functions whose optimized graph is kept on disk: a graph built again skips
Theano's optimizer.

Theano optimizes a graph every time it compiles it: for the training step of
the small network of tests/test_methods.py about 5 of the 7 seconds of
``theano.function`` warm, more for the paper's networks, and again in every
process (a second run with the same flags, a resumed run, each seed of a
sweep, each test).  :func:`function` compiles as ``theano.function(inputs,
outputs, updates=updates)`` does and keeps the optimized graph on disk (the
function's ``FunctionMaker``, pickled as Theano pickles it, which does not
optimize again when loaded), under a key of the graph as built.  A later call
with the same graph loads it and links it with the caller's shared variables
as ``theano.function`` links a function with them (``maker.create`` with their
containers as the inputs' storage), so only linking remains, and the C modules
come from Theano's compile folder.  (Not ``Function.copy(swap=...)``: its copy
of the graph loses Theano's record of which ops overwrite their inputs, and
then orders an in-place op before a reader of the value it overwrites.)

The key is a digest of the graph before optimization: every op with its
``__props__`` (what Theano's own merging of equal nodes compares) or, for an op
without them, its attributes; every variable's type; constants' values; the
explicit inputs by position and the shared variables by the order they are
met, never their values (a network with other weights has the same key); plus
Theano's, NumPy's and Python's versions and every Theano flag.  A graph with
something the key cannot describe is compiled as without the cache.  The kept
files hold no weights (the shared values are set to tiny arrays while
pickling) and live in ``gxnor_graphs`` in Theano's compile folder, where Theano
keeps its own pickled module keys: a file there is loaded only under its key,
and one that does not load is removed and the graph compiled.  Used on the CPU
backend only (the GPU backend's functions hold its context); not with Theano's
profiling on, nor with ``GXNOR_GRAPH_CACHE=0``.

Examples
--------
>>> import numpy as np, theano, theano.tensor as T
>>> w = theano.shared(np.ones(3, dtype=theano.config.floatX))
>>> x = T.vector('x', dtype=theano.config.floatX)
>>> step = function([x], (w * x).sum(), updates=[(w, w + x)])
>>> float(step(np.ones(3, dtype=theano.config.floatX))), w.get_value().tolist()
(3.0, [2.0, 2.0, 2.0])
"""
from __future__ import absolute_import

import hashlib
import os
import pickle
import re
import sys
import tempfile
import types

import numpy as np
import theano
from theano.compile.sharedvalue import SharedVariable
from theano.gof import Constant

__all__ = ['Uncacheable', 'graph_key', 'function', 'cache_folder']

_FORMAT = 1    # of the kept files: raise when what they hold changes


class Uncacheable(Exception):
    """The graph holds something :func:`graph_key` cannot describe."""


def cache_folder():
    """Where the kept functions are: ``gxnor_graphs`` in Theano's compile folder."""
    return os.path.join(theano.config.compiledir, 'gxnor_graphs')


def _digest(data):
    return hashlib.sha256(data).hexdigest()


def _value_key(value):
    """A description of an op's property that equal values share."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return (type(value).__name__, repr(value))
    if sys.version_info[0] == 2 and isinstance(value, (long, unicode)):  # noqa: F821
        return (type(value).__name__, repr(value))
    if isinstance(value, (tuple, list)):
        return (type(value).__name__,) + tuple(_value_key(v) for v in value)
    if isinstance(value, dict):
        return ('dict',) + tuple(sorted((repr(_value_key(k)), _value_key(v))
                                        for k, v in value.items()))
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        return ('ndarray', str(array.dtype), array.shape,
                _digest(np.ascontiguousarray(array).tobytes()))
    if isinstance(value, theano.gof.Op):
        return _op_key(value)
    if isinstance(value, theano.gof.Type):
        return _type_key(value)
    if isinstance(value, np.ufunc):       # (pickled under whichever module holds it)
        return ('ufunc', value.__name__)
    if isinstance(value, (set, frozenset)):
        return (type(value).__name__,) + tuple(sorted(repr(_value_key(v)) for v in value))
    if isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)):
        # A function or class is its name (a scalar op's output_types_preference).
        return ('callable', getattr(value, '__module__', None),
                getattr(value, '__qualname__', value.__name__))
    return _object_key(value)


def _object_key(value, depth=[0]):
    """An object by its class and attributes (sorted: a pickle would keep Python 2's
    dict order, which differs between processes), or its pickle without a __dict__."""
    if not hasattr(value, '__dict__'):
        return _pickled(value)
    if depth[0] > 20:
        raise Uncacheable('%s: attributes nested too deep' % type(value).__name__)
    depth[0] += 1
    try:
        # less what Theano 0.8.2's ops cache in themselves: their hash() (which
        # Python 2 with PYTHONHASHSEED and Python 3 vary between processes) and the
        # NumPy ufunc of their Python code, made at the first call
        return ('object', type(value).__module__, type(value).__name__,
                _value_key(dict((k, v) for k, v in vars(value).items()
                                if 'hash' not in k and k != 'ufunc')))
    finally:
        depth[0] -= 1


def _pickled(value):
    try:
        return ('pickle', type(value).__name__, _digest(pickle.dumps(value, 2)))
    except Exception as error:
        raise Uncacheable('%s cannot be described: %s' % (type(value).__name__, error))


def _op_key(op):
    cls = type(op)
    props = getattr(op, '__props__', None)
    if props is None:
        return (cls.__module__, cls.__name__, _object_key(op))
    return (cls.__module__, cls.__name__) + tuple((p, _value_key(getattr(op, p)))
                                                  for p in props)


def _type_key(type_):
    described = [type(type_).__module__, type(type_).__name__, str(type_)]
    for attribute in ('dtype', 'broadcastable', 'ndim', 'context_name', 'sparse_grad'):
        if hasattr(type_, attribute):
            described.append((attribute, repr(getattr(type_, attribute))))
    return tuple(described)


def graph_key(inputs, outputs, updates):
    """(key, shared variables in the order the key numbers them) of the graph that
    ``theano.function(inputs, outputs, updates=updates)`` compiles.

    Raises :class:`Uncacheable` where the graph holds something not described.

    >>> import theano.tensor as T
    >>> x, y = T.vector(), T.vector()
    >>> graph_key([x], 2 * x, [])[0] == graph_key([y], 2 * y, [])[0]
    True
    >>> graph_key([x], 2 * x, [])[0] == graph_key([x], 3 * x, [])[0]
    False
    """
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    updates = list(updates.items()) if hasattr(updates, 'items') else list(updates or [])
    variables = list(inputs) + outputs + [v for pair in updates for v in pair]
    if not all(isinstance(v, theano.gof.Variable) for v in variables):
        raise Uncacheable('an input, output or update that is not a plain Theano variable')
    number = {}           # id(variable) -> its number in the description
    kept = []             # every numbered object, so that ids stay unique
    shared = []
    lines = []
    position = dict((id(v), i) for i, v in enumerate(inputs))

    def leaf(var):
        if id(var) in position:
            return ('input', position[id(var)], _type_key(var.type))
        if isinstance(var, SharedVariable):
            shared.append(var)
            return ('shared', len(shared) - 1, _type_key(var.type))
        if isinstance(var, Constant):
            return ('constant', _type_key(var.type), _value_key(var.data))
        raise Uncacheable('a variable that is neither an input, shared nor constant: %s' % var)

    def walk(root):
        stack = [(root, False)]
        while stack:
            var, expanded = stack.pop()
            if id(var) in number:
                continue
            node = var.owner
            if node is None or id(var) in position:
                lines.append(leaf(var))
            elif not expanded:
                stack.append((var, True))
                stack.extend((i, False) for i in reversed(node.inputs))
                continue
            else:
                if id(node) not in number:
                    number[id(node)] = len(lines)
                    kept.append(node)
                    lines.append(('node', _op_key(node.op), tuple(number[id(i)]
                                                                  for i in node.inputs),
                                  tuple(_type_key(o.type) for o in node.outputs)))
                lines.append(('output', number[id(node)], node.outputs.index(var)))
            number[id(var)] = len(lines) - 1
            kept.append(var)

    for var in inputs:
        walk(var)
    for var in outputs:
        walk(var)
    for target, value in updates:
        walk(target)
        walk(value)
    lines.append(('outputs',) + tuple(number[id(v)] for v in outputs))
    lines.append(('updates',) + tuple((number[id(t)], number[id(v)]) for t, v in updates))
    config = re.sub(r' at 0x[0-9a-fA-F]+', '', str(theano.config))
    text = repr((_FORMAT, sys.version, theano.__version__, np.__version__, config, lines))
    return _digest(text.encode('utf-8')), shared


def _enabled():
    return (os.environ.get('GXNOR_GRAPH_CACHE') != '0' and theano.config.device == 'cpu' and
            not theano.config.init_gpu_device and not theano.config.contexts and
            not theano.config.profile and not theano.config.profile_optimizer)


def _shared_positions(fn, shared):
    """For each shared variable of the key, its position among ``fn``'s inputs."""
    where = dict((id(i.variable), k) for k, i in enumerate(fn.maker.inputs))
    positions = [where.get(id(v)) for v in shared]
    if None in positions or len(set(positions)) != len(positions) or \
            sum(1 for i in fn.maker.inputs if i.shared) != len(shared):
        raise Uncacheable('the function does not take each shared variable once')
    return positions


def _in_deep_thread(work):
    """``work()`` in a thread with a large stack and recursion limit: pickling a
    training step's graph recurses once per node along its longest path, deeper
    than Python's default limit of 1,000 (and its main thread's C stack) allows."""
    import threading
    result = {}

    def run():
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 200000))
        try:
            result['value'] = work()
        except BaseException as error:     # re-raised in the caller's thread
            result['error'] = error
        finally:
            sys.setrecursionlimit(limit)
    size = threading.stack_size()
    threading.stack_size(512 * 2 ** 20)
    try:
        thread = threading.Thread(target=run)
        thread.daemon = True    # Ctrl-C while it pickles: the process need not wait for it
        thread.start()
    finally:
        threading.stack_size(size)
    thread.join()
    if 'error' in result:
        raise result['error']
    return result['value']


def _store(path, fn, shared):
    """Pickle ``fn``'s maker (its optimized graph, inputs and outputs) to ``path``,
    the shared values set to tiny arrays meanwhile (only their types count)."""
    positions = _shared_positions(fn, shared)
    saved = []
    try:
        for k in positions:
            container = fn.input_storage[k]
            value = container.storage[0]
            saved.append((container, value))
            if isinstance(value, np.ndarray):
                container.storage[0] = np.zeros((1,) * value.ndim, dtype=value.dtype)
        data = _in_deep_thread(lambda: pickle.dumps((_FORMAT, positions, fn.maker), 2))
    finally:
        for container, value in saved:
            container.storage[0] = value
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix='.graph.')
    try:
        with os.fdopen(handle, 'wb') as out:
            out.write(data)
        os.rename(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _load(path, inputs, shared):
    """The function kept at ``path``, linked with ``shared``'s storage as
    ``theano.function`` links a function with the shared variables it takes, or None."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path, 'rb') as handle:
            form, positions, maker = pickle.load(handle)
        if form != _FORMAT or maker is None or len(positions) != len(shared):
            raise ValueError('another format')
        storage = [None] * len(maker.inputs)
        for k, var in zip(positions, shared):
            if not maker.inputs[k].shared or maker.inputs[k].variable.type != var.type:
                raise ValueError('another graph')
            storage[k] = var.container
        explicit = [i for i in maker.inputs if not i.shared]
        if len(explicit) != len(inputs) or any(i.variable.type != v.type
                                               for i, v in zip(explicit, inputs)):
            raise ValueError('another graph')
    except Exception:
        # A damaged or foreign file: compiled again and written anew.
        try:
            os.remove(path)
        except OSError:
            pass
        return None
    # What theano.function does after optimizing: link, the shared variables'
    # containers as the inputs' storage (so updates change the caller's variables).
    return maker.create(storage)


def function(inputs, outputs, updates=None):
    """``theano.function(inputs, outputs, updates=updates)``, its optimized graph
    kept on disk and loaded where the same graph was compiled before."""
    updates = list(updates.items()) if hasattr(updates, 'items') else list(updates or [])
    if not _enabled():
        return theano.function(inputs, outputs, updates=updates)
    try:
        key, shared = graph_key(inputs, outputs, updates)
    except Uncacheable:
        return theano.function(inputs, outputs, updates=updates)
    path = os.path.join(cache_folder(), key[:2], key + '.pkl')
    fn = _load(path, inputs, shared)
    if fn is not None:
        return fn
    fn = theano.function(inputs, outputs, updates=updates)
    try:
        _store(path, fn, shared)
    except Exception:
        pass    # kept another time; this function is compiled and works
    return fn
