// common.glsl — what every ember compute shader shares.
//
// Variants: a shader is compiled once as is and, where its first line lists them,
// with HAS_16 (f16, bf16, i16 storage) and HAS_F64 (f64): the host picks the
// smallest variant the dtypes of a call need, so a device without 16-bit storage or
// f64 still runs everything else.
//
// Dtype codes are ember.h's enum order. Element offsets and strides are 32-bit ints
// (the host checks they fit). Workgroup sizes are specialization constants 0..2;
// a 1-D grid past the x limit folds into y (vk_groups_1d).
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_EXT_shader_explicit_arithmetic_types_int8 : require
#extension GL_EXT_shader_8bit_storage : require
#ifdef HAS_16
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_int16 : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#endif

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

#define DT_F32 0
#define DT_F64 1
#define DT_F16 2
#define DT_BF16 3
#define DT_I8 4
#define DT_I16 5
#define DT_I32 6
#define DT_I64 7
#define DT_U8 8
#define DT_BOOL 9

#ifdef HAS_F64
#define WIDE double
#else
#define WIDE float
#endif

// the flat index of this invocation in a 1-D grid
uint flat_id() {
  return gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
}

// float -> int64 as ember's host does: toward zero, saturating, NaN -> 0
int64_t sat_i64(WIDE v) {
  if (v != v) return 0l;
  if (v >= WIDE(9.2233720368547758e18)) return 0x7fffffffffffffffl;
  if (v <= WIDE(-9.2233720368547758e18)) return -0x7fffffffffffffffl - 1l;
  return int64_t(v);
}

// f32 -> f16 bits, rounding to nearest even, as host/core/dtype.c (bit for bit)
uint f32_to_f16_bits(float f) {
  uint u = floatBitsToUint(f);
  uint sign = (u >> 16) & 0x8000u;
  uint a = u & 0x7fffffffu;
  if (a >= 0x7f800000u) return sign | 0x7c00u | (a > 0x7f800000u ? (0x200u | ((a >> 13) & 0x3ffu)) : 0u);
  if (a >= 0x477ff000u) return sign | 0x7c00u;
  if (a < 0x38800000u) {
    float v = uintBitsToFloat(a) + 0.5;
    return sign | ((floatBitsToUint(v) - 0x3f000000u) & 0xffffu);
  }
  uint mant_odd = (a >> 13) & 1u;
  a += 0xc8000fffu + mant_odd;
  return sign | ((a >> 13) & 0xffffu);
}

uint f32_to_bf16_bits(float f) {
  uint u = floatBitsToUint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return ((u >> 16) | 0x40u) & 0xffffu;
  u += 0x7fffu + ((u >> 16) & 1u);
  return u >> 16;
}

float bf16_bits_to_f32(uint h) { return uintBitsToFloat(h << 16); }

// Typed views of binding B, named N_f32, N_i64 ... (GLSL lets blocks alias a binding).
#ifdef HAS_16
#define VIEWS16(B, N) \
  layout(std430, binding = B) buffer N##_f16_b { float16_t N##_f16[]; }; \
  layout(std430, binding = B) buffer N##_u16_b { uint16_t N##_u16[]; };
#else
#define VIEWS16(B, N)
#endif
#ifdef HAS_F64
#define VIEWS64(B, N) layout(std430, binding = B) buffer N##_f64_b { double N##_f64[]; };
#else
#define VIEWS64(B, N)
#endif
#define VIEWS(B, N) \
  layout(std430, binding = B) buffer N##_f32_b { float N##_f32[]; }; \
  layout(std430, binding = B) buffer N##_i32_b { int N##_i32[]; }; \
  layout(std430, binding = B) buffer N##_i64_b { int64_t N##_i64[]; }; \
  layout(std430, binding = B) buffer N##_i8_b { int8_t N##_i8[]; }; \
  layout(std430, binding = B) buffer N##_u8_b { uint8_t N##_u8[]; }; \
  VIEWS16(B, N) VIEWS64(B, N)

// Loaders and storers of views N for dtype DT (a specialization constant, so the
// switch folds away): element i as a float (WIDE) or as an int64, and back.
#ifdef HAS_16
#define LOAD16F(N) case DT_F16: return WIDE(float(N##_f16[i])); \
                   case DT_BF16: return WIDE(bf16_bits_to_f32(uint(N##_u16[i])));
#define LOAD16I(N) case DT_I16: return int64_t(int16_t(N##_u16[i]));
#define STORE16(N) case DT_F16: N##_u16[i] = uint16_t(f32_to_f16_bits(float(v))); return; \
                   case DT_BF16: N##_u16[i] = uint16_t(f32_to_bf16_bits(float(v))); return; \
                   case DT_I16: N##_u16[i] = uint16_t(sat_i64(v)); return;
#define STORE16I(N) case DT_I16: N##_u16[i] = uint16_t(v); return; \
                    case DT_F16: N##_u16[i] = uint16_t(f32_to_f16_bits(float(v))); return; \
                    case DT_BF16: N##_u16[i] = uint16_t(f32_to_bf16_bits(float(v))); return;
#else
#define LOAD16F(N)
#define LOAD16I(N)
#define STORE16(N)
#define STORE16I(N)
#endif
#ifdef HAS_F64
#define LOAD64F(N) case DT_F64: return N##_f64[i];
#define STORE64(N) case DT_F64: N##_f64[i] = double(v); return;
#else
#define LOAD64F(N)
#define STORE64(N)
#endif

#ifdef HAS_F64
#define STOREI64(N) case DT_F64: N##_f64[i] = double(v); return;
#else
#define STOREI64(N)
#endif

#define ACCESSORS(N, DT) \
  WIDE N##_load_fl(uint i) { \
    switch (DT) { \
    case DT_F32: return WIDE(N##_f32[i]); \
    LOAD64F(N) LOAD16F(N) \
    default: return WIDE(0); \
    } \
  } \
  int64_t N##_load_in(uint i) { \
    switch (DT) { \
    case DT_I8: return int64_t(N##_i8[i]); \
    case DT_I32: return int64_t(N##_i32[i]); \
    case DT_I64: return N##_i64[i]; \
    case DT_U8: return int64_t(uint(N##_u8[i])); \
    case DT_BOOL: return N##_u8[i] != uint8_t(0) ? 1l : 0l; \
    LOAD16I(N) \
    default: return 0l; \
    } \
  } \
  WIDE N##_load_f(uint i) { return DT <= DT_BF16 ? N##_load_fl(i) : WIDE(N##_load_in(i)); } \
  int64_t N##_load_i(uint i) { return DT <= DT_BF16 ? sat_i64(N##_load_fl(i)) : N##_load_in(i); } \
  void N##_store_f(uint i, WIDE v) { \
    switch (DT) { \
    case DT_F32: N##_f32[i] = float(v); return; \
    STORE64(N) STORE16(N) \
    case DT_BOOL: N##_u8[i] = uint8_t(v != WIDE(0) ? 1 : 0); return; \
    case DT_I8: N##_i8[i] = int8_t(sat_i64(v)); return; \
    case DT_U8: N##_u8[i] = uint8_t(sat_i64(v)); return; \
    case DT_I32: N##_i32[i] = int(sat_i64(v)); return; \
    case DT_I64: N##_i64[i] = sat_i64(v); return; \
    } \
  } \
  void N##_store_i(uint i, int64_t v) { \
    switch (DT) { \
    case DT_I8: N##_i8[i] = int8_t(v); return; \
    case DT_I32: N##_i32[i] = int(v); return; \
    case DT_I64: N##_i64[i] = v; return; \
    case DT_U8: N##_u8[i] = uint8_t(v); return; \
    case DT_BOOL: N##_u8[i] = uint8_t(v != 0l ? 1 : 0); return; \
    case DT_F32: N##_f32[i] = float(v); return; \
    STOREI64(N) STORE16I(N) \
    } \
  }

bool dt_is_float(int dt) { return dt <= DT_BF16; }
