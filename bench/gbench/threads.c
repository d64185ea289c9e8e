/* threads.c — allocators under threads:
 *
 *   threads/A/SIZE/real_time/threads:T   T threads each making malloc/free
 *                                        pairs of SIZE, T = 1 and 2
 *   prodcons/A/SIZE/real_time/threads:2  thread 0 mallocs blocks and hands
 *                                        them through a ring to thread 1,
 *                                        which frees them: every block is
 *                                        freed by another thread
 *
 * Time is wall-clock time divided by the iterations of all threads
 * together (Google Benchmark's convention for threaded runs), so perfect
 * scaling halves it at 2 threads. One iteration is one pair (threads), or
 * in prodcons a malloc (thread 0) or a free (thread 1), so there Time is
 * half the time per block; items_per_second counts blocks handed over. Allocators without HB_ALLOCATOR_THREAD_SAFE (the sbrk policies)
 * are called under one process-wide lock, as any multi-threaded caller of
 * them must; thread-safe allocators are called directly. Memory counters
 * come from thread 0 after its loop, with one SIZE block live.
 */
#include "families.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

static const int64_t thread_sizes_bytes[] = {64, 4096};

/* ---- Calls, under the lock for allocators that need it ---- */

static pthread_mutex_t serial_lock = PTHREAD_MUTEX_INITIALIZER;

static inline int needs_lock(const hb_allocator *a) {
  return !(a->flags & HB_ALLOCATOR_THREAD_SAFE);
}

static inline void *locked_malloc(const hb_allocator *a, int lock, size_t size) {
  if (!lock) return a->malloc(size);
  pthread_mutex_lock(&serial_lock);
  void *p = a->malloc(size);
  pthread_mutex_unlock(&serial_lock);
  return p;
}

static inline void locked_free(const hb_allocator *a, int lock, void *p, size_t size) {
  if (!lock) {
    a->free(p, size);
    return;
  }
  pthread_mutex_lock(&serial_lock);
  a->free(p, size);
  pthread_mutex_unlock(&serial_lock);
}

/* items: whether this thread's iterations count as items processed. */
static void report(hb_gb_state *state, const hb_allocator *a, int lock, size_t size, int failed,
                   int items, hb_gbf_memory *memory) {
  if (failed) {
    hb_gb_skip_with_error(state, "malloc returned NULL");
    return;
  }
  if (items) hb_gb_items_processed(state, (int64_t)hb_gb_iterations(state));
  if (hb_gb_thread_index(state) != 0) return;
  /* Other threads may still be in their loops: stat under the lock too. */
  if (lock) pthread_mutex_lock(&serial_lock);
  void *p = a->malloc(size);
  hb_gbf_memory_sample(memory, a, size);
  a->free(p, size);
  if (lock) pthread_mutex_unlock(&serial_lock);
  hb_gbf_memory_report(state, memory);
}

/* ---- threads: independent pairs on every thread ---- */

static void bm_threads(hb_gb_state *state, void *context) {
  const hb_allocator *a = context;
  size_t size = (size_t)hb_gb_range(state, 0);
  int lock = needs_lock(a);
  hb_gbf_memory memory = {0};
  if (hb_gb_thread_index(state) == 0) hb_gbf_memory_start(&memory, a);
  int failed = 0;
  uint64_t n;
  while (hb_gb_keep_running_batch(state, &n))
    for (uint64_t i = 0; i < n; i++) {
      void *p = locked_malloc(a, lock, size);
      hb_gb_escape(p);
      failed |= p == NULL;
      locked_free(a, lock, p, size);
    }
  report(state, a, lock, size, failed, 1, &memory);
}

/* ---- prodcons: blocks freed by another thread ----
 * A single-producer single-consumer ring. Both threads run the same
 * number of iterations (Google Benchmark gives every thread the same
 * count), so the consumer takes exactly what the producer put in and the
 * ring is empty again when a run ends: no reset between runs. */

#define RING_SLOTS 1024 /* blocks in flight at most */
#define SPINS_BEFORE_YIELD 64

static struct {
  _Alignas(64) atomic_uint_fast64_t produced;
  _Alignas(64) atomic_uint_fast64_t consumed;
  _Alignas(64) void *slots[RING_SLOTS];
} ring;

/* The machine is shared: a thread that waits gives its core up soon. */
static inline void wait_a_little(unsigned *spins) {
  if (++*spins >= SPINS_BEFORE_YIELD) {
    sched_yield();
    *spins = 0;
  }
}

static void bm_prodcons(hb_gb_state *state, void *context) {
  const hb_allocator *a = context;
  size_t size = (size_t)hb_gb_range(state, 0);
  int lock = needs_lock(a);
  int producer = hb_gb_thread_index(state) == 0;
  hb_gbf_memory memory = {0};
  if (hb_gb_thread_index(state) == 0) hb_gbf_memory_start(&memory, a);
  int failed = 0;
  uint64_t n;
  while (hb_gb_keep_running_batch(state, &n))
    for (uint64_t i = 0; i < n; i++) {
      unsigned spins = 0;
      if (producer) {
        void *p = locked_malloc(a, lock, size);
        failed |= p == NULL;
        uint64_t head = atomic_load_explicit(&ring.produced, memory_order_relaxed);
        while (head - atomic_load_explicit(&ring.consumed, memory_order_acquire) == RING_SLOTS)
          wait_a_little(&spins);
        ring.slots[head % RING_SLOTS] = p;
        atomic_store_explicit(&ring.produced, head + 1, memory_order_release);
      } else {
        uint64_t tail = atomic_load_explicit(&ring.consumed, memory_order_relaxed);
        while (atomic_load_explicit(&ring.produced, memory_order_acquire) == tail)
          wait_a_little(&spins);
        void *p = ring.slots[tail % RING_SLOTS];
        atomic_store_explicit(&ring.consumed, tail + 1, memory_order_release);
        locked_free(a, lock, p, size);
      }
    }
  /* Items are blocks handed over: the producer's iterations. */
  report(state, a, lock, size, failed, producer, &memory);
}

void hb_gbf_register_threads(const hb_allocator *a) {
  hb_gb_bench *threads = hb_gbf_register("threads", a, bm_threads, (void *)a);
  hb_gb_bench *prodcons = hb_gbf_register("prodcons", a, bm_prodcons, (void *)a);
  for (size_t i = 0; i < sizeof thread_sizes_bytes / sizeof thread_sizes_bytes[0]; i++) {
    hb_gb_arg(threads, thread_sizes_bytes[i]);
    hb_gb_arg(prodcons, thread_sizes_bytes[i]);
  }
  hb_gb_threads(threads, 1);
  hb_gb_threads(threads, 2);
  hb_gb_use_real_time(threads);
  hb_gb_threads(prodcons, 2);
  hb_gb_use_real_time(prodcons);
}
