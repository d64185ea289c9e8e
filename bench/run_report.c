/* run_report.c — `heapbench run`'s table (stdout), JSON and CSV
 * (docs/RUN.md). The noise flags and the ratio to the baseline come from
 * hb_metrics.h, as the replay's do, with a pass's wall time as its speed. */
#define _GNU_SOURCE
#define HB_JSON_SCHEMA_VERSION "2" /* docs/JSON.md, docs/RUN.md */
#include "run_report.h"

#include "replay_report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *allocator_name(const hb_run_report *rep, size_t a) {
  return rep->infos[rep->chosen[a]].name;
}

static hb_ratio ratio_of(const hb_run_report *rep, size_t a) {
  hb_ratio none = {.ratio = NAN, .low = NAN, .high = NAN, .significant = 0};
  if (rep->baseline >= rep->chosen_count || a == rep->baseline) return none;
  const hb_cell_result *x = &rep->results[a].speed, *base = &rep->results[rep->baseline].speed;
  return hb_speed_ratio(&x->cold, &base->cold, x->repeat_done, base->repeat_done);
}

/* ---- Table ---- */
enum { COLUMNS = 11, CELL_TEXT = 640 };
static const int left_aligned[COLUMNS] = {1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1};

static void time_text(char *text, size_t size, double ns) {
  if (isnan(ns))
    snprintf(text, size, "-");
  else if (ns >= 1e9)
    snprintf(text, size, "%.2f s", ns / 1e9);
  else
    snprintf(text, size, "%.1f ms", ns / 1e6);
}

static void wall_text(char *text, size_t size, const hb_speed *wall, unsigned passes) {
  if (!wall->measured) {
    snprintf(text, size, "-");
    return;
  }
  char median[64];
  time_text(median, sizeof median, wall->ns_per_op);
  double spread = fmax(wall->ns_per_op_max - wall->ns_per_op, wall->ns_per_op - wall->ns_per_op_min);
  if (passes < 2 || !(wall->ns_per_op > 0))
    snprintf(text, size, "%s", median);
  else
    snprintf(text, size, "%s ±%.0f%%", median, 100 * spread / wall->ns_per_op);
}

static void result_text(const hb_run_report *rep, size_t a, char *text, size_t size) {
  const hb_program_result *r = &rep->results[a], *ref = &rep->results[rep->reference];
  if (a == rep->reference)
    snprintf(text, size, "%s", r->speed.repeat_done ? "reference" : "-");
  else if (r->same_exit_code < 0)
    snprintf(text, size, "-");
  else if (!r->same_exit_code)
    snprintf(text, size, "EXIT %d, %s %d", r->exit_code, allocator_name(rep, rep->reference),
             ref->exit_code);
  else if (r->same_stdout == 0)
    snprintf(text, size, "STDOUT DIFFERS");
  else
    snprintf(text, size, "same");
}

static void row_texts(const hb_run_report *rep, size_t a, char cells[COLUMNS][CELL_TEXT]) {
  const hb_program_result *r = &rep->results[a];
  int done = r->speed.repeat_done > 0;
  snprintf(cells[0], CELL_TEXT, "%s", allocator_name(rep, a));
  wall_text(cells[1], CELL_TEXT, &r->speed.cold, r->speed.repeat_done);
  if (a == rep->baseline) {
    snprintf(cells[2], CELL_TEXT, "%s", r->speed.cold.measured ? "baseline" : "-");
  } else {
    hb_ratio ratio = ratio_of(rep, a);
    hb_ratio_text(cells[2], CELL_TEXT, &ratio);
  }
  time_text(cells[3], CELL_TEXT, r->user_ns);
  time_text(cells[4], CELL_TEXT, r->sys_ns);
  hb_bytes_text(cells[5], CELL_TEXT, done ? (int64_t)r->peak_rss_bytes : HB_UNKNOWN);
  if (done)
    snprintf(cells[6], CELL_TEXT, "%.0f", r->minor_faults);
  else
    snprintf(cells[6], CELL_TEXT, "-");
  if (done)
    snprintf(cells[7], CELL_TEXT, "%d", r->exit_code);
  else
    snprintf(cells[7], CELL_TEXT, "-");
  result_text(rep, a, cells[8], CELL_TEXT);
  hb_flags_text(cells[9], CELL_TEXT, hb_cell_flags(&r->speed));
  snprintf(cells[10], CELL_TEXT, "%s", r->status);
}

void hb_run_table(FILE *out, const hb_run_report *rep) {
  char vs[96];
  const char *baseline =
      rep->baseline < rep->chosen_count ? allocator_name(rep, rep->baseline) : NULL;
  snprintf(vs, sizeof vs, "vs %s", baseline ? baseline : "baseline");
  const char *headings[COLUMNS] = {"allocator", "wall", vs, "user", "sys", "peak RSS",
                                   "minor faults", "exit", "result", "flags", "status"};
  size_t width[COLUMNS];
  char cells[COLUMNS][CELL_TEXT];
  for (int c = 0; c < COLUMNS; c++) width[c] = strlen(headings[c]);
  unsigned shown_flags = 0;
  int differs = 0;
  for (size_t a = 0; a < rep->chosen_count; a++) {
    row_texts(rep, a, cells);
    shown_flags |= hb_cell_flags(&rep->results[a].speed);
    differs |= rep->results[a].same_exit_code == 0 || rep->results[a].same_stdout == 0;
    for (int c = 0; c < COLUMNS - 1; c++)
      if (strlen(cells[c]) > width[c]) width[c] = strlen(cells[c]);
  }
  width[COLUMNS - 1] = 0;
  fprintf(out, "program: %s", rep->program_path);
  for (size_t i = 1; rep->argv[i]; i++) fprintf(out, " %s", rep->argv[i]);
  fputs("\n\n", out);
  for (int c = 0; c < COLUMNS; c++) hb_table_cell(out, c, headings[c], width[c], left_aligned[c]);
  fputc('\n', out);
  for (size_t a = 0; a < rep->chosen_count; a++) {
    row_texts(rep, a, cells);
    for (int c = 0; c < COLUMNS; c++) hb_table_cell(out, c, cells[c], width[c], left_aligned[c]);
    fputc('\n', out);
  }
  unsigned repeat = rep->settings->repeat;
  fprintf(out,
          "\nwall: the whole program, start to exit, median of %u pass%s (± the farthest pass);\n"
          "user, sys, peak RSS, faults: medians, from wait4 (the program and the children it\n"
          "waited for); peak RSS is the program's own ru_maxrss.\n",
          repeat, repeat == 1 ? "" : "es");
  if (baseline)
    fprintf(out,
            "vs %s: ratio of median wall time (above 1: slower) with its 95%% interval;\n"
            "\"no clear difference\" when the interval holds 1.\n",
            baseline);
  fprintf(out, "result: the program's exit code%s against %s's.\n",
          rep->settings->check_output ? " and stdout" : "", allocator_name(rep, rep->reference));
  if (differs)
    fprintf(out, "A different result under an allocator is a finding about that allocator "
                 "(or the program), not a speed.\n");
  for (unsigned bit = 0; bit < HB_FLAG_COUNT; bit++)
    if (shown_flags & (1u << bit)) fprintf(out, "%s: %s.\n", hb_flag_name(bit), hb_flag_legend(bit));
  fprintf(out, "Definitions: docs/RUN.md.\n");
}

/* ---- JSON ---- */
/* A count or a time in ns, to the unit (a median of an even number of
 * passes may end in .5); null when unknown. */
static void json_count(FILE *out, double value, int known) {
  if (!known || !isfinite(value))
    fputs("null", out);
  else if (value == floor(value))
    fprintf(out, "%.0f", value);
  else
    fprintf(out, "%.1f", value);
}

static void json_bool_or_null(FILE *out, int value) {
  fputs(value < 0 ? "null" : value ? "true" : "false", out);
}

static void write_run(FILE *out, const hb_run_report *rep, size_t a) {
  const hb_program_result *r = &rep->results[a];
  const hb_allocator_info *info = &rep->infos[rep->chosen[a]];
  const hb_speed *wall = &r->speed.cold;
  int done = r->speed.repeat_done > 0;
  fputs("    {\n      \"program\": ", out);
  hb_json_string(out, rep->program_path);
  fputs(", \"argv\": [", out);
  for (size_t i = 0; rep->argv[i]; i++) {
    fputs(i ? ", " : "", out);
    hb_json_string(out, rep->argv[i]);
  }
  fputs("],\n      \"allocator\": ", out);
  hb_json_string(out, info->name);
  fputs(", \"allocator_version\": ", out);
  hb_json_string(out, info->version);
  fputs(", \"group\": ", out);
  hb_json_string(out, info->group);
  fputs(", \"library\": ", out);
  if (r->library[0]) hb_json_string(out, r->library);
  else fputs("null", out);
  fputs(", \"sbrk_policy\": ", out);
  if (r->policy[0]) hb_json_string(out, r->policy);
  else fputs("null", out);
  fputs(",\n      \"status\": ", out);
  hb_json_string(out, r->status);
  fputs(", \"exit_code\": ", out);
  if (done) fprintf(out, "%d", r->exit_code);
  else fputs("null", out);
  fprintf(out, ", \"repeat\": %u,\n      \"wall_ns\": ", r->speed.repeat_done);
  json_count(out, wall->ns_per_op, wall->measured);
  fputs(", \"wall_ns_min\": ", out);
  json_count(out, wall->ns_per_op_min, wall->measured);
  fputs(", \"wall_ns_max\": ", out);
  json_count(out, wall->ns_per_op_max, wall->measured);
  fputs(", \"wall_ns_passes\": ", out);
  if (!wall->measured) {
    fputs("null", out);
  } else {
    fputc('[', out);
    for (unsigned k = 0; k < r->speed.repeat_done; k++) {
      fputs(k ? ", " : "", out);
      json_count(out, wall->pass_ns_per_op[k], 1);
    }
    fputc(']', out);
  }
  const struct {
    const char *key;
    double value;
  } medians[] = {
      {"user_ns", r->user_ns},
      {"sys_ns", r->sys_ns},
      {"peak_rss_bytes", r->peak_rss_bytes},
      {"minor_faults", r->minor_faults},
      {"major_faults", r->major_faults},
      {"voluntary_switches", r->voluntary_switches},
      {"involuntary_switches", r->involuntary_switches},
  };
  fputs(",\n     ", out);
  for (size_t k = 0; k < sizeof medians / sizeof medians[0]; k++) {
    fprintf(out, "%s \"%s\": ", k ? "," : "", medians[k].key);
    json_count(out, medians[k].value, done);
  }
  fputs(",\n      \"flags\": [", out);
  unsigned flags = hb_cell_flags(&r->speed);
  for (unsigned bit = 0, n = 0; bit < HB_FLAG_COUNT; bit++)
    if (flags & (1u << bit)) {
      fputs(n++ ? ", " : "", out);
      hb_json_string(out, hb_flag_name(bit));
    }
  fputs("],\n      \"ratio_to_baseline\": ", out);
  const hb_program_result *base = rep->baseline < rep->chosen_count ? &rep->results[rep->baseline] : NULL;
  if (!base || a == rep->baseline || !base->speed.cold.measured) {
    fputs("null", out);
  } else {
    hb_ratio ratio = ratio_of(rep, a);
    fputs("{\"baseline\": ", out);
    hb_json_string(out, allocator_name(rep, rep->baseline));
    fputs(", \"wall_ns\": ", out);
    hb_json_double(out, ratio.ratio, 1);
    fputs(", \"ci95\": ", out);
    if (isnan(ratio.low)) {
      fputs("null", out);
    } else {
      fputc('[', out);
      hb_json_double(out, ratio.low, 1);
      fputs(", ", out);
      hb_json_double(out, ratio.high, 1);
      fputc(']', out);
    }
    fprintf(out, ", \"significant\": %s}", ratio.significant ? "true" : "false");
  }
  fputs(",\n      \"stdout_bytes\": ", out);
  if (done) fprintf(out, "%llu", (unsigned long long)r->stdout_bytes);
  else fputs("null", out);
  fputs(", \"stdout_fnv1a64\": ", out);
  if (done) fprintf(out, "\"%016llx\"", (unsigned long long)r->stdout_hash);
  else fputs("null", out);
  fputs(", \"stdout_varies\": ", out);
  json_bool_or_null(out, done ? r->stdout_varies : -1);
  fputs(",\n      \"result\": {\"reference\": ", out);
  hb_json_string(out, allocator_name(rep, rep->reference));
  fputs(", \"same_exit_code\": ", out);
  json_bool_or_null(out, r->same_exit_code);
  fputs(", \"same_stdout\": ", out);
  json_bool_or_null(out, r->same_stdout);
  fputs("}\n    }", out);
}

int hb_run_json(FILE *out, const char *path, const hb_run_report *rep) {
  char host[256] = "unknown";
  gethostname(host, sizeof host - 1);
  fputs("{\n  \"schema_version\": " HB_JSON_SCHEMA_VERSION ",\n  \"tool\": \"heapbench " HB_VERSION
        "\",\n  \"kind\": \"run\",\n  \"label\": ", out);
  hb_json_string(out, rep->settings->label ? rep->settings->label : host);
  fputs(",\n", out);
  hb_report_machine(out, rep->infos, rep->info_count);
  fprintf(out, "  \"settings\": {\"repeat\": %u, \"time_limit_sec\": ", rep->settings->repeat);
  hb_json_double(out, rep->settings->time_limit_sec, 1);
  fputs(", \"baseline\": ", out);
  if (rep->baseline < rep->chosen_count) hb_json_string(out, allocator_name(rep, rep->baseline));
  else fputs("null", out);
  fprintf(out, ", \"check_output\": %s, \"stdin\": ", rep->settings->check_output ? "true" : "false");
  hb_json_string(out, rep->settings->stdin_path ? rep->settings->stdin_path : "/dev/null");
  fputs("},\n  \"runs\": [\n", out);
  for (size_t a = 0; a < rep->chosen_count; a++) {
    if (a) fputs(",\n", out);
    write_run(out, rep, a);
  }
  fputs("\n  ]\n}\n", out);
  if (out == stdout ? fflush(out) != 0 || ferror(out) : fclose(out) != 0) {
    fprintf(stderr, "heapbench run: %s: cannot write: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* ---- CSV ---- */
static void csv_text(FILE *out, const char *text) {
  fputc('"', out);
  for (const char *p = text; *p; p++) {
    if (*p == '"') fputc('"', out);
    fputc(*p == '\n' ? ' ' : *p, out);
  }
  fputc('"', out);
}

/* Counts and ns to the unit; an empty field when unknown. */
static void csv_number(FILE *out, double value, int known) {
  if (known && isfinite(value)) fprintf(out, value == floor(value) ? "%.0f" : "%.1f", value);
}

int hb_run_csv(FILE *out, const char *path, const hb_run_report *rep) {
  fputs("program,allocator,status,exit_code,repeat,wall_ns,wall_ns_min,wall_ns_max,user_ns,sys_ns,"
        "peak_rss_bytes,minor_faults,major_faults,voluntary_switches,involuntary_switches,"
        "ratio_to_baseline,same_exit_code,same_stdout,flags\n", out);
  for (size_t a = 0; a < rep->chosen_count; a++) {
    const hb_program_result *r = &rep->results[a];
    const hb_speed *wall = &r->speed.cold;
    int done = r->speed.repeat_done > 0;
    csv_text(out, rep->program_path);
    fputc(',', out);
    csv_text(out, allocator_name(rep, a));
    fputc(',', out);
    csv_text(out, r->status);
    fputc(',', out);
    if (done) fprintf(out, "%d", r->exit_code);
    fprintf(out, ",%u,", r->speed.repeat_done);
    csv_number(out, wall->ns_per_op, wall->measured);
    fputc(',', out);
    csv_number(out, wall->ns_per_op_min, wall->measured);
    fputc(',', out);
    csv_number(out, wall->ns_per_op_max, wall->measured);
    const double medians[] = {r->user_ns, r->sys_ns, r->peak_rss_bytes, r->minor_faults,
                              r->major_faults, r->voluntary_switches, r->involuntary_switches};
    for (size_t k = 0; k < sizeof medians / sizeof medians[0]; k++) {
      fputc(',', out);
      csv_number(out, medians[k], done);
    }
    fputc(',', out);
    hb_ratio ratio = ratio_of(rep, a);
    if (!isnan(ratio.ratio)) fprintf(out, "%.6g", ratio.ratio);
    static const char *const tristate[] = {"", "false", "true"};
    fprintf(out, ",%s,%s,", tristate[r->same_exit_code + 1], tristate[r->same_stdout + 1]);
    char flags[256];
    hb_flags_text(flags, sizeof flags, hb_cell_flags(&r->speed));
    csv_text(out, flags);
    fputc('\n', out);
  }
  if (out == stdout ? fflush(out) != 0 || ferror(out) : fclose(out) != 0) {
    fprintf(stderr, "heapbench run: %s: cannot write: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}
