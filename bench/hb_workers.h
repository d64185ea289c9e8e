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
} hb_allocator_info;

/* Every allocator of every built worker, in group order (native first).
 * Returns the count (0 and a message on stderr when no worker is found);
 * *infos is malloc'ed. */
size_t hb_workers_discover(hb_allocator_info **infos);

/* The allocator with that name among infos, or NULL. */
const hb_allocator_info *hb_workers_find(const hb_allocator_info *infos, size_t count,
                                         const char *name);

#endif
