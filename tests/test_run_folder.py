"""run_folder: opening a run's folder, resuming from it or setting it aside, before anything
is compiled; the versions a run records."""
import json
import os
import sys

import numpy as np
import pytest
import theano

import binary_net
import run_folder
import run_options


def test_a_folder_left_holding_only_its_lock_is_reused_and_said_so(tiny, capsys):
    """A run killed (SIGKILL) before its first epoch leaves results/<run>/.lock alone."""
    experiment, common, tmp_path = tiny
    folder = tmp_path / 'results' / 'early'
    folder.mkdir(parents=True)
    (folder / '.lock').write_bytes(b'')
    summary = binary_net.main(experiment, common + ['--run-name', 'early'], num_epochs=1)
    assert summary['epochs_done'] == 1
    assert 'Reusing %s: a run stopped before its first epoch' % folder in capsys.readouterr().out
    assert (folder / 'checkpoint.npz').exists()


def test_resume_refuses_other_hyperparameters_and_fresh_sets_aside(tiny, capsys):
    experiment, common, tmp_path = tiny
    binary_net.main(experiment, common + ['--run-name', 'r', '--epochs', '1'])
    with pytest.raises(SystemExit) as stop:
        binary_net.main(experiment, common + ['--run-name', 'r', '--epochs', '1',
                                              '--lr-start', '0.5'])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'lr_start 0.03 -> 0.5' in err
    assert 'pass another --run-name' in err   # the user named this run already
    binary_net.main(experiment, common + ['--run-name', 'r', '--epochs', '1', '--fresh'])
    names = os.listdir(str(tmp_path / 'results'))
    assert 'r' in names and any(n.startswith('r.old-') for n in names)


def test_resume_check_compares_as_saved_so_tuples_match_their_json_lists():
    # cifar10.py --widths is a tuple; the checkpoint gives it back as a JSON list.
    current = {'widths': (32, 64, 128, 256), 'method': 'gxnor', 'lr_start': 0.01}
    saved = json.loads(json.dumps(current))
    run_folder.check_resumable(saved, current, 'c.npz')          # the same run: resumes
    with pytest.raises(run_folder.UsageError) as err:
        run_folder.check_resumable(saved, dict(current, widths=(32, 64, 128, 512)), 'c.npz')
    assert 'widths [32, 64, 128, 256] -> [32, 64, 128, 512]' in str(err.value)


def test_existing_model_without_checkpoint_is_set_aside_not_overwritten(tiny):
    experiment, common, tmp_path = tiny
    (tmp_path / 'weights').mkdir()
    (tmp_path / 'weights' / 'kept.npz').write_bytes(b'earlier model')
    binary_net.main(experiment, common + ['--run-name', 'kept', '--epochs', '1'])
    old = [n for n in os.listdir(str(tmp_path / 'weights')) if n.startswith('kept.npz.old-')]
    assert len(old) == 1
    assert (tmp_path / 'weights' / old[0]).read_bytes() == b'earlier model'
    assert 'gxnor-model' in str(np.load(str(tmp_path / 'weights' / 'kept.npz'))['__meta__'])


def test_folder_that_cannot_hold_the_run_is_refused_before_compiling(tiny, capsys):
    experiment, common, tmp_path = tiny
    sizes = common[:6]
    (tmp_path / 'afile').write_bytes(b'')
    before = sorted(os.listdir(str(tmp_path)))
    for flags, flag in ((['--results-dir', str(tmp_path / 'afile')], '--results-dir'),
                        (['--results-dir', str(tmp_path / 'results'), '--weights-dir',
                          str(tmp_path / 'afile' / 'models')], '--weights-dir')):
        with pytest.raises(SystemExit) as stop:
            binary_net.main(experiment, sizes + flags)
        assert stop.value.code == 2
        out, err = capsys.readouterr()
        assert 'Building the network' not in out
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith('tiny: error: %s ' % flag), err
        assert '%s is a file, not a folder' % (tmp_path / 'afile') in lines[0]
        assert sorted(os.listdir(str(tmp_path))) == before   # nothing created, nothing left


def test_checkpoint_that_cannot_be_resumed_is_one_line_before_compiling(tiny, capsys):
    experiment, common, tmp_path = tiny
    flags = common + ['--run-name', 'damaged']
    folder = tmp_path / 'results' / 'damaged'
    folder.mkdir(parents=True)
    path = folder / 'checkpoint.npz'
    progress = dict(next_epoch=1, history=[], versions=dict(python='3.99.0', theano='9.9',
                                                            numpy='9.9'),
                    config=run_options.run_config(run_options.parse_args(experiment, flags)))
    np.savez(str(path), **{'param:x': np.zeros(3000, np.float32),
                           '__progress__': np.array(json.dumps(progress))})
    other_versions = path.read_bytes()
    python = '%d.%d.%d' % sys.version_info[:3]
    for data, reason in ((other_versions[:len(other_versions) // 2], 'it is truncated or damaged'),
                         (b'\x00' * 5000, 'it is not a checkpoint (not an .npz archive)'),
                         (other_versions, 'it was written under other versions (Python 3.99.0 -> '
                          '%s, Theano 9.9 -> %s' % (python, theano.__version__))):
        path.write_bytes(data)
        with pytest.raises(SystemExit) as stop:
            binary_net.main(experiment, flags)
        assert stop.value.code == 2
        out, err = capsys.readouterr()
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(
            'tiny: error: cannot resume from %s: %s' % (path, reason)), err
        assert ('pass another --run-name' if 'versions' in reason else 'pass --fresh') in lines[0]
        assert 'Building the network' not in out and path.read_bytes() == data
    assert sorted(os.listdir(str(folder))) == ['.lock', 'checkpoint.npz']


def test_folders_made_are_the_ones_removed(tmp_path):
    (tmp_path / 'a').mkdir()
    made = run_folder.make_folders(str(tmp_path / 'a' / 'b' / 'c'))
    assert made == [str(tmp_path / 'a' / 'b'), str(tmp_path / 'a' / 'b' / 'c')]
    (tmp_path / 'a' / 'b' / 'c' / '.lock').write_bytes(b'1\n')
    run_folder.remove_folders(made, ['.lock'])
    assert os.listdir(str(tmp_path / 'a')) == []


def test_versions_that_change_the_numbers():
    current = run_folder.software_versions()
    assert sorted(current) == ['numpy', 'python', 'theano']
    assert current['python'] == '%d.%d.%d' % sys.version_info[:3]
    saved = dict(current)
    saved['python'] = '.'.join(current['python'].split('.')[:2] + ['99'])
    assert run_folder.version_change(saved, current) == ''   # a bug-fix release: same numbers
    other = dict(python='2.7.18', theano='0.8.2', numpy='1.16.6')
    assert run_folder.version_change(other, dict(other, numpy='1.23.5')) == \
        'NumPy 1.16.6 -> 1.23.5'
    assert run_folder.version_change(other, dict(python='3.11.7', theano='0.8.2',
                                                numpy='1.16.6')) == 'Python 2.7.18 -> 3.11.7'
