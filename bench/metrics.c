/* metrics.c — derived figures (hb_metrics.h, docs/METRICS.md). */
#include "hb_metrics.h"

#include <math.h>
#include <stdlib.h>

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
  return ratio((int64_t)r->peak_live_bytes, figure(r, HB_FIG_PEAK_RESIDENT_BYTES));
}

double hb_cell_fragmentation(const hb_cell_result *r) {
  return ratio(figure(r, HB_FIG_PEAK_RESIDENT_BYTES), (int64_t)r->peak_live_bytes) - 1;
}

double hb_cell_reported_utilization(const hb_cell_result *r) {
  if (!r->instrumented) return NAN;
  return ratio((int64_t)r->peak_live_bytes, figure(r, HB_FIG_PEAK_FOOTPRINT_BYTES));
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

/* ---- Flags ---- */
static const char *const flag_names[HB_FLAG_COUNT] = {
#define HB_FLAG_NAME(id, name, legend) name,
    HB_FLAGS(HB_FLAG_NAME)
#undef HB_FLAG_NAME
};
static const char *const flag_legends[HB_FLAG_COUNT] = {
#define HB_FLAG_LEGEND(id, name, legend) legend,
    HB_FLAGS(HB_FLAG_LEGEND)
#undef HB_FLAG_LEGEND
};

const char *hb_flag_name(unsigned bit) { return bit < HB_FLAG_COUNT ? flag_names[bit] : "?"; }
const char *hb_flag_legend(unsigned bit) { return bit < HB_FLAG_COUNT ? flag_legends[bit] : "?"; }

unsigned hb_cell_flags(const hb_cell_result *r) {
  unsigned flags = 0;
  const hb_speed *first = r->cold.measured ? &r->cold : &r->warm;
  if (first->measured && first->ns_per_op * (double)r->ops < HB_SHORT_PASS_NS)
    flags |= HB_FLAG(SHORT_PASS);
  if (r->cold.measured && r->cold.ns_per_op_max > HB_HIGH_SPREAD * r->cold.ns_per_op_min)
    flags |= HB_FLAG(HIGH_SPREAD);
  if (r->warm.measured && r->warm.ns_per_op_max > HB_HIGH_SPREAD * r->warm.ns_per_op_min)
    flags |= HB_FLAG(WARM_HIGH_SPREAD);
  if ((r->cold.measured || r->warm.measured) && hb_rank_interval_k(r->repeat_done, r->repeat_done, 0.05) == 0)
    flags |= HB_FLAG(FEW_PASSES);
  return flags;
}

/* ---- Ratios with their interval ---- */
unsigned hb_rank_interval_k(unsigned n, unsigned m, double alpha) {
  if (n == 0 || m == 0) return 0;
  uint64_t nm = (uint64_t)n * m;
  if (n + m > 50) {
    /* Normal approximation of U: mean nm/2, variance nm(n+m+1)/12. */
    double z = 1.959963984540054; /* alpha = 0.05 */
    if (alpha != 0.05) z = alpha < 0.05 ? 2.5758293035489004 : 1.6448536269514722;
    double k = floor((double)nm / 2 - z * sqrt((double)nm * (n + m + 1) / 12.0));
    return k < 1 ? 0 : (unsigned)k;
  }
  /* Exact: the counts of U = u are the coefficients of the Gaussian
   * binomial [n+m choose n]_q, built as prod (1 - q^(m+i)) / (1 - q^i);
   * with n + m <= 50 every count is an integer below 2^53, exact in a
   * double. */
  size_t length = (size_t)nm + n + 1;
  double *count = calloc(length, sizeof *count);
  if (!count) return 0;
  count[0] = 1;
  for (unsigned i = 1; i <= n; i++) {
    for (size_t u = length - 1; u >= (size_t)m + i; u--) count[u] -= count[u - m - i];
    for (size_t u = i; u < length; u++) count[u] += count[u - i];
  }
  double total = 0;
  for (size_t u = 0; u <= nm; u++) total += count[u];
  unsigned k = 0;
  double below = 0; /* P(U < k) * total */
  while (k < nm / 2 && 2 * (below + count[k]) <= alpha * total) below += count[k++];
  free(count);
  return k;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

hb_ratio hb_speed_ratio(const hb_speed *x, const hb_speed *baseline, unsigned x_passes,
                        unsigned baseline_passes) {
  hb_ratio r = {.ratio = NAN, .low = NAN, .high = NAN, .significant = 0};
  if (!x->measured || !baseline->measured || !(baseline->ns_per_op > 0)) return r;
  r.ratio = x->ns_per_op / baseline->ns_per_op;
  unsigned k = hb_rank_interval_k(x_passes, baseline_passes, 0.05);
  if (k == 0 || !x->pass_ns_per_op || !baseline->pass_ns_per_op) return r;
  size_t nm = (size_t)x_passes * baseline_passes;
  double *d = malloc(nm * sizeof *d);
  if (!d) return r;
  size_t count = 0;
  for (unsigned i = 0; i < x_passes; i++)
    for (unsigned j = 0; j < baseline_passes; j++) {
      double a = x->pass_ns_per_op[i], b = baseline->pass_ns_per_op[j];
      if (!(a > 0) || !(b > 0)) { /* a pass of 0 ns/op has no logarithm */
        free(d);
        return r;
      }
      d[count++] = log(a) - log(b);
    }
  qsort(d, nm, sizeof *d, compare_doubles);
  r.low = exp(d[k - 1]);
  r.high = exp(d[nm - k]);
  r.significant = r.low > 1 || r.high < 1;
  free(d);
  return r;
}

/* ---- Latency ---- */
double hb_latency_quantile(const hb_latency *l, int kind, double q) {
  if (!l->measured) return NAN;
  int first = kind < HB_LATENCY_KINDS ? kind : 0, last = kind < HB_LATENCY_KINDS ? kind : HB_LATENCY_KINDS - 1;
  uint64_t total = 0;
  double max_ns = 0;
  for (int k = first; k <= last; k++) {
    total += l->count[k];
    if (l->max_ns[k] > max_ns) max_ns = l->max_ns[k];
  }
  if (total == 0) return NAN;
  /* The rank of the quantile, nearest-rank: ceil(q * total). */
  uint64_t rank = (uint64_t)ceil(q * (double)total), seen = 0;
  if (rank == 0) rank = 1;
  for (unsigned b = 0; b < HB_LATENCY_BUCKETS; b++) {
    for (int k = first; k <= last; k++) seen += l->buckets[k][b];
    if (seen >= rank) {
      double upper = b == 0 ? 1 : exp2((double)b / HB_LATENCY_BUCKETS_PER_OCTAVE);
      return upper < max_ns ? upper : max_ns;
    }
  }
  return max_ns;
}
