/* replay.c — sbrk-replay, the sbrk allocator's tuning tool: replays traces
 * on named allocators side by side and prints throughput and utilization.
 * (heapbench's own `replay` command is the measurement of record; this is
 * the quick loop for working on the policies.)
 *
 * Usage: sbrk-replay [-r REPS] ALLOCATOR[,ALLOCATOR...] TRACE...
 *
 * Every run is a forked child, so each allocator starts from an empty heap
 * and no run inherits another's state. For each trace and allocator:
 *   - ops/s: REPS timed runs (the ops only, no statistics polled), median;
 *            the time is the child's CPU time, and the allocators' runs
 *            alternate (a, b, a, b, ...) so a change in the machine's load
 *            hits them alike;
 *   - util:  one more run that polls the footprint after every op:
 *            peak live payload (sum of requested sizes) / peak footprint
 *            (absolute), the CS:APP malloc lab's utilization. The trace and
 *            the replayer's tables are moved to private mappings and glibc
 *            is trimmed first (malloc_trim), so glibc's footprint holds
 *            little but the replay: a few KiB of the replayer's own, which
 *            lowers glibc's utilization on tiny traces. glibc answers the footprint with mallinfo2,
 *            which walks all its free lists: far too slow to call after
 *            every op of a large trace, so allocators other than the sbrk
 *            policies (whose footprint is a counter) are polled every
 *            POLL_STRIDE ops and their utilization is approximate.
 * Threads of a multi-threaded trace are replayed in order on one thread.
 */
#include "hb_allocator.h"
#include "hb_trace.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { POLL_STRIDE = 256 };

typedef struct result {
  double seconds;
  double utilization;
  double peak_footprint_bytes;
  int ok;
} result;

/* CPU time of this process (user + system, page faults included): on a
 * shared, busy machine it varies much less than wall-clock time. */
static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t footprint(const hb_allocator *a) {
  uint64_t value = 0;
  a->stat(HB_STAT_FOOTPRINT_BYTES, &value);
  return value;
}

/* Zeroed memory outside every allocator's heap. */
static void *private_zeroed(size_t bytes) {
  void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* One replay (in a child: it releases the trace); `measure_util` polls the
 * footprint. */
static result replay(const hb_allocator *a, hb_trace *t, int measure_util) {
  result r = {0, 0, 0, 0};
  void **ptrs = private_zeroed((t->id_count + 1) * sizeof *ptrs);
  uint64_t *sizes = private_zeroed((t->id_count + 1) * sizeof *sizes);
  hb_op *ops = private_zeroed(t->op_count * sizeof *ops);
  if (!ptrs || !sizes || !ops) return r;
  memcpy(ops, t->ops, t->op_count * sizeof *ops);
  size_t op_count = t->op_count;
  const char *path = t->path;
  free(t->ops); /* gives glibc's copy back before the base footprint is read */
  t->ops = NULL;
  malloc_trim(0);
  int stride = strncmp(a->name, "sbrk", 4) == 0 ? 1 : POLL_STRIDE;
  uint64_t peak_footprint = 0;
  uint64_t live = 0, peak_live = 0;
  double start = now_seconds();
  for (size_t i = 0; i < op_count; i++) {
    const hb_op *op = &ops[i];
    void *p;
    switch (op->kind) {
      case HB_OP_MALLOC: p = a->malloc(op->size); break;
      case HB_OP_CALLOC: p = a->calloc(1, op->size); break;
      case HB_OP_ALIGNED: p = a->aligned_alloc((size_t)1 << op->align_log2, op->size); break;
      case HB_OP_REALLOC:
        p = a->realloc(op->flags & HB_FLAG_FROM_NULL ? NULL : ptrs[op->id], op->size);
        if (!(op->flags & HB_FLAG_FROM_NULL)) live -= sizes[op->id];
        break;
      default: /* free */
        if (op->id == HB_NULL_ID) continue;
        a->free(ptrs[op->id], sizes[op->id]);
        ptrs[op->id] = NULL;
        live -= sizes[op->id];
        sizes[op->id] = 0;
        goto polled;
    }
    if (!p && op->size) {
      fprintf(stderr, "%s: op %zu: %s of %llu bytes failed on %s\n", path, i,
              hb_op_kind_name((hb_op_kind)op->kind), (unsigned long long)op->size, a->name);
      return r;
    }
    ptrs[op->id] = p;
    sizes[op->id] = op->size;
    live += op->size;
    if (live > peak_live) peak_live = live;
  polled:
    if (measure_util && i % (size_t)stride == 0) {
      uint64_t f = footprint(a);
      if (f > peak_footprint) peak_footprint = f;
    }
  }
  r.seconds = now_seconds() - start;
  r.utilization = peak_footprint ? (double)peak_live / (double)peak_footprint : 0;
  r.peak_footprint_bytes = (double)peak_footprint;
  r.ok = 1;
  return r;
}

/* Runs replay() in a child: a fresh heap every time. */
static result replay_in_child(const hb_allocator *a, hb_trace *t, int measure_util) {
  result r = {0, 0, 0, 0};
  int fds[2];
  if (pipe(fds)) return r;
  fflush(NULL);
  pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    result mine = replay(a, t, measure_util);
    (void)!write(fds[1], &mine, sizeof mine);
    _exit(0);
  }
  close(fds[1]);
  if (read(fds[0], &r, sizeof r) != (ssize_t)sizeof r) r.ok = 0;
  close(fds[0]);
  int status;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) r.ok = 0;
  return r;
}

static int by_value(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

int main(int argc, char **argv) {
  int reps = 5, arg = 1;
  if (argc > 2 && strcmp(argv[1], "-r") == 0) {
    reps = atoi(argv[2]);
    arg = 3;
  }
  if (argc - arg < 2 || reps < 1 || reps > 101) {
    fprintf(stderr, "usage: %s [-r REPS] ALLOCATOR[,ALLOCATOR...] TRACE...\n", argv[0]);
    return 2;
  }
  const hb_allocator *allocators[32];
  int count = 0;
  for (char *name = strtok(argv[arg], ","); name && count < 32; name = strtok(NULL, ",")) {
    allocators[count] = hb_allocator_find(name);
    if (!allocators[count]) {
      fprintf(stderr, "%s: no allocator named %s\n", argv[0], name);
      return 2;
    }
    count++;
  }
  printf("%-22s %-14s %10s %14s %7s %12s\n", "trace", "allocator", "ops", "ops/s(median)", "util",
         "peak_KiB");
  double util_sum[32] = {0};
  int traces = 0, failed = 0;
  for (int i = arg + 1; i < argc; i++) {
    hb_trace t;
    hb_error error;
    if (hb_trace_load(argv[i], &t, &error)) {
      fprintf(stderr, "%s\n", error.message);
      return 1;
    }
    traces++;
    static double rates[32][101];
    int good[32] = {0};
    for (int rep = 0; rep < reps; rep++)
      for (int k = 0; k < count; k++) {
        result r = replay_in_child(allocators[k], &t, 0);
        if (r.ok && r.seconds > 0) rates[k][good[k]++] = (double)t.op_count / r.seconds;
      }
    for (int k = 0; k < count; k++) {
      result u = replay_in_child(allocators[k], &t, 1);
      if (!good[k] || !u.ok) {
        printf("%-22s %-14s %10zu %14s %7s\n", t.name, allocators[k]->name, t.op_count, "FAILED",
               "-");
        failed = 1;
        continue;
      }
      qsort(rates[k], (size_t)good[k], sizeof rates[k][0], by_value);
      util_sum[k] += u.utilization;
      printf("%-22s %-14s %10zu %14.0f %7.3f %12.0f\n", t.name, allocators[k]->name, t.op_count,
             rates[k][good[k] / 2], u.utilization, u.peak_footprint_bytes / 1024);
      fflush(stdout);
    }
    hb_trace_release(&t);
  }
  for (int k = 0; k < count; k++)
    printf("%-22s %-14s %10s %14s %7.3f\n", "average", allocators[k]->name, "", "",
           util_sum[k] / traces);
  return failed;
}
