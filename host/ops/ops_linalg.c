/*
** ops_linalg.c — op table entries of the linalg family: matmul, mm, bmm, addmm, outer,
** dot. Shapes follow PyTorch: matmul treats a 1-D left operand as a row and a 1-D
** right operand as a column and drops that dim from the result, and broadcasts batch
** dims of operands with 3 or more dims. Like PyTorch, products want both operands in
** one dtype (no promotion); f16/bf16 are computed in f32, small integer types in i64.
** Kernels are in host/cpu/linalg.c.
*/
#include "ops.h"
#include "autograd.h"
#include "../cpu/linalg.h"

#define PRODUCT_NATIVE (EMBER_FLOATS | EMBER_INTS_NATIVE)

/* {====== shape and dtype rules */

static ember_status shape_error(ember_call *c, const ember_tensor *a, const ember_tensor *b,
                                int64_t ka, int64_t kb) {
  char x[128], y[128];
  return ember_op_error(c, "shapes %s and %s cannot be multiplied (%lld ~= %lld)",
                        ember_shape_str(a, x, sizeof x), ember_shape_str(b, y, sizeof y),
                        (long long)ka, (long long)kb);
}

/* Inputs [first, first + n) share one dtype that a product takes; the kernel computes
** in f32/f64/i64 and output 0 keeps the inputs' dtype. */
static ember_status product_dtype(ember_call *c, int first, int n) {
  ember_dtype dt = c->in[first]->dtype;
  for (int i = first + 1; i < first + n; i++)
    if (c->in[i]->dtype != dt)
      return ember_op_error(c, "expects operands of one dtype, got %s and %s",
                            ember_dtype_name(dt), ember_dtype_name(c->in[i]->dtype));
  if (dt == EMBER_BOOL) return ember_op_error(c, "not defined for bool tensors");
  c->compute = ember_compute_dtype(dt, PRODUCT_NATIVE);
  ember_cast_inputs(c, first, n, c->compute);
  c->out_dtype[0] = dt;
  c->out_kernel[0] = c->compute;
  return EMBER_OK;
}

static ember_status need_ndim(ember_call *c, int lo, int hi, const char *what) {
  const ember_tensor *a = c->in[0], *b = c->in[1];
  if (a->ndim >= lo && a->ndim <= hi && b->ndim >= lo && b->ndim <= hi) return EMBER_OK;
  char x[128], y[128];
  return ember_op_error(c, "expects %s, got shapes %s and %s", what,
                        ember_shape_str(a, x, sizeof x), ember_shape_str(b, y, sizeof y));
}

static ember_status infer_matmul(ember_call *c) {
  const ember_tensor *a = c->in[0], *b = c->in[1];
  if (need_ndim(c, 1, EMBER_MAX_DIMS, "operands with at least 1 dim") != EMBER_OK)
    return EMBER_ERROR;
  int da = a->ndim, db = b->ndim;
  int64_t ka = a->shape[da - 1], kb = db == 1 ? b->shape[0] : b->shape[db - 2];
  if (ka != kb) return shape_error(c, a, b, ka, kb);
  int nd = 0;
  int64_t shape[EMBER_MAX_DIMS];
  int ba = da > 2 ? da - 2 : 0, bb = db > 2 ? db - 2 : 0;   /* batch dims */
  if (ember_broadcast_shapes(c->op->name, ba, a->shape, bb, b->shape, &nd, shape) != EMBER_OK) {
    char x[128], y[128];
    return ember_op_error(c, "batch dims of shapes %s and %s do not broadcast",
                          ember_shape_str(a, x, sizeof x), ember_shape_str(b, y, sizeof y));
  }
  if (da > 1) shape[nd++] = a->shape[da - 2];
  if (db > 1) shape[nd++] = b->shape[db - 1];
  if (nd > EMBER_MAX_DIMS) return ember_op_error(c, "result has more than %d dims", EMBER_MAX_DIMS);
  if (product_dtype(c, 0, 2) != EMBER_OK) return EMBER_ERROR;
  ember_set_out(c, 0, c->out_dtype[0], nd, shape);
  return EMBER_OK;
}

static ember_status infer_mm(ember_call *c) {
  const ember_tensor *a = c->in[0], *b = c->in[1];
  if (need_ndim(c, 2, 2, "2-D matrices") != EMBER_OK) return EMBER_ERROR;
  if (a->shape[1] != b->shape[0]) return shape_error(c, a, b, a->shape[1], b->shape[0]);
  if (product_dtype(c, 0, 2) != EMBER_OK) return EMBER_ERROR;
  int64_t shape[2] = { a->shape[0], b->shape[1] };
  ember_set_out(c, 0, c->out_dtype[0], 2, shape);
  return EMBER_OK;
}

static ember_status infer_bmm(ember_call *c) {
  const ember_tensor *a = c->in[0], *b = c->in[1];
  if (need_ndim(c, 3, 3, "3-D batches of matrices") != EMBER_OK) return EMBER_ERROR;
  if (a->shape[0] != b->shape[0]) {
    char x[128], y[128];
    return ember_op_error(c, "batch sizes of shapes %s and %s differ (%lld ~= %lld)",
                          ember_shape_str(a, x, sizeof x), ember_shape_str(b, y, sizeof y),
                          (long long)a->shape[0], (long long)b->shape[0]);
  }
  if (a->shape[2] != b->shape[1]) return shape_error(c, a, b, a->shape[2], b->shape[1]);
  if (product_dtype(c, 0, 2) != EMBER_OK) return EMBER_ERROR;
  int64_t shape[3] = { a->shape[0], a->shape[1], b->shape[2] };
  ember_set_out(c, 0, c->out_dtype[0], 3, shape);
  return EMBER_OK;
}

static ember_status infer_addmm(ember_call *c) {
  const ember_tensor *in = c->in[0], *a = c->in[1], *b = c->in[2];
  char x[128], y[128];
  if (a->ndim != 2 || b->ndim != 2)
    return ember_op_error(c, "expects 2-D matrices, got shapes %s and %s",
                          ember_shape_str(a, x, sizeof x), ember_shape_str(b, y, sizeof y));
  if (a->shape[1] != b->shape[0]) return shape_error(c, a, b, a->shape[1], b->shape[0]);
  int64_t shape[2] = { a->shape[0], b->shape[1] }, bc[EMBER_MAX_DIMS];
  int nd;
  if (in->ndim > 2 || ember_broadcast_shapes(c->op->name, in->ndim, in->shape, 2, shape, &nd, bc)
      != EMBER_OK || bc[0] != shape[0] || bc[1] != shape[1])
    return ember_op_error(c, "input of shape %s does not broadcast to the product's shape %s",
                          ember_shape_str(in, x, sizeof x), ember_shape_text(2, shape, y, sizeof y));
  if (product_dtype(c, 0, 3) != EMBER_OK) return EMBER_ERROR;
  if (!ember_dtype_is_float(c->compute) &&
      (c->attr[0].f != (double)(int64_t)c->attr[0].f || c->attr[1].f != (double)(int64_t)c->attr[1].f))
    return ember_op_error(c, "beta and alpha must be integers for %s operands",
                          ember_dtype_name(a->dtype));
  ember_set_out(c, 0, c->out_dtype[0], 2, shape);
  return EMBER_OK;
}

static ember_status infer_outer(ember_call *c) {
  if (need_ndim(c, 1, 1, "1-D vectors") != EMBER_OK) return EMBER_ERROR;
  ember_dtype rt = ember_result_type(2, c->in);   /* outer is a broadcast multiply: promotes */
  c->compute = ember_compute_dtype(rt, PRODUCT_NATIVE);
  ember_cast_inputs(c, 0, 2, c->compute);
  int64_t shape[2] = { c->in[0]->shape[0], c->in[1]->shape[0] };
  ember_set_out(c, 0, rt, 2, shape);
  c->out_kernel[0] = c->compute;
  return EMBER_OK;
}

static ember_status infer_dot(ember_call *c) {
  const ember_tensor *a = c->in[0], *b = c->in[1];
  if (need_ndim(c, 1, 1, "1-D vectors") != EMBER_OK) return EMBER_ERROR;
  if (a->shape[0] != b->shape[0])
    return ember_op_error(c, "vectors of lengths %lld and %lld differ",
                          (long long)a->shape[0], (long long)b->shape[0]);
  if (product_dtype(c, 0, 2) != EMBER_OK) return EMBER_ERROR;
  ember_set_out(c, 0, c->out_dtype[0], 0, NULL);
  return EMBER_OK;
}

/* }====== */

static const ember_attr_def addmm_attrs[] = {
  {"beta", EMBER_ATTR_FLOAT, "1"}, {"alpha", EMBER_ATTR_FLOAT, "1"}, {NULL, 0, NULL}
};

/* {====== backward rules */

/* mm(a, b): da = g @ b^T, db = a^T @ g */
static ember_status grad_mm(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  if (ember_needs_grad(c, 0)) {
    ember_tensor *bt = ember_ag_transpose(c->in[1], 0, 1);
    gi[0] = ember_ag_mm(g[0], bt);
    ember_tensor_release(bt);
    if (gi[0] == NULL) return EMBER_ERROR;
  }
  if (ember_needs_grad(c, 1)) {
    ember_tensor *at = ember_ag_transpose(c->in[0], 0, 1);
    gi[1] = ember_ag_mm(at, g[0]);
    ember_tensor_release(at);
    if (gi[1] == NULL) return EMBER_ERROR;
  }
  return EMBER_OK;
}

/* }====== */

const ember_op ember_ops_linalg[] = {
  { .name = "matmul", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_matmul, .cpu = ember_cpu_matmul, .flags = EMBER_OP_BOTH,
    .doc = "matmul(a, b): 1-D.1-D dot (0-dim), 2-D mm, a 1-D side gets a dim of 1 that "
           "the result drops, batch dims (3-D and up) broadcast; one dtype on both sides" },
  { .name = "mm", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_mm, .cpu = ember_cpu_matmul, .flags = EMBER_OP_BOTH, .backward = grad_mm,
    .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1),
    .doc = "mm(a, b): (n x k) @ (k x m) -> n x m; both 2-D, one dtype" },
  { .name = "bmm", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_bmm, .cpu = ember_cpu_matmul, .flags = EMBER_OP_BOTH,
    .doc = "bmm(a, b): (b x n x k) @ (b x k x m) -> b x n x m; no broadcasting, one dtype" },
  { .name = "addmm", .min_inputs = 3, .max_inputs = 3, .nout = 1, .attrs = addmm_attrs,
    .infer = infer_addmm, .cpu = ember_cpu_addmm, .flags = EMBER_OP_BOTH,
    .doc = "addmm(input, m1, m2, beta=1, alpha=1) = beta*input + alpha*(m1 @ m2); input "
           "broadcasts to n x m; beta = 0 ignores input; one dtype" },
  { .name = "outer", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_outer, .cpu = ember_cpu_outer, .flags = EMBER_OP_BOTH,
    .doc = "outer(a, b): 1-D n and m -> n x m, out[i][j] = a[i]*b[j]; promotes dtypes" },
  { .name = "dot", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_dot, .cpu = ember_cpu_dot, .flags = EMBER_OP_BOTH,
    .doc = "dot(a, b): two 1-D vectors of one length and dtype -> 0-dim sum of products" },
  { .name = NULL },
};
