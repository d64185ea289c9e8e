/* hb_allocator.h — the one interface through which heapbench drives every allocator.
 *
 * Each allocator (glibc, jemalloc, the sbrk policies, mimalloc, tcmalloc) is
 * exported as one `const hb_allocator` table by an adapter file of its own.
 * The harness never calls an allocator any other way, so every allocator is
 * measured by the same code.
 *
 * Contract every adapter keeps (checked by allocator/tests/conformance.c):
 *   - pointers are aligned to at least HB_MIN_ALIGN (16) bytes;
 *   - malloc(0) returns NULL or a pointer that free accepts;
 *   - an impossible size returns NULL (errno = ENOMEM), never crashes;
 *   - calloc returns NULL with errno = ENOMEM when n * size overflows;
 *   - aligned_alloc honours every power-of-two alignment (at least up to 4096);
 *   - usable_size(p) >= the size requested for p;
 *   - free(NULL, ...) does nothing.
 *
 * Statistics: stat() answers one named figure at a time. An allocator that
 * cannot answer a figure returns ENOENT and never invents a number.
 */
#ifndef HB_ALLOCATOR_H
#define HB_ALLOCATOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HB_MIN_ALIGN 16

/* ------------------------------------------------------------------------
 * Statistics: one list, used for the enum, the names and every printer.
 *   X(identifier, "name", "meaning")
 * ---------------------------------------------------------------------- */
#define HB_STAT_LIST(X)                                                                    \
  X(FOOTPRINT_BYTES, "footprint_bytes", "bytes currently held from the OS")                \
  X(IN_USE_BYTES, "in_use_bytes", "bytes in allocated blocks, as the allocator counts them") \
  X(FREE_BYTES, "free_bytes", "bytes held from the OS in free blocks")                     \
  X(BLOCKS, "blocks", "number of blocks, allocated and free")                              \
  X(FREE_BLOCKS, "free_blocks", "number of free blocks")                                   \
  X(LARGEST_FREE_BYTES, "largest_free_bytes", "size of the largest free block")

typedef enum hb_stat {
#define HB_STAT_ENUM(id, name, doc) HB_STAT_##id,
  HB_STAT_LIST(HB_STAT_ENUM)
#undef HB_STAT_ENUM
  HB_STAT_COUNT
} hb_stat;

/* The stat's name ("footprint_bytes", ...), or NULL when out of range. */
const char *hb_stat_name(hb_stat which);
/* The stat with that name, or HB_STAT_COUNT when there is none. */
hb_stat hb_stat_from_name(const char *name);

/* ------------------------------------------------------------------------
 * The allocator table
 * ---------------------------------------------------------------------- */
enum {
  /* Safe to call from several threads at once. Policies without this flag
   * are wrapped in a lock by multi-threaded callers. */
  HB_ALLOCATOR_THREAD_SAFE = 1u << 0,
  /* Replaces the process's malloc when linked (jemalloc, mimalloc,
   * tcmalloc): such an allocator must run in a process of its own. */
  HB_ALLOCATOR_OWNS_PROCESS_MALLOC = 1u << 1,
};

typedef struct hb_allocator {
  const char *name;           /* "glibc", "jemalloc", "sbrk", "sbrk-tutorial", ... */
  const char *description;    /* one line for `heapbench list` */
  unsigned flags;             /* HB_ALLOCATOR_* */
  const char *(*version)(void);

  void *(*malloc)(size_t size);
  /* size_hint: the size the block was requested with (malloc, calloc's
   * product, realloc), or 0 when unknown. Always 0 for a block that came
   * from aligned_alloc, even after a realloc (which may leave it in place):
   * a sized free (jemalloc's sdallocx, tcmalloc's tc_free_sized) would also
   * need the alignment, and a wrong hint corrupts such an allocator's heap. */
  void (*free)(void *ptr, size_t size_hint);
  void *(*realloc)(void *ptr, size_t size);
  void *(*calloc)(size_t count, size_t size);
  /* alignment: a power of two; any size, including one that is not a
   * multiple of the alignment. */
  void *(*aligned_alloc)(size_t alignment, size_t size);
  size_t (*usable_size)(void *ptr);

  /* 0 and *value set, or ENOENT when the allocator cannot tell. */
  int (*stat)(hb_stat which, uint64_t *value);
} hb_allocator;

/* ------------------------------------------------------------------------
 * Registry: the allocators linked into this executable.
 *
 * Allocators that replace the process's malloc cannot share a process, so
 * each executable links one group of allocators (see allocator/meson.build);
 * the registry lists exactly what this executable holds.
 * ---------------------------------------------------------------------- */
size_t hb_allocator_count(void);
const hb_allocator *hb_allocator_at(size_t index);
/* NULL when no allocator of that name is linked here. */
const hb_allocator *hb_allocator_find(const char *name);

#ifdef __cplusplus
}
#endif
#endif
