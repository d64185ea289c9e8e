/* os.c — the only file of heapbench that calls sbrk(). Contract in os.h. */
#define _DEFAULT_SOURCE
#include "os.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

/* Memory the break grows into is what the kernel put there: zero pages, or
 * the bytes a shrink left in a partial page. Either way it is defined, and
 * the policies rely on fresh pages being zero (calloc skips zeroing them),
 * but valgrind's memcheck counts brk memory as uninitialised. Tell it,
 * where its header is installed; outside valgrind the request costs a few
 * instructions. */
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define HB_OS_DEFINED(memory, bytes) ((void)VALGRIND_MAKE_MEM_DEFINED((memory), (bytes)))
#endif
#endif
#ifndef HB_OS_DEFINED
#define HB_OS_DEFINED(memory, bytes) ((void)0)
#endif

static char *last_end;         /* end of the memory the last grow returned */
static size_t footprint_bytes; /* grown minus shrunk: shrink never gives back more */
static unsigned long break_moves; /* sbrk calls that moved the break (hb_os_break_moves) */

/* Above this, sbrk's intptr_t argument could wrap; no real heap gets here. */
#define HB_OS_MAX_GROW ((size_t)1 << 46)

void *hb_os_grow(size_t bytes, int *contiguous) {
  if (bytes == 0 || bytes > HB_OS_MAX_GROW) {
    errno = ENOMEM;
    return NULL;
  }
  char *start = sbrk(0);
  if (start == (void *)-1) return NULL;
  /* Someone else may have left the break unaligned: pad up to 16. */
  size_t pad = (size_t)(-(uintptr_t)start & 15);
  char *got = sbrk((intptr_t)(bytes + pad));
  break_moves++;
  if (got == (void *)-1) {
    errno = ENOMEM;
    return NULL;
  }
  /* Another thread of another sbrk user can move the break between the
   * two calls; then `got` is not `start` and the padding must be redone. */
  char *memory = got + (-(uintptr_t)got & 15);
  if (memory + bytes > got + bytes + pad) { /* alignment ate the tail */
    break_moves++;
    if (sbrk(16) == (void *)-1) {
      errno = ENOMEM;
      return NULL;
    }
    pad += 16;
  }
  HB_OS_DEFINED(got, bytes + pad);
  footprint_bytes += bytes + pad;
  *contiguous = memory == last_end;
  last_end = memory + bytes;
  return memory;
}

int hb_os_shrink(void *end, size_t bytes) {
  if (sbrk(0) != end || bytes > footprint_bytes) return -1;
  break_moves++;
  if (sbrk(-(intptr_t)bytes) == (void *)-1) return -1;
  footprint_bytes -= bytes;
  if (last_end == end) last_end = (char *)end - bytes;
  return 0;
}

unsigned long hb_os_break_moves(void) { return break_moves; }

size_t hb_os_page_bytes(void) {
  static size_t page_bytes;
  if (!page_bytes) {
    long page = sysconf(_SC_PAGESIZE);
    page_bytes = page > 0 ? (size_t)page : 65536; /* unknown: assume large pages */
  }
  return page_bytes;
}
