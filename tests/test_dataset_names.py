"""dataset_names: one list of data sets, and every reader of a data set name agrees with it."""
import os

import pytest

import dataset_names
import datasets
from conftest import ROOT


def test_each_name_is_a_script_whose_experiment_bears_it():
    for name in dataset_names.NAMES:
        assert os.path.isfile(os.path.join(ROOT, name + '.py'))
        script = dataset_names.script(name)
        assert script.EXPERIMENT.name == name and callable(script.build_network)


def test_no_module_is_imported_from_a_name_outside_the_list():
    for name in ('os', 'binary_net', '', 'mnist.py', '../mnist'):
        with pytest.raises(ValueError) as info:
            dataset_names.script(name)
        assert str(info.value).endswith('(mnist, cifar10, svhn)')


def test_the_test_loader_the_engine_and_the_gpu_tool_read_the_list():
    from gxnor_engine import model
    assert sorted(datasets._TEST_READERS) == sorted(dataset_names.NAMES)
    assert model.DATASET_CLASSES is dataset_names.CLASSES
    with pytest.raises(datasets.DataError) as info:
        datasets.load_test('imagenet')
    assert 'mnist, cifar10, svhn' in str(info.value)
    import bench.common
    assert bench.common.tool('gpu_step').SCRIPTS == dataset_names.NAMES
