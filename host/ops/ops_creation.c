/*
** ops_creation.c — op table entries of the creation family: tensors made from a
** size (zeros, ones, full, empty, rand, randn, randint), from a rule (arange,
** linspace, eye), or from another tensor's shape and dtype (the *_like forms, which
** never read the input's values).
**
** Defaults follow PyTorch: the default float dtype (f32) unless the numbers say
** otherwise (arange of integers and full of an integer give i64; randint gives i64);
** the *_like forms take the input's dtype unless given one. A number is "an integer"
** as a Python scalar would be: a Lua integer, not a Lua float (ember_creation_is_integral).
** Random ops draw from the Philox stream (host/core/rng.c), so `ember.manual_seed(n)`
** fixes them, element by element. Kernels are in host/cpu/creation.c.
*/
#include <math.h>
#include <stdio.h>

#include "ops.h"
#include "../cpu/creation.h"
#include "../vk/vk_kernels.h"

/* The most elements a creation op makes: storage stops at 2^48 bytes anyway, and
** the bound keeps every size product below int64 overflow. */
#define MAX_NUMEL ((int64_t)1 << 48)

/* {====== shape and dtype */

/* The output shape: the input's for *_like, else the size attribute, checked. */
static ember_status out_shape(ember_call *c, int *ndim, int64_t *shape) {
  if (c->nin > 0) {
    *ndim = c->in[0]->ndim;
    for (int i = 0; i < *ndim; i++) shape[i] = c->in[0]->shape[i];
    return EMBER_OK;
  }
  const ember_attr *s = ember_creation_attr(c, "size");
  if (!s->present)
    return ember_op_error(c, "size is required (ember.%s(2, 3) or ember.%s({2, 3}))",
                          c->op->name, c->op->name);
  if (s->n > EMBER_MAX_DIMS)
    return ember_op_error(c, "size has %d dims (at most %d)", s->n, EMBER_MAX_DIMS);
  int64_t numel = 1;
  for (int i = 0; i < s->n; i++) {
    if (s->v[i] < 0) {
      char buf[160];
      return ember_op_error(c, "size %s has a negative dimension (%lld in dim %d)",
                            ember_shape_text(s->n, s->v, buf, sizeof buf), (long long)s->v[i],
                            i + 1);
    }
    if (s->v[i] > 0 && numel > MAX_NUMEL / s->v[i]) {
      char buf[160];
      return ember_op_error(c, "size %s is too large", ember_shape_text(s->n, s->v, buf, sizeof buf));
    }
    numel *= s->v[i];
    shape[i] = s->v[i];
  }
  *ndim = s->n;
  return EMBER_OK;
}

/* The dtype attribute if given, else the input's (*_like), else dflt. */
static ember_dtype out_dtype(const ember_call *c, ember_dtype dflt) {
  const ember_attr *d = ember_creation_attr(c, "dtype");
  if (d && d->present) return (ember_dtype)d->i;
  return c->nin > 0 ? c->in[0]->dtype : dflt;
}

static ember_status set_output(ember_call *c, ember_dtype dt) {
  int ndim = 0;
  int64_t shape[EMBER_MAX_DIMS];
  if (out_shape(c, &ndim, shape) != EMBER_OK) return EMBER_ERROR;
  ember_set_out(c, 0, dt, ndim, shape);
  c->compute = dt;
  return EMBER_OK;
}

/* The integer range a dtype holds; 0 for float dtypes. */
static int int_limits(ember_dtype dt, int64_t *lo, int64_t *hi) {
  switch (dt) {
  case EMBER_I8: *lo = INT8_MIN; *hi = INT8_MAX; return 1;
  case EMBER_I16: *lo = INT16_MIN; *hi = INT16_MAX; return 1;
  case EMBER_I32: *lo = INT32_MIN; *hi = INT32_MAX; return 1;
  case EMBER_I64: *lo = INT64_MIN; *hi = INT64_MAX; return 1;
  case EMBER_U8: *lo = 0; *hi = UINT8_MAX; return 1;
  case EMBER_BOOL: *lo = 0; *hi = 1; return 1;
  default: return 0;
  }
}

/* Largest finite value of a float dtype. */
static double float_max(ember_dtype dt) {
  switch (dt) {
  case EMBER_F16: return 65504.0;
  case EMBER_BF16: return 3.3895313892515355e38;
  case EMBER_F32: return 3.4028234663852886e38;
  default: return INFINITY;
  }
}

/* }====== */

/* {====== rules */

static ember_status infer_filled(ember_call *c) {
  return set_output(c, out_dtype(c, EMBER_DEFAULT_FLOAT));
}

/* PyTorch's check: the value must fit the dtype (u8 also takes -255..-1, which wrap,
** as PyTorch's does); bool takes anything; floats take inf and nan, not overflow. */
static ember_status infer_full(ember_call *c) {
  const ember_attr *v = ember_creation_attr(c, "fill_value");
  if (!v->present)
    return ember_op_error(c, "fill_value is required (ember.full({2, 3}, 7): with an integer "
                             "value, give the size as a table)");
  int integral = ember_creation_is_integral(v);
  ember_dtype dt = out_dtype(c, integral ? EMBER_I64 : EMBER_DEFAULT_FLOAT);
  if (set_output(c, dt) != EMBER_OK) return EMBER_ERROR;
  int64_t lo, hi;
  int bad = 0;
  if (dt == EMBER_BOOL) {
    bad = 0;
  } else if (int_limits(dt, &lo, &hi)) {
    if (dt == EMBER_U8) lo = -UINT8_MAX;
    if (integral) bad = v->i < lo || v->i > hi;
    else bad = !(v->f >= (double)lo && v->f <= (double)hi);   /* nan too */
  } else {
    bad = isfinite(v->f) && fabs(v->f) > float_max(dt);
  }
  if (bad) {
    if (integral)
      return ember_op_error(c, "fill_value %lld does not fit in %s", (long long)v->i,
                            ember_dtype_name(dt));
    return ember_op_error(c, "fill_value %g does not fit in %s", v->f, ember_dtype_name(dt));
  }
  return EMBER_OK;
}

/* Number of elements of arange, PyTorch's way: exact integer arithmetic when all
** three numbers are integers (and small enough), else ceil((end - start) / step). */
static int small(int64_t v) {
  return v > -((int64_t)1 << 62) && v < ((int64_t)1 << 62);
}

static double arange_count(const ember_range *r) {
  if (r->integral && small(r->istart) && small(r->iend) && small(r->istep)) {
    int64_t sgn = r->istep > 0 ? 1 : -1;
    return (double)((r->iend - r->istart + r->istep - sgn) / r->istep);
  }
  return ceil((r->end - r->start) / r->step);
}

static ember_status infer_arange(ember_call *c) {
  ember_range r;
  ember_creation_range(c, &r);
  if (!isfinite(r.start) || !isfinite(r.end))
    return ember_op_error(c, "range %g to %g must be finite", r.start, r.end);
  if (!(r.step > 0 || r.step < 0)) return ember_op_error(c, "step must be nonzero (got %g)", r.step);
  if ((r.step > 0 && r.end < r.start) || (r.step < 0 && r.end > r.start))
    return ember_op_error(c, "range %g to %g goes against the sign of step %g", r.start, r.end,
                          r.step);
  double n = arange_count(&r);
  if (n > (double)MAX_NUMEL)
    return ember_op_error(c, "range %g to %g by %g has too many elements (%.0f)", r.start, r.end,
                          r.step, n);
  ember_dtype dt = out_dtype(c, r.integral ? EMBER_I64 : EMBER_DEFAULT_FLOAT);
  int64_t shape[1] = { (int64_t)n };
  ember_set_out(c, 0, dt, 1, shape);
  c->compute = dt;
  return EMBER_OK;
}

static ember_status infer_linspace(ember_call *c) {
  int64_t steps = ember_creation_attr(c, "steps")->i;
  if (steps < 0) return ember_op_error(c, "steps must be non-negative (got %lld)", (long long)steps);
  if (steps > MAX_NUMEL) return ember_op_error(c, "steps %lld is too large", (long long)steps);
  ember_dtype dt = out_dtype(c, EMBER_DEFAULT_FLOAT);
  ember_set_out(c, 0, dt, 1, &steps);
  c->compute = dt;
  return EMBER_OK;
}

static ember_status infer_eye(ember_call *c) {
  const ember_attr *m = ember_creation_attr(c, "m");
  int64_t shape[2] = { ember_creation_attr(c, "n")->i, 0 };
  shape[1] = m->present ? m->i : shape[0];
  if (shape[0] < 0 || shape[1] < 0)
    return ember_op_error(c, "sizes must be non-negative (got n = %lld, m = %lld)",
                          (long long)shape[0], (long long)shape[1]);
  if (shape[1] > 0 && shape[0] > MAX_NUMEL / shape[1])
    return ember_op_error(c, "%lld x %lld is too large", (long long)shape[0], (long long)shape[1]);
  ember_dtype dt = out_dtype(c, EMBER_DEFAULT_FLOAT);
  ember_set_out(c, 0, dt, 2, shape);
  c->compute = dt;
  return EMBER_OK;
}

static ember_status infer_random_float(ember_call *c) {
  ember_dtype dt = out_dtype(c, EMBER_DEFAULT_FLOAT);
  if (!ember_dtype_is_float(dt))
    return ember_op_error(c, "dtype %s is not a floating-point dtype (use randint for integers)",
                          ember_dtype_name(dt));
  return set_output(c, dt);
}

/* [low, high) must be non-empty and every value in it must be exact in the dtype. */
static ember_status infer_randint(ember_call *c) {
  if (!ember_creation_attr(c, "low")->present)
    return ember_op_error(c, "%s is required", c->nin > 0 ? "high" : "low");
  if (c->nin == 0 && !ember_creation_attr(c, "high")->present)
    return ember_op_error(c, "high is required (ember.randint(low, high, size))");
  int64_t low, high;
  ember_creation_int_bounds(c, &low, &high);
  if (low >= high)
    return ember_op_error(c, "low (%lld) must be less than high (%lld)", (long long)low,
                          (long long)high);
  ember_dtype dt = out_dtype(c, EMBER_I64);
  int64_t lo, hi;
  if (!int_limits(dt, &lo, &hi)) {
    static const int digits[] = { [EMBER_F32] = 24, [EMBER_F64] = 53, [EMBER_F16] = 11, [EMBER_BF16] = 8 };
    hi = (int64_t)1 << digits[dt];
    lo = -hi;
  }
  if (low < lo || high - 1 > hi)
    return ember_op_error(c, "range [%lld, %lld) does not fit in %s", (long long)low,
                          (long long)high, ember_dtype_name(dt));
  return set_output(c, dt);
}

/* }====== */

/* {====== the table */

static const ember_attr_def sized_attrs[] = {
  {"size", EMBER_ATTR_SIZE, NULL}, {"dtype", EMBER_ATTR_DTYPE, "f32"}, {NULL, 0, NULL} };
static const ember_attr_def full_attrs[] = {
  {"size", EMBER_ATTR_SIZE, NULL}, {"fill_value", EMBER_ATTR_FLOAT, NULL},
  {"dtype", EMBER_ATTR_DTYPE, "none"}, {NULL, 0, NULL} };
static const ember_attr_def arange_attrs[] = {
  {"start", EMBER_ATTR_FLOAT, NULL}, {"end", EMBER_ATTR_FLOAT, "none"},
  {"step", EMBER_ATTR_FLOAT, "1"}, {"dtype", EMBER_ATTR_DTYPE, "none"}, {NULL, 0, NULL} };
static const ember_attr_def linspace_attrs[] = {
  {"start", EMBER_ATTR_FLOAT, NULL}, {"end", EMBER_ATTR_FLOAT, NULL},
  {"steps", EMBER_ATTR_INT, NULL}, {"dtype", EMBER_ATTR_DTYPE, "f32"}, {NULL, 0, NULL} };
static const ember_attr_def eye_attrs[] = {
  {"n", EMBER_ATTR_INT, NULL}, {"m", EMBER_ATTR_INT, "none"},
  {"dtype", EMBER_ATTR_DTYPE, "f32"}, {NULL, 0, NULL} };
static const ember_attr_def randint_attrs[] = {
  {"low", EMBER_ATTR_INT, NULL}, {"high", EMBER_ATTR_INT, NULL},
  {"size", EMBER_ATTR_SIZE, NULL}, {"dtype", EMBER_ATTR_DTYPE, "i64"}, {NULL, 0, NULL} };
static const ember_attr_def like_attrs[] = { {"dtype", EMBER_ATTR_DTYPE, "none"}, {NULL, 0, NULL} };
static const ember_attr_def full_like_attrs[] = {
  {"fill_value", EMBER_ATTR_FLOAT, NULL}, {"dtype", EMBER_ATTR_DTYPE, "none"}, {NULL, 0, NULL} };
static const ember_attr_def randint_like_attrs[] = {
  {"low", EMBER_ATTR_INT, NULL}, {"high", EMBER_ATTR_INT, "none"},
  {"dtype", EMBER_ATTR_DTYPE, "none"}, {NULL, 0, NULL} };

#define CREATION (EMBER_OP_FUNCTION | EMBER_OP_CREATION)

const ember_op ember_ops_creation[] = {
  { .name = "zeros", .nout = 1, .attrs = sized_attrs, .infer = infer_filled,
    .cpu = ember_cpu_zeros, .vulkan = EMBER_VK(vk_zeros), .flags = CREATION,
    .doc = "zeros(size..., dtype=f32): a tensor of zeros; size as integers or a table" },
  { .name = "ones", .nout = 1, .attrs = sized_attrs, .infer = infer_filled,
    .cpu = ember_cpu_ones, .vulkan = EMBER_VK(vk_ones), .flags = CREATION,
    .doc = "ones(size..., dtype=f32): a tensor of ones" },
  { .name = "full", .nout = 1, .attrs = full_attrs, .infer = infer_full,
    .cpu = ember_cpu_full, .vulkan = EMBER_VK(vk_full), .flags = CREATION,
    .doc = "full(size, fill_value, dtype?): every element fill_value; dtype i64 for an integer "
           "value, else f32; the value must fit the dtype" },
  { .name = "empty", .nout = 1, .attrs = sized_attrs, .infer = infer_filled,
    .cpu = ember_cpu_empty, .vulkan = EMBER_VK(vk_empty), .flags = CREATION,
    .doc = "empty(size..., dtype=f32): uninitialised memory" },
  { .name = "arange", .nout = 1, .attrs = arange_attrs, .infer = infer_arange,
    .cpu = ember_cpu_arange, .vulkan = EMBER_VK(vk_arange), .flags = CREATION,
    .doc = "arange(end) or arange(start, end, step=1): start, start+step, ... below end (1-D); "
           "i64 when all are integers, else f32" },
  { .name = "linspace", .nout = 1, .attrs = linspace_attrs, .infer = infer_linspace,
    .cpu = ember_cpu_linspace, .vulkan = EMBER_VK(vk_linspace), .flags = CREATION,
    .doc = "linspace(start, end, steps, dtype=f32): steps evenly spaced values from start to "
           "end inclusive (1-D)" },
  { .name = "eye", .nout = 1, .attrs = eye_attrs, .infer = infer_eye,
    .cpu = ember_cpu_eye, .vulkan = EMBER_VK(vk_eye), .flags = CREATION,
    .doc = "eye(n, m=n, dtype=f32): n x m with ones on the diagonal" },
  { .name = "rand", .nout = 1, .attrs = sized_attrs, .infer = infer_random_float,
    .cpu = ember_cpu_rand, .vulkan = EMBER_VK(vk_rand), .flags = CREATION | EMBER_OP_RANDOM,
    .doc = "rand(size..., dtype=f32): uniform in [0, 1) from the Philox stream; float dtypes" },
  { .name = "randn", .nout = 1, .attrs = sized_attrs, .infer = infer_random_float,
    .cpu = ember_cpu_randn, .vulkan = EMBER_VK(vk_randn), .flags = CREATION | EMBER_OP_RANDOM,
    .doc = "randn(size..., dtype=f32): standard normal (Box-Muller on the Philox stream); "
           "float dtypes" },
  { .name = "randint", .nout = 1, .attrs = randint_attrs, .infer = infer_randint,
    .cpu = ember_cpu_randint, .vulkan = EMBER_VK(vk_randint), .flags = CREATION | EMBER_OP_RANDOM,
    .doc = "randint(low, high, size..., dtype=i64): uniform integers in [low, high)" },
  { .name = "zeros_like", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = like_attrs,
    .infer = infer_filled, .cpu = ember_cpu_zeros, .vulkan = EMBER_VK(vk_zeros), .flags = EMBER_OP_FUNCTION,
    .doc = "zeros_like(t, dtype=t's): zeros of t's shape" },
  { .name = "ones_like", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = like_attrs,
    .infer = infer_filled, .cpu = ember_cpu_ones, .vulkan = EMBER_VK(vk_ones), .flags = EMBER_OP_FUNCTION,
    .doc = "ones_like(t, dtype=t's): ones of t's shape" },
  { .name = "full_like", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = full_like_attrs,
    .infer = infer_full, .cpu = ember_cpu_full, .vulkan = EMBER_VK(vk_full), .flags = EMBER_OP_FUNCTION,
    .doc = "full_like(t, fill_value, dtype=t's): fill_value in t's shape" },
  { .name = "empty_like", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = like_attrs,
    .infer = infer_filled, .cpu = ember_cpu_empty, .vulkan = EMBER_VK(vk_empty), .flags = EMBER_OP_FUNCTION,
    .doc = "empty_like(t, dtype=t's): uninitialised, t's shape" },
  { .name = "rand_like", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = like_attrs,
    .infer = infer_random_float, .cpu = ember_cpu_rand, .vulkan = EMBER_VK(vk_rand),
    .flags = EMBER_OP_FUNCTION | EMBER_OP_RANDOM,
    .doc = "rand_like(t, dtype=t's): uniform [0, 1) in t's shape; float dtypes" },
  { .name = "randn_like", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = like_attrs,
    .infer = infer_random_float, .cpu = ember_cpu_randn, .vulkan = EMBER_VK(vk_randn),
    .flags = EMBER_OP_FUNCTION | EMBER_OP_RANDOM,
    .doc = "randn_like(t, dtype=t's): standard normal in t's shape; float dtypes" },
  { .name = "randint_like", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .attrs = randint_like_attrs, .infer = infer_randint, .cpu = ember_cpu_randint, .vulkan = EMBER_VK(vk_randint),
    .flags = EMBER_OP_FUNCTION | EMBER_OP_RANDOM,
    .doc = "randint_like(t, high) or randint_like(t, low, high, dtype=t's): uniform integers "
           "in [low, high) in t's shape" },
  { .name = NULL },
};

/* }====== */
