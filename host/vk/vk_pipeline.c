/*
** vk_pipeline.c — compute pipelines and the dispatch of one kernel.
**
** The SPIR-V of every shader in shaders/ is compiled by glslc at build time and
** embedded (ember_vk_spirv, generated): nothing is compiled at run time. A pipeline is
** the pair (shader, specialization constants), made on first use and kept in a hash
** table. All pipelines share one layout: one descriptor set of VK_MAX_BINDINGS
** storage buffers and VK_PUSH_BYTES of push constants.
**
** The driver's VkPipelineCache is loaded from and saved to
** $XDG_CACHE_HOME/ember/vk-pipelines-<pipelineCacheUUID>.bin (else ~/.cache/ember),
** so a second run skips the driver's shader compiler; a file from another driver
** or driver version has another name and is never fed to the wrong one.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vk.h"

typedef struct entry {
  int shader;                    /* index in ember_vk_spirv */
  uint32_t spec[VK_MAX_SPEC];
  VkPipeline pipeline;
} entry;

static VkDescriptorSetLayout set_layout;
static VkPipelineLayout layout;
static VkPipelineCache cache;
static size_t cache_loaded;      /* bytes read from the cache file */
static int cache_dirty;
static VkShaderModule *modules;  /* per shader, made on first use */
static int nshaders;
static entry *table;             /* open addressing; capacity a power of two */
static int cap, count;
static vk_alloc dummy;           /* bound to the bindings a kernel leaves unused */

VkPipelineLayout vk_pipeline_layout(void) { return layout; }
VkDescriptorSetLayout vk_set_layout(void) { return set_layout; }

static void cache_path(char *buf, size_t n) {
  const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  char dir[512];
  if (xdg && *xdg) snprintf(dir, sizeof dir, "%s/ember", xdg);
  else snprintf(dir, sizeof dir, "%s/.cache/ember", home && *home ? home : "/tmp");
  char uuid[2 * VK_UUID_SIZE + 1];
  for (unsigned i = 0; i < VK_UUID_SIZE; i++) snprintf(uuid + 2 * i, 3, "%02x", vk.props.pipelineCacheUUID[i]);
  snprintf(buf, n, "%s/vk-pipelines-%s.bin", dir, uuid);
}

static void *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  void *data = NULL;
  if (fseek(f, 0, SEEK_END) == 0) {
    long size = ftell(f);
    if (size > 0 && size < (64L << 20) && fseek(f, 0, SEEK_SET) == 0 && (data = malloc(size)) &&
        fread(data, 1, size, f) != (size_t)size) {
      free(data);
      data = NULL;
    }
    *n = data ? (size_t)size : 0;
  }
  fclose(f);
  return data;
}

static void make_dirs(char *path) {   /* mkdir -p of path's folder */
  for (char *p = path + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      mkdir(path, 0755);
      *p = '/';
    }
}

/* Written to a temp file and renamed: a crash mid-write never leaves half a cache. */
static void save_cache(void) {
  if (!cache || !cache_dirty) return;
  size_t n = 0;
  if (vkGetPipelineCacheData(vk.dev, cache, &n, NULL) != VK_SUCCESS || n == 0) return;
  void *data = malloc(n);
  if (data == NULL) return;
  char path[640], tmp[660];
  cache_path(path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
  make_dirs(path);
  FILE *f = NULL;
  if (vkGetPipelineCacheData(vk.dev, cache, &n, data) == VK_SUCCESS && (f = fopen(tmp, "wb"))) {
    int ok = fwrite(data, 1, n, f) == n;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) unlink(tmp);
  }
  free(data);
}

ember_status vk_pipeline_start(void) {
  VkDescriptorSetLayoutBinding b[VK_MAX_BINDINGS];
  for (int i = 0; i < VK_MAX_BINDINGS; i++)
    b[i] = (VkDescriptorSetLayoutBinding){ .binding = (uint32_t)i, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                           .descriptorCount = 1, .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT };
  VkDescriptorSetLayoutCreateInfo li = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                         .bindingCount = VK_MAX_BINDINGS, .pBindings = b };
  VkResult r = vkCreateDescriptorSetLayout(vk.dev, &li, NULL, &set_layout);
  if (r != VK_SUCCESS) return vk_fail("vkCreateDescriptorSetLayout", r);
  VkPushConstantRange pr = { VK_SHADER_STAGE_COMPUTE_BIT, 0, VK_PUSH_BYTES };
  VkPipelineLayoutCreateInfo pi = { .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                    .setLayoutCount = 1, .pSetLayouts = &set_layout,
                                    .pushConstantRangeCount = 1, .pPushConstantRanges = &pr };
  r = vkCreatePipelineLayout(vk.dev, &pi, NULL, &layout);
  if (r != VK_SUCCESS) return vk_fail("vkCreatePipelineLayout", r);

  char path[640];
  cache_path(path, sizeof path);
  size_t n = 0;
  void *data = read_file(path, &n);
  VkPipelineCacheCreateInfo ci = { .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
                                   .initialDataSize = n, .pInitialData = data };
  r = vkCreatePipelineCache(vk.dev, &ci, NULL, &cache);
  if (r != VK_SUCCESS && data) {   /* a damaged file: start empty */
    ci.initialDataSize = 0;
    ci.pInitialData = NULL;
    n = 0;
    r = vkCreatePipelineCache(vk.dev, &ci, NULL, &cache);
  }
  free(data);
  if (r != VK_SUCCESS) return vk_fail("vkCreatePipelineCache", r);
  cache_loaded = n;

  while (ember_vk_spirv[nshaders].name) nshaders++;
  modules = calloc(nshaders ? nshaders : 1, sizeof *modules);
  if (modules == NULL) return ember_error("out of memory");
  return vk_alloc_new(256, &dummy);
}

void vk_pipeline_stop(void) {
  save_cache();
  for (int i = 0; i < cap; i++)
    if (table[i].pipeline) vkDestroyPipeline(vk.dev, table[i].pipeline, NULL);
  free(table);
  table = NULL;
  cap = count = 0;
  for (int i = 0; i < nshaders; i++)
    if (modules[i]) vkDestroyShaderModule(vk.dev, modules[i], NULL);
  free(modules);
  modules = NULL;
  nshaders = 0;
  vk_alloc_free(&dummy);
  vkDestroyPipelineCache(vk.dev, cache, NULL);
  vkDestroyPipelineLayout(vk.dev, layout, NULL);
  vkDestroyDescriptorSetLayout(vk.dev, set_layout, NULL);
}

size_t ember_vk_pipeline_cache_loaded(void) { return cache_loaded; }
int ember_vk_pipeline_count(void) { return count; }

static int find_shader(const char *name) {
  for (int i = 0; i < nshaders; i++)
    if (strcmp(ember_vk_spirv[i].name, name) == 0) return i;
  return -1;
}

static uint32_t hash(int shader, const uint32_t *spec) {
  uint32_t h = 2166136261u ^ (uint32_t)shader;
  for (int i = 0; i < VK_MAX_SPEC; i++) h = (h ^ spec[i]) * 16777619u;
  return h;
}

static ember_status grow(void) {
  int ncap = cap ? 2 * cap : 256;
  entry *nt = calloc(ncap, sizeof *nt);
  if (nt == NULL) return ember_error("out of memory");
  for (int i = 0; i < cap; i++) {
    if (!table[i].pipeline) continue;
    uint32_t j = hash(table[i].shader, table[i].spec) & (ncap - 1);
    while (nt[j].pipeline) j = (j + 1) & (ncap - 1);
    nt[j] = table[i];
  }
  free(table);
  table = nt;
  cap = ncap;
  return EMBER_OK;
}

static ember_status make_pipeline(int shader, const uint32_t *spec, VkPipeline *p) {
  if (!modules[shader]) {
    VkShaderModuleCreateInfo mi = { .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                    .codeSize = ember_vk_spirv[shader].bytes,
                                    .pCode = ember_vk_spirv[shader].code };
    VkResult r = vkCreateShaderModule(vk.dev, &mi, NULL, &modules[shader]);
    if (r != VK_SUCCESS) return vk_fail("vkCreateShaderModule", r);
  }
  VkSpecializationMapEntry map[VK_MAX_SPEC];
  for (int i = 0; i < VK_MAX_SPEC; i++)
    map[i] = (VkSpecializationMapEntry){ (uint32_t)i, (uint32_t)(i * sizeof(uint32_t)), sizeof(uint32_t) };
  VkSpecializationInfo si = { VK_MAX_SPEC, map, VK_MAX_SPEC * sizeof(uint32_t), spec };
  VkComputePipelineCreateInfo ci = {
    .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
    .stage = { .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
               .stage = VK_SHADER_STAGE_COMPUTE_BIT, .module = modules[shader], .pName = "main",
               .pSpecializationInfo = &si },
    .layout = layout,
  };
  VkResult r = vkCreateComputePipelines(vk.dev, cache, 1, &ci, NULL, p);
  if (r != VK_SUCCESS) return vk_fail("vkCreateComputePipelines", r);
  cache_dirty = 1;
  return EMBER_OK;
}

ember_status vk_pipeline_get(const char *name, const uint32_t *spec, VkPipeline *p) {
  int shader = find_shader(name);
  if (shader < 0) return ember_error("vulkan: no shader named \"%s\" in this build", name);
  if (2 * (count + 1) > cap && grow() != EMBER_OK) return EMBER_ERROR;
  uint32_t j = hash(shader, spec) & (cap - 1);
  for (; table[j].pipeline; j = (j + 1) & (cap - 1))
    if (table[j].shader == shader && memcmp(table[j].spec, spec, sizeof table[j].spec) == 0) {
      *p = table[j].pipeline;
      return EMBER_OK;
    }
  if (make_pipeline(shader, spec, p) != EMBER_OK) return EMBER_ERROR;
  table[j].shader = shader;
  memcpy(table[j].spec, spec, sizeof table[j].spec);
  table[j].pipeline = *p;
  count++;
  return EMBER_OK;
}

/* {====== one dispatch */

void vk_groups_1d(int64_t n, uint32_t local, uint32_t groups[3]) {
  int64_t g = (n + local - 1) / local;
  uint32_t maxx = vk.props.limits.maxComputeWorkGroupCount[0];
  if (g <= (int64_t)maxx) {
    groups[0] = g > 0 ? (uint32_t)g : 1;
    groups[1] = 1;
  } else {   /* the shader folds y back into x: gl_WorkGroupID.y * gl_NumWorkGroups.x */
    groups[0] = 65535;
    groups[1] = (uint32_t)((g + 65534) / 65535);
  }
  groups[2] = 1;
}

ember_status vk_launch(const vk_launch_args *a) {
  VkPipeline pipe;
  if (vk_pipeline_get(a->shader, a->spec, &pipe) != EMBER_OK) return EMBER_ERROR;
  VkCommandBuffer cmd;
  if (vk_batch_cmd(&cmd) != EMBER_OK) return EMBER_ERROR;
  VkDescriptorBufferInfo info[VK_MAX_BINDINGS];
  VkWriteDescriptorSet w[VK_MAX_BINDINGS];
  VkDescriptorSet set;
  if (vk_batch_descriptor_set(&set) != EMBER_OK) return EMBER_ERROR;
  for (int i = 0; i < VK_MAX_BINDINGS; i++) {
    if (i == VK_ERROR_BINDING && a->error_slot) {
      void vk_error_binding(int k, VkDescriptorBufferInfo *info);
      vk_error_binding(a->error_slot, &info[i]);
      w[i] = (VkWriteDescriptorSet){ .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set,
                                     .dstBinding = (uint32_t)i, .descriptorCount = 1,
                                     .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                     .pBufferInfo = &info[i] };
      continue;
    }
    vk_alloc *al = i < a->nbind && a->bind[i] ? vk_storage_alloc(a->bind[i]->storage) : &dummy;
    if (al == NULL)
      return ember_error("vulkan: %s: binding %d is not a vulkan tensor", a->shader, i);
    if (al != &dummy) {
      vk_batch_access(al->buffer, al->offset, al->size, a->write[i]);
      al->used = 1;
    }
    info[i] = (VkDescriptorBufferInfo){ al->buffer, al->offset, al->size };
    w[i] = (VkWriteDescriptorSet){ .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set,
                                   .dstBinding = (uint32_t)i, .descriptorCount = 1,
                                   .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                   .pBufferInfo = &info[i] };
  }
  vkUpdateDescriptorSets(vk.dev, VK_MAX_BINDINGS, w, 0, NULL);
  vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipe);
  vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, layout, 0, 1, &set, 0, NULL);
  if (a->push_bytes) {
    uint8_t pc[VK_PUSH_BYTES] = {0};
    size_t n = a->push_bytes > VK_PUSH_BYTES ? VK_PUSH_BYTES : a->push_bytes;
    memcpy(pc, a->push, n);
    vkCmdPushConstants(cmd, layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, VK_PUSH_BYTES, pc);
  }
  vkCmdDispatch(cmd, a->groups[0], a->groups[1], a->groups[2]);
  return vk_batch_count();
}

/* }====== */
