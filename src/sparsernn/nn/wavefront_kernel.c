/* Compiled waves of the packed graph RNNs (sparsernn.nn.wavefront_native): forward_waves and
   backward_waves (at the end) run every wave of a batch in one call; wave_forward and wave_backward
   compute the active blocks of one bucket at one wave. The layout is that of
   sparsernn.nn.wavefront_plan, the arithmetic that of sparsernn.nn.wavefront_kernels.

   Built twice, with -DREAL=float -DFAST_EXP and with -DREAL=double. Arrays (all contiguous):
   - slab: the history slab of the wave, (rows, B); an input column j of block i is the row
     slab + index[i * width + j] * B (negative offsets reach earlier slabs);
   - w (n, R, width), bias (n, R): the block weights and summed biases, R = row blocks * P;
   - units (n, P, B): the blocks' hidden states at this wave; the previous ones lie one slab
     (rows * B values) before them; c_prev, c (n, P, B): LSTM cell states;
   - act (n, R, B): pre-activations, replaced by the activations the backward reads;
   - node_dst (n * P): the slab row every unit's state is added to (the layer outputs).
   Samples are the innermost dimension, so every loop over them vectorises. */
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef REAL real;

#ifdef FAST_EXP
/* exp for float: 2^k * q(r) with |r| <= ln2 / 2 and q a degree-7 Taylor polynomial (relative
   error below 1e-7), branch-free so that the loops calling it vectorise. */
static inline real exp_(real x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const real k = __builtin_rintf(x * 1.44269504088896341f);
    const real r = (x - k * 0.693145751953125f) - k * 1.428606765330187e-06f;
    const real q = 1.0f + r * (1.0f + r * (0.5f + r * (1.6666667e-1f + r * (4.1666668e-2f +
                   r * (8.3333338e-3f + r * (1.3888889e-3f + r * 1.9841270e-4f))))));
    const int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    __builtin_memcpy(&scale, &bits, sizeof scale);
    return q * scale;
}
#else
static inline real exp_(real x) { return exp(x); }
#endif

static inline real sigmoid_(real x) { return (real)1 / ((real)1 + exp_(-x)); }
static inline real tanh_(real x) { return (real)2 / ((real)1 + exp_((real)-2 * x)) - (real)1; }

enum { TANH = 0, RELU = 1, LSTM = 2, GRU = 3 };

#define CHUNK 32 /* samples per register tile */
typedef real vec __attribute__((vector_size(64))); /* one 512-bit register of samples */
#define VL ((int)(sizeof(vec) / sizeof(real)))
static inline vec load_(const real *p) { vec v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline void store_(real *p, vec v) { __builtin_memcpy(p, &v, sizeof v); }
#define LANES 16 /* partial sums per weight gradient: one vector register of floats */

/* act = bias + w @ inputs for one block, (R, width) times (width, B), VL samples at a time with
   all R rows' sums in registers. Padding columns (index 0: the zero row of the wave's own slab,
   which no real input is) are skipped. RR is R when the caller knows it at compile time. */
static inline __attribute__((always_inline)) void products_(int RR, int width, int B, const real *w,
                                                          const real *bias, const int64_t *index,
                                                          const real *slab, real *act) {
    int b0 = 0;
    for (; b0 + VL <= B; b0 += VL) { /* one vector of samples, the sums of all rows in registers */
        vec acc[RR];
        for (int r = 0; r < RR; r++) acc[r] = (vec){0} + bias[r];
        for (int j = 0; j < width; j++) {
            if (index[j] == 0) continue;
            const vec x = load_(slab + index[j] * B + b0);
            for (int r = 0; r < RR; r++) acc[r] += w[(int64_t)r * width + j] * x;
        }
        for (int r = 0; r < RR; r++) store_(act + (int64_t)r * B + b0, acc[r]);
    }
    for (int r = 0; r < RR; r++) { /* the last samples (fewer than VL) */
        real *y = act + (int64_t)r * B;
        for (int b = b0; b < B; b++) y[b] = bias[r];
        for (int j = 0; j < width; j++) {
            if (index[j] == 0) continue;
            const real v = w[(int64_t)r * width + j];
            const real *x = slab + index[j] * B;
            for (int b = b0; b < B; b++) y[b] += v * x[b];
        }
    }
}

static void products(int R, int width, int B, const real *w, const real *bias, const int64_t *index,
                     const real *slab, real *act) {
    switch (R) { /* the row counts of blocks of 1, 2 or 4 units with 1 or 4 row blocks */
    case 1: products_(1, width, B, w, bias, index, slab, act); break;
    case 2: products_(2, width, B, w, bias, index, slab, act); break;
    case 4: products_(4, width, B, w, bias, index, slab, act); break;
    case 8: products_(8, width, B, w, bias, index, slab, act); break;
    default: products_(R, width, B, w, bias, index, slab, act);
    }
}

/* The cell's activations for one block: m = P * B values per gate. */
static void activate(int cell, int64_t m, real *act, real *h, const real *h_prev, const real *c_prev,
                     real *c) {
    if (cell == TANH) {
#pragma omp simd
        for (int64_t k = 0; k < m; k++) h[k] = tanh_(act[k]);
    } else if (cell == RELU) {
#pragma omp simd
        for (int64_t k = 0; k < m; k++) h[k] = act[k] < 0 ? (real)0 : act[k];
    } else if (cell == LSTM) {  /* gates i, f, g, o */
        real *i = act, *f = act + m, *g = act + 2 * m, *o = act + 3 * m;
#pragma omp simd
        for (int64_t k = 0; k < m; k++) {
            i[k] = sigmoid_(i[k]);
            f[k] = sigmoid_(f[k]);
            g[k] = tanh_(g[k]);
            o[k] = sigmoid_(o[k]);
            c[k] = f[k] * c_prev[k] + i[k] * g[k];
            h[k] = o[k] * tanh_(c[k]);
        }
    } else {  /* GRU: r, z, n_x (replaced by n), n_h */
        real *r = act, *z = act + m, *n = act + 2 * m;
        const real *n_h = act + 3 * m;
#pragma omp simd
        for (int64_t k = 0; k < m; k++) {
            r[k] = sigmoid_(r[k]);
            z[k] = sigmoid_(z[k]);
            n[k] = tanh_(n[k] + r[k] * n_h[k]);
            h[k] = (h_prev[k] - n[k]) * z[k] + n[k];
        }
    }
}

void wave_forward(int cell, int n, int width, int P, int R, int B, int64_t rows, const real *w,
                  const real *bias, const int64_t *index, const int64_t *node_dst, real *slab,
                  real *units, const real *c_prev, real *c, real *act) {
    const int64_t m = (int64_t)P * B;
    for (int i = 0; i < n; i++) {
        real *a = act + (int64_t)i * R * B, *h = units + i * m;
        products(R, width, B, w + (int64_t)i * R * width, bias + (int64_t)i * R, index + (int64_t)i * width,
                 slab, a);
        activate(cell, m, a, h, h - rows * B, c_prev ? c_prev + i * m : 0, c ? c + i * m : 0);
        for (int p = 0; p < P; p++) {  /* layer outputs: sums of unit states */
            real *dst = slab + node_dst[(int64_t)i * P + p] * B;
            const real *src = h + (int64_t)p * B;
#pragma omp simd
            for (int b = 0; b < B; b++) dst[b] += src[b];
        }
    }
}

/* Gradient of the pre-activations of one block (d, R * B) from the gradient dh of its states. */
static void deactivate(int cell, int64_t m, const real *act, const real *dh, const real *h,
                       const real *h_prev, real *dh_prev, const real *c_prev, const real *c, real *carry,
                       real *d) {
    if (cell == TANH) {
#pragma omp simd
        for (int64_t k = 0; k < m; k++) d[k] = ((real)1 - h[k] * h[k]) * dh[k];
    } else if (cell == RELU) {
#pragma omp simd
        for (int64_t k = 0; k < m; k++) d[k] = h[k] > 0 ? dh[k] : (real)0;
    } else if (cell == LSTM) {
        const real *i = act, *f = act + m, *g = act + 2 * m, *o = act + 3 * m;
#pragma omp simd
        for (int64_t k = 0; k < m; k++) {
            const real t = tanh_(c[k]);
            const real dc = ((real)1 - t * t) * o[k] * dh[k] + carry[k];
            d[k] = dc * g[k] * (i[k] - i[k] * i[k]);
            d[m + k] = dc * c_prev[k] * (f[k] - f[k] * f[k]);
            d[2 * m + k] = dc * i[k] * ((real)1 - g[k] * g[k]);
            d[3 * m + k] = dh[k] * t * (o[k] - o[k] * o[k]);
            carry[k] = dc * f[k];
        }
    } else {
        const real *r = act, *z = act + m, *n = act + 2 * m, *n_h = act + 3 * m;
#pragma omp simd
        for (int64_t k = 0; k < m; k++) {
            dh_prev[k] += dh[k] * z[k];
            d[m + k] = (h_prev[k] - n[k]) * dh[k] * (z[k] - z[k] * z[k]);
            const real dn = (dh[k] - dh[k] * z[k]) * ((real)1 - n[k] * n[k]);
            d[2 * m + k] = dn;
            d[3 * m + k] = dn * r[k];
            d[k] = dn * n_h[k] * (r[k] - r[k] * r[k]);
        }
    }
}

/* Weight, bias and input gradients of one block from d (R, B); padding columns are skipped. The
   weight gradients are accumulated as LANES partial sums each (dw: R, width, LANES), so that no
   product needs a horizontal sum; the caller adds the lanes up once per batch. */
static inline __attribute__((always_inline)) void accumulate_(int RR, int width, int B, const real *w,
                                                             const int64_t *index, const real *slab,
                                                             real *dslab, const real *d, real *dw,
                                                             real *dbias) {
    for (int r = 0; r < RR; r++) {
        const real *y = d + (int64_t)r * B;
        real s = 0;
#pragma omp simd reduction(+ : s)
        for (int b = 0; b < B; b++) s += y[b];
        dbias[r] += s;
    }
    for (int j = 0; j < width; j++) {
        if (index[j] == 0) continue;
        const real *x = slab + index[j] * B;
        real *dx = dslab + index[j] * B;
        for (int r = 0; r < RR; r++) { /* dw keeps LANES partial sums per weight (summed at the end) */
            const real *y = d + (int64_t)r * B;
            real *lanes = dw + ((int64_t)r * width + j) * LANES;
            int b0 = 0;
            if (B >= LANES) {
                real s[LANES];
                for (int l = 0; l < LANES; l++) s[l] = lanes[l];
                for (; b0 + LANES <= B; b0 += LANES)
                    for (int l = 0; l < LANES; l++) s[l] += y[b0 + l] * x[b0 + l];
                for (int l = 0; l < LANES; l++) lanes[l] = s[l];
            }
            for (int b = b0; b < B; b++) lanes[b - b0] += y[b] * x[b];
        }
        int b0 = 0; /* dx += w[:, j] . d, CHUNK samples at a time */
        for (; b0 + CHUNK <= B; b0 += CHUNK) {
            real acc[CHUNK];
            for (int b = 0; b < CHUNK; b++) acc[b] = dx[b0 + b];
            for (int r = 0; r < RR; r++) {
                const real v = w[(int64_t)r * width + j], *y = d + (int64_t)r * B + b0;
                for (int b = 0; b < CHUNK; b++) acc[b] += v * y[b];
            }
            for (int b = 0; b < CHUNK; b++) dx[b0 + b] = acc[b];
        }
        for (int r = 0; r < RR; r++) {
            const real v = w[(int64_t)r * width + j], *y = d + (int64_t)r * B;
            for (int b = b0; b < B; b++) dx[b] += v * y[b];
        }
    }
}

static void accumulate(int R, int width, int B, const real *w, const int64_t *index, const real *slab,
                       real *dslab, const real *d, real *dw, real *dbias) {
    switch (R) {
    case 1: accumulate_(1, width, B, w, index, slab, dslab, d, dw, dbias); break;
    case 2: accumulate_(2, width, B, w, index, slab, dslab, d, dw, dbias); break;
    case 4: accumulate_(4, width, B, w, index, slab, dslab, d, dw, dbias); break;
    case 8: accumulate_(8, width, B, w, index, slab, dslab, d, dw, dbias); break;
    default: accumulate_(R, width, B, w, index, slab, dslab, d, dw, dbias);
    }
}

void wave_backward(int cell, int n, int width, int P, int R, int B, int64_t rows, const real *w,
                   const int64_t *index, const int64_t *node_dst, const real *slab, real *dslab,
                   const real *units, real *dunits, const real *c_prev, const real *c, real *carry,
                   const real *act, real *d, real *dw, real *dbias) {
    const int64_t m = (int64_t)P * B;
    for (int i = 0; i < n; i++) {
        real *dh = dunits + i * m;
        const real *h = units + i * m;
        for (int p = 0; p < P; p++) {  /* the layer outputs were sums of unit states */
            const real *src = dslab + node_dst[(int64_t)i * P + p] * B;
            real *dst = dh + (int64_t)p * B;
#pragma omp simd
            for (int b = 0; b < B; b++) dst[b] += src[b];
        }
        deactivate(cell, m, act + (int64_t)i * R * B, dh, h, h - rows * B, dh - rows * B,
                   c_prev ? c_prev + i * m : 0, c ? c + i * m : 0, carry ? carry + i * m : 0, d);
        accumulate(R, width, B, w + (int64_t)i * R * width, index + (int64_t)i * width, slab, dslab, d,
                   dw + (int64_t)i * R * width * LANES, dbias + (int64_t)i * R);
    }
}

/* Every wave of a batch, forward or backward, in one call. table holds TABLE int64 per bucket:
   blocks, width, first unit row, then the addresses of its levels (sorted), input index, node_dst,
   weights, biases, cell states (0: none), activations, whether these hold every wave's (1) or one
   wave's (0), and for the backward pass the weight and bias gradients and the LSTM carry. */
enum { TABLE = 14 };

static int64_t upper_bound_(const int64_t *levels, int64_t n, int64_t value) {
    int64_t lo = 0, hi = n; /* first position whose level exceeds value */
    while (lo < hi) {
        const int64_t mid = (lo + hi) / 2;
        if (levels[mid] <= value) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

#define BUCKET_FIELDS                                                                              \
    const int64_t *t = table + (int64_t)k * TABLE;                                                  \
    const int64_t n = t[0], width = t[1], unit_row = t[2];                                          \
    const int64_t lo = upper_bound_((const int64_t *)t[3], n, wave - steps);                        \
    const int64_t hi = upper_bound_((const int64_t *)t[3], n, wave);                                \
    if (lo >= hi) continue;                                                                         \
    const int64_t *index = (const int64_t *)t[4] + lo * width;                                      \
    const int64_t *node_dst = (const int64_t *)t[5] + lo * P;                                       \
    const real *w = (const real *)t[6] + lo * R * width;                                            \
    real *cells = (real *)t[8];                                                                     \
    const real *c_prev = cells ? cells + ((slab - 1) * n + lo) * P * B : 0;                         \
    real *c = cells ? cells + (slab * n + lo) * P * B : 0;                                          \
    real *act = (real *)t[9] + (t[10] ? wave * n + lo : lo) * R * B;                                \
    const int64_t unit_at = (slab * rows + unit_row + lo * P) * B;

void forward_waves(int cell, int buckets, const int64_t *table, int waves, int steps, int delay,
                   int P, int R, int B, int64_t rows, real *hist) {
    for (int64_t wave = 0; wave < waves; wave++) {
        const int64_t slab = wave + delay;
        for (int k = 0; k < buckets; k++) {
            BUCKET_FIELDS
            wave_forward(cell, (int)(hi - lo), (int)width, P, R, B, rows, w, (const real *)t[7] + lo * R,
                         index, node_dst, hist + slab * rows * B, hist + unit_at, c_prev, c, act);
        }
    }
}

/* After wave w no later step writes or reads slab w + delay of dhist again (the caller reads the
   input rows emb0 .. emb1 - 1): it is cleared, so that dhist is all zeros for the next batch
   without a pass over all of it. */
void backward_waves(int cell, int buckets, const int64_t *table, int waves, int steps, int delay,
                    int P, int R, int B, int64_t rows, const real *hist, real *dhist, real *scratch,
                    int64_t emb0, int64_t emb1) {
    for (int64_t wave = waves - 1; wave >= 0; wave--) {
        const int64_t slab = wave + delay;
        if (wave < waves - 1) { /* the slab of the wave after this one is done with */
            real *done = dhist + (slab + 1) * rows * B;
            memset(done, 0, (size_t)(emb0 * B) * sizeof(real));
            memset(done + emb1 * B, 0, (size_t)((rows - emb1) * B) * sizeof(real));
        }
        for (int k = 0; k < buckets; k++) {
            BUCKET_FIELDS
            real *carry = t[13] ? (real *)t[13] + lo * P * B : 0;
            wave_backward(cell, (int)(hi - lo), (int)width, P, R, B, rows, w, index, node_dst,
                          hist + slab * rows * B, dhist + slab * rows * B, hist + unit_at, dhist + unit_at,
                          c_prev, c, carry, t[10] ? act : 0, scratch, (real *)t[11] + lo * R * width * LANES,
                          (real *)t[12] + lo * R);
        }
    }
    if (waves > 0) {
        real *done = dhist + (int64_t)delay * rows * B;
        memset(done, 0, (size_t)(emb0 * B) * sizeof(real));
        memset(done + emb1 * B, 0, (size_t)((rows - emb1) * B) * sizeof(real));
    }
}
