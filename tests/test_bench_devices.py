"""bench/speed/bench_devices.py reads tools/gpu_step.py's output."""
import os

from conftest import ROOT

from bench.speed import bench_devices

OUTPUT = """Mapped name None to device cuda: NVIDIA H100 80GB HBM3 (0000:00:06.0)
mnist on cuda (NVIDIA H100 80GB HBM3): 334 ops in the training step, 0 on the host apart \
from the transfer of inputs and outputs and 33 integer shape ops
  losses: 1.926767 1.924532
  5 steps of batch 10000: 20660.2 images/s
[157 s]
svhn on cpu: 629 ops in the training step (the CPU backend)
  losses: 2.167226 2.046513
  1 steps of batch 16: 9.5 images/s
"""


def test_parse_reads_each_timed_run():
    records = bench_devices.parse(OUTPUT)
    assert records == [
        dict(script='mnist', device='cuda (NVIDIA H100 80GB HBM3)', ops=334, host_ops=0, steps=5,
             batch_size=10000, images_per_second=20660.2),
        dict(script='svhn', device='cpu', ops=629, host_ops=None, steps=1, batch_size=16,
             images_per_second=9.5)]


def test_committed_h100_results_match_their_log():
    import json
    folder = os.path.join(ROOT, 'bench', 'results')
    with open(os.path.join(folder, 'devices-h100.json')) as handle:
        saved = json.load(handle)['records']
    with open(os.path.join(folder, 'devices-h100-2026-11-24.log')) as handle:
        parsed = bench_devices.parse(handle.read())
    assert [(r['script'], r['batch_size'], r['images_per_second']) for r in saved] == \
        [(r['script'], r['batch_size'], r['images_per_second']) for r in parsed]
    assert all(r['host_ops'] == 0 for r in saved)
