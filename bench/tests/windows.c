/* windows.c — the ops reach the workers window by window (hb_ops.h): a
 * trace replayed with windows of a few ops must give every figure a
 * replay of the whole file in one window gives.
 *
 * The traces are built here so that ops straddle the boundaries of the
 * small windows: at every boundary, a block made by the window's last op
 * is reallocated, or freed by another recording thread, by the next
 * window's first op. Between boundaries, random ops as in threads.c. Each
 * trace runs on every built allocator three times: in one window (the
 * worker's default, HB_OPS_WINDOW_OPS unset), in windows of WINDOW ops and
 * of 1 op. The figures compared: the status, ops, the timed replays'
 * completion, peak live bytes and their op, allocations, reuses, LIFO
 * reuses, reused bytes, reuse distances (median, p90, histogram), size
 * classes, the heap-growth samples (their count, ops and live bytes), the
 * calls the latency pass timed and, for the sbrk policies (whose footprint
 * is their break, the same on every run), the peak footprint and each
 * sample's footprint. A window that lost an op, ran one twice, or let a
 * thread past the boundary early would change them (or crash the replay).
 */
#include "hb_replay.h"
#include "hb_test.h"
#include "hb_trace.h"
#include "window_cell.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OPS 3000
#define WINDOW 16
#define MAX_LIVE 400

static uint64_t next_random(uint64_t *state) {
  *state ^= *state << 13;
  *state ^= *state >> 7;
  *state ^= *state << 17;
  return *state;
}

/* Random ops, except at the boundaries of windows of WINDOW ops: the last
 * op of each window makes a block on thread t, the first of the next
 * reallocates it (even windows) or frees it from thread t + 1 (odd
 * ones). */
static void build_trace(hb_trace *trace, uint32_t threads) {
  hb_error error;
  hb_trace_init(trace, threads > 1 ? "windows-threads" : "windows", "synthetic");
  trace->thread_count = threads;
  static uint32_t live[MAX_LIVE + 1], free_ids[MAX_LIVE + 1];
  uint32_t live_count = 0, free_count = 0, next_id = 0, straddling = 0;
  uint64_t state = 7 + threads;
  for (uint32_t i = 0; i < OPS; i++) {
    uint64_t r = next_random(&state);
    uint32_t thread = (uint32_t)(r % threads);
    hb_op op = {.thread = thread};
    uint32_t roll = (uint32_t)((r >> 8) % 100);
    if (i % WINDOW == WINDOW - 1) { /* the window's last op: a new block */
      op.kind = HB_OP_MALLOC;
      op.id = straddling = free_count ? free_ids[--free_count] : next_id++;
      op.size = 24 + (r >> 40) % 3000;
      op.thread = (i / WINDOW) % threads;
      live[live_count++] = op.id;
    } else if (i % WINDOW == 0 && i > 0 && (i / WINDOW) % 2 == 0) { /* reallocated */
      op.kind = HB_OP_REALLOC;
      op.id = straddling;
      op.size = 100 + (r >> 40) % 5000;
      op.thread = (i / WINDOW - 1) % threads;
    } else if (i % WINDOW == 0 && i > 0) { /* freed by the next thread */
      op.kind = HB_OP_FREE;
      op.id = straddling;
      op.thread = (i / WINDOW) % threads;
      for (uint32_t k = 0; k < live_count; k++)
        if (live[k] == straddling) {
          live[k] = live[--live_count];
          break;
        }
      free_ids[free_count++] = straddling;
    } else if (roll < 2) {
      op.kind = HB_OP_FREE;
      op.id = HB_NULL_ID;
    } else if (live_count && (roll < 45 || live_count >= MAX_LIVE)) {
      uint32_t k = (uint32_t)((r >> 20) % live_count);
      op.kind = HB_OP_FREE;
      op.id = live[k];
      live[k] = live[--live_count];
      free_ids[free_count++] = op.id;
    } else if (live_count && roll < 55) {
      op.kind = HB_OP_REALLOC;
      op.id = live[(r >> 20) % live_count];
      op.size = 16 + (r >> 40) % 2000;
    } else {
      op.kind = (r >> 50) % 8 == 0 ? HB_OP_CALLOC : HB_OP_MALLOC;
      op.id = free_count ? free_ids[--free_count] : next_id++;
      op.size = 8 + (r >> 40) % 600;
      live[live_count++] = op.id;
    }
    HB_CHECK(hb_trace_push(trace, op, &error) == 0, "push: %s", error.message);
  }
  trace->id_count = next_id;
  HB_CHECK(hb_trace_check(trace, &error) == 0, "check: %s", error.message);
}

static void run(const hb_allocator_info *allocator, int fd, const hb_ops_header *header,
                const char *window, hb_cell_result *r) {
  hb_replay_settings settings = {.repeat = 1, .time_limit_sec = 60};
  hb_window_cell_run(allocator, fd, header, window, &settings, r);
}

#define SAME(field, what)                                                                  \
  HB_CHECK(a->field == b->field, "%s, %s, window %s: %s %lld != %lld in one window", trace, \
           name, window, what, (long long)a->field, (long long)b->field)

/* `a`: replayed in small windows; `b`: in one. */
static void compare(const char *trace, const char *name, const char *window,
                    const hb_cell_result *a, const hb_cell_result *b) {
  HB_CHECK(strcmp(a->status, "ok") == 0 && strcmp(b->status, "ok") == 0,
           "%s, %s, window %s: status %s / %s", trace, name, window, a->status, b->status);
  SAME(ops, "ops");
  SAME(repeat_done, "timed passes");
  SAME(cold.measured, "cold replay");
  SAME(warm.measured, "warm replay");
  SAME(instrumented, "instrumented pass");
  SAME(peak_live_bytes, "peak live bytes");
  SAME(peak_live_op, "peak live op");
  static const hb_worker_figure exact[] = {HB_FIG_ALLOCATIONS, HB_FIG_REUSES, HB_FIG_LIFO_REUSES,
                                           HB_FIG_ALLOCATED_BYTES, HB_FIG_REUSED_BYTES,
                                           HB_FIG_REUSE_DISTANCE_MEDIAN, HB_FIG_REUSE_DISTANCE_P90};
  for (size_t k = 0; k < sizeof exact / sizeof exact[0]; k++)
    SAME(figure[exact[k]], hb_worker_figure_key(exact[k]));
  int sbrk = strncmp(name, "sbrk", 4) == 0;
  if (sbrk) SAME(figure[HB_FIG_PEAK_FOOTPRINT_BYTES], "peak footprint");
  SAME(histogram_count, "reuse distance histogram buckets");
  for (unsigned k = 0; k < a->histogram_count && k < b->histogram_count; k++) {
    SAME(histogram_bound[k], "histogram bound");
    SAME(histogram_reuses[k], "histogram count");
  }
  for (unsigned k = 0; k < HB_SIZE_CLASSES; k++) {
    SAME(size_class[k].allocations, "size class allocations");
    SAME(size_class[k].reuses, "size class reuses");
    SAME(size_class[k].peak_live_bytes, "size class peak live");
  }
  SAME(sample_count, "heap-growth samples");
  for (size_t k = 0; k < a->sample_count && k < b->sample_count; k++) {
    SAME(samples[k].op, "sample op");
    SAME(samples[k].live_bytes, "sample live bytes");
    if (sbrk) SAME(samples[k].footprint_bytes, "sample footprint");
  }
  SAME(latency.measured, "latency pass");
  for (unsigned k = 0; k < HB_LATENCY_KINDS; k++) SAME(latency.count[k], "calls timed");
}

static void check_trace(uint32_t threads, const hb_allocator_info *infos, size_t count) {
  hb_trace trace;
  build_trace(&trace, threads);
  hb_error error;
  hb_ops_header header;
  int fd = hb_ops_encode(&trace, &header, &error);
  hb_trace_release(&trace);
  HB_CHECK(fd >= 0, "encode: %s", error.message);
  if (fd < 0) return;
  const char *name = threads > 1 ? "multi-threaded trace" : "single-threaded trace";
  static const char *const windows[] = {"16", "1"};
  for (size_t a = 0; a < count; a++) {
    hb_cell_result whole;
    run(&infos[a], fd, &header, NULL, &whole);
    HB_CHECK(whole.instrumented && whole.figure[HB_FIG_REUSES] > 0 && whole.sample_count > 0,
             "%s on %s: the figures compared were measured (%s)", name, infos[a].name,
             whole.status);
    HB_CHECK(threads > 1 || whole.latency.measured, "%s on %s: latency measured", name,
             infos[a].name);
    for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++) {
      hb_cell_result small;
      run(&infos[a], fd, &header, windows[w], &small);
      compare(name, infos[a].name, windows[w], &small, &whole);
      hb_cell_result_release(&small);
    }
    hb_cell_result_release(&whole);
  }
  unsetenv("HB_OPS_WINDOW_OPS");
  close(fd);
}

int main(void) {
  hb_allocator_info *infos;
  size_t count = hb_workers_discover(&infos);
  HB_CHECK(count >= 2, "workers found: %zu", count);
  check_trace(1, infos, count);
  check_trace(3, infos, count);
  free(infos);
  return hb_test_exit("windows");
}
