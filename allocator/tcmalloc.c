/* tcmalloc.c — adapter for gperftools' tcmalloc (tcmalloc_minimal) through
 * its tc_* API.
 *
 * tcmalloc replaces malloc when linked, so it gets an executable (and at run
 * time a process) of its own.
 *
 * Footprint: MallocExtension's `generic.total_physical_bytes` (bytes
 * obtained from the OS, including metadata, less what was released back).
 * In use: `generic.current_allocated_bytes`. Free bytes: the page heap's and
 * the caches' free bytes.
 *
 * tcmalloc has an 8-byte size class with 8-byte alignment; the interface
 * promises 16, so requests under 16 bytes are rounded up to 16 here.
 * tc_* calls do not always set errno on failure; the adapter does.
 */
#include "hb_adapters.h"

#include <errno.h>
#include <gperftools/malloc_extension_c.h>
#include <gperftools/tcmalloc.h>
#include <stdint.h>

static const char *tcmalloc_version(void) { return tc_version(NULL, NULL, NULL); }

static void *tcmalloc_malloc(size_t size) { return hb_enomem_if_null(tc_malloc(hb_at_least_16(size))); }

static void *tcmalloc_realloc(void *ptr, size_t size) {
  if (ptr && size == 0) { /* as glibc: free and return NULL */
    tc_free(ptr);
    return NULL;
  }
  return hb_enomem_if_null(tc_realloc(ptr, hb_at_least_16(size)));
}

static void *tcmalloc_calloc(size_t count, size_t size) {
  size_t bytes;
  if (hb_calloc_bytes(count, size, &bytes)) return NULL;
  return hb_enomem_if_null(tc_calloc(1, hb_at_least_16(bytes)));
}

/* The size hint is not passed on: tc_free_sized trusts it to name the
 * block's size class, but tc_realloc shrinks a block in place (down to half
 * its size) without changing its class, so after a realloc the requested
 * size can name a smaller class and the sized free files the block on the
 * wrong free list (seen: SIGSEGV in ThreadCache::ReleaseToCentralCache
 * replaying a multi-threaded trace). */
static void tcmalloc_free(void *ptr, size_t size_hint) {
  (void)size_hint;
  tc_free(ptr);
}

static void *tcmalloc_aligned_alloc(size_t alignment, size_t size) {
  if (!hb_is_pow2(alignment)) {
    errno = EINVAL;
    return NULL;
  }
  return hb_enomem_if_null(tc_memalign(alignment, hb_at_least_16(size)));
}

static int property(const char *name, uint64_t *value) {
  size_t bytes;
  if (!MallocExtension_GetNumericProperty(name, &bytes)) return ENOENT;
  *value = bytes;
  return 0;
}

static int tcmalloc_stat(hb_stat which, uint64_t *value) {
  switch (which) {
    case HB_STAT_FOOTPRINT_BYTES: return property("generic.total_physical_bytes", value);
    case HB_STAT_IN_USE_BYTES: return property("generic.current_allocated_bytes", value);
    case HB_STAT_FREE_BYTES: {
      uint64_t page_heap, central, transfer, thread;
      if (property("tcmalloc.pageheap_free_bytes", &page_heap) ||
          property("tcmalloc.central_cache_free_bytes", &central) ||
          property("tcmalloc.transfer_cache_free_bytes", &transfer) ||
          property("tcmalloc.thread_cache_free_bytes", &thread))
        return ENOENT;
      *value = page_heap + central + transfer + thread;
      return 0;
    }
    default: return ENOENT;
  }
}

const hb_allocator hb_allocator_tcmalloc = {
    .name = "tcmalloc",
    .description = "gperftools tcmalloc_minimal, through tc_malloc/tc_free",
    .flags = HB_ALLOCATOR_THREAD_SAFE | HB_ALLOCATOR_OWNS_PROCESS_MALLOC,
    .version = tcmalloc_version,
    .malloc = tcmalloc_malloc,
    .free = tcmalloc_free,
    .realloc = tcmalloc_realloc,
    .calloc = tcmalloc_calloc,
    .aligned_alloc = tcmalloc_aligned_alloc,
    .usable_size = tc_malloc_size,
    .stat = tcmalloc_stat,
};
