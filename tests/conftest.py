"""Shared fixtures: the repository on sys.path, the real MNIST and CIFAR-10 folders,
published models, each kernel path of the compiled kernels, a tiny experiment on MNIST."""
import glob
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from gxnor_engine import kernels as engine_kernels  # noqa: E402  (paths for kernel_path)


def real_mnist_dir():
    """The real MNIST folder, or skip (fail where GXNOR_REQUIRE_DATA=1, as in CI)."""
    folder = os.environ.get('GXNOR_MNIST_DIR',
                            os.path.join(ROOT, os.pardir, 'shared', 'data', 'mnist'))
    if not os.path.isfile(os.path.join(folder, 'train-images-idx3-ubyte.gz')):
        reason = 'real MNIST not found in %s (set GXNOR_MNIST_DIR)' % folder
        if os.environ.get('GXNOR_REQUIRE_DATA') == '1':
            pytest.fail(reason)
        pytest.skip(reason)
    return folder


def real_cifar10_dir():
    """The real CIFAR-10 folder (``cifar-10-batches-py/`` or its parent), or skip (fail
    where GXNOR_REQUIRE_DATA=1, as in CI)."""
    folder = os.environ.get('GXNOR_CIFAR10_DIR', os.path.join(ROOT, 'data', 'cifar10'))
    if not any(os.path.isfile(os.path.join(folder, sub, 'test_batch'))
               for sub in ('cifar-10-batches-py', '')):
        reason = ('real CIFAR-10 not found in %s (run `make cifar10-data`, or set '
                  'GXNOR_CIFAR10_DIR)' % folder)
        if os.environ.get('GXNOR_REQUIRE_DATA') == '1':
            pytest.fail(reason)
        pytest.skip(reason)
    return folder


def committed_models(pattern='mnist-gxnor*.npz'):
    """The published models in ``weights/`` matching ``pattern``, sorted by name."""
    return sorted(glob.glob(os.path.join(ROOT, 'weights', pattern)))


@pytest.fixture(params=engine_kernels.PATHS)
def kernel_path(request):
    """Each kernel path of the compiled kernels in turn (the test's id names it);
    a path this machine cannot run is skipped with the reason.  Sets the path on
    the loaded library for the test and puts the previous one back after it."""
    name = request.param
    try:
        kernels = engine_kernels.load()
    except engine_kernels.KernelError as exc:
        pytest.skip('kernel path %s: no compiled kernels here (%s)' % (name, exc))
    if name not in kernels.supported:
        pytest.skip('kernel path %s: this CPU or build does not run it (it runs %s)'
                    % (name, ', '.join(kernels.supported)))
    previous = kernels.kernel_path
    kernels.set_path(name)
    yield name
    kernels.set_path(previous)


@pytest.fixture
def mnist_dir():
    return real_mnist_dir()


@pytest.fixture(scope='session')
def mnist_data():
    """The real MNIST splits, loaded once per test session."""
    import datasets
    return datasets.load_mnist(real_mnist_dir(), download=False)


@pytest.fixture(scope='session')
def cifar10_dir():
    return real_cifar10_dir()


@pytest.fixture(scope='session')
def cifar10_data(cifar10_dir):
    """The real CIFAR-10 splits (45,000 / 5,000 / 10,000), loaded once per test session."""
    import datasets
    return datasets.load_cifar10(cifar10_dir, download=False)


def subset_experiment(name, data, build_network, tmp_path, sizes):
    """An Experiment on ``data`` with 2 epochs of batch 50 (LR 0.03 -> 0.01), and the
    flags that select (train, valid, test) ``sizes`` and write under ``tmp_path``."""
    import binary_net
    experiment = binary_net.Experiment(name, lambda args: data, build_network,
                                       defaults=dict(batch_size=50, epochs=2, lr_start=0.03,
                                                     lr_end=0.01))
    flags = ['--train-size', '--val-size', '--test-size']
    common = [str(v) for pair in zip(flags, sizes) for v in pair]
    common += ['--results-dir', str(tmp_path / 'results'),
               '--weights-dir', str(tmp_path / 'weights')]
    return experiment, common


@pytest.fixture
def tiny(mnist_data, tmp_path):
    """(experiment, common flags, tmp_path): tests/tiny_mnist.py's network on 300 / 200 / 200
    real MNIST images, writing under ``tmp_path`` (runs of the harness in this process)."""
    import tiny_mnist
    experiment, common = subset_experiment('tiny', mnist_data, tiny_mnist.build_network, tmp_path,
                                           (300, 200, 200))
    return experiment, common, tmp_path
