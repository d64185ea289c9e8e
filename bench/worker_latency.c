/* worker_latency.c — the latency pass: every allocator call of the trace
 * timed on its own, in a fresh process of its own (never one of the timed
 * passes: reading a clock around each call changes what they measure).
 *
 * The clock is the processor's time-stamp counter where the kernel says
 * it is invariant (constant_tsc and nonstop_tsc in /proc/cpuinfo), read
 * between two load fences, and converted to ns by a calibration against
 * CLOCK_MONOTONIC over 20 ms; elsewhere CLOCK_MONOTONIC itself. The
 * clock's own cost (the median of 1,000 back-to-back readings) is measured
 * and subtracted from every call. Each kind of call (malloc, free,
 * realloc, calloc, aligned) keeps a count, a sum, a maximum and a
 * histogram of HB_LATENCY_BUCKETS log-spaced buckets (8 per power of two:
 * a bucket spans 9%), so memory does not grow with the trace; the 20
 * slowest calls are kept with their op index.
 *
 * A multi-threaded trace runs each recorded thread on a replay thread of
 * its own, concurrently, as the timed pass does (worker_timed.c: an op on
 * a block another thread used last waits for that op; an allocator that
 * is not thread-safe is called under one lock). Each replay thread keeps
 * its own counters, histograms and slowest calls (no sharing while the
 * calls are timed), merged when all are done. A call is timed on its
 * thread from just before to just after it: the wait for another thread's
 * op and the harness's lock are outside (they are the replay's, not the
 * allocator's). An invariant TSC is the same on every core, so a thread
 * that moves between cores mid-call is still timed right.
 */
#define _GNU_SOURCE
#include "worker_pass.h"

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#define SLOWEST 20

typedef struct slow_op {
  uint64_t op, size;
  double ns;
  uint8_t kind;
} slow_op;

/* The clock, calibrated once, read by every replay thread. */
static struct latency_clock {
  int tsc;               /* the clock is the TSC; else CLOCK_MONOTONIC */
  double ns_per_tick;
  double overhead_ticks; /* subtracted from every reading */
} C;

/* What one replay thread measured (the single-threaded replay: one). */
typedef struct latency_counts {
  uint64_t count[HB_LATENCY_KINDS];
  double sum_ns[HB_LATENCY_KINDS], max_ns[HB_LATENCY_KINDS];
  uint64_t buckets[HB_LATENCY_KINDS][HB_LATENCY_BUCKETS];
  slow_op slowest[SLOWEST];
  unsigned slowest_count, fastest_slow; /* index of the fastest kept */
} latency_counts;

static int invariant_tsc(void) {
  int fd = open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  static char text[65536];
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return 0;
  text[n] = 0;
  return strstr(text, " constant_tsc") && strstr(text, " nonstop_tsc");
}

static inline __attribute__((always_inline)) uint64_t ticks(void) {
  if (C.tsc) {
    _mm_lfence();
    uint64_t t = __rdtsc();
    _mm_lfence();
    return t;
  }
  return hb_now_ns();
}

static void calibrate(void) {
  C.tsc = invariant_tsc();
  C.ns_per_tick = 1;
  if (C.tsc) {
    uint64_t t0 = hb_now_ns(), c0 = ticks();
    while (hb_now_ns() - t0 < 20000000u) {
    }
    uint64_t t1 = hb_now_ns(), c1 = ticks();
    C.ns_per_tick = c1 > c0 ? (double)(t1 - t0) / (double)(c1 - c0) : 1;
  }
  uint64_t deltas[1000];
  for (int i = 0; i < 1000; i++) {
    uint64_t a = ticks();
    uint64_t b = ticks();
    deltas[i] = b - a;
  }
  for (int i = 1; i < 1000; i++) /* insertion sort: no qsort (it may malloc) */
    for (int j = i; j > 0 && deltas[j - 1] > deltas[j]; j--) {
      uint64_t t = deltas[j];
      deltas[j] = deltas[j - 1];
      deltas[j - 1] = t;
    }
  C.overhead_ticks = (double)deltas[500];
}

/* Bucket of a latency: 0 below 1 ns, then 8 per power of two. */
static unsigned bucket_of(double ns) {
  if (ns < 1) return 0;
  unsigned b = 1 + (unsigned)(log2(ns) * HB_LATENCY_BUCKETS_PER_OCTAVE);
  return b < HB_LATENCY_BUCKETS ? b : HB_LATENCY_BUCKETS - 1;
}

/* Keeps `slow` among the SLOWEST slowest of `L`. */
static void keep_slow(latency_counts *L, slow_op slow) {
  if (L->slowest_count < SLOWEST) {
    L->slowest[L->slowest_count++] = slow;
  } else if (slow.ns > L->slowest[L->fastest_slow].ns) {
    L->slowest[L->fastest_slow] = slow;
  } else {
    return;
  }
  for (unsigned k = 0; k < L->slowest_count; k++)
    if (L->slowest[k].ns < L->slowest[L->fastest_slow].ns) L->fastest_slow = k;
}

static void record(latency_counts *L, unsigned kind, uint64_t op, uint64_t size, uint64_t start,
                   uint64_t end) {
  double t = (double)(end - start) - C.overhead_ticks;
  double ns = t > 0 ? t * C.ns_per_tick : 0;
  L->count[kind]++;
  L->sum_ns[kind] += ns;
  if (ns > L->max_ns[kind]) L->max_ns[kind] = ns;
  L->buckets[kind][bucket_of(ns)]++;
  if (L->slowest_count < SLOWEST || ns > L->slowest[L->fastest_slow].ns)
    keep_slow(L, (slow_op){op, size, ns, (uint8_t)kind});
}

/* Adds one replay thread's counts into `total`. */
static void merge(latency_counts *total, const latency_counts *part) {
  for (unsigned k = 0; k < HB_LATENCY_KINDS; k++) {
    total->count[k] += part->count[k];
    total->sum_ns[k] += part->sum_ns[k];
    if (part->max_ns[k] > total->max_ns[k]) total->max_ns[k] = part->max_ns[k];
    for (unsigned b = 0; b < HB_LATENCY_BUCKETS; b++) total->buckets[k][b] += part->buckets[k][b];
  }
  for (unsigned s = 0; s < part->slowest_count; s++) keep_slow(total, part->slowest[s]);
}

/* ---- One op, timed: the pass's only op loop body, single- or
 * multi-threaded. 0, or -1 when the allocator returned NULL for a
 * non-zero request. ---- */
static inline __attribute__((always_inline)) int timed_op(const hb_allocator *a,
                                                          latency_counts *L, const hb_ops_op *in,
                                                          uint64_t i, void **slots) {
  const hb_ops_op op = *in;
  void *p;
  uint64_t start, end;
  unsigned kind;
  switch (op.kind) {
    case HB_OPS_FREE:
      start = ticks();
      a->free(slots[op.slot], op.size);
      end = ticks();
      record(L, HB_LATENCY_FREE, i, op.size, start, end);
      return 0;
    case HB_OPS_MALLOC:
      start = ticks();
      p = a->malloc(op.size);
      end = ticks();
      kind = HB_LATENCY_MALLOC;
      break;
    case HB_OPS_CALLOC:
      start = ticks();
      p = a->calloc(1, op.size);
      end = ticks();
      kind = HB_LATENCY_CALLOC;
      break;
    case HB_OPS_ALIGNED:
      start = ticks();
      p = a->aligned_alloc((size_t)1 << op.align_log2, op.size);
      end = ticks();
      kind = HB_LATENCY_ALIGNED;
      break;
    case HB_OPS_REALLOC:
      start = ticks();
      p = a->realloc(slots[op.slot], op.size);
      end = ticks();
      kind = HB_LATENCY_REALLOC;
      break;
    default: /* HB_OPS_REALLOC_NEW */
      start = ticks();
      p = a->realloc(NULL, op.size);
      end = ticks();
      kind = HB_LATENCY_REALLOC;
      break;
  }
  record(L, kind, i, op.size, start, end);
  if (!p && op.size) return -1;
  if (p && op.size) *(volatile char *)p = (char)i; /* as the timed pass does */
  slots[op.slot] = p;
  return 0;
}

/* ---- Several threads (see the top of this file; hb_team, worker_pass.h) ----
 * Each replay thread counts into its own latency_counts: an op's recorded
 * thread is the replay thread that runs it. */
static int team_op(hb_team *t, const hb_ops_op *op, uint64_t i) {
  latency_counts *counts = t->context;
  return timed_op(t->env->allocator, &counts[op->thread], op, i, t->env->slots);
}

static void team_window_ops(hb_team *t, uint32_t thread) { hb_team_run_ops(t, thread, team_op); }

/* The replay on the trace's threads, merged into `total`. 0; -1 with
 * *failed_op when an allocation returned NULL (its window left mapped);
 * -2 when the harness could not set up. The elapsed time is the sum of
 * the windows' intervals, gate to gate. */
static int replay_threads(const hb_pass_env *env, latency_counts *total, uint64_t *elapsed_ns,
                          uint64_t *failed_op) {
  hb_ops_file *trace = env->trace;
  uint32_t threads = trace->header.thread_count;
  size_t counts_bytes = threads * sizeof(latency_counts);
  latency_counts *counts = hb_harness_map(counts_bytes);
  hb_team team;
  if (!counts || hb_team_start(&team, env, team_window_ops, counts) != 0) {
    hb_harness_unmap(counts, counts_bytes);
    return -2;
  }
  /* The allocator sets itself up once the threads exist (their creation
   * mallocs from glibc), before the clock starts. */
  env->allocator->free(env->allocator->malloc(1), 1);
  int more;
  for (more = hb_ops_window_first(trace); more > 0 && !atomic_load(&team.stop);
       more = hb_ops_window_next(trace)) {
    hb_thread_plan_build(trace, &team.plan);
    uint64_t window_start = hb_now_ns();
    hb_team_run_window(&team);
    *elapsed_ns += hb_now_ns() - window_start;
    if (atomic_load(&team.stop)) break; /* the window stays: failed_op is in it */
    hb_team_window_done(&team);
  }
  int rc = hb_team_finish(&team, failed_op);
  if (more < 0) rc = -2;
  for (uint32_t t = 0; t < threads; t++) merge(total, &counts[t]);
  hb_harness_unmap(counts, counts_bytes);
  return rc;
}

/* The replay on this thread, window by window. 0; -1 with *failed_op
 * (its window left mapped); -2 when a window could not be mapped. */
static int replay_one_thread(const hb_pass_env *env, latency_counts *L, uint64_t *elapsed_ns,
                             uint64_t *failed_op) {
  hb_ops_file *trace = env->trace;
  const hb_allocator *a = env->allocator;
  /* The allocator sets itself up before the first timed call, as for the
   * resident figures: its start-up is not one of the trace's calls. */
  a->free(a->malloc(1), 1);
  int more;
  for (more = hb_ops_window_first(trace); more > 0; more = hb_ops_window_next(trace)) {
    uint64_t window_start = hb_now_ns();
    for (uint64_t w = 0; w < trace->count; w++)
      if (timed_op(a, L, &trace->ops[w], trace->first + w, env->slots) != 0) {
        *elapsed_ns += hb_now_ns() - window_start;
        *failed_op = trace->first + w;
        return -1;
      }
    *elapsed_ns += hb_now_ns() - window_start;
  }
  return more < 0 ? -2 : 0;
}

static latency_counts total; /* the single-threaded replay's, or the threads' merged */

int hb_latency_pass(const hb_pass_env *env) {
  memset(&total, 0, sizeof total);
  const hb_ops_header *h = &env->trace->header;
  calibrate();
  uint64_t elapsed_ns = 0, failed_op = 0;
  int rc = h->thread_count > 1 ? replay_threads(env, &total, &elapsed_ns, &failed_op)
                               : replay_one_thread(env, &total, &elapsed_ns, &failed_op);
  if (rc == -2) {
    hb_out("status failed: the worker could not start the replay's threads or map its ops\n");
    return -1;
  }
  if (rc != 0) {
    hb_out("status failed: allocation of %llu bytes returned NULL at op %llu\n",
           (unsigned long long)env->trace->ops[failed_op - env->trace->first].size,
           (unsigned long long)failed_op);
    return -1;
  }

  static const char *const kind_names[HB_LATENCY_KINDS] = HB_LATENCY_KIND_NAMES;
  hb_out("status ok\n");
  hb_out_figure(HB_FIG_OPS, h->op_count);
  hb_out_figure(HB_FIG_LATENCY_ELAPSED_NS, elapsed_ns);
  hb_out_figure(HB_FIG_LATENCY_TIMER_PS, (uint64_t)(C.overhead_ticks * C.ns_per_tick * 1000));
  hb_out("latency_clock %s\n", C.tsc ? "tsc" : "monotonic");
  for (unsigned k = 0; k < HB_LATENCY_KINDS; k++) {
    if (!total.count[k]) continue;
    hb_out("latency %s %llu %.0f %.0f\n", kind_names[k], (unsigned long long)total.count[k],
           total.sum_ns[k], total.max_ns[k]);
    for (unsigned b = 0; b < HB_LATENCY_BUCKETS; b++)
      if (total.buckets[k][b])
        hb_out("latency_bucket %s %u %llu\n", kind_names[k], b,
               (unsigned long long)total.buckets[k][b]);
  }
  for (unsigned s = 0; s < total.slowest_count; s++)
    hb_out("slowest %llu %s %llu %.0f\n", (unsigned long long)total.slowest[s].op,
           kind_names[total.slowest[s].kind], (unsigned long long)total.slowest[s].size,
           total.slowest[s].ns);
  return 0;
}
