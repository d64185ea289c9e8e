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
  if (hb_gbf_guard_begin(&c->guard, state, arg, 2 * (uint64_t)n) != 0) return;

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

  c->guard.start_ns = hb_gbf_now_ns();
  int failed = 0;
  uint64_t batch;
  while (hb_gb_keep_running_batch(state, &batch))
    for (uint64_t i = 0; i < batch; i++)
      failed |= round_of_blocks(a, blocks, sizes, free_order, n, NULL, 0);
  hb_gbf_guard_end(&c->guard, state, arg, 2 * (uint64_t)n);

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
    /* Lives as long as the registration: the whole process. */
    blocks_context *c = calloc(1, sizeof *c);
    if (!c) {
      fprintf(stderr, "hb-gbench: out of memory registering %s/%s\n", families[f].family, a->name);
      exit(1);
    }
    c->allocator = a;
    c->order = families[f].order;
    c->guard.allocator = a;
    hb_gb_bench *bench = hb_gbf_register(families[f].family, a, bm_blocks, c);
    for (size_t i = 0; i < sizeof block_counts / sizeof block_counts[0]; i++)
      hb_gb_arg(bench, block_counts[i]);
  }
}
