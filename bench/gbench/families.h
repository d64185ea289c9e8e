/* families.h — what the microbenchmark families share (private to
 * bench/gbench/). One file per family group registers its benchmarks for
 * one allocator; main.c calls every register function for every allocator
 * of the executable's group, so each result is named
 * "family/allocator/arg[/arg]" (plus Google Benchmark's "/real_time",
 * "/threads:N").
 */
#ifndef HB_GBF_FAMILIES_H
#define HB_GBF_FAMILIES_H

#include "hb_allocator.h"
#include "hb_gbench.h"

#include <stddef.h>
#include <stdint.h>

/* ---- Registration, one call per allocator ---- */
void hb_gbf_register_pairs(const hb_allocator *allocator);   /* pairs, calloc, aligned */
void hb_gbf_register_blocks(const hb_allocator *allocator);  /* lifo, fifo, random */
void hb_gbf_register_realloc(const hb_allocator *allocator); /* realloc, realloc-append */
void hb_gbf_register_threads(const hb_allocator *allocator); /* threads, prodcons */

/* "family/allocator", for hb_gb_register (which copies it). */
hb_gb_bench *hb_gbf_register(const char *family, const hb_allocator *allocator, hb_gb_fn fn,
                             void *context);

/* ---- Memory counters ----
 * Footprint is read through the common interface (stat), only outside the
 * timed loop: a benchmark runs one more round of its workload after the
 * timed loop and samples at that round's peak of live bytes. Counters are
 * left out where the allocator cannot tell its footprint (ENOENT). */
typedef struct hb_gbf_memory {
  int known;                      /* footprint answered at least once */
  int start_known;
  uint64_t start_footprint_bytes; /* before the benchmark's first allocation */
  uint64_t peak_footprint_bytes;  /* largest footprint sampled */
  uint64_t live_at_peak_bytes;    /* bytes requested and live at that sample */
} hb_gbf_memory;

/* Reads the footprint before the benchmark allocates anything: in a full
 * run the heap holds what earlier benchmarks left, and this says how much. */
void hb_gbf_memory_start(hb_gbf_memory *memory, const hb_allocator *allocator);
/* Reads the footprint now, with `live_requested_bytes` requested and live. */
void hb_gbf_memory_sample(hb_gbf_memory *memory, const hb_allocator *allocator,
                          uint64_t live_requested_bytes);
/* Sets start_footprint_bytes, peak_footprint_bytes and utilization (live
 * requested bytes / footprint at the peak sample) where the footprint was
 * known. */
void hb_gbf_memory_report(hb_gb_state *state, const hb_gbf_memory *memory);

/* ---- The time guard for slow allocators ----
 * Google Benchmark's min_time bounds a benchmark whose iteration is short,
 * but it runs at least one iteration: where one iteration grows with the
 * argument (N blocks, a realloc chain) an O(n)-per-malloc allocator such as
 * sbrk-tutorial would take minutes at the largest arguments. A guard
 * belongs to one family and one allocator; its arguments run in ascending
 * order, and an argument whose single iteration, predicted from the
 * previous argument's cost per op, exceeds HB_GBF_ITERATION_BUDGET_NS is
 * skipped with the reason. The prediction assumes a constant cost per op,
 * so an O(n) allocator may run one argument at up to (ratio of arguments)
 * times the budget before the guard stops it. */
#define HB_GBF_ITERATION_BUDGET_NS 50e6

typedef struct hb_gbf_guard {
  const hb_allocator *allocator;
  int64_t measured_arg;   /* 0: nothing measured yet */
  double ns_per_op;       /* at measured_arg */
  uint64_t start_ns;      /* hb_gbf_now_ns() right before the timed loop */
} hb_gbf_guard;

/* Returns 0 to run; otherwise marks the run skipped (with the reason) and
 * drains it: the caller just returns. ops_per_iteration: allocator calls
 * one iteration makes at this argument. */
int hb_gbf_guard_begin(hb_gbf_guard *guard, hb_gb_state *state, int64_t arg,
                       uint64_t ops_per_iteration);
/* After the timed loop: records the cost per op at this argument, from
 * guard->start_ns (which the family sets right before its loop). */
void hb_gbf_guard_end(hb_gbf_guard *guard, hb_gb_state *state, int64_t arg,
                      uint64_t ops_per_iteration);

/* Drains a run that will not be measured (after hb_gb_skip_with_error):
 * Google Benchmark requires the loop to be left through keep_running. */
void hb_gbf_drain(hb_gb_state *state);

/* ---- Deterministic inputs: the same for every allocator ---- */
/* xorshift64*: *seed must not be 0. */
uint64_t hb_gbf_random(uint64_t *seed);
/* n block sizes drawn uniformly from [min_bytes, max_bytes]. */
void hb_gbf_sizes(size_t *sizes, size_t n, size_t min_bytes, size_t max_bytes, uint64_t seed);
/* A random permutation of 0 .. n-1. */
void hb_gbf_permutation(size_t *order, size_t n, uint64_t seed);

uint64_t hb_gbf_now_ns(void);

/* Memory for a benchmark's own arrays, straight from mmap: no allocator
 * under test sees it or counts it in its footprint. NULL on failure. */
void *hb_gbf_scratch(size_t bytes);
void hb_gbf_scratch_release(void *ptr, size_t bytes);

#endif
