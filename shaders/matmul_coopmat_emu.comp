// matmul_coopmat_emu.comp — matmul_coopmat.comp with its cooperative-matrix operations
// done by plain code (see matmul_coopmat.glsl): a test of the kernel's indexing on
// devices without cooperative matrices. An A or B fragment is a reference to the
// tile in shared memory (which stays put between the loads and the products); an
// accumulator fragment is held by the 32 invocations of a "warp" (32 consecutive
// invocations, whatever the device's subgroup size), 16 * CN / 32 elements each.
// Slow; used only where EMBER_VK_COOPMAT_EMULATE is set.
#version 450
#extension GL_EXT_control_flow_attributes : require
#define HAS_16
#include "common.glsl"

struct frag_ref { int el, st; bool cm; };
struct frag_acc { float v[8]; };        // 16 * CN / 32 <= 8 elements per invocation

#define FRAG_A frag_ref
#define FRAG_B frag_ref
#define FRAG_C frag_acc
#define FRAG_C_ZERO frag_acc(float[8](0, 0, 0, 0, 0, 0, 0, 0))
#define LOAD_A(f, el_, st_, cm_) f = frag_ref(el_, st_, cm_)
#define LOAD_B(f, el_, st_, cm_) f = frag_ref(el_, st_, cm_)
#define MULADD(a, b, c) emu_muladd(a, b, c)
#define STORE_C(f, el) emu_store(f, el)
#define WARP_ID (int(gl_LocalInvocationID.x) / 32)
#define LANE_ID (int(gl_LocalInvocationID.x) % 32)
#define WARP_BARRIER() barrier()
#define FRAGMENT_OPS \
  float half_of(uvec4 q, int h) { \
    uint w = q[h >> 1]; \
    return unpackHalf2x16((h & 1) != 0 ? w >> 16 : w).x; \
  } \
  /* element (r, c) of a fragment stored from uvec4 el on, rows (or columns) st uvec4s apart */ \
  float at_a(frag_ref f, int r, int c) { \
    int h = f.el * 8 + (f.cm ? c * f.st * 8 + r : r * f.st * 8 + c); \
    return half_of(Ash[h >> 3], h & 7); \
  } \
  float at_b(frag_ref f, int r, int c) { \
    int h = f.el * 8 + (f.cm ? c * f.st * 8 + r : r * f.st * 8 + c); \
    return half_of(Bsh[h >> 3], h & 7); \
  } \
  frag_acc emu_muladd(frag_ref a, frag_ref b, frag_acc c) { \
    int lane = LANE_ID; \
    for (int i = 0; i < 16 * CN / 32; i++) { \
      int e = lane + 32 * i, r = e / CN, col = e % CN; \
      float s = 0.0; \
      for (int k = 0; k < 16; k++) s += at_a(a, r, k) * at_b(b, k, col); \
      c.v[i] += s; \
    } \
    return c; \
  } \
  void emu_store(frag_acc f, int el) { \
    int lane = LANE_ID; \
    for (int i = 0; i < 16 * CN / 32; i++) { \
      int e = lane + 32 * i; \
      Csh[el + (e / CN) * CN + e % CN] = f.v[i]; \
    } \
  }

#include "matmul_coopmat.glsl"
