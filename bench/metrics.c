/* metrics.c — derived figures (hb_metrics.h, docs/METRICS.md). */
#include "hb_metrics.h"

#include <math.h>

/* A figure the instrumented pass reported, or HB_UNKNOWN. */
static int64_t figure(const hb_cell_result *r, hb_worker_figure f) {
  return r->instrumented ? r->figure[f] : HB_UNKNOWN;
}

static double ratio(int64_t numerator, int64_t denominator) {
  if (numerator < 0 || denominator <= 0) return NAN;
  return (double)numerator / (double)denominator;
}

double hb_cell_utilization(const hb_cell_result *r) {
  if (!r->instrumented) return NAN;
  return ratio((int64_t)r->peak_live_bytes, figure(r, HB_FIG_PEAK_FOOTPRINT_BYTES));
}

double hb_cell_fragmentation(const hb_cell_result *r) {
  return ratio(figure(r, HB_FIG_PEAK_FOOTPRINT_BYTES), (int64_t)r->peak_live_bytes) - 1;
}

double hb_cell_reuse_rate(const hb_cell_result *r) {
  return ratio(figure(r, HB_FIG_REUSES), figure(r, HB_FIG_ALLOCATIONS));
}

double hb_cell_byte_reuse_rate(const hb_cell_result *r) {
  return ratio(figure(r, HB_FIG_REUSED_BYTES), figure(r, HB_FIG_ALLOCATED_BYTES));
}

double hb_cell_lifo_share(const hb_cell_result *r) {
  return ratio(figure(r, HB_FIG_LIFO_REUSES), figure(r, HB_FIG_REUSES));
}
