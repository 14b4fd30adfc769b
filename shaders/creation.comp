// variants: x16 f64
// creation.comp — ranges and eye into a fresh contiguous output, element i per
// invocation, with host/cpu/creation.c's arithmetic:
//   C_ARANGE_INT   start + i * step wrapping in 64 bits (integral range, integer dtype)
//   C_ARANGE       start + step * i in WIDE, then the dtype's conversion
//   C_LINSPACE     a + step * i in the first half, b - step * (n - 1 - i) in the second
//                  (f32: every operation in float; f64 and integer dtypes: in WIDE)
//   C_LINSPACE_HALF  the same with each operation rounded to f16 or bf16 (DT_O's)
//   C_EYE          1 where row == column
// The host picks the f64 variant for everything the CPU computes in double when the
// device has f64; without it those run in float (a documented limit).
#version 450
#include "common.glsl"

layout(constant_id = 3) const int OP = 0;
layout(constant_id = 4) const int DT_O = 0;

#define C_ARANGE_INT 0
#define C_ARANGE 1
#define C_LINSPACE 2
#define C_LINSPACE_HALF 3
#define C_EYE 4

VIEWS(0, o)
ACCESSORS(o, DT_O)

layout(push_constant) uniform Push {
  uint numel;
  int off;
  uint n;        // linspace: steps; eye: columns
  uint half_n;   // linspace: elements counted from the start
  uint sc[8];    // arange: start, step (WIDE each in 2 words, or int64); linspace: a, b, step
} p;

WIDE wparam(int k) {
#ifdef HAS_F64
  return packDouble2x32(uvec2(p.sc[2 * k], p.sc[2 * k + 1]));
#else
  return WIDE(uintBitsToFloat(p.sc[2 * k]));
#endif
}

float fparam(int k) { return uintBitsToFloat(p.sc[2 * k]); }

uint64_t uparam(int k) { return uint64_t(p.sc[2 * k]) | (uint64_t(p.sc[2 * k + 1]) << 32); }

float round_half(float v) {
  if (DT_O == DT_F16) return unpackHalf2x16(f32_to_f16_bits(v)).x;
  return bf16_bits_to_f32(f32_to_bf16_bits(v));
}

void main() {
  uint i = flat_id();
  if (i >= p.numel) return;
  uint at = uint(p.off) + i;
  switch (OP) {
  case C_ARANGE_INT:
    o_store_i(at, int64_t(uparam(0) + uparam(1) * uint64_t(i)));
    break;
  case C_ARANGE: {
    precise WIDE v = wparam(0) + wparam(1) * WIDE(i);
    o_store_f(at, v);
    break;
  }
  case C_LINSPACE: {
    precise WIDE v;
    if (DT_O == DT_F32) {          // float arithmetic from the ends rounded to float
      float a = fparam(0), b = fparam(1), step = fparam(2);
      precise float fv = i < p.half_n ? a + step * float(i) : b - step * float(p.n - 1u - i);
      v = WIDE(fv);
    } else {
      WIDE a = wparam(0), b = wparam(1), step = wparam(2);
      v = i < p.half_n ? a + step * WIDE(i) : b - step * WIDE(p.n - 1u - i);
    }
    o_store_f(at, v);
    break;
  }
  case C_LINSPACE_HALF: {
    float a = fparam(0), b = fparam(1), step = fparam(2);
    precise float v = i < p.half_n ? a + round_half(step * round_half(float(i)))
                                   : b - round_half(step * round_half(float(p.n - 1u - i)));
    o_store_f(at, WIDE(v));
    break;
  }
  case C_EYE:
    o_store_i(at, i / p.n == i % p.n ? 1l : 0l);
    break;
  }
}
