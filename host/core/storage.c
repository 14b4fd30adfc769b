/*
** storage.c — refcounted blocks of memory that carry their own release.
** A heap storage is one allocation: the header followed by the bytes (64-byte
** aligned, for SIMD loads and for OpenBLAS). Other kinds point at memory someone
** else owns and call its release callback when the last reference goes.
*/
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core.h"

static size_t heap_bytes;   /* updated atomically: storages die on any thread */

size_t ember_heap_bytes(void) {
  return __atomic_load_n(&heap_bytes, __ATOMIC_RELAXED);
}

#define STORAGE_ALIGN 64
#define HEADER_BYTES ((sizeof(ember_storage) + STORAGE_ALIGN - 1) / STORAGE_ALIGN * STORAGE_ALIGN)

/* {====== small-block cache
** Training loops and Lua expressions make and drop many small tensors; the Lua
** collector frees them in bursts, and glibc malloc then spends more time than the
** kernels do. Blocks up to CACHE_MAX_BYTES go back to a per-thread free list by
** power-of-two size class instead. Off under AddressSanitizer, so that
** use-after-free is still caught there.
*/
#define CACHE_MIN_SHIFT 7                 /* 128-byte class first */
#define CACHE_CLASSES 10                  /* ... up to 64 KiB */
#define CACHE_MAX_BYTES ((size_t)1 << (CACHE_MIN_SHIFT + CACHE_CLASSES - 1))
#define CACHE_CLASS_BYTES ((size_t)1 << 20) /* each class keeps up to 1 MiB of blocks */
#define SCRATCH_CLASS (-2)                /* not cached: a kernel scratch block */

#if defined(__SANITIZE_ADDRESS__)
#define CACHE_ON 0
#else
#define CACHE_ON 1
#endif

/* blocks[c] holds up to 1 MiB / (class size) blocks: 8192 of 128 B ... 16 of 64 KiB */
typedef struct block_cache { int n[CACHE_CLASSES]; void **blocks[CACHE_CLASSES]; } block_cache;
static _Thread_local block_cache cache;

static int size_class(size_t total) {
  if (!CACHE_ON || total > CACHE_MAX_BYTES) return -1;
  int c = 0;
  while (((size_t)1 << (CACHE_MIN_SHIFT + c)) < total) c++;
  return c;
}

static void block_free(void *block, int c) {
  if (c >= 0 && cache.blocks[c] == NULL)
    cache.blocks[c] = malloc(sizeof(void *) * (CACHE_CLASS_BYTES >> (CACHE_MIN_SHIFT + c)));
  if (c >= 0 && cache.blocks[c] && cache.n[c] < (int)(CACHE_CLASS_BYTES >> (CACHE_MIN_SHIFT + c))) {
    cache.blocks[c][cache.n[c]++] = block;
    return;
  }
  free(block);
}

/* Large blocks: a few recently freed ones are kept for reuse (a loop `c = a + b` over
** big tensors would otherwise fault in fresh pages on every call), and blocks of 2 MiB
** and more are 2 MiB aligned and offered to the kernel as huge pages, which cuts the
** cost of first touch by an order of magnitude. */
#define LARGE_KEEP 4
#define LARGE_KEEP_BYTES ((size_t)256 << 20)
#define HUGE_PAGE ((size_t)2 << 20)

static _Thread_local struct { int n; size_t bytes; void *block[LARGE_KEEP]; size_t size[LARGE_KEEP]; } large;

static void *large_take(size_t total, size_t *got) {
  for (int i = 0; CACHE_ON && i < large.n; i++) {
    if (large.size[i] >= total && large.size[i] <= total + total / 2) {
      void *b = large.block[i];
      *got = large.size[i];
      large.bytes -= large.size[i];
      large.block[i] = large.block[--large.n];
      large.size[i] = large.size[large.n];
      return b;
    }
  }
  *got = total;
  if (total >= HUGE_PAGE) {
    size_t rounded = (total + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    void *b = aligned_alloc(HUGE_PAGE, rounded);
    if (b) {
      *got = rounded;
      madvise(b, rounded, MADV_HUGEPAGE);   /* advice only: failure changes nothing */
    }
    return b;
  }
  return aligned_alloc(STORAGE_ALIGN, total);
}

static void large_give(void *block, size_t size) {
  if (!CACHE_ON || size > LARGE_KEEP_BYTES / 2) {
    free(block);
    return;
  }
  while (large.n > 0 && (large.n == LARGE_KEEP || large.bytes + size > LARGE_KEEP_BYTES)) {
    large.n--;                                 /* drop the oldest */
    free(large.block[0]);
    large.bytes -= large.size[0];
    for (int i = 0; i < large.n; i++) { large.block[i] = large.block[i + 1]; large.size[i] = large.size[i + 1]; }
  }
  large.block[large.n] = block;
  large.size[large.n++] = size;
  large.bytes += size;
}

/* }====== */

ember_storage *ember_storage_new(size_t nbytes) {
  if (nbytes > ((size_t)1 << 48)) {
    ember_error("out of memory: cannot allocate %zu bytes", nbytes);
    return NULL;
  }
  size_t total = HEADER_BYTES + (nbytes ? nbytes : 1);
  total = (total + STORAGE_ALIGN - 1) / STORAGE_ALIGN * STORAGE_ALIGN;
  /* inside a kernel under a scratch region, the region serves it (scratch.c) */
  int c = ember_scratch_active() ? SCRATCH_CLASS : size_class(total);
  char *block = NULL;
  if (c == SCRATCH_CLASS) {
    block = ember_scratch_alloc(total);
  } else if (c >= 0) {
    total = (size_t)1 << (CACHE_MIN_SHIFT + c);
    if (cache.n[c] > 0) block = cache.blocks[c][--cache.n[c]];
  }
  if (block == NULL && c >= 0) block = aligned_alloc(STORAGE_ALIGN, total);
  else if (block == NULL && c != SCRATCH_CLASS) block = large_take(total, &total);
  if (block == NULL) {
    ember_error("out of memory: cannot allocate %zu bytes", nbytes);
    return NULL;
  }
  ember_storage *s = (ember_storage *)block;
  memset(s, 0, sizeof *s);
  s->refcount = 1;
  s->kind = EMBER_ALLOC_HEAP;
  s->device = EMBER_CPU;
  s->data = block + HEADER_BYTES;
  s->nbytes = nbytes;
  s->size_class = c;
  s->block_bytes = total;
  __atomic_add_fetch(&heap_bytes, nbytes, __ATOMIC_RELAXED);
  return s;
}

ember_storage *ember_storage_wrap(void *data, size_t nbytes, ember_alloc_kind kind,
                                  ember_release_fn release, void *ctx) {
  int scratch = ember_scratch_active() != NULL;   /* inside a kernel: see scratch.c */
  ember_storage *s = scratch ? ember_scratch_alloc(sizeof *s) : malloc(sizeof *s);
  if (s == NULL) {
    ember_error("out of memory");
    return NULL;
  }
  memset(s, 0, sizeof *s);
  s->refcount = 1;
  s->kind = kind;
  s->device = kind == EMBER_ALLOC_DEVICE ? EMBER_VULKAN : EMBER_CPU;
  s->data = data;
  s->nbytes = nbytes;
  s->release = release;
  s->release_ctx = ctx;
  s->size_class = scratch ? SCRATCH_CLASS : -1;
  if (kind == EMBER_ALLOC_DEVICE) __atomic_add_fetch(&heap_bytes, nbytes, __ATOMIC_RELAXED);
  return s;
}

void ember_storage_retain(ember_storage *s) {
  __atomic_add_fetch(&s->refcount, 1, __ATOMIC_RELAXED);
}

void ember_storage_release(ember_storage *s) {
  if (s == NULL || __atomic_sub_fetch(&s->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
  if (s->kind == EMBER_ALLOC_HEAP) {
    __atomic_sub_fetch(&heap_bytes, s->nbytes, __ATOMIC_RELAXED);
    if (s->release) s->release(s->data, s->nbytes, s->release_ctx);
    if (s->size_class >= 0) block_free(s, s->size_class);
    else if (s->size_class == SCRATCH_CLASS) ember_scratch_free(s);
    else large_give(s, s->block_bytes);
    return;
  }
  if (s->kind == EMBER_ALLOC_DEVICE) __atomic_sub_fetch(&heap_bytes, s->nbytes, __ATOMIC_RELAXED);
  if (s->release) s->release(s->data, s->nbytes, s->release_ctx);
  if (s->size_class == SCRATCH_CLASS) ember_scratch_free(s);
  else free(s);
}
