/* churn.c — sbrk-churn: a long random malloc/free/realloc/calloc/aligned
 * workload over a small live set (200 slots, the op mix and sizes of
 * tests/stress.c, without its checks), printing live bytes and footprint
 * eight times along the way. It shows whether an allocator's heap settles
 * or keeps growing while the live set stays small: a long-running program's
 * view of fragmentation, which short traces do not show (docs/SBRK.md).
 *
 *   sbrk-churn [--max-ratio R] ALLOCATOR OPS [SEED]
 *
 * With --max-ratio it is a test (meson.build): it fails when the footprint
 * exceeds R times the peak live bytes at any of the eight points.
 */
#include "../tests/random_ops.h"
#include "hb_adapters.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LIVE = 200 };

typedef struct slot {
  unsigned char *ptr;
  size_t size;
} slot;

static slot slots[LIVE];

static uint64_t footprint(const hb_allocator *a) {
  uint64_t value = 0;
  a->stat(HB_STAT_FOOTPRINT_BYTES, &value);
  return value;
}

int main(int argc, char **argv) {
  const char *program = argv[0];
  double max_ratio = 0;
  if (argc > 2 && strcmp(argv[1], "--max-ratio") == 0) {
    char *ratio_end = NULL;
    max_ratio = strtod(argv[2], &ratio_end);
    if (*ratio_end || !(max_ratio > 0)) {
      fprintf(stderr, "%s: --max-ratio wants a positive number, not '%s'\n", program, argv[2]);
      return 2;
    }
    argc -= 2;
    argv += 2;
  }
  char *end = NULL;
  size_t ops = argc > 2 ? strtoull(argv[2], &end, 10) : 0;
  const hb_allocator *a = argc > 2 ? hb_allocator_find(argv[1]) : NULL;
  if (argc > 2 && !a) {
    fprintf(stderr, "%s: no allocator named '%s' here (glibc and the sbrk policies)\n", program,
            argv[1]);
    return 2;
  }
  if (!a || ops < 8 || *end) {
    fprintf(stderr,
            "usage: %s [--max-ratio R] ALLOCATOR OPS [SEED]   (OPS >= 8; ALLOCATOR: glibc or an sbrk "
            "policy)\n",
            program);
    return 2;
  }
  uint64_t seed = 20261126;
  if (argc > 3) {
    char *seed_end = NULL;
    seed = strtoull(argv[3], &seed_end, 10);
    if (!*argv[3] || *seed_end || argv[3][0] == '-') {
      fprintf(stderr, "%s: SEED must be a number, not '%s'\n", program, argv[3]);
      return 2;
    }
  }
  hb_rng_seed(seed);
  uint64_t live = 0, peak_live = 0;
  double worst = 0;
  printf("%-14s %12s %12s %14s %14s %8s\n", "allocator", "ops", "live", "peak live", "footprint",
         "ratio");
  for (size_t op = 1; op <= ops; op++) {
    slot *s = &slots[hb_rng() % LIVE];
    uint64_t what = hb_rng() % 100;
    if (s->ptr) {
      if (what < 55) {
        a->free(s->ptr, s->size);
        live -= s->size;
        s->ptr = NULL;
      } else if (what < 85) {
        size_t size = what < 70 ? hb_random_size() : s->size + hb_rng() % 512;
        unsigned char *moved = a->realloc(s->ptr, size);
        if (!moved && size == 0) { /* glibc: realloc(p, 0) frees p */
          live -= s->size;
          s->ptr = NULL;
        } else if (!moved) {
          fprintf(stderr, "%s: op %zu: realloc of %zu bytes failed\n", a->name, op, size);
          return 1;
        } else {
          live = live - s->size + size;
          s->ptr = moved;
          s->size = size;
        }
      }
    } else {
      s->size = hb_random_size();
      if (what < 70)
        s->ptr = a->malloc(s->size);
      else if (what < 85)
        s->ptr = a->calloc(1 + s->size / 8, 8), s->size = (1 + s->size / 8) * 8;
      else
        s->ptr = a->aligned_alloc((size_t)32 << (hb_rng() % 8), s->size);
      if (!s->ptr) {
        fprintf(stderr, "%s: op %zu: allocation of %zu bytes failed\n", a->name, op, s->size);
        return 1;
      }
      /* Touch it, as a program would (and as the replay does). */
      memset(s->ptr, 0x5A, s->size < 64 ? s->size : 64);
      live += s->size;
    }
    if (live > peak_live) peak_live = live;
    if (op % (ops / 8) == 0) {
      uint64_t f = footprint(a);
      double ratio = peak_live ? (double)f / (double)peak_live : 0.0;
      if (ratio > worst) worst = ratio;
      printf("%-14s %12zu %12llu %14llu %14llu %8.2f\n", a->name, op, (unsigned long long)live,
             (unsigned long long)peak_live, (unsigned long long)f, ratio);
    }
  }
  if (max_ratio > 0 && worst > max_ratio) {
    fprintf(stderr, "%s: footprint reached %.2f times the peak live bytes (--max-ratio %.2f)\n",
            a->name, worst, max_ratio);
    return 1;
  }
  return 0;
}
