/* hb_gbench.h — Google Benchmark for C code: the whole C face of the shim.
 *
 * hb_gbench.cc is the project's only C++ file; everything else registers
 * and writes benchmarks in C through this header:
 *
 *   static void bm_pairs(hb_gb_state *state, void *context) {
 *     const hb_allocator *a = context;
 *     size_t size = (size_t)hb_gb_range(state, 0);
 *     uint64_t n;
 *     while (hb_gb_keep_running_batch(state, &n))
 *       for (uint64_t i = 0; i < n; i++) {
 *         void *p = a->malloc(size);
 *         hb_gb_escape(p);
 *         a->free(p, size);
 *       }
 *     hb_gb_items_processed(state, hb_gb_iterations(state));
 *   }
 *   ...
 *   hb_gb_bench *b = hb_gb_register("pairs/glibc", bm_pairs, (void *)a);
 *   hb_gb_arg(b, 64);                         -> "pairs/glibc/64"
 *   return hb_gb_main(argc, argv);
 *
 * Names: Google Benchmark appends each argument ("/64") and, where set,
 * "/real_time" and "/threads:N" to the registered name; register names as
 * "family/allocator" so results split mechanically on '/'.
 *
 * Every function here takes the handle it was given; none of them keeps a
 * pointer to the strings passed in (names are copied).
 */
#ifndef HB_GBENCH_H
#define HB_GBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One running benchmark on one thread (a benchmark::State underneath). */
typedef struct hb_gb_state hb_gb_state;
/* One registered benchmark, to add arguments and options to. */
typedef struct hb_gb_bench hb_gb_bench;

/* context: whatever the registration passed, unchanged. */
typedef void (*hb_gb_fn)(hb_gb_state *state, void *context);

/* ------------------------------------------------------------------------
 * Registration (before hb_gb_main)
 * ---------------------------------------------------------------------- */
hb_gb_bench *hb_gb_register(const char *name, hb_gb_fn fn, void *context);
/* One run per call, with range(0) = value. */
void hb_gb_arg(hb_gb_bench *bench, int64_t value);
/* One run with range(0..count-1) = values[0..count-1]. */
void hb_gb_args(hb_gb_bench *bench, const int64_t *values, size_t count);
/* Run on `threads` threads at once (the function is called on each). */
void hb_gb_threads(hb_gb_bench *bench, int threads);
/* Report wall-clock time rather than the main thread's CPU time (appends
 * "/real_time" to the name): what threaded benchmarks should report. */
void hb_gb_use_real_time(hb_gb_bench *bench);

/* Report the time the benchmark measures itself (hb_gb_set_iteration_time)
 * instead of the timer's (appends "/manual_time" to the name). */
void hb_gb_use_manual_time(hb_gb_bench *bench);

/* Runs the benchmarks the command line selects (--benchmark_filter, ...,
 * see --help). Returns the exit status: 0, or 1 when an argument was not
 * understood or the filter matched no benchmark. */
int hb_gb_main(int argc, char **argv);

/* ------------------------------------------------------------------------
 * Inside a benchmark
 * ---------------------------------------------------------------------- */
/* Hands out the iterations still to run: true with *n >= 1 iterations to
 * run now, false when the benchmark is done (timing stops then). The whole
 * remainder comes in one batch unless hb_gb_set_batch_limit was called, so
 * the C loop pays no per-iteration call. Run exactly *n iterations. */
bool hb_gb_keep_running_batch(hb_gb_state *state, uint64_t *n);
/* Caps the batches handed out from now on (0: no cap). A benchmark that
 * pauses the timer between iterations uses a limit of 1. */
void hb_gb_set_batch_limit(hb_gb_state *state, uint64_t max_per_batch);

int64_t hb_gb_range(const hb_gb_state *state, size_t index);
/* Iterations completed so far on this thread (all of them once
 * hb_gb_keep_running_batch returned false). */
uint64_t hb_gb_iterations(const hb_gb_state *state);
int hb_gb_thread_index(const hb_gb_state *state);
int hb_gb_thread_count(const hb_gb_state *state);

/* Pause and resume the timer (costly: microseconds; keep out of hot loops). */
void hb_gb_pause(hb_gb_state *state);
void hb_gb_resume(hb_gb_state *state);

/* With hb_gb_use_manual_time: adds `seconds` to the run's measured time
 * (the reported time per iteration is the sum over the iterations). */
void hb_gb_set_iteration_time(hb_gb_state *state, double seconds);

/* Marks the run as failed with a one-line reason; the result is reported
 * with error_occurred and the message. The caller must still leave its
 * loop (hb_gb_keep_running_batch then returns false) and return. */
void hb_gb_skip_with_error(hb_gb_state *state, const char *reason);
bool hb_gb_error_occurred(const hb_gb_state *state);

/* A short text shown with the result ("label" in the JSON). */
void hb_gb_set_label(hb_gb_state *state, const char *label);

/* Items processed by this thread: reported as items_per_second. */
void hb_gb_items_processed(hb_gb_state *state, int64_t items);

enum {
  HB_GB_COUNTER_PLAIN = 0,
  /* Divided by the elapsed time: a rate per second. */
  HB_GB_COUNTER_RATE = 1u << 0,
  /* Divided by the number of threads (the threads' values are summed). */
  HB_GB_COUNTER_AVG_THREADS = 1u << 1,
};
/* Sets a user counter on this thread; threads' values are summed. */
void hb_gb_counter(hb_gb_state *state, const char *name, double value, unsigned flags);

/* ------------------------------------------------------------------------
 * Keeping the compiler honest
 * ---------------------------------------------------------------------- */
/* The compiler must assume `ptr` (and what it points to) is read and
 * written here, so a malloc whose result is escaped, and its free, stay in
 * the code: GCC otherwise deletes an unused malloc/free pair. Emits no
 * instruction. */
static inline void hb_gb_escape(const void *ptr) {
  __asm__ volatile("" : : "g"(ptr) : "memory");
}
/* The compiler must assume all memory is read and written here. */
static inline void hb_gb_clobber(void) { __asm__ volatile("" : : : "memory"); }

#ifdef __cplusplus
}
#endif
#endif
