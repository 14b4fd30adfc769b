/*
** test_core.c — C-level tests of ember.h and host/core: f16/bf16 bit patterns,
** Philox known answers, broadcasting and promotion, views, ember_op_run, memory the
** caller owns, storage refcounts. Prints TAP lines ("ok N - what" / "not ok N -
** what"); exits non-zero if any check fails. Expected values are hand-computed
** from the IEEE 754 formats or published (Random123's kat_vectors).
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ember.h"
#include "core.h"

static int ntest, nfail;

static void check(int ok, const char *what) {
  ntest++;
  if (!ok) nfail++;
  printf("%sok %d - %s\n", ok ? "" : "not ", ntest, what);
}

static void check_u16(uint16_t got, uint16_t want, const char *what) {
  char buf[160];
  snprintf(buf, sizeof buf, "%s (got 0x%04x, want 0x%04x)", what, got, want);
  check(got == want, buf);
}

static float f32_of_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t bits_of_f32(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* {====== f16 and bf16 */

static void test_f16(void) {
  check_u16(ember_f32_to_f16(1.0f), 0x3c00, "f16: 1.0");
  check_u16(ember_f32_to_f16(-2.0f), 0xc000, "f16: -2.0");
  check_u16(ember_f32_to_f16(0.5f), 0x3800, "f16: 0.5");
  check_u16(ember_f32_to_f16(65504.0f), 0x7bff, "f16: 65504 is the largest finite");
  check_u16(ember_f32_to_f16(65519.0f), 0x7bff, "f16: 65519 rounds down to 65504");
  check_u16(ember_f32_to_f16(65520.0f), 0x7c00, "f16: 65520 (a tie) rounds to even: inf");
  check_u16(ember_f32_to_f16(1e6f), 0x7c00, "f16: 1e6 overflows to inf");
  check_u16(ember_f32_to_f16(-1e6f), 0xfc00, "f16: -1e6 overflows to -inf");
  check_u16(ember_f32_to_f16(INFINITY), 0x7c00, "f16: inf");
  check_u16(ember_f32_to_f16(ldexpf(1, -14)), 0x0400, "f16: 2^-14 smallest normal");
  check_u16(ember_f32_to_f16(ldexpf(1, -24)), 0x0001, "f16: 2^-24 smallest subnormal");
  check_u16(ember_f32_to_f16(ldexpf(1023, -24)), 0x03ff, "f16: largest subnormal");
  check_u16(ember_f32_to_f16(ldexpf(1, -25)), 0x0000, "f16: 2^-25 (a tie) rounds to even 0");
  check_u16(ember_f32_to_f16(ldexpf(3, -25)), 0x0002, "f16: 3*2^-25 (a tie) rounds to even 2");
  check_u16(ember_f32_to_f16(ldexpf(1, -25) * 1.0001f), 0x0001, "f16: just above 2^-25 rounds up");
  check_u16(ember_f32_to_f16(ldexpf(1, -26)), 0x0000, "f16: 2^-26 underflows to 0");
  check_u16(ember_f32_to_f16(-0.0f), 0x8000, "f16: -0 keeps its sign");
  check_u16(ember_f32_to_f16(1.0f + ldexpf(1, -11)), 0x3c00, "f16: 1+2^-11 (tie) rounds to even 1.0");
  check_u16(ember_f32_to_f16(1.0f + 3 * ldexpf(1, -11)), 0x3c02, "f16: 1+3*2^-11 (tie) rounds to even");
  check_u16(ember_f32_to_f16(1.0f + ldexpf(1, -11) + ldexpf(1, -20)), 0x3c01,
            "f16: just above a tie rounds up");
  check_u16(ember_f32_to_f16(ldexpf(2047, -25)), 0x0400, "f16: subnormal rounding carries into the exponent");
  check_u16(ember_f32_to_f16(0.1f), 0x2e66, "f16: 0.1");
  uint16_t nan = ember_f32_to_f16(NAN);
  check((nan & 0x7c00) == 0x7c00 && (nan & 0x3ff) != 0, "f16: nan stays nan");

  check(ember_f16_to_f32(0x3c00) == 1.0f, "f16 -> f32: 0x3c00 is 1.0");
  check(ember_f16_to_f32(0x7bff) == 65504.0f, "f16 -> f32: 0x7bff is 65504");
  check(ember_f16_to_f32(0x0001) == ldexpf(1, -24), "f16 -> f32: 0x0001 is 2^-24");
  check(ember_f16_to_f32(0x3555) == 0.333251953125f, "f16 -> f32: 0x3555 is 0.333251953125");
  check(isinf(ember_f16_to_f32(0xfc00)) && ember_f16_to_f32(0xfc00) < 0, "f16 -> f32: -inf");
  check(isnan(ember_f16_to_f32(0x7e00)), "f16 -> f32: nan");
  check(bits_of_f32(ember_f16_to_f32(0x8000)) == 0x80000000u, "f16 -> f32: -0");

  /* every non-nan half survives the round trip through f32 unchanged */
  int bad = 0;
  for (uint32_t h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;
    if (ember_f32_to_f16(ember_f16_to_f32((uint16_t)h)) != h) bad++;
  }
  check(bad == 0, "f16: all 63488 non-nan patterns round-trip through f32");

  /* halfway between neighbours: ties to even across the whole normal range */
  bad = 0;
  for (uint32_t h = 0x0400; h < 0x7bff; h++) {
    float lo = ember_f16_to_f32((uint16_t)h), hi = ember_f16_to_f32((uint16_t)(h + 1));
    float mid = lo + (hi - lo) / 2;          /* exact in f32 */
    uint16_t want = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
    if (ember_f32_to_f16(mid) != want) bad++;
  }
  check(bad == 0, "f16: every normal midpoint rounds to the even neighbour");
}

static void test_bf16(void) {
  check_u16(ember_f32_to_bf16(1.0f), 0x3f80, "bf16: 1.0");
  check_u16(ember_f32_to_bf16(-2.0f), 0xc000, "bf16: -2.0");
  check_u16(ember_f32_to_bf16(1.0f + ldexpf(1, -8)), 0x3f80, "bf16: 1+2^-8 (tie) rounds to even 1.0");
  check_u16(ember_f32_to_bf16(1.0f + 3 * ldexpf(1, -8)), 0x3f82, "bf16: 1+3*2^-8 (tie) rounds to even");
  check_u16(ember_f32_to_bf16(1.0f + ldexpf(1, -8) + ldexpf(1, -20)), 0x3f81,
            "bf16: just above a tie rounds up");
  check_u16(ember_f32_to_bf16(f32_of_bits(0x7f7fffffu)), 0x7f80, "bf16: FLT_MAX rounds to inf");
  check_u16(ember_f32_to_bf16(f32_of_bits(0x7f7f7fffu)), 0x7f7f, "bf16: below the tie stays finite");
  check_u16(ember_f32_to_bf16(f32_of_bits(0x00010000u)), 0x0001, "bf16: smallest subnormal");
  check_u16(ember_f32_to_bf16(INFINITY), 0x7f80, "bf16: inf");
  uint16_t nan = ember_f32_to_bf16(NAN);
  check((nan & 0x7f80) == 0x7f80 && (nan & 0x7f) != 0, "bf16: nan stays nan");
  uint16_t snan = ember_f32_to_bf16(f32_of_bits(0x7f800001u));
  check((snan & 0x7f80) == 0x7f80 && (snan & 0x7f) != 0, "bf16: a nan with low payload stays nan");
  check(ember_bf16_to_f32(0x3f80) == 1.0f, "bf16 -> f32: 0x3f80 is 1.0");
  check(ember_bf16_to_f32(0x4049) == 3.140625f, "bf16 -> f32: 0x4049 is 3.140625");
  int bad = 0;
  for (uint32_t h = 0; h < 0x10000; h++) {
    if ((h & 0x7f80) == 0x7f80 && (h & 0x7f)) continue;
    if (ember_f32_to_bf16(ember_bf16_to_f32((uint16_t)h)) != h) bad++;
  }
  check(bad == 0, "bf16: all non-nan patterns round-trip through f32");
}

/* }====== */

/* {====== Philox */

static int same4(const uint32_t *a, const uint32_t *b) {
  return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

static void test_philox(void) {
  uint32_t out[4];
  {
    const uint32_t ctr[4] = {0, 0, 0, 0}, key[2] = {0, 0};
    const uint32_t want[4] = {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8};
    ember_philox4x32_10(ctr, key, out);
    check(same4(out, want), "philox4x32-10: known answer, zero counter and key");
  }
  {
    const uint32_t ctr[4] = {~0u, ~0u, ~0u, ~0u}, key[2] = {~0u, ~0u};
    const uint32_t want[4] = {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd};
    ember_philox4x32_10(ctr, key, out);
    check(same4(out, want), "philox4x32-10: known answer, all-ones counter and key");
  }
  {
    const uint32_t ctr[4] = {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344};
    const uint32_t key[2] = {0xa4093822, 0x299f31d0};
    const uint32_t want[4] = {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1};
    ember_philox4x32_10(ctr, key, out);
    check(same4(out, want), "philox4x32-10: known answer, digits of pi");
  }
  {
    /* the stream form puts the 64-bit counter and key in the low words */
    uint64_t key = 0x0123456789abcdefull, counter = 0xfedcba9876543210ull;
    const uint32_t c4[4] = {0x76543210, 0xfedcba98, 0, 0}, k2[2] = {0x89abcdef, 0x01234567};
    uint32_t want[4];
    ember_philox4x32_10(c4, k2, want);
    ember_philox4x32(key, counter, out);
    check(same4(out, want), "philox4x32: 64-bit key and counter map onto the 128-bit form");
  }
  ember_manual_seed(42);
  check(ember_rng_seed() == 42, "rng: manual_seed sets the key");
  check(ember_rng_reserve(5) == 0, "rng: the first reservation starts at counter 0");
  check(ember_rng_reserve(1) == 2, "rng: 5 draws take two blocks");
  check(ember_rng_reserve(8) == 3, "rng: a 1-draw reservation takes a whole block");
  check(ember_rng_reserve(0) == 5, "rng: 8 draws take two blocks");
  ember_manual_seed(42);
  check(ember_rng_reserve(4) == 0, "rng: manual_seed resets the counter");
  check(ember_u32_to_unit_f32(0) == 0.0f, "rng: unit f32 of 0 is 0");
  check(ember_u32_to_unit_f32(0xffffffffu) == 1.0f - ldexpf(1, -24), "rng: unit f32 stays below 1");
  check(ember_u32_to_unit_f32(0x80000000u) == 0.5f, "rng: unit f32 of 2^31 is 0.5");
  check(ember_u64_to_unit_f64(0xffffffffu, 0xffffffffu) == 1.0 - ldexp(1, -53),
        "rng: unit f64 takes 53 bits and stays below 1");
  check(ember_u64_to_unit_f64(0x80000000u, 0) == 0.5, "rng: unit f64 of the top bit is 0.5");
}

/* }====== */

/* {====== broadcasting and promotion */

static void test_broadcast(void) {
  int n;
  int64_t out[EMBER_MAX_DIMS];
  const int64_t a[] = {2, 1, 3}, b[] = {4, 1};
  check(ember_broadcast_shapes("t", 3, a, 2, b, &n, out) == EMBER_OK && n == 3 && out[0] == 2 &&
        out[1] == 4 && out[2] == 3, "broadcast: 2x1x3 with 4x1 is 2x4x3");
  const int64_t c[] = {3}, d[] = {4};
  check(ember_broadcast_shapes("myop", 1, c, 1, d, &n, out) == EMBER_ERROR &&
        strstr(ember_last_error(), "myop") && strstr(ember_last_error(), "3") &&
        strstr(ember_last_error(), "4"), "broadcast: 3 with 4 fails, naming the op and sizes");
  check(ember_broadcast_shapes("t", 0, NULL, 2, b, &n, out) == EMBER_OK && n == 2 && out[0] == 4,
        "broadcast: a scalar takes the other shape");
  const int64_t e[] = {0, 1}, f[] = {5};
  check(ember_broadcast_shapes("t", 2, e, 1, f, &n, out) == EMBER_OK && out[0] == 0 && out[1] == 5,
        "broadcast: size 0 with 1 stays 0");

  /* torch.promote_types */
  check(ember_promote_types(EMBER_I32, EMBER_F16) == EMBER_F16, "promote: i32 + f16 = f16");
  check(ember_promote_types(EMBER_U8, EMBER_I8) == EMBER_I16, "promote: u8 + i8 = i16");
  check(ember_promote_types(EMBER_U8, EMBER_I32) == EMBER_I32, "promote: u8 + i32 = i32");
  check(ember_promote_types(EMBER_BOOL, EMBER_I8) == EMBER_I8, "promote: bool + i8 = i8");
  check(ember_promote_types(EMBER_BOOL, EMBER_U8) == EMBER_U8, "promote: bool + u8 = u8");
  check(ember_promote_types(EMBER_F16, EMBER_BF16) == EMBER_F32, "promote: f16 + bf16 = f32");
  check(ember_promote_types(EMBER_I64, EMBER_F32) == EMBER_F32, "promote: i64 + f32 = f32");
  check(ember_promote_types(EMBER_F32, EMBER_F64) == EMBER_F64, "promote: f32 + f64 = f64");
  check(ember_promote_types(EMBER_I16, EMBER_I64) == EMBER_I64, "promote: i16 + i64 = i64");

  /* torch.result_type: dims beat 0-dim beat wrapped numbers, within a category */
  const int64_t two[] = {2};
  ember_tensor *i32 = ember_tensor_zeros(EMBER_I32, 1, two);
  ember_tensor *f16 = ember_tensor_zeros(EMBER_F16, 1, two);
  ember_tensor *b1 = ember_tensor_zeros(EMBER_BOOL, 1, two);
  ember_tensor *s64 = ember_tensor_scalar(EMBER_F64, 1);
  ember_tensor *si64 = ember_tensor_scalar(EMBER_I64, 1);
  ember_tensor *wf = ember_tensor_scalar(EMBER_F64, 2.5);
  ember_tensor *wi = ember_tensor_scalar(EMBER_I64, 3);
  wf->flags |= EMBER_TENSOR_WRAPPED_NUMBER;
  wi->flags |= EMBER_TENSOR_WRAPPED_NUMBER;
  ember_tensor *p1[] = {i32, s64}, *p2[] = {i32, wf}, *p3[] = {f16, s64}, *p4[] = {b1, wi},
               *p5[] = {i32, si64}, *p6[] = {f16, wf}, *p7[] = {si64, wf};
  check(ember_result_type(2, p1) == EMBER_F64, "result_type: i32 tensor + 0-dim f64 = f64");
  check(ember_result_type(2, p2) == EMBER_F32, "result_type: i32 tensor + 2.5 = f32 (default float)");
  check(ember_result_type(2, p3) == EMBER_F16, "result_type: f16 tensor + 0-dim f64 = f16");
  check(ember_result_type(2, p4) == EMBER_I64, "result_type: bool tensor + 3 = i64");
  check(ember_result_type(2, p5) == EMBER_I32, "result_type: i32 tensor + 0-dim i64 = i32");
  check(ember_result_type(2, p6) == EMBER_F16, "result_type: f16 tensor + 2.5 = f16");
  check(ember_result_type(2, p7) == EMBER_F32, "result_type: 0-dim i64 + 2.5 = f32");
  ember_tensor *all[] = {i32, f16, b1, s64, si64, wf, wi};
  for (int i = 0; i < 7; i++) ember_tensor_release(all[i]);
}

/* }====== */

/* {====== views */

static ember_tensor *arange_f32(int ndim, const int64_t *shape) {
  ember_tensor *t = ember_tensor_empty(EMBER_F32, ndim, shape);
  float *p = ember_tensor_data(t);
  for (int64_t i = 0; i < ember_tensor_numel(t); i++) p[i] = (float)i;
  return t;
}

static void test_views(void) {
  const int64_t shape[] = {2, 3, 4};
  ember_tensor *t = arange_f32(3, shape);
  check(t->stride[0] == 12 && t->stride[1] == 4 && t->stride[2] == 1 && ember_tensor_is_contiguous(t),
        "tensor: contiguous strides 12, 4, 1");

  const int64_t vs[] = {6, -1};
  ember_tensor *v = ember_view(t, 2, vs);
  check(v && v->shape[0] == 6 && v->shape[1] == 4 && v->storage == t->storage,
        "view: 2x3x4 as 6x-1 is 6x4 over the same storage");
  check(t->storage->refcount == 2, "view: holds a storage reference");
  ember_tensor_set(v, 5, 100.0);
  check(ember_tensor_get(t, 5) == 100.0, "view: a write through the view changes the base");
  ember_tensor_release(v);
  check(t->storage->refcount == 1, "view: release gives the storage reference back");

  const int64_t bad[] = {5, -1};
  check(ember_view(t, 2, bad) == NULL && strstr(ember_last_error(), "view"),
        "view: 24 elements as 5x-1 fails");
  const int64_t two_inferred[] = {-1, -1};
  check(ember_view(t, 2, two_inferred) == NULL, "view: two -1 fail");

  ember_tensor *tr = ember_transpose(t, 1, 2);     /* 2x4x3, strides 12, 1, 4 */
  check(tr->shape[1] == 4 && tr->stride[1] == 1 && tr->stride[2] == 4 && !ember_tensor_is_contiguous(tr),
        "transpose: swaps shape and strides");
  check(ember_tensor_get(tr, 1) == 4.0, "transpose: element (0,0,1) is base (0,1,0)");
  const int64_t flat[] = {24};
  check(ember_view(tr, 1, flat) == NULL && strstr(ember_last_error(), "reshape"),
        "view: a transposed tensor cannot be flattened; the message points at reshape");
  ember_tensor *r = ember_reshape(tr, 1, flat);
  check(r && ember_tensor_is_contiguous(r) && r->storage != t->storage && ember_tensor_get(r, 1) == 4.0 &&
        ember_tensor_get(r, 3) == 1.0, "reshape: copies when strides forbid a view, in logical order");
  ember_tensor_release(r);
  const int64_t merge[] = {2, 12};
  ember_tensor *tt = ember_transpose(t, 0, 0);
  r = ember_reshape(tt, 2, merge);
  check(r && r->storage == t->storage, "reshape: a view when strides allow");
  ember_tensor_release(r);
  ember_tensor_release(tt);

  ember_tensor *n = ember_narrow(t, 2, 1, 2);
  check(n && n->shape[2] == 2 && n->offset == 1 && ember_tensor_get(n, 1) == 2.0 && ember_tensor_get(n, 3) == 6.0,
        "narrow: dim 2 from 1, length 2");
  ember_tensor_release(n);
  check(ember_narrow(t, 2, 3, 2) == NULL, "narrow: past the end fails");
  ember_tensor *s = ember_select(t, -1, -1);
  check(s && s->ndim == 2 && s->offset == 3 && ember_tensor_get(s, 1) == 7.0,
        "select: negative dim and index count from the end");
  ember_tensor_release(s);
  check(ember_select(t, 0, 2) == NULL && strstr(ember_last_error(), "select"), "select: out of range fails");
  ember_tensor *sl = ember_slice(t, 2, 0, 4, 3);
  check(sl && sl->shape[2] == 2 && sl->stride[2] == 3 && ember_tensor_get(sl, 1) == 3.0,
        "slice: step 3 over 4 gives 2 entries");
  ember_tensor_release(sl);
  const int dims[] = {2, 0, 1};
  ember_tensor *p = ember_permute(t, 3, dims);
  check(p && p->shape[0] == 4 && p->shape[1] == 2 && p->shape[2] == 3 && p->stride[0] == 1 &&
        p->stride[1] == 12 && p->stride[2] == 4, "permute: (2, 0, 1)");
  ember_tensor_release(p);
  const int dup[] = {0, 0, 1};
  check(ember_permute(t, 3, dup) == NULL, "permute: a repeated dim fails");

  const int64_t one[] = {3, 1};
  ember_tensor *col = arange_f32(2, one);
  const int64_t to[] = {2, 3, 5};
  ember_tensor *e = ember_expand(col, 3, to);
  check(e && e->stride[0] == 0 && e->stride[2] == 0 && e->stride[1] == 1 && ember_tensor_get(e, 7) == 1.0,
        "expand: 3x1 to 2x3x5 with stride 0 on new and size-1 dims");
  ember_tensor_release(e);
  const int64_t wrong[] = {4, 2};
  check(ember_expand(col, 2, wrong) == NULL && strstr(ember_last_error(), "expand"), "expand: 3 to 4 fails");
  ember_tensor *sq = ember_squeeze(col, EMBER_ALL_DIMS);
  check(sq && sq->ndim == 1 && sq->shape[0] == 3, "squeeze: drops size-1 dims");
  ember_tensor *us = ember_unsqueeze(sq, 0);
  check(us && us->ndim == 2 && us->shape[0] == 1 && us->shape[1] == 3, "unsqueeze: adds a leading 1");
  ember_tensor_release(us);
  ember_tensor_release(sq);
  ember_tensor *fl = ember_flatten(t, 1, 2);
  check(fl && fl->ndim == 2 && fl->shape[1] == 12 && fl->storage == t->storage, "flatten: dims 1..2");
  ember_tensor_release(fl);

  /* copy_ broadcasts and converts; fill_ writes through strides */
  ember_tensor *dst = ember_tensor_zeros(EMBER_I32, 2, (const int64_t[]){2, 3});
  ember_tensor *src = ember_tensor_empty(EMBER_F64, 1, (const int64_t[]){3});
  double *sp = ember_tensor_data(src);
  sp[0] = 1.9; sp[1] = -2.7; sp[2] = 3.0;
  check(ember_copy_(dst, src) == EMBER_OK && ember_tensor_get(dst, 3) == 1.0 &&
        ember_tensor_get(dst, 4) == -2.0, "copy_: broadcasts a row and truncates f64 to i32");
  check(ember_copy_(src, dst) == EMBER_ERROR && strstr(ember_last_error(), "copy_"),
        "copy_: 2x3 cannot go into 3");
  ember_tensor *dcol = ember_select(dst, 1, 1);
  ember_fill_(dcol, 7);
  check(ember_tensor_get(dst, 1) == 7.0 && ember_tensor_get(dst, 4) == 7.0 && ember_tensor_get(dst, 0) == 1.0,
        "fill_: a column view fills only its column");
  ember_tensor_release(dcol);
  ember_tensor_release(dst);
  ember_tensor_release(src);

  ember_tensor *same = ember_contiguous(t);
  check(same == t && t->refcount == 2, "contiguous: a contiguous tensor comes back retained");
  ember_tensor_release(same);
  ember_tensor *cl = ember_clone(t);
  check(cl != t && cl->storage != t->storage && ember_tensor_get(cl, 5) == 100.0, "clone: a copy");
  ember_tensor_release(cl);
  ember_tensor_release(col);
  ember_tensor_release(tr);
  ember_tensor_release(t);
}

/* }====== */

/* {====== ops from C, caller-owned memory, refcounts */

static int released;
static void *released_data;

static void on_release(void *data, size_t nbytes, void *ctx) {
  (void)nbytes;
  released++;
  released_data = data;
  *(int *)ctx += 1;
}

static void test_ops_and_memory(void) {
  float a_data[6] = {1, 2, 3, 4, 5, 6}, b_data[3] = {10, 20, 30};
  int ctx_calls = 0;
  const int64_t ash[] = {2, 3}, bsh[] = {3};
  ember_tensor *a = ember_tensor_from_data(a_data, EMBER_F32, 2, ash, NULL, on_release, &ctx_calls);
  ember_tensor *b = ember_tensor_from_data(b_data, EMBER_F32, 1, bsh, NULL, NULL, NULL);
  check(a && ember_tensor_data(a) == a_data && a->storage->kind == EMBER_ALLOC_EXTERNAL,
        "from_data: wraps the caller's memory without a copy");

  ember_tensor *in[2] = {a, b}, *out[1] = {NULL};
  int n = ember_op_run("add", 2, in, "alpha=2", out, 1);
  check(n == 1 && out[0]->dtype == EMBER_F32 && out[0]->shape[0] == 2 && ember_tensor_get(out[0], 0) == 21.0 &&
        ember_tensor_get(out[0], 5) == 66.0, "op_run: add(a, b, alpha=2) broadcasts b");
  if (n == 1) ember_tensor_release(out[0]);
  ember_tensor *at = ember_transpose(a, 0, 1);
  ember_tensor *in2[2] = {at, at};
  n = ember_op_run("add", 2, in2, NULL, out, 1);
  check(n == 1 && ember_tensor_get(out[0], 1) == 8.0, "op_run: add of transposed views");
  if (n == 1) ember_tensor_release(out[0]);
  ember_tensor *in3[2] = {a, at};
  check(ember_op_run("add", 2, in3, NULL, out, 1) == -1 && strstr(ember_last_error(), "add") &&
        strstr(ember_last_error(), "2x3") && strstr(ember_last_error(), "3x2"),
        "op_run: 2x3 + 3x2 fails naming add and both shapes");
  check(ember_op_run("no_such_op", 0, NULL, NULL, out, 1) == -1 && strstr(ember_last_error(), "no_such_op"),
        "op_run: an unknown op name fails");
  check(ember_op_run("add", 2, in, "beta=1", out, 1) == -1 && strstr(ember_last_error(), "beta"),
        "op_run: an unknown attribute fails");
  check(ember_op_run("add", 1, in, NULL, out, 1) == -1, "op_run: too few inputs fails");

  n = ember_op_run("zeros", 0, NULL, "size=2,3,dtype=f64", out, 1);
  check(n == 1 && out[0]->dtype == EMBER_F64 && out[0]->ndim == 2 && out[0]->shape[1] == 3 &&
        ember_tensor_get(out[0], 5) == 0.0, "op_run: zeros(size=2,3, dtype=f64)");
  if (n == 1) ember_tensor_release(out[0]);
  n = ember_op_run("arange", 0, NULL, "start=2,end=11,step=3", out, 1);
  check(n == 1 && out[0]->dtype == EMBER_I64 && out[0]->shape[0] == 3 && ember_tensor_get(out[0], 2) == 8.0,
        "op_run: arange(2, 11, 3) is i64 2 5 8");
  if (n == 1) ember_tensor_release(out[0]);
  n = ember_op_run("arange", 0, NULL, "start=4", out, 1);
  check(n == 1 && out[0]->shape[0] == 4 && ember_tensor_get(out[0], 3) == 3.0, "op_run: arange(4) is 0..3");
  if (n == 1) ember_tensor_release(out[0]);
  check(ember_op_run("zeros", 0, NULL, "size=2,-3", out, 1) == -1 && strstr(ember_last_error(), "zeros") &&
        strstr(ember_last_error(), "negative"), "op_run: zeros with a negative size fails");

  /* the caller's release runs once, when the last view of the memory goes */
  ember_tensor_release(b);
  ember_tensor *row = ember_select(a, 0, 1);
  ember_tensor_release(a);
  check(released == 0, "from_data: a live view keeps the memory");
  ember_tensor_release(at);
  check(released == 0, "from_data: one view left");
  check(ember_tensor_get(row, 2) == 6.0, "from_data: the view still reads the caller's memory");
  ember_tensor_release(row);
  check(released == 1 && ctx_calls == 1 && released_data == a_data,
        "from_data: release called exactly once, with the data and ctx");

  /* storage refcounts */
  ember_tensor *t = ember_tensor_zeros(EMBER_F32, 1, (const int64_t[]){4});
  check(t->refcount == 1 && t->storage->refcount == 1, "refcount: a new tensor holds one storage reference");
  ember_tensor *v1 = ember_narrow(t, 0, 1, 2), *v2 = ember_unsqueeze(v1, 0);
  check(t->storage->refcount == 3, "refcount: each view adds one");
  ember_tensor_retain(t);
  check(t->refcount == 2 && t->storage->refcount == 3, "refcount: retaining a header leaves storage alone");
  ember_tensor_release(t);
  ember_tensor_release(v1);
  ember_tensor_release(t);
  check(v2->storage->refcount == 1, "refcount: the last view holds the storage alone");
  ember_tensor_release(v2);
  ember_tensor_release(NULL);
  check(1, "refcount: releasing NULL is a no-op");
}

/* }====== */

int main(void) {
  test_f16();
  test_bf16();
  test_philox();
  test_broadcast();
  test_views();
  test_ops_and_memory();
  printf("1..%d\n", ntest);
  return nfail ? 1 : 0;
}
