#!/usr/bin/env python
"""Theano's per-op profile of a GPU training step, from a log into JSON.

``tools/gpu_cifar10.sh profile`` runs ``tools/gpu_step.py`` under Theano's
profiler (``profile=True``, ``CUDA_LAUNCH_BLOCKING=1``) and logs, for each
setting, a line ``[T s] profile: cifar10 --method M, batch B ...``, the
images/s of the timed steps and Theano's table of time per op class.  This
reads that log and writes, per setting, the images/s, every op class's share
and seconds, and the share of the convolutions (``GpuCorrMM*``: without
cuDNN, Theano's own im2col + cuBLAS GEMM convolutions)::

    python bench/speed/gpu_profile_log.py bench/results/gpu-h200-2026-12-04/profile-alone.log \\
        --device "NVIDIA H200, alone" --json bench/results/gpu-cifar10-profile-h200.json

Only the first table printed after each setting is read (Theano prints the
same summary again at exit).
"""
from __future__ import absolute_import, division, print_function

import argparse
import os
import re
import sys

if not __package__:  # python bench/speed/x.py: the project root on sys.path
    sys.path.insert(0, os.path.abspath(os.path.join(__file__, '..', '..', '..')))
from bench import common  # noqa: E402

SETTING = re.compile(r'^\[\d+ s\] profile: (\S+) --method (\S+), batch (\d+)')
SPEED = re.compile(r'^\s+(\d+) steps of batch (\d+): ([0-9.]+) images/s')
CLASS_ROW = re.compile(r'^\s+([0-9.]+)%\s+[0-9.]+%\s+([0-9.]+)s\s+\S+\s+\S+\s+(\d+)\s+(\d+)\s+(\S+)$')


def parse(lines):
    """[{script, method, batch, images_per_second, classes: [...]}, ...]."""
    settings, current, in_table = [], None, False
    for line in lines:
        match = SETTING.match(line)
        if match:
            current = dict(script=match.group(1), method=match.group(2),
                           batch=int(match.group(3)), images_per_second=None, classes=[])
            settings.append(current)
            in_table = False
            continue
        if current is None:
            continue
        match = SPEED.match(line)
        if match:
            current['images_per_second'] = float(match.group(3))
            current['timed_steps'] = int(match.group(1))
        elif 'Class name' in line:
            in_table = not current['classes']
        elif in_table:
            match = CLASS_ROW.match(line)
            if match:
                current['classes'].append(dict(
                    op_class=match.group(5), share=float(match.group(1)) / 100,
                    seconds=float(match.group(2)), calls=int(match.group(3)),
                    applies=int(match.group(4))))
            elif current['classes']:
                in_table = False
    for setting in settings:
        setting['convolution_share'] = round(sum(
            c['share'] for c in setting['classes'] if 'CorrMM' in c['op_class']), 4)
    return settings


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('log')
    p.add_argument('--device', required=True, help='where it ran, in words')
    p.add_argument('--json', help='write the result here')
    args = p.parse_args(argv)
    with open(args.log) as handle:
        settings = parse(handle.read().splitlines())
    if not settings:
        print('gpu_profile_log: error: no profile found in %s' % args.log, file=sys.stderr)
        return 2
    for s in settings:
        print('%s --method %s, batch %d: %s images/s, convolutions %.1f%% of the step'
              % (s['script'], s['method'], s['batch'], s['images_per_second'],
                 100 * s['convolution_share']))
    if args.json:
        common.write_json(args.json, dict(device=args.device, log=args.log, settings=settings,
                                          command=common.command_line(__file__, argv)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
