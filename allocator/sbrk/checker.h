/* checker.h — the boundary-tag heap's checker (checker.c), as the policies'
 * index checks see it (private to allocator/sbrk/).
 *
 * hb_heap_check (heap.h) walks every region and block, counting what it
 * sees into an hb_heap_walk and marking every free and parked block (the
 * checker's bit, block.h); the quick lists and the policy's index then
 * unmark what they hold. A block listed twice, or not a free block, is
 * caught by its mark; one listed nowhere by the counts.
 */
#ifndef HB_SBRK_CHECKER_H
#define HB_SBRK_CHECKER_H

#include "heap.h"

/* What the walk counted, held against the heap's counters (heap.h: block
 * bytes include headers, parked blocks count as allocated). */
struct hb_heap_walk {
  size_t footprint_bytes;    /* every region's bytes */
  size_t blocks;             /* blocks, epilogues not included */
  size_t free_blocks, free_bytes; /* the top block included */
  size_t in_use_bytes;       /* allocated blocks, parked ones included */
  size_t parked_bytes;       /* blocks on the quick lists */
  size_t largest_free_bytes; /* the largest free or parked block */
  size_t listed_blocks;      /* blocks the index holds (hb_heap_check_listed) */
};

/* For hb_fit.check: `block` is listed in the index. Fails unless it is a
 * free block of the heap not listed before (each is listed exactly once). */
int hb_heap_check_listed(hb_heap *heap, hb_heap_walk *walk, hb_block *block, char *why,
                         size_t why_len);

#endif
