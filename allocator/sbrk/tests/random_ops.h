/* random_ops.h — the random workload shared by the sbrk stress test
 * (stress.c) and sbrk-churn (../tools/churn.c): one xorshift64* generator
 * and the size mix, so that the churn tool runs the very sequence the
 * stress test checks. Static: one generator per program.
 */
#ifndef HB_SBRK_RANDOM_OPS_H
#define HB_SBRK_RANDOM_OPS_H

#include <stddef.h>
#include <stdint.h>

static uint64_t hb_rng_state;

static inline void hb_rng_seed(uint64_t seed) { hb_rng_state = seed | 1; }

static inline uint64_t hb_rng(void) { /* xorshift64* */
  hb_rng_state ^= hb_rng_state >> 12;
  hb_rng_state ^= hb_rng_state << 25;
  hb_rng_state ^= hb_rng_state >> 27;
  return hb_rng_state * 2685821657736338717ull;
}

/* Mostly small, sometimes KiBs, rarely hundreds of KiB (the top of the
 * heap: growing in place, trimming). */
static inline size_t hb_random_size(void) {
  uint64_t r = hb_rng() % 1000;
  if (r < 700) return hb_rng() % 257;          /* small */
  if (r < 960) return 257 + hb_rng() % 4000;   /* medium */
  if (r < 995) return 4096 + hb_rng() % 60000; /* large */
  return 65536 + hb_rng() % 400000;            /* top of the heap */
}

#endif
