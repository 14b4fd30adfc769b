/*
** ops_fused.c — op table entries of the ops export's `fuse` pass writes (docs/export.md,
** "Passes"): fused_linear and fused_conv2d, a linear or conv2d with an activation
** applied to each result as the kernel stores it, and fused_pointwise, a chain of
** elementwise ops run as one pass over its output.
**
** They are internal: no Lua function (the specs reach them through ember._op), no
** backward rule (an exported program runs without autograd), and each means exactly
** the composition of eager ops it replaces. fused_linear and fused_conv2d take their
** shape rules from the linear and conv2d entries themselves (the attribute tables
** start alike, so the positions match), then check the activation. fused_pointwise's
** program is parsed here for infer and again by the kernels (host/cpu/fused.h).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "../cpu/fused.h"
#include "../vk/vk_kernels.h"
#include "../../shaders/pointwise_ops.h"

/* {====== words */

static const ember_fused_word words[] = {
  {"add", PW_ADD, 2}, {"sub", PW_SUB, 2}, {"mul", PW_MUL, 2}, {"div", PW_DIV, 2},
  {"maximum", PW_MAXIMUM, 2}, {"minimum", PW_MINIMUM, 2}, {"pow", PW_POW, 2},
  {"neg", PW_NEG, 1}, {"abs", PW_ABS, 1}, {"relu", PW_RELU, 1}, {"sigmoid", PW_SIGMOID, 1},
  {"tanh", PW_TANH, 1}, {"exp", PW_EXP, 1}, {"log", PW_LOG, 1}, {"sqrt", PW_SQRT, 1},
  {"rsqrt", PW_RSQRT, 1}, {"gelu", PW_GELU, 1}, {"gelu_tanh", PW_GELU_TANH, 1},
  {"silu", PW_SILU, 1}, {"sin", PW_SIN, 1}, {"cos", PW_COS, 1}, {"square", PW_SQUARE, 1},
  {"reciprocal", PW_RECIPROCAL, 1},
};

#define NWORDS ((int)(sizeof words / sizeof words[0]))

/* the activations fused_linear and fused_conv2d take, "none" aside */
static const char *const activations[] = { "relu", "gelu", "gelu_tanh", "silu", "tanh", "sigmoid" };

static const ember_fused_word *word_named(const char *s, size_t len) {
  for (int i = 0; i < NWORDS; i++)
    if (strlen(words[i].name) == len && memcmp(words[i].name, s, len) == 0) return &words[i];
  return NULL;
}

ember_status ember_fused_activation(ember_call *c, int k, const ember_fused_word **w) {
  const char *s = c->attr[k].present ? c->attr[k].s : "none";
  *w = NULL;
  if (strcmp(s, "none") == 0) return EMBER_OK;
  for (size_t i = 0; i < sizeof activations / sizeof activations[0]; i++)
    if (strcmp(s, activations[i]) == 0) {
      *w = word_named(s, strlen(s));
      return EMBER_OK;
    }
  return ember_op_error(c, "activation \"%s\" is not one of none, relu, gelu, gelu_tanh, silu, "
                        "tanh, sigmoid", s);
}

/* }====== */

/* {====== fused_pointwise's program */

/* The code as messages quote it: a long one cut short, so the reason still shows. */
static const char *quoted(const char *code, char *buf, size_t n) {
  size_t len = strlen(code);
  if (len < n) return code;
  snprintf(buf, n, "%.*s...", (int)(n - 4), code);
  return buf;
}

ember_status ember_fused_parse(ember_call *c, const char *text, int nin, ember_fused_program *p) {
  char shown[64];
  const char *s = text, *code = quoted(text, shown, sizeof shown);
  int sp = 0;
  p->nstep = p->depth = 0;
  for (;;) {
    while (*s == ' ') s++;
    if (*s == 0) break;
    const char *e = s;
    while (*e && *e != ' ') e++;
    int len = (int)(e - s), n = p->nstep + 1;
    if (p->nstep == EMBER_FUSED_STEPS)
      return ember_op_error(c, "code \"%s\" has more than %d words", code, EMBER_FUSED_STEPS);
    if (*s == '%') {
      char *end;
      long k = strtol(s + 1, &end, 10);
      if (len < 2 || end != e || s[1] < '0' || s[1] > '9')
        return ember_op_error(c, "code \"%s\": word %d \"%.*s\" is not an input (%%0, %%1, ...)",
                              code, n, len, s);
      if (k >= nin)
        return ember_op_error(c, "code \"%s\": word %d \"%.*s\" is out of range: there %s %d "
                              "input%s (%%0 .. %%%d)", code, n, len, s, nin == 1 ? "is" : "are",
                              nin, nin == 1 ? "" : "s", nin - 1);
      p->step[p->nstep] = EMBER_FUSED_LOAD + (int)k;
      p->word[p->nstep] = NULL;
      sp++;
    } else {
      const ember_fused_word *w = word_named(s, (size_t)len);
      if (w == NULL)
        return ember_op_error(c, "code \"%s\": unknown word \"%.*s\" (word %d)", code, len, s, n);
      if (sp < w->arity)
        return ember_op_error(c, "code \"%s\": stack underflow at word %d \"%s\": it takes %d "
                              "value%s, the stack holds %d", code, n, w->name, w->arity,
                              w->arity == 1 ? "" : "s", sp);
      p->step[p->nstep] = w->code;
      p->word[p->nstep] = w;
      sp -= w->arity - 1;
    }
    if (sp > p->depth) p->depth = sp;
    if (sp > EMBER_FUSED_DEPTH)
      return ember_op_error(c, "code \"%s\" holds more than %d values on the stack at once",
                            code, EMBER_FUSED_DEPTH);
    p->nstep++;
    s = e;
  }
  if (sp != 1)
    return ember_op_error(c, "code \"%s\" leaves %d values on the stack, not exactly 1", code, sp);
  return EMBER_OK;
}

/* }====== */

/* {====== shape and dtype rules */

static ember_status infer_fused_linear(ember_call *c) {
  const ember_fused_word *act;
  if (ember_op_find("linear")->infer(c) != EMBER_OK) return EMBER_ERROR;
  if (ember_fused_activation(c, FUSED_LINEAR_ACTIVATION, &act) != EMBER_OK) return EMBER_ERROR;
  if (act && !ember_dtype_is_float(c->in[0]->dtype))
    return ember_op_error(c, "activation %s needs float operands, got %s", act->name,
                          ember_dtype_name(c->in[0]->dtype));
  return EMBER_OK;
}

static ember_status infer_fused_conv2d(ember_call *c) {
  const ember_fused_word *act;
  if (ember_op_find("conv2d")->infer(c) != EMBER_OK) return EMBER_ERROR;
  return ember_fused_activation(c, FUSED_CONV_ACTIVATION, &act);
}

/* Inputs broadcast together (PyTorch's rules); the result is their promoted dtype,
** which must be f32 or f64: export fuses chains of those only (a chain in f16 or bf16
** rounds after each eager op, which one pass in f32 would not). Tensors with dims must
** be f32 or f64; 0-dim inputs (numbers) of any real dtype take the result's. */
static ember_status infer_fused_pointwise(ember_call *c) {
  ember_fused_program prog;
  char s[128], shown[64];
  for (int i = 0; i < c->nin; i++) {
    const ember_tensor *t = c->in[i];
    if (t == NULL) return ember_op_error(c, "input %d is missing", i + 1);
    if (t->dtype == EMBER_BOOL || (t->ndim > 0 && t->dtype != EMBER_F32 && t->dtype != EMBER_F64))
      return ember_op_error(c, "input %d (%%%d) is %s of shape %s: fused_pointwise takes f32 and "
                            "f64 tensors (and numbers)", i + 1, i, ember_dtype_name(t->dtype),
                            ember_shape_str(t, s, sizeof s));
  }
  if (!c->attr[FUSED_PW_CODE].present || c->attr[FUSED_PW_CODE].s == NULL)
    return ember_op_error(c, "code is required (\"%%0 %%1 add relu\": words in reverse Polish "
                          "order, %%k input k)");
  if (ember_fused_parse(c, c->attr[FUSED_PW_CODE].s, c->nin, &prog) != EMBER_OK) return EMBER_ERROR;
  int nd;
  int64_t shape[EMBER_MAX_DIMS];
  if (ember_broadcast_inputs(c, c->nin, &nd, shape) != EMBER_OK) return EMBER_ERROR;
  ember_dtype rt = ember_result_type(c->nin, c->in);
  if (rt != EMBER_F32 && rt != EMBER_F64)
    return ember_op_error(c, "result dtype %s: fused_pointwise computes in f32 or f64 only",
                          ember_dtype_name(rt));
  if (ember_call_on_device(c)) {
    int bound = 0;
    for (int i = 0; i < c->nin; i++)
      bound += !(c->in[i]->storage->device == EMBER_CPU && c->in[i]->ndim == 0);
    if (prog.nstep > EMBER_FUSED_VK_STEPS)
      return ember_op_error(c, "code \"%s\" has %d words; on vulkan at most %d",
                            quoted(c->attr[FUSED_PW_CODE].s, shown, sizeof shown), prog.nstep,
                            EMBER_FUSED_VK_STEPS);
    if (bound > EMBER_FUSED_VK_INPUTS)
      return ember_op_error(c, "%d tensor inputs; on vulkan at most %d (numbers aside)", bound,
                            EMBER_FUSED_VK_INPUTS);
  }
  c->compute = rt;
  ember_cast_inputs(c, 0, c->nin, rt);
  ember_set_out(c, 0, rt, nd, shape);
  c->out_kernel[0] = rt;
  return EMBER_OK;
}

/* }====== */

/* fused_conv2d's table is conv2d's (ops_conv.c, in the order of conv.h's enum), then
** the activation */
static const ember_attr_def fused_linear_attrs[] = {
  {"activation", EMBER_ATTR_STR, "none"}, {NULL, 0, NULL} };
static const ember_attr_def fused_conv2d_attrs[] = {
  {"stride", EMBER_ATTR_INTS, "1"}, {"padding", EMBER_ATTR_INTS, "0"},
  {"dilation", EMBER_ATTR_INTS, "1"}, {"groups", EMBER_ATTR_INT, "1"},
  {"activation", EMBER_ATTR_STR, "none"}, {NULL, 0, NULL} };
static const ember_attr_def fused_pointwise_attrs[] = {
  {"code", EMBER_ATTR_STR, NULL}, {NULL, 0, NULL} };

const ember_op ember_ops_fused[] = {
  { .name = "fused_conv2d", .min_inputs = 2, .max_inputs = 3, .nout = 1,
    .attrs = fused_conv2d_attrs, .infer = infer_fused_conv2d, .cpu = ember_cpu_fused_conv2d,
    .vulkan = EMBER_VK(vk_fused_conv2d), .flags = 0,
    .doc = "fused_conv2d(input, weight, bias?, stride, padding, dilation, groups, activation="
           "none): conv2d, then activation (none relu gelu gelu_tanh silu tanh sigmoid) on each "
           "result as it is stored; written by export" },
  { .name = "fused_linear", .min_inputs = 2, .max_inputs = 3, .nout = 1,
    .attrs = fused_linear_attrs, .infer = infer_fused_linear, .cpu = ember_cpu_fused_linear,
    .vulkan = EMBER_VK(vk_fused_linear), .flags = 0,
    .doc = "fused_linear(input, weight, bias?, activation=none): linear, then activation (none "
           "relu gelu gelu_tanh silu tanh sigmoid; float dtypes) on each result as it is "
           "stored; written by export" },
  { .name = "fused_pointwise", .min_inputs = 1, .max_inputs = EMBER_FUSED_INPUTS, .nout = 1,
    .attrs = fused_pointwise_attrs, .infer = infer_fused_pointwise,
    .cpu = ember_cpu_fused_pointwise, .vulkan = EMBER_VK(vk_fused_pointwise),
    .flags = EMBER_OP_HOST_SCALARS,
    .doc = "fused_pointwise(in1..in8, code): the elementwise chain code (\"%0 %1 add relu\": "
           "reverse Polish, %k input k) in one pass; inputs broadcast; f32 or f64; written by "
           "export" },
  { .name = NULL },
};
