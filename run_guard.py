"""What keeps a training run whole when the user, the machine or the disk misbehave.

:mod:`binary_net` writes every file of a run atomically (a temporary file,
then a rename); this module holds what goes around those writes:

* :class:`RunLock`: one process per run.  A lock (``flock``) on the file
  ``.lock`` in the run's folder, held while the run trains and released by
  the system when the process ends, however it ends (``kill -9`` too).
* :func:`stop_on_signals`: SIGTERM (what batch schedulers send before they
  kill a job) and SIGHUP (the terminal closed, the ssh link dropped) stop a
  run as Ctrl-C does, with the same line; a SIGHUP that ``nohup`` told the
  run to ignore stays ignored.
* :func:`interrupts_held`: Ctrl-C, SIGTERM or SIGHUP during the writes that
  end an epoch takes effect once they are done, so those files always agree.
* :func:`remove_stale_temporaries`: the temporary files that a killed
  process left behind, removed by the next run of the same command.
* :func:`read_progress`: a checkpoint's progress record, or why it cannot be
  read, in plain words.
* :func:`software_versions` and :func:`version_change`: a run's numbers
  depend on the interpreter, Theano and NumPy, so a run records them and
  does not cross to others.
* :class:`WriteError`: a file that could not be written (``disk_full`` when
  the device or the quota is full).

Examples
--------
The temporary files that stand for a checkpoint while it is written, and
which version changes a run may cross:

>>> temporary_prefix(os.path.join('results', 'mnist', 'checkpoint.npz'))
'.tmp-checkpoint.npz.'
>>> saved = dict(python='3.11.7', theano='1.0.5', numpy='1.23.5')
>>> version_change(saved, dict(saved, python='3.11.9'))
''
>>> version_change(saved, dict(python='2.7.18', theano='1.0.5', numpy='1.16.6'))
'Python 3.11.7 -> 2.7.18, NumPy 1.23.5 -> 1.16.6'
"""
from __future__ import absolute_import, division, print_function

import contextlib
import errno
import fcntl
import io
import json
import os
import re
import signal
import struct
import sys
import zipfile
import zlib

import numpy as np

__all__ = ['Interrupted', 'RunInProgress', 'CheckpointError', 'WriteError', 'RunLock',
           'LOCK_NAME', 'stop_on_signals', 'interrupts_held', 'temporary_prefix',
           'remove_stale_temporaries', 'make_folders', 'remove_folders', 'read_progress',
           'decode_json', 'software_versions', 'version_change']

LOCK_NAME = '.lock'
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
_BadZip = getattr(zipfile, 'BadZipFile', None) or zipfile.BadZipfile  # Python 2: BadZipfile
_TEMPORARY = '.tmp-'


class Interrupted(KeyboardInterrupt):
    """A stop asked by a signal other than Ctrl-C; ``signal_name`` says which."""

    def __init__(self, signal_name):
        KeyboardInterrupt.__init__(self, signal_name)
        self.signal_name = signal_name


class RunInProgress(Exception):
    """Another process holds the run's lock."""


class CheckpointError(Exception):
    """A checkpoint that cannot be read; the message says why in plain words."""


class WriteError(IOError):
    """A file of the run could not be written (``errno``, ``strerror``, ``filename``)."""

    @property
    def disk_full(self):
        return self.errno in DISK_FULL


# ---------------------------------------------------------------- one process per run

class RunLock(object):
    """The lock of a run folder: ``.lock``, holding the pid of the process that trains.

    Parameters
    ----------
    folder : str
        The run's folder, which must exist.
    """

    def __init__(self, folder):
        self.path = os.path.join(folder, LOCK_NAME)
        self.fd = None

    def acquire(self):
        """Take the lock or raise :class:`RunInProgress` at once (never waits)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (IOError, OSError) as err:
            holder = os.read(fd, 32).decode('ascii', 'replace').strip()
            os.close(fd)
            if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise RunInProgress('in progress in another process (%s), which holds %s; wait '
                                'for it to end or stop it'
                                % ('pid ' + holder if holder.isdigit() else 'pid unknown',
                                   self.path))
        try:
            os.ftruncate(fd, 0)
            os.write(fd, ('%d\n' % os.getpid()).encode('ascii'))
        except OSError:
            os.close(fd)
            raise
        self.fd = fd
        return self

    def release(self):
        """Let another process take the run (the file stays: removing it would race)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


# ---------------------------------------------------------------- signals

# Signals that stop a run as Ctrl-C does, by name (the name goes into the line it prints).
STOP_SIGNALS = ('SIGTERM', 'SIGHUP')


def _raise_interrupted(signum, frame):
    raise Interrupted(_signal_name(signum))


def _signal_name(signum):
    for name in STOP_SIGNALS:
        if getattr(signal, name) == signum:
            return name
    return 'signal %d' % signum


def stop_on_signals():
    """Make SIGTERM and SIGHUP raise :class:`Interrupted` (a KeyboardInterrupt) in the main thread.

    A signal the process was started ignoring (SIGHUP under ``nohup``) is left
    ignored.  Returns ``(signal number, previous handler)`` pairs, for
    :func:`signal.signal` to put back; none outside the main thread, where
    signals cannot be handled.

    Examples
    --------
    Under ``nohup`` SIGHUP is ignored, and stays so:

    >>> ignored = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    >>> previous = stop_on_signals()
    >>> [_signal_name(signum) for signum, _ in previous]
    ['SIGTERM']
    >>> signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    True
    >>> for signum, handler in previous + [(signal.SIGHUP, ignored)]:
    ...     _ = signal.signal(signum, handler)
    """
    previous = []
    for name in STOP_SIGNALS:
        signum = getattr(signal, name)
        if signal.getsignal(signum) == signal.SIG_IGN:
            continue
        try:
            previous.append((signum, signal.signal(signum, _raise_interrupted)))
        except ValueError:   # not the main thread
            break
    return previous


_held = []   # non-empty while interrupts_held() is active: nested uses hold nothing more


@contextlib.contextmanager
def interrupts_held():
    """Hold Ctrl-C, SIGTERM and SIGHUP during the block; a signal that came is acted on after it.

    So the files an epoch ends with are written all or none, and Python never
    finalises a half-written archive (the ``Exception ignored`` lines).  Does
    nothing outside the main thread or inside another such block.
    """
    if _held:
        yield
        return
    received = []
    signals = (signal.SIGINT,) + tuple(getattr(signal, name) for name in STOP_SIGNALS)
    try:
        previous = [signal.signal(s, lambda signum, frame: received.append(signum))
                    for s in signals]
    except ValueError:   # not the main thread
        previous = None
    if previous is None:
        yield
        return
    _held.append(True)
    try:
        yield
    finally:
        _held.pop()
        for s, handler in zip(signals, previous):
            signal.signal(s, handler)
    if received:
        handler = previous[signals.index(received[0])]
        if callable(handler):
            handler(received[0], None)
        elif handler == signal.SIG_DFL:
            os.kill(os.getpid(), received[0])


# ---------------------------------------------------------------- files

def temporary_prefix(path):
    """Prefix of the temporary files that stand for ``path`` while it is written."""
    return '%s%s.' % (_TEMPORARY, os.path.basename(path))


def remove_stale_temporaries(folder, targets=None):
    """Remove the temporary files a killed writer left in ``folder``; returns their names.

    With ``targets`` (paths) only those of these files (``temporary_prefix``
    and the random part of ``tempfile``, 6 to 8 characters; or the layout
    before 2026-12-05, the random part first), else every temporary file: the
    caller holds the lock of a folder that only its run writes.
    """
    if not os.path.isdir(folder):
        return []
    patterns = None
    if targets is not None:
        patterns = [re.compile(r'^%s[A-Za-z0-9_]{6,8}$' % re.escape(temporary_prefix(t)))
                    for t in targets]
        patterns += [re.compile(r'^%s[a-z0-9_]{8}%s$' % (re.escape(_TEMPORARY),
                                                         re.escape(os.path.basename(t))))
                     for t in targets]
    removed = []
    for name in sorted(os.listdir(folder)):
        if not name.startswith(_TEMPORARY):
            continue
        if patterns is not None and not any(p.match(name) for p in patterns):
            continue
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            os.remove(path)
            removed.append(name)
    return removed


def make_folders(path):
    """``os.makedirs`` that returns the folders it created, outermost first."""
    missing = []
    path = os.path.abspath(path)
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for folder in reversed(missing):
        os.mkdir(folder)
    return list(reversed(missing))


def remove_folders(folders, names=()):
    """Remove ``names`` inside ``folders`` and the folders themselves, innermost first,
    where nothing else is in them."""
    for folder in reversed(folders):
        for name in names:
            if os.path.isfile(os.path.join(folder, name)):
                os.remove(os.path.join(folder, name))
        try:
            os.rmdir(folder)
        except OSError:   # something else is there: keep it
            pass


# ---------------------------------------------------------------- checkpoints

def decode_json(array):
    """The object of a 0-d string array written by ``np.array(json.dumps(...))``,
    whichever Python wrote it (2.7 writes bytes, 3 text)."""
    text = np.asarray(array).item()
    if isinstance(text, bytes) and not isinstance(text, str):
        text = text.decode('utf-8')
    return json.loads(text)


def read_progress(path):
    """The ``__progress__`` record of the checkpoint ``path``, after checking every
    byte of it; raises :class:`CheckpointError` saying what is wrong."""
    if os.path.isdir(path):
        raise CheckpointError('it is a folder, not a file')
    try:
        with open(path, 'rb') as handle:
            head = handle.read(4)
    except (IOError, OSError) as err:
        raise CheckpointError('it cannot be read (%s)' % (err.strerror or err))
    if not head:
        raise CheckpointError('it is empty')
    if head != b'PK\x03\x04':
        raise CheckpointError('it is not a checkpoint (not an .npz archive)')
    try:
        archive = zipfile.ZipFile(path)
        try:
            damaged = archive.testzip()   # reads every member, checks its CRC
            if damaged is not None:
                raise CheckpointError('it is damaged (%s fails its checksum)' % damaged)
            if '__progress__.npy' not in archive.namelist():
                raise CheckpointError('it is not a checkpoint of these scripts '
                                      '(no __progress__ record)')
            record = archive.read('__progress__.npy')
        finally:
            archive.close()
        progress = decode_json(np.load(io.BytesIO(record), allow_pickle=False))
        if not isinstance(progress, dict) or 'next_epoch' not in progress:
            raise CheckpointError('it is not a checkpoint of these scripts (its __progress__ '
                                  'record has no next_epoch)')
        return progress
    except CheckpointError:
        raise
    except (_BadZip, EOFError):   # e.g. "File is not a zip file": the end is missing
        raise CheckpointError('it is truncated or damaged')
    except (zlib.error, IOError, OSError, ValueError, KeyError, TypeError, struct.error) as err:
        raise CheckpointError('it is truncated or damaged (%s)' % ' '.join(
            (str(err) or type(err).__name__).split()))


def software_versions():
    """The interpreter, Theano and NumPy versions, which a run's numbers depend on."""
    import gxnor_compat  # noqa: F401  (before theano)
    import theano
    return dict(python='%d.%d.%d' % tuple(sys.version_info[:3]), theano=theano.__version__,
                numpy=np.__version__)


_NAMES = (('python', 'Python'), ('theano', 'Theano'), ('numpy', 'NumPy'))


def version_change(saved, current):
    """'' where a run recorded with ``saved`` versions may go on under ``current``
    ones (Python alike up to the minor version, Theano and NumPy alike), else
    what differs, e.g. 'Python 3.11.7 -> 2.7.18, NumPy 1.23.5 -> 1.16.6'."""
    def key(name, version):
        return '.'.join(str(version).split('.')[:2]) if name == 'python' else str(version)
    changes = ['%s %s -> %s' % (label, saved.get(name), current.get(name))
               for name, label in _NAMES
               if key(name, saved.get(name)) != key(name, current.get(name))]
    return ', '.join(changes)
