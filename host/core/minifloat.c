/*
** minifloat.c — the 8-, 6- and 4-bit float formats that checkpoints carry: decoding
** to float, encoding from float, and the packing of the sub-byte ones.
**
** Each format is sign / exponent / mantissa with a bias, and differs only in what its
** top codes mean:
**   F8_E5M2      IEEE-like: exponent all ones is inf (mantissa 0) or NaN.
**   F8_E4M3      "fn": no inf; S.1111.111 is NaN, so the largest finite is 448.
**   F8_E4M3FNUZ, F8_E5M2FNUZ
**                "fnuz": no inf, no negative zero; the code 0x80 alone is NaN.
**   F6_E2M3, F6_E3M2, F4 (E2M1)
**                finite only: every code is a number; no NaN, no inf.
**   F8_E8M0      exponent only, no sign: 2^(code - 127); 0xFF is NaN.
** Encoding rounds to nearest, ties to even. A value that rounds beyond the largest
** finite becomes inf where the format has one (E5M2), NaN where it has only NaN
** (E4M3, the fnuz pair) — PyTorch's rules for its float8 types — and saturates to the
** largest finite in the formats without either (F6, F4), as the OCP MX formats
** specify. NaN encodes to the format's NaN (with its sign where the format has one),
** and to +0 in F6/F4, which have none.
**
** Packing of the sub-byte formats (safetensors F6_E2M3, F6_E3M2, F4): elements are
** laid end to end in a little-endian bit stream, element i at bits [b*i, b*i + b):
** F4 puts element 2k in the low nibble of byte k (as torch.float4_e2m1fn_x2 does),
** F6 puts four elements in three bytes.
*/
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "core.h"

typedef enum { MF_IEEE, MF_FN, MF_FNUZ, MF_FINITE, MF_E8M0 } mf_kind;

typedef struct mf_format {
  int ebits, mbits, bias;
  mf_kind kind;
} mf_format;

static const mf_format *format_of(ember_dtype dt) {
  static const mf_format e4m3 = {4, 3, 7, MF_FN}, e5m2 = {5, 2, 15, MF_IEEE},
                         e8m0 = {8, 0, 127, MF_E8M0}, e4m3fnuz = {4, 3, 8, MF_FNUZ},
                         e5m2fnuz = {5, 2, 16, MF_FNUZ}, f6e2m3 = {2, 3, 1, MF_FINITE},
                         f6e3m2 = {3, 2, 3, MF_FINITE}, f4 = {2, 1, 1, MF_FINITE};
  switch (dt) {
  case EMBER_F8_E4M3: return &e4m3;
  case EMBER_F8_E5M2: return &e5m2;
  case EMBER_F8_E8M0: return &e8m0;
  case EMBER_F8_E4M3FNUZ: return &e4m3fnuz;
  case EMBER_F8_E5M2FNUZ: return &e5m2fnuz;
  case EMBER_F6_E2M3: return &f6e2m3;
  case EMBER_F6_E3M2: return &f6e3m2;
  case EMBER_F4: return &f4;
  default: return NULL;
  }
}

static unsigned sign_bit(const mf_format *f) { return 1u << (f->ebits + f->mbits); }
static unsigned exp_mask(const mf_format *f) { return (1u << f->ebits) - 1; }
static unsigned man_mask(const mf_format *f) { return (1u << f->mbits) - 1; }

static unsigned nan_code(const mf_format *f) {
  switch (f->kind) {
  case MF_IEEE: return (exp_mask(f) << f->mbits) | man_mask(f);
  case MF_FN: return (exp_mask(f) << f->mbits) | man_mask(f);
  case MF_FNUZ: return sign_bit(f);
  case MF_E8M0: return 0xff;
  default: return 0;
  }
}

static unsigned max_code(const mf_format *f) {
  switch (f->kind) {
  case MF_IEEE: return ((exp_mask(f) - 1) << f->mbits) | man_mask(f);
  case MF_FN: return (exp_mask(f) << f->mbits) | (man_mask(f) - 1);
  default: return (exp_mask(f) << f->mbits) | man_mask(f);
  }
}

static float decode(const mf_format *f, unsigned code) {
  if (f->kind == MF_E8M0)
    return code == 0xff ? NAN : ldexpf(1.0f, (int)code - 127);
  unsigned e = (code >> f->mbits) & exp_mask(f), m = code & man_mask(f);
  int neg = (code & sign_bit(f)) != 0;
  if (f->kind == MF_FNUZ && code == sign_bit(f)) return NAN;
  if (f->kind == MF_IEEE && e == exp_mask(f)) return m ? NAN : neg ? -INFINITY : INFINITY;
  if (f->kind == MF_FN && e == exp_mask(f) && m == man_mask(f)) return NAN;
  float v = e == 0 ? ldexpf((float)m, 1 - f->bias - f->mbits)
                   : ldexpf((float)(man_mask(f) + 1 + m), (int)e - f->bias - f->mbits);
  return neg ? -v : v;
}

/* E8M0 keeps only an exponent: take float32's own exponent field and round its
** mantissa away to nearest, ties up (the tie 1.5 * 2^e is never exact in the
** format, so "even" has no meaning; normal floats round the tie up, PyTorch's rule). */
static unsigned encode_e8m0(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  uint32_t e = (u >> 23) & 0xff, man = u & 0x7fffff;
  if (e == 0xff) return 0xff;                        /* inf and NaN */
  int upper_half = (man & 0x400000) != 0, rest = (man & 0x3fffff) != 0;
  if (upper_half && (rest || e > 0)) e++;   /* 0xfe + 1 is the NaN */
  return e;
}

static unsigned encode(const mf_format *f, float x) {
  if (f->kind == MF_E8M0) return encode_e8m0(x);
  unsigned sign = signbit(x) ? sign_bit(f) : 0;
  if (x != x) return f->kind == MF_IEEE || f->kind == MF_FN ? sign | nan_code(f) : nan_code(f);
  double a = fabs((double)x);
  double maxval = fabs((double)decode(f, max_code(f)));
  int emin = 1 - f->bias;                   /* exponent of the smallest normal */
  double r = a;
  if (!isinf(a)) {
    int ex;
    frexp(a, &ex);                          /* a = fr * 2^ex, fr in [0.5, 1) */
    int e = ex - 1 < emin ? emin : ex - 1;
    double quantum = ldexp(1.0, e - f->mbits);
    r = nearbyint(a / quantum) * quantum;   /* exact scaling; the FPU rounds to even */
  }
  if (r > maxval) {
    switch (f->kind) {
    case MF_IEEE: return sign | (exp_mask(f) << f->mbits);
    case MF_FINITE: return sign | max_code(f);
    case MF_FN: return sign | nan_code(f);   /* the NaN keeps the sign, as torch's does */
    default: return nan_code(f);
    }
  }
  if (r == 0) return f->kind == MF_FNUZ ? 0 : sign;   /* fnuz has no -0 */
  int ex;
  frexp(r, &ex);
  int e = ex - 1;
  if (e < emin)                                        /* subnormal */
    return sign | (unsigned)(r / ldexp(1.0, emin - f->mbits));
  unsigned m = (unsigned)(r / ldexp(1.0, e - f->mbits)) - (man_mask(f) + 1);
  return sign | ((unsigned)(e + f->bias) << f->mbits) | m;
}

/* Decoding goes through one table per format, built on first use. */
#define NFORMATS (EMBER_F4 - EMBER_F8_E4M3 + 1)
static float decode_table[NFORMATS][256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build_tables(void) {
  for (int k = 0; k < NFORMATS; k++) {
    const mf_format *f = format_of((ember_dtype)(EMBER_F8_E4M3 + k));
    unsigned ncodes = f->kind == MF_E8M0 ? 256 : 2u << (f->ebits + f->mbits);
    for (unsigned c = 0; c < 256; c++) decode_table[k][c] = decode(f, c % ncodes);
  }
}

float ember_minifloat_decode(ember_dtype dt, unsigned code) {
  if (format_of(dt) == NULL) return NAN;
  pthread_once(&tables_once, build_tables);
  return decode_table[dt - EMBER_F8_E4M3][code & 0xff];
}

unsigned ember_minifloat_encode(ember_dtype dt, float x) {
  const mf_format *f = format_of(dt);
  return f ? encode(f, x) : 0;
}

/* {====== sub-byte packing */

unsigned ember_subbyte_get(ember_dtype dt, const uint8_t *base, int64_t i) {
  int bits = ember_dtype_bits(dt);
  uint64_t bit = (uint64_t)i * bits;
  const uint8_t *p = base + bit / 8;
  unsigned shift = bit % 8, mask = (1u << bits) - 1;
  unsigned word = p[0];
  if (shift + bits > 8) word |= (unsigned)p[1] << 8;   /* the element spans two bytes */
  return (word >> shift) & mask;
}

void ember_subbyte_set(ember_dtype dt, uint8_t *base, int64_t i, unsigned code) {
  int bits = ember_dtype_bits(dt);
  uint64_t bit = (uint64_t)i * bits;
  uint8_t *p = base + bit / 8;
  unsigned shift = bit % 8, mask = (1u << bits) - 1;
  unsigned word = p[0] | (shift + bits > 8 ? (unsigned)p[1] << 8 : 0);
  word = (word & ~(mask << shift)) | ((code & mask) << shift);
  p[0] = (uint8_t)word;
  if (shift + bits > 8) p[1] = (uint8_t)(word >> 8);
}

/* }====== */
