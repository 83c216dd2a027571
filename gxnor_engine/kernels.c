/* gxnor_engine/kernels.c: compiled kernels of the gated-XNOR engine (gated_xnor.py).
 *
 * Built and loaded with ctypes by kernels.py (next to it); portable C99 for gcc and
 * clang (x86-64, aarch64).  NumPy cannot fuse AND, XOR and popcount into one
 * pass, and its im2col, pooling and thresholds make several passes with
 * temporaries; once the product was compiled, the first layer (float BLAS
 * on im2col patches), pooling and thresholds took most of the time, so they
 * are here too.  Each function is the loop of one engine stage:
 *
 *   gx_matmul             the packed ternary product (hidden layers), and
 *                         the max-pooling after it, image by image
 *   gx_pack_patches       int8 ternary activations -> im2col rows of
 *                         mask/sign bits
 *   gx_conv_pixels        the first layer: uint8 pixels times ternary
 *                         weights, and the max-pooling after it
 *   gx_max_pool           max-pooling of int32 sums
 *   gx_threshold          int32 sums -> ternary int8 activations
 *
 * Where the time went (bench/engine_stages.py): a batch of 256 MNIST images
 * has 18 MB of first-layer sums, and pooling them from memory took a third
 * of the first layer's time; so the products pool each image's sums while
 * they are in the cache.
 *
 * Kernel paths.  The functions take a path argument:
 *
 *   GX_PATH_SCALAR  64-bit words and POPCNT; the reference, and the only
 *                   path on other CPUs and compilers (aarch64, MSVC)
 *   GX_PATH_AVX2    units across the 4 lanes of a 256-bit vector, popcount
 *                   by nibble look-up (vpshufb) summed with vpsadbw; the
 *                   first layer with vpmaddubsw (uint8 x int8)
 *   GX_PATH_AVX512  8 units per 512-bit vector, VPOPCNTQ; the first layer
 *                   with VNNI dot products (vpdpbusd, uint8 x int8 -> int32)
 *
 * All are compiled into one library (__attribute__((target))), and
 * gx_paths() says which ones this CPU runs (__builtin_cpu_supports, which
 * also checks that the OS saves the vector registers); kernels.py
 * picks the best one or the one $GXNOR_KERNEL_PATH forces.  Every path
 * computes the same integers: integer operations only, in types that cannot
 * overflow.
 *
 * Layouts are those of gated_xnor.py: a ternary vector is two bit planes,
 * mask (non-zero) and sign (negative), in np.packbits order (value i at bit
 * 7 - i % 8 of byte i / 8), 8 bytes per uint64 word; padding bits are 0.
 * Both operands of a product come from the same bytes, so the result does
 * not depend on the machine's byte order.
 *
 * Threads: OpenMP over rows (or images) where compiled with -fopenmp; the
 * count follows OMP_NUM_THREADS (default all cores) or gx_set_threads.
 * Without OpenMP the pragmas are ignored and everything runs on one thread.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* The vector paths need x86 and a compiler with target attributes and the
 * AVX-512 intrinsics (gcc >= 8, clang >= 7); -DGX_SCALAR_ONLY leaves them out. */
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) \
    && !defined(GX_SCALAR_ONLY)
#define GX_X86_PATHS 1
#include <immintrin.h>
#define GX_AVX2 __attribute__((target("avx2,popcnt")))
#define GX_AVX512 __attribute__((target("avx2,popcnt,avx512f,avx512bw,avx512vl," \
                                        "avx512vpopcntdq,avx512vnni")))
/* Unaligned loads and stores of whole vectors. */
#define GX_LOAD512(p) _mm512_loadu_si512((const void *)(p))
#define GX_STORE512(p, v) _mm512_storeu_si512((void *)(p), v)
#define GX_LOAD256(p) _mm256_loadu_si256((const __m256i *)(p))
#define GX_STORE256(p, v) _mm256_storeu_si256((__m256i *)(p), v)
#endif

enum { GX_PATH_SCALAR = 0, GX_PATH_AVX2 = 1, GX_PATH_AVX512 = 2 };

/* Bumped when a signature changes, so that a stale cached library is refused. */
#define GX_ABI 2

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

/* Rows per OpenMP task of the product (a multiple of the rows each step of
 * the vector paths takes: 4 with AVX-512, 2 with AVX2), and bytes of weight
 * planes per block of units: a block of units is reused by every row of a
 * task, so it should stay in the L1 cache (32 KiB or more on the machines we
 * target). */
#define GX_ROW_BLOCK 32
#define GX_WEIGHT_BLOCK_BYTES 16384

/* Below this much work (words or values touched) a call runs on one thread:
 * waking the team would cost more than it saves. */
#define GX_PARALLEL_MIN (1 << 16)

/* The flags of this build, set by kernels.py (-DGX_FLAGS="..."). */
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

/* Bit i set where path i runs here: compiled in, and the CPU (and the OS,
 * which must save the wider registers) supports its instructions. */
int gx_paths(void)
{
    int paths = 1 << GX_PATH_SCALAR;
#ifdef GX_X86_PATHS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt"))
        paths |= 1 << GX_PATH_AVX2;
    if ((paths & (1 << GX_PATH_AVX2)) && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512vpopcntdq") && __builtin_cpu_supports("avx512vnni"))
        paths |= 1 << GX_PATH_AVX512;
#endif
    return paths;
}

/* OpenMP threads of the following calls from this thread (omp_set_num_threads). */
void gx_set_threads(int threads)
{
#ifdef _OPENMP
    if (threads > 0)
        omp_set_num_threads(threads);
#else
    (void)threads;
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
 * A block of rows [r0, r1) (row r0 of z and gate at z[0], gate[0]), units in
 * blocks that keep their planes in L1.  gate (may be NULL) receives the
 * per-element number of open gates; the return value is their total. */
static int64_t gx_block_scalar(const uint64_t *xm, const uint64_t *xs, int64_t r0, int64_t r1,
                               const uint64_t *wm, const uint64_t *ws, int64_t units,
                               int64_t nwords, int32_t *z, int32_t *gate)
{
    int64_t total = 0, ublock;
    ublock = nwords > 0 ? GX_WEIGHT_BLOCK_BYTES / (16 * nwords) : units;
    ublock = ublock < GX_UNITS ? GX_UNITS : ublock - ublock % GX_UNITS;
    {
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
                        z[(r - r0) * units + u + i] = (int32_t)(open[i] - 2 * negative[i]);
                        if (gate)
                            gate[(r - r0) * units + u + i] = (int32_t)open[i];
                        total += open[i];
                    }
                }
            }
        }
    }
    return total;
}

#ifdef GX_X86_PATHS

/* Weight planes (units, nwords) -> blocks of `lanes` units, word-major inside
 * a block: out[(b * nwords + k) * lanes + l] = w[b * lanes + l, k], zero for
 * the units past the last (their sums are computed and dropped). */
static uint64_t *gx_interleave(const uint64_t *w, int64_t units, int64_t nwords, int64_t lanes)
{
    int64_t blocks = (units + lanes - 1) / lanes, b, k, l;
    uint64_t *out = (uint64_t *)malloc((size_t)(blocks * nwords * lanes + 1) * sizeof(uint64_t));
    if (!out)
        return NULL;
    for (b = 0; b < blocks; b++)
        for (k = 0; k < nwords; k++)
            for (l = 0; l < lanes; l++)
                out[(b * nwords + k) * lanes + l] =
                    b * lanes + l < units ? w[(b * lanes + l) * nwords + k] : 0;
    return out;
}

/* ---- AVX-512: 8 units per vector, VPOPCNTQ --------------------------------- */

/* z and gate of R rows (R constant after inlining) against one block of 8
 * units: per word k, each row's word is broadcast and meets the block's 8
 * weight words; popcounts add up in 64-bit lanes.  Returns the open gates
 * as 8 lane totals. */
static inline __attribute__((always_inline)) GX_AVX512 __m512i
gx_rows_avx512(const int R, const uint64_t *xm, const uint64_t *xs, int64_t nwords,
               const uint64_t *wb, const uint64_t *sb, int32_t *z, int32_t *gate,
               int64_t units, int64_t count)
{
    __m512i open[4], neg[4], total = _mm512_setzero_si512();
    __mmask8 keep = (__mmask8)((1u << count) - 1);
    int64_t k;
    int t;
    for (t = 0; t < R; t++)
        open[t] = neg[t] = _mm512_setzero_si512();
    for (k = 0; k < nwords; k++) {
        __m512i w = _mm512_loadu_si512((const void *)(wb + 8 * k));
        __m512i s = _mm512_loadu_si512((const void *)(sb + 8 * k));
        for (t = 0; t < R; t++) {
            __m512i g = _mm512_and_si512(w, _mm512_set1_epi64((long long)xm[t * nwords + k]));
            /* g & (s ^ xs): truth table 0x60 of (A, B, C) = (g, s, xs) */
            __m512i d = _mm512_ternarylogic_epi64(
                g, s, _mm512_set1_epi64((long long)xs[t * nwords + k]), 0x60);
            open[t] = _mm512_add_epi64(open[t], _mm512_popcnt_epi64(g));
            neg[t] = _mm512_add_epi64(neg[t], _mm512_popcnt_epi64(d));
        }
    }
    for (t = 0; t < R; t++) {
        __m512i v = _mm512_sub_epi64(open[t], _mm512_add_epi64(neg[t], neg[t]));
        _mm256_mask_storeu_epi32((void *)(z + t * units), keep, _mm512_cvtepi64_epi32(v));
        if (gate)
            _mm256_mask_storeu_epi32((void *)(gate + t * units), keep,
                                     _mm512_cvtepi64_epi32(open[t]));
        total = _mm512_add_epi64(total, open[t]);
    }
    return total;
}

/* As gx_block_scalar on interleaved weights (gx_interleave, 8 lanes). */
GX_AVX512
static int64_t gx_block_avx512(const uint64_t *xm, const uint64_t *xs, int64_t r0, int64_t r1,
                               const uint64_t *wmi, const uint64_t *wsi, int64_t units,
                               int64_t nwords, int32_t *z, int32_t *gate)
{
    int64_t blocks = (units + 7) / 8, total = 0, chunk;
    /* Blocks of units whose planes (128 bytes per word) stay in L1 for the rows. */
    chunk = nwords > 0 ? GX_WEIGHT_BLOCK_BYTES / (128 * nwords) : blocks;
    chunk = chunk < 1 ? 1 : chunk;
    {
        int64_t b0, b1, b, r;
        __m512i sum = _mm512_setzero_si512();
        for (b0 = 0; b0 < blocks; b0 += chunk) {
            b1 = b0 + chunk < blocks ? b0 + chunk : blocks;
            for (r = r0; r < r1; r += 4) {
                for (b = b0; b < b1; b++) {
                    const uint64_t *wb = wmi + b * nwords * 8, *sb = wsi + b * nwords * 8;
                    int64_t count = units - 8 * b < 8 ? units - 8 * b : 8, t;
                    int32_t *zr = z + (r - r0) * units + 8 * b;
                    int32_t *gr = gate ? gate + (r - r0) * units + 8 * b : NULL;
                    if (r1 - r >= 4) {
                        sum = _mm512_add_epi64(sum, gx_rows_avx512(
                            4, xm + r * nwords, xs + r * nwords, nwords, wb, sb, zr, gr,
                            units, count));
                        continue;
                    }
                    for (t = 0; t < r1 - r; t++)
                        sum = _mm512_add_epi64(sum, gx_rows_avx512(
                            1, xm + (r + t) * nwords, xs + (r + t) * nwords, nwords, wb, sb,
                            zr + t * units, gr ? gr + t * units : NULL, units, count));
                }
            }
        }
        total += _mm512_reduce_add_epi64(sum);
    }
    return total;
}

/* ---- AVX2: 4 units per vector, nibble look-up popcount --------------------- */

/* Bytes counts of the set bits of each byte of v (vpshufb on both nibbles). */
static inline __attribute__((always_inline)) GX_AVX2 __m256i
gx_byte_counts(__m256i v, __m256i table, __m256i low)
{
    __m256i lo = _mm256_and_si256(v, low);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    return _mm256_add_epi8(_mm256_shuffle_epi8(table, lo), _mm256_shuffle_epi8(table, hi));
}

/* As gx_rows_avx512, 4 units per vector: byte counts add up for at most 31
 * words (31 * 8 < 256), then vpsadbw sums each 64-bit lane's 8 bytes. */
static inline __attribute__((always_inline)) GX_AVX2 __m256i
gx_rows_avx2(const int R, const uint64_t *xm, const uint64_t *xs, int64_t nwords,
             const uint64_t *wb, const uint64_t *sb, int32_t *z, int32_t *gate,
             int64_t units, int64_t count)
{
    const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                           0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
    __m256i open[2], neg[2], total = zero;
    int64_t k0, k;
    int t;
    for (t = 0; t < R; t++)
        open[t] = neg[t] = zero;
    for (k0 = 0; k0 < nwords; k0 += 31) {
        int64_t k1 = k0 + 31 < nwords ? k0 + 31 : nwords;
        __m256i open8[2], neg8[2];
        for (t = 0; t < R; t++)
            open8[t] = neg8[t] = zero;
        for (k = k0; k < k1; k++) {
            __m256i w = _mm256_loadu_si256((const __m256i *)(wb + 4 * k));
            __m256i s = _mm256_loadu_si256((const __m256i *)(sb + 4 * k));
            for (t = 0; t < R; t++) {
                __m256i g = _mm256_and_si256(w, _mm256_set1_epi64x((long long)xm[t * nwords + k]));
                __m256i d = _mm256_and_si256(
                    g, _mm256_xor_si256(s, _mm256_set1_epi64x((long long)xs[t * nwords + k])));
                open8[t] = _mm256_add_epi8(open8[t], gx_byte_counts(g, table, low));
                neg8[t] = _mm256_add_epi8(neg8[t], gx_byte_counts(d, table, low));
            }
        }
        for (t = 0; t < R; t++) {
            open[t] = _mm256_add_epi64(open[t], _mm256_sad_epu8(open8[t], zero));
            neg[t] = _mm256_add_epi64(neg[t], _mm256_sad_epu8(neg8[t], zero));
        }
    }
    for (t = 0; t < R; t++) {
        int64_t o[4], m[4], l;
        _mm256_storeu_si256((__m256i *)o, open[t]);
        _mm256_storeu_si256((__m256i *)m, neg[t]);
        for (l = 0; l < count; l++) {
            z[t * units + l] = (int32_t)(o[l] - 2 * m[l]);
            if (gate)
                gate[t * units + l] = (int32_t)o[l];
        }
        total = _mm256_add_epi64(total, open[t]);
    }
    return total;
}

/* As gx_block_scalar on interleaved weights (gx_interleave, 4 lanes). */
GX_AVX2
static int64_t gx_block_avx2(const uint64_t *xm, const uint64_t *xs, int64_t r0, int64_t r1,
                             const uint64_t *wmi, const uint64_t *wsi, int64_t units,
                             int64_t nwords, int32_t *z, int32_t *gate)
{
    int64_t blocks = (units + 3) / 4, total = 0, chunk;
    chunk = nwords > 0 ? GX_WEIGHT_BLOCK_BYTES / (64 * nwords) : blocks;
    chunk = chunk < 1 ? 1 : chunk;
    {
        int64_t b0, b1, b, r, lanes[4];
        __m256i sum = _mm256_setzero_si256();
        for (b0 = 0; b0 < blocks; b0 += chunk) {
            b1 = b0 + chunk < blocks ? b0 + chunk : blocks;
            for (r = r0; r < r1; r += 2) {
                for (b = b0; b < b1; b++) {
                    const uint64_t *wb = wmi + b * nwords * 4, *sb = wsi + b * nwords * 4;
                    int64_t count = units - 4 * b < 4 ? units - 4 * b : 4;
                    int32_t *zr = z + (r - r0) * units + 4 * b;
                    int32_t *gr = gate ? gate + (r - r0) * units + 4 * b : NULL;
                    if (r1 - r >= 2)
                        sum = _mm256_add_epi64(sum, gx_rows_avx2(
                            2, xm + r * nwords, xs + r * nwords, nwords, wb, sb, zr, gr,
                            units, count));
                    else
                        sum = _mm256_add_epi64(sum, gx_rows_avx2(
                            1, xm + r * nwords, xs + r * nwords, nwords, wb, sb, zr, gr,
                            units, count));
                }
            }
        }
        _mm256_storeu_si256((__m256i *)lanes, sum);
        total += lanes[0] + lanes[1] + lanes[2] + lanes[3];
    }
    return total;
}

#endif  /* GX_X86_PATHS */

static void gx_pool(int path, const int32_t *a, int64_t height, int64_t width,
                    int64_t channels, int64_t ph, int64_t pw, int64_t sh, int64_t sw,
                    int64_t oh, int64_t ow, const int32_t *flip, int32_t *out);

typedef int64_t (*gx_block_fn)(const uint64_t *, const uint64_t *, int64_t, int64_t,
                               const uint64_t *, const uint64_t *, int64_t, int64_t, int32_t *,
                               int32_t *);

/* z[r, u] = sum_k x[r, k] * w[u, k] on the given path (see gx_block_scalar),
 * rows to the threads in blocks of GX_ROW_BLOCK.  pool_h > 0: the rows are
 * images of height x width positions whose sums are max-pooled right away,
 * image by image while they are in the cache (as gx_max_pool: windows pool_h
 * x pool_w at strides psh, psw, flip), into z (n, pool_oh, pool_ow, units);
 * gate must then be NULL.  Returns the number of open gates, or -1 if out of
 * memory. */
int64_t gx_matmul(int path, const uint64_t *xm, const uint64_t *xs, int64_t rows,
                  const uint64_t *wm, const uint64_t *ws, int64_t units, int64_t nwords,
                  int32_t *z, int32_t *gate, int64_t height, int64_t width, int64_t pool_h,
                  int64_t pool_w, int64_t psh, int64_t psw, int64_t pool_oh, int64_t pool_ow,
                  const int32_t *flip)
{
    gx_block_fn block = gx_block_scalar;
    const uint64_t *wa = wm, *wb = ws;
    uint64_t *wmi = NULL, *wsi = NULL;
    int64_t total = 0, r0, img, per_image = height * width;
    int failed = 0;
    if (rows <= 0 || units <= 0)
        return 0;
#ifdef GX_X86_PATHS
    if (path == GX_PATH_AVX512 || path == GX_PATH_AVX2) {
        int64_t lanes = path == GX_PATH_AVX512 ? 8 : 4;
        wmi = gx_interleave(wm, units, nwords, lanes);
        wsi = wmi ? gx_interleave(ws, units, nwords, lanes) : NULL;
        if (!wsi) {
            free(wmi);
            return -1;
        }
        wa = wmi, wb = wsi;
        block = path == GX_PATH_AVX512 ? gx_block_avx512 : gx_block_avx2;
    }
#else
    (void)path;
#endif
    if (!pool_h) {
#pragma omp parallel for schedule(dynamic, 1) reduction(+:total) \
    if (rows * units * nwords >= GX_PARALLEL_MIN)
        for (r0 = 0; r0 < rows; r0 += GX_ROW_BLOCK) {
            int64_t r1 = r0 + GX_ROW_BLOCK < rows ? r0 + GX_ROW_BLOCK : rows;
            total += block(xm, xs, r0, r1, wa, wb, units, nwords, z + r0 * units,
                           gate ? gate + r0 * units : NULL);
        }
    } else {
#pragma omp parallel reduction(+:total) if (rows * units * nwords >= GX_PARALLEL_MIN)
        {
            int32_t *sums = (int32_t *)malloc((size_t)(per_image * units + 1) * sizeof(int32_t));
            if (!sums) {
#pragma omp critical
                failed = 1;
            }
#pragma omp for schedule(dynamic, 1)
            for (img = 0; img < rows / per_image; img++) {
                if (!sums)
                    continue;
                total += block(xm, xs, img * per_image, (img + 1) * per_image, wa, wb, units,
                               nwords, sums, NULL);
                gx_pool(path, sums, height, width, units, pool_h, pool_w, psh, psw, pool_oh,
                        pool_ow, flip, z + img * pool_oh * pool_ow * units);
            }
            free(sums);
        }
    }
    free(wmi);
    free(wsi);
    return failed ? -1 : total;
}

/* Copy len bytes with 8-byte moves (a libc call per window row cost more
 * than the copy). */
static inline void gx_copy(uint8_t *dst, const uint8_t *src, size_t len)
{
    size_t b = 0;
    uint64_t w8;
    uint32_t w4;
    for (; b + 8 <= len; b += 8) {
        memcpy(&w8, src + b, 8);
        memcpy(dst + b, &w8, 8);
    }
    if (b + 4 <= len) {
        memcpy(&w4, src + b, 4);
        memcpy(dst + b, &w4, 4);
        b += 4;
    }
    for (; b < len; b++)
        dst[b] = src[b];
}

/* The mask and sign bytes of `count` int8 ternary values v, 8 per byte in
 * np.packbits order (value i at bit 7 - i % 8); count a multiple of 8. */
static void gx_pack_values_scalar(const int8_t *v, int64_t count, uint8_t *om, uint8_t *os)
{
    int64_t c, q;
    for (c = 0; c < count; c += 8) {
        unsigned bm = 0, bs = 0;
        for (q = 0; q < 8; q++) {
            bm |= (unsigned)(v[c + q] != 0) << (7 - q);
            bs |= (unsigned)(v[c + q] < 0) << (7 - q);
        }
        om[c / 8] = (uint8_t)bm;
        os[c / 8] = (uint8_t)bs;
    }
}

#ifdef GX_X86_PATHS
/* As gx_pack_values_scalar, 64 values per step: the bytes of each group of 8
 * are reversed (vpshufb), so that the bit masks of the vector's bytes
 * (non-zero: vptestmb, negative: vpmovb2m) come out in np.packbits order. */
GX_AVX512
static void gx_pack_values_avx512(const int8_t *v, int64_t count, uint8_t *om, uint8_t *os)
{
    const __m512i reverse = _mm512_set_epi8(
        8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7,
        8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7,
        8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7,
        8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    int64_t c;
    for (c = 0; c < count; c += 64) {
        int64_t left = count - c < 64 ? count - c : 64;
        __mmask64 load = left == 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1);
        __m512i x = _mm512_shuffle_epi8(_mm512_maskz_loadu_epi8(load, v + c), reverse);
        uint64_t m = (uint64_t)_mm512_test_epi8_mask(x, x), s = (uint64_t)_mm512_movepi8_mask(x);
        memcpy(om + c / 8, &m, (size_t)(left / 8));
        memcpy(os + c / 8, &s, (size_t)(left / 8));
    }
}

/* As gx_pack_values_avx512, 32 values per step (vpmovmskb). */
GX_AVX2
static void gx_pack_values_avx2(const int8_t *v, int64_t count, uint8_t *om, uint8_t *os)
{
    const __m256i reverse = _mm256_set_epi8(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7,
                                            8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i zero = _mm256_setzero_si256();
    int64_t c = 0;
    for (; c + 32 <= count; c += 32) {
        __m256i x = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(v + c)), reverse);
        uint32_t m = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, zero));
        uint32_t s = (uint32_t)_mm256_movemask_epi8(x);
        memcpy(om + c / 8, &m, 4);
        memcpy(os + c / 8, &s, 4);
    }
    if (c < count)
        gx_pack_values_scalar(v + c, count - c, om + c / 8, os + c / 8);
}
#endif

/* Ternary output of integer sums z (rows, channels): +1 where sign*z >= pos,
 * -1 where sign*z <= neg, else 0 (per-channel int32 thresholds, see
 * gated_xnor.fold_thresholds); one pass instead of NumPy's four, branch-free
 * so that the compiler vectorises it for each path's instructions. */
static inline __attribute__((always_inline)) void
gx_threshold_body(const int32_t *z, int64_t rows, int64_t channels, const int32_t *sign,
                  const int32_t *pos, const int32_t *neg, int8_t *out)
{
    int64_t r, c;
    for (r = 0; r < rows; r++) {
        const int32_t *s = z + r * channels;
        int8_t *o = out + r * channels;
        for (c = 0; c < channels; c++) {
            int32_t m = sign[c] < 0 ? -1 : 0, v = (s[c] ^ m) - m;
            o[c] = (int8_t)((v >= pos[c]) - (v <= neg[c]));
        }
    }
}

static void gx_threshold_scalar(const int32_t *z, int64_t rows, int64_t channels,
                                const int32_t *sign, const int32_t *pos, const int32_t *neg,
                                int8_t *out)
{
    gx_threshold_body(z, rows, channels, sign, pos, neg, out);
}

#ifdef GX_X86_PATHS
GX_AVX2
static void gx_threshold_avx2(const int32_t *z, int64_t rows, int64_t channels,
                              const int32_t *sign, const int32_t *pos, const int32_t *neg,
                              int8_t *out)
{
    gx_threshold_body(z, rows, channels, sign, pos, neg, out);
}

/* 16 channels at a time where channels is a multiple of 16: two comparisons,
 * their masks to -1/0/+1 bytes (as in gx_pool_avx512, the compiler's code
 * for the short loop over 32 channels spent most on loop set-up). */
GX_AVX512
static void gx_threshold_avx512(const int32_t *z, int64_t rows, int64_t channels,
                                const int32_t *sign, const int32_t *pos, const int32_t *neg,
                                int8_t *out)
{
    const __m128i one = _mm_set1_epi8(1), minus = _mm_set1_epi8(-1);
    int64_t r, c;
    if (channels % 16) {
        gx_threshold_body(z, rows, channels, sign, pos, neg, out);
        return;
    }
    for (r = 0; r < rows; r++)
        for (c = 0; c < channels; c += 16) {
            __m512i m = _mm512_srai_epi32(GX_LOAD512(sign + c), 31);
            __m512i v = _mm512_sub_epi32(_mm512_xor_si512(GX_LOAD512(z + r * channels + c), m), m);
            __mmask16 ge = _mm512_cmpge_epi32_mask(v, GX_LOAD512(pos + c));
            __mmask16 le = _mm512_cmple_epi32_mask(v, GX_LOAD512(neg + c));
            /* (v >= pos) - (v <= neg): +1, -1, or 0 where both or neither hold */
            __m128i t = _mm_mask_mov_epi8(_mm_maskz_mov_epi8(ge & ~le, one), le & ~ge, minus);
            _mm_storeu_si128((__m128i *)(out + r * channels + c), t);
        }
}
#endif

/* The thresholds of `rows` rows on the given path. */
static void gx_threshold_rows(int path, const int32_t *z, int64_t rows, int64_t channels,
                              const int32_t *sign, const int32_t *pos, const int32_t *neg,
                              int8_t *out)
{
#ifdef GX_X86_PATHS
    if (path == GX_PATH_AVX512)
        gx_threshold_avx512(z, rows, channels, sign, pos, neg, out);
    else if (path == GX_PATH_AVX2)
        gx_threshold_avx2(z, rows, channels, sign, pos, neg, out);
    else
#endif
        gx_threshold_scalar(z, rows, channels, sign, pos, neg, out);
    (void)path;
}

/* Rows per OpenMP task of the thresholds. */
#define GX_THRESHOLD_ROWS 256

void gx_threshold(int path, const int32_t *z, int64_t rows, int64_t channels,
                  const int32_t *sign, const int32_t *pos, const int32_t *neg, int8_t *out)
{
    int64_t r0;
#pragma omp parallel for schedule(static) if (rows * channels >= GX_PARALLEL_MIN)
    for (r0 = 0; r0 < rows; r0 += GX_THRESHOLD_ROWS) {
        int64_t count = rows - r0 < GX_THRESHOLD_ROWS ? rows - r0 : GX_THRESHOLD_ROWS;
        gx_threshold_rows(path, z + r0 * channels, count, channels, sign, pos, neg,
                          out + r0 * channels);
    }
}

/* The im2col rows of one image whose pixels are packed (pm: mask bytes, ps:
 * sign bytes, bpp per pixel, height x width pixels): row (i, j) of mask and
 * sign (oh * ow rows of nwords words) holds the bytes of the kh x kw pixels
 * of its window in (u, v) order, zero for padding and after the last byte. */
static void gx_gather_image(const uint8_t *pm, const uint8_t *ps, int64_t height,
                            int64_t width, int64_t bpp, int64_t kh, int64_t kw, int64_t sh,
                            int64_t sw, int64_t ph, int64_t pw, int64_t oh, int64_t ow,
                            int64_t nwords, uint64_t *mask, uint64_t *sign)
{
    int64_t i, j, u, used = kh * kw * bpp;
    for (i = 0; i < oh; i++) {
        for (j = 0; j < ow; j++) {
            uint8_t *dm = (uint8_t *)(mask + (i * ow + j) * nwords);
            uint8_t *ds = (uint8_t *)(sign + (i * ow + j) * nwords);
            /* The window's columns inside the image: v in [v0, v1). */
            int64_t x0 = j * sw - pw, v0 = x0 < 0 ? -x0 : 0;
            int64_t v1 = width - x0 < kw ? width - x0 : kw;
            int64_t y0 = i * sh - ph;
            if (v0 > 0 || v1 < kw || y0 < 0 || y0 + kh > height) {
                /* Part of the window is padding: zero the row first. */
                memset(dm, 0, (size_t)(8 * nwords));
                memset(ds, 0, (size_t)(8 * nwords));
            } else if (used < 8 * nwords) {
                /* The words after the window's bytes (stores: a libc call per row
                 * cost as much as the copies). */
                int64_t k;
                mask[(i * ow + j) * nwords + used / 8] = 0;
                sign[(i * ow + j) * nwords + used / 8] = 0;
                for (k = used / 8 + 1; k < nwords; k++)
                    mask[(i * ow + j) * nwords + k] = sign[(i * ow + j) * nwords + k] = 0;
            }
            if (v1 <= v0)
                continue;
            for (u = 0; u < kh; u++) {
                int64_t y = y0 + u;
                size_t from = (size_t)((y * width + x0 + v0) * bpp);
                size_t to = (size_t)((u * kw + v0) * bpp);
                size_t len = (size_t)((v1 - v0) * bpp);
                if (y < 0 || y >= height)
                    continue;
                gx_copy(dm + to, pm + from, len);
                gx_copy(ds + to, ps + from, len);
            }
        }
    }
}

/* The mask and sign bytes of `pixels` pixels of int8 ternary values (channels
 * each), bpp = ceil(channels / 8) bytes per pixel, the last one padded with 0. */
static void gx_pack_pixels(int path, const int8_t *src, int64_t pixels, int64_t channels,
                           uint8_t *pm, uint8_t *ps)
{
    int64_t p, c, bpp = (channels + 7) / 8;
    if (channels % 8 == 0) {        /* the pixels' bytes are one run */
#ifdef GX_X86_PATHS
        if (path == GX_PATH_AVX512)
            gx_pack_values_avx512(src, pixels * channels, pm, ps);
        else if (path == GX_PATH_AVX2)
            gx_pack_values_avx2(src, pixels * channels, pm, ps);
        else
#endif
            gx_pack_values_scalar(src, pixels * channels, pm, ps);
        (void)path;
        return;
    }
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
}

/* Patches of packed ternary images.  t: int8 (n, height, width, channels);
 * each pixel's channels are packed into bpp = ceil(channels / 8) bytes, and
 * row (img, i, j) of the output planes (n * oh * ow, nwords) holds the bytes
 * of the kh x kw pixels of its window in (u, v) order, zero for padding and
 * after the last byte, as _PackedStage packs its weights.  A dense layer is
 * the case height = width = kh = kw = 1.  With channels a multiple of 8 the
 * pixels' bytes are one run, packed with vectors on the vector paths.
 * Returns 0, or -1 if out of memory. */
int gx_pack_patches(int path, const int8_t *t, int64_t n, int64_t height, int64_t width,
                    int64_t channels, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                    int64_t ph, int64_t pw, int64_t oh, int64_t ow, int64_t nwords,
                    uint64_t *mask, uint64_t *sign)
{
    int64_t bpp = (channels + 7) / 8, pixels = height * width;
    int failed = 0;
    (void)path;
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
            if (!pm)
                continue;
            gx_pack_pixels(path, t + img * pixels * channels, pixels, channels, pm, ps);
            gx_gather_image(pm, ps, height, width, bpp, kh, kw, sh, sw, ph, pw, oh, ow, nwords,
                            mask + img * oh * ow * nwords, sign + img * oh * ow * nwords);
        }
        free(pm);
    }
    return failed ? -1 : 0;
}

/* ---- Pooling of one image ---------------------------------------------- */

/* Max-pooling of one image's int32 sums a (height, width, channels) into out
 * (oh, ow, channels), windows ph x pw at strides sh, sw, clipped at the
 * border (partial windows take the max of what they hold).  flip (may be
 * NULL) is -1 for the channels that pool -a instead (batch norm with a
 * negative slope: max becomes min), else 0.  Written so that the compiler
 * vectorises the loops over channels (max, xor and subtract of int32). */
static inline __attribute__((always_inline)) void
gx_pool_body(const int32_t *restrict a, int64_t height, int64_t width, int64_t channels,
             int64_t ph, int64_t pw, int64_t sh, int64_t sw, int64_t oh, int64_t ow,
             const int32_t *restrict flip, int32_t *restrict out)
{
    int64_t i, j, y, x, c;
    for (i = 0; i < oh; i++) {
        int64_t y0 = i * sh, rows = (y0 + ph < height ? y0 + ph : height) - y0;
        for (j = 0; j < ow; j++) {
            int32_t *restrict o = out + (i * ow + j) * channels;
            int64_t x0 = j * sw, cols = (x0 + pw < width ? x0 + pw : width) - x0, start;
            const int32_t *s = a + (y0 * width + x0) * channels, *t;
            /* The first two elements of the window start the max (a plain
             * copy would become a libc call); the rest follow row by row. */
            if (rows * cols == 1 || flip) {
                start = 1;
                if (flip)       /* max of -a where flip is -1: the min of a */
                    for (c = 0; c < channels; c++)
                        o[c] = (s[c] ^ flip[c]) - flip[c];
                else
                    memcpy(o, s, (size_t)channels * sizeof(int32_t));
            } else {
                start = 2;
                t = cols > 1 ? s + channels : s + width * channels;
                for (c = 0; c < channels; c++)
                    o[c] = s[c] > t[c] ? s[c] : t[c];
            }
            for (y = 0; y < rows; y++)
                for (x = y * cols < start ? start - y * cols : 0; x < cols; x++) {
                    t = s + (y * width + x) * channels;
                    if (flip) {
                        for (c = 0; c < channels; c++) {
                            int32_t v = (t[c] ^ flip[c]) - flip[c];
                            o[c] = v > o[c] ? v : o[c];
                        }
                    } else {
                        for (c = 0; c < channels; c++)
                            o[c] = t[c] > o[c] ? t[c] : o[c];
                    }
                }
            if (flip)
                for (c = 0; c < channels; c++)
                    o[c] = (o[c] ^ flip[c]) - flip[c];
        }
    }
}

static void gx_pool_scalar(const int32_t *a, int64_t height, int64_t width, int64_t channels,
                           int64_t ph, int64_t pw, int64_t sh, int64_t sw, int64_t oh,
                           int64_t ow, const int32_t *flip, int32_t *out)
{
    gx_pool_body(a, height, width, channels, ph, pw, sh, sw, oh, ow, flip, out);
}

#ifdef GX_X86_PATHS
/* The vector paths' pooling, `lanes` channels at a time (channels a multiple
 * of 16 or 8): the compiler's own vectorisation of gx_pool_body spent more
 * on loop set-up than on the maxima for the short loops over 32 channels. */
#define GX_POOL_VECTOR(VEC, LANES, ZERO, LOAD, STORE, MAX, XOR, SUB)                         \
    int64_t i, j, y, x, c;                                                                 \
    for (i = 0; i < oh; i++) {                                                             \
        int64_t y0 = i * sh, y1 = y0 + ph < height ? y0 + ph : height;                     \
        for (j = 0; j < ow; j++) {                                                         \
            int64_t x0 = j * sw, x1 = x0 + pw < width ? x0 + pw : width;                   \
            int32_t *o = out + (i * ow + j) * channels;                                    \
            for (c = 0; c < channels; c += LANES) {                                        \
                VEC f = flip ? LOAD(flip + c) : ZERO, m;                                   \
                m = SUB(XOR(LOAD(a + (y0 * width + x0) * channels + c), f), f);            \
                for (y = y0; y < y1; y++)                                                  \
                    for (x = y == y0 ? x0 + 1 : x0; x < x1; x++)                           \
                        m = MAX(m, SUB(XOR(LOAD(a + (y * width + x) * channels + c), f), f)); \
                STORE(o + c, SUB(XOR(m, f), f));                                           \
            }                                                                              \
        }                                                                                  \
    }

GX_AVX2
static void gx_pool_avx2(const int32_t *a, int64_t height, int64_t width, int64_t channels,
                         int64_t ph, int64_t pw, int64_t sh, int64_t sw, int64_t oh,
                         int64_t ow, const int32_t *flip, int32_t *out)
{
    if (channels % 8) {
        gx_pool_body(a, height, width, channels, ph, pw, sh, sw, oh, ow, flip, out);
        return;
    } else {
        GX_POOL_VECTOR(__m256i, 8, _mm256_setzero_si256(), GX_LOAD256, GX_STORE256,
                       _mm256_max_epi32, _mm256_xor_si256, _mm256_sub_epi32)
    }
}

GX_AVX512
static void gx_pool_avx512(const int32_t *a, int64_t height, int64_t width, int64_t channels,
                           int64_t ph, int64_t pw, int64_t sh, int64_t sw, int64_t oh,
                           int64_t ow, const int32_t *flip, int32_t *out)
{
    if (channels % 16) {
        gx_pool_body(a, height, width, channels, ph, pw, sh, sw, oh, ow, flip, out);
        return;
    } else {
        GX_POOL_VECTOR(__m512i, 16, _mm512_setzero_si512(), GX_LOAD512, GX_STORE512,
                       _mm512_max_epi32, _mm512_xor_si512, _mm512_sub_epi32)
    }
}
#endif

static void gx_pool(int path, const int32_t *a, int64_t height, int64_t width,
                    int64_t channels, int64_t ph, int64_t pw, int64_t sh, int64_t sw,
                    int64_t oh, int64_t ow, const int32_t *flip, int32_t *out)
{
#ifdef GX_X86_PATHS
    if (path == GX_PATH_AVX512) {
        gx_pool_avx512(a, height, width, channels, ph, pw, sh, sw, oh, ow, flip, out);
        return;
    }
    if (path == GX_PATH_AVX2) {
        gx_pool_avx2(a, height, width, channels, ph, pw, sh, sw, oh, ow, flip, out);
        return;
    }
#endif
    (void)path;
    gx_pool_scalar(a, height, width, channels, ph, pw, sh, sw, oh, ow, flip, out);
}

/* ---- The first layer ------------------------------------------------------
 *
 * z[img, i, j, f] = sum_{c,u,v} w[f, c, u, v] * q[c, y, x], q = 2p - 255 for
 * the pixels p of X (uint8, n, channels, height, width), zero outside the
 * image (padding), y = i*sh + u - ph, x = j*sw + v - pw; w int8 in
 * {-1, 0, 1} (units, channels, kh, kw); z int32 NHWC.
 *
 * Scalar path: with ternary weights a unit only adds and subtracts taps of
 * the padded int32 image q (no multiplications, zero weights skipped),
 * GX_COLS output columns at a time.  The caller checks that 255 * fan-in
 * fits int32.
 *
 * Vector paths: z = 2 S - C, with S = sum w * p over the zero-padded uint8
 * image (a dot product of uint8 pixels and int8 weights, exact in int32)
 * and C = 255 * (the sum of the weights of the taps inside the image), which
 * depends on the unit and on which taps of the window are inside: one value
 * per unit for the windows away from the border, a few more near it.  The
 * taps of one kernel row are adjacent bytes of an image row, so the dot
 * product takes them 4 at a time: each group of 4 taps (c, u, 4g..4g+3; the
 * weights past kw are 0) is one int32 load of the image, broadcast to all
 * lanes, times the group's weights of `lanes` units (vpdpbusd on AVX-512
 * VNNI; vpmaddubsw + vpmaddwd on AVX2).  Lanes are units, so the sums come
 * out in NHWC order.  Where kw is no multiple of 4, the last kw % 4 columns
 * go 4 taps at a time down the kernel column instead, from a transposed copy
 * of the image, if that takes fewer groups (5 x 5: 7 instead of 10).
 *
 * A max-pooling that follows the layer (before its batch norm and
 * activation) runs on each image's sums while they are in the cache, one
 * window of rows at a time: the sums of a batch of 256 MNIST images are
 * 18 MB, and their pooling from memory took a third of the convolution's
 * time. */

/* Columns of the scalar path computed at once: GX_COLS int32 accumulators
 * stay in vector registers while a unit's taps are added. */
#define GX_COLS 8

typedef struct {
    int path;
    int64_t channels, height, width, units, kh, kw, sh, sw, ph, pw, oh, ow;
    int64_t hp, wpp, size;      /* padded image: rows, row length, bytes or ints */
    int64_t hpp;                /* vector: column length of the transposed copy, or 0 */
    /* scalar: per unit the offsets of its +1 taps, then (from the end) of its -1 taps */
    int64_t taps, *tap_offsets, *npos, *nneg;
    /* vector: weights [ngroups][ublocks][lanes][4]; per group its first byte
     * (groups along kernel rows first, `across` of them, then groups down
     * kernel columns, in the transposed copy); border classes of output rows
     * and columns, C per class pair */
    int64_t lanes, ublocks, ngroups, across, ncols;
    int8_t *weights;
    int64_t *offsets, *row_class, *col_class;
    int32_t *corr;
} gx_first_plan;

static void gx_free_plan(gx_first_plan *p)
{
    free(p->tap_offsets);
    free(p->npos);
    free(p->weights);
    free(p->offsets);
    free(p->row_class);
    free(p->corr);
}

/* The taps [t0, t1) of a kernel of size k at output i that fall inside [0, size). */
static void gx_inside(int64_t i, int64_t stride, int64_t pad, int64_t k, int64_t size,
                      int64_t *t0, int64_t *t1)
{
    int64_t y = i * stride - pad;
    *t0 = y < 0 ? -y : 0;
    *t1 = size - y < k ? size - y : k;
    if (*t1 < *t0)
        *t1 = *t0;
}

/* Border classes of the outputs along one axis: cls[i] indexes the distinct
 * (t0, t1) ranges, listed in ranges[2 * class]; returns their number. */
static int64_t gx_classes(int64_t out, int64_t stride, int64_t pad, int64_t k, int64_t size,
                          int64_t *cls, int64_t *ranges)
{
    int64_t i, c, count = 0, t0, t1;
    for (i = 0; i < out; i++) {
        gx_inside(i, stride, pad, k, size, &t0, &t1);
        for (c = 0; c < count && (ranges[2 * c] != t0 || ranges[2 * c + 1] != t1); c++)
            ;
        if (c == count) {
            ranges[2 * c] = t0;
            ranges[2 * c + 1] = t1;
            count++;
        }
        cls[i] = c;
    }
    return count;
}

static int gx_plan_scalar(gx_first_plan *p, const int8_t *w)
{
    int64_t f, k, taps = p->channels * p->kh * p->kw;
    p->taps = taps;
    p->wpp = p->width + 2 * p->pw;
    /* The padded image, and slack for the columns of the last block past ow. */
    p->size = p->channels * p->hp * p->wpp + GX_COLS * p->sw;
    p->tap_offsets = (int64_t *)malloc((size_t)(p->units * taps + 1) * sizeof(int64_t));
    p->npos = (int64_t *)malloc((size_t)(2 * p->units + 1) * sizeof(int64_t));
    if (!p->tap_offsets || !p->npos)
        return -1;
    p->nneg = p->npos + p->units;
    for (f = 0; f < p->units; f++) {
        int64_t *o = p->tap_offsets + f * taps, np = 0, nm = 0;
        for (k = 0; k < taps; k++) {
            int64_t c = k / (p->kh * p->kw), u = k / p->kw % p->kh, v = k % p->kw;
            int8_t wv = w[f * taps + k];
            if (wv > 0)
                o[np++] = (c * p->hp + u) * p->wpp + v;
            else if (wv < 0)
                o[taps - 1 - nm++] = (c * p->hp + u) * p->wpp + v;
        }
        p->npos[f] = np;
        p->nneg[f] = nm;
    }
    return 0;
}

/* Group `group` of 4 taps (c, u + d*du, v + d*dv), d = 0..3, those past
 * the kernel 0: its weights, and where its first byte is. */
static void gx_plan_group(gx_first_plan *p, const int8_t *w, int64_t group, int64_t c,
                          int64_t u, int64_t v, int64_t du, int64_t dv, int64_t offset)
{
    int64_t lanes = p->lanes, b, l, d;
    p->offsets[group] = offset;
    for (b = 0; b < p->ublocks; b++)
        for (l = 0; l < lanes && b * lanes + l < p->units; l++)
            for (d = 0; d < 4 && u + d * du < p->kh && v + d * dv < p->kw; d++)
                p->weights[((group * p->ublocks + b) * lanes + l) * 4 + d] =
                    w[(((b * lanes + l) * p->channels + c) * p->kh + u + d * du) * p->kw +
                      v + d * dv];
}

static int gx_plan_vector(gx_first_plan *p, const int8_t *w)
{
    /* Taps 4 at a time along kernel rows; the last kw % 4 columns 4 at a time
     * down the kernel columns (from a transposed copy of the image) where
     * that takes fewer groups (5 x 5: 7 groups of 4 instead of 10). */
    int64_t across = p->kw / 4, left = p->kw % 4, down = (p->kh + 3) / 4;
    int64_t vertical = across * p->kh + left * down < p->kh * ((p->kw + 3) / 4);
    int64_t groups = vertical ? across * p->kh + left * down : p->kh * ((p->kw + 3) / 4);
    int64_t lanes = p->lanes, g, c, u, v, f, nrows, group = 0, transposed;
    int64_t *rranges, *cranges, rc, cc, ucount;
    p->ublocks = (p->units + lanes - 1) / lanes;
    p->ngroups = p->channels * groups;
    /* A group reads up to 3 bytes past the window; the last positions of a
     * block of 4 may lie past ow (computed, not stored): slack after the image.
     * The transposed copy (rows of hpp bytes, one per padded column) follows. */
    p->wpp = p->width + 2 * p->pw + 3;
    p->hpp = vertical ? p->hp + 3 : 0;
    transposed = p->channels * p->hp * p->wpp;
    p->size = transposed + p->channels * (p->width + 2 * p->pw) * p->hpp +
              4 * p->sw * (p->wpp + p->hpp) + 64;
    ucount = p->ublocks * lanes;
    p->weights = (int8_t *)calloc((size_t)(p->ngroups * ucount * 4 + 1), 1);
    p->offsets = (int64_t *)malloc((size_t)(p->ngroups + 1) * sizeof(int64_t));
    p->row_class = (int64_t *)malloc((size_t)(3 * (p->oh + p->ow) + 2) * sizeof(int64_t));
    if (!p->weights || !p->offsets || !p->row_class)
        return -1;
    p->col_class = p->row_class + p->oh;
    rranges = p->col_class + p->ow;
    cranges = rranges + 2 * p->oh + 1;
    /* The groups along rows first (p->across of them), then those down columns. */
    for (c = 0; c < p->channels; c++)
        for (u = 0; u < p->kh; u++)
            for (g = 0; g < (vertical ? across : (p->kw + 3) / 4); g++)
                gx_plan_group(p, w, group++, c, u, 4 * g, 0, 1,
                              (c * p->hp + u) * p->wpp + 4 * g);
    p->across = group;
    for (c = 0; c < p->channels; c++)
        for (v = vertical ? 4 * across : p->kw; v < p->kw; v++)
            for (g = 0; g < down; g++)
                gx_plan_group(p, w, group++, c, 4 * g, v, 1, 0,
                              transposed + (c * (p->width + 2 * p->pw) + v) * p->hpp + 4 * g);
    nrows = gx_classes(p->oh, p->sh, p->ph, p->kh, p->height, p->row_class, rranges);
    p->ncols = gx_classes(p->ow, p->sw, p->pw, p->kw, p->width, p->col_class, cranges);
    p->corr = (int32_t *)calloc((size_t)(nrows * p->ncols * ucount + 1), sizeof(int32_t));
    if (!p->corr)
        return -1;
    for (rc = 0; rc < nrows; rc++)
        for (cc = 0; cc < p->ncols; cc++)
            for (f = 0; f < p->units; f++) {
                int64_t sum = 0;
                for (c = 0; c < p->channels; c++)
                    for (u = rranges[2 * rc]; u < rranges[2 * rc + 1]; u++)
                        for (v = cranges[2 * cc]; v < cranges[2 * cc + 1]; v++)
                            sum += w[((f * p->channels + c) * p->kh + u) * p->kw + v];
                p->corr[(rc * p->ncols + cc) * ucount + f] = (int32_t)(255 * sum);
            }
    return 0;
}

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

/* The scalar path's padded image: q = 2p - 255 of the pixels p (channels,
 * height, width); the border stays 0. */
static void gx_fill_scalar(const gx_first_plan *pl, const uint8_t *p, int32_t *q)
{
    int64_t c, y, x;
    for (c = 0; c < pl->channels; c++)
        for (y = 0; y < pl->height; y++)
            for (x = 0; x < pl->width; x++)
                q[(c * pl->hp + y + pl->ph) * pl->wpp + x + pl->pw] =
                    2 * (int32_t)p[(c * pl->height + y) * pl->width + x] - 255;
}

/* Output rows [i0, i1) of one image on the scalar path -> z (i1 - i0, ow, units). */
static void gx_first_rows_scalar(const gx_first_plan *pl, const int32_t *q, int64_t i0,
                                 int64_t i1, int32_t *z)
{
    int32_t acc[GX_COLS];
    int64_t i, j, jj, g, taps = pl->taps, wp = pl->wpp;
    for (i = i0; i < i1; i++) {
        for (j = 0; j < pl->ow; j += GX_COLS) {
            const int32_t *src = q + i * pl->sh * wp + j * pl->sw;
            int64_t cols = pl->ow - j < GX_COLS ? pl->ow - j : GX_COLS;
            int32_t *out = z + ((i - i0) * pl->ow + j) * pl->units;
            for (g = 0; g < pl->units; g++) {
                const int64_t *o = pl->tap_offsets + g * taps;
                if (pl->sw == 1)    /* constant stride: the compiler vectorises */
                    gx_conv_block(src, 1, o, pl->npos[g], o + taps - pl->nneg[g], pl->nneg[g],
                                  acc);
                else
                    gx_conv_block(src, pl->sw, o, pl->npos[g], o + taps - pl->nneg[g],
                                  pl->nneg[g], acc);
                for (jj = 0; jj < cols; jj++)
                    out[jj * pl->units + g] = acc[jj];
            }
        }
    }
}

static inline int32_t gx_load32(const uint8_t *src)
{
    int32_t v;
    memcpy(&v, src, 4);
    return v;
}

#ifdef GX_X86_PATHS

/* The dot products of groups [g0, g1) (first bytes at base + offsets[g],
 * the next position `step` bytes on) for 4 positions and B blocks of units. */
static inline __attribute__((always_inline)) GX_AVX512 void
gx_groups_avx512(const int B, __m512i acc[2][4], const int8_t *wb, int64_t wstride,
                 const int64_t *offsets, int64_t g0, int64_t g1, const uint8_t *base,
                 int64_t step)
{
    int64_t g, t;
    int bb;
    for (g = g0; g < g1; g++) {
        const uint8_t *src = base + offsets[g];
        __m512i w[2];
        for (bb = 0; bb < B; bb++)
            w[bb] = _mm512_loadu_si512((const void *)(wb + g * wstride + 64 * bb));
        for (t = 0; t < 4; t++) {
            __m512i a = _mm512_set1_epi32(gx_load32(src + t * step));
            for (bb = 0; bb < B; bb++)
                acc[bb][t] = _mm512_dpbusd_epi32(acc[bb][t], a, w[bb]);
        }
    }
}

/* Positions j..j+3 of output row i, units of blocks b..b+B-1 (B = 1 or 2,
 * constant after inlining): 4 * B independent chains of vpdpbusd, each
 * broadcast pixel group serving B blocks. */
static inline __attribute__((always_inline)) GX_AVX512 void
gx_first_tile_avx512(const int B, const gx_first_plan *p, const uint8_t *q,
                     const int32_t *crow, int64_t i, int64_t j, int64_t b, int32_t *z)
{
    int64_t ucount = p->ublocks * 16, units = p->units, ow = p->ow, t;
    const int8_t *wb = p->weights + b * 64;
    __m512i acc[2][4];
    int bb;
    for (bb = 0; bb < B; bb++)
        for (t = 0; t < 4; t++)
            acc[bb][t] = _mm512_setzero_si512();
    gx_groups_avx512(B, acc, wb, ucount * 4, p->offsets, 0, p->across,
                     q + i * p->sh * p->wpp + j * p->sw, p->sw);
    gx_groups_avx512(B, acc, wb, ucount * 4, p->offsets, p->across, p->ngroups,
                     q + i * p->sh + j * p->sw * p->hpp, p->sw * p->hpp);
    for (bb = 0; bb < B; bb++) {
        int64_t first = 16 * (b + bb), count = units - first < 16 ? units - first : 16;
        __mmask16 keep = (__mmask16)((1u << count) - 1);
        for (t = 0; t < 4 && j + t < ow; t++) {
            __m512i c = _mm512_loadu_si512(
                (const void *)(crow + p->col_class[j + t] * ucount + first));
            __m512i v = _mm512_sub_epi32(_mm512_add_epi32(acc[bb][t], acc[bb][t]), c);
            _mm512_mask_storeu_epi32((void *)(z + (j + t) * units + first), keep, v);
        }
    }
}

/* Output rows [i0, i1) of one image (padded uint8 q) -> z (i1 - i0, ow,
 * units): per row, pairs of blocks of 16 units, 4 positions at a time. */
GX_AVX512
static void gx_first_rows_avx512(const gx_first_plan *p, const uint8_t *q, int64_t i0,
                                 int64_t i1, int32_t *z)
{
    int64_t ucount = p->ublocks * 16, i, j, b;
    for (i = i0; i < i1; i++) {
        const int32_t *crow = p->corr + p->row_class[i] * p->ncols * ucount;
        int32_t *zrow = z + (i - i0) * p->ow * p->units;
        for (b = 0; b < p->ublocks; b += 2)
            for (j = 0; j < p->ow; j += 4) {
                if (b + 1 < p->ublocks)
                    gx_first_tile_avx512(2, p, q, crow, i, j, b, zrow);
                else
                    gx_first_tile_avx512(1, p, q, crow, i, j, b, zrow);
            }
    }
}

/* As gx_first_rows_avx512 with 8 units per vector: vpmaddubsw multiplies
 * pixels and weights and adds pairs (at most 2 * 255, no saturation), and
 * vpmaddwd by ones adds the pairs of each unit's group. */
GX_AVX2
static void gx_first_rows_avx2(const gx_first_plan *p, const uint8_t *q, int64_t i0,
                               int64_t i1, int32_t *z)
{
    int64_t ucount = p->ublocks * 8, units = p->units, ow = p->ow, i, j, b, g, t, l;
    const __m256i ones = _mm256_set1_epi16(1);
    for (i = i0; i < i1; i++) {
        const int32_t *crow = p->corr + p->row_class[i] * p->ncols * ucount;
        for (b = 0; b < p->ublocks; b++) {
            const int8_t *wb = p->weights + b * 32;
            int64_t count = units - 8 * b < 8 ? units - 8 * b : 8;
            for (j = 0; j < ow; j += 4) {
                __m256i acc[4];
                for (t = 0; t < 4; t++)
                    acc[t] = _mm256_setzero_si256();
                for (g = 0; g < p->ngroups; g++) {
                    __m256i w = _mm256_loadu_si256((const __m256i *)(wb + g * ucount * 4));
                    int64_t step = g < p->across ? p->sw : p->sw * p->hpp;
                    const uint8_t *src = q + p->offsets[g] + j * step +
                                         (g < p->across ? i * p->sh * p->wpp : i * p->sh);
                    for (t = 0; t < 4; t++) {
                        __m256i a = _mm256_set1_epi32(gx_load32(src + t * step));
                        acc[t] = _mm256_add_epi32(
                            acc[t], _mm256_madd_epi16(_mm256_maddubs_epi16(a, w), ones));
                    }
                }
                for (t = 0; t < 4 && j + t < ow; t++) {
                    __m256i c = _mm256_loadu_si256(
                        (const __m256i *)(crow + p->col_class[j + t] * ucount + 8 * b));
                    __m256i v = _mm256_sub_epi32(_mm256_add_epi32(acc[t], acc[t]), c);
                    int32_t *out = z + ((i - i0) * ow + j + t) * units + 8 * b;
                    if (count == 8) {
                        _mm256_storeu_si256((__m256i *)out, v);
                    } else {
                        int32_t lanes[8];
                        _mm256_storeu_si256((__m256i *)lanes, v);
                        for (l = 0; l < count; l++)
                            out[l] = lanes[l];
                    }
                }
            }
        }
    }
}

#endif  /* GX_X86_PATHS */

/* Output rows [i0, i1) of one image from its padded copy q, on the plan's path. */
static void gx_first_rows(const gx_first_plan *plan, const void *q, int64_t i0, int64_t i1,
                          int32_t *z)
{
#ifdef GX_X86_PATHS
    if (plan->path == GX_PATH_AVX512) {
        gx_first_rows_avx512(plan, (const uint8_t *)q, i0, i1, z);
        return;
    }
    if (plan->path == GX_PATH_AVX2) {
        gx_first_rows_avx2(plan, (const uint8_t *)q, i0, i1, z);
        return;
    }
#endif
    gx_first_rows_scalar(plan, (const int32_t *)q, i0, i1, z);
}

/* The first layer on the given path, optionally followed by max-pooling.
 * X, n, channels, height, width, w, units, kh, kw, sh, sw, ph, pw, oh, ow: as
 * above.  pool_h = 0: z is (n, oh, ow, units); else the windows pool_h x
 * pool_w at strides psh, psw (clipped at the border, flip as gx_max_pool)
 * give z (n, pool_oh, pool_ow, units).  Returns 0, or -1 if out of memory. */
int gx_conv_pixels(int path, const uint8_t *X, int64_t n, int64_t channels, int64_t height,
                   int64_t width, const int8_t *w, int64_t units, int64_t kh, int64_t kw,
                   int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t oh, int64_t ow,
                   int64_t pool_h, int64_t pool_w, int64_t psh, int64_t psw, int64_t pool_oh,
                   int64_t pool_ow, const int32_t *flip, int32_t *z)
{
    gx_first_plan plan;
    int failed = 0;
    int64_t out_size = pool_h ? pool_oh * pool_ow * units : oh * ow * units;
    memset(&plan, 0, sizeof(plan));
#ifndef GX_X86_PATHS
    path = GX_PATH_SCALAR;
#endif
    plan.path = path;
    plan.channels = channels, plan.height = height, plan.width = width, plan.units = units;
    plan.kh = kh, plan.kw = kw, plan.sh = sh, plan.sw = sw, plan.ph = ph, plan.pw = pw;
    plan.oh = oh, plan.ow = ow, plan.hp = height + 2 * ph;
    plan.lanes = path == GX_PATH_AVX512 ? 16 : 8;
    if (n <= 0 || units <= 0)
        return 0;
    if (path == GX_PATH_SCALAR ? gx_plan_scalar(&plan, w) : gx_plan_vector(&plan, w)) {
        gx_free_plan(&plan);
        return -1;
    }
#pragma omp parallel if (n * oh * ow * units >= GX_PARALLEL_MIN)
    {
        /* The padded image (int32 q = 2p - 255 or uint8 p) and, to pool, the sums. */
        size_t bytes = (size_t)plan.size * (path == GX_PATH_SCALAR ? sizeof(int32_t) : 1);
        void *q = calloc(bytes, 1);
        int32_t *sums = pool_h ? (int32_t *)malloc((size_t)(oh * ow * units + 1) *
                                                   sizeof(int32_t)) : NULL;
        int64_t img;
        if (!q || (pool_h && !sums)) {
#pragma omp critical
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (img = 0; img < n; img++) {
            const uint8_t *p = X + img * channels * height * width;
            int32_t *out = z + img * out_size;
            int64_t c, y, i;
            if (!q || (pool_h && !sums))
                continue;
            if (path == GX_PATH_SCALAR) {
                gx_fill_scalar(&plan, p, (int32_t *)q);
            } else {
                uint8_t *image = (uint8_t *)q, *columns = image + channels * plan.hp * plan.wpp;
                int64_t x;
                for (c = 0; c < channels; c++)      /* the border and slack stay 0 */
                    for (y = 0; y < height; y++)
                        memcpy(image + (c * plan.hp + y + ph) * plan.wpp + pw,
                               p + (c * height + y) * width, (size_t)width);
                if (plan.hpp)                       /* the transposed copy */
                    for (c = 0; c < channels; c++)
                        for (y = 0; y < height; y++)
                            for (x = 0; x < width; x++)
                                columns[(c * (width + 2 * pw) + x + pw) * plan.hpp + y + ph] =
                                    p[(c * height + y) * width + x];
            }
            if (!pool_h) {
                gx_first_rows(&plan, q, 0, oh, out);
            } else if (psh >= pool_h) {
                /* Windows that do not overlap: the rows of one window at a time,
                 * pooled while they are in the L1 cache. */
                for (i = 0; i < pool_oh; i++) {
                    int64_t r0 = i * psh, r1 = r0 + pool_h < oh ? r0 + pool_h : oh;
                    gx_first_rows(&plan, q, r0, r1, sums);
                    gx_pool(path, sums, r1 - r0, ow, units, pool_h, pool_w, psh, psw, 1,
                            pool_ow, flip, out + i * pool_ow * units);
                }
            } else {
                gx_first_rows(&plan, q, 0, oh, sums);
                gx_pool(path, sums, oh, ow, units, pool_h, pool_w, psh, psw, pool_oh, pool_ow,
                        flip, out);
            }
        }
        free(q);
        free(sums);
    }
    gx_free_plan(&plan);
    return failed ? -1 : 0;
}

/* Max-pooling of int32 NHWC sums a (n, height, width, channels) into out
 * (n, oh, ow, channels), as gx_pool_body, image by image on the given path.
 * NumPy needs one strided pass per window offset; here each output is one
 * pass over its window. */
void gx_max_pool(int path, const int32_t *a, int64_t n, int64_t height, int64_t width,
                 int64_t channels, int64_t ph, int64_t pw, int64_t sh, int64_t sw,
                 int64_t oh, int64_t ow, const int32_t *flip, int32_t *out)
{
    int64_t img;
#pragma omp parallel for schedule(static) if (n * height * width * channels >= GX_PARALLEL_MIN)
    for (img = 0; img < n; img++)
        gx_pool(path, a + img * height * width * channels, height, width, channels, ph, pw, sh,
                sw, oh, ow, flip, out + img * oh * ow * channels);
}
