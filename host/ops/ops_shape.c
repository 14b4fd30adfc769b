/*
** ops_shape.c — op table entries of the shape family: cat, stack, split, chunk,
** unbind, flip, roll, repeat, tril, triu. Kernels are in host/cpu/shape.c, and for
** Vulkan in host/vk/vk_shape.c; split, chunk and unbind only make views, so their cpu
** functions serve the Vulkan slot too.
**
** Each infer rule checks every shape and writes its dim attributes back normalised
** (0 <= dim < ndim), so the kernels need not check again. Dims in messages are shown
** the way the caller wrote them: 1-based from Lua (index_base 1), 0-based from C.
** None of these ops looks at values, so none casts its input: they run on every dtype.
**
** Backward rules move the gradient the other way: cat's by narrow views of g, stack's
** by select views, split's, chunk's and unbind's by one cat or stack of the pieces'
** gradients; flip, roll, tril and triu are (or invert by) the same op on g, and repeat
** sums g over the tiles.
*/
#include <string.h>

#include "ops.h"
#include "autograd.h"
#include "../cpu/shape.h"
#include "../vk/vk_kernels.h"

/* {====== helpers */

static int64_t shown(const ember_call *c, int d) { return d + (c->index_base ? 1 : 0); }

#define SHAPE_BUF 96     /* every shape buffer below has this size */

static const char *shp(const ember_tensor *t, char *buf) {
  return ember_shape_str(t, buf, SHAPE_BUF);
}

/* Output 0 has in[0]'s dtype and shape; the kernel moves elements as they are. */
static void same_as_input(ember_call *c) {
  ember_set_out(c, 0, c->in[0]->dtype, c->in[0]->ndim, c->in[0]->shape);
  c->compute = c->in[0]->dtype;
}

static ember_status need(ember_call *c, int k) {
  if (c->attr[k].present) return EMBER_OK;
  return ember_op_error(c, "argument %s is required", c->op->attrs[k].name);
}

/* }====== */

/* {====== cat, stack */

static int cat_skipped(const ember_tensor *t) { return t->ndim == 1 && t->shape[0] == 0; }

static ember_status infer_cat(ember_call *c) {
  char a[SHAPE_BUF], b[SHAPE_BUF];
  ember_dtype dt = ember_result_type(c->nin, c->in);
  int ref = -1;
  for (int i = 0; i < c->nin && ref < 0; i++)
    if (!cat_skipped(c->in[i])) ref = i;
  c->compute = dt;
  if (ref < 0) {                              /* only (0,)-shaped inputs */
    int64_t zero = 0;
    ember_set_out(c, 0, dt, 1, &zero);
    int d;
    if (ember_attr_dim(c, 0, 1, &d) != EMBER_OK) return EMBER_ERROR;
    c->attr[0].i = d;
    return EMBER_OK;
  }
  const ember_tensor *r = c->in[ref];
  if (r->ndim == 0)
    return ember_op_error(c, "input %d is 0-dim and cannot be concatenated", ref + 1);
  int d;
  if (ember_attr_dim(c, 0, r->ndim, &d) != EMBER_OK) return EMBER_ERROR;
  int64_t shape[EMBER_MAX_DIMS], total = 0;
  for (int i = 0; i < c->nin; i++) {
    const ember_tensor *t = c->in[i];
    if (cat_skipped(t) && r->ndim != 1) continue;
    if (t->ndim != r->ndim)
      return ember_op_error(c, "shapes %s (input %d) and %s (input %d) have different numbers "
                            "of dims", shp(r, a), ref + 1, shp(t, b), i + 1);
    for (int k = 0; k < t->ndim; k++)
      if (k != d && t->shape[k] != r->shape[k])
        return ember_op_error(c, "shapes %s (input %d) and %s (input %d) differ in dim %lld "
                              "(only dim %lld, the cat dim, may differ)", shp(r, a), ref + 1,
                              shp(t, b), i + 1, (long long)shown(c, k), (long long)shown(c, d));
    total += t->shape[d];
  }
  for (int k = 0; k < r->ndim; k++) shape[k] = r->shape[k];
  shape[d] = total;
  ember_set_out(c, 0, dt, r->ndim, shape);
  c->attr[0].i = d;
  return EMBER_OK;
}

static ember_status infer_stack(ember_call *c) {
  char a[SHAPE_BUF], b[SHAPE_BUF];
  const ember_tensor *r = c->in[0];
  if (r->ndim + 1 > EMBER_MAX_DIMS)
    return ember_op_error(c, "result would have %d dims (at most %d)", r->ndim + 1, EMBER_MAX_DIMS);
  int d;
  if (ember_attr_dim(c, 0, r->ndim + 1, &d) != EMBER_OK) return EMBER_ERROR;
  for (int i = 1; i < c->nin; i++)
    if (!ember_same_shape(r, c->in[i]))
      return ember_op_error(c, "all inputs need one shape (stacking along dim %lld): input 1 "
                            "has shape %s, input %d has shape %s", (long long)shown(c, d),
                            shp(r, a), i + 1, shp(c->in[i], b));
  int64_t shape[EMBER_MAX_DIMS];
  for (int k = 0, j = 0; k <= r->ndim; k++) shape[k] = k == d ? c->nin : r->shape[j++];
  ember_dtype dt = ember_result_type(c->nin, c->in);
  ember_set_out(c, 0, dt, r->ndim + 1, shape);
  c->compute = dt;
  c->attr[0].i = d;
  return EMBER_OK;
}

/* }====== */

/* {====== split, chunk, unbind */

/* The dim attribute k of a list-out op, normalised, for a tensor with >= 1 dim. */
static ember_status list_dim(ember_call *c, int k, int *d) {
  char a[SHAPE_BUF];
  if (c->in[0]->ndim == 0)
    return ember_op_error(c, "expects a tensor with at least 1 dim, got shape %s",
                          shp(c->in[0], a));
  if (ember_attr_dim(c, k, c->in[0]->ndim, d) != EMBER_OK) return EMBER_ERROR;
  c->attr[k].i = *d;
  return EMBER_OK;
}

static ember_status infer_split(ember_call *c) {
  int d;
  char a[SHAPE_BUF];
  if (need(c, 0) != EMBER_OK || list_dim(c, 1, &d) != EMBER_OK) return EMBER_ERROR;
  const ember_attr *s = &c->attr[0];
  int64_t len = c->in[0]->shape[d];
  if (s->n == 0) return ember_op_error(c, "split_size is an empty list");
  if (s->n == 1) {
    if (s->v[0] < 0) return ember_op_error(c, "split_size must be >= 0, got %lld", (long long)s->v[0]);
    if (s->v[0] == 0 && len != 0)
      return ember_op_error(c, "split_size 0 needs dim %lld to have size 0, it has %lld (shape %s)",
                            (long long)shown(c, d), (long long)len, shp(c->in[0], a));
    return EMBER_OK;
  }
  int64_t sum = 0;
  for (int k = 0; k < s->n; k++) {
    if (s->v[k] < 0) return ember_op_error(c, "split sizes must be >= 0, got %lld", (long long)s->v[k]);
    sum += s->v[k];
  }
  if (sum != len)
    return ember_op_error(c, "split sizes sum to %lld but dim %lld of shape %s has size %lld",
                          (long long)sum, (long long)shown(c, d), shp(c->in[0], a), (long long)len);
  return EMBER_OK;
}

static ember_status infer_chunk(ember_call *c) {
  int d;
  if (need(c, 0) != EMBER_OK || list_dim(c, 1, &d) != EMBER_OK) return EMBER_ERROR;
  if (c->attr[0].i <= 0 || c->attr[0].i > 1 << 30)
    return ember_op_error(c, "chunks must be a positive count, got %lld", (long long)c->attr[0].i);
  return EMBER_OK;
}

static ember_status infer_unbind(ember_call *c) {
  int d;
  return list_dim(c, 0, &d);
}

/* }====== */

/* {====== flip, roll, repeat, tril, triu */

/* Normalise the dims list attribute k in place; a dim named twice is an error unless
** `repeats` (roll adds the shifts of a repeated dim). */
static ember_status dims_list(ember_call *c, int k, int repeats) {
  ember_attr *a = &c->attr[k];
  int nd = c->in[0]->ndim, seen[EMBER_MAX_DIMS] = {0};
  for (int j = 0; j < a->n; j++) {
    int d = ember_norm_dim((int)a->v[j], nd);
    if (d < 0)
      return ember_op_error(c, "dim %lld out of range for a tensor with %d dims",
                            (long long)a->v[j] + (c->index_base && a->v[j] >= 0 ? 1 : 0), nd);
    if (seen[d]++ && !repeats)
      return ember_op_error(c, "dim %lld appears twice in dims", (long long)shown(c, d));
    a->v[j] = d;
  }
  return EMBER_OK;
}

static ember_status infer_flip(ember_call *c) {
  if (need(c, 0) != EMBER_OK || dims_list(c, 0, 0) != EMBER_OK) return EMBER_ERROR;
  same_as_input(c);
  return EMBER_OK;
}

static ember_status infer_roll(ember_call *c) {
  if (need(c, 0) != EMBER_OK) return EMBER_ERROR;
  int ns = c->attr[0].n;
  if (!c->attr[1].present) {
    if (ns != 1)
      return ember_op_error(c, "without dims, shifts must be one value (got %d)", ns);
  } else {
    if (c->attr[1].n != ns)
      return ember_op_error(c, "%d shifts for %d dims: give one shift per dim", ns, c->attr[1].n);
    if (dims_list(c, 1, 1) != EMBER_OK) return EMBER_ERROR;
  }
  same_as_input(c);
  return EMBER_OK;
}

static ember_status infer_repeat(ember_call *c) {
  char a[SHAPE_BUF];
  if (need(c, 0) != EMBER_OK) return EMBER_ERROR;
  const ember_tensor *t = c->in[0];
  const ember_attr *s = &c->attr[0];
  if (s->n < t->ndim)
    return ember_op_error(c, "%d repeat sizes for a tensor of shape %s (need at least %d, one per dim)",
                          s->n, shp(t, a), t->ndim);
  if (s->n > EMBER_MAX_DIMS)
    return ember_op_error(c, "%d repeat sizes (at most %d dims)", s->n, EMBER_MAX_DIMS);
  int64_t shape[EMBER_MAX_DIMS];
  int lead = s->n - t->ndim;
  for (int k = 0; k < s->n; k++) {
    if (s->v[k] < 0)
      return ember_op_error(c, "repeat sizes must be >= 0, got %lld", (long long)s->v[k]);
    if (__builtin_mul_overflow(s->v[k], k < lead ? 1 : t->shape[k - lead], &shape[k]))
      return ember_op_error(c, "repeat size %lld makes dim %d too large", (long long)s->v[k], k + 1);
  }
  ember_set_out(c, 0, t->dtype, s->n, shape);
  c->compute = t->dtype;
  return EMBER_OK;
}

static ember_status infer_triangle(ember_call *c) {
  char a[SHAPE_BUF];
  if (c->in[0]->ndim < 2)
    return ember_op_error(c, "expects a matrix or a batch of them (at least 2 dims), got shape %s",
                          shp(c->in[0], a));
  same_as_input(c);
  return EMBER_OK;
}

/* }====== */

/* {====== backward rules */

static const ember_op *op_named(const ember_op **cache, const char *name) {
  if (*cache == NULL) *cache = ember_op_find(name);
  return *cache;
}

/* First output of a call whose attributes the caller has set; NULL on error. */
static ember_tensor *run(ember_call *v) {
  if (ember_dispatch(v) != EMBER_OK) return NULL;
  for (int k = 1; k < v->nout; k++) ember_tensor_release(v->out[k]);
  return v->out[0];
}

/* narrow(g, d, start, len) and select(g, d, i): views, no copy */
static ember_tensor *narrowed(ember_tensor *g, int d, int64_t start, int64_t len) {
  static const ember_op *narrow;
  ember_call v;
  ember_call_init(&v, op_named(&narrow, "narrow"), 1, &g);
  v.attr[0].present = v.attr[1].present = v.attr[2].present = 1;
  v.attr[0].i = d;
  v.attr[1].i = start;
  v.attr[2].i = len;
  return run(&v);
}

static ember_tensor *selected(ember_tensor *g, int d, int64_t i) {
  static const ember_op *select;
  ember_call v;
  ember_call_init(&v, op_named(&select, "select"), 1, &g);
  v.attr[0].present = v.attr[1].present = 1;
  v.attr[0].i = d;
  v.attr[1].i = i;
  return run(&v);
}

/* cat: input i's gradient is the stretch of g along dim it filled */
static ember_status grad_cat(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  int d = (int)c->attr[0].i;
  int skipping = g[0]->ndim != 1;    /* (0,)-shaped inputs took no place in g */
  int64_t at = 0;
  for (int i = 0; i < c->nin; i++) {
    const ember_tensor *x = c->in[i];
    if (skipping && cat_skipped(x)) {
      if (ember_needs_grad(c, i) && !(gi[i] = ember_ag_zeros(g[0], g[0]->dtype, 1, x->shape)))
        return EMBER_ERROR;
      continue;
    }
    int64_t len = x->shape[d];
    if (ember_needs_grad(c, i) && !(gi[i] = narrowed(g[0], d, at, len))) return EMBER_ERROR;
    at += len;
  }
  return EMBER_OK;
}

/* stack: input i's gradient is slice i of g along the new dim */
static ember_status grad_stack(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  int d = (int)c->attr[0].i;
  for (int i = 0; i < c->nin; i++)
    if (ember_needs_grad(c, i) && !(gi[i] = selected(g[0], d, i))) return EMBER_ERROR;
  return EMBER_OK;
}

/* split, chunk (dim attribute 1): the pieces' gradients joined again */
static ember_status grad_split(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  gi[0] = ember_ag_opf("cat", c->nlist, g, "dim=%d", (int)c->attr[1].i);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

static ember_status grad_unbind(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  gi[0] = ember_ag_opf("stack", c->nlist, g, "dim=%d", (int)c->attr[0].i);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

/* flip, tril, triu: the same op on g (flip undoes itself; the triangle ops pass the
** gradient where they kept the value) */
static ember_status grad_same(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *x = g[0];
  ember_call v;
  ember_call_init(&v, c->op, 1, &x);
  memcpy(v.attr, c->attr, sizeof v.attr);
  return (gi[0] = run(&v)) ? EMBER_OK : EMBER_ERROR;
}

/* roll: g rolled back by the opposite shifts */
static ember_status grad_roll(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *x = g[0];
  ember_call v;
  ember_call_init(&v, c->op, 1, &x);
  memcpy(v.attr, c->attr, sizeof v.attr);
  for (int k = 0; k < v.attr[0].n; k++) v.attr[0].v[k] = -v.attr[0].v[k];
  return (gi[0] = run(&v)) ? EMBER_OK : EMBER_ERROR;
}

/* repeat: output dim k (past the new leading ones) holds reps[k] tiles of input dim k.
** g is viewed with each such dim split into (tiles, size) and summed over the tiles and
** the leading dims: one reshape and one sum. Only when the split would pass
** EMBER_MAX_DIMS does it take several passes, each merging the dims already done into
** one in front and the dims still to do into one at the back. */
static ember_status grad_repeat(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  const ember_tensor *x = c->in[0];
  int nlead = c->attr[0].n - x->ndim;
  const int64_t *reps = c->attr[0].v + nlead;
  int64_t lead = 1;
  for (int k = 0; k < nlead; k++) lead *= c->attr[0].v[k];
  ember_tensor *cur = g[0];
  ember_tensor_retain(cur);
  int k = 0;                                 /* input dims summed so far */
  for (int first = 1; cur && ((first && nlead > 0) || k < x->ndim); first = 0) {
    int64_t shape[EMBER_MAX_DIMS];
    int dims[EMBER_MAX_DIMS], nd = 0, ns = 0;
    if (first && nlead > 0) {
      dims[ns++] = nd;
      shape[nd++] = lead;
    } else if (k > 0) {
      shape[nd++] = ember_shape_numel(k, x->shape);
    }
    for (; k < x->ndim; k++) {
      int need = (reps[k] != 1 ? 2 : 1) + (k + 1 < x->ndim ? 1 : 0);  /* and the back */
      if (nd + need > EMBER_MAX_DIMS) break;
      if (reps[k] != 1) {
        dims[ns++] = nd;
        shape[nd++] = reps[k];
      }
      shape[nd++] = x->shape[k];
    }
    if (k < x->ndim) {
      shape[nd] = 1;
      for (int j = k; j < x->ndim; j++) shape[nd] *= reps[j] * x->shape[j];
      nd++;
    }
    ember_tensor *r = ember_ag_reshape(cur, nd, shape);
    ember_tensor_release(cur);
    cur = ns && r ? ember_ag_sum_dims(r, ns, dims, 0) : r;
    if (cur != r) ember_tensor_release(r);
  }
  if (cur && (cur->ndim != x->ndim || memcmp(cur->shape, x->shape, x->ndim * sizeof x->shape[0]))) {
    ember_tensor *r = ember_ag_reshape(cur, x->ndim, x->shape);
    ember_tensor_release(cur);
    cur = r;
  }
  gi[0] = cur;
  return cur ? EMBER_OK : EMBER_ERROR;
}

/* }====== */

static const ember_attr_def dim0_attr[] = { {"dim", EMBER_ATTR_DIM, "0"}, {NULL, 0, NULL} };
static const ember_attr_def split_attrs[] = {
  {"split_size", EMBER_ATTR_INTS, NULL}, {"dim", EMBER_ATTR_DIM, "0"}, {NULL, 0, NULL} };
static const ember_attr_def chunk_attrs[] = {
  {"chunks", EMBER_ATTR_INT, NULL}, {"dim", EMBER_ATTR_DIM, "0"}, {NULL, 0, NULL} };
static const ember_attr_def flip_attrs[] = { {"dims", EMBER_ATTR_DIMS_VA, NULL}, {NULL, 0, NULL} };
static const ember_attr_def roll_attrs[] = {
  {"shifts", EMBER_ATTR_INTS, NULL}, {"dims", EMBER_ATTR_DIMS, "none"}, {NULL, 0, NULL} };
static const ember_attr_def repeat_attrs[] = { {"sizes", EMBER_ATTR_SIZE, NULL}, {NULL, 0, NULL} };
static const ember_attr_def diagonal_attr[] = { {"diagonal", EMBER_ATTR_INT, "0"}, {NULL, 0, NULL} };

const ember_op ember_ops_shape[] = {
  { .name = "cat", .min_inputs = 1, .max_inputs = -1, .nout = 1, .attrs = dim0_attr,
    .infer = infer_cat, .cpu = ember_cpu_cat, .vulkan = EMBER_VK(vk_cat), .backward = EMBER_GRAD(grad_cat),
    .flags = EMBER_OP_FUNCTION | EMBER_OP_LIST_IN,
    .doc = "cat({t...}, dim=1): joins along dim; other dims must match; (0,)-shaped inputs are "
           "skipped; dtypes promoted" },
  { .name = "stack", .min_inputs = 1, .max_inputs = -1, .nout = 1, .attrs = dim0_attr,
    .infer = infer_stack, .cpu = ember_cpu_stack, .vulkan = EMBER_VK(vk_stack), .backward = EMBER_GRAD(grad_stack),
    .flags = EMBER_OP_FUNCTION | EMBER_OP_LIST_IN,
    .doc = "stack({t...}, dim=1): n equal shapes -> new dim of size n at dim; dtypes promoted" },
  { .name = "split", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = split_attrs,
    .infer = infer_split, .cpu = ember_cpu_split, .vulkan = EMBER_VK(ember_cpu_split), .backward = EMBER_GRAD(grad_split),
    .flags = EMBER_OP_BOTH | EMBER_OP_LIST_OUT,
    .doc = "split(t, split_size | {sizes}, dim=1): list of views; pieces of split_size (the "
           "last shorter) or of the given sizes, which must sum to the dim's size" },
  { .name = "chunk", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = chunk_attrs,
    .infer = infer_chunk, .cpu = ember_cpu_chunk, .vulkan = EMBER_VK(ember_cpu_chunk), .backward = EMBER_GRAD(grad_split),
    .flags = EMBER_OP_BOTH | EMBER_OP_LIST_OUT,
    .doc = "chunk(t, chunks, dim=1): list of at most `chunks` views of ceil(size/chunks)" },
  { .name = "unbind", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = dim0_attr,
    .infer = infer_unbind, .cpu = ember_cpu_unbind, .vulkan = EMBER_VK(ember_cpu_unbind),
    .backward = EMBER_GRAD(grad_unbind),
    .flags = EMBER_OP_BOTH | EMBER_OP_LIST_OUT,
    .doc = "unbind(t, dim=1): list of the size(dim) views with dim removed" },
  { .name = "flip", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = flip_attrs,
    .infer = infer_flip, .cpu = ember_cpu_flip, .vulkan = EMBER_VK(vk_flip), .backward = EMBER_GRAD(grad_same),
    .flags = EMBER_OP_BOTH,
    .doc = "flip(t, dims...): copy with the order along each of dims reversed; any dtype" },
  { .name = "roll", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = roll_attrs,
    .infer = infer_roll, .cpu = ember_cpu_roll, .vulkan = EMBER_VK(vk_roll), .backward = EMBER_GRAD(grad_roll),
    .flags = EMBER_OP_BOTH,
    .doc = "roll(t, shifts, dims): elements shifted cyclically along dims (one shift per dim); "
           "without dims the flattened tensor rolls by one shift; any dtype" },
  { .name = "repeat", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = repeat_attrs,
    .infer = infer_repeat, .cpu = ember_cpu_repeat, .vulkan = EMBER_VK(vk_repeat), .backward = EMBER_GRAD(grad_repeat),
    .flags = EMBER_OP_BOTH,
    .doc = "repeat(t, sizes...): t tiled sizes[k] times along dim k; #sizes >= t:dim(), extra "
           "sizes add leading dims; any dtype" },
  { .name = "tril", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = diagonal_attr,
    .infer = infer_triangle, .cpu = ember_cpu_tril, .vulkan = EMBER_VK(vk_tril), .backward = EMBER_GRAD(grad_same),
    .flags = EMBER_OP_BOTH | EMBER_OP_INPLACE,
    .doc = "tril(t, diagonal=0): last two dims keep j <= i + diagonal, the rest zero; batched" },
  { .name = "triu", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = diagonal_attr,
    .infer = infer_triangle, .cpu = ember_cpu_triu, .vulkan = EMBER_VK(vk_triu), .backward = EMBER_GRAD(grad_same),
    .flags = EMBER_OP_BOTH | EMBER_OP_INPLACE,
    .doc = "triu(t, diagonal=0): last two dims keep j >= i + diagonal, the rest zero; batched" },
  { .name = NULL },
};
