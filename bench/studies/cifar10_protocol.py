#!/usr/bin/env python
"""The runs of `make cifar10`'s protocol: one JSON file, one table.

The same as ``bench/studies/mnist_protocol.py`` for CIFAR-10 (JPEG copy): each run is
recorded from the ``results.json`` that ``cifar10.py`` wrote, with the command
that made it and where it ran, in ``bench/results/cifar10_protocol.json``::

    python bench/studies/cifar10_protocol.py add RESULTS_DIR/<run>/results.json \\
        --command "make cifar10" --device "2-core CPU (this project's machine)"
    python bench/studies/cifar10_protocol.py table        # markdown, for the README

A run's departures from the paper's method (cifar10.py's defaults: the
paper's widths, the authors' augmentation) are named in its row.
"""
from __future__ import absolute_import, division, print_function

import os
import sys

if not __package__:  # python bench/studies/x.py: the project root on sys.path
    sys.path.insert(0, os.path.abspath(os.path.join(__file__, '..', '..', '..')))
from bench.studies import mnist_protocol  # noqa: E402

if __name__ == '__main__':
    sys.exit(mnist_protocol.main(dataset='cifar10'))
