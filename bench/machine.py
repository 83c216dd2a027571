"""Where a benchmark ran, and its JSON: shared by the scripts in bench/.

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

import json
import os
import platform

__all__ = ['cpu_name', 'cpu_count', 'load_average', 'write_json']


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
