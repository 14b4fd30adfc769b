/*
** scratch.c — kernel scratch: the temporary memory a kernel needs while it runs
** (column matrices, index maps, contiguous copies of strided inputs).
**
** Without an active region a scratch block is a plain heap block. While a region is
** active on the calling thread (ember_scratch_begin), blocks come from the region's
** memory by bump allocation, 64-byte aligned, and are given back in stack order: a
** block freed out of order is marked and popped once every block above it is freed.
** storage.c and tensor.c ask the active region first, so the tensors a kernel makes
** inside itself (ember_contiguous, ember_to_dtype, ember_tensor_empty) are scratch
** too, struct and bytes. The runtime runs a program's kernels inside one region over
** the workspace at the end of its arena, and so allocates nothing while it executes.
**
** A region with no memory (measure mode) serves every block from the heap and records
** the most bytes that were live at once, block headers and rounding included: the
** size a region needs to serve the same kernels without overflowing (export sizes the
** workspace with it). A region that runs out serves the block from the heap and counts
** it in r->overflows rather than failing.
**
** The rule for kernels: the region is thread-local, and OpenMP workers do not see the
** caller's. A kernel takes every temporary on the calling thread, outside its parallel
** regions: a buffer per thread is one block of nthreads x size taken before the
** region and cut by omp_get_thread_num() inside it. A kernel frees its blocks before
** it returns, on the thread that took them.
*/
#include <stdlib.h>

#include "core.h"

#define SCRATCH_ALIGN 64

/* Each block starts with this header, padded to SCRATCH_ALIGN. Offsets are in bytes
** from the start of the region; `want_end` counts as if every block had fit. */
struct ember_scratch_block {
  ember_scratch_block *below;      /* the block taken before it in the same region */
  ember_scratch_region *region;    /* NULL: no region (or the region has ended) */
  size_t used_end;                 /* region bytes in use up to the end of this block */
  size_t want_end;                 /* the same, had every block come from the region */
  int heap;                        /* 1: the block came from the heap */
  int live;                        /* 0: freed, waiting for the blocks above to go */
};

#define HEADER ((sizeof(ember_scratch_block) + SCRATCH_ALIGN - 1) / SCRATCH_ALIGN * SCRATCH_ALIGN)

static _Thread_local ember_scratch_region *active;

void ember_scratch_init(ember_scratch_region *r, void *mem, size_t size) {
  uintptr_t a = (uintptr_t)mem, aligned = (a + SCRATCH_ALIGN - 1) & ~(uintptr_t)(SCRATCH_ALIGN - 1);
  r->base = NULL;
  r->size = 0;
  if (mem && size > aligned - a) {
    r->base = (char *)aligned;
    r->size = size - (aligned - a);
  }
  r->peak = 0;
  r->overflows = 0;
  r->top = NULL;
  r->outer = NULL;
}

void ember_scratch_begin(ember_scratch_region *r) {
  r->outer = active;
  active = r;
}

void ember_scratch_end(void) {
  ember_scratch_region *r = active;
  if (r == NULL) return;
  /* blocks still live outlast the region as orphans: a heap one is freed when its
  ** owner frees it, a region one is the caller's memory again */
  for (ember_scratch_block *b = r->top, *below; b; b = below) {
    below = b->below;
    b->region = NULL;
    b->below = NULL;
    if (!b->live && b->heap) free(b);
  }
  r->top = NULL;
  active = r->outer;
  r->outer = NULL;
}

ember_scratch_region *ember_scratch_active(void) {
  return active;
}

void *ember_scratch_alloc(size_t n) {
  if (n > ((size_t)1 << 48)) return NULL;   /* beyond any memory; the sums below stay exact */
  size_t body = (n + SCRATCH_ALIGN - 1) / SCRATCH_ALIGN * SCRATCH_ALIGN;
  if (body == 0) body = SCRATCH_ALIGN;
  size_t bytes = HEADER + body;
  ember_scratch_region *r = active;
  ember_scratch_block *b;
  if (r == NULL) {
    b = aligned_alloc(SCRATCH_ALIGN, bytes);
    if (b == NULL) return NULL;
    b->region = NULL;
    b->below = NULL;
    b->heap = 1;
    b->live = 1;
    return (char *)b + HEADER;
  }
  size_t used = r->top ? r->top->used_end : 0, want = r->top ? r->top->want_end : 0;
  if (r->base && r->size - used >= bytes) {
    b = (ember_scratch_block *)(r->base + used);
    b->heap = 0;
    b->used_end = used + bytes;
  } else {
    b = aligned_alloc(SCRATCH_ALIGN, bytes);
    if (b == NULL) return NULL;
    if (r->base) r->overflows++;
    b->heap = 1;
    b->used_end = used;
  }
  b->want_end = want + bytes;
  if (b->want_end > r->peak) r->peak = b->want_end;
  b->region = r;
  b->below = r->top;
  b->live = 1;
  r->top = b;
  return (char *)b + HEADER;
}

void ember_scratch_free(void *p) {
  if (p == NULL) return;
  ember_scratch_block *b = (ember_scratch_block *)((char *)p - HEADER);
  ember_scratch_region *r = b->region;
  if (r == NULL) {
    if (b->heap) free(b);
    return;
  }
  b->live = 0;
  while (r->top && !r->top->live) {
    ember_scratch_block *t = r->top;
    r->top = t->below;
    if (t->heap) free(t);
  }
}
