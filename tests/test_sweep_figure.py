"""sweep_figure.py: the figure of a sweep's table."""
import struct

import sweep_figure


def summary(rows):
    return dict(dataset='mnist', grid=dict(name='paper-mnist', flags=[
        '--batch-size', '1000', '--epochs', '30']), rows=rows)


def png_size(path):
    with open(path, 'rb') as handle:
        head = handle.read(24)
    assert head[:8] == b'\x89PNG\r\n\x1a\n'
    return struct.unpack('>II', head[16:24])


def test_protocol_names_the_grids_epochs_batch_and_subset():
    assert sweep_figure.protocol(dict(flags=['--epochs', 30, '--batch-size', '1000'])) == \
        '30 epochs, batch 1000'
    assert sweep_figure.protocol(dict(flags=['--train-size', '200'])) == '200 training images'
    assert sweep_figure.protocol({}) == "the script's defaults"


def test_one_row_per_finished_method_grows_the_figure(tmp_path):
    def row(title, errors, paper=None):
        return dict(title=title, lr=0.1, paper_test_err=paper,
                    runs=[dict(test_err_at_best_val=e) for e in errors])
    two = [row('GXNOR-Net', [0.9, 1.1], 0.68), row('BNN', [1.5], 1.4)]
    small = sweep_figure.plot(summary(two), str(tmp_path / 'a.png'))
    # a method with no finished run is left out; more methods, a taller figure
    big = sweep_figure.plot(summary(two + [row('TWN', [0.8, 40.0]), row('TBN', [])]),
                            str(tmp_path / 'sub' / 'b.png'))
    (w1, h1), (w2, h2) = png_size(small), png_size(big)
    assert w1 == w2 and h2 > h1 >= 150
    assert [r['title'] for r in sweep_figure.plotted(summary(two + [row('TBN', [])]))] == \
        ['GXNOR-Net', 'BNN']


def test_nothing_finished_draws_nothing(tmp_path):
    assert sweep_figure.plot(summary([dict(title='GXNOR-Net', runs=[])]),
                             str(tmp_path / 'a.png')) is None
    assert not (tmp_path / 'a.png').exists()


def test_the_command_draws_a_committed_table_again_and_refuses_other_files(tmp_path):
    import json
    path = str(tmp_path / 'table.json')
    with open(path, 'w') as handle:
        json.dump(summary([dict(title='GXNOR-Net', lr=0.3, paper_test_err=0.68,
                                runs=[dict(test_err_at_best_val=1.43)])]), handle)
    assert sweep_figure.main([path]) == 0
    assert png_size(str(tmp_path / 'table.png'))[0] > 300
    bad = tmp_path / 'bad.json'
    bad.write_bytes(b'[1, 2]')
    assert sweep_figure.main([str(bad)]) == 2
