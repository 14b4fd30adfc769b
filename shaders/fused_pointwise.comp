// variants: f64
// fused_pointwise.comp — export's fused_pointwise (host/vk/vk_fused.c): a chain of
// elementwise ops run as one pass, one output element per invocation. The program
// (at most 16 steps) is in the push constants, one byte a step: 128 + k pushes input
// k, any other code is a pointwise_ops.h op replacing the top one or two values by its
// result (pointwise_math.glsl's math, the eager ops' own), 0 ends it.
//
// The host merges the dims of the output and the inputs (at most 4 left) and hands
// each input over contiguous in its own shape, broadcast along the dims its bits in
// `bcast` name: its strides follow from the shape and those bits, so eight inputs'
// layouts fit the push constants. Inputs that are numbers (0-dim cpu tensors) ride in
// the push constants and take no binding; the others are bound in order from binding
// 1. Values are f32, or f64 in the f64 variant (the host picks it for f64 calls); the
// output is contiguous.
#version 450
#include "common.glsl"

#ifdef HAS_F64
#define F64_VALUES true
#define VAL double
#define LD(N, i) N##_f64[i]
#else
#define VAL float
#define LD(N, i) N##_f32[i]
#endif
#include "pointwise_math.glsl"

VIEWS(0, o)
VIEWS(1, i1)
VIEWS(2, i2)
VIEWS(3, i3)
VIEWS(4, i4)
VIEWS(5, i5)
VIEWS(6, i6)
VIEWS(7, i7)

layout(push_constant) uniform Push {
  uint prog[4];         // step s in byte s % 4 of prog[s / 4], low byte first
  uint numel;
  int ndim;             // merged dims, 0 to 4
  uint numbers;         // bit k: input k is a number, its bits in off[1 + k] and hi[k]
  uint bcast;           // bit 4k + d: input k is broadcast (stride 0) along dim d
  int shape[4];
  int off[9];           // element offsets: the output, then inputs 0..7
  uint hi[8];           // the high word of an f64 number
} p;

VAL bound(int b, uint i) {
  switch (b) {
  case 1: return LD(i1, i);
  case 2: return LD(i2, i);
  case 3: return LD(i3, i);
  case 4: return LD(i4, i);
  case 5: return LD(i5, i);
  case 6: return LD(i6, i);
  case 7: return LD(i7, i);
  }
  return VAL(0);
}

VAL load(int k, int c[4]) {
  if ((p.numbers & (1u << k)) != 0u) {
#ifdef HAS_F64
    return packDouble2x32(uvec2(uint(p.off[1 + k]), p.hi[k]));
#else
    return uintBitsToFloat(uint(p.off[1 + k]));
#endif
  }
  int idx = p.off[1 + k], run = 1;
  for (int d = p.ndim - 1; d >= 0; d--)
    if ((p.bcast & (1u << (4 * k + d))) == 0u) {
      idx += c[d] * run;
      run *= p.shape[d];
    }
  // the bindings skip the numbers: input k's is 1 + the inputs before it that are not
  int b = 1 + bitCount(~p.numbers & ((1u << k) - 1u));
  return bound(b, uint(idx));
}

void main() {
  uint i = flat_id();
  if (i >= p.numel) return;
  int c[4] = int[4](0, 0, 0, 0);
  uint r = i;
  for (int d = p.ndim - 1; d >= 0; d--) {
    uint n = uint(p.shape[d]);
    c[d] = int(r % n);
    r /= n;
  }
  VAL st[8];                     // 16 steps leave at most 8 values on the stack
  int sp = 0;
  for (int s = 0; s < 16; s++) {
    int code = int((p.prog[s >> 2] >> (8 * (s & 3))) & 255u);
    if (code == 0) break;
    if (code >= 128) {
      st[sp] = load(code - 128, c);
      sp++;
    } else if (code <= PW_MINIMUM) {          // binary (add's and sub's alpha: 1)
      sp--;
      st[sp - 1] = pw_float_op(code, st[sp - 1], st[sp], VAL(0), VAL(1), VAL(0), 0);
    } else {
      st[sp - 1] = pw_float_op(code, st[sp - 1], VAL(0), VAL(0), VAL(1), VAL(0), 0);
    }
  }
  uint io = uint(p.off[0]) + i;
#ifdef HAS_F64
  o_f64[io] = st[0];
#else
  o_f32[io] = st[0];
#endif
}
