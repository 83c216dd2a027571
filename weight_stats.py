"""What the harness measures of the weights in training: how many moved, how many bytes it keeps.

* :func:`discrete_weight_values` and :func:`weights_changed`: the share of
  discrete weights an epoch moved to another state, over all and per layer
  (under DST a weight moves only by a random transition, so this is how
  fast the learning rate lets the network move); :func:`changed_line` is
  the line an epoch prints about it;
* :func:`trained_state_bytes`: the memory the training keeps and changes
  (parameters and optimizer state), the figure a run's summary records.

Examples
--------
>>> before = OrderedDict([('conv1', np.array([-1., 0, 1, 0]))])
>>> after = OrderedDict([('conv1', np.array([-1., 1, 1, 0]))])
>>> print(changed_line(*weights_changed(before, after), epoch=3).strip())
discrete weights changed:     25.00% (conv1 25.00%)
"""
from __future__ import absolute_import, division, print_function

from collections import OrderedDict

import gxnor_compat  # noqa: F401  (before theano and lasagne)
import lasagne
import numpy as np

import gxnor_layers

__all__ = ['discrete_weight_values', 'weights_changed', 'changed_line', 'trained_state_bytes']


def discrete_weight_values(network):
    """OrderedDict layer name -> its discrete weights as a float array (a copy)."""
    return OrderedDict((layer.name, np.array(layer.weight_values()))
                       for layer in gxnor_layers.discrete_layers(network))


def weights_changed(before, after):
    """Share (%) of discrete weights whose value differs between two
    :func:`discrete_weight_values` snapshots: ``(over all, {layer: share})``.

    Under DST a weight moves only by a random transition, so this is how fast
    the learning rate lets the network move (too low: frozen; too high:
    churning); ``(None, {})`` for a network without discrete weights.

    Examples
    --------
    >>> a = OrderedDict([('c', np.zeros(4)), ('d', np.zeros(6))])
    >>> b = OrderedDict([('c', np.array([0., 1, 0, 0])), ('d', np.zeros(6))])
    >>> share, by_layer = weights_changed(a, b)
    >>> share, list(by_layer.items())
    (10.0, [('c', 25.0), ('d', 0.0)])
    """
    if not before:
        return None, OrderedDict()
    counts = OrderedDict((name, int(np.count_nonzero(before[name] != after[name])))
                         for name in before)
    by_layer = OrderedDict((name, 100.0 * n / before[name].size) for name, n in counts.items())
    total = sum(w.size for w in before.values())
    return 100.0 * sum(counts.values()) / total, by_layer


def changed_line(share, by_layer, epoch):
    """The line an epoch prints about the weights it changed (:func:`weights_changed`)."""
    layers = ', '.join('%s %.2f%%' % item for item in by_layer.items())
    return ('  discrete weights changed:     %.2f%% (%s)%s'
            % (share, layers, '  (the snap onto the grid)' if epoch == 0 else ''))


def trained_state_bytes(network, state):
    """Bytes of everything the training keeps and changes besides the
    batch-norm averages: trainable and discrete parameters (hidden weights
    included) and optimizer state: float moments, int8 momenta (the random
    generators' int32 states excluded)."""
    params = set(lasagne.layers.get_all_params(network, trainable=True))
    params |= set(lasagne.layers.get_all_params(network, discrete=True))
    arrays = [p.get_value() for p in params]
    arrays += [v.get_value() for v in state if v not in params and v.dtype != 'int32']
    return int(sum(a.nbytes for a in arrays))
