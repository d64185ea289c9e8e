/* replay_report.c — the replay's table (stdout), JSON (docs/JSON.md) and CSV.
 * Every figure comes from an hb_cell_result; the ratios METRICS.md
 * defines come from hb_metrics.h. */
#define _GNU_SOURCE
#define HB_JSON_SCHEMA_VERSION "2" /* docs/JSON.md */
#include "replay_report.h"

#include "hb_metrics.h"

#include <errno.h>
#include <gnu/libc-version.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* ---- Table ---- */
enum { COLUMNS = 14, CELL_TEXT = 352 };

/* Text columns are left-aligned, figures right-aligned. */
static const int left_aligned[COLUMNS] = {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1};

void hb_bytes_text(char *text, size_t size, int64_t bytes) {
  if (bytes < 0) {
    snprintf(text, size, "-");
    return;
  }
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = (double)bytes;
  unsigned unit = 0;
  while (value >= 1024 && unit < 6) {
    value /= 1024;
    unit++;
  }
  if (unit == 0)
    snprintf(text, size, "%lld B", (long long)bytes);
  else
    snprintf(text, size, "%.1f %s", value, units[unit]);
}

static void percent_text(char *text, size_t size, double value) {
  if (isnan(value))
    snprintf(text, size, "-");
  else
    snprintf(text, size, "%.1f%%", 100 * value);
}

/* "41.2 ±5%": the median and the farthest pass from it. */
static void speed_text(char *text, size_t size, const hb_speed *speed, unsigned passes) {
  if (!speed->measured) {
    snprintf(text, size, "-");
    return;
  }
  double spread = speed->ns_per_op_max - speed->ns_per_op;
  if (speed->ns_per_op - speed->ns_per_op_min > spread)
    spread = speed->ns_per_op - speed->ns_per_op_min;
  int digits = speed->ns_per_op < 100 ? 1 : 0;
  if (passes < 2 || !(speed->ns_per_op > 0))
    snprintf(text, size, "%.*f", digits, speed->ns_per_op);
  else
    snprintf(text, size, "%.*f ±%.0f%%", digits, speed->ns_per_op,
             100 * spread / speed->ns_per_op);
}

/* "0.62x (0.58-0.66)", "no clear difference", or "1.03x (few passes)". */
void hb_ratio_text(char *text, size_t size, const hb_ratio *ratio) {
  if (isnan(ratio->ratio))
    snprintf(text, size, "-");
  else if (isnan(ratio->low))
    snprintf(text, size, "%.2fx (few passes)", ratio->ratio);
  else if (!ratio->significant)
    snprintf(text, size, "no clear difference");
  else
    snprintf(text, size, "%.2fx (%.2f-%.2f)", ratio->ratio, ratio->low, ratio->high);
}

void hb_flags_text(char *text, size_t size, unsigned flags) {
  size_t used = 0;
  text[0] = 0;
  for (unsigned bit = 0; bit < HB_FLAG_COUNT; bit++)
    if (flags & (1u << bit)) {
      int n = snprintf(text + used, size - used, "%s%s", used ? "," : "", hb_flag_name(bit));
      if (n < 0 || (size_t)n >= size - used) break;
      used += (size_t)n;
    }
}

const hb_cell_result *hb_report_result(const hb_replay_report *rep, size_t t, size_t a) {
  return &rep->results[t * rep->chosen_count + a];
}

/* The result of trace t's baseline cell, or NULL when there is none. */
static const hb_cell_result *baseline_of(const hb_replay_report *rep, size_t t) {
  return rep->baseline < rep->chosen_count ? hb_report_result(rep, t, rep->baseline) : NULL;
}

hb_ratio hb_report_ratio(const hb_replay_report *rep, size_t t, size_t a, int warm) {
  const hb_cell_result *r = hb_report_result(rep, t, a), *base = baseline_of(rep, t);
  hb_ratio none = {.ratio = NAN, .low = NAN, .high = NAN, .significant = 0};
  if (!base || a == rep->baseline) return none;
  return warm ? hb_speed_ratio(&r->warm, &base->warm, r->repeat_done, base->repeat_done)
              : hb_speed_ratio(&r->cold, &base->cold, r->repeat_done, base->repeat_done);
}

static void row_texts(const hb_replay_report *rep, size_t t, size_t a,
                      char cells[COLUMNS][CELL_TEXT]) {
  const hb_cell_result *r = hb_report_result(rep, t, a);
  snprintf(cells[0], CELL_TEXT, "%s", rep->traces[t].name);
  snprintf(cells[1], CELL_TEXT, "%s", rep->infos[rep->chosen[a]].name);
  snprintf(cells[2], CELL_TEXT, "%llu", (unsigned long long)r->ops);
  speed_text(cells[3], CELL_TEXT, &r->cold, r->repeat_done);
  speed_text(cells[4], CELL_TEXT, &r->warm, r->repeat_done);
  for (int warm = 0; warm < 2; warm++) {
    char *cell = cells[warm ? 5 : 6];
    if (a == rep->baseline) {
      snprintf(cell, CELL_TEXT, "%s", (warm ? r->warm.measured : r->cold.measured) ? "baseline" : "-");
    } else {
      hb_ratio ratio = hb_report_ratio(rep, t, a, warm);
      hb_ratio_text(cell, CELL_TEXT, &ratio);
    }
  }
  double p99 = hb_latency_quantile(&r->latency, HB_LATENCY_KINDS, 0.99);
  if (isnan(p99))
    snprintf(cells[7], CELL_TEXT, "-");
  else
    snprintf(cells[7], CELL_TEXT, "%.0f", p99);
  hb_bytes_text(cells[8], CELL_TEXT, (int64_t)r->peak_live_bytes);
  hb_bytes_text(cells[9], CELL_TEXT,
             r->instrumented ? r->figure[HB_FIG_PEAK_RESIDENT_BYTES] : HB_UNKNOWN);
  percent_text(cells[10], CELL_TEXT, hb_cell_utilization(r));
  percent_text(cells[11], CELL_TEXT, hb_cell_reuse_rate(r));
  hb_flags_text(cells[12], CELL_TEXT, hb_cell_flags(r));
  snprintf(cells[13], CELL_TEXT, "%s", r->status);
}

void hb_table_cell(FILE *out, int column, const char *text, size_t width, int left) {
  int pad = (int)width + (strstr(text, "\u00b1") ? 1 : 0); /* "±": two bytes, one column */
  fprintf(out, "%s%*s", column ? "  " : "", left ? -pad : pad, text);
}

void hb_report_table(FILE *out, const hb_replay_report *rep) {
  const char *baseline =
      rep->baseline < rep->chosen_count ? rep->infos[rep->chosen[rep->baseline]].name : NULL;
  char warm_vs[96], cold_vs[96];
  snprintf(warm_vs, sizeof warm_vs, "warm vs %s", baseline ? baseline : "baseline");
  snprintf(cold_vs, sizeof cold_vs, "cold vs %s", baseline ? baseline : "baseline");
  const char *headings[COLUMNS] = {"trace", "allocator", "ops", "cold ns/op", "warm ns/op",
                                   warm_vs, cold_vs, "p99 ns", "peak live", "peak resident",
                                   "util", "reuse", "flags", "status"};
  size_t width[COLUMNS];
  for (int c = 0; c < COLUMNS; c++) width[c] = strlen(headings[c]);
  char cells[COLUMNS][CELL_TEXT];
  unsigned shown_flags = 0;
  for (size_t t = 0; t < rep->trace_count; t++)
    for (size_t a = 0; a < rep->chosen_count; a++) {
      row_texts(rep, t, a, cells);
      shown_flags |= hb_cell_flags(hb_report_result(rep, t, a));
      for (int c = 0; c < COLUMNS - 1; c++)
        if (strlen(cells[c]) > width[c]) width[c] = strlen(cells[c]);
    }
  width[COLUMNS - 1] = 0; /* the last column is not padded */
  for (int c = 0; c < COLUMNS; c++) hb_table_cell(out, c, headings[c], width[c], left_aligned[c]);
  fputc('\n', out);
  for (size_t t = 0; t < rep->trace_count; t++)
    for (size_t a = 0; a < rep->chosen_count; a++) {
      row_texts(rep, t, a, cells);
      for (int c = 0; c < COLUMNS; c++) hb_table_cell(out, c, cells[c], width[c], left_aligned[c]);
      fputc('\n', out);
    }
  unsigned repeat = rep->settings->repeat;
  fprintf(out,
          "\ncold: the first replay in a fresh process (start-up and first page faults included);\n"
          "warm: the same trace replayed again in that process after freeing what was left\n"
          "(a heap in steady state). ns/op: median of %u timed pass%s, ± the farthest pass from it.\n",
          repeat, repeat == 1 ? "" : "es");
  if (baseline)
    fprintf(out,
            "vs %s: ratio of median ns/op (above 1: slower than %s) with its 95%% interval;\n"
            "\"no clear difference\" when the interval holds 1.\n",
            baseline, baseline);
  fprintf(out,
          "p99 ns: 99%% of the calls took at most this long, each timed on its own in a pass\n"
          "of their own, on as many threads as the trace has;\n"
          "peak resident: what the kernel held at the peak, every allocated byte written;\n"
          "util = peak live / peak resident; reuse = allocations placed at a freed block's address.\n");
  for (unsigned bit = 0; bit < HB_FLAG_COUNT; bit++)
    if (shown_flags & (1u << bit)) fprintf(out, "%s: %s.\n", hb_flag_name(bit), hb_flag_legend(bit));
  fprintf(out, "Definitions: docs/METRICS.md.\n");
}

/* ---- JSON ---- */
void hb_json_string(FILE *out, const char *text) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(out, "\\%c", *p);
    else if (*p == '\n')
      fputs("\\n", out);
    else if (*p == '\t')
      fputs("\\t", out);
    else if (*p < 0x20)
      fprintf(out, "\\u%04x", *p);
    else
      fputc(*p, out);
  }
  fputc('"', out);
}

void hb_json_double(FILE *out, double value, int known) {
  if (!known || !isfinite(value))
    fputs("null", out);
  else
    fprintf(out, "%.6g", value);
}

void hb_json_int(FILE *out, int64_t value) {
  if (value < 0)
    fputs("null", out);
  else
    fprintf(out, "%lld", (long long)value);
}

static void cpu_model(char *text, size_t size) {
  snprintf(text, size, "unknown");
  FILE *info = fopen("/proc/cpuinfo", "r");
  if (!info) return;
  char line[512];
  while (fgets(line, sizeof line, info)) {
    if (strncmp(line, "model name", 10) != 0) continue;
    const char *colon = strchr(line, ':');
    if (!colon) continue;
    colon++;
    while (*colon == ' ') colon++;
    snprintf(text, size, "%.*s", (int)strcspn(colon, "\n"), colon);
    break;
  }
  fclose(info);
}

void hb_report_machine(FILE *out, const hb_allocator_info *infos, size_t info_count) {
  char cpu[256], date[32];
  cpu_model(cpu, sizeof cpu);
  struct utsname uts;
  char kernel[400] = "unknown";
  if (uname(&uts) == 0) snprintf(kernel, sizeof kernel, "%s %s %s", uts.sysname, uts.release, uts.machine);
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
  fputs("  \"machine\": {\n    \"cpu_model\": ", out);
  hb_json_string(out, cpu);
  fprintf(out, ",\n    \"cores\": %ld,\n    \"kernel\": ", sysconf(_SC_NPROCESSORS_ONLN));
  hb_json_string(out, kernel);
  fputs(",\n    \"glibc\": ", out);
  hb_json_string(out, gnu_get_libc_version());
  fputs(",\n    \"compiler\": ", out);
#if defined(__clang__)
  hb_json_string(out, "clang " __clang_version__);
#elif defined(__GNUC__)
  hb_json_string(out, "gcc " __VERSION__);
#else
  hb_json_string(out, "unknown");
#endif
  /* Every allocator the workers hold, with the version it reports. */
  fputs(",\n    \"libraries\": {", out);
  for (size_t i = 0; i < info_count; i++) {
    fputs(i ? ", " : "", out);
    hb_json_string(out, infos[i].name);
    fputs(": ", out);
    hb_json_string(out, infos[i].version);
  }
  fputs("},\n    \"date\": ", out);
  hb_json_string(out, date);
  fputs("\n  },\n", out);
}

/* One kind of speed: PREFIXns_per_op, _min, _max, ops_per_sec, cpu, passes, faults. */
static void write_speed(FILE *out, const char *prefix, const hb_speed *speed, unsigned passes) {
  int m = speed->measured;
  fprintf(out, "\"%sns_per_op\": ", prefix);
  hb_json_double(out, speed->ns_per_op, m);
  fprintf(out, ", \"%sns_per_op_min\": ", prefix);
  hb_json_double(out, speed->ns_per_op_min, m);
  fprintf(out, ", \"%sns_per_op_max\": ", prefix);
  hb_json_double(out, speed->ns_per_op_max, m);
  fprintf(out, ", \"%sops_per_sec\": ", prefix);
  hb_json_double(out, speed->ns_per_op > 0 ? 1e9 / speed->ns_per_op : NAN, m);
  fprintf(out, ", \"%scpu_ns_per_op\": ", prefix);
  hb_json_double(out, speed->cpu_ns_per_op, m);
  fprintf(out, ", \"%sminor_faults\": ", prefix);
  hb_json_double(out, speed->minor_faults, m);
  fprintf(out, ", \"%sns_per_op_passes\": ", prefix);
  if (!m || !speed->pass_ns_per_op) {
    fputs("null", out);
  } else {
    fputc('[', out);
    for (unsigned k = 0; k < passes; k++) {
      fputs(k ? ", " : "", out);
      hb_json_double(out, speed->pass_ns_per_op[k], 1);
    }
    fputc(']', out);
  }
}

static void write_interval(FILE *out, const char *key, const hb_ratio *ratio) {
  fprintf(out, ", \"%s\": ", key);
  if (isnan(ratio->low)) {
    fputs("null", out);
    return;
  }
  fputc('[', out);
  hb_json_double(out, ratio->low, 1);
  fputs(", ", out);
  hb_json_double(out, ratio->high, 1);
  fputc(']', out);
}

static void write_ratio_to_baseline(FILE *out, const hb_replay_report *rep, size_t t, size_t a) {
  const hb_cell_result *base = baseline_of(rep, t);
  if (!base || a == rep->baseline || (!base->cold.measured && !base->warm.measured)) {
    fputs("null", out);
    return;
  }
  hb_ratio cold = hb_report_ratio(rep, t, a, 0), warm = hb_report_ratio(rep, t, a, 1);
  fputs("{\"baseline\": ", out);
  hb_json_string(out, rep->infos[rep->chosen[rep->baseline]].name);
  fputs(", \"ns_per_op\": ", out);
  hb_json_double(out, cold.ratio, 1);
  write_interval(out, "ci95", &cold);
  fprintf(out, ", \"significant\": %s, \"warm_ns_per_op\": ", cold.significant ? "true" : "false");
  hb_json_double(out, warm.ratio, 1);
  write_interval(out, "warm_ci95", &warm);
  fprintf(out, ", \"warm_significant\": %s}", warm.significant ? "true" : "false");
}

/* latency_clock, latency_timer_ns, latency_ns (per kind), slowest_ops. */
static void write_latency(FILE *out, const hb_latency *l) {
  static const char *const kinds[HB_LATENCY_KINDS] = HB_LATENCY_KIND_NAMES;
  fputs(",\n      \"latency_clock\": ", out);
  if (l->measured)
    hb_json_string(out, l->clock);
  else
    fputs("null", out);
  fputs(", \"latency_timer_ns\": ", out);
  hb_json_double(out, l->timer_ns, l->measured);
  fputs(", \"latency_ns\": ", out);
  if (!l->measured) {
    fputs("null, \"slowest_ops\": null", out);
    return;
  }
  fputc('{', out);
  for (int k = 0, n = 0; k < HB_LATENCY_KINDS; k++) {
    if (!l->count[k]) continue;
    fprintf(out, "%s\n        \"%s\": {\"count\": %llu, \"mean\": ", n++ ? "," : "", kinds[k],
            (unsigned long long)l->count[k]);
    hb_json_double(out, l->sum_ns[k] / (double)l->count[k], 1);
    static const struct {
      const char *key;
      double q;
    } quantiles[] = {{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p999", 0.999}};
    for (size_t q = 0; q < sizeof quantiles / sizeof quantiles[0]; q++) {
      fprintf(out, ", \"%s\": ", quantiles[q].key);
      hb_json_double(out, hb_latency_quantile(l, k, quantiles[q].q), 1);
    }
    fputs(", \"max\": ", out);
    hb_json_double(out, l->max_ns[k], 1);
    fputc('}', out);
  }
  fputs("},\n      \"slowest_ops\": [", out);
  for (unsigned s = 0; s < l->slowest_count; s++) {
    fprintf(out, "%s{\"op\": %llu, \"kind\": \"%s\", \"size\": %llu, \"ns\": ", s ? ", " : "",
            (unsigned long long)l->slowest[s].op, kinds[l->slowest[s].kind],
            (unsigned long long)l->slowest[s].size);
    hb_json_double(out, l->slowest[s].ns, 1);
    fputc('}', out);
  }
  fputc(']', out);
}

static void write_run(FILE *out, const hb_replay_report *rep, size_t t, size_t a) {
  const hb_replay_trace *trace = &rep->traces[t];
  const hb_allocator_info *info = &rep->infos[rep->chosen[a]];
  const hb_cell_result *r = hb_report_result(rep, t, a);
  fputs("    {\n      \"trace\": ", out);
  hb_json_string(out, trace->name);
  fputs(", \"trace_path\": ", out);
  hb_json_string(out, trace->path);
  fputs(", \"trace_format\": ", out);
  hb_json_string(out, trace->format);
  fprintf(out, ", \"threads\": %u,\n      \"allocator\": ", trace->threads);
  hb_json_string(out, info->name);
  fputs(", \"allocator_version\": ", out);
  hb_json_string(out, info->version);
  fputs(", \"group\": ", out);
  hb_json_string(out, info->group);
  fputs(",\n      \"status\": ", out);
  hb_json_string(out, r->status);
  fprintf(out, ", \"ops\": %llu, \"repeat\": %u,\n      ", (unsigned long long)r->ops,
          r->repeat_done);
  write_speed(out, "", &r->cold, r->repeat_done);
  fputs(",\n      ", out);
  write_speed(out, "warm_", &r->warm, r->repeat_done);
  fputs(",\n      \"flags\": [", out);
  unsigned flags = hb_cell_flags(r);
  for (unsigned bit = 0, n = 0; bit < HB_FLAG_COUNT; bit++)
    if (flags & (1u << bit)) {
      fputs(n++ ? ", " : "", out);
      hb_json_string(out, hb_flag_name(bit));
    }
  fputs("],\n      \"ratio_to_baseline\": ", out);
  write_ratio_to_baseline(out, rep, t, a);
  fprintf(out, ",\n      \"peak_live_bytes\": %llu, \"peak_live_op\": %llu",
          (unsigned long long)r->peak_live_bytes, (unsigned long long)r->peak_live_op);
  /* The instrumented pass's figures that the JSON takes as they are. */
  fputs(",\n     ", out);
  for (int f = 0; f < HB_FIG_COUNT; f++) {
    if (!hb_worker_figure_in_json((hb_worker_figure)f)) continue;
    fprintf(out, " \"%s\": ", hb_worker_figure_key((hb_worker_figure)f));
    hb_json_int(out, r->instrumented ? r->figure[f] : HB_UNKNOWN);
    fputc(',', out);
  }
  fputs("\n      \"peak_rss_bytes\": ", out);
  hb_json_int(out, r->peak_rss_bytes);
  const struct {
    const char *key;
    double value;
  } ratios[] = {
      {"utilization", hb_cell_utilization(r)},
      {"fragmentation", hb_cell_fragmentation(r)},
      {"reported_utilization", hb_cell_reported_utilization(r)},
      {"reuse_rate", hb_cell_reuse_rate(r)},
      {"byte_reuse_rate", hb_cell_byte_reuse_rate(r)},
      {"lifo_share", hb_cell_lifo_share(r)},
  };
  for (size_t k = 0; k < sizeof ratios / sizeof ratios[0]; k++) {
    fprintf(out, ", \"%s\": ", ratios[k].key);
    hb_json_double(out, ratios[k].value, 1);
  }
  fputs(", \"reuse_distance_histogram\": ", out);
  if (!r->instrumented) {
    fputs("null", out);
  } else {
    fputc('[', out);
    for (unsigned k = 0; k < r->histogram_count; k++)
      fprintf(out, "%s[%llu, %llu]", k ? ", " : "", (unsigned long long)r->histogram_bound[k],
              (unsigned long long)r->histogram_reuses[k]);
    fputc(']', out);
  }
  fputs(",\n      \"heap_growth\": ", out);
  if (!r->instrumented) {
    fputs("null", out);
  } else {
    fputc('[', out);
    for (size_t k = 0; k < r->sample_count; k++) {
      const hb_growth_sample *s = &r->samples[k];
      fprintf(out, "%s\n        {\"op\": %llu, \"live_bytes\": %llu, \"footprint_bytes\": ",
              k ? "," : "", (unsigned long long)s->op, (unsigned long long)s->live_bytes);
      hb_json_int(out, s->footprint_bytes);
      fputs(", \"resident_bytes\": ", out);
      hb_json_int(out, s->resident_bytes);
      fputc('}', out);
    }
    fputs(r->sample_count ? "\n      ]" : "]", out);
  }
  fputs(",\n      \"size_classes\": ", out);
  if (!r->instrumented) {
    fputs("null", out);
  } else {
    fputc('[', out);
    for (unsigned k = 0, n = 0; k < HB_SIZE_CLASSES; k++) {
      if (!r->size_class[k].allocations) continue;
      const uint64_t allocations = r->size_class[k].allocations;
      fprintf(out, "%s\n        {\"up_to_bytes\": %llu, \"allocations\": %llu, \"reuses\": %llu, "
              "\"reuse_rate\": ", n++ ? "," : "", k == 0 ? 1ull : k >= 64 ? UINT64_MAX : 1ull << k,
              (unsigned long long)allocations, (unsigned long long)r->size_class[k].reuses);
      hb_json_double(out, (double)r->size_class[k].reuses / (double)allocations, 1);
      fprintf(out, ", \"peak_live_bytes\": %llu, \"waste_bytes\": ",
              (unsigned long long)r->size_class[k].peak_live_bytes);
      int known = r->size_class[k].waste_count > 0;
      hb_json_int(out, known ? (int64_t)r->size_class[k].waste_bytes : HB_UNKNOWN);
      fputs(", \"mean_waste_bytes\": ", out);
      hb_json_double(out, known ? (double)r->size_class[k].waste_bytes / (double)r->size_class[k].waste_count : NAN, known);
      fputc('}', out);
    }
    fputs("\n      ]", out);
  }
  write_latency(out, &r->latency);
  hb_heapmap_json(out, r->heap_map, r->peak_live_op);
  fputs("\n    }", out);
}

int hb_report_json(FILE *out, const char *path, const hb_replay_report *rep) {
  char host[256] = "unknown";
  gethostname(host, sizeof host - 1);
  fputs("{\n  \"schema_version\": " HB_JSON_SCHEMA_VERSION ",\n  \"tool\": \"heapbench " HB_VERSION "\",\n  \"label\": ", out);
  hb_json_string(out, rep->label ? rep->label : host);
  fputs(",\n", out);
  hb_report_machine(out, rep->infos, rep->info_count);
  static const char *const speed_names[] = HB_SPEED_NAMES;
  fprintf(out, "  \"settings\": {\"repeat\": %u, \"warmup\": %u, \"speed\": \"%s\", \"baseline\": ",
          rep->settings->repeat, rep->settings->warmup, speed_names[rep->settings->speed]);
  if (rep->baseline < rep->chosen_count)
    hb_json_string(out, rep->infos[rep->chosen[rep->baseline]].name);
  else
    fputs("null", out);
  fputs(", \"time_limit_sec\": ", out);
  hb_json_double(out, rep->settings->time_limit_sec, 1);
  fputs(", \"touch\": ", out);
  hb_json_string(out, rep->settings->touch_all ? "all" : "first-byte");
  fputs(", \"heap_map\": ", out);
  if (rep->settings->heap_map)
    fprintf(out, "%u", rep->settings->heap_map);
  else
    fputs("null", out);
  fputs("},\n  \"partial\": ", out);
  if (rep->trace_count < rep->traces_planned)
    fprintf(out, "true, \"traces_done\": %zu, \"traces_planned\": %zu", rep->trace_count,
            rep->traces_planned);
  else
    fputs("false", out);
  fputs(",\n  \"runs\": [\n", out);
  int first = 1;
  for (size_t t = 0; t < rep->trace_count; t++)
    for (size_t a = 0; a < rep->chosen_count; a++) {
      if (!first) fputs(",\n", out);
      first = 0;
      write_run(out, rep, t, a);
    }
  fputs(first ? "  ]\n}\n" : "\n  ]\n}\n", out);
  if (fflush(out) != 0 || ferror(out)) {
    fprintf(stderr, "heapbench replay: %s: cannot write: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* ---- CSV (RFC 4180: a field with a comma, quote or newline is quoted) ---- */
static void csv_text(FILE *out, const char *text) {
  if (!strpbrk(text, ",\"\n\r")) {
    fputs(text, out);
    return;
  }
  fputc('"', out);
  for (const char *p = text; *p; p++) {
    if (*p == '"') fputc('"', out);
    fputc(*p, out);
  }
  fputc('"', out);
}

static void csv_number(FILE *out, double value, int known) {
  fputc(',', out);
  if (known && isfinite(value)) fprintf(out, "%.6g", value);
}

void hb_report_csv_header(FILE *out, const hb_replay_report *rep) {
  const char *base = rep->baseline < rep->chosen_count ? rep->infos[rep->chosen[rep->baseline]].name
                                                       : "baseline";
  fputs("trace,allocator,ops,cold_ns_per_op,cold_spread_pct,warm_ns_per_op,warm_spread_pct", out);
  for (int warm = 0; warm < 2; warm++) {
    const char *kind = warm ? "warm" : "cold";
    fprintf(out, ",%s_vs_", kind);
    csv_text(out, base);
    fprintf(out, "_x,%s_vs_", kind);
    csv_text(out, base);
    fprintf(out, "_ci95_low_x,%s_vs_", kind);
    csv_text(out, base);
    fputs("_ci95_high_x", out);
  }
  fputs(",p99_ns,peak_live_bytes,peak_resident_bytes,util_pct,reuse_pct,flags,status\n", out);
  fflush(out);
}

/* The farthest pass from the median, in % of it (the table's ±). */
static double spread_pct(const hb_speed *speed, unsigned passes) {
  if (!speed->measured || passes < 2 || !(speed->ns_per_op > 0)) return NAN;
  double spread = speed->ns_per_op_max - speed->ns_per_op;
  if (speed->ns_per_op - speed->ns_per_op_min > spread)
    spread = speed->ns_per_op - speed->ns_per_op_min;
  return 100 * spread / speed->ns_per_op;
}

void hb_report_csv_rows(FILE *out, const hb_replay_report *rep, size_t t) {
  for (size_t a = 0; a < rep->chosen_count; a++) {
    const hb_cell_result *r = hb_report_result(rep, t, a);
    csv_text(out, rep->traces[t].name);
    fputc(',', out);
    csv_text(out, rep->infos[rep->chosen[a]].name);
    fprintf(out, ",%llu", (unsigned long long)r->ops);
    csv_number(out, r->cold.ns_per_op, r->cold.measured);
    csv_number(out, spread_pct(&r->cold, r->repeat_done), 1);
    csv_number(out, r->warm.ns_per_op, r->warm.measured);
    csv_number(out, spread_pct(&r->warm, r->repeat_done), 1);
    for (int warm = 0; warm < 2; warm++) {
      hb_ratio ratio = hb_report_ratio(rep, t, a, warm);
      csv_number(out, ratio.ratio, 1);
      csv_number(out, ratio.low, 1);
      csv_number(out, ratio.high, 1);
    }
    csv_number(out, hb_latency_quantile(&r->latency, HB_LATENCY_KINDS, 0.99), 1);
    fprintf(out, ",%llu", (unsigned long long)r->peak_live_bytes);
    int64_t resident = r->instrumented ? r->figure[HB_FIG_PEAK_RESIDENT_BYTES] : HB_UNKNOWN;
    csv_number(out, (double)resident, resident >= 0);
    csv_number(out, 100 * hb_cell_utilization(r), 1);
    csv_number(out, 100 * hb_cell_reuse_rate(r), 1);
    char flags[CELL_TEXT];
    hb_flags_text(flags, sizeof flags, hb_cell_flags(r));
    for (char *c = flags; *c; c++)
      if (*c == ',') *c = ';';
    fputc(',', out);
    csv_text(out, flags);
    fputc(',', out);
    csv_text(out, r->status);
    fputc('\n', out);
  }
  fflush(out);
}
