/*
** vk_device.c — the Vulkan instance and the one device ember computes on.
**
** Choice: EMBER_VK_DEVICE names a device by its index in vkEnumeratePhysicalDevices
** order (0-based, as vulkaninfo counts) or by a piece of its name; otherwise the first
** discrete GPU, then integrated, virtual, and last a CPU driver (lavapipe), so a
** machine without a GPU still runs every Vulkan path. The device needs Vulkan 1.2,
** 64-bit integers and 8-bit storage (index tensors and masks live on the device);
** 16-bit storage and 64-bit floats are used when present.
**
** EMBER_VK_VALIDATION=1 turns on the Khronos validation layer; its messages are
** counted and the last ones kept (ember.vk.info()), never printed from here.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vk.h"

vk_device vk;

static int started;              /* 0 not yet, 1 running, -1 failed to start */
static char start_error[512];

const char *vk_result_name(VkResult r) {
  switch (r) {
  case VK_SUCCESS: return "VK_SUCCESS";
  case VK_NOT_READY: return "VK_NOT_READY";
  case VK_TIMEOUT: return "VK_TIMEOUT";
  case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
  case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
  case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
  case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
  case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
  case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
  case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
  case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
  case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
  case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
  case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
  case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
  default: return "VkResult error";
  }
}

ember_status vk_device_lost(const char *where) {
  vk.failed = 1;
  return ember_error("vulkan: device lost during %s; the Vulkan backend is disabled for the "
                     "rest of this process (tensors on the cpu are unaffected)", where);
}

ember_status vk_fail(const char *what, VkResult r) {
  if (r == VK_ERROR_DEVICE_LOST) return vk_device_lost(what);
  if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
    return ember_error("vulkan: out of %s memory in %s (%zu bytes of tensors on the device)",
                       r == VK_ERROR_OUT_OF_DEVICE_MEMORY ? "device" : "host", what,
                       vk_memory_in_use());
  return ember_error("vulkan: %s failed: %s (%d)", what, vk_result_name(r), (int)r);
}

/* {====== validation messages */

#define KEPT_MESSAGES 8
static char kept[KEPT_MESSAGES][512];

static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT sev,
                                                 VkDebugUtilsMessageTypeFlagsEXT type,
                                                 const VkDebugUtilsMessengerCallbackDataEXT *d,
                                                 void *ctx) {
  (void)type; (void)ctx;
  if (!(sev & (VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
               VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)))
    return VK_FALSE;
  snprintf(kept[vk.validation_messages % KEPT_MESSAGES], sizeof kept[0], "%s",
           d->pMessage ? d->pMessage : "?");
  vk.validation_messages++;
  return VK_FALSE;
}

const char *ember_vk_validation_message(unsigned i) {
  if (i >= vk.validation_messages || vk.validation_messages - i > KEPT_MESSAGES) return NULL;
  return kept[i % KEPT_MESSAGES];
}

static VkDebugUtilsMessengerEXT messenger;

/* }====== */

static int has_layer(const char *name) {
  uint32_t n = 0;
  vkEnumerateInstanceLayerProperties(&n, NULL);
  VkLayerProperties *p = calloc(n ? n : 1, sizeof *p);
  int found = 0;
  if (p && vkEnumerateInstanceLayerProperties(&n, p) == VK_SUCCESS)
    for (uint32_t i = 0; i < n; i++) found |= strcmp(p[i].layerName, name) == 0;
  free(p);
  return found;
}

static int device_has_ext(VkPhysicalDevice pd, const char *name) {
  uint32_t n = 0;
  vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL);
  VkExtensionProperties *p = calloc(n ? n : 1, sizeof *p);
  int found = 0;
  if (p && vkEnumerateDeviceExtensionProperties(pd, NULL, &n, p) == VK_SUCCESS)
    for (uint32_t i = 0; i < n; i++) found |= strcmp(p[i].extensionName, name) == 0;
  free(p);
  return found;
}

static ember_status make_instance(void) {
  const char *val = getenv("EMBER_VK_VALIDATION");
  int want_validation = val && *val && strcmp(val, "0") != 0;
  VkApplicationInfo app = {
    .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .pApplicationName = "ember",
    .pEngineName = "ember", .apiVersion = VK_API_VERSION_1_2,
  };
  const char *layers[1] = { "VK_LAYER_KHRONOS_validation" };
  const char *exts[1] = { VK_EXT_DEBUG_UTILS_EXTENSION_NAME };
  VkInstanceCreateInfo ci = { .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app };
  if (want_validation) {
    if (!has_layer(layers[0]))
      return ember_error("vulkan: EMBER_VK_VALIDATION is set but the Khronos validation layer "
                         "is not installed (Debian: vulkan-validationlayers)");
    ci.enabledLayerCount = 1;
    ci.ppEnabledLayerNames = layers;
    ci.enabledExtensionCount = 1;
    ci.ppEnabledExtensionNames = exts;
  }
  VkResult r = vkCreateInstance(&ci, NULL, &vk.instance);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
    return ember_error("vulkan: no Vulkan driver found (install one; on a machine without a "
                       "GPU, Mesa's lavapipe: mesa-vulkan-drivers)");
  if (r != VK_SUCCESS) return vk_fail("vkCreateInstance", r);
  if (want_validation) {
    PFN_vkCreateDebugUtilsMessengerEXT make = (PFN_vkCreateDebugUtilsMessengerEXT)
      vkGetInstanceProcAddr(vk.instance, "vkCreateDebugUtilsMessengerEXT");
    VkDebugUtilsMessengerCreateInfoEXT mi = {
      .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
      .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                         VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
      .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
      .pfnUserCallback = on_message,
    };
    if (make && make(vk.instance, &mi, NULL, &messenger) == VK_SUCCESS) vk.validation = 1;
  }
  return EMBER_OK;
}

static int type_rank(VkPhysicalDeviceType t) {
  switch (t) {
  case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
  case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
  case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
  case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
  default: return 0;
  }
}

typedef struct features {
  VkPhysicalDeviceFeatures2 f2;
  VkPhysicalDeviceVulkan11Features f11;
  VkPhysicalDeviceVulkan12Features f12;
} features;

static void query_features(VkPhysicalDevice pd, features *f) {
  memset(f, 0, sizeof *f);
  f->f2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
  f->f11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES;
  f->f12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
  f->f2.pNext = &f->f11;
  f->f11.pNext = &f->f12;
  vkGetPhysicalDeviceFeatures2(pd, &f->f2);
}

/* NULL when the device can run ember's kernels, else what it lacks. */
static const char *lacks(VkPhysicalDevice pd) {
  VkPhysicalDeviceProperties p;
  vkGetPhysicalDeviceProperties(pd, &p);
  if (p.apiVersion < VK_API_VERSION_1_2) return "Vulkan 1.2";
  features f;
  query_features(pd, &f);
  if (!f.f2.features.shaderInt64) return "shaderInt64";
  if (!f.f12.storageBuffer8BitAccess) return "storageBuffer8BitAccess";
  if (!f.f12.shaderInt8) return "shaderInt8";
  return NULL;
}

static int compute_family(VkPhysicalDevice pd, int want_transfer_only) {
  uint32_t n = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
  VkQueueFamilyProperties q[32];
  if (n > 32) n = 32;
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
  for (uint32_t i = 0; i < n; i++) {
    VkQueueFlags fl = q[i].queueFlags;
    if (want_transfer_only) {
      if ((fl & VK_QUEUE_TRANSFER_BIT) && !(fl & (VK_QUEUE_COMPUTE_BIT | VK_QUEUE_GRAPHICS_BIT)))
        return (int)i;
    } else if (fl & VK_QUEUE_COMPUTE_BIT) {
      return (int)i;
    }
  }
  return -1;
}

static ember_status pick_device(void) {
  uint32_t n = 0;
  VkResult r = vkEnumeratePhysicalDevices(vk.instance, &n, NULL);
  if (r != VK_SUCCESS) return vk_fail("vkEnumeratePhysicalDevices", r);
  if (n == 0)
    return ember_error("vulkan: no Vulkan device (on a machine without a GPU, install Mesa's "
                       "lavapipe: mesa-vulkan-drivers)");
  VkPhysicalDevice *pds = calloc(n, sizeof *pds);
  if (pds == NULL) return ember_error("out of memory");
  vkEnumeratePhysicalDevices(vk.instance, &n, pds);
  const char *want = getenv("EMBER_VK_DEVICE");
  int best = -1, best_rank = -1;
  char why[400] = "";
  for (uint32_t i = 0; i < n; i++) {
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(pds[i], &p);
    if (want && *want) {
      char *end;
      long idx = strtol(want, &end, 10);
      int match = *end == 0 ? idx == (long)i : strcasestr(p.deviceName, want) != NULL;
      if (!match) continue;
    }
    const char *missing = lacks(pds[i]);
    if (missing == NULL && compute_family(pds[i], 0) < 0) missing = "a compute queue";
    if (missing) {
      snprintf(why, sizeof why, "%s lacks %s", p.deviceName, missing);
      continue;
    }
    if (type_rank(p.deviceType) > best_rank) {
      best = (int)i;
      best_rank = type_rank(p.deviceType);
    }
  }
  if (best < 0) {
    free(pds);
    if (want && *want)
      return ember_error("vulkan: EMBER_VK_DEVICE=%s matches no usable device%s%s", want,
                         *why ? ": " : "", why);
    return ember_error("vulkan: no usable device: %s", why);
  }
  vk.phys = pds[best];
  vk.index = best;
  free(pds);
  vkGetPhysicalDeviceProperties(vk.phys, &vk.props);
  vkGetPhysicalDeviceMemoryProperties(vk.phys, &vk.mem);
  snprintf(vk.name, sizeof vk.name, "%s", vk.props.deviceName);
  return EMBER_OK;
}

/* VK_KHR_cooperative_matrix postdates Debian 12's Vulkan headers (1.3.239): the few
** names its query needs, as the Vulkan registry defines them. */
#define KHR_COOPMAT_NAME "VK_KHR_cooperative_matrix"
#define KHR_COOPMAT_PROPERTIES_STYPE ((VkStructureType)1000506001)
typedef struct khr_coopmat_properties {
  VkStructureType sType;
  void *pNext;
  uint32_t MSize, NSize, KSize;
  VkComponentTypeNV AType, BType, CType, ResultType;
  VkBool32 saturatingAccumulation;
  VkScopeNV scope;
} khr_coopmat_properties;
typedef VkResult (VKAPI_PTR *khr_coopmat_query)(VkPhysicalDevice, uint32_t *, khr_coopmat_properties *);

/* The KHR extension's f16 x f16 + f32 subgroup shapes, for ember.vk.info(): the
** matmul shader is written with GL_NV_cooperative_matrix (Debian's glslc has no
** GL_KHR_cooperative_matrix yet), so a device with only KHR's takes the tiled path. */
static void query_coopmat_khr(void) {
  if (!device_has_ext(vk.phys, KHR_COOPMAT_NAME)) return;
  khr_coopmat_query get = (khr_coopmat_query)
    vkGetInstanceProcAddr(vk.instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
  uint32_t n = 0;
  if (get == NULL || get(vk.phys, &n, NULL) != VK_SUCCESS || n == 0) return;
  khr_coopmat_properties *p = calloc(n, sizeof *p);
  if (p == NULL) return;
  for (uint32_t i = 0; i < n; i++) p[i].sType = KHR_COOPMAT_PROPERTIES_STYPE;
  if (get(vk.phys, &n, p) == VK_SUCCESS)
    for (uint32_t i = 0; i < n && !vk.coopmat_khr_m; i++)
      if (p[i].AType == VK_COMPONENT_TYPE_FLOAT16_NV && p[i].BType == VK_COMPONENT_TYPE_FLOAT16_NV &&
          p[i].CType == VK_COMPONENT_TYPE_FLOAT32_NV && p[i].scope == VK_SCOPE_SUBGROUP_NV) {
        vk.coopmat_khr_m = (int)p[i].MSize;
        vk.coopmat_khr_n = (int)p[i].NSize;
        vk.coopmat_khr_k = (int)p[i].KSize;
      }
  free(p);
}

/* Shapes of VK_NV_cooperative_matrix the device runs f16 x f16 + f32 in; the first
** one found is kept (the matmul kernel is written for 16x16x16 or 16x8x16). */
static void query_coopmat(void) {
  query_coopmat_khr();
  if (!device_has_ext(vk.phys, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME)) return;
  PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV get =
    (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV)
      vkGetInstanceProcAddr(vk.instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV");
  if (get == NULL) return;
  uint32_t n = 0;
  if (get(vk.phys, &n, NULL) != VK_SUCCESS || n == 0) return;
  VkCooperativeMatrixPropertiesNV *p = calloc(n, sizeof *p);
  if (p == NULL) return;
  for (uint32_t i = 0; i < n; i++) p[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV;
  if (get(vk.phys, &n, p) == VK_SUCCESS)
    for (uint32_t i = 0; i < n && !vk.coopmat; i++)
      if (p[i].AType == VK_COMPONENT_TYPE_FLOAT16_NV && p[i].BType == VK_COMPONENT_TYPE_FLOAT16_NV &&
          p[i].CType == VK_COMPONENT_TYPE_FLOAT32_NV && p[i].DType == VK_COMPONENT_TYPE_FLOAT32_NV &&
          p[i].scope == VK_SCOPE_SUBGROUP_NV && p[i].MSize == 16 && p[i].KSize == 16 &&
          (p[i].NSize == 16 || p[i].NSize == 8)) {
        vk.coopmat = 2;
        vk.coopmat_m = (int)p[i].MSize;
        vk.coopmat_n = (int)p[i].NSize;
        vk.coopmat_k = (int)p[i].KSize;
      }
  free(p);
}

static ember_status make_device(void) {
  features have;
  query_features(vk.phys, &have);
  const char *nof16 = getenv("EMBER_VK_DISABLE_F16");
  int f16_off = nof16 && *nof16 && strcmp(nof16, "0") != 0;
  vk.has_f16 = have.f11.storageBuffer16BitAccess && have.f12.shaderFloat16 && !f16_off;
  vk.has_f64 = have.f2.features.shaderFloat64;
  features on;
  memset(&on, 0, sizeof on);
  on.f2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
  on.f11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES;
  on.f12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
  on.f2.pNext = &on.f11;
  on.f11.pNext = &on.f12;
  on.f2.features.shaderInt64 = VK_TRUE;
  on.f2.features.shaderFloat64 = (VkBool32)vk.has_f64;
  on.f2.features.shaderInt16 = have.f2.features.shaderInt16;
  on.f12.storageBuffer8BitAccess = VK_TRUE;
  on.f12.shaderInt8 = VK_TRUE;
  on.f11.storageBuffer16BitAccess = (VkBool32)vk.has_f16;
  on.f12.shaderFloat16 = (VkBool32)vk.has_f16;
  if (!on.f2.features.shaderInt16) vk.has_f16 = 0, on.f11.storageBuffer16BitAccess = 0,
                                   on.f12.shaderFloat16 = 0;
  if (!f16_off) query_coopmat();
  VkPhysicalDeviceCooperativeMatrixFeaturesNV cm = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV,
    .cooperativeMatrix = VK_TRUE,
  };
  const char *exts[2];
  uint32_t next = 0;
  if (vk.coopmat == 2 && vk.has_f16) {
    on.f12.pNext = &cm;
    exts[next++] = VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME;
    on.f12.vulkanMemoryModel = have.f12.vulkanMemoryModel;
  } else {
    vk.coopmat = 0;
  }
  int cf = compute_family(vk.phys, 0), tf = compute_family(vk.phys, 1);
  vk.queue_family = (uint32_t)cf;
  vk.transfer_family = tf >= 0 ? (uint32_t)tf : (uint32_t)cf;
  float prio = 1.0f;
  VkDeviceQueueCreateInfo q[2] = {
    { .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, .queueFamilyIndex = vk.queue_family,
      .queueCount = 1, .pQueuePriorities = &prio },
    { .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, .queueFamilyIndex = vk.transfer_family,
      .queueCount = 1, .pQueuePriorities = &prio },
  };
  VkDeviceCreateInfo ci = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .pNext = &on.f2,
    .queueCreateInfoCount = vk.transfer_family != vk.queue_family ? 2 : 1,
    .pQueueCreateInfos = q, .enabledExtensionCount = next, .ppEnabledExtensionNames = exts,
  };
  VkResult r = vkCreateDevice(vk.phys, &ci, NULL, &vk.dev);
  if (r != VK_SUCCESS) return vk_fail("vkCreateDevice", r);
  vkGetDeviceQueue(vk.dev, vk.queue_family, 0, &vk.queue);
  vkGetDeviceQueue(vk.dev, vk.transfer_family, 0, &vk.transfer);
  VkPhysicalDeviceSubgroupProperties sg = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES };
  VkPhysicalDeviceProperties2 p2 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sg };
  vkGetPhysicalDeviceProperties2(vk.phys, &p2);
  vk.subgroup_size = (int)sg.subgroupSize;
  features f;
  query_features(vk.phys, &f);
  (void)f;
  return EMBER_OK;
}

static void stop(void) {
  if (started != 1) return;
  vkDeviceWaitIdle(vk.dev);
  vk_batch_stop();
  vk_pipeline_stop();
  vk_memory_stop();
  vkDestroyDevice(vk.dev, NULL);
  if (messenger) {
    PFN_vkDestroyDebugUtilsMessengerEXT destroy = (PFN_vkDestroyDebugUtilsMessengerEXT)
      vkGetInstanceProcAddr(vk.instance, "vkDestroyDebugUtilsMessengerEXT");
    if (destroy) destroy(vk.instance, messenger, NULL);
  }
  vkDestroyInstance(vk.instance, NULL);
  started = 0;
}

ember_status vk_start(void) {
  if (started == 1) return vk.failed ? vk_device_lost("an earlier call") : EMBER_OK;
  if (started == -1) return ember_error("%s", start_error);
  ember_status st = make_instance();
  if (st == EMBER_OK) st = pick_device();
  if (st == EMBER_OK) st = make_device();
  if (st == EMBER_OK) st = vk_memory_start();
  if (st == EMBER_OK) st = vk_batch_start();
  if (st == EMBER_OK) st = vk_pipeline_start();
  if (st != EMBER_OK) {
    snprintf(start_error, sizeof start_error, "%s", ember_last_error());
    started = -1;
    return EMBER_ERROR;
  }
  started = 1;
  atexit(stop);
  return EMBER_OK;
}

int ember_vk_started(void) {
  return started == 1;
}

uint64_t ember_vk_submits(void);

/* For tests of the fault path: what a VK_ERROR_DEVICE_LOST does, without losing one. */
void ember_vk_mark_lost(void) {
  if (started == 1) vk_device_lost("a simulated loss (ember.vk._lose_device)");
}

ember_status ember_vk_get_info(ember_vk_info *out) {
  static const char *types[] = { "other", "integrated", "discrete", "virtual", "cpu" };
  memset(out, 0, sizeof *out);
  if (started != 1 && vk_start() != EMBER_OK) return EMBER_ERROR;   /* a lost device still reports */
  out->name = vk.name;
  out->type = vk.props.deviceType <= VK_PHYSICAL_DEVICE_TYPE_CPU ? types[vk.props.deviceType] : "other";
  out->index = vk.index;
  out->has_f16 = vk.has_f16;
  out->has_f64 = vk.has_f64;
  out->subgroup_size = vk.subgroup_size;
  out->coopmat = vk.coopmat;
  out->coopmat_m = vk.coopmat_m;
  out->coopmat_n = vk.coopmat_n;
  out->coopmat_k = vk.coopmat_k;
  out->coopmat_khr_m = vk.coopmat_khr_m;
  out->coopmat_khr_n = vk.coopmat_khr_n;
  out->coopmat_khr_k = vk.coopmat_khr_k;
  out->validation = vk.validation;
  out->transfer_queue = vk.transfer_family != vk.queue_family;
  out->failed = vk.failed;
  out->validation_messages = vk.validation_messages;
  out->memory_in_use = vk_memory_in_use();
  out->max_buffer_range = vk.props.limits.maxStorageBufferRange;
  out->blocks = vk_memory_blocks();
  out->submits = ember_vk_submits();
  return EMBER_OK;
}
