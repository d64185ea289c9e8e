/* run_report.h — private to `heapbench run`: what a run produced, and the
 * three ways it is written (the table on stdout, JSON and CSV; every
 * figure is defined in docs/RUN.md). */
#ifndef HB_RUN_REPORT_H
#define HB_RUN_REPORT_H

#include "hb_metrics.h"
#include "hb_workers.h"

#include <stdint.h>
#include <stdio.h>

typedef struct hb_run_settings {
  unsigned repeat;       /* passes per allocator */
  double time_limit_sec; /* per allocator, its passes together; 0 = none */
  int check_output;      /* compare stdout across allocators */
  const char *stdin_path; /* NULL: /dev/null */
  const char *label;     /* NULL: the host name */
} hb_run_settings;

/* One allocator's passes over the program. The speed figures reuse the
 * replay's: `speed.cold` holds wall ns per pass (ops = 1), so flags and the
 * ratio to the baseline come from hb_metrics.h unchanged. */
typedef struct hb_program_result {
  char status[600];      /* "ok", "timeout", "failed: ..." */
  char library[4096];    /* what was preloaded ("" for glibc) */
  char policy[64];       /* HB_SBRK_POLICY, for the sbrk policies; "" otherwise */
  hb_cell_result speed;  /* .cold: wall ns per pass; .repeat_done: passes completed */
  int exit_code;         /* of the last pass; -1 when none completed */
  int exit_codes_vary;   /* the passes did not all exit with the same code */
  double user_ns, sys_ns; /* medians over the passes; NaN when none */
  double peak_rss_bytes, minor_faults, major_faults, voluntary_switches, involuntary_switches;
  uint64_t stdout_hash;  /* FNV-1a 64 of the last pass's stdout */
  uint64_t stdout_bytes;
  int stdout_varies;     /* --check-output: the passes' stdout differed */
  /* Against the reference (the baseline, else the first allocator). */
  int same_exit_code;    /* -1: not compared */
  int same_stdout;       /* -1: not compared (no --check-output, or a side failed) */
} hb_program_result;

typedef struct hb_run_report {
  const hb_run_settings *settings;
  char *const *argv;           /* the program (argv[0] as given) */
  const char *program_path;    /* what was run */
  const hb_allocator_info *infos;
  size_t info_count;
  const size_t *chosen;        /* indices into infos, in column order */
  size_t chosen_count;
  const hb_program_result *results; /* [chosen_count] */
  size_t baseline;  /* index into chosen; chosen_count: none */
  size_t reference; /* the run exit codes and output are compared to */
} hb_run_report;

void hb_run_table(FILE *out, const hb_run_report *report);
/* Write to `out` (opened before the run) and close it; 0, or -1 with a
 * one-line message naming `path`. */
int hb_run_json(FILE *out, const char *path, const hb_run_report *report);
int hb_run_csv(FILE *out, const char *path, const hb_run_report *report);

#endif
