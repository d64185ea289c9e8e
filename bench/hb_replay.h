/* hb_replay.h — `heapbench replay`: traces replayed on allocators, one
 * worker process per measurement (see hb_workers.h), figures as defined
 * in docs/METRICS.md, written as a table and as docs/JSON.md.
 *
 * A cell is one (trace, allocator) pair: `repeat` timed passes, each in a
 * fresh worker process that times a cold and a warm replay of the trace,
 * then one instrumented pass in a process of its own, then the latency
 * pass and, with --heap-map, the heap-map pass, each in a process of its
 * own. The cells of a trace take turns, pass by pass (hb_cells_run). A
 * cell that crashes, runs out of time or gets NULL from its allocator is
 * reported as such; the other cells still run.
 */
#ifndef HB_REPLAY_H
#define HB_REPLAY_H

#include "hb_heapmap.h"
#include "hb_ops.h"
#include "hb_worker_protocol.h"
#include "hb_workers.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hb_replay_settings {
  unsigned repeat;       /* timed passes per cell */
  unsigned warmup;       /* untimed replays between the cold and the warm one */
  hb_speed_kind speed;   /* which replays of a timed pass are reported */
  double time_limit_sec; /* per cell, all passes together; 0 = none */
  int touch_all;         /* timed passes: write whole new blocks, not just their first byte */
  int no_latency;        /* skip the latency pass */
  unsigned heap_map;     /* K of --heap-map: a heap-map pass with K snapshots; 0 = none */
  int progress;          /* 1: a progress line on stderr (a terminal); 2: a line per cell */
} hb_replay_settings;

#define HB_UNKNOWN (-1) /* an int64_t figure that was not measured */

typedef struct hb_growth_sample {
  uint64_t op, live_bytes;
  int64_t footprint_bytes, resident_bytes; /* HB_UNKNOWN when not measured */
} hb_growth_sample;

/* The speed of one kind of replay (cold or warm) over a cell's timed
 * passes. Valid when `measured` is set: every pass reported it. */
typedef struct hb_speed {
  int measured;
  double ns_per_op, ns_per_op_min, ns_per_op_max; /* median, fastest, slowest pass */
  double cpu_ns_per_op;   /* median CPU time per op; NaN when unknown */
  double minor_faults;    /* median page faults of the replay */
  double *pass_ns_per_op; /* each pass, in run order (repeat_done); malloc'ed */
} hb_speed;

/* The latency pass: every call timed on its own (docs/METRICS.md,
 * "Latency"). Valid when `measured` is set. */
#define HB_SLOWEST_OPS 20
typedef struct hb_latency {
  int measured;
  char clock[16];      /* "tsc" or "monotonic" */
  double timer_ns;     /* the clock's own cost, subtracted from every call */
  uint64_t elapsed_ns; /* wall time of the latency pass's replay */
  uint64_t count[HB_LATENCY_KINDS];
  double sum_ns[HB_LATENCY_KINDS], max_ns[HB_LATENCY_KINDS];
  uint64_t buckets[HB_LATENCY_KINDS][HB_LATENCY_BUCKETS];
  unsigned slowest_count;
  struct {
    uint64_t op, size;
    double ns;
    unsigned kind;
  } slowest[HB_SLOWEST_OPS]; /* slowest first */
} hb_latency;

typedef struct hb_cell_result {
  char status[320]; /* "ok", "timeout", "failed: <reason>" */
  uint64_t ops;
  /* Timed passes. */
  unsigned repeat_done; /* timed passes that completed */
  hb_speed cold;        /* the first replay of each pass, in its fresh process */
  hb_speed warm;        /* the replay after the cold one and the warm-ups */
  int64_t peak_rss_bytes; /* median over the cold replays; HB_UNKNOWN when not measured */
  /* Instrumented pass: valid when `instrumented` is set. */
  int instrumented;
  uint64_t peak_live_bytes, peak_live_op; /* from the trace: always valid */
  int64_t figure[HB_FIG_COUNT]; /* its scalar figures, by worker key; HB_UNKNOWN where absent */
  unsigned histogram_count;
  uint64_t histogram_bound[64], histogram_reuses[64];
  hb_growth_sample *samples; /* malloc'ed */
  size_t sample_count;
  /* Per size class of requests (hb_worker_protocol.h), from the
   * instrumented pass; `allocations` 0 for a class the trace never asked. */
  struct {
    uint64_t allocations, reuses, peak_live_bytes;
    uint64_t waste_bytes, waste_count; /* usable beyond requested, over waste_count allocations */
  } size_class[HB_SIZE_CLASSES];
  hb_latency latency;
  hb_heap_map *heap_map; /* the heap-map pass's snapshots (malloc'ed); NULL when not taken */
} hb_cell_result;

/* Runs one cell: `ops_fd` is an ops file from hb_ops_encode, `header` its
 * header. Never fails as a whole: what went wrong is in result->status.
 * `label` names the cell on the progress line. */
void hb_cell_run(const hb_allocator_info *allocator, int ops_fd, const hb_ops_header *header,
                 const hb_replay_settings *settings, const char *label,
                 hb_cell_result *result);

/* The cells of one trace, side by side: timed pass k of every cell runs
 * before pass k + 1 of any (so that the machine's changing load falls on
 * every allocator alike), then each cell's instrumented pass. Each cell
 * keeps its own time limit (the sum of its passes). */
typedef struct hb_cell_job {
  const hb_allocator_info *allocator;
  const char *label;      /* for the progress line */
  hb_cell_result *result; /* filled in as by hb_cell_run */
} hb_cell_job;
void hb_cells_run(const hb_cell_job *jobs, size_t count, int ops_fd,
                  const hb_ops_header *header, const hb_replay_settings *settings);
void hb_cell_result_release(hb_cell_result *result);

#endif
