/* reuse_distance.c — reuse distances longer than 2^20 ops, where the
 * instrumented pass stops counting each distance exactly and counts it in
 * a bucket 1/4096 of its power of two wide (docs/METRICS.md, "Reuse of
 * freed blocks").
 *
 * Each trace is built here with hb_trace_push: a few blocks of sizes in
 * distinct glibc tcache bins (24, 40, 56, 72 bytes), each freed and then
 * asked for again, same size, a chosen number of ops later, with free(NULL)
 * between (an op that allocates nothing and frees nothing). glibc hands a
 * freed block of that bin back to the next request of its size, so every
 * second request is a reuse at exactly the distance the trace sets; that
 * the allocator did so is checked too (the reuse count). From the
 * distances alone the test computes what the figures must be: the
 * power-of-two histogram, and the median and 90th percentile (nearest
 * rank), each the distance itself below 2^20 and the middle of its bucket
 * above.
 */
#include "hb_replay.h"
#include "hb_test.h"
#include "hb_trace.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_REUSES 8
static const uint64_t sizes[MAX_REUSES] = {24, 40, 56, 72, 88, 104, 120, 136};

/* Reuses at these distances, in this order of their frees. */
typedef struct plan {
  const char *name;
  size_t count;
  uint64_t distance[MAX_REUSES];
} plan;

static int push(hb_trace *trace, hb_op op) {
  hb_error error;
  return hb_trace_push(trace, op, &error);
}

/* Block k (id k) allocated at op k; its free at op count + k * 7 (spread so
 * no two events share an op); id count + k asks for the same size
 * distance[k] ops after that free. Every other op is free(NULL). */
static int build(const plan *p, hb_trace *trace) {
  hb_trace_init(trace, p->name, "synthetic");
  trace->thread_count = 1;
  trace->id_count = (uint32_t)(2 * p->count);
  uint64_t last = 0;
  for (size_t k = 0; k < p->count; k++)
    if (p->count + 7 * k + p->distance[k] > last) last = p->count + 7 * k + p->distance[k];
  for (uint64_t i = 0; i <= last; i++) {
    hb_op op = {.kind = HB_OP_FREE, .id = HB_NULL_ID};
    if (i < p->count) {
      op = (hb_op){.kind = HB_OP_MALLOC, .id = (uint32_t)i, .size = sizes[i]};
    } else {
      for (size_t k = 0; k < p->count; k++) {
        uint64_t freed = p->count + 7 * k;
        if (i == freed) op = (hb_op){.kind = HB_OP_FREE, .id = (uint32_t)k};
        if (i == freed + p->distance[k])
          op = (hb_op){.kind = HB_OP_MALLOC, .id = (uint32_t)(p->count + k), .size = sizes[k]};
      }
    }
    if (push(trace, op)) return -1;
  }
  hb_error error;
  if (hb_trace_check(trace, &error)) {
    fprintf(stderr, "%s: %s\n", p->name, error.message);
    return -1;
  }
  return 0;
}

static int by_value(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* What a distance is reported as: itself below 2^20; above, the middle
 * of its bucket, 1/4096 of its power of two wide (so within 1/8192). */
static uint64_t reported_as(uint64_t distance) {
  if (distance < (1u << 20)) return distance;
  uint64_t power = 1u << 20;
  while (power * 2 <= distance) power *= 2;
  uint64_t width = power / 4096;
  return distance / width * width + width / 2;
}

static void check_plan(const hb_allocator_info *glibc, const plan *p) {
  hb_trace trace;
  if (build(p, &trace)) {
    HB_CHECK(0, "%s: cannot build the trace", p->name);
    return;
  }
  hb_error error;
  hb_ops_header header;
  int fd = hb_ops_encode(&trace, &header, &error);
  size_t op_count = trace.op_count;
  hb_trace_release(&trace);
  HB_CHECK(fd >= 0, "%s: encode: %s", p->name, fd < 0 ? error.message : "");
  if (fd < 0) return;
  hb_replay_settings settings = {.repeat = 1, .time_limit_sec = 120, .no_latency = 1};
  hb_cell_result r;
  hb_cell_run(glibc, fd, &header, &settings, p->name, &r);
  close(fd);
  HB_CHECK(strcmp(r.status, "ok") == 0 && r.instrumented, "%s: status %s", p->name, r.status);
  HB_CHECK(r.ops == op_count, "%s: %llu ops replayed, want %zu", p->name,
           (unsigned long long)r.ops, op_count);

  /* What the distances imply. */
  uint64_t sorted[MAX_REUSES], want_bound[64], want_count[64];
  unsigned buckets = 0;
  memcpy(sorted, p->distance, p->count * sizeof *sorted);
  qsort(sorted, p->count, sizeof *sorted, by_value);
  for (size_t k = 0; k < p->count; k++) {
    uint64_t bound = 1;
    while (bound < sorted[k]) bound *= 2; /* bound/2 < distance <= bound */
    if (buckets && want_bound[buckets - 1] == bound) {
      want_count[buckets - 1]++;
    } else {
      want_bound[buckets] = bound;
      want_count[buckets++] = 1;
    }
  }
  uint64_t median = sorted[(p->count - 1) / 2];
  uint64_t p90 = sorted[(p->count * 9 + 9) / 10 - 1]; /* nearest rank: ceil(0.9 n) */

  HB_CHECK(r.figure[HB_FIG_ALLOCATIONS] == (int64_t)(2 * p->count) &&
               r.figure[HB_FIG_REUSES] == (int64_t)p->count,
           "%s: %lld allocations, %lld reuses, want %zu and %zu (glibc did not hand a freed "
           "block back?)", p->name, (long long)r.figure[HB_FIG_ALLOCATIONS],
           (long long)r.figure[HB_FIG_REUSES], 2 * p->count, p->count);
  int same = r.histogram_count == buckets;
  for (unsigned b = 0; same && b < buckets; b++)
    same = r.histogram_bound[b] == want_bound[b] && r.histogram_reuses[b] == want_count[b];
  HB_CHECK(same, "%s: histogram of %u buckets, want %u (first: [%llu, %llu], want [%llu, %llu])",
           p->name, r.histogram_count, buckets,
           (unsigned long long)(r.histogram_count ? r.histogram_bound[0] : 0),
           (unsigned long long)(r.histogram_count ? r.histogram_reuses[0] : 0),
           (unsigned long long)want_bound[0], (unsigned long long)want_count[0]);
  HB_CHECK(r.figure[HB_FIG_REUSE_DISTANCE_MEDIAN] == (int64_t)reported_as(median),
           "%s: median %lld, want %llu (distance %llu)", p->name,
           (long long)r.figure[HB_FIG_REUSE_DISTANCE_MEDIAN],
           (unsigned long long)reported_as(median), (unsigned long long)median);
  HB_CHECK(r.figure[HB_FIG_REUSE_DISTANCE_P90] == (int64_t)reported_as(p90),
           "%s: p90 %lld, want %llu (distance %llu)", p->name,
           (long long)r.figure[HB_FIG_REUSE_DISTANCE_P90], (unsigned long long)reported_as(p90),
           (unsigned long long)p90);
  uint64_t off = reported_as(p90) > p90 ? reported_as(p90) - p90 : p90 - reported_as(p90);
  HB_CHECK(off * 8192 <= p90, "%s: p90 reported %llu off its distance %llu", p->name,
           (unsigned long long)off, (unsigned long long)p90);
  hb_cell_result_release(&r);
}

int main(void) {
  hb_allocator_info *infos;
  size_t count = hb_workers_discover(&infos);
  const hb_allocator_info *glibc = NULL;
  for (size_t a = 0; a < count; a++)
    if (strcmp(infos[a].name, "glibc") == 0) glibc = &infos[a];
  HB_CHECK(glibc != NULL, "no glibc worker among %zu", count);
  if (glibc) {
    /* Either side of 2^20: the median exact at 2^20 - 1, the p90 bucketed
     * at 2^20 + 1 (both in the power-of-two bucket of 2^20 and 2^21). */
    const plan edge = {"edge", 3, {1000, (1u << 20) - 1, (1u << 20) + 1}};
    check_plan(glibc, &edge);
    /* Well above: 2^20 itself (bucketed, though its power-of-two bound is
     * 2^20), two in (2^21, 2^22], a median and p90 both bucketed. */
    const plan far = {"far", 5, {3, 1u << 20, (1u << 21) + 3, 3000001, 2500000}};
    check_plan(glibc, &far);
  }
  free(infos);
  return hb_test_exit("reuse_distance");
}
