/*
** dispatch.c — runs one op call: infer, allocate, cast, kernel, convert, record.
** The same path serves the Lua bindings, ember_op_run from C, and (later) the runtime,
** so every caller gets the same checks and the same error messages.
*/
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"

void ember_call_init(ember_call *c, const ember_op *op, int nin, ember_tensor **in) {
  c->op = op;
  c->nin = nin;
  c->in = in;
  c->nout = op->nout;
  c->inplace = 0;
  c->index_base = 0;
  c->list_out = NULL;
  c->nlist = 0;
  c->compute = EMBER_DTYPE_NONE;
  c->grad_mask = 0;
  c->saved_self = NULL;
  c->device = EMBER_CPU;
  int na = ember_op_attr_count(op);
  const ember_attr *defaults = na ? ember_op_defaults(op) : NULL;
  for (int k = 0; k < na; k++) {
    const ember_attr *d = &defaults[k];
    c->attr[k].present = d->present;
    c->attr[k].n = d->n;
    c->attr[k].i = d->i;
    c->attr[k].f = d->f;
    c->attr[k].s = d->s;
    if (d->n) memcpy(c->attr[k].v, d->v, d->n * sizeof d->v[0]);
  }
  /* the slots past the declared ones start empty: export records and compares them */
  for (int k = na; k < EMBER_MAX_ATTRS; k++) {
    c->attr[k].present = c->attr[k].n = 0;
    c->attr[k].i = 0;
    c->attr[k].f = 0;
    c->attr[k].s = NULL;
  }
}

static int category(ember_dtype dt) {
  return dt == EMBER_BOOL ? 0 : ember_dtype_is_float(dt) ? 2 : 1;
}

static ember_status alloc_outputs(ember_call *c) {
  for (int k = 0; k < c->nout; k++) {
    ember_dtype kd = c->out_kernel[k] != EMBER_DTYPE_NONE ? c->out_kernel[k] : c->out_dtype[k];
    if (k == 0 && c->inplace) {
      ember_tensor *target = c->in_user[0];
      if (c->out_ndim[0] != target->ndim ||
          memcmp(c->out_shape[0], target->shape, target->ndim * sizeof target->shape[0]) != 0) {
        char a[128], b[128];
        return ember_op_error(c, "result of shape %s does not fit the in-place target of shape %s",
                              ember_shape_text(c->out_ndim[0], c->out_shape[0], a, sizeof a),
                              ember_shape_str(target, b, sizeof b));
      }
      if (category(c->out_dtype[0]) > category(target->dtype))
        return ember_op_error(c, "result dtype %s cannot be written in place into a %s tensor",
                              ember_dtype_name(c->out_dtype[0]), ember_dtype_name(target->dtype));
      c->out_dtype[0] = target->dtype;
      if (kd == target->dtype) {
        ember_tensor_retain(target);
        c->out[0] = target;
        continue;
      }
    }
    c->out[k] = ember_tensor_empty_on(c->device, kd, c->out_ndim[k], c->out_shape[k]);
    if (c->out[k] == NULL) return EMBER_ERROR;
  }
  return EMBER_OK;
}

/* Bring each output to its declared dtype; for in-place calls, write into in[0]. */
static ember_status finish_outputs(ember_call *c) {
  for (int k = 0; k < c->nout; k++) {
    ember_tensor *o = c->out[k];
    if (k == 0 && c->inplace) {
      ember_tensor *target = c->in_user[0];
      if (o != target) {
        ember_status st = ember_copy_(target, o);
        ember_tensor_release(o);
        ember_tensor_retain(target);
        c->out[0] = target;
        if (st != EMBER_OK) return st;
      }
      continue;
    }
    if (o->dtype != c->out_dtype[k]) {
      ember_tensor *conv = ember_to_dtype(o, c->out_dtype[k]);
      ember_tensor_release(o);
      c->out[k] = conv;
      if (conv == NULL) return EMBER_ERROR;
    }
  }
  return EMBER_OK;
}

static void release_outputs(ember_call *c) {
  for (int k = 0; k < c->nout && k < EMBER_MAX_OUTPUTS; k++) {
    ember_tensor_release(c->out[k]);
    c->out[k] = NULL;
  }
}

static void restore_inputs(ember_call *c, int n) {
  for (int i = 0; i < n; i++) {
    if (c->in_owned[i]) ember_tensor_release(c->in_owned[i]);
    c->in_owned[i] = NULL;
    c->in[i] = c->in_user[i];
  }
}

/* Integer attributes far beyond any real size are refused here, once, so that no
** shape rule or kernel has to guard its arithmetic against overflow: 2^40 elements
** along one dim is beyond any memory, and no tensor has more than EMBER_MAX_DIMS dims. */
#define ATTR_INT_LIMIT ((int64_t)1 << 40)
#define ATTR_DIM_LIMIT 64

static ember_status check_attr_ranges(ember_call *c) {
  const ember_op *op = c->op;
  for (int k = 0; op->attrs && op->attrs[k].name; k++) {
    const ember_attr *a = &c->attr[k];
    if (!a->present) continue;
    ember_attr_kind kind = op->attrs[k].kind;
    int64_t limit = kind == EMBER_ATTR_DIM || kind == EMBER_ATTR_DIMS || kind == EMBER_ATTR_DIMS_VA
                    ? ATTR_DIM_LIMIT : ATTR_INT_LIMIT;
    if (kind == EMBER_ATTR_FLOAT || kind == EMBER_ATTR_STR || kind == EMBER_ATTR_BOOL ||
        kind == EMBER_ATTR_DTYPE)
      continue;
    int single = kind == EMBER_ATTR_INT || kind == EMBER_ATTR_DIM || kind == EMBER_ATTR_INDEX;
    int n = single ? 1 : a->n;
    for (int i = 0; i < n; i++) {
      int64_t v = single ? a->i : a->v[i];
      if (kind == EMBER_ATTR_INDEX) continue;   /* checked against the size it indexes */
      if (v > limit || v < -limit)
        return ember_op_error(c, "%s %lld is out of range", op->attrs[k].name, (long long)v);
    }
  }
  return EMBER_OK;
}

/* Storage-only dtypes (u16..u64, c64, f8, f6, f4) have no kernels: only the view ops
** take them (they move strides, not values), and only `to`, `clone` and `contiguous`
** take the packed sub-byte ones. Every other op asks for a conversion first. */
static int takes_packed(const ember_op *op) {
  return strcmp(op->name, "to") == 0 || strcmp(op->name, "clone") == 0 ||
         strcmp(op->name, "contiguous") == 0;
}

static ember_status check_storage_only(ember_call *c) {
  const ember_op *op = c->op;
  for (int i = 0; i < c->nin; i++) {
    const ember_tensor *t = c->in[i];
    if (t == NULL || !ember_dtype_is_storage_only(t->dtype)) continue;
    if ((op->flags & EMBER_OP_VIEW) && (!ember_dtype_is_subbyte(t->dtype) || takes_packed(op)))
      continue;
    return ember_op_error(c, "%s is a storage-only dtype: convert it first, e.g. t:to(\"f32\")",
                          ember_dtype_name(t->dtype));
  }
  for (int k = 0; op->attrs && op->attrs[k].name; k++)
    if (op->attrs[k].kind == EMBER_ATTR_DTYPE && c->attr[k].present && strcmp(op->name, "to") != 0 &&
        ember_dtype_is_storage_only((ember_dtype)c->attr[k].i))
      return ember_op_error(c, "%s is a storage-only dtype: make the tensor in a compute dtype "
                            "and convert it with t:to(\"%s\")", ember_dtype_name((ember_dtype)c->attr[k].i),
                            ember_dtype_name((ember_dtype)c->attr[k].i));
  return EMBER_OK;
}

/* The device of a call is that of its inputs; they must all be on it, except a
** 0-dim cpu tensor (a Lua number, a loss scale), which goes along as PyTorch lets a
** cpu scalar go with cuda tensors. Anything else is an error, never a silent copy. */
static ember_status pick_device(ember_call *c) {
  int first = -1;
  if (c->op->flags & EMBER_OP_CROSS_DEVICE) {
    c->device = c->in[0]->storage->device;
    return EMBER_OK;
  }
  for (int i = 0; i < c->nin; i++) {
    const ember_tensor *t = c->in[i];
    if (t == NULL || (t->storage->device == EMBER_CPU && t->ndim == 0)) continue;
    if (first < 0) {
      first = i;
      c->device = t->storage->device;
    } else if (t->storage->device != c->device) {
      return ember_op_error(c, "input %d is on %s but input %d is on %s: move one with :to()",
                            first + 1, ember_device_name(c->device), i + 1,
                            ember_device_name(t->storage->device));
    }
  }
  if (first < 0) {
    for (int i = 0; i < c->nin; i++)   /* only 0-dim inputs: a device one wins */
      if (c->in[i] && c->in[i]->storage->device != EMBER_CPU) c->device = c->in[i]->storage->device;
  }
  if (c->nin > EMBER_INLINE_INPUTS && c->device != EMBER_CPU)
    for (int i = EMBER_INLINE_INPUTS; i < c->nin; i++)
      if (c->in[i] && c->in[i]->storage->device != c->device)
        return ember_op_error(c, "input %d is on %s but the others are on %s: move it with :to()",
                              i + 1, ember_device_name(c->in[i]->storage->device),
                              ember_device_name(c->device));
  if (c->inplace && c->in_user[0]->storage->device != c->device)
    return ember_op_error(c, "cannot write %s values in place into a %s tensor",
                          ember_device_name(c->device),
                          ember_device_name(c->in_user[0]->storage->device));
  return EMBER_OK;
}

/* Allocation failures below a kernel say "tensor: ..."; name the op instead. */
static void name_the_op(ember_call *c) {
  const char *msg = ember_last_error();
  if (strncmp(msg, "tensor: ", 8) == 0 || strncmp(msg, "out of memory", 13) == 0) {
    char copy[512];
    snprintf(copy, sizeof copy, "%s", strncmp(msg, "tensor: ", 8) == 0 ? msg + 8 : msg);
    ember_op_error(c, "%s", copy);
  }
}

static ember_status dispatch_call(ember_call *c) {
  const ember_op *op = c->op;
  if (c->nin < op->min_inputs || (op->max_inputs >= 0 && c->nin > op->max_inputs))
    return ember_op_error(c, "takes %d to %d tensor inputs, got %d", op->min_inputs,
                          op->max_inputs, c->nin);
  for (int i = 0; i < c->nin; i++)
    if (c->in[i] == NULL && i < op->min_inputs)
      return ember_op_error(c, "input %d is missing", i + 1);
  int ncast = c->nin < EMBER_INLINE_INPUTS ? c->nin : EMBER_INLINE_INPUTS;
  for (int i = 0; i < ncast; i++) {
    c->in_cast[i] = EMBER_DTYPE_NONE;
    c->in_owned[i] = NULL;
    c->in_user[i] = c->in[i];
  }
  for (int k = 0; k < EMBER_MAX_OUTPUTS; k++) {
    c->out[k] = NULL;
    c->out_kernel[k] = EMBER_DTYPE_NONE;
  }
  if (check_attr_ranges(c) != EMBER_OK) return EMBER_ERROR;
  if (check_storage_only(c) != EMBER_OK) return EMBER_ERROR;
  if (op->infer(c) != EMBER_OK) return EMBER_ERROR;

  if (pick_device(c) != EMBER_OK) return EMBER_ERROR;
  ember_kernel_fn kernel = c->device == EMBER_CPU ? op->cpu : op->vulkan;
  if (kernel == NULL)
    return ember_op_error(c, "has no %s kernel yet: move its inputs to the cpu with :to(\"cpu\")",
                          ember_device_name(c->device));
  if (c->device != EMBER_CPU && ember_backend_of(c->device) == NULL) return EMBER_ERROR;

  if (op->flags & EMBER_OP_VIEW) {
    if (kernel(c) != EMBER_OK) return EMBER_ERROR;
#ifndef EMBER_RT   /* the runtime links no autograd: nothing is recorded */
    if (ember_autograd_record(c) != EMBER_OK) {
      release_outputs(c);
      return EMBER_ERROR;
    }
#endif
    return EMBER_OK;
  }
#ifndef EMBER_RT
  if (c->inplace && ember_autograd_before_inplace(c) != EMBER_OK) return EMBER_ERROR;
#endif
  /* one in-place call is one write, however many copies it takes inside */
  unsigned version = c->inplace ? c->in_user[0]->storage->version : 0;
  for (int i = 0; i < ncast; i++) {
    if (c->in[i] == NULL) continue;
    if (c->in[i]->storage->device != c->device &&
        !(op->flags & (EMBER_OP_CROSS_DEVICE | EMBER_OP_HOST_SCALARS))) {
      /* a number: see pick_device */
      ember_dtype dt = c->in_cast[i] != EMBER_DTYPE_NONE ? c->in_cast[i] : c->in[i]->dtype;
      ember_tensor *h = ember_to_dtype(c->in[i], dt);
      c->in_owned[i] = h ? ember_to_device(h, c->device) : NULL;
      ember_tensor_release(h);
    } else if (c->in_cast[i] != EMBER_DTYPE_NONE) {
      c->in_owned[i] = ember_to_dtype(c->in[i], c->in_cast[i]);
    } else {
      continue;
    }
    if (c->in_owned[i] == NULL) {
      restore_inputs(c, i);
      return EMBER_ERROR;
    }
    c->in[i] = c->in_owned[i];
  }
  ember_status st = EMBER_OK;
  if (!(op->flags & (EMBER_OP_ALLOCS | EMBER_OP_LIST_OUT))) st = alloc_outputs(c);
  if (st == EMBER_OK) st = kernel(c);
  if (st == EMBER_OK && !(op->flags & EMBER_OP_LIST_OUT)) st = finish_outputs(c);
  restore_inputs(c, ncast);
  if (st == EMBER_OK && c->inplace) c->in_user[0]->storage->version = version + 1;
  if (st != EMBER_OK) name_the_op(c);
#ifndef EMBER_RT
  else st = ember_autograd_record(c);
#endif
  if (st != EMBER_OK) {
    release_outputs(c);
#ifndef EMBER_RT
    ember_autograd_call_done(c);
#endif
    return EMBER_ERROR;
  }
  return EMBER_OK;
}

/* Export's tracer (host/graph/trace.c) sees each call the caller made, not the calls
** an op makes inside its own kernel or rule: only the outermost dispatch is shown. */
_Thread_local ember_status (*ember_trace_hook)(ember_call *c);
static _Thread_local int dispatch_depth;

ember_status ember_dispatch(ember_call *c) {
  dispatch_depth++;
  ember_status st = dispatch_call(c);
  dispatch_depth--;
  if (st == EMBER_OK && dispatch_depth == 0 && ember_trace_hook && ember_trace_hook(c) != EMBER_OK) {
    if (c->op->flags & EMBER_OP_LIST_OUT) {
      for (int k = 0; k < c->nlist; k++) ember_tensor_release(c->list_out[k]);
      free(c->list_out);
      c->list_out = NULL;
      c->nlist = 0;
    } else {
      release_outputs(c);
    }
    return EMBER_ERROR;
  }
  return st;
}

/* {====== ember_op_run: the C entry by name */

ember_status ember_call_parse_attrs(ember_call *c, const char *text, char *buf, size_t bufsize) {
  if (text == NULL || *text == 0) return EMBER_OK;
  if (strlen(text) >= bufsize) return ember_op_error(c, "attribute string too long");
  strcpy(buf, text);
  for (char *p = buf; p && *p;) {
    char *item = p;
    char *comma = strchr(p, ',');
    /* a comma followed by a digit or '-' continues a list ("stride=1,1") */
    while (comma && (comma[1] == '-' || (comma[1] >= '0' && comma[1] <= '9'))) comma = strchr(comma + 1, ',');
    if (comma) { *comma = 0; p = comma + 1; } else p = NULL;
    char *eq = strchr(item, '=');
    if (eq == NULL) return ember_op_error(c, "attribute \"%s\" has no '='", item);
    *eq = 0;
    int k = ember_op_attr_index(c->op, item);
    if (k < 0) return ember_op_error(c, "unknown attribute \"%s\"", item);
    if (ember_attr_parse(c->op, &c->op->attrs[k], eq + 1, &c->attr[k]) != EMBER_OK) return EMBER_ERROR;
  }
  return EMBER_OK;
}

int ember_op_run(const char *name, int nin, ember_tensor *const *in, const char *attrs,
                 ember_tensor **out, int maxout) {
  const ember_op *op = ember_op_find(name);
  if (op == NULL) {
    ember_error("no op named \"%s\"", name);
    return -1;
  }
  ember_tensor *inputs[EMBER_INLINE_INPUTS];
  ember_tensor **inp = nin <= EMBER_INLINE_INPUTS ? inputs : malloc(nin * sizeof *inp);
  if (inp == NULL) { ember_error("out of memory"); return -1; }
  if (nin > 0) memcpy(inp, in, nin * sizeof *inp);
  ember_call c;
  char buf[1024];
  ember_call_init(&c, op, nin, inp);
  int n = -1;
  if (ember_call_parse_attrs(&c, attrs, buf, sizeof buf) == EMBER_OK && ember_dispatch(&c) == EMBER_OK) {
    if (op->flags & EMBER_OP_LIST_OUT) {
      n = 0;
      for (int k = 0; k < c.nlist; k++) {
        if (k < maxout) out[n++] = c.list_out[k];
        else ember_tensor_release(c.list_out[k]);
      }
      free(c.list_out);
    } else {
      n = 0;
      for (int k = 0; k < c.nout; k++) {
        if (k < maxout) out[n++] = c.out[k];
        else ember_tensor_release(c.out[k]);
      }
    }
  }
  if (inp != inputs) free(inp);
  return n;
}

/* }====== */
