"""The Makefile's system set-up: what `make test` does before any suite runs."""
import os
import subprocess

import pytest

from conftest import ROOT

FAKE_APT_GET = '''#!/bin/sh
# records when each call starts and ends; holds on a moment, as apt-get does
echo "start $$ $*" >> "%(log)s"
sleep 0.5
echo "end $$" >> "%(log)s"
'''


@pytest.mark.skipif(not hasattr(os, 'geteuid') or os.geteuid() != 0,
                    reason='the Makefile calls apt-get as root only')
def test_targets_installing_packages_in_parallel_never_run_two_apt_gets_at_once(tmp_path):
    # On a new machine `make test` (-j2) found the packages of two targets missing at
    # once, and the second apt-get failed on the first one's lock: no suite ran.
    log = str(tmp_path / 'apt.log')
    fake = str(tmp_path / 'apt-get')
    with open(fake, 'w') as handle:
        handle.write(FAKE_APT_GET % dict(log=log))
    os.chmod(fake, 0o755)
    proc = subprocess.Popen(
        ['make', '-s', '-j3', '-C', ROOT, 'gpu-sysdeps', 'slurm-sysdeps', 'APT=' + fake,
         'APT_LOCK=' + str(tmp_path / 'lock'), 'GPU_DEBS=gxnor-test-missing-a',
         'SLURM_DEBS=gxnor-test-missing-b'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    output = proc.communicate()[0]
    assert proc.returncode == 0, output
    with open(log) as handle:
        events = handle.read().split('\n')[:-1]
    # both targets installed their package, each after an update ...
    calls = [e.split(' ', 2)[2] for e in events if e.startswith('start')]
    for package in ('gxnor-test-missing-a', 'gxnor-test-missing-b'):
        assert [c for c in calls if package in c] == ['install -y -q %s' % package]
    assert calls.count('update -q') == 2
    # ... and every call ended before the next one started
    assert [e.split()[0] for e in events] == ['start', 'end'] * 4
    assert all(events[i].split()[1] == events[i + 1].split()[1] for i in range(0, 8, 2))
