/* replay.c — `heapbench replay`: arguments, traces, the loop over cells.
 * The table and the JSON are written by replay_report.c. */
#define _GNU_SOURCE
#include "hb_replay.h"
#include "hb_trace.h"
#include "replay_report.h"

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE                                                                          \
  "usage: heapbench replay [--allocators LIST|all] [--repeat N] [--json FILE]\n"       \
  "                        [--time-limit SEC] [--touch first-byte|all] [--label TEXT]\n" \
  "                        [TRACE...]\n"

static void help(void) {
  printf(USAGE
         "\n"
         "Replays each TRACE (heapbench .hbt, CS:APP .rep or valgrind log) on each\n"
         "allocator, one worker process per pass, and prints a table (trace x allocator).\n"
         "Without TRACE: the traces the project ships, %s/*.hbt.\n"
         "\n"
         "  --allocators LIST  comma-separated names (see `heapbench list`); default all\n"
         "  --repeat N         timed passes per cell, each in a fresh process (default 5);\n"
         "                     the median is reported, with min and max; the allocators\n"
         "                     of a trace take turns, pass by pass\n"
         "  --json FILE        write every figure (docs/JSON.md)\n"
         "  --time-limit SEC   per cell, its passes together; a cell past it is reported\n"
         "                     'timeout' (default 60, 0 = none)\n"
         "  --touch MODE       write the first byte of each new block (default) or all of it\n"
         "  --label TEXT       a name for this run in the JSON (default: the host name)\n"
         "\n"
         "Figures are defined in docs/METRICS.md.\n",
         HB_TRACE_DATA_DIR);
}

static int usage_error(const char *problem, const char *arg) {
  fprintf(stderr, "heapbench replay: %s%s%s\n%s", problem, arg ? " " : "", arg ? arg : "", USAGE);
  return 2;
}

static int parse_unsigned(const char *text, unsigned *value) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(text, &end, 10);
  if (errno || end == text || *end || v == 0 || v > 1000 || text[0] == '-') return -1;
  *value = (unsigned)v;
  return 0;
}

static int parse_seconds(const char *text, double *value) {
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (errno || end == text || *end || !(v >= 0) || v > 1e7) return -1;
  *value = v;
  return 0;
}

/* Resolves LIST against the built allocators into `chosen` (indices into
 * infos). -1 with a message naming the unknown allocator. */
static int choose_allocators(const char *list, const hb_allocator_info *infos, size_t count,
                             size_t *chosen, size_t *chosen_count) {
  *chosen_count = 0;
  if (!list || strcmp(list, "all") == 0) {
    for (size_t i = 0; i < count; i++) chosen[(*chosen_count)++] = i;
    return 0;
  }
  char *copy = strdup(list), *save = NULL;
  if (!copy) return -1;
  for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
    const hb_allocator_info *info = hb_workers_find(infos, count, name);
    if (!info) {
      fprintf(stderr, "heapbench replay: unknown allocator '%s' (built:", name);
      for (size_t i = 0; i < count; i++) fprintf(stderr, "%s%s", i ? ", " : " ", infos[i].name);
      fprintf(stderr, ")\n");
      free(copy);
      return -1;
    }
    size_t index = (size_t)(info - infos);
    int duplicate = 0;
    for (size_t k = 0; k < *chosen_count; k++) duplicate |= chosen[k] == index;
    if (!duplicate) chosen[(*chosen_count)++] = index;
  }
  free(copy);
  if (*chosen_count == 0) {
    fprintf(stderr, "heapbench replay: --allocators names no allocator\n");
    return -1;
  }
  return 0;
}

/* Loads and encodes every trace before anything runs, so bad input stops
 * the command before any measurement. */
static int prepare_traces(char **paths, size_t count, hb_replay_trace *traces) {
  for (size_t t = 0; t < count; t++) {
    hb_trace trace;
    hb_error error;
    if (hb_trace_load(paths[t], &trace, &error) != 0) {
      fprintf(stderr, "heapbench replay: %s\n", error.message);
      return -1;
    }
    if (trace.op_count == 0) { /* nothing to time: no figure would mean anything */
      fprintf(stderr, "heapbench replay: %s: the trace has no operations\n", paths[t]);
      hb_trace_release(&trace);
      return -1;
    }
    if (trace.dropped_ops)
      fprintf(stderr, "heapbench replay: %s: note: the reader dropped %llu calls it could not place\n",
              paths[t], (unsigned long long)trace.dropped_ops);
    if (trace.other_process_calls)
      fprintf(stderr, "heapbench replay: %s: note: only the first process (pid %u) is replayed; "
              "%llu calls of other processes skipped\n", paths[t], (unsigned)trace.pid,
              (unsigned long long)trace.other_process_calls);
    hb_replay_trace *out = &traces[t];
    out->fd = hb_cell_encode(&trace, &out->header, &error);
    out->path = strdup(trace.path);
    out->name = strdup(trace.name);
    out->format = trace.format;
    out->threads = trace.thread_count;
    hb_trace_release(&trace);
    if (out->fd < 0) {
      fprintf(stderr, "heapbench replay: %s\n", error.message);
      return -1;
    }
  }
  return 0;
}

int hb_cmd_replay(int argc, char **argv) {
  const char *allocator_list = NULL, *json_path = NULL, *label = NULL;
  hb_replay_settings settings = {.repeat = 5, .time_limit_sec = 60};
  char **paths = calloc((size_t)argc + 1, sizeof *paths);
  size_t path_count = 0;
  if (!paths) return 1;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      help();
      free(paths);
      return 0;
    }
    int takes_value = strcmp(arg, "--allocators") == 0 || strcmp(arg, "--repeat") == 0 ||
                      strcmp(arg, "--json") == 0 || strcmp(arg, "--time-limit") == 0 ||
                      strcmp(arg, "--touch") == 0 || strcmp(arg, "--label") == 0;
    if (takes_value && !value) {
      free(paths);
      return usage_error("missing value after", arg);
    }
    if (strcmp(arg, "--allocators") == 0) {
      allocator_list = value;
    } else if (strcmp(arg, "--repeat") == 0) {
      if (parse_unsigned(value, &settings.repeat) != 0) {
        free(paths);
        return usage_error("--repeat wants a count from 1 to 1000, not", value);
      }
    } else if (strcmp(arg, "--json") == 0) {
      json_path = value;
    } else if (strcmp(arg, "--time-limit") == 0) {
      if (parse_seconds(value, &settings.time_limit_sec) != 0) {
        free(paths);
        return usage_error("--time-limit wants seconds (0 = none), not", value);
      }
    } else if (strcmp(arg, "--touch") == 0) {
      if (strcmp(value, "all") != 0 && strcmp(value, "first-byte") != 0) {
        free(paths);
        return usage_error("--touch wants first-byte or all, not", value);
      }
      settings.touch_all = strcmp(value, "all") == 0;
    } else if (strcmp(arg, "--label") == 0) {
      label = value;
    } else if (arg[0] == '-' && arg[1]) {
      free(paths);
      return usage_error("unknown option", arg);
    } else {
      paths[path_count++] = argv[i];
      continue;
    }
    i++;
  }

  /* No TRACE: the bundled traces. */
  glob_t bundled = {0};
  if (path_count == 0) {
    if (glob(HB_TRACE_DATA_DIR "/*.hbt", 0, NULL, &bundled) != 0 || bundled.gl_pathc == 0) {
      fprintf(stderr,
              "heapbench replay: no TRACE given and no bundled trace in %s/*.hbt "
              "(give trace files, e.g. ../shared/traces/malloclab/*.rep)\n",
              HB_TRACE_DATA_DIR);
      globfree(&bundled);
      free(paths);
      return 1;
    }
    char **more = realloc(paths, (bundled.gl_pathc + 1) * sizeof *paths);
    if (!more) {
      globfree(&bundled);
      free(paths);
      return 1;
    }
    paths = more;
    for (size_t k = 0; k < bundled.gl_pathc; k++) paths[path_count++] = bundled.gl_pathv[k];
  }

  int rc = 1;
  hb_allocator_info *infos = NULL;
  size_t info_count = hb_workers_discover(&infos);
  size_t *chosen = calloc(info_count + 1, sizeof *chosen), chosen_count = 0;
  hb_replay_trace *traces = calloc(path_count, sizeof *traces);
  hb_cell_result *results = NULL;
  FILE *json = NULL;
  for (size_t t = 0; traces && t < path_count; t++) traces[t].fd = -1;
  if (info_count == 0 || !chosen || !traces) goto out;
  if (choose_allocators(allocator_list, infos, info_count, chosen, &chosen_count) != 0) goto out;
  if (prepare_traces(paths, path_count, traces) != 0) goto out;
  if (json_path && !(json = fopen(json_path, "w"))) {
    fprintf(stderr, "heapbench replay: %s: cannot write: %s\n", json_path, strerror(errno));
    goto out;
  }

  settings.progress = isatty(STDERR_FILENO);
  results = calloc(path_count * chosen_count, sizeof *results);
  if (!results) goto out;
  size_t cells = path_count * chosen_count;
  hb_cell_job *jobs = calloc(chosen_count, sizeof *jobs);
  char (*labels)[320] = calloc(chosen_count, sizeof *labels);
  if (!jobs || !labels) {
    free(jobs);
    free(labels);
    goto out;
  }
  /* A trace's cells run side by side, pass by pass (hb_cells_run). */
  for (size_t t = 0; t < path_count; t++) {
    for (size_t a = 0; a < chosen_count; a++) {
      size_t cell = t * chosen_count + a;
      snprintf(labels[a], sizeof labels[a], "[%zu/%zu] %s on %s", cell + 1, cells, traces[t].name,
               infos[chosen[a]].name);
      jobs[a] = (hb_cell_job){.allocator = &infos[chosen[a]], .label = labels[a],
                              .result = &results[cell]};
    }
    hb_cells_run(jobs, chosen_count, traces[t].fd, &traces[t].header, &settings);
  }
  free(jobs);
  free(labels);
  if (settings.progress) fprintf(stderr, "\r\033[K");

  hb_replay_report report = {.settings = &settings, .label = label, .infos = infos,
                             .info_count = info_count, .chosen = chosen,
                             .chosen_count = chosen_count, .traces = traces,
                             .trace_count = path_count, .results = results};
  hb_report_table(stdout, &report);
  rc = 0;
  if (json) {
    if (hb_report_json(json, json_path, &report) != 0) rc = 1;
    json = NULL; /* closed */
  }

out:
  if (json) { /* stopped before the run: leave no empty file behind */
    fclose(json);
    unlink(json_path);
  }
  if (results)
    for (size_t k = 0; k < path_count * chosen_count; k++) hb_cell_result_release(&results[k]);
  free(results);
  if (traces) {
    for (size_t t = 0; t < path_count; t++) {
      if (traces[t].fd >= 0) close(traces[t].fd);
      free(traces[t].path);
      free(traces[t].name);
    }
  }
  free(traces);
  free(chosen);
  free(infos);
  globfree(&bundled);
  free(paths);
  return rc;
}
