/*
** reduce_scan.c — cumsum: running sums along one dim.
**
** The input is seen as [outer, len, inner] (contiguous; a strided input is copied
** first). Each task keeps a row of up to ROW running sums for a slice of `inner` and
** walks the dim, so the loop over the row is contiguous and vectorises, whatever the
** dim. f32 sums run in f64 (as PyTorch's CPU cumsum does); integer sums wrap.
*/
#include "reduce.h"

#define ROW 512

#if defined(__GNUC__)
#define RINLINE static inline __attribute__((always_inline))
#else
#define RINLINE static inline
#endif

/* Running sums of m columns over len rows, row stride `inner` elements. */
RINLINE void scan_t(const char *src, char *dst, int64_t len, int64_t inner, int m, int dt) {
  if (inner == 1) {                 /* one column: a plain running sum */
    double a = 0;
    uint64_t ia = 0;
    for (int64_t k = 0; k < len; k++) {
      if (dt == EMBER_F32) ((float *)dst)[k] = (float)(a += ((const float *)src)[k]);
      else if (dt == EMBER_F64) ((double *)dst)[k] = a += ((const double *)src)[k];
      else ((int64_t *)dst)[k] = (int64_t)(ia += (uint64_t)((const int64_t *)src)[k]);
    }
    return;
  }
  double acc[ROW];
  uint64_t iacc[ROW];
  for (int i = 0; i < m; i++) { acc[i] = 0; iacc[i] = 0; }
  for (int64_t k = 0; k < len; k++) {
    int64_t off = k * inner;
    if (dt == EMBER_F32) {
      const float *x = (const float *)src + off;
      float *y = (float *)dst + off;
      for (int i = 0; i < m; i++) { acc[i] += x[i]; y[i] = (float)acc[i]; }
    } else if (dt == EMBER_F64) {
      const double *x = (const double *)src + off;
      double *y = (double *)dst + off;
      for (int i = 0; i < m; i++) { acc[i] += x[i]; y[i] = acc[i]; }
    } else {
      const int64_t *x = (const int64_t *)src + off;
      int64_t *y = (int64_t *)dst + off;
      for (int i = 0; i < m; i++) { iacc[i] += (uint64_t)x[i]; y[i] = (int64_t)iacc[i]; }
    }
  }
}

static void scan(const char *src, char *dst, int64_t len, int64_t inner, int m, ember_dtype dt) {
  switch (dt) {
  case EMBER_F32: scan_t(src, dst, len, inner, m, EMBER_F32); break;
  case EMBER_F64: scan_t(src, dst, len, inner, m, EMBER_F64); break;
  default: scan_t(src, dst, len, inner, m, EMBER_I64); break;
  }
}

typedef struct scan_ctx {
  const char *src;
  char *dst;
  int64_t len, inner, nrow, es;
  ember_dtype dt;
} scan_ctx;

/* Tasks [lo, hi): task t scans columns [t % nrow * ROW, + ROW) of outer slice t / nrow. */
static void scan_tasks(void *ctx, int64_t lo, int64_t hi) {
  const scan_ctx *s = ctx;
  for (int64_t t = lo; t < hi; t++) {
    int64_t o = t / s->nrow, i0 = t % s->nrow * ROW;
    int m = (int)(s->inner - i0 < ROW ? s->inner - i0 : ROW);
    int64_t off = (o * s->len * s->inner + i0) * s->es;
    scan(s->src + off, s->dst + off, s->len, s->inner, m, s->dt);
  }
}

ember_status ember_cpu_cumsum(ember_call *c) {
  ember_tensor *x = c->in[0], *y = c->out[0];
  ember_dtype dt = x->dtype;
  if (dt != EMBER_F32 && dt != EMBER_F64 && dt != EMBER_I64)
    return ember_op_error(c, "no CPU kernel for dtype %s", ember_dtype_name(dt));
  int d;
  if (ember_attr_dim(c, 0, x->ndim, &d) != EMBER_OK) return EMBER_ERROR;
  int64_t numel = ember_tensor_numel(x);
  if (numel == 0) return EMBER_OK;
  int64_t outer = 1, len = x->ndim ? x->shape[d] : 1, inner = 1;
  for (int k = 0; k < d; k++) outer *= x->shape[k];
  for (int k = d + 1; k < x->ndim; k++) inner *= x->shape[k];
  ember_tensor *xc = ember_contiguous(x);
  if (xc == NULL) return EMBER_ERROR;
  int64_t nrow = (inner + ROW - 1) / ROW;
  scan_ctx s = { ember_tensor_data(xc), ember_tensor_data(y), len, inner, nrow,
                 (int64_t)ember_dtype_size(dt), dt };
  ember_parallel_for(outer * nrow, numel, scan_tasks, &s);
  ember_tensor_release(xc);
  return EMBER_OK;
}
