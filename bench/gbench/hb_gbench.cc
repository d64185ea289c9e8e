// hb_gbench.cc — the project's only C++ file: hb_gbench.h on top of Google
// Benchmark (Debian's 1.7.1). It adds nothing to what Google Benchmark
// measures; it only turns the C calls into State and Benchmark calls.

#include "hb_gbench.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <vector>

// The C side's view of a running benchmark: one per thread per run, on that
// thread's stack for the duration of the call.
struct hb_gb_state {
  benchmark::State *state;
  uint64_t max_per_batch;  // 0: no cap
};

// The C side's handle on a registered benchmark is Google Benchmark's own
// Benchmark object, which it owns for the life of the process: nothing to
// allocate or free here.
static benchmark::internal::Benchmark *unwrap(hb_gb_bench *bench) {
  return reinterpret_cast<benchmark::internal::Benchmark *>(bench);
}

extern "C" {

hb_gb_bench *hb_gb_register(const char *name, hb_gb_fn fn, void *context) {
  benchmark::internal::Benchmark *registered =
      benchmark::RegisterBenchmark(name, [fn, context](benchmark::State &state) {
        hb_gb_state c_state{&state, 0};
        fn(&c_state, context);
      });
  return reinterpret_cast<hb_gb_bench *>(registered);
}

void hb_gb_arg(hb_gb_bench *bench, int64_t value) { unwrap(bench)->Arg(value); }

void hb_gb_args(hb_gb_bench *bench, const int64_t *values, size_t count) {
  unwrap(bench)->Args(std::vector<int64_t>(values, values + count));
}

void hb_gb_threads(hb_gb_bench *bench, int threads) { unwrap(bench)->Threads(threads); }

void hb_gb_use_real_time(hb_gb_bench *bench) { unwrap(bench)->UseRealTime(); }

void hb_gb_use_manual_time(hb_gb_bench *bench) { unwrap(bench)->UseManualTime(); }

int hb_gb_main(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  size_t matched = benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // Google Benchmark reports an empty match on stderr but exits 0; a
  // script or test that selected nothing has made a mistake.
  return matched == 0 ? 1 : 0;
}

bool hb_gb_keep_running_batch(hb_gb_state *c_state, uint64_t *n) {
  benchmark::State &state = *c_state->state;
  // Ask for exactly what is left, so Google Benchmark never overshoots its
  // iteration count; once nothing is left (or after an error), a request
  // for one more iteration is answered false and stops the timer.
  benchmark::IterationCount left = state.max_iterations - state.iterations();
  if (c_state->max_per_batch != 0)
    left = std::min<benchmark::IterationCount>(left, c_state->max_per_batch);
  if (left < 1) left = 1;
  if (!state.KeepRunningBatch(left)) return false;
  *n = static_cast<uint64_t>(left);
  return true;
}

void hb_gb_set_batch_limit(hb_gb_state *state, uint64_t max_per_batch) {
  state->max_per_batch = max_per_batch;
}

int64_t hb_gb_range(const hb_gb_state *state, size_t index) { return state->state->range(index); }

uint64_t hb_gb_iterations(const hb_gb_state *state) {
  return static_cast<uint64_t>(state->state->iterations());
}

int hb_gb_thread_index(const hb_gb_state *state) { return state->state->thread_index(); }
int hb_gb_thread_count(const hb_gb_state *state) { return state->state->threads(); }

void hb_gb_pause(hb_gb_state *state) { state->state->PauseTiming(); }
void hb_gb_resume(hb_gb_state *state) { state->state->ResumeTiming(); }

void hb_gb_set_iteration_time(hb_gb_state *state, double seconds) {
  state->state->SetIterationTime(seconds);
}

void hb_gb_skip_with_error(hb_gb_state *state, const char *reason) {
  state->state->SkipWithError(reason);
}

bool hb_gb_error_occurred(const hb_gb_state *state) { return state->state->error_occurred(); }

void hb_gb_set_label(hb_gb_state *state, const char *label) { state->state->SetLabel(label); }

void hb_gb_items_processed(hb_gb_state *state, int64_t items) {
  state->state->SetItemsProcessed(items);
}

void hb_gb_counter(hb_gb_state *state, const char *name, double value, unsigned flags) {
  int gb_flags = benchmark::Counter::kDefaults;
  if (flags & HB_GB_COUNTER_RATE) gb_flags |= benchmark::Counter::kIsRate;
  if (flags & HB_GB_COUNTER_AVG_THREADS) gb_flags |= benchmark::Counter::kAvgThreads;
  state->state->counters[name] =
      benchmark::Counter(value, static_cast<benchmark::Counter::Flags>(gb_flags));
}

}  // extern "C"
