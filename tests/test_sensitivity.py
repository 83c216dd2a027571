"""bench/studies/sensitivity.py: settings, flags, and two settings end to end."""
import json

import pytest

from bench.studies import sensitivity


def test_settings_vary_one_parameter_at_a_time():
    points = sensitivity.settings()
    assert len(points) == sum(len(v) for v in sensitivity.GRID.values())
    assert ('r', 0.25) in points and ('N', 3) in points and ('act_N', 0) in points
    assert sensitivity.settings(only='a') == [('a', 0.25), ('a', 0.5), ('a', 1.0)]
    assert sensitivity.settings(points='m=10,act_N=2') == [('m', 10.0), ('act_N', 2)]
    for bad in (dict(only='q'), dict(points='r'), dict(points='x=1')):
        with pytest.raises(ValueError):
            sensitivity.settings(**bad)
    flags = sensitivity.setting_flags('N', 2)
    assert flags[flags.index('--N') + 1] == '2'
    assert flags[flags.index('--r') + 1] == '1.0' and flags[flags.index('--act-N') + 1] == '1'


def test_two_settings_end_to_end(tmp_path, mnist_dir, capsys):
    out = tmp_path / 'sens'
    argv = ['--data-dir', mnist_dir, '--settings', 'r=0.5,N=2', '--epochs', '1',
            '--train-size', '300', '--val-size', '200', '--test-size', '200',
            '--out', str(out)]
    assert sensitivity.main(argv) == 0
    assert capsys.readouterr().out.count('exit 0 after') == 2
    summary = json.loads((out / 'sensitivity.json').read_text())
    records = summary['records']
    assert [(r['param'], r['value']) for r in records] == [('r', 0.5), ('N', 2)]
    for r in records:
        # learning, not chance (90%): 300 images, 1 epoch gave 45.0% (r = 0.5) and 61.5%
        # (N = 2) on 200 test images (standard error about 3.5 points)
        assert 0 <= r['test_err_at_best_val'] < 75
        assert 0 < r['gate_closed_share'] < 1 and 0 < r['activation_zero_share'] < 1
        assert [l['name'] for l in r['layers']] == ['conv1', 'conv2', 'fc3', 'fc4']
        assert r['layers'][0]['input_zero_share'] == 0.0
    # 5 weight states: zeros are one state in five, far fewer than ternary's one in three
    # (uniform initial weights in [-1, 1] snap to the nearest state)
    assert records[1]['layers'][2]['weight_zero_share'] < 0.3
    assert (out / 'sensitivity.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    # Again: both runs read back, nothing trains, same records.
    assert sensitivity.main(argv) == 0
    assert capsys.readouterr().out.count('finished earlier') == 2
    again = json.loads((out / 'sensitivity.json').read_text())['records']
    assert again == records
    png = tmp_path / 'again.png'
    assert sensitivity.main(['--plot', str(out / 'sensitivity.json'), '--png', str(png)]) == 0
    assert png.read_bytes()[:4] == b'\x89PNG'
