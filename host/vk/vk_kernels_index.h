/* vk_kernels_index.h — Vulkan kernels of the index family (host/vk/vk_index*.c): the
** index ops (vk_index.c), sort and topk (vk_sort.c), the shape ops (vk_shape.c), and
** embedding and one_hot of the nn family, which are index ops at heart. */
#ifndef EMBER_VK_KERNELS_INDEX_H
#define EMBER_VK_KERNELS_INDEX_H

#include "ops.h"

/* {====== helpers the three files share (vk_index.c) */

/* The integer dtype of dt's element size: the index, shape and sort shaders move
** elements as raw bits (shaders/index_raw.glsl). */
/* EMBER_OK when every tensor of ts[0..n) (NULL entries skipped) can be addressed with
** 32-bit element offsets and strides; else an error naming the op. */
ember_status vk_ix_fit32(const ember_call *c, int n, const ember_tensor *const *ts);
/* Launch shader `base` in the variant the dtypes dts[0..ndt) need; a->spec[0..2] of
** 0 become a workgroup of 256. */
struct vk_launch_args;
ember_status vk_ix_launch(struct vk_launch_args *a, const char *base, int ndt,
                          const ember_dtype *dts);

/* Sort lines of (key, position) pairs: K (int64 keys read as unsigned) and P (32-bit
** positions), rows lines of n each at r * n, by (key, position) ascending. The sorted
** pairs end in *K, *P (the two may be swapped for scratch buffers of the same size). */
ember_status vk_sort_pairs(ember_tensor **K, ember_tensor **P, int64_t rows, int64_t n);

/* }====== */

/* {====== index ops (vk_index.c) */
ember_status vk_index_select(ember_call *c);
ember_status vk_gather(ember_call *c);
ember_status vk_scatter(ember_call *c);
ember_status vk_scatter_add(ember_call *c);
ember_status vk_masked_fill(ember_call *c);
ember_status vk_masked_select(ember_call *c);
ember_status vk_nonzero(ember_call *c);
ember_status vk_embedding(ember_call *c);
ember_status vk_one_hot(ember_call *c);
/* }====== */

/* {====== sort, topk (vk_sort.c) */
ember_status vk_sort(ember_call *c);
ember_status vk_topk(ember_call *c);
/* }====== */

/* {====== shape ops (vk_shape.c); split, chunk and unbind make views: their cpu
** functions serve every device */
ember_status vk_cat(ember_call *c);
ember_status vk_stack(ember_call *c);
ember_status vk_flip(ember_call *c);
ember_status vk_roll(ember_call *c);
ember_status vk_repeat(ember_call *c);
ember_status vk_tril(ember_call *c);
ember_status vk_triu(ember_call *c);
/* }====== */

#endif
