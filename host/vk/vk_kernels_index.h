/* vk_kernels_index.h — Vulkan kernels of the index family (host/vk/vk_index*.c). */
#ifndef EMBER_VK_KERNELS_INDEX_H
#define EMBER_VK_KERNELS_INDEX_H

#include "ops.h"

#endif
