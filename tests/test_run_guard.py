"""run_guard: the lock, held interrupts, stale temporary files, checkpoints that cannot
be read, versions."""
import io
import json
import os
import signal
import subprocess
import sys

import numpy as np
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


def test_stale_temporaries_of_the_run_only(tmp_path):
    names = ['.tmp-run.npz.Ab3dE6', '.tmp-run.npz.x1y2z3w4', '.tmp-abcdefghrun.npz',
             '.tmp-xrun.npz.abcdefgh', '.tmp-other.npz.abcdefgh', 'run.npz', 'run.npz.old-1']
    for name in names:
        (tmp_path / name).write_bytes(b'x')
    removed = run_guard.remove_stale_temporaries(str(tmp_path), [str(tmp_path / 'run.npz')])
    assert removed == ['.tmp-abcdefghrun.npz', '.tmp-run.npz.Ab3dE6', '.tmp-run.npz.x1y2z3w4']
    assert sorted(os.listdir(str(tmp_path))) == sorted(names[3:])
    # In the run's own folder every temporary file is the run's.
    assert run_guard.remove_stale_temporaries(str(tmp_path)) == sorted(names[3:5])


def test_folders_made_are_the_ones_removed(tmp_path):
    (tmp_path / 'a').mkdir()
    made = run_guard.make_folders(str(tmp_path / 'a' / 'b' / 'c'))
    assert made == [str(tmp_path / 'a' / 'b'), str(tmp_path / 'a' / 'b' / 'c')]
    (tmp_path / 'a' / 'b' / 'c' / '.lock').write_bytes(b'1\n')
    run_guard.remove_folders(made, ['.lock'])
    assert os.listdir(str(tmp_path / 'a')) == []


def write_checkpoint(path, progress, as_bytes=False):
    text = json.dumps(progress)
    np.savez(path, **{'param:w': np.arange(5000, dtype=np.float32),
                      '__progress__': np.array(text.encode('utf-8') if as_bytes else text)})


def test_progress_of_a_sound_checkpoint_from_either_python(tmp_path):
    path = str(tmp_path / 'checkpoint.npz')
    for as_bytes in (False, True):   # Python 3 writes text, Python 2.7 bytes
        write_checkpoint(path, dict(next_epoch=3, config={'a': 1}), as_bytes)
        assert run_guard.read_progress(path) == dict(next_epoch=3, config={'a': 1})


def test_unreadable_checkpoints_say_why_in_plain_words(tmp_path):
    path = str(tmp_path / 'checkpoint.npz')
    write_checkpoint(path, dict(next_epoch=3))
    sound = open(path, 'rb').read()
    member = sound.index(b'\x00\x00\x80?')   # a float 1.0 of param:w, stored uncompressed
    np.savez(str(tmp_path / 'other.npz'), a=np.zeros(3))
    cases = [(sound[:len(sound) // 2], 'it is truncated or damaged'),
             (sound[:member] + b'\xff' + sound[member + 1:],
              'it is damaged (param:w.npy fails its checksum)'),
             (os.urandom(3000).replace(b'PK', b'pk'), 'it is not a checkpoint (not an .npz'),
             (b'', 'it is empty'),
             (open(str(tmp_path / 'other.npz'), 'rb').read(), 'it is not a checkpoint of these')]
    for data, message in cases:
        with open(path, 'wb') as out:
            out.write(data)
        with pytest.raises(run_guard.CheckpointError) as info:
            run_guard.read_progress(path)
        assert str(info.value).startswith(message), (message, str(info.value))


def test_versions_that_change_the_numbers():
    current = run_guard.software_versions()
    assert sorted(current) == ['numpy', 'python', 'theano']
    assert current['python'] == '%d.%d.%d' % sys.version_info[:3]
    saved = dict(current)
    saved['python'] = '.'.join(current['python'].split('.')[:2] + ['99'])
    assert run_guard.version_change(saved, current) == ''   # a bug-fix release: same numbers
    other = dict(python='2.7.18', theano='0.8.2', numpy='1.16.6')
    assert run_guard.version_change(other, dict(other, numpy='1.23.5')) == \
        'NumPy 1.16.6 -> 1.23.5'
    assert run_guard.version_change(other, dict(python='3.11.7', theano='0.8.2',
                                                numpy='1.16.6')) == 'Python 2.7.18 -> 3.11.7'


def test_write_error_knows_a_full_disk():
    import errno
    assert run_guard.WriteError(errno.ENOSPC, 'No space left on device', 'f').disk_full
    assert not run_guard.WriteError(errno.EACCES, 'Permission denied', 'f').disk_full
    assert isinstance(run_guard.WriteError(errno.EIO, 'x', 'f'), IOError)


def test_json_of_either_python_decodes():
    assert run_guard.decode_json(np.array(b'{"a": [1, 2]}')) == {'a': [1, 2]}
    assert run_guard.decode_json(np.array(u'{"a": "b"}')) == {'a': 'b'}
    with io.BytesIO() as buffer:   # through an .npy file, as in a checkpoint
        np.save(buffer, np.array(u'[3]'))
        buffer.seek(0)
        assert run_guard.decode_json(np.load(buffer)) == [3]
