/*
** vk_conv.c — conv2d, conv_transpose2d and conv2d's gradients on Vulkan, and the
** helpers the conv family's files share (vk_pool.c, vk_resize.c).
**
** The geometry is the CPU kernels' own (ember_conv_geom_of, ember_conv_grad_geom_of
** in host/ops/ops_conv.c), so the numbers a shader loops over are the ones infer
** checked. The kernels are direct loops, no im2col matrix:
**   conv2d                   conv_fwd.comp, each invocation a block of 4 output
**                            channels x 4 columns, looping over the group's input
**                            channels and the taps (export's fused_conv2d: the same,
**                            with an activation as it stores)
**   conv_transpose2d         conv_transpose.comp, the adjoint gathered: each output
**                            element (4 channels per invocation) sums the (input, tap)
**                            pairs that land on it
**   conv2d_backward_input    the same shader: conv2d's input gradient is the
**                            transposed convolution of grad_output by the weight
**   conv2d_backward_weight   conv_wgrad.comp: each weight element's sum over images
**                            and positions split into fixed chunks summed in
**                            parallel, then the chunks added up (a second dispatch)
** Nothing is atomic, so results are the same on every run. Inputs are read through
** their strides (NCHW, 4 strides in push constants); the dispatcher's outputs are
** contiguous. The dispatcher has cast inputs to the compute dtype: f32, or f64 run
** by the f64 variants.
*/
#include <string.h>

#include "vk.h"
#include "vk_kernels.h"
#include "../cpu/conv.h"
#include "../cpu/fused.h"

/* {====== helpers the family shares */

int vk_conv_index_fits(const ember_tensor *t) {
  int64_t lo = t->offset, hi = t->offset;
  if (ember_tensor_numel(t) > 0)
    for (int d = 0; d < t->ndim; d++) {
      int64_t span = (t->shape[d] - 1) * t->stride[d];
      if (span < 0) lo += span;
      else hi += span;
    }
  return lo >= 0 && hi <= INT32_MAX;
}

int vk_conv_image(const ember_tensor *t, int32_t st[4], int32_t *off) {
  int o = t->ndim == 4;
  int64_t s[4] = { o ? t->stride[0] : 0, t->stride[o], t->stride[o + 1], t->stride[o + 2] };
  if (!vk_conv_index_fits(t)) return 0;
  for (int d = 0; d < 4; d++) st[d] = (int32_t)s[d];
  *off = (int32_t)t->offset;
  return 1;
}

ember_status vk_conv_too_large(ember_call *c) {
  return ember_op_error(c, "vulkan: sizes or strides beyond 32-bit indexing");
}

ember_status vk_conv_check_out(ember_call *c, const ember_tensor *out) {
  if (!ember_tensor_is_contiguous(out))
    return ember_op_error(c, "vulkan: the output must be contiguous");
  if (out->offset + ember_tensor_numel(out) > INT32_MAX)
    return ember_op_error(c, "vulkan: %lld output elements are beyond 32-bit indexing",
                          (long long)ember_tensor_numel(out));
  return EMBER_OK;
}

ember_tensor *vk_conv_upload(ember_dtype dt, int64_t n, const void *data) {
  ember_tensor *t = ember_tensor_empty_on(EMBER_VULKAN, dt, 1, &n);
  if (t == NULL || n == 0) return t;
  size_t bytes = (size_t)n * ember_dtype_size(dt);
  if (vk_upload(vk_storage_alloc(t->storage), 0, data, bytes) != EMBER_OK) {
    ember_tensor_release(t);
    return NULL;
  }
  return t;
}

ember_status vk_conv_launch(const char *base, ember_dtype dt, uint32_t s3, uint32_t s4, int nb,
                            const ember_tensor *const *bind, const void *push, size_t bytes,
                            int64_t n, uint32_t local) {
  char name[48];
  if (vk_shader_variant(name, sizeof name, base, 1, &dt) != EMBER_OK) return EMBER_ERROR;
  vk_launch_args a = { .shader = name, .nbind = nb, .push = push, .push_bytes = bytes };
  for (int k = 0; k < nb; k++) a.bind[k] = bind[k];
  a.write[0] = 1;
  a.spec[0] = local; a.spec[1] = 1; a.spec[2] = 1;
  a.spec[3] = s3;
  a.spec[4] = s4;
  vk_groups_1d(n, local, a.groups);
  return vk_launch(&a);
}

/* }====== */

/* {====== conv2d and conv_transpose2d */

/* push constants of conv_fwd.comp and conv_transpose.comp */
typedef struct conv_push {
  int32_t geom[16];           /* n c h w, oc oh ow groups, kh kw sh sw ph pw dh dw */
  int32_t xs[4], ws[4];
  int32_t xoff, woff, boff, bstride;
  uint32_t total;
  int32_t has_bias, ooff;
} conv_push;

_Static_assert(sizeof(conv_push) <= VK_PUSH_BYTES, "conv_push is past the push constants");

/* The geometry of g in p; 0 when a number does not fit 32 bits. */
static int put_geom(int32_t *p, const ember_conv_geom *g) {
  int64_t v[16] = { g->n, g->c, g->h, g->w, g->oc, g->oh, g->ow, g->groups,
                    g->win.k[0], g->win.k[1], g->win.s[0], g->win.s[1],
                    g->win.p[0], g->win.p[1], g->win.d[0], g->win.d[1] };
  for (int k = 0; k < 16; k++) {
    if (!vk_fits_i32(v[k])) return 0;
    p[k] = (int32_t)v[k];
  }
  return 1;
}

#define CONV_OB 4             /* output channels per invocation (conv_fwd, conv_transpose) */
#define CONV_PB 4             /* output columns per invocation (conv_fwd) */

/* out = conv2d (conv_fwd.comp) or its adjoint (conv_transpose.comp) over image x
** (window positions in g's terms), weight w, bias b (or NULL); act is fused_conv2d's
** activation, which conv_fwd.comp applies as it stores (pointwise_ops.h; 0: none). */
static ember_status conv_run(ember_call *c, int transposed, const ember_conv_geom *g,
                             const ember_tensor *x, const ember_tensor *w, const ember_tensor *b,
                             int act) {
  ember_tensor *out = c->out[0];
  if (vk_conv_check_out(c, out) != EMBER_OK) return EMBER_ERROR;
  int64_t total = ember_tensor_numel(out);
  if (total == 0) return EMBER_OK;
  conv_push p;
  memset(&p, 0, sizeof p);
  /* vk_conv_image reads the 4-D weight as n c h w: its four strides as they are */
  if (!put_geom(p.geom, g) || !vk_conv_image(x, p.xs, &p.xoff) || !vk_conv_image(w, p.ws, &p.woff))
    return vk_conv_too_large(c);
  if (b) {
    if (!vk_fits_i32(b->offset + (b->shape[0] - 1) * b->stride[0]))
      return vk_conv_too_large(c);
    p.has_bias = 1;
    p.boff = (int32_t)b->offset;
    p.bstride = (int32_t)b->stride[0];
  }
  /* invocations: blocks of CONV_OB channels of a group, and for conv2d of CONV_PB
     columns (the shaders' OB and PB) */
  int64_t og = g->oc / g->groups, blocks = (og + CONV_OB - 1) / CONV_OB;
  int64_t cols = transposed ? g->ow : (g->ow + CONV_PB - 1) / CONV_PB;
  int64_t n = g->n * g->groups * blocks * g->oh * cols;
  if (n > INT32_MAX) return vk_conv_too_large(c);
  p.total = (uint32_t)n;
  p.ooff = (int32_t)out->offset;
  const ember_tensor *bind[4] = { out, x, w, b ? b : out };
  return vk_conv_launch(transposed ? "conv_transpose" : "conv_fwd", c->compute, (uint32_t)act, 0,
                        4, bind, &p, sizeof p, n, 64);
}

ember_status vk_conv2d(ember_call *c) {
  ember_conv_geom g;
  if (ember_conv_geom_of(c, 0, &g) != EMBER_OK) return EMBER_ERROR;
  return conv_run(c, 0, &g, c->in[0], c->in[1], c->nin > 2 ? c->in[2] : NULL, 0);
}

/* export's fused_conv2d: conv2d with its activation applied as conv_fwd.comp stores */
ember_status vk_fused_conv2d(ember_call *c) {
  ember_conv_geom g;
  const ember_fused_word *w;
  if (ember_fused_activation(c, FUSED_CONV_ACTIVATION, &w) != EMBER_OK) return EMBER_ERROR;
  if (ember_conv_geom_of(c, 0, &g) != EMBER_OK) return EMBER_ERROR;
  return conv_run(c, 0, &g, c->in[0], c->in[1], c->nin > 2 ? c->in[2] : NULL, w ? w->code : 0);
}

ember_status vk_conv_transpose2d(ember_call *c) {
  ember_conv_geom g;
  if (ember_conv_geom_of(c, 1, &g) != EMBER_OK) return EMBER_ERROR;
  return conv_run(c, 1, &g, c->in[0], c->in[1], c->nin > 2 ? c->in[2] : NULL, 0);
}

/* conv2d's input gradient: conv_transpose2d of grad_output by the same weight, in the
** geometry the CPU kernel runs it with. */
ember_status vk_conv2d_backward_input(ember_call *c) {
  ember_conv_geom t;
  if (ember_conv_input_grad_geom_of(c, &t) != EMBER_OK) return EMBER_ERROR;
  return conv_run(c, 1, &t, c->in[0], c->in[1], NULL, 0);
}

/* }====== */

/* {====== conv2d's weight gradient */

#define WGRAD_OB 4            /* output channels per invocation (conv_wgrad's OB) */
#define WGRAD_CHUNK 256       /* positions per chunk, at least */
#define WGRAD_CHUNKS 64       /* chunks, at most */
#define WGRAD_PARTS (1 << 24) /* elements of the chunks' parts, at most */

/* push constants of conv_wgrad.comp */
typedef struct wgrad_push {
  int32_t geom[16];           /* as conv_push's */
  int32_t gs[4], xs[4];
  int32_t goff, xoff;
  uint32_t total;
  int32_t ooff;
  int32_t chunks, chunk;
  uint32_t welems;
} wgrad_push;

_Static_assert(sizeof(wgrad_push) <= VK_PUSH_BYTES, "wgrad_push is past the push constants");

/* The positions of a weight element's sum are split into chunks, each summed by its
** own invocations, and the chunks' parts added up by a second pass: a sum over many
** positions (a large batch, large images) still spreads over the device. The split
** depends on the sizes alone, so results do not change from device to device. */
ember_status vk_conv2d_backward_weight(ember_call *c) {
  ember_conv_geom g;
  if (ember_conv_grad_geom_of(c, 1, &g) != EMBER_OK) return EMBER_ERROR;
  ember_tensor *out = c->out[0];
  if (vk_conv_check_out(c, out) != EMBER_OK) return EMBER_ERROR;
  int64_t welems = ember_tensor_numel(out);
  if (welems == 0) return EMBER_OK;
  wgrad_push p;
  memset(&p, 0, sizeof p);
  int64_t count = g.n * g.oh * g.ow;
  if (!put_geom(p.geom, &g) || !vk_conv_image(c->in[0], p.gs, &p.goff) ||
      !vk_conv_image(c->in[1], p.xs, &p.xoff) || count > INT32_MAX)
    return vk_conv_too_large(c);
  int64_t chunks = (count + WGRAD_CHUNK - 1) / WGRAD_CHUNK;
  if (chunks > WGRAD_CHUNKS) chunks = WGRAD_CHUNKS;
  if (chunks * welems > WGRAD_PARTS) chunks = WGRAD_PARTS / welems;
  if (chunks < 1) chunks = 1;
  int64_t og = g.oc / g.groups, blocks = (og + WGRAD_OB - 1) / WGRAD_OB;
  int64_t n = chunks * g.groups * blocks * (g.c / g.groups) * g.win.k[0] * g.win.k[1];
  if (n > INT32_MAX) return vk_conv_too_large(c);
  p.total = (uint32_t)n;
  p.ooff = (int32_t)out->offset;
  p.chunks = (int32_t)chunks;
  p.chunk = (int32_t)((count + chunks - 1) / chunks);
  p.welems = (uint32_t)welems;
  ember_tensor *parts = NULL;
  if (chunks > 1 && (parts = ember_tensor_empty_on(EMBER_VULKAN, c->compute, 1,
                                                   &(int64_t){ chunks * welems })) == NULL)
    return EMBER_ERROR;
  const ember_tensor *bind[3] = { parts ? parts : out, c->in[0], c->in[1] };
  ember_status st = vk_conv_launch("conv_wgrad", c->compute, 0, 0, 3, bind, &p, sizeof p, n, 64);
  if (st == EMBER_OK && parts) {
    const ember_tensor *sum[2] = { out, parts };
    p.total = (uint32_t)welems;
    st = vk_conv_launch("conv_wgrad", c->compute, 1, 0, 2, sum, &p, sizeof p, welems, 64);
  }
  ember_tensor_release(parts);
  return st;
}

/* }====== */
