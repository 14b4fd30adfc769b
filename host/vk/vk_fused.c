/*
** vk_fused.c — export's fused_pointwise on Vulkan: one dispatch of
** shaders/fused_pointwise.comp, which runs the whole program per output element.
** (fused_linear and fused_conv2d are the GEMM's and conv_fwd's epilogues, in
** vk_linalg.c and vk_conv.c.)
**
** The push constants (128 bytes) hold the program (16 steps, one byte each) and the
** layout of the output and eight inputs. That fits because each input's strides are
** not sent: after merging dims (vk_layout_make, at most 4 left) an input is handed over
** contiguous in its own shape, broadcast along some dims, and the shader rebuilds its
** strides from the shape and one bit per dim. An input laid out any other way (a
** transposed or stepped view) is first copied contiguous on the device (vk_dense), as
** is every input when more than 4 dims are left. Numbers (0-dim cpu inputs, which the
** entry lets through as they are) go in the push constants; the output and up to 7
** device inputs are bound (infer refuses more, and programs of more than 16 steps).
*/
#include <string.h>

#include "vk.h"
#include "vk_kernels.h"
#include "../cpu/fused.h"

typedef struct fp_push {
  uint32_t prog[4];
  uint32_t numel;
  int32_t ndim;
  uint32_t numbers, bcast;
  int32_t shape[4];
  int32_t off[9];
  uint32_t hi[8];
} fp_push;

_Static_assert(sizeof(fp_push) <= VK_PUSH_BYTES, "fp_push is past the push constants");

/* Can the shader read operand j of layout l as it is: contiguous in its own shape
** (strides 0 where broadcast), every element in 32-bit reach? Sets its bcast bits. */
static int readable(const vk_layout *l, int j, uint32_t *bits) {
  int64_t run = 1, reach = l->offset[j];
  *bits = 0;
  for (int d = l->ndim - 1; d >= 0; d--) {
    int64_t s = l->stride[j][d];
    if (s == 0) {
      *bits |= 1u << d;
      continue;
    }
    if (s != run) return 0;
    reach += (l->shape[d] - 1) * s;
    run *= l->shape[d];
  }
  return reach <= INT32_MAX;
}

ember_status vk_fused_pointwise(ember_call *c) {
  ember_fused_program prog;
  ember_tensor *out = c->out[0];
  if (ember_fused_parse(c, c->attr[FUSED_PW_CODE].s, c->nin, &prog) != EMBER_OK) return EMBER_ERROR;
  if (prog.nstep > EMBER_FUSED_VK_STEPS)
    return ember_op_error(c, "%d words; on vulkan at most %d", prog.nstep, EMBER_FUSED_VK_STEPS);
  int64_t numel = ember_tensor_numel(out);
  if (numel == 0) return EMBER_OK;
  if (numel > INT32_MAX || out->offset + numel > INT32_MAX)
    return ember_op_error(c, "vulkan: %lld elements are beyond 32-bit indexing", (long long)numel);
  fp_push p;
  memset(&p, 0, sizeof p);
  for (int s = 0; s < prog.nstep; s++) p.prog[s / 4] |= (uint32_t)prog.step[s] << (8 * (s % 4));

  /* bound tensors: the output (or a contiguous stand-in), then the device inputs */
  ember_tensor *dst = ember_tensor_is_contiguous(out) ? out
                      : ember_tensor_empty_on(EMBER_VULKAN, out->dtype, out->ndim, out->shape);
  ember_tensor *own[EMBER_FUSED_INPUTS] = { NULL };   /* dense copies made here */
  const ember_tensor *t[VK_MAX_BINDINGS];
  int which[VK_MAX_BINDINGS], n = 1;                  /* binding j holds input which[j] */
  ember_status st = dst ? EMBER_OK : EMBER_ERROR;
  t[0] = dst;
  for (int k = 0; k < c->nin && st == EMBER_OK; k++) {
    const ember_tensor *x = c->in[k];
    if (x->storage->device == EMBER_CPU) {            /* a number (0-dim): its bits */
      uint32_t w[2] = { 0, 0 };
      memcpy(w, ember_tensor_data(x), ember_dtype_size(x->dtype));
      p.numbers |= 1u << k;
      p.off[1 + k] = (int32_t)w[0];
      p.hi[k] = w[1];
      continue;
    }
    if (n == VK_MAX_BINDINGS) {
      st = ember_op_error(c, "more than %d tensor inputs on vulkan", EMBER_FUSED_VK_INPUTS);
      break;
    }
    which[n] = k;
    t[n++] = x;
  }

  /* the layout; inputs it cannot read are made dense, in their own shape first, then
     (more than 4 dims left) all of them in the output's, which leaves one dim */
  vk_layout l;
  for (int pass = 0; st == EMBER_OK; pass++) {
    vk_layout_make(&l, out->ndim, out->shape, n, t);
    int redo = 0;
    uint32_t bits;
    for (int j = 1; j < n && st == EMBER_OK; j++) {
      int k = which[j];
      int full = l.ndim > VK_LAYOUT_DIMS;
      if (!full && readable(&l, j, &bits)) continue;
      if (pass > 1) {
        st = ember_op_error(c, "vulkan: input %d cannot be laid out for the kernel", k + 1);
        break;
      }
      ember_tensor *d = full ? vk_dense(c->in[k], EMBER_DTYPE_NONE, out->ndim, out->shape)
                             : vk_dense(c->in[k], EMBER_DTYPE_NONE, 0, NULL);
      if (d == NULL) {
        st = EMBER_ERROR;
        break;
      }
      ember_tensor_release(own[k]);
      own[k] = d;
      t[j] = d;
      redo = 1;
    }
    if (!redo) break;
  }
  if (st == EMBER_OK) {
    p.numel = (uint32_t)numel;
    p.ndim = l.ndim;
    p.off[0] = (int32_t)l.offset[0];
    for (int d = 0; d < l.ndim; d++) p.shape[d] = (int32_t)l.shape[d];
    for (int j = 1; j < n; j++) {
      uint32_t bits;
      readable(&l, j, &bits);
      p.bcast |= bits << (4 * which[j]);
      p.off[1 + which[j]] = (int32_t)l.offset[j];
    }
    char name[40];
    st = vk_shader_variant(name, sizeof name, "fused_pointwise", 1, &out->dtype);
    if (st == EMBER_OK) {
      vk_launch_args a = { .shader = name, .nbind = n, .push = &p, .push_bytes = sizeof p };
      for (int j = 0; j < n; j++) a.bind[j] = t[j];
      a.write[0] = 1;
      a.spec[0] = 256; a.spec[1] = 1; a.spec[2] = 1;
      vk_groups_1d(numel, 256, a.groups);
      st = vk_launch(&a);
    }
    if (st == EMBER_OK && dst != out) st = ember_copy_(out, dst);
  }
  for (int k = 0; k < EMBER_FUSED_INPUTS; k++) ember_tensor_release(own[k]);
  if (dst != out) ember_tensor_release(dst);
  return st;
}
