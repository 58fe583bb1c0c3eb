/* One time step of a sparse recurrent stack, for sparsernn.nn.StreamingRNN (see streaming_kernels.py).

   Built twice, with -DREAL=float -DFAST_EXP and with -DREAL=double. A matrix is dense (row-major) or
   CSR with 16- or 32-bit column indices; batch-1 CSR products may read a SELL-16 copy. Samples of a
   batch go through LANES at a time, side by side, so that each stored weight is read once per group. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef REAL real;

#ifdef FAST_EXP
/* exp for float: 2^n * p(r), |r| <= ln2/2, degree-7 Taylor polynomial (relative error < 1e-8),
   branch-free so that loops over it vectorise. */
static inline real exp_(real x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    real n = __builtin_roundf(x * 1.44269504088896341f);
    real r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;
    real p = 1.0f + r * (1.0f + r * (0.5f + r * (1.6666667e-1f + r * (4.1666668e-2f
             + r * (8.3333338e-3f + r * (1.3888889e-3f + r * 1.9841270e-4f))))));
    union { int32_t i; float f; } scale = {.i = ((int32_t)n + 127) << 23};
    return p * scale.f;
}
#else
static inline real exp_(real x) { return exp(x); }
#endif

static inline real sigmoid_(real x) { return (real)1 / ((real)1 + exp_(-x)); }
static inline real tanh_(real x) {
    real e = exp_((real)-2 * (x < 0 ? -x : x));
    real t = ((real)1 - e) / ((real)1 + e);
    return x < 0 ? -t : t;
}


#if defined(FAST_EXP) && defined(__AVX512F__) && defined(__AVX512BW__)
#define VECTOR_ROWS 1
#include <immintrin.h>
/* Float kernels for CPUs with AVX-512 (others compile the portable loops further down). */
static inline void dense4(const float *w, int cols, const float *x, float *y) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    const float *w1 = w + cols, *w2 = w1 + cols, *w3 = w2 + cols;
    for (int c = 0; c < cols; c += 16) {
        const int n = cols - c < 16 ? cols - c : 16;
        const __mmask16 m = (__mmask16)((1u << n) - 1);
        const __m512 xv = _mm512_maskz_loadu_ps(m, x + c);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + c), xv, a0);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w1 + c), xv, a1);
        a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w2 + c), xv, a2);
        a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w3 + c), xv, a3);
    }
    y[0] = _mm512_reduce_add_ps(a0); y[1] = _mm512_reduce_add_ps(a1);
    y[2] = _mm512_reduce_add_ps(a2); y[3] = _mm512_reduce_add_ps(a3);
}
/* LANES samples at once: x is (cols, 16); four accumulators hide the FMA latency. */
#define LANE_STEP(a, INDEX, VALUE, k) \
    a = _mm512_fmadd_ps(_mm512_set1_ps(VALUE(k)), _mm512_loadu_ps(x + 16 * (int64_t)INDEX(k)), a)
#define LANE_LOOP(INDEX, VALUE)                                                                     \
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                    \
    int32_t k = start;                                                                              \
    for (; k + 4 <= end; k += 4) {                                                                  \
        LANE_STEP(a0, INDEX, VALUE, k);                                                             \
        LANE_STEP(a1, INDEX, VALUE, k + 1);                                                         \
        LANE_STEP(a2, INDEX, VALUE, k + 2);                                                         \
        LANE_STEP(a3, INDEX, VALUE, k + 3);                                                         \
    }                                                                                               \
    for (; k < end; k++) LANE_STEP(a0, INDEX, VALUE, k);                                            \
    _mm512_storeu_ps(y, _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
#define SELF(k) (k)
#define ROW(k) row[k]
#define COL(k) col[k]
#define VAL(k) val[k]

static inline void lanes_dense(const float *row, int cols, const float *x, float *y) {
    const int32_t start = 0, end = cols;
    LANE_LOOP(SELF, ROW)
}
/* Eight dense rows at once for LANES samples: each x row is loaded once for all eight. */
static inline void lanes_dense8(const float *w, int cols, const float *x, float *y) {
    __m512 a[8];
    for (int i = 0; i < 8; i++) a[i] = _mm512_setzero_ps();
    for (int c = 0; c < cols; c++) {
        const __m512 xv = _mm512_loadu_ps(x + 16 * (int64_t)c);
        for (int i = 0; i < 8; i++) a[i] = _mm512_fmadd_ps(_mm512_set1_ps(w[(int64_t)i * cols + c]), xv, a[i]);
    }
    for (int i = 0; i < 8; i++) _mm512_storeu_ps(y + 16 * i, a[i]);
}
static inline void lanes16(int32_t start, int32_t end, const uint16_t *col, const float *val, const float *x, float *y) {
    LANE_LOOP(COL, VAL)
}
static inline void lanes32(int32_t start, int32_t end, const int32_t *col, const float *val, const float *x, float *y) {
    LANE_LOOP(COL, VAL)
}
/* exp, sigmoid and tanh of 16 floats: exp(x) = 2^n p(r) with vscalefps doing the 2^n. */
static inline __m512 exp16(__m512 x) {
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.0f)), _mm512_set1_ps(-87.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
    const float c[] = {1.3888889e-3f, 8.3333338e-3f, 4.1666668e-2f, 1.6666667e-1f, 0.5f, 1.0f, 1.0f};
    __m512 p = _mm512_set1_ps(1.9841270e-4f);
    for (int i = 0; i < 7; i++) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c[i]));
    return _mm512_scalef_ps(p, n);
}
static inline __m512 sigmoid16(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}
static inline __m512 tanh16(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    const __m512 a = _mm512_castsi512_ps(_mm512_andnot_si512(sign, _mm512_castps_si512(x)));
    const __m512 e = exp16(_mm512_mul_ps(a, _mm512_set1_ps(-2.0f)));
    const __m512 t = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(t),
                                               _mm512_and_si512(sign, _mm512_castps_si512(x))));
}

/* The activations of one sample (batch 1: gi, gh contiguous), 16 units at a time. */
static void activate16(int mode, int H, const float *gi, const float *gh, const float *h, const float *c_in,
                       float *h_out, float *c_out) {
    for (int j = 0; j < H; j += 16) {
        const __mmask16 m = (__mmask16)(H - j >= 16 ? 0xFFFF : (1u << (H - j)) - 1);
#define PRE(k) _mm512_add_ps(_mm512_maskz_loadu_ps(m, gi + (k) * H + j), _mm512_maskz_loadu_ps(m, gh + (k) * H + j))
        if (mode == 0) {
            _mm512_mask_storeu_ps(h_out + j, m, tanh16(PRE(0)));
        } else if (mode == 1) {
            _mm512_mask_storeu_ps(h_out + j, m, _mm512_max_ps(PRE(0), _mm512_setzero_ps()));
        } else if (mode == 2) {
            const __m512 c = _mm512_fmadd_ps(sigmoid16(PRE(1)), _mm512_maskz_loadu_ps(m, c_in + j),
                                             _mm512_mul_ps(sigmoid16(PRE(0)), tanh16(PRE(2))));
            _mm512_mask_storeu_ps(c_out + j, m, c);
            _mm512_mask_storeu_ps(h_out + j, m, _mm512_mul_ps(sigmoid16(PRE(3)), tanh16(c)));
        } else {
            const __m512 r = sigmoid16(PRE(0)), z = sigmoid16(PRE(1));
            const __m512 n = tanh16(_mm512_fmadd_ps(r, _mm512_maskz_loadu_ps(m, gh + 2 * H + j),
                                                    _mm512_maskz_loadu_ps(m, gi + 2 * H + j)));
            _mm512_mask_storeu_ps(h_out + j, m, _mm512_fmadd_ps(z, _mm512_sub_ps(_mm512_maskz_loadu_ps(m, h + j), n), n));
        }
#undef PRE
    }
}
/* The activations of nb <= 16 samples side by side (gi, gh, ht: (rows, 16)), 16 samples per vector;
   states in torch's (B, H) layout are gathered and scattered with stride H. */
static void activate_lanes(int mode, int H, int nb, const float *gi, const float *gh, const float *ht,
                           const float *c_in, float *h_out, float *c_out) {
    const __mmask16 m = (__mmask16)(nb >= 16 ? 0xFFFF : (1u << nb) - 1);
    const __m512i at = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                          _mm512_set1_epi32(H));
    for (int j = 0; j < H; j++) {
#define PRE(k) _mm512_add_ps(_mm512_loadu_ps(gi + ((size_t)(k) * H + j) * 16), _mm512_loadu_ps(gh + ((size_t)(k) * H + j) * 16))
        __m512 h;
        if (mode == 0) {
            h = tanh16(PRE(0));
        } else if (mode == 1) {
            h = _mm512_max_ps(PRE(0), _mm512_setzero_ps());
        } else if (mode == 2) {
            const __m512 c_prev = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, at, c_in + j, 4);
            const __m512 c = _mm512_fmadd_ps(sigmoid16(PRE(1)), c_prev, _mm512_mul_ps(sigmoid16(PRE(0)), tanh16(PRE(2))));
            _mm512_mask_i32scatter_ps(c_out + j, m, at, c, 4);
            h = _mm512_mul_ps(sigmoid16(PRE(3)), tanh16(c));
        } else {
            const __m512 r = sigmoid16(PRE(0)), z = sigmoid16(PRE(1));
            const size_t n_at = ((size_t)2 * H + j) * 16;
            const __m512 n = tanh16(_mm512_fmadd_ps(r, _mm512_loadu_ps(gh + n_at), _mm512_loadu_ps(gi + n_at)));
            h = _mm512_fmadd_ps(z, _mm512_sub_ps(_mm512_loadu_ps(ht + (size_t)j * 16), n), n);
        }
        _mm512_mask_i32scatter_ps(h_out + j, m, at, h, 4);
#undef PRE
    }
}
/* Batch-1 CSR product in SELL-16 order (rows sorted by length, 16 rows per slice, stored column-major
   within a slice): lane l of a vector is row perm[16 s + l], so there is no per-row reduction and no
   per-row branch; perm < 0 marks padding rows. */
#define SELL_LOOP(LOAD_INDEX)                                                                        \
    for (int s = 0; s < slices; s++) {                                                               \
        const int64_t at = soff[s];                                                                  \
        const int w = width[s];                                                                      \
        __m512 a0 = _mm512_setzero_ps(), a1 = a0;                                                    \
        int j = 0;                                                                                   \
        for (; j + 2 <= w; j += 2) {                                                                 \
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(val + at + 16 * j), _mm512_i32gather_ps(LOAD_INDEX(at + 16 * j), x, 4), a0); \
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(val + at + 16 * j + 16), _mm512_i32gather_ps(LOAD_INDEX(at + 16 * j + 16), x, 4), a1); \
        }                                                                                            \
        if (j < w)                                                                                   \
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(val + at + 16 * j), _mm512_i32gather_ps(LOAD_INDEX(at + 16 * j), x, 4), a0); \
        const __m512i rows = _mm512_loadu_si512(perm + 16 * s);                                     \
        _mm512_mask_i32scatter_ps(y, _mm512_cmpge_epi32_mask(rows, _mm512_setzero_si512()), rows, _mm512_add_ps(a0, a1), 4); \
    }
#define INDEX16(k) _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(col16 + (k))))
#define INDEX32(k) _mm512_loadu_si512(col32 + (k))

static void sell_product(const int64_t *p, const float *x, float *y) {
    const int32_t *soff = (const int32_t *)p[5], *width = (const int32_t *)p[6], *perm = (const int32_t *)p[7];
    const uint16_t *col16 = (const uint16_t *)p[8];
    const int32_t *col32 = (const int32_t *)p[8];
    const float *val = (const float *)p[9];
    const int slices = (int)p[10];
    if (p[0] == 1) {
        SELL_LOOP(INDEX16)
    } else {
        SELL_LOOP(INDEX32)
    }
}
#endif

enum { LANES = 16, PLAN = 11, SIDE_BY_SIDE = 4 };

/* y = W x + b. S == 1: x (cols,), y (rows,). S == LANES: LANES samples side by side, x (cols, LANES) and
   y (rows, LANES), so every stored weight is read once for all of them. W dense (format 0), or CSR with
   16-bit (1) or 32-bit (2) column indices. */
static void product(const int64_t *p, int rows, int cols, int S, const real *restrict x, real *restrict y) {
    const real *bias = (const real *)p[4], *w = (const real *)p[1], *val = (const real *)p[3];
    const int32_t *crow = (const int32_t *)p[1];
    const uint16_t *col16 = (const uint16_t *)p[2];
    const int32_t *col32 = (const int32_t *)p[2];
    int r = 0;
#ifdef VECTOR_ROWS
    if (S == 1 && p[0] == 0) {
        for (; r + 4 <= rows; r += 4) dense4(w + (int64_t)r * cols, cols, x, y + r);
    } else if (S == 1 && p[5]) {
        sell_product(p, x, y);
        r = rows;
    }
    if (S == LANES) {
        if (p[0] == 0)
            for (; r + 8 <= rows; r += 8) lanes_dense8(w + (int64_t)r * cols, cols, x, y + r * S);
        for (; r < rows; r++) {
            if (p[0] == 0) lanes_dense(w + (int64_t)r * cols, cols, x, y + r * S);
            else if (p[0] == 1) lanes16(crow[r], crow[r + 1], col16, val, x, y + r * S);
            else lanes32(crow[r], crow[r + 1], col32, val, x, y + r * S);
        }
    }
    if (bias && S == 1) {
        for (int i = 0; i < r; i++) y[i] += bias[i];
    } else if (bias) {
        for (int i = 0; i < r; i++)
            for (int b = 0; b < LANES; b++) y[i * LANES + b] += bias[i];
    }
#endif
    for (; r < rows; r++) {
        real acc[LANES] = {0};
        const int32_t start = p[0] ? crow[r] : 0, end = p[0] ? crow[r + 1] : cols;
        for (int32_t k = start; k < end; k++) {
            const int64_t c = p[0] == 0 ? k : (p[0] == 1 ? col16[k] : col32[k]);
            const real v = p[0] ? val[k] : w[(int64_t)r * cols + k];
            const real *xc = x + c * S;
            if (S == 1) {
                acc[0] += v * xc[0];
            } else {
#pragma omp simd
                for (int b = 0; b < LANES; b++) acc[b] += v * xc[b];
            }
        }
        for (int b = 0; b < S; b++) y[r * S + b] = acc[b] + (bias ? bias[r] : 0);
    }
}

/* Samples b0 .. b0+nb-1 of src (B, n) into dst (n, S), zero-padded; zeros when src is NULL. */
static void gather_samples(const real *src, int n, int b0, int nb, int S, real *dst) {
    for (int i = 0; i < n * S; i++) dst[i] = 0;
    if (!src) return;
    for (int b = 0; b < nb; b++)
        for (int i = 0; i < n; i++) dst[i * S + b] = src[(size_t)(b0 + b) * n + i];
}

enum { RNN_TANH = 0, RNN_RELU = 1, LSTM = 2, GRU = 3 };

/* New state of samples b0 .. b0+nb-1 of one layer from its products gi, gh ((G*H, S) each). The loops
   are written for a compile-time stride so that they vectorise: STRIDE 1 (batch 1) or LANES. */
#define ACTIVATE(STRIDE)                                                                              \
    for (int b = 0; b < nb; b++) {                                                                    \
        const real *cp = c_in ? c_in + (size_t)b * H : NULL;                                          \
        real *hb = h_out + (size_t)b * H, *cb = c_out ? c_out + (size_t)b * H : NULL;                 \
        const real *i_ = gi + b, *h_ = gh + b;                                                        \
        if (mode == RNN_TANH) {                                                                       \
            _Pragma("omp simd") for (int j = 0; j < H; j++) hb[j] = tanh_(i_[j * STRIDE] + h_[j * STRIDE]); \
        } else if (mode == RNN_RELU) {                                                                \
            _Pragma("omp simd") for (int j = 0; j < H; j++) {                                         \
                const real a = i_[j * STRIDE] + h_[j * STRIDE];                                       \
                hb[j] = a > 0 ? a : 0;                                                                \
            }                                                                                         \
        } else if (mode == LSTM) {                                                                    \
            _Pragma("omp simd") for (int j = 0; j < H; j++) {                                         \
                const real i = sigmoid_(i_[j * STRIDE] + h_[j * STRIDE]);                             \
                const real f = sigmoid_(i_[(H + j) * STRIDE] + h_[(H + j) * STRIDE]);                 \
                const real g = tanh_(i_[(2 * H + j) * STRIDE] + h_[(2 * H + j) * STRIDE]);            \
                const real o = sigmoid_(i_[(3 * H + j) * STRIDE] + h_[(3 * H + j) * STRIDE]);         \
                const real c = f * cp[j] + i * g;                                                     \
                cb[j] = c;                                                                            \
                hb[j] = o * tanh_(c);                                                                 \
            }                                                                                         \
        } else {                                                                                      \
            _Pragma("omp simd") for (int j = 0; j < H; j++) {                                         \
                const real r = sigmoid_(i_[j * STRIDE] + h_[j * STRIDE]);                             \
                const real z = sigmoid_(i_[(H + j) * STRIDE] + h_[(H + j) * STRIDE]);                 \
                const real n = tanh_(i_[(2 * H + j) * STRIDE] + r * h_[(2 * H + j) * STRIDE]);        \
                hb[j] = n + z * (ht[j * STRIDE + b] - n);                                             \
            }                                                                                         \
        }                                                                                             \
    }

static void activate(int mode, int H, int S, int nb, const real *gi, const real *gh, const real *ht,
                     const real *c_in, real *h_out, real *c_out) {
    if (S == 1) {
#ifdef VECTOR_ROWS
        activate16(mode, H, gi, gh, ht, c_in, h_out, c_out);
        return;
#endif
        ACTIVATE(1)
    } else {
#ifdef VECTOR_ROWS
        activate_lanes(mode, H, nb, gi, gh, ht, c_in, h_out, c_out);
        return;
#endif
        ACTIVATE(LANES)
    }
}

/* y_b = W x_b + bias for nb samples, each on its own (x: (nb, cols), y: (nb, rows)). Dense rows go four
   at a time through all samples while they sit in L1, so the matrix is read once for all of them. */
static void product_each(const int64_t *p, int rows, int cols, int nb, const real *x, real *y) {
#ifdef VECTOR_ROWS
    if (p[0] == 0 && nb > 1) {
        const real *w = (const real *)p[1], *bias = (const real *)p[4];
        int r = 0;
        for (; r + 4 <= rows; r += 4)
            for (int b = 0; b < nb; b++) dense4(w + (int64_t)r * cols, cols, x + (size_t)b * cols, y + (size_t)b * rows + r);
        for (int b = 0; b < nb; b++) {
            real *yb = y + (size_t)b * rows;
            for (int i = r; i < rows; i++) {
                real acc = 0;
                for (int c = 0; c < cols; c++) acc += w[(int64_t)i * cols + c] * x[(size_t)b * cols + c];
                yb[i] = acc;
            }
            for (int i = 0; bias && i < rows; i++) yb[i] += bias[i];
        }
        return;
    }
#endif
    for (int b = 0; b < nb; b++) product(p, rows, cols, 1, x + (size_t)b * cols, y + (size_t)b * rows);
}

/* One time step of a stack of `layers` layers for B samples. plan: 2 PLAN entries per layer, the ih
   matrix then the hh matrix, each (format, dense-or-crow, col, val, bias, then for batch-1 CSR in SELL-16
   order: slice offsets, slice widths, row of each lane, col, val, number of slices; zeros if absent).
   x is (B, input_size); states are in torch's layout (layers, B, H); h_in and c_in may be NULL (zeros).
   Fewer than SIDE_BY_SIDE samples go each on its own through the batch-1 products; more go in groups
   of LANES side by side. Returns 0, or -1 when memory runs out. */
int step(const int64_t *plan, int layers, int mode, int input_size, int H, int B, const real *x,
         const real *h_in, const real *c_in, real *h_out, real *c_out) {
    const int G = mode == LSTM ? 4 : (mode == GRU ? 3 : 1), each = B < SIDE_BY_SIDE;
    const int S = each ? 1 : LANES, K = each ? B : LANES; /* stride of a sample; samples per group */
    const size_t width = input_size > H ? input_size : H;
    real *xt = malloc(sizeof(real) * (K * (width + H + 2 * (size_t)G * H) + (size_t)H * K));
    if (!xt) return -1;
    real *zeros = xt + K * (width + H + 2 * (size_t)G * H); /* c = 0 when no state is given */
    for (size_t i = 0; i < (size_t)H * K; i++) zeros[i] = 0;
    real *ht = xt + width * K, *gi = ht + (size_t)H * K, *gh = gi + (size_t)G * H * K;
    for (int b0 = 0; b0 < B; b0 += K) {
        const int nb = B - b0 < K ? B - b0 : K;
        for (int l = 0; l < layers; l++) {
            const int64_t *p = plan + 2 * PLAN * l;
            const size_t off = (size_t)l * B * H + (size_t)b0 * H;
            const int in_size = l == 0 ? input_size : H;
            const real *in = l == 0 ? x + (size_t)b0 * input_size : h_out + off - (size_t)B * H;
            if (each) { /* samples stay rows: (nb, n) */
                memcpy(xt, in, sizeof(real) * nb * in_size);
                for (size_t i = 0; i < (size_t)nb * H; i++) ht[i] = h_in ? h_in[off + i] : 0;
                product_each(p, G * H, in_size, nb, xt, gi);
                product_each(p + PLAN, G * H, H, nb, ht, gh);
                for (int b = 0; b < nb; b++) {
                    const size_t at = (size_t)b * G * H, hb = (size_t)b * H;
                    activate(mode, H, 1, 1, gi + at, gh + at, ht + hb, c_in ? c_in + off + hb : zeros,
                             h_out + off + hb, c_out ? c_out + off + hb : NULL);
                }
            } else { /* samples side by side: (n, LANES) */
                gather_samples(in, in_size, 0, nb, S, xt);
                gather_samples(h_in ? h_in + off : NULL, H, 0, nb, S, ht);
                product(p, G * H, in_size, S, xt, gi);
                product(p + PLAN, G * H, H, S, ht, gh);
                activate(mode, H, S, nb, gi, gh, ht, c_in ? c_in + off : zeros, h_out + off,
                         c_out ? c_out + off : NULL);
            }
        }
    }
    free(xt);
    return 0;
}

/* y = W x + b for one stored matrix (plan: its 5 entries); S == 1 or LANES as in product. */
void matvec(const int64_t *p, int rows, int cols, int S, const real *x, real *y) {
    product(p, rows, cols, S, x, y);
}

/* 1 when this build has the batch-1 SELL-16 product (AVX-512, float), else 0. */
int has_sell(void) {
#ifdef VECTOR_ROWS
    return 1;
#else
    return 0;
#endif
}
