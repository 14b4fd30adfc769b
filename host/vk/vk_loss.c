/*
** vk_loss.c — cross_entropy and cross_entropy_backward on Vulkan (shaders/loss.comp),
** with host/cpu/loss.c's semantics: input (C) or (N, C, d...) viewed as N x C x S,
** class-index targets in the call's index base, ignore_index compared with the raw
** values, class weights, label smoothing, reduction mean/sum/none.
**
** Forward: one dispatch computes every position's loss (T threads per row, T chosen
** from C), a second (one workgroup) reduces them for mean/sum. A target out of range
** is an error as on the cpu, reported without a read-back: the forward launch takes an
** error slot (vk.h) where the shader leaves the lowest such position; the next wait for
** the device reads that target back and fails with the cpu's message.
** Backward: a one-workgroup dispatch for the mean's denominator (and the sum of the
** weights under label smoothing), then one dispatch for the gradient.
*/
#include <stdlib.h>
#include <string.h>

#include "vk.h"
#include "vk_kernels.h"

enum { CE_FORWARD, CE_TOTAL, CE_WEIGHTS, CE_BACKWARD };

#define F_WEIGHT 1u
#define F_NONE 2u
#define F_MEAN 4u

typedef struct ce_push {
  uint32_t P, C, S;
  int32_t base;
  uint32_t ignore[2];
  uint32_t flags, pad;
  uint32_t e[2];
  int32_t off_o, off_x, off_t, off_w, off_g;
} ce_push;

/* The call's tensors in the forms the shader reads: input contiguous in the compute
** dtype, target contiguous i64, weight contiguous in the compute dtype. */
typedef struct ce_args {
  ember_tensor *x, *t, *w, *g;
  int64_t n, classes, s;
  ce_push p;
} ce_args;

static void ce_free(ce_args *a) {
  ember_tensor_release(a->x);
  ember_tensor_release(a->t);
  ember_tensor_release(a->w);
  ember_tensor_release(a->g);
}

static int fits(int64_t v) { return v >= 0 && v <= INT32_MAX; }

static ember_status ce_setup(ember_call *c, ce_args *a, int xi) {
  memset(a, 0, sizeof *a);
  const ember_tensor *x0 = c->in[xi];
  if (x0->ndim == 1) {
    a->n = 1; a->classes = x0->shape[0]; a->s = 1;
  } else {
    a->n = x0->shape[0];
    a->classes = x0->shape[1];
    a->s = 1;
    for (int d = 2; d < x0->ndim; d++) a->s *= x0->shape[d];
  }
  a->x = ember_contiguous(c->in[xi]);
  a->t = vk_dense(c->in[xi + 1], EMBER_I64, 0, NULL);
  if (c->nin > xi + 2 && c->in[xi + 2]) a->w = vk_dense(c->in[xi + 2], c->compute, 0, NULL);
  if (xi == 1) a->g = ember_contiguous(c->in[0]);
  if (!a->x || !a->t || (c->nin > xi + 2 && c->in[xi + 2] && !a->w) || (xi == 1 && !a->g))
    return EMBER_ERROR;
  int64_t numel = ember_tensor_numel(a->x);
  if (!fits(a->x->offset + numel) || !fits(a->t->offset + a->n * a->s) ||
      (a->w && !fits(a->w->offset + a->classes)) || (a->g && !fits(a->g->offset + ember_tensor_numel(a->g))))
    return ember_op_error(c, "%lld elements is beyond the 32-bit indexing of the vulkan kernels",
                          (long long)numel);
  ce_push *p = &a->p;
  p->P = (uint32_t)(a->n * a->s);
  p->C = (uint32_t)a->classes;
  p->S = (uint32_t)a->s;
  p->base = c->index_base;
  p->ignore[0] = (uint32_t)(uint64_t)c->attr[0].i;
  p->ignore[1] = (uint32_t)((uint64_t)c->attr[0].i >> 32);
  const char *r = c->attr[1].s;
  p->flags = (a->w ? F_WEIGHT : 0) | (r[0] == 'n' ? F_NONE : 0) | (r[0] == 'm' ? F_MEAN : 0);
  double e = c->attr[2].f;
  if (c->compute == EMBER_F64) {
    memcpy(p->e, &e, 8);
  } else {
    float f = (float)e;
    memcpy(p->e, &f, 4);
  }
  p->off_x = (int32_t)a->x->offset;
  p->off_t = (int32_t)a->t->offset;
  p->off_w = a->w ? (int32_t)a->w->offset : 0;
  p->off_g = a->g ? (int32_t)a->g->offset : 0;
  return EMBER_OK;
}

/* threads per row: about 16 classes each, a power of two up to the workgroup */
static uint32_t row_threads(int64_t classes) {
  uint32_t t = 1;
  while (t < 256 && (int64_t)t * 16 < classes) t <<= 1;
  return t;
}

/* One dispatch: bindings o, x, t, w, s, g (absent ones bound to x, never read), the
** error slot `slot` (0: none); `rows` positions at T threads each, or one workgroup
** when rows is 0. */
static ember_status ce_launch(ember_call *c, ce_args *a, int op, ember_tensor *o, ember_tensor *s,
                              int slot, uint32_t T) {
  char name[32];
  if (vk_shader_variant(name, sizeof name, "loss", 1, &c->compute) != EMBER_OK) return EMBER_ERROR;
  vk_launch_args l = { .shader = name, .nbind = 6, .push = &a->p, .push_bytes = sizeof a->p,
                       .error_slot = slot };
  const ember_tensor *b[6] = { o, a->x, a->t, a->w ? a->w : a->x, s ? s : a->x, a->g ? a->g : a->x };
  int write[6] = { 1, 0, 0, 0, op == CE_FORWARD || op == CE_WEIGHTS, 0 };
  if (op == CE_WEIGHTS) write[0] = 0;
  for (int k = 0; k < 6; k++) {
    l.bind[k] = b[k];
    l.write[k] = write[k];
  }
  l.spec[0] = 256; l.spec[1] = 1; l.spec[2] = 1;
  l.spec[3] = (uint32_t)op;
  l.spec[4] = (uint32_t)vk_dtype_code(c->compute);
  l.spec[5] = T;
  if (op == CE_FORWARD || op == CE_BACKWARD) {
    vk_groups_1d((int64_t)a->p.P * T, 256, l.groups);
  } else {
    l.groups[0] = l.groups[1] = l.groups[2] = 1;
  }
  return vk_launch(&l);
}

/* What the error slot of a forward keeps to name a bad target: the i64 targets the
** shader read (kept alive until the slot is checked) and the range. */
typedef struct ce_error {
  ember_tensor *t;
  int64_t base, classes, ignore;
} ce_error;

static void ce_error_free(void *ctx) {
  ce_error *e = ctx;
  ember_tensor_release(e->t);
  free(e);
}

/* the cpu's error for the first target out of range, at position `first` (the only
** read-back, and only when the shader saw a bad target) */
static ember_status ce_error_raise(void *ctx, uint32_t first) {
  ce_error *e = ctx;
  int64_t raw;
  if (vk_download(vk_storage_alloc(e->t->storage), (VkDeviceSize)(e->t->offset + first) * 8, &raw, 8) != EMBER_OK)
    return EMBER_ERROR;
  return ember_error("cross_entropy: target %lld is out of range %lld..%lld (or ignore_index %lld)",
                     (long long)raw, (long long)e->base, (long long)(e->classes - 1 + e->base),
                     (long long)e->ignore);
}

/* An error slot for the forward of a (0 and an error when none can be had). */
static int ce_slot(ce_args *a) {
  ce_error *e = malloc(sizeof *e);
  if (e == NULL) {
    ember_error("out of memory");
    return 0;
  }
  ember_tensor_retain(a->t);
  *e = (ce_error){ a->t, a->p.base, a->classes,
                   (int64_t)((uint64_t)a->p.ignore[0] | (uint64_t)a->p.ignore[1] << 32) };
  return vk_error_slot(ce_error_raise, e, ce_error_free);
}

ember_status vk_cross_entropy(ember_call *c) {
  ce_args a;
  ember_tensor *out = c->out[0], *s = NULL;
  ember_status st = ce_setup(c, &a, 0);
  uint32_t T = row_threads(a.classes);
  int none = (a.p.flags & F_NONE) != 0;
  if (st == EMBER_OK && out->offset > INT32_MAX) st = ember_op_error(c, "output offset beyond 32 bits");
  a.p.off_o = (int32_t)out->offset;
  if (st == EMBER_OK && !none) {           /* loss and weight per position */
    int64_t len = 2 * (int64_t)a.p.P;
    s = ember_tensor_empty_on(EMBER_VULKAN, c->compute, 1, &(int64_t){ len > 2 ? len : 2 });
    if (s == NULL) st = EMBER_ERROR;
  }
  if (st == EMBER_OK && a.p.P > 0) {
    int slot = ce_slot(&a);
    st = slot ? ce_launch(c, &a, CE_FORWARD, out, s, slot, T) : EMBER_ERROR;
  }
  if (st == EMBER_OK && !none) st = ce_launch(c, &a, CE_TOTAL, out, s, 0, 1);
  ember_tensor_release(s);
  ce_free(&a);
  return st;
}

/* cross_entropy_backward(grad, input, target [, weight]) -> gradient of the input */
ember_status vk_cross_entropy_backward(ember_call *c) {
  ce_args a;
  ember_tensor *out = c->out[0], *s = NULL;
  ember_status st = ce_setup(c, &a, 1);
  uint32_t T = row_threads(a.classes);
  if (st == EMBER_OK && out->offset > INT32_MAX) st = ember_op_error(c, "output offset beyond 32 bits");
  a.p.off_o = (int32_t)out->offset;
  int need_sums = (a.p.flags & F_MEAN) || (a.w && c->attr[2].f != 0);
  if (st == EMBER_OK && need_sums) {
    s = ember_tensor_empty_on(EMBER_VULKAN, c->compute, 1, &(int64_t){ 2 });
    st = s ? ce_launch(c, &a, CE_WEIGHTS, out, s, 0, 1) : EMBER_ERROR;
  }
  if (st == EMBER_OK && a.p.P > 0 && a.classes > 0) st = ce_launch(c, &a, CE_BACKWARD, out, s, 0, T);
  ember_tensor_release(s);
  ce_free(&a);
  return st;
}
