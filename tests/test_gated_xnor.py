"""Tests of gated_xnor.py, the engine's facade (its names and its command line)."""
from __future__ import absolute_import, division, print_function

import importlib
import os
import subprocess
import sys

from conftest import ROOT
import gated_xnor as gx

ENGINE_MODULES = ['activations', 'builder', 'command', 'model', 'packing', 'popcount',
                  'products', 'spec', 'thresholds']


def test_public_names_are_the_engine_modules_objects():
    """Every name of gated_xnor.__all__ is listed in the __all__ of exactly one
    engine module, and is that module's very object, not a copy."""
    owners = {}
    for name in ENGINE_MODULES:
        module = importlib.import_module('gxnor_engine.' + name)
        for public in module.__all__:
            owners.setdefault(public, []).append(module)
    assert len(gx.__all__) == len(set(gx.__all__))
    for public in gx.__all__:
        assert len(owners.get(public, [])) == 1, public
        assert getattr(gx, public) is getattr(owners[public][0], public), public


def test_file_runs_the_command(tmpdir):
    """``python gated_xnor.py MODEL``: the command's exit status and its one error line."""
    missing = os.path.join(str(tmpdir), 'missing.npz')
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, 'gated_xnor.py'), missing],
                               cwd=str(tmpdir), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate()
    assert process.returncode == 2 and out == b''
    assert err.decode('utf-8') == 'error: %s: no such file\n' % missing
