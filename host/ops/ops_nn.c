/*
** ops_nn.c — op table entries of the nn family: the functional forms of layers that
** nn modules call (linear, softmax, log_softmax, layer_norm, batch_norm, embedding,
** dropout, one_hot). Argument orders and layouts are PyTorch's (linear weight is
** out x in, batch_norm's channel is dim 2 in Lua = dim 1 of NCHW). Float ops take
** f32/f64 natively and compute f16/bf16 in f32; index inputs hold 1-based values
** from Lua (c->index_base). Kernels are in host/cpu/nn.c.
*/
#include "ops.h"
#include "../cpu/nn.h"

/* {====== shape and dtype rules */

static ember_status need_float(ember_call *c, const ember_tensor *t, const char *what) {
  if (ember_dtype_is_float(t->dtype)) return EMBER_OK;
  return ember_op_error(c, "%s must be a floating point tensor, got %s", what,
                        ember_dtype_name(t->dtype));
}

static ember_status need_index(ember_call *c, const ember_tensor *t) {
  if (ember_dtype_is_int(t->dtype)) return EMBER_OK;
  return ember_op_error(c, "indices must be an integer tensor, got %s", ember_dtype_name(t->dtype));
}

/* Output 0 like input 0; inputs [0, n) cast to the float compute dtype. */
static void float_like_input(ember_call *c, int n) {
  ember_dtype dt = c->in[0]->dtype;
  c->compute = ember_compute_dtype(dt, EMBER_FLOATS);
  ember_cast_inputs(c, 0, n, c->compute);
  ember_set_out(c, 0, dt, c->in[0]->ndim, c->in[0]->shape);
  c->out_kernel[0] = c->compute;
}

static ember_status infer_linear(ember_call *c) {
  const ember_tensor *x = c->in[0], *w = c->in[1], *b = c->nin > 2 ? c->in[2] : NULL;
  char s1[128], s2[128];
  if (x->ndim < 1 || w->ndim != 2)
    return ember_op_error(c, "expects input with at least 1 dim and a 2-D weight (out x in), "
                          "got shapes %s and %s", ember_shape_str(x, s1, sizeof s1),
                          ember_shape_str(w, s2, sizeof s2));
  if (x->shape[x->ndim - 1] != w->shape[1])
    return ember_op_error(c, "input of shape %s does not fit weight of shape %s (%lld ~= %lld "
                          "in_features)", ember_shape_str(x, s1, sizeof s1),
                          ember_shape_str(w, s2, sizeof s2), (long long)x->shape[x->ndim - 1],
                          (long long)w->shape[1]);
  if (b && (b->ndim > 1 || (b->ndim == 1 && b->shape[0] != w->shape[0] && b->shape[0] != 1)))
    return ember_op_error(c, "bias of shape %s does not fit %lld out_features",
                          ember_shape_str(b, s1, sizeof s1), (long long)w->shape[0]);
  ember_dtype dt = x->dtype;
  if (w->dtype != dt || (b && b->dtype != dt))
    return ember_op_error(c, "expects input, weight and bias of one dtype, got %s, %s and %s",
                          ember_dtype_name(dt), ember_dtype_name(w->dtype),
                          b ? ember_dtype_name(b->dtype) : "none");
  if (dt == EMBER_BOOL) return ember_op_error(c, "not defined for bool tensors");
  int64_t shape[EMBER_MAX_DIMS];
  for (int d = 0; d < x->ndim - 1; d++) shape[d] = x->shape[d];
  shape[x->ndim - 1] = w->shape[0];
  c->compute = ember_compute_dtype(dt, EMBER_FLOATS | EMBER_INTS_NATIVE);
  ember_cast_inputs(c, 0, c->nin, c->compute);
  ember_set_out(c, 0, dt, x->ndim, shape);
  c->out_kernel[0] = c->compute;
  return EMBER_OK;
}

static ember_status infer_softmax(ember_call *c) {
  int dim;
  if (need_float(c, c->in[0], "input") != EMBER_OK) return EMBER_ERROR;
  if (ember_attr_dim(c, 0, c->in[0]->ndim, &dim) != EMBER_OK) return EMBER_ERROR;
  float_like_input(c, 1);
  return EMBER_OK;
}

static ember_status infer_layer_norm(ember_call *c) {
  const ember_tensor *x = c->in[0];
  const ember_attr *ns = &c->attr[0];
  char s1[128], s2[128];
  if (need_float(c, x, "input") != EMBER_OK) return EMBER_ERROR;
  int bad = ns->n < 1 || ns->n > x->ndim;
  for (int i = 0; !bad && i < ns->n; i++)
    bad = ns->v[i] != x->shape[x->ndim - ns->n + i];
  if (bad)
    return ember_op_error(c, "normalized_shape %s does not match the last dims of input of "
                          "shape %s", ember_shape_text(ns->n, ns->v, s1, sizeof s1),
                          ember_shape_str(x, s2, sizeof s2));
  static const char *const names[] = { NULL, "weight", "bias" };
  for (int k = 1; k < c->nin; k++) {
    const ember_tensor *t = c->in[k];
    if (t == NULL) continue;
    if (need_float(c, t, names[k]) != EMBER_OK) return EMBER_ERROR;
    bad = t->ndim != ns->n;
    for (int i = 0; !bad && i < ns->n; i++) bad = t->shape[i] != ns->v[i];
    if (bad)
      return ember_op_error(c, "%s of shape %s does not match normalized_shape %s", names[k],
                            ember_shape_str(t, s1, sizeof s1),
                            ember_shape_text(ns->n, ns->v, s2, sizeof s2));
  }
  if (c->attr[1].f < 0) return ember_op_error(c, "eps must be >= 0, got %g", c->attr[1].f);
  float_like_input(c, c->nin);
  return EMBER_OK;
}

static ember_status infer_batch_norm(ember_call *c) {
  const ember_tensor *x = c->in[0];
  char s1[128], s2[128];
  if (need_float(c, x, "input") != EMBER_OK) return EMBER_ERROR;
  if (x->ndim < 2)
    return ember_op_error(c, "expects input of shape N x C x ..., got shape %s",
                          ember_shape_str(x, s1, sizeof s1));
  static const char *const names[] = { NULL, "running_mean", "running_var", "weight", "bias" };
  for (int k = 1; k < c->nin; k++) {
    const ember_tensor *t = c->in[k];
    if (t == NULL) continue;
    if (need_float(c, t, names[k]) != EMBER_OK) return EMBER_ERROR;
    if (t->ndim != 1 || t->shape[0] != x->shape[1])
      return ember_op_error(c, "%s of shape %s does not match the %lld channels of input of "
                            "shape %s", names[k], ember_shape_str(t, s1, sizeof s1),
                            (long long)x->shape[1], ember_shape_str(x, s2, sizeof s2));
  }
  if (c->attr[0].f < 0) return ember_op_error(c, "eps must be >= 0, got %g", c->attr[0].f);
  float_like_input(c, c->nin);
  return EMBER_OK;
}

static ember_status infer_embedding(ember_call *c) {
  const ember_tensor *idx = c->in[0], *w = c->in[1];
  char s[128];
  if (need_index(c, idx) != EMBER_OK) return EMBER_ERROR;
  if (w->ndim != 2)
    return ember_op_error(c, "weight must be 2-D (num_embeddings x dim), got shape %s",
                          ember_shape_str(w, s, sizeof s));
  if (idx->ndim + 1 > EMBER_MAX_DIMS)
    return ember_op_error(c, "indices have %d dims (at most %d)", idx->ndim, EMBER_MAX_DIMS - 1);
  int64_t shape[EMBER_MAX_DIMS];
  for (int d = 0; d < idx->ndim; d++) shape[d] = idx->shape[d];
  shape[idx->ndim] = w->shape[1];
  ember_cast_inputs(c, 0, 1, EMBER_I64);
  c->compute = w->dtype;     /* rows are copied as they are, in any dtype */
  ember_set_out(c, 0, w->dtype, idx->ndim + 1, shape);
  return EMBER_OK;
}

static ember_status infer_dropout(ember_call *c) {
  double p = c->attr[0].f;
  if (need_float(c, c->in[0], "input") != EMBER_OK) return EMBER_ERROR;
  if (!(p >= 0 && p <= 1))
    return ember_op_error(c, "probability has to be between 0 and 1, but got %g", p);
  float_like_input(c, 1);
  return EMBER_OK;
}

static ember_status infer_one_hot(ember_call *c) {
  const ember_tensor *idx = c->in[0];
  int64_t classes = c->attr[0].i;
  if (need_index(c, idx) != EMBER_OK) return EMBER_ERROR;
  if (idx->ndim + 1 > EMBER_MAX_DIMS)
    return ember_op_error(c, "indices have %d dims (at most %d)", idx->ndim, EMBER_MAX_DIMS - 1);
  if (classes < -1)
    return ember_op_error(c, "num_classes must be -1 (inferred) or >= 0, got %lld",
                          (long long)classes);
  ember_cast_inputs(c, 0, 1, EMBER_I64);
  c->compute = EMBER_I64;
  int64_t shape[EMBER_MAX_DIMS];
  for (int d = 0; d < idx->ndim; d++) shape[d] = idx->shape[d];
  shape[idx->ndim] = classes;     /* -1 until the kernel has seen the data */
  ember_set_out(c, 0, EMBER_I64, idx->ndim + 1, shape);
  return EMBER_OK;
}

/* }====== */

static const ember_attr_def dim_attr[] = { {"dim", EMBER_ATTR_DIM, NULL}, {NULL, 0, NULL} };
static const ember_attr_def layer_norm_attrs[] = {
  {"normalized_shape", EMBER_ATTR_INTS, NULL}, {"eps", EMBER_ATTR_FLOAT, "1e-5"}, {NULL, 0, NULL}
};
static const ember_attr_def eps_attr[] = { {"eps", EMBER_ATTR_FLOAT, "1e-5"}, {NULL, 0, NULL} };
static const ember_attr_def dropout_attrs[] = {
  {"p", EMBER_ATTR_FLOAT, "0.5"}, {"training", EMBER_ATTR_BOOL, "true"}, {NULL, 0, NULL}
};
static const ember_attr_def one_hot_attrs[] = {
  {"num_classes", EMBER_ATTR_INT, "-1"}, {NULL, 0, NULL}
};

const ember_op ember_ops_nn[] = {
  { .name = "linear", .min_inputs = 2, .max_inputs = 3, .nout = 1,
    .infer = infer_linear, .cpu = ember_cpu_linear, .flags = EMBER_OP_FUNCTION,
    .doc = "linear(input, weight, bias?) = input @ weight^T + bias; input * x in, weight "
           "out x in, bias out -> * x out; one dtype" },
  { .name = "softmax", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = dim_attr,
    .infer = infer_softmax, .cpu = ember_cpu_softmax, .flags = EMBER_OP_BOTH,
    .doc = "softmax(input, dim): exp(x - max) / sum along dim; float dtypes" },
  { .name = "log_softmax", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = dim_attr,
    .infer = infer_softmax, .cpu = ember_cpu_log_softmax, .flags = EMBER_OP_BOTH,
    .doc = "log_softmax(input, dim): x - max - log(sum exp(x - max)) along dim; float dtypes" },
  { .name = "layer_norm", .min_inputs = 1, .max_inputs = 3, .nout = 1, .attrs = layer_norm_attrs,
    .infer = infer_layer_norm, .cpu = ember_cpu_layer_norm, .flags = EMBER_OP_FUNCTION,
    .args = "#1 normalized_shape #2 #3 eps",
    .doc = "layer_norm(input, normalized_shape, weight?, bias?, eps=1e-5): normalise over the "
           "last dims (biased variance); weight and bias of normalized_shape; float dtypes" },
  { .name = "batch_norm", .min_inputs = 3, .max_inputs = 5, .nout = 1, .attrs = eps_attr,
    .infer = infer_batch_norm, .cpu = ember_cpu_batch_norm, .flags = EMBER_OP_FUNCTION,
    .doc = "batch_norm(input, running_mean, running_var, weight?, bias?, eps=1e-5): inference "
           "form; input N x C x ..., the others C; float dtypes" },
  { .name = "embedding", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_embedding, .cpu = ember_cpu_embedding, .flags = EMBER_OP_FUNCTION,
    .doc = "embedding(indices, weight): rows of weight (n x dim) picked by integer indices "
           "(1-based from Lua) -> indices' shape x dim; any weight dtype" },
  { .name = "dropout", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = dropout_attrs,
    .infer = infer_dropout, .cpu = ember_cpu_dropout, .flags = EMBER_OP_FUNCTION | EMBER_OP_RANDOM,
    .doc = "dropout(input, p=0.5, training=true): zero each element with probability p, scale "
           "the rest by 1/(1-p) (Philox stream); training=false copies; float dtypes" },
  { .name = "one_hot", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = one_hot_attrs,
    .infer = infer_one_hot, .cpu = ember_cpu_one_hot, .flags = EMBER_OP_FUNCTION | EMBER_OP_ALLOCS,
    .doc = "one_hot(indices, num_classes=-1): i64 of indices' shape x num_classes; class values "
           "1-based from Lua; -1 takes the largest value" },
  { .name = NULL },
};
