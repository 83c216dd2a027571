"""grids/: every grid file the project ships runs as its scripts would take it."""
import glob
import importlib
import os

import pytest

import methods
import run_options
import sweep
from bench import common
from conftest import ROOT

GRIDS = sorted(glob.glob(os.path.join(ROOT, 'grids', '*.json')))


def test_the_grids_are_there():
    assert [os.path.basename(g) for g in GRIDS] == [
        'cifar10-fp-lr.json', 'paper-cifar10.json', 'paper-mnist-lr.json', 'paper-mnist.json',
        'paper-svhn.json']


def finished_runs(table):
    """How many runs of a sweep's table (bench/results/<grid>.json) have finished."""
    return sum(sum(e['runs'] for e in row['search']) if 'search' in row else len(row['runs'])
               for row in table['rows'])


@pytest.mark.parametrize('path', GRIDS, ids=os.path.basename)
def test_every_run_of_a_grid_is_a_command_its_script_takes(path):
    grid = sweep.load_grid(path)
    assert grid['about'] and grid['name'] == os.path.basename(path)[:-len('.json')]
    try:
        runs = sweep.expand(grid)
    except sweep.GridError:
        # A table grid whose LRs methods.py does not hold yet: only while its LR search
        # (grids/<name>-lr.json, its table in bench/results/) has runs left to finish.
        search = sweep.load_grid(path.replace('.json', '-lr.json'))
        table = common.read_json(os.path.join(ROOT, 'bench', 'results', search['name'] + '.json'))
        assert finished_runs(table) < len(sweep.expand(search))
        runs = sweep.expand(dict(grid, lr_protocol=None))
    script = importlib.import_module(os.path.splitext(grid['script'])[0])
    for run in runs:
        assert run.method in methods.METHODS
        args = run_options.parse_args(script.EXPERIMENT, run.argv)   # UsageError if not
        assert (args.method, args.seed) == (run.method, run.seed)
        if run.lr is not None:
            assert args.lr_start == run.lr
    # each run has its own name: none takes another's results over
    assert len(set(sweep.run_name(grid, run) for run in runs)) == len(runs)
