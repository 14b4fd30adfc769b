/*
** shape.h — CPU kernels of the shape ops (host/cpu/shape.c), and the two tools the
** data-moving kernels of shape.c and index.c share: a walker over the outer dims of
** strided operands, and byte moves of whole elements.
**
** Ops that only move data never look at values: they copy elements of es bytes
** (1, 2, 4 or 8), so one kernel serves every dtype. The walker visits every "row"
** (all dims but the last) of a shape and keeps each operand's element offset up to
** date, so a kernel reads and writes through any strides, negative ones included.
*/
#ifndef EMBER_CPU_SHAPE_H
#define EMBER_CPU_SHAPE_H

#include <string.h>

#include "ops.h"

/* {====== walker over rows */

#define EMBER_WALK_OPS 4

typedef struct ember_walk {
  int ndim;                                        /* outer dims walked (all but the last) */
  int nops;
  int64_t shape[EMBER_MAX_DIMS];
  int64_t pos[EMBER_MAX_DIMS];
  int64_t stride[EMBER_WALK_OPS][EMBER_MAX_DIMS];  /* elements */
  int64_t off[EMBER_WALK_OPS];                     /* elements, from each operand's start */
  int64_t inner;                                   /* length of the last dim (1 if none) */
  int64_t istride[EMBER_WALK_OPS];                 /* each operand's stride along it */
  int64_t rows;                                    /* rows to visit (0 if empty) */
} ember_walk;

/* Walk `shape` (ndim dims) with nops operands, operand k read through strides[k]
** (ndim entries, elements; 0 broadcasts). */
void ember_walk_init(ember_walk *w, int ndim, const int64_t *shape, int nops,
                     const int64_t *const *strides);
/* Put the walker at row `row` (0-based, row-major over the outer dims). */
void ember_walk_seek(ember_walk *w, int64_t row);

/* Call row(w, ctx) once per row, w positioned at that row. With `parallel` set (the
** caller judges the whole job large enough), rows are split across OpenMP threads,
** each with its own walker, so row() must only write what its row owns. */
typedef void (*ember_row_fn)(const ember_walk *w, void *ctx);
void ember_walk_rows(const ember_walk *w, int parallel, ember_row_fn row, void *ctx);

static inline void ember_walk_next(ember_walk *w) {
  for (int d = w->ndim - 1; d >= 0; d--) {
    for (int k = 0; k < w->nops; k++) w->off[k] += w->stride[k][d];
    if (++w->pos[d] < w->shape[d]) return;
    for (int k = 0; k < w->nops; k++) w->off[k] -= w->stride[k][d] * w->shape[d];
    w->pos[d] = 0;
  }
}

/* }====== */

/* {====== element moves */

/* One element of es bytes; es is a constant wherever this is inlined, so it compiles
** to one load and one store. */
static inline void ember_move_elem(char *dst, const char *src, size_t es) {
  memcpy(dst, src, es);
}

static inline void move_run_es(char *dst, int64_t ds, const char *src, int64_t ss, int64_t n,
                               size_t es) {
  for (int64_t i = 0; i < n; i++) ember_move_elem(dst + i * ds, src + i * ss, es);
}

/* n elements from src to dst, each pointer advancing by its own byte stride. */
static inline void ember_move_run(char *dst, int64_t ds, const char *src, int64_t ss, int64_t n,
                                  size_t es) {
  if (ds == (int64_t)es && ss == (int64_t)es) {
    memcpy(dst, src, (size_t)n * es);
    return;
  }
  switch (es) {
  case 1: move_run_es(dst, ds, src, ss, n, 1); break;
  case 2: move_run_es(dst, ds, src, ss, n, 2); break;
  case 4: move_run_es(dst, ds, src, ss, n, 4); break;
  default: move_run_es(dst, ds, src, ss, n, 8); break;
  }
}

/* n elements set to zero (all-zero bytes are 0 in every dtype). */
static inline void ember_zero_run(char *dst, int64_t ds, int64_t n, size_t es) {
  if (ds == (int64_t)es) {
    memset(dst, 0, (size_t)n * es);
    return;
  }
  for (int64_t i = 0; i < n; i++) memset(dst + i * ds, 0, es);
}

/* The value v as one element of dtype dt, in buf (8 bytes). Integral doubles go
** through int64 so large integer values stay exact. */
void ember_scalar_bytes(ember_dtype dt, double v, int64_t iv, char *buf);

/* }====== */

/* {====== what the shape kernels of every device share (shape.c) */

/* cat, stack and flip on any device: each input (flip: the view that walks the flipped
** dims backwards) is moved into its place in out[0] by move, the CPU's element moves or
** a device's copy. */
typedef ember_status (*ember_move_fn)(ember_tensor *dst, const ember_tensor *src);
ember_status ember_shape_cat(ember_call *c, ember_move_fn move);
ember_status ember_shape_stack(ember_call *c, ember_move_fn move);
ember_status ember_shape_flip(ember_call *c, ember_move_fn move);

/* roll's shifts, each in [0, len): shift[d] for every dim of in[0] (a dim named twice
** rolls by the sum), returning 1; or, when no dims are given, the flattened tensor's in
** shift[0], returning 0. */
int ember_roll_shifts(const ember_call *c, int64_t *shift);

/* repeat's source: t viewed with nd dims, the new leading ones of size 1 and stride 0;
** repeat's output element at i comes from element i mod its shape. */
ember_tensor *ember_repeat_source(ember_tensor *t, int nd);

/* }====== */

/* {====== kernels */

ember_status ember_cpu_cat(ember_call *c);
ember_status ember_cpu_stack(ember_call *c);
ember_status ember_cpu_split(ember_call *c);
ember_status ember_cpu_chunk(ember_call *c);
ember_status ember_cpu_unbind(ember_call *c);
ember_status ember_cpu_flip(ember_call *c);
ember_status ember_cpu_roll(ember_call *c);
ember_status ember_cpu_repeat(ember_call *c);
ember_status ember_cpu_tril(ember_call *c);
ember_status ember_cpu_triu(ember_call *c);

/* }====== */

#endif
