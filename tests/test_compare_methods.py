"""bench/compare_methods.py end to end on a tiny protocol (two methods, one epoch)."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'bench'))

import compare_methods  # noqa: E402


def test_compare_methods_writes_a_row_per_method_and_resumes(tmp_path, mnist_dir, capsys):
    argv = ['--data-dir', mnist_dir, '--only', 'gxnor,fp', '--epochs', '1',
            '--train-size', '300', '--val-size', '200', '--test-size', '200',
            '--out', str(tmp_path)]
    compare_methods.main(argv)
    table = (tmp_path / 'table.md').read_text()
    rows = [line for line in table.splitlines() if line.startswith('| gxnor') or
            line.startswith('| fp')]
    assert len(rows) == 2
    gxnor, fp = [row.split('|')[1:-1] for row in rows]
    assert [c.strip() for c in gxnor[1:3]] == ['ternary', 'ternary']
    assert [c.strip() for c in fp[1:3]] == ['float', 'float']
    assert gxnor[-1].strip() == '0.68' and fp[-1].strip() == '0.52'  # the paper's column
    for row in (gxnor, fp):
        err = float(row[3].split()[0])
        assert 0 <= err < 90  # trained one epoch on 300 images: better than chance
    logs = os.listdir(str(tmp_path / 'logs'))
    assert len(logs) == 2
    assert capsys.readouterr().out.count('exit 0 after') == 2
    # Again: both runs are finished, so nothing trains and the same table comes back.
    compare_methods.main(argv)
    assert (tmp_path / 'table.md').read_text().split('\n', 1)[1] == table.split('\n', 1)[1]
    assert capsys.readouterr().out.count('finished earlier') == 2
