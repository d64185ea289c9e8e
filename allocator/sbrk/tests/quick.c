/* quick.c — the default policy's quick lists (heap.h, segfit.c), seen from
 * outside: freed blocks of up to 144 bytes are parked whatever their
 * number, up to 1040 bytes up to 32 per size, and come back last-in
 * first-out; the others merge at once; parked blocks never make the heap
 * grow: they merge before it would; and the lists never hold much more
 * than their budget (1/8 of the live bytes plus 64 KiB): past it, the next
 * malloc they cannot serve merges them, by a walk of the heap when they
 * are many; within the budget, the lists of sizes the program stopped
 * asking for are merged once the heap has handed out an eighth of the
 * live bytes without one of them serving a malloc, and the lists still in
 * use keep their blocks.
 *
 * (Parking small blocks without limit and without a budget was tried and
 * reverted: on a long random workload the heap kept growing, 41.8 MB for a
 * peak of 2.6 MB live after 16 million operations; docs/SBRK.md.)
 */
#define _DEFAULT_SOURCE
#include "heap.h"
#include "random_ops.h"
#include "sbrk_test.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

enum { SMALL = 200, SMALL_COUNT = 5000, MEDIUM = 500, MEDIUM_COUNT = 100, CAP = 32 };
static void *small[SMALL_COUNT], *medium[MEDIUM_COUNT];

/* 5,000 blocks of 200 bytes freed in a row: the first 32 of the most common
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
  /* Most of what the small blocks held (8 bytes of header each). */
  size_t big = (size_t)SMALL_COUNT * (SMALL + 8) * 3 / 4;
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

/* On a fresh heap: 10,000 blocks of 24 to 136 bytes (blocks of 32 to 144,
 * the uncapped sizes), one block of 300 bytes kept live after every 16,
 * and a foreign sbrk halfway (a second region). Freed, all 10,000 are
 * parked and the last of each size comes back first. Then a malloc no
 * list serves finds them over budget, and so many (over 4,096 and a
 * quarter of the heap's blocks) that it merges them by walking the heap:
 * every free run then lies between live blocks, the kept blocks and the
 * foreign memory are intact, and the heap checker agrees. */
enum { TINY_COUNT = 10000, TINY_SIZES = 8, KEPT_EVERY = 16, KEPT = 300 };
static void tiny_blocks_parked_then_swept(const hb_allocator *a) {
  static unsigned char *tiny[TINY_COUNT], *kept[TINY_COUNT / KEPT_EVERY];
  unsigned char *foreign = NULL;
  int kept_count = 0;
  for (int i = 0; i < TINY_COUNT; i++) {
    tiny[i] = a->malloc(24 + (size_t)(i % TINY_SIZES) * 16);
    HB_CHECK(tiny[i] != NULL, "malloc");
    if (!tiny[i]) return;
    if (i % KEPT_EVERY == KEPT_EVERY - 1) {
      kept[kept_count] = a->malloc(KEPT);
      HB_CHECK(kept[kept_count] != NULL, "malloc");
      if (!kept[kept_count]) return;
      memset(kept[kept_count], kept_count, KEPT);
      kept_count++;
    }
    if (i == TINY_COUNT / 2) {
      foreign = sbrk(4096);
      HB_CHECK(foreign != (void *)-1, "foreign sbrk failed");
      if (foreign == (void *)-1) return;
      memset(foreign, 0xF0, 4096);
    }
  }
  uint64_t free_before = hb_sbrk_test_stat(a, HB_STAT_FREE_BLOCKS);
  for (int i = 0; i < TINY_COUNT; i++) a->free(tiny[i], 0);
  uint64_t parked = hb_sbrk_test_stat(a, HB_STAT_FREE_BLOCKS) - free_before;
  HB_CHECK(parked == TINY_COUNT, "%s: %llu of %d tiny blocks parked", a->name,
           (unsigned long long)parked, TINY_COUNT);
  int lifo = 0;
  for (int i = TINY_COUNT - 1; i >= TINY_COUNT - TINY_SIZES; i--)
    lifo += a->malloc(24 + (size_t)(i % TINY_SIZES) * 16) == tiny[i];
  HB_CHECK(lifo == TINY_SIZES, "%s: %d of %d tiny mallocs got the newest parked block",
           a->name, lifo, TINY_SIZES);
  for (int i = TINY_COUNT - TINY_SIZES; i < TINY_COUNT; i++) a->free(tiny[i], 0);
  hb_sbrk_test_check(a, "after parking the tiny blocks");

  unsigned char *p = a->malloc(4000); /* no quick list holds it */
  HB_CHECK(p != NULL, "malloc");
  hb_sbrk_test_check(a, "after the merge");
  uint64_t free_after = hb_sbrk_test_stat(a, HB_STAT_FREE_BLOCKS);
  /* No two free blocks touch: at most one run per live block, plus one per
   * region. */
  HB_CHECK(free_after <= (uint64_t)kept_count + 1 + 2,
           "%s: %llu free blocks after the merge, for %d live blocks in two regions", a->name,
           (unsigned long long)free_after, kept_count + 1);
  for (int k = 0; k < kept_count; k++)
    for (int j = 0; j < KEPT; j++)
      if (kept[k][j] != (unsigned char)k) {
        HB_CHECK(0, "%s: kept block %d lost its contents at byte %d", a->name, k, j);
        break;
      }
  for (int j = 0; j < 4096; j++)
    if (foreign[j] != 0xF0) {
      HB_CHECK(0, "%s: the merge wrote into foreign memory at byte %d", a->name, j);
      break;
    }
  a->free(p, 4000);
  for (int k = 0; k < kept_count; k++) a->free(kept[k], KEPT);
  hb_sbrk_test_check(a, "after freeing everything");
}

/* The walk against random heaps: 20 rounds of 6,000 blocks, four in five
 * tiny, the rest of the stress test's sizes (one in ten of those from
 * aligned_alloc); all tiny ones and half the others freed in random order,
 * a quarter of the survivors reallocated, then a malloc no list serves (a
 * merge by walking the heap, most rounds), the checker, and every
 * surviving block's contents. */
enum { ROUNDS = 20, ROUND_BLOCKS = 6000 };
static void random_sweeps(const hb_allocator *a) {
  static unsigned char *blocks[ROUND_BLOCKS];
  static size_t sizes[ROUND_BLOCKS];
  static int order[ROUND_BLOCKS];
  hb_rng_seed(20261126);
  for (int round = 0; round < ROUNDS; round++) {
    for (int i = 0; i < ROUND_BLOCKS; i++) {
      int tiny = hb_rng() % 5 != 0;
      sizes[i] = tiny ? 1 + hb_rng() % 136 : hb_random_size();
      blocks[i] = !tiny && hb_rng() % 10 == 0
                      ? a->aligned_alloc((size_t)32 << (hb_rng() % 8), sizes[i])
                      : a->malloc(sizes[i]);
      HB_CHECK(blocks[i] != NULL, "malloc");
      if (!blocks[i]) return;
      memset(blocks[i], (unsigned char)(i + round), sizes[i]);
      order[i] = i;
    }
    for (int i = ROUND_BLOCKS - 1; i > 0; i--) { /* Fisher-Yates */
      int j = (int)(hb_rng() % (uint64_t)(i + 1)), t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    for (int k = 0; k < ROUND_BLOCKS; k++) {
      int i = order[k];
      if (sizes[i] <= 136 || k % 2) {
        a->free(blocks[i], sizes[i]);
        blocks[i] = NULL;
      }
    }
    for (int i = 0; i < ROUND_BLOCKS; i++) {
      if (!blocks[i] || hb_rng() % 4) continue;
      size_t size = hb_random_size();
      unsigned char *moved = a->realloc(blocks[i], size);
      HB_CHECK(moved != NULL, "realloc"); /* sbrk's realloc(p, 0) keeps a minimal block */
      if (!moved) return;
      if (size > sizes[i]) memset(moved + sizes[i], (unsigned char)(i + round), size - sizes[i]);
      blocks[i] = moved;
      sizes[i] = size;
    }
    void *p = a->malloc(4000);
    HB_CHECK(p != NULL, "malloc");
    hb_sbrk_test_check(a, "after a merge of a random heap");
    for (int i = 0; i < ROUND_BLOCKS; i++) {
      if (!blocks[i]) continue;
      for (size_t j = 0; j < sizes[i]; j++)
        if (blocks[i][j] != (unsigned char)(i + round)) {
          HB_CHECK(0, "%s: round %d: block %d lost its contents at byte %zu", a->name, round, i, j);
          break;
        }
      a->free(blocks[i], sizes[i]);
    }
    a->free(p, 4000);
  }
  hb_sbrk_test_check(a, "after the random rounds");
}

/* Parked blocks of each size, counted by walking the heap: parked[bytes / 16]. */
static void count_parked(void *context, uintptr_t address, size_t bytes,
                         hb_sbrk_block_state state) {
  (void)address;
  size_t *parked = context;
  if (state == HB_SBRK_BLOCK_PARKED && bytes <= HB_QUICK_MAX_BYTES) parked[bytes / 16]++;
}
static void parked_by_size(const hb_allocator *a, size_t parked[HB_QUICK_MAX_BYTES / 16 + 1]) {
  memset(parked, 0, (HB_QUICK_MAX_BYTES / 16 + 1) * sizeof *parked);
  HB_CHECK(hb_sbrk_walk(a->name, count_parked, parked) == 0, "walk");
}

/* On a fresh heap, 4 MiB live in blocks of 8,000 bytes (no quick list's),
 * then 32 blocks of each of eight sizes from 608 to 720 bytes freed: 256
 * parked, 170 KB, within the budget (1/8 of the live bytes plus 64 KiB)
 * but over the idle bound (1/64 plus 16 KiB). The program then asks only
 * for blocks of 3,000 bytes (each freed again: the heap hands them out,
 * its clock runs) and of 200 bytes (served by their list). Once the heap
 * has handed out more than 1/8 of the live bytes, the eight lists that
 * served nothing are merged and the one of 208-byte blocks is not. Before
 * idle lists were merged the 256 blocks stayed parked until the budget or
 * a growing heap merged them, splitting the free space around them. */
enum { IDLE_LIVE = 512, IDLE_LIVE_BYTES = 8000, IDLE_SIZES = 8 };
static void idle_lists_merged(const hb_allocator *a) {
  static void *live[IDLE_LIVE], *idle[IDLE_SIZES * CAP], *used[CAP];
  for (int i = 0; i < IDLE_LIVE; i++) live[i] = a->malloc(IDLE_LIVE_BYTES);
  for (int i = 0; i < IDLE_SIZES * CAP; i++)
    idle[i] = a->malloc(600 + (size_t)(i % IDLE_SIZES) * 16);
  for (int i = 0; i < CAP; i++) used[i] = a->malloc(200);
  for (int i = 0; i < IDLE_SIZES * CAP; i++) a->free(idle[i], 0);
  for (int i = 0; i < CAP; i++) a->free(used[i], 200);
  size_t parked[HB_QUICK_MAX_BYTES / 16 + 1];
  parked_by_size(a, parked);
  size_t idle_parked = 0;
  for (int k = 0; k < IDLE_SIZES; k++) idle_parked += parked[608 / 16 + k];
  HB_CHECK(idle_parked == IDLE_SIZES * CAP && parked[208 / 16] == CAP,
           "%s: %zu blocks of the eight sizes and %zu of 208 bytes parked, expected %d and %d",
           a->name, idle_parked, parked[208 / 16], IDLE_SIZES * CAP, CAP);
  /* 400 blocks of 3,000 bytes handed out: 1.2 MB, over 1/8 of 4 MiB. */
  for (int round = 0; round < 400; round++) {
    void *p = a->malloc(3000), *q = a->malloc(200);
    HB_CHECK(p != NULL && q != NULL, "malloc");
    memset(p, round, 3000);
    a->free(q, 200);
    a->free(p, 3000);
  }
  parked_by_size(a, parked);
  idle_parked = 0;
  for (int k = 0; k < IDLE_SIZES; k++) idle_parked += parked[608 / 16 + k];
  HB_CHECK(idle_parked == 0, "%s: %zu blocks of sizes no malloc asked for still parked", a->name,
           idle_parked);
  HB_CHECK(parked[208 / 16] >= CAP - 1, "%s: the list in use kept %zu of its %d blocks", a->name,
           parked[208 / 16], CAP);
  hb_sbrk_test_check(a, "after the idle lists merged");
  for (int i = 0; i < IDLE_LIVE; i++) a->free(live[i], IDLE_LIVE_BYTES);
}

int main(void) {
  const hb_allocator *a = hb_allocator_find("sbrk");
  HB_CHECK(a != NULL, "no allocator named sbrk");
  if (!a) return hb_test_exit("sbrk-quick");
  hb_sbrk_test_in_child(a, parked_bytes_within_budget, "keeps parked bytes within budget");
  hb_sbrk_test_in_child(a, tiny_blocks_parked_then_swept, "parks tiny blocks, then sweeps them");
  hb_sbrk_test_in_child(a, random_sweeps, "merges random heaps by walking them");
  hb_sbrk_test_in_child(a, idle_lists_merged, "merges the lists of sizes no longer asked for");
  small_blocks_capped(a);
  medium_blocks_capped(a);
  parked_blocks_never_grow_the_heap(a);
  return hb_test_exit("sbrk-quick");
}
