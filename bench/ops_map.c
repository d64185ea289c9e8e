/* ops_map.c — a worker maps the ops file (hb_ops.h). No malloc: in the
 * jemalloc, mimalloc and tcmalloc workers malloc is the allocator under
 * test, and the harness must not show up in its statistics. */
#define _GNU_SOURCE
#include "hb_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int hb_ops_map(const char *path, hb_ops_file *trace, char *why, size_t why_len) {
  memset(trace, 0, sizeof *trace);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(why, why_len, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(hb_ops_header)) {
    close(fd);
    snprintf(why, why_len, "%s: not an ops file (too short)", path);
    return -1;
  }
  size_t bytes = (size_t)st.st_size;
  void *map = mmap(NULL, bytes, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) {
    snprintf(why, why_len, "%s: cannot map: %s", path, strerror(errno));
    return -1;
  }
  const hb_ops_header *header = map;
  if (memcmp(header->magic, HB_OPS_MAGIC, sizeof header->magic) != 0 ||
      header->slot_count == 0 || header->thread_count == 0 ||
      header->thread_count > HB_OPS_MAX_THREADS ||
      (bytes - sizeof *header) / sizeof(hb_ops_op) < header->op_count) {
    munmap(map, bytes);
    snprintf(why, why_len, "%s: not an ops file (bad header or truncated)", path);
    return -1;
  }
  const hb_ops_op *ops = (const hb_ops_op *)(header + 1);
  /* MAP_POPULATE maps the pages; reading one byte per page makes sure. */
  volatile uint8_t sink = 0;
  for (size_t off = 0; off < bytes; off += 4096) sink ^= ((const uint8_t *)map)[off];
  (void)sink;
  for (uint64_t i = 0; i < header->op_count; i++) {
    const hb_ops_op *op = &ops[i];
    if (op->kind >= HB_OPS_KIND_COUNT || op->slot >= header->slot_count ||
        op->thread >= header->thread_count || op->align_log2 > HB_OPS_MAX_ALIGN_LOG2 ||
        (op->kind != HB_OPS_FREE && op->slot == header->slot_count - 1)) {
      munmap(map, bytes);
      snprintf(why, why_len, "%s: op %llu is not valid", path, (unsigned long long)i);
      return -1;
    }
  }
  trace->header = header;
  trace->ops = ops;
  trace->map_bytes = bytes;
  return 0;
}
