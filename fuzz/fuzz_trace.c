/* fuzz_trace.c — libFuzzer target for heapbench's trace readers.
 *
 * Built once per reader (fuzz/meson.build sets HB_FUZZ_LOADER): the input
 * is written to an in-memory file and handed to that reader by path, the
 * way users hand heapbench their files. A reader may reject the input with
 * an error, never crash, leak or read out of bounds; an accepted trace must
 * pass hb_trace_check. */
#define _GNU_SOURCE
#include "hb_trace.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int fd = -1;
  if (fd < 0) fd = memfd_create("hb-fuzz", 0);
  if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) abort();
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

  hb_trace trace;
  hb_error error;
  error.message[0] = 0;
  if (HB_FUZZ_LOADER(path, &trace, &error) == 0) {
    if (hb_trace_check(&trace, &error) != 0) {
      fprintf(stderr, "accepted a trace that fails its check: %s\n", error.message);
      abort();
    }
    hb_trace_release(&trace);
  } else if (error.message[0] == 0) {
    fprintf(stderr, "rejected the input without saying why\n");
    abort();
  }
  return 0;
}
