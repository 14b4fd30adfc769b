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

float ember_u32_to_unit_f32(uint32_t x) {
  return (float)(x >> 8) * (1.0f / 16777216.0f);
}

double ember_u64_to_unit_f64(uint32_t hi, uint32_t lo) {
  uint64_t x = ((uint64_t)hi << 21) ^ (lo >> 11);   /* 53 random bits */
  return (double)(x & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}
