/* resident_windows.c — the resident peak does not depend on where the
 * ops' windows fall (hb_ops.h). A trace's ops reach the worker window by
 * window, and each window's pages are file pages of the process while it
 * is mapped: the resident peak leaves them out. It must leave out the
 * window mapped at the time, not the first one: a peak in a window
 * smaller than the first came out short by the difference (a trace of
 * more than 2^20 ops, the default window, replayed on glibc, lost 0.5 MiB
 * of a 50 MiB peak; docs/METRICS.md, "Windows of ops").
 *
 * The trace: small blocks made and freed for two windows of WINDOW ops
 * (2 MiB of ops each), then, in a third window of a few ops, one block of
 * BIG bytes made and freed at once. The block lives between two heap-growth
 * samples, so only the kernel's peak mark can see it. Replayed in one
 * window and in windows of WINDOW ops, each allocator's peak resident must
 * agree within SLACK: the kernel's per-CPU counters make a few dozen pages
 * of noise, the bug was a whole window (2 MiB). */
#include "hb_replay.h"
#include "hb_test.h"
#include "hb_trace.h"
#include "window_cell.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WINDOW 131072 /* ops: 2 MiB of hb_ops_op */
#define BIG ((uint64_t)8 << 20)
#define SLACK ((int64_t)1 << 20)

/* Heap-growth samples are taken after op floor((k+1) * ops / 1000) - 1
 * (docs/METRICS.md): non-zero when op `i` is one of them. */
static int sampled(uint64_t i, uint64_t ops) {
  for (uint64_t k = 0; k < 1000; k++)
    if ((k + 1) * ops / 1000 - 1 == i) return 1;
  return 0;
}

static void build_trace(hb_trace *trace, uint64_t ops) {
  hb_error error;
  hb_trace_init(trace, "resident-windows", "synthetic");
  trace->thread_count = 1;
  uint64_t big_at = 2 * WINDOW + 2;
  while (sampled(big_at, ops) || sampled(big_at + 1, ops)) big_at++;
  HB_CHECK(big_at + 2 < ops, "room for the big block: op %llu of %llu", (unsigned long long)big_at,
           (unsigned long long)ops);
  for (uint64_t i = 0; i < ops; i++) {
    hb_op op = {.thread = 0};
    if (i == big_at) {
      op = (hb_op){.kind = HB_OP_MALLOC, .id = 2, .size = BIG};
    } else if (i == big_at + 1) {
      op = (hb_op){.kind = HB_OP_FREE, .id = 2};
    } else if (i % 2 == 0) { /* two small blocks, taking turns */
      op = (hb_op){.kind = HB_OP_MALLOC, .id = (uint32_t)(i / 2 % 2), .size = 64};
    } else {
      op = (hb_op){.kind = HB_OP_FREE, .id = (uint32_t)(i / 2 % 2)};
    }
    HB_CHECK(hb_trace_push(trace, op, &error) == 0, "push: %s", error.message);
  }
  trace->id_count = 3;
  HB_CHECK(hb_trace_check(trace, &error) == 0, "check: %s", error.message);
}

static void run(const hb_allocator_info *allocator, int fd, const hb_ops_header *header,
                const char *window, hb_cell_result *r) {
  hb_replay_settings settings = {.repeat = 1, .time_limit_sec = 60, .no_latency = 1};
  hb_window_cell_run(allocator, fd, header, window, &settings, r);
}

int main(void) {
  hb_allocator_info *infos;
  size_t count = hb_workers_discover(&infos);
  HB_CHECK(count >= 2, "workers found: %zu", count);
  hb_trace trace;
  /* Two full windows and a third of 32 ops: an even count, so every small
   * block made is freed. */
  build_trace(&trace, 2 * WINDOW + 32);
  hb_error error;
  hb_ops_header header;
  int fd = hb_ops_encode(&trace, &header, &error);
  hb_trace_release(&trace);
  HB_CHECK(fd >= 0, "encode: %s", error.message);
  char window[32];
  snprintf(window, sizeof window, "%d", WINDOW);
  for (size_t a = 0; fd >= 0 && a < count; a++) {
    if (strcmp(infos[a].name, "glibc") != 0 && strcmp(infos[a].name, "sbrk") != 0) continue;
    hb_cell_result whole, windowed;
    run(&infos[a], fd, &header, NULL, &whole);
    run(&infos[a], fd, &header, window, &windowed);
    int64_t one = whole.figure[HB_FIG_PEAK_RESIDENT_BYTES];
    int64_t three = windowed.figure[HB_FIG_PEAK_RESIDENT_BYTES];
    HB_CHECK(whole.instrumented && windowed.instrumented,
             "%s: both instrumented passes ran (%s, %s)", infos[a].name, whole.status,
             windowed.status);
    HB_CHECK(one >= (int64_t)BIG - SLACK,
             "%s: in one window the peak holds the big block: %lld bytes", infos[a].name,
             (long long)one);
    HB_CHECK(llabs(one - three) <= SLACK,
             "%s: peak resident %lld bytes in one window, %lld in windows of %d ops", infos[a].name,
             (long long)one, (long long)three, WINDOW);
    hb_cell_result_release(&whole);
    hb_cell_result_release(&windowed);
  }
  unsetenv("HB_OPS_WINDOW_OPS");
  if (fd >= 0) close(fd);
  free(infos);
  return hb_test_exit("resident-windows");
}
