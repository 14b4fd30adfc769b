/*
** vk_pool.c — max_pool2d, avg_pool2d, adaptive_avg_pool2d and their gradients on
** Vulkan: the geometry is the CPU kernels' (ember_pool_geom_of and
** ember_pool_grad_geom_of), the window rules host/cpu/pool.c's.
**
** A forward pool is one dispatch of pool_fwd.comp, one output element per
** invocation. A gradient is one dispatch of pool_bwd.comp gathering, per input
** element, the output gradients of the windows that read it: deterministic, no
** atomics. max_pool2d's gradient first has pool_fwd.comp write each window's pick
** (the element the forward took: first max, or last NaN) as an int32, so the gradient
** goes exactly where the CPU kernel sends it.
*/
#include <string.h>

#include "vk.h"
#include "vk_kernels.h"
#include "../cpu/conv.h"

enum { KIND_MAX, KIND_AVG, KIND_ADAPTIVE, KIND_PICKS };   /* as the shaders number them */

/* push constants of pool_fwd.comp and pool_bwd.comp */
typedef struct pool_push {
  int32_t geom[13];           /* c h w oh ow, kh kw sh sw ph pw dh dw */
  int32_t xs[4];              /* strides of the tensor read: the input or grad_output */
  int32_t xoff;
  uint32_t total;             /* invocations: output elements (forward), input's (gradient) */
  int32_t count_include_pad, divisor, ooff;
} pool_push;

_Static_assert(sizeof(pool_push) <= VK_PUSH_BYTES, "pool_push is past the push constants");

/* The push constants of g reading x (strides) into out; 0 when something does not fit
** 32 bits. */
static int pool_params(pool_push *p, const ember_pool_geom *g, const ember_tensor *x,
                       const ember_tensor *out) {
  memset(p, 0, sizeof *p);
  int64_t v[13] = { g->c, g->h, g->w, g->oh, g->ow, g->win.k[0], g->win.k[1], g->win.s[0],
                    g->win.s[1], g->win.p[0], g->win.p[1], g->win.d[0], g->win.d[1] };
  for (int k = 0; k < 13; k++) {
    if (!vk_fits_i32(v[k])) return 0;
    p->geom[k] = (int32_t)v[k];
  }
  if (!vk_fits_i32(g->divisor) || !vk_conv_image(x, p->xs, &p->xoff)) return 0;
  if (!vk_fits_i32(g->n * g->c * g->h * g->w) || !vk_fits_i32(g->n * g->c * g->oh * g->ow))
    return 0;
  p->count_include_pad = g->count_include_pad;
  p->divisor = (int32_t)g->divisor;
  p->total = (uint32_t)ember_tensor_numel(out);
  p->ooff = (int32_t)out->offset;
  return 1;
}

static ember_status forward(ember_call *c, ember_pool_kind kind, int shader_kind) {
  ember_pool_geom g;
  if (ember_pool_geom_of(c, kind, &g) != EMBER_OK) return EMBER_ERROR;
  ember_tensor *out = c->out[0];
  if (vk_conv_check_out(c, out) != EMBER_OK) return EMBER_ERROR;
  pool_push p;
  if (!pool_params(&p, &g, c->in[0], out)) return vk_conv_too_large(c);
  if (p.total == 0) return EMBER_OK;
  const ember_tensor *bind[2] = { out, c->in[0] };
  return vk_conv_launch("pool_fwd", c->compute, (uint32_t)shader_kind, 0, 2, bind, &p, sizeof p,
                        p.total, 256);
}

ember_status vk_max_pool2d(ember_call *c) { return forward(c, EMBER_POOL_MAX, KIND_MAX); }
ember_status vk_avg_pool2d(ember_call *c) { return forward(c, EMBER_POOL_AVG, KIND_AVG); }

ember_status vk_adaptive_avg_pool2d(ember_call *c) {
  return forward(c, EMBER_POOL_ADAPTIVE, KIND_ADAPTIVE);
}

/* The gradient of kind into c's output: in[0] grad_output; max also reads the picks
** of the input in[1]. */
static ember_status backward(ember_call *c, ember_pool_kind kind, int shader_kind) {
  ember_pool_geom g;
  if (ember_pool_grad_geom_of(c, kind, &g) != EMBER_OK) return EMBER_ERROR;
  ember_tensor *out = c->out[0], *go = c->in[0];
  if (vk_conv_check_out(c, out) != EMBER_OK) return EMBER_ERROR;
  pool_push p;
  if (!pool_params(&p, &g, go, out)) return vk_conv_too_large(c);
  if (p.total == 0) return EMBER_OK;
  ember_tensor *picks = NULL;
  if (kind == EMBER_POOL_MAX) {
    int64_t shape[4] = { g.n, g.c, g.oh, g.ow };
    pool_push q;
    picks = ember_tensor_empty_on(EMBER_VULKAN, EMBER_I32, 4, shape);
    if (picks == NULL) return EMBER_ERROR;
    if (!pool_params(&q, &g, c->in[1], picks)) {
      ember_tensor_release(picks);
      return vk_conv_too_large(c);
    }
    const ember_tensor *bind[2] = { picks, c->in[1] };
    if (q.total > 0 && vk_conv_launch("pool_fwd", c->compute, KIND_PICKS, 0, 2, bind, &q,
                                      sizeof q, q.total, 256) != EMBER_OK) {
      ember_tensor_release(picks);
      return EMBER_ERROR;
    }
  }
  const ember_tensor *bind[3] = { out, go, picks ? picks : out };
  ember_status st = vk_conv_launch("pool_bwd", c->compute, (uint32_t)shader_kind, 0, 3, bind, &p,
                                   sizeof p, p.total, 256);
  ember_tensor_release(picks);      /* freed once the batch that reads it is done */
  return st;
}

ember_status vk_max_pool2d_backward(ember_call *c) {
  return backward(c, EMBER_POOL_MAX, KIND_MAX);
}

ember_status vk_avg_pool2d_backward(ember_call *c) {
  return backward(c, EMBER_POOL_AVG, KIND_AVG);
}

ember_status vk_adaptive_avg_pool2d_backward(ember_call *c) {
  return backward(c, EMBER_POOL_ADAPTIVE, KIND_ADAPTIVE);
}
