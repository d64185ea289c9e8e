/* cell_run.c — one cell: worker processes started, watched against the
 * time limit, their "key value" output read back into an hb_cell_result.
 * Front end only (the front end never calls an allocator). */
#define _GNU_SOURCE
#include "hb_replay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

typedef struct worker_run {
  int timed_out;
  int signal;    /* the signal that ended it, 0 if it exited */
  int exit_code;
  char *out;     /* stdout, NUL-terminated, malloc'ed */
  size_t out_len;
  char err[512]; /* the last line it wrote on stderr */
} worker_run;

static void append(char **buffer, size_t *len, size_t *capacity, const char *data, size_t n) {
  if (*len + n + 1 > *capacity) {
    size_t grown = *capacity ? *capacity : 4096;
    while (*len + n + 1 > grown) grown *= 2;
    char *bigger = realloc(*buffer, grown);
    if (!bigger) return; /* output is cut; parsing says what is missing */
    *buffer = bigger;
    *capacity = grown;
  }
  memcpy(*buffer + *len, data, n);
  *len += n;
  (*buffer)[*len] = 0;
}

/* Keeps the last complete line of stderr output (falls back to the tail). */
static void last_line(char *dst, size_t size, const char *text, size_t len) {
  while (len && (text[len - 1] == '\n' || text[len - 1] == '\r')) len--;
  size_t start = len;
  while (start && text[start - 1] != '\n') start--;
  size_t n = len - start < size - 1 ? len - start : size - 1;
  memcpy(dst, text + start, n);
  dst[n] = 0;
}

/* Starts `argv` with stdout and stderr on pipes, reads both until they
 * close, killing the process at `deadline_ns` (0 = never). 0, or -1 when
 * the process could not be started (run->err says why). */
static int run_worker(char *const argv[], uint64_t deadline_ns, worker_run *run) {
  memset(run, 0, sizeof *run);
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) goto spawn_failed;
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    goto spawn_failed;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    errno = rc;
    goto spawn_failed;
  }

  size_t out_capacity = 0, err_len = 0, err_capacity = 0;
  char *err_text = NULL;
  struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    int timeout_ms = -1;
    if (deadline_ns) {
      uint64_t now = now_ns();
      if (now >= deadline_ns) {
        kill(pid, SIGKILL);
        run->timed_out = 1;
        deadline_ns = 0; /* drain what is left, then reap */
        continue;
      }
      timeout_ms = (int)((deadline_ns - now) / 1000000u) + 1;
    }
    int ready = poll(fds, 2, timeout_ms);
    if (ready < 0 && errno != EINTR) break;
    for (int k = 0; k < 2 && ready > 0; k++) {
      if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char chunk[8192];
      ssize_t n = read(fds[k].fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        close(fds[k].fd);
        fds[k].fd = -1;
        open_fds--;
      } else if (k == 0) {
        append(&run->out, &run->out_len, &out_capacity, chunk, (size_t)n);
      } else if (err_len < 65536) {
        append(&err_text, &err_len, &err_capacity, chunk, (size_t)n);
      }
    }
  }
  for (int k = 0; k < 2; k++)
    if (fds[k].fd >= 0) close(fds[k].fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    run->signal = WTERMSIG(status);
  else
    run->exit_code = WEXITSTATUS(status);
  if (err_text) last_line(run->err, sizeof run->err, err_text, err_len);
  free(err_text);
  if (!run->out) run->out = calloc(1, 1);
  return 0;

spawn_failed:
  snprintf(run->err, sizeof run->err, "cannot start %s: %s", argv[0], strerror(errno));
  return -1;
}

/* "SEGV" -> "SIGSEGV"; unknown numbers as "signal N". */
static void signal_text(int sig, char *text, size_t size) {
  const char *abbrev = sigabbrev_np(sig);
  if (abbrev)
    snprintf(text, size, "SIG%s", abbrev);
  else
    snprintf(text, size, "signal %d", sig);
}

/* The reason a finished run did not produce figures, or NULL when it did
 * (its output starts with "status ok"). */
static const char *run_problem(const worker_run *run, char *text, size_t size) {
  if (run->timed_out) return "timeout";
  if (run->signal) {
    char name[32];
    signal_text(run->signal, name, sizeof name);
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

/* The value of "key N" in a worker's output, or -1 when absent. */
static int64_t field(const char *out, const char *key) {
  size_t key_len = strlen(key);
  for (const char *line = out; *line;) {
    if (strncmp(line, key, key_len) == 0 && line[key_len] == ' ')
      return strtoll(line + key_len + 1, NULL, 10);
    const char *end = strchr(line, '\n');
    if (!end) break;
    line = end + 1;
  }
  return HB_UNKNOWN;
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
  r->peak_footprint_bytes = field(out, "peak_footprint_bytes");
  r->footprint_at_peak_live_bytes = field(out, "footprint_at_peak_live_bytes");
  int64_t stride = field(out, "footprint_poll_stride"), polls = field(out, "footprint_polls");
  r->footprint_poll_stride = stride > 0 ? (uint64_t)stride : 0;
  r->footprint_polls = polls > 0 ? (uint64_t)polls : 0;
  r->footprint_poll_ns = field(out, "footprint_poll_ns");
  r->allocations = (uint64_t)field(out, "allocations");
  r->reuses = (uint64_t)field(out, "reuses");
  r->lifo_reuses = (uint64_t)field(out, "lifo_reuses");
  r->allocated_bytes = (uint64_t)field(out, "allocated_bytes");
  r->reused_bytes = field(out, "reused_bytes");
  r->reuse_distance_median = field(out, "reuse_distance_median");
  r->reuse_distance_p90 = field(out, "reuse_distance_p90");
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
  r->peak_rss_bytes = r->peak_footprint_bytes = r->footprint_at_peak_live_bytes = HB_UNKNOWN;
  r->reused_bytes = r->reuse_distance_median = r->reuse_distance_p90 = HB_UNKNOWN;
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
static int cell_run_worker(cell_state *c, const hb_replay_settings *settings, worker_run *run) {
  char problem[sizeof c->r->status];
  uint64_t left = cell_time_left(c, settings), start = now_ns();
  if (left == 0) {
    snprintf(c->r->status, sizeof c->r->status, "timeout");
    return -1;
  }
  int rc = run_worker(c->argv, left == UINT64_MAX ? 0 : start + left, run);
  c->used_ns += now_ns() - start;
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
  worker_run run;
  if (cell_run_worker(c, settings, &run) != 0) return;
  int64_t elapsed = field(run.out, "elapsed_ns");
  if (elapsed < 0) {
    snprintf(r->status, sizeof r->status, "failed: worker output has no elapsed_ns");
    free(run.out);
    return;
  }
  c->ns[k] = r->ops ? (double)elapsed / (double)r->ops : 0;
  c->rss[k] = (double)field(run.out, "peak_rss_bytes");
  c->cpu[k] = r->ops ? (double)field(run.out, "cpu_ns") / (double)r->ops : -1;
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
    worker_run run;
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

double hb_cell_utilization(const hb_cell_result *r) {
  if (!r->instrumented || r->peak_footprint_bytes <= 0) return -1;
  return (double)r->peak_live_bytes / (double)r->peak_footprint_bytes;
}

double hb_cell_fragmentation(const hb_cell_result *r) {
  if (!r->instrumented || r->peak_footprint_bytes < 0 || r->peak_live_bytes == 0) return -1;
  return (double)r->peak_footprint_bytes / (double)r->peak_live_bytes - 1;
}

double hb_cell_reuse_rate(const hb_cell_result *r) {
  if (!r->instrumented || r->allocations == 0) return -1;
  return (double)r->reuses / (double)r->allocations;
}

double hb_cell_byte_reuse_rate(const hb_cell_result *r) {
  if (!r->instrumented || r->reused_bytes < 0 || r->allocated_bytes == 0) return -1;
  return (double)r->reused_bytes / (double)r->allocated_bytes;
}

double hb_cell_lifo_share(const hb_cell_result *r) {
  if (!r->instrumented || r->reuses == 0) return -1;
  return (double)r->lifo_reuses / (double)r->reuses;
}
