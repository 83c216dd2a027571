"""The Slurm executor of :mod:`sweep`: one job array, one task per unfinished run.

``python sweep.py GRID --out DIR --executor slurm`` writes a batch script into
``DIR/slurm/``, submits it with ``sbatch`` (a job array: task i runs the i-th
unfinished run, as ``sweep.py GRID --out DIR --run-index N``, which becomes the
run's own command), prints the array's progress until its tasks end, and then
``sweep.py`` writes the table as with the local executor.  A task that fails or
is cancelled (``scancel`` sends SIGTERM, which the harness takes as Ctrl-C,
keeping its checkpoint) is listed with its log; the same command submits again
only the runs not finished, which resume after their last finished epoch.
``DIR`` must be on a file system the nodes share.

Examples
--------
>>> print(job_script('/g.json', '/out', [0, 3], 'python3', cpus=2, gpus=1,
...                  extra=['--partition=gpu'], sweep='sweep.py').strip())
#!/bin/bash
#SBATCH --job-name=sweep
#SBATCH --array=0-1
#SBATCH --cpus-per-task=2
#SBATCH --output=/out/logs/slurm-%A_%a.log
#SBATCH --gres=gpu:1
#SBATCH --partition=gpu
runs=(0 3)
exec python3 sweep.py /g.json --out /out --run-index "${runs[$SLURM_ARRAY_TASK_ID]}"
"""
from __future__ import absolute_import, division, print_function

import os
import subprocess
import sys
import time

__all__ = ['SlurmError', 'job_script', 'submit', 'task_states']

_SWEEP = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'sweep.py')


class SlurmError(RuntimeError):
    """sbatch or squeue missing or refusing (one line says why)."""


def job_script(grid_path, out, indices, python, cpus=1, gpus=0, extra=(), name='sweep',
               sweep=_SWEEP, data_dir=None):
    """The batch script of a job array whose task i runs run ``indices[i]`` of the grid."""
    lines = ['#!/bin/bash', '#SBATCH --job-name=%s' % name,
             '#SBATCH --array=0-%d' % (len(indices) - 1),
             '#SBATCH --cpus-per-task=%d' % cpus,
             '#SBATCH --output=%s' % os.path.join(out, 'logs', 'slurm-%A_%a.log')]
    if gpus:
        lines.append('#SBATCH --gres=gpu:%d' % gpus)
    lines += ['#SBATCH %s' % option for option in extra]
    lines.append('runs=(%s)' % ' '.join(str(i) for i in indices))
    data = ' --data-dir %s' % data_dir if data_dir else ''
    lines.append('exec %s %s %s --out %s%s --run-index "${runs[$SLURM_ARRAY_TASK_ID]}"'
                 % (python, sweep, grid_path, out, data))
    return '\n'.join(lines) + '\n'


def _call(command):
    try:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as err:
        raise SlurmError('%s: %s (is Slurm installed here? it is what --executor slurm runs)'
                         % (command[0], err.strerror or err))
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SlurmError('%s failed (exit %d): %s' % (
            ' '.join(command[:2]), proc.returncode,
            ' '.join(err.decode('utf-8', 'replace').split()) or 'no message'))
    return out.decode('utf-8', 'replace')


def task_states(job):
    """{state: count} of the job array's tasks Slurm still lists (PD, R, CG...)."""
    states = {}
    for line in _call(['squeue', '-h', '-r', '-j', str(job), '-o', '%t']).split():
        states[line] = states.get(line, 0) + 1
    return states


def submit(grid, grid_path, runs, out, cpus=1, gpus=0, extra=(), poll=5.0, data_dir=None,
           stream=sys.stdout, keep=None):
    """Submit the unfinished ``runs`` as one job array and follow it until its tasks end;
    returns the labels of the runs that did not finish."""
    import sweep
    todo = [i for i, run in enumerate(runs)
            if not sweep.finished(sweep.results_of(grid, run, out, keep))]

    def say(text):
        stream.write(text + '\n')
        stream.flush()

    say('sweep %s: %d runs, %d finished before, %d to submit to Slurm (%d CPUs%s each)'
        % (grid['name'], len(runs), len(runs) - len(todo), len(todo), cpus,
           ', %d GPUs' % gpus if gpus else ''))
    if not todo:
        return []
    folder = os.path.join(out, 'slurm')
    for path in (folder, os.path.join(out, 'logs')):
        if not os.path.isdir(path):
            os.makedirs(path)
    script = os.path.join(folder, '%s-%s.sh' % (grid['name'], time.strftime('%Y%m%dT%H%M%S')))
    with open(script, 'w') as handle:
        handle.write(job_script(os.path.abspath(grid_path), os.path.abspath(out), todo,
                                grid.get('python') or sys.executable, cpus, gpus, extra,
                                'sweep-' + grid['name'],
                                data_dir=os.path.abspath(data_dir) if data_dir else None))
    job = _call(['sbatch', '--parsable', script]).strip().split(';')[0]
    say('sweep %s: submitted %s as Slurm job %s' % (grid['name'], script, job))
    shown = None
    try:
        while True:
            states = task_states(job)
            done = sum(1 for i in todo if sweep.finished(sweep.results_of(grid, runs[i], out)))
            line = ('sweep %s: Slurm job %s: %d done, %d running, %d pending'
                    % (grid['name'], job, done, states.get('R', 0) + states.get('CG', 0),
                       states.get('PD', 0)))
            if line != shown:
                say(line)
                shown = line
            if not states:
                break
            time.sleep(poll)
    except KeyboardInterrupt:
        say('sweep %s: Slurm job %s keeps running; `sweep.py %s --out %s --collect` writes the '
            'table later, the same command with --executor slurm submits what is unfinished'
            % (grid['name'], job, grid_path, out))
        raise
    failed = []
    for task, i in enumerate(todo):
        run = runs[i]
        if not sweep.finished(sweep.results_of(grid, run, out)):
            failed.append(run.label)
            say('sweep %s: FAILED %s (Slurm task %s_%d); its log: %s' % (
                grid['name'], run.label, job, task,
                sweep.log_path(grid, run, out)))
    return failed
