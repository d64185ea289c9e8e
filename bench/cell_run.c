/* cell_run.c — one cell: worker processes started (child_run.h), watched
 * against the time limit, their output (hb_worker_protocol.h) read back
 * into an hb_cell_result. Front end only (the front end never calls an
 * allocator). */
#define _GNU_SOURCE
#include "hb_replay.h"
#include "hb_worker_protocol.h"
#include "child_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reason a finished run did not produce figures, or NULL when it did
 * (its output starts with "status ok"). */
static const char *run_problem(const hb_child_run *run, char *text, size_t size) {
  if (run->timed_out) return "timeout";
  if (run->signal) {
    char name[32];
    hb_signal_text(run->signal, name, sizeof name);
    if (run->err[0])
      snprintf(text, size, "failed: %s (%.200s)", name, run->err);
    else
      snprintf(text, size, "failed: %s", name);
    return text;
  }
  if (strncmp(run->out, "status ", 7) == 0) {
    const char *line = run->out + 7;
    size_t len = strcspn(line, "\n");
    int ok = len == 2 && strncmp(line, "ok", 2) == 0;
    if (ok && run->exit_code == 0) return NULL;
    if (ok)
      snprintf(text, size, "failed: worker exited with status %d after its pass", run->exit_code);
    else
      snprintf(text, size, "%.*s", (int)(len < size - 1 ? len : size - 1), line);
    return text;
  }
  snprintf(text, size, "failed: worker exited with status %d%s%.200s", run->exit_code,
           run->err[0] ? ": " : "", run->err);
  return text;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median (sorts `values`); NaN when any value is NaN. */
static double median_of(double *values, unsigned n) {
  for (unsigned k = 0; k < n; k++)
    if (isnan(values[k])) return NAN;
  qsort(values, n, sizeof *values, compare_doubles);
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/* The progress line: rewritten in place on a terminal (progress 1); in a
 * log (progress 2), only the lines that say a cell is done. */
static void progress(const hb_replay_settings *settings, const char *label, const char *what,
                     int cell_done) {
  if (settings->progress == 1) {
    fprintf(stderr, "\r\033[K%s: %s", label, what);
    fflush(stderr);
  } else if (settings->progress == 2 && cell_done) {
    fprintf(stderr, "heapbench replay: %s: %s\n", label, what);
  }
}

static void parse_instrumented(const char *out, hb_cell_result *r) {
  r->instrumented = 1;
  hb_worker_parse_figures(out, r->figure);
  size_t capacity = 0;
  for (const char *line = out; *line;) {
    const char *next = strchr(line, '\n');
    unsigned long long a, b, c, d;
    if (sscanf(line, "reuse_distance_bucket %llu %llu", &a, &b) == 2 && r->histogram_count < 64) {
      r->histogram_bound[r->histogram_count] = a;
      r->histogram_reuses[r->histogram_count++] = b;
    } else if (strncmp(line, "size_class ", 11) == 0) {
      unsigned k;
      unsigned long long n[5];
      if (sscanf(line, "size_class %u %llu %llu %llu %llu %llu", &k, &n[0], &n[1], &n[2], &n[3],
                 &n[4]) == 6 && k < HB_SIZE_CLASSES) {
        r->size_class[k].allocations = n[0];
        r->size_class[k].reuses = n[1];
        r->size_class[k].peak_live_bytes = n[2];
        r->size_class[k].waste_bytes = n[3];
        r->size_class[k].waste_count = n[4];
      }
    } else if (strncmp(line, "sample ", 7) == 0) {
      hb_growth_sample s = {0};
      if (sscanf(line, "sample %llu %llu %llu %llu", &a, &b, &c, &d) == 4) {
        s = (hb_growth_sample){a, b, (int64_t)c, (int64_t)d};
      } else if (sscanf(line, "sample %llu %llu - %llu", &a, &b, &d) == 3) {
        s = (hb_growth_sample){a, b, HB_UNKNOWN, (int64_t)d};
      } else {
        goto next_line;
      }
      if (r->sample_count == capacity) {
        size_t grown = capacity ? 2 * capacity : 1024;
        hb_growth_sample *bigger = realloc(r->samples, grown * sizeof *bigger);
        if (!bigger) goto next_line;
        r->samples = bigger;
        capacity = grown;
      }
      r->samples[r->sample_count++] = s;
    }
  next_line:
    if (!next) break;
    line = next + 1;
  }
}

/* The per-pass figures of one kind of replay, until the medians are taken. */
typedef struct speed_passes {
  double *ns, *cpu, *faults; /* per op, per op, per replay; [repeat] */
  unsigned count;            /* passes that reported this kind */
} speed_passes;

/* The latency pass's lines into r->latency (hb_worker_protocol.h). */
static int latency_kind(const char *name) {
  static const char *const names[HB_LATENCY_KINDS] = HB_LATENCY_KIND_NAMES;
  for (int k = 0; k < HB_LATENCY_KINDS; k++)
    if (strcmp(name, names[k]) == 0) return k;
  return -1;
}

static void parse_latency(const char *out, hb_cell_result *r) {
  hb_latency *l = &r->latency;
  int64_t figure[HB_FIG_COUNT];
  hb_worker_parse_figures(out, figure);
  if (figure[HB_FIG_LATENCY_ELAPSED_NS] < 0) return; /* not measured */
  l->measured = 1;
  l->elapsed_ns = (uint64_t)figure[HB_FIG_LATENCY_ELAPSED_NS];
  l->timer_ns = figure[HB_FIG_LATENCY_TIMER_PS] >= 0 ? figure[HB_FIG_LATENCY_TIMER_PS] / 1000.0 : NAN;
  for (const char *line = out; *line;) {
    const char *next = strchr(line, '\n');
    char name[16];
    unsigned long long a, b;
    double x, y;
    int k;
    if (sscanf(line, "latency_clock %15s", l->clock) == 1) {
    } else if (sscanf(line, "latency_bucket %15s %llu %llu", name, &a, &b) == 3) {
      if ((k = latency_kind(name)) >= 0 && a < HB_LATENCY_BUCKETS) l->buckets[k][a] = b;
    } else if (sscanf(line, "latency %15s %llu %lf %lf", name, &a, &x, &y) == 4) {
      if ((k = latency_kind(name)) >= 0) {
        l->count[k] = a;
        l->sum_ns[k] = x;
        l->max_ns[k] = y;
      }
    } else if (sscanf(line, "slowest %llu %15s %llu %lf", &a, name, &b, &x) == 4) {
      if ((k = latency_kind(name)) >= 0 && l->slowest_count < HB_SLOWEST_OPS) {
        unsigned at = l->slowest_count++;
        while (at > 0 && l->slowest[at - 1].ns < x) { /* slowest first */
          l->slowest[at] = l->slowest[at - 1];
          at--;
        }
        l->slowest[at].op = a;
        l->slowest[at].size = b;
        l->slowest[at].ns = x;
        l->slowest[at].kind = (unsigned)k;
      }
    }
    if (!next) break;
    line = next + 1;
  }
}

/* One cell while its trace's cells run side by side (hb_cells_run). */
typedef struct cell_state {
  hb_cell_result *r;
  const char *label;
  char worker_path[sizeof ((hb_allocator_info *)0)->worker_path];
  char name[sizeof ((hb_allocator_info *)0)->name];
  char pass[16], touch[16], budget[32], ops_path[64], speed[8], warmup[16], heap_map[16];
  char *argv[19];
  char **envp; /* LD_PRELOAD set for a library without an adapter; NULL otherwise */
  uint64_t used_ns; /* wall time of this cell's workers so far, against the limit */
  speed_passes cold, warm;
  double *rss;
} cell_state;

/* A cell whose status is no longer "ok" runs no more passes. */
static int cell_stopped(const cell_state *c) { return strcmp(c->r->status, "ok") != 0; }

static int speed_passes_init(speed_passes *p, unsigned repeat) {
  p->ns = calloc(repeat, sizeof *p->ns);
  p->cpu = calloc(repeat, sizeof *p->cpu);
  p->faults = calloc(repeat, sizeof *p->faults);
  return p->ns && p->cpu && p->faults ? 0 : -1;
}

static void speed_passes_release(speed_passes *p) {
  free(p->ns);
  free(p->cpu);
  free(p->faults);
}

static void cell_begin(cell_state *c, const hb_cell_job *job, int ops_fd,
                       const hb_ops_header *header, const hb_replay_settings *settings) {
  hb_cell_result *r = job->result;
  memset(c, 0, sizeof *c);
  c->r = r;
  c->label = job->label;
  memset(r, 0, sizeof *r);
  snprintf(r->status, sizeof r->status, "ok");
  r->ops = header->op_count;
  r->peak_live_bytes = header->peak_live_bytes;
  r->peak_live_op = header->peak_live_op;
  r->peak_rss_bytes = HB_UNKNOWN;
  for (int f = 0; f < HB_FIG_COUNT; f++) r->figure[f] = HB_UNKNOWN;

  static const char *const speed_names[] = HB_SPEED_NAMES;
  snprintf(c->ops_path, sizeof c->ops_path, "/proc/self/fd/%d", ops_fd);
  snprintf(c->worker_path, sizeof c->worker_path, "%s", job->allocator->worker_path);
  /* A library without an adapter: the generic worker's one allocator,
   * with the library preloaded. */
  snprintf(c->name, sizeof c->name, "%s", job->allocator->preload[0] ? "preload" : job->allocator->name);
  if (job->allocator->preload[0] &&
      !(c->envp = hb_env_with("LD_PRELOAD", job->allocator->preload)))
    snprintf(r->status, sizeof r->status, "failed: out of memory in the front end");
  snprintf(c->pass, sizeof c->pass, "timed");
  snprintf(c->touch, sizeof c->touch, "%s", settings->touch_all ? "all" : "first-byte");
  snprintf(c->budget, sizeof c->budget, "2000");
  snprintf(c->speed, sizeof c->speed, "%s", speed_names[settings->speed]);
  snprintf(c->warmup, sizeof c->warmup, "%u", settings->warmup);
  snprintf(c->heap_map, sizeof c->heap_map, "%u", settings->heap_map ? settings->heap_map : 1);
  char *argv[] = {c->worker_path, "replay",   "--allocator", c->name,    "--ops",
                  c->ops_path,    "--pass",   c->pass,       "--touch",  c->touch,
                  "--speed",      c->speed,   "--warmup",    c->warmup,  "--poll-budget-ms",
                  c->budget,      "--heap-map", c->heap_map, NULL};
  _Static_assert(sizeof argv == sizeof c->argv, "argv fits");
  memcpy(c->argv, argv, sizeof argv);

  unsigned repeat = settings->repeat ? settings->repeat : 1;
  c->rss = calloc(repeat, sizeof *c->rss);
  if (!c->rss || speed_passes_init(&c->cold, repeat) || speed_passes_init(&c->warm, repeat))
    snprintf(r->status, sizeof r->status, "failed: out of memory in the front end");
}

/* Time left to the cell under the limit, in ns; UINT64_MAX without one. */
static uint64_t cell_time_left(const cell_state *c, const hb_replay_settings *settings) {
  if (settings->time_limit_sec <= 0) return UINT64_MAX;
  uint64_t limit = (uint64_t)(settings->time_limit_sec * 1e9);
  return limit > c->used_ns ? limit - c->used_ns : 0;
}

/* Runs the cell's worker once (c->pass says which pass); 0, or -1 with the
 * cell stopped and its status set. */
static int cell_run_worker(cell_state *c, const hb_replay_settings *settings, hb_child_run *run) {
  char problem[sizeof c->r->status];
  uint64_t left = cell_time_left(c, settings), start = hb_monotonic_ns();
  if (left == 0) {
    snprintf(c->r->status, sizeof c->r->status, "timeout");
    return -1;
  }
  int rc = hb_child_run_collect_env(c->argv, c->envp, left == UINT64_MAX ? 0 : start + left, run);
  c->used_ns += hb_monotonic_ns() - start;
  if (rc != 0) {
    snprintf(c->r->status, sizeof c->r->status, "failed: %.200s", run->err);
    return -1;
  }
  const char *why = run_problem(run, problem, sizeof problem);
  if (why) {
    snprintf(c->r->status, sizeof c->r->status, "%s", why);
    free(run->out);
    return -1;
  }
  return 0;
}

/* Keeps one replay's figures as pass k of its kind; 0, or -1 when the
 * worker did not report the wall time it must have. */
static int keep_replay(speed_passes *p, unsigned k, const int64_t *figure, hb_worker_figure elapsed,
                       hb_worker_figure cpu, hb_worker_figure faults, uint64_t ops) {
  if (figure[elapsed] < 0) return -1;
  double per_op = ops ? 1.0 / (double)ops : 0;
  p->ns[k] = (double)figure[elapsed] * per_op;
  p->cpu[k] = figure[cpu] >= 0 ? (double)figure[cpu] * per_op : NAN;
  p->faults[k] = figure[faults] >= 0 ? (double)figure[faults] : NAN;
  p->count = k + 1;
  return 0;
}

static void cell_timed_pass(cell_state *c, unsigned k, unsigned repeat,
                            const hb_replay_settings *settings) {
  hb_cell_result *r = c->r;
  char what[64];
  snprintf(what, sizeof what, "timed pass %u/%u", k + 1, repeat);
  progress(settings, c->label, what, 0);
  hb_child_run run;
  if (cell_run_worker(c, settings, &run) != 0) return;
  int64_t figure[HB_FIG_COUNT];
  hb_worker_parse_figures(run.out, figure);
  free(run.out);
  if (settings->speed != HB_SPEED_WARM &&
      keep_replay(&c->cold, k, figure, HB_FIG_ELAPSED_NS, HB_FIG_CPU_NS, HB_FIG_MINOR_FAULTS,
                  r->ops) != 0) {
    snprintf(r->status, sizeof r->status, "failed: worker output has no elapsed_ns");
    return;
  }
  if (settings->speed != HB_SPEED_COLD &&
      keep_replay(&c->warm, k, figure, HB_FIG_WARM_ELAPSED_NS, HB_FIG_WARM_CPU_NS,
                  HB_FIG_WARM_MINOR_FAULTS, r->ops) != 0) {
    snprintf(r->status, sizeof r->status, "failed: worker output has no warm_elapsed_ns");
    return;
  }
  c->rss[k] = (double)figure[HB_FIG_PEAK_RSS_BYTES];
  r->repeat_done = k + 1;
}

/* The medians of one kind of replay, when every pass reported it. */
static void speed_finish(hb_speed *speed, speed_passes *p, unsigned repeat) {
  if (p->count != repeat || repeat == 0) return;
  speed->pass_ns_per_op = malloc(repeat * sizeof *speed->pass_ns_per_op);
  if (!speed->pass_ns_per_op) return;
  memcpy(speed->pass_ns_per_op, p->ns, repeat * sizeof *p->ns);
  speed->measured = 1;
  speed->ns_per_op_min = speed->ns_per_op_max = p->ns[0];
  for (unsigned k = 1; k < repeat; k++) {
    if (p->ns[k] < speed->ns_per_op_min) speed->ns_per_op_min = p->ns[k];
    if (p->ns[k] > speed->ns_per_op_max) speed->ns_per_op_max = p->ns[k];
  }
  speed->ns_per_op = median_of(p->ns, repeat);
  speed->cpu_ns_per_op = median_of(p->cpu, repeat); /* NaN if any pass lacked it */
  speed->minor_faults = median_of(p->faults, repeat);
}

/* The medians of the timed passes, then the instrumented pass. */
static void cell_finish(cell_state *c, unsigned repeat, const hb_replay_settings *settings) {
  hb_cell_result *r = c->r;
  if (r->repeat_done == repeat && r->ops) {
    speed_finish(&r->cold, &c->cold, repeat);
    speed_finish(&r->warm, &c->warm, repeat);
    double rss = median_of(c->rss, repeat);
    r->peak_rss_bytes = r->cold.measured && rss >= 0 ? (int64_t)rss : HB_UNKNOWN;
  }
  if (!cell_stopped(c)) {
    snprintf(c->pass, sizeof c->pass, "instrumented");
    /* Footprint reads may take at most a quarter of the time left, 2 s at
     * most (METRICS.md: footprint_poll_stride). */
    uint64_t left_ns = cell_time_left(c, settings);
    if (left_ns != UINT64_MAX) {
      uint64_t left_ms = left_ns / 1000000u;
      snprintf(c->budget, sizeof c->budget, "%llu",
               (unsigned long long)(left_ms / 4 < 2000 ? left_ms / 4 : 2000));
    }
    progress(settings, c->label, "instrumented pass", 0);
    hb_child_run run;
    if (cell_run_worker(c, settings, &run) == 0) {
      parse_instrumented(run.out, r);
      free(run.out);
    }
  }
  if (!cell_stopped(c) && !settings->no_latency) {
    snprintf(c->pass, sizeof c->pass, "latency");
    progress(settings, c->label, "latency pass", 0);
    hb_child_run run;
    if (cell_run_worker(c, settings, &run) == 0) {
      parse_latency(run.out, r);
      free(run.out);
    }
  }
  /* A pass of its own (worker_heapmap.c says why), after the others: a
   * cell that fails here keeps every figure measured before. */
  if (!cell_stopped(c) && settings->heap_map) {
    snprintf(c->pass, sizeof c->pass, "heapmap");
    progress(settings, c->label, "heap-map pass", 0);
    hb_child_run run;
    if (cell_run_worker(c, settings, &run) == 0) {
      r->heap_map = hb_heapmap_parse(run.out);
      free(run.out);
    }
  }
  progress(settings, c->label, r->status, 1);
  hb_env_free(c->envp);
  free(c->rss);
  speed_passes_release(&c->cold);
  speed_passes_release(&c->warm);
}

void hb_cells_run(const hb_cell_job *jobs, size_t count, int ops_fd,
                  const hb_ops_header *header, const hb_replay_settings *settings) {
  cell_state *cells = calloc(count ? count : 1, sizeof *cells);
  if (!cells) {
    for (size_t i = 0; i < count; i++) {
      memset(jobs[i].result, 0, sizeof *jobs[i].result);
      snprintf(jobs[i].result->status, sizeof jobs[i].result->status,
               "failed: out of memory in the front end");
    }
    return;
  }
  unsigned repeat = settings->repeat ? settings->repeat : 1;
  for (size_t i = 0; i < count; i++) cell_begin(&cells[i], &jobs[i], ops_fd, header, settings);
  /* Pass k of every cell before pass k + 1 of any: a change in the
   * machine's load then falls on all the allocators of the trace alike,
   * instead of on whichever cell ran during it. */
  for (unsigned k = 0; k < repeat; k++)
    for (size_t i = 0; i < count; i++)
      if (!cell_stopped(&cells[i])) cell_timed_pass(&cells[i], k, repeat, settings);
  for (size_t i = 0; i < count; i++) cell_finish(&cells[i], repeat, settings);
  free(cells);
}

void hb_cell_run(const hb_allocator_info *allocator, int ops_fd, const hb_ops_header *header,
                 const hb_replay_settings *settings, const char *label, hb_cell_result *r) {
  hb_cell_job job = {.allocator = allocator, .label = label, .result = r};
  hb_cells_run(&job, 1, ops_fd, header, settings);
}

void hb_cell_result_release(hb_cell_result *result) {
  free(result->cold.pass_ns_per_op);
  free(result->warm.pass_ns_per_op);
  result->cold.pass_ns_per_op = result->warm.pass_ns_per_op = NULL;
  free(result->samples);
  result->samples = NULL;
  hb_heapmap_free(result->heap_map);
  result->heap_map = NULL;
  result->sample_count = 0;
}
