/*
** ops_loss.c — op table entries of the fused losses: cross_entropy (log_softmax, the
** target's pick and the reduction in one op, as PyTorch's F.cross_entropy with class
** index targets) and cross_entropy_backward, the kernel its rule dispatches (not bound
** in Lua). Targets hold class indices in the call's index base (1-based from Lua);
** ignore_index is compared with the target values as given. Kernels: host/cpu/loss.c.
*/
#include <string.h>

#include "ops.h"
#include "autograd.h"
#include "../cpu/loss.h"
#include "../vk/vk_kernels.h"

static const ember_attr_def ce_attrs[] = {
  {"ignore_index", EMBER_ATTR_INT, "-100"}, {"reduction", EMBER_ATTR_STR, "mean"},
  {"label_smoothing", EMBER_ATTR_FLOAT, "0"}, {NULL, 0, NULL},
};

/* input (C) or (N, C, d...), target its shape without C; weight (C) */
static ember_status check_ce(ember_call *c, const ember_tensor *x, const ember_tensor *t,
                             const ember_tensor *w) {
  char s1[128], s2[128];
  if (!ember_dtype_is_float(x->dtype))
    return ember_op_error(c, "input must be a floating point tensor of scores, got %s",
                          ember_dtype_name(x->dtype));
  if (!ember_dtype_is_int(t->dtype))
    return ember_op_error(c, "target must hold class indices (an integer tensor), got %s; "
                          "class probabilities go through nn.functional.cross_entropy",
                          ember_dtype_name(t->dtype));
  int bad = x->ndim == 0 || t->ndim != (x->ndim == 1 ? 0 : x->ndim - 1);
  if (!bad && x->ndim > 1) {
    bad = t->shape[0] != x->shape[0];
    for (int d = 2; !bad && d < x->ndim; d++) bad = t->shape[d - 1] != x->shape[d];
  }
  if (bad)
    return ember_op_error(c, "target of shape %s does not fit input of shape %s (expected the "
                          "input's shape without its class dim 2)", ember_shape_str(t, s1, sizeof s1),
                          ember_shape_str(x, s2, sizeof s2));
  int64_t classes = x->ndim == 1 ? x->shape[0] : x->shape[1];
  if (w && (w->ndim != 1 || w->shape[0] != classes || !ember_dtype_is_float(w->dtype)))
    return ember_op_error(c, "weight must be a 1-D float tensor of %lld class weights, got %s of "
                          "shape %s", (long long)classes, ember_dtype_name(w->dtype),
                          ember_shape_str(w, s1, sizeof s1));
  const char *r = c->attr[1].s;
  if (strcmp(r, "mean") != 0 && strcmp(r, "sum") != 0 && strcmp(r, "none") != 0)
    return ember_op_error(c, "reduction must be \"mean\", \"sum\" or \"none\", got \"%s\"", r);
  double e = c->attr[2].f;
  if (!(e >= 0 && e <= 1))
    return ember_op_error(c, "label_smoothing must be between 0 and 1, got %g", e);
  /* the node keeps the call: point at a constant, not at the caller's string */
  c->attr[1].s = r[0] == 'm' ? "mean" : r[0] == 's' ? "sum" : "none";
  return EMBER_OK;
}

/* the kernel works in f32 or f64; the loss has the input's dtype */
static void ce_compute(ember_call *c, int xi, ember_dtype dt) {
  c->compute = ember_compute_dtype(dt, EMBER_FLOATS);
  ember_cast_inputs(c, xi, 1, c->compute);
  if (xi == 1) ember_cast_inputs(c, 0, 1, c->compute);
}

static ember_status infer_cross_entropy(ember_call *c) {
  const ember_tensor *x = c->in[0], *t = c->in[1], *w = c->nin > 2 ? c->in[2] : NULL;
  if (check_ce(c, x, t, w) != EMBER_OK) return EMBER_ERROR;
  ce_compute(c, 0, x->dtype);
  if (strcmp(c->attr[1].s, "none") == 0) ember_set_out(c, 0, x->dtype, t->ndim, t->shape);
  else ember_set_out(c, 0, x->dtype, 0, NULL);
  c->out_kernel[0] = c->compute;
  return EMBER_OK;
}

static ember_status infer_cross_entropy_backward(ember_call *c) {
  const ember_tensor *g = c->in[0], *x = c->in[1], *t = c->in[2], *w = c->nin > 3 ? c->in[3] : NULL;
  if (check_ce(c, x, t, w) != EMBER_OK) return EMBER_ERROR;
  int none = strcmp(c->attr[1].s, "none") == 0;
  if ((none && (g->ndim != t->ndim || memcmp(g->shape, t->shape, t->ndim * sizeof *t->shape))) ||
      (!none && ember_tensor_numel(g) != 1))
    return ember_op_error(c, "gradient does not have the loss's shape");
  ce_compute(c, 1, x->dtype);
  ember_set_out(c, 0, x->dtype, x->ndim, x->shape);
  c->out_kernel[0] = c->compute;
  return EMBER_OK;
}

/* The gradient of the input, one kernel; target and weight take none (PyTorch's
** nll_loss has no derivative for its weight either). */
static ember_status grad_cross_entropy(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *in[4] = { g[0], c->in[0], c->in[1], c->nin > 2 ? c->in[2] : NULL };
  const ember_op *op = ember_op_find("cross_entropy_backward");
  ember_call call;
  ember_call_init(&call, op, in[3] ? 4 : 3, in);
  call.index_base = c->index_base;
  for (int k = 0; k < 3; k++) call.attr[k] = c->attr[k];
  if (ember_dispatch(&call) != EMBER_OK) return EMBER_ERROR;
  gi[0] = call.out[0];
  return EMBER_OK;
}

const ember_op ember_ops_loss[] = {
  { .name = "cross_entropy", .min_inputs = 2, .max_inputs = 3, .nout = 1, .attrs = ce_attrs,
    .infer = infer_cross_entropy, .cpu = ember_cpu_cross_entropy, .vulkan = EMBER_VK(vk_cross_entropy),
    .flags = EMBER_OP_FUNCTION,
    .backward = EMBER_GRAD(grad_cross_entropy), .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1) | EMBER_SAVES_IN(2),
    .doc = "cross_entropy(input, target, weight, ignore_index=-100, reduction=\"mean\", "
           "label_smoothing=0): log_softmax over dim 2 (1-D input: dim 1) and the negative "
           "log-likelihood of the target classes (1-based) in one op; as F.cross_entropy" },
  { .name = "cross_entropy_backward", .min_inputs = 3, .max_inputs = 4, .nout = 1,
    .attrs = ce_attrs, .infer = infer_cross_entropy_backward,
    .cpu = ember_cpu_cross_entropy_backward, .vulkan = EMBER_VK(vk_cross_entropy_backward), .flags = 0,
    .doc = "cross_entropy_backward(grad, input, target, weight, ...): the gradient of "
           "cross_entropy's input; dispatched by its backward rule" },
  { .name = NULL },
};
