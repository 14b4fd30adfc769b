/*
** nn.c — CPU kernels of the nn family: linear (and export's fused_linear, linear with
** an activation), softmax, log_softmax, layer_norm, batch_norm (inference), embedding,
** dropout and its gradient, one_hot.
**
** Invariants:
** - the dispatcher has cast float inputs to the compute dtype (f32 or f64; f16/bf16
**   arrive as f32) and index inputs to i64, and allocated out[0] contiguous (one_hot
**   allocates its own: its size can depend on the data);
** - inputs may be strided views: a kernel that walks rows takes ember_contiguous of
**   them (no copy when already contiguous), batch_norm runs on the elementwise iterator;
** - index values are read as value - c->index_base (1 from Lua, 0 from C), and an
**   index out of range is an error that shows the value as the caller wrote it;
** - reductions inside a row (softmax sums, layer_norm moments) accumulate in double.
*/
#include <math.h>
#include <string.h>

#include "nn.h"
#include "linalg.h"
#include "elementwise.h"
#include "fused.h"
#include "pointwise.h"

/* {====== linear */

/* Rows of t seen as a (rows x last dim) matrix: ok when its leading dims run on with
** one stride (*rs); size-1 dims do not count. */
static int rows_of(const ember_tensor *t, int64_t *rows, int64_t *rs) {
  int nd = t->ndim;
  int64_t n = 1, expect = -1;
  *rs = nd > 0 ? t->shape[nd - 1] : 1;       /* a single row: its stride is never read */
  for (int d = nd - 2; d >= 0; d--) {
    n *= t->shape[d];
    if (t->shape[d] == 1) continue;
    if (expect < 0) *rs = t->stride[d];
    else if (t->stride[d] != expect) return 0;
    expect = t->stride[d] * t->shape[d];
  }
  *rows = n;
  return 1;
}

/* export's fused_linear runs by blocks of rows, each made and finished while it is in
** cache: its rows of bias, its GEMM, its activation. Blocks go to threads (each GEMM on
** one BLAS thread, as linalg.c's batched products), so the activation, which can cost
** as much as the product (gelu), is spread too. A block holds about 64K outputs (256
** KiB of f32), but never fewer than 64 rows: thinner products run BLAS slowly, and
** each block's GEMM packs the whole weight again. */
typedef struct linear_job {
  ember_dtype dt;
  int64_t es, rows, in, nout, block;
  ember_mat a, b;
  char *out;
  const char *bias;             /* NULL: none */
  int64_t bias_n, bias_s;       /* its elements (1 or nout) and their stride, in elements */
  const ember_pw_loops *act;    /* NULL: none */
} linear_job;

static void linear_blocks(void *ctx, int64_t lo, int64_t hi) {
  const linear_job *j = ctx;
  int64_t es = j->es, nout = j->nout;
  for (int64_t blk = lo; blk < hi; blk++) {
    int64_t r0 = blk * j->block, m = j->rows - r0 < j->block ? j->rows - r0 : j->block;
    char *ob = j->out + r0 * nout * es;
    for (int64_t r = 0; r < m && j->bias; r++) {
      char *row = ob + r * nout * es;
      if (j->bias_n == nout && j->bias_s == 1) memcpy(row, j->bias, (size_t)(nout * es));
      else
        for (int64_t k = 0; k < nout; k++)
          memcpy(row + k * es, j->bias + (j->bias_n == 1 ? 0 : k * j->bias_s) * es, (size_t)es);
    }
    ember_mat ab = { j->a.data + r0 * j->a.rs * es, j->a.rs, j->a.cs };
    ember_mat om = { ob, nout, 1 };
    ember_gemm(j->dt, m, nout, j->in, 1, ab, j->b, j->bias ? 1 : 0, om);
    if (j->act) ember_cpu_unary_apply(j->act, j->dt, ob, m * nout);
  }
}

/* Rows of a block of fused_linear: about 64K outputs, never fewer than 64 rows. */
static int64_t linear_block(int64_t nout) {
  int64_t block = ((int64_t)1 << 16) / (nout > 0 ? nout : 1);
  return block < 64 ? 64 : block;
}

static void fused_linear_run(ember_dtype dt, int64_t rows, int64_t in, int64_t nout, ember_mat a,
                             ember_mat b, char *out, const ember_tensor *bias,
                             const ember_pw_loops *act) {
  int64_t block = linear_block(nout);
  linear_job j = { dt, (int64_t)ember_dtype_size(dt), rows, in, nout, block, a, b, out,
                   NULL, 0, 0, act };
  if (bias) {
    j.bias = ember_tensor_data(bias);
    j.bias_n = ember_tensor_numel(bias);
    j.bias_s = bias->ndim == 1 ? bias->stride[0] : 1;
  }
  int64_t nblocks = (rows + block - 1) / block;
  int64_t work = rows * nout * (in + 1) / 32;   /* 32 multiply-adds weigh as one element */
  if (nblocks > 1 && ember_parallel_worth(work)) ember_blas_threads_for(0);   /* one each */
  ember_parallel_for(nblocks, work, linear_blocks, &j);
}

/* out = input @ weight^T + bias, with input's leading dims folded into rows; fused
** (fused_linear) by blocks of rows with act (NULL: none) on each. */
static ember_status linear(ember_call *c, int fused, const ember_pw_loops *act) {
  ember_tensor *x = c->in[0], *w = c->in[1], *bias = c->nin > 2 ? c->in[2] : NULL;
  ember_tensor *out = c->out[0];
  ember_dtype dt = out->dtype;
  int64_t in = w->shape[1], nout = w->shape[0], rows, rs;
  int blas = dt != EMBER_I64;
  ember_tensor *rx, *rw;
  if (rows_of(x, &rows, &rs) && (!blas || ember_mat_blas_ok(rows, in, rs, x->stride[x->ndim - 1]))) {
    ember_tensor_retain(x);
    rx = x;
  } else {
    rx = ember_contiguous(x);
    if (rx == NULL) return EMBER_ERROR;
    rows_of(rx, &rows, &rs);
  }
  if (!blas || ember_mat_blas_ok(in, nout, w->stride[1], w->stride[0])) {
    ember_tensor_retain(w);
    rw = w;
  } else if ((rw = ember_contiguous(w)) == NULL) {
    ember_tensor_release(rx);
    return EMBER_ERROR;
  }
  ember_mat a = { ember_tensor_data(rx), rs, rx->stride[rx->ndim - 1] };
  ember_mat b = { ember_tensor_data(rw), rw->stride[1], rw->stride[0] };   /* weight^T */
  ember_status st = EMBER_OK;
  /* a product of one block is the same GEMM either way, with the bias put in by rows
     (fused_linear's way) rather than by a broadcasting copy, which costs more than the
     product on a small layer */
  if (fused || (blas && rows <= linear_block(nout))) {
    fused_linear_run(dt, rows, in, nout, a, b, ember_tensor_data(out), bias, act);
  } else if ((st = bias ? ember_copy_(out, bias) : EMBER_OK) == EMBER_OK) {
    ember_mat o = { ember_tensor_data(out), nout, 1 };
    ember_gemm(dt, rows, nout, in, 1, a, b, bias ? 1 : 0, o);
  }
  ember_tensor_release(rx);
  ember_tensor_release(rw);
  return st;
}

ember_status ember_cpu_linear(ember_call *c) { return linear(c, 0, NULL); }

/* export's fused_linear: the loops of the activation's eager op, so the same values */
ember_status ember_cpu_fused_linear(ember_call *c) {
  const ember_fused_word *w;
  if (ember_fused_activation(c, FUSED_LINEAR_ACTIVATION, &w) != EMBER_OK) return EMBER_ERROR;
  return linear(c, 1, w ? ember_cpu_unary_loops(w->name) : NULL);
}

/* }====== */

/* {====== softmax, log_softmax */

/* A tensor seen around one dim: outer x len x inner, contiguous. */
typedef struct span { int64_t outer, len, inner; } span;

static span span_of(const ember_tensor *t, int dim) {
  span s = { 1, 1, 1 };
  for (int d = 0; d < t->ndim; d++) {
    if (d < dim) s.outer *= t->shape[d];
    else if (d == dim) s.len = t->shape[d];
    else s.inner *= t->shape[d];
  }
  return s;
}

/* Lanes of the inner dim handled side by side, so a softmax over a dim that is not
** the last reads whole cache lines. */
#define LANES 64

/* c ? a : b in bit operations. GCC (under its default -ftrapping-math) keeps a float
** ?: whose result feeds more arithmetic as a branch, and a branch stops a loop from
** vectorising; this form it vectorises. */
static inline float pick(int c, float a, float b) {
  uint32_t ua, ub, m = 0u - (uint32_t)(c != 0), r;
  memcpy(&ua, &a, sizeof ua);
  memcpy(&ub, &b, sizeof ub);
  r = (ua & m) | (ub & ~m);
  float f;
  memcpy(&f, &r, sizeof f);
  return f;
}

/* exp for f32 in plain arithmetic, so loops over it vectorise (libm's expf is one
** call per element): x = n ln2 + r, e^r by its Taylor polynomial to r^8, 2^n written
** into the exponent bits (n <= 127, so near the top |r| reaches ln2; the polynomial
** still holds there). Within 2 ulp of expf; below -87.5 it gives 0 (expf gives
** denormals there), above log(FLT_MAX) infinity, NaN stays NaN. */
static inline float exp_f32(float x) {
  const float round = 12582912.0f;              /* 1.5 * 2^23: adding it rounds to integer */
  float xc = pick(x > -87.5f, x, -87.5f);       /* NaN too, fixed up at the end */
  xc = pick(xc < 88.72284f, xc, 88.72283f);
  float n = (xc * 1.44269504f + round) - round;
  n = pick(n < 127.0f, n, 127.0f);
  float r = xc - n * 0.693145751953125f;        /* ln2 in two parts: n * hi is exact */
  r = r - n * 1.42860677e-06f;
  float p = 1.0f / 40320;
  p = p * r + 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t bits = ((int32_t)n + 127) * (1 << 23);
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  float y = pick(x > -87.5f, p * scale, 0.0f);
  y = pick(x < 88.72284f, y, INFINITY);
  return pick(x == x, y, x);
}

/* One contiguous row (the common last-dim case). `omp simd` lets the compiler split
** the max and the sum into vector lanes. */
static void softmax_row_f32(const float *x, float *y, int64_t len, int log_out) {
  float mx = -INFINITY;
  #pragma omp simd reduction(max:mx)
  for (int64_t j = 0; j < len; j++) mx = x[j] > mx ? x[j] : mx;
  double s = 0;
  if (log_out) {
    #pragma omp simd reduction(+:s)
    for (int64_t j = 0; j < len; j++) s += exp_f32(x[j] - mx);
    float ls = (float)log(s);
    #pragma omp simd
    for (int64_t j = 0; j < len; j++) y[j] = (x[j] - mx) - ls;
    return;
  }
  #pragma omp simd reduction(+:s)
  for (int64_t j = 0; j < len; j++) {
    float e = exp_f32(x[j] - mx);
    y[j] = e;
    s += e;
  }
  float r = (float)(1.0 / s);
  #pragma omp simd
  for (int64_t j = 0; j < len; j++) y[j] *= r;
}

/* w lanes of a row that runs at stride inner (f32). */
static void softmax_lanes_f32(const float *x, float *y, int64_t len, int64_t inner, int w,
                              int log_out) {
  float mx[LANES], k[LANES];
  double s[LANES];
  for (int l = 0; l < w; l++) { mx[l] = -INFINITY; s[l] = 0; }
  for (int64_t j = 0; j < len; j++) {
    const float *xr = x + j * inner;
    #pragma omp simd
    for (int l = 0; l < w; l++) mx[l] = xr[l] > mx[l] ? xr[l] : mx[l];
  }
  for (int64_t j = 0; j < len; j++) {
    const float *xr = x + j * inner;
    float *yr = y + j * inner;
    #pragma omp simd
    for (int l = 0; l < w; l++) {
      float e = exp_f32(xr[l] - mx[l]);
      yr[l] = e;                    /* log_out overwrites it below; a store keeps no branch */
      s[l] += e;
    }
  }
  for (int l = 0; l < w; l++) k[l] = log_out ? (float)log(s[l]) : (float)(1.0 / s[l]);
  for (int64_t j = 0; j < len; j++) {
    const float *xr = x + j * inner;
    float *yr = y + j * inner;
    if (log_out) {
      #pragma omp simd
      for (int l = 0; l < w; l++) yr[l] = (xr[l] - mx[l]) - k[l];
    } else {
      #pragma omp simd
      for (int l = 0; l < w; l++) yr[l] *= k[l];
    }
  }
}

/* The same in f64 (lanes only: f64 softmax is rare enough to skip the row form). */
static void softmax_lanes_f64(const double *x, double *y, int64_t len, int64_t inner, int w,
                              int log_out) {
  double mx[LANES], s[LANES];
  for (int l = 0; l < w; l++) { mx[l] = -INFINITY; s[l] = 0; }
  for (int64_t j = 0; j < len; j++)
    for (int l = 0; l < w; l++) mx[l] = x[j * inner + l] > mx[l] ? x[j * inner + l] : mx[l];
  for (int64_t j = 0; j < len; j++)
    for (int l = 0; l < w; l++) {
      double e = exp(x[j * inner + l] - mx[l]);
      if (!log_out) y[j * inner + l] = e;
      s[l] += e;
    }
  for (int l = 0; l < w; l++) s[l] = log_out ? log(s[l]) : 1.0 / s[l];
  for (int64_t j = 0; j < len; j++)
    for (int l = 0; l < w; l++) {
      int64_t i = j * inner + l;
      y[i] = log_out ? (x[i] - mx[l]) - s[l] : y[i] * s[l];
    }
}

typedef struct softmax_ctx {
  span s;
  int64_t chunks;
  int f32, log_out;
  int64_t es;
  const char *xd;
  char *yd;
} softmax_ctx;

/* Units [lo, hi): unit u is lanes [l0, l0 + LANES) of outer slice u / chunks. */
static void softmax_units(void *ctx, int64_t lo, int64_t hi) {
  const softmax_ctx *m = ctx;
  span s = m->s;
  for (int64_t u = lo; u < hi; u++) {
    int64_t o = u / m->chunks, l0 = (u % m->chunks) * LANES;
    int w = (int)(s.inner - l0 < LANES ? s.inner - l0 : LANES);
    int64_t off = (o * s.len * s.inner + l0) * m->es;
    const char *x = m->xd + off;
    char *y = m->yd + off;
    if (m->f32 && s.inner == 1)
      softmax_row_f32((const float *)x, (float *)y, s.len, m->log_out);
    else if (m->f32)
      softmax_lanes_f32((const float *)x, (float *)y, s.len, s.inner, w, m->log_out);
    else
      softmax_lanes_f64((const double *)x, (double *)y, s.len, s.inner, w, m->log_out);
  }
}

static ember_status softmax_run(ember_call *c, int log_out) {
  ember_tensor *x = ember_contiguous(c->in[0]), *out = c->out[0];
  if (x == NULL) return EMBER_ERROR;
  span s = span_of(x, ember_norm_dim((int)c->attr[0].i, x->ndim));
  if (s.len == 0) {
    ember_tensor_release(x);
    return EMBER_OK;
  }
  int64_t chunks = (s.inner + LANES - 1) / LANES;
  softmax_ctx m = { s, chunks, out->dtype == EMBER_F32, log_out,
                    (int64_t)ember_dtype_size(out->dtype), ember_tensor_data(x),
                    ember_tensor_data(out) };
  ember_parallel_for(s.outer * chunks, ember_tensor_numel(out), softmax_units, &m);
  ember_tensor_release(x);
  return EMBER_OK;
}

ember_status ember_cpu_softmax(ember_call *c) { return softmax_run(c, 0); }
ember_status ember_cpu_log_softmax(ember_call *c) { return softmax_run(c, 1); }

/* }====== */

/* {====== layer_norm */

/* Mean and 1/sqrt(var + eps) of n values, two passes in double (var is biased);
** `omp simd` lets the sums run in vector lanes. */
static void moments_f32(const float *x, int64_t n, double eps, double *mean, double *rstd) {
  double s = 0, q = 0;
  #pragma omp simd reduction(+:s)
  for (int64_t i = 0; i < n; i++) s += x[i];
  double m = s / (double)n;
  #pragma omp simd reduction(+:q)
  for (int64_t i = 0; i < n; i++) q += (x[i] - m) * (x[i] - m);
  *mean = m;
  *rstd = 1.0 / sqrt(q / (double)n + eps);
}

static void moments_f64(const double *x, int64_t n, double eps, double *mean, double *rstd) {
  double s = 0, q = 0;
  #pragma omp simd reduction(+:s)
  for (int64_t i = 0; i < n; i++) s += x[i];
  double m = s / (double)n;
  #pragma omp simd reduction(+:q)
  for (int64_t i = 0; i < n; i++) q += (x[i] - m) * (x[i] - m);
  *mean = m;
  *rstd = 1.0 / sqrt(q / (double)n + eps);
}

/* y = (x - mean) * rstd, then * w and + b where given: separate passes over a row that
** stays in cache, each one a plain vector loop. */
static void normalize_f32(const float *x, float *y, int64_t n, double mean, double rstd,
                          const float *w, const float *b) {
  float m = (float)mean, k = (float)rstd;
  #pragma omp simd
  for (int64_t i = 0; i < n; i++) y[i] = (x[i] - m) * k;
  if (w) {
    #pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] *= w[i];
  }
  if (b) {
    #pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] += b[i];
  }
}

static void normalize_f64(const double *x, double *y, int64_t n, double mean, double rstd,
                          const double *w, const double *b) {
  for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mean) * rstd;
  if (w) for (int64_t i = 0; i < n; i++) y[i] *= w[i];
  if (b) for (int64_t i = 0; i < n; i++) y[i] += b[i];
}

typedef struct norm_ctx {
  const void *x;
  void *y;
  const void *w, *b;
  int64_t n;
  double eps;
  int f32;
} norm_ctx;

/* Rows [lo, hi) of n elements each. */
static void norm_rows(void *ctx, int64_t lo, int64_t hi) {
  const norm_ctx *m = ctx;
  int64_t n = m->n;
  for (int64_t r = lo; r < hi; r++) {
    double mean, rstd;
    if (m->f32) {
      const float *xr = (const float *)m->x + r * n;
      moments_f32(xr, n, m->eps, &mean, &rstd);
      normalize_f32(xr, (float *)m->y + r * n, n, mean, rstd, m->w, m->b);
    } else {
      const double *xr = (const double *)m->x + r * n;
      moments_f64(xr, n, m->eps, &mean, &rstd);
      normalize_f64(xr, (double *)m->y + r * n, n, mean, rstd, m->w, m->b);
    }
  }
}

ember_status ember_cpu_layer_norm(ember_call *c) {
  ember_tensor *out = c->out[0];
  ember_tensor *x = ember_contiguous(c->in[0]);
  ember_tensor *w = c->nin > 1 && c->in[1] ? ember_contiguous(c->in[1]) : NULL;
  ember_tensor *b = c->nin > 2 && c->in[2] ? ember_contiguous(c->in[2]) : NULL;
  ember_status st = EMBER_OK;
  if (x == NULL || (c->nin > 1 && c->in[1] && w == NULL) || (c->nin > 2 && c->in[2] && b == NULL)) {
    st = EMBER_ERROR;
    goto done;
  }
  int64_t n = ember_shape_numel(c->attr[0].n, c->attr[0].v);
  int64_t rows = n ? ember_tensor_numel(x) / n : 0;
  norm_ctx m = { ember_tensor_data(x), ember_tensor_data(out), w ? ember_tensor_data(w) : NULL,
                 b ? ember_tensor_data(b) : NULL, n, c->attr[1].f, out->dtype == EMBER_F32 };
  ember_parallel_for(rows, rows * n, norm_rows, &m);
done:
  ember_tensor_release(x);
  ember_tensor_release(w);
  ember_tensor_release(b);
  return st;
}

/* }====== */

/* {====== batch_norm (inference) */

/* out = x * scale + shift, scale and shift broadcast along the channel dim */
static void affine_f32(char **d, const int64_t *s, int64_t n, void *ctx) {
  (void)ctx;
  if (s[0] == 4 && s[1] == 4 && s[2] == 0 && s[3] == 0) {
    float *o = (float *)d[0], k = *(const float *)d[2], t = *(const float *)d[3];
    const float *x = (const float *)d[1];
    for (int64_t i = 0; i < n; i++) o[i] = x[i] * k + t;
    return;
  }
  for (int64_t i = 0; i < n; i++)
    *(float *)(d[0] + i * s[0]) = *(const float *)(d[1] + i * s[1]) *
      *(const float *)(d[2] + i * s[2]) + *(const float *)(d[3] + i * s[3]);
}

static void affine_f64(char **d, const int64_t *s, int64_t n, void *ctx) {
  (void)ctx;
  for (int64_t i = 0; i < n; i++)
    *(double *)(d[0] + i * s[0]) = *(const double *)(d[1] + i * s[1]) *
      *(const double *)(d[2] + i * s[2]) + *(const double *)(d[3] + i * s[3]);
}

ember_status ember_cpu_batch_norm(ember_call *c) {
  ember_tensor *x = c->in[0], *out = c->out[0];
  const ember_tensor *mean = c->in[1], *var = c->in[2];
  const ember_tensor *w = c->nin > 3 ? c->in[3] : NULL, *b = c->nin > 4 ? c->in[4] : NULL;
  int64_t ch = x->shape[1], shape[EMBER_MAX_DIMS];
  shape[0] = ch;                      /* ch x 1 x ... : lines up with dim 2 (Lua) of x */
  for (int d = 1; d < x->ndim - 1; d++) shape[d] = 1;
  ember_tensor *scale = ember_tensor_empty(out->dtype, x->ndim - 1, shape);
  ember_tensor *shift = scale ? ember_tensor_empty(out->dtype, x->ndim - 1, shape) : NULL;
  if (shift == NULL) {
    ember_tensor_release(scale);
    return EMBER_ERROR;
  }
  double eps = c->attr[0].f;
  for (int64_t i = 0; i < ch; i++) {
    double k = 1.0 / sqrt(ember_tensor_get(var, i) + eps);
    if (w) k *= ember_tensor_get(w, i);
    double t = (b ? ember_tensor_get(b, i) : 0) - ember_tensor_get(mean, i) * k;
    ember_tensor_set(scale, i, k);
    ember_tensor_set(shift, i, t);
  }
  const ember_tensor *in[3] = { x, scale, shift };
  ember_iter_run(out, 3, in, out->dtype == EMBER_F32 ? affine_f32 : affine_f64, NULL);
  ember_tensor_release(scale);
  ember_tensor_release(shift);
  return EMBER_OK;
}

/* }====== */

/* {====== embedding, one_hot */

typedef struct embed_ctx {
  const int64_t *iv;
  int64_t base;
  const ember_tensor *w;
  char *out;
  int64_t dim;
} embed_ctx;

/* Output rows [lo, hi): row i is the weight's row iv[i] - base. */
static void embed_rows(void *ctx, int64_t lo, int64_t hi) {
  const embed_ctx *m = ctx;
  const ember_tensor *w = m->w;
  int64_t es = (int64_t)ember_dtype_size(w->dtype), dim = m->dim;
  const char *wd = ember_tensor_data(w);
  for (int64_t i = lo; i < hi; i++) {
    const char *src = wd + (m->iv[i] - m->base) * w->stride[0] * es;
    char *dst = m->out + i * dim * es;
    if (w->stride[1] == 1) memcpy(dst, src, (size_t)(dim * es));
    else
      for (int64_t j = 0; j < dim; j++) memcpy(dst + j * es, src + j * w->stride[1] * es, (size_t)es);
  }
}

ember_status ember_cpu_embedding(ember_call *c) {
  ember_tensor *idx = ember_contiguous(c->in[0]), *w = c->in[1], *out = c->out[0];
  if (idx == NULL) return EMBER_ERROR;
  const int64_t *iv = ember_tensor_data(idx);
  int64_t n = ember_tensor_numel(idx), rows = w->shape[0], dim = w->shape[1];
  int64_t base = c->index_base;
  for (int64_t i = 0; i < n; i++)
    if (iv[i] < base || iv[i] - base >= rows) {   /* no overflow at INT64_MIN */
      char s[128];
      ember_status st = ember_op_error(c, "index %lld is out of range [%lld, %lld] for weight of shape %s",
                                       (long long)iv[i], (long long)base,
                                       (long long)(rows - 1 + base), ember_shape_str(w, s, sizeof s));
      ember_tensor_release(idx);
      return st;
    }
  embed_ctx m = { iv, base, w, ember_tensor_data(out), dim };
  ember_parallel_for(n, n * dim, embed_rows, &m);
  ember_tensor_release(idx);
  return EMBER_OK;
}

ember_status ember_cpu_one_hot(ember_call *c) {
  ember_tensor *idx = ember_contiguous(c->in[0]);
  if (idx == NULL) return EMBER_ERROR;
  const int64_t *iv = ember_tensor_data(idx);
  int64_t n = ember_tensor_numel(idx), base = c->index_base, classes = c->attr[0].i;
  ember_status st = EMBER_OK;
  if (classes < 0) {
    if (n == 0) {
      st = ember_op_error(c, "cannot infer num_classes from an empty tensor");
      goto done;
    }
    int64_t mx = iv[0];
    for (int64_t i = 1; i < n; i++) mx = iv[i] > mx ? iv[i] : mx;
    classes = mx - base + 1 > 0 ? mx - base + 1 : 0;
  }
  for (int64_t i = 0; i < n; i++)
    if (iv[i] - base < 0 || iv[i] - base >= classes) {
      st = ember_op_error(c, "class value %lld is out of range [%lld, %lld] for %lld classes",
                          (long long)iv[i], (long long)base, (long long)(classes - 1 + base),
                          (long long)classes);
      goto done;
    }
  int64_t shape[EMBER_MAX_DIMS];
  memcpy(shape, idx->shape, idx->ndim * sizeof *shape);
  shape[idx->ndim] = classes;
  ember_tensor *out = ember_tensor_zeros(EMBER_I64, idx->ndim + 1, shape);
  if (out == NULL) {
    st = EMBER_ERROR;
    goto done;
  }
  int64_t *o = ember_tensor_data(out);
  for (int64_t i = 0; i < n; i++) o[i * classes + iv[i] - base] = 1;
  c->out[0] = out;
done:
  ember_tensor_release(idx);
  return st;
}

/* }====== */

/* {====== dropout */

typedef struct drop_ctx {
  uint64_t key, first;
  double p, scale;
  int f32;
  const char *x;
  char *y;
  int64_t n;
} drop_ctx;

#define DROP_BATCH (4 * EMBER_PHILOX_BATCH)      /* elements per batch of draws */

/* Batches [lo, hi) of DROP_BATCH elements, each from one batch of Philox blocks. */
static void drop_batches(void *ctx, int64_t lo, int64_t hi) {
  const drop_ctx *m = ctx;
  for (int64_t bt = lo; bt < hi; bt++) {
    uint32_t r[DROP_BATCH];
    ember_philox4x32_batch(m->key, m->first + (uint64_t)(bt * EMBER_PHILOX_BATCH), r);
    int64_t i0 = bt * DROP_BATCH, len = m->n - i0 < DROP_BATCH ? m->n - i0 : DROP_BATCH;
    if (m->f32) {
      const float *x = (const float *)m->x + i0;
      float *y = (float *)m->y + i0, scale = (float)m->scale;
      for (int64_t k = 0; k < len; k++)
        y[k] = pick(ember_u32_to_unit_f32(r[k]) >= m->p, x[k] * scale, 0.0f);
    } else {
      const double *x = (const double *)m->x + i0;
      double *y = (double *)m->y + i0;
      for (int64_t k = 0; k < len; k++)
        y[k] = ember_u32_to_unit_f32(r[k]) >= m->p ? x[k] * m->scale : 0.0;
    }
  }
}

/* y = x masked and scaled by 1/(1-p) for 0 < p < 1, x contiguous: element i keeps when
** draw i of the stream at (key, first) is >= p. Draw i is word i % 4 of Philox block
** first + i / 4, so the mask does not depend on how the work is split over threads,
** and a GPU kernel can make the same one. */
static void drop_scale(uint64_t key, uint64_t first, double p, const ember_tensor *x,
                       ember_tensor *y) {
  int64_t n = ember_tensor_numel(x);
  drop_ctx m = { key, first, p, 1.0 / (1.0 - p), y->dtype == EMBER_F32,
                 ember_tensor_data(x), ember_tensor_data(y), n };
  ember_parallel_for((n + DROP_BATCH - 1) / DROP_BATCH, n, drop_batches, &m);
}

/* The mask comes from the next n draws of the global stream. */
ember_status ember_cpu_dropout(ember_call *c) {
  ember_tensor *out = c->out[0];
  double p = c->attr[0].f;
  if (!c->attr[1].i || p == 0) return ember_copy_(out, c->in[0]);
  if (p == 1) return ember_fill_(out, 0);
  ember_tensor *x = ember_contiguous(c->in[0]);
  if (x == NULL) return EMBER_ERROR;
  uint64_t key = ember_rng_seed();
  drop_scale(key, ember_rng_reserve(ember_tensor_numel(x)), p, x, out);
  ember_tensor_release(x);
  return EMBER_OK;
}

/* The forward's mask made again from the stream position it drew at (attribute 1:
** key and counter as four 32-bit words, low word first), and the output's gradient
** scaled through it as the forward scaled x. */
ember_status ember_cpu_dropout_backward(ember_call *c) {
  const int64_t *w = c->attr[1].v;
  ember_tensor *g = ember_contiguous(c->in[0]);
  if (g == NULL) return EMBER_ERROR;
  drop_scale((uint64_t)w[0] | (uint64_t)w[1] << 32, (uint64_t)w[2] | (uint64_t)w[3] << 32,
             c->attr[0].f, g, c->out[0]);
  ember_tensor_release(g);
  return EMBER_OK;
}

/* }====== */
