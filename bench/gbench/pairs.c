/* pairs.c — one block allocated and freed at once, over and over:
 *
 *   pairs/A/SIZE       malloc(SIZE) + free(p, SIZE)
 *   calloc/A/SIZE      calloc(1, SIZE) + free(p, SIZE)
 *   aligned/A/ALIGN    aligned_alloc(ALIGN, 100) + free(p, 0): no size hint
 *
 * One iteration is one pair, so Google Benchmark's time per iteration is
 * the ns per pair. Blocks are not written (calloc's zeroing aside): the
 * figures are the allocator's own cost, not page faults. The pointer is
 * escaped, or the compiler would delete the pair.
 */
#include "families.h"

#include <stdint.h>

/* Powers of two from 8 B to 1 MiB, and sizes that are not. */
static const int64_t pair_sizes_bytes[] = {8,      16,     24,     32,     64,     100,   128,
                                     256,    512,    1000,   1024,   2048,   3000,  4096,
                                     8192,   16384,  32768,  33333,  65536,  131072,
                                     262144, 524288, 777777, 1048576};
static const int64_t calloc_sizes_bytes[] = {16, 256, 4096, 65536, 1048576};
static const int64_t alignments_bytes[] = {32, 256, 4096};
#define ALIGNED_SIZE_BYTES 100 /* not a multiple of any alignment measured */

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

enum pair_kind { PAIR_MALLOC, PAIR_CALLOC, PAIR_ALIGNED };

static void *allocate(const hb_allocator *a, enum pair_kind kind, size_t arg) {
  switch (kind) {
    case PAIR_MALLOC: return a->malloc(arg);
    case PAIR_CALLOC: return a->calloc(1, arg);
    case PAIR_ALIGNED: return a->aligned_alloc(arg, ALIGNED_SIZE_BYTES);
  }
  return NULL;
}

/* kind is a constant at each call site, so the switch folds away. */
static inline __attribute__((always_inline)) void run_pairs(hb_gb_state *state,
                                                            const hb_allocator *a,
                                                            enum pair_kind kind) {
  size_t arg = (size_t)hb_gb_range(state, 0);
  size_t size = kind == PAIR_ALIGNED ? ALIGNED_SIZE_BYTES : arg;
  /* An aligned block is freed without a size hint: sized frees such as
   * jemalloc's sdallocx derive the size class from the hint alone, and
   * 100 B says nothing of the 4096-byte alignment; with the hint,
   * jemalloc's heap was corrupted (4 GB mapped, then SIGSEGV). */
  size_t hint = kind == PAIR_ALIGNED ? 0 : size;
  hb_gbf_memory memory = {0};
  hb_gbf_memory_start(&memory, a);
  int failed = 0;
  uint64_t n;
  while (hb_gb_keep_running_batch(state, &n))
    for (uint64_t i = 0; i < n; i++) {
      void *p = allocate(a, kind, arg);
      hb_gb_escape(p);
      failed |= p == NULL;
      a->free(p, hint);
    }

  /* Untimed from here: the timer stopped when the loop ended. */
  void *p = allocate(a, kind, arg);
  if (failed || p == NULL) {
    hb_gb_skip_with_error(state, "allocation returned NULL");
    return;
  }
  if (kind == PAIR_ALIGNED && (uintptr_t)p % arg != 0) {
    a->free(p, hint);
    hb_gb_skip_with_error(state, "aligned_alloc returned a misaligned pointer");
    return;
  }
  hb_gbf_memory_sample(&memory, a, size);
  a->free(p, hint);
  hb_gbf_memory_report(state, &memory);
  hb_gb_items_processed(state, (int64_t)hb_gb_iterations(state));
}

static void bm_pairs(hb_gb_state *state, void *context) { run_pairs(state, context, PAIR_MALLOC); }
static void bm_calloc(hb_gb_state *state, void *context) { run_pairs(state, context, PAIR_CALLOC); }
static void bm_aligned(hb_gb_state *state, void *context) {
  run_pairs(state, context, PAIR_ALIGNED);
}

static void register_family(const char *family, const hb_allocator *a, hb_gb_fn fn,
                            const int64_t *args, size_t count) {
  hb_gb_bench *bench = hb_gbf_register(family, a, fn, (void *)a);
  for (size_t i = 0; i < count; i++) hb_gb_arg(bench, args[i]);
}

void hb_gbf_register_pairs(const hb_allocator *a) {
  register_family("pairs", a, bm_pairs, pair_sizes_bytes, COUNT(pair_sizes_bytes));
  register_family("calloc", a, bm_calloc, calloc_sizes_bytes, COUNT(calloc_sizes_bytes));
  register_family("aligned", a, bm_aligned, alignments_bytes, COUNT(alignments_bytes));
}
