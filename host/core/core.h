/*
** core.h — internal API of host/core: dtype traits, shapes and broadcasting, type
** promotion, dtype conversion, the elementwise iterator and the RNG.
** Everything here is C with no Lua; ops (host/ops) and kernels (host/cpu) use it.
*/
#ifndef EMBER_CORE_H
#define EMBER_CORE_H

#include <stdint.h>
#include <stddef.h>

#include "ember.h"

/* {====== dtype traits */

/* The names are arrays, not pointers: a table of pointers costs the runtime's shared
** library a relocation each (see the Makefile's rt section). */
typedef struct ember_dtype_traits {
  char name[12];           /* "f32" */
  size_t size;             /* bytes (sub-byte dtypes: 1, but see bits) */
  int is_float, is_int;    /* bool is neither */
  char torch7_name[24];    /* print footer: ember.FloatTensor */
  int bits;                /* bits per element */
} ember_dtype_traits;

extern const ember_dtype_traits ember_dtype_traits_table[EMBER_DTYPE_COUNT];

/* Read / write one element at address p as double (i64 beyond 2^53 loses bits; use
** the _i64 forms where exact integers matter). */
double ember_load_f64(ember_dtype dt, const void *p);
void ember_store_f64(ember_dtype dt, void *p, double v);
int64_t ember_load_i64(ember_dtype dt, const void *p);

/* Code of packed element i of a sub-byte dtype (F6, F4) at base, and its store. */
unsigned ember_subbyte_get(ember_dtype dt, const uint8_t *base, int64_t i);
void ember_subbyte_set(ember_dtype dt, uint8_t *base, int64_t i, unsigned code);
void ember_store_i64(ember_dtype dt, void *p, int64_t v);

/* Convert n contiguous elements from one dtype to another (src != dst memory). */
void ember_convert(ember_dtype to, void *dst, ember_dtype from, const void *src, int64_t n);

/* }====== */

/* {====== shapes */

/* Normalise a possibly negative dim against ndim; returns -1 when out of range. */
int ember_norm_dim(int dim, int ndim);

/* Fills out with the broadcast of a and b (PyTorch rules). EMBER_ERROR if they do not
** broadcast; the message names op, both shapes and the dimension that clashes. */
ember_status ember_broadcast_shapes(const char *op, int na, const int64_t *a, int nb,
                                    const int64_t *b, int *nout, int64_t *out);

/* Strides that read t as if broadcast to (ndim, shape): 0 on expanded dims. */
void ember_broadcast_strides(const ember_tensor *t, int ndim, const int64_t *shape,
                             int64_t *stride);

void ember_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride);
int64_t ember_shape_numel(int ndim, const int64_t *shape);
int ember_same_shape(const ember_tensor *a, const ember_tensor *b);

/* A 0-dim tensor read as a 1-element vector: a header copy over the same storage. */
static inline ember_tensor ember_as_vector(const ember_tensor *t) {
  ember_tensor v = *t;
  if (v.ndim == 0) {
    v.ndim = 1;
    v.shape[0] = 1;
    v.stride[0] = 1;
  }
  return v;
}

/* "2x3", scalar "[]" — for error messages. */
char *ember_shape_text(int ndim, const int64_t *shape, char *buf, size_t n);

/* }====== */

/* {====== type promotion (PyTorch's result_type) */

/* Category order bool < int < float; within a category the wider dtype wins. Tensors
** with dims beat 0-dim tensors, which beat wrapped numbers, but only within a category:
** a higher category always lifts the result (an int tensor + 2.5 is the default float). */
ember_dtype ember_promote_types(ember_dtype a, ember_dtype b);
ember_dtype ember_result_type(int n, ember_tensor *const *t);

/* The default float dtype (f32). */
#define EMBER_DEFAULT_FLOAT EMBER_F32

/* }====== */

/* {====== elementwise iteration */

/* A loop over one innermost run: data[k] points at operand k (0 = the output), each
** advanced by strides[k] bytes per element, n elements. ctx is the op's own state. */
typedef void (*ember_loop_fn)(char **data, const int64_t *strides, int64_t n, void *ctx);

#define EMBER_ITER_MAX_OPERANDS 6

/* Runs loop over out's shape; every input is broadcast to out's shape (input dtypes are
** the loop's business). Dims are coalesced so a contiguous tensor is one run; large
** tensors are split across OpenMP threads, small ones stay on the calling thread. */
void ember_iter_run(ember_tensor *out, int nin, const ember_tensor *const *in,
                    ember_loop_fn loop, void *ctx);

/* Elements above which elementwise work is split across threads. */
#define EMBER_PARALLEL_GRAIN 32768

/* }====== */

/* {====== parallel loops (parallel.c)
** Entering an OpenMP parallel region costs about a microsecond even when its if
** clause is false (libgomp still builds a team of one), more than a whole op on a
** small tensor. Kernels therefore never write `#pragma omp parallel ... if (...)`:
** they hand a range function to ember_parallel_for, or test ember_parallel_worth
** and keep the parallel construct on the branch that is taken only for large work. */

/* Indices [lo, hi) of a loop; ctx is the kernel's own state. */
typedef void (*ember_range_fn)(void *ctx, int64_t lo, int64_t hi);

/* Runs body over the indices [0, n). work estimates the whole loop's cost in elements
** (of elementwise work, so a costlier index counts for more). When the work is worth
** it (ember_parallel_worth) and n > 1, [0, n) is cut into one contiguous piece per
** thread and the pieces run on OpenMP threads; otherwise it is one call
** body(ctx, 0, n) on this thread, with no OpenMP call at all. body must give the same
** results however the range is cut. Nothing is called for n <= 0. */
void ember_parallel_for(int64_t n, int64_t work, ember_range_fn body, void *ctx);

/* Whether work of that many elements should be split across threads: it exceeds
** EMBER_PARALLEL_GRAIN, there is more than one thread, and the caller is not already
** running on a team. */
int ember_parallel_worth(int64_t work);

/* Threads a parallel region entered here would get: 1 when there is one thread or the
** caller already runs on a team (a kernel then runs its loop itself: see parallel.c). */
int ember_parallel_threads(void);

/* }====== */

/* {====== storage and tensors */

/* New contiguous tensor with the given dtype and the shape of t. */
ember_tensor *ember_tensor_empty_like(const ember_tensor *t, ember_dtype dt);

/* Set by autograd when it first hangs data off a tensor: frees t->autograd. */
extern void (*ember_autograd_free_hook)(ember_tensor *t);

/* Byte address of the element at the given multi-index (0-based). */
char *ember_tensor_ptr(const ember_tensor *t, const int64_t *index);

/* }====== */

/* {====== kernel scratch (scratch.c)
** A kernel's temporaries come from ember_scratch_alloc: the heap, or, while a region
** is active on this thread, the region's memory (bump allocated, 64-byte aligned,
** given back in stack order). Tensors a kernel makes inside itself (ember_contiguous,
** ember_to_dtype, ember_tensor_empty) draw from the region too, header and bytes.
** The rule: a kernel takes its temporaries on the calling thread, outside OpenMP
** parallel regions (workers do not see the caller's region): per-thread buffers are
** one block of nthreads x size, taken before the parallel region. It frees them
** before it returns. */

typedef struct ember_scratch_block ember_scratch_block;

typedef struct ember_scratch_region {
  char *base;                 /* the memory blocks come from; NULL: measure mode */
  size_t size;
  size_t peak;                /* most bytes live at once (what a region must hold to
                                 serve the same calls with no overflow) */
  size_t overflows;           /* blocks that did not fit and came from the heap */
  ember_scratch_block *top;   /* the newest live block; NULL when all were freed */
  struct ember_scratch_region *outer;   /* the region active before this one */
} ember_scratch_region;

/* Prepare r over size bytes at mem (aligned up to 64 inside it); mem NULL: measure
** mode, every block from the heap, r->peak recorded. */
void ember_scratch_init(ember_scratch_region *r, void *mem, size_t size);
/* Make r this thread's active region until the matching ember_scratch_end (they nest). */
void ember_scratch_begin(ember_scratch_region *r);
void ember_scratch_end(void);
ember_scratch_region *ember_scratch_active(void);   /* NULL: none on this thread */
void *ember_scratch_alloc(size_t n);   /* 64-byte aligned; NULL when out of memory */
void ember_scratch_free(void *p);      /* NULL is fine */

/* Set on tensor headers drawn from a region (tensor.c gives them back there). */
#define EMBER_TENSOR_SCRATCH (1u << 31)

/* }====== */

/* {====== view layouts (view.c)
** Each view maker of ember.h computed with no allocation: the dims, strides and
** offset (in elements, over t's storage) of the view, checked as the maker checks
** them (same errors). ember_view, ember_narrow ... wrap one in a new header; the
** runtime writes one into a header it owns. */

typedef struct ember_layout {
  int ndim;
  int64_t shape[EMBER_MAX_DIMS];
  int64_t stride[EMBER_MAX_DIMS];
  int64_t offset;
  int copy;   /* reshape, flatten: t's strides cannot express the shape, so the result
                 is a contiguous copy of t with this shape (stride, offset: the copy's) */
} ember_layout;

ember_status ember_view_layout(const ember_tensor *t, int ndim, const int64_t *shape, ember_layout *l);
ember_status ember_reshape_layout(const ember_tensor *t, int ndim, const int64_t *shape, ember_layout *l);
ember_status ember_narrow_layout(const ember_tensor *t, int dim, int64_t start, int64_t length,
                                 ember_layout *l);
ember_status ember_select_layout(const ember_tensor *t, int dim, int64_t index, ember_layout *l);
ember_status ember_slice_layout(const ember_tensor *t, int dim, int64_t start, int64_t stop,
                                int64_t step, ember_layout *l);
ember_status ember_transpose_layout(const ember_tensor *t, int d0, int d1, ember_layout *l);
ember_status ember_permute_layout(const ember_tensor *t, int ndim, const int *dims, ember_layout *l);
ember_status ember_expand_layout(const ember_tensor *t, int ndim, const int64_t *shape, ember_layout *l);
ember_status ember_squeeze_layout(const ember_tensor *t, int dim, ember_layout *l);
ember_status ember_unsqueeze_layout(const ember_tensor *t, int dim, ember_layout *l);
ember_status ember_flatten_layout(const ember_tensor *t, int start, int end, ember_layout *l);
/* A new header over t's storage with layout l (l->copy must be 0). */
ember_tensor *ember_layout_view(ember_tensor *t, const ember_layout *l);

/* }====== */

/* {====== RNG: Philox 4x32-10, counter based */

/* The stream is a pure function of (seed, counter), so a GPU kernel can produce
** exactly the same numbers by computing the same blocks in parallel. Each call takes
** the next `n` values and advances the global counter. */
void ember_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);
/* The stream ember draws from: block `counter` under `key` (the seed); counter words
** 2 and 3 are 0. Block i gives draws 4i .. 4i+3. */
void ember_philox4x32(uint64_t key, uint64_t counter, uint32_t out[4]);
/* Blocks first .. first + EMBER_PHILOX_BATCH - 1 of that stream into out (4 words
** each: draw 4b + w is word w of block first + b): the numbers ember_philox4x32
** gives, twice as fast, for kernels that draw many. */
#define EMBER_PHILOX_BATCH 64
void ember_philox4x32_batch(uint64_t key, uint64_t first, uint32_t *out);
uint64_t ember_rng_seed(void);
/* Reserves n 32-bit draws (rounded up to blocks of 4); returns the first counter. */
uint64_t ember_rng_reserve(int64_t n);
/* Uniform in [0, 1) from a 32-bit draw (24 bits, so f32 never rounds to 1). Inline,
** and through int32 (which SSE converts in one instruction), so loops vectorise. */
static inline float ember_u32_to_unit_f32(uint32_t x) {
  return (float)(int32_t)(x >> 8) * (1.0f / 16777216.0f);
}
double ember_u64_to_unit_f64(uint32_t hi, uint32_t lo);

/* }====== */

#endif
