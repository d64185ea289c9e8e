/* fuzz_trace.c — libFuzzer target for heapbench's trace readers.
 *
 * Built once per reader (fuzz/meson.build sets HB_FUZZ_LOADER): the input
 * is written to an in-memory file and handed to that reader by path, the
 * way users hand heapbench their files. A reader may reject the input with
 * an error, never crash, leak or read out of bounds; an accepted trace must
 * pass hb_trace_check. With HB_FUZZ_ZSTD the input is compressed with zstd
 * first, so every reader is fuzzed behind hb_trace_load's decompression
 * (the plain hb_trace_load target meets damaged zstd files, from seeds). */
#define _GNU_SOURCE
#include "hb_trace.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef HB_FUZZ_ZSTD
#include <zstd.h>
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
#ifdef HB_FUZZ_ZSTD
  size_t capacity = ZSTD_compressBound(size);
  uint8_t *packed = malloc(capacity);
  if (!packed) abort();
  size_t packed_size = ZSTD_compress(packed, capacity, data, size, 1);
  if (ZSTD_isError(packed_size)) abort();
  data = packed;
  size = packed_size;
#endif
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
#ifdef HB_FUZZ_ZSTD
  free(packed);
#endif
  return 0;
}
