/* pointwise_ops.h — the op codes of shaders/pointwise.comp, read by the shader and by
** host/vk/vk_pointwise.c (plain #defines: both C and GLSL take them). */
#ifndef EMBER_POINTWISE_OPS_H
#define EMBER_POINTWISE_OPS_H

/* binary */
#define PW_ADD 1
#define PW_SUB 2
#define PW_MUL 3
#define PW_DIV 4
#define PW_DIV_TRUNC 5
#define PW_DIV_FLOOR 6
#define PW_REMAINDER 7
#define PW_POW 8
#define PW_MAXIMUM 9
#define PW_MINIMUM 10
#define PW_EQ 11
#define PW_NE 12
#define PW_LT 13
#define PW_LE 14
#define PW_GT 15
#define PW_GE 16
#define PW_AND 17
#define PW_OR 18
#define PW_XOR 19
/* ternary */
#define PW_CLAMP 20
#define PW_WHERE 21
/* unary */
#define PW_NEG 30
#define PW_ABS 31
#define PW_SIGN 32
#define PW_RELU 33
#define PW_FLOOR 34
#define PW_CEIL 35
#define PW_ROUND 36
#define PW_TRUNC 37
#define PW_SQRT 38
#define PW_RSQRT 39
#define PW_EXP 40
#define PW_LOG 41
#define PW_LOG1P 42
#define PW_EXPM1 43
#define PW_SIN 44
#define PW_COS 45
#define PW_TANH 46
#define PW_SIGMOID 47
#define PW_SILU 48
#define PW_GELU 49
#define PW_GELU_TANH 50
#define PW_SOFTPLUS 51
#define PW_NOT 52
#define PW_ISNAN 53
#define PW_ISINF 54
/* unary, fused_pointwise only: x * x and 1 / x, the formulas of pow(x, 2) and 1 / x */
#define PW_SQUARE 55
#define PW_RECIPROCAL 56
/* backward pairs (g, v) */
#define PW_RELU_BW 60
#define PW_TANH_BW 61
#define PW_SIGMOID_BW 62
#define PW_SILU_BW 63
#define PW_GELU_BW 64
#define PW_GELU_TANH_BW 65
#define PW_SOFTPLUS_BW 66

#endif
