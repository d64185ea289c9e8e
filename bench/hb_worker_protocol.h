/* hb_worker_protocol.h — what a worker prints and the front end reads
 * back: "key value" lines on stdout. The first line is "status ok" or
 * "status failed: <reason>"; a scalar figure is "KEY N" (N a non-negative
 * integer; a figure the pass could not measure is left out, never made
 * up). Two kinds of line repeat:
 *
 *   reuse_distance_bucket BOUND COUNT        (instrumented pass)
 *   sample OP LIVE FOOTPRINT|- RSS           (instrumented pass, heap growth)
 *   size_class K ALLOCS REUSES PEAK_LIVE WASTE WASTE_N
 *                                            (instrumented pass, per size class)
 *   latency KIND COUNT SUM_NS MAX_NS         (latency pass, per kind of call)
 *   latency_bucket KIND B COUNT              (latency pass: histogram bucket B)
 *   slowest OP KIND SIZE NS                  (latency pass: the slowest calls)
 *   latency_clock tsc|monotonic              (latency pass)
 *   heapmap S OP LIVE heap|slots SPAN BIN_BYTES AB AN FB FN PB PN
 *                                            (heap-map pass: snapshot S, taken
 *                                            after op OP; blocks and bytes
 *                                            allocated, free, parked)
 *   heapmap_segment S START BYTES            (its address ranges, in order)
 *   heapmap_bin S B ALLOCATED FREE PARKED    (bytes in bin B; empty bins left out)
 *   heapmap_block S START BYTES a|f|p        (every block, when few)
 *
 * Every scalar key is named once, in HB_WORKER_FIGURES: the workers print
 * with hb_out_figure() (worker_pass.h), cell_run.c parses a worker's output
 * into an array indexed by the same list, and the JSON writer takes the
 * figures marked JSON from it under the same names (docs/JSON.md).
 */
#ifndef HB_WORKER_PROTOCOL_H
#define HB_WORKER_PROTOCOL_H

#include <stdint.h>

/* X(ID, key, json): json is 1 when the figure goes to the JSON as it is. */
#define HB_WORKER_FIGURES(X)                                                          \
  /* Both passes. */                                                                  \
  X(OPS, "ops", 0)                                                                    \
  /* The timed pass: its cold replay, then its warm one (worker_timed.c). */          \
  X(ELAPSED_NS, "elapsed_ns", 0)         /* wall time of the cold replay */           \
  X(CPU_NS, "cpu_ns", 0)                 /* CPU time of the process during it */      \
  X(MINOR_FAULTS, "minor_faults", 0)     /* page faults of the process during it */   \
  X(PEAK_RSS_BYTES, "peak_rss_bytes", 0) /* VmHWM beyond the RSS before it */         \
  X(WARM_ELAPSED_NS, "warm_elapsed_ns", 0)                                            \
  X(WARM_CPU_NS, "warm_cpu_ns", 0)                                                    \
  X(WARM_MINOR_FAULTS, "warm_minor_faults", 0)                                        \
  /* The instrumented pass (docs/METRICS.md defines each). */                         \
  X(PEAK_LIVE_BYTES, "peak_live_bytes", 0)                                            \
  X(PEAK_LIVE_OP, "peak_live_op", 0)                                                  \
  X(PEAK_RESIDENT_BYTES, "peak_resident_bytes", 1)                                    \
  X(PEAK_FOOTPRINT_BYTES, "peak_footprint_bytes", 1)                                  \
  X(FOOTPRINT_AT_PEAK_LIVE_BYTES, "footprint_at_peak_live_bytes", 1)                  \
  X(FOOTPRINT_POLL_STRIDE, "footprint_poll_stride", 1)                                \
  X(FOOTPRINT_POLLS, "footprint_polls", 1)                                            \
  X(FOOTPRINT_POLL_NS, "footprint_poll_ns", 0)                                        \
  X(ALLOCATIONS, "allocations", 1)                                                    \
  X(REUSES, "reuses", 1)                                                              \
  X(LIFO_REUSES, "lifo_reuses", 0)                                                    \
  X(ALLOCATED_BYTES, "allocated_bytes", 0)                                            \
  X(REUSED_BYTES, "reused_bytes", 0)                                                  \
  X(REUSE_DISTANCE_MEDIAN, "reuse_distance_median", 1)                                \
  X(REUSE_DISTANCE_P90, "reuse_distance_p90", 1)                                      \
  /* The latency pass (worker_latency.c). */                                          \
  X(LATENCY_ELAPSED_NS, "latency_elapsed_ns", 0) /* wall time of its replay */        \
  X(LATENCY_TIMER_PS, "latency_timer_ps", 0)     /* the clock's own cost, subtracted */

typedef enum hb_worker_figure {
#define HB_FIGURE_ENUM(id, key, json) HB_FIG_##id,
  HB_WORKER_FIGURES(HB_FIGURE_ENUM)
#undef HB_FIGURE_ENUM
  HB_FIG_COUNT
} hb_worker_figure;

static inline const char *hb_worker_figure_key(hb_worker_figure figure) {
  static const char *const keys[HB_FIG_COUNT] = {
#define HB_FIGURE_KEY(id, key, json) key,
      HB_WORKER_FIGURES(HB_FIGURE_KEY)
#undef HB_FIGURE_KEY
  };
  return keys[figure];
}

static inline int hb_worker_figure_in_json(hb_worker_figure figure) {
  static const unsigned char json[HB_FIG_COUNT] = {
#define HB_FIGURE_JSON(id, key, in_json) in_json,
      HB_WORKER_FIGURES(HB_FIGURE_JSON)
#undef HB_FIGURE_JSON
  };
  return json[figure];
}

/* `--speed` of the timed pass: which of its replays are timed and
 * reported (docs/METRICS.md, "Cold and warm"). */
typedef enum hb_speed_kind { HB_SPEED_BOTH = 0, HB_SPEED_COLD, HB_SPEED_WARM } hb_speed_kind;
#define HB_SPEED_NAMES {"both", "cold", "warm"}

/* The latency pass's kinds of call (a realloc of NULL is a realloc) and
 * its histogram: bucket 0 holds calls under 1 ns, bucket b >= 1 those from
 * 2^((b-1)/8) to 2^(b/8) ns (8 buckets per power of two: 9% apart). */
enum {
  HB_LATENCY_MALLOC,
  HB_LATENCY_FREE,
  HB_LATENCY_REALLOC,
  HB_LATENCY_CALLOC,
  HB_LATENCY_ALIGNED,
  HB_LATENCY_KINDS
};
#define HB_LATENCY_KIND_NAMES {"malloc", "free", "realloc", "calloc", "aligned"}
#define HB_LATENCY_BUCKETS_PER_OCTAVE 8
#define HB_LATENCY_BUCKETS 400 /* the last would hold calls of 2^49 ns: never reached */

/* Size classes of requests: class k >= 1 holds requests of 2^(k-1) + 1 to
 * 2^k bytes, class 0 requests of 0 and 1 byte. */
#define HB_SIZE_CLASSES 65

/* The heap-map pass (worker_heapmap.c, docs/METRICS.md "Heap map"): at
 * most HB_HEAPMAP_MAX_SNAPSHOTS evenly spaced snapshots (`--heap-map K`)
 * plus the peak-live op's; each cut into at most HB_HEAPMAP_SEGMENTS
 * address ranges at gaps of HB_HEAPMAP_GAP_BYTES or more, binned into at
 * most HB_HEAPMAP_BINS bins, its blocks listed exactly when there are at
 * most HB_HEAPMAP_EXACT_BLOCKS. */
#define HB_HEAPMAP_MAX_SNAPSHOTS 64
#define HB_HEAPMAP_SEGMENTS 32
#define HB_HEAPMAP_GAP_BYTES ((uint64_t)1 << 20)
#define HB_HEAPMAP_BINS 512
#define HB_HEAPMAP_EXACT_BLOCKS 2048

/* Front end: every scalar figure of a worker's output, -1 where absent. */
void hb_worker_parse_figures(const char *out, int64_t figures[HB_FIG_COUNT]);

#endif
