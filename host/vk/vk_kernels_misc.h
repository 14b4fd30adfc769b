/* vk_kernels_misc.h — Vulkan kernels of the misc family (host/vk/vk_misc*.c). */
#ifndef EMBER_VK_KERNELS_MISC_H
#define EMBER_VK_KERNELS_MISC_H

#include "ops.h"

#endif
