"""run_plots.py: the curves of a run, from its results.json."""
import json
import os
import shutil
import struct
import subprocess
import sys

import pytest

import run_plots
from conftest import ROOT

WEIGHTS = os.path.join(ROOT, 'weights')
RUN = 'mnist-gxnor-N1-act1-adam-b1000-e120-2dc65855'


def png_size(path):
    with open(path, 'rb') as handle:
        head = handle.read(24)
    assert head[:8] == b'\x89PNG\r\n\x1a\n'
    return struct.unpack('>II', head[16:24])


@pytest.mark.parametrize('values,scale,labels', [
    # A whole run: 67% after the first epoch down to 0.13% at LR 1e-4.
    ([66.76, 2.47, 0.93, 0.13], 'log', ['0.1', '0.2', '0.5', '1', '2', '5', '10', '20', '50']),
    # Within a factor 5 a linear axis reads well.
    ([0.31, 0.48], 'linear', None),
    ([0.0, 0.48], 'linear', None),
])
def test_weights_changed_axis_reads_in_plain_numbers(values, scale, labels):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots()
    axes.plot(range(len(values)), values)
    run_plots._log_axis(axes, values)
    fig.canvas.draw()
    low, high = axes.get_ylim()
    shown = [t.get_text() for minor in (False, True)
             for t in axes.get_yticklabels(minor=minor)
             if t.get_text() and low <= t.get_position()[1] <= high]
    plt.close(fig)
    assert axes.get_yscale() == scale
    if labels:
        assert sorted(shown, key=float) == labels



def test_the_title_names_dataset_method_and_protocol_and_the_paper_line_its_error():
    with open(os.path.join(WEIGHTS, RUN + '.results.json')) as handle:
        results = json.load(handle)
    assert run_plots.title(results) == \
        'MNIST, GXNOR-Net: batch 1000, 120 epochs, LR 0.1 -> 0.0001, a = 1, seed 1234'
    assert run_plots.dataset_of(results) == 'mnist' and run_plots.paper_error(results) == 0.68
    assert run_plots.paper_error(dict(results, method='fp')) == 0.52
    # a run named otherwise, of no known dataset: no paper line
    assert run_plots.dataset_of(dict(results, run='mine')) is None
    assert run_plots.paper_error(dict(results, run='mine')) is None
    assert run_plots.dataset_of(dict(results, run='mine', dataset='svhn')) == 'svhn'


def test_the_command_redraws_a_published_runs_curves_beside_its_results(tmp_path):
    for suffix in ('.results.json',):
        shutil.copy(os.path.join(WEIGHTS, RUN + suffix), str(tmp_path / (RUN + suffix)))
    folder = tmp_path / 'results' / 'r'
    folder.mkdir(parents=True)
    shutil.copy(os.path.join(WEIGHTS, RUN + '.results.json'), str(folder / 'results.json'))
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, 'run_plots.py'),
                             str(tmp_path / (RUN + '.results.json')),
                             str(folder / 'results.json')],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    # 7 x 8 inches at 80 dpi: the third panel is the share of weights changed
    assert png_size(str(tmp_path / (RUN + '.curves.png'))) == (560, 640)
    assert png_size(str(folder / 'curves.png')) == (560, 640)
    assert out.decode().count('wrote ') == 2


def test_a_file_that_is_no_results_json_is_one_error_line(tmp_path):
    bad = tmp_path / 'x.results.json'
    bad.write_bytes(b'{"run": "x"}')
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, 'run_plots.py'), str(bad)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    assert proc.returncode == 2 and err.decode().count('\n') == 1
    assert err.decode().startswith('run_plots.py: error: ') and not (tmp_path / 'x.curves.png').exists()
