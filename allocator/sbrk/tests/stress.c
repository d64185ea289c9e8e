/* stress.c — randomised malloc/free/realloc/calloc/aligned sequences on one
 * sbrk policy, with the policy's heap checker run after EVERY operation and
 * every block's contents verified (a fill pattern per block: an overlap or
 * a stray write shows as a wrong byte).
 *
 * Usage: sbrk-stress POLICY [OPS [SEED]]   (OPS: 2,000,000, or $HB_STRESS_OPS)
 * The live set stays small (at most LIVE blocks) so that checking the
 * whole heap after each operation stays cheap; sizes are mostly small,
 * sometimes a few KiB, rarely hundreds of KiB (to exercise the top of the
 * heap: growing in place, trimming).
 */
#include "hb_sbrk.h"
#include "hb_test.h"
#include "random_ops.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { LIVE = 200 };

typedef struct slot {
  unsigned char *ptr;
  size_t size;
  size_t alignment;
  unsigned seed;
} slot;

static slot slots[LIVE];

static unsigned char pattern(unsigned seed, size_t i) { return (unsigned char)(seed * 131 + i * 7 + (i >> 8)); }

static void fill(slot *s, size_t from) {
  for (size_t i = from; i < s->size; i++) s->ptr[i] = pattern(s->seed, i);
}

/* 0 when the first `size` bytes hold the slot's pattern. */
static int verify(const slot *s, size_t size, const char *policy, size_t op) {
  for (size_t i = 0; i < size; i++)
    if (s->ptr[i] != pattern(s->seed, i)) {
      HB_CHECK(0, "%s: op %zu: block %p (%zu bytes) corrupted at byte %zu", policy, op,
               (void *)s->ptr, s->size, i);
      return -1;
    }
  return 0;
}

static int run(const hb_allocator *a, size_t ops, uint64_t seed) {
  hb_rng_seed(seed);
  char why[512];
  unsigned next_seed = 1;
  size_t failures_before = (size_t)hb_test_failures;
  for (size_t op = 0; op < ops && (size_t)hb_test_failures == failures_before; op++) {
    slot *s = &slots[hb_rng() % LIVE];
    uint64_t what = hb_rng() % 100;
    if (s->ptr) {
      if (verify(s, s->size, a->name, op)) break;
      if (what < 55) { /* free */
        a->free(s->ptr, s->size);
        s->ptr = NULL;
      } else if (what < 85) { /* realloc: keep the common prefix */
        size_t size = what < 70 ? hb_random_size() : s->size + hb_rng() % 512;
        unsigned char *moved = a->realloc(s->ptr, size);
        HB_CHECK(moved != NULL, "%s: op %zu: realloc(%zu) failed", a->name, op, size);
        if (!moved) break;
        HB_CHECK(s->alignment <= 16 || moved != s->ptr || ((uintptr_t)moved % s->alignment) == 0,
                 "%s: realloc lost alignment", a->name);
        s->ptr = moved;
        size_t kept = size < s->size ? size : s->size;
        s->size = kept;
        if (verify(s, kept, a->name, op)) break;
        s->size = size;
        s->alignment = 16;
        fill(s, kept);
      } else { /* usable size */
        HB_CHECK(a->usable_size(s->ptr) >= s->size, "%s: op %zu: usable %zu < %zu", a->name, op,
                 a->usable_size(s->ptr), s->size);
      }
    } else {
      s->size = hb_random_size();
      s->seed = next_seed++;
      s->alignment = 16;
      if (what < 70) {
        s->ptr = a->malloc(s->size);
      } else if (what < 85) {
        s->ptr = a->calloc(1 + s->size / 8, 8);
        size_t bytes = (1 + s->size / 8) * 8;
        for (size_t i = 0; s->ptr && i < bytes; i++)
          if (s->ptr[i]) {
            HB_CHECK(0, "%s: op %zu: calloc byte %zu is %d", a->name, op, i, s->ptr[i]);
            break;
          }
      } else {
        s->alignment = (size_t)32 << (hb_rng() % 8); /* 32 .. 4096 */
        s->ptr = a->aligned_alloc(s->alignment, s->size);
        HB_CHECK(!s->ptr || ((uintptr_t)s->ptr % s->alignment) == 0,
                 "%s: op %zu: aligned_alloc(%zu) gave %p", a->name, op, s->alignment,
                 (void *)s->ptr);
      }
      HB_CHECK(s->ptr != NULL, "%s: op %zu: allocation of %zu failed", a->name, op, s->size);
      if (!s->ptr) break;
      HB_CHECK(((uintptr_t)s->ptr & 15) == 0, "%s: op %zu: %p not 16-aligned", a->name, op,
               (void *)s->ptr);
      fill(s, 0);
    }
    if (hb_sbrk_check(a->name, why, sizeof why) != 0) {
      HB_CHECK(0, "%s: op %zu: heap check: %s", a->name, op, why);
      break;
    }
  }
  /* Drain: every block intact, then an empty heap that still checks. */
  for (int i = 0; i < LIVE; i++) {
    if (!slots[i].ptr) continue;
    verify(&slots[i], slots[i].size, a->name, ops);
    a->free(slots[i].ptr, 0);
    slots[i].ptr = NULL;
  }
  HB_CHECK(hb_sbrk_check(a->name, why, sizeof why) == 0, "%s: after draining: %s", a->name, why);
  uint64_t in_use = 1;
  if (a->stat(HB_STAT_IN_USE_BYTES, &in_use) == 0)
    HB_CHECK(in_use == 0, "%s: %llu bytes in use after freeing everything", a->name,
             (unsigned long long)in_use);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s POLICY [OPS [SEED]]\n", argv[0]);
    return 2;
  }
  const hb_allocator *a = hb_allocator_find(argv[1]);
  if (!a) {
    fprintf(stderr, "%s: no allocator named %s\n", argv[0], argv[1]);
    return 2;
  }
  /* 2 million by default; HB_STRESS_OPS lowers it where every operation
   * costs far more (the valgrind test setup); an argument overrides both.
   * A count that is not a positive number is refused: the test would
   * otherwise pass having checked nothing. */
  const char *env_ops = getenv("HB_STRESS_OPS");
  const char *ops_text = argc > 2 ? argv[2] : env_ops && *env_ops ? env_ops : "2000000";
  char *end;
  size_t ops = strtoull(ops_text, &end, 10);
  if (ops == 0 || *end || ops_text[0] == '-') {
    fprintf(stderr, "%s: operation count '%s' (%s) is not a positive number\n", argv[0], ops_text,
            argc > 2 ? "argument" : "HB_STRESS_OPS");
    return 2;
  }
  uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 20261126;
  char why[256];
  HB_CHECK(hb_sbrk_check(a->name, why, sizeof why) == 0, "%s: fresh heap: %s", a->name, why);
  run(a, ops, seed);
  printf("%s: %zu operations, heap checked after each\n", a->name, ops);
  return hb_test_exit("sbrk-stress");
}
