/* checker.c — the boundary-tag heap's checker: hb_heap_check (heap.h)
 * validates every invariant of a heap of heap.c; the policy's index checks
 * itself through hb_fit.check and hb_heap_check_listed (checker.h).
 *
 * Checked: each region's bounds and alignment; each block's magic,
 * alignment, size, P bit, footer (free blocks but the top block, whose
 * footer is not written); no two free blocks adjacent; the top block is
 * exactly the free block that ends the top region; the epilogue; the
 * heap's counters against what the walk counted (hb_heap_walk); each quick
 * list's blocks (parked, of its size, under its cap, counted right); every
 * free block but the top in the index exactly once; the largest free block.
 * The stress tests run it after every operation.
 */
#include "checker.h"

#include "region.h"

/* Clears every checker mark, stopping at anything that does not look like
 * a block (the heap may be broken when this runs). */
static void clear_marks(hb_heap *h) {
  for (hb_region r = hb_region_first(h); r.start; r = hb_region_next(r)) {
    hb_block *b = hb_region_first_block(r);
    while ((char *)b < r.end - HB_REGION_EPILOGUE_BYTES && hb_block_has_magic(b) &&
           hb_block_size(b)) {
      b->header &= ~HB_BLOCK_MARK;
      b = hb_block_next(b);
    }
  }
}

/* Every block of one region; marks the free ones for check_listed. */
static int check_region(hb_heap *h, hb_region r, hb_heap_walk *walk, char *why, size_t why_len) {
  char *region = r.start, *end = r.end;
  if (((uintptr_t)region & 15) || (uintptr_t)region < h->lowest || (uintptr_t)end > h->highest ||
      end < region + HB_REGION_MIN_BYTES)
    return hb_sbrk_fail(why, why_len, "%s: region %p..%p out of bounds or misaligned", h->name,
                        (void *)region, (void *)end);
  walk->footprint_bytes += (size_t)(end - region);
  int prev_alloc = 1;
  hb_block *b = hb_region_first_block(r);
  for (;;) {
    if ((char *)b + 8 > end)
      return hb_sbrk_fail(why, why_len, "%s: walk ran past the end of region %p", h->name,
                          (void *)region);
    if (!hb_block_has_magic(b))
      return hb_sbrk_fail(why, why_len, "%s: block %p: bad magic", h->name, (void *)b);
    if (((uintptr_t)b & 15) != 8)
      return hb_sbrk_fail(why, why_len, "%s: block %p: payload not 16-aligned", h->name, (void *)b);
    if (hb_block_prev_alloc(b) != prev_alloc)
      return hb_sbrk_fail(why, why_len, "%s: block %p: P bit %d but previous block allocated=%d",
                          h->name, (void *)b, hb_block_prev_alloc(b), prev_alloc);
    if (b->header & HB_BLOCK_MARK)
      return hb_sbrk_fail(why, why_len, "%s: block %p: stray checker mark", h->name, (void *)b);
    size_t size = hb_block_size(b);
    /* The top region's last block, free: the top block, whose footer and
     * epilogue are not written (heap.h). */
    int top = end == h->top_end && size && !hb_block_is_alloc(b) &&
              (char *)b + size == end - HB_REGION_EPILOGUE_BYTES;
    if (top != (b == h->top))
      return hb_sbrk_fail(why, why_len, "%s: block %p: %s, but the top block is %p", h->name,
                          (void *)b, top ? "free and last in the top region" : "not last and free",
                          (void *)h->top);
    if (size == 0) {
      if ((char *)b != end - HB_REGION_EPILOGUE_BYTES || !hb_block_is_alloc(b))
        return hb_sbrk_fail(why, why_len, "%s: region %p: epilogue misplaced", h->name,
                            (void *)region);
      return 0;
    }
    if (size < HB_BLOCK_MIN_BYTES || (char *)b + size > end - HB_REGION_EPILOGUE_BYTES)
      return hb_sbrk_fail(why, why_len, "%s: block %p: size %zu impossible", h->name, (void *)b,
                          size);
    walk->blocks++;
    if (b->header & HB_BLOCK_QUICK) { /* parked: allocated for the heap, unmerged */
      if (!hb_block_is_alloc(b))
        return hb_sbrk_fail(why, why_len, "%s: block %p: parked but not allocated", h->name,
                            (void *)b);
      walk->in_use_bytes += size;
      walk->parked_bytes += size;
      if (size > walk->largest_free_bytes) walk->largest_free_bytes = size;
      b->header |= HB_BLOCK_MARK;
    } else if (hb_block_is_alloc(b)) {
      walk->in_use_bytes += size;
    } else {
      if (!prev_alloc)
        return hb_sbrk_fail(why, why_len, "%s: block %p: two adjacent free blocks", h->name,
                            (void *)b);
      if (!top && *hb_block_footer(b) != size)
        return hb_sbrk_fail(why, why_len, "%s: block %p: footer %llu != header size %zu", h->name,
                            (void *)b, (unsigned long long)*hb_block_footer(b), size);
      walk->free_blocks++;
      walk->free_bytes += size;
      if (size > walk->largest_free_bytes) walk->largest_free_bytes = size;
      b->header |= HB_BLOCK_MARK;
    }
    if (top) return 0;
    prev_alloc = hb_block_is_alloc(b);
    b = hb_block_next(b);
  }
}

int hb_heap_check_listed(hb_heap *h, hb_heap_walk *walk, hb_block *b, char *why, size_t why_len) {
  uintptr_t address = (uintptr_t)b;
  if (address < h->lowest || address >= h->highest || (address & 15) != 8)
    return hb_sbrk_fail(why, why_len, "%s: index holds %p, not in the heap", h->name, (void *)b);
  if (!hb_block_has_magic(b) || hb_block_is_alloc(b) || !(b->header & HB_BLOCK_MARK))
    return hb_sbrk_fail(why, why_len,
                        "%s: index holds %p, not a free block of the heap (or holds it twice)",
                        h->name, (void *)b);
  if (b == h->top)
    return hb_sbrk_fail(why, why_len, "%s: index holds the top block %p", h->name, (void *)b);
  b->header &= ~HB_BLOCK_MARK;
  walk->listed_blocks++;
  return 0;
}

/* Each quick list: parked blocks of the list's size, counts right. */
static int check_quick(hb_heap *h, char *why, size_t why_len) {
  size_t total = 0;
  for (size_t c = 0; c < HB_QUICK_CLASSES; c++) {
    size_t seen = 0;
    for (hb_block *b = h->quick[c]; b; b = b->next) {
      uintptr_t address = (uintptr_t)b;
      if (address < h->lowest || address >= h->highest || (address & 15) != 8 ||
          !hb_block_has_magic(b) ||
          (b->header & (HB_BLOCK_QUICK | HB_BLOCK_MARK | HB_BLOCK_ALLOC)) !=
              (HB_BLOCK_QUICK | HB_BLOCK_MARK | HB_BLOCK_ALLOC))
        return hb_sbrk_fail(why, why_len, "%s: quick list %zu holds %p, not a parked block (or twice)",
                            h->name, c, (void *)b);
      if (hb_quick_class(hb_block_size(b)) != c)
        return hb_sbrk_fail(why, why_len, "%s: quick list %zu holds a block of %zu bytes", h->name,
                            c, hb_block_size(b));
      b->header &= ~HB_BLOCK_MARK;
      if (++seen > hb_quick_cap(h, hb_block_size(b)))
        return hb_sbrk_fail(why, why_len, "%s: quick list %zu is over its cap", h->name, c);
    }
    if (seen != h->quick_count[c])
      return hb_sbrk_fail(why, why_len, "%s: quick list %zu holds %zu, its count says %u", h->name,
                          c, seen, h->quick_count[c]);
    total += seen;
  }
  if (total != h->quick_blocks)
    return hb_sbrk_fail(why, why_len, "%s: %zu parked blocks, the counter says %zu", h->name, total,
                        h->quick_blocks);
  return 0;
}

int hb_heap_check(hb_heap *h, char *why, size_t why_len) {
  hb_heap_walk walk = {0};
  int rc = 0;
  for (hb_region r = hb_region_first(h); r.start; r = hb_region_next(r))
    if ((rc = check_region(h, r, &walk, why, why_len)) != 0) break;
  if (rc == 0 && (walk.footprint_bytes != h->footprint_bytes || walk.blocks != h->blocks ||
                  walk.free_blocks != h->free_blocks || walk.free_bytes != h->free_bytes ||
                  walk.in_use_bytes != h->in_use_bytes || walk.parked_bytes != h->quick_bytes))
    rc = hb_sbrk_fail(why, why_len,
                      "%s: counters disagree with the heap walk: footprint %zu/%zu blocks %zu/%zu "
                      "free %zu/%zu free bytes %zu/%zu in use %zu/%zu parked bytes %zu/%zu "
                      "(counter/walk)",
                      h->name, h->footprint_bytes, walk.footprint_bytes, h->blocks, walk.blocks,
                      h->free_blocks, walk.free_blocks, h->free_bytes, walk.free_bytes,
                      h->in_use_bytes, walk.in_use_bytes, h->quick_bytes, walk.parked_bytes);
  if (rc == 0) rc = check_quick(h, why, why_len);
  if (rc == 0) {
    rc = h->fit->check(h, &walk, why, why_len);
    size_t expected = h->free_blocks - (h->top != NULL);
    if (rc == 0 && walk.listed_blocks != expected)
      rc = hb_sbrk_fail(why, why_len, "%s: %zu free blocks besides the top, but the index holds %zu",
                        h->name, expected, walk.listed_blocks);
  }
  if (rc == 0 && hb_heap_largest_free(h) != walk.largest_free_bytes)
    rc = hb_sbrk_fail(why, why_len, "%s: largest free block %zu, the walk says %zu", h->name,
                      hb_heap_largest_free(h), walk.largest_free_bytes);
  /* A heap that passed has one marked block left, the top block (free, never
   * listed): every other free block was listed exactly once and every
   * parked one seen once, each unmarking it. Otherwise marks may be left
   * anywhere. (One walk less per check: the stress tests check after every
   * operation.) */
  if (rc == 0 && h->top)
    h->top->header &= ~HB_BLOCK_MARK;
  else if (rc != 0)
    clear_marks(h);
  return rc;
}

int hb_heap_check_held(hb_heap *h, void *(*next_held)(void *context), void *context, char *why,
                       size_t why_len) {
  size_t held = 0;
  for (void *ptr; (ptr = next_held(context)) != NULL; held++) {
    uintptr_t address = (uintptr_t)ptr;
    hb_block *b = hb_block_of(ptr);
    if ((address & 15) || address < h->lowest + HB_REGION_PROLOGUE_BYTES + HB_BLOCK_HEADER_BYTES ||
        address >= h->highest || !hb_block_has_magic(b)) {
      clear_marks(h);
      return hb_sbrk_fail(why, why_len, "%s: held block %p is not a block of the heap", h->name, ptr);
    }
    if ((b->header & (HB_BLOCK_ALLOC | HB_BLOCK_QUICK | HB_BLOCK_MARK)) != HB_BLOCK_ALLOC) {
      clear_marks(h);
      return hb_sbrk_fail(why, why_len, "%s: held block %p is %s", h->name, ptr,
                          (b->header & HB_BLOCK_MARK) ? "held twice" : "not allocated, or parked");
    }
    b->header |= HB_BLOCK_MARK;
  }
  /* Every marked block must be one the walk reaches: a pointer into the
   * middle of a block, made to look like a header, is not. */
  size_t seen = 0;
  for (hb_region r = hb_region_first(h); r.start; r = hb_region_next(r)) {
    char *end = r.end - HB_REGION_EPILOGUE_BYTES;
    if (r.start == h->top_region && h->top) end = (char *)h->top;
    for (hb_block *b = hb_region_first_block(r); (char *)b < end; b = hb_block_next(b))
      if (b->header & HB_BLOCK_MARK) {
        b->header &= ~HB_BLOCK_MARK;
        seen++;
      }
  }
  if (seen != held) {
    clear_marks(h);
    return hb_sbrk_fail(why, why_len, "%s: %zu held blocks, %zu of them blocks of the heap", h->name,
                        held, seen);
  }
  return 0;
}
