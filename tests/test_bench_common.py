"""bench/common.py: where a benchmark ran, the command line, its JSON written atomically;
a script of bench/speed/ or bench/studies/ runs as a file from any folder."""
import json
import os
import subprocess
import sys

import pytest

from bench import common


def test_describes_this_machine():
    assert common.cpu_count() >= 1
    assert common.cpu_name().strip() != ''
    assert common.machine() == '%s, %d CPU cores' % (common.cpu_name(), common.cpu_count())
    load = common.load_average()
    assert load is None or (len(load) == 3 and min(load) >= 0)


def test_paths_and_the_command_line_from_the_project_root():
    assert os.path.isfile(os.path.join(common.ROOT, 'binary_net.py'))
    assert common.RESULTS == os.path.join(common.ROOT, 'bench', 'results')
    script = os.path.join(common.ROOT, 'bench', 'speed', 'x.py')
    assert common.command_line(script, ['--quick']) == 'python bench/speed/x.py --quick'
    python = os.path.join(common.ROOT, '.venv-bench', 'bin', 'python')
    assert common.command_line(script + 'c', [], python) == \
        '.venv-bench/bin/python bench/speed/x.py'
    assert common.command_line('/elsewhere/x.py', ['a'], '/usr/bin/python') == \
        '/usr/bin/python /elsewhere/x.py a'


def test_write_json_replaces_the_file_whole_and_leaves_no_temporary(tmp_path):
    path = str(tmp_path / 'sub' / 'result.json')
    common.write_json(path, {'b': 2, 'a': [1.5]})
    common.write_json(path, {'a': 1})
    with open(path) as handle:
        text = handle.read()
    assert json.loads(text) == {'a': 1} and text.endswith('\n')
    assert os.listdir(str(tmp_path / 'sub')) == ['result.json']
    assert common.read_json(path) == {'a': 1}


@pytest.mark.parametrize('script', ['bench/speed/gpu_profile_log.py',
                                    'bench/studies/mnist_protocol.py'])
def test_a_script_runs_as_a_file_from_another_folder(script, tmp_path):
    """Its sys.path preamble finds the project root (no PYTHONPATH, another cwd)."""
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    out = subprocess.check_output([sys.executable, os.path.join(common.ROOT, script), '--help'],
                                  cwd=str(tmp_path), env=env)
    assert out.decode('utf-8').startswith('usage: %s' % os.path.basename(script))
