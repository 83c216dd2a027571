"""bench/studies/compare_methods.py: LR chosen on validation, then every seed; tiny end to end."""
import json
import os

from conftest import ROOT

from bench.studies import compare_methods


def test_lr_is_chosen_on_validation_error_never_on_test_error():
    grid = [dict(lr=0.003, best_val_err=3.0, test_err_at_best_val=1.0, best_test_err=0.9),
            dict(lr=0.01, best_val_err=2.0, test_err_at_best_val=2.5, best_test_err=2.4),
            dict(lr=0.03, best_val_err=2.0, test_err_at_best_val=2.2, best_test_err=2.1),
            dict(lr=0.1, best_val_err=None, note='diverged')]
    assert compare_methods.choose_lr(grid)['lr'] == 0.01     # tie on validation: smaller LR
    grid[2]['best_val_err'] = 1.9
    assert compare_methods.choose_lr(grid)['lr'] == 0.03
    # Making the test errors favour another LR changes nothing.
    for g in grid[:3]:
        g['test_err_at_best_val'] = g['best_test_err'] = 50.0
    grid[0]['test_err_at_best_val'] = grid[0]['best_test_err'] = 0.0
    assert compare_methods.choose_lr(grid)['lr'] == 0.03
    assert compare_methods.choose_lr([dict(lr=0.1, best_val_err=None)]) is None


def test_grid_then_seeds_end_to_end_and_resume(tmp_path, mnist_dir, capsys):
    out = tmp_path / 'cmp'
    argv = ['--data-dir', mnist_dir, '--only', 'gxnor', '--epochs', '1',
            '--train-size', '300', '--val-size', '200', '--test-size', '200',
            '--lrs', '0.01,0.1', '--seeds', '1234,1', '--out', str(out)]
    assert compare_methods.main(argv) == 0
    assert capsys.readouterr().out.count('exit 0 after') == 3   # 2 LRs, then the 2nd seed
    summary = json.loads((out / 'compare_methods.json').read_text())
    row, = summary['rows']
    assert [g['lr'] for g in row['grid']] == [0.01, 0.1]
    chosen = compare_methods.choose_lr(row['grid'])
    assert row['chosen_lr'] == chosen['lr']
    assert [r['seed'] for r in row['runs']] == [1234, 1]
    assert all(r['lr'] == row['chosen_lr'] for r in row['runs'])
    errors = [r['test_err_at_best_val'] for r in row['runs']]
    assert row['test_err_at_best_val_range'] == [min(errors), max(errors)]
    assert abs(row['test_err_at_best_val_mean'] - sum(errors) / 2) < 1e-9
    assert (row['weights'], row['activations']) == ('ternary', 'ternary')
    table = (out / 'table.md').read_text()
    line, = [l for l in table.splitlines() if l.startswith('| gxnor |') and 'ternary' in l]
    cells = [c.strip() for c in line.split('|')[1:-1]]
    assert cells[3] == '%g' % row['chosen_lr'] and cells[-1] == '0.68'
    # Learning, not chance (90%): 300 images, 1 epoch, 200 test images gave 50.5-56.5%
    # (standard error about 3.5 points), so 75 leaves about 5 standard errors.
    assert 0 <= float(cells[4].split()[0]) < 75
    # Again: every run is finished, nothing trains, the same table; --table reprints it.
    assert compare_methods.main(argv) == 0
    assert capsys.readouterr().out.count('finished earlier') == 3
    assert (out / 'table.md').read_text().split('\n', 1)[1] == table.split('\n', 1)[1]
    compare_methods.main(['--table', str(out / 'compare_methods.json')])
    assert capsys.readouterr().out.split('\n', 1)[1] == table.split('\n', 1)[1]


def test_makefile_dst_rows_are_rows_of_the_script():
    """`make compare-dst` names its rows by label: each must exist (no silent skip)."""
    with open(os.path.join(ROOT, 'Makefile')) as handle:
        line = [l for l in handle if l.startswith('DST_ROWS :=')][0]
    wanted = [label.strip() for label in line.split(':=')[1].split(',')]
    known = [label for label, _ in compare_methods.ROWS + compare_methods.EXTRA_ROWS]
    assert len(wanted) == 5 and all(label in known for label in wanted)
    flags = dict(compare_methods.EXTRA_ROWS)['gxnor int8 momentum-DST']
    assert flags[-2:] == ['--update', 'int8-momentum'] and 'int8' in flags
