"""Run a declared grid of trainings (methods x seeds x flags) and collect their table.

A grid file (JSON) names a dataset script, the methods, the seeds and the flags;
each run is the command a user would type (``python mnist.py --method bnn --seed 2
...``), run by the interpreter the grid names, with its results under ``--out``.
Runs already finished are read back, never run again; an interrupted one resumes
after its last finished epoch (the harness's own checkpoint and run lock), so the
same command continues a sweep.  Then the runs' ``results.json`` make the table
(one row per method: its seeds' test errors, the paper's number beside them; in an
LR search, each method's LR with the lowest validation error, never the test error, marked
"(edge)" when it is the first or last of the LRs tried: extend that method's list).

    python sweep.py grids/paper-mnist.json --out ~/runs/paper-mnist --jobs 2 --data-dir DIR
    python sweep.py grids/paper-mnist.json --out ~/runs/paper-mnist --executor slurm \\
        --cpus-per-task 4 --gpus 1 --slurm-option=--partition=gpu      # sweep_slurm.py

A grid file::

    {"name": "paper-mnist", "script": "mnist.py",
     "methods": ["gxnor", "fp"],                # or "all": every record of methods.py
     "seeds": [1, 2], "seeds_of": {"ttq": [1]}, # per-method exceptions
     "lr_protocol": "mnist-50k-20ep",           # each method's LR from its record, or
     "lr": {"gxnor": [0.3, 0.003]},             # [lr_start, lr_end] per method (wins)
     "lr_search": [0.03, 0.1, 0.3],             # or: every method at each starting LR,
     "lr_search_of": {"gxnor": [0.1, 0.3, 1]},  # (one method's own list)
     "lr_decay": 0.001,                         # ending this many times lower
     "flags": ["--epochs", "20", "--batch-size", "1000"],
     "flags_of": {"gxnor": ["--a", "1"]},       # flags of one method only
     "python": "python"}                        # the interpreter (a path, or a name on PATH)

Examples
--------
>>> grid = dict(name='g', script='mnist.py', methods=['gxnor', 'bnn'], seeds=[1, 2],
...             seeds_of=dict(bnn=[1]), flags=['--epochs', '2'])
>>> [run.label for run in expand(grid)]
['gxnor seed 1', 'gxnor seed 2', 'bnn seed 1']
>>> [run.label for run in expand(dict(grid, lr_search=[0.1, 0.3], seeds_of={}, seeds=[1]))]
['gxnor seed 1 LR 0.1', 'gxnor seed 1 LR 0.3', 'bnn seed 1 LR 0.1', 'bnn seed 1 LR 0.3']
>>> [run.lr for run in expand(dict(grid, lr_search=[0.1], lr_search_of=dict(bnn=[1]), seeds=[1]))]
[0.1, 1]
>>> expand(grid)[2].argv
['--method', 'bnn', '--seed', '1', '--epochs', '2']
"""
from __future__ import absolute_import, division, print_function

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import OrderedDict, namedtuple

import sweep_figure
from bench import common

__all__ = ['Run', 'GridError', 'load_grid', 'expand', 'run_name', 'log_path', 'command',
           'results_of', 'keep_finished', 'time_left',
           'finished', 'run_local', 'table', 'markdown', 'main']

ROOT = os.path.dirname(os.path.abspath(__file__))

Run = namedtuple('Run', ['method', 'seed', 'argv', 'label', 'lr'])


class GridError(ValueError):
    """A grid file that cannot be run (one line says why)."""


def _methods():
    import methods      # Theano and Lasagne: imported only where records are needed
    return methods


def load_grid(path):
    """The grid of JSON file ``path``, checked (GridError says what is wrong)."""
    try:
        with open(path) as handle:
            grid = json.load(handle, object_pairs_hook=OrderedDict)
    except (IOError, OSError) as err:
        raise GridError('cannot read grid %s: %s' % (path, err.strerror or err))
    except ValueError as err:
        raise GridError('grid %s is not valid JSON: %s' % (path, err))
    if not isinstance(grid, dict):
        raise GridError('grid %s must be a JSON object' % path)
    for key in ('name', 'script', 'methods'):
        if key not in grid:
            raise GridError('grid %s has no "%s"' % (path, key))
    return grid


def expand(grid):
    """The grid's runs, in order: each method with each of its seeds (and, in a search,
    each starting LR of ``lr_search``, ending ``lr_decay`` times lower)."""
    names = grid['methods']
    if names == 'all':
        names = list(_methods().METHODS)
    runs = []
    for method in names:
        seeds = grid.get('seeds_of', {}).get(method, grid.get('seeds', [1]))
        search = grid.get('lr_search_of', {}).get(method, grid.get('lr_search'))
        lrs = [[start, start * grid.get('lr_decay', 0.1)] for start in search] \
            if search else [_lr(grid, method)]
        for lr in lrs:
            for seed in seeds:
                argv = ['--method', method, '--seed', str(seed)]
                if lr:
                    argv += ['--lr-start', repr(float(lr[0])), '--lr-end', repr(float(lr[1]))]
                argv += [str(flag) for flag in grid.get('flags', []) +
                         grid.get('flags_of', {}).get(method, [])]
                label = '%s seed %s' % (method, seed) + (' LR %g' % lr[0] if lr else '')
                runs.append(Run(method, seed, argv, label, lr[0] if lr else None))
    return runs


def _lr(grid, method):
    """[lr_start, lr_end] of ``method`` in ``grid``, or None (the script's defaults)."""
    if method in grid.get('lr', {}):
        return grid['lr'][method]
    protocol = grid.get('lr_protocol')
    if not protocol:
        return None
    record = _methods().get(method)
    if protocol not in record.lr:
        raise GridError('method %s has no LR chosen for protocol %s (methods.py)'
                        % (method, protocol))
    start = record.lr[protocol]
    return [start, start * grid.get('lr_decay', 0.1)]


def _script(grid):
    script = grid['script']
    return script if os.path.isabs(script) else os.path.join(ROOT, script)


def _python(grid):
    return grid.get('python') or sys.executable


def run_name(grid, run):
    """The run's ``--run-name``: the grid's name, the method, the seed and a digest of
    the whole command, so another setting never takes a run of this one over.

    >>> run_name(dict(name='g'), Run('bnn', 1, ['--method', 'bnn', '--seed', '1'], '', None))
    'g-bnn-seed1-ec987e4b'
    """
    digest = hashlib.sha1(json.dumps([grid.get('script'), run.argv]).encode('utf-8'))
    return '%s-%s-seed%s-%s' % (grid['name'], run.method, run.seed, digest.hexdigest()[:8])


def log_path(grid, run, out):
    """Where ``run``'s output goes: ``out/logs/<run name>.log``."""
    return os.path.join(out, 'logs', run_name(grid, run) + '.log')


def command(grid, run, out, data_dir=None):
    """The command of ``run``: the interpreter, the script and its flags (and
    ``--data-dir``, which is where this machine keeps the data, not part of the run)."""
    return [_python(grid), _script(grid)] + run.argv + [
        '--run-name', run_name(grid, run), '--results-dir', os.path.join(out, 'results'),
        '--weights-dir', os.path.join(out, 'weights')] + (
            ['--data-dir', data_dir] if data_dir else [])


def _read(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (IOError, OSError, ValueError):
        return None


def results_of(grid, run, out, keep=None):
    """The run's results.json as a dict, or None; where the run's folder under ``out`` has
    no finished one, the copy :func:`keep_finished` made in ``keep`` (``--keep``)."""
    results = _read(os.path.join(out, 'results', run_name(grid, run), 'results.json'))
    if keep and not finished(results):
        return _read(os.path.join(keep, run_name(grid, run) + '.json')) or results
    return results


def keep_finished(grid, runs, out, keep):
    """Copy the results.json of every finished run under ``out`` to ``keep/<run name>.json``
    (where it is not there yet): finished runs outlive ``out`` (a scratch folder wiped, a new
    machine), and the table can be made from ``keep`` alone.  Returns how many it copied."""
    copied = 0
    for run in runs:
        path = os.path.join(keep, run_name(grid, run) + '.json')
        results = _read(os.path.join(out, 'results', run_name(grid, run), 'results.json'))
        if finished(results) and not os.path.exists(path):
            common.write_json(path, results)
            copied += 1
    return copied


def finished(results):
    """Whether a run's results.json says it trained all its epochs."""
    return bool(results) and results.get('epochs_done', 0) >= \
        results.get('config', {}).get('epochs', float('inf'))


def _clock(seconds):
    seconds = int(round(seconds))
    return '%d:%02d:%02d' % (seconds // 3600, seconds // 60 % 60, seconds % 60)


def time_left(durations, waiting, running, jobs):
    """Seconds until a sweep ends, from the wall times of the runs that ended: each waiting
    run takes their mean, each running one the rest of it, ``jobs`` at a time.

    >>> time_left([600, 800], waiting=4, running=[300, 900], jobs=2)   # (4 x 700 + 400) / 2
    1600.0
    """
    mean = sum(durations) / float(len(durations))
    return (waiting * mean + sum(max(0.0, mean - t) for t in running)) / max(1, jobs)


def run_local(grid, runs, out, jobs=1, poll=0.5, stream=sys.stdout, data_dir=None, keep=None):
    """Run the unfinished ``runs`` of ``grid``, ``jobs`` at a time, each with its share of
    the cores as threads (``OMP_NUM_THREADS`` where set); one progress line per change and
    one line per failed run; each finished run's results copied to ``keep`` at once.
    Returns the failed runs' labels."""
    todo = [run for run in runs if not finished(results_of(grid, run, out, keep))]
    done_before = len(runs) - len(todo)
    logs = os.path.join(out, 'logs')
    if not os.path.isdir(logs):
        os.makedirs(logs)
    # each run's share of the cores, unless the caller set OMP_NUM_THREADS
    threads = os.environ.get('OMP_NUM_THREADS') or str(max(1, common.cpu_count() // max(1, jobs)))
    env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
    running, failed, finished_now = [], [], []
    began, durations = {}, []           # each run's start; the finished ones' wall times

    def say(text):
        stream.write(text + '\n')
        stream.flush()

    def progress():
        left = len(todo) - len(failed) - len(finished_now) - len(running)
        eta = ''
        if durations:
            eta = ', about %s left' % _clock(time_left(
                durations, left, [time.time() - began[run.label] for run, _, _, _ in running],
                jobs))
        say('sweep %s: %d done (%d before), %d running, %d failed, %d to start%s'
            % (grid['name'], done_before + len(finished_now), done_before, len(running),
               len(failed), left, eta))

    say('sweep %s: %d runs, %d finished before, %d to run, %d at a time with %s threads each; '
        'results in %s' % (grid['name'], len(runs), done_before, len(todo), jobs, threads, out))
    queue = list(todo)
    try:
        while queue or running:
            while queue and len(running) < jobs:
                run = queue.pop(0)
                log = log_path(grid, run, out)
                handle = open(log, 'ab')
                proc = subprocess.Popen(command(grid, run, out, data_dir), stdout=handle,
                                        stderr=subprocess.STDOUT, env=env, cwd=ROOT)
                running.append((run, proc, handle, log))
                began[run.label] = time.time()
                progress()
            time.sleep(poll)
            for item in list(running):
                run, proc, handle, log = item
                code = proc.poll()
                if code is None:
                    continue
                handle.close()
                running.remove(item)
                durations.append(time.time() - began[run.label])
                if code == 0 and finished(results_of(grid, run, out)):
                    finished_now.append(run.label)
                    if keep:
                        keep_finished(grid, [run], out, keep)
                else:
                    failed.append(run.label)
                    say('sweep %s: FAILED %s (exit %d); its log: %s'
                        % (grid['name'], run.label, code, log))
                progress()
    finally:
        # Ctrl-C or SIGTERM: each run stops as with Ctrl-C (SIGTERM, which the harness takes
        # as Ctrl-C even where it started with SIGINT ignored, as a background job does)
        for run, proc, handle, _ in running:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for run, proc, handle, _ in running:
            proc.wait()
            handle.close()
    return failed


def table(grid, runs, out, keep=None):
    """One row per method: its seeds' test errors (at the best validation epoch, and the
    best), epochs, seconds, and the paper's error where its table gives one.  In an LR
    search, the row is the LR whose runs have the lowest mean best validation error, and
    ``search`` lists every LR's."""
    dataset = grid.get('dataset') or os.path.splitext(os.path.basename(grid['script']))[0]
    by_method = OrderedDict()
    for run in runs:
        results = results_of(grid, run, out, keep)
        lrs = by_method.setdefault(run.method, OrderedDict())
        entry = lrs.setdefault(run.lr, dict(lr=run.lr, seeds=[], runs=[]))
        entry['seeds'].append(run.seed)
        if finished(results):
            seconds = sum(h.get('seconds', 0) for h in results.get('history', []))
            entry['runs'].append(dict(seed=run.seed, run=run_name(grid, run),
                                      test_err_at_best_val=results['test_err_at_best_val'],
                                      best_test_err=results['best_test_err'],
                                      best_val_err=results['best_val_err'],
                                      best_val_epoch=results['best_val_epoch'],
                                      epochs=results['epochs_done'],
                                      seconds=round(seconds, 1)))
    records = _methods().METHODS
    rows = []
    for method, lrs in by_method.items():
        for entry in lrs.values():
            vals = [r['best_val_err'] for r in entry['runs']]
            entry['best_val_err_mean'] = sum(vals) / len(vals) if vals else None
        # The LR whose finished runs have the lowest mean validation error (LRs with every
        # seed finished first); none while no run of the method has finished.
        tried = [e for e in lrs.values() if e['runs']]
        if tried:
            chosen = min(tried, key=lambda e: (len(e['runs']) < len(e['seeds']),
                                               e['best_val_err_mean']))
        else:
            chosen = dict(list(lrs.values())[0], lr=None)
        row = dict(method=method, lr=chosen['lr'], seeds=chosen['seeds'], runs=chosen['runs'])
        errors = [r['test_err_at_best_val'] for r in row['runs']]
        row['test_err_at_best_val_mean'] = round(sum(errors) / len(errors), 3) if errors else None
        row['test_err_at_best_val_range'] = [min(errors), max(errors)] if errors else None
        paper = records[method].paper.get(dataset) if method in records else None
        row['paper_test_err'] = round(100 - paper, 2) if paper else None
        row['title'] = records[method].title if method in records else method
        if len(lrs) > 1:
            # the best LR at the end of its list: a better one may lie beyond it (search on)
            row['lr_at_edge'] = chosen['lr'] is not None and chosen['lr'] in (
                min(lrs), max(lrs)) and len(tried) == len(lrs)
            row['search'] = [dict(lr=e['lr'], best_val_err_mean=e['best_val_err_mean'],
                                  runs=len(e['runs'])) for e in lrs.values()]
        rows.append(row)
    return dict(grid=grid, dataset=dataset, rows=rows)


def markdown(summary):
    """The table of :func:`table` as Markdown."""
    lines = ['| method | LR | seeds done | test error at best val. (%) | best test error (%) '
             '| paper error (%) |', '|---|---|---|---|---|---|']
    for row in summary['rows']:
        runs = row['runs']
        lines.append('| %s | %s | %d/%d | %s | %s | %s |' % (
            row['title'], ('%g' % row['lr'] + (' (edge)' if row.get('lr_at_edge') else '')
                           if row['lr'] else ('default' if runs else '-')),
            len(runs),
            len(row['seeds']),
            ', '.join('%.2f' % r['test_err_at_best_val'] for r in runs) or '-',
            ', '.join('%.2f' % r['best_test_err'] for r in runs) or '-',
            '%.2f' % row['paper_test_err'] if row['paper_test_err'] else '-'))
    return '\n'.join(lines)


def run_one(grid, runs, out, index, data_dir=None):
    """Become run ``index``'s command (a Slurm task): its output appended to its log, its
    threads the CPUs Slurm gave the task."""
    run = runs[index]
    log = log_path(grid, run, out)
    if not os.path.isdir(os.path.dirname(log)):
        os.makedirs(os.path.dirname(log))
    threads = os.environ.get('SLURM_CPUS_PER_TASK') or str(common.cpu_count())
    os.environ.update(OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
    handle = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(handle, 1)
    os.dup2(handle, 2)
    os.chdir(ROOT)
    cmd = command(grid, run, out, data_dir)
    os.execvp(cmd[0], cmd)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('grid', help='the grid file (JSON), e.g. grids/paper-mnist.json')
    p.add_argument('--out', required=True, help='where the runs, their logs and the table go')
    p.add_argument('--data-dir', default=None,
                   help="the dataset's folder, given to every run (default: each script's)")
    p.add_argument('--executor', choices=('local', 'slurm'), default='local',
                   help='local: --jobs runs at once on this machine; slurm: one job array')
    p.add_argument('--jobs', type=int, default=1, help='runs at once (local executor)')
    p.add_argument('--cpus-per-task', type=int, default=1, help='Slurm: CPUs of each run')
    p.add_argument('--gpus', type=int, default=0, help='Slurm: GPUs of each run (--gres)')
    p.add_argument('--slurm-option', action='append', default=[],
                   help='Slurm: one more #SBATCH option, e.g. --slurm-option=--partition=gpu')
    p.add_argument('--poll', type=float, default=5.0, help='Slurm: seconds between looks')
    p.add_argument('--keep', default=None,
                   help='a folder (e.g. in your repository) where each finished run\'s '
                        'results.json is copied as <run name>.json; a run found there is '
                        'finished even where --out no longer has it')
    p.add_argument('--collect', action='store_true', help='only write the table')
    p.add_argument('--table', default=None,
                   help='where the table goes (JSON; its figure beside it as .png); '
                        'default: OUT/table.json')
    p.add_argument('--run-index', type=int, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    prog = os.path.basename(sys.argv[0] or 'sweep.py')
    # the runs start in the project's folder: paths given from here must still hold there
    args.out = os.path.abspath(args.out)
    args.data_dir = os.path.abspath(args.data_dir) if args.data_dir else None
    args.keep = os.path.abspath(args.keep) if args.keep else None
    try:
        if args.jobs < 1 or args.cpus_per_task < 1 or args.gpus < 0:
            raise GridError('--jobs and --cpus-per-task must be >= 1, --gpus >= 0')
        grid = load_grid(args.grid)
        runs = expand(grid)
        if args.run_index is not None:
            if not 0 <= args.run_index < len(runs):
                raise GridError('--run-index %d: the grid has %d runs' % (args.run_index,
                                                                          len(runs)))
            return run_one(grid, runs, args.out, args.run_index, args.data_dir)
    except GridError as err:
        sys.stderr.write('%s: error: %s\n' % (prog, err))
        return 2
    failed = []
    if not args.collect:
        import run_guard
        run_guard.stop_on_signals()     # SIGTERM and SIGHUP stop the sweep as Ctrl-C does
        try:
            if args.executor == 'slurm':
                import sweep_slurm
                try:
                    failed = sweep_slurm.submit(grid, args.grid, runs, args.out,
                                                args.cpus_per_task, args.gpus,
                                                args.slurm_option, args.poll, args.data_dir,
                                                keep=args.keep)
                except sweep_slurm.SlurmError as err:
                    sys.stderr.write('%s: error: %s\n' % (prog, err))
                    return 2
            else:
                failed = run_local(grid, runs, args.out, jobs=args.jobs,
                                   data_dir=args.data_dir, keep=args.keep)
        except KeyboardInterrupt:
            sys.stderr.write('%s: interrupted; the same command resumes the sweep\n' % prog)
            return 130
    if args.keep:
        keep_finished(grid, runs, args.out, args.keep)     # a Slurm sweep's, or --collect's
    summary = table(grid, runs, args.out, args.keep)
    # the command that runs the sweep (and writes this table again)
    words = [w for w in (argv if argv is not None else sys.argv[1:]) if w != '--collect']
    summary.update(command=' '.join(['python sweep.py'] + words),
                   date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
                   machine=common.machine())
    path = args.table or os.path.join(args.out, 'table.json')
    common.write_json(path, summary)
    print(markdown(summary))
    figure = sweep_figure.plot(summary, os.path.splitext(path)[0] + '.png')
    print('table: %s%s' % (path, ', figure: %s' % figure if figure else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
