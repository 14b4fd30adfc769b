/*
** norm_batch.c — CPU kernels of batch_norm_train and batch_norm_train_backward: batch
** normalisation in training, one op each way.
**
** Per channel c (dim 1 of a contiguous N x C x inner x, count = N x inner values):
**   mean = sum(x) / count, var = sum((x - mean)^2) / count   (biased, two passes)
**   y = (x - mean) rstd w + b,  rstd = 1 / sqrt(var + eps)
** and backward, with xhat = (x - mean) rstd:
**   sum_g = sum(g), sum_gx = sum(g xhat)              (the bias's and weight's gradients)
**   dx = w rstd (g - sum_g / count - xhat sum_gx / count)
** Sums run in double for f32 too. Composed of ops, the same training step took a
** quarter of the digits CNN's step: mean, var, rsqrt and a broadcast multiply-add, each
** a pass over the input, and autograd's rules for each on the way back. Channels are
** independent and go to threads (ember_parallel_for).
*/
#include <math.h>

#include "nn.h"

typedef struct bn_job {
  ember_dtype dt;
  int64_t n, ch, inner;
  const char *x, *g, *w, *b, *mean_in, *var_in;   /* inputs; w, b may be NULL */
  char *y, *mean, *var, *sum_g, *sum_gx;         /* outputs */
  double eps;
} bn_job;

static inline double at(ember_dtype dt, const char *p, int64_t i) {
  return dt == EMBER_F32 ? ((const float *)p)[i] : ((const double *)p)[i];
}

static inline void put(ember_dtype dt, char *p, int64_t i, double v) {
  if (dt == EMBER_F32) ((float *)p)[i] = (float)v;
  else ((double *)p)[i] = v;
}

/* sum over channel c's values of x, or of (x - m)^2 when sq */
static double channel_sum(const bn_job *j, const char *x, int64_t c, int sq, double m) {
  double s = 0;
  for (int64_t n = 0; n < j->n; n++) {
    int64_t base = (n * j->ch + c) * j->inner;
    if (j->dt == EMBER_F32) {
      const float *v = (const float *)x + base;
      if (sq) {
        #pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < j->inner; i++) s += ((double)v[i] - m) * ((double)v[i] - m);
      } else {
        #pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < j->inner; i++) s += v[i];
      }
    } else {
      const double *v = (const double *)x + base;
      if (sq) {
        #pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < j->inner; i++) s += (v[i] - m) * (v[i] - m);
      } else {
        #pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < j->inner; i++) s += v[i];
      }
    }
  }
  return s;
}

/* out = x k + t over channel c's values (k, t in the compute dtype's precision) */
static void channel_affine(const bn_job *j, const char *x, char *out, int64_t c, double k,
                           double t) {
  for (int64_t n = 0; n < j->n; n++) {
    int64_t base = (n * j->ch + c) * j->inner;
    if (j->dt == EMBER_F32) {
      const float *v = (const float *)x + base;
      float *o = (float *)out + base, kf = (float)k, tf = (float)t;
      #pragma omp simd
      for (int64_t i = 0; i < j->inner; i++) o[i] = v[i] * kf + tf;
    } else {
      const double *v = (const double *)x + base;
      double *o = (double *)out + base;
      #pragma omp simd
      for (int64_t i = 0; i < j->inner; i++) o[i] = v[i] * k + t;
    }
  }
}

static void forward_range(void *ctx, int64_t lo, int64_t hi) {
  const bn_job *j = ctx;
  double count = (double)(j->n * j->inner);
  for (int64_t c = lo; c < hi; c++) {
    double m = channel_sum(j, j->x, c, 0, 0) / count;
    double v = channel_sum(j, j->x, c, 1, m) / count;
    double k = 1.0 / sqrt(v + j->eps);
    if (j->w) k *= at(j->dt, j->w, c);
    put(j->dt, j->mean, c, m);
    put(j->dt, j->var, c, v);
    channel_affine(j, j->x, j->y, c, k, (j->b ? at(j->dt, j->b, c) : 0) - m * k);
  }
}

/* The job's geometry from x (contiguous) and its channel vectors made contiguous; the
** tensors to release afterwards go to keep[]. */
static ember_status take(ember_call *c, bn_job *j, ember_tensor **xt, int xi,
                         ember_tensor **keep, int nkeep, const int *which) {
  *xt = ember_contiguous(c->in[xi]);
  if (*xt == NULL) return EMBER_ERROR;
  j->dt = c->compute;
  j->n = (*xt)->shape[0];
  j->ch = (*xt)->shape[1];
  j->inner = 1;
  for (int d = 2; d < (*xt)->ndim; d++) j->inner *= (*xt)->shape[d];
  for (int k = 0; k < nkeep; k++) {
    keep[k] = which[k] < c->nin && c->in[which[k]] ? ember_contiguous(c->in[which[k]]) : NULL;
    if (which[k] < c->nin && c->in[which[k]] && keep[k] == NULL) return EMBER_ERROR;
  }
  return EMBER_OK;
}

static void release_all(ember_tensor *x, ember_tensor **keep, int n) {
  ember_tensor_release(x);
  for (int k = 0; k < n; k++) ember_tensor_release(keep[k]);
}

static const char *data_or_null(ember_tensor *t) { return t ? ember_tensor_data(t) : NULL; }

ember_status ember_cpu_batch_norm_train(ember_call *c) {
  bn_job j = { 0 };
  ember_tensor *x = NULL, *keep[2] = { NULL, NULL };
  static const int which[2] = { 1, 2 };   /* weight, bias */
  if (take(c, &j, &x, 0, keep, 2, which) != EMBER_OK) {
    release_all(x, keep, 2);
    return EMBER_ERROR;
  }
  j.x = ember_tensor_data(x);
  j.w = data_or_null(keep[0]);
  j.b = data_or_null(keep[1]);
  j.y = ember_tensor_data(c->out[0]);
  j.mean = ember_tensor_data(c->out[1]);
  j.var = ember_tensor_data(c->out[2]);
  j.eps = c->attr[0].f;
  ember_parallel_for(j.ch, 2 * ember_tensor_numel(x), forward_range, &j);
  release_all(x, keep, 2);
  return EMBER_OK;
}

static void backward_range(void *ctx, int64_t lo, int64_t hi) {
  const bn_job *j = ctx;
  double count = (double)(j->n * j->inner);
  for (int64_t c = lo; c < hi; c++) {
    double m = at(j->dt, j->mean_in, c);
    double rstd = 1.0 / sqrt(at(j->dt, j->var_in, c) + j->eps);
    double sg = 0, sgx = 0;
    for (int64_t n = 0; n < j->n; n++) {
      int64_t base = (n * j->ch + c) * j->inner;
      if (j->dt == EMBER_F32) {
        const float *g = (const float *)j->g + base, *x = (const float *)j->x + base;
        #pragma omp simd reduction(+ : sg, sgx)
        for (int64_t i = 0; i < j->inner; i++) {
          sg += g[i];
          sgx += (double)g[i] * ((double)x[i] - m);
        }
      } else {
        const double *g = (const double *)j->g + base, *x = (const double *)j->x + base;
        #pragma omp simd reduction(+ : sg, sgx)
        for (int64_t i = 0; i < j->inner; i++) {
          sg += g[i];
          sgx += g[i] * (x[i] - m);
        }
      }
    }
    sgx *= rstd;                                  /* sum(g xhat) */
    put(j->dt, j->sum_g, c, sg);
    put(j->dt, j->sum_gx, c, sgx);
    /* dx = a g + b x + d: a = w rstd, b = -a rstd sum_gx / count,
       d = -a sum_g / count - b m */
    double a = (j->w ? at(j->dt, j->w, c) : 1) * rstd;
    double bx = -a * rstd * sgx / count, d = -a * sg / count - bx * m;
    for (int64_t n = 0; n < j->n; n++) {
      int64_t base = (n * j->ch + c) * j->inner;
      if (j->dt == EMBER_F32) {
        const float *g = (const float *)j->g + base, *x = (const float *)j->x + base;
        float *o = (float *)j->y + base, af = (float)a, bf = (float)bx, df = (float)d;
        #pragma omp simd
        for (int64_t i = 0; i < j->inner; i++) o[i] = af * g[i] + bf * x[i] + df;
      } else {
        const double *g = (const double *)j->g + base, *x = (const double *)j->x + base;
        double *o = (double *)j->y + base;
        #pragma omp simd
        for (int64_t i = 0; i < j->inner; i++) o[i] = a * g[i] + bx * x[i] + d;
      }
    }
  }
}

ember_status ember_cpu_batch_norm_train_backward(ember_call *c) {
  bn_job j = { 0 };
  ember_tensor *x = NULL, *keep[4] = { NULL, NULL, NULL, NULL };
  static const int which[4] = { 0, 2, 3, 4 };   /* grad, mean, var, weight */
  if (take(c, &j, &x, 1, keep, 4, which) != EMBER_OK) {
    release_all(x, keep, 4);
    return EMBER_ERROR;
  }
  j.x = ember_tensor_data(x);
  j.g = ember_tensor_data(keep[0]);
  j.mean_in = ember_tensor_data(keep[1]);
  j.var_in = ember_tensor_data(keep[2]);
  j.w = data_or_null(keep[3]);
  j.y = ember_tensor_data(c->out[0]);
  j.sum_g = ember_tensor_data(c->out[1]);
  j.sum_gx = ember_tensor_data(c->out[2]);
  j.eps = c->attr[0].f;
  ember_parallel_for(j.ch, 3 * ember_tensor_numel(x), backward_range, &j);
  release_all(x, keep, 4);
  return EMBER_OK;
}
