/* fuzz_reader.c — libFuzzer target for the streaming reader (hb_reader.h):
 * the input, written to an in-memory file, is read whole and as a stream
 * with recycled slots, at a batch size taken from its first byte, and the
 * two must agree (stream_check.h). */
#define _GNU_SOURCE
#include "stream_check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const size_t capacities[8] = {1, 2, 3, 7, 64, 4095, 4096, 100000};
  size_t capacity = capacities[size ? data[size - 1] % 8 : 0];
  static int fd = -1;
  if (fd < 0) fd = memfd_create("hb-fuzz", 0);
  if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) abort();
  char path[64], why[1024];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  if (hb_stream_check(path, capacity, why, sizeof why) != 0) {
    fprintf(stderr, "stream and load disagree: %s\n", why);
    abort();
  }
  return 0;
}
