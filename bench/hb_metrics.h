/* hb_metrics.h — the figures docs/METRICS.md derives from a cell's
 * measurements, computed in one place for the table, the JSON and the
 * microbenchmarks' counters. Each returns NaN when the figure is not
 * defined for that cell (the writers print null / "-"). */
#ifndef HB_METRICS_H
#define HB_METRICS_H

#include "hb_replay.h"

/* peak_live_bytes / peak_resident_bytes: what the kernel held */
double hb_cell_utilization(const hb_cell_result *r);
/* peak_resident_bytes / peak_live_bytes - 1 */
double hb_cell_fragmentation(const hb_cell_result *r);
/* peak_live_bytes / peak_footprint_bytes: the allocator's own account */
double hb_cell_reported_utilization(const hb_cell_result *r);
/* reuses / allocations */
double hb_cell_reuse_rate(const hb_cell_result *r);
/* reused_bytes / allocated_bytes */
double hb_cell_byte_reuse_rate(const hb_cell_result *r);
/* lifo_reuses / reuses */
double hb_cell_lifo_share(const hb_cell_result *r);

/* ---- Noise: flags ----
 * X(ID, name, legend): a cell's flags are documented strings (METRICS.md,
 * "Flags"); the table prints the legend of those it shows. */
#define HB_SHORT_PASS_NS 20000000.0 /* 20 ms */
#define HB_HIGH_SPREAD 1.10         /* slowest pass / fastest pass */
#define HB_FLAGS(X)                                                                          \
  X(SHORT_PASS, "short-pass",                                                                \
    "a cold pass took under 20 ms (median): start-up and first faults dominate it")          \
  X(HIGH_SPREAD, "high-spread", "the slowest cold pass was over 10% slower than the fastest") \
  X(WARM_HIGH_SPREAD, "warm-high-spread",                                                    \
    "the slowest warm pass was over 10% slower than the fastest")                            \
  X(FEW_PASSES, "few-passes", "under 4 passes: too few for a 95% interval against the baseline")

enum {
#define HB_FLAG_BIT(id, name, legend) HB_FLAG_BIT_##id,
  HB_FLAGS(HB_FLAG_BIT)
#undef HB_FLAG_BIT
  HB_FLAG_COUNT
};
#define HB_FLAG(id) (1u << HB_FLAG_BIT_##id)

/* The flags of a cell (a set of HB_FLAG bits). */
unsigned hb_cell_flags(const hb_cell_result *r);
const char *hb_flag_name(unsigned bit);
const char *hb_flag_legend(unsigned bit);

/* ---- Differences stated with their uncertainty ----
 * The ratio of two cells' median ns/op (this one over the baseline's:
 * above 1 is slower), with a distribution-free 95% interval: the
 * Hodges-Lehmann interval from the Mann-Whitney rank test on the log pass
 * times (METRICS.md, "Ratios to the baseline"). */
typedef struct hb_ratio {
  double ratio;     /* NaN: either side not measured */
  double low, high; /* NaN: too few passes for a 95% interval */
  int significant;  /* the interval leaves out 1 */
} hb_ratio;
hb_ratio hb_speed_ratio(const hb_speed *x, const hb_speed *baseline, unsigned x_passes,
                        unsigned baseline_passes);
/* The largest k with 2 P(U < k) <= alpha, U the Mann-Whitney statistic of
 * samples of n and m under the null hypothesis: the interval is the k-th
 * smallest to the k-th largest of the n*m pairwise differences. 0 when
 * even the widest interval has less confidence than 1 - alpha. */
unsigned hb_rank_interval_k(unsigned n, unsigned m, double alpha);

/* ---- Latency ----
 * The q-quantile (0 < q <= 1) of the latency of one kind of call, or of
 * every kind (kind = HB_LATENCY_KINDS), in ns: the upper bound of the
 * histogram bucket that holds it (at most the largest call). NaN when no
 * call of that kind was measured. */
double hb_latency_quantile(const hb_latency *latency, int kind, double q);

#endif
