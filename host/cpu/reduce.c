/*
** reduce.c — the reduction driver every reduce-family kernel runs on.
**
** The reduced dims are moved to the end, as a permuted view: each output element then
** owns one "run", the elements of its reduced dims in row-major order. Dims that lie
** one after another in memory are folded together, so a run is a few strided rows;
** when its rows are too short to fold efficiently the permuted view is copied to a
** contiguous buffer (the only full copy the driver makes). A reducer that does not report
** positions may have its reduced dims reordered by stride first, so that e.g. the
** full sum of a transposed matrix is one contiguous run, with no copy.
**
** Threads: with many outputs, blocks of outputs go to OpenMP threads; with few outputs
** and long runs (a full reduction), each run is cut into one chunk per thread and the
** chunks' accumulators are merged in order, so results do not depend on the thread
** count more than float rounding does. When runs are strided (reducing a leading
** dim), a block of outputs is copied CHUNK rows at a time into a small tile and each
** output folds its column of the tile: the input is read row by row, not column by
** column.
*/
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "reduce.h"

/* {====== dims */

ember_status ember_reduce_mask(const ember_call *c, int k, int ndim, uint32_t *mask) {
  const ember_attr *a = &c->attr[k];
  int single = c->op->attrs[k].kind == EMBER_ATTR_DIM;
  int n = single ? a->present : a->n;
  *mask = 0;
  if (!a->present || n == 0) {
    *mask = ndim ? (1u << ndim) - 1 : 0;
    return EMBER_OK;
  }
  for (int i = 0; i < n; i++) {
    int64_t v = single ? a->i : a->v[i];
    int lim = ndim ? ndim : 1;
    int d = v >= -lim && v < lim ? ember_norm_dim((int)v, ndim) : -1;
    long long shown = v >= 0 ? v + c->index_base : v;   /* as the caller wrote it */
    if (d < 0) {
      char s[128];
      return ember_op_error(c, "dim %lld is out of range for a tensor of shape %s (%d dims)",
                            shown, ember_shape_text(c->in[0]->ndim, c->in[0]->shape, s, sizeof s),
                            ndim);
    }
    if (ndim == 0) continue;
    if (*mask & (1u << d))
      return ember_op_error(c, "dim %lld appears more than once in the list of dims", shown);
    *mask |= 1u << d;
  }
  return EMBER_OK;
}

int ember_reduce_shape(int ndim, const int64_t *shape, uint32_t mask, int keepdim,
                       int64_t *out) {
  int n = 0;
  for (int d = 0; d < ndim; d++) {
    if (!(mask & (1u << d))) out[n++] = shape[d];
    else if (keepdim) out[n++] = 1;
  }
  return n;
}

/* }====== */

/* {====== the plan: where each output's run lies */

#define BLOCK 256         /* outputs folded together */
#define CHUNK 32          /* run positions copied at a time when runs are strided */
#define SHORT_ROW 16      /* rows shorter than this are copied into one contiguous run */
#define MAX_THREADS 256

/* Dims idx[0..n) of x, strides in units, dropping size-1 dims and folding a dim into
** the previous one when they are laid out one after the other. */
static int fold_dims(const ember_tensor *x, int64_t unit, int n, const int *idx, int64_t *shape,
                     int64_t *stride) {
  int m = 0;
  for (int i = 0; i < n; i++) {
    int64_t sz = x->shape[idx[i]], st = x->stride[idx[i]] * unit;
    if (sz == 1) continue;
    if (m > 0 && stride[m - 1] == st * sz) {
      shape[m - 1] *= sz;
      stride[m - 1] = st;
      continue;
    }
    shape[m] = sz;
    stride[m] = st;
    m++;
  }
  return m;
}

static int64_t absv(int64_t v) { return v < 0 ? -v : v; }

/* The kept dims in order, then the reduced ones (by decreasing stride unless positional);
** returns the number of kept dims. */
static int permutation(const ember_tensor *x, uint32_t mask, int positional, int *perm) {
  int nk = 0, n = 0;
  for (int d = 0; d < x->ndim; d++)
    if (!(mask & (1u << d))) perm[nk++] = d;
  n = nk;
  for (int d = 0; d < x->ndim; d++) {
    if (!(mask & (1u << d))) continue;
    int j = n++;
    if (!positional)
      for (; j > nk && absv(x->stride[perm[j - 1]]) < absv(x->stride[d]); j--) perm[j] = perm[j - 1];
    perm[j] = d;
  }
  return nk;
}

void ember_reduce_plan(ember_rplan *pl, const ember_tensor *x, uint32_t mask, int positional,
                       int64_t unit) {
  int nk = permutation(x, mask, positional, pl->perm);
  const int *perm = pl->perm;
  pl->unit = unit;
  pl->nk = fold_dims(x, unit, nk, perm, pl->kshape, pl->kstride);
  pl->nr = fold_dims(x, unit, x->ndim - nk, perm + nk, pl->rshape, pl->rstride);
  if (pl->nr == 0) {                     /* nothing reduced, or only size-1 dims */
    pl->nr = 1;
    pl->rshape[0] = 1;
    pl->rstride[0] = unit;
  }
  pl->nout = 1;
  pl->len = 1;
  for (int d = 0; d < nk; d++) pl->nout *= x->shape[perm[d]];
  for (int d = nk; d < x->ndim; d++) pl->len *= x->shape[perm[d]];
}

void ember_reduce_plan_packed(ember_rplan *pl) {
  pl->nk = pl->nout > 1;
  pl->kshape[0] = pl->nout;
  pl->kstride[0] = pl->len * pl->unit;
  pl->nr = 1;
  pl->rshape[0] = pl->len;
  pl->rstride[0] = pl->unit;
}

static int64_t kept_offset(const ember_rplan *pl, int64_t o) {
  int64_t off = 0;
  for (int d = pl->nk - 1; d >= 0; d--) {
    off += (o % pl->kshape[d]) * pl->kstride[d];
    o /= pl->kshape[d];
  }
  return off;
}

/* Fold run positions [p0, p1) of the run starting at b, one row piece at a time. */
static void fold_range(const ember_rplan *pl, ember_rfold_fn fold, ember_racc *a,
                       const ember_racc *first, const char *b, int64_t p0, int64_t p1,
                       const ember_rctx *cx) {
  int last = pl->nr - 1;
  int64_t row_len = pl->rshape[last], st = pl->rstride[last];
  if (last == 0) {
    if (p1 > p0) fold(a, first, b + p0 * st, p1 - p0, st, p0, cx);
    return;
  }
  while (p0 < p1) {
    int64_t row = p0 / row_len, col = p0 % row_len;
    int64_t m = row_len - col < p1 - p0 ? row_len - col : p1 - p0;
    int64_t off = 0;
    for (int d = last - 1; d >= 0; d--) {
      off += (row % pl->rshape[d]) * pl->rstride[d];
      row /= pl->rshape[d];
    }
    fold(a, first, b + off + col * st, m, st, p0, cx);
    p0 += m;
  }
}

/* }====== */

/* {====== running the plan */

static int max_threads(void) {
  int t = ember_parallel_threads();
  return t < MAX_THREADS ? t : MAX_THREADS;
}

static int64_t run_offset(const ember_rplan *pl, int64_t p) {
  int64_t off = 0;
  for (int d = pl->nr - 1; d >= 0; d--) {
    off += (p % pl->rshape[d]) * pl->rstride[d];
    p /= pl->rshape[d];
  }
  return off;
}

#define TILE_BYTES (CHUNK * (BLOCK * 8 + 128))

/* Copy the elements at run offsets off[0..n) of the m outputs at b[] into the tile, one
** row of `pitch` bytes per position: a plain row copy when the outputs lie side by
** side in memory (the usual case: reducing a leading dim), else element by element. */
static void fill_tile(char *tile, int64_t pitch, const char *const *b, int m, const int64_t *off,
                      int64_t n, int64_t es) {
  int side_by_side = b[m - 1] - b[0] == (m - 1) * es;
  for (int j = 1; j < m - 1 && side_by_side; j++) side_by_side = b[j] - b[0] == j * es;
  for (int64_t k = 0; k < n; k++) {
    char *row = tile + k * pitch;
    if (side_by_side) {
      memcpy(row, b[0] + off[k], (size_t)(m * es));
      continue;
    }
    for (int j = 0; j < m; j++) memcpy(row + j * es, b[j] + off[k], (size_t)es);
  }
}

/* Outputs [o0, o0+m), pass by pass. Contiguous runs are folded whole. Strided runs go
** CHUNK positions at a time: those rows of the block are copied into a tile (scratch
** of TILE_BYTES) and each output folds its column of the tile. Folding each output
** down its column of the input instead would read every cache line and page once
** per output, and large power-of-two strides evict them in between. */
static void reduce_block(const ember_reducer *r, const ember_rplan *pl, const char *base,
                         int64_t o0, int m, const ember_rctx *cx, char *const *out, char *tile) {
  const char *b[BLOCK];
  ember_racc acc[2][BLOCK];
  for (int j = 0; j < m; j++) b[j] = base + kept_offset(pl, o0 + j);
  int strided = pl->rstride[pl->nr - 1] != pl->unit && m > 1 && tile;
  /* a pitch off multiples of 4 KiB, so a column of the tile spans many cache sets */
  int64_t pitch = (m * pl->unit + 63) / 64 * 64 + 64;
  for (int ps = 0; ps < r->npass; ps++) {
    const ember_racc *first = ps ? acc[0] : NULL;
    for (int j = 0; j < m; j++) acc[ps][j] = r->init[ps];
    if (!strided) {
      for (int j = 0; j < m; j++)
        fold_range(pl, r->fold[ps], &acc[ps][j], first ? first + j : NULL, b[j], 0, pl->len, cx);
      continue;
    }
    int64_t off[CHUNK];
    for (int64_t p0 = 0; p0 < pl->len; p0 += CHUNK) {
      int64_t n = pl->len - p0 < CHUNK ? pl->len - p0 : CHUNK;
      for (int64_t k = 0; k < n; k++) off[k] = run_offset(pl, p0 + k);
      fill_tile(tile, pitch, b, m, off, n, pl->unit);
      for (int j = 0; j < m; j++)
        r->fold[ps](&acc[ps][j], first ? first + j : NULL, tile + j * pl->unit, n, pitch, p0, cx);
    }
  }
  for (int j = 0; j < m; j++) r->finish(&acc[r->npass - 1][j], &acc[0][j], cx, out, o0 + j);
}

/* Block k of bs outputs (the last may be short). */
static void run_block(const ember_reducer *r, const ember_rplan *pl, const char *base, int64_t k,
                      int64_t bs, const ember_rctx *cx, char *const *out, char *tile) {
  int64_t o0 = k * bs;
  reduce_block(r, pl, base, o0, (int)(pl->nout - o0 < bs ? pl->nout - o0 : bs), cx, out, tile);
}

/* Chunk edges at multiples of 64 elements, so threads start on aligned data. */
static int64_t chunk_edge(int64_t len, int t, int nt) {
  if (t >= nt) return len;
  return (len / nt * t) & ~(int64_t)63;
}

/* One output whose run is long: each pass cuts the run into SPLIT chunks per thread,
** handed out dynamically (a thread the OS delays does not hold up the rest), and
** merges the chunks' accumulators in chunk order, so the result does not depend on
** which thread folded which chunk. */
#define SPLIT 8

static void reduce_split(const ember_reducer *r, const ember_rplan *pl, const char *base,
                         int64_t o, int nt, const ember_rctx *cx, char *const *out) {
  ember_racc part[MAX_THREADS], acc[2];
  int nc = nt * SPLIT < MAX_THREADS ? nt * SPLIT : MAX_THREADS;
  const char *b = base + kept_offset(pl, o);
  for (int ps = 0; ps < r->npass; ps++) {
    const ember_racc *first = ps ? &acc[0] : NULL;
    #pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int k = 0; k < nc; k++) {
      part[k] = r->init[ps];
      fold_range(pl, r->fold[ps], &part[k], first, b, chunk_edge(pl->len, k, nc),
                 chunk_edge(pl->len, k + 1, nc), cx);
    }
    acc[ps] = part[0];
    for (int k = 1; k < nc; k++) r->merge[ps](&acc[ps], &part[k]);
  }
  r->finish(&acc[r->npass - 1], &acc[0], cx, out, o);
}

ember_status ember_reduce_run(const ember_reducer *r, const ember_tensor *x, uint32_t mask,
                              ember_rctx *cx, char *const *out) {
  ember_rplan pl;
  ember_reduce_plan(&pl, x, mask, r->positional, (int64_t)ember_dtype_size(x->dtype));
  const char *base = ember_tensor_data(x);
  ember_tensor *copy = NULL;
  if (pl.nr > 1 && pl.rshape[pl.nr - 1] < SHORT_ROW && pl.nout * pl.len > 0) {
    /* short rows: one contiguous copy of the permuted view beats a call per row */
    ember_tensor *view = ember_permute((ember_tensor *)x, x->ndim, pl.perm);
    copy = view ? ember_contiguous(view) : NULL;
    ember_tensor_release(view);
    if (copy == NULL) return EMBER_ERROR;
    base = ember_tensor_data(copy);
    ember_reduce_plan_packed(&pl);
  }
  cx->len = pl.len;
  int nt = max_threads();
  int64_t work = pl.nout * (pl.len ? pl.len : 1);
  if (pl.nout < 2 * nt && nt > 1 && pl.len >= EMBER_PARALLEL_GRAIN) {
    for (int64_t o = 0; o < pl.nout; o++) reduce_split(r, &pl, base, o, nt, cx, out);
  } else if (pl.nout > 0) {
    /* blocks small enough that every thread gets several */
    int64_t bs = pl.nout / (4 * (int64_t)nt);
    bs = bs < 1 ? 1 : bs > BLOCK ? BLOCK : bs;
    int64_t nblk = (pl.nout + bs - 1) / bs;
    int need_tile = pl.rstride[pl.nr - 1] != pl.unit && bs > 1;
    if (nblk > 1 && ember_parallel_worth(work)) {
      /* a tile per thread, taken here: scratch is never taken inside a parallel region */
      char *tiles = need_tile ? ember_scratch_alloc((size_t)nt * TILE_BYTES) : NULL;
      #pragma omp parallel num_threads(nt)
      {
#ifdef _OPENMP
        int id = omp_get_thread_num();
#else
        int id = 0;
#endif
        /* NULL: fold in place, slower */
        char *tile = tiles ? tiles + (size_t)id * TILE_BYTES : NULL;
        #pragma omp for schedule(static)
        for (int64_t k = 0; k < nblk; k++) run_block(r, &pl, base, k, bs, cx, out, tile);
      }
      ember_scratch_free(tiles);
    } else {
      char *tile = need_tile ? ember_scratch_alloc(TILE_BYTES) : NULL;
      for (int64_t k = 0; k < nblk; k++) run_block(r, &pl, base, k, bs, cx, out, tile);
      ember_scratch_free(tile);
    }
  }
  ember_tensor_release(copy);
  return EMBER_OK;
}

/* }====== */
