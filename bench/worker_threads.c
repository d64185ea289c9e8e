/* worker_threads.c — what a multi-threaded replay shares between its two
 * passes (see worker_pass.h): the plan (which ops of the current window
 * each recorded thread runs, and which of them must wait for another
 * thread; built between windows, in harness memory), starting replay
 * threads, the futex gates that hold them, and the spin-then-yield pause. */
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
