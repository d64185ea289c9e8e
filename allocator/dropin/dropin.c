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
 * and a cache of small blocks per thread in front of it, held across
 * fork: allocator/sbrk/tcache.c), so this file only forwards the calls.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HB_EXPORT __attribute__((visibility("default")))

static const hb_allocator *const policy = &hb_sbrk_default.table;
/* Allocations served, counted per thread (a shared counter would be one
 * more cache line that every thread writes): the report gives the count
 * of the thread that runs it, the main thread at exit, which is enough to
 * tell that the library served the program. */
static __thread uint64_t calls __attribute__((tls_model("initial-exec")));

HB_EXPORT void *malloc(size_t size) {
  calls++;
  return policy->malloc(size);
}

HB_EXPORT void free(void *ptr) {
  policy->free(ptr, 0);
}

HB_EXPORT void *calloc(size_t count, size_t size) {
  calls++;
  return policy->calloc(count, size);
}

HB_EXPORT void *realloc(void *ptr, size_t size) {
  if (ptr && size == 0) { /* glibc's behaviour: free and return NULL */
    free(ptr);
    return NULL;
  }
  calls++;
  return policy->realloc(ptr, size);
}

HB_EXPORT void *reallocarray(void *ptr, size_t count, size_t size) {
  size_t bytes;
  if (hb_calloc_bytes(count, size, &bytes)) return NULL; /* overflow: ENOMEM */
  return realloc(ptr, bytes);
}

static void *aligned(size_t alignment, size_t size) {
  calls++;
  return policy->aligned_alloc(alignment, size);
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
  return policy->usable_size(ptr);
}

static char report_path[512]; /* copied: the program may change its environment */

static void report(void) {
  uint64_t footprint = 0;
  policy->stat(HB_STAT_FOOTPRINT_BYTES, &footprint);
  unsigned long long served = calls;
  char line[160];
  int len = snprintf(line, sizeof line, "hb-sbrk: pid %ld: %llu allocations, footprint %llu bytes\n",
                     (long)getpid(), served, (unsigned long long)footprint);
  int fd = open(report_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (len > 0) (void)!write(fd, line, (size_t)len);
  close(fd);
}

__attribute__((constructor)) static void dropin_init(void) {
  const char *path = getenv("HB_SBRK_REPORT");
  if (path && *path && strlen(path) < sizeof report_path) {
    memcpy(report_path, path, strlen(path) + 1);
    atexit(report);
  }
}
