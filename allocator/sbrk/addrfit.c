/* addrfit.c — policy "sbrk-addrfit": address-ordered first fit.
 *
 * What changes from sbrk-coalesce, and why: the free list is kept sorted
 * by address instead of LIFO, and the first block that fits is taken.
 * Allocation then prefers the low end of the heap and leaves the high end
 * free, where it merges into the top block and can be given back to the
 * OS; measurements (Johnstone and Wilson, 1998) found address-ordered first
 * fit about as good as best fit for fragmentation. The price: a freed block
 * must find its place in the list, O(free blocks) per free.
 * heap.c does the splitting, coalescing and trimming.
 */
#include "freelist.h"
#include "heap.h"

#include <stdint.h>

static hb_block *free_list;

static void addrfit_insert(hb_heap *heap, hb_block *b) {
  (void)heap;
  hb_block *after = NULL;
  for (hb_block *c = free_list; c && c < b; c = c->next) after = c;
  hb_list_insert_after(&free_list, after, b);
}

static void addrfit_remove(hb_heap *heap, hb_block *b) {
  (void)heap;
  hb_list_unlink(&free_list, b);
}

static hb_block *addrfit_find(hb_heap *heap, size_t bytes) {
  (void)heap;
  for (hb_block *b = free_list; b; b = b->next)
    if (hb_block_size(b) >= bytes) return b;
  return NULL;
}

static size_t addrfit_largest(hb_heap *heap) {
  (void)heap;
  return hb_list_largest(free_list);
}

static int in_address_order(const hb_block *prev, const hb_block *b, size_t unused) {
  (void)unused;
  return !prev || (uintptr_t)prev < (uintptr_t)b;
}

static int addrfit_check(hb_heap *heap, char *why, size_t why_len) {
  return hb_list_check(heap, free_list, "free", in_address_order, 0, why, why_len);
}

static const hb_fit addrfit_fit = {
    .insert = addrfit_insert,
    .remove = addrfit_remove,
    .find = addrfit_find,
    .largest = addrfit_largest,
    .check = addrfit_check,
};

static hb_heap addrfit_heap = HB_HEAP_INIT("sbrk-addrfit", &addrfit_fit);

HB_HEAP_POLICY(hb_sbrk_addrfit, addrfit_heap, "sbrk-addrfit",
               "address-ordered first fit, split, coalesce, trim");
