/* replay.c — `heapbench replay`: arguments, traces, the loop over cells.
 * The table and the JSON are written by replay_report.c. */
#define _GNU_SOURCE
#include "hb_cmd.h"
#include "hb_replay.h"
#include "hb_trace.h"
#include "replay_report.h"

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE                                                                             \
  "usage: heapbench replay [--allocators LIST|all] [--repeat N] [--speed both|cold|warm]\n" \
  "                        [--warmup N] [--baseline NAME] [--json FILE] [--time-limit SEC]\n" \
  "                        [--touch first-byte|all] [--label TEXT] [--no-latency] [TRACE...]\n"

static void help(void) {
  printf(USAGE
         "\n"
         "Replays each TRACE (heapbench .hbt, CS:APP .rep or valgrind log) on each\n"
         "allocator, one worker process per pass, and prints a table (trace x allocator).\n"
         "Without TRACE: the traces the project ships, %s/*.hbt*.\n"
         "\n"
         "  --allocators LIST  comma-separated names (see `heapbench list`); default all;\n"
         "                     -NAME leaves one out (all,-sbrk-tutorial or -sbrk-tutorial);\n"
         "                     NAME=PATH adds a malloc library heapbench has no adapter\n"
         "                     for, replayed under LD_PRELOAD by a generic worker\n"
         "  --repeat N         timed passes per cell, each in a fresh process (default 5);\n"
         "                     the median is reported, with min and max; the allocators\n"
         "                     of a trace take turns, pass by pass\n"
         "  --speed KIND       what a timed pass reports (default both): cold, the first\n"
         "                     replay in the fresh process; warm, the trace replayed again\n"
         "                     in that process after freeing what was left\n"
         "  --warmup N         untimed replays between the cold and the warm one (default 0)\n"
         "  --baseline NAME    the allocator the others are compared to (default glibc)\n"
         "  --no-latency       skip the latency pass (every call timed on its own)\n"
         "  --json FILE        write every figure (docs/JSON.md)\n"
         "  --time-limit SEC   per cell, its passes together; a cell past it is reported\n"
         "                     'timeout' (default 60, 0 = none)\n"
         "  --touch MODE       timed passes: write the first byte of each new block (default)\n"
         "                     or all of it (the instrumented pass always writes every byte)\n"
         "  --label TEXT       a name for this run in the JSON (default: the host name)\n"
         "\n"
         "Figures are defined in docs/METRICS.md.\n",
         HB_TRACE_DATA_DIR);
}

static int usage_error(const char *problem, const char *arg) {
  fprintf(stderr, "heapbench replay: %s%s%s\n%s", problem, arg ? " " : "", arg ? arg : "", USAGE);
  return 2;
}

static int parse_unsigned(const char *text, unsigned *value, unsigned long min) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(text, &end, 10);
  if (errno || end == text || *end || v < min || v > 1000 || text[0] == '-') return -1;
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
    out->fd = hb_ops_encode(&trace, &out->header, &error);
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

/* What the command line asked for. */
typedef struct replay_args {
  const char *allocator_list, *json_path, *label, *baseline;
  hb_replay_settings settings;
  char **paths; /* [path_count]: argv's TRACEs, or the bundled traces */
  size_t path_count;
  glob_t bundled;
} replay_args;

static void replay_args_release(replay_args *args) {
  if (args->bundled.gl_pathc) globfree(&args->bundled);
  free(args->paths);
}

/* 0: parsed; 1: --help printed (exit 0); 2: a usage error, printed. */
static int parse_args(int argc, char **argv, replay_args *args) {
  static const char *const speed_names[] = HB_SPEED_NAMES;
  args->paths = calloc((size_t)argc + 1, sizeof *args->paths);
  if (!args->paths) return usage_error("out of memory", NULL);
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      help();
      return 1;
    }
    if (strcmp(arg, "--no-latency") == 0) {
      args->settings.no_latency = 1;
      continue;
    }
    static const char *const with_value[] = {"--allocators", "--repeat", "--json", "--time-limit",
                                             "--touch", "--label", "--speed", "--warmup",
                                             "--baseline"};
    int takes_value = 0;
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
      takes_value |= strcmp(arg, with_value[k]) == 0;
    if (takes_value && !value) return usage_error("missing value after", arg);
    if (strcmp(arg, "--allocators") == 0) {
      args->allocator_list = value;
    } else if (strcmp(arg, "--repeat") == 0) {
      if (parse_unsigned(value, &args->settings.repeat, 1) != 0)
        return usage_error("--repeat wants a count from 1 to 1000, not", value);
    } else if (strcmp(arg, "--warmup") == 0) {
      if (parse_unsigned(value, &args->settings.warmup, 0) != 0)
        return usage_error("--warmup wants a count from 0 to 1000, not", value);
    } else if (strcmp(arg, "--speed") == 0) {
      int known = 0;
      for (int k = 0; k < 3; k++)
        if (strcmp(value, speed_names[k]) == 0) {
          args->settings.speed = (hb_speed_kind)k;
          known = 1;
        }
      if (!known) return usage_error("--speed wants both, cold or warm, not", value);
    } else if (strcmp(arg, "--json") == 0) {
      args->json_path = value;
    } else if (strcmp(arg, "--time-limit") == 0) {
      if (parse_seconds(value, &args->settings.time_limit_sec) != 0)
        return usage_error("--time-limit wants seconds (0 = none), not", value);
    } else if (strcmp(arg, "--touch") == 0) {
      if (strcmp(value, "all") != 0 && strcmp(value, "first-byte") != 0)
        return usage_error("--touch wants first-byte or all, not", value);
      args->settings.touch_all = strcmp(value, "all") == 0;
    } else if (strcmp(arg, "--label") == 0) {
      args->label = value;
    } else if (strcmp(arg, "--baseline") == 0) {
      args->baseline = value;
    } else if (arg[0] == '-' && arg[1]) {
      return usage_error("unknown option", arg);
    } else {
      args->paths[args->path_count++] = argv[i];
      continue;
    }
    i++;
  }
  if (args->path_count) return 0;
  /* No TRACE: the bundled traces, plain or compressed. */
  if (glob(HB_TRACE_DATA_DIR "/*.hbt", 0, NULL, &args->bundled) == GLOB_NOSPACE ||
      glob(HB_TRACE_DATA_DIR "/*.hbt.zst", GLOB_APPEND, NULL, &args->bundled) == GLOB_NOSPACE ||
      args->bundled.gl_pathc == 0) {
    fprintf(stderr,
            "heapbench replay: no TRACE given and no bundled trace in %s/*.hbt* "
            "(give trace files: .hbt, .rep or valgrind logs)\n",
            HB_TRACE_DATA_DIR);
    return 2;
  }
  char **more = realloc(args->paths, (args->bundled.gl_pathc + 1) * sizeof *args->paths);
  if (!more) return usage_error("out of memory", NULL);
  args->paths = more;
  for (size_t k = 0; k < args->bundled.gl_pathc; k++)
    args->paths[args->path_count++] = args->bundled.gl_pathv[k];
  return 0;
}

int hb_cmd_replay(int argc, char **argv) {
  replay_args args = {.settings = {.repeat = 5, .time_limit_sec = 60}};
  int parsed = parse_args(argc, argv, &args);
  if (parsed != 0) {
    replay_args_release(&args);
    return parsed == 1 ? 0 : 2;
  }
  hb_replay_settings settings = args.settings;
  char **paths = args.paths;
  size_t path_count = args.path_count;
  const char *allocator_list = args.allocator_list, *json_path = args.json_path,
             *label = args.label;

  int rc = 1;
  hb_allocator_info *infos = NULL;
  size_t info_count = hb_workers_discover(&infos);
  size_t *chosen = NULL, chosen_count = 0;
  hb_replay_trace *traces = calloc(path_count, sizeof *traces);
  hb_cell_result *results = NULL;
  FILE *json = NULL;
  for (size_t t = 0; traces && t < path_count; t++) traces[t].fd = -1;
  if (info_count == 0 || !traces) goto out;
  if (hb_workers_choose("replay", allocator_list, &infos, &info_count, &chosen, &chosen_count) != 0)
    goto out;
  if (prepare_traces(paths, path_count, traces) != 0) goto out;
  if (json_path && !(json = fopen(json_path, "w"))) {
    fprintf(stderr, "heapbench replay: %s: cannot write: %s\n", json_path, strerror(errno));
    goto out;
  }

  /* A line rewritten in place on a terminal; a line per cell in a log. */
  settings.progress = isatty(STDERR_FILENO) ? 1 : 2;
  size_t baseline = chosen_count; /* none */
  const char *baseline_name = args.baseline ? args.baseline : "glibc";
  for (size_t a = 0; a < chosen_count; a++)
    if (strcmp(infos[chosen[a]].name, baseline_name) == 0) baseline = a;
  if (args.baseline && baseline == chosen_count) {
    fprintf(stderr, "heapbench replay: --baseline %s is not among the allocators replayed\n",
            args.baseline);
    goto out;
  }
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
  if (settings.progress == 1) fprintf(stderr, "\r\033[K"); /* clear the progress line */

  hb_replay_report report = {.settings = &settings, .label = label, .infos = infos,
                             .info_count = info_count, .chosen = chosen,
                             .chosen_count = chosen_count, .traces = traces,
                             .trace_count = path_count, .results = results,
                             .baseline = baseline};
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
  replay_args_release(&args);
  return rc;
}
