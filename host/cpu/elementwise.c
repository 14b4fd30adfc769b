/*
** elementwise.c — CPU kernels of the elementwise ops: arithmetic, math functions,
** activations, comparisons, logical ops. Each kernel is a per-dtype loop table run by
** ember_pw_run; the scalar functions are inlined into pointwise.h's loop shapes.
*/
#include <math.h>

#include "elementwise.h"
#include "pointwise.h"

/* {====== arithmetic: add sub (with alpha), mul div */

static float add_f(float a, float b, const double *p) { return a + (float)p[0] * b; }
static double add_d(double a, double b, const double *p) { return a + p[0] * b; }
static int64_t add_i(int64_t a, int64_t b, const double *p) {
  return (int64_t)((uint64_t)a + (uint64_t)((int64_t)p[0] * b));   /* wraps, as PyTorch */
}
static void add_f32(char **d, const int64_t *s, int64_t n, void *x) { binary_f32(d, s, n, add_f, x); }
static void add_f64(char **d, const int64_t *s, int64_t n, void *x) { binary_f64(d, s, n, add_d, x); }
static void add_i64(char **d, const int64_t *s, int64_t n, void *x) { binary_i64(d, s, n, add_i, x); }
static const ember_pw_loops add_loops = { add_f32, add_f64, add_i64, NULL };

ember_status ember_cpu_add(ember_call *c) {
  double alpha = c->attr[0].f;
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

static float div_f(float a, float b, const double *p) { (void)p; return a / b; }
static double div_d(double a, double b, const double *p) { (void)p; return a / b; }
static void div_f32(char **d, const int64_t *s, int64_t n, void *x) { binary_f32(d, s, n, div_f, x); }
static void div_f64(char **d, const int64_t *s, int64_t n, void *x) { binary_f64(d, s, n, div_d, x); }
static const ember_pw_loops div_loops = { div_f32, div_f64, NULL, NULL };

ember_status ember_cpu_div(ember_call *c) {
  return ember_pw_run(c, 2, &div_loops, NULL, 0);
}

/* }====== */

/* {====== unary math */

static float neg_f(float a, const double *p) { (void)p; return -a; }
static double neg_d(double a, const double *p) { (void)p; return -a; }
static int64_t neg_i(int64_t a, const double *p) { (void)p; return (int64_t)(0 - (uint64_t)a); }
static void neg_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, neg_f, x); }
static void neg_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, neg_d, x); }
static void neg_i64(char **d, const int64_t *s, int64_t n, void *x) { unary_i64(d, s, n, neg_i, x); }
static const ember_pw_loops neg_loops = { neg_f32, neg_f64, neg_i64, NULL };

ember_status ember_cpu_neg(ember_call *c) {
  return ember_pw_run(c, 1, &neg_loops, NULL, 0);
}

static float exp_f(float a, const double *p) { (void)p; return expf(a); }
static double exp_d(double a, const double *p) { (void)p; return exp(a); }
static void exp_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, exp_f, x); }
static void exp_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, exp_d, x); }
static const ember_pw_loops exp_loops = { exp_f32, exp_f64, NULL, NULL };

ember_status ember_cpu_exp(ember_call *c) {
  return ember_pw_run(c, 1, &exp_loops, NULL, 0);
}

/* }====== */
