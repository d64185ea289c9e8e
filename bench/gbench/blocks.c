/* blocks.c — N blocks live at once, then all freed in one order:
 *
 *   lifo/A/N     free the last allocated first (a stack)
 *   fifo/A/N     free the first allocated first (a queue)
 *   random/A/N   free in a random order (the same permutation for every
 *                allocator)
 *
 * Block sizes are drawn uniformly from 16..512 bytes with a fixed seed, the
 * same for every allocator. One iteration allocates the N blocks and frees
 * them; items processed counts allocator calls (2N per iteration), so
 * items_per_second is calls per second. Utilization is sampled with all N
 * blocks live, in one more untimed round after the timed loop.
 */
#include "families.h"

#include <stdio.h>
#include <stdlib.h>

#define MIN_BLOCK_BYTES 16
#define MAX_BLOCK_BYTES 512
#define SIZES_SEED UINT64_C(0x9e3779b97f4a7c15)
#define ORDER_SEED UINT64_C(0x2545f4914f6cdd1d)

static const int64_t block_counts[] = {16, 256, 4096, 65536}; /* ascending: see the guard */

enum free_order { FREE_LIFO, FREE_FIFO, FREE_RANDOM };

typedef struct blocks_context {
  const hb_allocator *allocator;
  enum free_order order;
  hb_gbf_guard guard;
} blocks_context;

/* One round: allocate the n blocks, optionally sample the memory at the
 * peak, free them in free_order[]. Returns 0, or -1 when an allocation
 * failed (the round's blocks are freed either way). */
static inline __attribute__((always_inline)) int round_of_blocks(const hb_allocator *a,
                                                                 void **blocks, const size_t *sizes,
                                                                 const size_t *free_order,
                                                                 size_t n, hb_gbf_memory *memory,
                                                                 uint64_t live_bytes) {
  int failed = 0;
  for (size_t i = 0; i < n; i++) {
    blocks[i] = a->malloc(sizes[i]);
    failed |= blocks[i] == NULL;
  }
  hb_gb_clobber(); /* the blocks are stored: the compiler must keep them */
  if (memory) hb_gbf_memory_sample(memory, a, live_bytes);
  for (size_t i = 0; i < n; i++) {
    size_t k = free_order[i];
    a->free(blocks[k], sizes[k]);
  }
  return failed ? -1 : 0;
}

/* The time guard's trial (families.h): untimed rounds of n/8, n/4, n/2
 * and n blocks, each against the budget. Doubling means a round that
 * misses the budget costs at most a few times what the previous one did
 * (which met it), even where cost grows faster than n: frees, which cannot
 * be abandoned, are bounded that way. Returns 1 when every round finished
 * in time; otherwise 0, with the reason written. */
#define TRIAL_CHECK_EVERY 256 /* mallocs between looks at the clock */

/* One round of the first `m` blocks, freed in free_order[] restricted to
 * them. Returns the elapsed ns, or 0 when it gave up while allocating
 * (*made then says how far it got). */
static uint64_t trial_round(const hb_allocator *a, void **blocks, const size_t *sizes,
                            const size_t *free_order, size_t n, size_t m, size_t *made) {
  uint64_t start_ns = hb_gbf_now_ns();
  uint64_t deadline_ns = start_ns + (uint64_t)HB_GBF_TRIAL_BUDGET_NS;
  for (*made = 0; *made < m; ++*made) {
    if (*made % TRIAL_CHECK_EVERY == 0 && hb_gbf_now_ns() > deadline_ns) break;
    blocks[*made] = a->malloc(sizes[*made]);
  }
  if (*made < m) {
    for (size_t i = *made; i-- > 0;) a->free(blocks[i], sizes[i]);
    return 0;
  }
  hb_gb_clobber();
  for (size_t i = 0; i < n; i++) {
    size_t k = free_order[i];
    if (k < m) a->free(blocks[k], sizes[k]);
  }
  uint64_t elapsed_ns = hb_gbf_now_ns() - start_ns;
  return elapsed_ns ? elapsed_ns : 1;
}

static int trial(const hb_allocator *a, void **blocks, const size_t *sizes,
                 const size_t *free_order, size_t n, char *reason, size_t reason_len) {
  for (size_t m = n / 8 ? n / 8 : n;; m = m * 2 < n ? m * 2 : n) {
    size_t made;
    uint64_t elapsed_ns = trial_round(a, blocks, sizes, free_order, n, m, &made);
    if (elapsed_ns == 0) {
      snprintf(reason, reason_len,
               "skipped: an untimed trial round of %zu blocks passed %.0f ms after %zu mallocs", m,
               HB_GBF_TRIAL_BUDGET_NS / 1e6, made);
      return 0;
    }
    if ((double)elapsed_ns > HB_GBF_TRIAL_BUDGET_NS) {
      snprintf(reason, reason_len,
               "skipped: an untimed trial round of %zu blocks took %.0f ms (budget %.0f ms)", m,
               (double)elapsed_ns / 1e6, HB_GBF_TRIAL_BUDGET_NS / 1e6);
      return 0;
    }
    if (m == n) return 1;
  }
}

static void release(void **blocks, size_t *sizes, size_t *free_order, size_t n) {
  hb_gbf_scratch_release(blocks, n * sizeof *blocks);
  hb_gbf_scratch_release(sizes, n * sizeof *sizes);
  hb_gbf_scratch_release(free_order, n * sizeof *free_order);
}

static void bm_blocks(hb_gb_state *state, void *context) {
  blocks_context *c = context;
  const hb_allocator *a = c->allocator;
  int64_t arg = hb_gb_range(state, 0);
  size_t n = (size_t)arg;
  int needs_trial = hb_gbf_guard_check(&c->guard, state, arg);
  if (needs_trial < 0) return;

  hb_gbf_memory memory = {0};
  hb_gbf_memory_start(&memory, a);
  /* The benchmark's own arrays, made before timing, outside every heap. */
  void **blocks = hb_gbf_scratch(n * sizeof *blocks);
  size_t *sizes = hb_gbf_scratch(n * sizeof *sizes);
  size_t *free_order = hb_gbf_scratch(n * sizeof *free_order);
  if (!blocks || !sizes || !free_order) {
    release(blocks, sizes, free_order, n);
    hb_gb_skip_with_error(state, "out of memory for the benchmark's own arrays");
    hb_gbf_drain(state);
    return;
  }
  hb_gbf_sizes(sizes, n, MIN_BLOCK_BYTES, MAX_BLOCK_BYTES, SIZES_SEED);
  uint64_t live_bytes = 0;
  for (size_t i = 0; i < n; i++) live_bytes += sizes[i];
  switch (c->order) {
    case FREE_LIFO:
      for (size_t i = 0; i < n; i++) free_order[i] = n - 1 - i;
      break;
    case FREE_FIFO:
      for (size_t i = 0; i < n; i++) free_order[i] = i;
      break;
    case FREE_RANDOM: hb_gbf_permutation(free_order, n, ORDER_SEED); break;
  }

  if (needs_trial) {
    char reason[200];
    int passed = trial(a, blocks, sizes, free_order, n, reason, sizeof reason);
    if (hb_gbf_guard_record(&c->guard, state, arg, passed, reason) != 0) {
      release(blocks, sizes, free_order, n);
      return;
    }
  }

  int failed = 0;
  uint64_t batch;
  while (hb_gb_keep_running_batch(state, &batch))
    for (uint64_t i = 0; i < batch; i++)
      failed |= round_of_blocks(a, blocks, sizes, free_order, n, NULL, 0);

  failed |= round_of_blocks(a, blocks, sizes, free_order, n, &memory, live_bytes);
  release(blocks, sizes, free_order, n);
  if (failed) {
    hb_gb_skip_with_error(state, "malloc returned NULL");
    return;
  }
  hb_gbf_memory_report(state, &memory);
  hb_gb_items_processed(state, (int64_t)(hb_gb_iterations(state) * 2 * n));
}

void hb_gbf_register_blocks(const hb_allocator *a) {
  static const struct {
    const char *family;
    enum free_order order;
  } families[] = {{"lifo", FREE_LIFO}, {"fifo", FREE_FIFO}, {"random", FREE_RANDOM}};
  for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
    /* Lives as long as the registration, the whole process: scratch
     * memory (mmap, zeroed), out of the measured heaps. */
    blocks_context *c = hb_gbf_scratch(sizeof *c);
    if (!c) {
      fprintf(stderr, "hb-gbench: out of memory registering %s/%s\n", families[f].family, a->name);
      exit(1);
    }
    c->allocator = a;
    c->order = families[f].order;
    hb_gb_bench *bench = hb_gbf_register(families[f].family, a, bm_blocks, c);
    for (size_t i = 0; i < sizeof block_counts / sizeof block_counts[0]; i++)
      hb_gb_arg(bench, block_counts[i]);
  }
}
