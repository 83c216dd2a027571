"""Where a benchmark ran, and its JSON: shared by the scripts in bench/.

Also the project's paths, the command line of a result, the modules of tools/.
NumPy-free and Theano-free, so that the engine's benchmark can use it in an
environment without Theano.

Examples
--------
>>> cpu_count() >= 1
True
>>> isinstance(cpu_name(), str) and cpu_name() != ''
True
"""
from __future__ import absolute_import, division, print_function

import importlib
import json
import os
import platform
import sys

__all__ = ['ROOT', 'RESULTS', 'cpu_name', 'cpu_count', 'load_average', 'write_json', 'read_json',
           'redraw',
           'machine', 'command_line', 'tool']

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # the project's root
RESULTS = os.path.join(ROOT, 'bench', 'results')                    # the committed results


def cpu_name():
    """The processor's model name (/proc/cpuinfo), else what platform says."""
    try:
        with open('/proc/cpuinfo') as handle:
            for line in handle:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except (IOError, OSError):
        pass
    return platform.processor() or platform.machine()


def cpu_count():
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:          # Python 2.7
        import multiprocessing
        return multiprocessing.cpu_count()


def load_average():
    """[1, 5, 15-minute load averages], or None where the system has none."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def write_json(path, obj):
    """Write ``obj`` to ``path`` atomically (a crash leaves the old file)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        os.makedirs(folder)
    with open(path + '.tmp', 'w') as out:
        json.dump(obj, out, indent=1, sort_keys=True)
        out.write('\n')
    os.rename(path + '.tmp', path)


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


def redraw(argv, doc, prog, what, draw):
    """The command of a module that draws figures from JSON files (``prog FILE...``):
    ``draw(data, path)`` returns the figure's path, or None when there is nothing to draw.
    A file that cannot be read or drawn is one ``error:`` line and exit status 2; without
    files, the usage and exit status 2."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths or paths[0] in ('-h', '--help'):
        print('%s\n\nusage: python %s FILE.json...' % (doc.split('\n\n')[0], prog))
        return 0 if paths else 2
    for path in paths:
        try:
            figure = draw(read_json(path), path)
        except (IOError, OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            sys.stderr.write('%s: error: %s is not %s (%s)\n'
                             % (prog, path, what, getattr(err, 'strerror', None) or err))
            return 2
        print('wrote %s' % figure if figure else '%s: nothing to draw' % path)
    return 0


def machine():
    """Where a run ran, in one line: 'CPU name, N CPU cores'."""
    return '%s, %d CPU cores' % (cpu_name(), cpu_count())


def command_line(script, argv=None, python='python'):
    """'python bench/speed/x.py ARGV' of a ``__file__``; paths inside the project relative."""
    words = [python, script[:-1] if script.endswith('.pyc') else script]
    for i, path in enumerate(words):
        if os.path.abspath(path).startswith(ROOT + os.sep) and (i or os.path.isabs(path)):
            words[i] = os.path.relpath(os.path.abspath(path), ROOT).replace(os.sep, '/')
    return ' '.join(words + list(sys.argv[1:] if argv is None else argv))


def tool(name):
    """The module ``name`` of tools/ (``tool('gpu_step')``: tools/gpu_step.py)."""
    folder = os.path.join(ROOT, 'tools')
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name)
