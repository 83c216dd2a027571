"""The engine's weight-layer stages: integer products of a conv or dense layer.

Activations stay NHWC inside the engine.  Each stage takes the previous
stage's output and returns the layer's sums, NHWC (n, oh, ow, units) for a
convolution or (n, units) for a dense layer:

* :class:`FirstStage`: uint8 pixels p are x = 2p/255 - 1 = (2p - 255)/255,
  so the sums z = sum(w_int * (2p - 255)) are exact integers, computed by
  BLAS on integer-valued float32 operands (exact: every partial sum is an
  integer below 255 * fan-in < 2**24; float64 otherwise) or by the compiled
  kernel.  A max-pooling right after it joins the stage
  (:meth:`WeightStage.absorb_pool`): the compiled kernel pools each image's
  sums while they are in the cache.
* :class:`PackedStage`: ternary or binary int8 inputs, packed (im2col
  patches of bytes of channels packed per pixel; padding has mask 0) and
  multiplied with the packed weights: int32 sums.  A max-pooling right
  after a conv layer joins its stage as after the first layer.
* :class:`ScaledInputStage`: XNOR-Net inputs sign(y) * K, K one float per
  input position.  K differs between the taps of one window, so it cannot
  leave the window's sum; the stage takes, tap by tap, the integer
  products over the channels of each window's pixel under that tap, and
  adds them up weighted by K in float64: float sums.

The layer's float output is then scale * sums + bias (scale H, H/255 for
the first layer, BWN's alpha per unit), applied by later stages.

Examples
--------
>>> x = np.ones((1, 1, 3, 3), dtype=np.int8)
>>> gated_xnor_conv2d(x, -np.ones((1, 1, 2, 2)), pad=0, kernel='numpy')[0, 0].tolist()
[[-4, -4], [-4, -4]]
"""
from __future__ import absolute_import, division, print_function

import collections

import numpy as np
from numpy.lib.stride_tricks import as_strided

from gxnor_engine import kernels as engine_kernels
from gxnor_engine.packing import bytes_to_words, gxnor_matmul, pack_bits, word_major
from gxnor_engine.popcount import resolve_method
from gxnor_engine.spec import ModelError, pair

__all__ = ['Context', 'ScaledBinary', 'FirstStage', 'PackedStage', 'ScaledInputStage',
           'gated_xnor_conv2d', 'im2col', 'to_nchw', 'add_stat']

class Context(object):
    """What one forward pass runs with: kernels, popcount method, and where
    statistics and pre-activations go (None: not collected)."""

    def __init__(self, method, stats, preacts, kernel=None):
        self.kernels, self.kernel_text = engine_kernels.select(kernel, method)
        self.method, self.stats, self.preacts = resolve_method(method), stats, preacts


class ScaledBinary(collections.namedtuple('ScaledBinary', 'values scale')):
    """XNOR-Net activations: int8 sign `values` (NHWC or (n, D)) times float64
    `scale`, one per position ((n, H, W)) or per image ((n,))."""
    __slots__ = ()

    def to_float(self):
        """The float activations values * scale."""
        return self.values * self.scale.reshape(self.scale.shape + (1,))


def im2col(a, kernel, stride, pad):
    """Patches of an NHWC array: (n*oh*ow, kh*kw*C), zero padded; and (oh, ow).

    Examples
    --------
    >>> im2col(np.arange(9).reshape(1, 3, 3, 1), (2, 2), (1, 1), (0, 0))[0][0].tolist()
    [0, 1, 3, 4]
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad
    n, height, width, channels = a.shape
    if ph or pw:
        padded = np.zeros((n, height + 2 * ph, width + 2 * pw, channels), dtype=a.dtype)
        padded[:, ph:ph + height, pw:pw + width] = a
        a = padded
    a = np.ascontiguousarray(a)
    oh = (a.shape[1] - kh) // sh + 1
    ow = (a.shape[2] - kw) // sw + 1
    s = a.strides
    view = as_strided(a, (n, oh, ow, kh, kw, channels),
                      (s[0], s[1] * sh, s[2] * sw, s[1], s[2], s[3]))
    return view.reshape(n * oh * ow, kh * kw * channels), (oh, ow)


def to_nchw(a):
    """NHWC -> NCHW (contiguous); 2-D arrays unchanged."""
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2)) if a.ndim == 4 else a


def add_stat(ctx, name, **counts):
    """Add counts (products, gates, inputs, input_nonzero) to ctx.stats[name]."""
    entry = ctx.stats.setdefault(name, dict(products=0, gates=0, inputs=0, input_nonzero=0))
    for key, value in counts.items():
        entry[key] += int(value)


def _taps_inside(size, ksize, stride, pad):
    """Per window offset, the number of output positions where it falls inside [0, size)."""
    at = np.arange((size + 2 * pad - ksize) // stride + 1)[:, None] * stride + np.arange(ksize)
    return ((at >= pad) & (at < size + pad)).sum(axis=0)


def _gates_per_image(in_chw, geometry, weight_gates):
    """Open gates per image of a layer whose inputs are never 0 (pixels 2p - 255,
    XNOR signs): an input tap is open exactly where it falls inside the image."""
    channels, height, width = in_chw
    kernel, stride, pad = geometry
    inside = [_taps_inside(*args) for args in zip((height, width), kernel, stride, pad)]
    taps = np.repeat(np.outer(*inside).ravel(), channels)      # (kh, kw, C) order
    return int(np.dot(taps, weight_gates))


class WeightStage(object):
    """A conv or dense layer: sums z, NHWC (n, oh, ow, units) or (n, units)."""

    def __init__(self, info, w_int, geometry):
        self.info, self.geometry = info, geometry
        self.name, self.kind = info['name'], info['kind']
        self.fan_in, self.units = info['fan_in'], info['units']
        self.weight_gates = np.count_nonzero(w_int, axis=1)  # per reduction index

    def absorb_pool(self, pool):
        """Run the max-pooling stage `pool` that follows this conv layer as part
        of this stage: the compiled kernels pool each image's sums while they
        are in the cache.  Returns whether it did."""
        if self.kind != 'conv' or getattr(self, 'pool', None) is not None:
            return False
        self.pool = pool
        return True

    def _stats(self, ctx, x, rows, gates, nonzero=None):
        if ctx.stats is None:
            return
        add_stat(ctx, self.name, products=rows * self.units * self.fan_in, gates=gates,
                 inputs=x.size, input_nonzero=np.count_nonzero(x) if nonzero is None else nonzero)


class FirstStage(WeightStage):
    """First layer: uint8 pixels, integer product on q = 2p - 255 (see module doc)."""

    def __init__(self, info, w_int, geometry):
        # w_int: (K, units), reduction order (kh, kw, C) or flattened (h, w, c).
        WeightStage.__init__(self, info, w_int, geometry)
        bound = 255 * int(np.count_nonzero(w_int, axis=0).max()) if w_int.size else 0
        self.dtype = np.float32 if bound < 2 ** 24 else np.float64
        if bound >= 2 ** 53:
            raise ModelError('layer %s: fan-in too large for exact sums' % self.name)
        self.weights = w_int.astype(self.dtype)
        # The compiled kernel takes (units, C, kh, kw) weights; a dense layer
        # is a convolution whose window is the whole image.
        channels, height, width = info['in_shape']
        kernel, stride, pad = geometry or ((height, width), (1, 1), (0, 0))
        self.c_weights = np.ascontiguousarray(
            w_int.T.reshape((self.units,) + tuple(kernel) + (channels,)).transpose(0, 3, 1, 2))
        self.c_geometry = (stride, pad)
        self.c_ok = 255 * self.fan_in < 2 ** 31
        height, width = info['in_shape'][1:]
        self.out_hw = tuple((size + 2 * p - k) // s + 1
                            for size, k, s, p in zip((height, width), kernel, stride, pad))
        self.pool = None
        # 2p - 255 is odd, never 0.
        self.gates_per_image = _gates_per_image(info['in_shape'], (kernel, stride, pad),
                                                self.weight_gates)

    def run(self, X, ctx):
        if ctx.kernels is not None and self.c_ok:
            pool = self.pool and (self.pool.pool, self.pool.stride,
                                  self.pool.output_hw(*self.out_hw), self.pool.flip)
            z = ctx.kernels.conv_pixels(X, self.c_weights, *self.c_geometry, pool=pool)
            n = len(X)
            self._stats(ctx, X, n * self.out_hw[0] * self.out_hw[1], n * self.gates_per_image,
                        X.size)
            return z if self.kind == 'conv' else z.reshape(n, self.units)
        z = self._run_numpy(X, ctx)
        return z if self.pool is None else self.pool.run(z, ctx)

    def _run_numpy(self, X, ctx):
        q = np.ascontiguousarray(X.transpose(0, 2, 3, 1), dtype=self.dtype)
        q *= 2
        q -= 255
        n = len(q)
        if self.kind == 'conv':
            patches, (oh, ow) = im2col(q, *self.geometry)
        else:
            patches = q.reshape(n, -1)
        z = patches.dot(self.weights).astype(np.int32)
        if ctx.stats is not None:
            # Open gates = sum over k of (non-zero inputs at k) * (non-zero weights at k).
            gates = np.dot(np.count_nonzero(patches, axis=0), self.weight_gates)
            self._stats(ctx, q, len(patches), gates)
        return z.reshape(n, oh, ow, self.units) if self.kind == 'conv' else z


def _packed_rows(w_rows):
    """int8 weights (units, K) -> row-major mask and sign planes (units, nwords),
    bytes packed per (u, v) first as the input patches are."""
    return tuple(bytes_to_words(np.packbits(plane, axis=-1).reshape(len(w_rows), -1))
                 for plane in (w_rows != 0, w_rows < 0))


class PackedStage(WeightStage):
    """Hidden layer on ternary (or binary) input: packed gated-XNOR product."""

    def __init__(self, info, w_int, geometry):
        # w_int: conv (units, kh, kw, C); dense (units, K) in the input's NHWC flat order.
        WeightStage.__init__(self, info, w_int.reshape(len(w_int), -1).T, geometry)
        # Row-major planes (units, nwords) for the compiled kernel, word-major for NumPy.
        self.rows_m, self.rows_s = _packed_rows(w_int)
        self.wm, self.ws = word_major(self.rows_m), word_major(self.rows_s)
        self.pool = None

    def _pool_args(self, out_hw):
        """The `pool` argument of Kernels.matmul for outputs out_hw, or None."""
        p = self.pool
        return None if p is None else (out_hw, p.pool, p.stride, p.output_hw(*out_hw), p.flip)

    def _finish(self, z, n, out_hw):
        """The product's rows z as the stage's output (NHWC, pooled where asked)."""
        return z if out_hw is None or self.pool is not None else \
            z.reshape((n,) + out_hw + (self.units,))

    def _run_compiled(self, t, kernels):
        n = len(t)
        if self.kind == 'dense':
            geometry, t = ((1, 1), (1, 1), (0, 0)), t.reshape(n, 1, 1, -1)
        else:
            geometry = self.geometry
        xm, xs, out_hw = kernels.pack_patches(t, *geometry, nwords=self.rows_m.shape[1])
        out_hw = out_hw if self.kind == 'conv' else None
        z, gates, _ = kernels.matmul(xm, xs, self.rows_m, self.rows_s,
                                     pool=out_hw and self._pool_args(out_hw))
        return self._finish(z, n, out_hw), gates, len(xm)

    def _pack_input(self, t):
        n = len(t)
        if self.kind == 'dense':
            flat = t.reshape(n, -1)
            return [word_major(pack_bits(plane)) for plane in (flat != 0, flat < 0)], n, None
        planes = []
        for plane in (t != 0, t < 0):
            # Pack channels per pixel first, then gather the patches of bytes: the
            # weights are packed per (u, v) the same way, so the bits line up.
            patches, out_hw = im2col(np.packbits(plane, axis=-1), *self.geometry)
            planes.append(word_major(bytes_to_words(patches)))
        return planes, len(patches), out_hw

    def run(self, t, ctx):
        if ctx.kernels is not None:
            z, gates, rows = self._run_compiled(t, ctx.kernels)
        else:
            (xm, xs), rows, out_hw = self._pack_input(t)
            z, gates, _ = gxnor_matmul(xm, xs, self.wm, self.ws, ctx.method)
            if out_hw is not None:
                z = z.reshape((len(t),) + out_hw + (self.units,))
                z = z if self.pool is None else self.pool.run(z, ctx)
        self._stats(ctx, t, rows, gates)
        return z


def _tap_range(size, out_size, offset, stride, pad):
    """Output positions i whose input i*stride + offset - pad lies in [0, size):
    (first output, last output + 1, slice of the input)."""
    first = max(0, -(-(pad - offset) // stride))
    last = min(out_size - 1, (size - 1 + pad - offset) // stride)
    if last < first:
        return first, first, slice(0, 0)
    start = first * stride + offset - pad
    return first, last + 1, slice(start, start + (last - first) * stride + 1, stride)


class ScaledInputStage(WeightStage):
    """Hidden layer on XNOR-Net activations sign * K: see the module doc.

    out[n, i, j, f] = sum_{u, v} K[n, p] * Q_uv[n, i, j, f], p = the input
    pixel of tap (u, v) of window (i, j) and Q_uv = the packed product over
    the channels of that pixel with the tap's weights: one product per tap,
    over the windows where the tap falls inside the input (a dense layer is
    a convolution whose window is the whole input: one tap per position).
    The float sum runs over the taps in row-major order on both kernel
    paths, so the compiled and the NumPy product give identical floats.
    """

    absorb_pool = None          # its float sums keep a pooling stage of their own

    def __init__(self, info, w_int, geometry, in_chw):
        # w_int: (units, kh, kw, C); in_chw: the input as (C, H, W), a dense
        # layer's window being the whole input ((D, 1, 1) after a dense layer).
        units, kh, kw, channels = w_int.shape
        WeightStage.__init__(self, info, w_int.reshape(units, -1).T, geometry)
        per_tap = np.ascontiguousarray(w_int.transpose(1, 2, 0, 3))     # (kh, kw, F, C)
        self.tap_rows = [[_packed_rows(per_tap[u, v]) for v in range(kw)] for u in range(kh)]
        self.tap_words = [[tuple(word_major(p) for p in planes) for planes in row]
                          for row in self.tap_rows]
        self.channels, self.taps = channels, (kh, kw)
        height, width = in_chw[1:]
        (sh, sw), (ph, pw) = geometry[1:]
        self.out_hw = ((height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1)
        # XNOR signs are never 0: every tap inside the image is an open gate.
        self.gates_per_image = _gates_per_image(in_chw, geometry, self.weight_gates)

    def _tap_product(self, xm, xs, u, v, ctx):
        """int32 (rows, units): packed pixels (rows, nwords) times tap (u, v)'s weights."""
        if ctx.kernels is not None:
            return ctx.kernels.matmul(xm, xs, *self.tap_rows[u][v])[0]
        return gxnor_matmul(word_major(xm), word_major(xs), *self.tap_words[u][v],
                            method=ctx.method)[0]

    def run(self, a, ctx):
        values, scale = a
        n = len(values)
        if values.ndim == 2:            # dense after dense: one position per image
            values, scale = values.reshape(n, 1, 1, -1), scale.reshape(n, 1, 1)
        height, width = values.shape[1:3]
        (kh, kw), stride, pad = self.taps, self.geometry[1], self.geometry[2]
        # Channels packed once per pixel: (n, H, W, nwords) mask and sign planes.
        mask, sign = pack_bits(values != 0), pack_bits(values < 0)
        out = np.zeros((n,) + self.out_hw + (self.units,))
        for u in range(kh):
            i0, i1, rows = _tap_range(height, self.out_hw[0], u, stride[0], pad[0])
            for v in range(kw):
                j0, j1, cols = _tap_range(width, self.out_hw[1], v, stride[1], pad[1])
                if i1 == i0 or j1 == j0:
                    continue
                xm, xs = (np.ascontiguousarray(p[:, rows, cols]).reshape(-1, p.shape[-1])
                          for p in (mask, sign))
                z = self._tap_product(xm, xs, u, v, ctx).reshape(n, i1 - i0, j1 - j0, -1)
                out[:, i0:i1, j0:j1] += z * scale[:, rows, cols, None]
        self._stats(ctx, values, n * out.shape[1] * out.shape[2], n * self.gates_per_image)
        return out if self.kind == 'conv' else out.reshape(n, self.units)


def gated_xnor_conv2d(x, w, stride=1, pad=0, method=None, kernel=None):
    """Cross-correlation of ternary images with ternary filters, on packed bits.

    out[n, f, i, j] = sum_{c,u,v} x[n, c, i*s + u - pad, j*s + v - pad] * w[f, c, u, v],
    zero padding; computed as the engine's hidden conv layers are (channels
    packed per pixel, patches of packed bytes, gated-XNOR product).

    Parameters
    ----------
    x : array (n, C, H, W), values in {-1, 0, 1}
    w : array (F, C, kh, kw), values in {-1, 0, 1}
    stride, pad : int or pair
    method, kernel : as in :func:`gxnor_engine.packing.gated_xnor_dot`

    Returns
    -------
    int32 array (n, F, oh, ow)

    Examples
    --------
    >>> x = np.ones((1, 1, 3, 3), dtype=np.int8)
    >>> gated_xnor_conv2d(x, -np.ones((1, 1, 2, 2)), pad=0)[0, 0].tolist()
    [[-4, -4], [-4, -4]]
    """
    x, w = np.asarray(x), np.asarray(w)
    if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[1]:
        raise ValueError('gated_xnor_conv2d: need x (n, C, H, W) and w (F, C, kh, kw)')
    for a in (x, w):
        if a.size and not np.all((a == 0) | (a == 1) | (a == -1)):
            raise ValueError('gated_xnor_conv2d: values must be in {-1, 0, 1}')
    geometry = (w.shape[2:], pair(stride, 'stride'), pair(pad, 'pad'))
    w_hwc = np.ascontiguousarray(w.transpose(0, 2, 3, 1), dtype=np.int8)
    info = dict(name='conv', kind='conv', fan_in=w_hwc[0].size, units=len(w))
    stage = PackedStage(info, w_hwc, geometry)
    t = np.ascontiguousarray(x.transpose(0, 2, 3, 1), dtype=np.int8)
    return to_nchw(stage.run(t, Context(method, None, None, kernel)))
