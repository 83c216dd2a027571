"""run_guard: the lock, SIGTERM and SIGHUP as Ctrl-C, held interrupts."""
import os
import signal
import subprocess
import sys

import pytest

import run_guard
from conftest import ROOT

TRY_LOCK = ('import sys; sys.path.insert(0, %r); import run_guard\n'
            'try:\n    run_guard.RunLock(sys.argv[1]).acquire()\n'
            'except run_guard.RunInProgress as err:\n    print(err); sys.exit(2)\n' % ROOT)


def try_lock(folder):
    """(exit status, output) of another process that tries to take the lock of ``folder``."""
    proc = subprocess.Popen([sys.executable, '-c', TRY_LOCK, folder], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    out = proc.communicate()[0].decode('utf-8')
    return proc.returncode, out


def test_lock_keeps_a_second_process_out_until_released_or_killed(tmp_path):
    folder = str(tmp_path)
    lock = run_guard.RunLock(folder).acquire()
    status, out = try_lock(folder)
    assert status == 2 and 'pid %d' % os.getpid() in out and '.lock' in out
    lock.release()
    assert try_lock(folder)[0] == 0
    # A holder killed with SIGKILL (no clean-up of its own) frees the run too.
    holder = subprocess.Popen([sys.executable, '-c', TRY_LOCK.replace(
        'acquire()', 'acquire(); print("held"); sys.stdout.flush(); import time; '
        'time.sleep(60)'), folder], stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == b'held'
    assert try_lock(folder)[0] == 2
    holder.kill()
    holder.wait()
    assert try_lock(folder)[0] == 0


def test_interrupts_held_wait_for_the_end_of_the_block(tmp_path):
    done = []
    # Ctrl-C as Python sets it up in a terminal: a background job (`make test &`)
    # starts with SIGINT ignored, and Python leaves it so.
    ignored_or_not = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            with run_guard.interrupts_held():
                os.kill(os.getpid(), signal.SIGINT)
                with run_guard.interrupts_held():   # nested: holds nothing more
                    done.append('inner')
                done.append('outer')
    finally:
        signal.signal(signal.SIGINT, ignored_or_not)
    assert done == ['inner', 'outer']
    # SIGHUP as a closed terminal sends it, even where this test runs under nohup.
    hangup = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    previous = run_guard.stop_on_signals()
    try:
        for signum, name in [(signal.SIGTERM, 'SIGTERM'), (signal.SIGHUP, 'SIGHUP')]:
            with pytest.raises(run_guard.Interrupted) as info:
                with run_guard.interrupts_held():
                    os.kill(os.getpid(), signum)
                    done.append('written')
            assert info.value.signal_name == name and done[-1] == 'written'
            assert isinstance(info.value, KeyboardInterrupt)   # handled as Ctrl-C is
            with pytest.raises(run_guard.Interrupted) as info:   # outside the block: at once
                os.kill(os.getpid(), signum)
                done.append('not reached')
            assert info.value.signal_name == name and done[-1] == 'written'
    finally:
        for signum, handler in previous + [(signal.SIGHUP, hangup)]:
            signal.signal(signum, handler)


# A process that takes the stop signals, then gets a SIGHUP while it holds interrupts
# and another after: what it prints says whether it survived both.
HANGUP_TWICE = ('import os, signal, sys; sys.path.insert(0, %r); import run_guard\n'
                'run_guard.stop_on_signals()\n'
                'with run_guard.interrupts_held():\n    os.kill(os.getpid(), signal.SIGHUP)\n'
                'os.kill(os.getpid(), signal.SIGHUP)\nprint("trained on")\n' % ROOT)


def test_a_run_started_under_nohup_ignores_sighup(tmp_path):
    # The real nohup (coreutils), as a user starts a long run.
    proc = subprocess.Popen(['nohup', sys.executable, '-c', HANGUP_TWICE], cwd=str(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    assert proc.returncode == 0 and out.decode('utf-8') == 'trained on\n', err
    # Without nohup the same process stops at the first SIGHUP, once the block is done.
    proc = subprocess.Popen([sys.executable, '-c', HANGUP_TWICE], cwd=str(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
    out, err = proc.communicate()
    assert proc.returncode != 0 and out == b'' and b'Interrupted: SIGHUP' in err, err
