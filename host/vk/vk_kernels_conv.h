/* vk_kernels_conv.h — Vulkan kernels of the conv family (host/vk/vk_conv.c, vk_pool.c,
** vk_resize.c), and the helpers those files share. */
#ifndef EMBER_VK_KERNELS_CONV_H
#define EMBER_VK_KERNELS_CONV_H

#include "ops.h"

/* {====== conv family helpers (vk_conv.c) */

/* The NCHW strides of a 3-D (CHW: batch stride 0) or 4-D image t, and its offset,
** as the shaders read them: 0 when an element index would not fit 32 bits. */
int vk_conv_image(const ember_tensor *t, int32_t st[4], int32_t *off);
/* 1 when every element of t (its shape, offset and strides) lies at an index in
** [0, INT32_MAX] of its storage. */
int vk_conv_index_fits(const ember_tensor *t);
/* c's error for sizes or strides past the shaders' 32-bit indexing. */
ember_status vk_conv_too_large(ember_call *c);
/* c's output k: contiguous, its elements indexable in 32 bits (else c's error). */
ember_status vk_conv_check_out(ember_call *c, const ember_tensor *out);
/* A new device tensor of n elements of dt holding data (n may be 0). */
ember_tensor *vk_conv_upload(ember_dtype dt, int64_t n, const void *data);
/* One dispatch of shader `base` (its f64 variant when dt is f64) over n invocations
** in groups of `local`, spec[3] = s3 and spec[4] = s4, tensors bind[0..nb) (the
** first written), push constants push. */
ember_status vk_conv_launch(const char *base, ember_dtype dt, uint32_t s3, uint32_t s4, int nb,
                            const ember_tensor *const *bind, const void *push, size_t bytes,
                            int64_t n, uint32_t local);

/* }====== */

/* {====== kernels */
ember_status vk_conv2d(ember_call *c);
ember_status vk_fused_conv2d(ember_call *c);   /* export's (host/ops/ops_fused.c) */
ember_status vk_conv_transpose2d(ember_call *c);
ember_status vk_conv2d_backward_input(ember_call *c);
ember_status vk_conv2d_backward_weight(ember_call *c);
ember_status vk_max_pool2d(ember_call *c);
ember_status vk_avg_pool2d(ember_call *c);
ember_status vk_adaptive_avg_pool2d(ember_call *c);
ember_status vk_max_pool2d_backward(ember_call *c);
ember_status vk_avg_pool2d_backward(ember_call *c);
ember_status vk_adaptive_avg_pool2d_backward(ember_call *c);
ember_status vk_pad(ember_call *c);
ember_status vk_pad_backward(ember_call *c);
ember_status vk_interpolate(ember_call *c);
ember_status vk_interpolate_backward(ember_call *c);
/* }====== */

#endif
