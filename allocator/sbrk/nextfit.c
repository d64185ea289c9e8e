/* nextfit.c — policy "sbrk-nextfit": sbrk-coalesce with next fit.
 *
 * What changes from sbrk-coalesce, and why: the search starts where the
 * last one stopped (a "rover") instead of at the head of the free list,
 * and wraps around once. First fit keeps cutting the blocks near the head
 * into slivers that every later search must step over; next fit spreads
 * the cutting over the whole list, so searches are shorter. The price,
 * known since Knuth's measurements, is usually more fragmentation: blocks
 * freed long ago are reused as eagerly as fresh ones.
 * The list and its LIFO insertion are those of sbrk-coalesce (freelist.c);
 * heap.c does the splitting, coalescing and trimming.
 */
#include "freelist.h"
#include "heap.h"

typedef struct rover_heap {
  hb_list_heap list;
  hb_block *rover; /* where the next search starts; NULL: at the head */
} rover_heap;

static rover_heap *rover_heap_of(hb_heap *heap) { return (rover_heap *)heap; }

/* A block that leaves the list takes the rover past it. */
static void nextfit_remove(hb_heap *heap, hb_block *b) {
  rover_heap *n = rover_heap_of(heap);
  if (n->rover == b) n->rover = b->next;
  hb_list_heap_remove(heap, b);
}

static hb_block *nextfit_find(hb_heap *heap, size_t bytes) {
  rover_heap *n = rover_heap_of(heap);
  hb_block *start = n->rover ? n->rover : n->list.head;
  for (hb_block *b = start; b; b = b->next)
    if (hb_block_size(b) >= bytes) return n->rover = b;
  for (hb_block *b = n->list.head; b != start; b = b->next)
    if (hb_block_size(b) >= bytes) return n->rover = b;
  return NULL;
}

static int nextfit_check(hb_heap *heap, hb_heap_walk *walk, char *why, size_t why_len) {
  rover_heap *n = rover_heap_of(heap);
  if (n->rover) {
    hb_block *b = n->list.head;
    while (b && b != n->rover) b = b->next;
    if (!b) return hb_sbrk_fail(why, why_len, "%s: the rover is not on the free list", heap->name);
  }
  return hb_list_heap_check(heap, walk, why, why_len);
}

static const hb_fit nextfit_fit = {
    .insert = hb_list_heap_push,
    .remove = nextfit_remove,
    .find = nextfit_find,
    .largest = hb_list_heap_largest,
    .check = nextfit_check,
};

static rover_heap nextfit_heap = {.list.heap = HB_HEAP_INIT("sbrk-nextfit", &nextfit_fit)};

/* hb_sbrk_nextfit, and its hb_sbrk_nextfit_malloc, hb_sbrk_nextfit_free,
 * hb_sbrk_nextfit_realloc, hb_sbrk_nextfit_calloc,
 * hb_sbrk_nextfit_aligned_alloc, hb_sbrk_nextfit_usable_size,
 * hb_sbrk_nextfit_stat, hb_sbrk_nextfit_check, hb_sbrk_nextfit_walk, hb_sbrk_nextfit_version. */
HB_HEAP_POLICY(hb_sbrk_nextfit, &nextfit_heap.list.heap, "sbrk-nextfit",
               "next fit (a roving pointer) on the LIFO free list, split, coalesce, trim");
