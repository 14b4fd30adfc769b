/*
** pool.c — CPU kernels of max_pool2d, avg_pool2d and adaptive_avg_pool2d, and of
** their gradients.
**
** The work is planes (batch x channels) independent images, split across OpenMP
** threads when large. Inputs are made contiguous; outputs come contiguous from the
** dispatcher. Values are read as double (exact for f32 and f64), so one loop serves
** both dtypes: max is exact either way, and sums of f32 are rounded once at the end.
** Window bounds follow PyTorch exactly (pooling_output_shape, the avg_pool2d divisor
** with and without the padding, adaptive windows [floor(i*H/o), ceil((i+1)*H/o))).
**
** A gradient kernel is the adjoint of its forward over one plane: it zeroes the input's
** gradient plane and adds each output's gradient into the pixels that output read,
** with the weight it read them with. Windows overlap, so it is a scatter; planes are
** still independent and run in parallel (ember_parallel_for). max_pool2d keeps no indices: its gradient
** finds each window's max again in the input.
*/
#include <math.h>
#include <string.h>

#include "conv.h"

static inline double load(ember_dtype dt, const void *p, int64_t i) {
  return dt == EMBER_F32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

static inline void store(ember_dtype dt, void *p, int64_t i, double v) {
  if (dt == EMBER_F32) ((float *)p)[i] = (float)v;
  else ((double *)p)[i] = v;
}

typedef void (*plane_fn)(ember_dtype dt, const void *in, void *out, const ember_pool_geom *g);

/* A forward pass over planes [lo, hi), as ember_parallel_for hands them out. */
typedef struct planes_ctx {
  plane_fn fn;
  ember_dtype dt;
  size_t es;
  const char *in;
  char *out;
  int64_t isz, osz;
  const ember_pool_geom *g;
} planes_ctx;

static void planes_range(void *ctx, int64_t lo, int64_t hi) {
  const planes_ctx *k = ctx;
  for (int64_t p = lo; p < hi; p++)
    k->fn(k->dt, k->in + (size_t)(p * k->isz) * k->es, k->out + (size_t)(p * k->osz) * k->es, k->g);
}

/* The work ember_parallel_for weighs a pool over g by: the taps it reads. */
static int64_t pool_work(ember_pool_kind kind, const ember_pool_geom *g) {
  int64_t planes = g->n * g->c, isz = g->h * g->w, osz = g->oh * g->ow;
  if (kind == EMBER_POOL_ADAPTIVE) return planes * (isz + osz);
  return planes * osz * g->win.k[0] * g->win.k[1];
}

/* Runs fn over every plane of c's input into c's output. */
static ember_status run_planes(ember_call *c, ember_pool_kind kind, plane_fn fn) {
  ember_pool_geom g;
  if (ember_pool_geom_of(c, kind, &g) != EMBER_OK) return EMBER_ERROR;
  ember_tensor *x = ember_contiguous(c->in[0]);
  if (x == NULL) return EMBER_ERROR;
  ember_dtype dt = c->compute;
  size_t es = ember_dtype_size(dt);
  const char *in = ember_tensor_data(x);
  char *out = ember_tensor_data(c->out[0]);
  planes_ctx k = { fn, dt, es, in, out, g.h * g.w, g.oh * g.ow, &g };
  ember_parallel_for(g.n * g.c, pool_work(kind, &g), planes_range, &k);
  ember_tensor_release(x);
  return EMBER_OK;
}

/* {====== max_pool2d */

#define PICKS_CHUNK 256           /* windows whose picks are found at a time */

/* The taps [*lo, *hi) of a window that starts at o0 (k taps, dilation d) and land inside
** [0, n). */
static inline void inside(int64_t o0, int64_t k, int64_t d, int64_t n, int64_t *lo, int64_t *hi) {
  int64_t a, b;
  if (d == 1) {
    a = o0 < 0 ? -o0 : 0;
    b = n - o0 < k ? n - o0 : k;
  } else {
    a = o0 < 0 ? (-o0 + d - 1) / d : 0;
    b = n - 1 - o0 < 0 ? 0 : (n - 1 - o0) / d + 1;
    if (b > k) b = k;
  }
  *lo = a;
  *hi = b < a ? a : b;
}

/* The picks of one row of windows, as PyTorch's: the first max in window order, except
** that a NaN replaces whatever came before it (so the last NaN wins); a window of -inf
** picks its first pixel. The scan keeps the max without branching on NaN and only
** notes one; a window that holds a NaN is scanned again. at[j] gets the index in the
** plane of the pixel window (oy, ox0 + j) picks, or -1 when none of its taps lands in
** the image. A 2x2 window without dilation, the common MaxPool2d(2), is unrolled for
** f32. Values are compared as double, exact for f32 too; always inlined, so each
** dtype's caller (picks) gets its own copy with its loads typed. */
static inline __attribute__((always_inline))
void picks_of(ember_dtype dt, const void *in, const ember_pool_geom *g, int64_t oy,
              int64_t ox0, int64_t n, int64_t *at) {
  const ember_window *w = &g->win;
  int64_t y0 = oy * w->s[0] - w->p[0], ky0, ky1;
  inside(y0, w->k[0], w->d[0], g->h, &ky0, &ky1);
  int two = dt == EMBER_F32 && w->k[0] == 2 && w->k[1] == 2 && w->d[0] == 1 && w->d[1] == 1 &&
            ky0 == 0 && ky1 == 2;
  for (int64_t j = 0; j < n; j++) {
    int64_t x0 = (ox0 + j) * w->s[1] - w->p[1], kx0, kx1;
    if (two && x0 >= 0 && x0 + 2 <= g->w) {
      int64_t i = y0 * g->w + x0;
      double a = load(dt, in, i), b = load(dt, in, i + 1);
      double c = load(dt, in, i + g->w), d = load(dt, in, i + g->w + 1);
      if (!(a != a || b != b || c != c || d != d)) {
        /* each row's winner, then the rows': selects, not branches (which pixel wins is
           data, and unpredictable), a later pixel winning only when greater */
        double top = b > a ? b : a, bottom = d > c ? d : c;
        int64_t rt = b > a ? i + 1 : i, rb = d > c ? i + g->w + 1 : i + g->w;
        at[j] = bottom > top ? rb : rt;
        continue;
      }
    }
    inside(x0, w->k[1], w->d[1], g->w, &kx0, &kx1);
    if (ky0 >= ky1 || kx0 >= kx1) {
      at[j] = -1;
      continue;
    }
    int64_t r = (y0 + ky0 * w->d[0]) * g->w + x0 + kx0 * w->d[1];
    double m = -INFINITY;
    int nan = 0;
    for (int64_t ki = ky0; ki < ky1; ki++) {
      int64_t row = (y0 + ki * w->d[0]) * g->w + x0;
      for (int64_t kj = kx0; kj < kx1; kj++) {
        int64_t i = row + kj * w->d[1];
        double v = load(dt, in, i);
        nan |= v != v;
        if (v > m) {
          m = v;
          r = i;
        }
      }
    }
    for (int64_t ki = ky0; ki < ky1 && nan; ki++)
      for (int64_t kj = kx0; kj < kx1; kj++) {
        int64_t i = (y0 + ki * w->d[0]) * g->w + x0 + kj * w->d[1];
        double v = load(dt, in, i);
        if (v != v) r = i;
      }
    at[j] = r;
  }
}

static void picks(ember_dtype dt, const void *in, const ember_pool_geom *g, int64_t oy,
                  int64_t ox0, int64_t n, int64_t *at) {
  if (dt == EMBER_F32) picks_of(EMBER_F32, in, g, oy, ox0, n, at);
  else picks_of(EMBER_F64, in, g, oy, ox0, n, at);
}

/* MaxPool2d(2) of f32 with every window inside the image, the common case: values
** straight from the four pixels, no picks. The same rule as picks_of: a later pixel
** wins only when greater, and a NaN replaces whatever came before it. */
static int max2x2_inside(ember_dtype dt, const ember_pool_geom *g) {
  const ember_window *w = &g->win;
  return dt == EMBER_F32 && w->k[0] == 2 && w->k[1] == 2 && w->s[0] == 2 && w->s[1] == 2 &&
         w->d[0] == 1 && w->d[1] == 1 && w->p[0] == 0 && w->p[1] == 0 &&
         2 * g->oh <= g->h && 2 * g->ow <= g->w;
}

/* One row of windows: out[ox] from the pixel pairs of rows r0 and r1. Branch-free
** selects over a row, so the loop vectorises (strided loads deinterleave the pairs). */
static inline float later_max(float m, float v) { return v > m || v != v ? v : m; }

static void max2x2_row(const float *restrict r0, const float *restrict r1, float *restrict out,
                       int64_t ow) {
  #pragma omp simd
  for (int64_t ox = 0; ox < ow; ox++) {
    float m = later_max(r0[2 * ox], r0[2 * ox + 1]);
    out[ox] = later_max(m, later_max(r1[2 * ox], r1[2 * ox + 1]));
  }
}

static void max2x2_plane(const float *in, float *out, const ember_pool_geom *g) {
  for (int64_t oy = 0; oy < g->oh; oy++)
    max2x2_row(in + 2 * oy * g->w, in + (2 * oy + 1) * g->w, out + oy * g->ow, g->ow);
}

static void max_plane(ember_dtype dt, const void *in, void *out, const ember_pool_geom *g) {
  if (max2x2_inside(dt, g)) {
    max2x2_plane(in, out, g);
    return;
  }
  int64_t at[PICKS_CHUNK];
  for (int64_t oy = 0; oy < g->oh; oy++)
    for (int64_t ox0 = 0; ox0 < g->ow; ox0 += PICKS_CHUNK) {
      int64_t n = g->ow - ox0 < PICKS_CHUNK ? g->ow - ox0 : PICKS_CHUNK, o = oy * g->ow + ox0;
      picks(dt, in, g, oy, ox0, n, at);
      if (dt == EMBER_F32)
        for (int64_t j = 0; j < n; j++)
          ((float *)out)[o + j] = at[j] < 0 ? -INFINITY : ((const float *)in)[at[j]];
      else
        for (int64_t j = 0; j < n; j++)
          ((double *)out)[o + j] = at[j] < 0 ? -INFINITY : ((const double *)in)[at[j]];
    }
}

/* When the windows tile the planes exactly (h = 2 oh, w = 2 ow), the planes of a range
** are one run of row pairs, and the rows of windows go by blocks through a stack
** buffer in two passes: the max of each pair of neighbours in a row, over the whole
** block in one loop (short rows, 4 or 8 pixels in a small CNN, would otherwise each be a
** loop of their own), then of each pair of rows of those. Pairs first, then rows, picks
** as the window order a, b, c, d does: the first of equal maxima, the last NaN. */
#define MAX2X2_BUF 1024

static void max2x2_tiled_range(void *ctx, int64_t lo, int64_t hi) {
  const planes_ctx *k = ctx;
  int64_t ow = k->g->ow, rows = (hi - lo) * k->g->oh;   /* rows of windows */
  const float *in = (const float *)k->in + lo * k->isz;
  float *out = (float *)k->out + lo * k->osz;
  int64_t step = MAX2X2_BUF / (2 * ow);
  if (step == 0) {   /* rows wider than the buffer: one at a time */
    for (int64_t r = 0; r < rows; r++) max2x2_row(in + 4 * r * ow, in + (4 * r + 2) * ow, out + r * ow, ow);
    return;
  }
  float pairs[MAX2X2_BUF];
  for (int64_t r0 = 0; r0 < rows; r0 += step) {
    int64_t nr = rows - r0 < step ? rows - r0 : step, n = 2 * nr * ow;
    const float *src = in + 4 * r0 * ow;
    #pragma omp simd
    for (int64_t i = 0; i < n; i++) pairs[i] = later_max(src[2 * i], src[2 * i + 1]);
    float *dst = out + r0 * ow;
    for (int64_t r = 0; r < nr; r++) {
      const float *top = pairs + 2 * r * ow, *bottom = top + ow;
      #pragma omp simd
      for (int64_t x = 0; x < ow; x++) dst[r * ow + x] = later_max(top[x], bottom[x]);
    }
  }
}

ember_status ember_cpu_max_pool2d(ember_call *c) {
  ember_pool_geom g;
  if (ember_pool_geom_of(c, EMBER_POOL_MAX, &g) != EMBER_OK) return EMBER_ERROR;
  if (!max2x2_inside(c->compute, &g) || g.h != 2 * g.oh || g.w != 2 * g.ow)
    return run_planes(c, EMBER_POOL_MAX, max_plane);
  ember_tensor *x = ember_contiguous(c->in[0]);
  if (x == NULL) return EMBER_ERROR;
  planes_ctx k = { NULL, c->compute, sizeof(float), ember_tensor_data(x),
                   ember_tensor_data(c->out[0]), g.h * g.w, g.oh * g.ow, &g };
  ember_parallel_for(g.n * g.c, pool_work(EMBER_POOL_MAX, &g), max2x2_tiled_range, &k);
  ember_tensor_release(x);
  return EMBER_OK;
}

/* }====== */

/* {====== avg_pool2d */

/* One axis of an avg_pool2d window: output o's taps clipped to the image, [*lo, *hi),
** and the length of the window clipped to the padded image, which count_include_pad
** divides by (axis 0 height, 1 width). */
static int64_t avg_span(const ember_pool_geom *g, int axis, int64_t o, int64_t *lo, int64_t *hi) {
  const ember_window *w = &g->win;
  int64_t n = axis == 0 ? g->h : g->w;
  int64_t a = o * w->s[axis] - w->p[axis];
  int64_t b = a + w->k[axis] < n + w->p[axis] ? a + w->k[axis] : n + w->p[axis];
  int64_t span = b - a;
  *lo = a < 0 ? 0 : a;
  *hi = b > n ? n : b;
  return span;
}

/* What the window [y0, y1) x [x0, x1) (span_y x span_x in the padded image) divides by. */
static int64_t avg_divisor(const ember_pool_geom *g, int64_t span_y, int64_t span_x,
                           int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
  return g->divisor ? g->divisor
       : g->count_include_pad ? span_y * span_x : (y1 - y0) * (x1 - x0);
}

/* The sum of the pixels [y0, y1) x [x0, x1) of a plane, in double. */
static double window_sum(ember_dtype dt, const void *in, const ember_pool_geom *g, int64_t y0,
                         int64_t y1, int64_t x0, int64_t x1) {
  double s = 0;
  for (int64_t y = y0; y < y1; y++)
    for (int64_t x = x0; x < x1; x++) s += load(dt, in, y * g->w + x);
  return s;
}

static void avg_plane(ember_dtype dt, const void *in, void *out, const ember_pool_geom *g) {
  for (int64_t oy = 0; oy < g->oh; oy++) {
    int64_t y0, y1, span_y = avg_span(g, 0, oy, &y0, &y1);
    for (int64_t ox = 0; ox < g->ow; ox++) {
      int64_t x0, x1, span_x = avg_span(g, 1, ox, &x0, &x1);
      if (y0 >= y1 || x0 >= x1) {
        store(dt, out, oy * g->ow + ox, 0.0);
        continue;
      }
      double s = window_sum(dt, in, g, y0, y1, x0, x1);
      store(dt, out, oy * g->ow + ox, s / (double)avg_divisor(g, span_y, span_x, y0, y1, x0, x1));
    }
  }
}

ember_status ember_cpu_avg_pool2d(ember_call *c) {
  return run_planes(c, EMBER_POOL_AVG, avg_plane);
}

/* }====== */

/* {====== adaptive_avg_pool2d */

/* Output o's window [*lo, *hi) of n pixels pooled to no: PyTorch's start and end index,
** [floor(o*n/no), ceil((o+1)*n/no)). */
static inline void adaptive_span(int64_t o, int64_t n, int64_t no, int64_t *lo, int64_t *hi) {
  *lo = o * n / no;
  *hi = ((o + 1) * n + no - 1) / no;
}

static void adaptive_plane(ember_dtype dt, const void *in, void *out, const ember_pool_geom *g) {
  for (int64_t oy = 0; oy < g->oh; oy++) {
    int64_t y0, y1;
    adaptive_span(oy, g->h, g->oh, &y0, &y1);
    for (int64_t ox = 0; ox < g->ow; ox++) {
      int64_t x0, x1;
      adaptive_span(ox, g->w, g->ow, &x0, &x1);
      double s = window_sum(dt, in, g, y0, y1, x0, x1);
      store(dt, out, oy * g->ow + ox, s / (double)((y1 - y0) * (x1 - x0)));
    }
  }
}

ember_status ember_cpu_adaptive_avg_pool2d(ember_call *c) {
  return run_planes(c, EMBER_POOL_ADAPTIVE, adaptive_plane);
}

/* }====== */

/* {====== gradients */

/* Runs fn over every plane: in[0] is the output's gradient, in[1] (max only) the input;
** c's output is the input's gradient. */
typedef void (*grad_plane_fn)(ember_dtype dt, const void *gout, const void *in, void *gin,
                              const ember_pool_geom *g);

typedef struct grad_planes_ctx {
  grad_plane_fn fn;
  ember_dtype dt;
  size_t es;
  const char *gout, *in;
  char *gin;
  int64_t isz, osz;
  const ember_pool_geom *g;
} grad_planes_ctx;

static void grad_planes_range(void *ctx, int64_t lo, int64_t hi) {
  const grad_planes_ctx *k = ctx;
  for (int64_t p = lo; p < hi; p++) {
    char *gp = k->gin + (size_t)(p * k->isz) * k->es;
    memset(gp, 0, (size_t)k->isz * k->es);
    k->fn(k->dt, k->gout + (size_t)(p * k->osz) * k->es,
          k->in ? k->in + (size_t)(p * k->isz) * k->es : NULL, gp, k->g);
  }
}

static ember_status run_grad_planes(ember_call *c, ember_pool_kind kind, grad_plane_fn fn) {
  ember_pool_geom g;
  if (ember_pool_grad_geom_of(c, kind, &g) != EMBER_OK) return EMBER_ERROR;
  ember_tensor *go = ember_contiguous(c->in[0]);
  ember_tensor *x = go && kind == EMBER_POOL_MAX ? ember_contiguous(c->in[1]) : NULL;
  if (go == NULL || (kind == EMBER_POOL_MAX && x == NULL)) {
    ember_tensor_release(go);
    return EMBER_ERROR;
  }
  ember_dtype dt = c->compute;
  size_t es = ember_dtype_size(dt);
  const char *gout = ember_tensor_data(go), *in = x ? ember_tensor_data(x) : NULL;
  char *gin = ember_tensor_data(c->out[0]);
  grad_planes_ctx k = { fn, dt, es, gout, in, gin, g.h * g.w, g.oh * g.ow, &g };
  ember_parallel_for(g.n * g.c, pool_work(kind, &g), grad_planes_range, &k);
  ember_tensor_release(go);
  ember_tensor_release(x);
  return EMBER_OK;
}

static inline void add_at(ember_dtype dt, void *p, int64_t i, double v) {
  if (dt == EMBER_F32) ((float *)p)[i] += (float)v;
  else ((double *)p)[i] += v;
}

/* MaxPool2d(2)'s gradient when every window is inside the image (max2x2_inside): each
** window's pick worked out in place, by the forward's rule (a later pixel wins only when
** greater, a NaN replaces whatever came before it), with no picks array. */
static void max2x2_grad_plane(const float *gout, const float *in, float *gin,
                              const ember_pool_geom *g) {
  for (int64_t oy = 0; oy < g->oh; oy++) {
    int64_t top = 2 * oy * g->w;
    const float *r0 = in + top, *r1 = r0 + g->w;
    for (int64_t ox = 0; ox < g->ow; ox++) {
      float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1], m = a;
      int64_t at = top + 2 * ox;
      if (b > m || b != b) m = b, at = top + 2 * ox + 1;
      if (c > m || c != c) m = c, at = top + g->w + 2 * ox;
      if (d > m || d != d) at = top + g->w + 2 * ox + 1;
      gin[at] += gout[oy * g->ow + ox];
    }
  }
}

/* The gradient of each window goes to its pick (see picks_of). */
static void max_grad_plane(ember_dtype dt, const void *gout, const void *in, void *gin,
                           const ember_pool_geom *g) {
  if (max2x2_inside(dt, g)) {
    max2x2_grad_plane(gout, in, gin, g);
    return;
  }
  int64_t at[PICKS_CHUNK];
  for (int64_t oy = 0; oy < g->oh; oy++)
    for (int64_t ox0 = 0; ox0 < g->ow; ox0 += PICKS_CHUNK) {
      int64_t n = g->ow - ox0 < PICKS_CHUNK ? g->ow - ox0 : PICKS_CHUNK, o = oy * g->ow + ox0;
      picks(dt, in, g, oy, ox0, n, at);
      if (dt == EMBER_F32) {
        for (int64_t j = 0; j < n; j++)
          if (at[j] >= 0) ((float *)gin)[at[j]] += ((const float *)gout)[o + j];
      } else {
        for (int64_t j = 0; j < n; j++)
          if (at[j] >= 0) ((double *)gin)[at[j]] += ((const double *)gout)[o + j];
      }
    }
}

ember_status ember_cpu_max_pool2d_backward(ember_call *c) {
  return run_grad_planes(c, EMBER_POOL_MAX, max_grad_plane);
}

/* v added to each pixel of [y0, y1) x [x0, x1) of a gradient plane: window_sum's
** adjoint. */
static void window_spread(ember_dtype dt, void *gin, const ember_pool_geom *g, int64_t y0,
                          int64_t y1, int64_t x0, int64_t x1, double v) {
  for (int64_t y = y0; y < y1; y++)
    for (int64_t x = x0; x < x1; x++) add_at(dt, gin, y * g->w + x, v);
}

/* Each output spreads its gradient over the pixels it averaged, divided by the divisor
** the forward used. */
static void avg_grad_plane(ember_dtype dt, const void *gout, const void *in, void *gin,
                           const ember_pool_geom *g) {
  (void)in;
  for (int64_t oy = 0; oy < g->oh; oy++) {
    int64_t y0, y1, span_y = avg_span(g, 0, oy, &y0, &y1);
    for (int64_t ox = 0; ox < g->ow; ox++) {
      int64_t x0, x1, span_x = avg_span(g, 1, ox, &x0, &x1);
      if (y0 >= y1 || x0 >= x1) continue;
      double v = load(dt, gout, oy * g->ow + ox) /
                 (double)avg_divisor(g, span_y, span_x, y0, y1, x0, x1);
      window_spread(dt, gin, g, y0, y1, x0, x1, v);
    }
  }
}

ember_status ember_cpu_avg_pool2d_backward(ember_call *c) {
  return run_grad_planes(c, EMBER_POOL_AVG, avg_grad_plane);
}

static void adaptive_grad_plane(ember_dtype dt, const void *gout, const void *in, void *gin,
                                const ember_pool_geom *g) {
  (void)in;
  for (int64_t oy = 0; oy < g->oh; oy++) {
    int64_t y0, y1;
    adaptive_span(oy, g->h, g->oh, &y0, &y1);
    for (int64_t ox = 0; ox < g->ow; ox++) {
      int64_t x0, x1;
      adaptive_span(ox, g->w, g->ow, &x0, &x1);
      double v = load(dt, gout, oy * g->ow + ox) / (double)((y1 - y0) * (x1 - x0));
      window_spread(dt, gin, g, y0, y1, x0, x1, v);
    }
  }
}

ember_status ember_cpu_adaptive_avg_pool2d_backward(ember_call *c) {
  return run_grad_planes(c, EMBER_POOL_ADAPTIVE, adaptive_grad_plane);
}

/* }====== */
