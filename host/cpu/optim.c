/*
** optim.c — CPU kernels of the fused optimizer updates (sgd_step_, adam_step_).
**
** Composed from ops, one parameter's SGD-with-momentum update is three calls and an
** Adam update nine, each a pass over memory; fused, it is one pass. The arithmetic
** is PyTorch's single-tensor update, statement by statement in the parameter's own
** dtype, so trajectories agree with torch.optim to rounding. The caller (the op's
** infer) has checked that every tensor is contiguous, of one shape and one dtype.
*/
#include <math.h>

#include "optim.h"

/* One SGD update over n elements; T is float or double. */
#define SGD_LOOP(T)                                                                           \
  static void sgd_##T(T *p, const T *grad, T *buf, int64_t n, const ember_sgd_args *a) {    \
    T lr = (T)a->lr, m = (T)a->momentum, keep = (T)(1 - a->dampening), wd = (T)a->weight_decay; \
    _Pragma("omp parallel for simd if (n > 65536)")                                          \
    for (int64_t i = 0; i < n; i++) {                                                         \
      T d = a->maximize ? -grad[i] : grad[i];                                                 \
      if (a->weight_decay != 0) d = d + wd * p[i];                                            \
      if (buf) {                                                                              \
        T b = a->first ? d : buf[i] * m + keep * d;                                           \
        buf[i] = b;                                                                           \
        d = a->nesterov ? d + m * b : b;                                                      \
      }                                                                                       \
      p[i] = p[i] + (-lr) * d;                                                                \
    }                                                                                         \
  }
SGD_LOOP(float)
SGD_LOOP(double)

void ember_cpu_sgd(ember_dtype dt, void *p, const void *grad, void *buf, int64_t n,
                   const ember_sgd_args *a) {
  if (dt == EMBER_F32) sgd_float(p, grad, buf, n, a);
  else sgd_double(p, grad, buf, n, a);
}

/* One Adam (or AdamW) update; step_size and the bias corrections come in as scalars,
** computed in double as torch computes them in Python. */
#define ADAM_LOOP(T)                                                                          \
  static void adam_##T(T *p, const T *grad, T *m, T *v, T *vmax, int64_t n,                 \
                       const ember_adam_args *a) {                                            \
    T b1 = (T)a->beta1, b2 = (T)a->beta2, wd = (T)a->weight_decay;                            \
    T one_b1 = (T)(1 - a->beta1), one_b2 = (T)(1 - a->beta2);                                 \
    T decay = (T)(1 - a->lr * a->weight_decay);                                               \
    T step_size = (T)(a->lr / (1 - pow(a->beta1, (double)a->step)));                          \
    T bc2_sqrt = (T)sqrt(1 - pow(a->beta2, (double)a->step));                                 \
    T eps = (T)a->eps;                                                                        \
    _Pragma("omp parallel for simd if (n > 65536)")                                          \
    for (int64_t i = 0; i < n; i++) {                                                         \
      T g = a->maximize ? -grad[i] : grad[i];                                                 \
      if (a->weight_decay != 0) {                                                             \
        if (a->decoupled) p[i] = p[i] * decay;                                                \
        else g = g + wd * p[i];                                                               \
      }                                                                                       \
      T mi = m[i] * b1 + one_b1 * g;                                                          \
      T vi = v[i] * b2 + one_b2 * (g * g);                                                    \
      m[i] = mi;                                                                              \
      v[i] = vi;                                                                              \
      if (vmax) {                                                                             \
        vi = vmax[i] > vi ? vmax[i] : vi;                                                     \
        vmax[i] = vi;                                                                         \
      }                                                                                       \
      T denom = (T)sqrt(vi) / bc2_sqrt + eps;                                                 \
      p[i] = p[i] + (-step_size) * (mi / denom);                                              \
    }                                                                                         \
  }
ADAM_LOOP(float)
ADAM_LOOP(double)

void ember_cpu_adam(ember_dtype dt, void *p, const void *grad, void *m, void *v, void *vmax,
                    int64_t n, const ember_adam_args *a) {
  if (dt == EMBER_F32) adam_float(p, grad, m, v, vmax, n, a);
  else adam_double(p, grad, m, v, vmax, n, a);
}
