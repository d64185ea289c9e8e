/* worker_threads.c — what a multi-threaded replay shares between its two
 * passes (see worker_pass.h): the plan (which ops each recorded thread
 * runs, and which of them must wait for another thread; built before a
 * pass, in harness memory), starting replay threads, the futex gates that
 * hold them, and the spin-then-yield pause. */
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

int hb_thread_plan_build(const hb_ops_file *trace, hb_thread_plan *plan) {
  memset(plan, 0, sizeof *plan);
  const hb_ops_header *h = trace->header;
  uint32_t threads = h->thread_count;
  size_t first_bytes = (threads + 1) * sizeof(uint64_t);
  size_t order_bytes = h->op_count * sizeof(uint64_t);
  size_t sequence_bytes = h->op_count * sizeof(uint32_t);
  /* Scratch, per slot: ops seen so far and the thread of the last one. */
  size_t seen_bytes = h->slot_count * sizeof(uint32_t);
  size_t last_bytes = h->slot_count * sizeof(uint16_t);
  size_t total = first_bytes + order_bytes + sequence_bytes;
  char *memory = hb_harness_map(total);
  uint32_t *seen = hb_harness_map(seen_bytes);
  uint16_t *last_thread = hb_harness_map(last_bytes);
  if (!memory || !seen || !last_thread) {
    hb_harness_unmap(memory, total);
    hb_harness_unmap(seen, seen_bytes);
    hb_harness_unmap(last_thread, last_bytes);
    return -1;
  }
  plan->thread_count = threads;
  plan->first = (uint64_t *)memory;
  plan->order = (uint64_t *)(memory + first_bytes);
  plan->slot_sequence = (uint32_t *)(memory + first_bytes + order_bytes);
  plan->mapped_bytes = total;

  for (uint64_t i = 0; i < h->op_count; i++) plan->first[trace->ops[i].thread + 1]++;
  for (uint32_t t = 0; t < threads; t++) plan->first[t + 1] += plan->first[t];
  /* first[t] doubles as thread t's fill cursor, then is restored. */
  for (uint64_t i = 0; i < h->op_count; i++) {
    const hb_ops_op *op = &trace->ops[i];
    plan->order[plan->first[op->thread]++] = i;
    if (op->slot == h->slot_count - 1) continue; /* free(NULL): nothing to wait for */
    uint32_t sequence = seen[op->slot]++;
    if (sequence > 0 && last_thread[op->slot] != op->thread) sequence |= HB_WAIT_FLAG;
    last_thread[op->slot] = op->thread;
    plan->slot_sequence[i] = sequence;
  }
  for (uint32_t t = threads; t > 0; t--) plan->first[t] = plan->first[t - 1];
  plan->first[0] = 0;
  hb_harness_unmap(seen, seen_bytes);
  hb_harness_unmap(last_thread, last_bytes);
  return 0;
}

void hb_thread_plan_release(hb_thread_plan *plan) {
  hb_harness_unmap(plan->first, plan->mapped_bytes);
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
