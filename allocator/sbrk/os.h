/* os.h — the contract of os.c, the one file that calls sbrk().
 *
 *  - hb_os_grow(bytes) moves the program break up by `bytes` (a multiple of
 *    16) and returns the start of the new memory, 16-byte aligned; NULL with
 *    errno = ENOMEM when the kernel refuses or `bytes` is absurd.
 *  - Nothing is promised about where the new memory lies: another user of
 *    sbrk (glibc's main arena, say) may have moved the break since the last
 *    call. *contiguous tells whether the new memory starts exactly where the
 *    previous hb_os_grow() memory ended; when it does not, the caller starts
 *    a new region.
 *  - hb_os_shrink(end, bytes) gives back the last `bytes` below `end`, but
 *    only if the break is still exactly at `end` (nobody moved it since):
 *    returns 0 on success, -1 otherwise (nothing changed).
 *  - Footprints are counted by each policy, not here: several policies
 *    can share one process.
 *  - Whole pages above the page that holds the start of hb_os_grow()'s
 *    memory are zero (the kernel maps fresh zeroed pages above the break,
 *    and unmaps those a negative sbrk gives back); hb_os_page_bytes() is
 *    that page size. The partial first page may hold old data.
 *  - hb_os_break_moves() counts the sbrk calls made to move the break
 *    (up or down, failed ones too; not the sbrk(0) reads), for every
 *    policy of the process: one brk system call each.
 */
#ifndef HB_SBRK_OS_H
#define HB_SBRK_OS_H

#include <stddef.h>

void *hb_os_grow(size_t bytes, int *contiguous);
int hb_os_shrink(void *end, size_t bytes);
size_t hb_os_page_bytes(void);
unsigned long hb_os_break_moves(void);

#endif
