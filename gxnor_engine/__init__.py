"""The modules of the gated-XNOR inference engine, one job each.

Use it through :mod:`gated_xnor` (the public names and the command line),
which re-exports the public names of these modules:

====================================  =======================================
:mod:`gxnor_engine.popcount`          counting bits: ``np.bitwise_count``,
                                      carry-save adders + SWAR, lookup table
:mod:`gxnor_engine.packing`           ternary values as mask and sign planes,
                                      the packed gated-XNOR product
:mod:`gxnor_engine.thresholds`        bias + batch norm + activation folded
                                      into integer thresholds
:mod:`gxnor_engine.products`          weight-layer stages: first layer on
                                      pixels, packed hidden layers, layers on
                                      XNOR-Net inputs
:mod:`gxnor_engine.activations`       pooling, folded and float activations,
                                      scores
:mod:`gxnor_engine.spec`              checks of the layer descriptions;
                                      weights to integers and scales
:mod:`gxnor_engine.builder`           the layer list to stages, one function
                                      per kind
:mod:`gxnor_engine.model`             :class:`GXNORModel`, :func:`load_model`,
                                      :func:`save_model`
:mod:`gxnor_engine.command`           the command line (:func:`main`)
:mod:`gxnor_engine.kernels`           compiled C kernels (``kernels.c``,
                                      built on first use, loaded with
                                      ctypes), NumPy fallback
====================================  =======================================
"""
