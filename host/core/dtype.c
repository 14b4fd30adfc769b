/*
** dtype.c — the dtype traits table and the f16/bf16 conversions.
** f16 and bf16 are stored as uint16_t and computed in f32; float -> half rounds to
** nearest, ties to even, as IEEE 754 and PyTorch do.
*/
#include <string.h>
#include <strings.h>

#include "core.h"

/* ORDER DTYPE */
const ember_dtype_traits ember_dtype_traits_table[EMBER_DTYPE_COUNT] = {
  [EMBER_F32]  = { "f32",  4, 1, 0, "FloatTensor", 32 },
  [EMBER_F64]  = { "f64",  8, 1, 0, "DoubleTensor", 64 },
  [EMBER_F16]  = { "f16",  2, 1, 0, "HalfTensor", 16 },
  [EMBER_BF16] = { "bf16", 2, 1, 0, "BFloat16Tensor", 16 },
  [EMBER_I8]   = { "i8",   1, 0, 1, "CharTensor", 8 },
  [EMBER_I16]  = { "i16",  2, 0, 1, "ShortTensor", 16 },
  [EMBER_I32]  = { "i32",  4, 0, 1, "IntTensor", 32 },
  [EMBER_I64]  = { "i64",  8, 0, 1, "LongTensor", 64 },
  [EMBER_U8]   = { "u8",   1, 0, 1, "ByteTensor", 8 },
  [EMBER_BOOL] = { "bool", 1, 0, 0, "BoolTensor", 8 },
  /* storage-only */
  [EMBER_U16]  = { "u16",  2, 0, 1, "UInt16Tensor", 16 },
  [EMBER_U32]  = { "u32",  4, 0, 1, "UInt32Tensor", 32 },
  [EMBER_U64]  = { "u64",  8, 0, 1, "UInt64Tensor", 64 },
  [EMBER_C64]  = { "c64",  8, 1, 0, "ComplexFloatTensor", 64 },
  [EMBER_F8_E4M3]     = { "f8_e4m3",     1, 1, 0, "Float8E4M3Tensor", 8 },
  [EMBER_F8_E5M2]     = { "f8_e5m2",     1, 1, 0, "Float8E5M2Tensor", 8 },
  [EMBER_F8_E8M0]     = { "f8_e8m0",     1, 1, 0, "Float8E8M0Tensor", 8 },
  [EMBER_F8_E4M3FNUZ] = { "f8_e4m3fnuz", 1, 1, 0, "Float8E4M3FNUZTensor", 8 },
  [EMBER_F8_E5M2FNUZ] = { "f8_e5m2fnuz", 1, 1, 0, "Float8E5M2FNUZTensor", 8 },
  [EMBER_F6_E2M3]     = { "f6_e2m3",     1, 1, 0, "Float6E2M3Tensor", 6 },
  [EMBER_F6_E3M2]     = { "f6_e3m2",     1, 1, 0, "Float6E3M2Tensor", 6 },
  [EMBER_F4]          = { "f4",          1, 1, 0, "Float4Tensor", 4 },
};
_Static_assert(sizeof ember_dtype_traits_table / sizeof ember_dtype_traits_table[0]
               == EMBER_DTYPE_COUNT, "dtype traits table out of step with ember_dtype");

const char *ember_dtype_name(ember_dtype dt) {
  if (dt < 0 || dt >= EMBER_DTYPE_COUNT) return "?";
  return ember_dtype_traits_table[dt].name;
}

ember_dtype ember_dtype_from_name(const char *name) {
  for (int i = 0; i < EMBER_DTYPE_COUNT; i++)
    if (strcasecmp(name, ember_dtype_traits_table[i].name) == 0) return (ember_dtype)i; /* "BF16" too */
  /* PyTorch's long names, so `t:to("float32")` reads naturally too (the names are held
  ** in place, not pointed to: a table of pointers costs the shared library a relocation
  ** each) */
  static const struct { char alias[16]; ember_dtype dt; } aliases[] = {
    {"float32", EMBER_F32}, {"float", EMBER_F32}, {"float64", EMBER_F64},
    {"double", EMBER_F64}, {"float16", EMBER_F16}, {"half", EMBER_F16},
    {"bfloat16", EMBER_BF16}, {"int8", EMBER_I8}, {"int16", EMBER_I16},
    {"int32", EMBER_I32}, {"int", EMBER_I32}, {"int64", EMBER_I64},
    {"long", EMBER_I64}, {"uint8", EMBER_U8}, {"byte", EMBER_U8},
    {"bool", EMBER_BOOL}, {"uint16", EMBER_U16}, {"uint32", EMBER_U32},
    {"uint64", EMBER_U64}, {"complex64", EMBER_C64}, {"cfloat", EMBER_C64},
    {"float8_e4m3fn", EMBER_F8_E4M3}, {"float8_e5m2", EMBER_F8_E5M2},
    {"float8_e8m0fnu", EMBER_F8_E8M0}, {"float8_e4m3fnuz", EMBER_F8_E4M3FNUZ},
    {"float8_e5m2fnuz", EMBER_F8_E5M2FNUZ}, {"float6_e2m3fn", EMBER_F6_E2M3},
    {"float6_e3m2fn", EMBER_F6_E3M2}, {"float4_e2m1fn", EMBER_F4},
  };
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strcmp(name, aliases[i].alias) == 0) return aliases[i].dt;
  return EMBER_DTYPE_NONE;
}

size_t ember_dtype_size(ember_dtype dt) {
  return ember_dtype_traits_table[dt].size;
}

int ember_dtype_bits(ember_dtype dt) {
  return ember_dtype_traits_table[dt].bits;
}

size_t ember_dtype_nbytes(ember_dtype dt, int64_t n) {
  return ((size_t)n * (size_t)ember_dtype_traits_table[dt].bits + 7) / 8;
}

int ember_dtype_is_storage_only(ember_dtype dt) {
  return dt >= EMBER_COMPUTE_DTYPES && dt < EMBER_DTYPE_COUNT;
}

int ember_dtype_is_subbyte(ember_dtype dt) {
  return dt >= 0 && dt < EMBER_DTYPE_COUNT && ember_dtype_traits_table[dt].bits < 8;
}

int ember_dtype_is_float(ember_dtype dt) {
  return dt >= 0 && dt < EMBER_DTYPE_COUNT && ember_dtype_traits_table[dt].is_float;
}

int ember_dtype_is_int(ember_dtype dt) {
  return dt >= 0 && dt < EMBER_DTYPE_COUNT && ember_dtype_traits_table[dt].is_int;
}

static uint32_t float_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bits_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float ember_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  if (exp == 0x1f)                       /* inf or nan */
    return bits_float(sign | 0x7f800000u | (man << 13));
  if (exp == 0) {                        /* zero or subnormal: man * 2^-24 */
    float v = (float)man * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  return bits_float(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t ember_f32_to_f16(float f) {
  uint32_t u = float_bits(f);
  uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
  uint32_t a = u & 0x7fffffffu;
  if (a >= 0x7f800000u)                  /* inf or nan (keep nan quiet) */
    return sign | 0x7c00 | (a > 0x7f800000u ? 0x200 | ((a >> 13) & 0x3ff) : 0);
  if (a >= 0x477ff000u) return sign | 0x7c00;   /* rounds past 65504: inf */
  if (a < 0x38800000u) {                 /* below 2^-14: subnormal half or zero */
    /* adding 0.5 lets the FPU's own round-to-nearest-even place the bits */
    float v = bits_float(a) + 0.5f;
    return sign | (uint16_t)(float_bits(v) - 0x3f000000u);
  }
  uint32_t mant_odd = (a >> 13) & 1;
  a += 0xc8000fffu + mant_odd;           /* rebias exponent (-112 << 23) and round */
  return sign | (uint16_t)(a >> 13);
}

float ember_bf16_to_f32(uint16_t h) {
  return bits_float((uint32_t)h << 16);
}

uint16_t ember_f32_to_bf16(float f) {
  uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet nan */
  u += 0x7fffu + ((u >> 16) & 1);        /* round to nearest even */
  return (uint16_t)(u >> 16);
}
