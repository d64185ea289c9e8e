/* realloc.c — one block grown by realloc until it reaches FINAL bytes, then
 * freed (one chain per iteration):
 *
 *   realloc/A/FINAL          16 B doubled up to FINAL (a growing vector)
 *   realloc-append/A/FINAL   64 B grown 64 B at a time up to FINAL
 *                            (a string built by appending)
 *
 * Items processed counts allocator calls (malloc, each realloc, free).
 * Utilization is sampled with the FINAL-byte block live, in one more
 * untimed chain after the timed loop. A chain is at most 1026 calls, so
 * even a slow allocator finishes an iteration quickly: no time guard is
 * needed (families.h). realloc-append stops at 64 KiB: an
 * allocator that never reuses the blocks a chain leaves behind (the sbrk
 * tutorial) holds the sum of every step, 32 MiB at 64 KiB.
 */
#include "families.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct chain {
  const char *family;
  size_t first_bytes;
  int doubling;        /* 1: size *= 2; 0: size += step_bytes */
  size_t step_bytes;
  int64_t finals[3];
} chain;

static const chain chains[] = {
    {"realloc", 16, 1, 0, {4096, 65536, 1048576}},
    {"realloc-append", 64, 0, 64, {1024, 8192, 65536}},
};

typedef struct realloc_context {
  const hb_allocator *allocator;
  const chain *chain;
} realloc_context;

static uint64_t calls_per_chain(const chain *ch, size_t final_bytes) {
  uint64_t reallocs = 0;
  for (size_t size = ch->first_bytes; size < final_bytes;
       size = ch->doubling ? size * 2 : size + ch->step_bytes)
    reallocs++;
  return reallocs + 2; /* malloc and free */
}

/* One chain; samples the memory at its end when `memory` is set. Returns
 * 0, or -1 when an allocation failed. */
static inline __attribute__((always_inline)) int run_chain(const hb_allocator *a, const chain *ch,
                                                           size_t final_bytes,
                                                           hb_gbf_memory *memory) {
  size_t size = ch->first_bytes;
  void *p = a->malloc(size);
  if (!p) return -1;
  while (size < final_bytes) {
    size_t next = ch->doubling ? size * 2 : size + ch->step_bytes;
    if (next > final_bytes) next = final_bytes;
    void *grown = a->realloc(p, next);
    if (!grown) {
      a->free(p, size);
      return -1;
    }
    hb_gb_escape(grown);
    p = grown;
    size = next;
  }
  if (memory) hb_gbf_memory_sample(memory, a, size);
  a->free(p, size);
  return 0;
}

static void bm_chain(hb_gb_state *state, void *context) {
  realloc_context *c = context;
  const hb_allocator *a = c->allocator;
  int64_t arg = hb_gb_range(state, 0);
  size_t final_bytes = (size_t)arg;
  uint64_t calls = calls_per_chain(c->chain, final_bytes);
  hb_gbf_memory memory = {0};
  hb_gbf_memory_start(&memory, a);
  int failed = 0;
  uint64_t batch;
  while (hb_gb_keep_running_batch(state, &batch))
    for (uint64_t i = 0; i < batch; i++) failed |= run_chain(a, c->chain, final_bytes, NULL);

  failed |= run_chain(a, c->chain, final_bytes, &memory);
  if (failed) {
    hb_gb_skip_with_error(state, "malloc or realloc returned NULL");
    return;
  }
  hb_gbf_memory_report(state, &memory);
  hb_gb_items_processed(state, (int64_t)(hb_gb_iterations(state) * calls));
}

void hb_gbf_register_realloc(const hb_allocator *a) {
  for (size_t f = 0; f < sizeof chains / sizeof chains[0]; f++) {
    /* Lives as long as the registration, the whole process: scratch
     * memory (mmap, zeroed), out of the measured heaps. */
    realloc_context *c = hb_gbf_scratch(sizeof *c);
    if (!c) {
      fprintf(stderr, "hb-gbench: out of memory registering %s/%s\n", chains[f].family, a->name);
      exit(1);
    }
    c->allocator = a;
    c->chain = &chains[f];
    hb_gb_bench *bench = hb_gbf_register(chains[f].family, a, bm_chain, c);
    for (size_t i = 0; i < sizeof chains[f].finals / sizeof chains[f].finals[0]; i++)
      hb_gb_arg(bench, chains[f].finals[i]);
  }
}
