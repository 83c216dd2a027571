"""gxnor_compat: OpenCL-valid C code for Theano's maximum, minimum and round, same values."""
import numpy as np

import gxnor_compat
import theano
import theano.tensor as T
from theano.scalar import basic


def c_code_of(op_class, x, y=None):
    from theano import scalar
    inputs = [scalar.float32('x')] + ([scalar.float32('y')] if y else [])
    op = op_class(scalar.upcast_out) if op_class is not basic.RoundHalfToEven else \
        basic.round_half_to_even
    node = op.make_node(*inputs)
    names = ['x', 'y'][:len(inputs)]
    return op.c_code(node, 'n', names, ['z'], {})


def test_scalar_code_has_no_opencl_invalid_calls():
    for cls, two in ((basic.Maximum, True), (basic.Minimum, True)):
        code = c_code_of(cls, 'x', 'y' if two else None)
        assert 'nan("")' not in code and 'NAN' in code
    try:
        code = c_code_of(basic.RoundHalfToEven, 'x')
    except theano.gof.utils.MethodNotDefined:  # Theano 0.8: Python code only
        code = 'floor('
    assert 'floorf(' not in code and 'floor(' in code
    assert gxnor_compat.make_scalar_code_opencl_safe() == []   # patched once, at import


def test_patched_ops_give_numpy_values_on_the_cpu():
    x, y = T.vector(), T.vector()
    f = theano.function([x, y], [T.maximum(x, y), T.minimum(x, y), T.round(x, mode='half_to_even')])
    a = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49999997, np.nan], 'float32')
    b = np.array([0.0, -2.0, 1.0, 0.5, np.nan, 3.0, 0.0, 1.0], 'float32')
    mx, mn, rd = f(a, b)
    for got, want in ((mx, np.maximum(a, b)), (mn, np.minimum(a, b)), (rd, np.round(a))):
        assert np.array_equal(np.isnan(got), np.isnan(want))
        assert np.array_equal(got[~np.isnan(got)], want[~np.isnan(want)])


def test_flags_fill_in_what_the_user_did_not_set(monkeypatch, tmp_path):
    monkeypatch.setenv('THEANORC', str(tmp_path / 'none'))
    monkeypatch.setattr(gxnor_compat, '_cpu_count', lambda: 2)
    env = {'THEANO_FLAGS': 'floatX=float64'}
    flags = gxnor_compat.configure_theano_flags(env).split(',')
    assert flags[0] == 'floatX=float64' and 'floatX=float32' not in flags
    assert 'openmp=True' in flags
    assert any(f.startswith('blas.ldflags=') for f in flags)
    assert env['THEANO_FLAGS'] == ','.join(flags)


def test_openmp_left_to_the_user_and_off_on_one_core(monkeypatch, tmp_path):
    monkeypatch.setenv('THEANORC', str(tmp_path / 'none'))
    monkeypatch.setattr(gxnor_compat, '_cpu_count', lambda: 2)
    flags = gxnor_compat.configure_theano_flags({'THEANO_FLAGS': 'openmp=False'})
    assert 'openmp=False' in flags and 'openmp=True' not in flags
    rc = tmp_path / 'theanorc'
    rc.write_text(u'[global]\nopenmp = False\n')
    monkeypatch.setenv('THEANORC', str(rc))
    assert 'openmp' not in gxnor_compat.configure_theano_flags({})
    monkeypatch.setenv('THEANORC', str(tmp_path / 'none'))
    monkeypatch.setattr(gxnor_compat, '_cpu_count', lambda: 1)
    assert 'openmp' not in gxnor_compat.configure_theano_flags({})


def test_this_process_runs_elementwise_loops_with_openmp():
    # The flags were set before Theano was imported (conftest imports gxnor_compat).
    import os
    if 'openmp' in os.environ.get('THEANO_FLAGS', '').replace('openmp=True', ''):
        return  # the user chose
    assert theano.config.openmp == (gxnor_compat._cpu_count() > 1)


def test_flags_theano_refuses_are_one_line_before_anything_else(tmp_path):
    import os
    import subprocess
    import sys
    from conftest import ROOT
    for flags, message in (
            ('device=bogus', 'mnist: error: THEANO_FLAGS asks for device=bogus, which Theano '
             'does not know: use cpu, cuda (cuda0, cuda1...) or opencl<platform>:<device>'),
            ('floatX=float17', 'mnist: error: Theano refuses THEANO_FLAGS=floatX=float17')):
        proc = subprocess.Popen([sys.executable, os.path.join(ROOT, 'mnist.py'), '--data-dir',
                                 str(tmp_path / 'none')], cwd=str(tmp_path),
                                env=dict(os.environ, THEANO_FLAGS=flags),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate()
        lines = err.decode('utf-8').strip().splitlines()
        assert proc.returncode == 2 and out == b'' and len(lines) == 1, err
        assert lines[0].startswith(message), lines[0]
        assert os.listdir(str(tmp_path)) == []


def test_a_python_without_theano_or_lasagne_is_one_line(tmp_path):
    """``python3 cifar10.py`` outside the project's environments: one error line naming
    the missing package and the environment to use, exit status 2, no traceback; the
    same where Theano or Lasagne is there but fails on an import of its own or on its
    NumPy or Theano."""
    import os
    import subprocess
    import sys
    from conftest import ROOT
    script = os.path.join(ROOT, 'cifar10.py')

    def shadow(folder, raises, module='theano'):
        package = tmp_path / folder / module
        package.mkdir(parents=True)
        (package / '__init__.py').write_text(u'raise %s\n' % raises)
        return dict(os.environ, PYTHONPATH=str(tmp_path / folder))

    # Lasagne hidden the way Python hides a module it must not import: None in sys.modules.
    hide_lasagne = ("import sys, runpy; sys.modules['lasagne'] = None; sys.path.insert(0, %r); "
                    "sys.argv = [%r, '--help']; runpy.run_path(%r, run_name='__main__')"
                    % (ROOT, script, script))
    runs = (([sys.executable, script, '--help'],
             shadow('absent', "ImportError('No module named theano')"),
             'Theano is not installed for %s (No module named theano)'),
            ([sys.executable, '-c', hide_lasagne], dict(os.environ),
             'Lasagne is not installed for %s'),
            ([sys.executable, script, '--help'],
             shadow('broken', "ImportError('No module named six')"),
             'Theano is installed for %s but cannot be imported (No module named six)'),
            ([sys.executable, script, '--help'],
             shadow('numpy', "AttributeError(\"module 'numpy' has no attribute 'bool'\")"),
             "Theano is installed for %s but cannot be imported (module 'numpy' has no "
             "attribute 'bool')"),
            ([sys.executable, script, '--help'],
             shadow('lasagne', "ImportError('cannot import name downsample')", 'lasagne'),
             'Lasagne is installed for %s but cannot be imported (cannot import name '
             'downsample)'),
            ([sys.executable, script, '--help'],
             shadow('lasagne-theano', "AttributeError(\"'module' has no attribute 'pool'\")",
                    'lasagne'),
             "Lasagne is installed for %s but cannot be imported ('module' has no attribute "
             "'pool')"))
    for command, env, says in runs:
        proc = subprocess.Popen(command, cwd=str(tmp_path), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate()
        lines = err.decode('utf-8').strip().splitlines()
        assert proc.returncode == 2 and out == b'' and len(lines) == 1, err
        assert lines[0].startswith('cifar10: error: ' + says % sys.executable), lines[0]
        assert '.venv311/bin/python cifar10.py' in lines[0], lines[0]
    assert sorted(os.listdir(str(tmp_path))) == ['absent', 'broken', 'lasagne',
                                                 'lasagne-theano', 'numpy']


def test_gpu_start_reason_is_the_last_line_theano_logged(monkeypatch):
    import logging
    monkeypatch.setattr(gxnor_compat._kept, 'records', [])
    gxnor_compat.capture_init_errors()
    logger = logging.getLogger('theano.gpuarray')
    try:
        raise RuntimeError('first line\nNo module named pygpu')
    except RuntimeError:
        logger.error('Could not initialize pygpu, support disabled', exc_info=True)
    logger.warning('a warning is not kept')
    assert gxnor_compat.init_error_reason() == 'No module named pygpu'
    assert len(gxnor_compat._kept.records) == 1


def project_imports(name):
    """The project's modules that module ``name`` imports."""
    import ast
    import os
    from conftest import ROOT
    with open(os.path.join(ROOT, name + '.py')) as handle:
        tree = ast.parse(handle.read())
    names = set(alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names)
    names |= set(node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom))
    return sorted(n for n in names if n and os.path.exists(os.path.join(ROOT, n + '.py')))


def test_compat_imports_no_module_of_the_project_but_a_leaf():
    """gxnor_device imports gxnor_compat, never the reverse: no import circle.  The three
    project modules gxnor_compat imports, gxnor_cache_keys, gxnor_opencl and gxnor_pch,
    import none."""
    assert project_imports('gxnor_compat') == ['gxnor_cache_keys', 'gxnor_opencl', 'gxnor_pch']
    assert project_imports('gxnor_cache_keys') == []
    assert project_imports('gxnor_opencl') == []
    assert project_imports('gxnor_pch') == []
