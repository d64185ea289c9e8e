/* freelist.c — checking and scanning free lists, and the single-list index
 * the ladder's list policies share (freelist.h). */
#include "freelist.h"

int hb_list_check(hb_heap *heap, hb_heap_walk *walk, hb_block *head, const char *list_name,
                  int (*accept)(const hb_block *prev, const hb_block *b, size_t arg), size_t arg,
                  char *why, size_t why_len) {
  size_t seen = 0;
  const hb_block *prev = NULL;
  for (hb_block *b = head; b; prev = b, b = b->next) {
    if (++seen > heap->free_blocks)
      return hb_sbrk_fail(why, why_len, "%s: list %s is longer than the free block count (a cycle?)",
                          heap->name, list_name);
    if (hb_heap_check_listed(heap, walk, b, why, why_len)) return -1;
    if (b->prev != prev)
      return hb_sbrk_fail(why, why_len, "%s: list %s: block %p's back link is %p, not %p",
                          heap->name, list_name, (void *)b, (void *)b->prev, (const void *)prev);
    if (accept && !accept(prev, b, arg))
      return hb_sbrk_fail(why, why_len, "%s: list %s: block %p (%zu bytes) does not belong there",
                          heap->name, list_name, (void *)b, hb_block_size(b));
  }
  return 0;
}

size_t hb_list_largest(const hb_block *head) {
  size_t largest = 0;
  for (; head; head = head->next)
    if (hb_block_size(head) > largest) largest = hb_block_size(head);
  return largest;
}

/* ---- One free list as the whole index ---- */

/* Freed blocks go to the head: O(1), and recently freed memory is likely
 * still in cache. */
void hb_list_heap_push(hb_heap *heap, hb_block *b) { hb_list_push(&hb_list_heap_of(heap)->head, b); }

void hb_list_heap_remove(hb_heap *heap, hb_block *b) {
  hb_list_unlink(&hb_list_heap_of(heap)->head, b);
}

hb_block *hb_list_heap_first_fit(hb_heap *heap, size_t bytes) {
  for (hb_block *b = hb_list_heap_of(heap)->head; b; b = b->next)
    if (hb_block_size(b) >= bytes) return b;
  return NULL;
}

size_t hb_list_heap_largest(hb_heap *heap) { return hb_list_largest(hb_list_heap_of(heap)->head); }

int hb_list_heap_check(hb_heap *heap, hb_heap_walk *walk, char *why, size_t why_len) {
  return hb_list_check(heap, walk, hb_list_heap_of(heap)->head, "free", NULL, 0, why, why_len);
}
