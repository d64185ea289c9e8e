/* hb_adapters.h — the tables the adapter files export (private to allocator/).
 * Callers outside allocator/ go through the registry in hb_allocator.h. */
#ifndef HB_ADAPTERS_H
#define HB_ADAPTERS_H

#include "hb_allocator.h"

extern const hb_allocator hb_allocator_glibc;
extern const hb_allocator hb_allocator_jemalloc;
extern const hb_allocator hb_allocator_mimalloc;
extern const hb_allocator hb_allocator_tcmalloc;

/* The sbrk allocator's policies, default ("sbrk") first. */
extern const hb_allocator *const hb_sbrk_policies[];
extern const size_t hb_sbrk_policy_count;

/* ---- Small helpers the adapters share ---- */
#include <errno.h>

/* Is n a power of two (and not 0)? */
static inline int hb_is_pow2(size_t n) { return n != 0 && (n & (n - 1)) == 0; }

/* Some allocators' non-standard calls do not set errno on failure; the
 * interface promises ENOMEM. */
static inline void *hb_enomem_if_null(void *ptr) {
  if (!ptr) errno = ENOMEM;
  return ptr;
}

/* count * size, or -1 with errno = ENOMEM when it overflows. */
static inline int hb_calloc_bytes(size_t count, size_t size, size_t *bytes) {
  if (__builtin_mul_overflow(count, size, bytes)) {
    errno = ENOMEM;
    return -1;
  }
  return 0;
}

/* Allocators with an 8-byte size class give it 8-byte alignment; the
 * interface promises 16, so their adapters round small requests up. */
static inline size_t hb_at_least_16(size_t size) { return size < 16 ? 16 : size; }

#endif
