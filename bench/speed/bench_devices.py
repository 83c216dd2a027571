#!/usr/bin/env python
"""Training-step throughput of each script on the device THEANO_FLAGS selects.

Runs ``tools/gpu_step.py`` for the configurations below, one at a time (each
compiles, then times its steps after the LR-0 snap step), and writes one JSON
file::

    THEANO_FLAGS=device=cpu python bench/speed/bench_devices.py --out bench/results/devices-cpu.json
    THEANO_FLAGS=device=cuda,dnn.enabled=False python bench/speed/bench_devices.py --out gpu.json

``--from-log LOG`` reads the output of such ``gpu_step.py`` commands run by
hand (as on a lent GPU machine) instead of running them.  Images/s are of
the training step alone (random inputs, no data loading, no evaluation).
"""
from __future__ import absolute_import, division, print_function

import argparse
import os
import re
import subprocess
import sys
import time

if not __package__:  # python bench/speed/x.py: the project root on sys.path
    sys.path.insert(0, os.path.abspath(os.path.join(__file__, '..', '..', '..')))
from bench import common  # noqa: E402
from bench.common import ROOT  # noqa: E402

TOOL = os.path.join(ROOT, 'tools', 'gpu_step.py')

# (script, batch size, timed steps): the authors' MNIST batch, the CPU
# protocol's, BinaryNet's small one; CIFAR-10's and SVHN's defaults.
CONFIGS = [('mnist', 10000, 5), ('mnist', 1000, 20), ('mnist', 100, 20),
           ('cifar10', 1000, 5), ('svhn', 50, 20), ('svhn', 1000, 5)]
LINE = re.compile(r'^(\w+) on (.+?): (\d+) ops in the training step')
RATE = re.compile(r'^\s+(\d+) steps of batch (\d+): ([\d.]+) images/s')


def parse(text):
    """Records from gpu_step.py output (one per timed run)."""
    records, current = [], None
    for line in text.splitlines():
        found = LINE.match(line)
        if found:
            current = dict(script=found.group(1), device=found.group(2),
                           ops=int(found.group(3)), host_ops=None)
            host = re.search(r', (\d+) on the host apart', line)
            if host:
                current['host_ops'] = int(host.group(1))
            continue
        found = RATE.match(line)
        if found and current is not None:
            records.append(dict(current, steps=int(found.group(1)),
                                batch_size=int(found.group(2)),
                                images_per_second=float(found.group(3))))
            current = None
    return records


def run_configs(configs, max_images=0):
    records = []
    for script, batch, steps in configs:
        if max_images:  # fewer timed steps on a slow device, at least one
            steps = max(1, min(steps, max_images // batch))
        command = [sys.executable, TOOL, '--steps', str(steps), '--batch-size', str(batch),
                   script]
        started = time.time()
        out = subprocess.check_output(command, cwd=ROOT, stderr=subprocess.STDOUT).decode('utf-8')
        found = parse(out)
        for record in found:
            record['command'] = ' '.join(['tools/gpu_step.py'] + command[2:])
            record['wall_seconds'] = round(time.time() - started, 1)
        records += found
        print(out.strip().splitlines()[-1])
        sys.stdout.flush()
    return records


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', required=True, help='JSON file to write')
    p.add_argument('--from-log', help='parse this gpu_step.py output instead of running')
    p.add_argument('--machine', default='', help='what ran it, for the file')
    p.add_argument('--only', default='', help='comma-separated scripts to run (default: all)')
    p.add_argument('--max-images', type=int, default=0,
                   help='time at most this many images per configuration (0: no cap)')
    p.add_argument('--theano-flags', default=os.environ.get('THEANO_FLAGS', ''),
                   help='THEANO_FLAGS to record (default: this environment\'s)')
    args = p.parse_args(argv)
    if args.from_log:
        with open(args.from_log) as handle:
            records = parse(handle.read())
        for r in records:
            r['command'] = ('tools/gpu_step.py --require-gpu --steps %d --batch-size %d %s'
                            % (r['steps'], r['batch_size'], r['script']))
    else:
        configs = [c for c in CONFIGS if not args.only or c[0] in args.only.split(',')]
        records = run_configs(configs, args.max_images)
    info = dict(date=time.strftime('%Y-%m-%d'), machine=args.machine or common.machine(),
                theano_flags=args.theano_flags, source=args.from_log or 'run',
                records=records)
    common.write_json(args.out, info)
    for r in records:
        print('%-8s batch %5d: %9.1f images/s  (%s)' % (r['script'], r['batch_size'],
                                                        r['images_per_second'], r['device']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
