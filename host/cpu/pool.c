/*
** pool.c — CPU kernels of max_pool2d, avg_pool2d and adaptive_avg_pool2d.
**
** The work is planes (batch x channels) independent images, split across OpenMP
** threads when large. Inputs are made contiguous; outputs come contiguous from the
** dispatcher. Values are read as double (exact for f32 and f64), so one loop serves
** both dtypes: max is exact either way, and sums of f32 are rounded once at the end.
** Window bounds follow PyTorch exactly (pooling_output_shape, the avg_pool2d divisor
** with and without the padding, adaptive windows [floor(i*H/o), ceil((i+1)*H/o))).
*/
#include <math.h>

#include "conv.h"

static inline double load(ember_dtype dt, const void *p, int64_t i) {
  return dt == EMBER_F32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

static inline void store(ember_dtype dt, void *p, int64_t i, double v) {
  if (dt == EMBER_F32) ((float *)p)[i] = (float)v;
  else ((double *)p)[i] = v;
}

typedef void (*plane_fn)(ember_dtype dt, const void *in, void *out, const ember_pool_geom *g);

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
  int64_t planes = g.n * g.c, isz = g.h * g.w, osz = g.oh * g.ow;
  int64_t kk = kind == EMBER_POOL_ADAPTIVE ? 1 : g.win.k[0] * g.win.k[1];
  int64_t work = kind == EMBER_POOL_ADAPTIVE ? planes * (isz + osz) : planes * osz * kk;
  #pragma omp parallel for if (work > EMBER_PARALLEL_GRAIN && planes > 1)
  for (int64_t p = 0; p < planes; p++)
    fn(dt, in + (size_t)(p * isz) * es, out + (size_t)(p * osz) * es, &g);
  ember_tensor_release(x);
  return EMBER_OK;
}

/* {====== max_pool2d */

static void max_plane(ember_dtype dt, const void *in, void *out, const ember_pool_geom *g) {
  const ember_window *w = &g->win;
  for (int64_t oy = 0; oy < g->oh; oy++) {
    int64_t y0 = oy * w->s[0] - w->p[0];
    for (int64_t ox = 0; ox < g->ow; ox++) {
      int64_t x0 = ox * w->s[1] - w->p[1];
      double m = -INFINITY;
      for (int64_t ki = 0; ki < w->k[0]; ki++) {
        int64_t y = y0 + ki * w->d[0];
        if (y < 0 || y >= g->h) continue;
        for (int64_t kj = 0; kj < w->k[1]; kj++) {
          int64_t x = x0 + kj * w->d[1];
          if (x < 0 || x >= g->w) continue;
          double v = load(dt, in, y * g->w + x);
          if (v > m || isnan(v)) m = v;        /* NaN wins, as in PyTorch */
          if (isnan(m)) break;
        }
        if (isnan(m)) break;
      }
      store(dt, out, oy * g->ow + ox, m);
    }
  }
}

ember_status ember_cpu_max_pool2d(ember_call *c) {
  return run_planes(c, EMBER_POOL_MAX, max_plane);
}

/* }====== */

/* {====== avg_pool2d */

static void avg_plane(ember_dtype dt, const void *in, void *out, const ember_pool_geom *g) {
  const ember_window *w = &g->win;
  for (int64_t oy = 0; oy < g->oh; oy++) {
    /* the window clipped to the padded image gives count_include_pad's divisor, the
       window clipped to the image the other one */
    int64_t y0 = oy * w->s[0] - w->p[0];
    int64_t y1 = y0 + w->k[0] < g->h + w->p[0] ? y0 + w->k[0] : g->h + w->p[0];
    int64_t span_y = y1 - y0;
    if (y0 < 0) y0 = 0;
    if (y1 > g->h) y1 = g->h;
    for (int64_t ox = 0; ox < g->ow; ox++) {
      int64_t x0 = ox * w->s[1] - w->p[1];
      int64_t x1 = x0 + w->k[1] < g->w + w->p[1] ? x0 + w->k[1] : g->w + w->p[1];
      int64_t span_x = x1 - x0;
      if (x0 < 0) x0 = 0;
      if (x1 > g->w) x1 = g->w;
      if (y0 >= y1 || x0 >= x1) {
        store(dt, out, oy * g->ow + ox, 0.0);
        continue;
      }
      double s = 0;
      for (int64_t y = y0; y < y1; y++)
        for (int64_t x = x0; x < x1; x++) s += load(dt, in, y * g->w + x);
      int64_t div = g->divisor ? g->divisor
                  : g->count_include_pad ? span_y * span_x : (y1 - y0) * (x1 - x0);
      store(dt, out, oy * g->ow + ox, s / (double)div);
    }
  }
}

ember_status ember_cpu_avg_pool2d(ember_call *c) {
  return run_planes(c, EMBER_POOL_AVG, avg_plane);
}

/* }====== */

/* {====== adaptive_avg_pool2d */

static void adaptive_plane(ember_dtype dt, const void *in, void *out, const ember_pool_geom *g) {
  for (int64_t oy = 0; oy < g->oh; oy++) {
    int64_t y0 = oy * g->h / g->oh, y1 = ((oy + 1) * g->h + g->oh - 1) / g->oh;
    for (int64_t ox = 0; ox < g->ow; ox++) {
      int64_t x0 = ox * g->w / g->ow, x1 = ((ox + 1) * g->w + g->ow - 1) / g->ow;
      double s = 0;
      for (int64_t y = y0; y < y1; y++)
        for (int64_t x = x0; x < x1; x++) s += load(dt, in, y * g->w + x);
      store(dt, out, oy * g->ow + ox, s / (double)((y1 - y0) * (x1 - x0)));
    }
  }
}

ember_status ember_cpu_adaptive_avg_pool2d(ember_call *c) {
  return run_planes(c, EMBER_POOL_ADAPTIVE, adaptive_plane);
}

/* }====== */
