/* gxnor_kernels.c: compiled kernels of the gated-XNOR engine (gated_xnor.py).
 *
 * Built and loaded with ctypes by gxnor_kernels.py; portable C99 for gcc and
 * clang (x86-64, aarch64).  NumPy cannot fuse AND, XOR and popcount into one
 * pass, and its im2col, pooling and thresholds make several passes with
 * temporaries; once the product was compiled, the first layer (float BLAS
 * on im2col patches), pooling and thresholds took most of the time, so they
 * are here too.  Each function is the loop of one engine stage:
 *
 *   gx_matmul        the packed ternary product (hidden layers)
 *   gx_pack_patches  int8 ternary activations -> im2col rows of mask/sign bits
 *   gx_conv_pixels   the first layer: uint8 pixels times ternary weights
 *   gx_max_pool      max-pooling of int32 sums
 *   gx_threshold     int32 sums -> ternary int8 activations
 *
 * Layouts are those of gated_xnor.py: a ternary vector is two bit planes,
 * mask (non-zero) and sign (negative), in np.packbits order (value i at bit
 * 7 - i % 8 of byte i / 8), 8 bytes per uint64 word; padding bits are 0.
 * Both operands of a product come from the same bytes, so the result does
 * not depend on the machine's byte order.
 *
 * Threads: OpenMP over rows (or images) where compiled with -fopenmp; the
 * count follows OMP_NUM_THREADS, default all cores.  Without OpenMP the
 * pragmas are ignored and everything runs on one thread.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Bumped when a signature changes, so that a stale cached library is refused. */
#define GX_ABI 1

#if defined(__GNUC__) || defined(__clang__)
/* One POPCNT instruction with -mpopcnt (x86-64), CNT + ADDV on aarch64. */
#define GX_POPCOUNT(x) __builtin_popcountll(x)
#else
static int GX_POPCOUNT(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return (int)((x * 0x0101010101010101ULL) >> 56);
}
#endif

/* Rows per OpenMP task of the product, and bytes of weight planes per block
 * of units: a block of units is reused by every row of a task, so it should
 * stay in the L1 cache (32 KiB or more on the machines we target). */
#define GX_ROW_BLOCK 32
#define GX_WEIGHT_BLOCK_BYTES 16384

/* Below this much work (words or values touched) a call runs on one thread:
 * waking the team would cost more than it saves. */
#define GX_PARALLEL_MIN (1 << 16)

/* The flags of this build, set by gxnor_kernels.py (-DGX_FLAGS="..."). */
#ifndef GX_FLAGS
#define GX_FLAGS "unknown"
#endif

int gx_abi(void)
{
    return GX_ABI;
}

const char *gx_flags(void)
{
    return GX_FLAGS;
}

int gx_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* 0 where the library was compiled for POPCNT (-mpopcnt) and this CPU lacks it. */
int gx_cpu_ok(void)
{
#if defined(__POPCNT__) && (defined(__x86_64__) || defined(__i386__)) && \
    (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("popcnt") != 0;
#else
    return 1;
#endif
}

/* Open gates and negative products of one row x against GX_UNITS units of
 * w (consecutive rows of nwords words): each word of x is loaded once for
 * all of them, and the GX_UNITS chains of popcounts run in parallel. */
#define GX_UNITS 4
static void gx_dot_units(const uint64_t *a, const uint64_t *b, const uint64_t *wm,
                         const uint64_t *ws, int64_t nwords, int64_t *open, int64_t *negative)
{
    int64_t k, u;
    for (u = 0; u < GX_UNITS; u++)
        open[u] = negative[u] = 0;
    for (k = 0; k < nwords; k++) {
        uint64_t xm = a[k], xs = b[k];
        for (u = 0; u < GX_UNITS; u++) {
            uint64_t g = xm & wm[u * nwords + k];
            open[u] += GX_POPCOUNT(g);
            negative[u] += GX_POPCOUNT(g & (xs ^ ws[u * nwords + k]));
        }
    }
}

/* z[r, u] = sum_k x[r, k] * w[u, k] for packed ternary rows, C-contiguous
 * planes x (rows, nwords) and w (units, nwords):
 *     gate = xm & wm;  z = popcount(gate) - 2 * popcount(gate & (xs ^ ws)).
 * gate (may be NULL) receives the per-element number of open gates; the
 * return value is their total.  Rows go to the threads in blocks of
 * GX_ROW_BLOCK, units in blocks that keep their planes in L1. */
int64_t gx_matmul(const uint64_t *xm, const uint64_t *xs, int64_t rows,
                  const uint64_t *wm, const uint64_t *ws, int64_t units,
                  int64_t nwords, int32_t *z, int32_t *gate)
{
    int64_t total = 0, ublock, r0;
    ublock = nwords > 0 ? GX_WEIGHT_BLOCK_BYTES / (16 * nwords) : units;
    ublock = ublock < GX_UNITS ? GX_UNITS : ublock - ublock % GX_UNITS;
#pragma omp parallel for schedule(dynamic, 1) reduction(+:total) \
    if (rows * units * nwords >= GX_PARALLEL_MIN)
    for (r0 = 0; r0 < rows; r0 += GX_ROW_BLOCK) {
        int64_t r1 = r0 + GX_ROW_BLOCK < rows ? r0 + GX_ROW_BLOCK : rows;
        int64_t u0, u1, r, u, k, i, open[GX_UNITS], negative[GX_UNITS];
        for (u0 = 0; u0 < units; u0 += ublock) {
            u1 = u0 + ublock < units ? u0 + ublock : units;
            for (r = r0; r < r1; r++) {
                const uint64_t *a = xm + r * nwords, *b = xs + r * nwords;
                for (u = u0; u < u1; u += GX_UNITS) {
                    int64_t count = u1 - u < GX_UNITS ? u1 - u : GX_UNITS;
                    if (count == GX_UNITS) {
                        gx_dot_units(a, b, wm + u * nwords, ws + u * nwords, nwords, open,
                                     negative);
                    } else {                    /* the last few units, one at a time */
                        for (i = 0; i < count; i++) {
                            const uint64_t *c = wm + (u + i) * nwords, *d = ws + (u + i) * nwords;
                            open[i] = negative[i] = 0;
                            for (k = 0; k < nwords; k++) {
                                uint64_t g = a[k] & c[k];
                                open[i] += GX_POPCOUNT(g);
                                negative[i] += GX_POPCOUNT(g & (b[k] ^ d[k]));
                            }
                        }
                    }
                    for (i = 0; i < count; i++) {
                        z[r * units + u + i] = (int32_t)(open[i] - 2 * negative[i]);
                        if (gate)
                            gate[r * units + u + i] = (int32_t)open[i];
                        total += open[i];
                    }
                }
            }
        }
    }
    return total;
}

/* Patches of packed ternary images.  t: int8 (n, height, width, channels);
 * each pixel's channels are packed into bpp = ceil(channels / 8) bytes, and
 * row (img, i, j) of the output planes (n * oh * ow, nwords) holds the bytes
 * of the kh x kw pixels of its window in (u, v) order, zero for padding and
 * after the last byte, as _PackedStage packs its weights.  A dense layer is
 * the case height = width = kh = kw = 1.  Returns 0, or -1 if out of memory. */
int gx_pack_patches(const int8_t *t, int64_t n, int64_t height, int64_t width,
                    int64_t channels, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                    int64_t ph, int64_t pw, int64_t oh, int64_t ow, int64_t nwords,
                    uint64_t *mask, uint64_t *sign)
{
    int64_t bpp = (channels + 7) / 8, pixels = height * width;
    int failed = 0;
#pragma omp parallel if (n * oh * ow * nwords >= GX_PARALLEL_MIN)
    {
        /* The packed pixels of one image, mask bytes then sign bytes. */
        uint8_t *pm = (uint8_t *)malloc((size_t)(2 * pixels * bpp + 1));
        uint8_t *ps = pm ? pm + pixels * bpp : NULL;
        int64_t img;
        if (!pm) {
#pragma omp critical
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (img = 0; img < n; img++) {
            const int8_t *src = t + img * pixels * channels;
            int64_t p, c, i, j, u;
            if (!pm)
                continue;
            for (p = 0; p < pixels; p++) {
                const int8_t *v = src + p * channels;
                uint8_t *om = pm + p * bpp, *os = ps + p * bpp;
                for (c = 0; c < channels; c += 8) {
                    int64_t e = c + 8 < channels ? c + 8 : channels, q;
                    unsigned bm = 0, bs = 0;
                    for (q = c; q < e; q++) {
                        bm |= (unsigned)(v[q] != 0) << (7 - (q - c));
                        bs |= (unsigned)(v[q] < 0) << (7 - (q - c));
                    }
                    om[c / 8] = (uint8_t)bm;
                    os[c / 8] = (uint8_t)bs;
                }
            }
            for (i = 0; i < oh; i++) {
                for (j = 0; j < ow; j++) {
                    int64_t row = (img * oh + i) * ow + j;
                    uint8_t *dm = (uint8_t *)(mask + row * nwords);
                    uint8_t *ds = (uint8_t *)(sign + row * nwords);
                    /* The window's columns inside the image: v in [v0, v1). */
                    int64_t x0 = j * sw - pw, v0 = x0 < 0 ? -x0 : 0;
                    int64_t v1 = width - x0 < kw ? width - x0 : kw;
                    memset(dm, 0, (size_t)(8 * nwords));
                    memset(ds, 0, (size_t)(8 * nwords));
                    if (v1 <= v0)
                        continue;
                    for (u = 0; u < kh; u++) {
                        int64_t y = i * sh + u - ph;
                        size_t from = (size_t)((y * width + x0 + v0) * bpp);
                        size_t to = (size_t)((u * kw + v0) * bpp);
                        size_t len = (size_t)((v1 - v0) * bpp);
                        if (y < 0 || y >= height)
                            continue;
                        memcpy(dm + to, pm + from, len);
                        memcpy(ds + to, ps + from, len);
                    }
                }
            }
        }
        free(pm);
    }
    return failed ? -1 : 0;
}

/* Columns of the first layer's output computed at once: GX_COLS int32
 * accumulators stay in vector registers while a unit's taps are added. */
#define GX_COLS 8

/* One block of GX_COLS output columns of one unit: the sum of the taps at
 * offsets pos[] minus those at neg[] (offsets into the padded image `src`,
 * which starts at the block's first column; sw is the column stride). */
static void gx_conv_block(const int32_t *src, int64_t sw, const int64_t *pos, int64_t npos,
                          const int64_t *neg, int64_t nneg, int32_t *acc)
{
    int32_t a[GX_COLS];
    int64_t t, j;
    for (j = 0; j < GX_COLS; j++)
        a[j] = 0;
    for (t = 0; t < npos; t++)
        for (j = 0; j < GX_COLS; j++)
            a[j] += src[pos[t] + j * sw];
    for (t = 0; t < nneg; t++)
        for (j = 0; j < GX_COLS; j++)
            a[j] -= src[neg[t] + j * sw];
    for (j = 0; j < GX_COLS; j++)
        acc[j] = a[j];
}

/* The first layer: z[img, i, j, f] = sum_{c,u,v} w[f, c, u, v] * q[c, y, x],
 * q = 2p - 255 for the pixels p of X (uint8, n, channels, height, width),
 * zero outside the image (padding), y = i*sh + u - ph, x = j*sw + v - pw;
 * w int8 in {-1, 0, 1} (units, channels, kh, kw); z int32 (n, oh, ow, units).
 * With ternary weights a unit only adds and subtracts taps of the padded
 * image (no multiplications, zero weights skipped), GX_COLS columns at a
 * time.  The caller checks that 255 * fan-in fits int32.  Returns 0, or -1
 * if out of memory. */
int gx_conv_pixels(const uint8_t *X, int64_t n, int64_t channels, int64_t height,
                   int64_t width, const int8_t *w, int64_t units, int64_t kh, int64_t kw,
                   int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t oh, int64_t ow,
                   int32_t *z)
{
    int64_t hp = height + 2 * ph, wp = width + 2 * pw, taps = channels * kh * kw;
    /* The padded image, and slack for the columns of the last block past ow. */
    int64_t size = channels * hp * wp + GX_COLS * sw;
    int64_t *offsets = (int64_t *)malloc((size_t)(units * taps + 1) * sizeof(int64_t));
    int64_t *npos = (int64_t *)malloc((size_t)(2 * units + 1) * sizeof(int64_t));
    int64_t *nneg = npos ? npos + units : NULL;
    int64_t f, k;
    int failed = 0;
    if (!offsets || !npos) {
        free(offsets);
        free(npos);
        return -1;
    }
    /* Per unit, the offsets of its +1 taps, then of its -1 taps (from the end). */
    for (f = 0; f < units; f++) {
        int64_t *o = offsets + f * taps, p = 0, m = 0;
        for (k = 0; k < taps; k++) {
            int64_t c = k / (kh * kw), u = k / kw % kh, v = k % kw;
            int8_t wv = w[f * taps + k];
            if (wv > 0)
                o[p++] = (c * hp + u) * wp + v;
            else if (wv < 0)
                o[taps - 1 - m++] = (c * hp + u) * wp + v;
        }
        npos[f] = p;
        nneg[f] = m;
    }
#pragma omp parallel if (n * oh * ow * units >= GX_PARALLEL_MIN)
    {
        int32_t *q = (int32_t *)calloc((size_t)size, sizeof(int32_t));
        int64_t img;
        if (!q) {
#pragma omp critical
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (img = 0; img < n; img++) {
            const uint8_t *p = X + img * channels * height * width;
            int32_t acc[GX_COLS];
            int64_t c, y, x, i, j, jj, g;
            if (!q)
                continue;
            for (c = 0; c < channels; c++)
                for (y = 0; y < height; y++)
                    for (x = 0; x < width; x++)
                        q[(c * hp + y + ph) * wp + x + pw] =
                            2 * (int32_t)p[(c * height + y) * width + x] - 255;
            for (i = 0; i < oh; i++) {
                for (j = 0; j < ow; j += GX_COLS) {
                    const int32_t *src = q + i * sh * wp + j * sw;
                    int64_t cols = ow - j < GX_COLS ? ow - j : GX_COLS;
                    int32_t *out = z + ((img * oh + i) * ow + j) * units;
                    for (g = 0; g < units; g++) {
                        const int64_t *o = offsets + g * taps;
                        if (sw == 1)    /* constant stride: the compiler vectorises */
                            gx_conv_block(src, 1, o, npos[g], o + taps - nneg[g], nneg[g], acc);
                        else
                            gx_conv_block(src, sw, o, npos[g], o + taps - nneg[g], nneg[g], acc);
                        for (jj = 0; jj < cols; jj++)
                            out[jj * units + g] = acc[jj];
                    }
                }
            }
        }
        free(q);
    }
    free(offsets);
    free(npos);
    return failed ? -1 : 0;
}

/* Max-pooling of int32 NHWC sums a (n, height, width, channels) into out
 * (n, oh, ow, channels), windows ph x pw at strides sh, sw, clipped at the
 * border (partial windows take the max of what they hold).  flip (may be
 * NULL) is -1 for the channels that pool -a instead (batch norm with a
 * negative slope: max becomes min), else 0.  NumPy needs one strided pass
 * per window offset; here each output is one pass over its window. */
void gx_max_pool(const int32_t *a, int64_t n, int64_t height, int64_t width,
                 int64_t channels, int64_t ph, int64_t pw, int64_t sh, int64_t sw,
                 int64_t oh, int64_t ow, const int32_t *flip, int32_t *out)
{
    int64_t row;
#pragma omp parallel for schedule(static) if (n * height * width * channels >= GX_PARALLEL_MIN)
    for (row = 0; row < n * oh; row++) {
        int64_t img = row / oh, i = row % oh, j, y, x, c;
        for (j = 0; j < ow; j++) {
            int32_t *o = out + (row * ow + j) * channels;
            int64_t y1 = i * sh + ph < height ? i * sh + ph : height;
            int64_t x1 = j * sw + pw < width ? j * sw + pw : width;
            for (y = i * sh; y < y1; y++) {
                for (x = j * sw; x < x1; x++) {
                    const int32_t *s = a + ((img * height + y) * width + x) * channels;
                    int first = y == i * sh && x == j * sw;
                    for (c = 0; c < channels; c++) {
                        int32_t m = flip ? flip[c] : 0, v = (s[c] ^ m) - m;
                        o[c] = first || v > o[c] ? v : o[c];
                    }
                }
            }
            if (flip)
                for (c = 0; c < channels; c++)
                    o[c] = (o[c] ^ flip[c]) - flip[c];
        }
    }
}

/* Ternary output of integer sums z (rows, channels): +1 where sign*z >= pos,
 * -1 where sign*z <= neg, else 0 (per-channel int32 thresholds, see
 * gated_xnor.fold_thresholds); one pass instead of NumPy's four. */
void gx_threshold(const int32_t *z, int64_t rows, int64_t channels, const int32_t *sign,
                  const int32_t *pos, const int32_t *neg, int8_t *out)
{
    int64_t r;
#pragma omp parallel for schedule(static) if (rows * channels >= GX_PARALLEL_MIN)
    for (r = 0; r < rows; r++) {
        const int32_t *s = z + r * channels;
        int8_t *o = out + r * channels;
        int64_t c;
        for (c = 0; c < channels; c++) {
            int32_t v = sign[c] < 0 ? -s[c] : s[c];
            o[c] = (int8_t)((v >= pos[c]) - (v <= neg[c]));
        }
    }
}
