"""The data sets the project trains on, by name: the one list every module reads.

A name is at once the data set :mod:`datasets` loads
(``datasets.load_test(name)``), the training script that trains on it
(``mnist.py``, ``cifar10.py``, ``svhn.py``: its ``EXPERIMENT`` and
``build_network``), and the ``dataset`` a model file records, which the
engine (:mod:`gxnor_engine.model`) and :mod:`model_sparsity` read back.
It imports nothing of the project (the engine reads it without Theano);
:func:`script` imports a training script only when it is called.

Examples
--------
>>> NAMES
('mnist', 'cifar10', 'svhn')
>>> CLASSES['svhn'], TITLES['cifar10']
(10, 'CIFAR-10')
>>> script('imagenet')
Traceback (most recent call last):
...
ValueError: no data set named 'imagenet' (mnist, cifar10, svhn)
"""
from __future__ import absolute_import, division, print_function

import importlib
from collections import OrderedDict

__all__ = ['NAMES', 'CLASSES', 'TITLES', 'script']

# Name -> number of classes, for model files that do not state their own ``classes``.
CLASSES = OrderedDict([('mnist', 10), ('cifar10', 10), ('svhn', 10)])
NAMES = tuple(CLASSES)
# How tables, figures and titles write each name.
TITLES = {'mnist': 'MNIST', 'cifar10': 'CIFAR-10', 'svhn': 'SVHN'}


def script(name):
    """The training script of data set ``name``, imported (``'mnist'``: ``mnist.py``).

    Parameters
    ----------
    name : str
        One of :data:`NAMES`, e.g. the ``dataset`` of a model file.

    Returns
    -------
    module
        The script: its ``EXPERIMENT`` (a :class:`binary_net.Experiment`) and
        its ``build_network(input_var, args)``.

    Raises
    ------
    ValueError
        For a name that is not one of :data:`NAMES`: no other module is ever
        imported from a name a file holds.
    """
    if name not in CLASSES:
        raise ValueError('no data set named %r (%s)' % (name, ', '.join(NAMES)))
    return importlib.import_module(str(name))
