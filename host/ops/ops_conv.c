/*
** ops_conv.c — op table entries of the convolution family: conv2d,
** conv_transpose2d, max_pool2d, avg_pool2d, adaptive_avg_pool2d, pad, interpolate,
** their backward rules, and the backward kernels the rules dispatch.
**
** Images are NCHW, weights in PyTorch's layouts; a 3-D input is one unbatched CHW
** image (as PyTorch). Int-pair attributes (stride, padding, kernel_size, ...) take one
** value for both axes or two (height, width). The geometry functions below are the
** shape rules: infer calls them to check a call and size its output, and the kernels
** (host/cpu/conv.c, pool.c, resize.c) call them again to get the same numbers. The
** attribute tables must stay in the order of the enums in conv.h.
**
** Gradients need kernels no forward op provides (conv2d's weight gradient, the
** adjoints of pooling, padding and resampling), so they are ops here too, named
** <op>_backward and not bound in Lua: a rule dispatches them like any op, and another
** backend or an exported program can provide them. Each takes the output's gradient
** first, then the forward call's attributes, then the size it cannot read off that
** gradient. conv_transpose2d needs no kernel of its own: its input gradient is a
** conv2d, its weight gradient conv2d's with the roles of image and gradient swapped.
*/
#include <math.h>
#include <string.h>

#include "ops.h"
#include "autograd.h"
#include "../cpu/conv.h"
#include "../vk/vk_kernels.h"

/* {====== helpers */

static const char *shape_of(const ember_tensor *t, char *buf, size_t n) {
  return ember_shape_str(t, buf, n);
}

/* PyTorch's _pair: one value means both axes. */
static ember_status pair(ember_call *c, int k, int64_t out[2]) {
  const ember_attr *a = &c->attr[k];
  if (a->n == 1) {
    out[0] = out[1] = a->v[0];
  } else if (a->n == 2) {
    out[0] = a->v[0];
    out[1] = a->v[1];
  } else {
    return ember_op_error(c, "%s takes 1 or 2 values (height, width), got %d",
                          c->op->attrs[k].name, a->n);
  }
  return EMBER_OK;
}

/* Checks v[0], v[1] >= lo; names the attribute in the message. */
static ember_status at_least(ember_call *c, int k, const int64_t v[2], int64_t lo) {
  if (v[0] >= lo && v[1] >= lo) return EMBER_OK;
  return ember_op_error(c, "%s must be %s, got %lldx%lld", c->op->attrs[k].name,
                        lo > 0 ? "positive" : "non-negative", (long long)v[0], (long long)v[1]);
}

static const char *const conv_roles[] = { "input", "weight", "bias" };
static const char *const grad_roles[] = { "grad_output", "input" };
static const char *const grad_weight_roles[] = { "grad_output", "weight" };

/* The ops here compute in f32 or f64: every tensor input must be a float; the result
** is their promoted dtype, f16/bf16 computed in f32. role names the inputs in messages. */
static ember_status float_inputs_as(ember_call *c, int n, const char *const *role,
                                    ember_dtype *rt) {
  ember_dtype r = EMBER_DTYPE_NONE;
  for (int i = 0; i < n && i < c->nin; i++) {
    const ember_tensor *t = c->in[i];
    if (t == NULL) continue;
    if (!ember_dtype_is_float(t->dtype))
      return ember_op_error(c, "%s dtype %s is not supported (float dtypes only)", role[i],
                            ember_dtype_name(t->dtype));
    r = r == EMBER_DTYPE_NONE ? t->dtype : ember_promote_types(r, t->dtype);
  }
  c->compute = ember_compute_dtype(r, EMBER_FLOATS);
  ember_cast_inputs(c, 0, n, c->compute);
  *rt = r;
  return EMBER_OK;
}

static ember_status float_inputs(ember_call *c, int n, ember_dtype *rt) {
  return float_inputs_as(c, n, conv_roles, rt);
}

/* The image dims of a 3-D (CHW) or 4-D (NCHW) input. */
static ember_status image_dims(ember_call *c, const ember_tensor *x, int64_t *n, int64_t *ch,
                               int64_t *h, int64_t *w, int *batched) {
  char s[128];
  if (x->ndim != 3 && x->ndim != 4)
    return ember_op_error(c, "expects a 3-D (CHW) or 4-D (NCHW) input, got shape %s",
                          shape_of(x, s, sizeof s));
  *batched = x->ndim == 4;
  int o = *batched;
  *n = *batched ? x->shape[0] : 1;
  *ch = x->shape[o];
  *h = x->shape[o + 1];
  *w = x->shape[o + 2];
  return EMBER_OK;
}

static void set_image_out(ember_call *c, ember_dtype dt, int batched, int64_t n, int64_t ch,
                          int64_t h, int64_t w) {
  int64_t shape[4] = { n, ch, h, w };
  if (batched) ember_set_out(c, 0, dt, 4, shape);
  else ember_set_out(c, 0, dt, 3, shape + 1);
}

/* Text of the image shape (n x) ch x h x w, for messages about a size given as numbers. */
static const char *image_text(int batched, int64_t n, int64_t ch, int64_t h, int64_t w,
                              char *buf, size_t size) {
  int64_t shape[4] = { n, ch, h, w };
  return ember_shape_text(batched ? 4 : 3, batched ? shape : shape + 1, buf, size);
}

/* The (height, width) size attribute k of a backward kernel: positive. */
static ember_status size_attr(ember_call *c, int k, int64_t out[2]) {
  if (!c->attr[k].present) return ember_op_error(c, "%s is required", c->op->attrs[k].name);
  if (pair(c, k, out) || at_least(c, k, out, 1)) return EMBER_ERROR;
  return EMBER_OK;
}

/* }====== */

/* {====== conv2d, conv_transpose2d */

ember_status ember_conv_geom_of(ember_call *c, int transposed, ember_conv_geom *g) {
  const ember_tensor *x = c->in[0], *wt = c->in[1];
  const ember_tensor *b = c->nin > 2 ? c->in[2] : NULL;
  char xs[128], ws[128], bs[128];
  memset(g, 0, sizeof *g);
  if (image_dims(c, x, &g->n, &g->c, &g->h, &g->w, &g->batched) != EMBER_OK) return EMBER_ERROR;
  shape_of(x, xs, sizeof xs);
  shape_of(wt, ws, sizeof ws);
  if (wt->ndim != 4)
    return ember_op_error(c, "weight must be 4-D (%s x kh x kw), got shape %s",
                          transposed ? "in x out/groups" : "out x in/groups", ws);
  ember_window *win = &g->win;
  int ks = transposed ? CONVT_STRIDE : CONV_STRIDE, kp = transposed ? CONVT_PADDING : CONV_PADDING;
  int kd = transposed ? CONVT_DILATION : CONV_DILATION, kg = transposed ? CONVT_GROUPS : CONV_GROUPS;
  if (pair(c, ks, win->s) || pair(c, kp, win->p) || pair(c, kd, win->d)) return EMBER_ERROR;
  if (at_least(c, ks, win->s, 1) || at_least(c, kp, win->p, 0) || at_least(c, kd, win->d, 1))
    return EMBER_ERROR;
  win->k[0] = wt->shape[2];
  win->k[1] = wt->shape[3];
  if (win->k[0] < 1 || win->k[1] < 1)
    return ember_op_error(c, "weight %s has an empty kernel", ws);
  g->groups = c->attr[kg].i;
  if (g->groups < 1) return ember_op_error(c, "groups must be positive, got %lld", (long long)g->groups);
  if (g->c % g->groups != 0)
    return ember_op_error(c, "groups %lld does not divide the %lld input channels of input %s",
                          (long long)g->groups, (long long)g->c, xs);
  if (!transposed) {
    if (wt->shape[1] * g->groups != g->c)
      return ember_op_error(c, "weight %s expects %lld input channels (groups %lld), input %s has %lld",
                            ws, (long long)(wt->shape[1] * g->groups), (long long)g->groups, xs,
                            (long long)g->c);
    if (wt->shape[0] % g->groups != 0)
      return ember_op_error(c, "weight %s has %lld output channels, not divisible by groups %lld",
                            ws, (long long)wt->shape[0], (long long)g->groups);
    g->oc = wt->shape[0];
    int64_t out[2], in[2] = { g->h, g->w };
    for (int i = 0; i < 2; i++) {
      int64_t span = win->d[i] * (win->k[i] - 1) + 1, padded = in[i] + 2 * win->p[i];
      if (padded < span)
        return ember_op_error(c, "kernel %lldx%lld (dilation %lldx%lld) is larger than the padded "
                              "input %lldx%lld (input %s, padding %lldx%lld)",
                              (long long)win->k[0], (long long)win->k[1], (long long)win->d[0],
                              (long long)win->d[1], (long long)(g->h + 2 * win->p[0]),
                              (long long)(g->w + 2 * win->p[1]), xs, (long long)win->p[0],
                              (long long)win->p[1]);
      out[i] = (padded - span) / win->s[i] + 1;
    }
    g->oh = out[0];
    g->ow = out[1];
  } else {
    if (wt->shape[0] != g->c)
      return ember_op_error(c, "weight %s expects %lld input channels, input %s has %lld", ws,
                            (long long)wt->shape[0], xs, (long long)g->c);
    g->oc = wt->shape[1] * g->groups;
    if (pair(c, CONVT_OUTPUT_PADDING, g->out_pad) ||
        at_least(c, CONVT_OUTPUT_PADDING, g->out_pad, 0))
      return EMBER_ERROR;
    for (int i = 0; i < 2; i++)
      if (g->out_pad[i] >= win->s[i] && g->out_pad[i] >= win->d[i])
        return ember_op_error(c, "output_padding %lldx%lld must be smaller than either stride "
                              "%lldx%lld or dilation %lldx%lld", (long long)g->out_pad[0],
                              (long long)g->out_pad[1], (long long)win->s[0], (long long)win->s[1],
                              (long long)win->d[0], (long long)win->d[1]);
    g->oh = (g->h - 1) * win->s[0] - 2 * win->p[0] + win->d[0] * (win->k[0] - 1) + g->out_pad[0] + 1;
    g->ow = (g->w - 1) * win->s[1] - 2 * win->p[1] + win->d[1] * (win->k[1] - 1) + g->out_pad[1] + 1;
    if (g->oh < 1 || g->ow < 1)
      return ember_op_error(c, "output size %lldx%lld is too small (input %s, weight %s, padding "
                            "%lldx%lld)", (long long)g->oh, (long long)g->ow, xs, ws,
                            (long long)win->p[0], (long long)win->p[1]);
  }
  if (b && (b->ndim != 1 || b->shape[0] != g->oc))
    return ember_op_error(c, "bias %s must be 1-D with %lld elements (one per output channel)",
                          shape_of(b, bs, sizeof bs), (long long)g->oc);
  return EMBER_OK;
}

static ember_status infer_conv_either(ember_call *c, int transposed) {
  ember_dtype rt = EMBER_DTYPE_NONE;
  ember_conv_geom g;
  if (float_inputs(c, 3, &rt) != EMBER_OK) return EMBER_ERROR;
  if (ember_conv_geom_of(c, transposed, &g) != EMBER_OK) return EMBER_ERROR;
  set_image_out(c, rt, g.batched, g.n, g.oc, g.oh, g.ow);
  c->out_kernel[0] = c->compute;
  return EMBER_OK;
}

static ember_status infer_conv2d(ember_call *c) { return infer_conv_either(c, 0); }
static ember_status infer_conv_transpose2d(ember_call *c) { return infer_conv_either(c, 1); }

ember_status ember_conv_grad_geom_of(ember_call *c, int weight, ember_conv_geom *g) {
  const ember_tensor *go = c->in[0], *other = c->in[1];
  char gs[128], os[128];
  memset(g, 0, sizeof *g);
  if (image_dims(c, go, &g->n, &g->oc, &g->oh, &g->ow, &g->batched) != EMBER_OK) return EMBER_ERROR;
  shape_of(go, gs, sizeof gs);
  shape_of(other, os, sizeof os);
  ember_window *win = &g->win;
  if (pair(c, CONV_STRIDE, win->s) || pair(c, CONV_PADDING, win->p) || pair(c, CONV_DILATION, win->d))
    return EMBER_ERROR;
  if (at_least(c, CONV_STRIDE, win->s, 1) || at_least(c, CONV_PADDING, win->p, 0) ||
      at_least(c, CONV_DILATION, win->d, 1))
    return EMBER_ERROR;
  g->groups = c->attr[CONV_GROUPS].i;
  if (g->groups < 1) return ember_op_error(c, "groups must be positive, got %lld", (long long)g->groups);
  int64_t size[2];
  if (size_attr(c, CONVB_SIZE, size) != EMBER_OK) return EMBER_ERROR;
  if (weight) {
    int64_t n;
    int batched;
    if (image_dims(c, other, &n, &g->c, &g->h, &g->w, &batched) != EMBER_OK) return EMBER_ERROR;
    if (batched != g->batched || n != g->n)
      return ember_op_error(c, "grad_output %s and input %s are not the same batch of images", gs, os);
    win->k[0] = size[0];
    win->k[1] = size[1];
  } else {
    if (other->ndim != 4)
      return ember_op_error(c, "weight must be 4-D (out x in/groups x kh x kw), got shape %s", os);
    if (other->shape[0] != g->oc)
      return ember_op_error(c, "weight %s has %lld output channels, grad_output %s has %lld", os,
                            (long long)other->shape[0], gs, (long long)g->oc);
    g->c = other->shape[1] * g->groups;
    win->k[0] = other->shape[2];
    win->k[1] = other->shape[3];
    if (win->k[0] < 1 || win->k[1] < 1) return ember_op_error(c, "weight %s has an empty kernel", os);
    g->h = size[0];
    g->w = size[1];
  }
  if (g->c % g->groups != 0 || g->oc % g->groups != 0)
    return ember_op_error(c, "groups %lld does not divide the %lld input and %lld output channels",
                          (long long)g->groups, (long long)g->c, (long long)g->oc);
  int64_t in[2] = { g->h, g->w }, have[2] = { g->oh, g->ow }, full[2];
  for (int i = 0; i < 2; i++) {
    int64_t span = win->d[i] * (win->k[i] - 1) + 1, padded = in[i] + 2 * win->p[i];
    full[i] = padded < span ? 0 : (padded - span) / win->s[i] + 1;
  }
  for (int i = 0; i < 2; i++)
    if (full[i] < 1 || (weight ? have[i] > full[i] : have[i] != full[i]))
      return ember_op_error(c, "grad_output %s does not fit an input of %lldx%lld: kernel %lldx%lld, "
                            "stride %lldx%lld, padding %lldx%lld, dilation %lldx%lld give %lldx%lld "
                            "positions", gs, (long long)g->h, (long long)g->w, (long long)win->k[0],
                            (long long)win->k[1], (long long)win->s[0], (long long)win->s[1],
                            (long long)win->p[0], (long long)win->p[1], (long long)win->d[0],
                            (long long)win->d[1], (long long)full[0], (long long)full[1]);
  return EMBER_OK;
}

static ember_status infer_conv2d_backward_input(ember_call *c) {
  ember_dtype rt = EMBER_DTYPE_NONE;
  ember_conv_geom g;
  if (float_inputs_as(c, 2, grad_weight_roles, &rt) != EMBER_OK) return EMBER_ERROR;
  if (ember_conv_grad_geom_of(c, 0, &g) != EMBER_OK) return EMBER_ERROR;
  set_image_out(c, rt, g.batched, g.n, g.c, g.h, g.w);
  c->out_kernel[0] = c->compute;
  return EMBER_OK;
}

static ember_status infer_conv2d_backward_weight(ember_call *c) {
  ember_dtype rt = EMBER_DTYPE_NONE;
  ember_conv_geom g;
  if (float_inputs_as(c, 2, grad_roles, &rt) != EMBER_OK) return EMBER_ERROR;
  if (ember_conv_grad_geom_of(c, 1, &g) != EMBER_OK) return EMBER_ERROR;
  int64_t shape[4] = { g.oc, g.c / g.groups, g.win.k[0], g.win.k[1] };
  ember_set_out(c, 0, rt, 4, shape);
  c->out_kernel[0] = c->compute;
  return EMBER_OK;
}

/* }====== */

/* {====== pools */

/* PyTorch's pooling_output_shape: floor (or ceil) division, and in ceil mode the last
** window must start inside the image or the left padding. */
static int64_t pool_out(int64_t in, int64_t k, int64_t p, int64_t s, int64_t d, int ceil_mode) {
  int64_t num = in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  int64_t q = num >= 0 ? num / s : -((-num + s - 1) / s);
  int64_t out = q + 1;
  if (ceil_mode && (out - 1) * s >= in + p) out--;
  return out;
}

/* The window and output size of a max or avg pool over g's image (xs: its shape). */
static ember_status pool_window(ember_call *c, ember_pool_kind kind, ember_pool_geom *g,
                                const char *xs) {
  int max = kind == EMBER_POOL_MAX;
  int kk = max ? MAXP_KERNEL : AVGP_KERNEL, ks = max ? MAXP_STRIDE : AVGP_STRIDE;
  int kp = max ? MAXP_PADDING : AVGP_PADDING;
  ember_window *win = &g->win;
  if (pair(c, kk, win->k) || at_least(c, kk, win->k, 1)) return EMBER_ERROR;
  if (c->attr[ks].present && c->attr[ks].n > 0) {   /* stride=None or {}: the kernel size */
    if (pair(c, ks, win->s) || at_least(c, ks, win->s, 1)) return EMBER_ERROR;
  } else {
    win->s[0] = win->k[0];
    win->s[1] = win->k[1];
  }
  if (pair(c, kp, win->p) || at_least(c, kp, win->p, 0)) return EMBER_ERROR;
  win->d[0] = win->d[1] = 1;
  if (max && (pair(c, MAXP_DILATION, win->d) || at_least(c, MAXP_DILATION, win->d, 1)))
    return EMBER_ERROR;
  if (win->p[0] > win->k[0] / 2 || win->p[1] > win->k[1] / 2)
    return ember_op_error(c, "padding %lldx%lld must be at most half the kernel size %lldx%lld",
                          (long long)win->p[0], (long long)win->p[1], (long long)win->k[0],
                          (long long)win->k[1]);
  int ceil_mode = (int)c->attr[max ? MAXP_CEIL : AVGP_CEIL].i;
  if (!max) {
    g->count_include_pad = (int)c->attr[AVGP_COUNT_PAD].i;
    if (c->attr[AVGP_DIVISOR].present) {
      g->divisor = c->attr[AVGP_DIVISOR].i;
      if (g->divisor == 0) return ember_op_error(c, "divisor_override must not be zero");
    }
  }
  g->oh = pool_out(g->h, win->k[0], win->p[0], win->s[0], win->d[0], ceil_mode);
  g->ow = pool_out(g->w, win->k[1], win->p[1], win->s[1], win->d[1], ceil_mode);
  if (g->oh < 1 || g->ow < 1)
    return ember_op_error(c, "output size %lldx%lld is too small (input %s, kernel %lldx%lld, "
                          "dilation %lldx%lld, padding %lldx%lld)", (long long)g->oh,
                          (long long)g->ow, xs, (long long)win->k[0], (long long)win->k[1],
                          (long long)win->d[0], (long long)win->d[1], (long long)win->p[0],
                          (long long)win->p[1]);
  return EMBER_OK;
}

ember_status ember_pool_geom_of(ember_call *c, ember_pool_kind kind, ember_pool_geom *g) {
  const ember_tensor *x = c->in[0];
  char xs[128];
  memset(g, 0, sizeof *g);
  if (image_dims(c, x, &g->n, &g->c, &g->h, &g->w, &g->batched) != EMBER_OK) return EMBER_ERROR;
  shape_of(x, xs, sizeof xs);
  if (g->c < 1 || g->h < 1 || g->w < 1)
    return ember_op_error(c, "input %s has an empty channel or spatial dim", xs);
  if (kind == EMBER_POOL_ADAPTIVE) {
    int64_t o[2] = { 0, 0 };
    if (pair(c, ADAPT_OUTPUT_SIZE, o) || at_least(c, ADAPT_OUTPUT_SIZE, o, 0)) return EMBER_ERROR;
    g->oh = o[0];
    g->ow = o[1];
    return EMBER_OK;
  }
  return pool_window(c, kind, g, xs);
}

ember_status ember_pool_grad_geom_of(ember_call *c, ember_pool_kind kind, ember_pool_geom *g) {
  const ember_tensor *go = c->in[0];
  char gs[128], xs[128];
  int64_t gh, gw;
  memset(g, 0, sizeof *g);
  if (image_dims(c, go, &g->n, &g->c, &gh, &gw, &g->batched) != EMBER_OK) return EMBER_ERROR;
  shape_of(go, gs, sizeof gs);
  if (kind == EMBER_POOL_MAX) {
    const ember_tensor *x = c->in[1];
    int64_t n, ch;
    int batched;
    if (image_dims(c, x, &n, &ch, &g->h, &g->w, &batched) != EMBER_OK) return EMBER_ERROR;
    if (batched != g->batched || n != g->n || ch != g->c)
      return ember_op_error(c, "grad_output %s and input %s differ in batch or channels", gs,
                            shape_of(x, xs, sizeof xs));
  } else {
    int64_t size[2];
    if (size_attr(c, kind == EMBER_POOL_AVG ? AVGPB_INPUT_SIZE : ADAPTB_INPUT_SIZE, size) != EMBER_OK)
      return EMBER_ERROR;
    g->h = size[0];
    g->w = size[1];
  }
  image_text(g->batched, g->n, g->c, g->h, g->w, xs, sizeof xs);
  if (g->c < 1) return ember_op_error(c, "grad_output %s has no channels", gs);
  if (kind == EMBER_POOL_ADAPTIVE) {
    g->oh = gh;                   /* any output size is an adaptive pool's */
    g->ow = gw;
    return EMBER_OK;
  }
  if (pool_window(c, kind, g, xs) != EMBER_OK) return EMBER_ERROR;
  if (g->oh != gh || g->ow != gw)
    return ember_op_error(c, "grad_output %s does not match the %lldx%lld output of input %s", gs,
                          (long long)g->oh, (long long)g->ow, xs);
  return EMBER_OK;
}

static ember_status infer_pool_kind(ember_call *c, ember_pool_kind kind) {
  ember_dtype rt = EMBER_DTYPE_NONE;
  ember_pool_geom g;
  if (float_inputs(c, 1, &rt) != EMBER_OK) return EMBER_ERROR;
  if (ember_pool_geom_of(c, kind, &g) != EMBER_OK) return EMBER_ERROR;
  set_image_out(c, rt, g.batched, g.n, g.c, g.oh, g.ow);
  c->out_kernel[0] = c->compute;
  return EMBER_OK;
}

static ember_status infer_max_pool2d(ember_call *c) { return infer_pool_kind(c, EMBER_POOL_MAX); }
static ember_status infer_avg_pool2d(ember_call *c) { return infer_pool_kind(c, EMBER_POOL_AVG); }
static ember_status infer_adaptive(ember_call *c) { return infer_pool_kind(c, EMBER_POOL_ADAPTIVE); }

static ember_status infer_pool_grad(ember_call *c, ember_pool_kind kind) {
  ember_dtype rt = EMBER_DTYPE_NONE;
  ember_pool_geom g;
  if (float_inputs_as(c, kind == EMBER_POOL_MAX ? 2 : 1, grad_roles, &rt) != EMBER_OK)
    return EMBER_ERROR;
  if (ember_pool_grad_geom_of(c, kind, &g) != EMBER_OK) return EMBER_ERROR;
  set_image_out(c, rt, g.batched, g.n, g.c, g.h, g.w);
  c->out_kernel[0] = c->compute;
  return EMBER_OK;
}

static ember_status infer_max_pool2d_backward(ember_call *c) {
  return infer_pool_grad(c, EMBER_POOL_MAX);
}
static ember_status infer_avg_pool2d_backward(ember_call *c) {
  return infer_pool_grad(c, EMBER_POOL_AVG);
}
static ember_status infer_adaptive_backward(ember_call *c) {
  return infer_pool_grad(c, EMBER_POOL_ADAPTIVE);
}

/* }====== */

/* {====== pad */

/* The pad list and mode of a pad (or pad_backward) call on a tensor of ndim dims (xs:
** its shape, for messages). */
static ember_status pad_amounts(ember_call *c, int ndim, const char *xs, ember_pad_geom *g) {
  const ember_attr *a = &c->attr[PAD_PAD];
  memset(g, 0, sizeof *g);
  if (a->n % 2 != 0 || a->n / 2 > ndim || a->n == 0)
    return ember_op_error(c, "pad has %d values; it takes pairs (before, after), last dim first, "
                          "at most one pair per dim of input %s", a->n, xs);
  const char *m = c->attr[PAD_MODE].s;
  if (strcmp(m, "constant") == 0) g->mode = EMBER_PAD_CONSTANT;
  else if (strcmp(m, "reflect") == 0) g->mode = EMBER_PAD_REFLECT;
  else if (strcmp(m, "replicate") == 0) g->mode = EMBER_PAD_REPLICATE;
  else return ember_op_error(c, "mode \"%s\" is not one of constant, reflect, replicate", m);
  g->npad = a->n / 2;
  for (int j = 0; j < g->npad; j++) {
    int i = g->npad - 1 - j;                  /* the pad list names the last dim first */
    g->before[j] = a->v[2 * i];
    g->after[j] = a->v[2 * i + 1];
  }
  return EMBER_OK;
}

/* Checks g's amounts against the input's shape. */
static ember_status pad_fits(ember_call *c, int ndim, const int64_t *shape, const char *xs,
                             const ember_pad_geom *g) {
  int first = ndim - g->npad;
  for (int j = 0; j < g->npad; j++) {
    int64_t size = shape[first + j];
    long long lo = (long long)g->before[j], hi = (long long)g->after[j];
    if (size + g->before[j] + g->after[j] < 0)
      return ember_op_error(c, "padding %lld,%lld of dim %d makes its size %lld negative (input %s)",
                            lo, hi, first + j + 1, (long long)(size + lo + hi), xs);
    if (g->mode == EMBER_PAD_CONSTANT) continue;
    if (lo < 0 || hi < 0)
      return ember_op_error(c, "negative padding %lld,%lld of dim %d is only allowed in constant mode",
                            lo, hi, first + j + 1);
    if (g->mode == EMBER_PAD_REFLECT && (lo >= size || hi >= size))
      return ember_op_error(c, "reflect padding %lld,%lld of dim %d must be less than its size %lld "
                            "(input %s)", lo, hi, first + j + 1, (long long)size, xs);
    if (g->mode == EMBER_PAD_REPLICATE && size == 0 && (lo > 0 || hi > 0))
      return ember_op_error(c, "replicate padding of dim %d needs a non-empty dim (input %s)",
                            first + j + 1, xs);
  }
  return EMBER_OK;
}

ember_status ember_pad_geom_of(ember_call *c, ember_pad_geom *g) {
  const ember_tensor *x = c->in[0];
  char xs[128];
  shape_of(x, xs, sizeof xs);
  if (pad_amounts(c, x->ndim, xs, g) != EMBER_OK) return EMBER_ERROR;
  g->value = c->attr[PAD_VALUE].f;
  return pad_fits(c, x->ndim, x->shape, xs, g);
}

ember_status ember_pad_grad_geom_of(ember_call *c, ember_pad_geom *g, int64_t *shape) {
  const ember_tensor *go = c->in[0];
  char gs[128], xs[128];
  shape_of(go, gs, sizeof gs);
  if (pad_amounts(c, go->ndim, gs, g) != EMBER_OK) return EMBER_ERROR;
  int first = go->ndim - g->npad;
  for (int d = 0; d < go->ndim; d++) {
    shape[d] = go->shape[d];
    if (d >= first) shape[d] -= g->before[d - first] + g->after[d - first];
    if (shape[d] < 0)
      return ember_op_error(c, "grad_output %s is smaller than its padding in dim %d", gs, d + 1);
  }
  return pad_fits(c, go->ndim, shape, ember_shape_text(go->ndim, shape, xs, sizeof xs), g);
}

static ember_status infer_pad(ember_call *c) {
  ember_pad_geom g;
  const ember_tensor *x = c->in[0];
  if (ember_pad_geom_of(c, &g) != EMBER_OK) return EMBER_ERROR;
  int64_t shape[EMBER_MAX_DIMS];
  int first = x->ndim - g.npad;
  for (int d = 0; d < x->ndim; d++)
    shape[d] = x->shape[d] + (d >= first ? g.before[d - first] + g.after[d - first] : 0);
  c->compute = x->dtype;                    /* pad moves elements: every dtype is native */
  ember_set_out(c, 0, x->dtype, x->ndim, shape);
  return EMBER_OK;
}

/* A gradient is a float: it sums (reflect and replicate pads add up several outputs). */
static ember_status infer_pad_backward(ember_call *c) {
  ember_pad_geom g;
  ember_dtype rt = EMBER_DTYPE_NONE;
  int64_t shape[EMBER_MAX_DIMS];
  if (float_inputs_as(c, 1, grad_roles, &rt) != EMBER_OK) return EMBER_ERROR;
  if (ember_pad_grad_geom_of(c, &g, shape) != EMBER_OK) return EMBER_ERROR;
  ember_set_out(c, 0, rt, c->in[0]->ndim, shape);
  c->out_kernel[0] = c->compute;
  return EMBER_OK;
}

/* }====== */

/* {====== interpolate */

/* The mode and output size of an interpolate over g's image (xs: its shape). */
static ember_status interp_geom(ember_call *c, ember_interp_geom *g, const char *xs) {
  if (g->h < 1 || g->w < 1)
    return ember_op_error(c, "input %s has an empty spatial dim", xs);
  const char *m = c->attr[INTERP_MODE].s;
  if (strcmp(m, "nearest") == 0) g->mode = EMBER_INTERP_NEAREST;
  else if (strcmp(m, "nearest-exact") == 0) g->mode = EMBER_INTERP_NEAREST_EXACT;
  else if (strcmp(m, "bilinear") == 0) g->mode = EMBER_INTERP_BILINEAR;
  else return ember_op_error(c, "mode \"%s\" is not one of nearest, nearest-exact, bilinear", m);
  if (c->attr[INTERP_ALIGN].present && g->mode != EMBER_INTERP_BILINEAR)
    return ember_op_error(c, "align_corners can only be set with mode bilinear, not %s", m);
  g->align_corners = c->attr[INTERP_ALIGN].present && c->attr[INTERP_ALIGN].i;
  int has_size = c->attr[INTERP_SIZE].present, has_scale = c->attr[INTERP_SCALE].present;
  if (has_size && has_scale) return ember_op_error(c, "give either size or scale_factor, not both");
  if (!has_size && !has_scale) return ember_op_error(c, "needs size or scale_factor");
  if (has_size) {
    int64_t o[2] = { 0, 0 };
    if (pair(c, INTERP_SIZE, o) || at_least(c, INTERP_SIZE, o, 1)) return EMBER_ERROR;
    g->oh = o[0];
    g->ow = o[1];
  } else {
    double s = c->attr[INTERP_SCALE].f;
    if (!(s > 0) || !isfinite(s))
      return ember_op_error(c, "scale_factor must be positive, got %g", s);
    if ((double)g->h * s > 1e12 || (double)g->w * s > 1e12)
      return ember_op_error(c, "scale_factor %g makes the output of input %s too large", s, xs);
    g->scale[0] = g->scale[1] = s;
    g->oh = (int64_t)floor((double)g->h * s);   /* as PyTorch: the product truncated */
    g->ow = (int64_t)floor((double)g->w * s);
    if (g->oh < 1 || g->ow < 1)
      return ember_op_error(c, "scale_factor %g gives an empty output %lldx%lld from input %s", s,
                            (long long)g->oh, (long long)g->ow, xs);
  }
  return EMBER_OK;
}

ember_status ember_interp_geom_of(ember_call *c, ember_interp_geom *g) {
  const ember_tensor *x = c->in[0];
  char xs[128];
  shape_of(x, xs, sizeof xs);
  memset(g, 0, sizeof *g);
  if (x->ndim != 4)
    return ember_op_error(c, "expects a 4-D (NCHW) input, got shape %s", xs);
  g->n = x->shape[0];
  g->c = x->shape[1];
  g->h = x->shape[2];
  g->w = x->shape[3];
  return interp_geom(c, g, xs);
}

ember_status ember_interp_grad_geom_of(ember_call *c, ember_interp_geom *g) {
  const ember_tensor *go = c->in[0];
  char gs[128], xs[128];
  int64_t size[2];
  shape_of(go, gs, sizeof gs);
  memset(g, 0, sizeof *g);
  if (go->ndim != 4)
    return ember_op_error(c, "expects a 4-D (NCHW) grad_output, got shape %s", gs);
  if (size_attr(c, INTERPB_INPUT_SIZE, size) != EMBER_OK) return EMBER_ERROR;
  g->n = go->shape[0];
  g->c = go->shape[1];
  g->h = size[0];
  g->w = size[1];
  if (interp_geom(c, g, image_text(1, g->n, g->c, g->h, g->w, xs, sizeof xs)) != EMBER_OK)
    return EMBER_ERROR;
  if (g->oh != go->shape[2] || g->ow != go->shape[3])
    return ember_op_error(c, "grad_output %s does not match the %lldx%lld output of input %s", gs,
                          (long long)g->oh, (long long)g->ow, xs);
  return EMBER_OK;
}

static ember_status infer_interpolate(ember_call *c) {
  ember_dtype rt = EMBER_DTYPE_NONE;
  ember_interp_geom g;
  if (float_inputs(c, 1, &rt) != EMBER_OK) return EMBER_ERROR;
  if (ember_interp_geom_of(c, &g) != EMBER_OK) return EMBER_ERROR;
  set_image_out(c, rt, 1, g.n, g.c, g.oh, g.ow);
  c->out_kernel[0] = c->compute;
  return EMBER_OK;
}

static ember_status infer_interpolate_backward(ember_call *c) {
  ember_dtype rt = EMBER_DTYPE_NONE;
  ember_interp_geom g;
  if (float_inputs_as(c, 1, grad_roles, &rt) != EMBER_OK) return EMBER_ERROR;
  if (ember_interp_grad_geom_of(c, &g) != EMBER_OK) return EMBER_ERROR;
  set_image_out(c, rt, 1, g.n, g.c, g.h, g.w);
  c->out_kernel[0] = c->compute;
  return EMBER_OK;
}

/* }====== */

/* {====== backward rules */

/* Dispatches backward kernel `name` on in[0..nin) with attributes attr[0..nattr): the
** forward call's own, copied as they are, so a training step formats and parses no
** attribute text. */
static ember_tensor *run_kernel(const char *name, int nin, ember_tensor **in,
                                const ember_attr *attr, int nattr) {
  for (int i = 0; i < nin; i++)
    if (in[i] == NULL) return NULL;
  const ember_op *op = ember_op_find(name);
  if (op == NULL) {
    ember_error("backward: no op named \"%s\"", name);
    return NULL;
  }
  ember_call k;
  ember_call_init(&k, op, nin, in);
  for (int i = 0; i < nattr; i++) k.attr[i] = attr[i];
  if (ember_dispatch(&k) != EMBER_OK) return NULL;
  for (int i = 1; i < k.nout; i++) ember_tensor_release(k.out[i]);
  return k.out[0];
}

/* A (height, width) size attribute. */
static ember_attr size_value(int64_t h, int64_t w) {
  ember_attr a;
  memset(&a, 0, sizeof a);
  a.present = 1;
  a.n = 2;
  a.v[0] = h;
  a.v[1] = w;
  return a;
}

static ember_attr image_size(const ember_tensor *t) {
  return size_value(t->shape[t->ndim - 2], t->shape[t->ndim - 1]);
}

/* The bias gradient: g summed over all but the channel dim. */
static ember_tensor *bias_grad(ember_tensor *g) {
  static const int batched[3] = { 0, 2, 3 }, single[2] = { 1, 2 };
  return g->ndim == 4 ? ember_ag_sum_dims(g, 3, batched, 0) : ember_ag_sum_dims(g, 2, single, 0);
}

/* conv2d is linear in each of input and weight: the input's gradient is the adjoint
** convolution of g (GEMM + col2im), the weight's the correlation of g with the input's
** columns (GEMM over im2col). */
static ember_status grad_conv2d(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *x = c->in[0], *w = c->in[1];
  ember_attr a[CONVB_SIZE + 1];
  memcpy(a, c->attr, CONVB_SIZE * sizeof *a);
  if (ember_needs_grad(c, 0)) {
    ember_tensor *in[2] = { g[0], w };
    a[CONVB_SIZE] = image_size(x);
    if ((gi[0] = run_kernel("conv2d_backward_input", 2, in, a, CONVB_SIZE + 1)) == NULL)
      return EMBER_ERROR;
  }
  if (ember_needs_grad(c, 1)) {
    ember_tensor *in[2] = { g[0], x };
    a[CONVB_SIZE] = size_value(w->shape[2], w->shape[3]);
    if ((gi[1] = run_kernel("conv2d_backward_weight", 2, in, a, CONVB_SIZE + 1)) == NULL)
      return EMBER_ERROR;
  }
  if (c->nin > 2 && ember_needs_grad(c, 2) && (gi[2] = bias_grad(g[0])) == NULL) return EMBER_ERROR;
  return EMBER_OK;
}

/* conv_transpose2d is conv2d's adjoint: its input's gradient is conv2d of g, and its
** weight's gradient conv2d's weight gradient with g as the image and its input as the
** output's gradient. */
static ember_status grad_conv_transpose2d(const ember_call *c, ember_tensor *const *g,
                                          ember_tensor **gi) {
  ember_tensor *x = c->in[0], *w = c->in[1];
  ember_attr a[CONVB_SIZE + 1];
  a[CONV_STRIDE] = c->attr[CONVT_STRIDE];
  a[CONV_PADDING] = c->attr[CONVT_PADDING];
  a[CONV_DILATION] = c->attr[CONVT_DILATION];
  a[CONV_GROUPS] = c->attr[CONVT_GROUPS];
  if (ember_needs_grad(c, 0)) {
    ember_tensor *in[2] = { g[0], w };
    ember_tensor *r = run_kernel("conv2d", 2, in, a, CONV_GROUPS + 1);
    if (r == NULL) return EMBER_ERROR;
    /* output_padding of a stride or more (allowed below the dilation) adds positions
       past the last window of the forward call; they are no part of the input */
    int hd = r->ndim - 2, wd = r->ndim - 1;
    if (r->shape[hd] != x->shape[hd] || r->shape[wd] != x->shape[wd]) {
      ember_tensor *rh = ember_narrow(r, hd, 0, x->shape[hd]);
      ember_tensor_release(r);
      r = rh ? ember_narrow(rh, wd, 0, x->shape[wd]) : NULL;
      ember_tensor_release(rh);
      if (r == NULL) return EMBER_ERROR;
    }
    gi[0] = r;
  }
  if (ember_needs_grad(c, 1)) {
    ember_tensor *in[2] = { x, g[0] };
    a[CONVB_SIZE] = size_value(w->shape[2], w->shape[3]);
    if ((gi[1] = run_kernel("conv2d_backward_weight", 2, in, a, CONVB_SIZE + 1)) == NULL)
      return EMBER_ERROR;
  }
  if (c->nin > 2 && ember_needs_grad(c, 2) && (gi[2] = bias_grad(g[0])) == NULL) return EMBER_ERROR;
  return EMBER_OK;
}

/* The gradient goes to the element each window took: the first max in window order,
** or the last NaN, as PyTorch's kernel picks them. The kernel finds it again in x. */
static ember_status grad_max_pool2d(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *in[2] = { g[0], c->in[0] };
  gi[0] = run_kernel("max_pool2d_backward", 2, in, c->attr, MAXP_CEIL + 1);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

static ember_status grad_avg_pool2d(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *in[1] = { g[0] };
  ember_attr a[AVGPB_INPUT_SIZE + 1];
  memcpy(a, c->attr, AVGPB_INPUT_SIZE * sizeof *a);
  a[AVGPB_INPUT_SIZE] = image_size(c->in[0]);
  gi[0] = run_kernel("avg_pool2d_backward", 1, in, a, AVGPB_INPUT_SIZE + 1);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

static ember_status grad_adaptive_avg_pool2d(const ember_call *c, ember_tensor *const *g,
                                             ember_tensor **gi) {
  ember_tensor *in[1] = { g[0] };
  ember_attr a[1] = { image_size(c->in[0]) };
  gi[0] = run_kernel("adaptive_avg_pool2d_backward", 1, in, a, 1);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

static ember_status grad_pad(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *in[1] = { g[0] };
  gi[0] = run_kernel("pad_backward", 1, in, c->attr, PAD_MODE + 1);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

static ember_status grad_interpolate(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *in[1] = { g[0] };
  ember_attr a[INTERPB_INPUT_SIZE + 1];
  memcpy(a, c->attr, INTERPB_INPUT_SIZE * sizeof *a);
  a[INTERPB_INPUT_SIZE] = image_size(c->in[0]);
  gi[0] = run_kernel("interpolate_backward", 1, in, a, INTERPB_INPUT_SIZE + 1);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

/* }====== */

/* Each table follows its enum in conv.h. */
static const ember_attr_def conv2d_attrs[] = {
  {"stride", EMBER_ATTR_INTS, "1"}, {"padding", EMBER_ATTR_INTS, "0"},
  {"dilation", EMBER_ATTR_INTS, "1"}, {"groups", EMBER_ATTR_INT, "1"}, {NULL, 0, NULL} };
static const ember_attr_def conv_transpose2d_attrs[] = {
  {"stride", EMBER_ATTR_INTS, "1"}, {"padding", EMBER_ATTR_INTS, "0"},
  {"output_padding", EMBER_ATTR_INTS, "0"}, {"groups", EMBER_ATTR_INT, "1"},
  {"dilation", EMBER_ATTR_INTS, "1"}, {NULL, 0, NULL} };
static const ember_attr_def max_pool2d_attrs[] = {
  {"kernel_size", EMBER_ATTR_INTS, NULL}, {"stride", EMBER_ATTR_INTS, "none"},
  {"padding", EMBER_ATTR_INTS, "0"}, {"dilation", EMBER_ATTR_INTS, "1"},
  {"ceil_mode", EMBER_ATTR_BOOL, "false"}, {NULL, 0, NULL} };
static const ember_attr_def avg_pool2d_attrs[] = {
  {"kernel_size", EMBER_ATTR_INTS, NULL}, {"stride", EMBER_ATTR_INTS, "none"},
  {"padding", EMBER_ATTR_INTS, "0"}, {"ceil_mode", EMBER_ATTR_BOOL, "false"},
  {"count_include_pad", EMBER_ATTR_BOOL, "true"}, {"divisor_override", EMBER_ATTR_INT, "none"},
  {NULL, 0, NULL} };
static const ember_attr_def adaptive_attrs[] = {
  {"output_size", EMBER_ATTR_INTS, NULL}, {NULL, 0, NULL} };
static const ember_attr_def pad_attrs[] = {
  {"pad", EMBER_ATTR_INTS, NULL}, {"mode", EMBER_ATTR_STR, "constant"},
  {"value", EMBER_ATTR_FLOAT, "0"}, {NULL, 0, NULL} };
static const ember_attr_def interpolate_attrs[] = {
  {"size", EMBER_ATTR_INTS, "none"}, {"scale_factor", EMBER_ATTR_FLOAT, "none"},
  {"mode", EMBER_ATTR_STR, "nearest"}, {"align_corners", EMBER_ATTR_BOOL, "none"},
  {NULL, 0, NULL} };
static const ember_attr_def conv2d_backward_input_attrs[] = {
  {"stride", EMBER_ATTR_INTS, "1"}, {"padding", EMBER_ATTR_INTS, "0"},
  {"dilation", EMBER_ATTR_INTS, "1"}, {"groups", EMBER_ATTR_INT, "1"},
  {"input_size", EMBER_ATTR_INTS, NULL}, {NULL, 0, NULL} };
static const ember_attr_def conv2d_backward_weight_attrs[] = {
  {"stride", EMBER_ATTR_INTS, "1"}, {"padding", EMBER_ATTR_INTS, "0"},
  {"dilation", EMBER_ATTR_INTS, "1"}, {"groups", EMBER_ATTR_INT, "1"},
  {"kernel_size", EMBER_ATTR_INTS, NULL}, {NULL, 0, NULL} };
static const ember_attr_def avg_pool2d_backward_attrs[] = {
  {"kernel_size", EMBER_ATTR_INTS, NULL}, {"stride", EMBER_ATTR_INTS, "none"},
  {"padding", EMBER_ATTR_INTS, "0"}, {"ceil_mode", EMBER_ATTR_BOOL, "false"},
  {"count_include_pad", EMBER_ATTR_BOOL, "true"}, {"divisor_override", EMBER_ATTR_INT, "none"},
  {"input_size", EMBER_ATTR_INTS, NULL}, {NULL, 0, NULL} };
static const ember_attr_def adaptive_backward_attrs[] = {
  {"input_size", EMBER_ATTR_INTS, NULL}, {NULL, 0, NULL} };
static const ember_attr_def pad_backward_attrs[] = {
  {"pad", EMBER_ATTR_INTS, NULL}, {"mode", EMBER_ATTR_STR, "constant"}, {NULL, 0, NULL} };
static const ember_attr_def interpolate_backward_attrs[] = {
  {"size", EMBER_ATTR_INTS, "none"}, {"scale_factor", EMBER_ATTR_FLOAT, "none"},
  {"mode", EMBER_ATTR_STR, "nearest"}, {"align_corners", EMBER_ATTR_BOOL, "none"},
  {"input_size", EMBER_ATTR_INTS, NULL}, {NULL, 0, NULL} };

const ember_op ember_ops_conv[] = {
  { .name = "conv2d", .min_inputs = 2, .max_inputs = 3, .nout = 1, .attrs = conv2d_attrs,
    .infer = infer_conv2d, .cpu = ember_cpu_conv2d, .vulkan = EMBER_VK(vk_conv2d),
    .flags = EMBER_OP_FUNCTION,
    .backward = EMBER_GRAD(grad_conv2d), .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1),
    .doc = "conv2d(input N x C x H x W or C x H x W, weight O x C/groups x kh x kw, bias O?, "
           "stride=1, padding=0, dilation=1, groups=1); float dtypes, promoted" },
  { .name = "conv_transpose2d", .min_inputs = 2, .max_inputs = 3, .nout = 1,
    .attrs = conv_transpose2d_attrs, .infer = infer_conv_transpose2d,
    .cpu = ember_cpu_conv_transpose2d, .vulkan = EMBER_VK(vk_conv_transpose2d),
    .flags = EMBER_OP_FUNCTION,
    .backward = EMBER_GRAD(grad_conv_transpose2d), .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1),
    .doc = "conv_transpose2d(input N x C x H x W or C x H x W, weight C x O/groups x kh x kw, "
           "bias O?, stride=1, padding=0, output_padding=0, groups=1, dilation=1); float dtypes" },
  { .name = "max_pool2d", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = max_pool2d_attrs,
    .infer = infer_max_pool2d, .cpu = ember_cpu_max_pool2d, .vulkan = EMBER_VK(vk_max_pool2d),
    .flags = EMBER_OP_FUNCTION,
    .backward = EMBER_GRAD(grad_max_pool2d), .saves = EMBER_SAVES_IN(0),
    .doc = "max_pool2d(input (N x) C x H x W, kernel_size, stride=kernel_size, padding=0, "
           "dilation=1, ceil_mode=false); padding at most half the kernel; NaN propagates" },
  { .name = "avg_pool2d", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = avg_pool2d_attrs,
    .infer = infer_avg_pool2d, .cpu = ember_cpu_avg_pool2d, .vulkan = EMBER_VK(vk_avg_pool2d),
    .flags = EMBER_OP_FUNCTION,
    .backward = EMBER_GRAD(grad_avg_pool2d),
    .doc = "avg_pool2d(input (N x) C x H x W, kernel_size, stride=kernel_size, padding=0, "
           "ceil_mode=false, count_include_pad=true, divisor_override=none)" },
  { .name = "adaptive_avg_pool2d", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .attrs = adaptive_attrs, .infer = infer_adaptive, .cpu = ember_cpu_adaptive_avg_pool2d,
    .vulkan = EMBER_VK(vk_adaptive_avg_pool2d),
    .flags = EMBER_OP_FUNCTION, .backward = EMBER_GRAD(grad_adaptive_avg_pool2d),
    .doc = "adaptive_avg_pool2d(input (N x) C x H x W, output_size oh or {oh, ow}): window i "
           "spans [floor(i*H/oh), ceil((i+1)*H/oh))" },
  { .name = "pad", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = pad_attrs,
    .infer = infer_pad, .cpu = ember_cpu_pad, .vulkan = EMBER_VK(vk_pad), .flags = EMBER_OP_FUNCTION,
    .backward = EMBER_GRAD(grad_pad),
    .doc = "pad(input, pad {left, right, top, bottom, ...} last dim first, mode=constant|reflect|"
           "replicate, value=0); any dtype; negative constant padding crops" },
  { .name = "interpolate", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .attrs = interpolate_attrs, .infer = infer_interpolate, .cpu = ember_cpu_interpolate,
    .vulkan = EMBER_VK(vk_interpolate),
    .flags = EMBER_OP_FUNCTION, .backward = EMBER_GRAD(grad_interpolate),
    .doc = "interpolate(input N x C x H x W, size?, scale_factor?, mode=nearest|nearest-exact|"
           "bilinear, align_corners=false); source coordinates as PyTorch computes them" },

  /* backward kernels: not bound in Lua; the rules above dispatch them */
  { .name = "conv2d_backward_input", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .attrs = conv2d_backward_input_attrs, .infer = infer_conv2d_backward_input,
    .cpu = ember_cpu_conv2d_backward_input, .vulkan = EMBER_VK(vk_conv2d_backward_input),
    .doc = "conv2d_backward_input(grad_output (N x) O x oh x ow, weight O x C/groups x kh x kw, "
           "stride, padding, dilation, groups, input_size {H, W}) -> (N x) C x H x W" },
  { .name = "conv2d_backward_weight", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .attrs = conv2d_backward_weight_attrs, .infer = infer_conv2d_backward_weight,
    .cpu = ember_cpu_conv2d_backward_weight, .vulkan = EMBER_VK(vk_conv2d_backward_weight),
    .doc = "conv2d_backward_weight(grad_output (N x) O x oh x ow, input (N x) C x H x W, stride, "
           "padding, dilation, groups, kernel_size {kh, kw}) -> O x C/groups x kh x kw; oh x ow "
           "may be fewer than the positions the input holds (the first ones)" },
  { .name = "max_pool2d_backward", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .attrs = max_pool2d_attrs, .infer = infer_max_pool2d_backward,
    .cpu = ember_cpu_max_pool2d_backward, .vulkan = EMBER_VK(vk_max_pool2d_backward),
    .doc = "max_pool2d_backward(grad_output, input, max_pool2d's attributes) -> input's shape; "
           "each window's gradient goes to its first max (or last NaN)" },
  { .name = "avg_pool2d_backward", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .attrs = avg_pool2d_backward_attrs, .infer = infer_avg_pool2d_backward,
    .cpu = ember_cpu_avg_pool2d_backward, .vulkan = EMBER_VK(vk_avg_pool2d_backward),
    .doc = "avg_pool2d_backward(grad_output, avg_pool2d's attributes, input_size {H, W}) -> "
           "(N x) C x H x W" },
  { .name = "adaptive_avg_pool2d_backward", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .attrs = adaptive_backward_attrs, .infer = infer_adaptive_backward,
    .cpu = ember_cpu_adaptive_avg_pool2d_backward, .vulkan = EMBER_VK(vk_adaptive_avg_pool2d_backward),
    .doc = "adaptive_avg_pool2d_backward(grad_output (N x) C x oh x ow, input_size {H, W}) -> "
           "(N x) C x H x W" },
  { .name = "pad_backward", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .attrs = pad_backward_attrs, .infer = infer_pad_backward, .cpu = ember_cpu_pad_backward,
    .vulkan = EMBER_VK(vk_pad_backward),
    .doc = "pad_backward(grad_output, pad, mode) -> the input's shape: each input element gets "
           "the sum of the outputs that copied it; float dtypes" },
  { .name = "interpolate_backward", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .attrs = interpolate_backward_attrs, .infer = infer_interpolate_backward,
    .cpu = ember_cpu_interpolate_backward, .vulkan = EMBER_VK(vk_interpolate_backward),
    .doc = "interpolate_backward(grad_output N x C x oh x ow, interpolate's attributes, "
           "input_size {H, W}) -> N x C x H x W" },
  { .name = NULL },
};
