/*
** reduce_fold.c — the reducers of the reduce family (what each op folds, merges and
** writes) and the kernel entries that pick one by dtype and run the driver.
**
** Kernels compute in f32, f64, i64, or u8 (bool, for all/any); infer has cast the input
** to one of them. Float sums accumulate in f64 over eight independent accumulators, so
** an f32 sum is exact to f64 rounding and the contiguous loop vectorises; integer sums
** and products wrap as PyTorch's do. Extremes keep the first position of the best
** value, and the first NaN wins (NaN propagates, as in PyTorch); contiguous runs find
** them a block at a time with a vectorised max. The float folds are written once over
** a dtype argument that is a constant at every call, so each inlined copy is a plain
** f32 or f64 loop. Folds are called on contiguous runs (stride = element size, the
** fast path) or strided ones (a column of the driver's tile, or a strided input).
*/
#include <math.h>

#include "reduce.h"

#if defined(__GNUC__)
#define RINLINE static inline __attribute__((always_inline))
#else
#define RINLINE static inline
#endif

/* Element i of a run of f32 or f64 (dt) at p, stride s bytes. */
RINLINE double fl(const char *p, int64_t i, int64_t s, int dt) {
  return dt == EMBER_F32 ? (double)*(const float *)(p + i * s) : *(const double *)(p + i * s);
}

RINLINE int64_t fsize(int dt) { return dt == EMBER_F32 ? 4 : 8; }

static int64_t ld_i64(const char *p, int64_t i, int64_t s) { return *(const int64_t *)(p + i * s); }

/* {====== sums: sum, mean, prod, and the pass 1 of var */

RINLINE void sum_t(ember_racc *a, const char *p, int64_t n, int64_t s, int dt) {
  int64_t es = fsize(dt), i = 0;
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
  if (s == es)
    for (; i + 8 <= n; i += 8) {
      a0 += fl(p, i, es, dt);     a1 += fl(p, i + 1, es, dt);
      a2 += fl(p, i + 2, es, dt); a3 += fl(p, i + 3, es, dt);
      a4 += fl(p, i + 4, es, dt); a5 += fl(p, i + 5, es, dt);
      a6 += fl(p, i + 6, es, dt); a7 += fl(p, i + 7, es, dt);
    }
  else                                 /* strided: still four chains, not one */
    for (; i + 4 <= n; i += 4) {
      a0 += fl(p, i, s, dt);     a1 += fl(p, i + 1, s, dt);
      a2 += fl(p, i + 2, s, dt); a3 += fl(p, i + 3, s, dt);
    }
  for (; i < n; i++) a0 += fl(p, i, s, dt);
  a->v += ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
  a->n += n;
}

static void sum_f32(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                    int64_t s, int64_t pos, const ember_rctx *cx) {
  (void)first; (void)pos; (void)cx;
  sum_t(a, p, n, s, EMBER_F32);
}

static void sum_f64(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                    int64_t s, int64_t pos, const ember_rctx *cx) {
  (void)first; (void)pos; (void)cx;
  sum_t(a, p, n, s, EMBER_F64);
}

static void sum_i64(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                    int64_t s, int64_t pos, const ember_rctx *cx) {
  (void)first; (void)pos; (void)cx;
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;   /* unsigned: overflow wraps, defined */
  int64_t i = 0;
  if (s == 8)
    for (; i + 4 <= n; i += 4) {
      a0 += (uint64_t)ld_i64(p, i, 8);     a1 += (uint64_t)ld_i64(p, i + 1, 8);
      a2 += (uint64_t)ld_i64(p, i + 2, 8); a3 += (uint64_t)ld_i64(p, i + 3, 8);
    }
  for (; i < n; i++) a0 += (uint64_t)ld_i64(p, i, s);
  a->i = (int64_t)((uint64_t)a->i + a0 + a1 + a2 + a3);
  a->n += n;
}

/* sums of every field: serves all the additive reducers */
static void merge_sum(ember_racc *a, const ember_racc *b) {
  a->v += b->v;
  a->w += b->w;
  a->i = (int64_t)((uint64_t)a->i + (uint64_t)b->i);
  a->n += b->n;
}

static void fin_v_f32(const ember_racc *a, const ember_racc *first, const ember_rctx *cx,
                      char *const *out, int64_t o) {
  (void)first; (void)cx;
  ((float *)out[0])[o] = (float)a->v;
}

static void fin_v_f64(const ember_racc *a, const ember_racc *first, const ember_rctx *cx,
                      char *const *out, int64_t o) {
  (void)first; (void)cx;
  ((double *)out[0])[o] = a->v;
}

static void fin_i_i64(const ember_racc *a, const ember_racc *first, const ember_rctx *cx,
                      char *const *out, int64_t o) {
  (void)first; (void)cx;
  ((int64_t *)out[0])[o] = a->i;
}

static void fin_mean_f32(const ember_racc *a, const ember_racc *first, const ember_rctx *cx,
                         char *const *out, int64_t o) {
  (void)first;
  ((float *)out[0])[o] = (float)(a->v / (double)cx->len);   /* empty: 0/0 = NaN */
}

static void fin_mean_f64(const ember_racc *a, const ember_racc *first, const ember_rctx *cx,
                         char *const *out, int64_t o) {
  (void)first;
  ((double *)out[0])[o] = a->v / (double)cx->len;
}

RINLINE void prod_t(ember_racc *a, const char *p, int64_t n, int64_t s, int dt) {
  double v = a->v;
  for (int64_t i = 0; i < n; i++) v *= fl(p, i, s, dt);
  a->v = v;
  a->n += n;
}

static void prod_f32(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                     int64_t s, int64_t pos, const ember_rctx *cx) {
  (void)first; (void)pos; (void)cx;
  prod_t(a, p, n, s, EMBER_F32);
}

static void prod_f64(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                     int64_t s, int64_t pos, const ember_rctx *cx) {
  (void)first; (void)pos; (void)cx;
  prod_t(a, p, n, s, EMBER_F64);
}

static void prod_i64(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                     int64_t s, int64_t pos, const ember_rctx *cx) {
  (void)first; (void)pos; (void)cx;
  uint64_t v = (uint64_t)a->i;
  for (int64_t i = 0; i < n; i++) v *= (uint64_t)ld_i64(p, i, s);
  a->i = (int64_t)v;
  a->n += n;
}

static void merge_prod(ember_racc *a, const ember_racc *b) {
  a->v *= b->v;
  a->i = (int64_t)((uint64_t)a->i * (uint64_t)b->i);
  a->n += b->n;
}

/* }====== */

/* {====== extremes with their position: max, min, argmax, argmin */

/* The plain scan of elements [i, n) against (best, at): strict comparison keeps the
** first of equal values, and the first NaN ends it. */
RINLINE void ext_scan(double *best, int64_t *at, const char *p, int64_t i, int64_t n, int64_t s,
                      int64_t pos, int dt, int want_max) {
  double b = *best;
  int64_t k = *at;
  if (b == b)
    for (; i < n; i++) {
      double v = fl(p, i, s, dt);
      if (want_max ? v > b : v < b) { b = v; k = pos + i; }
      else if (v != v) { b = v; k = pos + i; break; }
    }
  *best = b;
  *at = k;
}

#define EXT_BLOCK 512

/* Max (or min) of a contiguous block as an OpenMP simd reduction, so it vectorises;
** *probe gets a sum of x - x, which is NaN when the block holds a NaN or an infinity
** (the simd max leaves NaN order unspecified: such blocks take the plain scan). */
RINLINE double block_ext(const char *p, int64_t n, int dt, int want_max, double *probe) {
  if (dt == EMBER_F32) {
    const float *x = (const float *)p;
    float m = x[0], z = 0;
    if (want_max) {
      _Pragma("omp simd reduction(max:m) reduction(+:z)")
      for (int64_t i = 0; i < n; i++) { m = x[i] > m ? x[i] : m; z += x[i] - x[i]; }
    } else {
      _Pragma("omp simd reduction(min:m) reduction(+:z)")
      for (int64_t i = 0; i < n; i++) { m = x[i] < m ? x[i] : m; z += x[i] - x[i]; }
    }
    *probe = z;
    return m;
  }
  const double *x = (const double *)p;
  double m = x[0], z = 0;
  if (want_max) {
    _Pragma("omp simd reduction(max:m) reduction(+:z)")
    for (int64_t i = 0; i < n; i++) { m = x[i] > m ? x[i] : m; z += x[i] - x[i]; }
  } else {
    _Pragma("omp simd reduction(min:m) reduction(+:z)")
    for (int64_t i = 0; i < n; i++) { m = x[i] < m ? x[i] : m; z += x[i] - x[i]; }
  }
  *probe = z;
  return m;
}

/* Contiguous runs go a block at a time: the block's extreme, found without branches,
** is compared once, and only a block that improves on the best is searched for its
** first position (it is still in cache). Blocks with NaN or inf take the plain scan. */
RINLINE void ext_t(ember_racc *a, const char *p, int64_t n, int64_t s, int64_t pos, int dt,
                   int want_max) {
  if (n <= 0) return;
  int64_t i = 0;
  if (a->n == 0) {
    a->v = fl(p, 0, s, dt);
    a->at = pos;
    i = 1;
  }
  double best = a->v;
  int64_t at = a->at;
  if (s == fsize(dt)) {
    for (; i < n && best == best; i += EXT_BLOCK) {
      int64_t m = n - i < EXT_BLOCK ? n - i : EXT_BLOCK;
      double probe, bm = block_ext(p + i * s, m, dt, want_max, &probe);
      if (probe != probe) {
        ext_scan(&best, &at, p, i, i + m, s, pos, dt, want_max);
      } else if (want_max ? bm > best : bm < best) {
        int64_t k = 0;
        while (fl(p, i + k, s, dt) != bm) k++;
        best = fl(p, i + k, s, dt);           /* the element itself: 0 and -0 compare equal */
        at = pos + i + k;
      }
    }
  } else {
    ext_scan(&best, &at, p, i, n, s, pos, dt, want_max);
  }
  a->v = best;
  a->at = at;
  a->n += n;
}

RINLINE void ext_i64_t(ember_racc *a, const char *p, int64_t n, int64_t s, int64_t pos,
                       int want_max) {
  if (n <= 0) return;
  int64_t i = 0;
  if (a->n == 0) {
    a->i = ld_i64(p, 0, s);
    a->at = pos;
    i = 1;
  }
  int64_t best = a->i, at = a->at;
  for (; i < n; i++) {
    int64_t v = ld_i64(p, i, s);
    if (want_max ? v > best : v < best) { best = v; at = pos + i; }
  }
  a->i = best;
  a->at = at;
  a->n += n;
}

static void max_f32(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                    int64_t s, int64_t pos, const ember_rctx *cx) {
  (void)first; (void)cx;
  ext_t(a, p, n, s, pos, EMBER_F32, 1);
}

static void max_f64(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                    int64_t s, int64_t pos, const ember_rctx *cx) {
  (void)first; (void)cx;
  ext_t(a, p, n, s, pos, EMBER_F64, 1);
}

static void max_i64(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                    int64_t s, int64_t pos, const ember_rctx *cx) {
  (void)first; (void)cx;
  ext_i64_t(a, p, n, s, pos, 1);
}

static void min_f32(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                    int64_t s, int64_t pos, const ember_rctx *cx) {
  (void)first; (void)cx;
  ext_t(a, p, n, s, pos, EMBER_F32, 0);
}

static void min_f64(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                    int64_t s, int64_t pos, const ember_rctx *cx) {
  (void)first; (void)cx;
  ext_t(a, p, n, s, pos, EMBER_F64, 0);
}

static void min_i64(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                    int64_t s, int64_t pos, const ember_rctx *cx) {
  (void)first; (void)cx;
  ext_i64_t(a, p, n, s, pos, 0);
}

/* b's elements follow a's, so b wins only when strictly better (or the first NaN). */
RINLINE void merge_ext(ember_racc *a, const ember_racc *b, int want_max, int is_int) {
  if (b->n == 0) return;
  int take;
  if (a->n == 0) take = 1;
  else if (is_int) take = want_max ? b->i > a->i : b->i < a->i;
  else take = a->v == a->v && (b->v != b->v || (want_max ? b->v > a->v : b->v < a->v));
  int64_t n = a->n + b->n;
  if (take) *a = *b;
  a->n = n;
}

static void merge_max_f(ember_racc *a, const ember_racc *b) { merge_ext(a, b, 1, 0); }
static void merge_min_f(ember_racc *a, const ember_racc *b) { merge_ext(a, b, 0, 0); }
static void merge_max_i(ember_racc *a, const ember_racc *b) { merge_ext(a, b, 1, 1); }
static void merge_min_i(ember_racc *a, const ember_racc *b) { merge_ext(a, b, 0, 1); }

/* the value, and its index when the call asked for two outputs */
static void put_index(const ember_racc *a, const ember_rctx *cx, char *const *out, int64_t o) {
  if (out[1]) ((int64_t *)out[1])[o] = a->at + cx->index_base;
}

static void fin_ext_f32(const ember_racc *a, const ember_racc *first, const ember_rctx *cx,
                        char *const *out, int64_t o) {
  (void)first;
  ((float *)out[0])[o] = (float)a->v;
  put_index(a, cx, out, o);
}

static void fin_ext_f64(const ember_racc *a, const ember_racc *first, const ember_rctx *cx,
                        char *const *out, int64_t o) {
  (void)first;
  ((double *)out[0])[o] = a->v;
  put_index(a, cx, out, o);
}

static void fin_ext_i64(const ember_racc *a, const ember_racc *first, const ember_rctx *cx,
                        char *const *out, int64_t o) {
  (void)first;
  ((int64_t *)out[0])[o] = a->i;
  put_index(a, cx, out, o);
}

static void fin_arg(const ember_racc *a, const ember_racc *first, const ember_rctx *cx,
                    char *const *out, int64_t o) {
  (void)first;
  ((int64_t *)out[0])[o] = a->at + cx->index_base;
}

/* }====== */

/* {====== var and std: mean (pass 1), then deviations from it (pass 2) */

/* Sums of d = x - mean and of d*d: the first corrects the rounding of the mean
** (var = (sum d^2 - (sum d)^2 / n) / (n - correction), the corrected two-pass form). */
RINLINE void dev_t(ember_racc *a, const ember_racc *first, const char *p, int64_t n, int64_t s,
                   int dt) {
  double mean = first->v / (double)first->n, s0 = 0, q0 = 0;
  if (s == fsize(dt)) {
    _Pragma("omp simd reduction(+:s0, q0)")
    for (int64_t i = 0; i < n; i++) {
      double d = fl(p, i, fsize(dt), dt) - mean;
      s0 += d;
      q0 += d * d;
    }
  } else {
    double s1 = 0, q1 = 0;
    int64_t i = 0;
    for (; i + 2 <= n; i += 2) {
      double d0 = fl(p, i, s, dt) - mean, d1 = fl(p, i + 1, s, dt) - mean;
      s0 += d0; q0 += d0 * d0;
      s1 += d1; q1 += d1 * d1;
    }
    for (; i < n; i++) {
      double d = fl(p, i, s, dt) - mean;
      s0 += d;
      q0 += d * d;
    }
    s0 += s1;
    q0 += q1;
  }
  a->v += s0;
  a->w += q0;
  a->n += n;
}

static void dev_f32(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                    int64_t s, int64_t pos, const ember_rctx *cx) {
  (void)pos; (void)cx;
  dev_t(a, first, p, n, s, EMBER_F32);
}

static void dev_f64(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                    int64_t s, int64_t pos, const ember_rctx *cx) {
  (void)pos; (void)cx;
  dev_t(a, first, p, n, s, EMBER_F64);
}

static double variance(const ember_racc *a, const ember_rctx *cx) {
  double n = (double)cx->len;
  double ss = a->w - a->v * a->v / n;           /* empty: 0 - 0/0 = NaN, as PyTorch */
  if (ss < 0) ss = 0;
  double dof = n - cx->p[0];
  return ss / (dof > 0 ? dof : 0);
}

static void fin_var_f32(const ember_racc *a, const ember_racc *first, const ember_rctx *cx,
                        char *const *out, int64_t o) {
  (void)first;
  ((float *)out[0])[o] = (float)variance(a, cx);
}

static void fin_var_f64(const ember_racc *a, const ember_racc *first, const ember_rctx *cx,
                        char *const *out, int64_t o) {
  (void)first;
  ((double *)out[0])[o] = variance(a, cx);
}

static void fin_std_f32(const ember_racc *a, const ember_racc *first, const ember_rctx *cx,
                        char *const *out, int64_t o) {
  (void)first;
  ((float *)out[0])[o] = (float)sqrt(variance(a, cx));
}

static void fin_std_f64(const ember_racc *a, const ember_racc *first, const ember_rctx *cx,
                        char *const *out, int64_t o) {
  (void)first;
  ((double *)out[0])[o] = sqrt(variance(a, cx));
}

/* }====== */

/* {====== norm: sum of |x|^p, with p = 2, 1, inf, -inf, 0 as their own loops */

enum { NORM_2, NORM_1, NORM_INF, NORM_NINF, NORM_0, NORM_P, NORM_KINDS };

RINLINE void sq_t(ember_racc *a, const char *p, int64_t n, int64_t s, int dt) {
  int64_t es = fsize(dt), i = 0;
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
  if (s == es)
    for (; i + 8 <= n; i += 8) {
      double x0 = fl(p, i, es, dt), x1 = fl(p, i + 1, es, dt), x2 = fl(p, i + 2, es, dt);
      double x3 = fl(p, i + 3, es, dt), x4 = fl(p, i + 4, es, dt), x5 = fl(p, i + 5, es, dt);
      double x6 = fl(p, i + 6, es, dt), x7 = fl(p, i + 7, es, dt);
      a0 += x0 * x0; a1 += x1 * x1; a2 += x2 * x2; a3 += x3 * x3;
      a4 += x4 * x4; a5 += x5 * x5; a6 += x6 * x6; a7 += x7 * x7;
    }
  for (; i < n; i++) {
    double x = fl(p, i, s, dt);
    a0 += x * x;
  }
  a->v += ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
  a->n += n;
}

/* |x|^p summed for p = 1, 0 (a count of nonzeros) and any other p */
RINLINE void pow_t(ember_racc *a, const char *p, int64_t n, int64_t s, int dt, int kind,
                   double pw) {
  double acc = 0;
  for (int64_t i = 0; i < n; i++) {
    double x = fabs(fl(p, i, s, dt));
    acc += kind == NORM_1 ? x : kind == NORM_0 ? (double)(x != 0) : pow(x, pw);
  }
  a->v += acc;
  a->n += n;
}

/* max |x| (or min |x|): a NaN, once met, stays */
RINLINE void absext_t(ember_racc *a, const char *p, int64_t n, int64_t s, int dt, int want_max) {
  double m = a->v;
  for (int64_t i = 0; i < n && m == m; i++) {
    double x = fabs(fl(p, i, s, dt));
    if (want_max ? x > m : x < m) m = x;
    else if (x != x) m = x;
  }
  a->v = m;
  a->n += n;
}

static void norm_fold(ember_racc *a, const char *p, int64_t n, int64_t s, int dt, int kind,
                      double pw) {
  if (dt == EMBER_F32) {
    switch (kind) {
    case NORM_2: sq_t(a, p, n, s, EMBER_F32); return;
    case NORM_INF: absext_t(a, p, n, s, EMBER_F32, 1); return;
    case NORM_NINF: absext_t(a, p, n, s, EMBER_F32, 0); return;
    default: pow_t(a, p, n, s, EMBER_F32, kind, pw); return;
    }
  }
  switch (kind) {
  case NORM_2: sq_t(a, p, n, s, EMBER_F64); return;
  case NORM_INF: absext_t(a, p, n, s, EMBER_F64, 1); return;
  case NORM_NINF: absext_t(a, p, n, s, EMBER_F64, 0); return;
  default: pow_t(a, p, n, s, EMBER_F64, kind, pw); return;
  }
}

static int norm_kind(double p) {
  return p == 2 ? NORM_2 : p == 1 ? NORM_1 : p == INFINITY ? NORM_INF
       : p == -INFINITY ? NORM_NINF : p == 0 ? NORM_0 : NORM_P;
}

static void norm_f32(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                     int64_t s, int64_t pos, const ember_rctx *cx) {
  (void)first; (void)pos;
  norm_fold(a, p, n, s, EMBER_F32, norm_kind(cx->p[0]), cx->p[0]);
}

static void norm_f64(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                     int64_t s, int64_t pos, const ember_rctx *cx) {
  (void)first; (void)pos;
  norm_fold(a, p, n, s, EMBER_F64, norm_kind(cx->p[0]), cx->p[0]);
}

static void merge_norm(ember_racc *a, const ember_racc *b) {
  if (a->at == NORM_INF || a->at == NORM_NINF) {      /* at holds the kind (see init) */
    if (a->v == a->v && (b->v != b->v || (a->at == NORM_INF ? b->v > a->v : b->v < a->v)))
      a->v = b->v;
    a->n += b->n;
    return;
  }
  merge_sum(a, b);
}

static double norm_value(const ember_racc *a, double p) {
  switch (norm_kind(p)) {
  case NORM_2: return sqrt(a->v);
  case NORM_P: return pow(a->v, 1 / p);
  default: return a->v;
  }
}

static void fin_norm_f32(const ember_racc *a, const ember_racc *first, const ember_rctx *cx,
                         char *const *out, int64_t o) {
  (void)first;
  ((float *)out[0])[o] = (float)norm_value(a, cx->p[0]);
}

static void fin_norm_f64(const ember_racc *a, const ember_racc *first, const ember_rctx *cx,
                         char *const *out, int64_t o) {
  (void)first;
  ((double *)out[0])[o] = norm_value(a, cx->p[0]);
}

/* }====== */

/* {====== logsumexp: max (pass 1), then sum of exp(x - max) (pass 2) */

/* the max, NaN-propagating; contiguous runs go through block_ext a block at a time */
RINLINE void vmax_t(ember_racc *a, const char *p, int64_t n, int64_t s, int dt) {
  double m = a->v;
  int64_t i = 0;
  if (s == fsize(dt))
    for (; i + EXT_BLOCK <= n && m == m; i += EXT_BLOCK) {
      double probe, bm = block_ext(p + i * s, EXT_BLOCK, dt, 1, &probe);
      if (probe != probe) break;              /* NaN or inf inside: the plain loop decides */
      if (bm > m) m = bm;
    }
  for (; i < n && m == m; i++) {
    double x = fl(p, i, s, dt);
    if (x > m || x != x) m = x;
  }
  a->v = m;
  a->n += n;
}

static void merge_vmax(ember_racc *a, const ember_racc *b) {
  if (a->v == a->v && (b->v != b->v || b->v > a->v)) a->v = b->v;
  a->n += b->n;
}

/* the shift: the max, or 0 when it is infinite (all -inf, or some +inf), as PyTorch */
static double lse_shift(const ember_racc *first) {
  return isinf(first->v) ? 0 : first->v;
}

RINLINE void expsum_t(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                      int64_t s, int dt) {
  double m = lse_shift(first), a0 = 0, a1 = 0;
  if (m != m) return;
  int64_t i = 0;
  if (dt == EMBER_F32) {            /* expf is exact enough for f32, and much faster */
    float mf = (float)m;
    for (; i + 2 <= n; i += 2) {
      a0 += expf((float)fl(p, i, s, dt) - mf);
      a1 += expf((float)fl(p, i + 1, s, dt) - mf);
    }
    for (; i < n; i++) a0 += expf((float)fl(p, i, s, dt) - mf);
  } else {
    for (; i < n; i++) a0 += exp(fl(p, i, s, dt) - m);
  }
  a->w += a0 + a1;
  a->n += n;
}

static void lmax_f32(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                     int64_t s, int64_t pos, const ember_rctx *cx) {
  (void)first; (void)pos; (void)cx;
  vmax_t(a, p, n, s, EMBER_F32);
}

static void lmax_f64(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                     int64_t s, int64_t pos, const ember_rctx *cx) {
  (void)first; (void)pos; (void)cx;
  vmax_t(a, p, n, s, EMBER_F64);
}

static void lexp_f32(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                     int64_t s, int64_t pos, const ember_rctx *cx) {
  (void)pos; (void)cx;
  expsum_t(a, first, p, n, s, EMBER_F32);
}

static void lexp_f64(ember_racc *a, const ember_racc *first, const char *p, int64_t n,
                     int64_t s, int64_t pos, const ember_rctx *cx) {
  (void)pos; (void)cx;
  expsum_t(a, first, p, n, s, EMBER_F64);
}

static double lse_value(const ember_racc *a, const ember_racc *first) {
  if (first->v != first->v) return first->v;
  return log(a->w) + lse_shift(first);
}

static void fin_lse_f32(const ember_racc *a, const ember_racc *first, const ember_rctx *cx,
                        char *const *out, int64_t o) {
  (void)cx;
  ((float *)out[0])[o] = (float)lse_value(a, first);
}

static void fin_lse_f64(const ember_racc *a, const ember_racc *first, const ember_rctx *cx,
                        char *const *out, int64_t o) {
  (void)cx;
  ((double *)out[0])[o] = lse_value(a, first);
}

/* }====== */

/* {====== all, any: a flag, and a loop that stops once the answer is known */

RINLINE int nonzero(const char *p, int64_t i, int64_t s, int dt) {
  switch (dt) {
  case EMBER_F32: return *(const float *)(p + i * s) != 0;
  case EMBER_F64: return *(const double *)(p + i * s) != 0;
  case EMBER_I64: return *(const int64_t *)(p + i * s) != 0;
  default: return *(const uint8_t *)(p + i * s) != 0;
  }
}

/* all: look for a zero while the flag is 1; any: for a nonzero while it is 0 */
RINLINE void flag_t(ember_racc *a, const char *p, int64_t n, int64_t s, int dt, int is_all) {
  a->n += n;
  if (a->i != is_all) return;
  for (int64_t i = 0; i < n; i++)
    if (nonzero(p, i, s, dt) != is_all) {
      a->i = !is_all;
      return;
    }
}

static void all_f32(ember_racc *a, const ember_racc *f, const char *p, int64_t n, int64_t s,
                    int64_t pos, const ember_rctx *cx) {
  (void)f; (void)pos; (void)cx;
  flag_t(a, p, n, s, EMBER_F32, 1);
}

static void all_f64(ember_racc *a, const ember_racc *f, const char *p, int64_t n, int64_t s,
                    int64_t pos, const ember_rctx *cx) {
  (void)f; (void)pos; (void)cx;
  flag_t(a, p, n, s, EMBER_F64, 1);
}

static void all_i64(ember_racc *a, const ember_racc *f, const char *p, int64_t n, int64_t s,
                    int64_t pos, const ember_rctx *cx) {
  (void)f; (void)pos; (void)cx;
  flag_t(a, p, n, s, EMBER_I64, 1);
}

static void all_u8(ember_racc *a, const ember_racc *f, const char *p, int64_t n, int64_t s,
                   int64_t pos, const ember_rctx *cx) {
  (void)f; (void)pos; (void)cx;
  flag_t(a, p, n, s, EMBER_U8, 1);
}

static void any_f32(ember_racc *a, const ember_racc *f, const char *p, int64_t n, int64_t s,
                    int64_t pos, const ember_rctx *cx) {
  (void)f; (void)pos; (void)cx;
  flag_t(a, p, n, s, EMBER_F32, 0);
}

static void any_f64(ember_racc *a, const ember_racc *f, const char *p, int64_t n, int64_t s,
                    int64_t pos, const ember_rctx *cx) {
  (void)f; (void)pos; (void)cx;
  flag_t(a, p, n, s, EMBER_F64, 0);
}

static void any_i64(ember_racc *a, const ember_racc *f, const char *p, int64_t n, int64_t s,
                    int64_t pos, const ember_rctx *cx) {
  (void)f; (void)pos; (void)cx;
  flag_t(a, p, n, s, EMBER_I64, 0);
}

static void any_u8(ember_racc *a, const ember_racc *f, const char *p, int64_t n, int64_t s,
                   int64_t pos, const ember_rctx *cx) {
  (void)f; (void)pos; (void)cx;
  flag_t(a, p, n, s, EMBER_U8, 0);
}

static void merge_all(ember_racc *a, const ember_racc *b) { a->i = a->i && b->i; a->n += b->n; }
static void merge_any(ember_racc *a, const ember_racc *b) { a->i = a->i || b->i; a->n += b->n; }

static void fin_flag(const ember_racc *a, const ember_racc *first, const ember_rctx *cx,
                     char *const *out, int64_t o) {
  (void)first; (void)cx;
  ((uint8_t *)out[0])[o] = (uint8_t)(a->i != 0);
}

/* }====== */

/* {====== the reducer tables, one row per op, one column per kernel dtype */

enum { S_F32, S_F64, S_I64, S_U8, NSLOT };

static int slot_of(ember_dtype dt) {
  switch (dt) {
  case EMBER_F32: return S_F32;
  case EMBER_F64: return S_F64;
  case EMBER_I64: return S_I64;
  case EMBER_U8: case EMBER_BOOL: return S_U8;
  default: return -1;
  }
}

#define ONE_PASS(fold_, merge_, finish_) \
  { .npass = 1, .fold = { fold_ }, .merge = { merge_ }, .finish = finish_ }

static const ember_reducer sum_r[NSLOT] = {
  [S_F32] = ONE_PASS(sum_f32, merge_sum, fin_v_f32),
  [S_F64] = ONE_PASS(sum_f64, merge_sum, fin_v_f64),
  [S_I64] = ONE_PASS(sum_i64, merge_sum, fin_i_i64),
};

static const ember_reducer mean_r[NSLOT] = {
  [S_F32] = ONE_PASS(sum_f32, merge_sum, fin_mean_f32),
  [S_F64] = ONE_PASS(sum_f64, merge_sum, fin_mean_f64),
};

static const ember_reducer prod_r[NSLOT] = {
  [S_F32] = { .npass = 1, .init = { { .v = 1, .i = 1 } }, .fold = { prod_f32 },
              .merge = { merge_prod }, .finish = fin_v_f32 },
  [S_F64] = { .npass = 1, .init = { { .v = 1, .i = 1 } }, .fold = { prod_f64 },
              .merge = { merge_prod }, .finish = fin_v_f64 },
  [S_I64] = { .npass = 1, .init = { { .v = 1, .i = 1 } }, .fold = { prod_i64 },
              .merge = { merge_prod }, .finish = fin_i_i64 },
};

#define EXTREME(fold_, merge_, finish_) \
  { .npass = 1, .fold = { fold_ }, .merge = { merge_ }, .finish = finish_, .positional = 1 }

static const ember_reducer max_r[NSLOT] = {
  [S_F32] = EXTREME(max_f32, merge_max_f, fin_ext_f32),
  [S_F64] = EXTREME(max_f64, merge_max_f, fin_ext_f64),
  [S_I64] = EXTREME(max_i64, merge_max_i, fin_ext_i64),
};

static const ember_reducer min_r[NSLOT] = {
  [S_F32] = EXTREME(min_f32, merge_min_f, fin_ext_f32),
  [S_F64] = EXTREME(min_f64, merge_min_f, fin_ext_f64),
  [S_I64] = EXTREME(min_i64, merge_min_i, fin_ext_i64),
};

static const ember_reducer argmax_r[NSLOT] = {
  [S_F32] = EXTREME(max_f32, merge_max_f, fin_arg),
  [S_F64] = EXTREME(max_f64, merge_max_f, fin_arg),
  [S_I64] = EXTREME(max_i64, merge_max_i, fin_arg),
};

static const ember_reducer argmin_r[NSLOT] = {
  [S_F32] = EXTREME(min_f32, merge_min_f, fin_arg),
  [S_F64] = EXTREME(min_f64, merge_min_f, fin_arg),
  [S_I64] = EXTREME(min_i64, merge_min_i, fin_arg),
};

#define TWO_PASS(fold1, merge1, fold2, merge2, finish_) \
  { .npass = 2, .fold = { fold1, fold2 }, .merge = { merge1, merge2 }, .finish = finish_ }

static const ember_reducer var_r[NSLOT] = {
  [S_F32] = TWO_PASS(sum_f32, merge_sum, dev_f32, merge_sum, fin_var_f32),
  [S_F64] = TWO_PASS(sum_f64, merge_sum, dev_f64, merge_sum, fin_var_f64),
};

static const ember_reducer std_r[NSLOT] = {
  [S_F32] = TWO_PASS(sum_f32, merge_sum, dev_f32, merge_sum, fin_std_f32),
  [S_F64] = TWO_PASS(sum_f64, merge_sum, dev_f64, merge_sum, fin_std_f64),
};

static const ember_reducer norm_r[NSLOT] = {
  [S_F32] = ONE_PASS(norm_f32, merge_norm, fin_norm_f32),
  [S_F64] = ONE_PASS(norm_f64, merge_norm, fin_norm_f64),
};

static const ember_reducer lse_r[NSLOT] = {
  [S_F32] = { .npass = 2, .init = { { .v = -INFINITY } }, .fold = { lmax_f32, lexp_f32 },
              .merge = { merge_vmax, merge_sum }, .finish = fin_lse_f32 },
  [S_F64] = { .npass = 2, .init = { { .v = -INFINITY } }, .fold = { lmax_f64, lexp_f64 },
              .merge = { merge_vmax, merge_sum }, .finish = fin_lse_f64 },
};

static const ember_reducer all_r[NSLOT] = {
  [S_F32] = { .npass = 1, .init = { { .i = 1 } }, .fold = { all_f32 }, .merge = { merge_all }, .finish = fin_flag },
  [S_F64] = { .npass = 1, .init = { { .i = 1 } }, .fold = { all_f64 }, .merge = { merge_all }, .finish = fin_flag },
  [S_I64] = { .npass = 1, .init = { { .i = 1 } }, .fold = { all_i64 }, .merge = { merge_all }, .finish = fin_flag },
  [S_U8] = { .npass = 1, .init = { { .i = 1 } }, .fold = { all_u8 }, .merge = { merge_all }, .finish = fin_flag },
};

static const ember_reducer any_r[NSLOT] = {
  [S_F32] = ONE_PASS(any_f32, merge_any, fin_flag),
  [S_F64] = ONE_PASS(any_f64, merge_any, fin_flag),
  [S_I64] = ONE_PASS(any_i64, merge_any, fin_flag),
  [S_U8] = ONE_PASS(any_u8, merge_any, fin_flag),
};

/* }====== */

/* {====== kernel entries */

/* Run table's reducer for the input's dtype over the dims of attribute dims_attr;
** tune (may be NULL) adjusts the reducer to the call. */
static ember_status run(ember_call *c, const ember_reducer *table, int dims_attr, double p0,
                        void (*tune)(ember_call *c, ember_reducer *r)) {
  const ember_tensor *x = c->in[0];
  int k = slot_of(x->dtype);
  if (k < 0 || table[k].fold[0] == NULL)
    return ember_op_error(c, "no CPU kernel for dtype %s", ember_dtype_name(x->dtype));
  uint32_t mask;
  if (ember_reduce_mask(c, dims_attr, x->ndim, &mask) != EMBER_OK) return EMBER_ERROR;
  ember_reducer r = table[k];
  if (tune) tune(c, &r);
  ember_rctx cx = { { p0, 0 }, 0, c->index_base };
  char *out[2] = { ember_tensor_data(c->out[0]), c->nout > 1 ? ember_tensor_data(c->out[1]) : NULL };
  return ember_reduce_run(&r, x, mask, &cx, out);
}

/* max and min without a dim write no index: any order of the elements will do */
static void values_only(ember_call *c, ember_reducer *r) {
  if (c->nout == 1) r->positional = 0;
}

/* norm's merge needs to know its kind: the accumulators carry it in `at` */
static void norm_init(ember_call *c, ember_reducer *r) {
  int kind = norm_kind(c->attr[0].f);
  r->init[0].at = kind;
  r->init[0].v = kind == NORM_NINF ? INFINITY : 0;
}

/* sum and mean over the leading dims of a small contiguous f32/f64 tensor (the bias
** gradient of every linear layer): whole rows are added into a row of double
** accumulators, which vectorises across the outputs; the general driver folds one
** output at a time, which for a 32 x 128 gradient costs several times more.
** Returns 0 when the call is not of that shape. */
#define LEADING_MAX_INNER 4096

static int leading_sum(ember_call *c, int mean) {
  const ember_tensor *x = c->in[0];
  ember_tensor *out = c->out[0];
  if (!ember_tensor_is_contiguous(x) || out->dtype != x->dtype ||
      (x->dtype != EMBER_F32 && x->dtype != EMBER_F64))
    return 0;
  uint32_t mask;
  if (ember_reduce_mask(c, 0, x->ndim, &mask) != EMBER_OK) return 0;   /* infer checked it */
  int r = 0;
  while (r < x->ndim && (mask >> r & 1u)) r++;
  if (r == 0 || r == x->ndim || (mask >> r) != 0) return 0;
  int64_t rows = 1, inner = 1;
  for (int d = 0; d < r; d++) rows *= x->shape[d];
  for (int d = r; d < x->ndim; d++) inner *= x->shape[d];
  if (rows == 0 || inner > LEADING_MAX_INNER || rows * inner > ((int64_t)1 << 20)) return 0;
  double acc[LEADING_MAX_INNER];
  for (int64_t j = 0; j < inner; j++) acc[j] = 0;
  if (x->dtype == EMBER_F32) {
    const float *p = ember_tensor_data(x);
    for (int64_t i = 0; i < rows; i++, p += inner) {
      #pragma omp simd
      for (int64_t j = 0; j < inner; j++) acc[j] += p[j];
    }
  } else {
    const double *p = ember_tensor_data(x);
    for (int64_t i = 0; i < rows; i++, p += inner) {
      #pragma omp simd
      for (int64_t j = 0; j < inner; j++) acc[j] += p[j];
    }
  }
  double scale = mean ? 1.0 / (double)rows : 1.0;
  if (x->dtype == EMBER_F32) {
    float *o = ember_tensor_data(out);
    for (int64_t j = 0; j < inner; j++) o[j] = (float)(acc[j] * scale);
  } else {
    double *o = ember_tensor_data(out);
    for (int64_t j = 0; j < inner; j++) o[j] = acc[j] * scale;
  }
  return 1;
}

/* attribute positions: see each entry in host/ops/ops_reduce.c */
ember_status ember_cpu_sum(ember_call *c) {
  return leading_sum(c, 0) ? EMBER_OK : run(c, sum_r, 0, 0, NULL);
}
ember_status ember_cpu_mean(ember_call *c) {
  return leading_sum(c, 1) ? EMBER_OK : run(c, mean_r, 0, 0, NULL);
}
ember_status ember_cpu_prod(ember_call *c) { return run(c, prod_r, 0, 0, NULL); }
ember_status ember_cpu_max(ember_call *c) { return run(c, max_r, 0, 0, values_only); }
ember_status ember_cpu_min(ember_call *c) { return run(c, min_r, 0, 0, values_only); }
ember_status ember_cpu_argmax(ember_call *c) { return run(c, argmax_r, 0, 0, NULL); }
ember_status ember_cpu_argmin(ember_call *c) { return run(c, argmin_r, 0, 0, NULL); }
ember_status ember_cpu_var(ember_call *c) { return run(c, var_r, 0, c->attr[1].f, NULL); }
ember_status ember_cpu_std(ember_call *c) { return run(c, std_r, 0, c->attr[1].f, NULL); }
ember_status ember_cpu_norm(ember_call *c) { return run(c, norm_r, 1, c->attr[0].f, norm_init); }
ember_status ember_cpu_logsumexp(ember_call *c) { return run(c, lse_r, 0, 0, NULL); }
ember_status ember_cpu_all(ember_call *c) { return run(c, all_r, 0, 0, NULL); }
ember_status ember_cpu_any(ember_call *c) { return run(c, any_r, 0, 0, NULL); }

/* }====== */
