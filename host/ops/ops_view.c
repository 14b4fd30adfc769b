/*
** ops_view.c — op table entries of the view family: ops whose result shares the
** input's storage (view, reshape, narrow, select, slice, transpose, permute, expand,
** squeeze, unsqueeze, flatten) and the copies that go with them (contiguous, clone,
** to, copy_, fill_). The view makers live in host/core/view.c; an entry here gives
** them a name that autograd and export can record.
**
** Backward rules: a view's gradient is the inverse move of the output's gradient,
** one op call where the move has an inverse (transpose of g, g reshaped back, g summed
** over what expand repeated). A view that drops elements (narrow, select, slice) gives
** zeros of the input's shape with g written into the same region, found by running
** the same view op, with the same attributes, on the zeros.
*/
#include <string.h>

#include "ops.h"
#include "autograd.h"

static ember_status view_unsqueeze(ember_call *c);

/* Dims and indices as the caller wrote them: 1-based from Lua, 0-based from C. */
static long long user_number(const ember_call *c, int64_t v) {
  return c->index_base && v >= 0 ? (long long)v + 1 : (long long)v;
}

static ember_status bad_dim(ember_call *c, int64_t d, const ember_tensor *t) {
  char s[128];
  return ember_op_error(c, "dim %lld out of range for a tensor of shape %s", user_number(c, d),
                        ember_shape_str(t, s, sizeof s));
}

/* The view makers in host/core check shapes too, but speak 0-based C; here each dim
** and index is checked first so the message uses the caller's own numbers. */
static ember_status infer_view(ember_call *c) {
  const ember_tensor *t = c->in[0];
  int nd = t->ndim + (c->op->cpu == view_unsqueeze ? 1 : 0); /* one more place */
  for (int k = 0; c->op->attrs && c->op->attrs[k].name; k++) {
    const ember_attr *a = &c->attr[k];
    if (!a->present) continue;
    if (c->op->attrs[k].kind == EMBER_ATTR_DIM && ember_norm_dim((int)a->i, nd) < 0)
      return bad_dim(c, a->i, t);
    if (c->op->attrs[k].kind == EMBER_ATTR_DIMS_VA) {
      int seen[EMBER_MAX_DIMS] = {0};
      for (int i = 0; i < a->n; i++) {
        int d = ember_norm_dim((int)a->v[i], nd);
        if (d < 0) return bad_dim(c, a->v[i], t);
        if (seen[d]++) return ember_op_error(c, "dim %lld repeated", user_number(c, a->v[i]));
      }
    }
  }
  return EMBER_OK;
}

static ember_status infer_view(ember_call *c);

static ember_status infer_select(ember_call *c) {
  if (infer_view(c) != EMBER_OK) return EMBER_ERROR;
  const ember_tensor *t = c->in[0];
  int d = ember_norm_dim((int)c->attr[0].i, t->ndim);
  int64_t size = t->shape[d], i = c->attr[1].i;
  if (t->ndim == 0) return ember_op_error(c, "a 0-dim tensor has no dims to select from");
  if (i < -size || i >= size)
    return ember_op_error(c, "index %lld out of range for dim %lld of size %lld",
                          user_number(c, i), user_number(c, d), (long long)size);
  return EMBER_OK;
}

static ember_status infer_narrow(ember_call *c) {
  if (infer_view(c) != EMBER_OK) return EMBER_ERROR;
  const ember_tensor *t = c->in[0];
  if (t->ndim == 0) return ember_op_error(c, "a 0-dim tensor has no dims to narrow");
  int d = ember_norm_dim((int)c->attr[0].i, t->ndim);
  int64_t size = t->shape[d], i = c->attr[1].i, len = c->attr[2].i;
  int64_t start = i < 0 ? i + size : i;
  if (start < 0 || len < 0 || start + len > size)
    return ember_op_error(c, "start %lld and length %lld out of range for dim %lld of size %lld",
                          user_number(c, i), (long long)len, user_number(c, d), (long long)size);
  return EMBER_OK;
}

/* The header a view op fills. Eager dispatch hands the maker c->out[0] == NULL and
** gets a new header that holds a reference to the input's storage. The runtime
** (host/rt) hands it a header it owns in c->out[0], filled in place: the input's
** storage with no reference taken (the runtime keeps both alive), the runtime's own
** fields left alone. */
static ember_status done(ember_call *c, ember_status st, const ember_layout *l) {
  if (st != EMBER_OK) return EMBER_ERROR;
  ember_tensor *t = c->in[0], *o = c->out[0];
  c->nout = 1;
  if (o == NULL) {
    c->out[0] = ember_layout_view(t, l);
    return c->out[0] ? EMBER_OK : EMBER_ERROR;
  }
  o->dtype = t->dtype;
  o->ndim = l->ndim;
  memcpy(o->shape, l->shape, (size_t)l->ndim * sizeof o->shape[0]);
  memcpy(o->stride, l->stride, (size_t)l->ndim * sizeof o->stride[0]);
  o->offset = l->offset;
  o->storage = t->storage;
  return EMBER_OK;
}

/* The copying ops (reshape and flatten when the strides cannot express the shape,
** contiguous of a strided tensor, clone, to): the runtime runs them as copies into
** the output it gives in c->out[0], with the result's shape and dtype; t's values go
** there in row-major order, converted. */
static ember_status copy_into_out(ember_call *c, ember_tensor *t) {
  ember_tensor *o = c->out[0];
  if (o->storage == NULL)
    return ember_op_error(c, "the output was given as a view, but at these sizes the result "
                          "is a copy");
  if (ember_tensor_numel(o) != ember_tensor_numel(t)) {
    char a[128], b[128];
    return ember_op_error(c, "output of shape %s cannot hold the %s values of shape %s",
                          ember_shape_str(o, a, sizeof a), ember_dtype_name(t->dtype),
                          ember_shape_str(t, b, sizeof b));
  }
  ember_tensor dst = *o;        /* o's bytes, with t's dims */
  dst.ndim = t->ndim;
  memcpy(dst.shape, t->shape, sizeof dst.shape);
  ember_contiguous_strides(t->ndim, t->shape, dst.stride);
  c->nout = 1;
  return ember_copy_(&dst, t);
}

/* reshape, flatten: a view when the strides allow, else a contiguous copy */
static ember_status reshaped(ember_call *c, ember_status st, const ember_layout *l) {
  if (st != EMBER_OK || !l->copy) return done(c, st, l);
  if (c->out[0]) return copy_into_out(c, c->in[0]);
  ember_tensor *copy = ember_clone(c->in[0]);
  c->out[0] = copy ? ember_view(copy, l->ndim, l->shape) : NULL;
  c->nout = 1;
  ember_tensor_release(copy);
  return c->out[0] ? EMBER_OK : EMBER_ERROR;
}

static ember_status view_view(ember_call *c) {
  ember_layout l;
  return done(c, ember_view_layout(c->in[0], c->attr[0].n, c->attr[0].v, &l), &l);
}

static ember_status view_reshape(ember_call *c) {
  ember_layout l;
  return reshaped(c, ember_reshape_layout(c->in[0], c->attr[0].n, c->attr[0].v, &l), &l);
}

static ember_status view_narrow(ember_call *c) {
  ember_layout l;
  return done(c, ember_narrow_layout(c->in[0], (int)c->attr[0].i, c->attr[1].i, c->attr[2].i, &l), &l);
}

static ember_status view_select(ember_call *c) {
  ember_layout l;
  return done(c, ember_select_layout(c->in[0], (int)c->attr[0].i, c->attr[1].i, &l), &l);
}

static ember_status view_slice(ember_call *c) {
  int64_t stop = c->attr[2].present ? c->attr[2].i : INT64_MAX;   /* none: to the end */
  ember_layout l;
  return done(c, ember_slice_layout(c->in[0], (int)c->attr[0].i, c->attr[1].i, stop, c->attr[3].i, &l),
              &l);
}

static ember_status view_transpose(ember_call *c) {
  ember_layout l;
  return done(c, ember_transpose_layout(c->in[0], (int)c->attr[0].i, (int)c->attr[1].i, &l), &l);
}

static ember_status view_t(ember_call *c) {
  if (c->in[0]->ndim > 2) {
    char s[128];
    return ember_op_error(c, "expects a tensor with at most 2 dims, got shape %s",
                          ember_shape_str(c->in[0], s, sizeof s));
  }
  ember_layout l;
  return done(c, ember_transpose_layout(c->in[0], 0, c->in[0]->ndim == 2 ? 1 : 0, &l), &l);
}

static ember_status view_permute(ember_call *c) {
  int dims[EMBER_MAX_DIMS];
  int n = c->attr[0].n < EMBER_MAX_DIMS ? c->attr[0].n : EMBER_MAX_DIMS;
  for (int i = 0; i < n; i++) dims[i] = (int)c->attr[0].v[i];
  ember_layout l;
  return done(c, ember_permute_layout(c->in[0], c->attr[0].n, dims, &l), &l);
}

static ember_status view_expand(ember_call *c) {
  ember_layout l;
  return done(c, ember_expand_layout(c->in[0], c->attr[0].n, c->attr[0].v, &l), &l);
}

static ember_status view_expand_as(ember_call *c) {
  ember_layout l;
  return done(c, ember_expand_layout(c->in[0], c->in[1]->ndim, c->in[1]->shape, &l), &l);
}

static ember_status view_squeeze(ember_call *c) {
  ember_layout l;
  int dim = c->attr[0].present ? (int)c->attr[0].i : EMBER_ALL_DIMS;
  return done(c, ember_squeeze_layout(c->in[0], dim, &l), &l);
}

static ember_status view_unsqueeze(ember_call *c) {
  ember_layout l;
  return done(c, ember_unsqueeze_layout(c->in[0], (int)c->attr[0].i, &l), &l);
}

static ember_status infer_flatten(ember_call *c) {
  if (infer_view(c) != EMBER_OK) return EMBER_ERROR;
  int nd = c->in[0]->ndim ? c->in[0]->ndim : 1;
  int s = ember_norm_dim((int)c->attr[0].i, nd), e = ember_norm_dim((int)c->attr[1].i, nd);
  if (s > e)
    return ember_op_error(c, "start dim %lld comes after end dim %lld", user_number(c, c->attr[0].i),
                          user_number(c, c->attr[1].i));
  return EMBER_OK;
}

static ember_status view_flatten(ember_call *c) {
  ember_layout l;
  return reshaped(c, ember_flatten_layout(c->in[0], (int)c->attr[0].i, (int)c->attr[1].i, &l), &l);
}

/* t itself (a view of all of it) */
static ember_status same(ember_call *c) {
  ember_tensor *t = c->in[0];
  ember_layout l = { .ndim = t->ndim, .offset = t->offset };
  memcpy(l.shape, t->shape, sizeof l.shape);
  memcpy(l.stride, t->stride, sizeof l.stride);
  if (c->out[0]) return done(c, EMBER_OK, &l);
  ember_tensor_retain(t);
  c->out[0] = t;
  c->nout = 1;
  return EMBER_OK;
}

static ember_status view_contiguous(ember_call *c) {
  if (ember_tensor_is_contiguous(c->in[0])) return same(c);
  if (c->out[0]) return copy_into_out(c, c->in[0]);
  c->out[0] = ember_clone(c->in[0]);
  c->nout = 1;
  return c->out[0] ? EMBER_OK : EMBER_ERROR;
}

static ember_status view_clone(ember_call *c) {
  if (c->out[0] && !ember_dtype_is_subbyte(c->in[0]->dtype)) return copy_into_out(c, c->in[0]);
  if (c->out[0]) {              /* packed: the bytes as they are */
    memcpy(ember_tensor_data(c->out[0]), ember_tensor_data(c->in[0]), ember_tensor_nbytes(c->in[0]));
    return EMBER_OK;
  }
  c->out[0] = ember_clone(c->in[0]);
  c->nout = 1;
  return c->out[0] ? EMBER_OK : EMBER_ERROR;
}

/* to(dtype, device): either may be absent; the dtype changes where the tensor is
** (on the device when it moves there, so only the converted bytes travel). A program
** does not move between devices: with an output given, `to` converts into it. */
static ember_status view_to(ember_call *c) {
  ember_tensor *t = c->in[0];
  ember_device dev = t->storage->device;
  if (c->attr[1].present && strcmp(c->attr[1].s, "none") != 0 && ember_device_parse(c->attr[1].s, &dev) != EMBER_OK)
    return ember_op_error(c, "%s", ember_last_error());
  ember_dtype dt = c->attr[0].present ? (ember_dtype)c->attr[0].i : t->dtype;
  if (c->out[0] && dt == t->dtype && dev == t->storage->device) return same(c);
  if (c->out[0]) return copy_into_out(c, t);
  int shrink = ember_dtype_size(dt) < ember_dtype_size(t->dtype);
  ember_tensor *a = shrink ? ember_to_dtype(t, dt) : ember_to_device(t, dev);
  ember_tensor *b = a == NULL ? NULL : shrink ? ember_to_device(a, dev) : ember_to_dtype(a, dt);
  ember_tensor_release(a);
  c->out[0] = b;
  c->nout = 1;
  return b ? EMBER_OK : EMBER_ERROR;
}

/* copy_ and fill_ write into in[0]: the dispatcher hands the kernel out[0] = in[0].
** ember_copy_ and ember_fill_ serve every device (the core calls the device's backend),
** so the same function is the cpu and the Vulkan kernel. */
static ember_status infer_copy(ember_call *c) {
  ember_tensor *dst = c->in[0];
  ember_set_out(c, 0, dst->dtype, dst->ndim, dst->shape);
  c->compute = dst->dtype;
  if (!c->inplace) return ember_op_error(c, "exists only in place (copy_)");
  return EMBER_OK;
}

static ember_status cpu_copy(ember_call *c) {
  return ember_copy_(c->out[0], c->in[1]);
}

static ember_status cpu_fill(ember_call *c) {
  return ember_fill_(c->out[0], c->attr[0].f);
}

/* {====== backward rules */

static ember_tensor *retained(ember_tensor *t) {
  ember_tensor_retain(t);
  return t;
}

/* The op of call c again, with c's attributes, on x instead of c's input. */
static ember_tensor *same_op(const ember_call *c, ember_tensor *x) {
  if (x == NULL) return NULL;
  ember_call v;
  ember_call_init(&v, c->op, 1, &x);
  memcpy(v.attr, c->attr, sizeof v.attr);
  v.index_base = c->index_base;
  if (ember_dispatch(&v) != EMBER_OK) return NULL;
  for (int k = 1; k < v.nout; k++) ember_tensor_release(v.out[k]);
  return v.out[0];
}

/* dst[...] = src through the copy op, so any device's copy serves */
static ember_status copy_into(ember_tensor *dst, ember_tensor *src) {
  static const ember_op *copy;
  if (copy == NULL) copy = ember_op_find("copy");
  ember_tensor *in[2] = { dst, src };
  ember_call c;
  ember_call_init(&c, copy, 2, in);
  c.inplace = 1;
  if (ember_dispatch(&c) != EMBER_OK) return EMBER_ERROR;
  ember_tensor_release(c.out[0]);
  return EMBER_OK;
}

/* view, reshape, flatten, squeeze, unsqueeze: g back to the input's shape */
static ember_status grad_reshape(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  gi[0] = ember_ag_reshape(g[0], c->in[0]->ndim, c->in[0]->shape);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

/* narrow, select, slice: zeros of the input's shape, g written into the region the
** view picked */
static ember_status grad_region(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  const ember_tensor *x = c->in[0];
  ember_tensor *z = ember_ag_zeros(g[0], g[0]->dtype, x->ndim, x->shape);
  ember_tensor *region = same_op(c, z);
  ember_status st = region ? copy_into(region, g[0]) : EMBER_ERROR;
  ember_tensor_release(region);
  if (st != EMBER_OK) {
    ember_tensor_release(z);
    return EMBER_ERROR;
  }
  gi[0] = z;
  return EMBER_OK;
}

/* transpose is its own inverse */
static ember_status grad_transpose(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  gi[0] = ember_ag_transpose(g[0], (int)c->attr[0].i, (int)c->attr[1].i);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

static ember_status grad_t(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  gi[0] = c->in[0]->ndim == 2 ? ember_ag_transpose(g[0], 0, 1) : retained(g[0]);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

/* permute by the inverse permutation: output dim i came from input dim dims[i] */
static ember_status grad_permute(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  static const ember_op *permute;
  if (permute == NULL) permute = ember_op_find("permute");
  int nd = c->in[0]->ndim;
  ember_tensor *x = g[0];
  ember_call v;
  ember_call_init(&v, permute, 1, &x);
  v.attr[0].present = 1;
  v.attr[0].n = nd;
  for (int i = 0; i < nd; i++) {
    int64_t d = c->attr[0].v[i];
    v.attr[0].v[d < 0 ? d + nd : d] = i;
  }
  if (ember_dispatch(&v) != EMBER_OK) return EMBER_ERROR;
  gi[0] = v.out[0];
  return EMBER_OK;
}

/* expand, expand_as: g summed over the repeated dims (expand_as's `other` gives
** only a shape, so it gets no gradient) */
static ember_status grad_expand(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  gi[0] = ember_ag_sum_to(g[0], c->in[0]->ndim, c->in[0]->shape);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

/* contiguous, clone: the values pass through */
static ember_status grad_identity(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  (void)c;
  gi[0] = retained(g[0]);
  return EMBER_OK;
}

/* to: g converted back to the input's dtype (an integer result has no gradient, so
** only float to float conversions get here) */
static ember_status grad_to(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *h = ember_to_device(g[0], c->in[0]->storage->device);
  gi[0] = h ? ember_ag_to(h, c->in[0]->dtype) : NULL;
  ember_tensor_release(h);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

/* copy_(dst, src): dst's old values are gone (zero gradient); src's gradient is g,
** which the engine sums down to src's shape (src was broadcast) and converts */
static ember_status grad_copy(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  if (ember_needs_grad(c, 0) && !(gi[0] = ember_ag_zeros_like(g[0]))) return EMBER_ERROR;
  if (ember_needs_grad(c, 1)) gi[1] = retained(g[0]);
  return EMBER_OK;
}

/* fill_: the result does not depend on the old values */
static ember_status grad_fill(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  (void)c;
  gi[0] = ember_ag_zeros_like(g[0]);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

/* }====== */

static const ember_attr_def size_attr[] = { {"size", EMBER_ATTR_SIZE, NULL}, {NULL, 0, NULL} };
static const ember_attr_def narrow_attrs[] = {
  {"dim", EMBER_ATTR_DIM, NULL}, {"start", EMBER_ATTR_INDEX, NULL},
  {"length", EMBER_ATTR_INT, NULL}, {NULL, 0, NULL} };
static const ember_attr_def select_attrs[] = {
  {"dim", EMBER_ATTR_DIM, NULL}, {"index", EMBER_ATTR_INDEX, NULL}, {NULL, 0, NULL} };
static const ember_attr_def slice_attrs[] = {
  {"dim", EMBER_ATTR_DIM, NULL}, {"start", EMBER_ATTR_INT, "0"},
  {"stop", EMBER_ATTR_INT, "none"}, {"step", EMBER_ATTR_INT, "1"},
  {NULL, 0, NULL} };
static const ember_attr_def transpose_attrs[] = {
  {"dim0", EMBER_ATTR_DIM, NULL}, {"dim1", EMBER_ATTR_DIM, NULL}, {NULL, 0, NULL} };
static const ember_attr_def permute_attrs[] = { {"dims", EMBER_ATTR_DIMS_VA, NULL}, {NULL, 0, NULL} };
static const ember_attr_def squeeze_attrs[] = { {"dim", EMBER_ATTR_DIM, "none"}, {NULL, 0, NULL} };
static const ember_attr_def unsqueeze_attrs[] = { {"dim", EMBER_ATTR_DIM, NULL}, {NULL, 0, NULL} };
static const ember_attr_def flatten_attrs[] = {
  {"start_dim", EMBER_ATTR_DIM, "0"}, {"end_dim", EMBER_ATTR_DIM, "-1"}, {NULL, 0, NULL} };
static const ember_attr_def to_attrs[] = {
  {"dtype", EMBER_ATTR_DTYPE, "none"}, {"device", EMBER_ATTR_STR, "none"}, {NULL, 0, NULL}
};
static const ember_attr_def fill_attrs[] = { {"value", EMBER_ATTR_FLOAT, NULL}, {NULL, 0, NULL} };

#define VIEW(nm, fn, at, bw, d) \
  { .name = nm, .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = at, \
    .infer = infer_view, .cpu = fn, .vulkan = EMBER_VK(fn), .backward = EMBER_GRAD(bw), \
    .flags = EMBER_OP_BOTH | EMBER_OP_VIEW, .doc = d }

const ember_op ember_ops_view[] = {
  VIEW("view", view_view, size_attr, grad_reshape,
       "view(t, size...): same storage, new shape (-1 inferred); strides must allow it"),
  VIEW("reshape", view_reshape, size_attr, grad_reshape,
       "reshape(t, size...): a view when strides allow, else a copy"),
  { .name = "narrow", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = narrow_attrs,
    .infer = infer_narrow, .cpu = view_narrow, .vulkan = EMBER_VK(view_narrow),
    .backward = EMBER_GRAD(grad_region), .flags = EMBER_OP_BOTH | EMBER_OP_VIEW,
    .doc = "narrow(t, dim, start, length): view of `length` entries from `start`" },
  { .name = "select", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = select_attrs,
    .infer = infer_select, .cpu = view_select, .vulkan = EMBER_VK(view_select),
    .backward = EMBER_GRAD(grad_region), .flags = EMBER_OP_BOTH | EMBER_OP_VIEW,
    .doc = "select(t, dim, index): view with dim removed" },
  { .name = "slice", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = slice_attrs,
    .infer = infer_view, .cpu = view_slice, .vulkan = EMBER_VK(view_slice),
    .backward = EMBER_GRAD(grad_region), .flags = EMBER_OP_VIEW,
    .doc = "slice(t, dim, start, stop, step): 0-based, stop exclusive; what t[{...}] records" },
  VIEW("transpose", view_transpose, transpose_attrs, grad_transpose,
       "transpose(t, dim0, dim1): swaps two dims"),
  VIEW("t", view_t, NULL, grad_t, "t(m): transpose of a tensor with at most 2 dims"),
  VIEW("permute", view_permute, permute_attrs, grad_permute,
       "permute(t, dims...): reorders all dims"),
  VIEW("expand", view_expand, size_attr, grad_expand,
       "expand(t, size...): size-1 dims repeated with stride 0; -1 keeps a dim"),
  { .name = "expand_as", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_view, .cpu = view_expand_as, .vulkan = EMBER_VK(view_expand_as),
    .backward = EMBER_GRAD(grad_expand), .flags = EMBER_OP_BOTH | EMBER_OP_VIEW,
    .doc = "expand_as(t, other): expand to other's shape" },
  VIEW("squeeze", view_squeeze, squeeze_attrs, grad_reshape,
       "squeeze(t [, dim]): drops size-1 dims (or that one)"),
  VIEW("unsqueeze", view_unsqueeze, unsqueeze_attrs, grad_reshape,
       "unsqueeze(t, dim): inserts a size-1 dim"),
  { .name = "flatten", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = flatten_attrs,
    .infer = infer_flatten, .cpu = view_flatten, .vulkan = EMBER_VK(view_flatten),
    .backward = EMBER_GRAD(grad_reshape), .flags = EMBER_OP_BOTH | EMBER_OP_VIEW,
    .doc = "flatten(t, start_dim=1, end_dim=-1): merges a run of dims" },
  VIEW("contiguous", view_contiguous, NULL, grad_identity,
       "contiguous(t): t if already contiguous, else a contiguous copy"),
  VIEW("clone", view_clone, NULL, grad_identity, "clone(t): a contiguous copy"),
  VIEW("to", view_to, to_attrs, grad_to,
       "to(t, dtype, device): converted or moved copy (t itself if both match)"),
  { .name = "copy", .min_inputs = 2, .max_inputs = 2, .nout = 1, .infer = infer_copy,
    .cpu = cpu_copy, .vulkan = EMBER_VK(cpu_copy), .backward = EMBER_GRAD(grad_copy),
    .flags = EMBER_OP_INPLACE | EMBER_OP_CROSS_DEVICE,
    .doc = "t:copy_(src): src broadcast to t's shape and converted to its dtype, written into t" },
  { .name = "fill", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = fill_attrs,
    .infer = infer_copy, .cpu = cpu_fill, .vulkan = EMBER_VK(cpu_fill), .backward = EMBER_GRAD(grad_fill), .flags = EMBER_OP_INPLACE,
    .doc = "t:fill_(value): every element set to value" },
  { .name = NULL },
};
