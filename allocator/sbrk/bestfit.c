/* bestfit.c — policy "sbrk-bestfit": sbrk-coalesce with best fit.
 *
 * What changes from sbrk-coalesce, and why: the search looks at the whole
 * free list and takes the smallest block that fits (stopping early on an
 * exact fit). Splitting the best fit leaves the smallest remainder, so
 * large free blocks survive for large requests: less fragmentation, a
 * smaller heap. The price is a full list scan on most mallocs.
 * The list and its LIFO insertion are those of sbrk-coalesce; heap.c does
 * the splitting, coalescing and trimming.
 */
#include "freelist.h"
#include "heap.h"

static hb_block *free_list;

static void bestfit_insert(hb_heap *heap, hb_block *b) {
  (void)heap;
  hb_list_push(&free_list, b);
}

static void bestfit_remove(hb_heap *heap, hb_block *b) {
  (void)heap;
  hb_list_unlink(&free_list, b);
}

static hb_block *bestfit_find(hb_heap *heap, size_t bytes) {
  (void)heap;
  hb_block *best = NULL;
  for (hb_block *b = free_list; b; b = b->next) {
    size_t size = hb_block_size(b);
    if (size < bytes || (best && size >= hb_block_size(best))) continue;
    best = b;
    if (size == bytes) break;
  }
  return best;
}

static size_t bestfit_largest(hb_heap *heap) {
  (void)heap;
  return hb_list_largest(free_list);
}

static int bestfit_check(hb_heap *heap, char *why, size_t why_len) {
  return hb_list_check(heap, free_list, "free", NULL, 0, why, why_len);
}

static const hb_fit bestfit_fit = {
    .insert = bestfit_insert,
    .remove = bestfit_remove,
    .find = bestfit_find,
    .largest = bestfit_largest,
    .check = bestfit_check,
};

static hb_heap bestfit_heap = HB_HEAP_INIT("sbrk-bestfit", &bestfit_fit);

HB_HEAP_POLICY(hb_sbrk_bestfit, bestfit_heap, "sbrk-bestfit",
               "best fit on one free list, split, coalesce, trim");
