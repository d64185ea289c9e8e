/* dropin.c — libhb-sbrk.so: the sbrk allocator's default policy ("sbrk")
 * as the process's malloc, for LD_PRELOAD:
 *
 *   LD_PRELOAD=build/allocator/dropin/libhb-sbrk.so python3 ...
 *
 * Exports malloc, free, calloc, realloc, reallocarray, posix_memalign,
 * aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size (and nothing
 * else: dropin.map hides the rest).
 *
 * Threads: the policies are single-threaded, as in the seed, so once the
 * process has a second thread every call takes one mutex (statically
 * initialised: nothing to set up before the first malloc, which may come
 * before any constructor runs); before that, none is needed (lock()).
 * fork: pthread_atfork takes the mutex (when it is in use) before fork and
 * releases it in both parent and child, so the child never inherits a heap
 * caught half-way through an update by another thread.
 * This file never calls malloc itself (that would recurse into the lock).
 *
 * HB_SBRK_REPORT=FILE in the environment: at exit, one line appended to
 * FILE with the number of allocations served and the footprint, so a test
 * can tell the library was really used (a file, not stderr: some programs,
 * xz among them, close stderr before they exit).
 */
#define _GNU_SOURCE
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <unistd.h>

#define HB_EXPORT __attribute__((visibility("default")))

static pthread_mutex_t heap_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t calls; /* allocations served, under the lock */
static const hb_allocator *const policy = &hb_sbrk_default.table;

/* While the process has one thread the lock is skipped: glibc clears
 * __libc_single_threaded in pthread_create, before the new thread exists,
 * and never sets it again. Only this thread can create that thread, and
 * never from inside these functions, so the flag cannot change between a
 * call's lock() and its unlock(). An uncontended mutex pair costs about as
 * much as a quick-list malloc and free together (benchmark dropin-pairs:
 * 19.8 ns per malloc/free pair with the lock, 10.4 without, glibc 8.8;
 * docs/SBRK.md). */
static void lock(void) {
  if (!__libc_single_threaded) pthread_mutex_lock(&heap_lock);
}
static void unlock(void) {
  if (!__libc_single_threaded) pthread_mutex_unlock(&heap_lock);
}

HB_EXPORT void *malloc(size_t size) {
  lock();
  calls++;
  void *ptr = policy->malloc(size);
  unlock();
  return ptr;
}

HB_EXPORT void free(void *ptr) {
  if (!ptr) return;
  lock();
  policy->free(ptr, 0);
  unlock();
}

HB_EXPORT void *calloc(size_t count, size_t size) {
  lock();
  calls++;
  void *ptr = policy->calloc(count, size);
  unlock();
  return ptr;
}

HB_EXPORT void *realloc(void *ptr, size_t size) {
  if (ptr && size == 0) { /* glibc's behaviour: free and return NULL */
    free(ptr);
    return NULL;
  }
  lock();
  calls++;
  void *moved = policy->realloc(ptr, size);
  unlock();
  return moved;
}

HB_EXPORT void *reallocarray(void *ptr, size_t count, size_t size) {
  size_t bytes;
  if (hb_calloc_bytes(count, size, &bytes)) return NULL; /* overflow: ENOMEM */
  return realloc(ptr, bytes);
}

static void *aligned(size_t alignment, size_t size) {
  lock();
  calls++;
  void *ptr = policy->aligned_alloc(alignment, size);
  unlock();
  return ptr;
}

HB_EXPORT void *aligned_alloc(size_t alignment, size_t size) {
  if (!alignment || (alignment & (alignment - 1))) {
    errno = EINVAL;
    return NULL;
  }
  return aligned(alignment, size);
}

HB_EXPORT int posix_memalign(void **out, size_t alignment, size_t size) {
  if (!alignment || (alignment & (alignment - 1)) || alignment % sizeof(void *)) return EINVAL;
  int saved = errno;
  void *ptr = aligned(alignment, size);
  errno = saved; /* posix_memalign reports through its result only */
  if (!ptr) return ENOMEM;
  *out = ptr;
  return 0;
}

HB_EXPORT void *memalign(size_t alignment, size_t size) {
  /* Like glibc: a non-power-of-two alignment is rounded up to one. */
  if (alignment & (alignment - 1)) {
    if (alignment > SIZE_MAX / 2) {
      errno = EINVAL;
      return NULL;
    }
    size_t power = 1;
    while (power < alignment) power <<= 1;
    alignment = power;
  }
  return aligned(alignment ? alignment : 1, size);
}

static size_t page_bytes(void) {
  static size_t page;
  if (!page) page = (size_t)sysconf(_SC_PAGESIZE);
  return page;
}

HB_EXPORT void *valloc(size_t size) { return aligned(page_bytes(), size); }

HB_EXPORT void *pvalloc(size_t size) {
  size_t page = page_bytes();
  if (size > SIZE_MAX - page) {
    errno = ENOMEM;
    return NULL;
  }
  return aligned(page, (size + page - 1) & ~(page - 1));
}

HB_EXPORT size_t malloc_usable_size(void *ptr) {
  if (!ptr) return 0;
  lock();
  size_t usable = policy->usable_size(ptr);
  unlock();
  return usable;
}

static char report_path[512]; /* copied: the program may change its environment */

static void report(void) {
  uint64_t footprint = 0;
  lock();
  policy->stat(HB_STAT_FOOTPRINT_BYTES, &footprint);
  unsigned long long served = calls;
  unlock();
  char line[160];
  int len = snprintf(line, sizeof line, "hb-sbrk: pid %ld: %llu allocations, footprint %llu bytes\n",
                     (long)getpid(), served, (unsigned long long)footprint);
  int fd = open(report_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (len > 0) (void)!write(fd, line, (size_t)len);
  close(fd);
}

/* fork: the lock is held across it when there are threads (one may be in
 * the heap). Whether it was taken is remembered rather than read again
 * from __libc_single_threaded, which the child may see set anew. */
static int held_for_fork;
static void before_fork(void) {
  if (!__libc_single_threaded) {
    pthread_mutex_lock(&heap_lock);
    held_for_fork = 1;
  }
}
static void after_fork(void) { /* parent and child alike */
  if (held_for_fork) {
    held_for_fork = 0;
    pthread_mutex_unlock(&heap_lock);
  }
}

__attribute__((constructor)) static void dropin_init(void) {
  pthread_atfork(before_fork, after_fork, after_fork);
  const char *path = getenv("HB_SBRK_REPORT");
  if (path && *path && strlen(path) < sizeof report_path) {
    memcpy(report_path, path, strlen(path) + 1);
    atexit(report);
  }
}
