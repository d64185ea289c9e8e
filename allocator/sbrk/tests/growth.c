/* growth.c — how the boundary-tag policies grow and give back the heap
 * (heap.c: grow_request, grow, trim), seen through the footprint statistic:
 *
 *  - a heap built of small blocks grows in steps proportional to its size,
 *    so reaching 256 KiB takes a few dozen sbrk calls, not one per block;
 *  - a heap of a few MiB grows in steps of 128 KiB (glibc's top pad);
 *  - a large heap grows in steps proportional to it (1/128), so 128 MiB
 *    takes a few hundred sbrk calls, not thousands;
 *  - freeing everything between two phases keeps the heap (the trim leaves
 *    the heap's decaying demand, heap.c: trim_floor): the next phase
 *    rebuilds it without a single sbrk call;
 *  - a program that really shrinks (a small live set turned over many
 *    times) gets most of the memory back;
 *  - memory at the top of the heap that no block was given stays
 *    untouched (not resident: mincore), before and after a free.
 * Each check runs in a child of its own, from an empty heap. The tutorial
 * policy (exact-size sbrk per block, no trim) is not concerned.
 */
#define _DEFAULT_SOURCE
#include "sbrk_test.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
static int under_valgrind(void) { return RUNNING_ON_VALGRIND; }
#else
static int under_valgrind(void) { return 0; }
#endif

/* Blocks above the quick lists' largest size (heap.h), so a free merges at
 * once, and far below the trim threshold, so freeing one does not raise it. */
enum { BLOCK_BYTES = 3000, BLOCKS = 160 }; /* 160 x 3 KiB: about 470 KiB */

/* Small blocks up to 256 KiB: count the footprint's changes (one per grow). */
static void small_blocks_grow_geometrically(const hb_allocator *a) {
  enum { SMALL = 48, TARGET = 256 << 10, MAX_GROWS = 80 };
  static void *blocks[TARGET / SMALL + 1];
  size_t count = 0, grows = 0;
  uint64_t last = hb_sbrk_test_stat(a, HB_STAT_FOOTPRINT_BYTES), live = 0;
  while (live < TARGET) {
    blocks[count] = a->malloc(SMALL);
    HB_CHECK(blocks[count] != NULL, "%s: malloc", a->name);
    if (!blocks[count]) return;
    memset(blocks[count], 0x5A, SMALL);
    live += SMALL;
    count++;
    uint64_t now = hb_sbrk_test_stat(a, HB_STAT_FOOTPRINT_BYTES);
    if (now != last) grows++;
    last = now;
  }
  /* 1/8 of the heap per step: about 50 grows to 256 KiB (1/64 took ~400). */
  HB_CHECK(grows <= MAX_GROWS, "%s: %zu grows to reach %zu bytes in %d-byte blocks", a->name,
           grows, (size_t)TARGET, SMALL);
  /* The slack is at most 1/8 of the heap (32 KiB here) beyond 64-byte blocks. */
  HB_CHECK(last <= (uint64_t)count * 64 + (32 << 10) + 4096, "%s: footprint %llu for %zu blocks",
           a->name, (unsigned long long)last, count);
  hb_sbrk_test_check(a, "after growing");
  for (size_t i = 0; i < count; i++) a->free(blocks[i], 0);
  hb_sbrk_test_check(a, "after freeing the small blocks");
}

static void fill(const hb_allocator *a, void **blocks) {
  for (int i = 0; i < BLOCKS; i++) {
    blocks[i] = a->malloc(BLOCK_BYTES);
    HB_CHECK(blocks[i] != NULL, "%s: malloc", a->name);
    if (blocks[i]) memset(blocks[i], i, BLOCK_BYTES);
  }
}

static void empty(const hb_allocator *a, void **blocks) {
  for (int i = 0; i < BLOCKS; i++) a->free(blocks[i], 0);
}

/* A program that works in phases frees its heap and builds it again: the
 * heap it needed is kept between phases (no trim, so no sbrk and no fresh
 * pages to fault in again), three phases in a row. Before the demand-based
 * trim (heap.c: trim_floor), the first free of everything gave back all
 * but 64 KiB and the second phase grew it back in 32 KiB steps. */
static void phases_keep_their_heap(const hb_allocator *a) {
  void *blocks[BLOCKS];
  fill(a, blocks);
  uint64_t full = hb_sbrk_test_stat(a, HB_STAT_FOOTPRINT_BYTES);
  for (int phase = 2; phase <= 3; phase++) {
    empty(a, blocks);
    uint64_t kept = hb_sbrk_test_stat(a, HB_STAT_FOOTPRINT_BYTES);
    HB_CHECK(kept == full, "%s: phase %d: freeing everything left a footprint of %llu bytes, not %llu",
             a->name, phase, (unsigned long long)kept, (unsigned long long)full);
    unsigned long moves = hb_sbrk_break_moves();
    fill(a, blocks);
    HB_CHECK(hb_sbrk_break_moves() == moves, "%s: phase %d: rebuilding the heap moved the break %lu times",
             a->name, phase, hb_sbrk_break_moves() - moves);
    hb_sbrk_test_check(a, "after a phase");
  }
  empty(a, blocks);
}

/* A program that really shrinks gets its memory back: after the big phase,
 * a small live set turned over many times (the demand decays by half per
 * turnover, heap.c: trim_floor) lets the heap give back most of the top.
 * The peak footprint stays what the big phase needed. */
static void shrink_gives_back(const hb_allocator *a) {
  enum { SMALL_LIVE = 8, TURNOVERS = 64 };
  void *blocks[BLOCKS];
  fill(a, blocks);
  uint64_t full = hb_sbrk_test_stat(a, HB_STAT_FOOTPRINT_BYTES);
  empty(a, blocks);
  for (int round = 0; round < TURNOVERS * BLOCKS / SMALL_LIVE; round++) {
    for (int i = 0; i < SMALL_LIVE; i++) {
      blocks[i] = a->malloc(BLOCK_BYTES);
      HB_CHECK(blocks[i] != NULL, "%s: malloc", a->name);
      if (blocks[i]) memset(blocks[i], i, BLOCK_BYTES);
    }
    for (int i = 0; i < SMALL_LIVE; i++) a->free(blocks[i], BLOCK_BYTES);
  }
  uint64_t shrunk = hb_sbrk_test_stat(a, HB_STAT_FOOTPRINT_BYTES);
  /* Kept: the small set, its headroom and the 64 KiB trim_keep_bytes;
   * the trim gives back at least 128 KiB at a time. */
  HB_CHECK(shrunk * 2 <= full, "%s: after shrinking to %d blocks the heap still holds %llu of %llu bytes",
           a->name, SMALL_LIVE, (unsigned long long)shrunk, (unsigned long long)full);
  hb_sbrk_test_check(a, "after shrinking");
}

/* A large heap grows in steps proportional to it: 128 MiB of 32 KiB
 * blocks in about 600 sbrk calls (32 KiB steps took 4,096).
 * Only the headers are written: 4,096 pages. */
static void large_heap_few_calls(const hb_allocator *a) {
  enum { LARGE_BLOCK = 32 << 10, LARGE_BLOCKS = 4096, MAX_MOVES = 700 };
  static void *blocks[LARGE_BLOCKS];
  if (under_valgrind()) { /* its brk segment holds 8 MiB: the heap cannot reach 128 MiB there */
    printf("%s: large heap: skipped under valgrind\n", a->name);
    return;
  }
  unsigned long moves = hb_sbrk_break_moves();
  for (int i = 0; i < LARGE_BLOCKS; i++) {
    blocks[i] = a->malloc(LARGE_BLOCK);
    HB_CHECK(blocks[i] != NULL, "%s: malloc", a->name);
    if (!blocks[i]) return;
  }
  moves = hb_sbrk_break_moves() - moves;
  uint64_t footprint = hb_sbrk_test_stat(a, HB_STAT_FOOTPRINT_BYTES);
  HB_CHECK(moves <= MAX_MOVES, "%s: %lu sbrk calls to grow a heap to %llu bytes", a->name, moves,
           (unsigned long long)footprint);
  printf("%s: %lu sbrk calls to grow a heap to %llu bytes\n", a->name, moves,
         (unsigned long long)footprint);
  /* The steps stay a small part of the heap: at most 1/128 of it past the need. */
  HB_CHECK(footprint <= (uint64_t)LARGE_BLOCKS * (LARGE_BLOCK + 16) * 129 / 128 + (64 << 10),
           "%s: footprint %llu for %d blocks of %d bytes", a->name, (unsigned long long)footprint,
           LARGE_BLOCKS, LARGE_BLOCK);
  hb_sbrk_test_check(a, "after growing a large heap");
  for (int i = 0; i < LARGE_BLOCKS; i++) a->free(blocks[i], LARGE_BLOCK);
}

/* A heap of a few MiB (cc1plus, sqlite3) grows in steps of 128 KiB, as
 * glibc's does (its top pad), not 32 KiB: 4 MiB of 4,000-byte blocks in
 * at most 80 sbrk calls (62 measured; 147 with 32 KiB steps). */
static void medium_heap_glibc_steps(const hb_allocator *a) {
  enum { MEDIUM_BLOCK = 4000, MEDIUM_BLOCKS = (4 << 20) / MEDIUM_BLOCK, MAX_MOVES = 80 };
  static void *blocks[MEDIUM_BLOCKS];
  unsigned long moves = hb_sbrk_break_moves();
  for (int i = 0; i < MEDIUM_BLOCKS; i++) {
    blocks[i] = a->malloc(MEDIUM_BLOCK);
    HB_CHECK(blocks[i] != NULL, "%s: malloc", a->name);
    if (!blocks[i]) return;
  }
  moves = hb_sbrk_break_moves() - moves;
  printf("%s: %lu sbrk calls to grow a heap to 4 MiB\n", a->name, moves);
  HB_CHECK(moves <= MAX_MOVES, "%s: %lu sbrk calls to grow a heap to 4 MiB", a->name, moves);
  for (int i = 0; i < MEDIUM_BLOCKS; i++) a->free(blocks[i], MEDIUM_BLOCK);
}

/* 1 when the page holding `address` is resident, 0 when not, -1 unknown. */
static int resident(const void *address) {
  long page = sysconf(_SC_PAGESIZE);
  unsigned char vector = 0;
  void *start = (void *)((uintptr_t)address & ~(uintptr_t)(page - 1));
  if (page <= 0 || mincore(start, (size_t)page, &vector) != 0) return -1;
  return vector & 1;
}

/* After a 256 KiB block, the next malloc that does not fit grows the heap
 * by 1/8 of it (32 KiB) though it needs only 4 KiB: the free top block left
 * above it is written only at its start, so the break's last page is never
 * faulted in; freeing the block (it merges into the top block) must not
 * write there either. */
static void top_pages_untouched(const hb_allocator *a) {
  enum { FIRST = 256 << 10, NEXT = 4000 };
  void *first = a->malloc(FIRST);
  char *next = a->malloc(NEXT);
  char *end = sbrk(0); /* nothing else moves the break in this child */
  HB_CHECK(first && next, "%s: malloc", a->name);
  if (!first || !next) return;
  long page = sysconf(_SC_PAGESIZE);
  /* The top block's header, right after `next`, must be on an earlier page. */
  if ((uintptr_t)(end - 1) / (uintptr_t)page <= (uintptr_t)(next + NEXT + 64) / (uintptr_t)page) {
    HB_CHECK(0, "%s: no free page above the block (break %p, block %p): slack changed?",
             a->name, (void *)end, (void *)next);
    return;
  }
  HB_CHECK(resident(end - 1) == 0, "%s: the heap's last page was written by a grow", a->name);
  a->free(next, NEXT);
  HB_CHECK(resident(end - 1) == 0, "%s: the heap's last page was written by a free", a->name);
  hb_sbrk_test_check(a, "after freeing the block");
  a->free(first, FIRST);
  hb_sbrk_test_check(a, "after freeing everything");
}

int main(void) {
  for (size_t i = 0; i < hb_sbrk_policy_count; i++) {
    const hb_allocator *a = hb_sbrk_policies[i];
    if (strcmp(a->name, "sbrk-tutorial") == 0) continue;
    hb_sbrk_test_in_child(a, small_blocks_grow_geometrically, "grows in proportion to the heap");
    hb_sbrk_test_in_child(a, phases_keep_their_heap, "keeps its heap between phases");
    hb_sbrk_test_in_child(a, shrink_gives_back, "gives memory back when the program shrinks");
    hb_sbrk_test_in_child(a, medium_heap_glibc_steps, "grows a 4 MiB heap in 128 KiB steps");
    hb_sbrk_test_in_child(a, large_heap_few_calls, "grows a large heap in few steps");
    hb_sbrk_test_in_child(a, top_pages_untouched, "leaves the top's untouched pages alone");
  }
  return hb_test_exit("sbrk-growth");
}
