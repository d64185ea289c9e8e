/* threads.c — the default policy called from several threads at once,
 * without a lock around it (it is HB_ALLOCATOR_THREAD_SAFE: tcache.c):
 *
 *  - four threads allocate, fill, verify and free random small and large
 *    blocks (random_size); a quarter of their blocks go through a shared exchange and
 *    are verified and freed by another thread than the one that made them;
 *  - at a barrier, with every thread alive and its cache full, the heap
 *    checker accounts for every block, cached ones included, and the
 *    statistics count the cached blocks as free;
 *  - after the threads exit, their caches are back in the heap: the
 *    checker passes and nothing is counted in use but what main holds.
 * Run in rounds; the checker is called only while the workers wait.
 */
#define _GNU_SOURCE
#include "sbrk_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

enum { THREADS = 4, SLOTS = 256, OPS = 200000, EXCHANGE = 64, ROUNDS = 3 };

static const hb_allocator *policy;
static _Atomic(unsigned char *) exchange[EXCHANGE];
static pthread_barrier_t barrier;
static atomic_int failures;

static uint64_t next_random(uint64_t *state) {
  *state ^= *state << 13;
  *state ^= *state >> 7;
  *state ^= *state << 17;
  return *state;
}

/* A block carries its size and a pattern: byte 0..7 = size, then the
 * pattern of that size. */
static unsigned char *make(size_t size) {
  unsigned char *p = policy->malloc(size);
  if (!p) return NULL;
  memcpy(p, &size, sizeof size);
  memset(p + sizeof size, (int)(size & 0xFF), size - sizeof size);
  return p;
}

static void verify_and_free(unsigned char *p) {
  size_t size;
  memcpy(&size, p, sizeof size);
  for (size_t i = sizeof size; i < size; i++)
    if (p[i] != (unsigned char)(size & 0xFF)) {
      atomic_fetch_add(&failures, 1);
      break;
    }
  policy->free(p, size);
}

/* Small blocks mostly; some of 1 to 9 KiB and a few around 64 KiB: every
 * kind of cached block (tcache.c: bins, larger blocks) and some too large
 * to be cached. */
static size_t random_size(uint64_t *state) {
  uint64_t r = next_random(state);
  if ((r & 63) == 1) return 60000 + (r >> 8) % 8000;
  return (r & 7) == 0 ? 1024 + (r >> 8) % 8000 : 16 + (r >> 8) % 600;
}

static void *worker(void *arg) {
  uint64_t state = 0x9E3779B97F4A7C15u * ((uintptr_t)arg + 1);
  unsigned char *slots[SLOTS] = {0};
  for (int round = 0; round < ROUNDS; round++) {
    for (int op = 0; op < OPS; op++) {
      uint64_t r = next_random(&state);
      size_t i = r % SLOTS;
      if (slots[i]) {
        if ((r >> 20) % 4 == 0) { /* hand it to another thread */
          unsigned char *old = atomic_exchange(&exchange[(r >> 24) % EXCHANGE], slots[i]);
          if (old) verify_and_free(old);
        } else {
          verify_and_free(slots[i]);
        }
        slots[i] = NULL;
      } else {
        slots[i] = make(random_size(&state));
        if (!slots[i]) atomic_fetch_add(&failures, 1);
      }
    }
    pthread_barrier_wait(&barrier); /* main checks the heap */
    pthread_barrier_wait(&barrier);
  }
  for (size_t i = 0; i < SLOTS; i++)
    if (slots[i]) verify_and_free(slots[i]);
  return NULL;
}

int main(void) {
  policy = hb_allocator_find("sbrk");
  HB_CHECK(policy && (policy->flags & HB_ALLOCATOR_THREAD_SAFE), "the default policy is thread-safe");
  if (!policy) return hb_test_exit("sbrk-threads");
  pthread_barrier_init(&barrier, NULL, THREADS + 1);
  pthread_t ids[THREADS];
  for (uintptr_t t = 0; t < THREADS; t++)
    HB_CHECK(pthread_create(&ids[t], NULL, worker, (void *)t) == 0, "pthread_create");
  for (int round = 0; round < ROUNDS; round++) {
    pthread_barrier_wait(&barrier);
    hb_sbrk_test_check(policy, "with every thread's cache full");
    uint64_t in_use = hb_sbrk_test_stat(policy, HB_STAT_IN_USE_BYTES);
    uint64_t free_bytes = hb_sbrk_test_stat(policy, HB_STAT_FREE_BYTES);
    uint64_t footprint = hb_sbrk_test_stat(policy, HB_STAT_FOOTPRINT_BYTES);
    HB_CHECK(in_use + free_bytes <= footprint, "in use %llu + free %llu > footprint %llu",
             (unsigned long long)in_use, (unsigned long long)free_bytes,
             (unsigned long long)footprint);
    printf("round %d: in use %llu, free %llu, footprint %llu\n", round, (unsigned long long)in_use,
           (unsigned long long)free_bytes, (unsigned long long)footprint);
    pthread_barrier_wait(&barrier);
  }
  for (int t = 0; t < THREADS; t++) pthread_join(ids[t], NULL);
  for (int e = 0; e < EXCHANGE; e++) {
    unsigned char *left = atomic_exchange(&exchange[e], NULL);
    if (left) verify_and_free(left);
  }
  HB_CHECK(atomic_load(&failures) == 0, "%d blocks were corrupted or not allocated",
           atomic_load(&failures));
  hb_sbrk_test_check(policy, "after the threads exited");
  uint64_t blocks = hb_sbrk_test_stat(policy, HB_STAT_BLOCKS);
  uint64_t free_blocks = hb_sbrk_test_stat(policy, HB_STAT_FREE_BLOCKS);
  /* Every block is free (parked, cached or merged) but none: the caches
   * of the exited threads went back to the heap, and main's holds none. */
  HB_CHECK(blocks == free_blocks, "%llu blocks, %llu free after every block was freed",
           (unsigned long long)blocks, (unsigned long long)free_blocks);
  return hb_test_exit("sbrk-threads");
}
