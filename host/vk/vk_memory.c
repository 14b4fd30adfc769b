/*
** vk_memory.c — device memory for tensors.
**
** Drivers limit how many allocations a process may hold (maxMemoryAllocationCount:
** 4096 on many GPUs) and each vkAllocateMemory is slow, so tensors never get their
** own: memory comes in blocks of BLOCK_BYTES, each with one VkBuffer over all of it,
** and a tensor's storage is a range of a block, found best-fit in the block's sorted
** free list and merged back into it when freed. A tensor larger than a block gets a
** block of its own. Ranges start at multiples of the device's storage-buffer offset
** alignment (at least 64 bytes), and no range is larger than maxStorageBufferRange,
** so every storage can be bound as one descriptor range.
**
** Memory the host can map (integrated GPUs, lavapipe) is mapped once and read and
** written with memcpy; otherwise bytes travel through one persistent staging buffer.
*/
#include <stdlib.h>
#include <string.h>

#include "vk.h"

#define BLOCK_BYTES ((VkDeviceSize)64 << 20)
#define MIN_ALIGN 64
#define STAGING_BYTES ((VkDeviceSize)32 << 20)

typedef struct range { VkDeviceSize off, size; } range;

struct vk_block {
  VkDeviceMemory memory;
  VkBuffer buffer;
  VkDeviceSize size;
  void *mapped;
  range *free;
  int nfree, capfree;
  vk_block *next;
};

static vk_block *blocks;
static int nblocks;
static VkDeviceSize block_total;  /* bytes of all blocks */
static VkDeviceSize limit;        /* EMBER_VK_MEMORY_LIMIT: a cap on block_total, 0 none */
static uint32_t block_type;     /* memory type index for tensors */
static int block_mappable;
static VkDeviceSize align;
static VkDeviceSize block_bytes;
static size_t in_use;
static int force_staging;

VkBuffer vk_staging_buffer;
void *vk_staging_mapped;
VkDeviceSize vk_staging_size;
static VkDeviceMemory staging_memory;

size_t vk_memory_in_use(void) {
  return in_use;
}

int vk_memory_blocks(void) {
  return nblocks;
}

static int find_type(uint32_t bits, VkMemoryPropertyFlags want) {
  for (uint32_t i = 0; i < vk.mem.memoryTypeCount; i++)
    if ((bits & (1u << i)) && (vk.mem.memoryTypes[i].propertyFlags & want) == want) return (int)i;
  return -1;
}

static const VkBufferUsageFlags USAGE = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
  VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;

/* A buffer with memory of its own, of a type with `want` (and `prefer` if one has it). */
static ember_status make_buffer(VkDeviceSize size, VkBufferUsageFlags usage, VkMemoryPropertyFlags want,
                                VkMemoryPropertyFlags prefer, VkBuffer *buf, VkDeviceMemory *mem,
                                uint32_t *type) {
  VkBufferCreateInfo bi = { .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size,
                            .usage = usage, .sharingMode = VK_SHARING_MODE_EXCLUSIVE };
  VkResult r = vkCreateBuffer(vk.dev, &bi, NULL, buf);
  if (r != VK_SUCCESS) return vk_fail("vkCreateBuffer", r);
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(vk.dev, *buf, &req);
  int t = find_type(req.memoryTypeBits, want | prefer);
  if (t < 0) t = find_type(req.memoryTypeBits, want);
  if (t < 0) {
    vkDestroyBuffer(vk.dev, *buf, NULL);
    return ember_error("vulkan: no memory type for a buffer of %llu bytes", (unsigned long long)size);
  }
  VkMemoryAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                              .allocationSize = req.size, .memoryTypeIndex = (uint32_t)t };
  r = vkAllocateMemory(vk.dev, &ai, NULL, mem);
  if (r != VK_SUCCESS) {
    vkDestroyBuffer(vk.dev, *buf, NULL);
    return vk_fail("vkAllocateMemory", r);
  }
  r = vkBindBufferMemory(vk.dev, *buf, *mem, 0);
  if (r != VK_SUCCESS) {
    vkDestroyBuffer(vk.dev, *buf, NULL);
    vkFreeMemory(vk.dev, *mem, NULL);
    return vk_fail("vkBindBufferMemory", r);
  }
  *type = (uint32_t)t;
  return EMBER_OK;
}

ember_status vk_memory_start(void) {
  const char *fs = getenv("EMBER_VK_FORCE_STAGING");
  force_staging = fs && *fs && strcmp(fs, "0") != 0;
  /* A cap on device memory (bytes, or with K/M/G): an app sharing the GPU with its
  ** own rendering keeps ember inside a budget; past it allocations fail as when the
  ** device is full. */
  const char *lim = getenv("EMBER_VK_MEMORY_LIMIT");
  if (lim && *lim) {
    char *end;
    double v = strtod(lim, &end);
    double unit = *end == 'K' || *end == 'k' ? 1024.0 : *end == 'M' || *end == 'm' ? 1048576.0 :
                  *end == 'G' || *end == 'g' ? 1073741824.0 : 1.0;
    limit = v > 0 ? (VkDeviceSize)(v * unit) : 0;
  }
  align = vk.props.limits.minStorageBufferOffsetAlignment;
  if (align < MIN_ALIGN) align = MIN_ALIGN;
  block_bytes = BLOCK_BYTES;
  if (block_bytes > vk.props.limits.maxStorageBufferRange)
    block_bytes = vk.props.limits.maxStorageBufferRange / align * align;
  /* Integrated GPUs and CPU drivers share memory with the host: map it. A discrete
  ** GPU's host-visible device memory is small (the BAR) and slow to read: keep
  ** tensors in plain device-local memory there. */
  int uma = vk.props.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ||
            vk.props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
  VkMemoryPropertyFlags mappable = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  int t = uma ? find_type(~0u, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | mappable) : -1;
  if (t < 0) t = find_type(~0u, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  if (t < 0) t = find_type(~0u, 0);
  block_type = (uint32_t)t;
  block_mappable = (vk.mem.memoryTypes[t].propertyFlags & mappable) == mappable;
  return EMBER_OK;
}

ember_status vk_host_buffer(VkDeviceSize size, VkBuffer *buf, VkDeviceMemory *mem, void **mapped) {
  uint32_t type;
  ember_status st = make_buffer(size, USAGE, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, 0, buf, mem, &type);
  if (st != EMBER_OK) return st;
  VkResult r = vkMapMemory(vk.dev, *mem, 0, VK_WHOLE_SIZE, 0, mapped);
  if (r != VK_SUCCESS) return vk_fail("vkMapMemory", r);
  return EMBER_OK;
}

static ember_status staging_start(void) {
  if (vk_staging_buffer) return EMBER_OK;
  uint32_t type;
  ember_status st = make_buffer(STAGING_BYTES, VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                                VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                                VK_MEMORY_PROPERTY_HOST_CACHED_BIT, &vk_staging_buffer, &staging_memory, &type);
  if (st != EMBER_OK) return st;
  VkResult r = vkMapMemory(vk.dev, staging_memory, 0, VK_WHOLE_SIZE, 0, &vk_staging_mapped);
  if (r != VK_SUCCESS) return vk_fail("vkMapMemory (staging)", r);
  vk_staging_size = STAGING_BYTES;
  return EMBER_OK;
}

static void block_destroy(vk_block *b) {
  block_total -= b->size;
  if (b->mapped) vkUnmapMemory(vk.dev, b->memory);
  vkDestroyBuffer(vk.dev, b->buffer, NULL);
  vkFreeMemory(vk.dev, b->memory, NULL);
  free(b->free);
  free(b);
  nblocks--;
}

void vk_memory_stop(void) {
  while (blocks) {
    vk_block *b = blocks;
    blocks = b->next;
    block_destroy(b);
  }
  if (vk_staging_buffer) {
    vkUnmapMemory(vk.dev, staging_memory);
    vkDestroyBuffer(vk.dev, vk_staging_buffer, NULL);
    vkFreeMemory(vk.dev, staging_memory, NULL);
    vk_staging_buffer = VK_NULL_HANDLE;
  }
}

static ember_status block_new(VkDeviceSize size, vk_block **out) {
  if ((uint32_t)nblocks >= vk.props.limits.maxMemoryAllocationCount)
    return ember_error("vulkan: out of device memory: the driver allows %u allocations",
                       vk.props.limits.maxMemoryAllocationCount);
  if (limit && block_total + size > limit)
    return ember_error("vulkan: out of device memory allocating a block of %llu bytes: "
                       "EMBER_VK_MEMORY_LIMIT allows %llu and %llu are held (%zu bytes of tensors)",
                       (unsigned long long)size, (unsigned long long)limit,
                       (unsigned long long)block_total, in_use);
  vk_block *b = calloc(1, sizeof *b);
  if (b == NULL) return ember_error("out of memory");
  VkBufferCreateInfo bi = { .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size,
                            .usage = USAGE, .sharingMode = VK_SHARING_MODE_EXCLUSIVE };
  VkResult r = vkCreateBuffer(vk.dev, &bi, NULL, &b->buffer);
  if (r != VK_SUCCESS) {
    free(b);
    return vk_fail("vkCreateBuffer", r);
  }
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(vk.dev, b->buffer, &req);
  VkMemoryAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                              .allocationSize = req.size, .memoryTypeIndex = block_type };
  r = req.size > vk.props.limits.maxStorageBufferRange + (VkDeviceSize)align
      ? VK_ERROR_OUT_OF_DEVICE_MEMORY : vkAllocateMemory(vk.dev, &ai, NULL, &b->memory);
  if (r == VK_SUCCESS) r = vkBindBufferMemory(vk.dev, b->buffer, b->memory, 0);
  if (r == VK_SUCCESS && block_mappable)
    r = vkMapMemory(vk.dev, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped);
  if (r != VK_SUCCESS) {
    if (b->memory) vkFreeMemory(vk.dev, b->memory, NULL);
    vkDestroyBuffer(vk.dev, b->buffer, NULL);
    free(b);
    return ember_error("vulkan: out of device memory allocating a block of %llu bytes "
                       "(%zu bytes of tensors on the device): %s", (unsigned long long)size,
                       in_use, vk_result_name(r));
  }
  b->size = size;
  b->capfree = 8;
  b->free = malloc(b->capfree * sizeof *b->free);
  b->free[0] = (range){ 0, size };
  b->nfree = 1;
  b->next = blocks;
  blocks = b;
  nblocks++;
  block_total += size;
  *out = b;
  return EMBER_OK;
}

/* Best fit in b: index of the smallest free range that holds size, or -1. */
static int best_fit(const vk_block *b, VkDeviceSize size) {
  int best = -1;
  for (int i = 0; i < b->nfree; i++)
    if (b->free[i].size >= size && (best < 0 || b->free[i].size < b->free[best].size)) best = i;
  return best;
}

ember_status vk_alloc_new(VkDeviceSize size, vk_alloc *a) {
  VkDeviceSize want = (size + align - 1) / align * align;
  if (want == 0) want = align;
  if (want > vk.props.limits.maxStorageBufferRange)
    return ember_error("vulkan: a tensor of %llu bytes is larger than this device can bind "
                       "(maxStorageBufferRange %u bytes)", (unsigned long long)size,
                       vk.props.limits.maxStorageBufferRange);
  vk_block *hit = NULL;
  int hi = -1;
  for (vk_block *b = blocks; b; b = b->next) {
    int i = best_fit(b, want);
    if (i >= 0 && (hit == NULL || b->free[i].size < hit->free[hi].size)) hit = b, hi = i;
  }
  if (hit == NULL) {
    if (block_new(want > block_bytes ? want : block_bytes, &hit) != EMBER_OK) return EMBER_ERROR;
    hi = 0;
  }
  range *f = &hit->free[hi];
  a->block = hit;
  a->buffer = hit->buffer;
  a->offset = f->off;
  a->size = want;
  a->mapped = hit->mapped ? (char *)hit->mapped + f->off : NULL;
  a->used = 0;
  f->off += want;
  f->size -= want;
  if (f->size == 0) {
    memmove(f, f + 1, (hit->nfree - hi - 1) * sizeof *f);
    hit->nfree--;
  }
  in_use += want;
  return EMBER_OK;
}

void vk_alloc_free(vk_alloc *a) {
  vk_block *b = a->block;
  if (b == NULL) return;
  in_use -= a->size;
  /* insert in offset order, merging with the neighbours */
  int i = 0;
  while (i < b->nfree && b->free[i].off < a->offset) i++;
  int merge_prev = i > 0 && b->free[i - 1].off + b->free[i - 1].size == a->offset;
  int merge_next = i < b->nfree && a->offset + a->size == b->free[i].off;
  if (merge_prev && merge_next) {
    b->free[i - 1].size += a->size + b->free[i].size;
    memmove(&b->free[i], &b->free[i + 1], (b->nfree - i - 1) * sizeof *b->free);
    b->nfree--;
  } else if (merge_prev) {
    b->free[i - 1].size += a->size;
  } else if (merge_next) {
    b->free[i].off = a->offset;
    b->free[i].size += a->size;
  } else {
    if (b->nfree == b->capfree) {
      range *nf = realloc(b->free, 2 * b->capfree * sizeof *nf);
      if (nf == NULL) return;   /* the range is lost to this block, nothing worse */
      b->free = nf;
      b->capfree *= 2;
    }
    memmove(&b->free[i + 1], &b->free[i], (b->nfree - i) * sizeof *b->free);
    b->free[i] = (range){ a->offset, a->size };
    b->nfree++;
  }
  a->block = NULL;
  /* an empty block beyond the first goes back to the driver (dedicated ones at once) */
  if (b->nfree == 1 && b->free[0].size == b->size && (b->size > block_bytes || nblocks > 1)) {
    vk_block **p = &blocks;
    while (*p != b) p = &(*p)->next;
    *p = b->next;
    block_destroy(b);
  }
}

int vk_direct_host_access(const vk_alloc *a) {
  return a->mapped != NULL && !force_staging;
}

ember_status vk_upload(vk_alloc *a, VkDeviceSize off, const void *src, size_t n) {
  if (n == 0) return EMBER_OK;
  if (vk_capturing()) return vk_capture_upload(a, off, src, n);   /* a copy every replay makes */
  if (vk_direct_host_access(a)) {
    if (a->used && vk_batch_busy(a->buffer, a->offset + off, n) && vk_batch_wait() != EMBER_OK)
      return EMBER_ERROR;
    memcpy((char *)a->mapped + off, src, n);
    return EMBER_OK;
  }
  if (staging_start() != EMBER_OK) return EMBER_ERROR;
  for (size_t done = 0; done < n;) {
    VkDeviceSize chunk = n - done < vk_staging_size ? n - done : vk_staging_size, soff;
    if (vk_batch_staging(chunk, &soff) != EMBER_OK) return EMBER_ERROR;
    memcpy((char *)vk_staging_mapped + soff, (const char *)src + done, chunk);
    VkCommandBuffer cmd;
    if (vk_batch_cmd(&cmd) != EMBER_OK) return EMBER_ERROR;
    vk_batch_access(a->buffer, a->offset + off + done, chunk, 1);
    a->used = 1;
    VkBufferCopy region = { soff, a->offset + off + done, chunk };
    vkCmdCopyBuffer(cmd, vk_staging_buffer, a->buffer, 1, &region);
    if (vk_batch_count() != EMBER_OK) return EMBER_ERROR;
    done += chunk;
  }
  return EMBER_OK;
}

ember_status vk_download(vk_alloc *a, VkDeviceSize off, void *dst, size_t n) {
  if (n == 0) return EMBER_OK;
  if (vk_capturing())   /* the values are made by the replays, not yet */
    return ember_error("vulkan: a kernel reads device values back while a graph is recorded");
  if (vk_direct_host_access(a)) {
    if (((a->used && vk_batch_busy(a->buffer, a->offset + off, n)) || vk_errors_pending()) &&
        vk_batch_wait() != EMBER_OK)
      return EMBER_ERROR;
    memcpy(dst, (const char *)a->mapped + off, n);
    return EMBER_OK;
  }
  if (staging_start() != EMBER_OK) return EMBER_ERROR;
  for (size_t done = 0; done < n;) {
    VkDeviceSize chunk = n - done < vk_staging_size ? n - done : vk_staging_size, soff;
    if (vk_batch_staging(chunk, &soff) != EMBER_OK) return EMBER_ERROR;
    VkCommandBuffer cmd;
    if (vk_batch_cmd(&cmd) != EMBER_OK) return EMBER_ERROR;
    vk_batch_access(a->buffer, a->offset + off + done, chunk, 0);
    a->used = 1;
    VkBufferCopy region = { a->offset + off + done, soff, chunk };
    vkCmdCopyBuffer(cmd, a->buffer, vk_staging_buffer, 1, &region);
    if (vk_batch_wait() != EMBER_OK) return EMBER_ERROR;
    memcpy((char *)dst + done, (const char *)vk_staging_mapped + soff, chunk);
    done += chunk;
  }
  return EMBER_OK;
}
