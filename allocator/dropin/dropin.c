/* dropin.c — libhb-sbrk.so: the sbrk allocator's default policy ("sbrk")
 * as the process's malloc, for LD_PRELOAD:
 *
 *   LD_PRELOAD=build/allocator/dropin/libhb-sbrk.so python3 ...
 *
 * Exports malloc, free, calloc, realloc, reallocarray, posix_memalign,
 * aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size (and nothing
 * else: dropin.map hides the rest).
 *
 * Threads: the default policy is thread-safe itself (HB_ALLOCATOR_THREAD_SAFE:
 * one lock inside the allocator, skipped while the process has one thread,
 * and a cache of small blocks per thread in front of it, held across fork:
 * allocator/sbrk/tcache.c), so for it this file only forwards the calls.
 * The other policies are single-threaded, as in the seed: once the process
 * has a second thread, every call to one of them takes this file's mutex
 * (statically initialised: nothing to set up before the first malloc,
 * which may come before any constructor runs); pthread_atfork takes it
 * before fork and releases it in parent and child, so a child never
 * inherits a heap caught half-way through an update by another thread.
 * This file never calls malloc itself (that would recurse into the lock).
 *
 * HB_SBRK_POLICY=NAME in the environment: the sbrk policy the library
 * serves (`heapbench list` names them: sbrk, sbrk-bestfit, ...; default
 * "sbrk"), so that `heapbench run` can put any policy under a program. It is
 * read from /proc/self/environ at the first call, which may come before libc
 * has set up `environ`; an unknown name stops the program (a mix of
 * policies would corrupt the heap, a silent default would mislabel it).
 *
 * HB_SBRK_REPORT=FILE in the environment: at exit, one line appended to
 * FILE with the number of allocations served, the footprint and the
 * policy, so a test
 * can tell the library was really used (a file, not stderr: some programs,
 * xz among them, close stderr before they exit); for the default policy,
 * also how many times its lock was taken (what its thread caches keep
 * low: docs/SBRK.md, "Threads"). The policy's name ends the line (a test
 * of `heapbench run` reads it there).
 */
#define _GNU_SOURCE
#include "policy.h"
#include "tcache.h"

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
static const hb_allocator *policy; /* chosen at the first call: chosen_policy() */
static int policy_locked;          /* the policy is not thread-safe: this file locks */
/* Allocations served, counted per thread (a shared counter would be one
 * more cache line that every thread writes): the report gives the count
 * of the thread that runs it, the main thread at exit, which is enough to
 * tell that the library served the program. */
static __thread uint64_t calls __attribute__((tls_model("initial-exec")));

/* For a policy that is not thread-safe, while the process has one thread
 * the lock is skipped: glibc clears __libc_single_threaded in
 * pthread_create, before the new thread exists, and never sets it again.
 * Only this thread can create that thread, and never from inside these
 * functions, so the flag cannot change between a call's lock() and its
 * unlock(). (An uncontended mutex pair costs about as much as a quick-list
 * malloc and free together: docs/SBRK.md.) */
static void lock(void) {
  if (policy_locked && !__libc_single_threaded) pthread_mutex_lock(&heap_lock);
}
static void unlock(void) {
  if (policy_locked && !__libc_single_threaded) pthread_mutex_unlock(&heap_lock);
}

static void die(const char *a, const char *b) {
  (void)!write(STDERR_FILENO, a, strlen(a));
  (void)!write(STDERR_FILENO, b, strlen(b));
  (void)!write(STDERR_FILENO, "\n", 1);
  abort();
}

/* The value of HB_SBRK_POLICY in the environment the process started
 * with, copied into `name`; 0 when it is not set. No malloc, no environ. */
static int policy_from_environment(char *name, size_t size) {
  static const char key[] = "HB_SBRK_POLICY=";
  int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const char *value = environ ? getenv("HB_SBRK_POLICY") : NULL;
    if (!value || strlen(value) >= size) return 0;
    memcpy(name, value, strlen(value) + 1);
    return 1;
  }
  char buffer[4096];
  size_t held = 0; /* bytes of the current entry in buffer */
  int found = 0;
  for (;;) {
    ssize_t n = read(fd, buffer + held, sizeof buffer - held);
    if (n <= 0) break;
    size_t end = held + (size_t)n, start = 0;
    for (size_t k = 0; k < end; k++) {
      if (buffer[k]) continue;
      if (k - start > sizeof key - 1 && memcmp(buffer + start, key, sizeof key - 1) == 0 &&
          k - start - (sizeof key - 1) < size) {
        memcpy(name, buffer + start + sizeof key - 1, k - start - (sizeof key - 1) + 1);
        found = 1;
      }
      start = k + 1;
    }
    held = end - start; /* an entry cut by the read: keep its start unless it cannot fit */
    if (held == sizeof buffer) held = 0;
    memmove(buffer, buffer + start, held);
  }
  close(fd);
  return found;
}

/* The policy this process serves, chosen once, at the first call (always
 * on the process's only thread: no thread exists before libc's first
 * malloc). */
static inline const hb_allocator *chosen_policy(void) {
  if (__builtin_expect(policy != NULL, 1)) return policy;
  char name[64];
  const hb_allocator *chosen = &hb_sbrk_default.table;
  if (policy_from_environment(name, sizeof name) && name[0]) {
    chosen = NULL;
    for (size_t i = 0; i < hb_sbrk_policy_count; i++)
      if (strcmp(hb_sbrk_policies[i]->name, name) == 0) chosen = hb_sbrk_policies[i];
    if (!chosen) die("libhb-sbrk: unknown HB_SBRK_POLICY ", name);
  }
  policy_locked = !(chosen->flags & HB_ALLOCATOR_THREAD_SAFE);
  policy = chosen;
  return policy;
}

HB_EXPORT void *malloc(size_t size) {
  const hb_allocator *p = chosen_policy();
  lock();
  calls++;
  void *ptr = p->malloc(size);
  unlock();
  return ptr;
}

HB_EXPORT void free(void *ptr) {
  if (!ptr) return;
  const hb_allocator *p = chosen_policy();
  lock();
  p->free(ptr, 0);
  unlock();
}

HB_EXPORT void *calloc(size_t count, size_t size) {
  const hb_allocator *p = chosen_policy();
  lock();
  calls++;
  void *ptr = p->calloc(count, size);
  unlock();
  return ptr;
}

HB_EXPORT void *realloc(void *ptr, size_t size) {
  if (ptr && size == 0) { /* glibc's behaviour: free and return NULL */
    free(ptr);
    return NULL;
  }
  const hb_allocator *p = chosen_policy();
  lock();
  calls++;
  void *moved = p->realloc(ptr, size);
  unlock();
  return moved;
}

HB_EXPORT void *reallocarray(void *ptr, size_t count, size_t size) {
  size_t bytes;
  if (hb_calloc_bytes(count, size, &bytes)) return NULL; /* overflow: ENOMEM */
  return realloc(ptr, bytes);
}

static void *aligned(size_t alignment, size_t size) {
  const hb_allocator *p = chosen_policy();
  lock();
  calls++;
  void *ptr = p->aligned_alloc(alignment, size);
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
  const hb_allocator *p = chosen_policy();
  lock();
  size_t usable = p->usable_size(ptr);
  unlock();
  return usable;
}

static char report_path[512]; /* copied: the program may change its environment */

static void report(void) {
  uint64_t footprint = 0;
  lock();
  chosen_policy()->stat(HB_STAT_FOOTPRINT_BYTES, &footprint);
  unsigned long long served = calls;
  unlock();
  char locks[96] = "";
  if (!policy_locked)
    snprintf(locks, sizeof locks, "%lu lock acquisitions, %lu depot batches moved, ",
             hb_tcache_lock_acquisitions(), hb_tcache_depot_moves());
  char line[256];
  int len = snprintf(line, sizeof line,
                     "hb-sbrk: pid %ld: %llu allocations, footprint %llu bytes, %spolicy %s\n",
                     (long)getpid(), served, (unsigned long long)footprint, locks, chosen_policy()->name);
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
  if (policy_locked && !__libc_single_threaded) {
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
