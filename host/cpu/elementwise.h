/*
** elementwise.h — CPU kernels of the elementwise ops (host/ops/ops_elementwise.c).
** elementwise.c: arithmetic, division and modulo, pow, maximum/minimum, clamp, where.
** elementwise_math.c: unary math and activations.
** elementwise_logic.c: comparisons, logical ops, isnan/isinf.
** Every kernel takes the compute dtype its op's infer chose (f32, f64, i64, or u8 for
** bool logic) and writes c->out[0], which may be a strided view (in-place calls).
*/
#ifndef EMBER_CPU_ELEMENTWISE_H
#define EMBER_CPU_ELEMENTWISE_H

#include "ops.h"

/* elementwise.c */
ember_status ember_cpu_add(ember_call *c);
ember_status ember_cpu_sub(ember_call *c);
ember_status ember_cpu_mul(ember_call *c);
ember_status ember_cpu_div(ember_call *c);          /* attr 0: rounding_mode */
ember_status ember_cpu_remainder(ember_call *c);
ember_status ember_cpu_floor_divide(ember_call *c);
ember_status ember_cpu_pow(ember_call *c);
ember_status ember_cpu_maximum(ember_call *c);
ember_status ember_cpu_minimum(ember_call *c);
ember_status ember_cpu_clamp(ember_call *c);        /* in[1], in[2] optional bounds */
ember_status ember_cpu_where(ember_call *c);        /* in[0] bool condition */

/* elementwise_math.c */
ember_status ember_cpu_neg(ember_call *c);
ember_status ember_cpu_abs(ember_call *c);
ember_status ember_cpu_sign(ember_call *c);
ember_status ember_cpu_floor(ember_call *c);
ember_status ember_cpu_ceil(ember_call *c);
ember_status ember_cpu_round(ember_call *c);
ember_status ember_cpu_trunc(ember_call *c);
ember_status ember_cpu_sqrt(ember_call *c);
ember_status ember_cpu_rsqrt(ember_call *c);
ember_status ember_cpu_exp(ember_call *c);
ember_status ember_cpu_log(ember_call *c);
ember_status ember_cpu_log1p(ember_call *c);
ember_status ember_cpu_expm1(ember_call *c);
ember_status ember_cpu_sin(ember_call *c);
ember_status ember_cpu_cos(ember_call *c);
ember_status ember_cpu_tanh(ember_call *c);
ember_status ember_cpu_sigmoid(ember_call *c);
ember_status ember_cpu_relu(ember_call *c);
ember_status ember_cpu_gelu(ember_call *c);         /* attr 0: approximate */
ember_status ember_cpu_silu(ember_call *c);
ember_status ember_cpu_softplus(ember_call *c);     /* attrs: beta, threshold */

/* elementwise_logic.c */
ember_status ember_cpu_eq(ember_call *c);
ember_status ember_cpu_ne(ember_call *c);
ember_status ember_cpu_lt(ember_call *c);
ember_status ember_cpu_le(ember_call *c);
ember_status ember_cpu_gt(ember_call *c);
ember_status ember_cpu_ge(ember_call *c);
ember_status ember_cpu_logical_and(ember_call *c);
ember_status ember_cpu_logical_or(ember_call *c);
ember_status ember_cpu_logical_xor(ember_call *c);
ember_status ember_cpu_logical_not(ember_call *c);
ember_status ember_cpu_isnan(ember_call *c);
ember_status ember_cpu_isinf(ember_call *c);

/* The loops of a float op by name, for kernels that run an op over their own buffers
** (export's fused ops, fused.h): the functions the op's kernel runs, so the same values.
** elementwise_math.c: the unary ops ("gelu_tanh" is gelu's tanh form); elementwise.c:
** add sub mul div maximum minimum pow, and "square" (pow's x^2 path, which ignores its
** second operand), with *alpha the parameter its loop reads (sub is add's loop with
** alpha -1). NULL for a name with none. */
struct ember_pw_loops;
const struct ember_pw_loops *ember_cpu_unary_loops(const char *name);
const struct ember_pw_loops *ember_cpu_binary_loops(const char *name, double *alpha);
/* Unary loops l over n contiguous elements of dt (f32 or f64) at data, in place. */
void ember_cpu_unary_apply(const struct ember_pw_loops *l, ember_dtype dt, void *data, int64_t n);

#endif
