/*
** vk_optim.c — the fused optimizer updates on Vulkan (shaders/optim.comp): one
** dispatch per parameter, writing the parameter and its state in place. The scalars
** are computed here exactly as host/cpu/optim.c computes them (in double, then cast
** to the parameter's dtype), and the shader repeats the CPU loop's statements in the
** same order, so both devices follow the same trajectory to rounding.
*/
#include <math.h>
#include <string.h>

#include "vk.h"
#include "vk_kernels.h"

enum { OPT_SGD, OPT_ADAM };

typedef struct optim_push {
  uint32_t numel, flags;
  int32_t off[5];
  uint32_t pad;
  uint32_t sc[18];
} optim_push;

/* scalar k in the parameters' dtype */
static void put(optim_push *p, ember_dtype dt, int k, double v) {
  if (dt == EMBER_F64) {
    memcpy(p->sc + 2 * k, &v, 8);
  } else {
    float f = (float)v;
    memcpy(p->sc + k, &f, 4);
  }
}

/* the state tensors change too: their versions move with the parameter's (as the
** cpu entry's touched()) */
static void touched(ember_call *c, int from) {
  for (int i = from; i < c->nin; i++)
    if (c->in[i]) c->in[i]->storage->version++;
}

/* t[0] is the parameter (c->out[0], the same tensor as in[0]), then grad and states */
static ember_status optim_launch(ember_call *c, int op, ember_tensor *const *t, int nt, optim_push *p) {
  int64_t n = ember_tensor_numel(t[0]);
  if (n == 0) return EMBER_OK;
  for (int k = 0; k < nt; k++) {
    if (t[k]->offset + n > INT32_MAX)
      return ember_op_error(c, "%lld elements is beyond the 32-bit indexing of the vulkan kernels",
                            (long long)(t[k]->offset + n));
    p->off[k] = (int32_t)t[k]->offset;
  }
  p->numel = (uint32_t)n;
  ember_dtype dt = t[0]->dtype;
  char name[32];
  if (vk_shader_variant(name, sizeof name, "optim", 1, &dt) != EMBER_OK) return EMBER_ERROR;
  vk_launch_args a = { .shader = name, .nbind = nt, .push = p, .push_bytes = sizeof *p };
  for (int k = 0; k < nt; k++) {
    a.bind[k] = t[k];
    a.write[k] = k != 1;                         /* all but the gradient */
  }
  a.spec[0] = 256; a.spec[1] = 1; a.spec[2] = 1;
  a.spec[3] = (uint32_t)op;
  a.spec[4] = (uint32_t)vk_dtype_code(dt);
  vk_groups_1d(n, 256, a.groups);
  if (vk_launch(&a) != EMBER_OK) return EMBER_ERROR;
  touched(c, 2);
  return EMBER_OK;
}

ember_status vk_sgd_step(ember_call *c) {
  double lr = c->attr[0].f, momentum = c->attr[1].f, dampening = c->attr[2].f;
  double wd = c->attr[3].f;
  ember_dtype dt = c->in[0]->dtype;
  ember_tensor *buf = momentum != 0 ? c->in[2] : NULL;
  optim_push p;
  memset(&p, 0, sizeof p);
  p.flags = (buf ? 1u : 0) | (c->attr[5].i ? 2u : 0) | (wd != 0 ? 4u : 0) |
            (c->attr[6].i ? 8u : 0) | (c->attr[4].i ? 16u : 0);
  put(&p, dt, 0, lr);
  put(&p, dt, 1, momentum);
  put(&p, dt, 2, 1 - dampening);
  put(&p, dt, 3, wd);
  ember_tensor *t[3] = { c->out[0], c->in[1], buf };
  return optim_launch(c, OPT_SGD, t, buf ? 3 : 2, &p);
}

ember_status vk_adam_step(ember_call *c) {
  double lr = c->attr[0].f, b1 = c->attr[1].f, b2 = c->attr[2].f, eps = c->attr[3].f;
  double wd = c->attr[4].f, step = (double)c->attr[5].i;
  ember_dtype dt = c->in[0]->dtype;
  ember_tensor *vmax = c->nin > 4 ? c->in[4] : NULL;
  optim_push p;
  memset(&p, 0, sizeof p);
  p.flags = (vmax ? 1u : 0) | (c->attr[6].i ? 2u : 0) | (wd != 0 ? 4u : 0) | (c->attr[7].i ? 8u : 0);
  put(&p, dt, 0, b1);
  put(&p, dt, 1, b2);
  put(&p, dt, 2, wd);
  put(&p, dt, 3, 1 - b1);
  put(&p, dt, 4, 1 - b2);
  put(&p, dt, 5, 1 - lr * wd);
  put(&p, dt, 6, lr / (1 - pow(b1, step)));
  put(&p, dt, 7, sqrt(1 - pow(b2, step)));
  put(&p, dt, 8, eps);
  ember_tensor *t[5] = { c->out[0], c->in[1], c->in[2], c->in[3], vmax };
  return optim_launch(c, OPT_ADAM, t, vmax ? 5 : 4, &p);
}
