"""run_exits: one line and an exit status for each way a run stops; the command that resumes."""
import sys

import pytest

import run_exits


def test_missing_data_gives_one_line_and_exit_2(tmp_path, capsys):
    import mnist
    with pytest.raises(SystemExit) as stop:
        mnist.main(['--data-dir', str(tmp_path / 'nothing'), '--results-dir',
                    str(tmp_path)], num_epochs=1)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'nothing' in err
    assert '--download' in err and not (tmp_path / 'nothing').exists()  # no folder, no download


def test_resume_command_names_the_interpreter_as_typed_here(tmp_path, monkeypatch):
    (tmp_path / 'env' / 'bin').mkdir(parents=True)
    (tmp_path / 'elsewhere').mkdir()
    python = str(tmp_path / 'env' / 'bin' / 'python')
    monkeypatch.setattr(sys, 'executable', python)
    monkeypatch.setattr(sys, 'argv', ['mnist.py', '--epochs', '3'])
    for folder, expected in (('', 'env/bin/python mnist.py --epochs 3'),
                             ('env/bin', './python mnist.py --epochs 3'),
                             ('elsewhere', python + ' mnist.py --epochs 3')):
        monkeypatch.chdir(str(tmp_path / folder))
        assert run_exits.resume_command() == expected
    assert run_exits.resume_command(['--a', 'b c']).endswith("mnist.py --a 'b c'")


def test_the_line_after_a_stop_says_where_it_stopped_and_what_is_safe(tmp_path, monkeypatch):
    import errno
    import run_files
    monkeypatch.chdir(str(tmp_path))
    monkeypatch.setattr(sys, 'executable', '/usr/bin/python')
    monkeypatch.setattr(sys, 'argv', ['mnist.py'])
    status = dict(checkpoint='r/checkpoint.npz', saved_epoch=2, epoch=3, minibatch=5,
                  batches=50, phase='training')
    safe = ('epochs up to 2 are safe in r/checkpoint.npz; the same command resumes after '
            'epoch 2: /usr/bin/python mnist.py --epochs 9')
    assert run_exits.interrupted_message(status, ['--epochs', '9']) == \
        'interrupted at epoch 3, minibatch 5 of 50; ' + safe
    status['phase'] = 'evaluating'
    assert run_exits.interrupted_message(status, ['--epochs', '9'], 'SIGTERM') == \
        'interrupted by SIGTERM at epoch 3, after its training (evaluating or saving); ' + safe
    denied = run_files.WriteError(errno.EACCES, 'Permission denied', 'r/results.json')
    assert run_exits.write_failed_message(denied, dict(saved_epoch=None)) == \
        'cannot write r/results.json (Permission denied); no epoch had finished, so nothing ' \
        'was saved'


@pytest.mark.parametrize('error, status', [
    (run_exits.UsageError('bad'), 2), (run_exits.TrainingDiverged('nan'), 3),
    (KeyboardInterrupt(), 130)])
def test_each_failure_is_one_line_and_its_exit_status(capsys, error, status):
    with pytest.raises(SystemExit) as stop:
        with run_exits.exits_on_failure('toy', {}):
            raise error
    assert stop.value.code == status == run_exits.EXIT_STATUS[
        {2: 'bad input', 3: 'training diverged', 130: 'Ctrl-C'}[status]]
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
