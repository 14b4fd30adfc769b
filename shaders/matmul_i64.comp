// matmul_i64.comp — the tiled GEMM (matmul_tile.glsl) for int64 operands (the compute
// dtype of every integer product): wrapping multiply-adds, as the cpu's plain loop.
#version 450
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

#define T int64_t
#define T4 i64vec4
#define T4_ZERO T4(0)

#include "matmul_tile.glsl"

layout(std430, binding = 0) buffer o_b { int64_t o[]; };
layout(std430, binding = 1) buffer a_b { int64_t a[]; };
layout(std430, binding = 2) buffer b_b { int64_t b[]; };
layout(std430, binding = 3) buffer c_b { int64_t c[]; };

T load_a(int i) { return a[i]; }
T load_b(int i) { return b[i]; }
T4 load_a4(int i) { return T4(a[i], a[i + 1], a[i + 2], a[i + 3]); }
T4 load_b4(int i) { return T4(b[i], b[i + 1], b[i + 2], b[i + 3]); }
T load_c0(int i) { return c[i]; }
void store_o(int i, T v) { o[i] = v; }

// alpha in sc[0..1], beta in sc[2..3]
T ALPHA() { return int64_t(uint64_t(p.sc[0]) | (uint64_t(p.sc[1]) << 32)); }
T BETA() { return int64_t(uint64_t(p.sc[2]) | (uint64_t(p.sc[3]) << 32)); }
T activate(T v) { return v; }      // fused_linear takes float operands only
