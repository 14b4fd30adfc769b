/*
** fused.h — export's fused ops (host/ops/ops_fused.c): the activation words of
** fused_linear and fused_conv2d, fused_pointwise's program, and the CPU kernels
** (fused_linear in nn.c beside linear, fused_conv2d in conv.c beside conv2d,
** fused_pointwise in fused_pointwise.c).
**
** The export pass `fuse` writes these ops; nothing in Lua calls them but the specs
** (through ember._op). Words carry the op codes of shaders/pointwise_ops.h, so the
** Vulkan kernels hand them to the shaders as they are; the CPU kernels look up the
** eager op's own loops by the word's name (elementwise.h), so a fused kernel computes
** what the chain of eager ops would.
*/
#ifndef EMBER_CPU_FUSED_H
#define EMBER_CPU_FUSED_H

#include "ops.h"

/* attribute positions: fused_linear's activation; fused_conv2d's comes after
** conv2d's four (conv.h's CONV_*); fused_pointwise's code */
enum { FUSED_LINEAR_ACTIVATION = 0 };
enum { FUSED_CONV_ACTIVATION = 4 };
enum { FUSED_PW_CODE = 0 };

#define EMBER_FUSED_INPUTS 8       /* fused_pointwise's inputs, %0 .. %7 */
#define EMBER_FUSED_STEPS 1024     /* words in a program (the cpu kernel) */
#define EMBER_FUSED_DEPTH 32       /* values on the stack at once */
/* the Vulkan kernel holds the program in its push constants, one byte a step, and
** binds the output and each input but the numbers (0-dim cpu inputs) */
#define EMBER_FUSED_VK_STEPS 16
#define EMBER_FUSED_VK_INPUTS 7
/* the code of a step that pushes input k: EMBER_FUSED_LOAD + k (op codes are below) */
#define EMBER_FUSED_LOAD 128

typedef struct ember_fused_word {
  const char *name;       /* as written, and the eager op's loops by that name */
  int code;               /* shaders/pointwise_ops.h */
  int arity;              /* 1 or 2 */
} ember_fused_word;

typedef struct ember_fused_program {
  int nstep;
  int depth;                                     /* the deepest the stack gets */
  int step[EMBER_FUSED_STEPS];                   /* an op code or EMBER_FUSED_LOAD + k */
  const ember_fused_word *word[EMBER_FUSED_STEPS];   /* NULL for a load */
} ember_fused_program;

/* fused_pointwise's code for nin inputs: space-separated words in reverse Polish
** order, %k pushing input k, each op replacing its operands by its result; exactly one
** value is left. An error names the word and what was wrong with it. */
ember_status ember_fused_parse(ember_call *c, const char *code, int nin, ember_fused_program *p);

/* Activation attribute k of c: *w is its word, NULL for "none"; an error for a word
** that is not an activation. */
ember_status ember_fused_activation(ember_call *c, int k, const ember_fused_word **w);

/* the CPU kernels */
ember_status ember_cpu_fused_linear(ember_call *c);       /* nn.c */
ember_status ember_cpu_fused_conv2d(ember_call *c);       /* conv.c */
ember_status ember_cpu_fused_pointwise(ember_call *c);    /* fused_pointwise.c */

#endif
