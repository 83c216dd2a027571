"""bench/machine.py: where a benchmark ran, and its JSON written atomically."""
import json
import os
import sys

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, 'bench'))
import machine  # noqa: E402


def test_describes_this_machine():
    assert machine.cpu_count() >= 1
    assert machine.cpu_name().strip() != ''
    load = machine.load_average()
    assert load is None or (len(load) == 3 and min(load) >= 0)


def test_write_json_replaces_the_file_whole_and_leaves_no_temporary(tmp_path):
    path = str(tmp_path / 'sub' / 'result.json')
    machine.write_json(path, {'b': 2, 'a': [1.5]})
    machine.write_json(path, {'a': 1})
    with open(path) as handle:
        text = handle.read()
    assert json.loads(text) == {'a': 1} and text.endswith('\n')
    assert os.listdir(str(tmp_path / 'sub')) == ['result.json']
