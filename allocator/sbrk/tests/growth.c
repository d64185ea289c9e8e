/* growth.c — how the boundary-tag policies grow and give back the heap
 * (heap.c: grow_request, grow, trim), seen through the footprint statistic:
 *
 *  - a heap built of small blocks grows in steps proportional to its size,
 *    so reaching 256 KiB takes a few dozen sbrk calls, not one per block;
 *  - freeing everything gives the top back (a trim), and growing back into
 *    it raises the trim threshold: the same swing a second time keeps the
 *    memory instead of paying an sbrk pair and fresh pages again;
 *  - neither raises the peak footprint above what the blocks need;
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
  /* The slack is at most 1/8 of the heap (or 32 KiB) beyond 64-byte blocks. */
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

static void trim_then_keep(const hb_allocator *a) {
  void *blocks[BLOCKS];
  fill(a, blocks);
  uint64_t full = hb_sbrk_test_stat(a, HB_STAT_FOOTPRINT_BYTES);
  empty(a, blocks);
  uint64_t trimmed = hb_sbrk_test_stat(a, HB_STAT_FOOTPRINT_BYTES);
  hb_sbrk_test_check(a, "after the first trim");
  /* heap.h: the trim keeps 64 KiB of a free top of 256 KiB or more. */
  HB_CHECK(trimmed + (256 << 10) <= full, "%s: freeing everything kept %llu of %llu bytes",
           a->name, (unsigned long long)trimmed, (unsigned long long)full);
  fill(a, blocks);
  uint64_t refilled = hb_sbrk_test_stat(a, HB_STAT_FOOTPRINT_BYTES);
  HB_CHECK(refilled <= full + (32 << 10), "%s: the same blocks again need %llu bytes, first %llu",
           a->name, (unsigned long long)refilled, (unsigned long long)full);
  empty(a, blocks);
  uint64_t kept = hb_sbrk_test_stat(a, HB_STAT_FOOTPRINT_BYTES);
  HB_CHECK(kept == refilled, "%s: the second swing was trimmed again (%llu -> %llu bytes)",
           a->name, (unsigned long long)refilled, (unsigned long long)kept);
  hb_sbrk_test_check(a, "after the second swing");
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
    hb_sbrk_test_in_child(a, trim_then_keep, "trims once, keeps a repeated swing");
    hb_sbrk_test_in_child(a, top_pages_untouched, "leaves the top's untouched pages alone");
  }
  return hb_test_exit("sbrk-growth");
}
