/* glibc.c — adapter for glibc's own malloc (ptmalloc2).
 *
 * Calls go to the __libc_* entry points, which stay glibc's even when
 * another allocator interposes `malloc` in the same process.
 *
 * Footprint: mallinfo2's `arena` (bytes obtained with sbrk and mmap for the
 * arenas, all arenas summed) plus `hblkhd` (bytes in chunks mmapped one by
 * one). In use: `uordblks + hblkhd`. mallinfo2 counts glibc's whole heap, so
 * it is only meaningful in a process where nothing else uses glibc's malloc
 * heavily: the replay runs each allocator in a process of its own.
 *
 * malloc_usable_size and mallinfo2 have no __libc_ names, and sanitizers
 * interpose them (ASan even interposes __libc_memalign), so those are
 * looked up in libc.so.6 itself.
 */
#include "hb_adapters.h"

#include <errno.h>
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_calloc(size_t count, size_t size);

/* Stores glibc's own definition of `name` (whoever else interposes it)
 * into the function pointer at `function`; the copy is how ISO C lets an
 * object pointer become a function pointer. */
static void libc_function(const char *name, void *function, size_t function_size) {
  void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
  void *symbol = libc ? dlsym(libc, name) : NULL;
  if (!symbol) {
    fprintf(stderr, "heapbench glibc adapter: %s not found in libc.so.6\n", name);
    abort();
  }
  memcpy(function, &symbol, function_size);
  dlclose(libc);
}

static size_t glibc_usable_size(void *ptr) {
  static size_t (*usable_size)(void *);
  if (!usable_size) libc_function("malloc_usable_size", &usable_size, sizeof usable_size);
  return usable_size(ptr);
}

static struct mallinfo2 glibc_mallinfo2(void) {
  static struct mallinfo2 (*info)(void);
  if (!info) libc_function("mallinfo2", &info, sizeof info);
  return info();
}

static const char *glibc_version(void) { return gnu_get_libc_version(); }

static void glibc_free(void *ptr, size_t size_hint) {
  (void)size_hint; /* glibc has no sized free */
  __libc_free(ptr);
}

static void *glibc_aligned_alloc(size_t alignment, size_t size) {
  if (!hb_is_pow2(alignment)) {
    errno = EINVAL;
    return NULL;
  }
  static void *(*memalign)(size_t, size_t);
  if (!memalign) libc_function("__libc_memalign", &memalign, sizeof memalign);
  return memalign(alignment, size);
}

static int glibc_stat(hb_stat which, uint64_t *value) {
  struct mallinfo2 info = glibc_mallinfo2();
  switch (which) {
    case HB_STAT_FOOTPRINT_BYTES: *value = info.arena + info.hblkhd; return 0;
    case HB_STAT_IN_USE_BYTES: *value = info.uordblks + info.hblkhd; return 0;
    case HB_STAT_FREE_BYTES: *value = info.fordblks; return 0;
    case HB_STAT_FREE_BLOCKS: *value = info.ordblks + info.smblks; return 0;
    default: return ENOENT;
  }
}

const hb_allocator hb_allocator_glibc = {
    .name = "glibc",
    .description = "glibc malloc (ptmalloc2), through __libc_malloc",
    .flags = HB_ALLOCATOR_THREAD_SAFE,
    .version = glibc_version,
    .malloc = __libc_malloc,
    .free = glibc_free,
    .realloc = __libc_realloc,
    .calloc = __libc_calloc,
    .aligned_alloc = glibc_aligned_alloc,
    .usable_size = glibc_usable_size,
    .stat = glibc_stat,
};
