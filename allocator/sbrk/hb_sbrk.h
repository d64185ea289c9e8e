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

#ifdef __cplusplus
}
#endif
#endif
