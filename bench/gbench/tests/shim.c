/* shim.c — benchmarks that exercise hb_gbench.h itself; check_shim.py runs
 * them and checks the JSON they produce. Each benchmark checks what it can
 * see from inside and reports a failure as an error, which the script
 * catches; what only the output shows (counter values, flags, names) is
 * checked by the script. */
#include "hb_gbench.h"

#include <stdio.h>

/* Counts the iterations handed out in batches: must be exactly what
 * Google Benchmark reports, with no overshoot. */
static void bm_count(hb_gb_state *state, void *context) {
  (void)context;
  uint64_t handed_out = 0, n;
  while (hb_gb_keep_running_batch(state, &n)) handed_out += n;
  if (handed_out != hb_gb_iterations(state)) {
    char reason[128];
    snprintf(reason, sizeof reason, "handed out %llu iterations, state says %llu",
             (unsigned long long)handed_out, (unsigned long long)hb_gb_iterations(state));
    hb_gb_skip_with_error(state, reason);
    return;
  }
  hb_gb_counter(state, "handed_out", (double)handed_out, HB_GB_COUNTER_PLAIN);
  hb_gb_counter(state, "arg0", (double)hb_gb_range(state, 0), HB_GB_COUNTER_PLAIN);
  hb_gb_counter(state, "arg1", (double)hb_gb_range(state, 1), HB_GB_COUNTER_PLAIN);
  hb_gb_counter(state, "rate", (double)handed_out, HB_GB_COUNTER_RATE);
  hb_gb_items_processed(state, (int64_t)handed_out * 3);
}

/* A batch limit of 1 with the timer paused in every iteration. */
static void bm_limit_pause(hb_gb_state *state, void *context) {
  (void)context;
  hb_gb_set_batch_limit(state, 1);
  uint64_t largest = 0, n;
  while (hb_gb_keep_running_batch(state, &n)) {
    if (n > largest) largest = n;
    hb_gb_pause(state);
    hb_gb_resume(state);
  }
  hb_gb_counter(state, "largest_batch", (double)largest, HB_GB_COUNTER_PLAIN);
}

static void bm_skip(hb_gb_state *state, void *context) {
  (void)context;
  hb_gb_skip_with_error(state, "skipped on purpose");
  uint64_t n, handed_out = 0;
  while (hb_gb_keep_running_batch(state, &n)) handed_out += n;
  if (!hb_gb_error_occurred(state) || handed_out != 0)
    fprintf(stderr, "shim: skip: error lost or iterations handed out after it\n");
}

/* Every thread adds 1 (summed) and 1 averaged over threads. */
static void bm_threads(hb_gb_state *state, void *context) {
  int *expected_threads = context;
  uint64_t n;
  while (hb_gb_keep_running_batch(state, &n)) {
  }
  if (hb_gb_thread_count(state) != *expected_threads) {
    hb_gb_skip_with_error(state, "wrong thread count");
    return;
  }
  hb_gb_counter(state, "threads_seen", 1, HB_GB_COUNTER_PLAIN);
  hb_gb_counter(state, "one_on_average", 1, HB_GB_COUNTER_AVG_THREADS);
  hb_gb_counter(state, "index_sum", hb_gb_thread_index(state), HB_GB_COUNTER_PLAIN);
}

/* Claims 2 ms per iteration, whatever the timer says. */
static void bm_manual(hb_gb_state *state, void *context) {
  (void)context;
  uint64_t n;
  while (hb_gb_keep_running_batch(state, &n)) hb_gb_set_iteration_time(state, 2e-3 * (double)n);
  hb_gb_set_label(state, "two ms");
}

int main(int argc, char **argv) {
  hb_gb_bench *count = hb_gb_register("shim/count", bm_count, NULL);
  const int64_t args[] = {3, 5};
  hb_gb_args(count, args, 2);
  hb_gb_register("shim/limit-pause", bm_limit_pause, NULL);
  hb_gb_register("shim/skip", bm_skip, NULL);
  static int two = 2;
  hb_gb_bench *threads = hb_gb_register("shim/threads", bm_threads, &two);
  hb_gb_threads(threads, 2);
  hb_gb_use_real_time(threads);
  hb_gb_use_manual_time(hb_gb_register("shim/manual", bm_manual, NULL));
  return hb_gb_main(argc, argv);
}
