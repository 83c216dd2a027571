"""The rules of a run's folder: opening it, resuming from it, setting it aside, repairing it.

A run writes ``<results-dir>/<run>/`` (checkpoint, results) and
``<weights-dir>/<run>.npz`` (the model), each file by :mod:`run_files`.
Before anything is compiled, :func:`opened` checks that both folders can
hold the files, takes the run's lock (:class:`run_guard.RunLock`), sets the
old run aside under ``--fresh``, and removes the temporary files a killed
process left; :func:`progress_to_resume` reads the checkpoint the same
command resumes from, and refuses it, in one line, where it is damaged or
was made under other hyperparameters or software versions
(:func:`version_change`).  :func:`repair_results` writes a finished run's
results again from its checkpoint when they were damaged or removed.

Examples
--------
>>> saved = dict(python='3.11.7', theano='1.0.5', numpy='1.23.5')
>>> version_change(saved, dict(saved, python='3.11.9'))   # a bug-fix release: the same numbers
''
>>> version_change(saved, dict(python='2.7.18', theano='1.0.5', numpy='1.16.6'))
'Python 3.11.7 -> 2.7.18, NumPy 1.23.5 -> 1.16.6'
"""
from __future__ import absolute_import, division, print_function

import contextlib
import errno
import json
import os
import sys
import tempfile
import time

import numpy as np

import model_format
import run_files
import run_guard
from run_exits import UsageError

__all__ = ['paths', 'opened', 'progress_to_resume', 'restore', 'repair_results', 'set_aside',
           'check_resumable', 'software_versions', 'version_change', 'make_folders',
           'remove_folders', 'FRESH_HINT']

# The advice where a checkpoint cannot be resumed at all.
FRESH_HINT = 'pass --fresh to set the run aside (renamed, not deleted) and start over'


def paths(args):
    """(run folder, checkpoint, model file) of the run that ``args`` names.

    Examples
    --------
    >>> import argparse
    >>> args = argparse.Namespace(results_dir='results', weights_dir=None, run_name='r')
    >>> [p.replace(os.sep, '/') for p in paths(args)]
    ['results/r', 'results/r/checkpoint.npz', 'results/r.npz']
    """
    folder = os.path.join(args.results_dir, args.run_name)
    return (folder, os.path.join(folder, 'checkpoint.npz'),
            os.path.join(args.weights_dir or args.results_dir, args.run_name + '.npz'))


@contextlib.contextmanager
def opened(args, folder, model_path, status):
    """Hold the run's folder during the block: checked, locked, cleaned (see the module).

    After the block the lock is released, and the folders it created are
    removed where no epoch was saved (``status['saved_epoch']`` None): a run
    that stopped before its first epoch leaves no empty folders.
    """
    lock, created = _open(args, folder, model_path)
    try:
        yield
    finally:
        lock.release()
        if status.get('saved_epoch') is None:
            remove_folders(created, [run_guard.LOCK_NAME])


def progress_to_resume(checkpoint, model_path, args, config, versions, named):
    """The progress record the run resumes from, or None for a new run.

    Read and checked before anything is compiled: the checkpoint must be
    readable and made under the same ``versions`` (:func:`software_versions`)
    and ``config`` (``run_options.run_config``), else UsageError; ``named``
    says the user named the run (the advice is then another ``--run-name``).
    A new run first sets aside a model file that no run of its own wrote.
    """
    if os.path.exists(checkpoint):
        return _resumable_progress(checkpoint, config, versions, named)
    if args.fresh or not _own_unfinished_model(model_path, args.run_name, config):
        set_aside(model_path)  # a model with no run behind it is kept, never overwritten
    return None


def restore(checkpoint, params, state, rng):
    """:func:`run_files.load_checkpoint`, a checkpoint that cannot be restored being a
    UsageError that advises ``--fresh``."""
    try:
        return run_files.load_checkpoint(checkpoint, params, state, rng)
    except run_files.CheckpointError as err:
        raise UsageError('cannot resume from %s (%s); %s' % (checkpoint, err, FRESH_HINT))


def _new_run_hint(named):
    """How to start a new run instead: the user who named the run names another."""
    return 'pass another --run-name' if named else 'pass --run-name NAME'


def check_resumable(saved, current, path, named=False):
    """UsageError unless the hyperparameters ``current`` are those a checkpoint ``path``
    was ``saved`` with; it names the first four that differ.

    Examples
    --------
    >>> check_resumable({'widths': [8, 16]}, {'widths': (8, 16)}, 'c.npz')   # JSON's list
    >>> try:
    ...     check_resumable({'epochs': 3}, {'epochs': 4}, 'c.npz')
    ... except UsageError as err:
    ...     print(str(err).split(';')[0])
    c.npz was made with other hyperparameters (epochs 3 -> 4)
    """
    # Compared as JSON, the form they are saved in: a tuple such as --widths comes
    # back from the checkpoint as a list, and 2.7's u'' strings equal plain ones.
    changed = sorted(k for k in set(saved) | set(current)
                     if json.dumps(saved.get(k), sort_keys=True)
                     != json.dumps(current.get(k), sort_keys=True))
    if changed:
        detail = ', '.join('%s %s -> %s' % (k, json.dumps(saved.get(k)),
                                            json.dumps(current.get(k))) for k in changed[:4])
        raise UsageError('%s was made with other hyperparameters (%s); %s for a new run or '
                         '--fresh to set the old one aside' % (path, detail, _new_run_hint(named)))


def _resumable_progress(checkpoint, config, versions, named):
    """The progress record of ``checkpoint``, read and checked before anything is
    compiled: readable, same versions, same hyperparameters; else UsageError."""
    try:
        saved = run_files.read_progress(checkpoint)
    except run_files.CheckpointError as err:
        raise UsageError('cannot resume from %s: %s; %s' % (checkpoint, err, FRESH_HINT))
    change = version_change(saved['versions'], versions) if 'versions' in saved else ''
    if change:
        raise UsageError('cannot resume from %s: it was written under other versions (%s), which '
                         'give other numbers; resume it with those, or %s for a new run here'
                         % (checkpoint, change, _new_run_hint(named)))
    check_resumable(saved.get('config', {}), config, checkpoint, named)
    return saved


def _own_unfinished_model(path, run_name, config):
    """Whether ``path`` holds the epoch-0 model of this very run, written by a process
    killed before the checkpoint that follows it: the same command overwrites it
    instead of setting one more copy aside."""
    try:
        meta = model_format.read_meta(path)
    except Exception:   # unreadable, or no model of ours: never overwritten
        return False
    return (meta.get('run') == run_name and meta.get('epoch') == 0 and
            meta.get('config') == json.loads(json.dumps(config)))


def _folder_error(flag, value, err):
    """The error for a results or weights folder that cannot be written."""
    where = getattr(err, 'filename', None) or value
    if getattr(err, 'errno', None) in run_files.DISK_FULL:
        return run_files.WriteError(err.errno, err.strerror, where)
    reason = '%s: %s' % (err.strerror or err, where)
    if err.errno == errno.EEXIST:   # make_folders found a file where a folder goes
        reason = '%s is a file, not a folder' % where
    return UsageError("%s %s cannot hold the run's files (%s); choose another %s"
                      % (flag, value, reason, flag))


def _open(args, folder, model_path):
    """Check that the run's folders can be written and take the run's lock, before
    anything is compiled; with ``--fresh`` set the old run aside; remove the
    temporary files a killed process left.  Returns (lock, folders created)."""
    created = []
    try:
        created += make_folders(folder)
        lock = run_guard.RunLock(folder).acquire()
    except EnvironmentError as err:
        remove_folders(created, [run_guard.LOCK_NAME])
        raise _folder_error('--results-dir', args.results_dir, err)
    except run_guard.RunInProgress as err:
        raise UsageError('run %s is %s' % (folder, err))
    models = os.path.dirname(os.path.abspath(model_path))
    try:
        created += make_folders(models)
        handle, probe = tempfile.mkstemp(dir=models,
                                         prefix=run_files.temporary_prefix(model_path))
        os.close(handle)
        os.remove(probe)
    except EnvironmentError as err:
        lock.release()
        remove_folders(created, [run_guard.LOCK_NAME])
        raise _folder_error('--weights-dir' if args.weights_dir else '--results-dir',
                            args.weights_dir or args.results_dir, err)
    if (args.fresh and os.path.abspath(folder) not in created and
            os.listdir(folder) != [run_guard.LOCK_NAME]):
        set_aside(folder)   # our lock goes along, still held: no one else started it
        os.mkdir(folder)
        created.append(os.path.abspath(folder))
        try:
            fresh = run_guard.RunLock(folder).acquire()
        except run_guard.RunInProgress as err:
            raise UsageError('run %s is %s' % (folder, err))
        finally:
            lock.release()
        lock = fresh
    stale = (run_files.remove_stale_temporaries(folder) +
             run_files.remove_stale_temporaries(models, [model_path]))
    if os.path.abspath(folder) not in created and os.listdir(folder) == [run_guard.LOCK_NAME]:
        print('Reusing %s: a run stopped before its first epoch left it holding only its '
              'lock' % folder)
    if stale:
        print('Removed %d temporary file%s left by a process stopped while writing: %s'
              % (len(stale), '' if len(stale) == 1 else 's', ', '.join(stale)))
    return lock, created


def set_aside(path):
    """Rename ``path``, where it exists, to ``<path>.old-<date>-<time>``, and say so."""
    if os.path.exists(path):
        stamp = time.strftime('%Y%m%d-%H%M%S')
        os.rename(path, '%s.old-%s' % (path, stamp))
        print('Set aside %s as %s.old-%s' % (path, path, stamp))


def repair_results(folder, progress, summary):
    """Write results.json, .mat and curves.png again from the checkpoint's record when
    results.json does not hold its history (damaged, or removed, in a finished run)."""
    path = os.path.join(folder, 'results.json')
    try:
        with open(path) as handle:
            if json.load(handle).get('history') == json.loads(json.dumps(progress['history'])):
                return
    except (IOError, OSError, ValueError, AttributeError):
        pass
    with run_guard.interrupts_held():
        run_files.write_results(folder, progress['history'], summary)
    print('Wrote %s (and results.mat, curves.png) again from the checkpoint: it was damaged '
          'or missing' % path)


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


def software_versions():
    """The interpreter, Theano and NumPy versions, which a run's numbers depend on: a run
    records them and does not cross to others (:func:`version_change`)."""
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
