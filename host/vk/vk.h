/*
** vk.h — internal API of the Vulkan backend (host/vk).
**
**   vk_device.c    instance, device choice, queues, features and limits
**   vk_memory.c    device memory: a sub-allocator over large blocks, staging
**   vk_batch.c     command batches: recording, barriers by hazard, fences, deferred frees;
**                  captures (a recording kept and replayed: the runtime's graphs)
**   vk_pipeline.c  the embedded SPIR-V, pipelines made on first use, the pipeline cache
**   vk_backend.c   the ember_backend the core calls: storage, copies, reads
**   vk_kernels_*.c Vulkan kernels of the op table, one file per family
**
** Kernels never see Vulkan objects: they bind tensors, push constants and dispatch
** through vk_launch. Every dispatch goes into the current batch; a batch is submitted
** when data is read back, when it reaches its budget, or on ember_vk_sync().
*/
#ifndef EMBER_VK_H
#define EMBER_VK_H

#include <vulkan/vulkan.h>

#include "ops.h"

#define VK_MAX_BINDINGS 8     /* storage buffers per dispatch: the one set layout */
#define VK_PUSH_BYTES 128     /* push constants every device has (the spec's minimum) */
#define VK_MAX_SPEC 8         /* specialization constants 0..7; 0-2 are the workgroup size */

/* {====== the device (vk_device.c) */

typedef struct vk_device {
  VkInstance instance;
  VkPhysicalDevice phys;
  VkDevice dev;
  VkQueue queue;                 /* compute */
  uint32_t queue_family;
  VkQueue transfer;              /* a separate transfer queue, or the compute queue */
  uint32_t transfer_family;
  VkPhysicalDeviceProperties props;
  VkPhysicalDeviceMemoryProperties mem;
  char name[256];
  int index;                     /* in vkEnumeratePhysicalDevices order */
  /* features the kernels may use */
  int has_f16;                   /* 16-bit storage (and not EMBER_VK_DISABLE_F16) */
  int has_f64;                   /* shaderFloat64 */
  int has_float_atomics;         /* shaderBufferFloat32AtomicAdd */
  int subgroup_size;
  int coopmat;                   /* 0 none, 1 VK_KHR_cooperative_matrix, 2 VK_NV_... */
  int coopmat_m, coopmat_n, coopmat_k;   /* an f16 x f16 -> f32 shape it supports */
  int coopmat_khr_m, coopmat_khr_n, coopmat_khr_k;   /* VK_KHR_cooperative_matrix's, if any */
  int validation;                /* the Khronos validation layer is on */
  unsigned validation_messages;  /* messages it reported */
  int failed;                    /* device lost: every call errors from then on */
} vk_device;

extern vk_device vk;

/* Start the backend once (later calls return the first result). */
ember_status vk_start(void);
/* Mark the device lost: report it, refuse every later call. */
ember_status vk_device_lost(const char *where);
/* The error for a failed Vulkan call, naming what failed and the VkResult. */
ember_status vk_fail(const char *what, VkResult r);
const char *vk_result_name(VkResult r);

/* }====== */

/* {====== memory (vk_memory.c) */

typedef struct vk_block vk_block;

/* A range of one block's buffer: what a device storage holds. */
/* (also used for the error slots' host-visible buffer, with block NULL) */
typedef struct vk_alloc {
  vk_block *block;
  VkBuffer buffer;
  VkDeviceSize offset, size;
  void *mapped;                  /* host address when the memory is host-visible */
  int used;                      /* a command was recorded on it (else the host may
                                    write it without waiting for the device) */
} vk_alloc;

ember_status vk_memory_start(void);
void vk_memory_stop(void);
ember_status vk_alloc_new(VkDeviceSize size, vk_alloc *a);
void vk_alloc_free(vk_alloc *a);          /* now: the caller knows no batch uses it */
size_t vk_memory_in_use(void);
int vk_memory_blocks(void);            /* device memory allocations held */

/* Host <-> device bytes. Uploads into a range no pending batch reads are direct when
** the memory is host-visible; otherwise they go through the staging buffer in the
** current batch. Reads submit the batch and wait for it. */
ember_status vk_upload(vk_alloc *a, VkDeviceSize off, const void *src, size_t n);
ember_status vk_download(vk_alloc *a, VkDeviceSize off, void *dst, size_t n);
/* EMBER_VK_FORCE_STAGING=1: behave as a discrete GPU (tests the staging path) */
int vk_direct_host_access(const vk_alloc *a);
/* A small buffer of its own in memory the host maps (for the error slots). */
ember_status vk_host_buffer(VkDeviceSize size, VkBuffer *buf, VkDeviceMemory *mem, void **mapped);

/* }====== */

/* {====== batches (vk_batch.c) */

ember_status vk_batch_start(void);
void vk_batch_stop(void);
/* The command buffer being recorded (begun if need be). */
ember_status vk_batch_cmd(VkCommandBuffer *cmd);
/* Hazards: declare what the next command reads and writes; a barrier is recorded when
** it touches a range an earlier unbarriered command wrote (or writes one it read). */
void vk_batch_access(VkBuffer b, VkDeviceSize off, VkDeviceSize size, int write);
/* A descriptor set from the batch's pool, for the one layout. */
ember_status vk_batch_descriptor_set(VkDescriptorSet *set);
/* Count a command against the batch budget; submits when the budget is reached. */
ember_status vk_batch_count(void);
/* Submit the recorded commands (no wait). */
ember_status vk_batch_submit(void);
/* Submit and wait for everything submitted. */
ember_status vk_batch_wait(void);
/* Free a when every batch that may use it is done. */
void vk_batch_defer_free(const vk_alloc *a);
/* 1 if a recorded-but-unfinished command may touch the range. */
int vk_batch_busy(VkBuffer b, VkDeviceSize off, VkDeviceSize size);
/* Bytes of the staging buffer the current batch may still use, and take n of them. */
ember_status vk_batch_staging(VkDeviceSize n, VkDeviceSize *offset);
extern VkBuffer vk_staging_buffer;
extern void *vk_staging_mapped;
extern VkDeviceSize vk_staging_size;

/* Errors a kernel finds in the data (an index out of range) are reported without a
** read-back of their own: the kernel's launch takes an error slot (error_slot = slot + 1
** in vk_launch_args), bound at binding VK_ERROR_BINDING as four uints that start at
** 0xffffffff; the shader (shaders/errors.glsl) lowers word 0 to the first offending
** position with atomicMin. At the next wait for the device (a read-back, ember.vk.sync)
** the host looks at the slots in use and calls fn(ctx, first) for one that was hit,
** which composes the error the cpu kernel would have raised; that wait then fails
** with it, as a CUDA device-side assert surfaces at the next synchronisation. */
#define VK_ERROR_BINDING 7
typedef ember_status (*vk_error_fn)(void *ctx, uint32_t first);
/* A slot for one launch: 0 and an error when none can be had. free_ctx runs once the
** slot is checked (it may be NULL). */
int vk_error_slot(vk_error_fn fn, void *ctx, void (*free_ctx)(void *));
/* 1 while a slot is in flight or hit: a read-back must then wait, to raise it. */
int vk_errors_pending(void);

/* }====== */

/* {====== captures (vk_batch.c): a command buffer recorded once, replayed many times
** (the runtime's graphs, host/rt/rt_vulkan.c). Between vk_capture_begin and
** vk_capture_end every command an op records goes into the capture's own command
** buffer instead of the current batch, with barriers by hazard as in a batch. What the
** replays need lives as long as the capture: descriptor sets come from its own pools,
** storage freed while recording (a kernel's temporaries) is freed with the capture,
** an upload goes through a host buffer of its own (the copy is part of every replay),
** and an error slot is the capture's, checked after each replay. Anything that would
** wait for the device while recording (a read-back, a sync) is an error. */

typedef struct vk_capture vk_capture;

/* Waits for the work already recorded, then opens a capture. */
ember_status vk_capture_begin(vk_capture **out);
ember_status vk_capture_end(vk_capture *c);
/* Submit the recorded buffer, wait for it, then check its error slots: the first one
** hit (in launch order) gives the error, and every slot is ready for the next replay. */
ember_status vk_capture_run(vk_capture *c);
/* Frees the capture and what it kept (an open one is abandoned). The capture must not
** be running: vk_capture_run returns only when the replay is done. */
void vk_capture_free(vk_capture *c);
/* 1 while a capture is being recorded. */
int vk_capturing(void);
/* vk_upload while recording: the bytes go into a host buffer the capture keeps. */
ember_status vk_capture_upload(vk_alloc *a, VkDeviceSize off, const void *src, size_t n);

/* }====== */

/* {====== pipelines (vk_pipeline.c) */

typedef struct vk_spirv {
  const char *name;              /* "pointwise", "pointwise.f64" */
  const uint32_t *code;
  size_t bytes;
} vk_spirv;
extern const vk_spirv ember_vk_spirv[];   /* generated from shaders/ at build time */

ember_status vk_pipeline_start(void);
void vk_pipeline_stop(void);
VkPipelineLayout vk_pipeline_layout(void);
VkDescriptorSetLayout vk_set_layout(void);
/* The pipeline of shader `name` with spec constants spec[0..VK_MAX_SPEC) (spec[0..2]:
** workgroup size), made and cached on first use. */
ember_status vk_pipeline_get(const char *name, const uint32_t *spec, VkPipeline *p);

/* }====== */

/* {====== launching kernels */

typedef struct vk_launch_args {
  const char *shader;
  uint32_t spec[VK_MAX_SPEC];
  int nbind;
  const ember_tensor *bind[VK_MAX_BINDINGS];  /* the whole storage of each is bound */
  int write[VK_MAX_BINDINGS];                 /* 1: the kernel writes it */
  const void *push;
  size_t push_bytes;
  uint32_t groups[3];
  int error_slot;                             /* vk_error_slot's result, or 0 for none */
} vk_launch_args;

/* Record one dispatch (bindings beyond nbind get a dummy buffer; binding
** VK_ERROR_BINDING the error slot when the launch has one). */
ember_status vk_launch(const vk_launch_args *a);

/* The allocation behind a device tensor's storage. */
vk_alloc *vk_storage_alloc(const ember_storage *s);
/* A device storage over bytes [off, off + size) of a (a program's arena): it frees no
** device memory when released; a must outlive it. */
ember_storage *vk_storage_range(const vk_alloc *a, VkDeviceSize off, VkDeviceSize size);

/* The name of the variant of shader `base` that the dtypes dts[0..n) need ("base",
** "base.x16", "base.f64", "base.x16f64"); an error naming what the device lacks. */
ember_status vk_shader_variant(char *buf, size_t size, const char *base, int n, const ember_dtype *dts);

/* Workgroups for n invocations of a group of `local` (spread over y past the limit). */
void vk_groups_1d(int64_t n, uint32_t local, uint32_t groups[3]);

/* }====== */

/* {====== strided layouts in push constants */

/* Up to VK_LAYOUT_DIMS dims after merging: shape, and per tensor its element offset and
** strides. Tensors with more dims left after merging are made contiguous first. */
#define VK_LAYOUT_DIMS 4

typedef struct vk_layout {
  int ndim;
  int64_t numel;
  int64_t shape[EMBER_MAX_DIMS];
  int64_t stride[VK_MAX_BINDINGS][EMBER_MAX_DIMS];
  int64_t offset[VK_MAX_BINDINGS];
} vk_layout;

/* Merge the dims of n tensors viewed in shape (ndim, shape) (each broadcast to it):
** dims that are contiguous in all of them become one. */
void vk_layout_make(vk_layout *l, int ndim, const int64_t *shape, int n, const ember_tensor *const *t);

/* dtype codes the shaders share (shaders/common.glsl) */
int vk_dtype_code(ember_dtype dt);
/* The integer dtype of dt's size: what moves dt's elements as raw bits. */
ember_dtype vk_raw_dtype(ember_dtype dt);
/* 1 when v fits an int32 (the sizes, strides and offsets the shaders take). */
int vk_fits_i32(int64_t v);

/* Element positions the shaders compute as 32-bit ints stay at or below this, with
** room for a workgroup's stride past the last one. */
#define VK_INDEX_LIMIT ((int64_t)INT32_MAX - 65536)

/* t as a kernel that wants plain memory reads it: broadcast to (ndim, shape) (NULL: t's
** own shape), in dtype dt (EMBER_DTYPE_NONE: t's), contiguous on the device with its
** last element at or below VK_INDEX_LIMIT. A new reference: t itself when it already
** is so, else a copy made on the device (at offset 0; a cpu t is uploaded). NULL and
** an error when the copy fails. */
ember_tensor *vk_dense(ember_tensor *t, ember_dtype dt, int ndim, const int64_t *shape);

/* }====== */

#endif
