/*
** elementwise.c — CPU kernels of the binary and ternary elementwise ops: add sub mul,
** div (true, trunc, floor), remainder, floor_divide, pow, maximum minimum, clamp, where.
**
** Each op is a scalar function per compute dtype (f32, f64, i64) inlined into the loop
** shapes of pointwise.h and run by ember_pw_run. Invariants:
** - integer arithmetic wraps modulo 2^64 (done in uint64_t, so never undefined), as
**   PyTorch's does; narrower integer dtypes wrap again when the dispatcher converts back;
** - integer division never meets a zero divisor: the divisor is scanned first and the
**   call fails before anything is written (in-place targets stay untouched);
**   INT64_MIN / -1 wraps instead of trapping;
** - float maximum/minimum/clamp propagate NaN from any operand.
*/
#include <math.h>
#include <string.h>

#include "elementwise.h"
#include "pointwise.h"

/* {====== add sub mul: one scalar parameter, alpha (sub passes -alpha) */

static float add_f(float a, float b, const double *p) { return a + (float)p[0] * b; }
static double add_d(double a, double b, const double *p) { return a + p[0] * b; }
static int64_t add_i(int64_t a, int64_t b, const double *p) {
  return (int64_t)((uint64_t)a + (uint64_t)(int64_t)p[0] * (uint64_t)b);
}
static void add_f32(char **d, const int64_t *s, int64_t n, void *x) { binary_f32(d, s, n, add_f, x); }
static void add_f64(char **d, const int64_t *s, int64_t n, void *x) { binary_f64(d, s, n, add_d, x); }
static void add_i64(char **d, const int64_t *s, int64_t n, void *x) { binary_i64(d, s, n, add_i, x); }
static const ember_pw_loops add_loops = { add_f32, add_f64, add_i64, NULL };

/* alpha == 1 is by far the common case: a plain a + b keeps the loop a pure stream */
static float plus_f(float a, float b, const double *p) { (void)p; return a + b; }
static double plus_d(double a, double b, const double *p) { (void)p; return a + b; }
static int64_t plus_i(int64_t a, int64_t b, const double *p) { (void)p; return (int64_t)((uint64_t)a + (uint64_t)b); }
static void plus_f32(char **d, const int64_t *s, int64_t n, void *x) { binary_f32(d, s, n, plus_f, x); }
static void plus_f64(char **d, const int64_t *s, int64_t n, void *x) { binary_f64(d, s, n, plus_d, x); }
static void plus_i64(char **d, const int64_t *s, int64_t n, void *x) { binary_i64(d, s, n, plus_i, x); }
static const ember_pw_loops plus_loops = { plus_f32, plus_f64, plus_i64, NULL };

ember_status ember_cpu_add(ember_call *c) {
  double alpha = c->attr[0].f;
  if (alpha == 1) return ember_pw_run(c, 2, &plus_loops, NULL, 0);
  return ember_pw_run(c, 2, &add_loops, &alpha, 1);
}

ember_status ember_cpu_sub(ember_call *c) {
  double alpha = -c->attr[0].f;
  return ember_pw_run(c, 2, &add_loops, &alpha, 1);
}

static float mul_f(float a, float b, const double *p) { (void)p; return a * b; }
static double mul_d(double a, double b, const double *p) { (void)p; return a * b; }
static int64_t mul_i(int64_t a, int64_t b, const double *p) { (void)p; return (int64_t)((uint64_t)a * (uint64_t)b); }
static void mul_f32(char **d, const int64_t *s, int64_t n, void *x) { binary_f32(d, s, n, mul_f, x); }
static void mul_f64(char **d, const int64_t *s, int64_t n, void *x) { binary_f64(d, s, n, mul_d, x); }
static void mul_i64(char **d, const int64_t *s, int64_t n, void *x) { binary_i64(d, s, n, mul_i, x); }
static const ember_pw_loops mul_loops = { mul_f32, mul_f64, mul_i64, NULL };

ember_status ember_cpu_mul(ember_call *c) {
  return ember_pw_run(c, 2, &mul_loops, NULL, 0);
}

/* }====== */

/* {====== division: true, truncating, flooring; remainder */

/* Does the (i64) divisor hold a zero? Scanned before any integer division runs. */
static int holds_zero(ember_tensor *t) {
  ember_tensor *ct = ember_contiguous(t);     /* the same tensor, unless strided */
  if (ct == NULL) return 1;
  const int64_t *v = ember_tensor_data(ct);
  int64_t n = ember_tensor_numel(ct);
  int zero = 0;
  for (int64_t i = 0; i < n; i++) zero |= v[i] == 0;
  ember_tensor_release(ct);
  return zero;
}

static ember_status run_division(ember_call *c, const ember_pw_loops *loops) {
  if (c->compute == EMBER_I64 && ember_tensor_numel(c->out[0]) > 0 && holds_zero(c->in[1])) {
    char a[64], b[64];
    return ember_op_error(c, "integer division by zero (dividend %s %s, divisor %s %s holds a 0)",
                          ember_dtype_name(c->in_user[0]->dtype),
                          ember_shape_str(c->in_user[0], a, sizeof a),
                          ember_dtype_name(c->in_user[1]->dtype),
                          ember_shape_str(c->in_user[1], b, sizeof b));
  }
  return ember_pw_run(c, 2, loops, NULL, 0);
}

static float div_f(float a, float b, const double *p) { (void)p; return a / b; }
static double div_d(double a, double b, const double *p) { (void)p; return a / b; }
static void div_f32(char **d, const int64_t *s, int64_t n, void *x) { binary_f32(d, s, n, div_f, x); }
static void div_f64(char **d, const int64_t *s, int64_t n, void *x) { binary_f64(d, s, n, div_d, x); }
static const ember_pw_loops div_loops = { div_f32, div_f64, NULL, NULL };

static float tdiv_f(float a, float b, const double *p) { (void)p; return truncf(a / b); }
static double tdiv_d(double a, double b, const double *p) { (void)p; return trunc(a / b); }
static int64_t tdiv_i(int64_t a, int64_t b, const double *p) {
  (void)p;
  return b == -1 ? (int64_t)(0 - (uint64_t)a) : a / b;   /* C division truncates */
}
static void tdiv_f32(char **d, const int64_t *s, int64_t n, void *x) { binary_f32(d, s, n, tdiv_f, x); }
static void tdiv_f64(char **d, const int64_t *s, int64_t n, void *x) { binary_f64(d, s, n, tdiv_d, x); }
static void tdiv_i64(char **d, const int64_t *s, int64_t n, void *x) { binary_i64(d, s, n, tdiv_i, x); }
static const ember_pw_loops tdiv_loops = { tdiv_f32, tdiv_f64, tdiv_i64, NULL };

/* Floor division of floats as Python does it: from fmod, so that a // b and a % b
** agree (a == b * (a // b) + a % b up to rounding) and a quotient that is a whole
** number is not pushed off by the rounding of a / b. */
static double fdiv_d(double a, double b, const double *p) {
  (void)p;
  if (b == 0) return a / b;
  double m = fmod(a, b);
  double q = (a - m) / b;
  if (m != 0 && (b < 0) != (m < 0)) q -= 1;
  if (q == 0) return copysign(0.0, a / b);
  double f = floor(q);
  return q - f > 0.5 ? f + 1 : f;
}
static float fdiv_f(float a, float b, const double *p) {
  (void)p;
  if (b == 0) return a / b;
  float m = fmodf(a, b);
  float q = (a - m) / b;
  if (m != 0 && (b < 0) != (m < 0)) q -= 1;
  if (q == 0) return copysignf(0.0f, a / b);
  float f = floorf(q);
  return q - f > 0.5f ? f + 1 : f;
}
static int64_t fdiv_i(int64_t a, int64_t b, const double *p) {
  (void)p;
  if (b == -1) return (int64_t)(0 - (uint64_t)a);
  int64_t q = a / b, r = a % b;
  return r != 0 && (r < 0) != (b < 0) ? q - 1 : q;
}
static void fdiv_f32(char **d, const int64_t *s, int64_t n, void *x) { binary_f32(d, s, n, fdiv_f, x); }
static void fdiv_f64(char **d, const int64_t *s, int64_t n, void *x) { binary_f64(d, s, n, fdiv_d, x); }
static void fdiv_i64(char **d, const int64_t *s, int64_t n, void *x) { binary_i64(d, s, n, fdiv_i, x); }
static const ember_pw_loops fdiv_loops = { fdiv_f32, fdiv_f64, fdiv_i64, NULL };

ember_status ember_cpu_div(ember_call *c) {
  const char *mode = c->attr[0].present ? c->attr[0].s : "none";
  if (strcmp(mode, "trunc") == 0) return run_division(c, &tdiv_loops);
  if (strcmp(mode, "floor") == 0) return run_division(c, &fdiv_loops);
  return ember_pw_run(c, 2, &div_loops, NULL, 0);
}

ember_status ember_cpu_floor_divide(ember_call *c) {
  return run_division(c, &fdiv_loops);
}

/* The remainder takes the divisor's sign (Python's %), unlike C's fmod. */
static float rem_f(float a, float b, const double *p) {
  (void)p;
  float m = fmodf(a, b);
  return m != 0 && (b < 0) != (m < 0) ? m + b : m;
}
static double rem_d(double a, double b, const double *p) {
  (void)p;
  double m = fmod(a, b);
  return m != 0 && (b < 0) != (m < 0) ? m + b : m;
}
static int64_t rem_i(int64_t a, int64_t b, const double *p) {
  (void)p;
  if (b == -1) return 0;                    /* INT64_MIN % -1 traps on x86 */
  int64_t m = a % b;
  return m != 0 && (b < 0) != (m < 0) ? m + b : m;
}
static void rem_f32(char **d, const int64_t *s, int64_t n, void *x) { binary_f32(d, s, n, rem_f, x); }
static void rem_f64(char **d, const int64_t *s, int64_t n, void *x) { binary_f64(d, s, n, rem_d, x); }
static void rem_i64(char **d, const int64_t *s, int64_t n, void *x) { binary_i64(d, s, n, rem_i, x); }
static const ember_pw_loops rem_loops = { rem_f32, rem_f64, rem_i64, NULL };

ember_status ember_cpu_remainder(ember_call *c) {
  return run_division(c, &rem_loops);
}

/* }====== */

/* {====== pow */

static float pow_f(float a, float b, const double *p) { (void)p; return powf(a, b); }
static double pow_d(double a, double b, const double *p) { (void)p; return pow(a, b); }
/* Integer powers by squaring, wrapping; negative exponents give what the exact result
** truncates to (0, except for bases 1 and -1), as PyTorch's tensor exponents do. */
static int64_t pow_i(int64_t a, int64_t b, const double *p) {
  (void)p;
  if (b < 0) return a == 1 ? 1 : a == -1 ? ((b & 1) ? -1 : 1) : 0;
  uint64_t r = 1, x = (uint64_t)a;
  for (; b; b >>= 1) {
    if (b & 1) r *= x;
    x *= x;
  }
  return (int64_t)r;
}
static void pow_f32(char **d, const int64_t *s, int64_t n, void *x) { binary_f32(d, s, n, pow_f, x); }
static void pow_f64(char **d, const int64_t *s, int64_t n, void *x) { binary_f64(d, s, n, pow_d, x); }
static void pow_i64(char **d, const int64_t *s, int64_t n, void *x) { binary_i64(d, s, n, pow_i, x); }
static const ember_pw_loops pow_loops = { pow_f32, pow_f64, pow_i64, NULL };

/* x^2, the most common power (variances, norms), as one multiply */
static float sq_f(float a, float b, const double *p) { (void)b; (void)p; return a * a; }
static double sq_d(double a, double b, const double *p) { (void)b; (void)p; return a * a; }
static void sq_f32(char **d, const int64_t *s, int64_t n, void *x) { binary_f32(d, s, n, sq_f, x); }
static void sq_f64(char **d, const int64_t *s, int64_t n, void *x) { binary_f64(d, s, n, sq_d, x); }
static const ember_pw_loops sq_loops = { sq_f32, sq_f64, pow_i64, NULL };

ember_status ember_cpu_pow(ember_call *c) {
  const ember_tensor *e = c->in[1];
  if (e->ndim == 0 && ember_dtype_is_float(c->compute) &&
      ember_load_f64(e->dtype, ember_tensor_data(e)) == 2)
    return ember_pw_run(c, 2, &sq_loops, NULL, 0);
  return ember_pw_run(c, 2, &pow_loops, NULL, 0);
}

/* }====== */

/* {====== maximum minimum clamp */

static float max_f(float a, float b) { return a != a ? a : b != b ? b : a < b ? b : a; }
static float min_f(float a, float b) { return a != a ? a : b != b ? b : b < a ? b : a; }
static double max_d(double a, double b) { return a != a ? a : b != b ? b : a < b ? b : a; }
static double min_d(double a, double b) { return a != a ? a : b != b ? b : b < a ? b : a; }
static int64_t max_i(int64_t a, int64_t b) { return a < b ? b : a; }
static int64_t min_i(int64_t a, int64_t b) { return b < a ? b : a; }

static float maxp_f(float a, float b, const double *p) { (void)p; return max_f(a, b); }
static double maxp_d(double a, double b, const double *p) { (void)p; return max_d(a, b); }
static int64_t maxp_i(int64_t a, int64_t b, const double *p) { (void)p; return max_i(a, b); }
static void max_f32(char **d, const int64_t *s, int64_t n, void *x) { binary_f32(d, s, n, maxp_f, x); }
static void max_f64(char **d, const int64_t *s, int64_t n, void *x) { binary_f64(d, s, n, maxp_d, x); }
static void max_i64(char **d, const int64_t *s, int64_t n, void *x) { binary_i64(d, s, n, maxp_i, x); }
static const ember_pw_loops max_loops = { max_f32, max_f64, max_i64, NULL };

static float minp_f(float a, float b, const double *p) { (void)p; return min_f(a, b); }
static double minp_d(double a, double b, const double *p) { (void)p; return min_d(a, b); }
static int64_t minp_i(int64_t a, int64_t b, const double *p) { (void)p; return min_i(a, b); }
static void min_f32(char **d, const int64_t *s, int64_t n, void *x) { binary_f32(d, s, n, minp_f, x); }
static void min_f64(char **d, const int64_t *s, int64_t n, void *x) { binary_f64(d, s, n, minp_d, x); }
static void min_i64(char **d, const int64_t *s, int64_t n, void *x) { binary_i64(d, s, n, minp_i, x); }
static const ember_pw_loops min_loops = { min_f32, min_f64, min_i64, NULL };

ember_status ember_cpu_maximum(ember_call *c) { return ember_pw_run(c, 2, &max_loops, NULL, 0); }
ember_status ember_cpu_minimum(ember_call *c) { return ember_pw_run(c, 2, &min_loops, NULL, 0); }

/* clamp with both bounds: min(max(x, lo), hi), so lo > hi gives hi, as PyTorch. The
** bounds are usually Lua numbers (stride 0), which gets its own vectorisable path. */
static void clamp_f32(char **d, const int64_t *s, int64_t n, void *x) {
  (void)x;
  if (s[0] == 4 && s[1] == 4 && s[2] == 0 && s[3] == 0) {
    float *o = (float *)d[0];
    const float *a = (const float *)d[1], lo = *(const float *)d[2], hi = *(const float *)d[3];
#pragma omp simd
    for (int64_t i = 0; i < n; i++) o[i] = min_f(max_f(a[i], lo), hi);
    return;
  }
  for (int64_t i = 0; i < n; i++)
    *(float *)(d[0] + i * s[0]) = min_f(max_f(*(const float *)(d[1] + i * s[1]),
                                              *(const float *)(d[2] + i * s[2])),
                                        *(const float *)(d[3] + i * s[3]));
}
static void clamp_f64(char **d, const int64_t *s, int64_t n, void *x) {
  (void)x;
  for (int64_t i = 0; i < n; i++)
    *(double *)(d[0] + i * s[0]) = min_d(max_d(*(const double *)(d[1] + i * s[1]),
                                               *(const double *)(d[2] + i * s[2])),
                                         *(const double *)(d[3] + i * s[3]));
}
static void clamp_i64(char **d, const int64_t *s, int64_t n, void *x) {
  (void)x;
  for (int64_t i = 0; i < n; i++)
    *(int64_t *)(d[0] + i * s[0]) = min_i(max_i(*(const int64_t *)(d[1] + i * s[1]),
                                                *(const int64_t *)(d[2] + i * s[2])),
                                          *(const int64_t *)(d[3] + i * s[3]));
}
static const ember_pw_loops clamp_loops = { clamp_f32, clamp_f64, clamp_i64, NULL };

/* in[1] (min) and in[2] (max) may be absent; one bound alone is maximum or minimum. */
ember_status ember_cpu_clamp(ember_call *c) {
  ember_tensor *lo = c->nin > 1 ? c->in[1] : NULL, *hi = c->nin > 2 ? c->in[2] : NULL;
  if (lo && hi) return ember_pw_run(c, 3, &clamp_loops, NULL, 0);
  ember_tensor *in[2] = { c->in[0], lo ? lo : hi };
  ember_tensor **saved = c->in;
  c->in = in;
  ember_status st = ember_pw_run(c, 2, lo ? &max_loops : &min_loops, NULL, 0);
  c->in = saved;
  return st;
}

/* }====== */

/* {====== where */

static float where_f(uint8_t k, float a, float b, const double *p) { (void)p; return k ? a : b; }
static double where_d(uint8_t k, double a, double b, const double *p) { (void)p; return k ? a : b; }
static int64_t where_i(uint8_t k, int64_t a, int64_t b, const double *p) { (void)p; return k ? a : b; }
static void wh_f32(char **d, const int64_t *s, int64_t n, void *x) { where_f32(d, s, n, where_f, x); }
static void wh_f64(char **d, const int64_t *s, int64_t n, void *x) { where_f64(d, s, n, where_d, x); }
static void wh_i64(char **d, const int64_t *s, int64_t n, void *x) { where_i64(d, s, n, where_i, x); }
static const ember_pw_loops where_loops = { wh_f32, wh_f64, wh_i64, NULL };

ember_status ember_cpu_where(ember_call *c) {
  return ember_pw_run(c, 3, &where_loops, NULL, 0);
}

/* }====== */

/* {====== by name, for the fused kernels (elementwise.h) */

const ember_pw_loops *ember_cpu_binary_loops(const char *name, double *alpha) {
  static const struct { const char *name; const ember_pw_loops *loops; double alpha; } by_name[] = {
    {"add", &plus_loops, 1}, {"sub", &add_loops, -1}, {"mul", &mul_loops, 1},
    {"div", &div_loops, 1}, {"maximum", &max_loops, 1}, {"minimum", &min_loops, 1},
    {"pow", &pow_loops, 1}, {"square", &sq_loops, 1},
  };
  for (size_t i = 0; i < sizeof by_name / sizeof by_name[0]; i++)
    if (strcmp(name, by_name[i].name) == 0) {
      *alpha = by_name[i].alpha;
      return by_name[i].loops;
    }
  return NULL;
}

/* }====== */
