/*
** ops_elementwise.c — op table entries of the elementwise family.
** Broadcasting and type promotion follow PyTorch (infer.c): inputs broadcast together,
** the result dtype is torch.result_type of the inputs (Lua numbers are "wrapped
** numbers": they lift the category, never the width), integer results stay integer
** where PyTorch keeps them, float functions give the default float (f32) for integer
** and bool inputs, and comparisons and logical ops give bool. Kernels compute in f32,
** f64 or i64 (u8 for bool logic); the dispatcher casts f16/bf16/narrow ints around
** them. Kernels are in host/cpu/elementwise*.c, except the backward kernels of the
** activations (relu_backward ...), which are here next to the rules that call them.
** Every entry is the whole definition of its op, backward rule included.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"
#include "autograd.h"
#include "../cpu/elementwise.h"
#include "../cpu/pointwise.h"
#include "../vk/vk_kernels.h"

#define ARITH_NATIVE (EMBER_FLOATS | EMBER_INTS_NATIVE)
#define LOGIC_NATIVE (ARITH_NATIVE | (1u << EMBER_U8) | (1u << EMBER_BOOL))

/* {====== messages */

/* "i64 of shape 2x3" */
static const char *describe(const ember_tensor *t, char *buf, size_t n) {
  char s[96];
  snprintf(buf, n, "%s of shape %s", ember_dtype_name(t->dtype), ember_shape_str(t, s, sizeof s));
  return buf;
}

/* "op: <what> (i64 of shape 2 and bool of shape [])" naming the inputs; for infer
** rules, which run before any cast, so these are the caller's tensors */
static ember_status inputs_error(ember_call *c, int n, const char *what) {
  char a[128], b[128];
  if (n == 1 || c->nin < 2 || c->in[1] == NULL)
    return ember_op_error(c, "%s (%s)", what, describe(c->in[0], a, sizeof a));
  return ember_op_error(c, "%s (%s and %s)", what, describe(c->in[0], a, sizeof a),
                        describe(c->in[1], b, sizeof b));
}

/* }====== */

/* {====== shape and dtype rules */

/* The broadcast shape of inputs [0, n) (absent ones skipped). Each step reads
** a copy of the running shape: ember_broadcast_shapes writes its output while it still
** reads its first operand, so the two must not share memory. */
/* Inputs [0, n) broadcast and promote; output 0 gets the broadcast shape and the
** promoted dtype (or out_dt); the kernel computes in the closest native dtype. */
static ember_status infer_bcast(ember_call *c, int n, ember_dtype out_dt, uint32_t native) {
  return ember_infer_broadcast(c, n, out_dt, native);
}

static ember_status infer_arith(ember_call *c) {
  return infer_bcast(c, 2, EMBER_DTYPE_NONE, ARITH_NATIVE);
}

/* alpha scales b; an integer result takes only an integer alpha, as in PyTorch */
static ember_status check_alpha(ember_call *c) {
  double alpha = c->attr[0].f;
  if (!ember_dtype_is_float(c->out_dtype[0]) && alpha != floor(alpha)) {
    char msg[96];
    snprintf(msg, sizeof msg, "alpha %g must be an integer when the result is %s", alpha,
             ember_dtype_name(c->out_dtype[0]));
    return inputs_error(c, 2, msg);
  }
  return EMBER_OK;
}

static ember_status infer_add(ember_call *c) {
  if (infer_arith(c) != EMBER_OK) return EMBER_ERROR;
  return check_alpha(c);
}

static ember_status infer_sub(ember_call *c) {
  if (c->in[0]->dtype == EMBER_BOOL || c->in[1]->dtype == EMBER_BOOL)
    return inputs_error(c, 2, "subtraction with a bool tensor is not supported; use logical_xor");
  if (infer_arith(c) != EMBER_OK) return EMBER_ERROR;
  return check_alpha(c);
}

/* remainder, floor_divide, div with a rounding mode: integers stay integers, bool fails */
static ember_status infer_int_division(ember_call *c) {
  if (infer_arith(c) != EMBER_OK) return EMBER_ERROR;
  if (c->out_dtype[0] == EMBER_BOOL) return inputs_error(c, 2, "not supported for bool tensors");
  return EMBER_OK;
}

/* true division: integer inputs give the default float dtype */
static ember_status infer_true_div(ember_call *c) {
  ember_dtype rt = ember_result_type(2, c->in);
  if (!ember_dtype_is_float(rt)) rt = EMBER_DEFAULT_FLOAT;
  return infer_bcast(c, 2, rt, EMBER_FLOATS) != EMBER_OK ? EMBER_ERROR : EMBER_OK;
}

/* String attributes are pointed at the literals here: autograd keeps the call for
** backward, long after the caller's string may be gone. */
static ember_status infer_div(ember_call *c) {
  const char *mode = c->attr[0].present ? c->attr[0].s : "none";
  c->attr[0].present = 1;
  if (strcmp(mode, "none") == 0) {
    c->attr[0].s = "none";
    if (infer_true_div(c) != EMBER_OK) return EMBER_ERROR;
    c->out_kernel[0] = c->compute;
    return EMBER_OK;
  }
  if (strcmp(mode, "trunc") != 0 && strcmp(mode, "floor") != 0)
    return ember_op_error(c, "rounding_mode must be \"none\", \"trunc\" or \"floor\", got \"%s\"", mode);
  c->attr[0].s = mode[0] == 't' ? "trunc" : "floor";
  return infer_int_division(c);
}

static ember_status infer_pow(ember_call *c) {
  if (infer_arith(c) != EMBER_OK) return EMBER_ERROR;
  if (c->out_dtype[0] == EMBER_BOOL) return inputs_error(c, 2, "not supported for bool tensors");
  const ember_tensor *e = c->in[1];
  /* a Lua number as exponent is PyTorch's Scalar overload, which refuses this */
  if (!ember_dtype_is_float(c->out_dtype[0]) && (e->flags & EMBER_TENSOR_WRAPPED_NUMBER) &&
      !ember_dtype_is_float(e->dtype) && ember_load_i64(e->dtype, ember_tensor_data(e)) < 0)
    return ember_op_error(c, "integers to negative integer powers are not allowed (%s base, exponent %lld)",
                          ember_dtype_name(c->in[0]->dtype),
                          (long long)ember_load_i64(e->dtype, ember_tensor_data(e)));
  return EMBER_OK;
}

/* neg abs relu floor ceil round trunc: same dtype, integers kept, bool refused */
static ember_status infer_unary_int(ember_call *c) {
  if (c->in[0]->dtype == EMBER_BOOL) {
    const char *hint = strcmp(c->op->name, "neg") == 0 ? "; use logical_not to invert a mask" : "";
    char msg[96];
    snprintf(msg, sizeof msg, "not supported for bool tensors%s", hint);
    return inputs_error(c, 1, msg);
  }
  return infer_bcast(c, 1, EMBER_DTYPE_NONE, ARITH_NATIVE);
}

/* sign: same dtype, bool included (computed as i64 and converted back) */
static ember_status infer_unary_same(ember_call *c) {
  return infer_bcast(c, 1, EMBER_DTYPE_NONE, ARITH_NATIVE);
}

/* float functions: integer and bool inputs give the default float dtype */
static ember_status infer_unary_float(ember_call *c) {
  ember_dtype rt = c->in[0]->dtype;
  if (!ember_dtype_is_float(rt)) rt = EMBER_DEFAULT_FLOAT;
  c->compute = ember_compute_dtype(rt, EMBER_FLOATS);
  ember_cast_inputs(c, 0, 1, c->compute);
  ember_set_out(c, 0, rt, c->in[0]->ndim, c->in[0]->shape);
  c->out_kernel[0] = c->compute;
  return EMBER_OK;
}

/* approximate is pointed at a literal, as rounding_mode in infer_div */
static ember_status check_approximate(ember_call *c) {
  const char *a = c->attr[0].present ? c->attr[0].s : "none";
  if (strcmp(a, "none") != 0 && strcmp(a, "tanh") != 0)
    return ember_op_error(c, "approximate must be \"none\" or \"tanh\", got \"%s\"", a);
  c->attr[0].present = 1;
  c->attr[0].s = a[0] == 't' ? "tanh" : "none";
  return EMBER_OK;
}

static ember_status infer_gelu(ember_call *c) {
  if (check_approximate(c) != EMBER_OK) return EMBER_ERROR;
  return infer_unary_float(c);
}

/* comparisons and binary logical ops: compare in the promoted dtype, bool result */
static ember_status infer_compare(ember_call *c) {
  return infer_bcast(c, 2, EMBER_BOOL, LOGIC_NATIVE);
}

static ember_status infer_logical_not(ember_call *c) {
  return infer_bcast(c, 1, EMBER_BOOL, LOGIC_NATIVE);
}

/* isnan isinf: floats are tested (f16/bf16 as f32), other dtypes are all false and
** are not cast at all */
static ember_status infer_float_test(ember_call *c) {
  ember_dtype dt = c->in[0]->dtype;
  if (ember_dtype_is_float(dt)) {
    c->compute = ember_compute_dtype(dt, EMBER_FLOATS);
    ember_cast_inputs(c, 0, 1, c->compute);
  } else {
    c->compute = dt;
  }
  ember_set_out(c, 0, EMBER_BOOL, c->in[0]->ndim, c->in[0]->shape);
  return EMBER_OK;
}

/* clamp(x, min, max): either bound may be absent, not both; bounds broadcast and take
** part in promotion (an integer tensor with a fractional bound gives a float) */
static ember_status infer_clamp(ember_call *c) {
  int lo = c->nin > 1 && c->in[1], hi = c->nin > 2 && c->in[2];
  if (!lo && !hi) {
    char a[128];
    return ember_op_error(c, "at least one of min and max must be given (input %s)",
                          describe(c->in[0], a, sizeof a));
  }
  if (infer_bcast(c, c->nin, EMBER_DTYPE_NONE, ARITH_NATIVE) != EMBER_OK)
    return EMBER_ERROR;
  if (c->out_dtype[0] == EMBER_BOOL) return inputs_error(c, 1, "not supported for bool tensors");
  return EMBER_OK;
}

/* where(cond, x, y): cond is bool; x and y promote together; all three broadcast */
static ember_status infer_where(ember_call *c) {
  ember_tensor *cond = c->in[0];
  if (cond->dtype != EMBER_BOOL) {
    char a[128];
    return ember_op_error(c, "condition must be a bool tensor, got %s (compare first, e.g. t:gt(0))",
                          describe(cond, a, sizeof a));
  }
  int nd;
  int64_t shape[EMBER_MAX_DIMS];
  if (ember_broadcast_inputs(c, 3, &nd, shape) != EMBER_OK) return EMBER_ERROR;
  ember_dtype rt = ember_result_type(2, c->in + 1);
  c->compute = ember_compute_dtype(rt, ARITH_NATIVE);
  ember_cast_inputs(c, 1, 2, c->compute);
  ember_set_out(c, 0, rt, nd, shape);
  c->out_kernel[0] = c->compute;
  return EMBER_OK;
}

/* the *_backward kernels: an output's gradient and a saved value, broadcast together */
static ember_status infer_grad_pair(ember_call *c) {
  if (infer_bcast(c, 2, EMBER_DTYPE_NONE, EMBER_FLOATS) != EMBER_OK) return EMBER_ERROR;
  if (!ember_dtype_is_float(c->out_dtype[0]))
    return inputs_error(c, 2, "takes floating point tensors");
  return EMBER_OK;
}

static ember_status infer_gelu_backward(ember_call *c) {
  if (check_approximate(c) != EMBER_OK) return EMBER_ERROR;
  return infer_grad_pair(c);
}

/* }====== */

/* {====== attributes */

static const ember_attr_def alpha_attr[] = { {"alpha", EMBER_ATTR_FLOAT, "1"}, {NULL, 0, NULL} };
static const ember_attr_def div_attrs[] = {
  {"rounding_mode", EMBER_ATTR_STR, "none"}, {NULL, 0, NULL} };
static const ember_attr_def gelu_attrs[] = {
  {"approximate", EMBER_ATTR_STR, "none"}, {NULL, 0, NULL} };
static const ember_attr_def softplus_attrs[] = {
  {"beta", EMBER_ATTR_FLOAT, "1"}, {"threshold", EMBER_ATTR_FLOAT, "20"}, {NULL, 0, NULL} };

/* }====== */

#define BINARY_FLAGS (EMBER_OP_BOTH | EMBER_OP_INPLACE | EMBER_OP_SCALARS | EMBER_OP_HOST_SCALARS)
#define UNARY_FLAGS (EMBER_OP_BOTH | EMBER_OP_INPLACE)

/* {====== backward kernels: one pass where a rule would otherwise chain several ops.
** Each takes g, the gradient of the op's output, and v, the value the rule saved (the
** op's input or its output), broadcast together; p holds the op's parameters. */

static const double sqrt_2_over_pi = 0.7978845608028654;
static const double inv_sqrt_2pi = 0.3989422804014327;      /* 1 / sqrt(2 pi) */

/* relu from its output: g where y > 0; a NaN output passes g on, as in PyTorch */
static float relub_f(float g, float y, const double *p) { (void)p; return y <= 0 ? 0.0f : g; }
static double relub_d(double g, double y, const double *p) { (void)p; return y <= 0 ? 0.0 : g; }
static void relub_f32(char **d, const int64_t *s, int64_t n, void *x) { binary_f32(d, s, n, relub_f, x); }
static void relub_f64(char **d, const int64_t *s, int64_t n, void *x) { binary_f64(d, s, n, relub_d, x); }
static const ember_pw_loops relub_loops = { relub_f32, relub_f64, NULL, NULL };
static ember_status cpu_relu_backward(ember_call *c) { return ember_pw_run(c, 2, &relub_loops, NULL, 0); }

/* tanh from its output: g * (1 - y^2) */
static float tanhb_f(float g, float y, const double *p) { (void)p; return g * (1.0f - y * y); }
static double tanhb_d(double g, double y, const double *p) { (void)p; return g * (1.0 - y * y); }
static void tanhb_f32(char **d, const int64_t *s, int64_t n, void *x) { binary_f32(d, s, n, tanhb_f, x); }
static void tanhb_f64(char **d, const int64_t *s, int64_t n, void *x) { binary_f64(d, s, n, tanhb_d, x); }
static const ember_pw_loops tanhb_loops = { tanhb_f32, tanhb_f64, NULL, NULL };
static ember_status cpu_tanh_backward(ember_call *c) { return ember_pw_run(c, 2, &tanhb_loops, NULL, 0); }

/* sigmoid from its output: g * (1 - y) * y */
static float sigb_f(float g, float y, const double *p) { (void)p; return g * (1.0f - y) * y; }
static double sigb_d(double g, double y, const double *p) { (void)p; return g * (1.0 - y) * y; }
static void sigb_f32(char **d, const int64_t *s, int64_t n, void *x) { binary_f32(d, s, n, sigb_f, x); }
static void sigb_f64(char **d, const int64_t *s, int64_t n, void *x) { binary_f64(d, s, n, sigb_d, x); }
static const ember_pw_loops sigb_loops = { sigb_f32, sigb_f64, NULL, NULL };
static ember_status cpu_sigmoid_backward(ember_call *c) { return ember_pw_run(c, 2, &sigb_loops, NULL, 0); }

/* silu from its input: with s = sigmoid(x), d/dx x s = s (1 + x (1 - s)) */
static float silub_f(float g, float x, const double *p) {
  (void)p;
  float s = 1.0f / (1.0f + expf(-x));
  return g * s * (1.0f + x * (1.0f - s));
}
static double silub_d(double g, double x, const double *p) {
  (void)p;
  double s = 1.0 / (1.0 + exp(-x));
  return g * s * (1.0 + x * (1.0 - s));
}
static void silub_f32(char **d, const int64_t *s, int64_t n, void *x) { binary_f32(d, s, n, silub_f, x); }
static void silub_f64(char **d, const int64_t *s, int64_t n, void *x) { binary_f64(d, s, n, silub_d, x); }
static const ember_pw_loops silub_loops = { silub_f32, silub_f64, NULL, NULL };
static ember_status cpu_silu_backward(ember_call *c) { return ember_pw_run(c, 2, &silub_loops, NULL, 0); }

/* exact gelu from its input: d/dx x Phi(x) = Phi(x) + x phi(x); Phi by erfc as in the
** forward kernel, so the negative tail keeps its precision */
static float gelub_f(float g, float x, const double *p) {
  (void)p;
  float cdf = 0.5f * erfcf(-x * (float)M_SQRT1_2);
  float pdf = (float)inv_sqrt_2pi * expf(-0.5f * x * x);
  return g * (cdf + x * pdf);
}
static double gelub_d(double g, double x, const double *p) {
  (void)p;
  double cdf = 0.5 * erfc(-x * M_SQRT1_2);
  double pdf = inv_sqrt_2pi * exp(-0.5 * x * x);
  return g * (cdf + x * pdf);
}
static void gelub_f32(char **d, const int64_t *s, int64_t n, void *x) { binary_f32(d, s, n, gelub_f, x); }
static void gelub_f64(char **d, const int64_t *s, int64_t n, void *x) { binary_f64(d, s, n, gelub_d, x); }
static const ember_pw_loops gelub_loops = { gelub_f32, gelub_f64, NULL, NULL };

/* tanh gelu x/2 (1 + t), t = tanh(k (x + 0.044715 x^3)), k = sqrt(2/pi):
** the derivative is (1 + t)/2 + x/2 (1 - t^2) k (1 + 3 * 0.044715 x^2) */
static float gelutb_f(float g, float x, const double *p) {
  (void)p;
  float k = (float)sqrt_2_over_pi, x2 = x * x;
  float t = tanhf(k * (x + 0.044715f * x2 * x));
  float dinner = k * (1.0f + 3.0f * 0.044715f * x2);
  return g * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * dinner);
}
static double gelutb_d(double g, double x, const double *p) {
  (void)p;
  double k = sqrt_2_over_pi, x2 = x * x;
  double t = tanh(k * (x + 0.044715 * x2 * x));
  double dinner = k * (1.0 + 3.0 * 0.044715 * x2);
  return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dinner);
}
static void gelutb_f32(char **d, const int64_t *s, int64_t n, void *x) { binary_f32(d, s, n, gelutb_f, x); }
static void gelutb_f64(char **d, const int64_t *s, int64_t n, void *x) { binary_f64(d, s, n, gelutb_d, x); }
static const ember_pw_loops gelutb_loops = { gelutb_f32, gelutb_f64, NULL, NULL };

static ember_status cpu_gelu_backward(ember_call *c) {
  int tanh_form = c->attr[0].s[0] == 't';      /* infer made it "none" or "tanh" */
  return ember_pw_run(c, 2, tanh_form ? &gelutb_loops : &gelub_loops, NULL, 0);
}

/* softplus from its input: sigmoid(beta x), and 1 past the threshold, where the
** forward is x itself (p[0] = beta, p[1] = threshold). The sigmoid form cannot
** overflow as e^z / (e^z + 1) does when a large threshold lets z grow. */
static float softplusb_f(float g, float x, const double *p) {
  float z = x * (float)p[0];
  return z > (float)p[1] ? g : g / (1.0f + expf(-z));
}
static double softplusb_d(double g, double x, const double *p) {
  double z = x * p[0];
  return z > p[1] ? g : g / (1.0 + exp(-z));
}
static void softplusb_f32(char **d, const int64_t *s, int64_t n, void *x) { binary_f32(d, s, n, softplusb_f, x); }
static void softplusb_f64(char **d, const int64_t *s, int64_t n, void *x) { binary_f64(d, s, n, softplusb_d, x); }
static const ember_pw_loops softplusb_loops = { softplusb_f32, softplusb_f64, NULL, NULL };

static ember_status cpu_softplus_backward(ember_call *c) {
  double p[2] = { c->attr[0].f, c->attr[1].f };
  return ember_pw_run(c, 2, &softplusb_loops, p, 2);
}

/* }====== */

/* {====== backward rules
** Semantics are PyTorch's, kinks and ties included. A rule may return a gradient of
** the broadcast shape or of another dtype: engine.c sums it down to its input's shape
** and converts it. Every helper passes NULL through, so a chain is checked once, and
** done() releases the temporaries a result was made from. */

static ember_tensor *retained(ember_tensor *t) {
  ember_tensor_retain(t);
  return t;
}

/* r, after releasing the temporaries it was made from */
static ember_tensor *done(ember_tensor *r, ember_tensor *t1, ember_tensor *t2) {
  ember_tensor_release(t1);
  ember_tensor_release(t2);
  return r;
}

static ember_tensor *op1(const char *name, ember_tensor *a) {
  return ember_ag_op(name, 1, &a, NULL);
}

static ember_tensor *op2(const char *name, ember_tensor *a, ember_tensor *b) {
  ember_tensor *in[2] = { a, b };
  return ember_ag_op(name, 2, in, NULL);
}

/* A Lua-number-like constant: it takes part in promotion without lifting the width. */
static ember_tensor *number(double v) {
  ember_tensor *k = ember_tensor_scalar(EMBER_F64, v);
  if (k) k->flags |= EMBER_TENSOR_WRAPPED_NUMBER;
  return k;
}

/* The value of t when it came from a Lua number (such inputs never need a gradient
** and live on the host). */
static int number_value(const ember_tensor *t, double *v) {
  if (t == NULL || !(t->flags & EMBER_TENSOR_WRAPPED_NUMBER) || t->ndim != 0) return 0;
  *v = ember_load_f64(t->dtype, ember_tensor_data(t));
  return 1;
}

/* g where mask is true (keep_where_true) or false, and zero elsewhere */
static ember_tensor *masked(ember_tensor *mask, ember_tensor *g, int keep_where_true) {
  if (mask == NULL || g == NULL) return NULL;
  ember_tensor *zero = ember_ag_zeros(g, g->dtype, 0, NULL);
  ember_tensor *r = keep_where_true ? ember_ag_where(mask, g, zero) : ember_ag_where(mask, zero, g);
  return done(r, zero, NULL);
}

/* A zero gradient for input i (PyTorch gives zeros, not none, for the step functions
** and for division with a rounding mode). */
static ember_tensor *zero_grad(const ember_call *c, int i, ember_tensor *g) {
  return ember_ag_zeros(g, g->dtype, c->in[i]->ndim, c->in[i]->shape);
}

/* The fused kernel `name` on (g, v); its attributes are the forward op's, copied. */
static ember_tensor *fused(const char *name, const ember_call *c, ember_tensor *g, ember_tensor *v) {
  const ember_op *op = ember_op_find(name);
  if (op == NULL) {
    ember_error("backward: no op named \"%s\"", name);
    return NULL;
  }
  ember_tensor *in[2] = { g, v };
  ember_call call;
  ember_call_init(&call, op, 2, in);
  int na = ember_op_attr_count(op);
  for (int k = 0; k < na; k++) call.attr[k] = c->attr[k];
  return ember_dispatch(&call) == EMBER_OK ? call.out[0] : NULL;
}

/* add(a, b, alpha): da = g, db = alpha g */
static ember_status grad_add(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  double alpha = c->attr[0].f;
  if (ember_needs_grad(c, 0)) gi[0] = retained(g[0]);
  if (ember_needs_grad(c, 1) && !(gi[1] = alpha == 1 ? retained(g[0]) : ember_ag_scale(g[0], alpha)))
    return EMBER_ERROR;
  return EMBER_OK;
}

/* sub(a, b, alpha): da = g, db = -alpha g */
static ember_status grad_sub(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  if (ember_needs_grad(c, 0)) gi[0] = retained(g[0]);
  if (ember_needs_grad(c, 1) && !(gi[1] = ember_ag_scale(g[0], -c->attr[0].f))) return EMBER_ERROR;
  return EMBER_OK;
}

/* mul(a, b): da = g b, db = g a */
static ember_status grad_mul(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  if (ember_needs_grad(c, 0) && !(gi[0] = ember_ag_mul(g[0], c->in[1]))) return EMBER_ERROR;
  if (ember_needs_grad(c, 1) && !(gi[1] = ember_ag_mul(g[0], c->in[0]))) return EMBER_ERROR;
  return EMBER_OK;
}

/* div(a, b): da = g / b, db = -(g / b) (a / b). With a rounding mode the result is a
** step function of both: zero gradients, as in PyTorch. */
static ember_status grad_div(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *a = c->in[0], *b = c->in[1];
  if (strcmp(c->attr[0].s, "none") != 0) {
    for (int i = 0; i < 2; i++)
      if (ember_needs_grad(c, i) && !(gi[i] = zero_grad(c, i, g[0]))) return EMBER_ERROR;
    return EMBER_OK;
  }
  ember_tensor *gb = ember_ag_div(g[0], b);
  if (gb == NULL) return EMBER_ERROR;
  if (ember_needs_grad(c, 1)) {
    ember_tensor *q = ember_ag_div(a, b);
    ember_tensor *t = done(ember_ag_mul(gb, q), q, NULL);
    if (!(gi[1] = done(ember_ag_neg(t), t, NULL))) {
      ember_tensor_release(gb);
      return EMBER_ERROR;
    }
  }
  if (ember_needs_grad(c, 0)) gi[0] = gb;
  else ember_tensor_release(gb);
  return EMBER_OK;
}

/* remainder(a, b) = a - floor(a / b) b: da = g, db = -g floor(a / b) */
static ember_status grad_remainder(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  if (ember_needs_grad(c, 0)) gi[0] = retained(g[0]);
  if (ember_needs_grad(c, 1)) {
    ember_tensor *q = ember_ag_op("div", 2, c->in, "rounding_mode=floor");
    ember_tensor *t = done(ember_ag_mul(g[0], q), q, NULL);
    if (!(gi[1] = done(ember_ag_neg(t), t, NULL))) return EMBER_ERROR;
  }
  return EMBER_OK;
}

/* pow(a, e), base side: g e a^(e-1), and 0 where e == 0 (even at a == 0, where the
** formula would give 0 * inf). A number exponent is folded in. */
static ember_tensor *pow_base_grad(ember_tensor *g, ember_tensor *a, ember_tensor *e) {
  double v;
  if (number_value(e, &v)) {
    if (v == 0) return ember_ag_zeros(g, g->dtype, a->ndim, a->shape);
    if (v == 1) return retained(g);
    if (v == 2) {                             /* the common square, without a pow */
      ember_tensor *t = ember_ag_mul(g, a);
      return done(ember_ag_scale(t, 2), t, NULL);
    }
    ember_tensor *k = number(v - 1);
    ember_tensor *p = done(op2("pow", a, k), k, NULL);
    ember_tensor *t = done(ember_ag_mul(g, p), p, NULL);
    return done(ember_ag_scale(t, v), t, NULL);
  }
  /* a bool or integer exponent tensor is taken as g's dtype: e - 1 must not wrap or fail */
  ember_tensor *ef = ember_dtype_is_float(e->dtype) ? retained(e) : ember_ag_to(e, g->dtype);
  ember_tensor *one = number(1), *zero = number(0);
  ember_tensor *em1 = ember_ag_sub(ef, one);
  ember_tensor *p = done(op2("pow", a, em1), em1, NULL);
  ember_tensor *ep = done(ember_ag_mul(ef, p), p, NULL);
  ember_tensor *t = done(ember_ag_mul(g, ep), ep, NULL);
  ember_tensor *z = op2("eq", ef, zero);
  ember_tensor *r = done(masked(z, t, 0), z, t);
  ember_tensor_release(one);
  ember_tensor_release(zero);
  return done(r, ef, NULL);
}

/* exponent side: g a^e log(a), and 0 where a == 0 and e >= 0 (PyTorch's choice at the
** base 0, where the limit exists). a^e is recomputed rather than saved: only a
** trainable exponent needs it, and a saved result would forbid changing it in place. */
static ember_tensor *pow_exponent_grad(ember_tensor *g, ember_tensor *a, ember_tensor *e) {
  double v;
  ember_tensor *r = op2("pow", a, e);
  if (number_value(a, &v) && v != 0) {
    ember_tensor *t = done(ember_ag_mul(g, r), r, NULL);
    return done(ember_ag_scale(t, log(v)), t, NULL);
  }
  ember_tensor *l = op1("log", a);
  ember_tensor *rl = done(ember_ag_mul(r, l), r, l);
  ember_tensor *zero = number(0);
  ember_tensor *base0 = op2("eq", a, zero), *epos = op2("ge", e, zero);
  ember_tensor *flat = done(op2("logical_and", base0, epos), base0, epos);
  ember_tensor *w = done(masked(flat, rl, 0), flat, rl);
  return done(ember_ag_mul(g, w), w, zero);
}

static ember_status grad_pow(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  if (ember_needs_grad(c, 0) && !(gi[0] = pow_base_grad(g[0], c->in[0], c->in[1]))) return EMBER_ERROR;
  if (ember_needs_grad(c, 1) && !(gi[1] = pow_exponent_grad(g[0], c->in[0], c->in[1]))) return EMBER_ERROR;
  return EMBER_OK;
}

/* maximum and minimum: g goes to the input that won; on a tie each gets half of it, and
** where either is NaN (so is the result) both get all of it, as in PyTorch 1.13. An
** input lost where lose(it, other) holds: "lt" for maximum, "gt" for minimum. */
static ember_status grad_extremum(const ember_call *c, ember_tensor *const *g, ember_tensor **gi,
                                  const char *lose) {
  ember_tensor *tie = op2("eq", c->in[0], c->in[1]);
  ember_tensor *half = ember_ag_scale(g[0], 0.5);
  ember_tensor *shared = done(ember_ag_where(tie, half, g[0]), tie, half);
  if (shared == NULL) return EMBER_ERROR;
  for (int i = 0; i < 2; i++) {
    if (!ember_needs_grad(c, i)) continue;
    ember_tensor *lost = op2(lose, c->in[i], c->in[1 - i]);
    if (!(gi[i] = done(masked(lost, shared, 0), lost, NULL))) {
      ember_tensor_release(shared);
      return EMBER_ERROR;
    }
  }
  ember_tensor_release(shared);
  return EMBER_OK;
}

static ember_status grad_maximum(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  return grad_extremum(c, g, gi, "lt");
}

static ember_status grad_minimum(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  return grad_extremum(c, g, gi, "gt");
}

/* logic(m1, m2), taking over both masks */
static ember_tensor *combine(const char *logic, ember_tensor *m1, ember_tensor *m2) {
  return done(op2(logic, m1, m2), m1, m2);
}

/* clamp(x, lo, hi), PyTorch's subgradients: x gets g where lo <= x <= hi (bounds
** included); lo gets it where x < lo and lo < hi; hi where x > hi, or everywhere
** when hi < lo (the result is then hi). Either bound may be absent. */
static ember_status grad_clamp(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *x = c->in[0];
  ember_tensor *lo = c->nin > 1 ? c->in[1] : NULL, *hi = c->nin > 2 ? c->in[2] : NULL;
  ember_tensor *m;
  if (ember_needs_grad(c, 0)) {
    if (lo && hi) m = combine("logical_and", op2("ge", x, lo), op2("le", x, hi));
    else m = lo ? op2("ge", x, lo) : op2("le", x, hi);
    if (!(gi[0] = done(masked(m, g[0], 1), m, NULL))) return EMBER_ERROR;
  }
  if (lo && ember_needs_grad(c, 1)) {
    m = op2("lt", x, lo);
    if (hi) m = combine("logical_and", m, op2("lt", lo, hi));
    if (!(gi[1] = done(masked(m, g[0], 1), m, NULL))) return EMBER_ERROR;
  }
  if (hi && ember_needs_grad(c, 2)) {
    m = op2("gt", x, hi);
    if (lo) m = combine("logical_or", m, op2("lt", hi, lo));
    if (!(gi[2] = done(masked(m, g[0], 1), m, NULL))) return EMBER_ERROR;
  }
  return EMBER_OK;
}

/* where(cond, x, y): x gets g where cond, y elsewhere; cond is not differentiable */
static ember_status grad_where(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  if (ember_needs_grad(c, 1) && !(gi[1] = masked(c->in[0], g[0], 1))) return EMBER_ERROR;
  if (ember_needs_grad(c, 2) && !(gi[2] = masked(c->in[0], g[0], 0))) return EMBER_ERROR;
  return EMBER_OK;
}

/* sign floor ceil round trunc: steps, zero gradient (PyTorch gives zeros) */
static ember_status grad_step(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  return (gi[0] = zero_grad(c, 0, g[0])) ? EMBER_OK : EMBER_ERROR;
}

static ember_status grad_neg(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  (void)c;
  return (gi[0] = ember_ag_neg(g[0])) ? EMBER_OK : EMBER_ERROR;
}

/* abs: g sign(x), so 0 at x == 0 */
static ember_status grad_abs(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *s = op1("sign", c->in[0]);
  return (gi[0] = done(ember_ag_mul(g[0], s), s, NULL)) ? EMBER_OK : EMBER_ERROR;
}

/* sqrt from its output: g / (2 y); inf at 0, as in PyTorch */
static ember_status grad_sqrt(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *y2 = ember_ag_scale(c->out[0], 2);
  return (gi[0] = done(ember_ag_div(g[0], y2), y2, NULL)) ? EMBER_OK : EMBER_ERROR;
}

/* rsqrt from its output: -g y^3 / 2 */
static ember_status grad_rsqrt(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *three = number(3);
  ember_tensor *y3 = done(op2("pow", c->out[0], three), three, NULL);
  ember_tensor *t = done(ember_ag_mul(g[0], y3), y3, NULL);
  return (gi[0] = done(ember_ag_scale(t, -0.5), t, NULL)) ? EMBER_OK : EMBER_ERROR;
}

/* exp from its output: g y */
static ember_status grad_exp(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  return (gi[0] = ember_ag_mul(g[0], c->out[0])) ? EMBER_OK : EMBER_ERROR;
}

/* expm1 from its output: g (y + 1) */
static ember_status grad_expm1(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *one = number(1);
  ember_tensor *e = done(ember_ag_add(c->out[0], one), one, NULL);
  return (gi[0] = done(ember_ag_mul(g[0], e), e, NULL)) ? EMBER_OK : EMBER_ERROR;
}

/* log: g / x */
static ember_status grad_log(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  return (gi[0] = ember_ag_div(g[0], c->in[0])) ? EMBER_OK : EMBER_ERROR;
}

/* log1p: g / (x + 1) */
static ember_status grad_log1p(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *one = number(1);
  ember_tensor *x1 = done(ember_ag_add(c->in[0], one), one, NULL);
  return (gi[0] = done(ember_ag_div(g[0], x1), x1, NULL)) ? EMBER_OK : EMBER_ERROR;
}

/* sin: g cos(x) */
static ember_status grad_sin(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *cx = op1("cos", c->in[0]);
  return (gi[0] = done(ember_ag_mul(g[0], cx), cx, NULL)) ? EMBER_OK : EMBER_ERROR;
}

/* cos: -g sin(x) */
static ember_status grad_cos(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *sx = op1("sin", c->in[0]);
  ember_tensor *t = done(ember_ag_mul(g[0], sx), sx, NULL);
  return (gi[0] = done(ember_ag_neg(t), t, NULL)) ? EMBER_OK : EMBER_ERROR;
}

/* The activations run one fused kernel each: relu, tanh and sigmoid from their output,
** silu, gelu and softplus from their input. */
static ember_status grad_relu(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  return (gi[0] = fused("relu_backward", c, g[0], c->out[0])) ? EMBER_OK : EMBER_ERROR;
}

static ember_status grad_tanh(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  return (gi[0] = fused("tanh_backward", c, g[0], c->out[0])) ? EMBER_OK : EMBER_ERROR;
}

static ember_status grad_sigmoid(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  return (gi[0] = fused("sigmoid_backward", c, g[0], c->out[0])) ? EMBER_OK : EMBER_ERROR;
}

static ember_status grad_silu(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  return (gi[0] = fused("silu_backward", c, g[0], c->in[0])) ? EMBER_OK : EMBER_ERROR;
}

static ember_status grad_gelu(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  return (gi[0] = fused("gelu_backward", c, g[0], c->in[0])) ? EMBER_OK : EMBER_ERROR;
}

static ember_status grad_softplus(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  return (gi[0] = fused("softplus_backward", c, g[0], c->in[0])) ? EMBER_OK : EMBER_ERROR;
}

/* }====== */

const ember_op ember_ops_elementwise[] = {
  /* arithmetic */
  { .name = "add", .min_inputs = 2, .max_inputs = 2, .nout = 1, .attrs = alpha_attr,
    .infer = infer_add, .cpu = ember_cpu_add, .vulkan = EMBER_VK(vk_add), .flags = BINARY_FLAGS,
    .backward = EMBER_GRAD(grad_add),
    .doc = "add(a, b, alpha=1) = a + alpha*b; broadcasts; promotes dtypes (bool+bool is or)" },
  { .name = "sub", .min_inputs = 2, .max_inputs = 2, .nout = 1, .attrs = alpha_attr,
    .infer = infer_sub, .cpu = ember_cpu_sub, .vulkan = EMBER_VK(vk_sub), .flags = BINARY_FLAGS,
    .backward = EMBER_GRAD(grad_sub),
    .doc = "sub(a, b, alpha=1) = a - alpha*b; broadcasts; promotes dtypes; no bool" },
  { .name = "mul", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_arith, .cpu = ember_cpu_mul, .vulkan = EMBER_VK(vk_mul), .flags = BINARY_FLAGS,
    .backward = EMBER_GRAD(grad_mul), .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1),
    .saves_for = { EMBER_SAVES_IN(1), EMBER_SAVES_IN(0) },
    .doc = "mul(a, b) = a * b elementwise; broadcasts; promotes dtypes" },
  { .name = "div", .min_inputs = 2, .max_inputs = 2, .nout = 1, .attrs = div_attrs,
    .infer = infer_div, .cpu = ember_cpu_div, .vulkan = EMBER_VK(vk_div), .flags = BINARY_FLAGS,
    .backward = EMBER_GRAD(grad_div), .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1),
    .saves_for = { EMBER_SAVES_IN(1), EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1) },
    .doc = "div(a, b, rounding_mode=\"none\"|\"trunc\"|\"floor\"): true division gives a float "
           "for integers; with a rounding mode integers stay integers; broadcasts" },
  { .name = "remainder", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_int_division, .cpu = ember_cpu_remainder, .vulkan = EMBER_VK(vk_remainder), .flags = BINARY_FLAGS,
    .backward = EMBER_GRAD(grad_remainder), .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1),
    .doc = "remainder(a, b) = a - floor(a/b)*b, the sign of b (Lua's a % b); integers stay "
           "integers and fail on a zero divisor; broadcasts" },
  { .name = "floor_divide", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_int_division, .cpu = ember_cpu_floor_divide, .vulkan = EMBER_VK(vk_floor_divide), .flags = BINARY_FLAGS,
    .doc = "floor_divide(a, b) = floor(a/b) (Lua's a // b); integers stay integers and fail "
           "on a zero divisor; broadcasts" },
  { .name = "pow", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_pow, .cpu = ember_cpu_pow, .vulkan = EMBER_VK(vk_pow), .flags = BINARY_FLAGS,
    .backward = EMBER_GRAD(grad_pow), .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1),
    .doc = "pow(a, b) = a^b; tensor or number on either side; int^int stays int (negative "
           "number exponents refused); broadcasts; promotes dtypes" },
  { .name = "maximum", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_arith, .cpu = ember_cpu_maximum, .vulkan = EMBER_VK(vk_maximum),
    .flags = EMBER_OP_BOTH | EMBER_OP_SCALARS | EMBER_OP_HOST_SCALARS,
    .backward = EMBER_GRAD(grad_maximum), .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1),
    .doc = "maximum(a, b) elementwise; NaN propagates; broadcasts; promotes dtypes" },
  { .name = "minimum", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_arith, .cpu = ember_cpu_minimum, .vulkan = EMBER_VK(vk_minimum),
    .flags = EMBER_OP_BOTH | EMBER_OP_SCALARS | EMBER_OP_HOST_SCALARS,
    .backward = EMBER_GRAD(grad_minimum), .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1),
    .doc = "minimum(a, b) elementwise; NaN propagates; broadcasts; promotes dtypes" },
  { .name = "clamp", .min_inputs = 1, .max_inputs = 3, .nout = 1,
    .infer = infer_clamp, .cpu = ember_cpu_clamp, .vulkan = EMBER_VK(vk_clamp), .flags = BINARY_FLAGS,
    .backward = EMBER_GRAD(grad_clamp), .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1) | EMBER_SAVES_IN(2),
    .doc = "clamp(x, min, max) = min(max(x, min), max); either bound may be nil, not both; "
           "bounds are numbers or tensors that broadcast; NaN propagates" },
  { .name = "where", .min_inputs = 3, .max_inputs = 3, .nout = 1,
    .infer = infer_where, .cpu = ember_cpu_where, .vulkan = EMBER_VK(vk_where),
    .flags = EMBER_OP_FUNCTION | EMBER_OP_SCALARS | EMBER_OP_HOST_SCALARS,
    .backward = EMBER_GRAD(grad_where), .saves = EMBER_SAVES_IN(0),
    .doc = "where(cond, x, y): x where cond else y; cond bool; x, y tensors or numbers; "
           "all three broadcast; x and y promote" },

  /* unary, integers kept */
  { .name = "neg", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_int, .cpu = ember_cpu_neg, .vulkan = EMBER_VK(vk_neg), .flags = UNARY_FLAGS,
    .backward = EMBER_GRAD(grad_neg),
    .doc = "neg(a) = -a (integers wrap); not for bool" },
  { .name = "abs", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_int, .cpu = ember_cpu_abs, .vulkan = EMBER_VK(vk_abs), .flags = UNARY_FLAGS,
    .backward = EMBER_GRAD(grad_abs), .saves = EMBER_SAVES_IN(0),
    .doc = "abs(a); integers stay integers (abs of the most negative wraps); not for bool" },
  { .name = "sign", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_same, .cpu = ember_cpu_sign, .vulkan = EMBER_VK(vk_sign), .flags = UNARY_FLAGS,
    .backward = EMBER_GRAD(grad_step),
    .doc = "sign(a): -1, 0 or 1 in a's dtype; sign(NaN) = 0" },
  { .name = "relu", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_int, .cpu = ember_cpu_relu, .vulkan = EMBER_VK(vk_relu), .flags = UNARY_FLAGS,
    .backward = EMBER_GRAD(grad_relu), .saves = EMBER_SAVES_OUT(0),
    .doc = "relu(a) = max(a, 0); keeps dtype and NaN; not for bool" },
  { .name = "floor", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_int, .cpu = ember_cpu_floor, .vulkan = EMBER_VK(vk_floor), .flags = UNARY_FLAGS,
    .backward = EMBER_GRAD(grad_step),
    .doc = "floor(a); keeps dtype (the identity on integers)" },
  { .name = "ceil", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_int, .cpu = ember_cpu_ceil, .vulkan = EMBER_VK(vk_ceil), .flags = UNARY_FLAGS,
    .backward = EMBER_GRAD(grad_step),
    .doc = "ceil(a); keeps dtype (the identity on integers)" },
  { .name = "round", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_int, .cpu = ember_cpu_round, .vulkan = EMBER_VK(vk_round), .flags = UNARY_FLAGS,
    .backward = EMBER_GRAD(grad_step),
    .doc = "round(a): to nearest, halves to even; keeps dtype (the identity on integers)" },
  { .name = "trunc", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_int, .cpu = ember_cpu_trunc, .vulkan = EMBER_VK(vk_trunc), .flags = UNARY_FLAGS,
    .backward = EMBER_GRAD(grad_step),
    .doc = "trunc(a): toward zero; keeps dtype (the identity on integers)" },

  /* unary float functions: integer and bool inputs give f32 */
  { .name = "sqrt", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_sqrt, .vulkan = EMBER_VK(vk_sqrt), .flags = UNARY_FLAGS,
    .backward = EMBER_GRAD(grad_sqrt), .saves = EMBER_SAVES_OUT(0),
    .doc = "sqrt(a); integers give the default float dtype" },
  { .name = "rsqrt", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_rsqrt, .vulkan = EMBER_VK(vk_rsqrt), .flags = UNARY_FLAGS,
    .backward = EMBER_GRAD(grad_rsqrt), .saves = EMBER_SAVES_OUT(0),
    .doc = "rsqrt(a) = 1/sqrt(a); integers give the default float dtype" },
  { .name = "exp", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_exp, .vulkan = EMBER_VK(vk_exp), .flags = UNARY_FLAGS,
    .backward = EMBER_GRAD(grad_exp), .saves = EMBER_SAVES_OUT(0),
    .doc = "exp(a); integers give the default float dtype" },
  { .name = "log", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_log, .vulkan = EMBER_VK(vk_log), .flags = UNARY_FLAGS,
    .backward = EMBER_GRAD(grad_log), .saves = EMBER_SAVES_IN(0),
    .doc = "log(a), natural; integers give the default float dtype" },
  { .name = "log1p", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_log1p, .vulkan = EMBER_VK(vk_log1p), .flags = UNARY_FLAGS,
    .backward = EMBER_GRAD(grad_log1p), .saves = EMBER_SAVES_IN(0),
    .doc = "log1p(a) = log(1 + a), accurate near 0; integers give the default float dtype" },
  { .name = "expm1", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_expm1, .vulkan = EMBER_VK(vk_expm1), .flags = UNARY_FLAGS,
    .backward = EMBER_GRAD(grad_expm1), .saves = EMBER_SAVES_OUT(0),
    .doc = "expm1(a) = exp(a) - 1, accurate near 0; integers give the default float dtype" },
  { .name = "sin", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_sin, .vulkan = EMBER_VK(vk_sin), .flags = UNARY_FLAGS,
    .backward = EMBER_GRAD(grad_sin), .saves = EMBER_SAVES_IN(0),
    .doc = "sin(a), radians; integers give the default float dtype" },
  { .name = "cos", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_cos, .vulkan = EMBER_VK(vk_cos), .flags = UNARY_FLAGS,
    .backward = EMBER_GRAD(grad_cos), .saves = EMBER_SAVES_IN(0),
    .doc = "cos(a), radians; integers give the default float dtype" },
  { .name = "tanh", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_tanh, .vulkan = EMBER_VK(vk_tanh), .flags = UNARY_FLAGS,
    .backward = EMBER_GRAD(grad_tanh), .saves = EMBER_SAVES_OUT(0),
    .doc = "tanh(a); integers give the default float dtype" },
  { .name = "sigmoid", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_sigmoid, .vulkan = EMBER_VK(vk_sigmoid), .flags = UNARY_FLAGS,
    .backward = EMBER_GRAD(grad_sigmoid), .saves = EMBER_SAVES_OUT(0),
    .doc = "sigmoid(a) = 1/(1 + exp(-a)); integers give the default float dtype" },
  { .name = "silu", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_silu, .vulkan = EMBER_VK(vk_silu), .flags = UNARY_FLAGS,
    .backward = EMBER_GRAD(grad_silu), .saves = EMBER_SAVES_IN(0),
    .doc = "silu(a) = a * sigmoid(a); integers give the default float dtype" },
  { .name = "gelu", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = gelu_attrs,
    .infer = infer_gelu, .cpu = ember_cpu_gelu, .vulkan = EMBER_VK(vk_gelu), .flags = EMBER_OP_BOTH,
    .backward = EMBER_GRAD(grad_gelu), .saves = EMBER_SAVES_IN(0),
    .doc = "gelu(a, approximate=\"none\"|\"tanh\"): a * Phi(a), or its tanh form; integers "
           "give the default float dtype" },
  { .name = "softplus", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = softplus_attrs,
    .infer = infer_unary_float, .cpu = ember_cpu_softplus, .vulkan = EMBER_VK(vk_softplus), .flags = EMBER_OP_BOTH,
    .backward = EMBER_GRAD(grad_softplus), .saves = EMBER_SAVES_IN(0),
    .doc = "softplus(a, beta=1, threshold=20) = log(1 + exp(beta*a))/beta, a itself where "
           "beta*a > threshold; integers give the default float dtype" },

  /* comparisons: bool results, operands promoted together, numbers allowed */
  { .name = "eq", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_compare, .cpu = ember_cpu_eq, .vulkan = EMBER_VK(vk_eq), .flags = BINARY_FLAGS,
    .doc = "eq(a, b): a == b as bool; broadcasts; compares in the promoted dtype" },
  { .name = "ne", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_compare, .cpu = ember_cpu_ne, .vulkan = EMBER_VK(vk_ne), .flags = BINARY_FLAGS,
    .doc = "ne(a, b): a ~= b as bool (true for NaN); broadcasts; compares in the promoted dtype" },
  { .name = "lt", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_compare, .cpu = ember_cpu_lt, .vulkan = EMBER_VK(vk_lt), .flags = BINARY_FLAGS,
    .doc = "lt(a, b): a < b as bool; broadcasts; compares in the promoted dtype" },
  { .name = "le", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_compare, .cpu = ember_cpu_le, .vulkan = EMBER_VK(vk_le), .flags = BINARY_FLAGS,
    .doc = "le(a, b): a <= b as bool; broadcasts; compares in the promoted dtype" },
  { .name = "gt", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_compare, .cpu = ember_cpu_gt, .vulkan = EMBER_VK(vk_gt), .flags = BINARY_FLAGS,
    .doc = "gt(a, b): a > b as bool; broadcasts; compares in the promoted dtype" },
  { .name = "ge", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_compare, .cpu = ember_cpu_ge, .vulkan = EMBER_VK(vk_ge), .flags = BINARY_FLAGS,
    .doc = "ge(a, b): a >= b as bool; broadcasts; compares in the promoted dtype" },

  /* logic: any dtype in (nonzero is true), bool out */
  { .name = "logical_and", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_compare, .cpu = ember_cpu_logical_and, .vulkan = EMBER_VK(vk_logical_and), .flags = BINARY_FLAGS,
    .doc = "logical_and(a, b): both nonzero, as bool; any dtypes; broadcasts" },
  { .name = "logical_or", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_compare, .cpu = ember_cpu_logical_or, .vulkan = EMBER_VK(vk_logical_or), .flags = BINARY_FLAGS,
    .doc = "logical_or(a, b): either nonzero, as bool; any dtypes; broadcasts" },
  { .name = "logical_xor", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_compare, .cpu = ember_cpu_logical_xor, .vulkan = EMBER_VK(vk_logical_xor), .flags = BINARY_FLAGS,
    .doc = "logical_xor(a, b): exactly one nonzero, as bool; any dtypes; broadcasts" },
  { .name = "logical_not", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_logical_not, .cpu = ember_cpu_logical_not, .vulkan = EMBER_VK(vk_logical_not), .flags = UNARY_FLAGS,
    .doc = "logical_not(a): a == 0, as bool; any dtype" },
  { .name = "isnan", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_float_test, .cpu = ember_cpu_isnan, .vulkan = EMBER_VK(vk_isnan), .flags = EMBER_OP_BOTH,
    .doc = "isnan(a) as bool; all false for integer and bool tensors" },
  { .name = "isinf", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_float_test, .cpu = ember_cpu_isinf, .vulkan = EMBER_VK(vk_isinf), .flags = EMBER_OP_BOTH,
    .doc = "isinf(a): a is +inf or -inf, as bool; all false for integer and bool tensors" },

  /* backward kernels: dispatched by the rules above, not bound in Lua; (g, v) is the
  ** gradient of the op's output and the value the rule saved */
  { .name = "relu_backward", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_grad_pair, .cpu = cpu_relu_backward, .vulkan = EMBER_VK(vk_relu_backward),
    .doc = "relu_backward(g, y): g where relu's output y > 0 (or NaN), else 0; broadcasts" },
  { .name = "tanh_backward", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_grad_pair, .cpu = cpu_tanh_backward, .vulkan = EMBER_VK(vk_tanh_backward),
    .doc = "tanh_backward(g, y) = g * (1 - y^2), y tanh's output; broadcasts" },
  { .name = "sigmoid_backward", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_grad_pair, .cpu = cpu_sigmoid_backward, .vulkan = EMBER_VK(vk_sigmoid_backward),
    .doc = "sigmoid_backward(g, y) = g * (1 - y) * y, y sigmoid's output; broadcasts" },
  { .name = "silu_backward", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_grad_pair, .cpu = cpu_silu_backward, .vulkan = EMBER_VK(vk_silu_backward),
    .doc = "silu_backward(g, x) = g * s * (1 + x * (1 - s)), s = sigmoid(x); broadcasts" },
  { .name = "gelu_backward", .min_inputs = 2, .max_inputs = 2, .nout = 1, .attrs = gelu_attrs,
    .infer = infer_gelu_backward, .cpu = cpu_gelu_backward, .vulkan = EMBER_VK(vk_gelu_backward),
    .doc = "gelu_backward(g, x, approximate=\"none\"|\"tanh\"): g times gelu's derivative at x; "
           "broadcasts" },
  { .name = "softplus_backward", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .attrs = softplus_attrs, .infer = infer_grad_pair, .cpu = cpu_softplus_backward, .vulkan = EMBER_VK(vk_softplus_backward),
    .doc = "softplus_backward(g, x, beta=1, threshold=20) = g * sigmoid(beta*x), g itself "
           "where beta*x > threshold; broadcasts" },
  { .name = NULL },
};
