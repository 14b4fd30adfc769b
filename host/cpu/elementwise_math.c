/*
** elementwise_math.c — CPU kernels of the unary elementwise ops: neg abs sign, rounding
** (floor ceil round trunc), sqrt rsqrt exp log log1p expm1 sin cos tanh, and the
** activations sigmoid relu gelu silu softplus.
**
** Invariants: float functions run in f32 or f64 (f16/bf16 arrive as f32, integers as
** the default float); the sign-preserving ones keep -0.0 and NaN as PyTorch does
** (relu(-0.0) = -0.0, relu(NaN) = NaN, sign(NaN) = 0, round halves to even). Integer
** loops exist only where the op keeps integers (neg abs sign relu and the rounding
** ops, which are the identity on integers).
*/
#include <math.h>
#include <string.h>

#include "elementwise.h"
#include "pointwise.h"

/* {====== sign-ish: neg abs sign relu */

static float neg_f(float a, const double *p) { (void)p; return -a; }
static double neg_d(double a, const double *p) { (void)p; return -a; }
static int64_t neg_i(int64_t a, const double *p) { (void)p; return (int64_t)(0 - (uint64_t)a); }
static void neg_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, neg_f, x); }
static void neg_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, neg_d, x); }
static void neg_i64(char **d, const int64_t *s, int64_t n, void *x) { unary_i64(d, s, n, neg_i, x); }
static const ember_pw_loops neg_loops = { neg_f32, neg_f64, neg_i64, NULL };
ember_status ember_cpu_neg(ember_call *c) { return ember_pw_run(c, 1, &neg_loops, NULL, 0); }

static float abs_f(float a, const double *p) { (void)p; return fabsf(a); }
static double abs_d(double a, const double *p) { (void)p; return fabs(a); }
/* INT64_MIN stays INT64_MIN (wraps), as in PyTorch */
static int64_t abs_i(int64_t a, const double *p) { (void)p; return a < 0 ? (int64_t)(0 - (uint64_t)a) : a; }
static void abs_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, abs_f, x); }
static void abs_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, abs_d, x); }
static void abs_i64(char **d, const int64_t *s, int64_t n, void *x) { unary_i64(d, s, n, abs_i, x); }
static const ember_pw_loops abs_loops = { abs_f32, abs_f64, abs_i64, NULL };
ember_status ember_cpu_abs(ember_call *c) { return ember_pw_run(c, 1, &abs_loops, NULL, 0); }

/* (0 < a) - (a < 0): NaN and both zeros give +0 */
static float sign_f(float a, const double *p) { (void)p; return (float)((0 < a) - (a < 0)); }
static double sign_d(double a, const double *p) { (void)p; return (double)((0 < a) - (a < 0)); }
static int64_t sign_i(int64_t a, const double *p) { (void)p; return (0 < a) - (a < 0); }
static void sign_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, sign_f, x); }
static void sign_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, sign_d, x); }
static void sign_i64(char **d, const int64_t *s, int64_t n, void *x) { unary_i64(d, s, n, sign_i, x); }
static const ember_pw_loops sign_loops = { sign_f32, sign_f64, sign_i64, NULL };
ember_status ember_cpu_sign(ember_call *c) { return ember_pw_run(c, 1, &sign_loops, NULL, 0); }

/* a < 0 ? 0 : a keeps NaN and -0.0 */
static float relu_f(float a, const double *p) { (void)p; return a < 0 ? 0.0f : a; }
static double relu_d(double a, const double *p) { (void)p; return a < 0 ? 0.0 : a; }
static int64_t relu_i(int64_t a, const double *p) { (void)p; return a < 0 ? 0 : a; }
static void relu_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, relu_f, x); }
static void relu_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, relu_d, x); }
static void relu_i64(char **d, const int64_t *s, int64_t n, void *x) { unary_i64(d, s, n, relu_i, x); }
static const ember_pw_loops relu_loops = { relu_f32, relu_f64, relu_i64, NULL };
ember_status ember_cpu_relu(ember_call *c) { return ember_pw_run(c, 1, &relu_loops, NULL, 0); }

/* }====== */

/* {====== rounding: the identity on integers */

static int64_t same_i(int64_t a, const double *p) { (void)p; return a; }
static void same_i64(char **d, const int64_t *s, int64_t n, void *x) { unary_i64(d, s, n, same_i, x); }

static float floor_f(float a, const double *p) { (void)p; return floorf(a); }
static double floor_d(double a, const double *p) { (void)p; return floor(a); }
static void floor_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, floor_f, x); }
static void floor_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, floor_d, x); }
static const ember_pw_loops floor_loops = { floor_f32, floor_f64, same_i64, NULL };
ember_status ember_cpu_floor(ember_call *c) { return ember_pw_run(c, 1, &floor_loops, NULL, 0); }

static float ceil_f(float a, const double *p) { (void)p; return ceilf(a); }
static double ceil_d(double a, const double *p) { (void)p; return ceil(a); }
static void ceil_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, ceil_f, x); }
static void ceil_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, ceil_d, x); }
static const ember_pw_loops ceil_loops = { ceil_f32, ceil_f64, same_i64, NULL };
ember_status ember_cpu_ceil(ember_call *c) { return ember_pw_run(c, 1, &ceil_loops, NULL, 0); }

/* rint rounds in the current mode, which ember never changes from nearest-even */
static float round_f(float a, const double *p) { (void)p; return rintf(a); }
static double round_d(double a, const double *p) { (void)p; return rint(a); }
static void round_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, round_f, x); }
static void round_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, round_d, x); }
static const ember_pw_loops round_loops = { round_f32, round_f64, same_i64, NULL };
ember_status ember_cpu_round(ember_call *c) { return ember_pw_run(c, 1, &round_loops, NULL, 0); }

static float trunc_f(float a, const double *p) { (void)p; return truncf(a); }
static double trunc_d(double a, const double *p) { (void)p; return trunc(a); }
static void trunc_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, trunc_f, x); }
static void trunc_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, trunc_d, x); }
static const ember_pw_loops trunc_loops = { trunc_f32, trunc_f64, same_i64, NULL };
ember_status ember_cpu_trunc(ember_call *c) { return ember_pw_run(c, 1, &trunc_loops, NULL, 0); }

/* }====== */

/* {====== float functions */

static float sqrt_f(float a, const double *p) { (void)p; return sqrtf(a); }
static double sqrt_d(double a, const double *p) { (void)p; return sqrt(a); }
static void sqrt_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, sqrt_f, x); }
static void sqrt_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, sqrt_d, x); }
static const ember_pw_loops sqrt_loops = { sqrt_f32, sqrt_f64, NULL, NULL };
ember_status ember_cpu_sqrt(ember_call *c) { return ember_pw_run(c, 1, &sqrt_loops, NULL, 0); }

static float rsqrt_f(float a, const double *p) { (void)p; return 1.0f / sqrtf(a); }
static double rsqrt_d(double a, const double *p) { (void)p; return 1.0 / sqrt(a); }
static void rsqrt_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, rsqrt_f, x); }
static void rsqrt_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, rsqrt_d, x); }
static const ember_pw_loops rsqrt_loops = { rsqrt_f32, rsqrt_f64, NULL, NULL };
ember_status ember_cpu_rsqrt(ember_call *c) { return ember_pw_run(c, 1, &rsqrt_loops, NULL, 0); }

static float exp_f(float a, const double *p) { (void)p; return expf(a); }
static double exp_d(double a, const double *p) { (void)p; return exp(a); }
static void exp_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, exp_f, x); }
static void exp_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, exp_d, x); }
static const ember_pw_loops exp_loops = { exp_f32, exp_f64, NULL, NULL };
ember_status ember_cpu_exp(ember_call *c) { return ember_pw_run(c, 1, &exp_loops, NULL, 0); }

static float log_f(float a, const double *p) { (void)p; return logf(a); }
static double log_d(double a, const double *p) { (void)p; return log(a); }
static void log_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, log_f, x); }
static void log_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, log_d, x); }
static const ember_pw_loops log_loops = { log_f32, log_f64, NULL, NULL };
ember_status ember_cpu_log(ember_call *c) { return ember_pw_run(c, 1, &log_loops, NULL, 0); }

static float log1p_f(float a, const double *p) { (void)p; return log1pf(a); }
static double log1p_d(double a, const double *p) { (void)p; return log1p(a); }
static void log1p_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, log1p_f, x); }
static void log1p_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, log1p_d, x); }
static const ember_pw_loops log1p_loops = { log1p_f32, log1p_f64, NULL, NULL };
ember_status ember_cpu_log1p(ember_call *c) { return ember_pw_run(c, 1, &log1p_loops, NULL, 0); }

static float expm1_f(float a, const double *p) { (void)p; return expm1f(a); }
static double expm1_d(double a, const double *p) { (void)p; return expm1(a); }
static void expm1_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, expm1_f, x); }
static void expm1_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, expm1_d, x); }
static const ember_pw_loops expm1_loops = { expm1_f32, expm1_f64, NULL, NULL };
ember_status ember_cpu_expm1(ember_call *c) { return ember_pw_run(c, 1, &expm1_loops, NULL, 0); }

static float sin_f(float a, const double *p) { (void)p; return sinf(a); }
static double sin_d(double a, const double *p) { (void)p; return sin(a); }
static void sin_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, sin_f, x); }
static void sin_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, sin_d, x); }
static const ember_pw_loops sin_loops = { sin_f32, sin_f64, NULL, NULL };
ember_status ember_cpu_sin(ember_call *c) { return ember_pw_run(c, 1, &sin_loops, NULL, 0); }

static float cos_f(float a, const double *p) { (void)p; return cosf(a); }
static double cos_d(double a, const double *p) { (void)p; return cos(a); }
static void cos_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, cos_f, x); }
static void cos_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, cos_d, x); }
static const ember_pw_loops cos_loops = { cos_f32, cos_f64, NULL, NULL };
ember_status ember_cpu_cos(ember_call *c) { return ember_pw_run(c, 1, &cos_loops, NULL, 0); }

static float tanh_f(float a, const double *p) { (void)p; return tanhf(a); }
static double tanh_d(double a, const double *p) { (void)p; return tanh(a); }
static void tanh_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, tanh_f, x); }
static void tanh_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, tanh_d, x); }
static const ember_pw_loops tanh_loops = { tanh_f32, tanh_f64, NULL, NULL };
ember_status ember_cpu_tanh(ember_call *c) { return ember_pw_run(c, 1, &tanh_loops, NULL, 0); }

/* }====== */

/* {====== activations */

/* 1 / (1 + e^-x): exp overflows to inf for x < -88 (f32) and the quotient is then 0 */
static float sigmoid_f(float a, const double *p) { (void)p; return 1.0f / (1.0f + expf(-a)); }
static double sigmoid_d(double a, const double *p) { (void)p; return 1.0 / (1.0 + exp(-a)); }
static void sigmoid_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, sigmoid_f, x); }
static void sigmoid_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, sigmoid_d, x); }
static const ember_pw_loops sigmoid_loops = { sigmoid_f32, sigmoid_f64, NULL, NULL };
ember_status ember_cpu_sigmoid(ember_call *c) { return ember_pw_run(c, 1, &sigmoid_loops, NULL, 0); }

static float silu_f(float a, const double *p) { (void)p; return a / (1.0f + expf(-a)); }
static double silu_d(double a, const double *p) { (void)p; return a / (1.0 + exp(-a)); }
static void silu_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, silu_f, x); }
static void silu_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, silu_d, x); }
static const ember_pw_loops silu_loops = { silu_f32, silu_f64, NULL, NULL };
ember_status ember_cpu_silu(ember_call *c) { return ember_pw_run(c, 1, &silu_loops, NULL, 0); }

/* Exact gelu is x * Phi(x) = x/2 * erfc(-x/sqrt 2); erfc keeps the small negative tail
** accurate, where 1 + erf(x/sqrt 2) would cancel. */
static float gelu_f(float a, const double *p) { (void)p; return 0.5f * a * erfcf(-a * (float)M_SQRT1_2); }
static double gelu_d(double a, const double *p) { (void)p; return 0.5 * a * erfc(-a * M_SQRT1_2); }
static void gelu_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, gelu_f, x); }
static void gelu_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, gelu_d, x); }
static const ember_pw_loops gelu_loops = { gelu_f32, gelu_f64, NULL, NULL };

/* the tanh form: x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) */
static const double gelu_k = 0.7978845608028654;   /* sqrt(2 / pi) */
static float gelut_f(float a, const double *p) {
  (void)p;
  return 0.5f * a * (1.0f + tanhf((float)gelu_k * (a + 0.044715f * a * a * a)));
}
static double gelut_d(double a, const double *p) {
  (void)p;
  return 0.5 * a * (1.0 + tanh(gelu_k * (a + 0.044715 * a * a * a)));
}
static void gelut_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, gelut_f, x); }
static void gelut_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, gelut_d, x); }
static const ember_pw_loops gelut_loops = { gelut_f32, gelut_f64, NULL, NULL };

/* attr 0 is approximate, checked by infer to be "none" or "tanh" */
ember_status ember_cpu_gelu(ember_call *c) {
  int tanh_form = c->attr[0].present && c->attr[0].s[0] == 't';
  return ember_pw_run(c, 1, tanh_form ? &gelut_loops : &gelu_loops, NULL, 0);
}

/* log(1 + e^(beta x)) / beta, and x itself past the threshold where that equals x in
** floating point (p[0] = beta, p[1] = threshold) */
static float softplus_f(float a, const double *p) {
  float b = (float)p[0], z = a * b;
  return z > (float)p[1] ? a : log1pf(expf(z)) / b;
}
static double softplus_d(double a, const double *p) {
  double z = a * p[0];
  return z > p[1] ? a : log1p(exp(z)) / p[0];
}
static void softplus_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, softplus_f, x); }
static void softplus_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, softplus_d, x); }
static const ember_pw_loops softplus_loops = { softplus_f32, softplus_f64, NULL, NULL };

ember_status ember_cpu_softplus(ember_call *c) {
  double p[2] = { c->attr[0].f, c->attr[1].f };
  return ember_pw_run(c, 1, &softplus_loops, p, 2);
}

/* }====== */

/* {====== by name, for the fused kernels (elementwise.h) */

const ember_pw_loops *ember_cpu_unary_loops(const char *name) {
  static const struct { const char *name; const ember_pw_loops *loops; } by_name[] = {
    {"neg", &neg_loops}, {"abs", &abs_loops}, {"sign", &sign_loops}, {"relu", &relu_loops},
    {"floor", &floor_loops}, {"ceil", &ceil_loops}, {"round", &round_loops},
    {"trunc", &trunc_loops}, {"sqrt", &sqrt_loops}, {"rsqrt", &rsqrt_loops}, {"exp", &exp_loops},
    {"log", &log_loops}, {"log1p", &log1p_loops}, {"expm1", &expm1_loops}, {"sin", &sin_loops},
    {"cos", &cos_loops}, {"tanh", &tanh_loops}, {"sigmoid", &sigmoid_loops},
    {"silu", &silu_loops}, {"gelu", &gelu_loops}, {"gelu_tanh", &gelut_loops},
  };
  for (size_t i = 0; i < sizeof by_name / sizeof by_name[0]; i++)
    if (strcmp(name, by_name[i].name) == 0) return by_name[i].loops;
  return NULL;
}

void ember_cpu_unary_apply(const ember_pw_loops *l, ember_dtype dt, void *data, int64_t n) {
  int64_t es = (int64_t)ember_dtype_size(dt), s[2] = { es, es };
  char *d[2] = { data, data };
  ember_pw_ctx ctx = { { 0, 0, 0, 0 } };
  (dt == EMBER_F64 ? l->f64 : l->f32)(d, s, n, &ctx);
}

/* }====== */
