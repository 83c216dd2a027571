"""Peak memory of load_svhn with the extra set, on files of the real sizes.

Writes random ``train_32x32.mat`` (73,257 images), ``test_32x32.mat``
(26,032) and ``extra_32x32.mat`` (531,131) in the official layout, then, in a
fresh Python process, loads them with `datasets.load_svhn`, converts one
minibatch with `datasets.to_float`, and reports that process's peak resident
memory against the size of the uint8 arrays it returns.

Usage::

    python bench/speed/bench_svhn_memory.py            # 2.1 GB of .mat files in a temp dir
    python bench/speed/bench_svhn_memory.py --small    # 1/20 of the sizes
    python bench/speed/bench_svhn_memory.py --dir /tmp/svhn --keep
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

if not __package__:  # python bench/speed/x.py: the project root on sys.path
    sys.path.insert(0, os.path.abspath(os.path.join(__file__, '..', '..', '..')))
from bench import common  # noqa: E402

SIZES = (('train', 73257), ('test', 26032), ('extra', 531131))
MB = 2.0 ** 20


def write_files(folder, scale, seed=0):
    """Write the three .mat files, 1/`scale` of the real sizes; return the sizes."""
    import scipy.io
    rng = np.random.RandomState(seed)
    sizes = {}
    for name, n in SIZES:
        n //= scale
        # Fortran order is MATLAB's, so savemat writes the array without a copy.
        X = rng.randint(0, 256, 32 * 32 * 3 * n).astype(np.uint8).reshape(
            (32, 32, 3, n), order='F')
        y = rng.randint(1, 11, (n, 1)).astype(np.uint8)
        # The official files are zlib-compressed MATLAB 5 files; so are these.
        scipy.io.savemat(os.path.join(folder, name + '_32x32.mat'), {'X': X, 'y': y},
                         do_compression=True)
        sizes[name] = n
        del X
    return sizes


def child(folder, batch_size, scale):
    """Load, convert one minibatch, print the figures as JSON (runs in the subprocess)."""
    import datasets
    import scipy.io  # noqa: F401  (counted in the baseline, as in training)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.time()
    data = datasets.load_svhn(folder, download=False,
                              valid_per_class=(400 // scale, 200 // scale))
    loaded = time.time()
    batch = datasets.to_float(data['train'][0][:batch_size])
    # ru_maxrss is in kB on Linux, bytes on macOS.
    unit = 1 if sys.platform == 'darwin' else 1024
    print(json.dumps({
        'peak_rss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit,
        'baseline_rss': baseline * unit,
        'uint8_bytes': sum(X.nbytes + y.nbytes for X, y in data.values()),
        'images_bytes': sum(X.nbytes for X, _ in data.values()),
        'counts': dict((k, len(y)) for k, (X, y) in data.items()),
        'batch': [list(batch.shape), str(batch.dtype)],
        'load_s': loaded - start, 'total_s': time.time() - start}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--dir', help='folder for the .mat files (default: a temp dir)')
    parser.add_argument('--small', action='store_true', help='1/20 of the real sizes')
    parser.add_argument('--batch-size', type=int, default=50)
    parser.add_argument('--keep', action='store_true', help='keep the generated files')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    parser.add_argument('--generate', help=argparse.SUPPRESS)
    args = parser.parse_args()
    scale = 20 if args.small else 1
    if args.child:
        return child(args.child, args.batch_size, scale)
    if args.generate:
        print(json.dumps(write_files(args.generate, scale)))
        return

    folder = args.dir or tempfile.mkdtemp(prefix='svhn_bench_')
    if not os.path.isdir(folder):
        os.makedirs(folder)
    # Each step runs in its own process: Linux carries a parent's peak RSS
    # over to a vfork()ed child, so this process must stay small.
    def run(*options):
        output = subprocess.check_output([sys.executable, os.path.abspath(__file__)] +
                                         list(options) + (['--small'] if args.small else []))
        return json.loads(output.decode('utf-8').strip().splitlines()[-1])

    try:
        start = time.time()
        sizes = run('--generate', folder)
        print('wrote %s in %s (%.1f s)' % (', '.join('%s %d' % (k, sizes[k]) for k, _ in SIZES),
                                          folder, time.time() - start))
        result = run('--child', folder, '--batch-size', str(args.batch_size))
    finally:
        if not args.keep:
            for name, _ in SIZES:
                path = os.path.join(folder, name + '_32x32.mat')
                if os.path.exists(path):
                    os.remove(path)
            if not args.dir:
                os.rmdir(folder)
    peak, data = result['peak_rss'], result['uint8_bytes']
    print('python %s, numpy %s; %s' % (sys.version.split()[0], np.__version__,
                                        common.machine()))
    print('sets: %s; minibatch %s %s' % (
        ', '.join('%s %d' % (k, result['counts'][k]) for k in ('train', 'valid', 'test')),
        tuple(result['batch'][0]), result['batch'][1]))
    print('load_svhn: %.1f s (total with conversion %.1f s)' % (result['load_s'],
                                                                 result['total_s']))
    print('uint8 arrays (X and y):   %8.0f MB' % (data / MB))
    print('peak RSS of the loader:   %8.0f MB  (%.2f x the uint8 data; %.0f MB after '
          'imports)' % (peak / MB, peak / data, result['baseline_rss'] / MB))
    print('all images as float32:    %8.0f MB' % (4 * result['images_bytes'] / MB))


if __name__ == '__main__':
    main()
