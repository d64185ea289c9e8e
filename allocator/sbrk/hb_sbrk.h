/* hb_sbrk.h — the sbrk allocator: heapbench's own malloc, grown from the
 * seed's tutorial malloc. Every policy is exported as an hb_allocator table
 * (see ../hb_allocator.h) and is found by name through the registry.
 *
 * Policies are single-threaded, like the seed: callers that use several
 * threads (the drop-in library, multi-threaded replay) wrap them in a lock.
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
