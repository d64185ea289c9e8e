/* cell_order.c — the cells of one trace take turns pass by pass
 * (hb_cells_run), and each keeps its own time limit.
 *
 * The workers here are stand-in shell scripts: each run appends
 * "<allocator> <pass>" to a log and prints what a worker prints for an
 * ok pass; the one named "slow" sleeps first. With three timed passes:
 * the log must read fast, slow, fast, slow, ..., then each cell's
 * instrumented and latency passes, and the slow cell must run
 * out of its own time while the fast one completes.
 */
#include "hb_replay.h"
#include "hb_test.h"
#include "hb_trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/hb-cell-order-XXXXXX";
static char log_path[256];

/* A stand-in worker: `replay --allocator NAME --ops F --pass PASS ...`. */
static void write_worker(const char *path) {
  FILE *f = fopen(path, "w");
  if (!f) return;
  fprintf(f,
          "#!/bin/sh\n"
          "[ \"$3\" = slow ] && sleep %s\n"
          "echo \"$3 $7\" >> '%s'\n"
          "printf 'status ok\\nelapsed_ns 1000\\ncpu_ns 900\\npeak_rss_bytes 4096\\n"
          "warm_elapsed_ns 600\\npeak_footprint_bytes 8192\\n'\n",
          "0.5", log_path);
  fclose(f);
  chmod(path, 0755);
}

static size_t read_log(char lines[][64], size_t max) {
  FILE *f = fopen(log_path, "r");
  size_t n = 0;
  if (!f) return 0;
  while (n < max && fgets(lines[n], sizeof lines[n], f)) {
    lines[n][strcspn(lines[n], "\n")] = 0;
    n++;
  }
  fclose(f);
  return n;
}

static int encode_small_trace(hb_ops_header *header) {
  hb_trace trace;
  hb_error error;
  hb_trace_init(&trace, "order", "synthetic");
  hb_trace_push(&trace, (hb_op){.kind = HB_OP_MALLOC, .id = 0, .size = 100}, &error);
  hb_trace_push(&trace, (hb_op){.kind = HB_OP_FREE, .id = 0}, &error);
  int fd = hb_ops_encode(&trace, header, &error);
  HB_CHECK(fd >= 0, "encode: %s", error.message);
  hb_trace_release(&trace);
  return fd;
}

int main(void) {
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(log_path, sizeof log_path, "%s/log", dir);
  hb_allocator_info infos[2] = {{.name = "fast"}, {.name = "slow"}};
  for (int a = 0; a < 2; a++) {
    snprintf(infos[a].worker_path, sizeof infos[a].worker_path, "%s/worker", dir);
    snprintf(infos[a].group, sizeof infos[a].group, "test");
  }
  write_worker(infos[0].worker_path);
  hb_ops_header header;
  int fd = encode_small_trace(&header);
  if (fd < 0) return hb_test_exit("cell-order");

  /* 1. No limit: three rounds of timed passes, then the instrumented ones. */
  hb_replay_settings settings = {.repeat = 3};
  hb_cell_result results[2];
  hb_cell_job jobs[2] = {{&infos[0], "fast", &results[0]}, {&infos[1], "slow", &results[1]}};
  hb_cells_run(jobs, 2, fd, &header, &settings);
  const char *want[] = {"fast timed", "slow timed", "fast timed", "slow timed", "fast timed",
                        "slow timed", "fast instrumented", "fast latency",
                        "slow instrumented", "slow latency"};
  char lines[16][64];
  size_t n = read_log(lines, 16);
  HB_CHECK(n == 10, "%zu worker runs logged, want 10", n);
  for (size_t i = 0; i < n && i < 10; i++)
    HB_CHECK(strcmp(lines[i], want[i]) == 0, "run %zu was '%s', want '%s'", i + 1, lines[i],
             want[i]);
  for (int a = 0; a < 2; a++) {
    HB_CHECK(strcmp(results[a].status, "ok") == 0 && results[a].cold.measured &&
                 results[a].repeat_done == 3 && results[a].instrumented &&
                 results[a].cold.ns_per_op == 500 && results[a].warm.ns_per_op == 300 && results[a].figure[HB_FIG_PEAK_FOOTPRINT_BYTES] == 8192,
             "%s: status %s, %u passes, %.1f ns/op, footprint %lld", infos[a].name,
             results[a].status, results[a].repeat_done, results[a].cold.ns_per_op,
             (long long)results[a].figure[HB_FIG_PEAK_FOOTPRINT_BYTES]);
    hb_cell_result_release(&results[a]);
  }

  /* 2. A limit of 1.25 s per cell: the slow cell (0.5 s a pass, so at least
   * 1.5 s for three) runs out of its own time; the fast one, run in
   * between, is not charged for the slow one's time and completes. */
  unlink(log_path);
  settings.time_limit_sec = 1.25;
  hb_cells_run(jobs, 2, fd, &header, &settings);
  HB_CHECK(strcmp(results[0].status, "ok") == 0 && results[0].repeat_done == 3 &&
               results[0].instrumented,
           "fast cell under a limit: %s after %u passes", results[0].status,
           results[0].repeat_done);
  HB_CHECK(strcmp(results[1].status, "timeout") == 0 && results[1].repeat_done < 3 &&
               !results[1].cold.measured && !results[1].instrumented,
           "slow cell: status %s after %u passes, want a timeout before the third ended",
           results[1].status, results[1].repeat_done);
  n = read_log(lines, 16);
  HB_CHECK(n == 5 + results[1].repeat_done,
           "%zu runs logged under the limit, want 3 fast + fast's instrumented and latency + %u slow", n,
           results[1].repeat_done);
  for (int a = 0; a < 2; a++) hb_cell_result_release(&results[a]);

  close(fd);
  unlink(log_path);
  unlink(infos[0].worker_path);
  rmdir(dir);
  return hb_test_exit("cell-order");
}
