/* trace.c — trace/A/TRACE/manual_time: a recorded trace (by default every
 * .hbt file in traces/data/small) replayed on allocator A.
 *
 * Nothing here replays anything itself: the replay's code does it.
 *   - Time: each iteration is one pass of the replay's timed loop
 *     (hb_timed_pass, bench/worker_timed.c) in this process, over the ops
 *     file the replay's encoder made (hb_ops_encode). The time reported is
 *     that pass's own elapsed_ns (manual time), so the slot-table setup and
 *     the frees of blocks the trace leaves live, done between passes, are
 *     not counted. The heap is warm: passes follow each other in one process.
 *   - Counters: one `heapbench replay` cell per benchmark (hb_cell_run,
 *     bench/hb_replay.h), that is fresh worker processes and the
 *     instrumented pass, with the figures of docs/METRICS.md: utilization,
 *     fragmentation, reuse_rate, byte_reuse_rate, lifo_share,
 *     reuse_distance_median, peak_footprint_bytes, peak_live_bytes. They
 *     are the same numbers `heapbench replay` prints for that cell. A cell
 *     that fails (time limit, NULL, crash) leaves the counters out and
 *     says why in the result's label.
 */
#include "families.h"
#include "hb_metrics.h"
#include "hb_ops.h"
#include "hb_replay.h"
#include "hb_trace.h"
#include "worker_pass.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CELL_TIME_LIMIT_S 60.0 /* for the counters' cell, all its passes */

typedef struct trace_input {
  char name[128];
  int ops_fd;             /* the encoded ops (an unlinked file under TMPDIR), inherited by the cell's workers */
  hb_ops_header header;
  hb_ops_file ops;        /* the same ops, mapped here for the timed passes */
  hb_leftovers leftovers;  /* freed after each pass, so every pass starts alike */
} trace_input;

typedef struct trace_bench {
  const hb_allocator *allocator;
  const hb_allocator_info *worker; /* where the counters' cell runs; NULL: none */
  trace_input *trace;
  int cell_done;
  hb_cell_result cell;
} trace_bench;

static void die(const char *message) {
  fprintf(stderr, "hb-gbench: %s\n", message);
  exit(1);
}

/* Loads, encodes and maps one trace; a bad file ends the program with the
 * reader's one-line error. */
static void load(const char *path, trace_input *t) {
  hb_trace trace;
  hb_error error;
  if (hb_trace_load(path, &trace, &error) != 0) die(error.message);
  snprintf(t->name, sizeof t->name, "%s", trace.name);
  t->ops_fd = hb_ops_encode(&trace, &t->header, &error);
  hb_trace_release(&trace);
  if (t->ops_fd < 0) die(error.message);
  char ops_path[64], why[512];
  snprintf(ops_path, sizeof ops_path, "/proc/self/fd/%d", t->ops_fd);
  if (hb_ops_map(ops_path, &t->ops, why, sizeof why) != 0) die(why);
  if (hb_leftovers_find(&t->ops, &t->leftovers) != 0) die("out of memory preparing the traces");
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every .hbt file in `dir`, in name order; 0 when there is no such directory. */
static size_t load_dir(const char *dir, trace_input **traces) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  char **paths = NULL;
  size_t count = 0;
  for (struct dirent *e; (e = readdir(d));) {
    size_t len = strlen(e->d_name);
    if (len <= 4 || strcmp(e->d_name + len - 4, ".hbt") != 0) continue;
    char **grown = realloc(paths, (count + 1) * sizeof *paths);
    size_t path_len = strlen(dir) + 1 + len + 1;
    if (!grown || !(grown[count] = malloc(path_len))) die("out of memory listing the traces");
    paths = grown;
    snprintf(paths[count++], path_len, "%s/%s", dir, e->d_name);
  }
  closedir(d);
  qsort(paths, count, sizeof *paths, by_name);
  *traces = hb_gbf_scratch((count ? count : 1) * sizeof **traces);
  if (!*traces) die("out of memory loading the traces");
  for (size_t i = 0; i < count; i++) {
    load(paths[i], &(*traces)[i]);
    free(paths[i]);
  }
  free(paths);
  return count;
}

/* A measured figure as a double; NaN for HB_UNKNOWN. */
static double known(int64_t figure) { return figure < 0 ? NAN : (double)figure; }

static void report_cell(hb_gb_state *state, trace_bench *b) {
  if (!b->worker) {
    hb_gb_set_label(state, "counters: no worker runs this allocator");
    return;
  }
  if (!b->cell_done) {
    hb_replay_settings settings = {.repeat = 1, .time_limit_sec = CELL_TIME_LIMIT_S};
    hb_cell_run(b->worker, b->trace->ops_fd, &b->trace->header, &settings, b->trace->name,
                &b->cell);
    b->cell_done = 1;
    hb_cell_result_release(&b->cell); /* the growth samples: not reported here */
  }
  const hb_cell_result *r = &b->cell;
  if (strcmp(r->status, "ok") != 0 || !r->instrumented) {
    char label[400];
    snprintf(label, sizeof label, "counters: replay cell %s", r->status);
    hb_gb_set_label(state, label);
    return;
  }
  const struct {
    const char *name;
    double value;
  } figures[] = {
      {"utilization", hb_cell_utilization(r)},
      {"fragmentation", hb_cell_fragmentation(r)},
      {"reuse_rate", hb_cell_reuse_rate(r)},
      {"byte_reuse_rate", hb_cell_byte_reuse_rate(r)},
      {"lifo_share", hb_cell_lifo_share(r)},
      {"reuse_distance_median", known(r->figure[HB_FIG_REUSE_DISTANCE_MEDIAN])},
      {"peak_footprint_bytes", known(r->figure[HB_FIG_PEAK_FOOTPRINT_BYTES])},
      {"peak_live_bytes", (double)r->peak_live_bytes},
  };
  /* NaN: not defined or not measured (docs/METRICS.md): left out. */
  for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++)
    if (!isnan(figures[i].value))
      hb_gb_counter(state, figures[i].name, figures[i].value, HB_GB_COUNTER_PLAIN);
}

static void bm_trace(hb_gb_state *state, void *context) {
  trace_bench *b = context;
  trace_input *t = b->trace; /* its ops' windows are mapped as the passes go */
  size_t slot_bytes = t->header.slot_count * sizeof(void *);
  void **slots = hb_harness_map(slot_bytes);
  if (!slots) {
    hb_gb_skip_with_error(state, "cannot map the slot table");
    hb_gbf_drain(state);
    return;
  }
  hb_pass_env env = {.allocator = b->allocator, .trace = &t->ops, .slots = slots,
                     .speed = HB_SPEED_COLD};
  char reason[200] = "";
  uint64_t n;
  while (hb_gb_keep_running_batch(state, &n)) {
    double seconds = 0;
    for (uint64_t i = 0; i < n && !reason[0]; i++) {
      hb_timed_result result;
      if (hb_timed_pass(&env, &result) != 0) {
        if (result.failure.op == UINT64_MAX)
          snprintf(reason, sizeof reason, "the replay could not start its threads");
        else
          snprintf(reason, sizeof reason, "allocation of %llu bytes returned NULL at op %llu",
                   (unsigned long long)result.failure.size, (unsigned long long)result.failure.op);
        break;
      }
      seconds += (double)result.cold.elapsed_ns / 1e9;
      hb_leftovers_free(&t->leftovers, b->allocator, slots);
    }
    hb_gb_set_iteration_time(state, seconds);
    if (reason[0] && !hb_gb_error_occurred(state)) hb_gb_skip_with_error(state, reason);
  }
  hb_harness_unmap(slots, slot_bytes);
  if (reason[0]) return;
  hb_gb_items_processed(state, (int64_t)(hb_gb_iterations(state) * t->header.op_count));
  report_cell(state, b);
}

void hb_gbf_register_traces(const char *dir) {
  trace_input *traces;
  size_t trace_count = load_dir(dir, &traces);
  if (trace_count == 0) return;
  /* Worker descriptions and registrations last the whole run: scratch. */
  hb_allocator_info *found = NULL;
  size_t worker_count = hb_workers_discover(&found);
  hb_allocator_info *workers = hb_gbf_scratch((worker_count ? worker_count : 1) * sizeof *workers);
  trace_bench *benches = hb_gbf_scratch(hb_allocator_count() * trace_count * sizeof *benches);
  if (!workers || !benches) die("out of memory registering the traces");
  if (worker_count) memcpy(workers, found, worker_count * sizeof *workers);
  free(found);
  for (size_t i = 0; i < hb_allocator_count(); i++) {
    const hb_allocator *a = hb_allocator_at(i);
    for (size_t k = 0; k < trace_count; k++) {
      trace_bench *b = &benches[i * trace_count + k];
      b->allocator = a;
      b->worker = hb_workers_find(workers, worker_count, a->name);
      b->trace = &traces[k];
      char name[256];
      snprintf(name, sizeof name, "trace/%s/%s", a->name, traces[k].name);
      hb_gb_use_manual_time(hb_gb_register(name, bm_trace, b));
    }
  }
}
