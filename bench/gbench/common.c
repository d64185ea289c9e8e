/* common.c — what the families share: names, memory counters, the time
 * guard and the deterministic inputs (see families.h). */
#include "families.h"

#include <stdio.h>
#include <sys/mman.h>
#include <time.h>

hb_gb_bench *hb_gbf_register(const char *family, const hb_allocator *allocator, hb_gb_fn fn,
                             void *context) {
  char name[256];
  snprintf(name, sizeof name, "%s/%s", family, allocator->name);
  return hb_gb_register(name, fn, context);
}

/* ---- Memory counters ---- */

void hb_gbf_memory_start(hb_gbf_memory *memory, const hb_allocator *allocator) {
  memory->start_known =
      allocator->stat(HB_STAT_FOOTPRINT_BYTES, &memory->start_footprint_bytes) == 0;
}

void hb_gbf_memory_sample(hb_gbf_memory *memory, const hb_allocator *allocator,
                          uint64_t live_requested_bytes) {
  uint64_t footprint_bytes;
  if (allocator->stat(HB_STAT_FOOTPRINT_BYTES, &footprint_bytes) != 0) return;
  if (!memory->known || footprint_bytes > memory->peak_footprint_bytes) {
    memory->peak_footprint_bytes = footprint_bytes;
    memory->live_at_peak_bytes = live_requested_bytes;
  }
  memory->known = 1;
}

void hb_gbf_memory_report(hb_gb_state *state, const hb_gbf_memory *memory) {
  if (memory->start_known)
    hb_gb_counter(state, "start_footprint_bytes", (double)memory->start_footprint_bytes,
                  HB_GB_COUNTER_PLAIN);
  if (!memory->known) return;
  hb_gb_counter(state, "peak_footprint_bytes", (double)memory->peak_footprint_bytes,
                HB_GB_COUNTER_PLAIN);
  if (memory->peak_footprint_bytes > 0)
    hb_gb_counter(state, "utilization",
                  (double)memory->live_at_peak_bytes / (double)memory->peak_footprint_bytes,
                  HB_GB_COUNTER_PLAIN);
}

/* ---- The time guard ---- */

void hb_gbf_drain(hb_gb_state *state) {
  uint64_t n;
  while (hb_gb_keep_running_batch(state, &n)) {
  }
}

static void skip(hb_gb_state *state, const char *reason) {
  hb_gb_skip_with_error(state, reason);
  hb_gbf_drain(state);
}

int hb_gbf_guard_check(hb_gbf_guard *guard, hb_gb_state *state, int64_t arg) {
  if (guard->failed_arg != 0 && arg >= guard->failed_arg) {
    char reason[sizeof guard->failed_reason + 64];
    if (arg == guard->failed_arg)
      snprintf(reason, sizeof reason, "%s", guard->failed_reason);
    else
      snprintf(reason, sizeof reason, "skipped: larger than %lld, which failed its trial (%s)",
               (long long)guard->failed_arg, guard->failed_reason);
    skip(state, reason);
    return -1;
  }
  return arg <= guard->passed_arg ? 0 : 1;
}

int hb_gbf_guard_record(hb_gbf_guard *guard, hb_gb_state *state, int64_t arg, int passed,
                        const char *reason) {
  if (passed) {
    if (arg > guard->passed_arg) guard->passed_arg = arg;
    return 0;
  }
  if (guard->failed_arg == 0 || arg < guard->failed_arg) {
    guard->failed_arg = arg;
    snprintf(guard->failed_reason, sizeof guard->failed_reason, "%s", reason);
  }
  skip(state, reason);
  return -1;
}

/* ---- Deterministic inputs ---- */

uint64_t hb_gbf_random(uint64_t *seed) {
  uint64_t x = *seed;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *seed = x;
  return x * UINT64_C(2685821657736338717);
}

void hb_gbf_sizes(size_t *sizes, size_t n, size_t min_bytes, size_t max_bytes, uint64_t seed) {
  uint64_t span = (uint64_t)(max_bytes - min_bytes) + 1;
  for (size_t i = 0; i < n; i++) sizes[i] = min_bytes + (size_t)(hb_gbf_random(&seed) % span);
}

void hb_gbf_permutation(size_t *order, size_t n, uint64_t seed) {
  for (size_t i = 0; i < n; i++) order[i] = i;
  for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
    size_t j = (size_t)(hb_gbf_random(&seed) % i);
    size_t t = order[i - 1];
    order[i - 1] = order[j];
    order[j] = t;
  }
}

uint64_t hb_gbf_now_ns(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (uint64_t)now.tv_sec * UINT64_C(1000000000) + (uint64_t)now.tv_nsec;
}

void *hb_gbf_scratch(size_t bytes) {
  void *ptr = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return ptr == MAP_FAILED ? NULL : ptr;
}

void hb_gbf_scratch_release(void *ptr, size_t bytes) {
  if (ptr) munmap(ptr, bytes);
}
