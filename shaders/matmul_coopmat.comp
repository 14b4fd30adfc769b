// matmul_coopmat.comp — the GEMM of matmul_tile.glsl for f16 operands on the tensor
// cores, through GL_NV_cooperative_matrix: 16 x 16 x 16 (or 16 x 8 x 16, CN = 8)
// f16 x f16 + f32 products, accumulated in f32.
//
//   out[z][m][n] = alpha * sum_k A[z][m][k] B[z][k][n]  (+ beta * C0[z][m][n])
//
// A workgroup of WM x WN subgroups (32 invocations each) computes a BM x BN tile; each
// subgroup a (BM/WM) x (BN/WN) block of FR x FC accumulator fragments. The K loop goes
// BK at a time: the workgroup copies the A and B tiles into shared memory (rows padded
// by 16 bytes against bank conflicts; kept in the operand's own major order, so a
// transposed view is loaded column-major rather than copied), while the next tiles are
// fetched into registers. Operands move in units of 8 halves along their contiguous
// dim: one 16-byte load where the host found them aligned (A_VEC / B_VEC), else 8
// scalar loads with any strides. Edges read 0. The epilogue passes each fragment
// through a per-subgroup f32 staging area in shared memory, where each invocation
// applies alpha, beta * C0, the bounds and the output dtype.
//
// The host (host/vk/vk_linalg.c) uses this shader only when the device reports
// VK_NV_cooperative_matrix with that shape, subgroups of 32 and both operands f16.
#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#define HAS_16
#include "common.glsl"

#define FRAG_A fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>
#define FRAG_B fcoopmatNV<16, gl_ScopeSubgroup, 16, CN>
#define FRAG_C fcoopmatNV<32, gl_ScopeSubgroup, 16, CN>
#define FRAG_C_ZERO FRAG_C(0.0)
#define LOAD_A(f, el, st, cm) coopMatLoadNV(f, Ash, el, st, cm)
#define LOAD_B(f, el, st, cm) coopMatLoadNV(f, Bsh, el, st, cm)
#define MULADD(a, b, c) coopMatMulAddNV(a, b, c)
#define STORE_C(f, el) coopMatStoreNV(f, Csh, el, CN, false)
#define WARP_ID int(gl_SubgroupID)
#define LANE_ID int(gl_SubgroupInvocationID)
#define WARP_BARRIER() subgroupMemoryBarrierShared(); subgroupBarrier()
#define FRAGMENT_OPS

#include "matmul_coopmat.glsl"
