/*
** loss.c — CPU kernels of the fused losses: cross_entropy and its backward.
**
** cross_entropy is log_softmax, the pick of the target class and the reduction in
** one pass over each row; composed from ops it costs seven calls forward and ten
** backward, which on a small classifier is more than the matrix products. The input
** is viewed as (N, C, S): N the batch, C the classes (dim 2 in Lua), S everything
** after (1 for the usual N x C). Rows along C run at stride S.
**
** Per position i with target t (ignored when t equals ignore_index), weights w (all 1
** without a weight) and label smoothing e, as PyTorch defines it:
**     l_i = (1 - e) w_t (-log p_t) + (e / C) sum_c w_c (-log p_c)
** and the mean divides the sum by W = sum of w_t over the positions not ignored.
** Its gradient with respect to x_c is
**     (1 - e) w_t (p_c - [c = t]) + (e / C) (p_c sum_k w_k - w_c).
*/
#include <math.h>
#include <string.h>

#include "loss.h"

typedef struct ce_view {
  int64_t n, classes, s;        /* input as N x C x S */
  const double *w;              /* class weights (f64 copy) or NULL */
  double wsum;                  /* sum of all class weights (C without weights) */
  int64_t ignore;
  double smoothing;
  int64_t base;                 /* index base of the target values */
} ce_view;

/* N, C, S of input x: 1-D input is one row of C classes */
static void ce_dims(const ember_tensor *x, ce_view *v) {
  if (x->ndim == 1) {
    v->n = 1; v->classes = x->shape[0]; v->s = 1;
    return;
  }
  v->n = x->shape[0];
  v->classes = x->shape[1];
  v->s = 1;
  for (int d = 2; d < x->ndim; d++) v->s *= x->shape[d];
}

/* The class of target value raw, 0-based; -1 when ignored, -2 when out of range. */
static int64_t ce_class(const ce_view *v, int64_t raw) {
  if (raw == v->ignore) return -1;
  int64_t t = raw - v->base;
  return t >= 0 && t < v->classes ? t : -2;
}

static ember_status bad_target(const ce_view *v, int64_t raw) {
  return ember_error("cross_entropy: target %lld is out of range %lld..%lld (or ignore_index %lld)",
                     (long long)raw, (long long)v->base, (long long)(v->classes - 1 + v->base),
                     (long long)v->ignore);
}

/* log-sum-exp of the row at p with stride s; f32 rows take expf (a libm call per
** element in double would cost more than the matrix products of a small model) */
static double lse_float(const float *p, int64_t len, int64_t s) {
  float m = -INFINITY;
  for (int64_t j = 0; j < len; j++) if (p[j * s] > m) m = p[j * s];
  if (m == -INFINITY || m == INFINITY) return m;
  double acc = 0;
  for (int64_t j = 0; j < len; j++) acc += expf(p[j * s] - m);
  return m + log(acc);
}

static double lse_double(const double *p, int64_t len, int64_t s) {
  double m = -INFINITY, acc = 0;
  for (int64_t j = 0; j < len; j++) if (p[j * s] > m) m = p[j * s];
  if (m == -INFINITY || m == INFINITY) return m;
  for (int64_t j = 0; j < len; j++) acc += exp(p[j * s] - m);
  return m + log(acc);
}

static double row_lse(ember_dtype dt, const void *x, int64_t off, int64_t len, int64_t s) {
  return dt == EMBER_F32 ? lse_float((const float *)x + off, len, s)
                         : lse_double((const double *)x + off, len, s);
}

/* e^(x - lse): the probability of a class, in the row's precision */
static double prob(ember_dtype dt, const void *x, int64_t i, double lse) {
  return dt == EMBER_F32 ? expf(((const float *)x)[i] - (float)lse) : exp(((const double *)x)[i] - lse);
}

static double at(ember_dtype dt, const void *x, int64_t i) {
  return dt == EMBER_F32 ? ((const float *)x)[i] : ((const double *)x)[i];
}

/* The call's input (at xi), target and weight in the forms the loops read: the input
** contiguous, the target as contiguous i64, the weight as contiguous f64. */
static ember_status ce_setup(ember_call *c, ce_view *v, ember_tensor **x, ember_tensor **t,
                             ember_tensor **w, int xi) {
  ce_dims(c->in[xi], v);
  v->ignore = c->attr[0].i;
  v->smoothing = c->attr[2].f;
  v->base = c->index_base;
  *x = ember_contiguous(c->in[xi]);
  *t = ember_to_dtype(c->in[xi + 1], EMBER_I64);
  ember_tensor *tc = *t ? ember_contiguous(*t) : NULL;
  ember_tensor_release(*t);
  *t = tc;
  *w = NULL;
  if (c->nin > xi + 2 && c->in[xi + 2]) {
    ember_tensor *wd = ember_to_dtype(c->in[xi + 2], EMBER_F64);
    *w = wd ? ember_contiguous(wd) : NULL;
    ember_tensor_release(wd);
    if (*w == NULL) return EMBER_ERROR;
  }
  if (*x == NULL || *t == NULL) return EMBER_ERROR;
  v->w = *w ? ember_tensor_data(*w) : NULL;
  v->wsum = 0;
  for (int64_t k = 0; k < v->classes; k++) v->wsum += v->w ? v->w[k] : 1;
  return EMBER_OK;
}

static void ce_release(ember_tensor *x, ember_tensor *t, ember_tensor *w) {
  ember_tensor_release(x);
  ember_tensor_release(t);
  ember_tensor_release(w);
}

static int reduction_of(const ember_call *c) {
  const char *r = c->attr[1].s;
  return strcmp(r, "mean") == 0 ? 0 : strcmp(r, "sum") == 0 ? 1 : 2;
}

ember_status ember_cpu_cross_entropy(ember_call *c) {
  ce_view v;
  ember_tensor *x, *t, *w;
  ember_status st = ce_setup(c, &v, &x, &t, &w, 0);
  if (st != EMBER_OK) {
    ce_release(x, t, w);
    return st;
  }
  ember_dtype dt = x->dtype;
  const void *xd = ember_tensor_data(x);
  const int64_t *td = ember_tensor_data(t);
  ember_tensor *out = c->out[0];
  int red = reduction_of(c);
  double total = 0, wtotal = 0, e = v.smoothing;
  for (int64_t n = 0; n < v.n && st == EMBER_OK; n++) {
    for (int64_t s = 0; s < v.s; s++) {
      int64_t i = n * v.s + s, row = n * v.classes * v.s + s;
      int64_t raw = td[i], k = ce_class(&v, raw);
      double li = 0;
      if (k == -2) {
        st = bad_target(&v, raw);
        break;
      }
      if (k >= 0) {
        double lse = row_lse(dt, xd, row, v.classes, v.s);
        double wt = v.w ? v.w[k] : 1;
        li = (1 - e) * wt * (lse - at(dt, xd, row + k * v.s));
        if (e != 0) {
          double sm = 0;
          for (int64_t j = 0; j < v.classes; j++)
            sm += (v.w ? v.w[j] : 1) * (lse - at(dt, xd, row + j * v.s));
          li += e / v.classes * sm;
        }
        wtotal += wt;
      }
      if (red == 2) {
        if (dt == EMBER_F32) ((float *)ember_tensor_data(out))[i] = (float)li;
        else ((double *)ember_tensor_data(out))[i] = li;
      }
      total += li;
    }
  }
  if (st == EMBER_OK && red != 2) {
    double r = red == 0 ? total / wtotal : total;    /* all ignored: 0/0, NaN as PyTorch */
    if (dt == EMBER_F32) *(float *)ember_tensor_data(out) = (float)r;
    else *(double *)ember_tensor_data(out) = r;
  }
  ce_release(x, t, w);
  return st;
}

/* cross_entropy_backward(grad, input, target [, weight]) -> gradient of input */
ember_status ember_cpu_cross_entropy_backward(ember_call *c) {
  ce_view v;
  ember_tensor *x, *t, *w;
  ember_status st = ce_setup(c, &v, &x, &t, &w, 1);
  ember_tensor *g = st == EMBER_OK ? ember_contiguous(c->in[0]) : NULL;
  if (g == NULL) {
    ce_release(x, t, w);
    return EMBER_ERROR;
  }
  ember_dtype dt = x->dtype;
  const void *xd = ember_tensor_data(x), *gd = ember_tensor_data(g);
  const int64_t *td = ember_tensor_data(t);
  ember_tensor *out = c->out[0];
  void *od = ember_tensor_data(out);
  int red = reduction_of(c);
  double e = v.smoothing, scale = 1;
  if (red == 0) {                                 /* the mean's denominator */
    double wtotal = 0;
    for (int64_t i = 0; i < v.n * v.s; i++) {
      int64_t k = ce_class(&v, td[i]);
      if (k >= 0) wtotal += v.w ? v.w[k] : 1;
    }
    scale = 1 / wtotal;
  }
  for (int64_t n = 0; n < v.n; n++) {
    for (int64_t s = 0; s < v.s; s++) {
      int64_t i = n * v.s + s, row = n * v.classes * v.s + s;
      int64_t k = ce_class(&v, td[i]);
      double gi = (red == 2 ? at(dt, gd, i) : at(dt, gd, 0)) * scale;
      double lse = k >= 0 ? row_lse(dt, xd, row, v.classes, v.s) : 0;
      double wt = k >= 0 ? (v.w ? v.w[k] : 1) : 0;
      for (int64_t j = 0; j < v.classes; j++) {
        double d = 0;
        if (k >= 0) {
          double p = prob(dt, xd, row + j * v.s, lse);
          d = (1 - e) * wt * (p - (j == k));
          if (e != 0) d += e / v.classes * (p * v.wsum - (v.w ? v.w[j] : 1));
          d *= gi;
        }
        if (dt == EMBER_F32) ((float *)od)[row + j * v.s] = (float)d;
        else ((double *)od)[row + j * v.s] = d;
      }
    }
  }
  ember_tensor_release(g);
  ce_release(x, t, w);
  return EMBER_OK;
}
