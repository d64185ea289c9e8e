/* jemalloc.c — adapter for jemalloc through its non-standard API
 * (mallocx / sdallocx / rallocx / sallocx).
 *
 * Debian's jemalloc cannot be dlopen()ed (static TLS) and replaces malloc
 * for the whole process once linked, so it lives in an executable of its
 * own (allocator/meson.build) and the harness gives it a process per run.
 *
 * Footprint: `stats.mapped` (bytes in extents jemalloc has mapped and not
 * unmapped, including its metadata and dirty pages it has not purged yet),
 * read after writing `epoch` to refresh the statistics. In use:
 * `stats.allocated`. jemalloc keeps no per-block free list we could count,
 * so block counts are not answered.
 */
#include "hb_adapters.h"

#include <errno.h>
#include <jemalloc/jemalloc.h>
#include <stdint.h>

static const char *jemalloc_version(void) {
  const char *version = "unknown";
  size_t len = sizeof version;
  mallctl("version", &version, &len, NULL, 0);
  return version;
}

/* mallocx/rallocx leave size 0 undefined: ask for the smallest size class. */
static size_t nonzero(size_t size) { return size ? size : 1; }

static void *je_malloc(size_t size) { return hb_enomem_if_null(mallocx(nonzero(size), 0)); }

static void je_free(void *ptr, size_t size_hint) {
  if (!ptr) return;
  if (size_hint)
    sdallocx(ptr, size_hint, 0);
  else
    dallocx(ptr, 0);
}

static void *je_realloc(void *ptr, size_t size) {
  if (!ptr) return je_malloc(size);
  if (size == 0) { /* as glibc: free and return NULL */
    dallocx(ptr, 0);
    return NULL;
  }
  return hb_enomem_if_null(rallocx(ptr, size, 0));
}

static void *je_calloc(size_t count, size_t size) {
  size_t bytes;
  if (hb_calloc_bytes(count, size, &bytes)) return NULL;
  return hb_enomem_if_null(mallocx(nonzero(bytes), MALLOCX_ZERO));
}

static void *je_aligned_alloc(size_t alignment, size_t size) {
  if (!hb_is_pow2(alignment)) {
    errno = EINVAL;
    return NULL;
  }
  return hb_enomem_if_null(mallocx(nonzero(size), MALLOCX_ALIGN(alignment)));
}

static size_t je_usable_size(void *ptr) { return ptr ? sallocx(ptr, 0) : 0; }

static int read_size_stat(const char *name, uint64_t *value) {
  uint64_t epoch = 1;
  size_t epoch_len = sizeof epoch;
  if (mallctl("epoch", &epoch, &epoch_len, &epoch, epoch_len) != 0) return ENOENT;
  size_t bytes, len = sizeof bytes;
  if (mallctl(name, &bytes, &len, NULL, 0) != 0) return ENOENT;
  *value = bytes;
  return 0;
}

static int je_stat(hb_stat which, uint64_t *value) {
  switch (which) {
    case HB_STAT_FOOTPRINT_BYTES: return read_size_stat("stats.mapped", value);
    case HB_STAT_IN_USE_BYTES: return read_size_stat("stats.allocated", value);
    default: return ENOENT;
  }
}

const hb_allocator hb_allocator_jemalloc = {
    .name = "jemalloc",
    .description = "jemalloc, through mallocx/sdallocx",
    .flags = HB_ALLOCATOR_THREAD_SAFE | HB_ALLOCATOR_OWNS_PROCESS_MALLOC,
    .version = jemalloc_version,
    .malloc = je_malloc,
    .free = je_free,
    .realloc = je_realloc,
    .calloc = je_calloc,
    .aligned_alloc = je_aligned_alloc,
    .usable_size = je_usable_size,
    .stat = je_stat,
};
