/* walk.c — hb_sbrk_walk tells the truth about each policy's heap: after a
 * random mix of mallocs and frees, the blocks it visits agree with the
 * policy's own statistics (blocks, free blocks), lie in address order
 * within a region without overlapping, every block the test holds lies
 * in an allocated block, and every block it just freed in a free or a
 * parked one. */
#include "sbrk_test.h"

#include <stdlib.h>

#define HELD 2000
#define MAX_BLOCKS 100000

static struct {
  uintptr_t start[MAX_BLOCKS];
  size_t bytes[MAX_BLOCKS];
  hb_sbrk_block_state state[MAX_BLOCKS];
  size_t count;
} seen;

static void visit(void *context, uintptr_t address, size_t bytes, hb_sbrk_block_state state) {
  (void)context;
  if (seen.count < MAX_BLOCKS) {
    seen.start[seen.count] = address;
    seen.bytes[seen.count] = bytes;
    seen.state[seen.count] = state;
  }
  seen.count++;
}

/* The state of the visited block that holds payload `ptr`; -1 if none. */
static int state_at(const void *ptr) {
  uintptr_t p = (uintptr_t)ptr;
  for (size_t i = 0; i < seen.count && i < MAX_BLOCKS; i++)
    if (p > seen.start[i] && p < seen.start[i] + seen.bytes[i]) return (int)seen.state[i];
  return -1;
}

static void walk_phase(const hb_allocator *a) {
  static void *held[HELD];
  static void *freed[HELD];
  size_t freed_count = 0;
  srand(18);
  for (int round = 0; round < 20000; round++) {
    int k = rand() % HELD;
    if (held[k]) {
      a->free(held[k], 0);
      held[k] = NULL;
    } else {
      held[k] = a->malloc((size_t)(rand() % 3 ? 8 + rand() % 200 : 500 + rand() % 5000));
      HB_CHECK(held[k] != NULL, "%s: malloc", a->name);
    }
  }
  /* The last frees: each block is free or parked now (never reused since). */
  for (int k = 0; k < HELD && freed_count < 50; k += 7)
    if (held[k]) {
      a->free(held[k], 0);
      freed[freed_count++] = held[k];
      held[k] = NULL;
    }
  hb_sbrk_test_check(a, "before the walk");
  seen.count = 0;
  HB_CHECK(hb_sbrk_walk(a->name, visit, NULL) == 0, "%s: walk", a->name);
  HB_CHECK(seen.count > 0 && seen.count <= MAX_BLOCKS, "%s: %zu blocks visited", a->name, seen.count);
  size_t free_blocks = 0;
  for (size_t i = 0; i < seen.count; i++) {
    free_blocks += seen.state[i] != HB_SBRK_BLOCK_ALLOCATED;
    /* In address order, no overlap (a region's blocks follow each other;
     * the next region may lie anywhere). */
    if (i && seen.start[i] > seen.start[i - 1])
      HB_CHECK(seen.start[i] >= seen.start[i - 1] + seen.bytes[i - 1], "%s: block %zu overlaps",
               a->name, i);
  }
  HB_CHECK(seen.count == hb_sbrk_test_stat(a, HB_STAT_BLOCKS), "%s: %zu blocks visited, stat says %llu",
           a->name, seen.count, (unsigned long long)hb_sbrk_test_stat(a, HB_STAT_BLOCKS));
  HB_CHECK(free_blocks == hb_sbrk_test_stat(a, HB_STAT_FREE_BLOCKS),
           "%s: %zu free or parked blocks visited, stat says %llu", a->name, free_blocks,
           (unsigned long long)hb_sbrk_test_stat(a, HB_STAT_FREE_BLOCKS));
  for (int k = 0; k < HELD; k++)
    if (held[k])
      HB_CHECK(state_at(held[k]) == HB_SBRK_BLOCK_ALLOCATED, "%s: held block %p is %d", a->name,
               held[k], state_at(held[k]));
  for (size_t k = 0; k < freed_count; k++)
    HB_CHECK(state_at(freed[k]) == HB_SBRK_BLOCK_FREE || state_at(freed[k]) == HB_SBRK_BLOCK_PARKED,
             "%s: freed block %p is %d", a->name, freed[k], state_at(freed[k]));
}

int main(void) {
  for (size_t i = 0; i < hb_sbrk_policy_count; i++)
    hb_sbrk_test_in_child(hb_sbrk_policies[i], walk_phase, "walk agrees with the heap");
  HB_CHECK(hb_sbrk_walk("no-such-policy", visit, NULL) == -1, "an unknown policy is refused");
  return hb_test_exit("sbrk-walk");
}
