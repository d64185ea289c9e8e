/* replay_report.h — private to `heapbench replay`: what a run produced,
 * and the two ways it is written (the table on stdout, docs/JSON.md). */
#ifndef HB_REPLAY_REPORT_H
#define HB_REPLAY_REPORT_H

#include "hb_metrics.h"
#include "hb_replay.h"

#include <stdio.h>

typedef struct hb_replay_trace {
  char *path, *name;
  const char *format;
  uint32_t threads;
  int fd; /* the encoded ops file (hb_ops.h) */
  hb_ops_header header;
} hb_replay_trace;

typedef struct hb_replay_report {
  const hb_replay_settings *settings;
  const char *label; /* NULL: the host name */
  const hb_allocator_info *infos;
  size_t info_count;
  const size_t *chosen; /* indices into infos, in column order */
  size_t chosen_count;
  const hb_replay_trace *traces;
  size_t trace_count;      /* traces finished, whose runs are written */
  size_t traces_planned;   /* traces asked for: above trace_count, the JSON says "partial" */
  const hb_cell_result *results; /* [trace * chosen_count + allocator] */
  size_t baseline; /* index into chosen of the allocator ratios are taken to; chosen_count: none */
} hb_replay_report;

/* The result of trace t on chosen allocator a. */
const hb_cell_result *hb_report_result(const hb_replay_report *report, size_t t, size_t a);
/* Its speed (cold or warm) relative to the baseline's on the same trace. */
hb_ratio hb_report_ratio(const hb_replay_report *report, size_t t, size_t a, int warm);

void hb_report_table(FILE *out, const hb_replay_report *report);
/* One cell of a plain-text table (replay's and run's): two spaces before
 * every column but the first, padded to `width` columns, left-aligned or
 * right-aligned. */
void hb_table_cell(FILE *out, int column, const char *text, size_t width, int left);
/* Writes the JSON to `out` and flushes it (the caller closes it). 0, or -1
 * with a one-line message naming `path` on stderr. */
int hb_report_json(FILE *out, const char *path, const hb_replay_report *report);
/* The CSV: a header, then the rows of trace t (one per allocator), the
 * table's figures with units in the column names. */
void hb_report_csv_header(FILE *out, const hb_replay_report *report);
void hb_report_csv_rows(FILE *out, const hb_replay_report *report, size_t t);

/* ---- Shared with `heapbench run` (run_report.c) ---- */
/* "1.5 MiB"; "-" for a negative (unknown) count. */
void hb_bytes_text(char *text, size_t size, int64_t bytes);
/* "short-pass,high-spread": the names of a set of HB_FLAG bits. */
void hb_flags_text(char *text, size_t size, unsigned flags);
/* "0.62x (0.58-0.66)", "no clear difference", "1.03x (few passes)", "-". */
void hb_ratio_text(char *text, size_t size, const hb_ratio *ratio);
/* JSON values: a string, escaped; a number (null when unknown or not
 * finite); a count (null when negative). */
void hb_json_string(FILE *out, const char *text);
void hb_json_double(FILE *out, double value, int known);
void hb_json_int(FILE *out, int64_t value);
/* The "machine" member, with its trailing comma (docs/JSON.md). */
void hb_report_machine(FILE *out, const hb_allocator_info *infos, size_t info_count);

#endif
