/*
** storage.c — refcounted blocks of memory that carry their own release.
** A heap storage is one allocation: the header followed by the bytes (64-byte
** aligned, for SIMD loads and for OpenBLAS). Other kinds point at memory someone
** else owns and call its release callback when the last reference goes.
*/
#include <stdlib.h>
#include <string.h>

#include "core.h"

static size_t heap_bytes;   /* updated atomically: storages die on any thread */

size_t ember_heap_bytes(void) {
  return __atomic_load_n(&heap_bytes, __ATOMIC_RELAXED);
}

#define STORAGE_ALIGN 64
#define HEADER_BYTES ((sizeof(ember_storage) + STORAGE_ALIGN - 1) / STORAGE_ALIGN * STORAGE_ALIGN)

ember_storage *ember_storage_new(size_t nbytes) {
  if (nbytes > ((size_t)1 << 48)) {
    ember_error("out of memory: cannot allocate %zu bytes", nbytes);
    return NULL;
  }
  size_t total = HEADER_BYTES + (nbytes ? nbytes : 1);
  total = (total + STORAGE_ALIGN - 1) / STORAGE_ALIGN * STORAGE_ALIGN;
  char *block = aligned_alloc(STORAGE_ALIGN, total);
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
  __atomic_add_fetch(&heap_bytes, nbytes, __ATOMIC_RELAXED);
  return s;
}

ember_storage *ember_storage_wrap(void *data, size_t nbytes, ember_alloc_kind kind,
                                  ember_release_fn release, void *ctx) {
  ember_storage *s = calloc(1, sizeof *s);
  if (s == NULL) {
    ember_error("out of memory");
    return NULL;
  }
  s->refcount = 1;
  s->kind = kind;
  s->device = kind == EMBER_ALLOC_DEVICE ? EMBER_VULKAN : EMBER_CPU;
  s->data = data;
  s->nbytes = nbytes;
  s->release = release;
  s->release_ctx = ctx;
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
    free(s);
    return;
  }
  if (s->release) s->release(s->data, s->nbytes, s->release_ctx);
  free(s);
}
