/*
** ops_linalg.c — op table entries of the linalg family: matmul, mm, bmm, addmm, outer,
** dot. Shapes follow PyTorch: matmul treats a 1-D left operand as a row and a 1-D
** right operand as a column and drops that dim from the result, and broadcasts batch
** dims of operands with 3 or more dims. Like PyTorch, products want both operands in
** one dtype (no promotion); f16/bf16 are computed in f32, small integer types in i64.
** Kernels are in host/cpu/linalg.c; the backward rules are products of the same ops.
*/
#include <string.h>

#include "ops.h"
#include "autograd.h"
#include "../cpu/linalg.h"
#include "../vk/vk_kernels.h"

#define PRODUCT_NATIVE (EMBER_FLOATS | EMBER_INTS_NATIVE)

/* {====== shape and dtype rules */

static ember_status shape_error(ember_call *c, const ember_tensor *a, const ember_tensor *b,
                                int64_t ka, int64_t kb) {
  char x[128], y[128];
  return ember_op_error(c, "shapes %s and %s cannot be multiplied (%lld ~= %lld)",
                        ember_shape_str(a, x, sizeof x), ember_shape_str(b, y, sizeof y),
                        (long long)ka, (long long)kb);
}

/* Are the call's operands on a device other than the cpu? */
/* Inputs [first, first + n) share one dtype that a product takes; the kernel computes
** in f32/f64/i64 and output 0 keeps the inputs' dtype. The Vulkan kernels read f16 and
** bf16 operands as stored (f16 goes to the tensor cores where there are some), sum in
** f32 and write the result in its dtype: on a device nothing is cast around them. */
static ember_status product_dtype(ember_call *c, int first, int n) {
  ember_dtype dt = c->in[first]->dtype;
  for (int i = first + 1; i < first + n; i++)
    if (c->in[i]->dtype != dt)
      return ember_op_error(c, "expects operands of one dtype, got %s and %s",
                            ember_dtype_name(dt), ember_dtype_name(c->in[i]->dtype));
  if (dt == EMBER_BOOL) return ember_op_error(c, "not defined for bool tensors");
  c->compute = ember_compute_dtype(dt, PRODUCT_NATIVE);
  c->out_dtype[0] = dt;
  if ((dt == EMBER_F16 || dt == EMBER_BF16) && ember_call_on_device(c)) return EMBER_OK;
  ember_cast_inputs(c, first, n, c->compute);
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

static ember_tensor *op2(const char *name, ember_tensor *a, ember_tensor *b) {
  ember_tensor *in[2] = { a, b };
  return ember_ag_op(name, 2, in, "");
}

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

/* A product's gradient r for operand t, seen as the matrix t2 (a 1-D operand as a row
** or a column): summed over the batch dims t2 was broadcast along, then given t's
** shape back. */
static ember_tensor *fit(ember_tensor *r, const ember_tensor *t2, const ember_tensor *t) {
  ember_tensor *s = ember_ag_sum_to(r, t2->ndim, t2->shape);
  ember_tensor_release(r);
  if (s == NULL || t->ndim == t2->ndim) return s;
  ember_tensor *v = ember_ag_reshape(s, t->ndim, t->shape);
  ember_tensor_release(s);
  return v;
}

/* matmul(a, b) at every rank. 1-D . 1-D is a dot: g b and g a. Otherwise a 1-D a is
** the row 1 x k and a 1-D b the column k x 1, g gets those dims of 1 back, and the
** products are the mm ones (da = g @ b^T, db = a^T @ g), batched and broadcast,
** summed over the batch dims the operand did not have. When b is one matrix and a a
** batch, db is one mm over a's rows folded together, not a batch of them summed. */
static ember_status grad_matmul(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *a = c->in[0], *b = c->in[1], *go = g[0];
  if (a->ndim == 1 && b->ndim == 1) {
    if (ember_needs_grad(c, 0) && (gi[0] = ember_ag_mul(go, b)) == NULL) return EMBER_ERROR;
    if (ember_needs_grad(c, 1) && (gi[1] = ember_ag_mul(go, a)) == NULL) return EMBER_ERROR;
    return EMBER_OK;
  }
  int64_t k = a->shape[a->ndim - 1], row[2] = { 1, k }, col[2] = { k, 1 };
  int64_t gshape[EMBER_MAX_DIMS];
  int gnd = go->ndim;
  memcpy(gshape, go->shape, gnd * sizeof *gshape);
  if (a->ndim == 1) {                 /* the row's dim of 1 goes before b's last */
    if (b->ndim > 1) gshape[gnd] = gshape[gnd - 1];
    gshape[b->ndim > 1 ? gnd - 1 : gnd] = 1;
    gnd++;
  }
  if (b->ndim == 1) gshape[gnd++] = 1;
  ember_tensor *a2 = a->ndim == 1 ? ember_ag_reshape(a, 2, row) : (ember_tensor_retain(a), a);
  ember_tensor *b2 = b->ndim == 1 ? ember_ag_reshape(b, 2, col) : (ember_tensor_retain(b), b);
  ember_tensor *g2 = ember_ag_reshape(go, gnd, gshape);
  ember_status st = g2 && a2 && b2 ? EMBER_OK : EMBER_ERROR;
  if (st == EMBER_OK && ember_needs_grad(c, 0)) {
    ember_tensor *bt = ember_ag_transpose(b2, -1, -2);
    gi[0] = fit(ember_ag_matmul(g2, bt), a2, a);
    ember_tensor_release(bt);
    if (gi[0] == NULL) st = EMBER_ERROR;
  }
  if (st == EMBER_OK && ember_needs_grad(c, 1)) {
    ember_tensor *r;
    if (b2->ndim == 2 && a2->ndim > 2) {
      int64_t m = b2->shape[1], rows = 1;
      for (int d = 0; d < a2->ndim - 1; d++) rows *= a2->shape[d];
      int64_t as[2] = { rows, k }, gs[2] = { rows, m };
      ember_tensor *af = ember_ag_reshape(a2, 2, as), *gf = ember_ag_reshape(g2, 2, gs);
      ember_tensor *at = ember_ag_transpose(af, 0, 1);
      r = ember_ag_mm(at, gf);
      ember_tensor_release(af);
      ember_tensor_release(gf);
      ember_tensor_release(at);
    } else {
      ember_tensor *at = ember_ag_transpose(a2, -1, -2);
      r = ember_ag_matmul(at, g2);
      ember_tensor_release(at);
    }
    gi[1] = fit(r, b2, b);
    if (gi[1] == NULL) st = EMBER_ERROR;
  }
  ember_tensor_release(a2);
  ember_tensor_release(b2);
  ember_tensor_release(g2);
  return st;
}

/* bmm(a, b): da = g @ b^T, db = a^T @ g, batch by batch */
static ember_status grad_bmm(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  if (ember_needs_grad(c, 0)) {
    ember_tensor *bt = ember_ag_transpose(c->in[1], 1, 2);
    gi[0] = op2("bmm", g[0], bt);
    ember_tensor_release(bt);
    if (gi[0] == NULL) return EMBER_ERROR;
  }
  if (ember_needs_grad(c, 1)) {
    ember_tensor *at = ember_ag_transpose(c->in[0], 1, 2);
    gi[1] = op2("bmm", at, g[0]);
    ember_tensor_release(at);
    if (gi[1] == NULL) return EMBER_ERROR;
  }
  return EMBER_OK;
}

/* addmm(input, m1, m2, beta, alpha): d input = beta g (the engine sums it down to
** input's shape when input was broadcast), then mm's rule on alpha g */
static ember_status grad_addmm(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  double beta = c->attr[0].f, alpha = c->attr[1].f;
  if (ember_needs_grad(c, 0)) {
    gi[0] = beta == 1 ? (ember_tensor_retain(g[0]), g[0]) : ember_ag_scale(g[0], beta);
    if (gi[0] == NULL) return EMBER_ERROR;
  }
  if (!ember_needs_grad(c, 1) && !ember_needs_grad(c, 2)) return EMBER_OK;
  ember_tensor *ga = alpha == 1 ? (ember_tensor_retain(g[0]), g[0]) : ember_ag_scale(g[0], alpha);
  ember_status st = ga ? EMBER_OK : EMBER_ERROR;
  if (st == EMBER_OK && ember_needs_grad(c, 1)) {
    ember_tensor *bt = ember_ag_transpose(c->in[2], 0, 1);
    gi[1] = ember_ag_mm(ga, bt);
    ember_tensor_release(bt);
    if (gi[1] == NULL) st = EMBER_ERROR;
  }
  if (st == EMBER_OK && ember_needs_grad(c, 2)) {
    ember_tensor *at = ember_ag_transpose(c->in[1], 0, 1);
    gi[2] = ember_ag_mm(at, ga);
    ember_tensor_release(at);
    if (gi[2] == NULL) st = EMBER_ERROR;
  }
  ember_tensor_release(ga);
  return st;
}

/* outer(a, b) = a b^T: da = g @ b, db = a @ g (a row times g). outer promotes its
** operands, the products do not: each is first brought to g's dtype. */
static ember_status grad_outer(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  if (ember_needs_grad(c, 0)) {
    ember_tensor *b = ember_ag_to(c->in[1], g[0]->dtype);
    gi[0] = ember_ag_matmul(g[0], b);
    ember_tensor_release(b);
    if (gi[0] == NULL) return EMBER_ERROR;
  }
  if (ember_needs_grad(c, 1)) {
    ember_tensor *a = ember_ag_to(c->in[0], g[0]->dtype);
    gi[1] = ember_ag_matmul(a, g[0]);
    ember_tensor_release(a);
    if (gi[1] == NULL) return EMBER_ERROR;
  }
  return EMBER_OK;
}

/* dot(a, b): da = g b, db = g a (g is 0-dim) */
static ember_status grad_dot(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  if (ember_needs_grad(c, 0) && (gi[0] = ember_ag_mul(g[0], c->in[1])) == NULL) return EMBER_ERROR;
  if (ember_needs_grad(c, 1) && (gi[1] = ember_ag_mul(g[0], c->in[0])) == NULL) return EMBER_ERROR;
  return EMBER_OK;
}

/* }====== */

const ember_op ember_ops_linalg[] = {
  { .name = "matmul", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_matmul, .cpu = ember_cpu_matmul, .vulkan = EMBER_VK(vk_matmul),
    .flags = EMBER_OP_BOTH, .backward = EMBER_GRAD(grad_matmul), .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1),
    .saves_for = { EMBER_SAVES_IN(1), EMBER_SAVES_IN(0) },
    .doc = "matmul(a, b): 1-D.1-D dot (0-dim), 2-D mm, a 1-D side gets a dim of 1 that "
           "the result drops, batch dims (3-D and up) broadcast; one dtype on both sides" },
  { .name = "mm", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_mm, .cpu = ember_cpu_matmul, .vulkan = EMBER_VK(vk_matmul),
    .flags = EMBER_OP_BOTH, .backward = EMBER_GRAD(grad_mm),
    .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1),
    .saves_for = { EMBER_SAVES_IN(1), EMBER_SAVES_IN(0) },
    .doc = "mm(a, b): (n x k) @ (k x m) -> n x m; both 2-D, one dtype" },
  { .name = "bmm", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_bmm, .cpu = ember_cpu_matmul, .vulkan = EMBER_VK(vk_matmul),
    .flags = EMBER_OP_BOTH, .backward = EMBER_GRAD(grad_bmm),
    .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1),
    .saves_for = { EMBER_SAVES_IN(1), EMBER_SAVES_IN(0) },
    .doc = "bmm(a, b): (b x n x k) @ (b x k x m) -> b x n x m; no broadcasting, one dtype" },
  { .name = "addmm", .min_inputs = 3, .max_inputs = 3, .nout = 1, .attrs = addmm_attrs,
    .infer = infer_addmm, .cpu = ember_cpu_addmm, .vulkan = EMBER_VK(vk_addmm), .flags = EMBER_OP_BOTH,
    .backward = EMBER_GRAD(grad_addmm), .saves = EMBER_SAVES_IN(1) | EMBER_SAVES_IN(2),
    .saves_for = { 0, EMBER_SAVES_IN(2), EMBER_SAVES_IN(1) },
    .doc = "addmm(input, m1, m2, beta=1, alpha=1) = beta*input + alpha*(m1 @ m2); input "
           "broadcasts to n x m; beta = 0 ignores input; one dtype" },
  { .name = "outer", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_outer, .cpu = ember_cpu_outer, .vulkan = EMBER_VK(vk_outer), .flags = EMBER_OP_BOTH,
    .backward = EMBER_GRAD(grad_outer), .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1),
    .saves_for = { EMBER_SAVES_IN(1), EMBER_SAVES_IN(0) },
    .doc = "outer(a, b): 1-D n and m -> n x m, out[i][j] = a[i]*b[j]; promotes dtypes" },
  { .name = "dot", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_dot, .cpu = ember_cpu_dot, .vulkan = EMBER_VK(vk_dot),
    .flags = EMBER_OP_BOTH, .backward = EMBER_GRAD(grad_dot),
    .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1),
    .saves_for = { EMBER_SAVES_IN(1), EMBER_SAVES_IN(0) },
    .doc = "dot(a, b): two 1-D vectors of one length and dtype -> 0-dim sum of products" },
  { .name = NULL },
};
