/*
** pointwise.h — building blocks for elementwise CPU loops.
**
** A loop (ember_loop_fn) gets byte pointers and byte strides for the output and the
** inputs of one innermost run. The helpers below take a scalar function and apply it
** over the run with three paths: all operands contiguous (a plain indexed loop the
** compiler vectorises, `omp simd` says it may), an input after the first broadcast
** (stride 0), and the general strided run. They are static inline and are always called with a
** constant function, so the compiler inlines the scalar function into each path; one
** short loop function per (op, dtype) is all an op writes:
**
**     static float add_f(float a, float b, const double *p) { return a + (float)p[0] * b; }
**     static void add_f32(char **d, const int64_t *s, int64_t n, void *ctx) {
**       binary_f32(d, s, n, add_f, ctx);
**     }
**
** p points at the op's parameters (ember_pw_ctx.p: alpha, clamp bounds, ...).
*/
#ifndef EMBER_POINTWISE_H
#define EMBER_POINTWISE_H

#include "core.h"

typedef struct ember_pw_ctx {
  double p[4];       /* scalar parameters of the op, in its own order */
} ember_pw_ctx;

#define PW_PARAMS(ctx) (((const ember_pw_ctx *)(ctx))->p)

/* unary: out = f(a) */
#define PW_UNARY(T, fname)                                                              \
  static inline void fname(char **d, const int64_t *s, int64_t n,                       \
                           T (*f)(T, const double *), void *ctx) {                      \
    const double *p = PW_PARAMS(ctx);                                                   \
    if (s[0] == (int64_t)sizeof(T) && s[1] == (int64_t)sizeof(T)) {                     \
      T *o = (T *)d[0]; const T *a = (const T *)d[1];                                   \
      _Pragma("omp simd") for (int64_t i = 0; i < n; i++) o[i] = f(a[i], p);            \
      return;                                                                           \
    }                                                                                   \
    for (int64_t i = 0; i < n; i++)                                                     \
      *(T *)(d[0] + i * s[0]) = f(*(const T *)(d[1] + i * s[1]), p);                    \
  }

/* binary: out = f(a, b) */
#define PW_BINARY(T, R, fname)                                                          \
  static inline void fname(char **d, const int64_t *s, int64_t n,                       \
                           R (*f)(T, T, const double *), void *ctx) {                   \
    const double *p = PW_PARAMS(ctx);                                                   \
    if (s[0] == (int64_t)sizeof(R) && s[1] == (int64_t)sizeof(T)) {                     \
      R *o = (R *)d[0]; const T *a = (const T *)d[1];                                   \
      if (s[2] == (int64_t)sizeof(T)) {                                                 \
        const T *b = (const T *)d[2];                                                   \
        _Pragma("omp simd") for (int64_t i = 0; i < n; i++) o[i] = f(a[i], b[i], p);    \
        return;                                                                         \
      }                                                                                 \
      if (s[2] == 0) {                                                                  \
        const T b = *(const T *)d[2];                                                   \
        _Pragma("omp simd") for (int64_t i = 0; i < n; i++) o[i] = f(a[i], b, p);       \
        return;                                                                         \
      }                                                                                 \
    }                                                                                   \
    for (int64_t i = 0; i < n; i++)                                                     \
      *(R *)(d[0] + i * s[0]) =                                                         \
        f(*(const T *)(d[1] + i * s[1]), *(const T *)(d[2] + i * s[2]), p);             \
  }

/* ternary: out = f(a, b, c) (where, lerp, addcmul); b or c may be broadcast (a Lua
** number: where(cond, x, 0)) */
#define PW_TERNARY(T, A, fname)                                                         \
  static inline void fname(char **d, const int64_t *s, int64_t n,                       \
                           T (*f)(A, T, T, const double *), void *ctx) {                \
    const double *p = PW_PARAMS(ctx);                                                   \
    const int64_t es = (int64_t)sizeof(T);                                              \
    if (s[0] == es && s[1] == (int64_t)sizeof(A) && (s[2] == es || s[2] == 0) &&        \
        (s[3] == es || s[3] == 0) && (s[2] || s[3])) {                                  \
      T *o = (T *)d[0]; const A *a = (const A *)d[1];                                   \
      const T *b = (const T *)d[2], *c = (const T *)d[3];                               \
      if (s[2] && s[3]) {                                                               \
        _Pragma("omp simd") for (int64_t i = 0; i < n; i++) o[i] = f(a[i], b[i], c[i], p); \
      } else if (s[2]) {                                                                \
        const T cv = *c;                                                                \
        _Pragma("omp simd") for (int64_t i = 0; i < n; i++) o[i] = f(a[i], b[i], cv, p); \
      } else {                                                                          \
        const T bv = *b;                                                                \
        _Pragma("omp simd") for (int64_t i = 0; i < n; i++) o[i] = f(a[i], bv, c[i], p); \
      }                                                                                 \
      return;                                                                           \
    }                                                                                   \
    for (int64_t i = 0; i < n; i++)                                                     \
      *(T *)(d[0] + i * s[0]) = f(*(const A *)(d[1] + i * s[1]),                        \
                                  *(const T *)(d[2] + i * s[2]),                        \
                                  *(const T *)(d[3] + i * s[3]), p);                    \
  }

/* The three shapes of helper, stamped once per dtype the kernels take natively. These
** macros define functions (not loop bodies), once, here: an op never writes a macro. */
PW_UNARY(float, unary_f32)
PW_UNARY(double, unary_f64)
PW_UNARY(int64_t, unary_i64)
PW_BINARY(float, float, binary_f32)
PW_BINARY(double, double, binary_f64)
PW_BINARY(int64_t, int64_t, binary_i64)
PW_BINARY(float, uint8_t, compare_f32)
PW_BINARY(double, uint8_t, compare_f64)
PW_BINARY(int64_t, uint8_t, compare_i64)
PW_BINARY(uint8_t, uint8_t, binary_u8)
PW_TERNARY(float, uint8_t, where_f32)
PW_TERNARY(double, uint8_t, where_f64)
PW_TERNARY(int64_t, uint8_t, where_i64)

/* A per-dtype loop table; a kernel picks its loop by the compute dtype. */
typedef struct ember_pw_loops {
  ember_loop_fn f32, f64, i64, u8;
} ember_pw_loops;

/* Run loops over c->out[0] and inputs [0, nin), parameters p (may be NULL).
** Fails with a message naming the op when the compute dtype has no loop. */
struct ember_call;
ember_status ember_pw_run(struct ember_call *c, int nin, const ember_pw_loops *loops,
                          const double *p, int np);

#endif
