/* addrfit.c — policy "sbrk-addrfit": address-ordered first fit.
 *
 * What changes from sbrk-coalesce, and why: the free list is kept sorted
 * by address instead of LIFO, and the first block that fits is taken.
 * Allocation then prefers the low end of the heap and leaves the high end
 * free, where it merges into the top block and can be given back to the
 * OS; measurements (Johnstone and Wilson, 1998) found address-ordered first
 * fit about as good as best fit for fragmentation. The price: a freed block
 * must find its place in the list, O(free blocks) per free.
 * The list and its first fit are those of sbrk-coalesce (freelist.c);
 * heap.c does the splitting, coalescing and trimming.
 */
#include "freelist.h"
#include "heap.h"

#include <stdint.h>

static void addrfit_insert(hb_heap *heap, hb_block *b) {
  hb_list_heap *list = hb_list_heap_of(heap);
  hb_block *after = NULL;
  for (hb_block *c = list->head; c && c < b; c = c->next) after = c;
  hb_list_insert_after(&list->head, after, b);
}

static int in_address_order(const hb_block *prev, const hb_block *b, size_t unused) {
  (void)unused;
  return !prev || (uintptr_t)prev < (uintptr_t)b;
}

static int addrfit_check(hb_heap *heap, hb_heap_walk *walk, char *why, size_t why_len) {
  return hb_list_check(heap, walk, hb_list_heap_of(heap)->head, "free", in_address_order, 0, why,
                       why_len);
}

static const hb_fit addrfit_fit = {
    .insert = addrfit_insert,
    .remove = hb_list_heap_remove,
    .find = hb_list_heap_first_fit,
    .largest = hb_list_heap_largest,
    .check = addrfit_check,
};

static hb_list_heap addrfit_heap = {.heap = HB_HEAP_INIT("sbrk-addrfit", &addrfit_fit)};

/* hb_sbrk_addrfit, and its hb_sbrk_addrfit_malloc, hb_sbrk_addrfit_free,
 * hb_sbrk_addrfit_realloc, hb_sbrk_addrfit_calloc,
 * hb_sbrk_addrfit_aligned_alloc, hb_sbrk_addrfit_usable_size,
 * hb_sbrk_addrfit_stat, hb_sbrk_addrfit_check, hb_sbrk_addrfit_walk, hb_sbrk_addrfit_version. */
HB_HEAP_POLICY(hb_sbrk_addrfit, &addrfit_heap.heap, "sbrk-addrfit",
               "address-ordered first fit, split, coalesce, trim");
