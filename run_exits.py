"""How a training run ends: the errors that stop it, the one line each prints, its exit status.

A dataset script runs inside :func:`exits_on_failure`, which turns every way
a run can stop into one line on stderr and an exit status
(:data:`EXIT_STATUS`): bad flags or files (:class:`UsageError`, and the
data and device errors of :mod:`datasets` and :mod:`gxnor_device`), a
training that diverged (:class:`TrainingDiverged`), a file that cannot be
written (:class:`run_files.WriteError`: a full disk), Ctrl-C, and SIGTERM
and SIGHUP, which :mod:`run_guard` makes stop a run as Ctrl-C does.  After
a stop the line says what is safe and the command that resumes
(:func:`resume_command`).

Examples
--------
>>> EXIT_STATUS['training diverged'], EXIT_STATUS['SIGTERM']
(3, 143)
>>> interrupted_message({}, signal_name='SIGTERM')
'interrupted by SIGTERM before training started; nothing was written'
"""
from __future__ import absolute_import, division, print_function

import contextlib
import errno
import os
import signal
import sys
from collections import OrderedDict

try:
    from shlex import quote as shell_quote
except ImportError:  # Python 2
    from pipes import quote as shell_quote

import datasets
import gxnor_device
import run_files
import run_guard

__all__ = ['UsageError', 'TrainingDiverged', 'EXIT_STATUS', 'exits_on_failure', 'warn',
           'resume_command', 'interrupted_message', 'write_failed_message', 'shell_quote']


class UsageError(Exception):
    """Bad hyperparameters or files: reported as one line, exit status 2."""


class TrainingDiverged(Exception):
    """The training loss became NaN or infinite: exit status 3."""


# What the process exits with, by what stopped it (a signal: 128 + its number, as the shell says).
EXIT_STATUS = OrderedDict([('bad input', 2), ('training diverged', 3),
                           ('cannot write (disk full)', 4), ('Ctrl-C', 130), ('SIGHUP', 129),
                           ('SIGTERM', 143), ('output closed', 141)])


def warn(name, message):
    """Print the warning line ``<name>: warning: <message>`` on stderr."""
    print('%s: warning: %s' % (name, message), file=sys.stderr)


def resume_command(argv=None):
    """The command line that resumes this run, as it must be typed here: the
    interpreter that runs (relative to the current folder when inside it, else
    its full path), the script and the arguments."""
    python = sys.executable or 'python'
    relative = os.path.relpath(python)
    if relative != os.pardir and not relative.startswith(os.pardir + os.sep):
        python = relative if os.sep in relative else os.path.join(os.curdir, relative)
    words = [python, sys.argv[0]] + list(sys.argv[1:] if argv is None else argv)
    return ' '.join(shell_quote(w) for w in words)


def _what_is_safe(status, argv=None, then='the same command'):
    if status.get('saved_epoch') is None:
        return 'no epoch had finished, so nothing was saved'
    return ('epochs up to %d are safe in %s; %s resumes after epoch %d: %s'
            % (status['saved_epoch'], status['checkpoint'], then, status['saved_epoch'],
               resume_command(argv)))


def interrupted_message(status, argv=None, signal_name=None):
    """The one line printed after Ctrl-C (or ``signal_name``, e.g. 'SIGTERM'): where it
    stopped, what is safe, how to resume.

    ``status`` is the dict a run keeps up to date (``binary_net.run``): the
    checkpoint, the last saved epoch, the epoch, minibatch and phase in progress.
    """
    stopped = 'interrupted by %s' % signal_name if signal_name else 'interrupted'
    if 'epoch' not in status:
        return '%s before training started; nothing was written' % stopped
    where = 'epoch %d, minibatch %d of %d' % (status['epoch'], status['minibatch'],
                                             status['batches'])
    if status['phase'] != 'training':
        where = 'epoch %d, after its training (evaluating or saving)' % status['epoch']
    return '%s at %s; %s' % (stopped, where, _what_is_safe(status, argv))


def write_failed_message(err, status, argv=None):
    """The one line printed when a file of the run cannot be written (disk full...)."""
    if err.disk_full:
        return ('no space left on the device while writing %s; %s'
                % (err.filename, _what_is_safe(status, argv, 'once space is freed the same '
                                                'command')))
    return 'cannot write %s (%s); %s' % (err.filename, err.strerror, _what_is_safe(status, argv))


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):     # replaced or closed streams
        return False


def _stdout_to_devnull():
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, ValueError, IOError, OSError):   # replaced or closed streams
        pass


@contextlib.contextmanager
def exits_on_failure(name, status, argv=None):
    """Run the block as a script's run: SIGTERM and SIGHUP stop it as Ctrl-C does, and
    each way it fails is one line on stderr and ``sys.exit`` with its :data:`EXIT_STATUS`.

    Parameters
    ----------
    name : str
        The script's name, which starts each line ('mnist').
    status : dict
        What the run keeps up to date as it goes (see :func:`interrupted_message`):
        the lines say from it what is safe.
    argv : list of str, optional
        The script's arguments (None: ``sys.argv[1:]``), for the command that resumes.

    Examples
    --------
    The line goes to stderr; the exit status is SystemExit's code:

    >>> try:
    ...     with exits_on_failure('toy', {}):
    ...         raise UsageError('--epochs must be >= 1')
    ... except SystemExit as stop:
    ...     print(stop.code)
    2
    """
    previous = run_guard.stop_on_signals()
    try:
        yield
    except KeyboardInterrupt as err:
        signal_name = getattr(err, 'signal_name', None)
        try:
            sys.stdout.flush()
            # On a terminal the line starts below the progress line and the echoed ^C;
            # in a log or a pipe it is the only line.
            print('%s%s: %s' % ('\n' if _isatty(sys.stderr) else '', name,
                                interrupted_message(status, argv, signal_name)), file=sys.stderr)
        except (IOError, OSError):   # after SIGHUP the terminal may be gone (EIO)
            pass
        sys.exit(EXIT_STATUS[signal_name or 'Ctrl-C'])
    except (UsageError, datasets.DataError, gxnor_device.DeviceError) as err:
        print('%s: error: %s' % (name, err), file=sys.stderr)
        sys.exit(EXIT_STATUS['bad input'])
    except run_files.WriteError as err:
        sys.stdout.flush()
        print('%s: error: %s' % (name, write_failed_message(err, status, argv)),
              file=sys.stderr)
        sys.exit(EXIT_STATUS['cannot write (disk full)'])
    except TrainingDiverged as err:
        print('%s: error: %s; the last checkpoint is kept' % (name, err), file=sys.stderr)
        sys.exit(EXIT_STATUS['training diverged'])
    except (IOError, OSError) as err:
        if err.errno not in (errno.EPIPE, errno.ENOSPC) or err.filename is not None:
            raise
        # The standard output failed: its reader is gone (`| head`), or it is a full
        # device.  Nothing more can be printed there; later flushes must not fail.
        _stdout_to_devnull()
        if err.errno == errno.EPIPE:   # quiet, as `yes | head` is
            sys.exit(EXIT_STATUS['output closed'])
        print('%s: error: cannot write the output (%s); %s'
              % (name, os.strerror(err.errno), _what_is_safe(status, argv)), file=sys.stderr)
        sys.exit(EXIT_STATUS['cannot write (disk full)'])
    finally:
        for signum, handler in previous:
            signal.signal(signum, handler)
