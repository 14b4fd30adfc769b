/*
** ops_optim.c — op table entries of the fused optimizer updates, which ember.optim
** calls once per parameter: p:sgd_step_(grad, momentum_buffer, {...}) and
** p:adam_step_(grad, exp_avg, exp_avg_sq, max_exp_avg_sq, {...}). They write the
** parameter and the state tensors in place, record nothing for autograd, and take
** only contiguous f32/f64 tensors of one shape and dtype (ember.optim falls back to
** single ops for anything else). Kernels: host/cpu/optim.c.
*/
#include <string.h>

#include "ops.h"
#include "../cpu/optim.h"
#include "../vk/vk_kernels.h"

static const ember_attr_def sgd_attrs[] = {
  {"lr", EMBER_ATTR_FLOAT, NULL}, {"momentum", EMBER_ATTR_FLOAT, "0"},
  {"dampening", EMBER_ATTR_FLOAT, "0"}, {"weight_decay", EMBER_ATTR_FLOAT, "0"},
  {"nesterov", EMBER_ATTR_BOOL, "false"}, {"maximize", EMBER_ATTR_BOOL, "false"},
  {"first", EMBER_ATTR_BOOL, "false"}, {NULL, 0, NULL},
};

static const ember_attr_def adam_attrs[] = {
  {"lr", EMBER_ATTR_FLOAT, NULL}, {"beta1", EMBER_ATTR_FLOAT, "0.9"},
  {"beta2", EMBER_ATTR_FLOAT, "0.999"}, {"eps", EMBER_ATTR_FLOAT, "1e-8"},
  {"weight_decay", EMBER_ATTR_FLOAT, "0"}, {"step", EMBER_ATTR_INT, NULL},
  {"maximize", EMBER_ATTR_BOOL, "false"}, {"decoupled", EMBER_ATTR_BOOL, "false"},
  {NULL, 0, NULL},
};

/* every present input contiguous, f32 or f64, and of input 0's shape and dtype */
static ember_status infer_update(ember_call *c) {
  static const char *const names[] = { "param", "grad", "state 1", "state 2", "state 3" };
  const ember_tensor *p = c->in[0];
  char s1[128], s2[128];
  if (p->dtype != EMBER_F32 && p->dtype != EMBER_F64)
    return ember_op_error(c, "takes f32 or f64 parameters, got %s", ember_dtype_name(p->dtype));
  for (int i = 0; i < c->nin; i++) {
    const ember_tensor *t = c->in[i];
    if (t == NULL) continue;
    if (t->dtype != p->dtype || t->ndim != p->ndim ||
        memcmp(t->shape, p->shape, p->ndim * sizeof *p->shape) != 0)
      return ember_op_error(c, "%s is %s of shape %s, the parameter %s of shape %s", names[i],
                            ember_dtype_name(t->dtype), ember_shape_str(t, s1, sizeof s1),
                            ember_dtype_name(p->dtype), ember_shape_str(p, s2, sizeof s2));
    if (!ember_tensor_is_contiguous(t))
      return ember_op_error(c, "%s must be contiguous", names[i]);
    if (i > 0 && t->storage == p->storage)
      return ember_op_error(c, "%s shares memory with the parameter", names[i]);
  }
  c->compute = p->dtype;
  ember_set_out(c, 0, p->dtype, p->ndim, p->shape);
  return EMBER_OK;
}

static ember_status infer_sgd(ember_call *c) {
  if (c->attr[1].f != 0 && c->in[2] == NULL)
    return ember_op_error(c, "momentum %g needs a momentum buffer (input 3)", c->attr[1].f);
  return infer_update(c);
}

static ember_status infer_adam(ember_call *c) {
  if (c->attr[5].i < 1) return ember_op_error(c, "step must be 1 or more, got %lld", (long long)c->attr[5].i);
  return infer_update(c);
}

/* the state tensors change too: their versions move with the parameter's */
static void touched(ember_call *c, int from) {
  for (int i = from; i < c->nin; i++)
    if (c->in[i]) c->in[i]->storage->version++;
}

static ember_status cpu_sgd(ember_call *c) {
  ember_sgd_args a = {
    .lr = c->attr[0].f, .momentum = c->attr[1].f, .dampening = c->attr[2].f,
    .weight_decay = c->attr[3].f, .nesterov = (int)c->attr[4].i, .maximize = (int)c->attr[5].i,
    .first = (int)c->attr[6].i,
  };
  ember_tensor *buf = a.momentum != 0 ? c->in[2] : NULL;
  ember_cpu_sgd(c->in[0]->dtype, ember_tensor_data(c->out[0]), ember_tensor_data(c->in[1]),
                buf ? ember_tensor_data(buf) : NULL, ember_tensor_numel(c->in[0]), &a);
  touched(c, 2);
  return EMBER_OK;
}

static ember_status cpu_adam(ember_call *c) {
  ember_adam_args a = {
    .lr = c->attr[0].f, .beta1 = c->attr[1].f, .beta2 = c->attr[2].f, .eps = c->attr[3].f,
    .weight_decay = c->attr[4].f, .step = c->attr[5].i, .maximize = (int)c->attr[6].i,
    .decoupled = (int)c->attr[7].i,
  };
  ember_tensor *vmax = c->nin > 4 ? c->in[4] : NULL;
  ember_cpu_adam(c->in[0]->dtype, ember_tensor_data(c->out[0]), ember_tensor_data(c->in[1]),
                 ember_tensor_data(c->in[2]), ember_tensor_data(c->in[3]),
                 vmax ? ember_tensor_data(vmax) : NULL, ember_tensor_numel(c->in[0]), &a);
  touched(c, 2);
  return EMBER_OK;
}

#define UPDATE (EMBER_OP_INPLACE | EMBER_OP_NONDIFF)

const ember_op ember_ops_optim[] = {
  { .name = "sgd_step", .min_inputs = 2, .max_inputs = 3, .nout = 1, .attrs = sgd_attrs,
    .infer = infer_sgd, .cpu = cpu_sgd, .vulkan = EMBER_VK(vk_sgd_step), .flags = UPDATE,
    .doc = "p:sgd_step_(grad, momentum_buffer, lr, momentum=0, dampening=0, weight_decay=0, "
           "nesterov=false, maximize=false, first=false): torch.optim.SGD's update of p and "
           "its buffer in one pass (first: the buffer starts as the update)" },
  { .name = "adam_step", .min_inputs = 4, .max_inputs = 5, .nout = 1, .attrs = adam_attrs,
    .infer = infer_adam, .cpu = cpu_adam, .vulkan = EMBER_VK(vk_adam_step), .flags = UPDATE,
    .doc = "p:adam_step_(grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1=0.9, "
           "beta2=0.999, eps=1e-8, weight_decay=0, step, maximize=false, decoupled=false): "
           "torch.optim.Adam's (decoupled: AdamW's) update in one pass; max_exp_avg_sq for amsgrad" },
  { .name = NULL },
};
