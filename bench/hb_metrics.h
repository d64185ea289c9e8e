/* hb_metrics.h — the figures docs/METRICS.md derives from a cell's
 * measurements, computed in one place for the table, the JSON and the
 * microbenchmarks' counters. Each returns NaN when the figure is not
 * defined for that cell (the writers print null / "-"). */
#ifndef HB_METRICS_H
#define HB_METRICS_H

#include "hb_replay.h"

/* peak_live_bytes / peak_footprint_bytes */
double hb_cell_utilization(const hb_cell_result *r);
/* peak_footprint_bytes / peak_live_bytes - 1 */
double hb_cell_fragmentation(const hb_cell_result *r);
/* reuses / allocations */
double hb_cell_reuse_rate(const hb_cell_result *r);
/* reused_bytes / allocated_bytes */
double hb_cell_byte_reuse_rate(const hb_cell_result *r);
/* lifo_reuses / reuses */
double hb_cell_lifo_share(const hb_cell_result *r);

#endif
