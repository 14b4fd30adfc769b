/*
** index.c — CPU kernels of the index ops: index_select, gather, scatter, scatter_add,
** masked_fill, masked_select, nonzero, topk, sort.
**
** Invariants: infer (host/ops/ops_index.c) has checked shapes and dtypes and written
** the dim attribute back normalised; it cannot see index VALUES, so kernels check
** them and name the value as the caller wrote it (index_base added back). Index
** tensors may have any integer dtype and any strides. Kernels that read index values
** subtract c->index_base; those that write them (nonzero, topk, sort) add it.
** Except scatter_add (which adds, in the compute dtype f32/f64/i64), every kernel
** moves elements as bytes, so it serves every dtype. A 0-dim tensor is read as a
** 1-element vector through a header copy (ember_as_vector) that is never released.
*/
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "index.h"
#include "shape.h"

/* {====== helpers */


static inline int64_t read_index(ember_dtype dt, const char *p) {
  return dt == EMBER_I64 ? *(const int64_t *)p : ember_load_i64(dt, p);
}

/* The first bad index value a kernel met (threads may race to it: any one will do). */
typedef struct bad_index { int any; int64_t value; } bad_index;

static void note_bad(bad_index *b, int64_t raw) {
#pragma omp critical(ember_index_bad)
  if (!b->any) {
    b->any = 1;
    b->value = raw;
  }
}

static ember_status bad_error(ember_call *c, const bad_index *b, int d, int64_t size) {
  return ember_op_error(c, "index %lld is out of range for dim %d of size %lld%s",
                        (long long)b->value, d + (c->index_base ? 1 : 0), (long long)size,
                        c->index_base ? " (indices count from 1)" : "");
}

/* A block of `bytes` bytes; the common element sizes become single moves. */
static inline void copy_block(char *dst, const char *src, size_t bytes) {
  switch (bytes) {
  case 1: memcpy(dst, src, 1); break;
  case 2: memcpy(dst, src, 2); break;
  case 4: memcpy(dst, src, 4); break;
  case 8: memcpy(dst, src, 8); break;
  default: memcpy(dst, src, bytes); break;
  }
}

static int64_t prod(const int64_t *shape, int from, int to) {
  int64_t n = 1;
  for (int i = from; i < to; i++) n *= shape[i];
  return n;
}

/* }====== */

/* {====== index_select */

typedef struct select_ctx {
  char *dst;
  const char *src;
  const int64_t *idx;
  int64_t m, size;
  size_t block;
} select_ctx;

/* Outer slices [lo, hi): the m picked blocks of each. */
static void select_slices(void *ctx, int64_t lo, int64_t hi) {
  const select_ctx *s = ctx;
  size_t block = s->block;
  for (int64_t o = lo; o < hi; o++) {
    char *to = s->dst + o * s->m * block;
    const char *from = s->src + o * s->size * block;
    for (int64_t j = 0; j < s->m; j++) copy_block(to + j * block, from + s->idx[j] * block, block);
  }
}

/* Picked blocks [lo, hi) of the only outer slice. */
static void select_blocks(void *ctx, int64_t lo, int64_t hi) {
  const select_ctx *s = ctx;
  for (int64_t j = lo; j < hi; j++)
    copy_block(s->dst + j * s->block, s->src + s->idx[j] * s->block, s->block);
}

ember_status ember_cpu_index_select(ember_call *c) {
  ember_tensor t = ember_as_vector(c->in[0]), ix = ember_as_vector(c->in[1]);
  int d = (int)c->attr[0].i;
  int64_t m = ix.shape[0], size = t.shape[d];
  int64_t *idx = ember_scratch_alloc((size_t)m * sizeof *idx);
  if (idx == NULL) return ember_op_error(c, "out of memory");
  const char *ib = ember_tensor_data(&ix);
  int64_t ies = (int64_t)ember_dtype_size(ix.dtype);
  for (int64_t j = 0; j < m; j++) {
    int64_t raw = read_index(ix.dtype, ib + j * ix.stride[0] * ies);
    if (raw < c->index_base || raw - c->index_base >= size) {   /* no overflow at INT64_MIN */
      bad_index b = { 1, raw };
      ember_scratch_free(idx);
      return bad_error(c, &b, d, size);
    }
    idx[j] = raw - c->index_base;
  }
  ember_tensor *tc = ember_contiguous(c->in[0]);   /* blocks below are contiguous runs */
  if (tc == NULL) {
    ember_scratch_free(idx);
    return EMBER_ERROR;
  }
  select_ctx s = { ember_tensor_data(c->out[0]), ember_tensor_data(tc), idx, m, size,
                   (size_t)prod(t.shape, d + 1, t.ndim) * ember_dtype_size(t.dtype) };
  int64_t outer = prod(t.shape, 0, d);
  int64_t work = outer * m * (int64_t)s.block / 8;   /* a copied element: 8 bytes */
  if (outer == 1) ember_parallel_for(m, work, select_blocks, &s);  /* split the indices */
  else ember_parallel_for(outer, work, select_slices, &s);
  ember_tensor_release(tc);
  ember_scratch_free(idx);
  return EMBER_OK;
}

/* }====== */

/* {====== gather, scatter, scatter_add */

/* The walk runs over the index's shape. Operand 0 is the tensor whose dim d is
** addressed by the index value (its stride along d is zeroed in the walk and applied
** as value * dstride); operand 1 the index; operand 2 the other side (out of gather,
** src of scatter). */
typedef struct move_ctx {
  char *a;                  /* operand 0: gather's source, scatter's destination */
  const char *ix;
  char *b;                  /* operand 2 (NULL for scatter of one value) */
  ember_dtype ixdt, dt;
  size_t es, ies;
  int64_t dstride, size, base;
  const char *value;        /* scatter of one value: its bytes */
  bad_index bad;
} move_ctx;

static void setup_walk(ember_walk *w, const ember_tensor *a, const ember_tensor *ix,
                       const ember_tensor *b, int d) {
  int64_t as[EMBER_MAX_DIMS], bs[EMBER_MAX_DIMS];
  for (int k = 0; k < ix->ndim; k++) {
    as[k] = k == d ? 0 : a->stride[k];
    bs[k] = b ? b->stride[k] : 0;
  }
  const int64_t *strides[3] = { as, ix->stride, bs };
  ember_walk_init(w, ix->ndim, ix->shape, 3, strides);
}

static inline void gather_row_es(const ember_walk *w, move_ctx *m, size_t es) {
  int64_t e = (int64_t)es, ie = (int64_t)m->ies;
  const char *ip = m->ix + w->off[1] * ie, *ap = m->a + w->off[0] * e;
  char *bp = m->b + w->off[2] * e;
  int64_t is = w->istride[1] * ie, as = w->istride[0] * e, bs = w->istride[2] * e;
  int64_t ds = m->dstride * e;
  for (int64_t j = 0; j < w->inner; j++) {
    int64_t raw = read_index(m->ixdt, ip + j * is);
    /* compare before subtracting: raw - base must not overflow for INT64_MIN */
    if (raw < m->base || raw - m->base >= m->size) {
      note_bad(&m->bad, raw);
      continue;
    }
    memcpy(bp + j * bs, ap + j * as + (raw - m->base) * ds, es);
  }
}

static void gather_row(const ember_walk *w, void *ctx) {
  move_ctx *m = ctx;
  switch (m->es) {
  case 1: gather_row_es(w, m, 1); break;
  case 2: gather_row_es(w, m, 2); break;
  case 4: gather_row_es(w, m, 4); break;
  default: gather_row_es(w, m, 8); break;
  }
}

static void init_ctx(move_ctx *m, const ember_call *c, const ember_tensor *a,
                     const ember_tensor *ix, int d) {
  memset(m, 0, sizeof *m);
  m->a = ember_tensor_data(a);
  m->ix = ember_tensor_data(ix);
  m->ixdt = ix->dtype;
  m->dt = a->dtype;
  m->es = ember_dtype_size(a->dtype);
  m->ies = ember_dtype_size(ix->dtype);
  m->dstride = a->stride[d];
  m->size = a->shape[d];
  m->base = c->index_base;
}

ember_status ember_cpu_gather(ember_call *c) {
  ember_tensor t = ember_as_vector(c->in[0]), ix = ember_as_vector(c->in[1]), out = ember_as_vector(c->out[0]);
  int d = (int)c->attr[0].i;
  move_ctx m;
  init_ctx(&m, c, &t, &ix, d);
  m.b = ember_tensor_data(&out);
  ember_walk w;
  setup_walk(&w, &t, &ix, &out, d);
  ember_walk_rows(&w, ember_tensor_numel(&ix) > EMBER_PARALLEL_GRAIN, gather_row, &m);
  return m.bad.any ? bad_error(c, &m.bad, d, m.size) : EMBER_OK;
}

/* Every index value checked before anything is written, so a failed scatter_ leaves
** its target as it was. */
static void check_row(const ember_walk *w, void *ctx) {
  move_ctx *m = ctx;
  int64_t ie = (int64_t)m->ies, is = w->istride[1] * ie;
  const char *ip = m->ix + w->off[1] * ie;
  for (int64_t j = 0; j < w->inner; j++) {
    int64_t raw = read_index(m->ixdt, ip + j * is);
    if (raw < m->base || raw - m->base >= m->size) note_bad(&m->bad, raw);
  }
}

/* Scatter runs in index order on one thread, so with repeated indices the last write
** wins, and scatter_add sums in a fixed order. */
static inline void scatter_row_es(const ember_walk *w, move_ctx *m, size_t es) {
  int64_t e = (int64_t)es, ie = (int64_t)m->ies;
  const char *ip = m->ix + w->off[1] * ie;
  char *ap = m->a + w->off[0] * e;
  int64_t is = w->istride[1] * ie, as = w->istride[0] * e, ds = m->dstride * e;
  /* one value: a source that does not move */
  const char *bp = m->b ? m->b + w->off[2] * e : m->value;
  int64_t bs = m->b ? w->istride[2] * e : 0;
  for (int64_t j = 0; j < w->inner; j++) {
    int64_t v = read_index(m->ixdt, ip + j * is) - m->base;
    memcpy(ap + j * as + v * ds, bp + j * bs, es);
  }
}

static void scatter_row(const ember_walk *w, void *ctx) {
  move_ctx *m = ctx;
  switch (m->es) {
  case 1: scatter_row_es(w, m, 1); break;
  case 2: scatter_row_es(w, m, 2); break;
  case 4: scatter_row_es(w, m, 4); break;
  default: scatter_row_es(w, m, 8); break;
  }
}

static void scatter_add_row(const ember_walk *w, void *ctx) {
  move_ctx *m = ctx;
  for (int64_t j = 0; j < w->inner; j++) {
    int64_t v = read_index(m->ixdt, m->ix + (w->off[1] + j * w->istride[1]) * (int64_t)m->ies) - m->base;
    char *dst = m->a + (w->off[0] + j * w->istride[0] + v * m->dstride) * (int64_t)m->es;
    const char *src = m->b + (w->off[2] + j * w->istride[2]) * (int64_t)m->es;
    switch (m->dt) {
    case EMBER_F32: *(float *)dst += *(const float *)src; break;
    case EMBER_F64: *(double *)dst += *(const double *)src; break;
    default: *(int64_t *)dst = (int64_t)((uint64_t)*(int64_t *)dst + (uint64_t)*(const int64_t *)src); break;
    }
  }
}

/* Shared by scatter and scatter_add: out = copy of in[0] (unless in place), checked
** indices, then row() over the index. */
static ember_status scatter_common(ember_call *c, ember_row_fn row) {
  ember_tensor *dst = c->out[0], *src = c->nin > 2 ? c->in[2] : NULL;
  int d = (int)c->attr[0].i;
  if (dst != c->in[0] && ember_copy_(dst, c->in[0]) != EMBER_OK) return EMBER_ERROR;
  ember_tensor o = ember_as_vector(dst), ix = ember_as_vector(c->in[1]);
  move_ctx m;
  init_ctx(&m, c, &o, &ix, d);
  char value[8];
  ember_tensor s = {0};
  int one_value = src == NULL || (src->flags & EMBER_TENSOR_WRAPPED_NUMBER);
  if (one_value) {
    if (src) ember_convert(o.dtype, value, src->dtype, ember_tensor_data(src), 1);
    else ember_scalar_bytes(o.dtype, c->attr[1].f, c->attr[1].i, value);
    m.value = value;
  } else {
    s = ember_as_vector(src);
    m.b = ember_tensor_data(&s);
  }
  ember_walk w;
  setup_walk(&w, &o, &ix, one_value ? NULL : &s, d);
  ember_walk_rows(&w, 0, check_row, &m);
  if (m.bad.any) return bad_error(c, &m.bad, d, m.size);
  ember_walk_rows(&w, 0, row, &m);
  return EMBER_OK;
}

ember_status ember_cpu_scatter(ember_call *c) { return scatter_common(c, scatter_row); }
ember_status ember_cpu_scatter_add(ember_call *c) { return scatter_common(c, scatter_add_row); }

/* }====== */

/* {====== masked_fill, masked_select, nonzero */

typedef struct fill_ctx { char value[8]; size_t es; } fill_ctx;

static inline void masked_fill_es(char **d, const int64_t *s, int64_t n, const char *value,
                                  size_t es) {
  int same = d[0] == d[1] && s[0] == s[1];     /* in place: only masked elements change */
  for (int64_t i = 0; i < n; i++) {
    char *o = d[0] + i * s[0];
    if (d[2][i * s[2]]) memcpy(o, value, es);
    else if (!same) memcpy(o, d[1] + i * s[1], es);
  }
}

static void masked_fill_loop(char **d, const int64_t *s, int64_t n, void *ctx) {
  const fill_ctx *f = ctx;
  switch (f->es) {
  case 1: masked_fill_es(d, s, n, f->value, 1); break;
  case 2: masked_fill_es(d, s, n, f->value, 2); break;
  case 4: masked_fill_es(d, s, n, f->value, 4); break;
  default: masked_fill_es(d, s, n, f->value, 8); break;
  }
}

ember_status ember_cpu_masked_fill(ember_call *c) {
  fill_ctx f;
  ember_tensor *out = c->out[0];
  f.es = ember_dtype_size(out->dtype);
  ember_scalar_bytes(out->dtype, c->attr[0].f, c->attr[0].i, f.value);
  const ember_tensor *in[2] = { c->in[0], c->in[1] };
  ember_iter_run(out, 2, in, masked_fill_loop, &f);
  return EMBER_OK;
}

/* Walk t and mask broadcast to their common shape (infer checked they broadcast). */
static ember_status broadcast_walk(ember_call *c, ember_walk *w) {
  ember_tensor *t = c->in[0], *mask = c->in[1];
  int nd;
  int64_t shape[EMBER_MAX_DIMS], ts[EMBER_MAX_DIMS], ms[EMBER_MAX_DIMS];
  if (ember_broadcast_shapes(c->op->name, t->ndim, t->shape, mask->ndim, mask->shape, &nd,
                             shape) != EMBER_OK)
    return EMBER_ERROR;
  ember_broadcast_strides(t, nd, shape, ts);
  ember_broadcast_strides(mask, nd, shape, ms);
  const int64_t *strides[2] = { ts, ms };
  ember_walk_init(w, nd, shape, 2, strides);
  return EMBER_OK;
}

ember_status ember_cpu_masked_select(ember_call *c) {
  ember_walk w;
  if (broadcast_walk(c, &w) != EMBER_OK) return EMBER_ERROR;
  const char *tb = ember_tensor_data(c->in[0]), *mb = ember_tensor_data(c->in[1]);
  int64_t n = 0;
  for (int64_t r = 0; r < w.rows; r++, ember_walk_next(&w))
    for (int64_t j = 0; j < w.inner; j++) n += mb[w.off[1] + j * w.istride[1]] != 0;
  ember_tensor *out = ember_tensor_empty(c->in[0]->dtype, 1, &n);
  if (out == NULL) return EMBER_ERROR;
  size_t es = ember_dtype_size(out->dtype);
  char *o = ember_tensor_data(out);
  ember_walk_seek(&w, 0);
  for (int64_t r = 0; r < w.rows; r++, ember_walk_next(&w))
    for (int64_t j = 0; j < w.inner; j++)
      if (mb[w.off[1] + j * w.istride[1]]) {
        copy_block(o, tb + (w.off[0] + j * w.istride[0]) * (int64_t)es, es);
        o += es;
      }
  c->out[0] = out;
  c->nout = 1;
  return EMBER_OK;
}

/* -0.0 is zero and NaN is not; integers and bool are zero when all bytes are. */
static inline int is_nonzero(ember_dtype dt, const char *p) {
  switch (dt) {
  case EMBER_F32: return *(const float *)p != 0;
  case EMBER_F64: return *(const double *)p != 0;
  case EMBER_F16: case EMBER_BF16: return (*(const uint16_t *)p & 0x7fff) != 0;
  case EMBER_BOOL: case EMBER_U8: case EMBER_I8: return *p != 0;
  case EMBER_I16: return *(const int16_t *)p != 0;
  case EMBER_I32: return *(const int32_t *)p != 0;
  default: return *(const int64_t *)p != 0;
  }
}

ember_status ember_cpu_nonzero(ember_call *c) {
  ember_tensor *t = c->in[0];
  int nd = t->ndim;
  const int64_t *strides[1] = { t->stride };
  ember_walk w;
  ember_walk_init(&w, nd, t->shape, 1, strides);
  int64_t es = (int64_t)ember_dtype_size(t->dtype), n = 0;
  const char *tb = ember_tensor_data(t);
  for (int64_t r = 0; r < w.rows; r++, ember_walk_next(&w))
    for (int64_t j = 0; j < w.inner; j++)
      n += is_nonzero(t->dtype, tb + (w.off[0] + j * w.istride[0]) * es);
  int64_t shape[2] = { n, nd };
  ember_tensor *out = ember_tensor_empty(EMBER_I64, 2, shape);
  if (out == NULL) return EMBER_ERROR;
  int64_t *o = ember_tensor_data(out);
  ember_walk_seek(&w, 0);
  for (int64_t r = 0; r < w.rows; r++, ember_walk_next(&w))
    for (int64_t j = 0; j < w.inner; j++) {
      if (!is_nonzero(t->dtype, tb + (w.off[0] + j * w.istride[0]) * es)) continue;
      for (int k = 0; k < nd - 1; k++) *o++ = w.pos[k] + c->index_base;
      if (nd > 0) *o++ = j + c->index_base;
    }
  c->out[0] = out;
  c->nout = 1;
  return EMBER_OK;
}

/* }====== */

/* {====== sort, topk */

/* Every value becomes an unsigned key whose order is the value order: floats by
** their bits (negatives flipped), -0 as +0, every NaN the largest key, as PyTorch
** sorts NaN above +inf; integers offset by 2^63. Descending order flips every key,
** so one ascending sort on (key, position) serves both orders and is stable. */
static inline uint64_t sort_key(ember_dtype dt, const char *p) {
  double x;
  switch (dt) {
  case EMBER_F32: x = *(const float *)p; break;
  case EMBER_F64: x = *(const double *)p; break;
  case EMBER_F16: case EMBER_BF16: x = ember_load_f64(dt, p); break;
  default: return (uint64_t)ember_load_i64(dt, p) ^ (UINT64_C(1) << 63);
  }
  if (x != x) return UINT64_MAX;
  if (x == 0) x = 0.0;
  uint64_t b;
  memcpy(&b, &x, sizeof b);
  return (b >> 63) ? ~b : b | (UINT64_C(1) << 63);
}

typedef struct kv { uint64_t key; int64_t pos; } kv;

static inline int kv_less(kv a, kv b) {
  return a.key < b.key || (a.key == b.key && a.pos < b.pos);
}

/* Sorts a[0, n) by (key, pos) with tmp[0, n) as scratch: insertion sort of short
** runs, then bottom-up merges. */
static void kv_sort(kv *a, kv *tmp, int64_t n) {
  enum { RUN = 16 };
  for (int64_t lo = 0; lo < n; lo += RUN) {
    int64_t hi = lo + RUN < n ? lo + RUN : n;
    for (int64_t i = lo + 1; i < hi; i++) {
      kv x = a[i];
      int64_t j = i;
      for (; j > lo && kv_less(x, a[j - 1]); j--) a[j] = a[j - 1];
      a[j] = x;
    }
  }
  kv *from = a, *to = tmp;
  for (int64_t width = RUN; width < n; width *= 2) {
    for (int64_t lo = 0; lo < n; lo += 2 * width) {
      int64_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
      int64_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) to[k++] = kv_less(from[j], from[i]) ? from[j++] : from[i++];
      while (i < mid) to[k++] = from[i++];
      while (j < hi) to[k++] = from[j++];
    }
    kv *x = from; from = to; to = x;
  }
  if (from != a) memcpy(a, from, (size_t)n * sizeof *a);
}

/* Max-heap by (key, pos): the root is the worst of the k best seen so far. */
static void heap_down(kv *h, int64_t k, int64_t i) {
  for (;;) {
    int64_t l = 2 * i + 1, r = l + 1, top = i;
    if (l < k && kv_less(h[top], h[l])) top = l;
    if (r < k && kv_less(h[top], h[r])) top = r;
    if (top == i) return;
    kv x = h[i]; h[i] = h[top]; h[top] = x;
    i = top;
  }
}

typedef struct line_ctx {
  const char *src;
  char *vals;
  int64_t *idx;
  ember_dtype dt;
  size_t es;
  int64_t sstride, vstride, istride;   /* elements, along the sorted dim */
  int64_t n, k, base;
  uint64_t flip;                       /* all ones for descending / largest */
  kv *bufs;                            /* lines longer than fit on the stack: `need`
                                          entries per thread, taken before the walk */
  int64_t need;
  int parallel;                        /* the walk runs on a team: a buffer per thread */
} line_ctx;

static int thread_id(void) {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

/* One line: the k first of its n values in (key, pos) order, values and positions. */
static void sort_line(const ember_walk *w, void *ctx) {
  line_ctx *L = ctx;
  int64_t n = L->n, k = L->k;
  if (k == 0) return;
  int heap = k * 8 <= n;
  kv small[128], *buf = L->need > 128 ? L->bufs + (L->parallel ? thread_id() : 0) * L->need : small;
  int64_t es = (int64_t)L->es;
  const char *s = L->src + w->off[0] * es;
  if (heap) {
    for (int64_t i = 0; i < k; i++) buf[i] = (kv){ sort_key(L->dt, s + i * L->sstride * es) ^ L->flip, i };
    for (int64_t i = k / 2 - 1; i >= 0; i--) heap_down(buf, k, i);
    for (int64_t i = k; i < n; i++) {
      uint64_t key = sort_key(L->dt, s + i * L->sstride * es) ^ L->flip;
      if (key < buf[0].key) {            /* positions only grow: a tie never enters */
        buf[0] = (kv){ key, i };
        heap_down(buf, k, 0);
      }
    }
    kv_sort(buf, buf + k, k);
  } else {
    for (int64_t i = 0; i < n; i++) buf[i] = (kv){ sort_key(L->dt, s + i * L->sstride * es) ^ L->flip, i };
    kv_sort(buf, buf + n, n);
  }
  char *v = L->vals + w->off[1] * es;
  int64_t *ix = L->idx + w->off[2];
  for (int64_t j = 0; j < k; j++) {
    copy_block(v + j * L->vstride * es, s + buf[j].pos * L->sstride * es, L->es);
    ix[j * L->istride] = buf[j].pos + L->base;
  }
}

/* Lines of in[0] along dim d: out[0] gets the k first values, out[1] their positions. */
static ember_status run_lines(ember_call *c, int d, int64_t k, int flip) {
  ember_tensor t = ember_as_vector(c->in[0]), v = ember_as_vector(c->out[0]), ix = ember_as_vector(c->out[1]);
  int64_t shape[EMBER_MAX_DIMS], s0[EMBER_MAX_DIMS], s1[EMBER_MAX_DIMS], s2[EMBER_MAX_DIMS];
  int m = 0;
  for (int q = 0; q < t.ndim; q++) {
    if (q == d) continue;
    shape[m] = t.shape[q]; s0[m] = t.stride[q]; s1[m] = v.stride[q]; s2[m] = ix.stride[q];
    m++;
  }
  shape[m] = 1; s0[m] = s1[m] = s2[m] = 0;    /* a last dim of 1: each walk row is a line */
  m++;
  const int64_t *strides[3] = { s0, s1, s2 };
  ember_walk w;
  ember_walk_init(&w, m, shape, 3, strides);
  line_ctx L = {
    .src = ember_tensor_data(&t), .vals = ember_tensor_data(&v), .idx = ember_tensor_data(&ix),
    .dt = t.dtype, .es = ember_dtype_size(t.dtype), .sstride = t.stride[d],
    .vstride = v.stride[d], .istride = ix.stride[d], .n = t.shape[d], .k = k,
    .base = c->index_base, .flip = flip ? UINT64_MAX : 0 };
  int parallel = ember_tensor_numel(&t) > EMBER_PARALLEL_GRAIN / 4, nt = 1;
  if (parallel && w.rows >= 2 && ember_parallel_threads() > 1) nt = ember_parallel_threads();
  else parallel = 0;   /* then the walk runs on this thread (see ember_walk_rows) */
  L.parallel = parallel;
  L.need = 2 * (k * 8 <= L.n ? k : L.n);   /* sort_line's heap or whole line */
  if (L.need > 128) {
    L.bufs = ember_scratch_alloc((size_t)(nt * L.need) * sizeof *L.bufs);
    if (L.bufs == NULL) return ember_op_error(c, "out of memory");
  }
  ember_walk_rows(&w, parallel, sort_line, &L);
  ember_scratch_free(L.bufs);
  return EMBER_OK;
}

ember_status ember_cpu_topk(ember_call *c) {
  return run_lines(c, (int)c->attr[1].i, c->attr[0].i, (int)c->attr[2].i);
}

ember_status ember_cpu_sort(ember_call *c) {
  int d = (int)c->attr[0].i;
  ember_tensor t = ember_as_vector(c->in[0]);
  return run_lines(c, d, t.shape[d], (int)c->attr[1].i);
}

/* }====== */
