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
 * Multi-threaded traces are not measured here (yet): the front end
 * reports their latency as not measured.
 */
#define _GNU_SOURCE
#include "worker_pass.h"

#include <fcntl.h>
#include <math.h>
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

static struct latency_state {
  int tsc;             /* the clock is the TSC; else CLOCK_MONOTONIC */
  double ns_per_tick;
  double overhead_ticks; /* subtracted from every reading */
  uint64_t count[HB_LATENCY_KINDS];
  double sum_ns[HB_LATENCY_KINDS], max_ns[HB_LATENCY_KINDS];
  uint64_t buckets[HB_LATENCY_KINDS][HB_LATENCY_BUCKETS];
  slow_op slowest[SLOWEST];
  unsigned slowest_count, fastest_slow; /* index of the fastest kept */
  uint64_t elapsed_ns;
} L;

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
  if (L.tsc) {
    _mm_lfence();
    uint64_t t = __rdtsc();
    _mm_lfence();
    return t;
  }
  return hb_now_ns();
}

static void calibrate(void) {
  L.tsc = invariant_tsc();
  L.ns_per_tick = 1;
  if (L.tsc) {
    uint64_t t0 = hb_now_ns(), c0 = ticks();
    while (hb_now_ns() - t0 < 20000000u) {
    }
    uint64_t t1 = hb_now_ns(), c1 = ticks();
    L.ns_per_tick = c1 > c0 ? (double)(t1 - t0) / (double)(c1 - c0) : 1;
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
  L.overhead_ticks = (double)deltas[500];
}

/* Bucket of a latency: 0 below 1 ns, then 8 per power of two. */
static unsigned bucket_of(double ns) {
  if (ns < 1) return 0;
  unsigned b = 1 + (unsigned)(log2(ns) * HB_LATENCY_BUCKETS_PER_OCTAVE);
  return b < HB_LATENCY_BUCKETS ? b : HB_LATENCY_BUCKETS - 1;
}

static void record(unsigned kind, uint64_t op, uint64_t size, uint64_t start, uint64_t end) {
  double t = (double)(end - start) - L.overhead_ticks;
  double ns = t > 0 ? t * L.ns_per_tick : 0;
  L.count[kind]++;
  L.sum_ns[kind] += ns;
  if (ns > L.max_ns[kind]) L.max_ns[kind] = ns;
  L.buckets[kind][bucket_of(ns)]++;
  if (L.slowest_count < SLOWEST) {
    L.slowest[L.slowest_count++] = (slow_op){op, size, ns, (uint8_t)kind};
  } else if (ns > L.slowest[L.fastest_slow].ns) {
    L.slowest[L.fastest_slow] = (slow_op){op, size, ns, (uint8_t)kind};
  } else {
    return;
  }
  for (unsigned k = 0; k < L.slowest_count; k++)
    if (L.slowest[k].ns < L.slowest[L.fastest_slow].ns) L.fastest_slow = k;
}

int hb_latency_pass(const hb_pass_env *env) {
  memset(&L, 0, sizeof L);
  const hb_allocator *a = env->allocator;
  const hb_ops_header *h = &env->trace->header;
  if (h->thread_count > 1) {
    hb_out("status ok\n");
    hb_out_figure(HB_FIG_OPS, h->op_count);
    return 0; /* no latency figures: the front end reports them as not measured */
  }
  calibrate();
  /* The allocator sets itself up before the first timed call, as for the
   * resident figures: its start-up is not one of the trace's calls. */
  a->free(a->malloc(1), 1);
  void **slots = env->slots;
  hb_ops_file *trace = env->trace;
  int more;
  /* Window by window (hb_ops.h); the pass's elapsed time leaves out the
   * mapping of each window, as the timed pass's does. */
  for (more = hb_ops_window_first(trace); more > 0; more = hb_ops_window_next(trace)) {
    uint64_t window_start = hb_now_ns();
    for (uint64_t i = trace->first; i < trace->first + trace->count; i++) {
      const hb_ops_op op = trace->ops[i - trace->first];
      void *p;
      uint64_t start, end;
      unsigned kind;
      switch (op.kind) {
        case HB_OPS_FREE:
          start = ticks();
          a->free(slots[op.slot], op.size);
          end = ticks();
          record(HB_LATENCY_FREE, i, op.size, start, end);
          continue;
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
      record(kind, i, op.size, start, end);
      if (!p && op.size) {
        hb_out("status failed: allocation of %llu bytes returned NULL at op %llu\n",
               (unsigned long long)op.size, (unsigned long long)i);
        return -1;
      }
      if (p && op.size) *(volatile char *)p = (char)i; /* as the timed pass does */
      slots[op.slot] = p;
    }
    L.elapsed_ns += hb_now_ns() - window_start;
  }
  if (more < 0) {
    hb_out("status failed: the worker could not map a window of the ops\n");
    return -1;
  }

  static const char *const kind_names[HB_LATENCY_KINDS] = HB_LATENCY_KIND_NAMES;
  hb_out("status ok\n");
  hb_out_figure(HB_FIG_OPS, h->op_count);
  hb_out_figure(HB_FIG_LATENCY_ELAPSED_NS, L.elapsed_ns);
  hb_out_figure(HB_FIG_LATENCY_TIMER_PS, (uint64_t)(L.overhead_ticks * L.ns_per_tick * 1000));
  hb_out("latency_clock %s\n", L.tsc ? "tsc" : "monotonic");
  for (unsigned k = 0; k < HB_LATENCY_KINDS; k++) {
    if (!L.count[k]) continue;
    hb_out("latency %s %llu %.0f %.0f\n", kind_names[k], (unsigned long long)L.count[k],
           L.sum_ns[k], L.max_ns[k]);
    for (unsigned b = 0; b < HB_LATENCY_BUCKETS; b++)
      if (L.buckets[k][b])
        hb_out("latency_bucket %s %u %llu\n", kind_names[k], b, (unsigned long long)L.buckets[k][b]);
  }
  for (unsigned s = 0; s < L.slowest_count; s++)
    hb_out("slowest %llu %s %llu %.0f\n", (unsigned long long)L.slowest[s].op,
           kind_names[L.slowest[s].kind], (unsigned long long)L.slowest[s].size, L.slowest[s].ns);
  return 0;
}
