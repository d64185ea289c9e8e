/* quick.c — the default policy's quick lists (heap.h, segfit.c), seen from
 * outside: freed blocks of up to 128 bytes are parked without limit and
 * come back last-in first-out; larger ones are parked up to a cap (32 per
 * size) and the rest merge at once; and parked blocks never make the heap
 * grow: they merge before it would.
 */
#define _DEFAULT_SOURCE
#include "hb_adapters.h"
#include "hb_sbrk.h"
#include "hb_test.h"

#include <stdint.h>
#include <string.h>

static uint64_t stat_of(const hb_allocator *a, hb_stat which) {
  uint64_t value = 0;
  HB_CHECK(a->stat(which, &value) == 0, "%s: stat %d", a->name, (int)which);
  return value;
}

static void check_heap(const hb_allocator *a, const char *when) {
  char why[512];
  HB_CHECK(hb_sbrk_check(a->name, why, sizeof why) == 0, "%s: %s: %s", a->name, when, why);
}

enum { SMALL = 100, SMALL_COUNT = 5000, MEDIUM = 500, MEDIUM_COUNT = 100, CAP = 32 };
static void *small[SMALL_COUNT], *medium[MEDIUM_COUNT];

/* 5,000 blocks of 100 bytes freed in a row are all parked, and the same
 * requests get them back newest first: those of the most common block size
 * (a block that took the last few bytes of a free run is a size larger
 * and sits on that size's list). */
static void small_blocks_uncapped(const hb_allocator *a) {
  size_t usable[SMALL_COUNT];
  for (int i = 0; i < SMALL_COUNT; i++) {
    small[i] = a->malloc(SMALL);
    HB_CHECK(small[i] != NULL, "malloc");
    if (!small[i]) return;
    memset(small[i], i, SMALL);
    usable[i] = a->usable_size(small[i]);
  }
  uint64_t free_before = stat_of(a, HB_STAT_FREE_BLOCKS);
  for (int i = 0; i < SMALL_COUNT; i++) a->free(small[i], SMALL);
  check_heap(a, "after freeing the small blocks");
  HB_CHECK(stat_of(a, HB_STAT_FREE_BLOCKS) == free_before + SMALL_COUNT,
           "%s: %llu free blocks after freeing %d small ones (%llu before): some were merged",
           a->name, (unsigned long long)stat_of(a, HB_STAT_FREE_BLOCKS), SMALL_COUNT,
           (unsigned long long)free_before);
  /* The blocks of the usual size, newest first, are what malloc returns. */
  void *expected[SMALL_COUNT];
  int count = 0;
  for (int i = SMALL_COUNT - 1; i >= 0; i--)
    if (usable[i] == usable[0]) expected[count++] = small[i];
  HB_CHECK(count > SMALL_COUNT * 9 / 10, "%s: only %d of %d blocks have one size", a->name, count,
           SMALL_COUNT);
  int lifo = 0;
  for (int i = 0; i < count; i++) {
    void *p = a->malloc(SMALL);
    lifo += p == expected[i];
    small[i] = p;
  }
  for (int i = count; i < SMALL_COUNT; i++) small[i] = a->malloc(SMALL);
  HB_CHECK(lifo == count, "%s: %d of %d small mallocs got the block freed last", a->name, lifo,
           count);
  check_heap(a, "after taking them back");
}

/* 100 blocks of 512 bytes: 32 parked, the others merged into free runs. */
static void medium_blocks_capped(const hb_allocator *a) {
  for (int i = 0; i < MEDIUM_COUNT; i++) {
    medium[i] = a->malloc(MEDIUM);
    HB_CHECK(medium[i] != NULL, "malloc");
  }
  uint64_t free_before = stat_of(a, HB_STAT_FREE_BLOCKS);
  for (int i = 0; i < MEDIUM_COUNT; i++) a->free(medium[i], MEDIUM);
  uint64_t free_after = stat_of(a, HB_STAT_FREE_BLOCKS);
  /* The parked ones, plus a few runs where the merged ones lie. */
  HB_CHECK(free_after >= free_before + CAP && free_after <= free_before + CAP + 3,
           "%s: %llu free blocks after freeing %d of %d bytes (%llu before)", a->name,
           (unsigned long long)free_after, MEDIUM_COUNT, MEDIUM, (unsigned long long)free_before);
  check_heap(a, "after freeing the medium blocks");
}

/* A request that only the parked memory could hold merges it first. */
static void parked_blocks_never_grow_the_heap(const hb_allocator *a) {
  for (int i = 0; i < SMALL_COUNT; i++) a->free(small[i], SMALL);
  uint64_t footprint = stat_of(a, HB_STAT_FOOTPRINT_BYTES);
  size_t big = (size_t)SMALL_COUNT * 112 * 3 / 4; /* most of what the small blocks held */
  void *p = a->malloc(big);
  HB_CHECK(p != NULL, "malloc");
  HB_CHECK(stat_of(a, HB_STAT_FOOTPRINT_BYTES) <= footprint,
           "%s: the heap grew from %llu to %llu bytes for %zu bytes the parked blocks held",
           a->name, (unsigned long long)footprint,
           (unsigned long long)stat_of(a, HB_STAT_FOOTPRINT_BYTES), big);
  check_heap(a, "after the big malloc");
  a->free(p, big);
}

int main(void) {
  const hb_allocator *a = hb_allocator_find("sbrk");
  HB_CHECK(a != NULL, "no allocator named sbrk");
  if (!a) return hb_test_exit("sbrk-quick");
  small_blocks_uncapped(a);
  medium_blocks_capped(a);
  parked_blocks_never_grow_the_heap(a);
  return hb_test_exit("sbrk-quick");
}
