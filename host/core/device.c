/*
** device.c — which device a tensor lives on, and the backends that serve devices
** other than the CPU. The core knows a backend only through ember_backend: host/vk
** provides ember_vk_backend(), referenced weakly here so that a build without host/vk
** (the fuzzers) still links, and reports the device as not built in.
*/
#include <stdlib.h>
#include <string.h>

#include "core.h"

const ember_backend *ember_vk_backend(void) __attribute__((weak));

static const char device_names[][8] = { "cpu", "vulkan" };   /* no pointers to relocate */

const char *ember_device_name(ember_device dev) {
  return (unsigned)dev < sizeof device_names / sizeof device_names[0] ? device_names[dev] : "?";
}

ember_status ember_device_parse(const char *name, ember_device *dev) {
  for (unsigned i = 0; i < sizeof device_names / sizeof device_names[0]; i++)
    if (strcmp(name, device_names[i]) == 0) {
      *dev = (ember_device)i;
      return EMBER_OK;
    }
  return ember_error("unknown device \"%s\" (cpu or vulkan)", name);
}

const ember_backend *ember_backend_of(ember_device dev) {
  if (dev == EMBER_VULKAN) {
    if (ember_vk_backend == NULL) {
      ember_error("vulkan: this build of ember has no Vulkan backend");
      return NULL;
    }
    return ember_vk_backend();   /* sets the error when no device can run */
  }
  ember_error("device %s has no backend", ember_device_name(dev));
  return NULL;
}

/* -1: not read yet from EMBER_DEVICE */
static int default_device = -1;

ember_device ember_default_device(void) {
  if (default_device < 0) {
    const char *env = getenv("EMBER_DEVICE");
    ember_device dev = EMBER_CPU;
    if (env && *env && ember_device_parse(env, &dev) != EMBER_OK) dev = EMBER_CPU;
    default_device = dev;
  }
  return (ember_device)default_device;
}

void ember_set_default_device(ember_device dev) {
  default_device = dev;
}

ember_storage *ember_storage_new_on(ember_device dev, size_t nbytes) {
  if (dev == EMBER_CPU) return ember_storage_new(nbytes);
  const ember_backend *b = ember_backend_of(dev);
  return b ? b->storage_new(nbytes) : NULL;
}

ember_tensor *ember_to_device(ember_tensor *t, ember_device dev) {
  if (t->storage->device == dev) {
    ember_tensor_retain(t);
    return t;
  }
  if (ember_dtype_is_subbyte(t->dtype)) {
    ember_error("to: %s tensors are packed and stay on the cpu; convert them first",
                ember_dtype_name(t->dtype));
    return NULL;
  }
  ember_tensor *out = ember_tensor_empty_on(dev, t->dtype, t->ndim, t->shape);
  if (out && ember_copy_(out, t) != EMBER_OK) {
    ember_tensor_release(out);
    return NULL;
  }
  return out;
}
