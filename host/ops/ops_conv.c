/*
** ops_conv.c — op table entries of the convolution family: conv2d,
** conv_transpose2d, max_pool2d, avg_pool2d, adaptive_avg_pool2d, pad, interpolate.
**
** Images are NCHW, weights in PyTorch's layouts; a 3-D input is one unbatched CHW
** image (as PyTorch). Int-pair attributes (stride, padding, kernel_size, ...) take one
** value for both axes or two (height, width). The geometry functions below are the
** shape rules: infer calls them to check a call and size its output, and the kernels
** (host/cpu/conv.c, pool.c, resize.c) call them again to get the same numbers. The
** attribute tables must stay in the order of the enums in conv.h.
*/
#include <math.h>
#include <string.h>

#include "ops.h"
#include "../cpu/conv.h"

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

/* The ops here compute in f32 or f64: every tensor input must be a float; the result
** is their promoted dtype, f16/bf16 computed in f32. */
static ember_status float_inputs(ember_call *c, int n, ember_dtype *rt) {
  static const char *const role[] = { "input", "weight", "bias" };
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
  ember_dtype rt;
  ember_conv_geom g;
  if (float_inputs(c, 3, &rt) != EMBER_OK) return EMBER_ERROR;
  if (ember_conv_geom_of(c, transposed, &g) != EMBER_OK) return EMBER_ERROR;
  set_image_out(c, rt, g.batched, g.n, g.oc, g.oh, g.ow);
  c->out_kernel[0] = c->compute;
  return EMBER_OK;
}

static ember_status infer_conv2d(ember_call *c) { return infer_conv_either(c, 0); }
static ember_status infer_conv_transpose2d(ember_call *c) { return infer_conv_either(c, 1); }

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

static ember_status infer_pool_kind(ember_call *c, ember_pool_kind kind) {
  ember_dtype rt;
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

/* }====== */

/* {====== pad */

ember_status ember_pad_geom_of(ember_call *c, ember_pad_geom *g) {
  const ember_tensor *x = c->in[0];
  const ember_attr *a = &c->attr[PAD_PAD];
  char xs[128];
  shape_of(x, xs, sizeof xs);
  memset(g, 0, sizeof *g);
  if (a->n % 2 != 0 || a->n / 2 > x->ndim || a->n == 0)
    return ember_op_error(c, "pad has %d values; it takes pairs (before, after), last dim first, "
                          "at most one pair per dim of input %s", a->n, xs);
  const char *m = c->attr[PAD_MODE].s;
  if (strcmp(m, "constant") == 0) g->mode = EMBER_PAD_CONSTANT;
  else if (strcmp(m, "reflect") == 0) g->mode = EMBER_PAD_REFLECT;
  else if (strcmp(m, "replicate") == 0) g->mode = EMBER_PAD_REPLICATE;
  else return ember_op_error(c, "mode \"%s\" is not one of constant, reflect, replicate", m);
  g->value = c->attr[PAD_VALUE].f;
  g->npad = a->n / 2;
  int first = x->ndim - g->npad;
  for (int j = 0; j < g->npad; j++) {
    int i = g->npad - 1 - j;                  /* the pad list names the last dim first */
    g->before[j] = a->v[2 * i];
    g->after[j] = a->v[2 * i + 1];
    int64_t size = x->shape[first + j];
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

/* }====== */

/* {====== interpolate */

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

static ember_status infer_interpolate(ember_call *c) {
  ember_dtype rt;
  ember_interp_geom g;
  if (float_inputs(c, 1, &rt) != EMBER_OK) return EMBER_ERROR;
  if (ember_interp_geom_of(c, &g) != EMBER_OK) return EMBER_ERROR;
  set_image_out(c, rt, 1, g.n, g.c, g.oh, g.ow);
  c->out_kernel[0] = c->compute;
  return EMBER_OK;
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

const ember_op ember_ops_conv[] = {
  { .name = "conv2d", .min_inputs = 2, .max_inputs = 3, .nout = 1, .attrs = conv2d_attrs,
    .infer = infer_conv2d, .cpu = ember_cpu_conv2d, .flags = EMBER_OP_FUNCTION,
    .doc = "conv2d(input N x C x H x W or C x H x W, weight O x C/groups x kh x kw, bias O?, "
           "stride=1, padding=0, dilation=1, groups=1); float dtypes, promoted" },
  { .name = "conv_transpose2d", .min_inputs = 2, .max_inputs = 3, .nout = 1,
    .attrs = conv_transpose2d_attrs, .infer = infer_conv_transpose2d,
    .cpu = ember_cpu_conv_transpose2d, .flags = EMBER_OP_FUNCTION,
    .doc = "conv_transpose2d(input N x C x H x W or C x H x W, weight C x O/groups x kh x kw, "
           "bias O?, stride=1, padding=0, output_padding=0, groups=1, dilation=1); float dtypes" },
  { .name = "max_pool2d", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = max_pool2d_attrs,
    .infer = infer_max_pool2d, .cpu = ember_cpu_max_pool2d, .flags = EMBER_OP_FUNCTION,
    .doc = "max_pool2d(input (N x) C x H x W, kernel_size, stride=kernel_size, padding=0, "
           "dilation=1, ceil_mode=false); padding at most half the kernel; NaN propagates" },
  { .name = "avg_pool2d", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = avg_pool2d_attrs,
    .infer = infer_avg_pool2d, .cpu = ember_cpu_avg_pool2d, .flags = EMBER_OP_FUNCTION,
    .doc = "avg_pool2d(input (N x) C x H x W, kernel_size, stride=kernel_size, padding=0, "
           "ceil_mode=false, count_include_pad=true, divisor_override=none)" },
  { .name = "adaptive_avg_pool2d", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .attrs = adaptive_attrs, .infer = infer_adaptive, .cpu = ember_cpu_adaptive_avg_pool2d,
    .flags = EMBER_OP_FUNCTION,
    .doc = "adaptive_avg_pool2d(input (N x) C x H x W, output_size oh or {oh, ow}): window i "
           "spans [floor(i*H/oh), ceil((i+1)*H/oh))" },
  { .name = "pad", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = pad_attrs,
    .infer = infer_pad, .cpu = ember_cpu_pad, .flags = EMBER_OP_FUNCTION,
    .doc = "pad(input, pad {left, right, top, bottom, ...} last dim first, mode=constant|reflect|"
           "replicate, value=0); any dtype; negative constant padding crops" },
  { .name = "interpolate", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .attrs = interpolate_attrs, .infer = infer_interpolate, .cpu = ember_cpu_interpolate,
    .flags = EMBER_OP_FUNCTION,
    .doc = "interpolate(input N x C x H x W, size?, scale_factor?, mode=nearest|nearest-exact|"
           "bilinear, align_corners=false); source coordinates as PyTorch computes them" },
  { .name = NULL },
};
