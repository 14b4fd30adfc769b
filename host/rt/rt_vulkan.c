/*
** rt_vulkan.c — the runtime's Vulkan executor: weights uploaded once at load, the
** whole graph recorded once into a command buffer that each execute replays, inputs
** and outputs through mapped staging. A runtime built without Vulkan has none.
**
** At load (after load.c made the cpu headers and checked the shapes at the bounds):
**   - every constant goes to the device once, except a 0-dim cpu one (a Lua number)
**     that no view reads: the ops that take host scalars read it into their push
**     constants at record time, as eager dispatch lets them; for any other op reading
**     it a device copy is made once and shown to that op's kernel instead, with the
**     cpu one as the caller's input, as eager dispatch does;
**   - the arena is one device allocation: each value that owns arena bytes gets a
**     device storage over its range of it (views and in-place results share their
**     root's), and each input a range past the arena;
**   - one host-visible buffer, mapped, holds every input and every output at its
**     bounds: p->inputs[k].data points into it (the caller writes the values there;
**     an index input whose graph counts from 1 keeps load.c's buffer instead, and
**     execute writes the shifted values into the staging), and p->outputs[k].data
**     points at the results;
**   - the graph is recorded once (host/vk captures): copies of the inputs from the
**     staging, every node's Vulkan kernel over the device headers, copies of the
**     outputs into the staging. A kernel's temporaries live as long as the recording.
** Execute writes the index inputs, replays the recording, waits on its fence, checks
** the error slots (an index out of range is an error that names it, as on the cpu) and
** shifts the index outputs back to 0-based. When the inputs' shapes change, the
** recording is made again: sizes, push constants and workgroup counts are baked into it.
*/
#include "rt.h"

#if defined(EMBER_RT) && !defined(EMBER_RT_WITH_VULKAN)

const rt_device_ops *rt_vulkan_ops(void) { return NULL; }
int64_t rt_vulkan_records(const ember_rt_program *p) { (void)p; return 0; }

#else

#include <stdlib.h>
#include <string.h>

#include "vk.h"

#define PINNED (1 << 30)

int ember_vk_started(void);   /* vk_device.c */   /* headers and storages the program owns: never freed by a release */

typedef struct vk_program {
  vk_alloc mem;                 /* the arena, then each input */
  int have_mem;
  VkDeviceSize align;           /* of a storage range: the device's offset alignment */
  ember_storage **range;        /* per value: the device storage it owns, or NULL */
  int64_t *extra;               /* per value: bytes from its range's start to its own */
  ember_storage **cpu_input;    /* per input: load.c's storage, given back at free */
  ember_tensor **dev;           /* per value: the constant on the device (also a 0-dim
                                   constant's device copy when its header stays on the cpu) */
  char *twin;                   /* per value: 1 when dev[id] is such a copy */
  VkBuffer staging;
  VkDeviceMemory staging_mem;
  char *mapped;
  size_t *in_at, *out_at;       /* byte offsets in the staging */
  vk_capture *cap;
  int64_t sizes[RT_MAX_SYMS];   /* the dynamic dims the recording was made at */
  int64_t records;              /* times the graph was recorded */
} vk_program;

static ember_rt_status device_fail(const char *what) {
  return rt_fail(EMBER_RT_ERROR_DEVICE, "program: vulkan: %s: %s", what, ember_last_error());
}

static int is_view_node(const ember_rt_program *p, const rt_node *n) {
  return (n->op->flags & EMBER_OP_VIEW) && p->values[n->out[0]].is_view;
}

static size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

/* Bytes of t at its current shape. */
static size_t value_bytes(const ember_tensor *t) {
  return ember_dtype_nbytes(t->dtype, ember_tensor_numel(t));
}

/* {====== load */

/* A constant that may stay on the cpu: a 0-dim one (a Lua number). */
static int cpu_scalar(const rt_value *v) {
  return v->kind == RT_CONST && v->konst->ndim == 0 && v->konst->storage->device == EMBER_CPU;
}

enum { READ_BY_VIEW = 1, READ_ON_DEVICE = 2 };

static ember_rt_status upload_constants(ember_rt_program *p, vk_program *s) {
  char *reads = calloc((size_t)p->nvalues + 1, 1);
  if (reads == NULL) return rt_fail(EMBER_RT_ERROR_MEMORY, "program: out of memory");
  for (int i = 0; i < p->nnodes; i++) {
    const rt_node *n = &p->nodes[i];
    /* an op that takes host scalars still needs one device input to run on the device */
    int host_ok = (n->op->flags & EMBER_OP_HOST_SCALARS) != 0, on_device = 0;
    for (int j = 0; j < n->nin; j++) on_device |= n->in[j] >= 0 && !cpu_scalar(&p->values[n->in[j]]);
    for (int j = 0; j < n->nin; j++) {
      if (n->in[j] < 0) continue;
      if (is_view_node(p, n)) reads[n->in[j]] |= READ_BY_VIEW;
      else if (!(host_ok && on_device)) reads[n->in[j]] |= READ_ON_DEVICE;
    }
  }
  ember_rt_status st = EMBER_RT_OK;
  for (int id = 0; id < p->nvalues && st == EMBER_RT_OK; id++) {
    rt_value *v = &p->values[id];
    if (v->kind != RT_CONST) continue;
    int stays = cpu_scalar(v) && !(reads[id] & READ_BY_VIEW);
    if (stays && !(reads[id] & READ_ON_DEVICE)) continue;
    ember_tensor *d = ember_to_device(v->konst, EMBER_VULKAN);
    if (d == NULL) {
      st = device_fail("uploading a constant");
      break;
    }
    s->dev[id] = d;
    if (stays) {
      s->twin[id] = 1;
      continue;
    }
    v->t = *d;
    v->t.refcount = PINNED;
    v->t.autograd = NULL;
  }
  free(reads);
  /* the uploads are done before anything is recorded (and a failed one is said now) */
  if (st == EMBER_RT_OK && ember_vk_sync() != EMBER_OK) st = device_fail("uploading the constants");
  return st;
}

/* A storage over bytes [at, at + bytes) of the device allocation. A range starts at
** the device's offset alignment (which may be coarser than the plan's 64 bytes): the
** bytes before the value's own are s->extra. Its size is rounded up to 64 bytes (a
** kernel may read to there, as it may in an allocation of its own) and no further:
** the plan starts the next value there at the earliest. */
static ember_storage *make_range(vk_program *s, int64_t at, int64_t bytes, int64_t *extra) {
  VkDeviceSize base = (VkDeviceSize)at / s->align * s->align;
  *extra = at - (int64_t)base;
  VkDeviceSize size = round_up((size_t)(*extra + bytes), RT_ALIGN);
  if (size == 0) size = RT_ALIGN;
  if (base + size > s->mem.size) size = s->mem.size - base;
  ember_storage *st = vk_storage_range(&s->mem, base, size);
  if (st) st->refcount = PINNED;
  return st;
}

static ember_rt_status make_arena(ember_rt_program *p, vk_program *s) {
  s->align = vk.props.limits.minStorageBufferOffsetAlignment;
  if (s->align < RT_ALIGN) s->align = RT_ALIGN;
  size_t total = round_up((size_t)p->arena_bytes, s->align);
  size_t *in_base = calloc((size_t)p->ninputs + 1, sizeof *in_base);
  if (in_base == NULL) return rt_fail(EMBER_RT_ERROR_MEMORY, "program: out of memory");
  for (int k = 0; k < p->ninputs; k++) {
    in_base[k] = total;
    total += round_up(p->inputs[k].capacity ? p->inputs[k].capacity : 1, s->align);
  }
  if (vk_alloc_new(total + s->align, &s->mem) != EMBER_OK) {
    free(in_base);
    return rt_fail(EMBER_RT_ERROR_MEMORY, "program: vulkan: the arena of %zu bytes: %s", total,
                   ember_last_error());
  }
  s->have_mem = 1;
  ember_rt_status st = EMBER_RT_OK;
  for (int id = 0; id < p->nvalues && st == EMBER_RT_OK; id++) {
    rt_value *v = &p->values[id];
    if (v->kind == RT_NODE && v->root == id && v->at >= 0) {
      s->range[id] = make_range(s, v->at, v->bytes, &s->extra[id]);
      if (s->range[id] == NULL) st = rt_fail(EMBER_RT_ERROR_MEMORY, "program: out of memory");
    }
  }
  for (int k = 0; k < p->ninputs && st == EMBER_RT_OK; k++) {
    int id = p->inputs[k].value;
    s->range[id] = make_range(s, (int64_t)in_base[k], (int64_t)p->inputs[k].capacity, &s->extra[id]);
    if (s->range[id] == NULL) st = rt_fail(EMBER_RT_ERROR_MEMORY, "program: out of memory");
    else {
      s->cpu_input[k] = p->values[id].t.storage;
      p->values[id].t.storage = s->range[id];
    }
  }
  free(in_base);
  if (st != EMBER_RT_OK) return st;
  /* node values: their root's range; views get theirs from the view ops (rt_update_shapes) */
  for (int id = 0; id < p->nvalues; id++) {
    rt_value *v = &p->values[id];
    if (v->kind != RT_NODE) continue;
    const rt_value *r = &p->values[v->root];
    if (r->kind != RT_NODE || s->range[v->root] == NULL) continue;
    v->t.storage = s->range[v->root];
    v->t.offset = v->is_view ? 0 : s->extra[v->root] / (int64_t)ember_dtype_size(v->dtype);
  }
  return EMBER_RT_OK;
}

static ember_rt_status make_staging(ember_rt_program *p, vk_program *s) {
  size_t n = 0;
  for (int k = 0; k < p->ninputs; k++) {
    s->in_at[k] = n;
    n += round_up(p->inputs[k].capacity, RT_ALIGN);
  }
  for (int k = 0; k < p->noutputs; k++) {
    s->out_at[k] = n;
    n += round_up(p->outputs[k].capacity, RT_ALIGN);
  }
  void *mapped;
  if (vk_host_buffer(n ? n : RT_ALIGN, &s->staging, &s->staging_mem, &mapped) != EMBER_OK)
    return rt_fail(EMBER_RT_ERROR_MEMORY, "program: vulkan: %zu bytes of staging: %s", n, ember_last_error());
  s->mapped = mapped;
  memset(s->mapped, 0, n);
  for (int k = 0; k < p->ninputs; k++) {
    const rt_value *v = &p->values[p->inputs[k].value];
    if (!(v->is_index && p->index_base != 0)) p->inputs[k].data = s->mapped + s->in_at[k];
  }
  for (int k = 0; k < p->noutputs; k++) p->outputs[k].data = s->mapped + s->out_at[k];
  return EMBER_RT_OK;
}

/* }====== */

/* {====== recording */

static void record_copy(VkBuffer src, VkDeviceSize so, VkBuffer dst, VkDeviceSize dof, VkDeviceSize n) {
  VkCommandBuffer cmd;
  if (n == 0 || vk_batch_cmd(&cmd) != EMBER_OK) return;
  vk_batch_access(src, so, n, 0);
  vk_batch_access(dst, dof, n, 1);
  VkBufferCopy region = { so, dof, n };
  vkCmdCopyBuffer(cmd, src, dst, 1, &region);
}

/* Node i's Vulkan kernel over the device headers, as eager dispatch would call it. */
static ember_rt_status record_node(ember_rt_program *p, vk_program *s, int i) {
  rt_node *n = &p->nodes[i];
  ember_call *c = &n->call;
  if (n->op->vulkan == NULL)
    return rt_fail(EMBER_RT_ERROR_UNSUPPORTED, "program: node %d (%s) has no Vulkan kernel", i, n->op->name);
  for (int j = 0; j < n->nin; j++)
    if (n->in[j] >= 0 && s->twin[n->in[j]]) c->in[j] = s->dev[n->in[j]];
  c->device = EMBER_VULKAN;
  ember_status st = n->op->vulkan(c);
  c->device = EMBER_CPU;
  for (int j = 0; j < n->nin; j++)
    if (n->in[j] >= 0) c->in[j] = &p->values[n->in[j]].t;
  if (st != EMBER_OK)
    return rt_fail(EMBER_RT_ERROR_EXECUTE, "node %d (%s): %s", i, n->op->name, ember_last_error());
  for (int k = 0; k < n->nout; k++)
    if (c->out[k] != &p->values[n->out[k]].t)
      return rt_fail(EMBER_RT_ERROR_UNSUPPORTED, "program: node %d (%s): its Vulkan kernel made an "
                     "output of its own; a program's outputs are planned", i, n->op->name);
  return EMBER_RT_OK;
}

/* Record the graph at the current shapes; the recording before, if any, goes. */
static ember_rt_status record(ember_rt_program *p, vk_program *s) {
  vk_capture_free(s->cap);
  s->cap = NULL;
  vk_capture *cap;
  if (vk_capture_begin(&cap) != EMBER_OK) return device_fail("recording the graph");
  ember_rt_status st = EMBER_RT_OK;
  for (int k = 0; k < p->ninputs; k++) {
    const ember_tensor *t = &p->values[p->inputs[k].value].t;
    vk_alloc *a = vk_storage_alloc(t->storage);
    record_copy(s->staging, s->in_at[k], a->buffer, a->offset, value_bytes(t));
  }
  for (int i = 0; i < p->nnodes && st == EMBER_RT_OK; i++)
    if (!is_view_node(p, &p->nodes[i])) st = record_node(p, s, i);
  for (int k = 0; k < p->noutputs && st == EMBER_RT_OK; k++) {
    const ember_tensor *t = &p->values[p->outputs[k].value].t;
    vk_alloc *a = vk_storage_alloc(t->storage);
    record_copy(a->buffer, a->offset + (VkDeviceSize)t->offset * ember_dtype_size(t->dtype),
                s->staging, s->out_at[k], value_bytes(t));
  }
  if (st == EMBER_RT_OK && vk_capture_end(cap) != EMBER_OK) st = device_fail("recording the graph");
  if (st != EMBER_RT_OK) {
    vk_capture_free(cap);
    return st;
  }
  s->cap = cap;
  memcpy(s->sizes, p->sym_size, sizeof s->sizes);
  s->records++;
  return EMBER_RT_OK;
}

/* }====== */

/* {====== the device ops */

static ember_rt_status vk_load_program(ember_rt_program *p) {
  if (ember_backend_of(EMBER_VULKAN) == NULL)
    return rt_fail(EMBER_RT_ERROR_DEVICE, "program: vulkan: %s", ember_last_error());
  vk_program *s = calloc(1, sizeof *s);
  if (s == NULL) return rt_fail(EMBER_RT_ERROR_MEMORY, "program: out of memory");
  p->dev_state = s;
  size_t nv = (size_t)p->nvalues + 1;
  s->range = calloc(nv, sizeof *s->range);
  s->extra = calloc(nv, sizeof *s->extra);
  s->dev = calloc(nv, sizeof *s->dev);
  s->twin = calloc(nv, 1);
  s->cpu_input = calloc((size_t)p->ninputs + 1, sizeof *s->cpu_input);
  s->in_at = calloc((size_t)p->ninputs + 1, sizeof *s->in_at);
  s->out_at = calloc((size_t)p->noutputs + 1, sizeof *s->out_at);
  if (!s->range || !s->extra || !s->dev || !s->twin || !s->cpu_input || !s->in_at || !s->out_at)
    return rt_fail(EMBER_RT_ERROR_MEMORY, "program: out of memory");
  ember_rt_status st = upload_constants(p, s);
  if (st == EMBER_RT_OK) st = make_arena(p, s);
  if (st == EMBER_RT_OK) st = make_staging(p, s);
  /* the views again, now over the device headers */
  if (st == EMBER_RT_OK) st = rt_update_shapes(p);
  if (st == EMBER_RT_OK) st = record(p, s);
  return st;
}

static ember_rt_status vk_execute_program(ember_rt_program *p) {
  vk_program *s = p->dev_state;
  /* new dynamic dims (rt_update_shapes has run): the copies' sizes, the push constants
  ** and the workgroup counts are baked into the recording, so it is made again */
  if (s->cap == NULL || memcmp(s->sizes, p->sym_size, sizeof s->sizes) != 0) {
    ember_rt_status st = record(p, s);
    if (st != EMBER_RT_OK) return st;
  }
  if (p->index_base != 0)
    for (int k = 0; k < p->ninputs; k++) {
      const rt_value *v = &p->values[p->inputs[k].value];
      if (v->is_index)
        rt_shift_index(v->dtype, s->mapped + s->in_at[k], p->inputs[k].data, ember_tensor_numel(&v->t),
                    p->index_base);
    }
  if (vk_capture_run(s->cap) != EMBER_OK)
    return rt_fail(vk.failed ? EMBER_RT_ERROR_DEVICE : EMBER_RT_ERROR_EXECUTE, "%s", ember_last_error());
  if (p->index_base != 0)
    for (int k = 0; k < p->noutputs; k++) {
      const rt_value *v = &p->values[p->outputs[k].value];
      if (v->is_index)
        rt_shift_index(v->dtype, p->outputs[k].data, p->outputs[k].data, ember_tensor_numel(&v->t),
                    -p->index_base);
    }
  return EMBER_RT_OK;
}

static void vk_free_program(ember_rt_program *p) {
  vk_program *s = p->dev_state;
  if (s == NULL) return;
  int live = ember_vk_started();   /* at exit the backend may have stopped first */
  vk_capture_free(s->cap);
  for (int k = 0; s->cpu_input && k < p->ninputs; k++)
    if (s->cpu_input[k]) p->values[p->inputs[k].value].t.storage = s->cpu_input[k];
  for (int id = 0; id < p->nvalues; id++) {
    if (s->range && s->range[id]) {
      s->range[id]->refcount = 1;
      ember_storage_release(s->range[id]);
    }
    if (s->dev && s->dev[id]) {
      if (!s->twin[id]) p->values[id].t = *p->values[id].konst;   /* the header load.c made */
      p->values[id].t.refcount = PINNED;
      ember_tensor_release(s->dev[id]);
    }
  }
  if (live && s->have_mem) vk_alloc_free(&s->mem);
  if (live && s->staging) {
    vkDestroyBuffer(vk.dev, s->staging, NULL);
    vkFreeMemory(vk.dev, s->staging_mem, NULL);
  }
  free(s->range);
  free(s->extra);
  free(s->dev);
  free(s->twin);
  free(s->cpu_input);
  free(s->in_at);
  free(s->out_at);
  free(s);
  p->dev_state = NULL;
}

static const rt_device_ops ops = { vk_load_program, vk_execute_program, vk_free_program };

const rt_device_ops *rt_vulkan_ops(void) { return &ops; }

int64_t rt_vulkan_records(const ember_rt_program *p) {
  const vk_program *s = p->dev && p->dev_state ? p->dev_state : NULL;
  return s ? s->records : 0;
}

/* }====== */

#endif
