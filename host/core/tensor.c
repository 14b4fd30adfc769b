/*
** tensor.c — tensor headers: creation, reference counting and element access.
** A tensor is a shape, strides and an offset (all in elements) over a refcounted
** storage; a view is just another header over the same storage (see view.c).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

/* Tensor headers are recycled through a per-thread free list for the same reason
** storages are (storage.c); off under AddressSanitizer. */
#if defined(__SANITIZE_ADDRESS__)
#define HEADER_CACHE 0
#else
#define HEADER_CACHE 4096
#endif
static _Thread_local ember_tensor *free_headers[HEADER_CACHE + 1];
static _Thread_local int nfree_headers;

/* Inside a kernel under a scratch region the header is scratch (scratch.c); its
** flags say so, and header_new keeps that bit. */
static ember_tensor *header_alloc(void) {
  if (ember_scratch_active()) {
    ember_tensor *t = ember_scratch_alloc(sizeof(ember_tensor));
    if (t) t->flags = EMBER_TENSOR_SCRATCH;
    return t;
  }
  ember_tensor *t = nfree_headers > 0 ? free_headers[--nfree_headers] : malloc(sizeof(ember_tensor));
  if (t) t->flags = 0;
  return t;
}

static void header_free(ember_tensor *t) {
  if (t->flags & EMBER_TENSOR_SCRATCH) ember_scratch_free(t);
  else if (nfree_headers < HEADER_CACHE) free_headers[nfree_headers++] = t;
  else free(t);
}

static ember_tensor *header_new(ember_dtype dt, int ndim, const int64_t *shape) {
  if (ndim < 0 || ndim > EMBER_MAX_DIMS) {
    ember_error("tensor: %d dims (at most %d)", ndim, EMBER_MAX_DIMS);
    return NULL;
  }
  /* Strides multiply the sizes (a size-0 dim counts as 1 there), so the product of
  ** the nonzero sizes must fit, with room for a 16-byte element: a [0, 2^62, 2^62]
  ** tensor holds nothing but would still overflow its strides. */
  int64_t span = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) {
      ember_error("tensor: negative size %lld in dim %d", (long long)shape[i], i);
      return NULL;
    }
    if (shape[i] > 1 && (__builtin_mul_overflow(span, shape[i], &span) || span > INT64_MAX / 16)) {
      ember_error("tensor: shape too large");
      return NULL;
    }
  }
  ember_tensor *t = header_alloc();
  if (t == NULL) {
    ember_error("out of memory");
    return NULL;
  }
  t->refcount = 1;
  t->dtype = dt;
  t->ndim = ndim;
  if (ndim) memcpy(t->shape, shape, ndim * sizeof *shape);
  t->offset = 0;
  t->storage = NULL;
  t->flags &= EMBER_TENSOR_SCRATCH;
  t->autograd = NULL;
  return t;
}

ember_tensor *ember_tensor_empty(ember_dtype dt, int ndim, const int64_t *shape) {
  return ember_tensor_empty_on(EMBER_CPU, dt, ndim, shape);
}

ember_tensor *ember_tensor_empty_on(ember_device dev, ember_dtype dt, int ndim, const int64_t *shape) {
  if (dt < 0 || dt >= EMBER_DTYPE_COUNT) {
    ember_error("tensor: unknown dtype %d", (int)dt);
    return NULL;
  }
  ember_tensor *t = header_new(dt, ndim, shape);
  if (t == NULL) return NULL;
  int64_t n = ember_shape_numel(ndim, shape);   /* header_new bounded it */
  ember_contiguous_strides(ndim, shape, t->stride);
  if (dev != EMBER_CPU && ember_dtype_is_subbyte(dt)) {
    header_free(t);
    ember_error("tensor: %s tensors are packed and stay on the cpu", ember_dtype_name(dt));
    return NULL;
  }
  t->storage = ember_storage_new_on(dev, ember_dtype_nbytes(dt, n));
  if (t->storage == NULL) {
    header_free(t);
    return NULL;
  }
  return t;
}

ember_tensor *ember_tensor_zeros(ember_dtype dt, int ndim, const int64_t *shape) {
  ember_tensor *t = ember_tensor_empty(dt, ndim, shape);
  if (t) memset(t->storage->data, 0, t->storage->nbytes);
  return t;
}

ember_tensor *ember_tensor_zeros_on(ember_device dev, ember_dtype dt, int ndim, const int64_t *shape) {
  if (dev == EMBER_CPU) return ember_tensor_zeros(dt, ndim, shape);
  ember_tensor *t = ember_tensor_empty_on(dev, dt, ndim, shape);
  if (t && ember_fill_(t, 0) != EMBER_OK) {
    ember_tensor_release(t);
    return NULL;
  }
  return t;
}

ember_tensor *ember_tensor_scalar(ember_dtype dt, double v) {
  ember_tensor *t = ember_tensor_empty(dt, 0, NULL);
  if (t) ember_store_f64(dt, t->storage->data, v);
  return t;
}

ember_tensor *ember_tensor_empty_like(const ember_tensor *t, ember_dtype dt) {
  return ember_tensor_empty_on(t->storage->device, dt, t->ndim, t->shape);
}

ember_tensor *ember_tensor_from_data(void *data, ember_dtype dt, int ndim,
                                     const int64_t *shape, const int64_t *stride,
                                     ember_release_fn release, void *ctx) {
  ember_tensor *t = header_new(dt, ndim, shape);
  if (t == NULL) return NULL;
  if (stride) memcpy(t->stride, stride, ndim * sizeof *stride);
  else ember_contiguous_strides(ndim, shape, t->stride);
  /* the extent the strides reach decides the storage size */
  int64_t extent = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] == 0) { extent = 0; break; }
    extent += (shape[i] - 1) * (t->stride[i] < 0 ? -t->stride[i] : t->stride[i]);
  }
  t->storage = ember_storage_wrap(data, ember_dtype_nbytes(dt, extent),
                                  EMBER_ALLOC_EXTERNAL, release, ctx);
  if (t->storage == NULL) {
    header_free(t);
    return NULL;
  }
  return t;
}

ember_tensor *ember_tensor_view_of(const ember_tensor *src, int ndim, const int64_t *shape,
                                   const int64_t *stride, int64_t offset) {
  ember_tensor *t = header_new(src->dtype, ndim, shape);
  if (t == NULL) return NULL;
  if (ndim) memcpy(t->stride, stride, ndim * sizeof *stride);
  t->offset = offset;
  t->storage = src->storage;
  ember_storage_retain(t->storage);
  return t;
}

/* Autograd owns what hangs off t->autograd; it installs this to free it. */
void (*ember_autograd_free_hook)(ember_tensor *t) = NULL;

void ember_tensor_retain(ember_tensor *t) {
  __atomic_add_fetch(&t->refcount, 1, __ATOMIC_RELAXED);
}

void ember_tensor_release(ember_tensor *t) {
  if (t == NULL || __atomic_sub_fetch(&t->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
  if (t->autograd && ember_autograd_free_hook) ember_autograd_free_hook(t);
  ember_storage_release(t->storage);
  header_free(t);
}

int64_t ember_tensor_numel(const ember_tensor *t) {
  return ember_shape_numel(t->ndim, t->shape);
}

int ember_tensor_is_contiguous(const ember_tensor *t) {
  int64_t expect = 1;
  for (int i = t->ndim - 1; i >= 0; i--) {
    if (t->shape[i] == 1) continue;
    if (t->shape[i] == 0) return 1;
    if (t->stride[i] != expect) return 0;
    expect *= t->shape[i];
  }
  return 1;
}

void *ember_tensor_data(const ember_tensor *t) {
  return (char *)t->storage->data + t->offset * (int64_t)ember_dtype_size(t->dtype);
}

size_t ember_tensor_nbytes(const ember_tensor *t) {
  return ember_dtype_nbytes(t->dtype, ember_tensor_numel(t));
}

char *ember_shape_str(const ember_tensor *t, char *buf, size_t n) {
  return ember_shape_text(t->ndim, t->shape, buf, n);
}

char *ember_tensor_ptr(const ember_tensor *t, const int64_t *index) {
  int64_t off = t->offset;
  for (int i = 0; i < t->ndim; i++) off += index[i] * t->stride[i];
  return (char *)t->storage->data + off * (int64_t)ember_dtype_size(t->dtype);
}

/* flat row-major index -> element address */
static char *flat_ptr(const ember_tensor *t, int64_t i) {
  int64_t off = t->offset;
  for (int d = t->ndim - 1; d >= 0; d--) {
    int64_t n = t->shape[d];
    off += (i % n) * t->stride[d];
    i /= n;
  }
  return (char *)t->storage->data + off * (int64_t)ember_dtype_size(t->dtype);
}

/* One element of a device tensor, as a 0-dim view copied to the host (this waits
** for the device: reading values one at a time is for printing and tests). */
static ember_tensor *device_element(const ember_tensor *t, int64_t i) {
  int64_t off = t->offset;
  for (int d = t->ndim - 1; d >= 0; d--) {
    off += (i % t->shape[d]) * t->stride[d];
    i /= t->shape[d];
  }
  return ember_tensor_view_of(t, 0, NULL, NULL, off);
}

double ember_tensor_get(const ember_tensor *t, int64_t i) {
  if (t->storage->device != EMBER_CPU) {
    ember_tensor *e = device_element(t, i);
    ember_tensor *h = e ? ember_to_device(e, EMBER_CPU) : NULL;
    double v = h ? ember_load_f64(h->dtype, ember_tensor_data(h)) : 0.0 / 0.0;
    ember_tensor_release(h);
    ember_tensor_release(e);
    return v;
  }
  if (ember_dtype_is_subbyte(t->dtype))   /* packed, always contiguous */
    return ember_minifloat_decode(t->dtype,
                                  ember_subbyte_get(t->dtype, ember_tensor_data(t), i));
  return ember_load_f64(t->dtype, flat_ptr(t, i));
}

ember_status ember_tensor_set(ember_tensor *t, int64_t i, double v) {
  if (i < 0 || i >= ember_tensor_numel(t))
    return ember_error("set: index %lld out of range for %lld elements", (long long)i,
                       (long long)ember_tensor_numel(t));
  if (t->storage->device != EMBER_CPU) {
    ember_tensor *e = device_element(t, i);
    ember_tensor *h = e ? ember_tensor_scalar(EMBER_F64, v) : NULL;
    ember_status st = h ? ember_copy_(e, h) : EMBER_ERROR;
    ember_tensor_release(h);
    ember_tensor_release(e);
    return st;
  }
  if (ember_dtype_is_subbyte(t->dtype)) {
    ember_subbyte_set(t->dtype, ember_tensor_data(t), i, ember_minifloat_encode(t->dtype, (float)v));
    return EMBER_OK;
  }
  ember_store_f64(t->dtype, flat_ptr(t, i), v);
  return EMBER_OK;
}
