/*
** vk_backend.c — the Vulkan device as the core sees it (ember_backend): storage that
** lives in device memory, and copies to, from and on the device.
**
** A copy that needs no conversion moves bytes (vkCmdCopyBuffer, or memcpy when the
** memory is mapped); anything strided, broadcast or converted runs the copy shader,
** on the device, so that only the bytes of the smaller side cross the bus.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk.h"

/* {====== storage */

typedef struct vk_storage_ctx { vk_alloc a; } vk_storage_ctx;

static void release(void *data, size_t nbytes, void *ctx) {
  (void)data; (void)nbytes;
  vk_storage_ctx *s = ctx;
  extern int ember_vk_started(void);
  if (ember_vk_started() && s->a.block) {
    if (s->a.used) vk_batch_defer_free(&s->a);
    else vk_alloc_free(&s->a);
  }
  free(s);
}

static ember_storage *storage_new(size_t nbytes) {
  vk_storage_ctx *ctx = calloc(1, sizeof *ctx);
  if (ctx == NULL) {
    ember_error("out of memory");
    return NULL;
  }
  if (vk_alloc_new(nbytes, &ctx->a) != EMBER_OK) {
    free(ctx);
    return NULL;
  }
  ember_storage *s = ember_storage_wrap(NULL, nbytes, EMBER_ALLOC_DEVICE, release, ctx);
  if (s == NULL) {
    vk_alloc_free(&ctx->a);
    free(ctx);
    return NULL;
  }
  s->device_handle = ctx;
  return s;
}

vk_alloc *vk_storage_alloc(const ember_storage *s) {
  if (s == NULL || s->device != EMBER_VULKAN || s->device_handle == NULL) return NULL;
  return &((vk_storage_ctx *)s->device_handle)->a;
}

/* The range has no block of its own: release frees only the context. */
ember_storage *vk_storage_range(const vk_alloc *a, VkDeviceSize off, VkDeviceSize size) {
  vk_storage_ctx *ctx = calloc(1, sizeof *ctx);
  if (ctx == NULL) {
    ember_error("out of memory");
    return NULL;
  }
  ctx->a = (vk_alloc){ .buffer = a->buffer, .offset = a->offset + off, .size = size,
                       .mapped = a->mapped ? (char *)a->mapped + off : NULL };
  ember_storage *s = ember_storage_wrap(NULL, (size_t)size, EMBER_ALLOC_DEVICE, release, ctx);
  if (s == NULL) {
    free(ctx);
    return NULL;
  }
  s->device_handle = ctx;
  return s;
}

/* }====== */

/* {====== layouts */

int vk_dtype_code(ember_dtype dt) {
  return (int)dt;   /* shaders/common.glsl numbers the compute dtypes as ember.h does */
}

ember_dtype vk_raw_dtype(ember_dtype dt) {
  switch (ember_dtype_size(dt)) {
  case 1: return EMBER_U8;
  case 2: return EMBER_I16;
  case 4: return EMBER_I32;
  default: return EMBER_I64;
  }
}

int vk_fits_i32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }

void vk_layout_make(vk_layout *l, int ndim, const int64_t *shape, int n, const ember_tensor *const *t) {
  int64_t st[VK_MAX_BINDINGS][EMBER_MAX_DIMS];
  for (int k = 0; k < n; k++) {
    ember_broadcast_strides(t[k], ndim, shape, st[k]);
    l->offset[k] = t[k]->offset;
  }
  l->numel = ember_shape_numel(ndim, shape);
  int nd = 0;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == 1) continue;                       /* size-1 dims carry nothing */
    int merge = nd > 0;
    for (int k = 0; k < n && merge; k++)
      merge = l->stride[k][nd - 1] == st[k][d] * shape[d];
    if (merge) {
      l->shape[nd - 1] *= shape[d];
      for (int k = 0; k < n; k++) l->stride[k][nd - 1] = st[k][d];
    } else {
      l->shape[nd] = shape[d];
      for (int k = 0; k < n; k++) l->stride[k][nd] = st[k][d];
      nd++;
    }
  }
  l->ndim = nd;
}

/* }====== */

/* {====== dense copies for kernels */

static int is_dense(const ember_tensor *t, ember_dtype dt, int ndim, const int64_t *shape) {
  return t->storage->device == EMBER_VULKAN && t->dtype == dt && t->ndim == ndim &&
         memcmp(t->shape, shape, (size_t)ndim * sizeof *shape) == 0 &&
         ember_tensor_is_contiguous(t) && t->offset + ember_tensor_numel(t) <= VK_INDEX_LIMIT;
}

ember_tensor *vk_dense(ember_tensor *t, ember_dtype dt, int ndim, const int64_t *shape) {
  if (dt == EMBER_DTYPE_NONE) dt = t->dtype;
  if (shape == NULL) {
    ndim = t->ndim;
    shape = t->shape;
  }
  if (is_dense(t, dt, ndim, shape)) {
    ember_tensor_retain(t);
    return t;
  }
  ember_tensor *e = ember_expand(t, ndim, shape);
  ember_tensor *d = e ? ember_tensor_empty_on(EMBER_VULKAN, dt, ndim, shape) : NULL;
  if (d && ember_copy_(d, e) != EMBER_OK) {
    ember_tensor_release(d);
    d = NULL;
  }
  ember_tensor_release(e);
  return d;
}

/* }====== */

/* {====== copies on the device */

/* push constants of shaders/copy.comp */
typedef struct copy_push {
  int32_t ndim;
  uint32_t numel;
  int32_t off_d, off_s;
  int32_t shape[8], sd[8], ss[8];
  uint32_t fill[2];
} copy_push;

static int needs_16(ember_dtype dt) { return dt == EMBER_F16 || dt == EMBER_BF16 || dt == EMBER_I16; }

ember_status vk_shader_variant(char *buf, size_t n, const char *base, int ndt, const ember_dtype *dts) {
  int x16 = 0, f64 = 0;
  ember_dtype which16 = EMBER_F16;
  for (int k = 0; k < ndt; k++) {
    if (needs_16(dts[k])) x16 = 1, which16 = dts[k];
    f64 |= dts[k] == EMBER_F64;
  }
  if (x16 && !vk.has_f16)
    return ember_error("vulkan: this device has no 16-bit storage for %s tensors%s",
                       ember_dtype_name(which16),
                       getenv("EMBER_VK_DISABLE_F16") ? " (EMBER_VK_DISABLE_F16 is set)" : "");
  if (f64 && !vk.has_f64) return ember_error("vulkan: this device has no 64-bit floats (f64)");
  snprintf(buf, n, "%s%s%s%s", base, x16 || f64 ? "." : "", x16 ? "x16" : "", f64 ? "f64" : "");
  return EMBER_OK;
}

static ember_status check_compute(ember_dtype dt) {
  if (dt >= EMBER_COMPUTE_DTYPES)
    return ember_error("vulkan: %s values cannot be converted on the device; convert them on "
                       "the cpu", ember_dtype_name(dt));
  return EMBER_OK;
}

/* dst[...] = src (or the value in fill when src is NULL), dst's strides, src broadcast. */
static ember_status copy_kernel(ember_tensor *dst, const ember_tensor *src, const uint32_t *fill) {
  ember_dtype dd = dst->dtype, sd = src ? src->dtype : dst->dtype;
  if (src && dd == sd) dd = sd = vk_raw_dtype(dd);
  else if (check_compute(dd) != EMBER_OK || (src && check_compute(sd) != EMBER_OK)) return EMBER_ERROR;
  if (fill) dd = sd = vk_raw_dtype(dd);
  vk_layout l;
  const ember_tensor *ts[2] = { dst, src ? src : dst };
  vk_layout_make(&l, dst->ndim, dst->shape, 2, ts);
  if (l.numel == 0) return EMBER_OK;
  copy_push p = { .ndim = l.ndim, .numel = (uint32_t)l.numel };
  if (l.numel > INT32_MAX || !vk_fits_i32(l.offset[0]) || !vk_fits_i32(l.offset[1]))
    return ember_error("vulkan: copy of %lld elements is beyond 32-bit indexing", (long long)l.numel);
  p.off_d = (int32_t)l.offset[0];
  p.off_s = (int32_t)l.offset[1];
  for (int d = 0; d < l.ndim; d++) {
    if (!vk_fits_i32(l.stride[0][d]) || !vk_fits_i32(l.stride[1][d]))
      return ember_error("vulkan: copy strides beyond 32-bit indexing");
    p.shape[d] = (int32_t)l.shape[d];
    p.sd[d] = (int32_t)l.stride[0][d];
    p.ss[d] = (int32_t)l.stride[1][d];
  }
  if (fill) memcpy(p.fill, fill, sizeof p.fill);
  vk_launch_args a = { .nbind = 2, .bind = { dst, src ? src : dst }, .write = { 1, 0 },
                       .push = &p, .push_bytes = sizeof p };
  char name[32];
  ember_dtype dts[2] = { dd, sd };
  if (vk_shader_variant(name, sizeof name, "copy", 2, dts) != EMBER_OK) return EMBER_ERROR;
  a.shader = name;
  a.spec[0] = 256; a.spec[1] = 1; a.spec[2] = 1;
  a.spec[3] = (uint32_t)vk_dtype_code(dd);
  a.spec[4] = (uint32_t)vk_dtype_code(sd);
  a.spec[5] = fill != NULL;
  vk_groups_1d(l.numel, 256, a.groups);
  return vk_launch(&a);
}

/* Bytes of a contiguous tensor: its range in the storage's allocation. */
static int plain(const ember_tensor *t) {
  return ember_tensor_is_contiguous(t);
}

static ember_status device_copy(ember_tensor *dst, const ember_tensor *src) {
  if (dst->dtype == src->dtype && plain(dst) && plain(src) && ember_same_shape(dst, src)) {
    size_t n = ember_tensor_nbytes(dst), es = ember_dtype_size(dst->dtype);
    if (n == 0) return EMBER_OK;
    vk_alloc *ad = vk_storage_alloc(dst->storage), *as = vk_storage_alloc(src->storage);
    VkCommandBuffer cmd;
    if (vk_batch_cmd(&cmd) != EMBER_OK) return EMBER_ERROR;
    VkBufferCopy region = { as->offset + src->offset * es, ad->offset + dst->offset * es, n };
    vk_batch_access(as->buffer, region.srcOffset, n, 0);
    vk_batch_access(ad->buffer, region.dstOffset, n, 1);
    ad->used = as->used = 1;
    vkCmdCopyBuffer(cmd, as->buffer, ad->buffer, 1, &region);
    return vk_batch_count();
  }
  return copy_kernel(dst, src, NULL);
}

/* dst = one value: converted on the host to dst's dtype, written by the shader. */
static ember_status device_fill(ember_tensor *dst, const ember_tensor *one) {
  uint8_t bits[8] = {0};
  ember_convert(dst->dtype, bits, one->dtype, ember_tensor_data(one), 1);
  uint32_t fill[2];
  memcpy(fill, bits, sizeof fill);
  size_t es = ember_dtype_size(dst->dtype);
  if (plain(dst) && fill[0] == 0 && fill[1] == 0 && ember_tensor_nbytes(dst) % 4 == 0 &&
      (dst->offset * es) % 4 == 0) {
    size_t n = ember_tensor_nbytes(dst);
    if (n == 0) return EMBER_OK;
    vk_alloc *ad = vk_storage_alloc(dst->storage);
    VkCommandBuffer cmd;
    if (vk_batch_cmd(&cmd) != EMBER_OK) return EMBER_ERROR;
    vk_batch_access(ad->buffer, ad->offset + dst->offset * es, n, 1);
    ad->used = 1;
    vkCmdFillBuffer(cmd, ad->buffer, ad->offset + dst->offset * es, n, 0);
    return vk_batch_count();
  }
  return copy_kernel(dst, NULL, fill);
}

/* The bytes of contiguous device tensor d from (up) or to contiguous host tensor h, of
** the same dtype and size. */
static ember_status transfer(const ember_tensor *d, const ember_tensor *h, int up) {
  vk_alloc *a = vk_storage_alloc(d->storage);
  VkDeviceSize off = d->offset * ember_dtype_size(d->dtype);
  if (up) return vk_upload(a, off, ember_tensor_data(h), ember_tensor_nbytes(h));
  return vk_download(a, off, ember_tensor_data(h), ember_tensor_nbytes(h));
}

/* host -> device */
static ember_status upload(ember_tensor *dst, const ember_tensor *src) {
  if (ember_tensor_numel(src) == 1) return device_fill(dst, src);
  if (dst->dtype == src->dtype && plain(dst) && plain(src) && ember_same_shape(dst, src))
    return transfer(dst, src, 1);
  /* the source's own bytes go up as they are; the device converts, broadcasts and
  ** scatters them into dst */
  ember_tensor *hc = ember_contiguous((ember_tensor *)src);
  ember_tensor *dc = hc ? ember_tensor_empty_on(EMBER_VULKAN, src->dtype, src->ndim, src->shape) : NULL;
  ember_status st = dc ? transfer(dc, hc, 1) : EMBER_ERROR;
  if (st == EMBER_OK) st = device_copy(dst, dc);
  ember_tensor_release(dc);
  ember_tensor_release(hc);
  return st;
}

/* device -> host */
static ember_status download(ember_tensor *dst, const ember_tensor *src) {
  if (dst->dtype == src->dtype && plain(dst) && plain(src) && ember_same_shape(dst, src))
    return transfer(src, dst, 0);
  /* convert and gather on the device, then bring the contiguous result over (into dst
  ** itself when it is contiguous) */
  ember_tensor *dc = ember_tensor_empty_on(EMBER_VULKAN, dst->dtype, dst->ndim, dst->shape);
  ember_status st = dc ? device_copy(dc, src) : EMBER_ERROR;
  if (st == EMBER_OK) {
    ember_tensor *hc = plain(dst) ? dst : ember_tensor_empty(dst->dtype, dst->ndim, dst->shape);
    st = hc ? transfer(dc, hc, 0) : EMBER_ERROR;
    if (st == EMBER_OK && hc != dst) st = ember_copy_(dst, hc);
    if (hc != dst) ember_tensor_release(hc);
  }
  ember_tensor_release(dc);
  return st;
}

static ember_status copy(ember_tensor *dst, const ember_tensor *src) {
  if (vk_start() != EMBER_OK) return EMBER_ERROR;
  int dv = dst->storage->device == EMBER_VULKAN, sv = src->storage->device == EMBER_VULKAN;
  if (dv && sv) return device_copy(dst, src);
  if (dv) return upload(dst, src);
  return download(dst, src);
}

/* }====== */

static size_t bytes_in_use(void) {
  return vk_memory_in_use();
}

static const ember_backend backend = { "vulkan", storage_new, copy, bytes_in_use };

const ember_backend *ember_vk_backend(void) {
  return vk_start() == EMBER_OK ? &backend : NULL;
}
