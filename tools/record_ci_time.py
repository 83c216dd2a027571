#!/usr/bin/env python3
"""Add one timed .ci/run (tools/fresh-ci.sh) to a JSON list of runs.

    python3 tools/record_ci_time.py RESULTS.json CI.LOG cold|warm SECONDS STATUS COMMIT

Keeps the suites' summary lines from the log (what ran, how long each suite took),
the date and the machine.
"""
import json
import os
import platform
import re
import sys
import time


def _in_repository(path):
    """``path`` relative to the checkout that holds it (this script's), as typed there."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.relpath(os.path.abspath(path), root)


def main(argv):
    path, log, caches, seconds, status, commit = argv
    with open(log) as handle:
        text = handle.read().split('fresh-ci: %s in ' % commit)[-1]
    # make test's own summary: its time, then one line per suite and the total.
    ending = text.split('==== make test: ')[-1]
    summary = ['make test: ' + ending.split(' ====')[0]] + [
        line for line in ending.splitlines()
        if re.match(r'^(Python \S+ \(\S+\): |total: |ci: )', line)]
    with open('/proc/cpuinfo') as handle:
        model = [l.split(':', 1)[1].strip() for l in handle if l.startswith('model name')]
    record = dict(commit=commit, date=time.strftime('%Y-%m-%d', time.gmtime()), caches=caches,
                  seconds=int(seconds), minutes=round(int(seconds) / 60.0, 1),
                  exit_status=int(status), summary=summary,
                  machine='%d cores, %s' % (os.cpu_count(), model[0] if model else
                                            platform.machine()),
                  command='tools/fresh-ci.sh FOLDER %s (cold: a new FOLDER; warm: the same '
                          'FOLDER again)' % _in_repository(path))
    runs = []
    if os.path.exists(path):
        with open(path) as handle:
            runs = json.load(handle)
    runs.append(record)
    with open(path, 'w') as handle:
        json.dump(runs, handle, indent=1)
        handle.write('\n')
    print('fresh-ci: recorded in %s' % path)


if __name__ == '__main__':
    main(sys.argv[1:])
