/* quick.c — the default policy's quick lists (heap.h, segfit.c), seen from
 * outside: freed blocks of up to 1040 bytes are parked, up to 32 per size,
 * and come back last-in first-out; the others merge at once; parked
 * blocks never make the heap grow: they merge before it would; and the
 * lists never hold much more than their budget (1/8 of the live bytes plus
 * 64 KiB): past it they merge.
 *
 * (Parking small blocks without limit, as glibc's fastbins do, was tried
 * and reverted: on a long random workload the heap kept growing, 41.8 MB
 * for a peak of 2.6 MB live after 16 million operations; docs/SBRK.md.)
 */
#define _DEFAULT_SOURCE
#include "heap.h"
#include "sbrk_test.h"

#include <stdint.h>
#include <string.h>

enum { SMALL = 100, SMALL_COUNT = 5000, MEDIUM = 500, MEDIUM_COUNT = 100, CAP = 32 };
static void *small[SMALL_COUNT], *medium[MEDIUM_COUNT];

/* 5,000 blocks of 100 bytes freed in a row: the first 32 of the most common
 * block size are parked, the rest merge (the count of free blocks is
 * checked on the medium ones below, where no earlier runs blur it); the
 * same requests get the parked ones back newest first. (A block that took
 * the last few bytes of a free run is a size larger and sits on that
 * size's list.) */
static void small_blocks_capped(const hb_allocator *a) {
  size_t usable[SMALL_COUNT];
  for (int i = 0; i < SMALL_COUNT; i++) {
    small[i] = a->malloc(SMALL);
    HB_CHECK(small[i] != NULL, "malloc");
    if (!small[i]) return;
    memset(small[i], i, SMALL);
    usable[i] = a->usable_size(small[i]);
  }
  for (int i = 0; i < SMALL_COUNT; i++) a->free(small[i], SMALL);
  hb_sbrk_test_check(a, "after freeing the small blocks");
  /* The parked blocks of the usual size: the first 32 freed, newest first. */
  void *expected[CAP];
  int count = 0;
  for (int i = 0; i < SMALL_COUNT && count < CAP; i++)
    if (usable[i] == usable[0]) expected[count++] = small[i];
  int lifo = 0;
  for (int i = count - 1; i >= 0; i--) lifo += a->malloc(SMALL) == expected[i];
  HB_CHECK(lifo == CAP, "%s: %d of %d small mallocs got a parked block, newest first", a->name,
           lifo, CAP);
  for (int i = CAP; i < SMALL_COUNT; i++) small[i] = a->malloc(SMALL);
  for (int i = 0; i < CAP; i++) small[i] = expected[i];
  hb_sbrk_test_check(a, "after taking them back");
}

/* 100 blocks of 512 bytes: 32 parked, the others merged into free runs. */
static void medium_blocks_capped(const hb_allocator *a) {
  for (int i = 0; i < MEDIUM_COUNT; i++) {
    medium[i] = a->malloc(MEDIUM);
    HB_CHECK(medium[i] != NULL, "malloc");
  }
  uint64_t free_before = hb_sbrk_test_stat(a, HB_STAT_FREE_BLOCKS);
  for (int i = 0; i < MEDIUM_COUNT; i++) a->free(medium[i], MEDIUM);
  uint64_t free_after = hb_sbrk_test_stat(a, HB_STAT_FREE_BLOCKS);
  /* The parked ones, plus a few runs where the merged ones lie. */
  HB_CHECK(free_after >= free_before + CAP && free_after <= free_before + CAP + 3,
           "%s: %llu free blocks after freeing %d of %d bytes (%llu before)", a->name,
           (unsigned long long)free_after, MEDIUM_COUNT, MEDIUM, (unsigned long long)free_before);
  hb_sbrk_test_check(a, "after freeing the medium blocks");
}

/* A request that only the parked memory could hold merges it first. */
static void parked_blocks_never_grow_the_heap(const hb_allocator *a) {
  for (int i = 0; i < SMALL_COUNT; i++) a->free(small[i], SMALL);
  uint64_t footprint = hb_sbrk_test_stat(a, HB_STAT_FOOTPRINT_BYTES);
  size_t big = (size_t)SMALL_COUNT * 112 * 3 / 4; /* most of what the small blocks held */
  void *p = a->malloc(big);
  HB_CHECK(p != NULL, "malloc");
  HB_CHECK(hb_sbrk_test_stat(a, HB_STAT_FOOTPRINT_BYTES) <= footprint,
           "%s: the heap grew from %llu to %llu bytes for %zu bytes the parked blocks held",
           a->name, (unsigned long long)footprint,
           (unsigned long long)hb_sbrk_test_stat(a, HB_STAT_FOOTPRINT_BYTES), big);
  hb_sbrk_test_check(a, "after the big malloc");
  a->free(p, big);
}

/* On a fresh heap (a child's), 2,048 blocks of 32 sizes from 512 to
 * 1008 bytes, then freed: the caps park 32 of each size (1,024 blocks,
 * 780 KB), over the budget (64 KiB here), so the next malloc that no quick
 * list serves merges them into a few runs. Counted as free blocks: without
 * the budget they stay over a thousand. */
enum { BUDGET_COUNT = 2048, BUDGET_SIZES = 32 };
static void parked_bytes_within_budget(const hb_allocator *a) {
  static void *blocks[BUDGET_COUNT];
  uint64_t free_before = hb_sbrk_test_stat(a, HB_STAT_FREE_BLOCKS);
  for (int i = 0; i < BUDGET_COUNT; i++) {
    size_t size = 500 + (size_t)(i % BUDGET_SIZES) * 16;
    blocks[i] = a->malloc(size);
    HB_CHECK(blocks[i] != NULL, "malloc");
    if (!blocks[i]) return;
    memset(blocks[i], i, size);
  }
  for (int i = 0; i < BUDGET_COUNT; i++) a->free(blocks[i], 0);
  uint64_t parked = hb_sbrk_test_stat(a, HB_STAT_FREE_BLOCKS) - free_before;
  HB_CHECK(parked >= BUDGET_SIZES * CAP, "%s: %llu blocks parked, expected the caps' %d",
           a->name, (unsigned long long)parked, BUDGET_SIZES * CAP);
  uint64_t budget = (hb_sbrk_test_stat(a, HB_STAT_IN_USE_BYTES) >> HB_QUICK_BUDGET_SHIFT) +
                    HB_QUICK_BUDGET_FLOOR_BYTES;
  HB_CHECK(budget < BUDGET_SIZES * CAP * 512, "%s: a budget of %llu bytes holds them all",
           a->name, (unsigned long long)budget);
  void *p = a->malloc(4000); /* no quick list holds it */
  HB_CHECK(p != NULL, "malloc");
  uint64_t free_after = hb_sbrk_test_stat(a, HB_STAT_FREE_BLOCKS);
  HB_CHECK(free_after <= free_before + 4,
           "%s: %llu free blocks after freeing %d blocks over the quick lists' budget of %llu "
           "bytes and one malloc (%llu before)",
           a->name, (unsigned long long)free_after, BUDGET_COUNT, (unsigned long long)budget,
           (unsigned long long)free_before);
  hb_sbrk_test_check(a, "after a malloc past the budget");
  a->free(p, 4000);
}

int main(void) {
  const hb_allocator *a = hb_allocator_find("sbrk");
  HB_CHECK(a != NULL, "no allocator named sbrk");
  if (!a) return hb_test_exit("sbrk-quick");
  hb_sbrk_test_in_child(a, parked_bytes_within_budget, "keeps parked bytes within budget");
  small_blocks_capped(a);
  medium_blocks_capped(a);
  parked_blocks_never_grow_the_heap(a);
  return hb_test_exit("sbrk-quick");
}
