/* walk.c — the boundary-tag heap block by block, for hb_sbrk_walk
 * (hb_sbrk.h): what the replay's heap map draws. The checker (checker.c)
 * walks the same way but validates as it goes; this walk trusts the heap
 * and only reports, so it stays a few lines and costs one read per block. */
#include "heap.h"
#include "region.h"

void hb_heap_visit_blocks(hb_heap *h, hb_sbrk_visit *visit, void *context) {
  for (hb_region r = hb_region_first(h); r.start; r = hb_region_next(r)) {
    /* Up to the epilogue; the top block (free, last in the top region)
     * has its header written, and ends there too (heap.h). */
    char *end = r.end - HB_REGION_EPILOGUE_BYTES;
    for (hb_block *b = hb_region_first_block(r); (char *)b < end && hb_block_size(b);
         b = hb_block_next(b)) {
      hb_sbrk_block_state state = (b->header & HB_BLOCK_QUICK) ? HB_SBRK_BLOCK_PARKED
                                  : hb_block_is_alloc(b)       ? HB_SBRK_BLOCK_ALLOCATED
                                                               : HB_SBRK_BLOCK_FREE;
      visit(context, (uintptr_t)b, hb_block_size(b), state);
    }
  }
}
