/* vk_kernels_conv.h — Vulkan kernels of the conv family (host/vk/vk_conv*.c). */
#ifndef EMBER_VK_KERNELS_CONV_H
#define EMBER_VK_KERNELS_CONV_H

#include "ops.h"

#endif
