/* hb_sbrk.h — the sbrk allocator: heapbench's own malloc, grown from the
 * seed's tutorial malloc. Every policy is exported as an hb_allocator table
 * (see ../hb_allocator.h) and is found by name through the registry.
 *
 * The default policy ("sbrk") is thread-safe (HB_ALLOCATOR_THREAD_SAFE: a
 * lock inside, and a cache of small blocks per thread, tcache.c); the
 * other policies are single-threaded, like the seed: callers that use
 * several threads wrap them in a lock (the multi-threaded replay does).
 */
#ifndef HB_SBRK_H
#define HB_SBRK_H

#include "../hb_allocator.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Walks the heap of the policy named `name` and validates every invariant.
 * Returns 0 when the heap is sound; otherwise writes what is wrong into
 * `why` and returns -1. Unknown policy: -1. */
int hb_sbrk_check(const char *name, char *why, size_t why_len);

/* The sbrk calls that moved the program break so far (each a `brk` system
 * call; reads of the break not counted), all policies of the process
 * together: what `strace -c -e trace=brk` would count for them. */
unsigned long hb_sbrk_break_moves(void);

/* The heap of one policy, block by block (the heap map of a replay:
 * docs/METRICS.md, "Heap map"). A block is ALLOCATED (the program holds
 * it), FREE (the heap's, merged or waiting to be) or PARKED (freed by the
 * program, held unmerged on a quick list: free for the program, allocated
 * for the heap). */
typedef enum hb_sbrk_block_state {
  HB_SBRK_BLOCK_ALLOCATED,
  HB_SBRK_BLOCK_FREE,
  HB_SBRK_BLOCK_PARKED
} hb_sbrk_block_state;
/* Called once per block: its address and bytes, header included, so the
 * blocks of a region tile it but for the region's own few bytes. */
typedef void hb_sbrk_visit(void *context, uintptr_t address, size_t bytes,
                           hb_sbrk_block_state state);
/* Calls `visit` for every block of the heap of the policy named `name`:
 * regions newest first, each in address order. Allocates nothing; the
 * heap must not change meanwhile. The default policy's per-thread caches
 * are not seen (their blocks show as allocated): a process that never had
 * a second thread has none. 0, or -1 for an unknown policy. */
int hb_sbrk_walk(const char *name, hb_sbrk_visit *visit, void *context);

#ifdef __cplusplus
}
#endif
#endif
