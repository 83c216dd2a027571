"""The modules of the gated-XNOR inference engine, one job each.

Use it through :mod:`gated_xnor` (the public names and the command line);
the module table is in that module's docstring.
"""
