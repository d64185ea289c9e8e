/* families.h — what the microbenchmark families share (private to
 * bench/gbench/). One file per family group registers its benchmarks for
 * one allocator; main.c calls every register function for every allocator
 * of the executable's group, so each result is named
 * "family/allocator/arg[/arg]" (plus Google Benchmark's "/real_time",
 * "/manual_time", "/threads:N").
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
/* trace: every .hbt file in `dir` on every allocator of the registry. */
void hb_gbf_register_traces(const char *dir);

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
 * argument (N blocks live at once) an allocator whose malloc is O(n), such
 * as sbrk-tutorial, would take minutes at the largest arguments. So before
 * its timed loop such a benchmark runs untimed trial rounds of growing
 * size against a deadline (HB_GBF_TRIAL_BUDGET_NS per round); when one
 * misses it, the argument is skipped with the reason. A guard belongs to
 * one family and one allocator and remembers the outcome: an argument that
 * passed is not tried again, and once one failed, every larger one is
 * skipped without a trial. Near the budget, the machine's load decides. */
#define HB_GBF_TRIAL_BUDGET_NS 250e6

typedef struct hb_gbf_guard {
  int64_t passed_arg; /* largest argument whose trial finished in time, 0: none */
  int64_t failed_arg; /* smallest argument whose trial did not, 0: none */
  char failed_reason[200];
} hb_gbf_guard;

/* 1 when `arg` needs a trial; 0 when it passed before; -1 when it is to
 * be skipped (the run is then marked with the reason and drained: the
 * caller just returns). */
int hb_gbf_guard_check(hb_gbf_guard *guard, hb_gb_state *state, int64_t arg);
/* Records a trial's outcome; on failure marks the run skipped with
 * `reason` and drains it. Returns 0 when the trial passed, -1 otherwise. */
int hb_gbf_guard_record(hb_gbf_guard *guard, hb_gb_state *state, int64_t arg, int passed,
                        const char *reason);

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
