/* nextfit.c — policy "sbrk-nextfit": sbrk-coalesce with next fit.
 *
 * What changes from sbrk-coalesce, and why: the search starts where the
 * last one stopped (a "rover") instead of at the head of the free list,
 * and wraps around once. First fit keeps cutting the blocks near the head
 * into slivers that every later search must step over; next fit spreads
 * the cutting over the whole list, so searches are shorter. The price,
 * known since Knuth's measurements, is usually more fragmentation: blocks
 * freed long ago are reused as eagerly as fresh ones.
 * The list and its LIFO insertion are those of sbrk-coalesce; heap.c does
 * the splitting, coalescing and trimming.
 */
#include "freelist.h"
#include "heap.h"

static hb_block *free_list;
static hb_block *rover; /* where the next search starts; NULL: at the head */

static void nextfit_insert(hb_heap *heap, hb_block *b) {
  (void)heap;
  hb_list_push(&free_list, b);
}

static void nextfit_remove(hb_heap *heap, hb_block *b) {
  (void)heap;
  if (rover == b) rover = b->next;
  hb_list_unlink(&free_list, b);
}

static hb_block *nextfit_find(hb_heap *heap, size_t bytes) {
  (void)heap;
  hb_block *start = rover ? rover : free_list;
  for (hb_block *b = start; b; b = b->next)
    if (hb_block_size(b) >= bytes) return rover = b;
  for (hb_block *b = free_list; b != start; b = b->next)
    if (hb_block_size(b) >= bytes) return rover = b;
  return NULL;
}

static size_t nextfit_largest(hb_heap *heap) {
  (void)heap;
  return hb_list_largest(free_list);
}

static int nextfit_check(hb_heap *heap, char *why, size_t why_len) {
  if (rover) {
    hb_block *b = free_list;
    while (b && b != rover) b = b->next;
    if (!b) return hb_sbrk_fail(why, why_len, "%s: the rover is not on the free list", heap->name);
  }
  return hb_list_check(heap, free_list, "free", NULL, 0, why, why_len);
}

static const hb_fit nextfit_fit = {
    .insert = nextfit_insert,
    .remove = nextfit_remove,
    .find = nextfit_find,
    .largest = nextfit_largest,
    .check = nextfit_check,
};

static hb_heap nextfit_heap = HB_HEAP_INIT("sbrk-nextfit", &nextfit_fit);

HB_HEAP_POLICY(hb_sbrk_nextfit, nextfit_heap, "sbrk-nextfit",
               "next fit (a roving pointer) on the LIFO free list, split, coalesce, trim");
