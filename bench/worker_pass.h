/* worker_pass.h — private to the worker (worker*.c): the two kinds of
 * pass a worker process runs, and the harness memory they share.
 *
 * Harness memory comes from mmap, never malloc, and is faulted in before a
 * pass starts: in the jemalloc, mimalloc and tcmalloc workers malloc IS
 * the allocator under test, so a harness malloc would show up in its
 * statistics, and a page fault on a harness array would be timed.
 */
#ifndef HB_WORKER_PASS_H
#define HB_WORKER_PASS_H

#include "hb_allocator.h"
#include "hb_ops.h"
#include "hb_worker_protocol.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hb_pass_env {
  const hb_allocator *allocator;
  hb_ops_file *trace; /* its windows are mapped as the pass goes (hb_ops.h) */
  void **slots;  /* slot table, block id -> pointer, slot_count entries */
  int touch_all; /* timed pass: write every byte of each new block, not just the first */
  hb_speed_kind speed;     /* timed pass: which replays to report */
  unsigned warmup;         /* timed pass: untimed replays between the cold and the warm one */
  uint64_t poll_budget_ns; /* instrumented pass: time its footprint reads may take in all */
  unsigned heap_map;       /* heap-map pass: K, the evenly spaced snapshots */
} hb_pass_env;

/* Why a pass stopped early: the allocator returned NULL. */
typedef struct hb_pass_failure {
  int failed;
  uint64_t op;   /* index of the op */
  uint64_t size; /* bytes it asked for */
} hb_pass_failure;

/* What one replay of the trace took. */
typedef struct hb_replay_figures {
  uint64_t elapsed_ns;   /* wall time */
  uint64_t cpu_ns;       /* CPU time of the process (all threads) */
  uint64_t minor_faults; /* page faults the process took (all threads) */
} hb_replay_figures;

typedef struct hb_timed_result {
  hb_replay_figures cold; /* the first replay in this process */
  hb_replay_figures warm; /* the last, after the warm-ups (HB_SPEED_COLD: not run) */
  uint64_t rss_baseline_bytes;  /* RSS just before the cold replay, peak mark reset; 0 if unknown */
  uint64_t cold_peak_rss_bytes; /* the peak during the cold replay beyond that baseline */
  hb_pass_failure failure;
} hb_timed_result;

/* ---- Harness memory (worker.c) ---- */
/* Zeroed, faulted-in memory from mmap, or NULL. Counted in
 * hb_harness_mapped_bytes(), which the instrumented pass subtracts from
 * RSS samples taken after its baseline. */
void *hb_harness_map(size_t bytes);
void hb_harness_unmap(void *memory, size_t bytes);
uint64_t hb_harness_mapped_bytes(void);
/* Resident set of this process now, from /proc/self/statm; 0 if unknown. */
uint64_t hb_current_rss_bytes(void);
uint64_t hb_now_ns(void);
uint64_t hb_cpu_ns(void); /* CLOCK_PROCESS_CPUTIME_ID */
uint64_t hb_minor_faults(void); /* getrusage(RUSAGE_SELF).ru_minflt */
/* Peak RSS since the last reset (VmHWM); -1 / 0 when the kernel cannot
 * tell. */
int hb_peak_rss_reset(void);
uint64_t hb_peak_rss_bytes(void);
/* The resident set's parts (/proc/self/status): pages of files and shared
 * memory (program and library text the pass runs for the first time), and
 * anonymous pages (heaps); 0 when the kernel does not tell. */
uint64_t hb_file_rss_bytes(void);
uint64_t hb_anon_rss_bytes(void);

/* ---- Output (worker_harness.c): hb_worker_protocol.h's lines on stdout,
 * through a fixed buffer and write(2), no stdio ---- */
void hb_out(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* "KEY value", KEY as HB_WORKER_FIGURES names it. */
void hb_out_figure(hb_worker_figure figure, uint64_t value);
void hb_out_flush(void);

/* ---- Blocks the trace leaves live (worker_harness.c) ----
 * Freed between two replays of a trace in one process, so that every
 * replay starts from the same set of live blocks (none). */
typedef struct hb_leftovers {
  uint32_t *slot;  /* slots live after the last op */
  uint64_t *hint;  /* each one's free size hint (0 for an aligned block, as in the trace) */
  uint64_t count;
  size_t slot_bytes, hint_bytes;
} hb_leftovers;
/* Reads the trace window by window. 0, or -1 when harness memory or a
 * window could not be mapped. */
int hb_leftovers_find(hb_ops_file *trace, hb_leftovers *left);
/* Frees them all, through `allocator`, from the slot table of a replay. */
void hb_leftovers_free(const hb_leftovers *left, const hb_allocator *allocator, void **slots);
void hb_leftovers_release(hb_leftovers *left);

/* ---- Passes ---- */
/* worker_timed.c: the uninstrumented replays of the trace (cold, warm-ups,
 * warm), on one thread per recorded thread. 0, or -1 with result->failure
 * set. */
int hb_timed_pass(const hb_pass_env *env, hb_timed_result *result);

/* worker_instrument.c: one instrumented pass; writes its figures with
 * hb_out (docs/METRICS.md defines them). 0 when the replay completed,
 * -1 when it stopped early (the status line says why). */
int hb_instrumented_pass(const hb_pass_env *env);

/* worker_latency.c: one replay with every call timed on its own; writes
 * its figures with hb_out. 0, or -1 when the replay stopped early. */
int hb_latency_pass(const hb_pass_env *env);

/* worker_heapmap.c: one replay, in trace order on one thread, with
 * snapshots of the heap (docs/METRICS.md, "Heap map"); writes them with
 * hb_out. 0, or -1 when the replay stopped early. */
int hb_heapmap_pass(const hb_pass_env *env);

/* worker_threads.c: the plan a multi-threaded replay follows through the
 * current window of the ops (hb_ops.h). The threads cross each window's
 * end together, at a gate (every op of the window done): so an op never
 * waits for one in an earlier window, and the plan needs only the
 * window's ops, in memory sized by the window, not the trace. */
typedef struct hb_thread_plan {
  uint32_t thread_count;
  uint64_t window_first;   /* the window planned (its first op); UINT64_MAX: none yet */
  uint64_t *first;         /* thread t's ops are order[first[t] .. first[t+1]) */
  uint32_t *order;         /* window-relative op indices grouped by thread, each in trace order */
  uint32_t *slot_sequence; /* per op of the window: ops on its slot before it in the window;
                              top bit set when the previous one ran on another thread, so
                              this op waits */
  uint32_t *seen;          /* scratch per slot: ops of the window seen so far (left zeroed) */
  uint16_t *last_thread;   /* scratch per slot: the thread of the last of them */
  size_t mapped_bytes, seen_bytes, last_bytes;
} hb_thread_plan;

#define HB_WAIT_FLAG 0x80000000u

/* Maps the plan's memory for `trace`'s window size and slot count. 0, or -1. */
int hb_thread_plan_init(const hb_ops_file *trace, hb_thread_plan *plan);
/* Plans the trace's current window (nothing to do when it is the window
 * planned last: a trace of one window is planned once per pass). */
void hb_thread_plan_build(const hb_ops_file *trace, hb_thread_plan *plan);
void hb_thread_plan_release(hb_thread_plan *plan);
/* Starts a replay thread with a small stack (HB_REPLAY_STACK_BYTES: the
 * replay's frames and an allocator's are shallow), so traces recorded
 * from thousands of threads still fit. 0, or -1. */
#define HB_REPLAY_STACK_BYTES ((size_t)256 << 10)
int hb_start_thread(pthread_t *id, void *(*run)(void *), void *arg);
/* Gates between the main thread and the replay threads, on futexes (no
 * malloc, no spinning): hb_count_up adds one and wakes every waiter;
 * hb_count_wait sleeps until the counter reaches `target`.
 * Every threaded pass holds its threads at a start gate until all exist
 * (creating a thread mallocs, from glibc), and at an end gate until all
 * have run their ops (a thread's exit frees, into glibc): glibc's malloc
 * may move the break, and the sbrk policies under test must be the only
 * ones moving it while they run. */
void hb_count_up(_Atomic uint32_t *counter);
/* The futex calls under them: sleep while *word == seen; wake `waiters`. */
void hb_futex_wait(_Atomic uint32_t *word, uint32_t seen);
void hb_futex_wake(_Atomic uint32_t *word, int waiters);
void hb_count_wait(_Atomic uint32_t *counter, uint32_t target);
/* Spins briefly, then yields: the machine may have fewer cores than the
 * trace has threads. */
void hb_spin_pause(unsigned *spins);

/* ---- A team of replay threads (worker_threads.c) ----
 * What the timed and the latency passes share to replay a multi-threaded
 * trace: one thread per recorded thread, living through every window of
 * every replay, held at a gate between two (`start` counts the windows
 * released, `finished` the threads done with the current one). An op whose
 * slot was last used by another thread waits until that op has run (a
 * per-slot count of completed ops, published with release stores); an
 * allocator without HB_ALLOCATOR_THREAD_SAFE is called under one lock. */
typedef struct hb_team hb_team;
struct hb_team {
  const hb_pass_env *env;
  hb_thread_plan plan;
  /* The pass's ops of the current window for `thread` (a loop over
   * hb_team_run_ops with its own op). */
  void (*window_ops)(hb_team *team, uint32_t thread);
  void *context; /* the pass's, for window_ops */
  _Atomic uint32_t *slot_done; /* ops of the current window completed, per slot */
  _Atomic uint32_t start, finished; /* gates: windows released, threads done */
  atomic_int leave; /* set before the last release: the threads return */
  atomic_int stop;  /* a thread failed: everyone skips to the end gate */
  atomic_uint_fast64_t failed_op; /* the first op that failed, or UINT64_MAX */
  pthread_mutex_t lock;
  int locked;
  uint32_t started, released;
  pthread_t *ids;
  void *members;
  size_t done_bytes, thread_bytes;
};

/* Plans, maps and starts the team (held at the gate). 0; -1 when the
 * harness could not (nothing left to release). Fewer threads than asked
 * for set `stop`: hb_team_finish then says so. */
int hb_team_start(hb_team *team, const hb_pass_env *env,
                  void (*window_ops)(hb_team *team, uint32_t thread), void *context);
/* Releases the threads into the trace's current window (planned by the
 * caller) and waits until all are done with it: what a pass times. */
void hb_team_run_window(hb_team *team);
/* After a window that did not stop: the next counts each slot's ops afresh. */
void hb_team_window_done(hb_team *team);
/* Lets the threads return, joins them and unmaps. 0; -1 when an op
 * failed (*failed_op); -2 when not every thread started. */
int hb_team_finish(hb_team *team, uint64_t *failed_op);

/* Thread `thread`'s ops of the current window, each through run(team, op,
 * op index); a run that returns non-zero stops the team. Inlined into each
 * pass's window_ops, so `run` is a direct call in the replay loop. */
static inline __attribute__((always_inline)) void hb_team_run_ops(
    hb_team *t, uint32_t thread, int (*run)(hb_team *, const hb_ops_op *, uint64_t)) {
  const hb_ops_op *ops = t->env->trace->ops;
  const uint64_t first = t->env->trace->first;
  const uint32_t null_slot = t->env->trace->header.slot_count - 1;
  for (uint64_t k = t->plan.first[thread]; k < t->plan.first[thread + 1]; k++) {
    uint32_t w = t->plan.order[k];
    const hb_ops_op *op = &ops[w];
    uint32_t sequence = t->plan.slot_sequence[w];
    if (sequence & HB_WAIT_FLAG) {
      uint32_t needed = sequence & ~HB_WAIT_FLAG;
      unsigned spins = 0;
      while (atomic_load_explicit(&t->slot_done[op->slot], memory_order_acquire) != needed) {
        if (atomic_load_explicit(&t->stop, memory_order_relaxed)) return;
        hb_spin_pause(&spins);
      }
    }
    if (t->locked) pthread_mutex_lock(&t->lock);
    int rc = run(t, op, first + w);
    if (t->locked) pthread_mutex_unlock(&t->lock);
    if (rc != 0) {
      uint_fast64_t current = atomic_load(&t->failed_op);
      while (first + w < current &&
             !atomic_compare_exchange_weak(&t->failed_op, &current, first + w)) {
      }
      atomic_store(&t->stop, 1);
      return;
    }
    if (op->slot != null_slot)
      atomic_store_explicit(&t->slot_done[op->slot], (sequence & ~HB_WAIT_FLAG) + 1,
                            memory_order_release);
  }
}

#endif
