/* vk_kernels_misc.h — Vulkan kernels of the misc family (host/vk/vk_creation.c,
** vk_loss.c, vk_optim.c): creation ops, random tensors and dropout, cross_entropy,
** the fused optimizer steps. */
#ifndef EMBER_VK_KERNELS_MISC_H
#define EMBER_VK_KERNELS_MISC_H

#include "ops.h"

/* vk_creation.c */
ember_status vk_empty(ember_call *c);
ember_status vk_zeros(ember_call *c);
ember_status vk_ones(ember_call *c);
ember_status vk_full(ember_call *c);
ember_status vk_arange(ember_call *c);
ember_status vk_linspace(ember_call *c);
ember_status vk_eye(ember_call *c);
ember_status vk_rand(ember_call *c);
ember_status vk_randn(ember_call *c);
ember_status vk_randint(ember_call *c);
ember_status vk_dropout(ember_call *c);
ember_status vk_dropout_backward(ember_call *c);

/* vk_loss.c */
ember_status vk_cross_entropy(ember_call *c);
ember_status vk_cross_entropy_backward(ember_call *c);

/* vk_optim.c */
ember_status vk_sgd_step(ember_call *c);
ember_status vk_adam_step(ember_call *c);

#endif
