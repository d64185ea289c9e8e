/* worker_threads.c — what a multi-threaded replay shares between its two
 * passes (see worker_pass.h): the plan (which ops of the current window
 * each recorded thread runs, and which of them must wait for another
 * thread; built between windows, in harness memory), starting replay
 * threads, the futex gates that hold them, the spin-then-yield pause, and
 * the team that runs a window on those threads (hb_team). */
#define _GNU_SOURCE
#include "worker_pass.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int hb_thread_plan_init(const hb_ops_file *trace, hb_thread_plan *plan) {
  memset(plan, 0, sizeof *plan);
  const hb_ops_header *h = &trace->header;
  uint64_t window = trace->window_ops < h->op_count ? trace->window_ops : h->op_count;
  size_t first_bytes = (h->thread_count + 1) * sizeof(uint64_t);
  size_t order_bytes = window * sizeof(uint32_t);
  size_t total = first_bytes + 2 * order_bytes;
  char *memory = hb_harness_map(total);
  plan->seen_bytes = h->slot_count * sizeof(uint32_t);
  plan->last_bytes = h->slot_count * sizeof(uint16_t);
  plan->seen = hb_harness_map(plan->seen_bytes);
  plan->last_thread = hb_harness_map(plan->last_bytes);
  if (!memory || !plan->seen || !plan->last_thread) {
    hb_harness_unmap(memory, total);
    hb_harness_unmap(plan->seen, plan->seen_bytes);
    hb_harness_unmap(plan->last_thread, plan->last_bytes);
    return -1;
  }
  plan->thread_count = h->thread_count;
  plan->window_first = UINT64_MAX;
  plan->first = (uint64_t *)memory;
  plan->order = (uint32_t *)(memory + first_bytes);
  plan->slot_sequence = (uint32_t *)(memory + first_bytes + order_bytes);
  plan->mapped_bytes = total;
  return 0;
}

void hb_thread_plan_build(const hb_ops_file *trace, hb_thread_plan *plan) {
  if (plan->window_first == trace->first) return;
  const uint32_t null_slot = trace->header.slot_count - 1;
  const hb_ops_op *ops = trace->ops;
  const uint64_t count = trace->count;
  uint32_t threads = plan->thread_count;
  memset(plan->first, 0, (threads + 1) * sizeof *plan->first);
  for (uint64_t k = 0; k < count; k++) plan->first[ops[k].thread + 1]++;
  for (uint32_t t = 0; t < threads; t++) plan->first[t + 1] += plan->first[t];
  /* first[t] doubles as thread t's fill cursor, then is restored. */
  for (uint64_t k = 0; k < count; k++) {
    const hb_ops_op *op = &ops[k];
    plan->order[plan->first[op->thread]++] = (uint32_t)k;
    if (op->slot == null_slot) { /* free(NULL): nothing to wait for */
      plan->slot_sequence[k] = 0; /* the memory holds the last window's plan */
      continue;
    }
    uint32_t sequence = plan->seen[op->slot]++;
    if (sequence > 0 && plan->last_thread[op->slot] != op->thread) sequence |= HB_WAIT_FLAG;
    plan->last_thread[op->slot] = op->thread;
    plan->slot_sequence[k] = sequence;
  }
  for (uint32_t t = threads; t > 0; t--) plan->first[t] = plan->first[t - 1];
  plan->first[0] = 0;
  /* The next window starts counting afresh (its threads start after every
   * op of this one is done). Only the slots used here were counted. */
  for (uint64_t k = 0; k < count; k++) plan->seen[ops[k].slot] = 0;
  plan->window_first = trace->first;
}

void hb_thread_plan_release(hb_thread_plan *plan) {
  hb_harness_unmap(plan->first, plan->mapped_bytes);
  hb_harness_unmap(plan->seen, plan->seen_bytes);
  hb_harness_unmap(plan->last_thread, plan->last_bytes);
  memset(plan, 0, sizeof *plan);
}

void hb_futex_wait(_Atomic uint32_t *word, uint32_t seen) {
  syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
}

void hb_futex_wake(_Atomic uint32_t *word, int waiters) {
  syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, waiters, NULL, NULL, 0);
}

void hb_count_up(_Atomic uint32_t *counter) {
  atomic_fetch_add_explicit(counter, 1, memory_order_acq_rel);
  hb_futex_wake(counter, INT_MAX);
}

void hb_count_wait(_Atomic uint32_t *counter, uint32_t target) {
  for (;;) {
    uint32_t seen = atomic_load_explicit(counter, memory_order_acquire);
    if (seen >= target) return;
    hb_futex_wait(counter, seen);
  }
}

int hb_start_thread(pthread_t *id, void *(*run)(void *), void *arg) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return -1;
  pthread_attr_setstacksize(&attr, HB_REPLAY_STACK_BYTES);
  int rc = pthread_create(id, &attr, run, arg);
  pthread_attr_destroy(&attr);
  return rc == 0 ? 0 : -1;
}

void hb_spin_pause(unsigned *spins) {
  if (++*spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  } else {
    sched_yield();
  }
}

/* ---- A team of replay threads ---- */
typedef struct team_member {
  hb_team *team;
  uint32_t thread;
} team_member;

static void *team_thread(void *opaque) {
  team_member *m = opaque;
  hb_team *t = m->team;
  for (uint32_t released = 1;; released++) {
    hb_count_wait(&t->start, released);
    if (atomic_load(&t->leave)) break;
    if (!atomic_load(&t->stop)) t->window_ops(t, m->thread);
    hb_count_up(&t->finished);
  }
  return NULL;
}

int hb_team_start(hb_team *t, const hb_pass_env *env,
                  void (*window_ops)(hb_team *team, uint32_t thread), void *context) {
  memset(t, 0, sizeof *t);
  t->env = env;
  t->window_ops = window_ops;
  t->context = context;
  t->failed_op = UINT64_MAX;
  t->locked = !(env->allocator->flags & HB_ALLOCATOR_THREAD_SAFE);
  if (hb_thread_plan_init(env->trace, &t->plan) != 0) return -1;
  uint32_t threads = t->plan.thread_count;
  t->done_bytes = env->trace->header.slot_count * sizeof(uint32_t);
  t->thread_bytes = threads * (sizeof(pthread_t) + sizeof(team_member));
  t->slot_done = hb_harness_map(t->done_bytes);
  char *thread_memory = hb_harness_map(t->thread_bytes);
  if (!t->slot_done || !thread_memory) {
    hb_harness_unmap((void *)t->slot_done, t->done_bytes);
    hb_harness_unmap(thread_memory, t->thread_bytes);
    hb_thread_plan_release(&t->plan);
    return -1;
  }
  t->ids = (pthread_t *)thread_memory;
  team_member *members = (team_member *)(t->ids + threads);
  t->members = members;
  pthread_mutex_init(&t->lock, NULL);
  for (; t->started < threads; t->started++) {
    members[t->started] = (team_member){t, t->started};
    if (hb_start_thread(&t->ids[t->started], team_thread, &members[t->started]) != 0) break;
  }
  if (t->started < threads) atomic_store(&t->stop, 1);
  return 0;
}

void hb_team_run_window(hb_team *t) {
  hb_count_up(&t->start);
  hb_count_wait(&t->finished, t->started * ++t->released);
}

void hb_team_window_done(hb_team *t) {
  const hb_ops_file *trace = t->env->trace;
  for (uint64_t w = 0; w < trace->count; w++) t->slot_done[trace->ops[w].slot] = 0;
}

int hb_team_finish(hb_team *t, uint64_t *failed_op) {
  atomic_store(&t->leave, 1);
  hb_count_up(&t->start);
  for (uint32_t k = 0; k < t->started; k++) pthread_join(t->ids[k], NULL);
  pthread_mutex_destroy(&t->lock);
  *failed_op = atomic_load(&t->failed_op);
  int rc = t->started < t->plan.thread_count ? -2 : *failed_op != UINT64_MAX ? -1 : 0;
  hb_harness_unmap((void *)t->slot_done, t->done_bytes);
  hb_harness_unmap(t->ids, t->thread_bytes);
  hb_thread_plan_release(&t->plan);
  return rc;
}
