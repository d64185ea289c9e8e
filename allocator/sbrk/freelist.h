/* freelist.h — a doubly linked list of free blocks threaded through their
 * payloads (block.h's next/prev), NULL-terminated. The fit policies keep
 * one list (coalesce, next fit, best fit, address-ordered first fit) or one
 * per size class (the default "sbrk"). Unlinking is O(1), which is what
 * makes coalescing O(1): a neighbour leaves its list without a search.
 */
#ifndef HB_SBRK_FREELIST_H
#define HB_SBRK_FREELIST_H

#include "heap.h"

static inline void hb_list_push(hb_block **head, hb_block *b) {
  b->prev = NULL;
  b->next = *head;
  if (*head) (*head)->prev = b;
  *head = b;
}

/* Inserts b after `after`, or at the head when `after` is NULL. */
static inline void hb_list_insert_after(hb_block **head, hb_block *after, hb_block *b) {
  if (!after) {
    hb_list_push(head, b);
    return;
  }
  b->prev = after;
  b->next = after->next;
  if (after->next) after->next->prev = b;
  after->next = b;
}

static inline void hb_list_unlink(hb_block **head, hb_block *b) {
  if (b->prev)
    b->prev->next = b->next;
  else
    *head = b->next;
  if (b->next) b->next->prev = b->prev;
}

/* Checks one list: back links agree, no cycle (at most heap->free_blocks
 * entries), every entry a free block of the heap (hb_heap_check_listed).
 * `accept`, when not NULL, is the policy's own test of an entry (its size
 * class, its address order after `prev`): non-zero when it belongs. */
int hb_list_check(hb_heap *heap, hb_block *head, const char *list_name,
                  int (*accept)(const hb_block *prev, const hb_block *b, size_t arg), size_t arg,
                  char *why, size_t why_len);

/* The largest block of one list. */
size_t hb_list_largest(const hb_block *head);

#endif
