/* replay_report.c — the replay's table (stdout) and JSON (docs/JSON.md).
 * Every figure comes from an hb_cell_result; the ratios METRICS.md
 * defines come from hb_metrics.h. */
#define _GNU_SOURCE
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
enum { COLUMNS = 11, CELL_TEXT = 352 };

static const char *const headings[COLUMNS] = {
    "trace", "allocator", "ops", "ns/op", "Mops/s", "peak live", "peak footprint",
    "util", "peak RSS", "reuse", "status"};
/* Text columns are left-aligned, figures right-aligned. */
static const int left_aligned[COLUMNS] = {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1};

static void bytes_text(char *text, size_t size, int64_t bytes) {
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

static void ratio_text(char *text, size_t size, double value, int percent) {
  if (isnan(value))
    snprintf(text, size, "-");
  else if (percent)
    snprintf(text, size, "%.1f%%", 100 * value);
  else
    snprintf(text, size, "%.3f", value);
}

static void row_texts(const hb_replay_report *rep, size_t t, size_t a,
                      char cells[COLUMNS][CELL_TEXT]) {
  const hb_cell_result *r = &rep->results[t * rep->chosen_count + a];
  snprintf(cells[0], CELL_TEXT, "%s", rep->traces[t].name);
  snprintf(cells[1], CELL_TEXT, "%s", rep->infos[rep->chosen[a]].name);
  snprintf(cells[2], CELL_TEXT, "%llu", (unsigned long long)r->ops);
  if (r->timed) {
    snprintf(cells[3], CELL_TEXT, "%.1f", r->ns_per_op);
    snprintf(cells[4], CELL_TEXT, "%.2f", r->ops_per_sec / 1e6);
  } else {
    snprintf(cells[3], CELL_TEXT, "-");
    snprintf(cells[4], CELL_TEXT, "-");
  }
  bytes_text(cells[5], CELL_TEXT, (int64_t)r->peak_live_bytes);
  bytes_text(cells[6], CELL_TEXT,
             r->instrumented ? r->figure[HB_FIG_PEAK_FOOTPRINT_BYTES] : HB_UNKNOWN);
  ratio_text(cells[7], CELL_TEXT, hb_cell_utilization(r), 0);
  bytes_text(cells[8], CELL_TEXT, r->timed ? r->peak_rss_bytes : HB_UNKNOWN);
  ratio_text(cells[9], CELL_TEXT, hb_cell_reuse_rate(r), 1);
  snprintf(cells[10], CELL_TEXT, "%s", r->status);
}

void hb_report_table(FILE *out, const hb_replay_report *rep) {
  size_t width[COLUMNS];
  for (int c = 0; c < COLUMNS; c++) width[c] = strlen(headings[c]);
  char cells[COLUMNS][CELL_TEXT];
  for (size_t t = 0; t < rep->trace_count; t++)
    for (size_t a = 0; a < rep->chosen_count; a++) {
      row_texts(rep, t, a, cells);
      for (int c = 0; c < COLUMNS - 1; c++)
        if (strlen(cells[c]) > width[c]) width[c] = strlen(cells[c]);
    }
  width[COLUMNS - 1] = 0; /* the last column is not padded */
  for (int c = 0; c < COLUMNS; c++)
    fprintf(out, "%s%*s", c ? "  " : "", left_aligned[c] ? -(int)width[c] : (int)width[c],
            headings[c]);
  fputc('\n', out);
  for (size_t t = 0; t < rep->trace_count; t++)
    for (size_t a = 0; a < rep->chosen_count; a++) {
      row_texts(rep, t, a, cells);
      for (int c = 0; c < COLUMNS; c++)
        fprintf(out, "%s%*s", c ? "  " : "", left_aligned[c] ? -(int)width[c] : (int)width[c],
                cells[c]);
      fputc('\n', out);
    }
  fprintf(out,
          "\nns/op: median of %u timed passes, each in a fresh process. peak footprint: as the\n"
          "allocator reports it; util = peak live / peak footprint; reuse = allocations placed\n"
          "at a freed block's address. Definitions: docs/METRICS.md.\n",
          rep->settings->repeat);
}

/* ---- JSON ---- */
static void json_string(FILE *out, const char *text) {
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

static void json_double(FILE *out, double value, int known) {
  if (!known || !isfinite(value))
    fputs("null", out);
  else
    fprintf(out, "%.6g", value);
}

static void json_int(FILE *out, int64_t value) {
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

static void write_machine(FILE *out, const hb_replay_report *rep) {
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
  json_string(out, cpu);
  fprintf(out, ",\n    \"cores\": %ld,\n    \"kernel\": ", sysconf(_SC_NPROCESSORS_ONLN));
  json_string(out, kernel);
  fputs(",\n    \"glibc\": ", out);
  json_string(out, gnu_get_libc_version());
  fputs(",\n    \"compiler\": ", out);
#if defined(__clang__)
  json_string(out, "clang " __clang_version__);
#elif defined(__GNUC__)
  json_string(out, "gcc " __VERSION__);
#else
  json_string(out, "unknown");
#endif
  /* Every allocator the workers hold, with the version it reports. */
  fputs(",\n    \"libraries\": {", out);
  for (size_t i = 0; i < rep->info_count; i++) {
    fputs(i ? ", " : "", out);
    json_string(out, rep->infos[i].name);
    fputs(": ", out);
    json_string(out, rep->infos[i].version);
  }
  fputs("},\n    \"date\": ", out);
  json_string(out, date);
  fputs("\n  },\n", out);
}

static void write_run(FILE *out, const hb_replay_report *rep, size_t t, size_t a) {
  const hb_replay_trace *trace = &rep->traces[t];
  const hb_allocator_info *info = &rep->infos[rep->chosen[a]];
  const hb_cell_result *r = &rep->results[t * rep->chosen_count + a];
  fputs("    {\n      \"trace\": ", out);
  json_string(out, trace->name);
  fputs(", \"trace_path\": ", out);
  json_string(out, trace->path);
  fputs(", \"trace_format\": ", out);
  json_string(out, trace->format);
  fprintf(out, ", \"threads\": %u,\n      \"allocator\": ", trace->threads);
  json_string(out, info->name);
  fputs(", \"allocator_version\": ", out);
  json_string(out, info->version);
  fputs(", \"group\": ", out);
  json_string(out, info->group);
  fputs(",\n      \"status\": ", out);
  json_string(out, r->status);
  fprintf(out, ", \"ops\": %llu, \"repeat\": %u,\n", (unsigned long long)r->ops, r->repeat_done);
  fputs("      \"ns_per_op\": ", out);
  json_double(out, r->ns_per_op, r->timed);
  fputs(", \"ns_per_op_min\": ", out);
  json_double(out, r->ns_per_op_min, r->timed);
  fputs(", \"ns_per_op_max\": ", out);
  json_double(out, r->ns_per_op_max, r->timed);
  fputs(", \"ops_per_sec\": ", out);
  json_double(out, r->ops_per_sec, r->timed);
  fputs(", \"cpu_ns_per_op\": ", out);
  json_double(out, r->cpu_ns_per_op, r->timed && r->cpu_ns_per_op >= 0);
  fputs(", \"ns_per_op_passes\": ", out);
  if (!r->timed || !r->pass_ns_per_op) {
    fputs("null", out);
  } else {
    fputc('[', out);
    for (unsigned k = 0; k < r->repeat_done; k++) {
      fputs(k ? ", " : "", out);
      json_double(out, r->pass_ns_per_op[k], 1);
    }
    fputc(']', out);
  }
  fprintf(out, ",\n      \"peak_live_bytes\": %llu, \"peak_live_op\": %llu",
          (unsigned long long)r->peak_live_bytes, (unsigned long long)r->peak_live_op);
  /* The instrumented pass's figures that the JSON takes as they are. */
  fputs(",\n     ", out);
  for (int f = 0; f < HB_FIG_COUNT; f++) {
    if (!hb_worker_figure_in_json((hb_worker_figure)f)) continue;
    fprintf(out, " \"%s\": ", hb_worker_figure_key((hb_worker_figure)f));
    json_int(out, r->instrumented ? r->figure[f] : HB_UNKNOWN);
    fputc(',', out);
  }
  fputs("\n      \"peak_rss_bytes\": ", out);
  json_int(out, r->timed ? r->peak_rss_bytes : HB_UNKNOWN);
  const struct {
    const char *key;
    double value;
  } ratios[] = {
      {"utilization", hb_cell_utilization(r)},   {"fragmentation", hb_cell_fragmentation(r)},
      {"reuse_rate", hb_cell_reuse_rate(r)},     {"byte_reuse_rate", hb_cell_byte_reuse_rate(r)},
      {"lifo_share", hb_cell_lifo_share(r)},
  };
  for (size_t k = 0; k < sizeof ratios / sizeof ratios[0]; k++) {
    fprintf(out, ", \"%s\": ", ratios[k].key);
    json_double(out, ratios[k].value, 1);
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
      json_int(out, s->footprint_bytes);
      fputs(", \"rss_bytes\": ", out);
      json_int(out, s->rss_bytes);
      fputc('}', out);
    }
    fputs(r->sample_count ? "\n      ]" : "]", out);
  }
  fputs("\n    }", out);
}

int hb_report_json(FILE *out, const char *path, const hb_replay_report *rep) {
  char host[256] = "unknown";
  gethostname(host, sizeof host - 1);
  fputs("{\n  \"schema_version\": 1,\n  \"tool\": \"heapbench " HB_VERSION "\",\n  \"label\": ", out);
  json_string(out, rep->label ? rep->label : host);
  fputs(",\n", out);
  write_machine(out, rep);
  fprintf(out, "  \"settings\": {\"repeat\": %u, \"time_limit_sec\": ", rep->settings->repeat);
  json_double(out, rep->settings->time_limit_sec, 1);
  fputs(", \"touch\": ", out);
  json_string(out, rep->settings->touch_all ? "all" : "first-byte");
  fputs("},\n  \"runs\": [\n", out);
  int first = 1;
  for (size_t t = 0; t < rep->trace_count; t++)
    for (size_t a = 0; a < rep->chosen_count; a++) {
      if (!first) fputs(",\n", out);
      first = 0;
      write_run(out, rep, t, a);
    }
  fputs("\n  ]\n}\n", out);
  if (fclose(out) != 0) {
    fprintf(stderr, "heapbench replay: %s: cannot write: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}
