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

/* ---- Several threads ----
 * Each recorded thread replays its own ops on a thread of its own. An op
 * whose slot was last used by another thread waits until that op has run
 * (a per-slot count of completed ops, published with release stores). An
 * allocator without HB_ALLOCATOR_THREAD_SAFE is called under one lock.
 * The clock runs, for each window, from the start gate to the last
 * thread's last op of the window. */
typedef struct shared_state {
  const hb_pass_env *env;
  const hb_thread_plan *plan;
  replay_calls calls;
  _Atomic uint32_t *slot_done; /* ops of the current window completed, per slot */
  _Atomic uint32_t start, finished; /* gates (worker_pass.h): windows released, done */
  atomic_int leave; /* set before the last release: the threads return */
  atomic_int stop; /* a thread failed: everyone skips to the end gate */
  atomic_uint_fast64_t failed_op;
  pthread_mutex_t lock;
  int locked;
} shared_state;

typedef struct thread_arg {
  shared_state *shared;
  uint32_t thread;
} thread_arg;

/* Thread `arg->thread`'s ops of the current window. */
static void replay_thread_ops(thread_arg *arg) {
  shared_state *s = arg->shared;
  const hb_ops_op *ops = s->env->trace->ops;
  const uint64_t first = s->env->trace->first;
  const uint32_t null_slot = s->env->trace->header.slot_count - 1;
  const int touch_all = s->env->touch_all;
  for (uint64_t k = s->plan->first[arg->thread]; k < s->plan->first[arg->thread + 1]; k++) {
    uint32_t w = s->plan->order[k];
    const hb_ops_op *op = &ops[w];
    uint32_t sequence = s->plan->slot_sequence[w];
    if (sequence & HB_WAIT_FLAG) {
      uint32_t needed = sequence & ~HB_WAIT_FLAG;
      unsigned spins = 0;
      while (atomic_load_explicit(&s->slot_done[op->slot], memory_order_acquire) != needed) {
        if (atomic_load_explicit(&s->stop, memory_order_relaxed)) return;
        hb_spin_pause(&spins);
      }
    }
    if (s->locked) pthread_mutex_lock(&s->lock);
    int rc = replay_op(&s->calls, op, s->env->slots, first + w, touch_all);
    if (s->locked) pthread_mutex_unlock(&s->lock);
    if (rc != 0) {
      uint_fast64_t current = atomic_load(&s->failed_op);
      while (first + w < current &&
             !atomic_compare_exchange_weak(&s->failed_op, &current, first + w)) {
      }
      atomic_store(&s->stop, 1);
      return;
    }
    if (op->slot != null_slot)
      atomic_store_explicit(&s->slot_done[op->slot], (sequence & ~HB_WAIT_FLAG) + 1,
                            memory_order_release);
  }
}

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

/* ---- Several threads ----
 * The replay threads live through every window of every replay of the
 * pass, held at a gate between two (`start` counts the windows released,
 * `finished` the threads done with the current one). */
static void *replay_thread_loop(void *opaque) {
  thread_arg *arg = opaque;
  shared_state *s = arg->shared;
  for (uint32_t released = 1;; released++) {
    hb_count_wait(&s->start, released);
    if (atomic_load(&s->leave)) break;
    if (!atomic_load(&s->stop)) replay_thread_ops(arg);
    hb_count_up(&s->finished);
  }
  return NULL;
}

static int replay_threads(const hb_pass_env *env, hb_timed_result *result, const hb_leftovers *left,
                          uint64_t *failed_op) {
  hb_ops_file *trace = env->trace;
  hb_thread_plan plan;
  if (hb_thread_plan_init(trace, &plan) != 0) return -2;
  uint32_t threads = plan.thread_count;
  size_t done_bytes = trace->header.slot_count * sizeof(uint32_t);
  size_t thread_bytes = threads * (sizeof(pthread_t) + sizeof(thread_arg));
  _Atomic uint32_t *slot_done = hb_harness_map(done_bytes);
  char *thread_memory = hb_harness_map(thread_bytes);
  if (!slot_done || !thread_memory) return -2;
  pthread_t *ids = (pthread_t *)thread_memory;
  thread_arg *args = (thread_arg *)(ids + threads);

  unsigned replays = replay_count(env);
  shared_state s = {.env = env, .plan = &plan, .calls = calls_of(env->allocator),
                    .slot_done = slot_done, .failed_op = UINT64_MAX,
                    .locked = !(env->allocator->flags & HB_ALLOCATOR_THREAD_SAFE)};
  pthread_mutex_init(&s.lock, NULL);
  uint32_t started = 0;
  for (; started < threads; started++) {
    args[started] = (thread_arg){&s, started};
    if (hb_start_thread(&ids[started], replay_thread_loop, &args[started]) != 0) break;
  }
  if (started < threads) atomic_store(&s.stop, 1);
  int rc = hb_ops_window_first(trace) < 0 ? -2 : 0;
  if (rc == 0) hb_thread_plan_build(trace, &plan); /* before the baseline: it is harness memory */
  result->rss_baseline_bytes = hb_peak_rss_reset() == 0 ? hb_current_rss_bytes() : 0;
  uint32_t released = 0;
  for (unsigned k = 0; k < replays && rc == 0 && !atomic_load(&s.stop); k++) {
    hb_replay_figures measured = {0, 0, 0};
    int more;
    for (more = hb_ops_window_first(trace); more > 0; more = hb_ops_window_next(trace)) {
      hb_thread_plan_build(trace, &plan);
      clock_mark start = clock_now();
      hb_count_up(&s.start);
      hb_count_wait(&s.finished, started * ++released);
      clock_add(&measured, start);
      if (atomic_load(&s.stop)) break; /* the window stays: failed_op is in it */
      /* The next window counts each slot's ops afresh. */
      for (uint64_t w = 0; w < trace->count; w++) slot_done[trace->ops[w].slot] = 0;
    }
    if (more < 0) rc = -2;
    if (rc == 0 && !atomic_load(&s.stop)) between_replays(env, result, k, replays, measured, left);
  }
  atomic_store(&s.leave, 1);
  hb_count_up(&s.start);
  for (uint32_t t = 0; t < started; t++) pthread_join(ids[t], NULL);
  if (rc == 0) rc = started < threads ? -2 : atomic_load(&s.failed_op) != UINT64_MAX ? -1 : 0;
  *failed_op = atomic_load(&s.failed_op);
  pthread_mutex_destroy(&s.lock);
  hb_harness_unmap((void *)slot_done, done_bytes);
  hb_harness_unmap(thread_memory, thread_bytes);
  hb_thread_plan_release(&plan);
  return rc;
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
