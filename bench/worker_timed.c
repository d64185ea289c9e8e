/* worker_timed.c — the timed pass: the trace replayed with nothing but the
 * allocator calls, a slot store and a write to each new block.
 *
 * One worker process times up to two replays of the trace (docs/METRICS.md,
 * "Cold and warm"): the first, in the fresh process (cold: the allocator
 * starts empty and every page it touches is a first fault); then, after
 * every block still live is freed and `warmup` untimed replays (each also
 * followed by freeing what is left), one more (warm: the heap the
 * allocator kept from the earlier replays is there to reuse). Freeing
 * between replays happens outside the clock, on the main thread.
 *
 * The ops come window by window (hb_ops.h): a replay's time is the sum of
 * one interval per window, each from the window's first op to its last
 * (with several threads: from releasing them to the last one finishing
 * the window). Mapping the next window and planning it happen between two
 * intervals, with every replay thread parked, so the clock sees neither
 * the input's page faults nor any decoding.
 *
 * Its cost over a bare malloc/free loop is checked by the benchmark
 * bench/loop_cost.c (the replay must stay within 1.10x of that loop with
 * glibc). Keep anything else — counters, checks, statistics — out of here:
 * they belong in the instrumented pass.
 */
#define _GNU_SOURCE
#include "worker_pass.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

typedef struct replay_calls {
  void *(*malloc)(size_t);
  void (*free)(void *, size_t);
  void *(*realloc)(void *, size_t);
  void *(*calloc)(size_t, size_t);
  void *(*aligned_alloc)(size_t, size_t);
} replay_calls;

static replay_calls calls_of(const hb_allocator *a) {
  return (replay_calls){a->malloc, a->free, a->realloc, a->calloc, a->aligned_alloc};
}

/* One op: 0, or -1 when the allocator returned NULL for a non-zero
 * request (the caller reports it). Always inlined, so the `touch_all`
 * branch folds away in each specialised loop. */
static inline __attribute__((always_inline)) int replay_op(const replay_calls *c,
                                                           const hb_ops_op *op_in, void **slots,
                                                           uint64_t index, int touch_all) {
  /* A local copy: the calls below cannot be assumed to leave *op_in alone,
   * so reading it again after each call would cost loads. */
  const hb_ops_op op = *op_in;
  void *p;
  /* Frees and mallocs first: most of every trace, and two well-predicted
   * branches cost less than a jump table. */
  if (op.kind == HB_OPS_FREE) {
    c->free(slots[op.slot], op.size);
    return 0;
  }
  if (__builtin_expect(op.kind == HB_OPS_MALLOC, 1)) {
    p = c->malloc(op.size);
  } else {
    switch (op.kind) {
      case HB_OPS_CALLOC: p = c->calloc(1, op.size); break;
      case HB_OPS_ALIGNED: p = c->aligned_alloc((size_t)1 << op.align_log2, op.size); break;
      case HB_OPS_REALLOC: p = c->realloc(slots[op.slot], op.size); break;
      case HB_OPS_REALLOC_NEW: p = c->realloc(NULL, op.size); break;
      default: __builtin_unreachable();
    }
  }
  if (__builtin_expect(p == NULL, 0)) {
    if (op.size) return -1;
  } else if (touch_all) {
    memset(p, (int)(index & 0xff), op.size);
  } else if (__builtin_expect(op.size != 0, 1)) {
    *(volatile char *)p = (char)index;
  }
  slots[op.slot] = p;
  return 0;
}

/* One window of ops, on this thread: ops[0 .. count) are ops first ..
 * first + count - 1 of the trace. */
static inline __attribute__((always_inline)) int replay_single(const hb_pass_env *env,
                                                               uint64_t *failed_op,
                                                               int touch_all) {
  const replay_calls calls = calls_of(env->allocator);
  const hb_ops_op *ops = env->trace->ops;
  const uint64_t first = env->trace->first, count = env->trace->count;
  void **slots = env->slots;
  for (uint64_t k = 0; k < count; k++) {
    if (__builtin_expect(replay_op(&calls, &ops[k], slots, first + k, touch_all) != 0, 0)) {
      *failed_op = first + k;
      return -1;
    }
  }
  return 0;
}

static int replay_single_first_byte(const hb_pass_env *env, uint64_t *failed_op) {
  return replay_single(env, failed_op, 0);
}
static int replay_single_all(const hb_pass_env *env, uint64_t *failed_op) {
  return replay_single(env, failed_op, 1);
}

/* ---- Several threads (hb_team, worker_pass.h) ----
 * The clock runs, for each window, from the start gate to the last
 * thread's last op of the window. */
typedef struct team_context {
  replay_calls calls;
  int touch_all;
} team_context;

static int team_op(hb_team *t, const hb_ops_op *op, uint64_t i) {
  const team_context *c = t->context;
  return replay_op(&c->calls, op, t->env->slots, i, c->touch_all);
}

static void team_window_ops(hb_team *t, uint32_t thread) { hb_team_run_ops(t, thread, team_op); }

/* ---- Between replays: free what the trace left live ---- */

/* ---- The replays of one pass ---- */

/* Measures one replay. */
typedef struct clock_mark {
  uint64_t wall, cpu, minor_faults;
} clock_mark;

static clock_mark clock_now(void) {
  return (clock_mark){hb_now_ns(), hb_cpu_ns(), hb_minor_faults()};
}

/* Adds the interval since `start` to `sum`. */
static void clock_add(hb_replay_figures *sum, clock_mark start) {
  clock_mark end = clock_now();
  sum->elapsed_ns += end.wall - start.wall;
  sum->cpu_ns += end.cpu - start.cpu;
  sum->minor_faults += end.minor_faults - start.minor_faults;
}

/* The replays to run: cold, then `warmup` untimed ones, then warm; the
 * last is left out when the warm figure is not wanted. */
static unsigned replay_count(const hb_pass_env *env) {
  return env->speed == HB_SPEED_COLD ? 1 : 2 + env->warmup;
}

/* Called after replay `k` finished and before the next starts, with the
 * replay threads (if any) parked: records what replay k measured, resets
 * the peak-RSS mark after the cold one, frees what the trace left live. */
static void between_replays(const hb_pass_env *env, hb_timed_result *result, unsigned k,
                            unsigned count, hb_replay_figures measured, const hb_leftovers *left) {
  if (k == 0) {
    result->cold = measured;
    uint64_t peak = result->rss_baseline_bytes ? hb_peak_rss_bytes() : 0;
    result->cold_peak_rss_bytes =
        peak > result->rss_baseline_bytes ? peak - result->rss_baseline_bytes : 0;
  }
  if (k + 1 == count && k > 0) result->warm = measured;
  if (k + 1 < count) hb_leftovers_free(left, env->allocator, env->slots);
}

/* ---- Several threads: the replays ---- */
static int replay_threads(const hb_pass_env *env, hb_timed_result *result, const hb_leftovers *left,
                          uint64_t *failed_op) {
  hb_ops_file *trace = env->trace;
  team_context context = {calls_of(env->allocator), env->touch_all};
  hb_team team;
  if (hb_team_start(&team, env, team_window_ops, &context) != 0) return -2;
  unsigned replays = replay_count(env);
  int rc = hb_ops_window_first(trace) < 0 ? -2 : 0;
  if (rc == 0) hb_thread_plan_build(trace, &team.plan); /* before the baseline: it is harness memory */
  result->rss_baseline_bytes = hb_peak_rss_reset() == 0 ? hb_current_rss_bytes() : 0;
  for (unsigned k = 0; k < replays && rc == 0 && !atomic_load(&team.stop); k++) {
    hb_replay_figures measured = {0, 0, 0};
    int more;
    for (more = hb_ops_window_first(trace); more > 0; more = hb_ops_window_next(trace)) {
      hb_thread_plan_build(trace, &team.plan);
      clock_mark start = clock_now();
      hb_team_run_window(&team);
      clock_add(&measured, start);
      if (atomic_load(&team.stop)) break; /* the window stays: failed_op is in it */
      hb_team_window_done(&team);
    }
    if (more < 0) rc = -2;
    if (rc == 0 && !atomic_load(&team.stop)) between_replays(env, result, k, replays, measured, left);
  }
  int finished = hb_team_finish(&team, failed_op);
  return rc != 0 ? rc : finished;
}

/* ---- One thread ---- */
static int replay_one_thread(const hb_pass_env *env, hb_timed_result *result,
                             const hb_leftovers *left, uint64_t *failed_op) {
  unsigned replays = replay_count(env);
  if (hb_ops_window_first(env->trace) < 0) return -2;
  result->rss_baseline_bytes = hb_peak_rss_reset() == 0 ? hb_current_rss_bytes() : 0;
  for (unsigned k = 0; k < replays; k++) {
    hb_replay_figures measured = {0, 0, 0};
    int more;
    for (more = hb_ops_window_first(env->trace); more > 0; more = hb_ops_window_next(env->trace)) {
      clock_mark start = clock_now();
      int rc = env->touch_all ? replay_single_all(env, failed_op)
                              : replay_single_first_byte(env, failed_op);
      clock_add(&measured, start);
      if (rc != 0) return rc; /* the window stays: failed_op is in it */
    }
    if (more < 0) return -2;
    between_replays(env, result, k, replays, measured, left);
  }
  return 0;
}

int hb_timed_pass(const hb_pass_env *env, hb_timed_result *result) {
  memset(result, 0, sizeof *result);
  uint64_t failed_op = 0;
  hb_leftovers left;
  if (hb_leftovers_find(env->trace, &left) != 0) { /* the harness could not set up */
    result->failure.failed = 1;
    result->failure.op = UINT64_MAX;
    return -1;
  }
  int rc = env->trace->header.thread_count > 1 ? replay_threads(env, result, &left, &failed_op)
                                                : replay_one_thread(env, result, &left, &failed_op);
  hb_leftovers_release(&left);
  if (rc == -2) { /* the harness could not set up: say so, not "NULL" */
    result->failure.failed = 1;
    result->failure.op = UINT64_MAX;
    return -1;
  }
  if (rc != 0) {
    result->failure.failed = 1;
    result->failure.op = failed_op;
    const hb_ops_file *trace = env->trace; /* the window the failed op is in */
    result->failure.size = failed_op - trace->first < trace->count
                               ? trace->ops[failed_op - trace->first].size
                               : 0;
    return -1;
  }
  return 0;
}
