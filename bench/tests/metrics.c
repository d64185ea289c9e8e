/* metrics.c — the noise figures of hb_metrics.h on crafted cells: the
 * flags, the rank interval's order statistic against the Mann-Whitney
 * tables, and ratios to a baseline that is the same allocator (the
 * interval must hold 1) or a clearly slower one (it must not). */
#include "hb_metrics.h"
#include "hb_test.h"

#include <math.h>
#include <string.h>

static hb_speed speed_of(double *passes, unsigned n) {
  hb_speed s = {.measured = 1, .pass_ns_per_op = passes};
  double sorted[64];
  memcpy(sorted, passes, n * sizeof *passes);
  for (unsigned i = 1; i < n; i++)
    for (unsigned j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
      double t = sorted[j];
      sorted[j] = sorted[j - 1];
      sorted[j - 1] = t;
    }
  s.ns_per_op_min = sorted[0];
  s.ns_per_op_max = sorted[n - 1];
  s.ns_per_op = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return s;
}

int main(void) {
  /* Two-sided 5% critical values of U (published tables): the interval is
   * the (U+1)-th smallest to the (U+1)-th largest difference. */
  HB_CHECK(hb_rank_interval_k(3, 3, 0.05) == 0, "3 vs 3 passes: no 95%% interval");
  HB_CHECK(hb_rank_interval_k(4, 4, 0.05) == 1, "4 vs 4: U = 0");
  HB_CHECK(hb_rank_interval_k(5, 5, 0.05) == 3, "5 vs 5: U = 2");
  HB_CHECK(hb_rank_interval_k(9, 9, 0.05) == 18, "9 vs 9: U = 17");
  HB_CHECK(hb_rank_interval_k(20, 20, 0.05) == 128, "20 vs 20: U = 127");
  /* Past 50 passes in all, the normal approximation: 800 - 1.96 * 103.9. */
  unsigned big = hb_rank_interval_k(40, 40, 0.05);
  HB_CHECK(big == 596, "40 vs 40: k %u", big);

  /* The same allocator twice: passes drawn from one spread. */
  double a[5] = {100, 104, 98, 101, 103}, b[5] = {102, 99, 100, 105, 101};
  hb_speed sa = speed_of(a, 5), sb = speed_of(b, 5);
  hb_ratio same = hb_speed_ratio(&sa, &sb, 5, 5);
  HB_CHECK(!isnan(same.low) && same.low <= 1 && same.high >= 1 && !same.significant,
           "identical allocators: %.3f [%.3f, %.3f] significant %d", same.ratio, same.low,
           same.high, same.significant);
  /* A crafted slow one: 1.5x every pass. */
  double slow[5];
  for (int i = 0; i < 5; i++) slow[i] = 1.5 * b[i];
  hb_speed ss = speed_of(slow, 5);
  hb_ratio slower = hb_speed_ratio(&ss, &sb, 5, 5);
  HB_CHECK(fabs(slower.ratio - 1.5) < 1e-9 && slower.low > 1 && slower.significant,
           "1.5x slower: %.3f [%.3f, %.3f]", slower.ratio, slower.low, slower.high);
  /* Too few passes: a ratio, no interval, never significant. */
  hb_ratio few = hb_speed_ratio(&ss, &sb, 3, 3);
  HB_CHECK(!isnan(few.ratio) && isnan(few.low) && !few.significant, "3 passes: no interval");

  /* Flags. 1,000 ops at 100 ns is a 0.1 ms pass: short. */
  hb_cell_result r = {.ops = 1000, .repeat_done = 5, .cold = sa, .warm = sb};
  unsigned flags = hb_cell_flags(&r);
  HB_CHECK(flags == HB_FLAG(SHORT_PASS), "short, steady cell: flags %#x", flags);
  r.ops = 1000000; /* 100 ms a pass */
  double spread[5] = {100, 100, 100, 100, 111};
  r.warm = speed_of(spread, 5);
  flags = hb_cell_flags(&r);
  HB_CHECK(flags == HB_FLAG(WARM_HIGH_SPREAD), "long cell, a warm pass 11%% slower: %#x", flags);
  r.cold = speed_of(spread, 5);
  r.repeat_done = 3;
  flags = hb_cell_flags(&r);
  HB_CHECK(flags == (HB_FLAG(HIGH_SPREAD) | HB_FLAG(WARM_HIGH_SPREAD) | HB_FLAG(FEW_PASSES)),
           "spread both ways, 3 passes: %#x", flags);
  return hb_test_exit("metrics");
}
