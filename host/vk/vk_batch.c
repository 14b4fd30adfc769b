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
**
** A capture (vk.h) takes the place of the current batch while it is recorded: the same
** recording paths, into a command buffer that is kept and replayed.
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

/* A capture: its command buffer and fence, and what its commands use (vk.h). */
typedef struct host_buffer { VkBuffer buf; VkDeviceMemory mem; } host_buffer;
struct vk_capture {
  VkCommandBuffer cmd;
  VkFence fence;
  VkDescriptorPool *pools;
  int npools, pool;
  vk_alloc *kept;               /* storage freed while recording */
  int nkept, capkept;
  host_buffer *hosts;           /* the sources of its uploads */
  int nhosts;
  int *slots;                   /* its error slots (0-based), in launch order */
  int nslots;
  int dead;                     /* the backend stopped first: only host memory is left */
  vk_capture *next;
};
static vk_capture *capturing;   /* the one being recorded */
static vk_capture *captures;    /* all alive */
static void captures_stop(void);

/* Frees wait for the submission that may use them last: a free tagged with serial s
** runs once every batch up to s is done. */
typedef struct deferred { vk_alloc a; uint64_t tag; } deferred;
static deferred *frees;
static int nfrees, capfrees;

/* One more descriptor pool in the list (a batch's or a capture's). */
static ember_status new_pool(VkDescriptorPool **pools, int *npools) {
  VkDescriptorPool *np = realloc(*pools, (*npools + 1) * sizeof *np);
  if (np == NULL) return ember_error("out of memory");
  *pools = np;
  VkDescriptorPoolSize size = { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, POOL_SETS * VK_MAX_BINDINGS };
  VkDescriptorPoolCreateInfo ci = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                    .maxSets = POOL_SETS, .poolSizeCount = 1, .pPoolSizes = &size };
  VkResult r = vkCreateDescriptorPool(vk.dev, &ci, NULL, &np[*npools]);
  if (r != VK_SUCCESS) return vk_fail("vkCreateDescriptorPool", r);
  (*npools)++;
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
    if (new_pool(&b->pools, &b->npools) != EMBER_OK) return EMBER_ERROR;
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
  captures_stop();
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
  if (capturing) {
    *cmd = capturing->cmd;
    return EMBER_OK;
  }
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
  VkCommandBuffer cmd = capturing ? capturing->cmd : ring[cur].cmd;
  VkDeviceSize end = off + size;
  int hazard = overlaps(written, nwritten, buf, off, end) ||
               (write && overlaps(readr, nread, buf, off, end)) ||
               (write ? nwritten == MAX_RANGES : nread == MAX_RANGES);
  if (hazard) {
    full_barrier(cmd, DEVICE_STAGES, DEVICE_ACCESS);
    nwritten = nread = 0;
  }
  span *list = write ? written : readr;
  int *n = write ? &nwritten : &nread;
  list[(*n)++] = (span){ buf, off, end };
}

ember_status vk_batch_descriptor_set(VkDescriptorSet *set) {
  batch *b = &ring[cur];
  /* a capture's sets live as long as it does: they come from its own pools */
  VkDescriptorPool **pools = capturing ? &capturing->pools : &b->pools;
  int *npools = capturing ? &capturing->npools : &b->npools;
  int *pool = capturing ? &capturing->pool : &b->pool;
  VkDescriptorSetLayout layout = vk_set_layout();
  for (;;) {
    VkDescriptorSetAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                       .descriptorPool = (*pools)[*pool], .descriptorSetCount = 1,
                                       .pSetLayouts = &layout };
    VkResult r = vkAllocateDescriptorSets(vk.dev, &ai, set);
    if (r == VK_SUCCESS) return EMBER_OK;
    if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL)
      return vk_fail("vkAllocateDescriptorSets", r);
    if (++*pool == *npools && new_pool(pools, npools) != EMBER_OK) return EMBER_ERROR;
  }
}

ember_status vk_batch_submit(void) {
  if (capturing)   /* what is recorded runs at the replays: nothing can wait for it now */
    return ember_error("vulkan: a kernel waits for the device while a graph is recorded");
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
  if (capturing) return EMBER_OK;   /* a capture has no budget: it is submitted whole */
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
  if (capturing) {   /* the capture's commands use it at every replay */
    vk_capture *c = capturing;
    if (c->nkept == c->capkept) {
      int cap = c->capkept ? 2 * c->capkept : 16;
      vk_alloc *nk = realloc(c->kept, cap * sizeof *nk);
      if (nk == NULL) return;   /* the range stays taken: a leak, not a hazard */
      c->kept = nk;
      c->capkept = cap;
    }
    c->kept[c->nkept++] = *a;
    return;
  }
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
  if (capturing) return ember_error("vulkan: the staging buffer is not for a capture's commands");
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
  int captured;                      /* a capture's: checked by vk_capture_run, not here */
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
    if (!sl->used || sl->hit || sl->captured || sl->serial > done) continue;
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

static int capture_slot(vk_error_fn fn, void *ctx, void (*free_ctx)(void *));

int vk_error_slot(vk_error_fn fn, void *ctx, void (*free_ctx)(void *)) {
  if (errors_start() != EMBER_OK) {
    if (free_ctx) free_ctx(ctx);
    return 0;
  }
  if (capturing) return capture_slot(fn, ctx, free_ctx);
  if (nslots == SLOTS) errors_collect();
  if (nslots == SLOTS && vk_batch_wait() != EMBER_OK) {   /* every slot in flight or hit */
    if (free_ctx) free_ctx(ctx);
    return 0;
  }
  int k = 0;
  while (k < SLOTS && slots[k].used) k++;
  if (k == SLOTS) {   /* the rest are held by captures */
    if (free_ctx) free_ctx(ctx);
    ember_error("vulkan: every error slot is taken (captured graphs hold %d)", SLOTS - nslots);
    return 0;
  }
  /* the launch that takes it goes into the batch being recorded: the next submission */
  slots[k] = (slot){ .fn = fn, .ctx = ctx, .free_ctx = free_ctx, .serial = submitted + 1, .used = 1 };
  nslots++;
  return k + 1;
}

/* The binding of slot k (1-based, as vk_error_slot returns it). */
void vk_error_binding(int k, VkDescriptorBufferInfo *info) {
  *info = (VkDescriptorBufferInfo){ err_buffer, (VkDeviceSize)(k - 1) * err_stride, 16 };
}

/* }====== */

/* {====== captures (vk.h)
** A capture is recorded through the same paths as a batch (vk_batch_cmd, _access,
** _descriptor_set answer for it while `capturing` is set) and then replayed whole by
** vk_capture_run, which waits for it: a capture is never pending between calls, so what
** it keeps is freed at once when it is freed. */

int vk_capturing(void) { return capturing != NULL; }

static int capture_slot(vk_error_fn fn, void *ctx, void (*free_ctx)(void *)) {
  vk_capture *c = capturing;
  int *ns = realloc(c->slots, (c->nslots + 1) * sizeof *ns);
  int k = 0;
  while (k < SLOTS && slots[k].used) k++;
  if (ns == NULL || k == SLOTS) {
    if (ns) c->slots = ns;
    if (free_ctx) free_ctx(ctx);
    ember_error(ns ? "vulkan: every error slot is taken" : "out of memory");
    return 0;
  }
  c->slots = ns;
  c->slots[c->nslots++] = k;
  slots[k] = (slot){ .fn = fn, .ctx = ctx, .free_ctx = free_ctx, .used = 1, .captured = 1 };
  return k + 1;
}

static void capture_reset_slot(int k) {
  memset(err_words + (size_t)k * err_stride / 4, 0xff, 16);
}

/* The Vulkan objects of c and what it kept; c stays, marked dead. */
static void capture_destroy(vk_capture *c) {
  for (int i = 0; i < c->nslots; i++) {
    slot *sl = &slots[c->slots[i]];
    if (sl->free_ctx) sl->free_ctx(sl->ctx);
    capture_reset_slot(c->slots[i]);
    memset(sl, 0, sizeof *sl);
  }
  free(c->slots);
  for (int i = 0; i < c->nkept; i++) vk_alloc_free(&c->kept[i]);
  free(c->kept);
  for (int i = 0; i < c->nhosts; i++) {
    vkDestroyBuffer(vk.dev, c->hosts[i].buf, NULL);
    vkFreeMemory(vk.dev, c->hosts[i].mem, NULL);
  }
  free(c->hosts);
  for (int k = 0; k < c->npools; k++) vkDestroyDescriptorPool(vk.dev, c->pools[k], NULL);
  free(c->pools);
  if (c->cmd) vkFreeCommandBuffers(vk.dev, cmd_pool, 1, &c->cmd);
  if (c->fence) vkDestroyFence(vk.dev, c->fence, NULL);
  memset(c, 0, sizeof *c);
  c->dead = 1;
}

/* The backend stops: every capture loses its Vulkan objects (their owners free the rest). */
static void captures_stop(void) {
  while (captures) {
    vk_capture *c = captures;
    captures = c->next;
    capture_destroy(c);
  }
  capturing = NULL;
}

ember_status vk_capture_begin(vk_capture **out) {
  *out = NULL;
  if (vk.failed) return vk_device_lost("an earlier call");
  if (capturing) return ember_error("vulkan: a capture is already being recorded");
  /* the batch being recorded goes first: the capture takes over the hazard ranges */
  if (vk_batch_submit() != EMBER_OK) return EMBER_ERROR;
  vk_capture *c = calloc(1, sizeof *c);
  if (c == NULL) return ember_error("out of memory");
  c->next = captures;
  captures = c;
  VkCommandBufferAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                     .commandPool = cmd_pool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                     .commandBufferCount = 1 };
  VkFenceCreateInfo fi = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
  VkCommandBufferBeginInfo bi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO };
  VkResult r = vkAllocateCommandBuffers(vk.dev, &ai, &c->cmd);
  if (r != VK_SUCCESS) c->cmd = VK_NULL_HANDLE;
  else if ((r = vkCreateFence(vk.dev, &fi, NULL, &c->fence)) != VK_SUCCESS) c->fence = VK_NULL_HANDLE;
  else if (new_pool(&c->pools, &c->npools) != EMBER_OK) r = VK_ERROR_UNKNOWN;
  else r = vkBeginCommandBuffer(c->cmd, &bi);
  if (r != VK_SUCCESS) {
    ember_status st = r == VK_ERROR_UNKNOWN ? EMBER_ERROR : vk_fail("recording a capture", r);
    vk_capture_free(c);
    return st;
  }
  full_barrier(c->cmd, DEVICE_STAGES, DEVICE_ACCESS);
  nwritten = nread = 0;
  capturing = c;
  *out = c;
  return EMBER_OK;
}

ember_status vk_capture_end(vk_capture *c) {
  if (capturing != c) return ember_error("vulkan: that capture is not being recorded");
  full_barrier(c->cmd, VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
  capturing = NULL;
  nwritten = nread = 0;
  VkResult r = vkEndCommandBuffer(c->cmd);
  if (r != VK_SUCCESS) return vk_fail("vkEndCommandBuffer", r);
  return EMBER_OK;
}

ember_status vk_capture_run(vk_capture *c) {
  if (vk.failed) return vk_device_lost("an earlier call");
  if (c->dead || capturing == c) return ember_error("vulkan: the capture cannot run (%s)",
                                                     c->dead ? "the backend stopped" : "still recording");
  VkSubmitInfo si = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1,
                      .pCommandBuffers = &c->cmd };
  VkResult r = vkQueueSubmit(vk.queue, 1, &si, c->fence);
  if (r != VK_SUCCESS) return vk_fail("vkQueueSubmit", r);
  r = vkWaitForFences(vk.dev, 1, &c->fence, VK_TRUE, UINT64_MAX);
  if (r != VK_SUCCESS) return vk_fail("vkWaitForFences", r);
  vkResetFences(vk.dev, 1, &c->fence);
  /* the first slot hit in launch order names the error; every hit one starts over */
  ember_status st = EMBER_OK;
  for (int i = 0; i < c->nslots; i++) {
    int k = c->slots[i];
    uint32_t first = err_words[(size_t)k * err_stride / 4];
    if (first == UINT32_MAX) continue;
    capture_reset_slot(k);
    if (st == EMBER_OK && slots[k].fn(slots[k].ctx, first) != EMBER_OK) st = EMBER_ERROR;
  }
  return st;
}

ember_status vk_capture_upload(vk_alloc *a, VkDeviceSize off, const void *src, size_t n) {
  vk_capture *c = capturing;
  host_buffer *nh = realloc(c->hosts, (c->nhosts + 1) * sizeof *nh);
  if (nh == NULL) return ember_error("out of memory");
  c->hosts = nh;
  host_buffer h;
  void *mapped;
  if (vk_host_buffer(n, &h.buf, &h.mem, &mapped) != EMBER_OK) return EMBER_ERROR;
  c->hosts[c->nhosts++] = h;
  memcpy(mapped, src, n);
  vk_batch_access(a->buffer, a->offset + off, n, 1);
  a->used = 1;
  VkBufferCopy region = { 0, a->offset + off, n };
  vkCmdCopyBuffer(c->cmd, h.buf, a->buffer, 1, &region);
  return EMBER_OK;
}

void vk_capture_free(vk_capture *c) {
  if (c == NULL) return;
  if (capturing == c) {
    capturing = NULL;
    nwritten = nread = 0;
  }
  if (!c->dead) {
    vk_capture **p = &captures;
    while (*p && *p != c) p = &(*p)->next;
    if (*p) *p = c->next;
    capture_destroy(c);
  }
  free(c);
}

/* }====== */

/* {====== the public face: ember.vk.sync() */

uint64_t ember_vk_submits(void) { return submitted; }

ember_status ember_vk_sync(void) {
  if (vk_start() != EMBER_OK) return EMBER_ERROR;
  return vk_batch_wait();
}

/* }====== */
