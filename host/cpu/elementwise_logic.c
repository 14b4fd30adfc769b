/*
** elementwise_logic.c — CPU kernels of the ops with bool results: comparisons (eq ne lt
** le gt ge), logical_and/or/xor/not, isnan, isinf.
**
** Invariants: every result is written as one byte holding 0 or 1 (ember's bool). Both
** operands of a comparison or logical op arrive in one promoted compute dtype (f32,
** f64, i64, or u8 for u8 and bool), so a loop never mixes dtypes; comparisons with NaN
** are false except ne, and NaN counts as true in logical ops (it is not zero).
*/
#include <math.h>

#include "elementwise.h"
#include "pointwise.h"

/* {====== comparisons */

static uint8_t eq_f(float a, float b, const double *p) { (void)p; return a == b; }
static uint8_t eq_d(double a, double b, const double *p) { (void)p; return a == b; }
static uint8_t eq_i(int64_t a, int64_t b, const double *p) { (void)p; return a == b; }
static uint8_t eq_u(uint8_t a, uint8_t b, const double *p) { (void)p; return a == b; }
static void eq_f32(char **d, const int64_t *s, int64_t n, void *x) { compare_f32(d, s, n, eq_f, x); }
static void eq_f64(char **d, const int64_t *s, int64_t n, void *x) { compare_f64(d, s, n, eq_d, x); }
static void eq_i64(char **d, const int64_t *s, int64_t n, void *x) { compare_i64(d, s, n, eq_i, x); }
static void eq_u8(char **d, const int64_t *s, int64_t n, void *x) { binary_u8(d, s, n, eq_u, x); }
static const ember_pw_loops eq_loops = { eq_f32, eq_f64, eq_i64, eq_u8 };
ember_status ember_cpu_eq(ember_call *c) { return ember_pw_run(c, 2, &eq_loops, NULL, 0); }

static uint8_t ne_f(float a, float b, const double *p) { (void)p; return a != b; }
static uint8_t ne_d(double a, double b, const double *p) { (void)p; return a != b; }
static uint8_t ne_i(int64_t a, int64_t b, const double *p) { (void)p; return a != b; }
static uint8_t ne_u(uint8_t a, uint8_t b, const double *p) { (void)p; return a != b; }
static void ne_f32(char **d, const int64_t *s, int64_t n, void *x) { compare_f32(d, s, n, ne_f, x); }
static void ne_f64(char **d, const int64_t *s, int64_t n, void *x) { compare_f64(d, s, n, ne_d, x); }
static void ne_i64(char **d, const int64_t *s, int64_t n, void *x) { compare_i64(d, s, n, ne_i, x); }
static void ne_u8(char **d, const int64_t *s, int64_t n, void *x) { binary_u8(d, s, n, ne_u, x); }
static const ember_pw_loops ne_loops = { ne_f32, ne_f64, ne_i64, ne_u8 };
ember_status ember_cpu_ne(ember_call *c) { return ember_pw_run(c, 2, &ne_loops, NULL, 0); }

static uint8_t lt_f(float a, float b, const double *p) { (void)p; return a < b; }
static uint8_t lt_d(double a, double b, const double *p) { (void)p; return a < b; }
static uint8_t lt_i(int64_t a, int64_t b, const double *p) { (void)p; return a < b; }
static uint8_t lt_u(uint8_t a, uint8_t b, const double *p) { (void)p; return a < b; }
static void lt_f32(char **d, const int64_t *s, int64_t n, void *x) { compare_f32(d, s, n, lt_f, x); }
static void lt_f64(char **d, const int64_t *s, int64_t n, void *x) { compare_f64(d, s, n, lt_d, x); }
static void lt_i64(char **d, const int64_t *s, int64_t n, void *x) { compare_i64(d, s, n, lt_i, x); }
static void lt_u8(char **d, const int64_t *s, int64_t n, void *x) { binary_u8(d, s, n, lt_u, x); }
static const ember_pw_loops lt_loops = { lt_f32, lt_f64, lt_i64, lt_u8 };
ember_status ember_cpu_lt(ember_call *c) { return ember_pw_run(c, 2, &lt_loops, NULL, 0); }

static uint8_t le_f(float a, float b, const double *p) { (void)p; return a <= b; }
static uint8_t le_d(double a, double b, const double *p) { (void)p; return a <= b; }
static uint8_t le_i(int64_t a, int64_t b, const double *p) { (void)p; return a <= b; }
static uint8_t le_u(uint8_t a, uint8_t b, const double *p) { (void)p; return a <= b; }
static void le_f32(char **d, const int64_t *s, int64_t n, void *x) { compare_f32(d, s, n, le_f, x); }
static void le_f64(char **d, const int64_t *s, int64_t n, void *x) { compare_f64(d, s, n, le_d, x); }
static void le_i64(char **d, const int64_t *s, int64_t n, void *x) { compare_i64(d, s, n, le_i, x); }
static void le_u8(char **d, const int64_t *s, int64_t n, void *x) { binary_u8(d, s, n, le_u, x); }
static const ember_pw_loops le_loops = { le_f32, le_f64, le_i64, le_u8 };
ember_status ember_cpu_le(ember_call *c) { return ember_pw_run(c, 2, &le_loops, NULL, 0); }

/* a > b is b < a: the same loops with the operands swapped */
static ember_status swapped(ember_call *c, const ember_pw_loops *loops) {
  ember_tensor *in[2] = { c->in[1], c->in[0] };
  ember_tensor **saved = c->in;
  c->in = in;
  ember_status st = ember_pw_run(c, 2, loops, NULL, 0);
  c->in = saved;
  return st;
}
ember_status ember_cpu_gt(ember_call *c) { return swapped(c, &lt_loops); }
ember_status ember_cpu_ge(ember_call *c) { return swapped(c, &le_loops); }

/* }====== */

/* {====== logical and / or / xor: nonzero (NaN included) is true */

static uint8_t and_f(float a, float b, const double *p) { (void)p; return (a != 0) & (b != 0); }
static uint8_t and_d(double a, double b, const double *p) { (void)p; return (a != 0) & (b != 0); }
static uint8_t and_i(int64_t a, int64_t b, const double *p) { (void)p; return (a != 0) & (b != 0); }
static uint8_t and_u(uint8_t a, uint8_t b, const double *p) { (void)p; return (a != 0) & (b != 0); }
static void and_f32(char **d, const int64_t *s, int64_t n, void *x) { compare_f32(d, s, n, and_f, x); }
static void and_f64(char **d, const int64_t *s, int64_t n, void *x) { compare_f64(d, s, n, and_d, x); }
static void and_i64(char **d, const int64_t *s, int64_t n, void *x) { compare_i64(d, s, n, and_i, x); }
static void and_u8(char **d, const int64_t *s, int64_t n, void *x) { binary_u8(d, s, n, and_u, x); }
static const ember_pw_loops and_loops = { and_f32, and_f64, and_i64, and_u8 };
ember_status ember_cpu_logical_and(ember_call *c) { return ember_pw_run(c, 2, &and_loops, NULL, 0); }

static uint8_t or_f(float a, float b, const double *p) { (void)p; return (a != 0) | (b != 0); }
static uint8_t or_d(double a, double b, const double *p) { (void)p; return (a != 0) | (b != 0); }
static uint8_t or_i(int64_t a, int64_t b, const double *p) { (void)p; return (a != 0) | (b != 0); }
static uint8_t or_u(uint8_t a, uint8_t b, const double *p) { (void)p; return (a != 0) | (b != 0); }
static void or_f32(char **d, const int64_t *s, int64_t n, void *x) { compare_f32(d, s, n, or_f, x); }
static void or_f64(char **d, const int64_t *s, int64_t n, void *x) { compare_f64(d, s, n, or_d, x); }
static void or_i64(char **d, const int64_t *s, int64_t n, void *x) { compare_i64(d, s, n, or_i, x); }
static void or_u8(char **d, const int64_t *s, int64_t n, void *x) { binary_u8(d, s, n, or_u, x); }
static const ember_pw_loops or_loops = { or_f32, or_f64, or_i64, or_u8 };
ember_status ember_cpu_logical_or(ember_call *c) { return ember_pw_run(c, 2, &or_loops, NULL, 0); }

static uint8_t xor_f(float a, float b, const double *p) { (void)p; return (a != 0) ^ (b != 0); }
static uint8_t xor_d(double a, double b, const double *p) { (void)p; return (a != 0) ^ (b != 0); }
static uint8_t xor_i(int64_t a, int64_t b, const double *p) { (void)p; return (a != 0) ^ (b != 0); }
static uint8_t xor_u(uint8_t a, uint8_t b, const double *p) { (void)p; return (a != 0) ^ (b != 0); }
static void xor_f32(char **d, const int64_t *s, int64_t n, void *x) { compare_f32(d, s, n, xor_f, x); }
static void xor_f64(char **d, const int64_t *s, int64_t n, void *x) { compare_f64(d, s, n, xor_d, x); }
static void xor_i64(char **d, const int64_t *s, int64_t n, void *x) { compare_i64(d, s, n, xor_i, x); }
static void xor_u8(char **d, const int64_t *s, int64_t n, void *x) { binary_u8(d, s, n, xor_u, x); }
static const ember_pw_loops xor_loops = { xor_f32, xor_f64, xor_i64, xor_u8 };
ember_status ember_cpu_logical_xor(ember_call *c) { return ember_pw_run(c, 2, &xor_loops, NULL, 0); }

/* }====== */

/* {====== unary tests: one value in, one bool out */

/* pointwise.h's unary shape keeps one dtype; these write a byte per element of any
** input dtype, with the contiguous run kept as a plain indexed loop. */
static void test_f32(char **d, const int64_t *s, int64_t n, uint8_t (*f)(float)) {
  if (s[0] == 1 && s[1] == 4) {
    uint8_t *o = (uint8_t *)d[0];
    const float *a = (const float *)d[1];
#pragma omp simd
    for (int64_t i = 0; i < n; i++) o[i] = f(a[i]);
    return;
  }
  for (int64_t i = 0; i < n; i++) *(uint8_t *)(d[0] + i * s[0]) = f(*(const float *)(d[1] + i * s[1]));
}
static void test_f64(char **d, const int64_t *s, int64_t n, uint8_t (*f)(double)) {
  for (int64_t i = 0; i < n; i++) *(uint8_t *)(d[0] + i * s[0]) = f(*(const double *)(d[1] + i * s[1]));
}
static void test_i64(char **d, const int64_t *s, int64_t n, uint8_t (*f)(int64_t)) {
  for (int64_t i = 0; i < n; i++) *(uint8_t *)(d[0] + i * s[0]) = f(*(const int64_t *)(d[1] + i * s[1]));
}
static void test_u8(char **d, const int64_t *s, int64_t n, uint8_t (*f)(uint8_t)) {
  for (int64_t i = 0; i < n; i++) *(uint8_t *)(d[0] + i * s[0]) = f(*(const uint8_t *)(d[1] + i * s[1]));
}

static uint8_t not_f(float a) { return a == 0; }
static uint8_t not_d(double a) { return a == 0; }
static uint8_t not_i(int64_t a) { return a == 0; }
static uint8_t not_u(uint8_t a) { return a == 0; }
static void not_f32(char **d, const int64_t *s, int64_t n, void *x) { (void)x; test_f32(d, s, n, not_f); }
static void not_f64(char **d, const int64_t *s, int64_t n, void *x) { (void)x; test_f64(d, s, n, not_d); }
static void not_i64(char **d, const int64_t *s, int64_t n, void *x) { (void)x; test_i64(d, s, n, not_i); }
static void not_u8(char **d, const int64_t *s, int64_t n, void *x) { (void)x; test_u8(d, s, n, not_u); }
static const ember_pw_loops not_loops = { not_f32, not_f64, not_i64, not_u8 };
ember_status ember_cpu_logical_not(ember_call *c) { return ember_pw_run(c, 1, &not_loops, NULL, 0); }

static uint8_t isnan_f(float a) { return a != a; }
static uint8_t isnan_d(double a) { return a != a; }
static void isnan_f32(char **d, const int64_t *s, int64_t n, void *x) { (void)x; test_f32(d, s, n, isnan_f); }
static void isnan_f64(char **d, const int64_t *s, int64_t n, void *x) { (void)x; test_f64(d, s, n, isnan_d); }
static const ember_pw_loops isnan_loops = { isnan_f32, isnan_f64, NULL, NULL };

static uint8_t isinf_f(float a) { return fabsf(a) == INFINITY; }
static uint8_t isinf_d(double a) { return fabs(a) == INFINITY; }
static void isinf_f32(char **d, const int64_t *s, int64_t n, void *x) { (void)x; test_f32(d, s, n, isinf_f); }
static void isinf_f64(char **d, const int64_t *s, int64_t n, void *x) { (void)x; test_f64(d, s, n, isinf_d); }
static const ember_pw_loops isinf_loops = { isinf_f32, isinf_f64, NULL, NULL };

/* integer and bool inputs are never NaN or infinite: infer leaves them uncast and the
** answer is all false */
ember_status ember_cpu_isnan(ember_call *c) {
  if (!ember_dtype_is_float(c->compute)) return ember_fill_(c->out[0], 0);
  return ember_pw_run(c, 1, &isnan_loops, NULL, 0);
}

ember_status ember_cpu_isinf(ember_call *c) {
  if (!ember_dtype_is_float(c->compute)) return ember_fill_(c->out[0], 0);
  return ember_pw_run(c, 1, &isinf_loops, NULL, 0);
}

/* }====== */
