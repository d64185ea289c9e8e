/* freelist.h — free lists: doubly linked lists of free blocks threaded
 * through their payloads (block.h's next/prev), NULL-terminated. Unlinking
 * is O(1), which is what makes coalescing O(1): a neighbour leaves its list
 * without a search.
 *
 * Two layers:
 *  - operations on one list, given its head (hb_list_*): the default "sbrk"
 *    keeps one list per size class with them (segfit.c);
 *  - the index of the ladder's single-list policies (coalesce, next fit,
 *    best fit, address-ordered first fit): an hb_list_heap, the heap with
 *    its one free list, and the hb_fit functions that keep that list LIFO,
 *    search it first fit, and check it (hb_list_heap_*). Each policy's fit
 *    table names these and replaces what its "What changes" says.
 */
#ifndef HB_SBRK_FREELIST_H
#define HB_SBRK_FREELIST_H

#include "checker.h"
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
 * entries), every entry a free block of the heap (hb_heap_check_listed,
 * counted in `walk`).
 * `accept`, when not NULL, is the policy's own test of an entry (its size
 * class, its address order after `prev`): non-zero when it belongs. */
int hb_list_check(hb_heap *heap, hb_heap_walk *walk, hb_block *head, const char *list_name,
                  int (*accept)(const hb_block *prev, const hb_block *b, size_t arg), size_t arg,
                  char *why, size_t why_len);

/* The largest block of one list. */
size_t hb_list_largest(const hb_block *head);

/* ---- One free list as the whole index ---- */

/* The heap of a single-list policy. The hb_heap comes first, so the
 * hb_heap * that heap.c hands the fit functions is this struct; a policy
 * that needs more state (next fit's rover) puts an hb_list_heap first in
 * its own struct the same way. */
typedef struct hb_list_heap {
  hb_heap heap;
  hb_block *head; /* the free list */
} hb_list_heap;

static inline hb_list_heap *hb_list_heap_of(hb_heap *heap) { return (hb_list_heap *)heap; }

/* hb_fit functions on that list: */
void hb_list_heap_push(hb_heap *heap, hb_block *b);   /* insert at the head (LIFO) */
void hb_list_heap_remove(hb_heap *heap, hb_block *b); /* unlink */
hb_block *hb_list_heap_first_fit(hb_heap *heap, size_t bytes); /* from the head */
size_t hb_list_heap_largest(hb_heap *heap);
/* hb_list_check with no `accept` */
int hb_list_heap_check(hb_heap *heap, hb_heap_walk *walk, char *why, size_t why_len);

#endif
