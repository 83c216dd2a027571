#!/usr/bin/env python
"""Gated XNOR inference: run a trained GXNOR-Net with bit-packed integer arithmetic.

With ternary weights and activations, a product w*x is non-zero only when
both factors are (the *gate*); it then equals the XNOR of their sign bits.
A ternary vector is packed into two bit planes, the non-zero mask ``m`` and
the sign ``s`` (1 for negative), 64 values per ``uint64`` word, and the dot
product of two packed vectors is::

    gate = mx & mw
    x . w = popcount(gate) - 2 * popcount(gate & (sx ^ sw))

This is the engine's public entry point and command line; it reads the
``gxnor-model`` files of the Theano harness (``results/<run>.npz``, and the
published ``weights/*.npz``), needs NumPy only (1.16 on Python 2.7 and
1.23 / 2.x on Python 3) and never imports Theano.  The work is done by
small modules of the package :mod:`gxnor_engine`, one job each, whose public
names this module re-exports; the table of those modules is in that
package's docstring (``gxnor_engine/__init__.py``).

Which models run
----------------
Products are integer on both sides: ternary or binary weights (binary =
ternary with an all-ones mask) times ternary or binary activations.  Scaling
factors are applied in float after the integer product.

=============  ==========================================================
method         how it runs
=============  ==========================================================
gxnor          N and act-N 0 or 1: weights w/H on {-1, 0, 1} (N = 0:
               {-1, 1}); bias, batch norm and the staircase fold into
               integer thresholds; scale H
bnn            sign(W) weights; bias, batch norm and the sign activation
               fold into integer thresholds
tbn            sign(W) weights, alpha = mean |W| per unit as a float scale;
               batch norm and the ternary activation (threshold
               0.4 mean |y| per image) in float64
xnor           as tbn, activations sign(y) with K = mean |y| over channels
               per position: K varies inside a window, so the products are
               taken per (pixel, tap) over the channels and summed weighted
               by K in float64
=============  ==========================================================

Refused with a :class:`ModelError` that says why: fp (float weights),
binaryconnect and bwn (ReLU activations), twn and ttq (ternary weights but
ReLU activations, TTQ's learned scales), dorefa and syq (k-bit
activations), stochastic BinaryConnect/BNN (float hidden weights at test
time), gxnor with N or act-N >= 2; and a network whose number of outputs
is not the ``classes`` the file states (the command also checks it against
its data set's classes): a layer list cut short would report the argmax
over hidden units as accuracy.

How a model runs
----------------
* First layer: pixels p (uint8) are x = 2p/255 - 1 = (2p - 255)/255, so the
  layer's float output is (s/255) * z + b with z = sum(w_int * (2p - 255))
  an exact integer (w_int = w/s in {-1, 0, 1}, s = H or alpha).  The input
  is not ternary, so it is not packed: z is a plain matrix product of
  integers, done by BLAS on integer-valued float32 operands.  That is exact
  because every partial sum is an integer of magnitude <= 255 * fan-in <
  2**24 (checked at load time; float64, exact below 2**53, otherwise).
* Hidden layers: packed inputs (im2col patches packed once per layer for
  convolutions; padding has mask 0) and packed weights give the integer sum
  z; the layer's float output is s * z + b.
* Bias, batch norm and the ternary (or binary) activation fold into two
  integer thresholds per channel, so hidden layers never leave integers:
  out = +1 where sign*z >= pos, -1 where sign*z <= neg, 0 elsewhere, with
  sign = -1 for channels whose gamma*inv_std is negative.
* Max-pooling runs on integers.  Before batch norm it pools z (max commutes
  with the increasing map z -> s*z + b); after batch norm it pools sign*z
  (a channel with gamma*inv_std < 0 turns max into min); after the
  activation it pools the ternary values.
* Last layer (no activation): the scores are the float64 formula
  ((s*z + b) - mean) * (gamma*inv_std) + beta; prediction is the argmax.

Exactness of the thresholds
---------------------------
The thresholds are found by bisection on the float64 formula above, which is
non-decreasing in sign*z (every float operation is monotone), so they agree
exactly with that formula on every reachable integer z.  Theano evaluates
the same formula in float32 (and may fuse or contract it), so a unit whose
pre-activation lies within float32 rounding (about 1e-7 relative) of +-r can
come out differently there.  The risk is tiny; comparing the predictions of
both (``bench/speed/bench_gated_xnor.py``, the Theano test) measures it.  The
float activations (xnor, tbn) carry the same risk near their thresholds,
and their scores differ from Theano's float32 ones by float rounding.

Bit counting: ``np.bitwise_count`` where NumPy has it (>= 2.0).  Without it
the words of a dot product first go through carry-save adders (W words ->
about log2(W) weighted planes), whose bits are then counted either by
bit-parallel byte counts ('swar', the default: 2 to 3 times faster than
fancy-indexing a table on NumPy 1.16 / 1.23) or by a 16-bit lookup table
('table').  All three give identical results and can be chosen with the
``method`` argument (``--popcount`` on the command line), so that tests run
every path on NumPy 2.  :func:`popcount` itself counts with the table or
``np.bitwise_count``.

Compiled kernels: where a C compiler works, :mod:`gxnor_engine.kernels`
builds ``gxnor_engine/kernels.c`` once (cached per user) and the engine
runs its packed product, its packing of activations into im2col rows and
its first layer there (OpenMP threads, ``OMP_NUM_THREADS``); the NumPy code above stays the
reference and the fallback.  ``kernel`` ('auto', 'c', 'numpy'; ``--kernel``)
picks the path: 'auto' (default, or ``$GXNOR_KERNELS``) runs C when it
builds and warns why not otherwise; a popcount ``method`` belongs to the
NumPy path and selects it under 'auto'.  Both paths give identical results.

Examples
--------
>>> path = 'weights/mnist-gxnor-N1-act1-adam-b1000-e120-2dc65855.npz'
>>> model = load_model(path)                             # doctest: +SKIP
>>> model.predict(X_test[:5])                            # doctest: +SKIP
array([7, 2, 1, 0, 4])
>>> gated_xnor_dot(pack_ternary([[1, -1, 0]]), pack_ternary([[1, 1, 1]])).tolist()
[[0]]

Command line (accuracy on the test set, per-layer share of products the
gate skips, i.e. the paper's resting probability, non-zero weights and
inputs, packed versus float32 size, images/s)::

    python gated_xnor.py weights/<model>.npz [--data-dir DIR] [--batch-size 1000] [--limit N]
                         [--kernel {auto,c,numpy}] [--popcount {bitwise_count,swar,table}]
"""
from __future__ import absolute_import, division, print_function

import sys

# Re-exported: the public names (__all__) and other names of the engine's modules.
from gxnor_engine.activations import (  # noqa: F401
    FloatActivationStage, PoolStage, RecordStage, ScoreStage, ThresholdStage, max_pool_nhwc,
    pool_length)
from gxnor_engine.builder import SUPPORTED_METHODS
from gxnor_engine.command import main
from gxnor_engine.model import (  # noqa: F401
    INPUT_SCALING, MODEL_FORMAT, MODEL_VERSION, PASS_IMAGES, GXNORModel, load_model, save_model)
from gxnor_engine.packing import (  # noqa: F401
    PackedTernary, bytes_to_words, gated_xnor_dot, gxnor_matmul, pack_bits, pack_ternary,
    word_major)
from gxnor_engine.popcount import (  # noqa: F401
    HAVE_BITWISE_COUNT, POPCOUNT_METHODS, CarrySaveCounter, byte_counts, popcount,
    resolve_method, sum_bytes)
from gxnor_engine.products import (  # noqa: F401
    Context, FirstStage, PackedStage, ScaledInputStage, gated_xnor_conv2d, im2col, to_nchw)
from gxnor_engine.spec import ModelError
from gxnor_engine.thresholds import (  # noqa: F401
    Affine, Thresholds, apply_thresholds, fold_thresholds)

__all__ = ['ModelError', 'PackedTernary', 'Thresholds', 'GXNORModel', 'HAVE_BITWISE_COUNT',
           'POPCOUNT_METHODS', 'SUPPORTED_METHODS', 'popcount', 'pack_ternary',
           'gated_xnor_dot', 'gated_xnor_conv2d', 'max_pool_nhwc', 'fold_thresholds',
           'apply_thresholds', 'load_model', 'save_model', 'main']

if __name__ == '__main__':
    sys.exit(main())
