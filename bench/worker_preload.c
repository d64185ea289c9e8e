/* worker_preload.c — the allocator of the generic worker, hb-worker-preload:
 * whatever library the front end put in its LD_PRELOAD (`--allocators
 * NAME=PATH`, an allocator heapbench has no adapter for).
 *
 * The adapter calls malloc, free, realloc and calloc through the
 * process's own symbols, which the preloaded library interposes (the front
 * end checked that `malloc` resolves into it, with `--malloc-library`,
 * before anything ran). Aligned allocation uses posix_memalign, else
 * aligned_alloc, else memalign, and usable_size malloc_usable_size: each
 * only when the library itself defines it, since glibc's version of a call
 * would be handed the library's blocks. No sized free: no such call is
 * standard. Statistics: none (ENOENT), so the allocator's own footprint is
 * null and only what the kernel counts (the resident measure) is reported.
 *
 * This file is also the generic worker's registry: one allocator,
 * "preload".
 */
#define _GNU_SOURCE
#include "hb_allocator.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

/* The object that defines `name` in this process, or NULL. */
static const char *defining_object(const char *name, void **symbol) {
  Dl_info info;
  *symbol = dlsym(RTLD_DEFAULT, name);
  if (!*symbol || !dladdr(*symbol, &info)) return NULL;
  return info.dli_fname;
}

/* `name` when the object that defines malloc defines it too, else NULL. */
static void *same_object(const char *name) {
  void *symbol, *malloc_symbol;
  const char *object = defining_object(name, &symbol);
  const char *malloc_object = defining_object("malloc", &malloc_symbol);
  return object && malloc_object && strcmp(object, malloc_object) == 0 ? symbol : NULL;
}

static struct {
  int resolved;
  int (*posix_memalign)(void **, size_t, size_t);
  void *(*aligned_alloc)(size_t, size_t);
  void *(*memalign)(size_t, size_t);
  size_t (*usable_size)(void *);
} calls;

/* Object pointers to function pointers by copy, as ISO C allows. */
static void resolve(void) {
  if (calls.resolved) return;
  void *p;
  p = same_object("posix_memalign");
  memcpy(&calls.posix_memalign, &p, sizeof p);
  p = same_object("aligned_alloc");
  memcpy(&calls.aligned_alloc, &p, sizeof p);
  p = same_object("memalign");
  memcpy(&calls.memalign, &p, sizeof p);
  p = same_object("malloc_usable_size");
  memcpy(&calls.usable_size, &p, sizeof p);
  calls.resolved = 1;
}

static const char *preload_version(void) {
  const char *path = getenv("LD_PRELOAD");
  return path && *path ? path : "(nothing preloaded)";
}

static void preload_free(void *ptr, size_t size_hint) {
  (void)size_hint;
  free(ptr);
}

static void *preload_aligned_alloc(size_t alignment, size_t size) {
  resolve();
  if (!alignment || (alignment & (alignment - 1))) {
    errno = EINVAL;
    return NULL;
  }
  if (alignment < sizeof(void *)) alignment = sizeof(void *);
  if (calls.posix_memalign) {
    void *ptr = NULL;
    int rc = calls.posix_memalign(&ptr, alignment, size);
    if (rc != 0) errno = rc;
    return rc == 0 ? ptr : NULL;
  }
  if (calls.aligned_alloc) /* C11 wants a multiple of the alignment */
    return calls.aligned_alloc(alignment, (size + alignment - 1) & ~(alignment - 1));
  if (calls.memalign) return calls.memalign(alignment, size);
  errno = ENOMEM; /* the library has no aligned allocation at all */
  return NULL;
}

static size_t preload_usable_size(void *ptr) {
  resolve();
  return calls.usable_size && ptr ? calls.usable_size(ptr) : 0;
}

static int preload_stat(hb_stat which, uint64_t *value) {
  (void)which;
  (void)value;
  return ENOENT;
}

static const hb_allocator preload = {
    .name = "preload",
    .description = "the library in LD_PRELOAD, through the process's own malloc",
    .flags = HB_ALLOCATOR_THREAD_SAFE | HB_ALLOCATOR_OWNS_PROCESS_MALLOC,
    .version = preload_version,
    .malloc = malloc,
    .free = preload_free,
    .realloc = realloc,
    .calloc = calloc,
    .aligned_alloc = preload_aligned_alloc,
    .usable_size = preload_usable_size,
    .stat = preload_stat,
};

size_t hb_allocator_count(void) { return 1; }
const hb_allocator *hb_allocator_at(size_t index) { return index == 0 ? &preload : NULL; }
const hb_allocator *hb_allocator_find(const char *name) {
  return strcmp(name, preload.name) == 0 ? &preload : NULL;
}
