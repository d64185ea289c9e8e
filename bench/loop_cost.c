/* loop_cost.c — benchmark: what the replay loop itself costs.
 *
 * The timed pass (worker_timed.c) must stay within 1.10x of a minimal loop
 * over the same pre-decoded ops: the slot table, malloc, free, nothing
 * else. Both run with glibc, each pass in a fresh process (as the replay
 * does), on a deterministic trace of LOOP_OPS malloc/free ops. Each
 * repetition runs the two passes back to back (in alternating order) and
 * takes their ratio; the median of those ratios is checked, because on a
 * shared machine the load drifts between repetitions more than within one.
 *
 *   loop-cost               run the comparison (meson benchmark)
 *   loop-cost --minimal F   one pass of the minimal loop over ops file F
 */
#define _GNU_SOURCE
#include "hb_ops.h"
#include "hb_trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define LOOP_OPS 2000000u
#define LIVE_TARGET 20000u
#define REPETITIONS 11
#define LIMIT 1.10

static uint64_t clock_ns(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The reference: nothing but the slot table and malloc/free, over the
 * whole ops file mapped at once (no windows: the replay's windows are
 * part of what is compared). */
static int minimal_pass(const char *path) {
  hb_ops_file trace;
  char why[512];
  if (hb_ops_map(path, &trace, why, sizeof why) != 0) {
    fprintf(stderr, "loop-cost: %s\n", why);
    return 2;
  }
  uint64_t count = trace.header.op_count;
  size_t file_bytes = sizeof(hb_ops_header) + count * sizeof(hb_ops_op);
  const hb_ops_header *whole =
      mmap(NULL, file_bytes, PROT_READ, MAP_PRIVATE | MAP_POPULATE, trace.fd, 0);
  if (whole == MAP_FAILED) return 2;
  volatile uint8_t sink = 0; /* fault every page in, as the replay's windows are */
  for (size_t off = 0; off < file_bytes; off += 4096) sink ^= ((const uint8_t *)whole)[off];
  (void)sink;
  hb_ops_unmap(&trace);
  size_t bytes = whole->slot_count * sizeof(void *);
  void **slots = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (slots == MAP_FAILED) return 2;
  memset(slots, 0, bytes);
  const hb_ops_op *ops = (const hb_ops_op *)(whole + 1);
  uint64_t t0 = clock_ns(CLOCK_MONOTONIC), cpu0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
  for (uint64_t i = 0; i < count; i++) {
    if (ops[i].kind == HB_OPS_FREE)
      free(slots[ops[i].slot]);
    else
      slots[ops[i].slot] = malloc(ops[i].size);
  }
  uint64_t cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
  uint64_t elapsed = clock_ns(CLOCK_MONOTONIC) - t0;
  printf("elapsed_ns %llu\ncpu_ns %llu\n", (unsigned long long)elapsed, (unsigned long long)cpu);
  return 0;
}

/* A deterministic malloc/free trace: sizes mostly small, some pages; a
 * live set that hovers around LIVE_TARGET blocks. */
static int make_trace(hb_trace *trace, hb_error *error) {
  hb_trace_init(trace, "loop-cost.synthetic", "synthetic");
  uint32_t *live = malloc(LIVE_TARGET * 2 * sizeof *live);
  uint32_t *free_ids = malloc(LIVE_TARGET * 2 * sizeof *free_ids);
  if (!live || !free_ids) return hb_fail(error, "out of memory");
  uint32_t live_count = 0, free_count = 0, next_id = 0;
  uint64_t state = 0x9e3779b97f4a7c15ull;
  for (uint32_t i = 0; i < LOOP_OPS; i++) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    int allocate = live_count == 0 ||
                   (live_count < 2 * LIVE_TARGET - 1 &&
                    (state % 1000) < (live_count < LIVE_TARGET ? 600u : 400u));
    hb_op op = {0};
    if (allocate) {
      op.kind = HB_OP_MALLOC;
      op.id = free_count ? free_ids[--free_count] : next_id++;
      uint64_t r = state >> 20;
      op.size = (r % 16 == 0) ? 512 + r % 3584 : 8 + r % 248;
      live[live_count++] = op.id;
    } else {
      uint32_t k = (uint32_t)((state >> 24) % live_count);
      op.kind = HB_OP_FREE;
      op.id = live[k];
      live[k] = live[--live_count];
      free_ids[free_count++] = op.id;
    }
    if (hb_trace_push(trace, op, error) != 0) return -1;
  }
  trace->id_count = next_id;
  free(live);
  free(free_ids);
  return hb_trace_check(trace, error);
}

typedef struct pass_time {
  double wall_ns, cpu_ns;
} pass_time;

/* Runs `command`; the times it prints, or zeros when it failed. */
static pass_time run_pass(const char *command) {
  pass_time t = {0, 0};
  FILE *pipe = popen(command, "r");
  if (!pipe) return t;
  char line[256];
  unsigned long long value;
  while (fgets(line, sizeof line, pipe)) {
    if (sscanf(line, "elapsed_ns %llu", &value) == 1) t.wall_ns = (double)value;
    if (sscanf(line, "cpu_ns %llu", &value) == 1) t.cpu_ns = (double)value;
  }
  if (pclose(pipe) != 0) t.wall_ns = t.cpu_ns = 0;
  return t;
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, compare);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--minimal") == 0) return minimal_pass(argv[2]);
  if (argc != 1) {
    fprintf(stderr, "usage: loop-cost [--minimal OPS_FILE]\n");
    return 2;
  }
  hb_trace trace;
  hb_error error;
  hb_ops_header header;
  if (make_trace(&trace, &error) != 0) {
    fprintf(stderr, "loop-cost: %s\n", error.message);
    return 1;
  }
  int fd = hb_ops_encode(&trace, &header, &error);
  hb_trace_release(&trace);
  if (fd < 0) {
    fprintf(stderr, "loop-cost: %s\n", error.message);
    return 1;
  }
  char self[4096], minimal[8300], replay[8300];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 1;
  self[n] = 0;
  snprintf(minimal, sizeof minimal, "'%s' --minimal /proc/self/fd/%d", self, fd);
  snprintf(replay, sizeof replay,
           "'%s' replay --allocator glibc --ops /proc/self/fd/%d --pass timed", HB_WORKER_NATIVE,
           fd);
  double minimal_wall[REPETITIONS], replay_wall[REPETITIONS];
  double minimal_cpu[REPETITIONS], replay_cpu[REPETITIONS];
  double wall_ratios[REPETITIONS], cpu_ratios[REPETITIONS];
  for (int r = 0; r < REPETITIONS; r++) {
    pass_time m, p;
    /* Alternate the order so drift on a shared machine hits both. */
    if (r % 2) {
      p = run_pass(replay);
      m = run_pass(minimal);
    } else {
      m = run_pass(minimal);
      p = run_pass(replay);
    }
    if (m.wall_ns == 0 || p.wall_ns == 0 || m.cpu_ns == 0 || p.cpu_ns == 0) {
      fprintf(stderr, "loop-cost: a pass failed\n");
      return 1;
    }
    minimal_wall[r] = m.wall_ns / (double)header.op_count;
    replay_wall[r] = p.wall_ns / (double)header.op_count;
    minimal_cpu[r] = m.cpu_ns / (double)header.op_count;
    replay_cpu[r] = p.cpu_ns / (double)header.op_count;
    wall_ratios[r] = p.wall_ns / m.wall_ns;
    cpu_ratios[r] = p.cpu_ns / m.cpu_ns;
  }
  printf("trace: %llu malloc/free ops (synthetic, deterministic), glibc, %d repetitions, "
         "each pass in a fresh process\n",
         (unsigned long long)header.op_count, REPETITIONS);
  printf("minimal loop:        %.2f ns/op wall, %.2f ns/op CPU (medians)\n",
         median(minimal_wall, REPETITIONS), median(minimal_cpu, REPETITIONS));
  printf("replay (timed pass): %.2f ns/op wall, %.2f ns/op CPU (medians)\n",
         median(replay_wall, REPETITIONS), median(replay_cpu, REPETITIONS));
  double wall_ratio = median(wall_ratios, REPETITIONS);
  double ratio = median(cpu_ratios, REPETITIONS);
  printf("ratio replay/minimal, median of %d back-to-back pairs: wall %.3f (range %.3f-%.3f), "
         "CPU %.3f (range %.3f-%.3f)\n",
         REPETITIONS, wall_ratio, wall_ratios[0], wall_ratios[REPETITIONS - 1], ratio,
         cpu_ratios[0], cpu_ratios[REPETITIONS - 1]);
  /* CPU time is what is checked: on a shared machine, wall time also
   * counts the time another process held the core. */
  printf("check: CPU ratio %.3f <= %.2f: %s\n", ratio, LIMIT, ratio <= LIMIT ? "ok" : "TOO SLOW");
  return ratio <= LIMIT ? 0 : 1;
}
