"""bench/speed/gpu_profile_log.py: Theano's profile of a GPU training step, from a log into JSON."""
import json
import os

from conftest import ROOT

from bench.speed import gpu_profile_log

LOG = """[0 s] profile: cifar10 --method gxnor, batch 1000 (paper widths)
  5 steps of batch 1000: 1115.3 images/s
<% time> <sum %> <apply time> <time per call> <type> <#call> <#apply> <Class name>
  64.8%    64.8%       3.671s       5.10e-02s     C       72      12   theano.gpuarray.blas.GpuCorrMM_gradWeights
  26.8%    91.6%       1.515s       5.05e-02s     C       30       5   theano.gpuarray.blas.GpuCorrMM_gradInputs
   8.4%   100.0%       0.148s       4.32e-04s     C      342      57   theano.gpuarray.elemwise.GpuElemwise
   ... (remaining 0 Classes account for   0.00%(0.00s) of the runtime)
<% time> <sum %> <apply time> <time per call> <type> <#call> <#apply> <Class name>
  99.0%    99.0%       3.671s       5.10e-02s     C       72      12   theano.gpuarray.blas.GpuCorrMM_gradWeights
[9 s] profile: cifar10 --method fp, batch 100 (paper widths)
"""


def test_reads_each_setting_and_only_its_first_table():
    settings = gpu_profile_log.parse(LOG.splitlines())
    assert [(s['method'], s['batch']) for s in settings] == [('gxnor', 1000), ('fp', 100)]
    first = settings[0]
    assert first['images_per_second'] == 1115.3 and first['timed_steps'] == 5
    assert [c['op_class'].split('.')[-1] for c in first['classes']] == [
        'GpuCorrMM_gradWeights', 'GpuCorrMM_gradInputs', 'GpuElemwise']
    assert first['classes'][1] == dict(op_class='theano.gpuarray.blas.GpuCorrMM_gradInputs',
                                       share=0.268, seconds=1.515, calls=30, applies=5)
    assert abs(first['convolution_share'] - 0.916) < 1e-9
    assert settings[1]['classes'] == [] and settings[1]['images_per_second'] is None


def test_committed_h200_profile_is_the_logs(tmp_path):
    """The committed JSON is what the script makes from the committed log."""
    with open(os.path.join(ROOT, 'bench', 'results', 'gpu-cifar10-profile-h200.json')) as handle:
        committed = json.load(handle)
    out = str(tmp_path / 'profile.json')
    assert gpu_profile_log.main([os.path.join(ROOT, committed['log']), '--device',
                                 committed['device'], '--json', out]) == 0
    with open(out) as handle:
        assert json.load(handle)['settings'] == committed['settings']
    assert committed['settings'][0]['convolution_share'] > 0.9


def test_a_log_without_a_profile_is_one_error(tmp_path, capsys):
    path = tmp_path / 'empty.log'
    path.write_text(u'nothing here\n')
    assert gpu_profile_log.main([str(path), '--device', 'x']) == 2
    assert capsys.readouterr().err.startswith('gpu_profile_log: error: no profile found')
