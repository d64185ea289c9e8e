/* coalesce.c — policy "sbrk-coalesce": the tutorial's first fit, plus the
 * three fixes the seed suggests as next steps.
 *
 * What changes from sbrk-tutorial, and why:
 *  - split: a free block larger than the request is cut, the rest stays
 *    free (the tutorial hands a 1 MiB block to a 16-byte request);
 *  - coalesce: a freed block merges with free neighbours at once, in O(1),
 *    thanks to boundary tags (block.h: 8-byte header, footer only in free
 *    blocks), so free memory does not crumble into unusable pieces;
 *  - give back: a large free block at the top of the heap is returned with
 *    a negative sbrk (heap.c's trim, only while the break is still ours);
 *  - the free blocks alone sit on an explicit doubly linked list (the
 *    tutorial walks every block, used ones too). Freed blocks go to the
 *    head (LIFO): O(1), and recently freed memory is likely still in cache.
 * Placement: first fit from the head of that list. O(free blocks) per
 * malloc in the worst case.
 */
#include "freelist.h"
#include "heap.h"

static hb_block *free_list;

static void coalesce_insert(hb_heap *heap, hb_block *b) {
  (void)heap;
  hb_list_push(&free_list, b);
}

static void coalesce_remove(hb_heap *heap, hb_block *b) {
  (void)heap;
  hb_list_unlink(&free_list, b);
}

static hb_block *coalesce_find(hb_heap *heap, size_t bytes) {
  (void)heap;
  for (hb_block *b = free_list; b; b = b->next)
    if (hb_block_size(b) >= bytes) return b;
  return NULL;
}

static size_t coalesce_largest(hb_heap *heap) {
  (void)heap;
  return hb_list_largest(free_list);
}

static int coalesce_check(hb_heap *heap, char *why, size_t why_len) {
  return hb_list_check(heap, free_list, "free", NULL, 0, why, why_len);
}

static const hb_fit coalesce_fit = {
    .insert = coalesce_insert,
    .remove = coalesce_remove,
    .find = coalesce_find,
    .largest = coalesce_largest,
    .check = coalesce_check,
};

static hb_heap coalesce_heap = HB_HEAP_INIT("sbrk-coalesce", &coalesce_fit);

HB_HEAP_POLICY(hb_sbrk_coalesce, coalesce_heap, "sbrk-coalesce",
               "first fit on a LIFO free list, with split, O(1) coalescing and trimming");
