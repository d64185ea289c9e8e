/* mimalloc.c — adapter for mimalloc through its mi_* API.
 *
 * Debian's libmimalloc overrides malloc when linked, so it gets an
 * executable (and at run time a process) of its own.
 *
 * Footprint: the `current_commit` figure of mi_process_info(), the bytes
 * mimalloc has committed from the OS and not decommitted. mimalloc keeps no
 * running total of bytes in use, so that figure is not answered.
 *
 * mimalloc gives requests under 16 bytes 8-byte alignment; the interface
 * promises 16, so those requests are rounded up to 16 here (the size class
 * mimalloc would use for them anyway on most platforms' max_align_t).
 * mi_* calls do not always set errno on failure; the adapter does.
 */
#include "hb_adapters.h"

#include <errno.h>
#include <mimalloc.h>
#include <stdint.h>
#include <stdio.h>

static const char *mimalloc_version(void) {
  static char text[16];
  int version = mi_version(); /* e.g. 209 for 2.0.9 */
  snprintf(text, sizeof text, "%d.%d.%d", version / 100, version / 10 % 10, version % 10);
  return text;
}

static void *mimalloc_malloc(size_t size) { return hb_enomem_if_null(mi_malloc(hb_at_least_16(size))); }

static void *mimalloc_realloc(void *ptr, size_t size) {
  if (ptr && size == 0) { /* as glibc: free and return NULL */
    mi_free(ptr);
    return NULL;
  }
  return hb_enomem_if_null(mi_realloc(ptr, hb_at_least_16(size)));
}

static void *mimalloc_calloc(size_t count, size_t size) {
  size_t bytes;
  if (hb_calloc_bytes(count, size, &bytes)) return NULL;
  return hb_enomem_if_null(mi_zalloc(hb_at_least_16(bytes)));
}

static void mimalloc_free(void *ptr, size_t size_hint) {
  if (size_hint)
    mi_free_size(ptr, hb_at_least_16(size_hint));
  else
    mi_free(ptr);
}

static void *mimalloc_aligned_alloc(size_t alignment, size_t size) {
  if (!hb_is_pow2(alignment)) {
    errno = EINVAL;
    return NULL;
  }
  return hb_enomem_if_null(mi_malloc_aligned(hb_at_least_16(size), alignment));
}

static size_t mimalloc_usable_size(void *ptr) { return mi_usable_size(ptr); }

static int mimalloc_stat(hb_stat which, uint64_t *value) {
  if (which != HB_STAT_FOOTPRINT_BYTES) return ENOENT;
  size_t elapsed, user, system, rss, peak_rss, commit, peak_commit, faults;
  mi_process_info(&elapsed, &user, &system, &rss, &peak_rss, &commit, &peak_commit, &faults);
  *value = commit;
  return 0;
}

const hb_allocator hb_allocator_mimalloc = {
    .name = "mimalloc",
    .description = "mimalloc, through mi_malloc/mi_free_size",
    .flags = HB_ALLOCATOR_THREAD_SAFE | HB_ALLOCATOR_OWNS_PROCESS_MALLOC,
    .version = mimalloc_version,
    .malloc = mimalloc_malloc,
    .free = mimalloc_free,
    .realloc = mimalloc_realloc,
    .calloc = mimalloc_calloc,
    .aligned_alloc = mimalloc_aligned_alloc,
    .usable_size = mimalloc_usable_size,
    .stat = mimalloc_stat,
};
