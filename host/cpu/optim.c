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

/* Large tensors are split across threads; small ones run here, because entering an
** OpenMP parallel region, even one whose if clause is false, costs about a
** microsecond: more than the whole update of a bias. */
#define PARALLEL_MIN 65536

/* One SGD update of elements [lo, hi); T is float or double. The flags come in as
** arguments of an always-inlined body, so the common case (momentum, nothing else)
** gets its own branch-free loop; `omp simd` has it vectorized (at -O2 GCC vectorizes
** only loops it can prove need no checks). */
#define SGD_LOOP(T)                                                                           \
  static inline __attribute__((always_inline)) void                                           \
  sgd_body_##T(T *restrict p, const T *restrict grad, T *restrict buf, int64_t lo,         \
               int64_t hi, const ember_sgd_args *a, int has_buf, int maximize, int decay,    \
               int first, int nesterov) {                                                     \
    T lr = (T)a->lr, m = (T)a->momentum, keep = (T)(1 - a->dampening), wd = (T)a->weight_decay; \
    _Pragma("omp simd")                                                                       \
    for (int64_t i = lo; i < hi; i++) {                                                       \
      T d = maximize ? -grad[i] : grad[i];                                                    \
      if (decay) d = d + wd * p[i];                                                           \
      if (has_buf) {                                                                          \
        T b = first ? d : buf[i] * m + keep * d;                                              \
        buf[i] = b;                                                                           \
        d = nesterov ? d + m * b : b;                                                         \
      }                                                                                       \
      p[i] = p[i] + (-lr) * d;                                                                \
    }                                                                                         \
  }                                                                                           \
  static void sgd_range_##T(T *p, const T *grad, T *buf, int64_t lo, int64_t hi,             \
                            const ember_sgd_args *a) {                                        \
    int plain = !a->maximize && a->weight_decay == 0 && !a->first && !a->nesterov;            \
    if (plain && buf) sgd_body_##T(p, grad, buf, lo, hi, a, 1, 0, 0, 0, 0);                   \
    else if (plain) sgd_body_##T(p, grad, NULL, lo, hi, a, 0, 0, 0, 0, 0);                    \
    else sgd_body_##T(p, grad, buf, lo, hi, a, buf != NULL, a->maximize, a->weight_decay != 0, \
                      a->first, a->nesterov);                                                 \
  }                                                                                           \
  static void sgd_##T(T *p, const T *grad, T *buf, int64_t n, const ember_sgd_args *a) {    \
    if (n < PARALLEL_MIN) {                                                                   \
      sgd_range_##T(p, grad, buf, 0, n, a);                                                   \
      return;                                                                                 \
    }                                                                                         \
    _Pragma("omp parallel for")                                                               \
    for (int64_t b = 0; b < n; b += PARALLEL_MIN / 4)                                          \
      sgd_range_##T(p, grad, buf, b, b + PARALLEL_MIN / 4 < n ? b + PARALLEL_MIN / 4 : n, a);  \
  }
SGD_LOOP(float)
SGD_LOOP(double)

void ember_cpu_sgd(ember_dtype dt, void *p, const void *grad, void *buf, int64_t n,
                   const ember_sgd_args *a) {
  if (dt == EMBER_F32) sgd_float(p, grad, buf, n, a);
  else sgd_double(p, grad, buf, n, a);
}

/* One Adam (or AdamW) update; step_size and the bias corrections are computed in
** double, as torch computes them in Python. */
#define ADAM_LOOP(T)                                                                          \
  static inline __attribute__((always_inline)) void                                           \
  adam_body_##T(T *restrict p, const T *restrict grad, T *restrict m, T *restrict v,        \
                T *restrict vmax, int64_t lo, int64_t hi, const ember_adam_args *a,           \
                int has_max, int maximize, int decay, int decoupled) {                        \
    T b1 = (T)a->beta1, b2 = (T)a->beta2, wd = (T)a->weight_decay;                            \
    T one_b1 = (T)(1 - a->beta1), one_b2 = (T)(1 - a->beta2);                                 \
    T shrink = (T)(1 - a->lr * a->weight_decay);                                              \
    T step_size = (T)(a->lr / (1 - pow(a->beta1, (double)a->step)));                          \
    T bc2_sqrt = (T)sqrt(1 - pow(a->beta2, (double)a->step));                                 \
    T eps = (T)a->eps;                                                                        \
    _Pragma("omp simd")                                                                       \
    for (int64_t i = lo; i < hi; i++) {                                                       \
      T g = maximize ? -grad[i] : grad[i];                                                    \
      if (decay) {                                                                            \
        if (decoupled) p[i] = p[i] * shrink;                                                  \
        else g = g + wd * p[i];                                                               \
      }                                                                                       \
      T mi = m[i] * b1 + one_b1 * g;                                                          \
      T vi = v[i] * b2 + one_b2 * (g * g);                                                    \
      m[i] = mi;                                                                              \
      v[i] = vi;                                                                              \
      if (has_max) {                                                                          \
        vi = vmax[i] > vi ? vmax[i] : vi;                                                     \
        vmax[i] = vi;                                                                         \
      }                                                                                       \
      T denom = (T)sqrt(vi) / bc2_sqrt + eps;                                                 \
      p[i] = p[i] + (-step_size) * (mi / denom);                                              \
    }                                                                                         \
  }                                                                                           \
  static void adam_range_##T(T *p, const T *grad, T *m, T *v, T *vmax, int64_t lo,          \
                             int64_t hi, const ember_adam_args *a) {                          \
    if (!a->maximize && vmax == NULL && a->weight_decay == 0)                                 \
      adam_body_##T(p, grad, m, v, NULL, lo, hi, a, 0, 0, 0, 0);                              \
    else if (!a->maximize && vmax == NULL && a->decoupled)                                    \
      adam_body_##T(p, grad, m, v, NULL, lo, hi, a, 0, 0, 1, 1);                              \
    else                                                                                      \
      adam_body_##T(p, grad, m, v, vmax, lo, hi, a, vmax != NULL, a->maximize,               \
                    a->weight_decay != 0, a->decoupled);                                      \
  }                                                                                           \
  static void adam_##T(T *p, const T *grad, T *m, T *v, T *vmax, int64_t n,                 \
                       const ember_adam_args *a) {                                            \
    if (n < PARALLEL_MIN) {                                                                   \
      adam_range_##T(p, grad, m, v, vmax, 0, n, a);                                           \
      return;                                                                                 \
    }                                                                                         \
    _Pragma("omp parallel for")                                                               \
    for (int64_t b = 0; b < n; b += PARALLEL_MIN / 4)                                          \
      adam_range_##T(p, grad, m, v, vmax, b, b + PARALLEL_MIN / 4 < n ? b + PARALLEL_MIN / 4 : n, a); \
  }
ADAM_LOOP(float)
ADAM_LOOP(double)

void ember_cpu_adam(ember_dtype dt, void *p, const void *grad, void *m, void *v, void *vmax,
                    int64_t n, const ember_adam_args *a) {
  if (dt == EMBER_F32) adam_float(p, grad, m, v, vmax, n, a);
  else adam_double(p, grad, m, v, vmax, n, a);
}
