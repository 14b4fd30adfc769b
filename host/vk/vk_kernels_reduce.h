/* vk_kernels_reduce.h — Vulkan kernels of the reduce family (host/vk/vk_reduce*.c). */
#ifndef EMBER_VK_KERNELS_REDUCE_H
#define EMBER_VK_KERNELS_REDUCE_H

#include "ops.h"

/* {====== helpers (vk_reduce.c) */
/* Workgroup size for one group per row of n elements: the smallest power of two >= n,
** between 32 and 256. */
uint32_t vk_reduce_group(int64_t n);
/* }====== */

/* {====== reduce (vk_reduce.c) */
ember_status vk_sum(ember_call *c);
ember_status vk_mean(ember_call *c);
ember_status vk_prod(ember_call *c);
ember_status vk_max(ember_call *c);
ember_status vk_min(ember_call *c);
ember_status vk_argmax(ember_call *c);
ember_status vk_argmin(ember_call *c);
ember_status vk_var(ember_call *c);
ember_status vk_std(ember_call *c);
ember_status vk_norm(ember_call *c);
ember_status vk_logsumexp(ember_call *c);
ember_status vk_all(ember_call *c);
ember_status vk_any(ember_call *c);
ember_status vk_cumsum(ember_call *c);
/* }====== */

/* {====== row-wise nn ops (vk_reduce_norm.c) */
ember_status vk_softmax(ember_call *c);
ember_status vk_log_softmax(ember_call *c);
ember_status vk_layer_norm(ember_call *c);
ember_status vk_batch_norm(ember_call *c);
/* }====== */

/* {====== batch_norm in training (vk_norm_train.c) */
ember_status vk_batch_norm_train(ember_call *c);
ember_status vk_batch_norm_train_backward(ember_call *c);
/* }====== */

#endif
