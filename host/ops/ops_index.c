/*
** ops_index.c — op table entries of the index family: index_select, gather, scatter,
** scatter_add, masked_fill, masked_select, nonzero, topk, sort. Kernels are in
** host/cpu/index.c, and for Vulkan in host/vk/vk_index.c and vk_sort.c.
**
** Index values held in tensors are 1-based from Lua and 0-based from C (c->index_base);
** index tensors may have any integer dtype. The infer rules check shapes and dtypes
** (PyTorch's rules) and write the dim attribute back normalised; the kernels check
** index values, which only they can see. Dims in messages are shown as the caller
** wrote them (1-based from Lua).
**
** Backward rules send the gradient back through the same index values, with the
** call's own index base: a gather's gradient is a scatter_add of g into zeros, a
** scatter's is a gather of g, and sort and topk put g back at the positions their
** indices output names. nonzero's result is an index and has no gradient.
*/
#include "ops.h"
#include "autograd.h"
#include "../cpu/index.h"
#include "../vk/vk_kernels.h"

/* {====== helpers */

#define SHAPE_BUF 96     /* every shape buffer below has this size */

static const char *shp(const ember_tensor *t, char *buf) {
  return ember_shape_str(t, buf, SHAPE_BUF);
}

static int64_t shown(const ember_call *c, int d) { return d + (c->index_base ? 1 : 0); }

static ember_status need(ember_call *c, int k) {
  if (c->attr[k].present) return EMBER_OK;
  return ember_op_error(c, "argument %s is required", c->op->attrs[k].name);
}

static ember_status index_dtype(ember_call *c, const ember_tensor *ix, const char *what) {
  if (ember_dtype_is_int(ix->dtype)) return EMBER_OK;
  return ember_op_error(c, "%s must be an integer tensor (i64), got %s", what,
                        ember_dtype_name(ix->dtype));
}

static ember_status bool_mask(ember_call *c, const ember_tensor *mask) {
  if (mask->dtype == EMBER_BOOL) return EMBER_OK;
  return ember_op_error(c, "mask must be a bool tensor, got %s", ember_dtype_name(mask->dtype));
}

/* The dim attribute k against t (a 0-dim tensor counts as one dim of size 1),
** written back normalised. */
static ember_status dim_of(ember_call *c, int k, const ember_tensor *t, int *d) {
  if (need(c, k) != EMBER_OK) return EMBER_ERROR;
  if (ember_attr_dim(c, k, t->ndim > 0 ? t->ndim : 1, d) != EMBER_OK) return EMBER_ERROR;
  c->attr[k].i = *d;
  return EMBER_OK;
}

static void out_like(ember_call *c, int k, ember_dtype dt, const ember_tensor *t) {
  ember_set_out(c, k, dt, t->ndim, t->shape);
}

/* }====== */

/* {====== index_select, gather, scatter, scatter_add */

static ember_status infer_index_select(ember_call *c) {
  char a[SHAPE_BUF];
  const ember_tensor *t = c->in[0], *ix = c->in[1];
  int d;
  if (index_dtype(c, ix, "index") != EMBER_OK || dim_of(c, 0, t, &d) != EMBER_OK)
    return EMBER_ERROR;
  if (ix->ndim > 1)
    return ember_op_error(c, "index must be a vector (at most 1 dim), got shape %s", shp(ix, a));
  int64_t m = ember_tensor_numel(ix), shape[EMBER_MAX_DIMS];
  if (t->ndim == 0 && m != 1)
    return ember_op_error(c, "a 0-dim input takes exactly one index, got %lld", (long long)m);
  for (int k = 0; k < t->ndim; k++) shape[k] = k == d ? m : t->shape[k];
  ember_set_out(c, 0, t->dtype, t->ndim, shape);
  c->compute = t->dtype;
  return EMBER_OK;
}

/* index.size(k) <= other.size(k) for every k (but dim d when skip_d). */
static ember_status fits(ember_call *c, const ember_tensor *ix, const ember_tensor *o,
                         const char *oname, int d, int skip_d) {
  char a[SHAPE_BUF], b[SHAPE_BUF];
  if (ix->ndim != o->ndim)
    return ember_op_error(c, "index (shape %s) and %s (shape %s) must have the same number of "
                          "dims", shp(ix, a), oname, shp(o, b));
  for (int k = 0; k < ix->ndim; k++)
    if ((k != d || !skip_d) && ix->shape[k] > o->shape[k])
      return ember_op_error(c, "index of shape %s is larger than %s of shape %s in dim %lld "
                            "(%lld > %lld)%s", shp(ix, a), oname, shp(o, b), (long long)shown(c, k),
                            (long long)ix->shape[k], (long long)o->shape[k],
                            skip_d ? "; only the indexed dim may be larger" : "");
  return EMBER_OK;
}

static ember_status infer_gather(ember_call *c) {
  const ember_tensor *t = c->in[0], *ix = c->in[1];
  int d;
  if (index_dtype(c, ix, "index") != EMBER_OK || dim_of(c, 0, t, &d) != EMBER_OK ||
      fits(c, ix, t, "input", d, 1) != EMBER_OK)
    return EMBER_ERROR;
  out_like(c, 0, t->dtype, ix);
  c->compute = t->dtype;
  return EMBER_OK;
}

/* scatter: src is a tensor, a Lua number (a wrapped 0-dim tensor) or attribute value. */
static ember_status infer_scatter_common(ember_call *c, int add) {
  const ember_tensor *t = c->in[0], *ix = c->in[1], *src = c->nin > 2 ? c->in[2] : NULL;
  int d;
  if (index_dtype(c, ix, "index") != EMBER_OK || dim_of(c, 0, t, &d) != EMBER_OK ||
      fits(c, ix, t, "input", d, 1) != EMBER_OK)
    return EMBER_ERROR;
  int one_value = src == NULL || (src->flags & EMBER_TENSOR_WRAPPED_NUMBER);
  if (add && one_value)
    return ember_op_error(c, "src must be a tensor");
  if (!add && src && c->attr[1].present)
    return ember_op_error(c, "takes src or value, not both");
  if (!add && !src && !c->attr[1].present)
    return ember_op_error(c, "needs src (a tensor or a number) or value");
  if (!one_value) {
    if (src->dtype != t->dtype)
      return ember_op_error(c, "src dtype %s differs from the input's %s", ember_dtype_name(src->dtype),
                            ember_dtype_name(t->dtype));
    if (fits(c, ix, src, "src", d, 0) != EMBER_OK) return EMBER_ERROR;
  }
  out_like(c, 0, t->dtype, t);
  c->compute = t->dtype;
  if (add) {                    /* adds in f32, f64 or i64; the dispatcher converts back */
    c->compute = ember_compute_dtype(t->dtype, EMBER_FLOATS | EMBER_INTS_NATIVE);
    ember_cast_inputs(c, 0, 1, c->compute);
    ember_cast_inputs(c, 2, 1, c->compute);
    c->out_kernel[0] = c->compute;
  }
  return EMBER_OK;
}

static ember_status infer_scatter(ember_call *c) { return infer_scatter_common(c, 0); }
static ember_status infer_scatter_add(ember_call *c) { return infer_scatter_common(c, 1); }

/* }====== */

/* {====== masked_fill, masked_select, nonzero */

static ember_status infer_masked_fill(ember_call *c) {
  const ember_tensor *t = c->in[0], *mask = c->in[1];
  int nd;
  int64_t shape[EMBER_MAX_DIMS];
  if (need(c, 0) != EMBER_OK || bool_mask(c, mask) != EMBER_OK) return EMBER_ERROR;
  if (ember_broadcast_shapes(c->op->name, t->ndim, t->shape, mask->ndim, mask->shape, &nd,
                             shape) != EMBER_OK)
    return EMBER_ERROR;
  ember_set_out(c, 0, t->dtype, nd, shape);
  c->compute = t->dtype;
  return EMBER_OK;
}

static ember_status infer_masked_select(ember_call *c) {
  const ember_tensor *t = c->in[0], *mask = c->in[1];
  int nd;
  int64_t shape[EMBER_MAX_DIMS], zero = 0;
  if (bool_mask(c, mask) != EMBER_OK) return EMBER_ERROR;
  if (ember_broadcast_shapes(c->op->name, t->ndim, t->shape, mask->ndim, mask->shape, &nd,
                             shape) != EMBER_OK)
    return EMBER_ERROR;
  ember_set_out(c, 0, t->dtype, 1, &zero);   /* the length comes from the mask's values */
  c->compute = t->dtype;
  c->nout = 1;
  return EMBER_OK;
}

static ember_status infer_nonzero(ember_call *c) {
  int64_t shape[2] = { 0, c->in[0]->ndim };
  ember_set_out(c, 0, EMBER_I64, 2, shape);
  c->compute = c->in[0]->dtype;
  c->nout = 1;
  return EMBER_OK;
}

/* }====== */

/* {====== topk, sort */

/* values and indices: t's shape with dim d of size k */
static void line_outputs(ember_call *c, int d, int64_t k) {
  const ember_tensor *t = c->in[0];
  int64_t shape[EMBER_MAX_DIMS];
  for (int j = 0; j < t->ndim; j++) shape[j] = j == d ? k : t->shape[j];
  ember_set_out(c, 0, t->dtype, t->ndim, shape);
  ember_set_out(c, 1, EMBER_I64, t->ndim, shape);
  c->compute = t->dtype;
  c->nout = 2;
}

static ember_status infer_topk(ember_call *c) {
  char a[SHAPE_BUF];
  const ember_tensor *t = c->in[0];
  int d;
  if (need(c, 0) != EMBER_OK || dim_of(c, 1, t, &d) != EMBER_OK) return EMBER_ERROR;
  int64_t k = c->attr[0].i, size = t->ndim ? t->shape[d] : 1;
  if (k < 0 || k > size)
    return ember_op_error(c, "k = %lld is out of range for dim %lld of size %lld (shape %s)",
                          (long long)k, (long long)shown(c, d), (long long)size, shp(t, a));
  line_outputs(c, d, k);
  return EMBER_OK;
}

static ember_status infer_sort(ember_call *c) {
  const ember_tensor *t = c->in[0];
  int d;
  if (dim_of(c, 0, t, &d) != EMBER_OK) return EMBER_ERROR;
  line_outputs(c, d, t->ndim ? t->shape[d] : 1);
  return EMBER_OK;
}

/* }====== */

/* {====== backward rules */

/* Calls from rules: begin() readies a call of op `name` on in[0..nin) whose index
** values have base `base`; the rule sets attributes; finish() runs it and gives the
** first output (NULL with the error set). */
static int begin(ember_call *v, const char *name, int base, int nin, ember_tensor **in) {
  for (int i = 0; i < nin; i++)
    if (in[i] == NULL) return 0;
  ember_call_init(v, ember_op_find(name), nin, in);
  v->index_base = base;
  return 1;
}

static ember_tensor *finish(ember_call *v) {
  if (ember_dispatch(v) != EMBER_OK) return NULL;
  for (int k = 1; k < v->nout; k++) ember_tensor_release(v->out[k]);
  return v->out[0];
}

static void set_int(ember_call *v, int k, int64_t i) {
  v->attr[k].present = 1;
  v->attr[k].i = i;
  v->attr[k].f = (double)i;
}

/* gather(t, dim d, index) */
static ember_tensor *gathered(int base, ember_tensor *t, int d, ember_tensor *ix) {
  ember_tensor *in[2] = { t, ix };
  ember_call v;
  if (!begin(&v, "gather", base, 2, in)) return NULL;
  set_int(&v, 0, d);
  return finish(&v);
}

/* zeros of x's shape with src added at the index positions along d: scatter_add in
** place into fresh zeros */
static ember_tensor *scatter_into_zeros(int base, const ember_tensor *x, int d, ember_tensor *ix,
                                        ember_tensor *src) {
  if (src == NULL || ix == NULL) return NULL;
  ember_tensor *z = ember_ag_zeros(src, src->dtype, x->ndim, x->shape);
  ember_tensor *in[3] = { z, ix, src };
  ember_call v;
  if (!begin(&v, "scatter_add", base, 3, in)) return NULL;
  set_int(&v, 0, d);
  v.inplace = 1;
  ember_tensor *r = finish(&v);
  ember_tensor_release(r);                    /* r is z itself */
  if (r == NULL) {
    ember_tensor_release(z);
    return NULL;
  }
  return z;
}

/* A gradient t of index's shape for a src that may be larger in some dims (index
** need only fit in src): what the op never read gets zero. Takes over t. */
static ember_tensor *padded_to(ember_tensor *t, const ember_tensor *src) {
  if (t == NULL || ember_same_shape(t, src)) return t;
  ember_tensor *z = ember_ag_zeros(t, t->dtype, src->ndim, src->shape);
  ember_tensor *corner = z ? ember_tensor_view_of(z, t->ndim, t->shape, z->stride, 0) : NULL;
  ember_tensor *in[2] = { corner, t };
  ember_call v;
  ember_tensor *r = NULL;
  if (begin(&v, "copy", 0, 2, in)) {
    v.inplace = 1;
    r = finish(&v);
  }
  ember_tensor_release(r);
  ember_tensor_release(corner);
  ember_tensor_release(t);
  if (r == NULL) {
    ember_tensor_release(z);
    return NULL;
  }
  return z;
}

/* index_select: g added back at the selected positions; the index vector is viewed
** along dim d and expanded to g's shape (no copy) for scatter_add */
static ember_status grad_index_select(const ember_call *c, ember_tensor *const *g,
                                      ember_tensor **gi) {
  const ember_tensor *x = c->in[0];
  int d = (int)c->attr[0].i;
  if (x->ndim == 0) {                         /* its one element, picked once */
    gi[0] = ember_ag_reshape(g[0], 0, NULL);
    return gi[0] ? EMBER_OK : EMBER_ERROR;
  }
  int64_t shape[EMBER_MAX_DIMS];
  for (int k = 0; k < x->ndim; k++) shape[k] = k == d ? ember_tensor_numel(c->in[1]) : 1;
  ember_tensor *col = ember_ag_reshape(c->in[1], x->ndim, shape);
  ember_tensor *ix = ember_ag_expand(col, g[0]->ndim, g[0]->shape);
  ember_tensor_release(col);
  gi[0] = scatter_into_zeros(c->index_base, x, d, ix, g[0]);
  ember_tensor_release(ix);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

/* gather: g added back where it was read from */
static ember_status grad_gather(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  gi[0] = scatter_into_zeros(c->index_base, c->in[0], (int)c->attr[0].i, c->in[1], g[0]);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

/* scatter: the input's gradient is g with the overwritten positions zeroed; src's is
** g read at the positions src went to (with repeated indices PyTorch reads them all,
** though only the last write survived; so does this) */
static ember_status grad_scatter(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  int d = (int)c->attr[0].i;
  if (ember_needs_grad(c, 0)) {
    ember_tensor *in[2] = { g[0], c->in[1] };
    ember_call v;
    if (!begin(&v, "scatter", c->index_base, 2, in)) return EMBER_ERROR;
    set_int(&v, 0, d);
    set_int(&v, 1, 0);
    if ((gi[0] = finish(&v)) == NULL) return EMBER_ERROR;
  }
  if (c->nin > 2 && c->in[2] && ember_needs_grad(c, 2) &&
      !(gi[2] = padded_to(gathered(c->index_base, g[0], d, c->in[1]), c->in[2])))
    return EMBER_ERROR;
  return EMBER_OK;
}

/* scatter_add: the input's gradient is g; src's is g read where src was added */
static ember_status grad_scatter_add(const ember_call *c, ember_tensor *const *g,
                                     ember_tensor **gi) {
  if (ember_needs_grad(c, 0)) {
    ember_tensor_retain(g[0]);
    gi[0] = g[0];
  }
  if (ember_needs_grad(c, 2) &&
      !(gi[2] = padded_to(gathered(c->index_base, g[0], (int)c->attr[0].i, c->in[1]), c->in[2])))
    return EMBER_ERROR;
  return EMBER_OK;
}

/* masked_fill: g where the mask kept the input (the engine sums a broadcast result's
** gradient down to the input's shape) */
static ember_status grad_masked_fill(const ember_call *c, ember_tensor *const *g,
                                     ember_tensor **gi) {
  ember_tensor *in[2] = { g[0], c->in[1] };
  ember_call v;
  if (!begin(&v, "masked_fill", 0, 2, in)) return EMBER_ERROR;
  set_int(&v, 0, 0);
  return (gi[0] = finish(&v)) ? EMBER_OK : EMBER_ERROR;
}

/* masked_select: g's entries go back, in order, to the positions where the mask
** (broadcast to the common shape) is true; everywhere else zero. The positions come
** from nonzero over the flattened mask, 0-based, and one scatter writes them. */
static ember_status grad_masked_select(const ember_call *c, ember_tensor *const *g,
                                       ember_tensor **gi) {
  const ember_tensor *x = c->in[0], *mask = c->in[1];
  int nd;
  int64_t shape[EMBER_MAX_DIMS], flat_n, n = ember_tensor_numel(g[0]);
  if (ember_broadcast_shapes("masked_select", x->ndim, x->shape, mask->ndim, mask->shape, &nd,
                             shape) != EMBER_OK)
    return EMBER_ERROR;
  flat_n = ember_shape_numel(nd, shape);
  ember_tensor *wide = ember_ag_expand(c->in[1], nd, shape);
  ember_tensor *flat = ember_ag_reshape(wide, 1, &flat_n);
  ember_tensor *pos = NULL, *where = NULL, *z = NULL, *r = NULL;
  ember_call v;
  if (begin(&v, "nonzero", 0, 1, &flat)) pos = finish(&v);   /* n x 1 */
  where = ember_ag_reshape(pos, 1, &n);
  if (where) z = ember_ag_zeros(g[0], g[0]->dtype, 1, &flat_n);
  ember_tensor *in[3] = { z, where, g[0] };
  if (z && begin(&v, "scatter", 0, 3, in)) {
    set_int(&v, 0, 0);
    v.inplace = 1;
    r = finish(&v);
  }
  if (r) gi[0] = ember_ag_reshape(z, nd, shape);
  ember_tensor_release(r);
  ember_tensor_release(z);
  ember_tensor_release(where);
  ember_tensor_release(pos);
  ember_tensor_release(flat);
  ember_tensor_release(wide);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

/* sort, topk (dim attribute k): the values' gradient goes back to the positions the
** indices output names; those are distinct along the dim, so scatter_add into zeros
** writes each once */
static ember_status grad_lines(const ember_call *c, ember_tensor *const *g, ember_tensor **gi,
                               int k) {
  gi[0] = scatter_into_zeros(c->index_base, c->in[0], (int)c->attr[k].i, c->out[1], g[0]);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

static ember_status grad_sort(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  return grad_lines(c, g, gi, 0);
}

static ember_status grad_topk(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  return grad_lines(c, g, gi, 1);
}

/* }====== */

static const ember_attr_def dim_attr[] = { {"dim", EMBER_ATTR_DIM, NULL}, {NULL, 0, NULL} };
static const ember_attr_def scatter_attrs[] = {
  {"dim", EMBER_ATTR_DIM, NULL}, {"value", EMBER_ATTR_FLOAT, "none"}, {NULL, 0, NULL} };
static const ember_attr_def value_attr[] = { {"value", EMBER_ATTR_FLOAT, NULL}, {NULL, 0, NULL} };
static const ember_attr_def topk_attrs[] = {
  {"k", EMBER_ATTR_INT, NULL}, {"dim", EMBER_ATTR_DIM, "-1"}, {"largest", EMBER_ATTR_BOOL, "true"},
  {"sorted", EMBER_ATTR_BOOL, "true"}, {NULL, 0, NULL} };
static const ember_attr_def sort_attrs[] = {
  {"dim", EMBER_ATTR_DIM, "-1"}, {"descending", EMBER_ATTR_BOOL, "false"},
  {"stable", EMBER_ATTR_BOOL, "false"}, {NULL, 0, NULL} };

const ember_op ember_ops_index[] = {
  { .name = "index_select", .min_inputs = 2, .max_inputs = 2, .nout = 1, .attrs = dim_attr,
    .infer = infer_index_select, .cpu = ember_cpu_index_select, .vulkan = EMBER_VK(vk_index_select),
    .backward = EMBER_GRAD(grad_index_select), .saves = EMBER_SAVES_IN(1), .flags = EMBER_OP_BOTH,
    .args = "#1 dim #2",
    .doc = "index_select(t, dim, index): entries of t at the (1-based) index values along dim; "
           "index a vector of integers; any dtype" },
  { .name = "gather", .min_inputs = 2, .max_inputs = 2, .nout = 1, .attrs = dim_attr,
    .infer = infer_gather, .cpu = ember_cpu_gather, .vulkan = EMBER_VK(vk_gather),
    .backward = EMBER_GRAD(grad_gather), .saves = EMBER_SAVES_IN(1), .flags = EMBER_OP_BOTH, .args = "#1 dim #2",
    .doc = "gather(t, dim, index): out[i][j] = t[i][index[i][j]] (dim 2); result has index's "
           "shape, which fits in t's outside dim; any dtype" },
  { .name = "scatter", .min_inputs = 2, .max_inputs = 3, .nout = 1, .attrs = scatter_attrs,
    .infer = infer_scatter, .cpu = ember_cpu_scatter, .vulkan = EMBER_VK(vk_scatter),
    .backward = EMBER_GRAD(grad_scatter), .saves = EMBER_SAVES_IN(1),
    .flags = EMBER_OP_BOTH | EMBER_OP_INPLACE | EMBER_OP_SCALARS, .args = "#1 dim #2 #3 value",
    .doc = "scatter(t, dim, index, src | value): copy of t with t[i][index[i][j]] = src[i][j] "
           "(dim 2); src a tensor of t's dtype or a number; repeated indices: last wins" },
  { .name = "scatter_add", .min_inputs = 3, .max_inputs = 3, .nout = 1, .attrs = dim_attr,
    .infer = infer_scatter_add, .cpu = ember_cpu_scatter_add, .vulkan = EMBER_VK(vk_scatter_add),
    .backward = EMBER_GRAD(grad_scatter_add), .saves = EMBER_SAVES_IN(1),
    .flags = EMBER_OP_BOTH | EMBER_OP_INPLACE, .args = "#1 dim #2 #3",
    .doc = "scatter_add(t, dim, index, src): copy of t with t[i][index[i][j]] += src[i][j] "
           "(dim 2); src of t's dtype" },
  { .name = "masked_fill", .min_inputs = 2, .max_inputs = 2, .nout = 1, .attrs = value_attr,
    .infer = infer_masked_fill, .cpu = ember_cpu_masked_fill, .vulkan = EMBER_VK(vk_masked_fill),
    .backward = EMBER_GRAD(grad_masked_fill), .saves = EMBER_SAVES_IN(1),
    .flags = EMBER_OP_BOTH | EMBER_OP_INPLACE,
    .doc = "masked_fill(t, mask, value): value where the bool mask is true; mask broadcasts "
           "(to t's shape in place: t[mask] = value); any dtype" },
  { .name = "masked_select", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_masked_select, .cpu = ember_cpu_masked_select, .vulkan = EMBER_VK(vk_masked_select),
    .backward = EMBER_GRAD(grad_masked_select), .saves = EMBER_SAVES_IN(1),
    .flags = EMBER_OP_BOTH | EMBER_OP_ALLOCS,
    .doc = "masked_select(t, mask): 1-D tensor of t's entries where the bool mask is true, in "
           "order; t and mask broadcast; t[mask]" },
  { .name = "nonzero", .min_inputs = 1, .max_inputs = 1, .nout = 1, .infer = infer_nonzero,
    .cpu = ember_cpu_nonzero, .vulkan = EMBER_VK(vk_nonzero),
    .flags = EMBER_OP_BOTH | EMBER_OP_ALLOCS | EMBER_OP_INDEX_OUT,
    .doc = "nonzero(t): n x t:dim() i64 tensor of the (1-based) indices of nonzero entries, "
           "in row-major order" },
  { .name = "topk", .min_inputs = 1, .max_inputs = 1, .nout = 2, .attrs = topk_attrs,
    .infer = infer_topk, .cpu = ember_cpu_topk, .vulkan = EMBER_VK(vk_topk),
    .backward = EMBER_GRAD(grad_topk), .saves = EMBER_SAVES_OUT(1),
    .flags = EMBER_OP_BOTH | EMBER_OP_INDEX_OUT,
    .doc = "topk(t, k, dim=-1, largest=true, sorted=true) -> values, indices (i64, 1-based): "
           "the k largest (smallest) along dim, best first; NaN counts as largest; ties keep "
           "the earlier index" },
  { .name = "sort", .min_inputs = 1, .max_inputs = 1, .nout = 2, .attrs = sort_attrs,
    .infer = infer_sort, .cpu = ember_cpu_sort, .vulkan = EMBER_VK(vk_sort),
    .backward = EMBER_GRAD(grad_sort), .saves = EMBER_SAVES_OUT(1),
    .flags = EMBER_OP_BOTH | EMBER_OP_INDEX_OUT,
    .doc = "sort(t, dim=-1, descending=false, stable=false) -> values, indices (i64, 1-based); "
           "NaN sorts as largest; always stable (equal values keep their order)" },
  { .name = NULL },
};
