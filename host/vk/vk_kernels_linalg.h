/* vk_kernels_linalg.h — Vulkan kernels of the linalg family (host/vk/vk_linalg*.c). */
#ifndef EMBER_VK_KERNELS_LINALG_H
#define EMBER_VK_KERNELS_LINALG_H

#include "ops.h"

#endif
