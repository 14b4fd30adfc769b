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
  batch *b = &ring[cur];
  if (b->staging_used + n > vk_staging_size) {
    if (vk_batch_wait() != EMBER_OK) return EMBER_ERROR;
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

/* {====== the public face: ember.vk.sync() */

uint64_t ember_vk_submits(void) { return submitted; }

ember_status ember_vk_sync(void) {
  if (vk_start() != EMBER_OK) return EMBER_ERROR;
  return vk_batch_wait();
}

/* }====== */
