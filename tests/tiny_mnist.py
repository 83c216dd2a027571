"""A dataset script for the harness's tests as a command: MNIST with a 4-filter network.

What the harness does as a command (signals, the run lock, resuming, progress
lines, a full disk) is the same for every dataset script, as every script is
``binary_net.main`` with its data and network.  This one is ``mnist.py`` with
the network conv 4x5x5 - MP2 - BN - act - dense 10 - BN instead of the paper's
four layers: it starts training in about half the time.  ``mnist.py`` itself
runs as a command in tests/test_scripts.py and tests/test_script_faults.py.

Run as ``python tests/tiny_mnist.py --data-dir DIR ...``: the flags are
``mnist.py``'s.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import gxnor_compat  # noqa: E402,F401  (before theano and lasagne)
import lasagne  # noqa: E402

import binary_net  # noqa: E402
import mnist  # noqa: E402
import network_blocks  # noqa: E402


def build_network(input_var, args):
    """conv 4x5x5 - MP2 - BN - act - dense 10 - BN: compiles and runs in seconds (also the
    network of tests/test_binary_net.py's in-process runs)."""
    net = lasagne.layers.InputLayer((None, 1, 28, 28), input_var)
    net = network_blocks.conv_block(net, args, 'conv1', 4, 5, pool=True)
    return network_blocks.dense_block(net, args, 'fc2', 10, activation=False)


EXPERIMENT = binary_net.Experiment('tiny', mnist.load_data, build_network,
                                   defaults=mnist.EXPERIMENT.defaults, description=__doc__)

if __name__ == '__main__':
    binary_net.main(EXPERIMENT)
