/* replay.c — `heapbench replay`: arguments, traces, the loop over cells.
 * The table and the JSON are written by replay_report.c. */
#define _GNU_SOURCE
#include "hb_cmd.h"
#include "args.h"
#include "hb_replay.h"
#include "hb_reader.h"
#include "hb_trace.h"
#include "replay_report.h"

#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE                                                                             \
  "usage: heapbench replay [--allocators LIST|all] [--repeat N] [--speed both|cold|warm]\n" \
  "                        [--warmup N] [--baseline NAME] [--json FILE] [--time-limit SEC]\n" \
  "                        [--touch first-byte|all] [--label TEXT] [--csv FILE]\n" \
  "                        [--traces PATTERN] [--no-latency] [TRACE|DIR...]\n"

static void help(void) {
  printf(USAGE
         "\n"
         "Replays each TRACE (heapbench .hbt, CS:APP .rep or valgrind log) on each\n"
         "allocator, one worker process per pass, and prints a table (trace x allocator).\n"
         "A DIR stands for every trace in it, sorted by name. Without TRACE: the traces\n"
         "the project ships, %s/*.hbt*.\n"
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
         "  --json FILE        write every figure (docs/JSON.md); - for stdout (the table\n"
         "                     then goes to stderr). The file is rewritten as each trace\n"
         "                     finishes (\"partial\": true until the last one), so an\n"
         "                     interrupted run keeps the traces it finished\n"
         "  --csv FILE         the table's figures, one row per run, header first, units\n"
         "                     in the column names; - for stdout; rows written as each\n"
         "                     trace finishes\n"
         "  --traces PATTERN   only the traces whose name (file name without extension)\n"
         "                     matches PATTERN, a shell glob; several: comma-separated\n"
         "                     (--traces 'perl*,sqlite3-orders')\n"
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

/* Reads and encodes every trace before anything runs, so bad input stops
 * the command before any measurement. Each trace streams into its ops
 * file (hb_ops_encode_reader): the front end's memory follows the blocks
 * live at once, not the trace's length. */
static int prepare_traces(char **paths, size_t count, hb_replay_trace *traces) {
  for (size_t t = 0; t < count; t++) {
    hb_reader *reader;
    hb_error error;
    if (hb_reader_open(paths[t], HB_READER_SLOTS, &reader, &error) != 0) {
      fprintf(stderr, "heapbench replay: %s\n", error.message);
      return -1;
    }
    hb_replay_trace *out = &traces[t];
    out->fd = hb_ops_encode_reader(reader, &out->header, &error);
    const hb_trace *trace = hb_reader_trace(reader);
    if (out->fd < 0) {
      fprintf(stderr, "heapbench replay: %s\n", error.message);
      hb_reader_close(reader);
      return -1;
    }
    if (trace->op_count == 0) { /* nothing to time: no figure would mean anything */
      fprintf(stderr, "heapbench replay: %s: the trace has no operations\n", paths[t]);
      hb_reader_close(reader);
      return -1;
    }
    if (trace->dropped_ops)
      fprintf(stderr, "heapbench replay: %s: note: the reader dropped %llu calls it could not place\n",
              paths[t], (unsigned long long)trace->dropped_ops);
    if (trace->other_process_calls)
      fprintf(stderr, "heapbench replay: %s: note: only the first process (pid %u) is replayed; "
              "%llu calls of other processes skipped\n", paths[t], (unsigned)trace->pid,
              (unsigned long long)trace->other_process_calls);
    out->path = strdup(trace->path);
    out->name = strdup(trace->name);
    out->format = trace->format;
    out->threads = trace->thread_count;
    hb_reader_close(reader);
  }
  return 0;
}

/* Writes the JSON beside path and renames it into place, so the file is
 * always whole JSON: "partial" until every trace is in (hb_report_json). */
static int write_json_file(const char *path, const hb_replay_report *report) {
  char *temporary = NULL;
  if (asprintf(&temporary, "%s.tmp", path) < 0) return -1;
  FILE *out = fopen(temporary, "w");
  int rc = out ? hb_report_json(out, temporary, report) : -1;
  if (!out)
    fprintf(stderr, "heapbench replay: %s: cannot write: %s\n", temporary, strerror(errno));
  if (out && fclose(out) != 0 && rc == 0) {
    fprintf(stderr, "heapbench replay: %s: cannot write: %s\n", temporary, strerror(errno));
    rc = -1;
  }
  if (rc == 0 && rename(temporary, path) != 0) {
    fprintf(stderr, "heapbench replay: %s: cannot write: %s\n", path, strerror(errno));
    rc = -1;
  }
  if (rc != 0) unlink(temporary);
  free(temporary);
  return rc;
}

/* What the command line asked for. */
typedef struct replay_args {
  const char *allocator_list, *json_path, *csv_path, *label, *baseline, *trace_patterns;
  hb_replay_settings settings;
  char **paths; /* [path_count], malloc'd: argv's TRACEs and DIRs' traces, or the bundled ones */
  size_t path_count, path_capacity;
} replay_args;

static void replay_args_release(replay_args *args) {
  for (size_t k = 0; k < args->path_count; k++) free(args->paths[k]);
  free(args->paths);
}

static int add_path(replay_args *args, const char *path) {
  if (args->path_count == args->path_capacity) {
    size_t capacity = args->path_capacity ? 2 * args->path_capacity : 16;
    char **more = realloc(args->paths, capacity * sizeof *more);
    if (!more) return -1;
    args->paths = more;
    args->path_capacity = capacity;
  }
  if (!(args->paths[args->path_count] = strdup(path))) return -1;
  args->path_count++;
  return 0;
}

/* A trace's name as --traces sees it: the file name without its
 * extensions (".hbt.zst", ".rep", ...). */
static void trace_stem(const char *path, char *stem, size_t size) {
  const char *slash = strrchr(path, '/');
  snprintf(stem, size, "%s", slash ? slash + 1 : path);
  static const char *const suffixes[] = {".zst", ".gz", ".hbt", ".rep", ".trace", ".log",
                                         ".hbraw", ".t0"};
  for (size_t k = 0; k < sizeof suffixes / sizeof suffixes[0]; k++) {
    size_t len = strlen(stem), suffix_len = strlen(suffixes[k]);
    if (len > suffix_len && strcmp(stem + len - suffix_len, suffixes[k]) == 0)
      stem[len - suffix_len] = 0;
  }
}

/* --traces: keeps the paths whose name matches one of the comma-separated
 * patterns; each pattern must match some trace. */
static int filter_traces(replay_args *args) {
  char *copy = strdup(args->trace_patterns), *save = NULL;
  unsigned char *keep = calloc(args->path_count + 1, 1);
  int rc = 0;
  if (!copy || !keep) rc = usage_error("out of memory", NULL);
  for (char *pattern = copy ? strtok_r(copy, ",", &save) : NULL; !rc && pattern;
       pattern = strtok_r(NULL, ",", &save)) {
    int matched = 0;
    for (size_t k = 0; k < args->path_count; k++) {
      char stem[1024];
      trace_stem(args->paths[k], stem, sizeof stem);
      if (fnmatch(pattern, stem, 0) == 0) keep[k] = matched = 1;
    }
    if (!matched) {
      fprintf(stderr, "heapbench replay: --traces %s matches no trace (traces:", pattern);
      for (size_t k = 0; k < args->path_count; k++) {
        char stem[1024];
        trace_stem(args->paths[k], stem, sizeof stem);
        fprintf(stderr, "%s%s", k ? ", " : " ", stem);
      }
      fprintf(stderr, ")\n");
      rc = 2;
    }
  }
  size_t kept = 0;
  for (size_t k = 0; k < args->path_count; k++) {
    if (!rc && keep[k])
      args->paths[kept++] = args->paths[k];
    else if (!rc)
      free(args->paths[k]);
  }
  if (!rc) args->path_count = kept;
  free(copy);
  free(keep);
  return rc;
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
                                             "--baseline", "--csv", "--traces"};
    int takes_value = 0;
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
      takes_value |= strcmp(arg, with_value[k]) == 0;
    if (takes_value && !value) return usage_error("missing value after", arg);
    if (strcmp(arg, "--allocators") == 0) {
      args->allocator_list = value;
    } else if (strcmp(arg, "--repeat") == 0) {
      if (hb_parse_count(value, &args->settings.repeat, 1) != 0)
        return usage_error("--repeat wants a count from 1 to 1000, not", value);
    } else if (strcmp(arg, "--warmup") == 0) {
      if (hb_parse_count(value, &args->settings.warmup, 0) != 0)
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
      if (hb_parse_seconds(value, &args->settings.time_limit_sec) != 0)
        return usage_error("--time-limit wants seconds (0 = none), not", value);
    } else if (strcmp(arg, "--touch") == 0) {
      if (strcmp(value, "all") != 0 && strcmp(value, "first-byte") != 0)
        return usage_error("--touch wants first-byte or all, not", value);
      args->settings.touch_all = strcmp(value, "all") == 0;
    } else if (strcmp(arg, "--label") == 0) {
      args->label = value;
    } else if (strcmp(arg, "--baseline") == 0) {
      args->baseline = value;
    } else if (strcmp(arg, "--csv") == 0) {
      args->csv_path = value;
    } else if (strcmp(arg, "--traces") == 0) {
      args->trace_patterns = value;
    } else if (arg[0] == '-' && arg[1]) {
      return usage_error("unknown option", arg);
    } else if (hb_path_is_dir(arg)) { /* every trace in it, by name */
      char **listed;
      size_t listed_count;
      hb_error error;
      if (hb_trace_dir_list(arg, &listed, &listed_count, &error) != 0) {
        fprintf(stderr, "heapbench replay: %s\n", error.message);
        return 2;
      }
      for (size_t k = 0; k < listed_count; k++)
        if (add_path(args, listed[k]) != 0) return usage_error("out of memory", NULL);
      hb_trace_dir_release(listed, listed_count);
      continue;
    } else {
      if (add_path(args, arg) != 0) return usage_error("out of memory", NULL);
      continue;
    }
    i++;
  }
  if (args->json_path && args->csv_path && strcmp(args->json_path, "-") == 0 &&
      strcmp(args->csv_path, "-") == 0)
    return usage_error("--json - and --csv - cannot both write to stdout", NULL);
  if (args->path_count == 0) {
    /* No TRACE: the bundled traces, plain or compressed. */
    static const char *const patterns[] = {HB_TRACE_DATA_DIR "/*.hbt",
                                           HB_TRACE_DATA_DIR "/*.hbt.zst"};
    for (size_t p = 0; p < sizeof patterns / sizeof patterns[0]; p++) {
      glob_t bundled;
      int failed = 0;
      if (glob(patterns[p], 0, NULL, &bundled) == 0)
        for (size_t k = 0; k < bundled.gl_pathc && !failed; k++)
          failed = add_path(args, bundled.gl_pathv[k]) != 0;
      globfree(&bundled); /* glob leaves it freeable whatever it returned */
      if (failed) return usage_error("out of memory", NULL);
    }
    if (args->path_count == 0) {
      fprintf(stderr,
              "heapbench replay: no TRACE given and no bundled trace in %s/*.hbt* "
              "(give trace files: .hbt, .rep or valgrind logs)\n",
              HB_TRACE_DATA_DIR);
      return 2;
    }
  }
  return args->trace_patterns ? filter_traces(args) : 0;
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
  FILE *json = NULL, *csv = NULL;
  int json_to_stdout = json_path && strcmp(json_path, "-") == 0;
  int csv_to_stdout = args.csv_path && strcmp(args.csv_path, "-") == 0;
  FILE *table = json_to_stdout || csv_to_stdout ? stderr : stdout;
  for (size_t t = 0; traces && t < path_count; t++) traces[t].fd = -1;
  if (info_count == 0 || !traces) goto out;
  if (hb_workers_choose("replay", allocator_list, &infos, &info_count, &chosen, &chosen_count) != 0)
    goto out;
  if (prepare_traces(paths, path_count, traces) != 0) goto out;
  if (json_path && !(json = json_to_stdout ? stdout : fopen(json_path, "w"))) {
    fprintf(stderr, "heapbench replay: %s: cannot write: %s\n", json_path, strerror(errno));
    goto out;
  }
  if (args.csv_path && !(csv = csv_to_stdout ? stdout : fopen(args.csv_path, "w"))) {
    fprintf(stderr, "heapbench replay: %s: cannot write: %s\n", args.csv_path, strerror(errno));
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
  hb_replay_report report = {.settings = &settings, .label = label, .infos = infos,
                             .info_count = info_count, .chosen = chosen,
                             .chosen_count = chosen_count, .traces = traces,
                             .trace_count = 0, .traces_planned = path_count,
                             .results = results, .baseline = baseline};
  if (csv) hb_report_csv_header(csv, &report);
  if (json && !json_to_stdout && write_json_file(json_path, &report) != 0) goto out;
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
    /* What is finished is on disk: an interrupted run keeps it. */
    report.trace_count = t + 1;
    if (csv) hb_report_csv_rows(csv, &report, t);
    if (json && !json_to_stdout && t + 1 < path_count) write_json_file(json_path, &report);
  }
  free(jobs);
  free(labels);
  if (settings.progress == 1) fprintf(stderr, "\r\033[K"); /* clear the progress line */

  hb_report_table(table, &report);
  rc = 0;
  if (json && (json_to_stdout ? hb_report_json(stdout, "stdout", &report)
                              : write_json_file(json_path, &report)) != 0)
    rc = 1;
  if (json && !json_to_stdout) fclose(json);
  json = NULL;
  if (csv && (fflush(csv) != 0 || ferror(csv))) {
    fprintf(stderr, "heapbench replay: %s: cannot write: %s\n", args.csv_path, strerror(errno));
    rc = 1;
  }
  if (csv && !csv_to_stdout) fclose(csv);
  csv = NULL;

out:
  if (json && !json_to_stdout) { /* stopped before the run: leave no empty file behind */
    fclose(json);
    unlink(json_path);
  }
  if (csv && !csv_to_stdout) {
    fclose(csv);
    unlink(args.csv_path);
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
