/*
** ops_elementwise.c — op table entries of the elementwise family.
** Broadcasting and type promotion follow PyTorch (infer.c); kernels are in
** host/cpu/elementwise.c. Every entry is the whole definition of its op.
*/
#include "ops.h"
#include "../cpu/elementwise.h"

#define ARITH_NATIVE (EMBER_FLOATS | EMBER_INTS_NATIVE)

/* {====== shape and dtype rules */

static ember_status infer_arith(ember_call *c) {
  return ember_infer_broadcast(c, 2, EMBER_DTYPE_NONE, ARITH_NATIVE);
}

/* true division and float functions: integer inputs give the default float dtype */
static ember_status infer_true_div(ember_call *c) {
  ember_dtype rt = ember_result_type(2, c->in);
  if (!ember_dtype_is_float(rt)) rt = EMBER_DEFAULT_FLOAT;
  if (ember_infer_broadcast(c, 2, rt, EMBER_FLOATS) != EMBER_OK) return EMBER_ERROR;
  c->compute = ember_compute_dtype(rt, EMBER_FLOATS);
  ember_cast_inputs(c, 0, 2, c->compute);
  c->out_kernel[0] = c->compute;
  return EMBER_OK;
}

static ember_status infer_unary_same(ember_call *c) {
  return ember_infer_broadcast(c, 1, EMBER_DTYPE_NONE, ARITH_NATIVE);
}

static ember_status infer_unary_float(ember_call *c) {
  ember_dtype rt = c->in[0]->dtype;
  if (!ember_dtype_is_float(rt)) rt = EMBER_DEFAULT_FLOAT;
  c->compute = ember_compute_dtype(rt, EMBER_FLOATS);
  ember_cast_inputs(c, 0, 1, c->compute);
  ember_set_out(c, 0, rt, c->in[0]->ndim, c->in[0]->shape);
  c->out_kernel[0] = c->compute;
  return EMBER_OK;
}

/* }====== */

static const ember_attr_def alpha_attr[] = { {"alpha", EMBER_ATTR_FLOAT, "1"}, {NULL, 0, NULL} };

#define BINARY_FLAGS (EMBER_OP_BOTH | EMBER_OP_INPLACE | EMBER_OP_SCALARS)
#define UNARY_FLAGS (EMBER_OP_BOTH | EMBER_OP_INPLACE)

const ember_op ember_ops_elementwise[] = {
  { .name = "add", .min_inputs = 2, .max_inputs = 2, .nout = 1, .attrs = alpha_attr,
    .infer = infer_arith, .cpu = ember_cpu_add, .flags = BINARY_FLAGS,
    .doc = "add(a, b, alpha=1) = a + alpha*b; broadcasts; promotes dtypes" },
  { .name = "sub", .min_inputs = 2, .max_inputs = 2, .nout = 1, .attrs = alpha_attr,
    .infer = infer_arith, .cpu = ember_cpu_sub, .flags = BINARY_FLAGS,
    .doc = "sub(a, b, alpha=1) = a - alpha*b; broadcasts; promotes dtypes" },
  { .name = "mul", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_arith, .cpu = ember_cpu_mul, .flags = BINARY_FLAGS,
    .doc = "mul(a, b) = a * b elementwise; broadcasts; promotes dtypes" },
  { .name = "div", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_true_div, .cpu = ember_cpu_div, .flags = BINARY_FLAGS,
    .doc = "div(a, b) = a / b, true division: integers give the default float dtype" },
  { .name = "neg", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_same, .cpu = ember_cpu_neg, .flags = UNARY_FLAGS,
    .doc = "neg(a) = -a" },
  { .name = "exp", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .infer = infer_unary_float, .cpu = ember_cpu_exp, .flags = UNARY_FLAGS,
    .doc = "exp(a); integer inputs give the default float dtype" },
  { .name = NULL },
};
