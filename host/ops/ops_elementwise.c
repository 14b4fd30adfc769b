/*
** ops_elementwise.c — op table entries of the elementwise family.
** Broadcasting and type promotion follow PyTorch (infer.c): inputs broadcast together,
** the result dtype is torch.result_type of the inputs (Lua numbers are "wrapped
** numbers": they lift the category, never the width), integer results stay integer
** where PyTorch keeps them, float functions give the default float (f32) for integer
** and bool inputs, and comparisons and logical ops give bool. Kernels compute in f32,
** f64 or i64 (u8 for bool logic); the dispatcher casts f16/bf16/narrow ints around
** them. Kernels are in host/cpu/elementwise*.c. Every entry is the whole definition
** of its op.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"
#include "autograd.h"
#include "../cpu/elementwise.h"

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

static ember_status infer_div(ember_call *c) {
  const char *mode = c->attr[0].present ? c->attr[0].s : "none";
  if (strcmp(mode, "none") == 0) {
    if (infer_true_div(c) != EMBER_OK) return EMBER_ERROR;
    c->out_kernel[0] = c->compute;
    return EMBER_OK;
  }
  if (strcmp(mode, "trunc") != 0 && strcmp(mode, "floor") != 0)
    return ember_op_error(c, "rounding_mode must be \"none\", \"trunc\" or \"floor\", got \"%s\"", mode);
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

static ember_status infer_gelu(ember_call *c) {
  const char *a = c->attr[0].present ? c->attr[0].s : "none";
  if (strcmp(a, "none") != 0 && strcmp(a, "tanh") != 0)
    return ember_op_error(c, "approximate must be \"none\" or \"tanh\", got \"%s\"", a);
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

#define BINARY_FLAGS (EMBER_OP_BOTH | EMBER_OP_INPLACE | EMBER_OP_SCALARS)
#define UNARY_FLAGS (EMBER_OP_BOTH | EMBER_OP_INPLACE)

/* {====== backward rules (engine.c sums each gradient down to its input's shape) */

static ember_tensor *retained(ember_tensor *t) {
  ember_tensor_retain(t);
  return t;
}

/* add(a, b, alpha): da = g, db = alpha * g */
static ember_status grad_add(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  double alpha = c->attr[0].f;
  if (ember_needs_grad(c, 0)) gi[0] = retained(g[0]);
  if (ember_needs_grad(c, 1) && !(gi[1] = alpha == 1 ? retained(g[0]) : ember_ag_scale(g[0], alpha)))
    return EMBER_ERROR;
  return EMBER_OK;
}

/* mul(a, b): da = g * b, db = g * a */
static ember_status grad_mul(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  if (ember_needs_grad(c, 0) && !(gi[0] = ember_ag_mul(g[0], c->in[1]))) return EMBER_ERROR;
  if (ember_needs_grad(c, 1) && !(gi[1] = ember_ag_mul(g[0], c->in[0]))) return EMBER_ERROR;
  return EMBER_OK;
}

/* relu(a): g where a > 0 (0 at a == 0, as PyTorch); the output tells where */
static ember_status grad_relu(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *zero = ember_ag_zeros(c->out[0]->dtype, 0, NULL);
  ember_tensor *in[2] = { c->out[0], zero };
  ember_tensor *pos = zero ? ember_ag_op("gt", 2, in, NULL) : NULL;
  gi[0] = ember_ag_where(pos, g[0], zero);
  ember_tensor_release(pos);
  ember_tensor_release(zero);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

/* }====== */

const ember_op ember_ops_elementwise[] = {
  /* arithmetic */
  { .name = "add", .min_inputs = 2, .max_inputs = 2, .nout = 1, .attrs = alpha_attr,
    .infer = infer_add, .cpu = ember_cpu_add, .flags = BINARY_FLAGS, .backward = grad_add,
    .doc = "add(a, b, alpha=1) = a + alpha*b; broadcasts; promotes dtypes (bool+bool is or)" },
  { .name = "sub", .min_inputs = 2, .max_inputs = 2, .nout = 1, .attrs = alpha_attr,
    .infer = infer_sub, .cpu = ember_cpu_sub, .flags = BINARY_FLAGS,
    .doc = "sub(a, b, alpha=1) = a - alpha*b; broadcasts; promotes dtypes; no bool" },
  { .name = "mul", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_arith, .cpu = ember_cpu_mul, .flags = BINARY_FLAGS,
    .backward = grad_mul, .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1),
    .doc = "mul(a, b) = a * b elementwise; broadcasts; promotes dtypes" },
  { .name = "div", .min_inputs = 2, .max_inputs = 2, .nout = 1, .attrs = div_attrs,
    .infer = infer_div, .cpu = ember_cpu_div, .flags = BINARY_FLAGS,
    .doc = "div(a, b, rounding_mode=\"none\"|\"trunc\"|\"floor\"): true division gives a float "
           "for integers; with a rounding mode integers stay integers; broadcasts" },
  { .name = "remainder", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_int_division, .cpu = ember_cpu_remainder, .flags = BINARY_FLAGS,
    .doc = "remainder(a, b) = a - floor(a/b)*b, the sign of b (Lua's a % b); integers stay "
           "integers and fail on a zero divisor; broadcasts" },
  { .name = "floor_divide", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_int_division, .cpu = ember_cpu_floor_divide, .flags = BINARY_FLAGS,
    .doc = "floor_divide(a, b) = floor(a/b) (Lua's a // b); integers stay integers and fail "
           "on a zero divisor; broadcasts" },
  { .name = "pow", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_pow, .cpu = ember_cpu_pow, .flags = BINARY_FLAGS,
    .doc = "pow(a, b) = a^b; tensor or number on either side; int^int stays int (negative "
           "number exponents refused); broadcasts; promotes dtypes" },
  { .name = "maximum", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_arith, .cpu = ember_cpu_maximum, .flags = EMBER_OP_BOTH | EMBER_OP_SCALARS,
    .doc = "maximum(a, b) elementwise; NaN propagates; broadcasts; promotes dtypes" },
  { .name = "minimum", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_arith, .cpu = ember_cpu_minimum, .flags = EMBER_OP_BOTH | EMBER_OP_SCALARS,
    .doc = "minimum(a, b) elementwise; NaN propagates; broadcasts; promotes dtypes" },
  { .name = "clamp", .min_inputs = 1, .max_inputs = 3, .nout = 1,
    .infer = infer_clamp, .cpu = ember_cpu_clamp, .flags = BINARY_FLAGS,
    .doc = "clamp(x, min, max) = min(max(x, min), max); either bound may be nil, not both; "
           "bounds are numbers or tensors that broadcast; NaN propagates" },
  { .name = "where", .min_inputs = 3, .max_inputs = 3, .nout = 1,
    .infer = infer_where, .cpu = ember_cpu_where, .flags = EMBER_OP_FUNCTION | EMBER_OP_SCALARS,
    .doc = "where(cond, x, y): x where cond else y; cond bool; x, y tensors or numbers; "
           "all three broadcast; x and y promote" },

  /* unary, integers kept */
  { .name = "neg", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_int, .cpu = ember_cpu_neg, .flags = UNARY_FLAGS,
    .doc = "neg(a) = -a (integers wrap); not for bool" },
  { .name = "abs", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_int, .cpu = ember_cpu_abs, .flags = UNARY_FLAGS,
    .doc = "abs(a); integers stay integers (abs of the most negative wraps); not for bool" },
  { .name = "sign", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_same, .cpu = ember_cpu_sign, .flags = UNARY_FLAGS,
    .doc = "sign(a): -1, 0 or 1 in a's dtype; sign(NaN) = 0" },
  { .name = "relu", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_int, .cpu = ember_cpu_relu, .flags = UNARY_FLAGS,
    .backward = grad_relu, .saves = EMBER_SAVES_OUT(0),
    .doc = "relu(a) = max(a, 0); keeps dtype and NaN; not for bool" },
  { .name = "floor", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_int, .cpu = ember_cpu_floor, .flags = UNARY_FLAGS,
    .doc = "floor(a); keeps dtype (the identity on integers)" },
  { .name = "ceil", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_int, .cpu = ember_cpu_ceil, .flags = UNARY_FLAGS,
    .doc = "ceil(a); keeps dtype (the identity on integers)" },
  { .name = "round", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_int, .cpu = ember_cpu_round, .flags = UNARY_FLAGS,
    .doc = "round(a): to nearest, halves to even; keeps dtype (the identity on integers)" },
  { .name = "trunc", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_int, .cpu = ember_cpu_trunc, .flags = UNARY_FLAGS,
    .doc = "trunc(a): toward zero; keeps dtype (the identity on integers)" },

  /* unary float functions: integer and bool inputs give f32 */
  { .name = "sqrt", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_sqrt, .flags = UNARY_FLAGS,
    .doc = "sqrt(a); integers give the default float dtype" },
  { .name = "rsqrt", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_rsqrt, .flags = UNARY_FLAGS,
    .doc = "rsqrt(a) = 1/sqrt(a); integers give the default float dtype" },
  { .name = "exp", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_exp, .flags = UNARY_FLAGS,
    .doc = "exp(a); integers give the default float dtype" },
  { .name = "log", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_log, .flags = UNARY_FLAGS,
    .doc = "log(a), natural; integers give the default float dtype" },
  { .name = "log1p", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_log1p, .flags = UNARY_FLAGS,
    .doc = "log1p(a) = log(1 + a), accurate near 0; integers give the default float dtype" },
  { .name = "expm1", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_expm1, .flags = UNARY_FLAGS,
    .doc = "expm1(a) = exp(a) - 1, accurate near 0; integers give the default float dtype" },
  { .name = "sin", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_sin, .flags = UNARY_FLAGS,
    .doc = "sin(a), radians; integers give the default float dtype" },
  { .name = "cos", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_cos, .flags = UNARY_FLAGS,
    .doc = "cos(a), radians; integers give the default float dtype" },
  { .name = "tanh", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_tanh, .flags = UNARY_FLAGS,
    .doc = "tanh(a); integers give the default float dtype" },
  { .name = "sigmoid", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_sigmoid, .flags = UNARY_FLAGS,
    .doc = "sigmoid(a) = 1/(1 + exp(-a)); integers give the default float dtype" },
  { .name = "silu", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_silu, .flags = UNARY_FLAGS,
    .doc = "silu(a) = a * sigmoid(a); integers give the default float dtype" },
  { .name = "gelu", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = gelu_attrs,
    .infer = infer_gelu, .cpu = ember_cpu_gelu, .flags = EMBER_OP_BOTH,
    .doc = "gelu(a, approximate=\"none\"|\"tanh\"): a * Phi(a), or its tanh form; integers "
           "give the default float dtype" },
  { .name = "softplus", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = softplus_attrs,
    .infer = infer_unary_float, .cpu = ember_cpu_softplus, .flags = EMBER_OP_BOTH,
    .doc = "softplus(a, beta=1, threshold=20) = log(1 + exp(beta*a))/beta, a itself where "
           "beta*a > threshold; integers give the default float dtype" },

  /* comparisons: bool results, operands promoted together, numbers allowed */
  { .name = "eq", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_compare, .cpu = ember_cpu_eq, .flags = BINARY_FLAGS,
    .doc = "eq(a, b): a == b as bool; broadcasts; compares in the promoted dtype" },
  { .name = "ne", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_compare, .cpu = ember_cpu_ne, .flags = BINARY_FLAGS,
    .doc = "ne(a, b): a ~= b as bool (true for NaN); broadcasts; compares in the promoted dtype" },
  { .name = "lt", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_compare, .cpu = ember_cpu_lt, .flags = BINARY_FLAGS,
    .doc = "lt(a, b): a < b as bool; broadcasts; compares in the promoted dtype" },
  { .name = "le", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_compare, .cpu = ember_cpu_le, .flags = BINARY_FLAGS,
    .doc = "le(a, b): a <= b as bool; broadcasts; compares in the promoted dtype" },
  { .name = "gt", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_compare, .cpu = ember_cpu_gt, .flags = BINARY_FLAGS,
    .doc = "gt(a, b): a > b as bool; broadcasts; compares in the promoted dtype" },
  { .name = "ge", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_compare, .cpu = ember_cpu_ge, .flags = BINARY_FLAGS,
    .doc = "ge(a, b): a >= b as bool; broadcasts; compares in the promoted dtype" },

  /* logic: any dtype in (nonzero is true), bool out */
  { .name = "logical_and", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_compare, .cpu = ember_cpu_logical_and, .flags = BINARY_FLAGS,
    .doc = "logical_and(a, b): both nonzero, as bool; any dtypes; broadcasts" },
  { .name = "logical_or", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_compare, .cpu = ember_cpu_logical_or, .flags = BINARY_FLAGS,
    .doc = "logical_or(a, b): either nonzero, as bool; any dtypes; broadcasts" },
  { .name = "logical_xor", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_compare, .cpu = ember_cpu_logical_xor, .flags = BINARY_FLAGS,
    .doc = "logical_xor(a, b): exactly one nonzero, as bool; any dtypes; broadcasts" },
  { .name = "logical_not", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_logical_not, .cpu = ember_cpu_logical_not, .flags = UNARY_FLAGS,
    .doc = "logical_not(a): a == 0, as bool; any dtype" },
  { .name = "isnan", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_float_test, .cpu = ember_cpu_isnan, .flags = EMBER_OP_BOTH,
    .doc = "isnan(a) as bool; all false for integer and bool tensors" },
  { .name = "isinf", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_float_test, .cpu = ember_cpu_isinf, .flags = EMBER_OP_BOTH,
    .doc = "isinf(a): a is +inf or -inf, as bool; all false for integer and bool tensors" },
  { .name = NULL },
};
