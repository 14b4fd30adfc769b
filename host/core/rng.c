/*
** rng.c — Philox 4x32-10, a counter-based generator (Salmon et al., SC'11).
** Each 128-bit counter value maps to four 32-bit outputs through ten rounds keyed by
** the seed, with no state but (seed, counter). A kernel on any device can therefore
** produce draw i of a tensor as block i/4 of the same stream, and ember.manual_seed
** makes CPU and GPU results identical.
*/
#include "core.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static uint64_t rng_seed = 0x5eed;
static uint64_t rng_counter = 0;

static uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t *hi) {
  uint64_t p = (uint64_t)a * b;
  *hi = (uint32_t)(p >> 32);
  return (uint32_t)p;
}

void ember_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; round++) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo(PHILOX_M0, c0, &hi0);
    uint32_t lo1 = mulhilo(PHILOX_M1, c2, &hi1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

void ember_philox4x32(uint64_t key, uint64_t counter, uint32_t out[4]) {
  const uint32_t ctr[4] = { (uint32_t)counter, (uint32_t)(counter >> 32), 0, 0 };
  const uint32_t k[2] = { (uint32_t)key, (uint32_t)(key >> 32) };
  ember_philox4x32_10(ctr, k, out);
}

/* The same rounds over EMBER_PHILOX_BATCH independent lanes, which the compiler
** vectorises: twice as fast as a block at a time. The creation spec checks the
** numbers against an independent Philox. */
void ember_philox4x32_batch(uint64_t key, uint64_t first, uint32_t *out) {
  enum { B = EMBER_PHILOX_BATCH };
  uint32_t c0[B], c1[B], c2[B], c3[B];
  for (int b = 0; b < B; b++) {
    uint64_t ctr = first + (uint64_t)b;
    c0[b] = (uint32_t)ctr;
    c1[b] = (uint32_t)(ctr >> 32);
    c2[b] = c3[b] = 0;
  }
  uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
  for (int round = 0; round < 10; round++) {
    for (int b = 0; b < B; b++) {
      uint64_t p0 = (uint64_t)PHILOX_M0 * c0[b], p1 = (uint64_t)PHILOX_M1 * c2[b];
      uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[b] ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3[b] ^ k1;
      c1[b] = (uint32_t)p1;
      c3[b] = (uint32_t)p0;
      c0[b] = n0;
      c2[b] = n2;
    }
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  for (int b = 0; b < B; b++) {
    out[4 * b] = c0[b];
    out[4 * b + 1] = c1[b];
    out[4 * b + 2] = c2[b];
    out[4 * b + 3] = c3[b];
  }
}

void ember_manual_seed(uint64_t seed) {
  rng_seed = seed;
  rng_counter = 0;
}

uint64_t ember_rng_seed(void) {
  return rng_seed;
}

uint64_t ember_rng_reserve(int64_t n) {
  uint64_t first = rng_counter;
  rng_counter += (uint64_t)(n + 3) / 4;
  return first;
}

double ember_u64_to_unit_f64(uint32_t hi, uint32_t lo) {
  uint64_t x = ((uint64_t)hi << 21) ^ (lo >> 11);   /* 53 random bits */
  return (double)(x & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}
