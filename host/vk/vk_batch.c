/*
** vk_batch.c — lazy command batches.
**
** Ops do not run when called: each records its dispatch into the current command
** buffer, and the buffer is submitted when the host needs a result (a read-back),
** when it holds BUDGET commands, or on ember_vk_sync(). A ring of NBATCH batches lets
** the host record the next batch while the device runs the last one; a batch is
** reused after its fence signals, never after vkQueueWaitIdle.
**
** Barriers follow hazards: the ranges written and read since the last barrier are
** kept, and a command that reads or writes a range written there (or writes one read
** there) gets one global memory barrier before it. Independent ops run unbarriered.
** Each command buffer starts with a barrier (ordering it after the batches before it)
** and ends with one that makes device writes visible to the host.
**
** Storage freed while a batch may still use it is freed when that batch is done.
*/
#include <stdlib.h>
#include <string.h>

#include "vk.h"

#define NBATCH 3
#define BUDGET 512              /* commands per batch before it is submitted */
#define POOL_SETS 256           /* descriptor sets per pool */
#define MAX_RANGES 64           /* hazard ranges kept between barriers */

typedef struct span { VkBuffer buf; VkDeviceSize off, end; } span;

typedef struct batch {
  VkCommandBuffer cmd;
  VkFence fence;
  int recording;                /* begun, not yet submitted */
  int pending;                  /* submitted, fence not yet waited on */
  int commands;
  VkDescriptorPool *pools;
  int npools, pool;             /* pools made, the one in use */
  uint64_t serial;              /* its number among submissions (from 1) */
  VkDeviceSize staging_used;
  int uses_staging;
} batch;

static VkCommandPool cmd_pool;
static batch ring[NBATCH];
static int cur;
static span written[MAX_RANGES], readr[MAX_RANGES];
static int nwritten, nread;
static uint64_t submitted;      /* serial of the last submission */
static int nslots;              /* error slots in use (the section at the end) */
static void errors_stop(void);
static ember_status errors_check(void);
static void errors_collect(void);

/* Frees wait for the submission that may use them last: a free tagged with serial s
** runs once every batch up to s is done. */
typedef struct deferred { vk_alloc a; uint64_t tag; } deferred;
static deferred *frees;
static int nfrees, capfrees;

static ember_status new_pool(batch *b) {
  VkDescriptorPool *np = realloc(b->pools, (b->npools + 1) * sizeof *np);
  if (np == NULL) return ember_error("out of memory");
  b->pools = np;
  VkDescriptorPoolSize size = { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, POOL_SETS * VK_MAX_BINDINGS };
  VkDescriptorPoolCreateInfo ci = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                    .maxSets = POOL_SETS, .poolSizeCount = 1, .pPoolSizes = &size };
  VkResult r = vkCreateDescriptorPool(vk.dev, &ci, NULL, &b->pools[b->npools]);
  if (r != VK_SUCCESS) return vk_fail("vkCreateDescriptorPool", r);
  b->npools++;
  return EMBER_OK;
}

ember_status vk_batch_start(void) {
  VkCommandPoolCreateInfo pi = { .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                 .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                 .queueFamilyIndex = vk.queue_family };
  VkResult r = vkCreateCommandPool(vk.dev, &pi, NULL, &cmd_pool);
  if (r != VK_SUCCESS) return vk_fail("vkCreateCommandPool", r);
  for (int i = 0; i < NBATCH; i++) {
    batch *b = &ring[i];
    VkCommandBufferAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .commandPool = cmd_pool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = 1 };
    r = vkAllocateCommandBuffers(vk.dev, &ai, &b->cmd);
    if (r != VK_SUCCESS) return vk_fail("vkAllocateCommandBuffers", r);
    VkFenceCreateInfo fi = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
    r = vkCreateFence(vk.dev, &fi, NULL, &b->fence);
    if (r != VK_SUCCESS) return vk_fail("vkCreateFence", r);
    if (new_pool(b) != EMBER_OK) return EMBER_ERROR;
  }
  return EMBER_OK;
}

/* Serial of the newest submission known done: all before the oldest pending one. */
static uint64_t completed(void) {
  uint64_t done = submitted;
  for (int i = 0; i < NBATCH; i++)
    if (ring[i].pending && ring[i].serial - 1 < done) done = ring[i].serial - 1;
  return done;
}

static void run_frees(void) {
  uint64_t done = completed();
  int k = 0;
  for (int i = 0; i < nfrees; i++) {
    if (frees[i].tag <= done) vk_alloc_free(&frees[i].a);
    else frees[k++] = frees[i];
  }
  nfrees = k;
}

void vk_batch_stop(void) {
  errors_stop();
  for (int i = 0; i < NBATCH; i++) {
    batch *b = &ring[i];
    for (int k = 0; k < b->npools; k++) vkDestroyDescriptorPool(vk.dev, b->pools[k], NULL);
    free(b->pools);
    vkDestroyFence(vk.dev, b->fence, NULL);
  }
  vkDestroyCommandPool(vk.dev, cmd_pool, NULL);
  memset(ring, 0, sizeof ring);
  for (int i = 0; i < nfrees; i++) vk_alloc_free(&frees[i].a);
  free(frees);
  frees = NULL;
  nfrees = capfrees = 0;
}

/* Wait for b's fence and make it ready for recording again. */
static ember_status retire(batch *b) {
  if (b->pending) {
    VkResult r = vkWaitForFences(vk.dev, 1, &b->fence, VK_TRUE, UINT64_MAX);
    if (r != VK_SUCCESS) return vk_fail("vkWaitForFences", r);
    vkResetFences(vk.dev, 1, &b->fence);
    b->pending = 0;
  }
  run_frees();
  errors_collect();
  for (int k = 0; k < b->npools; k++) vkResetDescriptorPool(vk.dev, b->pools[k], 0);
  b->pool = 0;
  b->staging_used = 0;
  b->uses_staging = 0;
  return EMBER_OK;
}

static void full_barrier(VkCommandBuffer cmd, VkPipelineStageFlags dst_stage, VkAccessFlags dst_access) {
  VkMemoryBarrier mb = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
    .dstAccessMask = dst_access,
  };
  vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                       dst_stage, 0, 1, &mb, 0, NULL, 0, NULL);
}

static const VkAccessFlags DEVICE_ACCESS = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
  VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
static const VkPipelineStageFlags DEVICE_STAGES = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
  VK_PIPELINE_STAGE_TRANSFER_BIT;

ember_status vk_batch_cmd(VkCommandBuffer *cmd) {
  if (vk.failed) return vk_device_lost("an earlier call");
  batch *b = &ring[cur];
  if (!b->recording) {
    if (retire(b) != EMBER_OK) return EMBER_ERROR;
    VkCommandBufferBeginInfo bi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                    .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT };
    VkResult r = vkBeginCommandBuffer(b->cmd, &bi);
    if (r != VK_SUCCESS) return vk_fail("vkBeginCommandBuffer", r);
    full_barrier(b->cmd, DEVICE_STAGES, DEVICE_ACCESS);
    b->recording = 1;
    b->commands = 0;
    nwritten = nread = 0;
  }
  *cmd = b->cmd;
  return EMBER_OK;
}

static int overlaps(const span *s, int n, VkBuffer buf, VkDeviceSize off, VkDeviceSize end) {
  for (int i = 0; i < n; i++)
    if (s[i].buf == buf && s[i].off < end && off < s[i].end) return 1;
  return 0;
}

void vk_batch_access(VkBuffer buf, VkDeviceSize off, VkDeviceSize size, int write) {
  batch *b = &ring[cur];
  VkDeviceSize end = off + size;
  int hazard = overlaps(written, nwritten, buf, off, end) ||
               (write && overlaps(readr, nread, buf, off, end)) ||
               (write ? nwritten == MAX_RANGES : nread == MAX_RANGES);
  if (hazard) {
    full_barrier(b->cmd, DEVICE_STAGES, DEVICE_ACCESS);
    nwritten = nread = 0;
  }
  span *list = write ? written : readr;
  int *n = write ? &nwritten : &nread;
  list[(*n)++] = (span){ buf, off, end };
}

ember_status vk_batch_descriptor_set(VkDescriptorSet *set) {
  batch *b = &ring[cur];
  VkDescriptorSetLayout layout = vk_set_layout();
  for (;;) {
    VkDescriptorSetAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                       .descriptorPool = b->pools[b->pool], .descriptorSetCount = 1,
                                       .pSetLayouts = &layout };
    VkResult r = vkAllocateDescriptorSets(vk.dev, &ai, set);
    if (r == VK_SUCCESS) return EMBER_OK;
    if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL)
      return vk_fail("vkAllocateDescriptorSets", r);
    if (++b->pool == b->npools && new_pool(b) != EMBER_OK) return EMBER_ERROR;
  }
}

ember_status vk_batch_submit(void) {
  batch *b = &ring[cur];
  if (!b->recording) return EMBER_OK;
  full_barrier(b->cmd, VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
  VkResult r = vkEndCommandBuffer(b->cmd);
  if (r != VK_SUCCESS) return vk_fail("vkEndCommandBuffer", r);
  VkSubmitInfo si = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1,
                      .pCommandBuffers = &b->cmd };
  r = vkQueueSubmit(vk.queue, 1, &si, b->fence);
  b->recording = 0;
  if (r != VK_SUCCESS) return vk_fail("vkQueueSubmit", r);
  b->pending = 1;
  b->serial = ++submitted;
  cur = (cur + 1) % NBATCH;
  return EMBER_OK;
}

ember_status vk_batch_count(void) {
  batch *b = &ring[cur];
  if (++b->commands >= BUDGET) return vk_batch_submit();
  return EMBER_OK;
}

ember_status vk_batch_wait(void) {
  if (vk_batch_submit() != EMBER_OK) return EMBER_ERROR;
  ember_status st = EMBER_OK;
  for (int i = 0; i < NBATCH; i++) {
    batch *b = &ring[(cur + i) % NBATCH];   /* oldest first */
    if (!b->recording && retire(b) != EMBER_OK) st = EMBER_ERROR;
  }
  if (st == EMBER_OK && nslots > 0) st = errors_check();
  return st;
}

int vk_batch_busy(VkBuffer buf, VkDeviceSize off, VkDeviceSize size) {
  (void)buf; (void)off; (void)size;   /* coarse: any unfinished work may touch it */
  for (int i = 0; i < NBATCH; i++)
    if (ring[i].pending || (ring[i].recording && ring[i].commands > 0)) return 1;
  return 0;
}

void vk_batch_defer_free(const vk_alloc *a) {
  batch *b = &ring[cur];
  if (!vk_batch_busy(a->buffer, a->offset, a->size)) {
    vk_alloc copy = *a;
    vk_alloc_free(&copy);
    return;
  }
  if (nfrees == capfrees) {
    int cap = capfrees ? 2 * capfrees : 64;
    deferred *nf = realloc(frees, cap * sizeof *nf);
    if (nf == NULL) return;   /* the range stays taken: a leak, not a hazard */
    frees = nf;
    capfrees = cap;
  }
  frees[nfrees].a = *a;
  frees[nfrees].tag = b->recording && b->commands > 0 ? submitted + 1 : submitted;
  nfrees++;
}

ember_status vk_batch_staging(VkDeviceSize n, VkDeviceSize *offset) {
  /* begin the batch first: beginning one retires it, which resets its staging use */
  VkCommandBuffer cmd;
  if (vk_batch_cmd(&cmd) != EMBER_OK) return EMBER_ERROR;
  batch *b = &ring[cur];
  if (b->staging_used + n > vk_staging_size) {
    if (vk_batch_wait() != EMBER_OK || vk_batch_cmd(&cmd) != EMBER_OK) return EMBER_ERROR;
    b = &ring[cur];
  }
  if (!b->uses_staging) {
    /* an older batch may still copy out of the staging buffer */
    for (int i = 0; i < NBATCH; i++)
      if (i != cur && ring[i].uses_staging && ring[i].pending && retire(&ring[i]) != EMBER_OK)
        return EMBER_ERROR;
    b->uses_staging = 1;
  }
  *offset = b->staging_used;
  b->staging_used += (n + 255) / 256 * 256;
  return EMBER_OK;
}

/* {====== error slots (see vk.h)
** A slot belongs to the submission its launch goes into. When that submission is
** known done (a batch retires), its slots are read: one that was hit is kept, with
** what the kernel reported, until the next full wait raises it; the others are free
** again at once, so a long loop that reads nothing back never waits for a slot. */

#define SLOTS 2048             /* more than three batches of launches can hold */

typedef struct slot {
  vk_error_fn fn;
  void *ctx;
  void (*free_ctx)(void *);
  uint64_t serial;                   /* the submission that runs its launch */
  int used, hit;
  uint32_t first;                    /* what the kernel reported, once hit */
} slot;

static slot slots[SLOTS];
static VkBuffer err_buffer;
static VkDeviceMemory err_memory;
static uint32_t *err_words;          /* mapped */
static VkDeviceSize err_stride;      /* bytes per slot: the storage-buffer offset alignment */

static ember_status errors_start(void) {
  if (err_buffer) return EMBER_OK;
  err_stride = vk.props.limits.minStorageBufferOffsetAlignment;
  if (err_stride < 16) err_stride = 16;
  void *mapped;
  if (vk_host_buffer(err_stride * SLOTS, &err_buffer, &err_memory, &mapped) != EMBER_OK) return EMBER_ERROR;
  err_words = mapped;
  memset(err_words, 0xff, err_stride * SLOTS);
  return EMBER_OK;
}

static void slot_free(slot *sl) {
  if (sl->free_ctx) sl->free_ctx(sl->ctx);
  memset(err_words + (sl - slots) * err_stride / 4, 0xff, 16);
  memset(sl, 0, sizeof *sl);
  nslots--;
}

static void errors_stop(void) {
  for (int i = 0; i < SLOTS; i++)
    if (slots[i].used) slot_free(&slots[i]);
  if (err_buffer) {
    vkUnmapMemory(vk.dev, err_memory);
    vkDestroyBuffer(vk.dev, err_buffer, NULL);
    vkFreeMemory(vk.dev, err_memory, NULL);
    err_buffer = VK_NULL_HANDLE;
  }
}

/* Slots of submissions that are done: hit ones are kept for errors_check, the rest freed. */
static void errors_collect(void) {
  if (nslots == 0) return;
  uint64_t done = completed();
  for (int i = 0; i < SLOTS; i++) {
    slot *sl = &slots[i];
    if (!sl->used || sl->hit || sl->serial > done) continue;
    uint32_t first = err_words[i * err_stride / 4];
    if (first == UINT32_MAX) {
      slot_free(sl);
    } else {
      sl->hit = 1;
      sl->first = first;
    }
  }
}

/* After a full wait: the first slot hit (in launch order) gives the error; every hit
** slot is freed, so the same error is raised once. */
static ember_status errors_check(void) {
  errors_collect();
  slot hits[SLOTS];
  int n = 0;
  for (int i = 0; i < SLOTS; i++)
    if (slots[i].used && slots[i].hit) {
      hits[n++] = slots[i];
      slots[i].free_ctx = NULL;        /* the copy in hits owns ctx now */
      slot_free(&slots[i]);
    }
  /* launch order: by submission, then by when the slot was taken (its ctx order is
  ** not known, so submission order is what is kept) */
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && hits[j].serial < hits[j - 1].serial; j--) {
      slot t = hits[j]; hits[j] = hits[j - 1]; hits[j - 1] = t;
    }
  ember_status st = EMBER_OK;
  for (int i = 0; i < n; i++) {        /* the callbacks may read back: slots are free now */
    if (st == EMBER_OK && hits[i].fn(hits[i].ctx, hits[i].first) != EMBER_OK) st = EMBER_ERROR;
    if (hits[i].free_ctx) hits[i].free_ctx(hits[i].ctx);
  }
  return st;
}

int vk_errors_pending(void) {
  return nslots > 0;
}

int vk_error_slot(vk_error_fn fn, void *ctx, void (*free_ctx)(void *)) {
  if (errors_start() != EMBER_OK) {
    if (free_ctx) free_ctx(ctx);
    return 0;
  }
  if (nslots == SLOTS) errors_collect();
  if (nslots == SLOTS && vk_batch_wait() != EMBER_OK) {   /* every slot in flight or hit */
    if (free_ctx) free_ctx(ctx);
    return 0;
  }
  int k = 0;
  while (slots[k].used) k++;
  /* the launch that takes it goes into the batch being recorded: the next submission */
  slots[k] = (slot){ fn, ctx, free_ctx, submitted + 1, 1, 0, 0 };
  nslots++;
  return k + 1;
}

/* The binding of slot k (1-based, as vk_error_slot returns it). */
void vk_error_binding(int k, VkDescriptorBufferInfo *info) {
  *info = (VkDescriptorBufferInfo){ err_buffer, (VkDeviceSize)(k - 1) * err_stride, 16 };
}

/* }====== */

/* {====== the public face: ember.vk.sync() */

uint64_t ember_vk_submits(void) { return submitted; }

ember_status ember_vk_sync(void) {
  if (vk_start() != EMBER_OK) return EMBER_ERROR;
  return vk_batch_wait();
}

/* }====== */
