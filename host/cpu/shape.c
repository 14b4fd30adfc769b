/*
** shape.c — CPU kernels of the shape ops: cat, stack, split, chunk, unbind, flip,
** roll, repeat, tril, triu; and the row walker and element moves (shape.h).
**
** Invariants: the infer rules (host/ops/ops_shape.c) have validated every shape and
** written each dim attribute back normalised (0 <= dim < ndim), so kernels trust
** them. Kernels move elements as bytes, never as values (move_into), except where cat
** and stack meet an input of another dtype than the promoted one: that input is
** converted on the way (ember_copy_). Inputs may be
** strided; out[0] is contiguous except for in-place calls (tril_, triu_), where it is
** the caller's tensor with its own strides. Views (split, chunk, unbind) share the
** input's storage.
*/
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "shape.h"

/* {====== walker and element helpers */

void ember_walk_init(ember_walk *w, int ndim, const int64_t *shape, int nops,
                     const int64_t *const *strides) {
  w->nops = nops;
  w->ndim = ndim > 0 ? ndim - 1 : 0;
  w->inner = ndim > 0 ? shape[ndim - 1] : 1;
  w->rows = 1;
  for (int d = 0; d < w->ndim; d++) {
    w->shape[d] = shape[d];
    w->pos[d] = 0;
    w->rows *= shape[d];
  }
  if (w->inner == 0) w->rows = 0;
  for (int k = 0; k < nops; k++) {
    for (int d = 0; d < w->ndim; d++) w->stride[k][d] = strides[k][d];
    w->istride[k] = ndim > 0 ? strides[k][ndim - 1] : 0;
    w->off[k] = 0;
  }
}

void ember_walk_seek(ember_walk *w, int64_t row) {
  for (int k = 0; k < w->nops; k++) w->off[k] = 0;
  for (int d = 0; d < w->ndim; d++)
    if (w->shape[d] == 0) {          /* no rows at all: nothing to seek (and no division) */
      for (int e = 0; e < w->ndim; e++) w->pos[e] = 0;
      return;
    }
  for (int d = w->ndim - 1; d >= 0; d--) {
    w->pos[d] = row % w->shape[d];
    row /= w->shape[d];
    for (int k = 0; k < w->nops; k++) w->off[k] += w->pos[d] * w->stride[k][d];
  }
}

void ember_walk_rows(const ember_walk *w, int parallel, ember_row_fn row, void *ctx) {
  int64_t rows = w->rows;
  if (!parallel || rows < 2 || ember_parallel_threads() < 2) {
    ember_walk it = *w;
    ember_walk_seek(&it, 0);
    for (int64_t r = 0; r < rows; r++, ember_walk_next(&it)) row(&it, ctx);
    return;
  }
#pragma omp parallel
  {
#ifdef _OPENMP
    int nt = omp_get_num_threads(), id = omp_get_thread_num();
#else
    int nt = 1, id = 0;
#endif
    int64_t lo = rows * id / nt, hi = rows * (id + 1) / nt;
    ember_walk it = *w;
    ember_walk_seek(&it, lo);
    for (int64_t r = lo; r < hi; r++, ember_walk_next(&it)) row(&it, ctx);
  }
}

void ember_scalar_bytes(ember_dtype dt, double v, int64_t iv, char *buf) {
  memset(buf, 0, 8);
  if ((ember_dtype_is_int(dt) || dt == EMBER_BOOL) && (double)iv == v)
    ember_store_i64(dt, buf, iv);
  else
    ember_store_f64(dt, buf, v);
}

/* Copy src into dst (same shape) by element bytes, through both tensors' strides
** (negative ones too); dtypes that differ go through ember_copy_, which converts. */
typedef struct move_ctx { char *dst; const char *src; size_t es; } move_ctx;

static void move_row(const ember_walk *w, void *ctx) {
  const move_ctx *m = ctx;
  int64_t es = (int64_t)m->es;
  ember_move_run(m->dst + w->off[0] * es, w->istride[0] * es, m->src + w->off[1] * es,
                 w->istride[1] * es, w->inner, m->es);
}

static ember_status move_into(ember_tensor *dst, const ember_tensor *src) {
  if (dst->dtype != src->dtype) return ember_copy_(dst, src);
  const int64_t *strides[2] = { dst->stride, src->stride };
  ember_walk w;
  ember_walk_init(&w, dst->ndim, dst->shape, 2, strides);
  move_ctx m = { ember_tensor_data(dst), ember_tensor_data(src), ember_dtype_size(dst->dtype) };
  ember_walk_rows(&w, ember_tensor_numel(dst) > EMBER_PARALLEL_GRAIN, move_row, &m);
  return EMBER_OK;
}

/* }====== */

/* {====== cat, stack */

/* Inputs of shape (0,) take no part in cat (PyTorch's legacy rule); infer says so. */
static int cat_skipped(const ember_tensor *t, const ember_tensor *out) {
  return t->ndim == 1 && t->shape[0] == 0 && out->ndim != 1;
}

ember_status ember_shape_cat(ember_call *c, ember_move_fn move) {
  ember_tensor *out = c->out[0];
  int d = (int)c->attr[0].i;
  int64_t at = 0;
  for (int i = 0; i < c->nin; i++) {
    ember_tensor *t = c->in[i];
    if (cat_skipped(t, out) || ember_tensor_numel(t) == 0) continue;
    ember_tensor *part = ember_narrow(out, d, at, t->shape[d]);
    if (part == NULL) return EMBER_ERROR;
    ember_status st = move(part, t);
    ember_tensor_release(part);
    if (st != EMBER_OK) return st;
    at += t->shape[d];
  }
  return EMBER_OK;
}

ember_status ember_shape_stack(ember_call *c, ember_move_fn move) {
  int d = (int)c->attr[0].i;
  for (int i = 0; i < c->nin; i++) {
    ember_tensor *part = ember_select(c->out[0], d, i);
    if (part == NULL) return EMBER_ERROR;
    ember_status st = move(part, c->in[i]);
    ember_tensor_release(part);
    if (st != EMBER_OK) return st;
  }
  return EMBER_OK;
}

ember_status ember_cpu_cat(ember_call *c) { return ember_shape_cat(c, move_into); }
ember_status ember_cpu_stack(ember_call *c) { return ember_shape_stack(c, move_into); }

/* }====== */

/* {====== split, chunk, unbind: lists of views */

/* Fill c->list_out with n views of in[0] along dim d, piece k of size[k]
** (select instead of narrow when `select` is set). */
static ember_status view_list(ember_call *c, int d, int n, const int64_t *size, int select) {
  ember_tensor **list = calloc(n > 0 ? (size_t)n : 1, sizeof *list);
  if (list == NULL) return ember_op_error(c, "out of memory");
  int64_t at = 0;
  for (int k = 0; k < n; k++) {
    list[k] = select ? ember_select(c->in[0], d, k) : ember_narrow(c->in[0], d, at, size[k]);
    if (list[k] == NULL) {
      for (int j = 0; j < k; j++) ember_tensor_release(list[j]);
      free(list);
      return EMBER_ERROR;
    }
    if (!select) at += size[k];
  }
  c->list_out = list;
  c->nlist = n;
  return EMBER_OK;
}

/* Pieces of split_size along a dim of length len: at least one, the last shorter. */
static ember_status split_even(ember_call *c, int d, int64_t split_size) {
  int64_t len = c->in[0]->shape[d];
  int64_t n = split_size > 0 ? (len + split_size - 1) / split_size : 1;
  if (n < 1) n = 1;
  int64_t *size = malloc((size_t)n * sizeof *size);
  if (size == NULL) return ember_op_error(c, "out of memory");
  for (int64_t k = 0; k < n; k++) size[k] = split_size;
  size[n - 1] = len - split_size * (n - 1);
  ember_status st = view_list(c, d, (int)n, size, 0);
  free(size);
  return st;
}

ember_status ember_cpu_split(ember_call *c) {
  int d = (int)c->attr[1].i;
  if (c->attr[0].n == 1) return split_even(c, d, c->attr[0].v[0]);
  return view_list(c, d, c->attr[0].n, c->attr[0].v, 0);
}

ember_status ember_cpu_chunk(ember_call *c) {
  int d = (int)c->attr[1].i;
  int64_t chunks = c->attr[0].i, len = c->in[0]->shape[d];
  int64_t split_size = (len + chunks - 1) / chunks;
  if (len == 0) {                 /* PyTorch: `chunks` empty pieces */
    int64_t *size = calloc((size_t)chunks, sizeof *size);
    if (size == NULL) return ember_op_error(c, "out of memory");
    ember_status st = view_list(c, d, (int)chunks, size, 0);
    free(size);
    return st;
  }
  return split_even(c, d, split_size);
}

ember_status ember_cpu_unbind(ember_call *c) {
  int d = (int)c->attr[0].i;
  return view_list(c, d, (int)c->in[0]->shape[d], NULL, 1);
}

/* }====== */

/* {====== flip, roll, repeat */

/* flip: a view that walks the flipped dims backwards (negative strides), copied. */
ember_status ember_shape_flip(ember_call *c, ember_move_fn move) {
  ember_tensor *t = c->in[0];
  int64_t stride[EMBER_MAX_DIMS], offset = t->offset;
  for (int d = 0; d < t->ndim; d++) stride[d] = t->stride[d];
  for (int k = 0; k < c->attr[0].n; k++) {
    int d = (int)c->attr[0].v[k];
    if (t->shape[d] > 0) offset += (t->shape[d] - 1) * t->stride[d];
    stride[d] = -t->stride[d];
  }
  if (ember_tensor_numel(t) == 0) return EMBER_OK;
  ember_tensor *rev = ember_tensor_view_of(t, t->ndim, t->shape, stride, offset);
  if (rev == NULL) return EMBER_ERROR;
  ember_status st = move(c->out[0], rev);
  ember_tensor_release(rev);
  return st;
}

ember_status ember_cpu_flip(ember_call *c) { return ember_shape_flip(c, move_into); }

/* Copy src into dst rolled by shift[j] along dim[j] for j >= from: each rolled dim
** cuts both into two blocks, so n dims take 2^n block copies, each a plain copy_. */
static ember_status roll_blocks(ember_tensor *dst, ember_tensor *src, int n, const int *dim,
                                const int64_t *shift, int from) {
  while (from < n && shift[from] == 0) from++;
  if (from == n) return move_into(dst, src);
  int d = dim[from];
  int64_t len = src->shape[d], s = shift[from];
  /* src[0, len-s) goes to dst[s, len); src[len-s, len) goes to dst[0, s) */
  int64_t src_at[2] = { 0, len - s }, dst_at[2] = { s, 0 }, size[2] = { len - s, s };
  for (int b = 0; b < 2; b++) {
    ember_tensor *sv = ember_narrow(src, d, src_at[b], size[b]);
    ember_tensor *dv = ember_narrow(dst, d, dst_at[b], size[b]);
    ember_status st = sv && dv ? roll_blocks(dv, sv, n, dim, shift, from + 1) : EMBER_ERROR;
    ember_tensor_release(sv);
    ember_tensor_release(dv);
    if (st != EMBER_OK) return st;
  }
  return EMBER_OK;
}

/* shift modulo len, in [0, len) */
static int64_t wrap_shift(int64_t s, int64_t len) {
  if (len == 0) return 0;
  s %= len;
  return s < 0 ? s + len : s;
}

int ember_roll_shifts(const ember_call *c, int64_t *shift) {
  const ember_tensor *t = c->in[0];
  if (!c->attr[1].present) {
    shift[0] = wrap_shift(c->attr[0].v[0], ember_tensor_numel(t));
    return 0;
  }
  int64_t per_dim[EMBER_MAX_DIMS] = {0};
  for (int k = 0; k < c->attr[1].n; k++) per_dim[c->attr[1].v[k]] += c->attr[0].v[k];
  for (int d = 0; d < t->ndim; d++) shift[d] = wrap_shift(per_dim[d], t->shape[d]);
  return 1;
}

ember_status ember_cpu_roll(ember_call *c) {
  ember_tensor *t = c->in[0], *out = c->out[0];
  if (ember_tensor_numel(t) == 0) return EMBER_OK;
  int64_t s[EMBER_MAX_DIMS];
  if (!ember_roll_shifts(c, s)) {        /* no dims: roll the flattened tensor */
    int64_t all = -1;
    ember_tensor *flat = ember_reshape(t, 1, &all);
    ember_tensor *oflat = ember_view(out, 1, &all);
    int dim0 = 0;
    ember_status st = flat && oflat ? roll_blocks(oflat, flat, 1, &dim0, s, 0) : EMBER_ERROR;
    ember_tensor_release(flat);
    ember_tensor_release(oflat);
    return st;
  }
  int dim[EMBER_MAX_DIMS], n = 0;        /* the dims that move */
  int64_t shift[EMBER_MAX_DIMS];
  for (int d = 0; d < t->ndim; d++) {
    if (s[d] == 0) continue;
    dim[n] = d;
    shift[n++] = s[d];
  }
  return roll_blocks(out, t, n, dim, shift, 0);
}

ember_tensor *ember_repeat_source(ember_tensor *t, int nd) {
  int lead = nd - t->ndim;
  int64_t shape[EMBER_MAX_DIMS], stride[EMBER_MAX_DIMS];
  for (int d = 0; d < nd; d++) {
    shape[d] = d < lead ? 1 : t->shape[d - lead];
    stride[d] = d < lead ? 0 : t->stride[d - lead];
  }
  return ember_tensor_view_of(t, nd, shape, stride, t->offset);
}

/* repeat: t copied into the first block of out, then each dim's filled extent doubled
** by copying out into itself (log2(r) copies per dim, never overlapping). */
ember_status ember_cpu_repeat(ember_call *c) {
  ember_tensor *out = c->out[0];
  int nd = out->ndim;
  if (ember_tensor_numel(out) == 0) return EMBER_OK;
  ember_tensor *src = ember_repeat_source(c->in[0], nd);
  if (src == NULL) return EMBER_ERROR;
  int64_t src_shape[EMBER_MAX_DIMS];
  memcpy(src_shape, src->shape, (size_t)nd * sizeof *src_shape);
  ember_tensor *filled = ember_tensor_view_of(out, nd, src_shape, out->stride, out->offset);
  ember_status st = filled ? move_into(filled, src) : EMBER_ERROR;
  ember_tensor_release(src);
  for (int d = nd - 1; d >= 0 && st == EMBER_OK; d--) {
    int64_t s = src_shape[d], r = out->shape[d] / s;
    for (int64_t m = 1; m < r && st == EMBER_OK;) {
      int64_t n = m < r - m ? m : r - m;
      ember_tensor *from = ember_narrow(filled, d, 0, n * s);
      int64_t shape[EMBER_MAX_DIMS];
      memcpy(shape, filled->shape, sizeof shape);
      shape[d] = n * s;
      ember_tensor *to = ember_tensor_view_of(out, nd, shape, out->stride,
                                              out->offset + m * s * out->stride[d]);
      st = from && to ? move_into(to, from) : EMBER_ERROR;
      ember_tensor_release(from);
      ember_tensor_release(to);
      m += n;
      filled->shape[d] = m * s;
    }
  }
  ember_tensor_release(filled);
  return st;
}

/* }====== */

/* {====== tril, triu */

/* Row i keeps columns [lo(i), hi(i)); the rest of the row is zero. */
static ember_status triangle(ember_call *c, int lower) {
  ember_tensor *t = c->in[0], *out = c->out[0];
  int nd = t->ndim;
  int64_t rows = t->shape[nd - 2], cols = t->shape[nd - 1], diag = c->attr[0].i;
  size_t es = ember_dtype_size(t->dtype);
  int same = ember_tensor_data(out) == ember_tensor_data(t) &&
             memcmp(out->stride, t->stride, nd * sizeof t->stride[0]) == 0;
  const int64_t *strides[2] = { out->stride, t->stride };
  ember_walk w;
  ember_walk_init(&w, nd - 2, t->shape, 2, strides);   /* the batch dims */
  int64_t nmat = w.rows * w.inner;
  if (rows == 0 || cols == 0) return EMBER_OK;
  char *ob = ember_tensor_data(out);
  const char *ib = ember_tensor_data(t);
  int64_t ors = out->stride[nd - 2] * (int64_t)es, ocs = out->stride[nd - 1] * (int64_t)es;
  int64_t irs = t->stride[nd - 2] * (int64_t)es, ics = t->stride[nd - 1] * (int64_t)es;
  for (int64_t m = 0; m < nmat; m++) {
    /* matrix m: the walk's rows cover dims [0, nd-3), its inner loop dim nd-3 */
    int64_t j = m % w.inner;
    char *o = ob + (w.off[0] + j * w.istride[0]) * (int64_t)es;
    const char *s = ib + (w.off[1] + j * w.istride[1]) * (int64_t)es;
    for (int64_t i = 0; i < rows; i++) {
      int64_t lo = lower ? 0 : i + diag, hi = lower ? i + diag + 1 : cols;
      lo = lo < 0 ? 0 : lo > cols ? cols : lo;
      hi = hi < lo ? lo : hi > cols ? cols : hi;
      char *orow = o + i * ors;
      ember_zero_run(orow, ocs, lo, es);
      if (!same) ember_move_run(orow + lo * ocs, ocs, s + i * irs + lo * ics, ics, hi - lo, es);
      ember_zero_run(orow + hi * ocs, ocs, cols - hi, es);
    }
    if (j == w.inner - 1) ember_walk_next(&w);
  }
  return EMBER_OK;
}

ember_status ember_cpu_tril(ember_call *c) { return triangle(c, 1); }
ember_status ember_cpu_triu(ember_call *c) { return triangle(c, 0); }

/* }====== */
