/* vk_kernels_reduce.h — Vulkan kernels of the reduce family (host/vk/vk_reduce*.c). */
#ifndef EMBER_VK_KERNELS_REDUCE_H
#define EMBER_VK_KERNELS_REDUCE_H

#include "ops.h"

#endif
