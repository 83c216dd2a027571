"""What keeps a training run whole while the user, a scheduler or another process acts on it.

The files of a run are written by :mod:`run_files` and the rules of its
folder are :mod:`run_folder`'s; this module holds the run's lock and its
signals:

* :class:`RunLock`: one process per run.  A lock (``flock``) on the file
  ``.lock`` in the run's folder, held while the run trains and released by
  the system when the process ends, however it ends (``kill -9`` too).
* :func:`stop_on_signals`: SIGTERM (what batch schedulers send before they
  kill a job) and SIGHUP (the terminal closed, the ssh link dropped) stop a
  run as Ctrl-C does, with the same line; a SIGHUP that ``nohup`` told the
  run to ignore stays ignored.
* :func:`interrupts_held`: Ctrl-C, SIGTERM or SIGHUP during the writes that
  end an epoch takes effect once they are done, so those files always agree.

Examples
--------
A stop asked by a signal is a KeyboardInterrupt that knows the signal's name:

>>> stop = Interrupted('SIGTERM')
>>> isinstance(stop, KeyboardInterrupt), stop.signal_name
(True, 'SIGTERM')
"""
from __future__ import absolute_import, division, print_function

import contextlib
import errno
import fcntl
import os
import signal

__all__ = ['Interrupted', 'RunInProgress', 'RunLock', 'LOCK_NAME', 'STOP_SIGNALS',
           'stop_on_signals', 'interrupts_held']

LOCK_NAME = '.lock'


class Interrupted(KeyboardInterrupt):
    """A stop asked by a signal other than Ctrl-C; ``signal_name`` says which."""

    def __init__(self, signal_name):
        KeyboardInterrupt.__init__(self, signal_name)
        self.signal_name = signal_name


class RunInProgress(Exception):
    """Another process holds the run's lock."""


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
