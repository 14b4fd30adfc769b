/*
** iter.c — the elementwise iterator every pointwise kernel runs on.
** It turns "out[i] = f(in0[i], in1[i], ...)" over broadcast, strided operands into
** calls of one loop function over innermost runs. Dims that are laid out one after
** another in every operand are coalesced first, so a contiguous tensor of any rank is
** a single run and the loop's contiguous fast path sees all of it.
*/
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core.h"

typedef struct iter {
  int nops, ndim;                                   /* operands (out first), dims */
  int64_t shape[EMBER_MAX_DIMS];
  int64_t stride[EMBER_ITER_MAX_OPERANDS][EMBER_MAX_DIMS]; /* bytes */
  char *base[EMBER_ITER_MAX_OPERANDS];
} iter;

static void coalesce(iter *it) {
  int nd = 0;
  int64_t shape[EMBER_MAX_DIMS], stride[EMBER_ITER_MAX_OPERANDS][EMBER_MAX_DIMS];
  for (int d = 0; d < it->ndim; d++) {
    if (it->shape[d] == 1) continue;              /* size-1 dims carry nothing */
    if (nd > 0) {
      int merge = 1;                              /* can dim d fold into the previous one? */
      for (int k = 0; k < it->nops; k++)
        if (stride[k][nd - 1] != it->stride[k][d] * it->shape[d]) { merge = 0; break; }
      if (merge) {
        shape[nd - 1] *= it->shape[d];
        for (int k = 0; k < it->nops; k++) stride[k][nd - 1] = it->stride[k][d];
        continue;
      }
    }
    shape[nd] = it->shape[d];
    for (int k = 0; k < it->nops; k++) stride[k][nd] = it->stride[k][d];
    nd++;
  }
  it->ndim = nd;
  memcpy(it->shape, shape, nd * sizeof shape[0]);
  for (int k = 0; k < it->nops; k++) memcpy(it->stride[k], stride[k], nd * sizeof shape[0]);
}

/* Run `count` elements of the innermost dim starting at (row, col). */
static void run_unit(const iter *it, int64_t row, int64_t col, int64_t count,
                     ember_loop_fn loop, void *ctx) {
  char *data[EMBER_ITER_MAX_OPERANDS];
  int64_t inner[EMBER_ITER_MAX_OPERANDS];
  int last = it->ndim - 1;
  for (int k = 0; k < it->nops; k++) {
    int64_t off = 0, r = row;
    for (int d = last - 1; d >= 0; d--) {
      off += (r % it->shape[d]) * it->stride[k][d];
      r /= it->shape[d];
    }
    inner[k] = last >= 0 ? it->stride[k][last] : 0;
    data[k] = it->base[k] + off + col * inner[k];
  }
  loop(data, inner, count, ctx);
}

void ember_iter_run(ember_tensor *out, int nin, const ember_tensor *const *in,
                    ember_loop_fn loop, void *ctx) {
  int64_t numel = ember_tensor_numel(out);
  if (numel <= EMBER_PARALLEL_GRAIN && ember_tensor_is_contiguous(out)) {
    /* the common small case: every operand contiguous and of out's shape is one run */
    int simple = 1;
    for (int k = 0; k < nin && simple; k++)
      simple = ember_same_shape(in[k], out) && ember_tensor_is_contiguous(in[k]);
    if (simple) {
      char *data[EMBER_ITER_MAX_OPERANDS];
      int64_t strides[EMBER_ITER_MAX_OPERANDS];
      data[0] = ember_tensor_data(out);
      strides[0] = (int64_t)ember_dtype_traits_table[out->dtype].size;
      for (int k = 0; k < nin; k++) {
        data[k + 1] = ember_tensor_data(in[k]);
        strides[k + 1] = (int64_t)ember_dtype_traits_table[in[k]->dtype].size;
      }
      if (numel > 0) loop(data, strides, numel, ctx);
      return;
    }
  }
  iter it;
  it.nops = nin + 1;
  it.ndim = out->ndim;
  memcpy(it.shape, out->shape, out->ndim * sizeof out->shape[0]);
  for (int k = 0; k < it.nops; k++) {
    const ember_tensor *t = k == 0 ? out : in[k - 1];
    int64_t es = (int64_t)ember_dtype_size(t->dtype);
    if (k == 0) memcpy(it.stride[0], out->stride, out->ndim * sizeof out->stride[0]);
    else ember_broadcast_strides(t, out->ndim, out->shape, it.stride[k]);
    for (int d = 0; d < it.ndim; d++) it.stride[k][d] *= es;
    it.base[k] = ember_tensor_data(t);
  }
  if (numel == 0) return;
  coalesce(&it);
  int64_t inner = it.ndim ? it.shape[it.ndim - 1] : 1;
  int64_t rows = numel / inner;
  if (!ember_parallel_worth(numel)) {
    for (int64_t r = 0; r < rows; r++) run_unit(&it, r, 0, inner, loop, ctx);
    return;
  }
  /* split long runs into pieces so one huge contiguous run still spreads over threads */
  int64_t piece = inner, pieces = 1;
  if (inner > EMBER_PARALLEL_GRAIN) {
    piece = EMBER_PARALLEL_GRAIN * 4;
    pieces = (inner + piece - 1) / piece;
  }
  int64_t units = rows * pieces;
#pragma omp parallel for schedule(static)
  for (int64_t u = 0; u < units; u++) {
    int64_t r = u / pieces, col = (u % pieces) * piece;
    int64_t n = inner - col < piece ? inner - col : piece;
    run_unit(&it, r, col, n, loop, ctx);
  }
}
