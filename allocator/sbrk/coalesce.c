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
 *
 * heap.c does the first three, for every rung above this one; the list and
 * its first fit are freelist.c's single-list index, which the next rungs
 * share. This file only puts them together.
 */
#include "freelist.h"
#include "heap.h"

static const hb_fit coalesce_fit = {
    .insert = hb_list_heap_push,
    .remove = hb_list_heap_remove,
    .find = hb_list_heap_first_fit,
    .largest = hb_list_heap_largest,
    .check = hb_list_heap_check,
};

static hb_list_heap coalesce_heap = {.heap = HB_HEAP_INIT("sbrk-coalesce", &coalesce_fit)};

/* hb_sbrk_coalesce, and its hb_sbrk_coalesce_malloc, hb_sbrk_coalesce_free,
 * hb_sbrk_coalesce_realloc, hb_sbrk_coalesce_calloc,
 * hb_sbrk_coalesce_aligned_alloc, hb_sbrk_coalesce_usable_size,
 * hb_sbrk_coalesce_stat, hb_sbrk_coalesce_check, hb_sbrk_coalesce_walk, hb_sbrk_coalesce_version. */
HB_HEAP_POLICY(hb_sbrk_coalesce, &coalesce_heap.heap, "sbrk-coalesce",
               "first fit on a LIFO free list, with split, O(1) coalescing and trimming");
