"""On OpenCL, each elementwise GPU kernel is built once per process, not once per node.

Theano 1.0's gpuarray backend builds the kernels of an elementwise op
(``GpuElemwise``) when it links each node of a function: a training step with
six batch-normalized layers has six nodes of the same op, one C module, and
builds the same kernels six times.  On CUDA libgpuarray keeps built kernels,
so this costs little; on OpenCL (POCL on a CPU, as CI runs the GPU backend)
every build runs the OpenCL C compiler, about 60 ms each: the elementwise
builds were 127 of the 161 s that a warm run of ``tools/gpu_step.py cifar10
--widths 8,8,16,16 --method fp`` took (55 s with this module).
:func:`install` makes the nodes of one module share the elementwise object
the first of them built (per GPU context): the same kernels, run one node
after another as Theano's virtual machine does.

It applies where Theano's device is an OpenCL one (``device=opencl*``), and
changes the op's cache version, so modules built without it are not taken.

Examples
--------
>>> import gxnor_compat  # noqa: F401  (before theano)
>>> install()   # a CPU device here: nothing to do
False
"""
from __future__ import absolute_import

__all__ = ['VERSION_TAG', 'shared_init_code', 'install']

# Added to GpuElemwise's C code cache version: modules with and without the sharing
# differ in their code, so they must not be taken for one another.
VERSION_TAG = 'gxnor-shared-elemwise-2'

# Inside the op's C struct: where the module keeps the elementwise object it shares
# (function-local statics: one per compiled module).
_STRUCT_CODE = """
static GpuElemwise *&gxnor_shared_ge() { static GpuElemwise *shared = NULL; return shared; }
static gpucontext *&gxnor_shared_ctx() { static gpucontext *context = NULL; return context; }
"""
_NEW = 'ge = GpuElemwise_new('


def _closing_brace(code, opening):
    """Index of the ``}`` closing the ``{`` at ``opening`` (the error branch holds
    blocks of its own), or -1."""
    depth = 0
    for index in range(max(opening, 0), len(code)):
        depth += {'{': 1, '}': -1}.get(code[index], 0)
        if depth == 0:
            return index if opening >= 0 else -1
    return -1


def shared_init_code(code, context):
    """The struct's initialization ``code`` (as Theano writes it) with its
    ``GpuElemwise_new`` call taking the module's shared object where one was built for
    ``context`` (a C expression for the ``gpucontext *``), and keeping the first it
    builds; None where ``code`` does not have the call.

    >>> code = 'ge = GpuElemwise_new(c, x);\\nif (ge == NULL) {\\n  { fail; }\\n}\\n'
    >>> print(shared_init_code(code, 'c').strip())  # doctest: +NORMALIZE_WHITESPACE
    if (gxnor_shared_ge() != NULL && gxnor_shared_ctx() == c) ge = gxnor_shared_ge();
    else ge = GpuElemwise_new(c, x);
    if (ge == NULL) {
      { fail; }
    }
    if (gxnor_shared_ge() == NULL) { gxnor_shared_ge() = ge; gxnor_shared_ctx() = c; }
    """
    start = code.find(_NEW)
    check = code.find('if (ge == NULL)', start) if start >= 0 else -1
    end = _closing_brace(code, code.find('{', check)) if check >= 0 else -1
    if start < 0 or check < 0 or end < 0:
        return None
    return (code[:start] +
            'if (gxnor_shared_ge() != NULL && gxnor_shared_ctx() == %s) ge = gxnor_shared_ge(); '
            'else ' % context + code[start:end + 1] +
            '\nif (gxnor_shared_ge() == NULL) { gxnor_shared_ge() = ge; gxnor_shared_ctx() = %s; }'
            % context + code[end + 1:])


def _opencl_device():
    import theano
    names = [str(theano.config.device)]
    contexts = getattr(theano.config, 'contexts', '') or ''
    names += [pair.partition('->')[2] for pair in contexts.split(';')]
    return any(name.strip().startswith('opencl') for name in names)


def install():
    """Patch ``theano.gpuarray.elemwise.GpuElemwise`` (see the module's docstring) where
    Theano's device is an OpenCL one; returns whether it is patched."""
    if not _opencl_device():
        return False
    try:
        from theano.gpuarray.elemwise import GpuElemwise
    except ImportError:     # Theano 0.8 (no gpuarray package) or no pygpu
        return False
    if getattr(GpuElemwise, 'gxnor_shared', False):
        return True
    init, cleanup = GpuElemwise.c_init_code_struct, GpuElemwise.c_cleanup_code_struct
    support, version = GpuElemwise.c_support_code_struct, GpuElemwise.c_code_cache_version

    def c_support_code_struct(self, node, name):
        return support(self, node, name) + _STRUCT_CODE

    def c_init_code_struct(self, node, name, sub):
        code = init(self, node, name, sub)
        shared = shared_init_code(code, '%s->ctx' % sub['params'])
        if shared is None:
            raise NotImplementedError('gxnor_opencl: GpuElemwise writes its initialization '
                                      'in a way this module does not know')
        return shared

    def c_cleanup_code_struct(self, node, name):
        # the shared object lives as long as the process
        return 'if (ge != gxnor_shared_ge()) {\n%s\n}\n' % cleanup(self, node, name)

    def c_code_cache_version(self):
        ver = version(self)
        return tuple(ver) + (VERSION_TAG,) if ver else ver

    GpuElemwise.c_support_code_struct = c_support_code_struct
    GpuElemwise.c_init_code_struct = c_init_code_struct
    GpuElemwise.c_cleanup_code_struct = c_cleanup_code_struct
    GpuElemwise.c_code_cache_version = c_code_cache_version
    GpuElemwise.gxnor_shared = True
    return True
