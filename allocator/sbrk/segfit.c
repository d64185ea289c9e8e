/* segfit.c — policy "sbrk", the default: segregated free lists by size
 * class, on the boundary-tag heap of heap.c (split, O(1) coalescing,
 * trimming, in-place realloc).
 *
 * What changes from the single-list policies, and why: one free list per
 * size class, and a bitmap of the non-empty classes, so a malloc looks at
 * one list instead of all free blocks:
 *
 *   class  0..62   exact sizes 32, 48, ..., 1024 bytes (16 apart): any block
 *                  on the list fits, malloc pops the head, O(1);
 *   class 63..     four classes per power of two above 1024 bytes
 *                  ([1024,1280) [1280,1536) [1536,1792) [1792,2048) ...):
 *                  a short best-fit scan of the request's own class, then
 *                  the head of the first non-empty larger class, found with
 *                  one count-trailing-zeros on the bitmap, O(1).
 *
 * Taking from the smallest non-empty class that fits approximates best fit
 * (good for utilization) at first-fit cost. free is O(1): coalesce with the
 * neighbours (each leaves its list by unlinking), push on the class list.
 *
 * On top of that, quick lists (heap.h), with the settings where `segfit`
 * is defined below: most programs free and allocate the same small sizes
 * over and over, and handing those blocks straight back is what makes
 * "sbrk" as fast as glibc.
 */
#include "freelist.h"
#include "heap.h"
#include "tcache.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define EXACT_CLASSES 63           /* 32 .. 1024 bytes */
#define EXACT_MAX_BYTES 1024
#define CLASS_COUNT (EXACT_CLASSES + 4 * 37) /* up to 2^47 bytes */
#define MAP_WORDS ((CLASS_COUNT + 63) / 64)
/* A range class is scanned for the best fit over at most this many blocks. */
#define SCAN_LIMIT 16

/* The heap with its index: one free list per class, and a bit per class
 * that is set when its list is not empty. */
typedef struct segfit_heap {
  hb_heap heap;
  hb_block *lists[CLASS_COUNT];
  uint64_t nonempty[MAP_WORDS];
} segfit_heap;

static segfit_heap *segfit_of(hb_heap *heap) { return (segfit_heap *)heap; }

static size_t class_of(size_t bytes) {
  if (bytes <= EXACT_MAX_BYTES) return (bytes >> 4) - 2;
  unsigned log2 = 63u - (unsigned)__builtin_clzll(bytes);
  return EXACT_CLASSES + (log2 - 10) * 4 + ((bytes >> (log2 - 2)) & 3);
}

/* The first non-empty class >= from, or CLASS_COUNT. */
static size_t first_nonempty(const segfit_heap *s, size_t from) {
  size_t word = from >> 6;
  if (word >= MAP_WORDS) return CLASS_COUNT;
  uint64_t bits = s->nonempty[word] & (~(uint64_t)0 << (from & 63));
  while (!bits) {
    if (++word == MAP_WORDS) return CLASS_COUNT;
    bits = s->nonempty[word];
  }
  return word * 64 + (size_t)__builtin_ctzll(bits);
}

static void segfit_insert(hb_heap *heap, hb_block *b) {
  segfit_heap *s = segfit_of(heap);
  size_t c = class_of(hb_block_size(b));
  hb_list_push(&s->lists[c], b);
  s->nonempty[c >> 6] |= (uint64_t)1 << (c & 63);
}

static void segfit_remove(hb_heap *heap, hb_block *b) {
  segfit_heap *s = segfit_of(heap);
  size_t c = class_of(hb_block_size(b));
  hb_list_unlink(&s->lists[c], b);
  if (!s->lists[c]) s->nonempty[c >> 6] &= ~((uint64_t)1 << (c & 63));
}

static hb_block *segfit_find(hb_heap *heap, size_t bytes) {
  segfit_heap *s = segfit_of(heap);
  size_t c = class_of(bytes);
  if (c < EXACT_CLASSES) {
    if (s->lists[c]) return s->lists[c];
  } else {
    hb_block *best = NULL;
    int scanned = 0;
    for (hb_block *b = s->lists[c]; b && scanned < SCAN_LIMIT; b = b->next, scanned++) {
      size_t size = hb_block_size(b);
      if (size < bytes || (best && size >= hb_block_size(best))) continue;
      best = b;
      if (size == bytes) break;
    }
    if (best) return best;
  }
  c = first_nonempty(s, c + 1);
  return c < CLASS_COUNT ? s->lists[c] : NULL;
}

static size_t segfit_largest(hb_heap *heap) {
  segfit_heap *s = segfit_of(heap);
  for (size_t word = MAP_WORDS; word-- > 0;)
    if (s->nonempty[word])
      return hb_list_largest(s->lists[word * 64 + 63 - (size_t)__builtin_clzll(s->nonempty[word])]);
  return 0;
}

/* A block that shrinks within its class stays on its list. */
static int segfit_stays(hb_heap *heap, size_t old_bytes, size_t new_bytes) {
  (void)heap;
  return class_of(old_bytes) == class_of(new_bytes);
}

static int in_class(const hb_block *prev, const hb_block *b, size_t c) {
  (void)prev;
  return class_of(hb_block_size(b)) == c;
}

static int segfit_check(hb_heap *heap, hb_heap_walk *walk, char *why, size_t why_len) {
  segfit_heap *s = segfit_of(heap);
  for (size_t c = 0; c < CLASS_COUNT; c++) {
    int marked = (s->nonempty[c >> 6] >> (c & 63)) & 1;
    if (marked != (s->lists[c] != NULL))
      return hb_sbrk_fail(why, why_len, "%s: class %zu: bitmap says %s, list is %s", heap->name,
                          c, marked ? "non-empty" : "empty", s->lists[c] ? "not" : "empty");
    if (!s->lists[c]) continue;
    /* The class goes into the message only on failure: formatting a name
     * for every list would cost more than checking most of them. */
    if (hb_list_check(heap, walk, s->lists[c], "of a size class", in_class, c, why, why_len)) {
      size_t used = strlen(why);
      if (used < why_len) snprintf(why + used, why_len - used, " (class %zu)", c);
      return -1;
    }
  }
  return 0;
}

static const hb_fit segfit_fit = {
    .insert = segfit_insert,
    .remove = segfit_remove,
    .find = segfit_find,
    .largest = segfit_largest,
    .stays = segfit_stays,
    .check = segfit_check,
};

/* The quick lists' settings (what they do: heap.h), and why:
 *  - blocks up to 1040 bytes (requests up to 1032, as glibc's tcache), 32
 *    per size: most programs' malloc/free pairs are small and repeat sizes;
 *  - blocks up to 144 bytes (requests up to 136; glibc's fastbins keep any
 *    number up to 128 bytes), any number, within the lists' budget: a
 *    program tearing down a structure of small objects frees them by the
 *    hundred thousand, and each merge on free costs cache misses on the
 *    neighbours and their list links (docs/SBRK.md, "Tiny blocks");
 *  - blocks of 1056 to 2064 bytes (HB_QUICK_MAX_BYTES), 4 per size:
 *    programs that cycle through buffers of 1-2 KiB would otherwise search
 *    a size class and split and merge every time; a short list is enough
 *    for them and parks little memory (docs/SBRK.md, python3-json-large). */
static segfit_heap segfit = {.heap = {HB_HEAP_FIELDS("sbrk", &segfit_fit),
                                      .quick_max_bytes = HB_QUICK_MAX_BYTES,
                                      .quick_tiny_bytes = 144, .quick_cap = 32,
                                      .quick_big_cap = 4, .release_held = hb_tcache_release_held}};

/* hb_sbrk_default, and its hb_sbrk_default_malloc, hb_sbrk_default_free,
 * hb_sbrk_default_realloc, hb_sbrk_default_calloc,
 * hb_sbrk_default_aligned_alloc, hb_sbrk_default_usable_size,
 * hb_sbrk_default_stat, hb_sbrk_default_check, hb_sbrk_default_walk,
 * hb_sbrk_default_version. */
HB_HEAP_POLICY_WITH(hb_sbrk_default, &segfit.heap, "sbrk",
                    "segregated free lists by size class: O(1) common paths, split, coalesce, "
                    "trim; thread caches",
                    hb_tcache, HB_ALLOCATOR_THREAD_SAFE);
