/* region.h — the regions of the boundary-tag heap (private to heap.c and
 * the heap checker).
 *
 * Memory comes from hb_os_grow (os.h), which promises nothing about where
 * it lies. When it continues the top region exactly, the top region grows;
 * otherwise the new memory becomes a region of its own:
 *
 *   R (16-aligned)
 *   +-----------+-----------+-----+---------+ ... +---------+----------+
 *   | prev R    | prev end  | pad | block   |     | block   | epilogue |
 *   +-----------+-----------+-----+---------+ ... +---------+----------+
 *   <------- 24-byte prologue ---->                           size 0, A
 *
 * The first block's P bit is set and the epilogue is "allocated", so
 * coalescing never leaves a region. The prologue links the regions, newest
 * first; hb_region_first and hb_region_next walk them (the checker, and the
 * merge of parked blocks in address order). The top region's epilogue is
 * not written while a top block is free (heap.h).
 */
#ifndef HB_SBRK_REGION_H
#define HB_SBRK_REGION_H

#include "heap.h"

#define HB_REGION_PROLOGUE_BYTES 24
#define HB_REGION_EPILOGUE_BYTES 8
#define HB_REGION_OVERHEAD_BYTES (HB_REGION_PROLOGUE_BYTES + HB_REGION_EPILOGUE_BYTES)
/* The smallest region holds one minimal block. */
#define HB_REGION_MIN_BYTES (HB_REGION_OVERHEAD_BYTES + HB_BLOCK_MIN_BYTES)

typedef struct hb_region_prologue {
  char *prev_region; /* the region made before this one, or NULL */
  char *prev_end;    /* its end (it no longer grows) */
  uint64_t unused;   /* pads the first block to 8 mod 16 */
} hb_region_prologue;

/* One region, [start, end): the prologue at start, the epilogue in the 8
 * bytes below end. */
typedef struct hb_region {
  char *start, *end;
} hb_region;

/* Every region of a heap, newest first:
 *
 *   for (hb_region r = hb_region_first(h); r.start; r = hb_region_next(r))
 *
 * hb_region_next reads r's prologue: a walk that may meet a broken heap
 * checks a region before it moves on. */
static inline hb_region hb_region_first(const hb_heap *h) {
  return (hb_region){h->top_region, h->top_end};
}
static inline hb_region hb_region_next(hb_region r) {
  const hb_region_prologue *prologue = (const hb_region_prologue *)r.start;
  return (hb_region){prologue->prev_region, prologue->prev_end};
}
static inline hb_block *hb_region_first_block(hb_region r) {
  return (hb_block *)(r.start + HB_REGION_PROLOGUE_BYTES);
}

#endif
