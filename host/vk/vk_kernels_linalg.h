/* vk_kernels_linalg.h — Vulkan kernels of the linalg family (host/vk/vk_linalg*.c). */
#ifndef EMBER_VK_KERNELS_LINALG_H
#define EMBER_VK_KERNELS_LINALG_H

#include "ops.h"

ember_status vk_matmul(ember_call *c);   /* matmul, mm, bmm */
ember_status vk_addmm(ember_call *c);
ember_status vk_outer(ember_call *c);
ember_status vk_dot(ember_call *c);
ember_status vk_linear(ember_call *c);   /* nn's linear (host/ops/ops_nn.c) */
ember_status vk_fused_linear(ember_call *c);   /* export's (host/ops/ops_fused.c) */

#endif
