/*
** vk_kernels.h — the Vulkan kernels the op table's entries name in their .vulkan slot,
** one block per family (host/vk/vk_<family>.c), and the helpers kernels share.
*/
#ifndef EMBER_VK_KERNELS_H
#define EMBER_VK_KERNELS_H

#include "ops.h"

/* {====== helpers (vk_pointwise.c) */

/* out = op(in[0..nin)) elementwise (shaders/pointwise.comp, code from pointwise_ops.h),
** inputs broadcast to out's shape, any strides; p0, p1 the op's parameters; flags as
** the shader reads them (clamp: which bounds are present). */
ember_status vk_pointwise(ember_tensor *out, int op, int nin, ember_tensor *const *in,
                          double p0, double p1, int flags);

/* }====== */

/* {====== elementwise (vk_pointwise.c) */
ember_status vk_add(ember_call *c);
ember_status vk_sub(ember_call *c);
ember_status vk_mul(ember_call *c);
ember_status vk_div(ember_call *c);
ember_status vk_remainder(ember_call *c);
ember_status vk_floor_divide(ember_call *c);
ember_status vk_pow(ember_call *c);
ember_status vk_maximum(ember_call *c);
ember_status vk_minimum(ember_call *c);
ember_status vk_clamp(ember_call *c);
ember_status vk_where(ember_call *c);
ember_status vk_neg(ember_call *c);
ember_status vk_abs(ember_call *c);
ember_status vk_sign(ember_call *c);
ember_status vk_relu(ember_call *c);
ember_status vk_floor(ember_call *c);
ember_status vk_ceil(ember_call *c);
ember_status vk_round(ember_call *c);
ember_status vk_trunc(ember_call *c);
ember_status vk_sqrt(ember_call *c);
ember_status vk_rsqrt(ember_call *c);
ember_status vk_exp(ember_call *c);
ember_status vk_log(ember_call *c);
ember_status vk_log1p(ember_call *c);
ember_status vk_expm1(ember_call *c);
ember_status vk_sin(ember_call *c);
ember_status vk_cos(ember_call *c);
ember_status vk_tanh(ember_call *c);
ember_status vk_sigmoid(ember_call *c);
ember_status vk_silu(ember_call *c);
ember_status vk_gelu(ember_call *c);
ember_status vk_softplus(ember_call *c);
ember_status vk_eq(ember_call *c);
ember_status vk_ne(ember_call *c);
ember_status vk_lt(ember_call *c);
ember_status vk_le(ember_call *c);
ember_status vk_gt(ember_call *c);
ember_status vk_ge(ember_call *c);
ember_status vk_logical_and(ember_call *c);
ember_status vk_logical_or(ember_call *c);
ember_status vk_logical_xor(ember_call *c);
ember_status vk_logical_not(ember_call *c);
ember_status vk_isnan(ember_call *c);
ember_status vk_isinf(ember_call *c);
ember_status vk_relu_backward(ember_call *c);
ember_status vk_tanh_backward(ember_call *c);
ember_status vk_sigmoid_backward(ember_call *c);
ember_status vk_silu_backward(ember_call *c);
ember_status vk_gelu_backward(ember_call *c);
ember_status vk_softplus_backward(ember_call *c);
/* export's fused_pointwise (vk_fused.c, host/ops/ops_fused.c) */
ember_status vk_fused_pointwise(ember_call *c);
/* }====== */

/* the other families, one header each */
#include "vk_kernels_reduce.h"
#include "vk_kernels_linalg.h"
#include "vk_kernels_conv.h"
#include "vk_kernels_index.h"
#include "vk_kernels_misc.h"

#endif
