/* cell_run.c — one cell: worker processes started (child_run.h), watched
 * against the time limit, their output (hb_worker_protocol.h) read back
 * into an hb_cell_result. Front end only (the front end never calls an
 * allocator). */
#define _GNU_SOURCE
#include "hb_replay.h"
#include "hb_worker_protocol.h"
#include "child_run.h"

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

static double median_of(double *values, unsigned n) {
  qsort(values, n, sizeof *values, compare_doubles);
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

static void progress(const hb_replay_settings *settings, const char *label, const char *what) {
  if (!settings->progress) return;
  fprintf(stderr, "\r\033[K%s: %s", label, what);
  fflush(stderr);
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

/* One cell while its trace's cells run side by side (hb_cells_run). */
typedef struct cell_state {
  hb_cell_result *r;
  const char *label;
  char worker_path[sizeof ((hb_allocator_info *)0)->worker_path];
  char name[sizeof ((hb_allocator_info *)0)->name];
  char pass[16], touch[16], budget[32], ops_path[64];
  char *argv[13];
  uint64_t used_ns; /* wall time of this cell's workers so far, against the limit */
  double *ns, *rss, *cpu;
} cell_state;

/* A cell whose status is no longer "ok" runs no more passes. */
static int cell_stopped(const cell_state *c) { return strcmp(c->r->status, "ok") != 0; }

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
  r->cpu_ns_per_op = -1;

  snprintf(c->ops_path, sizeof c->ops_path, "/proc/self/fd/%d", ops_fd);
  snprintf(c->worker_path, sizeof c->worker_path, "%s", job->allocator->worker_path);
  snprintf(c->name, sizeof c->name, "%s", job->allocator->name);
  snprintf(c->pass, sizeof c->pass, "timed");
  snprintf(c->touch, sizeof c->touch, "%s", settings->touch_all ? "all" : "first-byte");
  snprintf(c->budget, sizeof c->budget, "2000");
  char *argv[] = {c->worker_path, "replay", "--allocator", c->name,  "--ops", c->ops_path,
                  "--pass",       c->pass,  "--touch",     c->touch, "--poll-budget-ms",
                  c->budget,      NULL};
  memcpy(c->argv, argv, sizeof argv);

  unsigned repeat = settings->repeat ? settings->repeat : 1;
  c->ns = calloc(repeat, sizeof *c->ns);
  c->rss = calloc(repeat, sizeof *c->rss);
  c->cpu = calloc(repeat, sizeof *c->cpu);
  if (!c->ns || !c->rss || !c->cpu) {
    snprintf(r->status, sizeof r->status, "failed: out of memory in the front end");
  }
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
  int rc = hb_child_run_collect(c->argv, left == UINT64_MAX ? 0 : start + left, run);
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

static void cell_timed_pass(cell_state *c, unsigned k, unsigned repeat,
                            const hb_replay_settings *settings) {
  hb_cell_result *r = c->r;
  char what[64];
  snprintf(what, sizeof what, "timed pass %u/%u", k + 1, repeat);
  progress(settings, c->label, what);
  hb_child_run run;
  if (cell_run_worker(c, settings, &run) != 0) return;
  int64_t figure[HB_FIG_COUNT];
  hb_worker_parse_figures(run.out, figure);
  int64_t elapsed = figure[HB_FIG_ELAPSED_NS];
  if (elapsed < 0) {
    snprintf(r->status, sizeof r->status, "failed: worker output has no elapsed_ns");
    free(run.out);
    return;
  }
  c->ns[k] = r->ops ? (double)elapsed / (double)r->ops : 0;
  c->rss[k] = (double)figure[HB_FIG_PEAK_RSS_BYTES];
  c->cpu[k] = r->ops ? (double)figure[HB_FIG_CPU_NS] / (double)r->ops : -1;
  r->repeat_done = k + 1;
  free(run.out);
}

/* The medians of the timed passes, then the instrumented pass. */
static void cell_finish(cell_state *c, unsigned repeat, const hb_replay_settings *settings) {
  hb_cell_result *r = c->r;
  if (r->repeat_done == repeat && r->ops) {
    r->timed = 1;
    r->pass_ns_per_op = malloc(repeat * sizeof *r->pass_ns_per_op);
    if (r->pass_ns_per_op) memcpy(r->pass_ns_per_op, c->ns, repeat * sizeof *c->ns);
    r->ns_per_op_min = r->ns_per_op_max = c->ns[0];
    for (unsigned k = 1; k < repeat; k++) {
      if (c->ns[k] < r->ns_per_op_min) r->ns_per_op_min = c->ns[k];
      if (c->ns[k] > r->ns_per_op_max) r->ns_per_op_max = c->ns[k];
    }
    r->ns_per_op = median_of(c->ns, repeat);
    r->ops_per_sec = r->ns_per_op > 0 ? 1e9 / r->ns_per_op : 0;
    r->peak_rss_bytes = (int64_t)median_of(c->rss, repeat);
    r->cpu_ns_per_op = median_of(c->cpu, repeat);
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
    progress(settings, c->label, "instrumented pass");
    hb_child_run run;
    if (cell_run_worker(c, settings, &run) == 0) {
      parse_instrumented(run.out, r);
      free(run.out);
    }
  }
  free(c->ns);
  free(c->rss);
  free(c->cpu);
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
  free(result->pass_ns_per_op);
  result->pass_ns_per_op = NULL;
  free(result->samples);
  result->samples = NULL;
  result->sample_count = 0;
}
