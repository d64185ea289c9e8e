/* tcache.h — the thread-safe front of a heap: one lock, and a cache of
 * small blocks per thread in front of it (tcache.c says how and why;
 * private to allocator/sbrk/). Each call is the hb_heap_ call of the same
 * name, made safe to call from any thread; a policy uses them through
 * HB_HEAP_POLICY_WITH(..., hb_tcache, HB_ALLOCATOR_THREAD_SAFE) (heap.h).
 * Only one heap of the process may be behind them (the lock and the
 * caches are the process's): the default policy's. */
#ifndef HB_SBRK_TCACHE_H
#define HB_SBRK_TCACHE_H

#include "heap.h"

#include <sys/single_threaded.h>

/* Whether the process has one thread: glibc's __libc_single_threaded,
 * cleared in pthread_create before the second thread exists and never set
 * again (why that suffices: tcache.c). */
static inline __attribute__((always_inline)) int hb_tcache_single_threaded(void) {
  return __libc_single_threaded;
}

/* While it has, each call is the heap's own; after, the thread-safe path
 * (hb_tcache_*_threaded, tcache.c). The test is inline so that a policy's
 * table entry is the test and a jump: with it inside the threaded bodies,
 * GCC saved six registers and made a stack frame before it, on every call
 * of a single-threaded program, up to 16% of sbrk's ns/op on the workloads of
 * small blocks (docs/SBRK.md, "The single-threaded path"). */
void *hb_tcache_malloc_threaded(hb_heap *heap, size_t size);
void hb_tcache_free_threaded(hb_heap *heap, void *ptr); /* ptr not NULL */
void *hb_tcache_realloc_threaded(hb_heap *heap, void *ptr, size_t size);
void *hb_tcache_calloc_threaded(hb_heap *heap, size_t count, size_t size);
void *hb_tcache_aligned_alloc_threaded(hb_heap *heap, size_t alignment, size_t size);
size_t hb_tcache_usable_size_threaded(hb_heap *heap, void *ptr);

static inline void *hb_tcache_malloc(hb_heap *heap, size_t size) {
  if (hb_tcache_single_threaded()) return hb_heap_malloc(heap, size);
  return hb_tcache_malloc_threaded(heap, size);
}
static inline void hb_tcache_free(hb_heap *heap, void *ptr) {
  if (hb_tcache_single_threaded())
    hb_heap_free(heap, ptr);
  else if (ptr)
    hb_tcache_free_threaded(heap, ptr);
}
static inline void *hb_tcache_realloc(hb_heap *heap, void *ptr, size_t size) {
  if (hb_tcache_single_threaded()) return hb_heap_realloc(heap, ptr, size);
  return hb_tcache_realloc_threaded(heap, ptr, size);
}
static inline void *hb_tcache_calloc(hb_heap *heap, size_t count, size_t size) {
  if (hb_tcache_single_threaded()) return hb_heap_calloc(heap, count, size);
  return hb_tcache_calloc_threaded(heap, count, size);
}
static inline void *hb_tcache_aligned_alloc(hb_heap *heap, size_t alignment, size_t size) {
  if (hb_tcache_single_threaded()) return hb_heap_aligned_alloc(heap, alignment, size);
  return hb_tcache_aligned_alloc_threaded(heap, alignment, size);
}
static inline size_t hb_tcache_usable_size(hb_heap *heap, void *ptr) {
  if (hb_tcache_single_threaded()) return hb_heap_usable_size(heap, ptr);
  return hb_tcache_usable_size_threaded(heap, ptr);
}
/* Empties the calling thread's cache into the heap; under the lock (the
 * heap's release_held, before it grows). Non-zero when it held blocks. */
int hb_tcache_release_held(hb_heap *heap);
/* Blocks in the caches count as free. */
int hb_tcache_stat(hb_heap *heap, hb_stat which, uint64_t *value);
/* hb_heap_check, then every cached block (hb_heap_check_held); no other
 * thread may use the allocator meanwhile. */
int hb_tcache_check(hb_heap *heap, char *why, size_t why_len);
/* How many times the lock was taken so far, by every thread (this call's
 * own acquisition included): what the caches exist to keep low; tests
 * count it (tests/thread_locks.c). */
unsigned long hb_tcache_lock_acquisitions(void);
/* How many batches were put into or taken from the depot so far: the
 * blocks that moved between threads without the lock, TCACHE_BATCH
 * (16) at a time. */
unsigned long hb_tcache_depot_moves(void);

#endif
