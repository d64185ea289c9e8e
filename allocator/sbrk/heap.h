/* heap.h — the boundary-tag heap every policy but the tutorial is built on
 * (private to allocator/sbrk/).
 *
 * heap.c does everything that is the same whatever the placement policy:
 * regions on sbrk, splitting, O(1) coalescing with boundary tags (block.h),
 * growing the heap by what is missing, giving the top back with a negative
 * sbrk, in-place realloc, aligned allocation, validation of freed pointers,
 * counters; checker.c validates all of it. A policy only says where free
 * blocks are kept and which one a request gets: an hb_fit (its "index").
 *
 * Memory comes from the OS in regions (region.h: the layout, and the walk
 * over every region), each opened by a prologue and closed by an
 * "allocated" epilogue, so coalescing never leaves a region.
 *
 * The top block (the free block that ends the top region) is never in the
 * policy's index: it is used when nothing indexed fits, and grown into.
 * While it exists, its footer and the top region's epilogue are not
 * written (only its header is): nothing reads them, and writing them would
 * touch the heap's last page at every grow. The epilogue is written when
 * the block before it becomes allocated; older regions have theirs.
 * Optional quick lists park small freed blocks unmerged (see below).
 */
#ifndef HB_SBRK_HEAP_H
#define HB_SBRK_HEAP_H

#include "block.h"
#include "policy.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hb_heap hb_heap;
typedef struct hb_heap_walk hb_heap_walk; /* the checker's counts: checker.h */

/* Quick lists, the one description (a policy's settings and their
 * reasons are where it sets them: segfit.c). Off when a heap's
 * quick_max_bytes is 0. A freed block of at most quick_max_bytes is
 * parked, unmerged, on a LIFO list of its exact size (one list per size,
 * 32 to HB_QUICK_MAX_BYTES bytes), and the next malloc of that size pops
 * it: both O(1), with no neighbour touched. A list holds any number of
 * blocks up to quick_tiny_bytes, quick_cap blocks up to
 * HB_QUICK_SMALL_BYTES, quick_big_cap above (hb_quick_cap). Parked blocks
 * are free for the program and allocated for the heap (stat() reports
 * them as free). They are freed for real (merged):
 *  - all of them before the heap grows, so the lists never make the heap
 *    bigger;
 *  - all of them before a malloc that they cannot serve and that searches
 *    the free blocks, when they hold more than their budget, the live
 *    bytes >> HB_QUICK_BUDGET_SHIFT plus HB_QUICK_BUDGET_FLOOR_BYTES: else
 *    blocks of sizes the program no longer asks for stay parked for ever,
 *    pinning the free space around them apart (docs/SBRK.md, "Long runs");
 *  - within the budget, at the same place, the idle lists, when the lists
 *    hold more than the live bytes >> HB_QUICK_IDLE_SHIFT plus
 *    HB_QUICK_IDLE_FLOOR_BYTES. The lists are looked at then, at most once
 *    each time the heap has handed out (taken_bytes) a step of the live
 *    bytes >> HB_QUICK_IDLE_STEP_SHIFT, or HB_QUICK_IDLE_STEP_MIN_BYTES if
 *    more; a list is idle when HB_QUICK_IDLE_LOOKS looks in a row found it
 *    had served no malloc: a size the program stopped asking for gives its
 *    blocks back to merge with the free space around them, where the sizes
 *    it still asks for keep theirs (docs/SBRK.md, "Idle quick lists").
 * A merge costs what freeing those blocks unparked would have cost, once
 * each; checked on malloc's slow path, it costs free nothing, and
 * malloc's hit path sets one bit (quick_hit).
 * When HB_QUICK_SWEEP_MIN_BLOCKS or more are parked, a quarter of the
 * heap's blocks or more, the merge walks the heap and frees them in
 * address order instead of list by list (heap.c: sweep_quick). */
#define HB_QUICK_CLASSES 128
#define HB_QUICK_MAX_BYTES ((HB_QUICK_CLASSES + 1) * 16)
#define HB_QUICK_SMALL_BYTES ((size_t)1040) /* requests up to 1032 bytes */
#define HB_QUICK_BUDGET_SHIFT 3
#define HB_QUICK_BUDGET_FLOOR_BYTES ((size_t)64 << 10)
#define HB_QUICK_IDLE_SHIFT 6
#define HB_QUICK_IDLE_FLOOR_BYTES ((size_t)16 << 10)
#define HB_QUICK_IDLE_STEP_SHIFT 6
#define HB_QUICK_IDLE_STEP_MIN_BYTES ((size_t)8 << 10)
#define HB_QUICK_IDLE_LOOKS 8
#define HB_QUICK_SWEEP_MIN_BLOCKS 4096

/* A set of quick lists, one bit per list. */
typedef struct hb_quick_set {
  uint64_t bits[HB_QUICK_CLASSES / 64];
} hb_quick_set;

static inline int hb_quick_set_has(const hb_quick_set *set, size_t c) {
  return (set->bits[c / 64] >> (c % 64)) & 1;
}
static inline __attribute__((always_inline)) void hb_quick_set_add(hb_quick_set *set, size_t c) {
  set->bits[c / 64] |= (uint64_t)1 << (c % 64);
}

/* A placement policy: the index of free blocks. The index lives in the
 * heap: a policy's heap is a struct of its own whose first member is the
 * hb_heap, followed by the index (freelist.h's hb_list_heap, segfit.c's
 * segfit_heap), so each function below casts the hb_heap * it gets to that
 * struct. Blocks handed to insert are free with header and footer written;
 * remove gets only blocks that are in the index. */
typedef struct hb_fit {
  void (*insert)(hb_heap *heap, hb_block *block);
  void (*remove)(hb_heap *heap, hb_block *block);
  /* A free block of at least `bytes` (still in the index), or NULL. */
  hb_block *(*find)(hb_heap *heap, size_t bytes);
  /* Size of the largest free block. */
  size_t (*largest)(hb_heap *heap);
  /* Optional: non-zero when a listed block that shrinks from old_bytes to
   * new_bytes, keeping its address, may stay where it is in the index
   * (malloc then cuts a small block off its high end without unlinking
   * and relinking it). NULL: never. */
  int (*stays)(hb_heap *heap, size_t old_bytes, size_t new_bytes);
  /* Checks the index; calls hb_heap_check_listed() (checker.h) on every
   * block it holds, with `walk`. 0, or -1 with the reason in `why`. */
  int (*check)(hb_heap *heap, hb_heap_walk *walk, char *why, size_t why_len);
} hb_fit;

struct hb_heap {
  const char *name;
  const hb_fit *fit;
  char *top_region;        /* newest region (the one that grows), or NULL */
  char *top_end;           /* its end; the epilogue is the 8 bytes below */
  hb_block *top;           /* the top block (free, ends the top region), or NULL */
  uintptr_t lowest, highest; /* bounds of all regions, to reject wild pointers */
  /* Tuning, set by the policy. */
  size_t trim_threshold_bytes; /* give the top back when a free top block is this big;
                                  rises to twice the largest block freed (heap.c) */
  size_t trim_keep_bytes;      /* ... keeping this much of it; growing back into what a
                                  trim gave away raises the threshold (heap.c: grow) */
  unsigned grow_shift;         /* grow by at least footprint >> grow_shift (0: exactly) */
  size_t grow_max_slack_bytes; /* ... a minimum capped at this, */
  unsigned grow_large_shift;   /* ... or at footprint >> grow_large_shift when larger */
  /* The heap's demand, for trimming with hysteresis (heap.c: trim_floor):
   * taken_bytes counts the bytes handed out by the heap itself (not by
   * the quick lists), the clock of the decay; a window ends when that
   * clock has advanced by the demand (the heap turned over once). Its
   * peak in-use bytes are window_peak_bytes; at its end the demand
   * becomes that peak, or half the old demand if that is more. */
  uint64_t taken_bytes, window_start_bytes;
  size_t window_peak_bytes, demand_bytes;
  size_t small_block_bytes;    /* blocks below this are cut from the high end of a free block */
  /* Optional: gives the heap back the free blocks a layer above it holds
   * for the calling thread (the thread caches, tcache.c), called when a
   * malloc would grow the heap, as the quick lists are merged then;
   * non-zero when it gave any back. */
  int (*release_held)(hb_heap *heap);
  /* Set by tcache.c once the process has threads: each grow notes the
   * whole pages it added here (under the lock), for the caller to fault
   * in after it lets go of the lock (hb_tcache: MADV_POPULATE_WRITE), so
   * that threads do not take those page faults one by one with the lock
   * held. */
  int note_grown;
  uintptr_t grown_lo, grown_hi;
  /* Quick lists (described above): the policy's settings, */
  size_t quick_max_bytes, quick_tiny_bytes;
  unsigned quick_cap, quick_big_cap;
  /* and what is parked: in all, and per list. */
  size_t quick_blocks, quick_bytes;
  hb_quick_set quick_hit; /* lists that served a malloc since the last look */
  hb_block *quick[HB_QUICK_CLASSES];
  unsigned quick_count[HB_QUICK_CLASSES];
  /* Memory known to be zero: [zero_lo, zero_hi) in the top region has not
   * been written since the OS gave it (fresh pages). calloc skips zeroing
   * that part of a block (heap.c: take, hb_heap_calloc). taken_zero_lo/hi:
   * the part of the block take() handed out last that was in it. */
  uintptr_t zero_lo, zero_hi, taken_zero_lo, taken_zero_hi;
  /* Counters: the statistics are O(1). Block bytes include headers. Parked
   * blocks count as allocated here; stat() reports them as free. */
  size_t footprint_bytes, in_use_bytes, free_bytes, blocks, free_blocks;
  size_t peak_footprint_bytes; /* the highest footprint_bytes so far */
  /* The looks at the quick lists for idle ones (heap.c: release_idle_quick):
   * when the next may be, and per list, how many in a row found it unused. */
  uint64_t quick_look_at;
  uint8_t quick_unused_looks[HB_QUICK_CLASSES];
};

/* Defaults every fit policy uses (see heap.c: grow_request, take), chosen
 * by measurement (docs/SBRK.md, "Growth" and "Placement"): growing by at
 * least 1/8 of the heap, that minimum capped at 128 KiB (glibc's top pad),
 * gives placement room, keeps a small heap from calling sbrk for every few
 * hundred bytes and a 4 MiB one from calling it every 32 KiB (twice as
 * many brk calls as glibc's on six of nine programs with a 32 KiB cap; the
 * pages past the need are not touched, so not resident); cutting blocks
 * under 128 bytes from the high end of a free block keeps small and large
 * blocks apart. */
#define HB_HEAP_GROW_SHIFT 3
#define HB_HEAP_GROW_MAX_SLACK_BYTES ((size_t)128 << 10)
/* A heap over 4 MiB grows by 1/128 of itself: 128 MiB are reached in
 * about 600 sbrk calls, not 4,096 steps of 32 KiB, for at most 0.8% of
 * footprint past the need; 1/64, 1/32 and 1/16 cost the real-program
 * workloads up to 0.6%, 3% and 9% of peak footprint (docs/SBRK.md,
 * "Growth"). */
#define HB_HEAP_GROW_LARGE_SHIFT 7
/* Trimming keeps the demand (heap.h: demand_bytes) plus 1/4 of it for
 * fragmentation; windows of the decay are at least this long. */
#define HB_HEAP_DEMAND_HEADROOM_SHIFT 2
#define HB_HEAP_DECAY_MIN_WINDOW_BYTES ((size_t)1 << 20)
/* A trim gives back at least this much (glibc's default trim threshold). */
#define HB_HEAP_TRIM_MIN_GIVE_BYTES ((size_t)128 << 10)
#define HB_HEAP_SMALL_BLOCK_BYTES 128
/* realloc moves a block growing to at least this to the top of the heap. */
#define HB_HEAP_GROWING_BLOCK_BYTES ((size_t)64 << 10)
/* The trim threshold never rises above this. */
#define HB_HEAP_TRIM_MAX_BYTES ((size_t)64 << 20)
/* The fields every heap sets; a policy adds its own after them. */
#define HB_HEAP_FIELDS(policy_name, fit_table)                                            \
  .name = (policy_name), .fit = (fit_table), .trim_threshold_bytes = (size_t)256 << 10, \
  .trim_keep_bytes = (size_t)64 << 10, .grow_shift = HB_HEAP_GROW_SHIFT,                \
  .grow_max_slack_bytes = HB_HEAP_GROW_MAX_SLACK_BYTES,                                  \
  .grow_large_shift = HB_HEAP_GROW_LARGE_SHIFT,                                          \
  .small_block_bytes = HB_HEAP_SMALL_BLOCK_BYTES
#define HB_HEAP_INIT(policy_name, fit_table) {HB_HEAP_FIELDS(policy_name, fit_table)}

void *hb_heap_malloc(hb_heap *heap, size_t size);
void hb_heap_free(hb_heap *heap, void *ptr);
void *hb_heap_realloc(hb_heap *heap, void *ptr, size_t size);
void *hb_heap_calloc(hb_heap *heap, size_t count, size_t size);
void *hb_heap_aligned_alloc(hb_heap *heap, size_t alignment, size_t size);
size_t hb_heap_usable_size(hb_heap *heap, void *ptr);
int hb_heap_stat(hb_heap *heap, hb_stat which, uint64_t *value);
/* The largest free block, parked ones and the top block included. */
size_t hb_heap_largest_free(hb_heap *heap);
/* The heap checker (checker.c): walks every region and block, the quick
 * lists, then the policy's index. */
int hb_heap_check(hb_heap *heap, char *why, size_t why_len);
/* After hb_heap_check: every block next_held(context) returns (payload
 * pointers, until NULL) is an allocated block of the heap, not parked,
 * returned once: the blocks a layer above the heap holds for the program
 * (the thread caches, tcache.c). 0, or -1 with the reason in `why`. */
int hb_heap_check_held(hb_heap *heap, void *(*next_held)(void *context), void *context,
                       char *why, size_t why_len);

/* hb_sbrk_walk (hb_sbrk.h) on this heap (walk.c). */
void hb_heap_visit_blocks(hb_heap *heap, hb_sbrk_visit *visit, void *context);

/* The quick list of a parked block of `bytes`, and how many such blocks
 * the list may hold. Inline: both are on the fast paths of malloc and free. */
static inline __attribute__((always_inline)) size_t hb_quick_class(size_t bytes) {
  return (bytes >> 4) - 2;
}
static inline __attribute__((always_inline)) unsigned hb_quick_cap(const hb_heap *h, size_t bytes) {
  if (bytes <= h->quick_tiny_bytes) return UINT_MAX; /* the budget bounds them */
  return bytes <= HB_QUICK_SMALL_BYTES ? h->quick_cap : h->quick_big_cap;
}

/* Defines the hb_sbrk_policy `variable` (name, description) on the heap at
 * `heap` (an hb_heap *, the first member of the policy's own heap struct),
 * whose fit does the placement. For a `variable` V it defines the table V
 * and the static functions V_malloc, V_free, V_realloc, V_calloc,
 * V_aligned_alloc, V_usable_size, V_stat, V_check, V_walk and V_version,
 * each calling the hb_heap_ function above of the same name on `heap`
 * (V_walk: hb_heap_visit_blocks). Every use spells out the names it
 * defines in a comment, so that a name seen in a profile or a backtrace
 * is found by grep. */
#define HB_HEAP_POLICY(variable, heap, policy_name, policy_description) \
  HB_HEAP_POLICY_WITH(variable, heap, policy_name, policy_description, hb_heap, 0)

/* The same, calling prefix##_malloc, ... prefix##_check instead (the
 * functions of the heap's thread-safe front, hb_tcache: tcache.h), with
 * the table's `flags`; V_walk calls hb_heap_visit_blocks in either case. */
#define HB_HEAP_POLICY_WITH(variable, heap, policy_name, policy_description, prefix, table_flags) \
  static void *variable##_malloc(size_t size) { return prefix##_malloc((heap), size); }          \
  static void variable##_free(void *ptr, size_t size_hint) {                                     \
    (void)size_hint;                                                                              \
    prefix##_free((heap), ptr);                                                                   \
  }                                                                                               \
  static void *variable##_realloc(void *ptr, size_t size) {                                      \
    return prefix##_realloc((heap), ptr, size);                                                   \
  }                                                                                               \
  static void *variable##_calloc(size_t count, size_t size) {                                    \
    return prefix##_calloc((heap), count, size);                                                  \
  }                                                                                               \
  static void *variable##_aligned_alloc(size_t alignment, size_t size) {                         \
    return prefix##_aligned_alloc((heap), alignment, size);                                       \
  }                                                                                               \
  static size_t variable##_usable_size(void *ptr) { return prefix##_usable_size((heap), ptr); }    \
  static int variable##_stat(hb_stat which, uint64_t *value) {                                   \
    return prefix##_stat((heap), which, value);                                                   \
  }                                                                                               \
  static int variable##_check(char *why, size_t why_len) {                                       \
    return prefix##_check((heap), why, why_len);                                                  \
  }                                                                                               \
  static void variable##_walk(hb_sbrk_visit *visit, void *context) {                            \
    hb_heap_visit_blocks((heap), visit, context);                                                \
  }                                                                                               \
  static const char *variable##_version(void) { return HB_SBRK_VERSION; }                        \
  const hb_sbrk_policy variable = {                                                               \
      .table =                                                                                    \
          {                                                                                       \
              .name = policy_name,                                                                \
              .description = policy_description,                                                  \
              .flags = (table_flags),                                                             \
              .version = variable##_version,                                                      \
              .malloc = variable##_malloc,                                                        \
              .free = variable##_free,                                                            \
              .realloc = variable##_realloc,                                                      \
              .calloc = variable##_calloc,                                                        \
              .aligned_alloc = variable##_aligned_alloc,                                          \
              .usable_size = variable##_usable_size,                                              \
              .stat = variable##_stat,                                                            \
          },                                                                                      \
      .check = variable##_check,                                                                  \
      .walk = variable##_walk,                                                                    \
  }

#endif
