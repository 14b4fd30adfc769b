/*
** vk_sort.c — sort and topk on Vulkan, and the sort of (key, position) pairs that
** scatter_add uses (vk_sort_pairs).
**
** As on the cpu (host/cpu/index.c), every value becomes a 64-bit key whose order is the
** value order (NaN largest, -0 equal to +0), descending and largest flip the keys, and
** pairs sort by (key, position): stable, ties in index order, and topk's k are the
** first k of that order. Lines of up to CAP values sort in one dispatch, a bitonic
** sort in shared memory (several short lines per workgroup); longer lines sort in
** chunks of CAP that merge passes then join (sort_merge.comp), the last pass writing
** the outputs. Every pass is deterministic.
*/
#include <string.h>

#include "vk.h"
#include "vk_kernels.h"

#define WG 256

typedef struct block_push {
  int32_t ndim;
  uint32_t n, k, rows, seg, nchunks;
  int32_t in_off, sd, inner, base;
  uint32_t flip_lo, flip_hi;
  int32_t oshape[7], ostr[7];
} block_push;

typedef struct merge_push {
  int32_t ndim;
  uint32_t n, k, rows, w;
  int32_t in_off, sd, inner, base, pad;
  int32_t oshape[7], ostr[7];
} merge_push;

/* Pairs a workgroup sorts in shared memory (12 bytes each): 2048 where the device has
** the 24 KiB, else 1024 (every device has 16 KiB). */
static uint32_t cap(void) {
  return vk.props.limits.maxComputeSharedMemorySize >= 2048 * 12 ? 2048 : 1024;
}

static uint32_t pow2_at_least(int64_t n) {
  uint32_t p = 1;
  while ((int64_t)p < n) p <<= 1;
  return p;
}

/* what the lines are: their source (NULL for pairs) and where the results go */
typedef struct lines {
  const ember_tensor *src, *vals, *idx;   /* src NULL: K, P hold the pairs */
  block_push b;                           /* the layout, shared with the merges */
  ember_dtype dt;
} lines;

static ember_status block_pass(lines *L, const ember_tensor *K, const ember_tensor *P, int dst_kp) {
  uint32_t c = cap();
  vk_launch_args a = { .nbind = 5, .bind = { L->src, K, P, L->vals, L->idx },
                       .write = { 0, dst_kp, dst_kp, !dst_kp, !dst_kp },
                       .push = &L->b, .push_bytes = sizeof L->b };
  a.spec[0] = WG;
  a.spec[1] = a.spec[2] = 1;
  a.spec[3] = c;
  a.spec[4] = (uint32_t)vk_dtype_code(L->dt);
  a.spec[5] = L->src == NULL;
  a.spec[6] = (uint32_t)dst_kp;
  a.spec[7] = (uint32_t)ember_dtype_size(L->dt);
  int64_t groups = L->b.nchunks > 1 ? (int64_t)L->b.rows * L->b.nchunks
                                    : ((int64_t)L->b.rows + c / L->b.seg - 1) / (c / L->b.seg);
  vk_groups_1d(groups * WG, WG, a.groups);
  ember_dtype raw = vk_raw_dtype(L->dt);      /* keys come from bits: f64 needs no f64 variant */
  return vk_ix_launch(&a, "sort_block", 1, &raw);
}

static ember_status merge_pass(lines *L, const ember_tensor *K1, const ember_tensor *P1,
                               const ember_tensor *K2, const ember_tensor *P2, uint32_t w,
                               int emit) {
  merge_push m = { .ndim = L->b.ndim, .n = L->b.n, .k = L->b.k, .rows = L->b.rows, .w = w,
                   .in_off = L->b.in_off, .sd = L->b.sd, .inner = L->b.inner, .base = L->b.base };
  memcpy(m.oshape, L->b.oshape, sizeof m.oshape);
  memcpy(m.ostr, L->b.ostr, sizeof m.ostr);
  vk_launch_args a = { .nbind = 7, .bind = { L->src, K1, P1, K2, P2, L->vals, L->idx },
                       .write = { 0, 0, 0, !emit, !emit, emit, emit },
                       .push = &m, .push_bytes = sizeof m };
  a.spec[3] = (uint32_t)emit;
  a.spec[4] = (uint32_t)ember_dtype_size(L->dt);
  a.spec[5] = (uint32_t)vk_dtype_code(L->dt);
  vk_groups_1d((int64_t)L->b.rows * L->b.n, WG, a.groups);
  ember_dtype raw = vk_raw_dtype(L->dt);
  return vk_ix_launch(&a, "sort_merge", 1, &raw);
}

/* Sort every line: in one block pass when lines fit CAP (emitting unless pairs), else
** chunks then merges. *K, *P: the pairs' buffers (made here for value lines). */
static ember_status sort_lines(lines *L, ember_tensor **K, ember_tensor **P) {
  uint32_t c = cap();
  int64_t n = L->b.n, total = (int64_t)L->b.rows * n;
  int pairs = L->src == NULL;
  if (n <= c) {
    L->b.seg = pow2_at_least(n);
    L->b.nchunks = 1;
    return block_pass(L, pairs ? *K : NULL, pairs ? *P : NULL, pairs);
  }
  L->b.seg = c;
  L->b.nchunks = (uint32_t)((n + c - 1) / c);
  if (!pairs) {
    *K = ember_tensor_empty_on(EMBER_VULKAN, EMBER_I64, 1, &total);
    *P = ember_tensor_empty_on(EMBER_VULKAN, EMBER_I32, 1, &total);
  }
  ember_tensor *K2 = ember_tensor_empty_on(EMBER_VULKAN, EMBER_I64, 1, &total);
  ember_tensor *P2 = ember_tensor_empty_on(EMBER_VULKAN, EMBER_I32, 1, &total);
  ember_status st = *K && *P && K2 && P2 ? block_pass(L, *K, *P, 1) : EMBER_ERROR;
  for (int64_t w = c; w < n && st == EMBER_OK; w *= 2) {
    int emit = !pairs && 2 * w >= n;
    st = merge_pass(L, *K, *P, K2, P2, (uint32_t)w, emit);
    if (!emit) {        /* the merged pairs are in K2, P2 now */
      ember_tensor *x = *K; *K = K2; K2 = x;
      x = *P; *P = P2; P2 = x;
    }
  }
  ember_tensor_release(K2);
  ember_tensor_release(P2);
  return st;
}

ember_status vk_sort_pairs(ember_tensor **K, ember_tensor **P, int64_t rows, int64_t n) {
  if (rows * n == 0) return EMBER_OK;
  if (rows * n > INT32_MAX)
    return ember_error("vulkan: sorting %lld pairs is beyond 32-bit indexing",
                       (long long)(rows * n));
  lines L = { .dt = EMBER_I64 };
  L.b.n = (uint32_t)n;
  L.b.k = (uint32_t)n;
  L.b.rows = (uint32_t)rows;
  L.b.inner = 1;
  return sort_lines(&L, K, P);
}


/* Lines of in[0] along dim d: out[0] gets the k first values, out[1] their positions. */
static ember_status run_lines(ember_call *c, int d, int64_t k, int flip) {
  ember_tensor t = ember_as_vector(c->in[0]), v = ember_as_vector(c->out[0]), ix = ember_as_vector(c->out[1]);
  int64_t n = t.shape[d], rows = 1, inner = 1;
  const ember_tensor *ts[3] = { &t, &v, &ix };
  if (vk_ix_fit32(c, 3, ts) != EMBER_OK) return EMBER_ERROR;
  lines L = { .src = &t, .vals = &v, .idx = &ix, .dt = t.dtype };
  int m = 0;
  for (int q = 0; q < t.ndim; q++) {
    if (q == d) continue;
    L.b.oshape[m] = (int32_t)t.shape[q];
    L.b.ostr[m] = (int32_t)t.stride[q];
    rows *= t.shape[q];
    if (q > d) inner *= t.shape[q];
    m++;
  }
  if (k == 0 || rows == 0) return EMBER_OK;
  if (rows * n > INT32_MAX)
    return ember_op_error(c, "%lld elements is beyond 32-bit indexing on vulkan",
                          (long long)(rows * n));
  if (v.offset != 0 || ix.offset != 0 || !ember_tensor_is_contiguous(&v) ||
      !ember_tensor_is_contiguous(&ix))
    return ember_op_error(c, "vulkan kernel expects fresh contiguous outputs");
  L.b.ndim = m;
  L.b.n = (uint32_t)n;
  L.b.k = (uint32_t)k;
  L.b.rows = (uint32_t)rows;
  L.b.in_off = (int32_t)t.offset;
  L.b.sd = (int32_t)t.stride[d];
  L.b.inner = (int32_t)inner;
  L.b.base = c->index_base;
  L.b.flip_lo = L.b.flip_hi = flip ? 0xffffffffu : 0;
  ember_tensor *K = NULL, *P = NULL;
  ember_status st = sort_lines(&L, &K, &P);
  ember_tensor_release(K);
  ember_tensor_release(P);
  return st;
}

ember_status vk_topk(ember_call *c) {
  return run_lines(c, (int)c->attr[1].i, c->attr[0].i, (int)c->attr[2].i);
}

ember_status vk_sort(ember_call *c) {
  int d = (int)c->attr[0].i;
  ember_tensor t = ember_as_vector(c->in[0]);
  return run_lines(c, d, t.shape[d], (int)c->attr[1].i);
}
