/* conformance.c — the contract of hb_allocator.h, checked against every
 * allocator this executable links (meson builds it once per group).
 *
 * Usage: conformance [NAME...]   (no name: every allocator in the registry)
 */
#include "hb_allocator.h"
#include "hb_test.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static int aligned(const void *ptr, size_t alignment) {
  return ((uintptr_t)ptr & (alignment - 1)) == 0;
}

static void fill(unsigned char *ptr, size_t size, unsigned seed) {
  for (size_t i = 0; i < size; i++) ptr[i] = (unsigned char)(seed + i * 7);
}

static int holds(const unsigned char *ptr, size_t size, unsigned seed) {
  for (size_t i = 0; i < size; i++)
    if (ptr[i] != (unsigned char)(seed + i * 7)) return 0;
  return 1;
}

static void check_alignment_and_usable_size(const hb_allocator *a) {
  static const size_t sizes[] = {1, 7, 8, 15, 16, 17, 24, 31, 33, 48, 100, 255, 256, 1000,
                                 4095, 4096, 4097, 65536, 100000, 1 << 20, 3 << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    unsigned char *p = a->malloc(sizes[i]);
    HB_CHECK(p != NULL, "%s: malloc(%zu) failed", a->name, sizes[i]);
    if (!p) continue;
    HB_CHECK(aligned(p, HB_MIN_ALIGN), "%s: malloc(%zu) = %p not 16-aligned", a->name, sizes[i],
             (void *)p);
    HB_CHECK(a->usable_size(p) >= sizes[i], "%s: usable_size %zu < %zu", a->name,
             a->usable_size(p), sizes[i]);
    fill(p, sizes[i], (unsigned)i);
    HB_CHECK(holds(p, sizes[i], (unsigned)i), "%s: block of %zu bytes lost its contents", a->name,
             sizes[i]);
    a->free(p, sizes[i]); /* a correct size hint */
  }
}

static void check_zero_size(const hb_allocator *a) {
  for (int round = 0; round < 3; round++) {
    void *p = a->malloc(0);
    /* NULL, or a pointer free accepts: the call below must not abort. */
    if (p) HB_CHECK(aligned(p, HB_MIN_ALIGN), "%s: malloc(0) misaligned", a->name);
    a->free(p, 0);
  }
  a->free(NULL, 0);
}

static void check_realloc(const hb_allocator *a) {
  size_t size = 24;
  unsigned char *p = a->malloc(size);
  HB_CHECK(p != NULL, "%s: malloc(24)", a->name);
  if (!p) return;
  fill(p, size, 3);
  /* Grow step by step well past any small-size class, then shrink back. */
  static const size_t grow[] = {40, 100, 1000, 5000, 70000, 300000, 2000000};
  for (size_t i = 0; i < sizeof grow / sizeof grow[0]; i++) {
    unsigned char *q = a->realloc(p, grow[i]);
    HB_CHECK(q != NULL, "%s: realloc to %zu", a->name, grow[i]);
    if (!q) return;
    HB_CHECK(holds(q, size, 3), "%s: realloc %zu -> %zu lost contents", a->name, size, grow[i]);
    HB_CHECK(aligned(q, HB_MIN_ALIGN), "%s: realloc misaligned", a->name);
    fill(q, grow[i], 3);
    p = q;
    size = grow[i];
  }
  static const size_t shrink[] = {100000, 3000, 64, 8};
  for (size_t i = 0; i < sizeof shrink / sizeof shrink[0]; i++) {
    unsigned char *q = a->realloc(p, shrink[i]);
    HB_CHECK(q != NULL, "%s: realloc down to %zu", a->name, shrink[i]);
    if (!q) return;
    HB_CHECK(holds(q, shrink[i], 3), "%s: shrinking to %zu lost contents", a->name, shrink[i]);
    p = q;
  }
  a->free(p, 0);
  unsigned char *fresh = a->realloc(NULL, 50);
  HB_CHECK(fresh != NULL, "%s: realloc(NULL, 50) is not malloc", a->name);
  a->free(fresh, 0);
}

static void check_calloc(const hb_allocator *a) {
  /* Dirty memory first, so a calloc that reuses it must really zero. */
  for (size_t size = 16; size <= (1 << 18); size *= 4) {
    unsigned char *dirty = a->malloc(size);
    HB_CHECK(dirty != NULL, "%s: malloc(%zu)", a->name, size);
    if (!dirty) continue;
    memset(dirty, 0xAB, size);
    a->free(dirty, size);
    unsigned char *p = a->calloc(size / 8, 8);
    HB_CHECK(p != NULL, "%s: calloc(%zu, 8)", a->name, size / 8);
    if (!p) continue;
    size_t nonzero = 0;
    for (size_t i = 0; i < size; i++) nonzero += p[i] != 0;
    HB_CHECK(nonzero == 0, "%s: calloc of %zu bytes left %zu bytes non-zero", a->name, size,
             nonzero);
    a->free(p, size);
  }
  errno = 0;
  void *overflow = a->calloc(SIZE_MAX / 2, 3);
  HB_CHECK(overflow == NULL && errno == ENOMEM, "%s: calloc overflow gave %p errno %d", a->name,
           overflow, errno);
  errno = 0;
  overflow = a->calloc((size_t)1 << 33, (size_t)1 << 33);
  HB_CHECK(overflow == NULL && errno == ENOMEM, "%s: calloc 2^33*2^33 gave %p errno %d",
           a->name, overflow, errno);
}

static void check_impossible_sizes(const hb_allocator *a) {
  static const size_t sizes[] = {SIZE_MAX, SIZE_MAX - 15, SIZE_MAX / 2 + 1, (size_t)1 << 62,
                                 (size_t)1 << 50};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    errno = 0;
    void *p = a->malloc(sizes[i]);
    HB_CHECK(p == NULL, "%s: malloc(%zu) succeeded", a->name, sizes[i]);
    HB_CHECK(errno == ENOMEM, "%s: malloc(%zu) errno %d, not ENOMEM", a->name, sizes[i], errno);
    a->free(p, 0);
    p = a->aligned_alloc(4096, sizes[i]);
    HB_CHECK(p == NULL, "%s: aligned_alloc(4096, %zu) succeeded", a->name, sizes[i]);
    a->free(p, 0);
  }
  unsigned char *keep = a->malloc(32);
  HB_CHECK(keep != NULL, "%s: malloc(32)", a->name);
  if (!keep) return;
  fill(keep, 32, 9);
  void *grown = a->realloc(keep, SIZE_MAX - 64);
  HB_CHECK(grown == NULL, "%s: realloc to SIZE_MAX-64 succeeded", a->name);
  HB_CHECK(holds(keep, 32, 9), "%s: failed realloc damaged the block", a->name);
  a->free(keep, 32);
}

static void check_aligned_alloc(const hb_allocator *a) {
  static const size_t sizes[] = {1, 16, 100, 4096, 10000};
  for (size_t alignment = 1; alignment <= 65536; alignment *= 2) {
    void *held[sizeof sizes / sizeof sizes[0]];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      unsigned char *p = a->aligned_alloc(alignment, sizes[i]);
      held[i] = p;
      HB_CHECK(p != NULL, "%s: aligned_alloc(%zu, %zu) failed", a->name, alignment, sizes[i]);
      if (!p) continue;
      HB_CHECK(aligned(p, alignment), "%s: aligned_alloc(%zu, %zu) = %p", a->name, alignment,
               sizes[i], (void *)p);
      HB_CHECK(a->usable_size(p) >= sizes[i], "%s: aligned usable_size %zu < %zu", a->name,
               a->usable_size(p), sizes[i]);
      fill(p, sizes[i], (unsigned)alignment);
    }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      if (!held[i]) continue;
      HB_CHECK(holds(held[i], sizes[i], (unsigned)alignment), "%s: aligned block overwritten",
               a->name);
      a->free(held[i], 0);
    }
  }
  errno = 0;
  void *bad = a->aligned_alloc(48, 10);
  HB_CHECK(bad == NULL && errno == EINVAL, "%s: alignment 48 accepted", a->name);
}

/* Many live blocks of mixed sizes, written and verified: no two overlap. */
static void check_no_overlap(const hb_allocator *a) {
  enum { N = 3000 };
  static unsigned char *blocks[N];
  static size_t sizes[N];
  unsigned state = 12345;
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < N; i++) {
      state = state * 1103515245u + 12345u;
      if (blocks[i] && (state >> 16) % 3 == 0) {
        HB_CHECK(holds(blocks[i], sizes[i], (unsigned)i), "%s: block %d corrupted", a->name, i);
        a->free(blocks[i], sizes[i]);
        blocks[i] = NULL;
      } else if (!blocks[i]) {
        sizes[i] = 1 + (state >> 8) % ((state >> 28) ? 300 : 20000);
        blocks[i] = a->malloc(sizes[i]);
        HB_CHECK(blocks[i] != NULL, "%s: malloc(%zu)", a->name, sizes[i]);
        if (blocks[i]) fill(blocks[i], sizes[i], (unsigned)i);
      }
    }
  }
  for (int i = 0; i < N; i++) {
    if (!blocks[i]) continue;
    HB_CHECK(holds(blocks[i], sizes[i], (unsigned)i), "%s: block %d corrupted", a->name, i);
    a->free(blocks[i], 0);
    blocks[i] = NULL;
  }
}

static void check_statistics(const hb_allocator *a) {
  enum { N = 64, SIZE = 512 * 1024 };
  void *held[N];
  uint64_t before = 0;
  HB_CHECK(a->stat(HB_STAT_FOOTPRINT_BYTES, &before) == 0, "%s: footprint unknown", a->name);
  for (int i = 0; i < N; i++) {
    held[i] = a->malloc(SIZE);
    if (held[i]) memset(held[i], 1, SIZE); /* touch, so lazy allocators commit */
  }
  uint64_t footprint = 0, in_use = 0;
  HB_CHECK(a->stat(HB_STAT_FOOTPRINT_BYTES, &footprint) == 0, "%s: footprint unknown", a->name);
  HB_CHECK(footprint >= (uint64_t)N * SIZE, "%s: footprint %llu below the %d bytes held", a->name,
           (unsigned long long)footprint, N * SIZE);
  if (a->stat(HB_STAT_IN_USE_BYTES, &in_use) == 0) {
    HB_CHECK(in_use >= (uint64_t)N * SIZE, "%s: in use %llu below %d", a->name,
             (unsigned long long)in_use, N * SIZE);
    HB_CHECK(footprint >= in_use, "%s: footprint %llu < in use %llu", a->name,
             (unsigned long long)footprint, (unsigned long long)in_use);
  }
  for (int i = 0; i < N; i++) a->free(held[i], SIZE);
  /* Every answer is either a number or ENOENT; nothing else. */
  for (int s = 0; s < HB_STAT_COUNT; s++) {
    uint64_t value;
    int rc = a->stat((hb_stat)s, &value);
    HB_CHECK(rc == 0 || rc == ENOENT, "%s: stat %s returned %d", a->name,
             hb_stat_name((hb_stat)s), rc);
  }
  HB_CHECK(a->stat(HB_STAT_COUNT, &before) == ENOENT, "%s: out-of-range stat answered", a->name);
}

static void check_allocator(const hb_allocator *a) {
  printf("conformance: %s %s\n", a->name, a->version());
  HB_CHECK(hb_allocator_find(a->name) == a, "%s: registry lookup", a->name);
  check_alignment_and_usable_size(a);
  check_zero_size(a);
  check_realloc(a);
  check_calloc(a);
  check_impossible_sizes(a);
  check_aligned_alloc(a);
  check_no_overlap(a);
  check_statistics(a);
}

int main(int argc, char **argv) {
  HB_CHECK(hb_allocator_count() > 0, "the registry is empty");
  HB_CHECK(hb_allocator_find("no-such-allocator") == NULL, "unknown name found");
  HB_CHECK(strcmp(hb_stat_name(HB_STAT_FOOTPRINT_BYTES), "footprint_bytes") == 0, "stat name");
  HB_CHECK(hb_stat_from_name("in_use_bytes") == HB_STAT_IN_USE_BYTES, "stat lookup");
  if (argc > 1) {
    for (int i = 1; i < argc; i++) {
      const hb_allocator *a = hb_allocator_find(argv[i]);
      HB_CHECK(a != NULL, "no allocator named %s", argv[i]);
      if (a) check_allocator(a);
    }
  } else {
    for (size_t i = 0; i < hb_allocator_count(); i++) check_allocator(hb_allocator_at(i));
  }
  return hb_test_exit("conformance");
}
