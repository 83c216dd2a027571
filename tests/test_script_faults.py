"""mnist.py under faults a user meets: each is one line (or none) and an exit status,
never a traceback, and nothing is left behind."""
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT

SCRIPT = os.path.join(ROOT, 'mnist.py')


def command(mnist_dir, tmp_path, *flags):
    return [sys.executable, SCRIPT, '--data-dir', os.path.abspath(mnist_dir), '--results-dir',
            str(tmp_path / 'results'), '--train-size', '200', '--val-size', '100',
            '--test-size', '100', '--batch-size', '100', '--epochs', '1'] + list(flags)


def finish(proc):
    out, err = proc.communicate()
    return proc.returncode, out.decode('utf-8'), err.decode('utf-8').strip().splitlines()


def test_ctrl_c_while_theano_imports_is_one_line(mnist_dir, tmp_path):
    proc = subprocess.Popen(command(mnist_dir, tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=str(tmp_path),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(0.7)    # importing Theano takes seconds
    proc.send_signal(signal.SIGINT)
    status, _, err = finish(proc)
    assert status == 130 and len(err) == 1, err
    assert err[0].startswith('mnist: interrupted') and 'Traceback' not in err[0], err
    assert not (tmp_path / 'results').exists()


def test_output_into_head_stops_quietly(mnist_dir, tmp_path):
    """`python mnist.py | head -3`: the reader is gone; exit quietly as `yes | head` does."""
    head = subprocess.Popen(['head', '-3'], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    proc = subprocess.Popen(command(mnist_dir, tmp_path), stdout=head.stdin,
                            stderr=subprocess.PIPE, cwd=str(tmp_path))
    head.stdin.close()
    err = proc.communicate()[1].decode('utf-8')
    shown = head.stdout.read().decode('utf-8').splitlines()
    head.wait()
    assert len(shown) == 3 and shown[0].startswith('Theano ')
    assert proc.returncode == 141 and err == '', err
    assert not (tmp_path / 'results').exists()


def test_output_on_a_full_device_is_one_line(mnist_dir, tmp_path):
    with open('/dev/full', 'w') as full:
        proc = subprocess.Popen(command(mnist_dir, tmp_path), stdout=full,
                                stderr=subprocess.PIPE, cwd=str(tmp_path))
        err = proc.communicate()[1].decode('utf-8').strip().splitlines()
    assert proc.returncode == 4 and len(err) == 1, err
    assert err[0] == ('mnist: error: cannot write the output (No space left on device); no '
                      'epoch had finished, so nothing was saved')


def test_no_compiler_on_path_is_one_line_naming_g_plus_plus(mnist_dir, tmp_path):
    bin_dir = tmp_path / 'bin'      # PATH without g++, with what Python and Theano call
    bin_dir.mkdir()
    for tool in ('sh', 'uname', 'ldconfig'):
        for folder in ('/bin', '/usr/bin', '/sbin', '/usr/sbin'):
            if os.path.exists(os.path.join(folder, tool)):
                os.symlink(os.path.join(folder, tool), str(bin_dir / tool))
                break
    env = dict(os.environ, PATH=str(bin_dir))
    proc = subprocess.Popen(command(mnist_dir, tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=str(tmp_path), env=env)
    status, _, err = finish(proc)
    errors = [line for line in err if 'error' in line]
    assert status == 2 and len(errors) == 1 and 'Traceback' not in '\n'.join(err), err
    assert errors[0].startswith('mnist: error: Theano needs a C++ compiler (g++)')
    assert 'make sysdeps' in errors[0] and not (tmp_path / 'results').exists()


def test_a_theano_mode_without_c_code_is_one_line_naming_what_works(mnist_dir, tmp_path):
    # mode=FAST_COMPILE runs each op's Python version; CorrMM has none, so the first
    # training step failed with Theano's traceback.  Refused before reading the data.
    env = dict(os.environ, THEANO_FLAGS=','.join(
        f for f in (os.environ.get('THEANO_FLAGS'), 'mode=FAST_COMPILE') if f))
    proc = subprocess.Popen(command(mnist_dir, tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=str(tmp_path), env=env)
    status, _, err = finish(proc)
    assert status == 2 and len(err) == 1, err
    assert err[0].startswith('mnist: error: THEANO_FLAGS mode=FAST_COMPILE runs every op '
                             'in Python') and 'optimizer=fast_compile' in err[0]
    assert not (tmp_path / 'results').exists()


def test_a_folder_where_the_checkpoint_should_be_is_one_line(mnist_dir, tmp_path):
    import mnist
    import run_options
    argv = command(mnist_dir, tmp_path)[2:]
    run = run_options.parse_args(mnist.EXPERIMENT, argv).run_name
    (tmp_path / 'results' / run / 'checkpoint.npz').mkdir(parents=True)
    proc = subprocess.Popen(command(mnist_dir, tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=str(tmp_path))
    status, _, err = finish(proc)
    assert status == 2 and len(err) == 1, err
    assert 'checkpoint.npz: it is a folder, not a file' in err[0]
    assert (tmp_path / 'results' / run / 'checkpoint.npz').is_dir()   # left as it was
