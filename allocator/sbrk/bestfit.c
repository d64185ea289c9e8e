/* bestfit.c — policy "sbrk-bestfit": sbrk-coalesce with best fit.
 *
 * What changes from sbrk-coalesce, and why: the search looks at the whole
 * free list and takes the smallest block that fits (stopping early on an
 * exact fit). Splitting the best fit leaves the smallest remainder, so
 * large free blocks survive for large requests: less fragmentation, a
 * smaller heap. The price is a full list scan on most mallocs.
 * The list and its LIFO insertion are those of sbrk-coalesce (freelist.c);
 * heap.c does the splitting, coalescing and trimming.
 */
#include "freelist.h"
#include "heap.h"

static hb_block *bestfit_find(hb_heap *heap, size_t bytes) {
  hb_block *best = NULL;
  for (hb_block *b = hb_list_heap_of(heap)->head; b; b = b->next) {
    size_t size = hb_block_size(b);
    if (size < bytes || (best && size >= hb_block_size(best))) continue;
    best = b;
    if (size == bytes) break;
  }
  return best;
}

static const hb_fit bestfit_fit = {
    .insert = hb_list_heap_push,
    .remove = hb_list_heap_remove,
    .find = bestfit_find,
    .largest = hb_list_heap_largest,
    .check = hb_list_heap_check,
};

static hb_list_heap bestfit_heap = {.heap = HB_HEAP_INIT("sbrk-bestfit", &bestfit_fit)};

/* hb_sbrk_bestfit, and its hb_sbrk_bestfit_malloc, hb_sbrk_bestfit_free,
 * hb_sbrk_bestfit_realloc, hb_sbrk_bestfit_calloc,
 * hb_sbrk_bestfit_aligned_alloc, hb_sbrk_bestfit_usable_size,
 * hb_sbrk_bestfit_stat, hb_sbrk_bestfit_check, hb_sbrk_bestfit_walk, hb_sbrk_bestfit_version. */
HB_HEAP_POLICY(hb_sbrk_bestfit, &bestfit_heap.heap, "sbrk-bestfit",
               "best fit on one free list, split, coalesce, trim");
