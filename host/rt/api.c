/*
** api.c — the runtime's C API (ember_rt.h) over the loaded program: what it takes and
** gives, inputs in, execute, outputs out, profiling.
*/
#include <stdlib.h>
#include <string.h>

#include "rt.h"

const char *ember_rt_last_error(void) { return ember_last_error(); }

const char *ember_rt_status_name(ember_rt_status st) {
  static const char names[][12] = {   /* in place: pointers would each cost a relocation */
    "ok", "io", "format", "version", "unsupported", "argument", "memory", "execute", "device",
  };
  return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "unknown";
}

#define ARG(...) rt_fail(EMBER_RT_ERROR_ARGUMENT, __VA_ARGS__)

int ember_rt_input_count(const ember_rt_program *p) { return p->ninputs; }
int ember_rt_output_count(const ember_rt_program *p) { return p->noutputs; }

static void fill_info(const ember_rt_program *p, const rt_io *io, ember_rt_tensor_info *info) {
  const rt_value *v = &p->values[io->value];
  info->name = io->name;
  info->dtype = ember_dtype_name(v->dtype);
  info->ndim = v->ndim;
  info->shape = io->shape;
  info->max_shape = v->max_shape;
  info->dim_names = io->dim_names;
  info->is_index = v->is_index;
  info->elem_size = ember_dtype_size(v->dtype);
}

ember_rt_status ember_rt_input_info(const ember_rt_program *p, int i, ember_rt_tensor_info *info) {
  if (i < 0 || i >= p->ninputs) return ARG("input %d out of range (the program takes %d)", i, p->ninputs);
  fill_info(p, &p->inputs[i], info);
  return EMBER_RT_OK;
}

ember_rt_status ember_rt_output_info(const ember_rt_program *p, int i, ember_rt_tensor_info *info) {
  if (i < 0 || i >= p->noutputs) return ARG("output %d out of range (the program gives %d)", i, p->noutputs);
  fill_info(p, &p->outputs[i], info);
  return EMBER_RT_OK;
}

static int find_io(const rt_io *io, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (io[i].name && strcmp(io[i].name, name) == 0) return i;
  return -1;
}

int ember_rt_input_index(const ember_rt_program *p, const char *name) { return find_io(p->inputs, p->ninputs, name); }
int ember_rt_output_index(const ember_rt_program *p, const char *name) { return find_io(p->outputs, p->noutputs, name); }

size_t ember_rt_arena_size(const ember_rt_program *p) { return p->total_arena; }
size_t ember_rt_weights_size(const ember_rt_program *p) { return p->weights_bytes; }

ember_rt_status ember_rt_set_arena(ember_rt_program *p, void *arena, size_t n) {
  if (p->device != EMBER_RT_CPU)
    return ARG("the arena of a program on %s lives on the device", p->device == EMBER_RT_VULKAN ? "vulkan" : "?");
  if (arena == NULL || n < p->total_arena)
    return rt_fail(EMBER_RT_ERROR_MEMORY, "arena of %zu bytes is smaller than the %zu the program needs",
                   n, p->total_arena);
  if ((uintptr_t)arena % RT_ALIGN != 0) return ARG("the arena must be 64-byte aligned");
  free(p->arena_owned);
  p->arena_owned = NULL;
  p->arena = arena;
  rt_bind_arena(p);
  p->shapes_dirty = 1;   /* views of arena values point into the old memory */
  return EMBER_RT_OK;
}

static size_t io_bytes(const ember_rt_program *p, const rt_io *io) {
  const rt_value *v = &p->values[io->value];
  return ember_dtype_nbytes(v->dtype, ember_shape_numel(v->ndim, io->shape));
}

ember_rt_status ember_rt_set_input_shape(ember_rt_program *p, int i, int ndim, const int64_t *shape) {
  if (i < 0 || i >= p->ninputs) return ARG("input %d out of range (the program takes %d)", i, p->ninputs);
  rt_io *io = &p->inputs[i];
  const rt_value *v = &p->values[io->value];
  if (ndim != v->ndim) return ARG("input %d (\"%s\") has %d dims, got %d", i, io->name, v->ndim, ndim);
  int64_t size[RT_MAX_SYMS];
  memcpy(size, p->sym_size, sizeof size);
  for (int d = 0; d < ndim; d++) {
    if (io->dim_names[d] == NULL) {
      if (shape[d] != v->max_shape[d])
        return ARG("input %d (\"%s\") dim %d (0-based) is fixed at %lld, got %lld", i, io->name, d,
                   (long long)v->max_shape[d], (long long)shape[d]);
      continue;
    }
    int s = 0;
    while (p->sym_name[s] != io->dim_names[d]) s++;
    if (shape[d] < 1 || shape[d] > p->sym_max[s])
      return ARG("input %d (\"%s\") dynamic dim \"%s\" is %lld, past its bound of %lld (or below 1)",
                 i, io->name, p->sym_name[s], (long long)shape[d], (long long)p->sym_max[s]);
    size[s] = shape[d];
  }
  int changed = memcmp(size, p->sym_size, sizeof size) != 0;
  memcpy(p->sym_size, size, sizeof size);
  for (int k = 0; k < p->ninputs; k++) {
    rt_io *o = &p->inputs[k];
    for (int d = 0; d < p->values[o->value].ndim; d++)
      for (int s = 0; s < p->nsyms; s++)
        if (o->dim_names[d] == p->sym_name[s]) o->shape[d] = size[s];
  }
  if (changed) {
    p->shapes_dirty = 1;
    for (int k = 0; k < p->noutputs; k++) {
      rt_io *o = &p->outputs[k];
      const rt_value *x = &p->values[o->value];
      for (int d = 0; d < x->ndim; d++) o->shape[d] = rt_eval(p, &x->dim[d]);
    }
  }
  return EMBER_RT_OK;
}

void *ember_rt_input_data(ember_rt_program *p, int i) {
  if (i < 0 || i >= p->ninputs) { ARG("input %d out of range (the program takes %d)", i, p->ninputs); return NULL; }
  return p->inputs[i].data;
}

ember_rt_status ember_rt_set_input(ember_rt_program *p, int i, const void *data, size_t nbytes) {
  if (i < 0 || i >= p->ninputs) return ARG("input %d out of range (the program takes %d)", i, p->ninputs);
  size_t need = io_bytes(p, &p->inputs[i]);
  if (nbytes != need) {
    char s[128];
    const rt_value *v = &p->values[p->inputs[i].value];
    return ARG("input %d (%s) is %s %s: %zu bytes, got %zu", i, p->inputs[i].name, ember_dtype_name(v->dtype),
               ember_shape_text(v->ndim, p->inputs[i].shape, s, sizeof s), need, nbytes);
  }
  if (need) memcpy(p->inputs[i].data, data, need);
  return EMBER_RT_OK;
}

ember_rt_status ember_rt_execute(ember_rt_program *p) {
  if (p->dev == NULL && p->total_arena && p->arena == NULL)
    return rt_fail(EMBER_RT_ERROR_MEMORY, "no arena: the program was loaded with no_arena; call ember_rt_set_arena");
  if (p->shapes_dirty && rt_update_shapes(p) != EMBER_RT_OK) return rt_last_status();
  if (p->dev) return p->dev->execute(p);
  return rt_execute_cpu(p);
}

const void *ember_rt_output_data(ember_rt_program *p, int i) {
  if (i < 0 || i >= p->noutputs) { ARG("output %d out of range (the program gives %d)", i, p->noutputs); return NULL; }
  if (p->dev) return p->outputs[i].data;
  return ember_tensor_data(&p->values[p->outputs[i].value].t);
}

ember_rt_status ember_rt_output_shape(const ember_rt_program *p, int i, int *ndim, int64_t *shape) {
  if (i < 0 || i >= p->noutputs) return ARG("output %d out of range (the program gives %d)", i, p->noutputs);
  const rt_value *v = &p->values[p->outputs[i].value];
  *ndim = v->ndim;
  memcpy(shape, p->outputs[i].shape, (size_t)v->ndim * sizeof *shape);
  return EMBER_RT_OK;
}

ember_rt_status ember_rt_get_output(ember_rt_program *p, int i, void *data, size_t nbytes) {
  const void *src = ember_rt_output_data(p, i);
  if (src == NULL) return rt_last_status();
  size_t need = io_bytes(p, &p->outputs[i]);
  if (nbytes < need) return ARG("output %d (%s) needs %zu bytes, got room for %zu", i, p->outputs[i].name, need, nbytes);
  if (need) memcpy(data, src, need);
  return EMBER_RT_OK;
}

void ember_rt_set_profiling(ember_rt_program *p, int on) {
  p->profiling = on;
  if (on)
    for (int i = 0; i < p->nnodes; i++) {
      p->nodes[i].seconds = 0;
      p->nodes[i].calls = 0;
    }
}

int ember_rt_node_count(const ember_rt_program *p) { return p->nnodes; }

ember_rt_status ember_rt_profile(const ember_rt_program *p, int i, const char **op, double *seconds,
                                 int64_t *calls) {
  if (i < 0 || i >= p->nnodes) return ARG("node %d out of range (the program has %d)", i, p->nnodes);
  *op = p->nodes[i].op->name;
  *seconds = p->nodes[i].seconds;
  *calls = p->nodes[i].calls;
  return EMBER_RT_OK;
}
