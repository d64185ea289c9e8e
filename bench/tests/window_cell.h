/* window_cell.h — what the window tests share: one cell replayed with the
 * ops delivered in windows of `window` ops (HB_OPS_WINDOW_OPS, which the
 * workers inherit), or in the worker's default window when NULL. */
#ifndef HB_WINDOW_CELL_H
#define HB_WINDOW_CELL_H

#include "hb_replay.h"

#include <stdlib.h>

static inline void hb_window_cell_run(const hb_allocator_info *allocator, int fd,
                                      const hb_ops_header *header, const char *window,
                                      const hb_replay_settings *settings, hb_cell_result *r) {
  if (window)
    setenv("HB_OPS_WINDOW_OPS", window, 1);
  else
    unsetenv("HB_OPS_WINDOW_OPS");
  hb_cell_run(allocator, fd, header, settings, allocator->name, r);
}

#endif
