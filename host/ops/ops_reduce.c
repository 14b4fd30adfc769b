/*
** ops_reduce.c — op table entries of the reduce family: sum mean prod max min argmax
** argmin var std norm logsumexp all any cumsum.
**
** Dims follow PyTorch: `dim` may be one dim or a list (absent = every dim), negative
** dims count from the end, keepdim leaves reduced dims as size 1. Result dtypes follow
** PyTorch too: sum/prod/cumsum of integers or bools give i64 (or the dtype attribute),
** mean/var/std/norm need a float input, logsumexp turns integers into the default
** float, max/min keep the input dtype, index outputs are i64 (1-based from Lua), all and
** any give bool (u8 for a u8 input, as PyTorch). Kernels: host/cpu/reduce*.c.
*/
#include "ops.h"
#include "autograd.h"
#include "../cpu/reduce.h"

#define REDUCE_NATIVE (EMBER_FLOATS | EMBER_INTS_NATIVE)

/* {====== shape and dtype rules */

/* Output 0 of reducing input 0 over the dims attribute k (keepdim attribute kd). */
static ember_status reduce_out(ember_call *c, int k, int kd, ember_dtype dt, uint32_t *mask) {
  const ember_tensor *x = c->in[0];
  if (ember_reduce_mask(c, k, x->ndim, mask) != EMBER_OK) return EMBER_ERROR;
  int64_t shape[EMBER_MAX_DIMS];
  int n = ember_reduce_shape(x->ndim, x->shape, *mask, (int)c->attr[kd].i, shape);
  ember_set_out(c, 0, dt, n, shape);
  return EMBER_OK;
}

/* Compute in the kernel's dtype nearest `want`; the output is converted back to it. */
static void compute_in(ember_call *c, ember_dtype want, uint32_t native) {
  c->compute = ember_compute_dtype(want, native);
  ember_cast_inputs(c, 0, 1, c->compute);
  c->out_kernel[0] = c->compute;
}

static ember_status need_float(ember_call *c, ember_dtype dt, const char *hint) {
  if (ember_dtype_is_float(dt)) return EMBER_OK;
  return ember_op_error(c, "input dtype %s is not a floating point dtype%s", ember_dtype_name(dt),
                        hint);
}

/* sum, prod: attrs dim, keepdim, dtype. Integers and bools sum in i64. */
static ember_status infer_sum(ember_call *c) {
  ember_dtype in = c->in[0]->dtype;
  ember_dtype rt = c->attr[2].present ? (ember_dtype)c->attr[2].i
                 : ember_dtype_is_float(in) ? in : EMBER_I64;
  uint32_t mask;
  if (reduce_out(c, 0, 1, rt, &mask) != EMBER_OK) return EMBER_ERROR;
  compute_in(c, rt, REDUCE_NATIVE);
  return EMBER_OK;
}

/* mean: attrs dim, keepdim, dtype. Floats only, as PyTorch (dtype may make it one). */
static ember_status infer_mean(ember_call *c) {
  ember_dtype rt = c->attr[2].present ? (ember_dtype)c->attr[2].i : c->in[0]->dtype;
  if (c->attr[2].present && !ember_dtype_is_float(rt))
    return ember_op_error(c, "dtype %s is not a floating point dtype", ember_dtype_name(rt));
  if (need_float(c, rt, "; mean needs one (convert it, or give dtype = \"f32\")") != EMBER_OK)
    return EMBER_ERROR;
  uint32_t mask;
  if (reduce_out(c, 0, 1, rt, &mask) != EMBER_OK) return EMBER_ERROR;
  compute_in(c, rt, EMBER_FLOATS);
  return EMBER_OK;
}

/* The DIM attribute 0, normalised (0 for a 0-dim input); the message names the shape. */
static ember_status one_dim(ember_call *c, int *dim) {
  uint32_t mask;
  if (ember_reduce_mask(c, 0, c->in[0]->ndim, &mask) != EMBER_OK) return EMBER_ERROR;
  for (*dim = 0; mask > 1; mask >>= 1) ++*dim;
  return EMBER_OK;
}

/* The one dim of max/min/argmax/argmin, when given: its size must not be 0. */
static ember_status extreme_dim(ember_call *c, int *dim) {
  const ember_tensor *x = c->in[0];
  char s[128];
  *dim = -1;
  if (!c->attr[0].present) {
    if (ember_tensor_numel(x) == 0)
      return ember_op_error(c, "the input of shape %s is empty, and an empty tensor has no %s; "
                            "give a dim to reduce", ember_shape_text(x->ndim, x->shape, s, sizeof s),
                            c->op->name);
    return EMBER_OK;
  }
  if (one_dim(c, dim) != EMBER_OK) return EMBER_ERROR;
  if (x->ndim > 0 && x->shape[*dim] == 0)
    return ember_op_error(c, "cannot reduce dim %d of size 0 (input of shape %s): an empty "
                          "dim has no %s", *dim + c->index_base,
                          ember_shape_text(x->ndim, x->shape, s, sizeof s), c->op->name);
  return EMBER_OK;
}

/* max, min: attrs dim, keepdim. With a dim: values and indices; without: the value. */
static ember_status infer_max(ember_call *c) {
  int dim;
  if (extreme_dim(c, &dim) != EMBER_OK) return EMBER_ERROR;
  const ember_tensor *x = c->in[0];
  uint32_t mask;
  if (reduce_out(c, 0, 1, x->dtype, &mask) != EMBER_OK) return EMBER_ERROR;
  compute_in(c, x->dtype, REDUCE_NATIVE);
  c->nout = c->attr[0].present ? 2 : 1;
  if (c->nout == 2) ember_set_out(c, 1, EMBER_I64, c->out_ndim[0], c->out_shape[0]);
  return EMBER_OK;
}

/* argmax, argmin: attrs dim, keepdim; i64 positions (in the flattened input without dim). */
static ember_status infer_argmax(ember_call *c) {
  int dim;
  if (extreme_dim(c, &dim) != EMBER_OK) return EMBER_ERROR;
  uint32_t mask;
  if (reduce_out(c, 0, 1, EMBER_I64, &mask) != EMBER_OK) return EMBER_ERROR;
  c->compute = ember_compute_dtype(c->in[0]->dtype, REDUCE_NATIVE);
  ember_cast_inputs(c, 0, 1, c->compute);
  return EMBER_OK;
}

/* var, std: attrs dim, correction, keepdim. Floats only. */
static ember_status infer_var(ember_call *c) {
  ember_dtype dt = c->in[0]->dtype;
  if (need_float(c, dt, "; var and std need one") != EMBER_OK) return EMBER_ERROR;
  uint32_t mask;
  if (reduce_out(c, 0, 2, dt, &mask) != EMBER_OK) return EMBER_ERROR;
  compute_in(c, dt, EMBER_FLOATS);
  return EMBER_OK;
}

/* norm: attrs p, dim, keepdim. Floats only. */
static ember_status infer_norm(ember_call *c) {
  ember_dtype dt = c->in[0]->dtype;
  if (need_float(c, dt, "; norm needs one") != EMBER_OK) return EMBER_ERROR;
  if (c->attr[0].f != c->attr[0].f) return ember_op_error(c, "p is NaN");
  uint32_t mask;
  if (reduce_out(c, 1, 2, dt, &mask) != EMBER_OK) return EMBER_ERROR;
  compute_in(c, dt, EMBER_FLOATS);
  return EMBER_OK;
}

/* logsumexp: attrs dim, keepdim. Integers give the default float dtype. */
static ember_status infer_logsumexp(ember_call *c) {
  ember_dtype dt = c->in[0]->dtype;
  if (!ember_dtype_is_float(dt)) dt = EMBER_DEFAULT_FLOAT;
  uint32_t mask;
  if (reduce_out(c, 0, 1, dt, &mask) != EMBER_OK) return EMBER_ERROR;
  compute_in(c, dt, EMBER_FLOATS);
  return EMBER_OK;
}

/* all, any: attrs dim, keepdim; the kernel reads f32 f64 i64 and bytes natively. */
static ember_status infer_all(ember_call *c) {
  ember_dtype in = c->in[0]->dtype;
  uint32_t mask;
  if (reduce_out(c, 0, 1, in == EMBER_U8 ? EMBER_U8 : EMBER_BOOL, &mask) != EMBER_OK)
    return EMBER_ERROR;
  c->compute = ember_compute_dtype(in, REDUCE_NATIVE | (1u << EMBER_U8) | (1u << EMBER_BOOL));
  ember_cast_inputs(c, 0, 1, c->compute);
  return EMBER_OK;
}

/* cumsum: attrs dim, dtype; same shape; integers and bools sum in i64. */
static ember_status infer_cumsum(ember_call *c) {
  const ember_tensor *x = c->in[0];
  int dim;
  if (!c->attr[0].present) return ember_op_error(c, "needs the dim to sum along");
  if (one_dim(c, &dim) != EMBER_OK) return EMBER_ERROR;
  ember_dtype rt = c->attr[1].present ? (ember_dtype)c->attr[1].i
                 : ember_dtype_is_float(x->dtype) ? x->dtype : EMBER_I64;
  ember_set_out(c, 0, rt, x->ndim, x->shape);
  compute_in(c, rt, REDUCE_NATIVE);
  return EMBER_OK;
}

/* }====== */

static const ember_attr_def sum_attrs[] = {
  {"dim", EMBER_ATTR_DIMS, "none"}, {"keepdim", EMBER_ATTR_BOOL, "false"},
  {"dtype", EMBER_ATTR_DTYPE, "none"}, {NULL, 0, NULL},
};
static const ember_attr_def dims_attrs[] = {
  {"dim", EMBER_ATTR_DIMS, "none"}, {"keepdim", EMBER_ATTR_BOOL, "false"}, {NULL, 0, NULL},
};
static const ember_attr_def dim_attrs[] = {
  {"dim", EMBER_ATTR_DIM, "none"}, {"keepdim", EMBER_ATTR_BOOL, "false"}, {NULL, 0, NULL},
};
static const ember_attr_def var_attrs[] = {
  {"dim", EMBER_ATTR_DIMS, "none"}, {"correction", EMBER_ATTR_FLOAT, "1"},
  {"keepdim", EMBER_ATTR_BOOL, "false"}, {NULL, 0, NULL},
};
static const ember_attr_def norm_attrs[] = {
  {"p", EMBER_ATTR_FLOAT, "2"}, {"dim", EMBER_ATTR_DIMS, "none"},
  {"keepdim", EMBER_ATTR_BOOL, "false"}, {NULL, 0, NULL},
};
static const ember_attr_def cumsum_attrs[] = {
  {"dim", EMBER_ATTR_DIM, NULL}, {"dtype", EMBER_ATTR_DTYPE, "none"}, {NULL, 0, NULL},
};

#define INDEX_FLAGS (EMBER_OP_BOTH | EMBER_OP_INDEX_OUT)

/* {====== backward rules */

/* sum(x, dim, keepdim): the gradient spread back over the summed dims */
static ember_status grad_sum(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  gi[0] = ember_ag_unreduce(c, g[0], 0, (int)c->attr[1].i);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

/* }====== */

const ember_op ember_ops_reduce[] = {
  { .name = "sum", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = sum_attrs,
    .infer = infer_sum, .cpu = ember_cpu_sum, .flags = EMBER_OP_BOTH, .backward = grad_sum,
    .doc = "sum(x, dim=all, keepdim=false, dtype) over one or several dims; int/bool give i64" },
  { .name = "mean", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = sum_attrs,
    .infer = infer_mean, .cpu = ember_cpu_mean, .flags = EMBER_OP_BOTH,
    .doc = "mean(x, dim=all, keepdim=false, dtype); float input (or float dtype) only" },
  { .name = "prod", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = sum_attrs,
    .infer = infer_sum, .cpu = ember_cpu_prod, .flags = EMBER_OP_BOTH,
    .doc = "prod(x, dim=all, keepdim=false, dtype); int/bool give i64; empty gives 1" },
  { .name = "max", .min_inputs = 1, .max_inputs = 1, .nout = 2, .attrs = dim_attrs,
    .infer = infer_max, .cpu = ember_cpu_max, .flags = INDEX_FLAGS,
    .doc = "max(x) -> 0-dim value; max(x, dim, keepdim=false) -> values, i64 indices; NaN wins" },
  { .name = "min", .min_inputs = 1, .max_inputs = 1, .nout = 2, .attrs = dim_attrs,
    .infer = infer_max, .cpu = ember_cpu_min, .flags = INDEX_FLAGS,
    .doc = "min(x) -> 0-dim value; min(x, dim, keepdim=false) -> values, i64 indices; NaN wins" },
  { .name = "argmax", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = dim_attrs,
    .infer = infer_argmax, .cpu = ember_cpu_argmax, .flags = INDEX_FLAGS,
    .doc = "argmax(x, dim=none, keepdim=false): i64 index of the first max (NaN wins); "
           "without dim, into the flattened x" },
  { .name = "argmin", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = dim_attrs,
    .infer = infer_argmax, .cpu = ember_cpu_argmin, .flags = INDEX_FLAGS,
    .doc = "argmin(x, dim=none, keepdim=false): i64 index of the first min (NaN wins); "
           "without dim, into the flattened x" },
  { .name = "var", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = var_attrs,
    .infer = infer_var, .cpu = ember_cpu_var, .flags = EMBER_OP_BOTH,
    .doc = "var(x, dim=all, correction=1, keepdim=false): sum((x-mean)^2)/(N-correction); floats" },
  { .name = "std", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = var_attrs,
    .infer = infer_var, .cpu = ember_cpu_std, .flags = EMBER_OP_BOTH,
    .doc = "std(x, dim=all, correction=1, keepdim=false) = sqrt(var); floats" },
  { .name = "norm", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = norm_attrs,
    .infer = infer_norm, .cpu = ember_cpu_norm, .flags = EMBER_OP_BOTH,
    .doc = "norm(x, p=2, dim=all, keepdim=false) = sum(|x|^p)^(1/p); p = inf, -inf: max, "
           "min |x|; p = 0: count of nonzeros; floats" },
  { .name = "logsumexp", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = dims_attrs,
    .infer = infer_logsumexp, .cpu = ember_cpu_logsumexp, .flags = EMBER_OP_BOTH,
    .doc = "logsumexp(x, dim=all, keepdim=false) = log(sum(exp(x))), shifted by the max" },
  { .name = "all", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = dims_attrs,
    .infer = infer_all, .cpu = ember_cpu_all, .flags = EMBER_OP_BOTH,
    .doc = "all(x, dim=all, keepdim=false): bool, true when every element is nonzero" },
  { .name = "any", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = dims_attrs,
    .infer = infer_all, .cpu = ember_cpu_any, .flags = EMBER_OP_BOTH,
    .doc = "any(x, dim=all, keepdim=false): bool, true when some element is nonzero" },
  { .name = "cumsum", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = cumsum_attrs,
    .infer = infer_cumsum, .cpu = ember_cpu_cumsum, .flags = EMBER_OP_BOTH,
    .doc = "cumsum(x, dim, dtype): running sums along dim, same shape; int/bool give i64" },
  { .name = NULL },
};
