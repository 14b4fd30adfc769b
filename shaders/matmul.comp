// variants: x16 f64
// matmul.comp — the tiled GEMM (matmul_tile.glsl) for float operands: f32, f16 and
// bf16 (the x16 variant reads them as stored and computes in f32), and f64 (the f64
// variant computes in double). Out and C0 are read and written in their own dtypes.
// The host (host/vk/vk_linalg.c) picks the tile sizes per device and problem. The
// activation of fused_linear is pointwise_math.glsl's, the eager ops' own math.
#version 450
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

#ifdef HAS_F64
#define T4 dvec4
#else
#define T4 vec4
#endif
#define T WIDE
#define T4_ZERO T4(0)

#include "matmul_tile.glsl"

#ifdef HAS_F64
#define F64_VALUES (DT_AB == DT_F64)
#endif
#include "pointwise_math.glsl"

VIEWS(0, o)
VIEWS(1, a)
VIEWS(2, b)
VIEWS(3, c)
ACCESSORS(o, DT_O)
ACCESSORS(a, DT_AB)
ACCESSORS(b, DT_AB)
ACCESSORS(c, DT_C0)
// 4 elements at once: a vec4 of f32, two words of f16/bf16 halves
layout(std430, binding = 1) buffer a_v4_b { vec4 a_v4[]; };
layout(std430, binding = 1) buffer a_h4_b { uvec2 a_h4[]; };
layout(std430, binding = 2) buffer b_v4_b { vec4 b_v4[]; };
layout(std430, binding = 2) buffer b_h4_b { uvec2 b_h4[]; };

T4 halves4(uvec2 w) {
  if (DT_AB == DT_BF16)
    return T4(uintBitsToFloat(w.x << 16), uintBitsToFloat(w.x & 0xffff0000u),
              uintBitsToFloat(w.y << 16), uintBitsToFloat(w.y & 0xffff0000u));
  return T4(vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y)));
}

T load_a(int i) { return a_load_fl(uint(i)); }
T load_b(int i) { return b_load_fl(uint(i)); }
T4 load_a4(int i) {
  if (DT_AB == DT_F32) return T4(a_v4[i >> 2]);
  if (DT_AB == DT_F16 || DT_AB == DT_BF16) return halves4(a_h4[i >> 2]);
  return T4(load_a(i), load_a(i + 1), load_a(i + 2), load_a(i + 3));
}
T4 load_b4(int i) {
  if (DT_AB == DT_F32) return T4(b_v4[i >> 2]);
  if (DT_AB == DT_F16 || DT_AB == DT_BF16) return halves4(b_h4[i >> 2]);
  return T4(load_b(i), load_b(i + 1), load_b(i + 2), load_b(i + 3));
}
T load_c0(int i) { return c_load_fl(uint(i)); }
void store_o(int i, T v) { o_store_f(uint(i), v); }

// alpha and beta: floats in sc[0], sc[1]; in the f64 variant doubles in sc[0..1], sc[2..3]
T ALPHA() {
#ifdef HAS_F64
  return packDouble2x32(uvec2(p.sc[0], p.sc[1]));
#else
  return uintBitsToFloat(p.sc[0]);
#endif
}
T BETA() {
#ifdef HAS_F64
  return packDouble2x32(uvec2(p.sc[2], p.sc[3]));
#else
  return uintBitsToFloat(p.sc[1]);
#endif
}

T activate(T v) { return pw_float_op(ACT, v, T(0), T(0), T(0), T(0), 0); }
