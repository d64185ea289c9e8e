/* hb_workers.h — where each allocator runs.
 *
 * Allocators that replace malloc cannot share a process (allocator/
 * meson.build groups them), and no memory figure may mix two allocators,
 * so the `heapbench` front end never calls an allocator itself: it runs a
 * worker executable, `hb-worker-<group>`, one process per measurement.
 * This header finds the workers and asks them what they hold.
 */
#ifndef HB_WORKERS_H
#define HB_WORKERS_H

#include <stddef.h>

typedef struct hb_allocator_info {
  char name[64];
  char group[32];
  char version[96];
  char description[160];
  char worker_path[4096]; /* the executable that runs it */
  /* An allocator heapbench has no adapter for (`--allocators NAME=PATH`):
   * the library, which the generic worker (hb-worker-preload) runs under
   * LD_PRELOAD; "" for the built ones. */
  char preload[4096];
} hb_allocator_info;

/* Every allocator of every built worker, in group order (native first).
 * Returns the count (0 and a message on stderr when no worker is found);
 * *infos is malloc'ed. */
size_t hb_workers_discover(hb_allocator_info **infos);

/* The allocator with that name among infos, or NULL. */
const hb_allocator_info *hb_workers_find(const hb_allocator_info *infos, size_t count,
                                         const char *name);

/* Resolves an --allocators LIST against infos into chosen[] (indices into
 * infos, in the order named, *chosen malloc'ed): names from `heapbench
 * list`; "all" adds every built one in group order; "-NAME" leaves one out
 * (a list that starts with "-NAME" starts from all); "NAME=PATH" adds an
 * allocator with no adapter, appended to *infos after it is checked
 * (hb_workers_add_library). Everything is checked before it returns: -1
 * with a one-line message "heapbench COMMAND: ..." on stderr. */
int hb_workers_choose(const char *command, const char *list, hb_allocator_info **infos,
                      size_t *count, size_t **chosen, size_t *chosen_count);

/* Checks that PATH exists, is an ELF shared object and interposes malloc
 * (in the generic worker run under LD_PRELOAD=PATH, `malloc` resolves into
 * it), then fills *info as the allocator NAME. 0, or -1 with the reason in
 * `why`. */
int hb_workers_library_info(const char *name, const char *path, hb_allocator_info *info,
                            char *why, size_t why_size);

/* The shared object `malloc` resolves into in the allocator's worker
 * (its --malloc-library), as a real path: libjemalloc.so.2's for jemalloc,
 * libc.so.6 for the native group. 0, or -1. */
int hb_workers_malloc_library(const hb_allocator_info *info, char *path, size_t size);

#endif
