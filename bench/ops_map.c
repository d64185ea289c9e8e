/* ops_map.c — a worker maps the ops file (hb_ops.h) one window at a time.
 * No malloc: in the jemalloc, mimalloc and tcmalloc workers malloc is the
 * allocator under test, and the harness must not show up in its
 * statistics. */
#define _GNU_SOURCE
#include "hb_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Ops per window order indices of a multi-threaded replay (uint32) can
 * name, and more than any machine would want mapped at once. */
#define MAX_WINDOW_OPS ((uint64_t)1 << 31)

/* The windows take turns in one range of address space, reserved when the
 * file is opened: each is mapped over the last (MAP_FIXED), so the replay
 * never changes the process's map between windows. An allocator that gets
 * its memory from mmap finds the same free ranges whatever the window size,
 * and a figure that compares addresses (reuse) cannot depend on it. */
static int reserve(hb_ops_file *file) {
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  uint64_t window = file->window_ops < file->header.op_count ? file->window_ops
                                                              : file->header.op_count;
  /* A window starts anywhere in its first page. */
  uint64_t bytes = (window * sizeof(hb_ops_op) + sizeof(hb_ops_header) + 2 * page - 1) / page * page;
  void *range = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (range == MAP_FAILED) return -1;
  file->map = range;
  file->map_bytes = bytes;
  return 0;
}

/* Drops the current window's pages: its part of the range is reserved
 * address space again. */
static void unmap_window(hb_ops_file *file) {
  if (file->ops)
    mmap(file->map, file->window_bytes, PROT_NONE,
         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  file->window_bytes = 0;
  file->ops = NULL;
  file->count = 0;
}

/* Maps ops [first, first + window) read-only and faults every page in. */
static int map_window(hb_ops_file *file, uint64_t first) {
  if (file->ops && file->first == first) return 1; /* already there */
  unmap_window(file); /* before the next is mapped: never two windows resident */
  uint64_t count = file->header.op_count - first;
  if (count > file->window_ops) count = file->window_ops;
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  uint64_t start = sizeof(hb_ops_header) + first * sizeof(hb_ops_op);
  uint64_t offset = start / page * page;
  size_t bytes = (size_t)(start - offset + count * sizeof(hb_ops_op));
  if (bytes > file->map_bytes) { /* cannot be: reserve() sized the range for any window */
    errno = EOVERFLOW;
    return -1;
  }
  void *map = mmap(file->map, bytes, PROT_READ, MAP_PRIVATE | MAP_POPULATE | MAP_FIXED, file->fd,
                   (off_t)offset);
  if (map == MAP_FAILED) return -1;
  /* MAP_POPULATE maps the pages; reading one byte per page makes sure. */
  volatile uint8_t sink = 0;
  for (size_t off = 0; off < bytes; off += page) sink ^= ((const uint8_t *)map)[off];
  (void)sink;
  file->window_bytes = bytes;
  file->ops = (const hb_ops_op *)((const char *)map + (start - offset));
  file->first = first;
  file->count = count;
  return 1;
}

int hb_ops_window_first(hb_ops_file *file) { return map_window(file, 0); }

int hb_ops_window_next(hb_ops_file *file) {
  uint64_t next = file->first + file->count;
  if (next >= file->header.op_count) return 0;
  return map_window(file, next);
}

void hb_ops_unmap(hb_ops_file *file) {
  if (file->map) munmap(file->map, file->map_bytes);
  file->map = NULL;
  file->ops = NULL;
  if (file->fd >= 0) close(file->fd);
  file->fd = -1;
}

/* HB_OPS_WINDOW_ENV, or the default; 0 when the variable is not a count. */
static uint64_t window_ops(void) {
  const char *text = getenv(HB_OPS_WINDOW_ENV);
  if (!text || !*text) return HB_OPS_WINDOW_OPS;
  char *end;
  unsigned long long ops = strtoull(text, &end, 10);
  return *end || ops == 0 || ops > MAX_WINDOW_OPS ? 0 : (uint64_t)ops;
}

int hb_ops_map(const char *path, hb_ops_file *file, char *why, size_t why_len) {
  memset(file, 0, sizeof *file);
  file->fd = -1;
  file->window_ops = window_ops();
  if (file->window_ops == 0) {
    snprintf(why, why_len, "%s=%s: not a count of ops from 1 to %llu", HB_OPS_WINDOW_ENV,
             getenv(HB_OPS_WINDOW_ENV), (unsigned long long)MAX_WINDOW_OPS);
    return -1;
  }
  file->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (file->fd < 0) {
    snprintf(why, why_len, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  hb_ops_header *h = &file->header;
  if (fstat(file->fd, &st) != 0 || (size_t)st.st_size < sizeof *h ||
      pread(file->fd, h, sizeof *h, 0) != (ssize_t)sizeof *h) {
    hb_ops_unmap(file);
    snprintf(why, why_len, "%s: not an ops file (too short)", path);
    return -1;
  }
  if (memcmp(h->magic, HB_OPS_MAGIC, sizeof h->magic) != 0 || h->slot_count == 0 ||
      h->thread_count == 0 || h->thread_count > HB_OPS_MAX_THREADS ||
      ((uint64_t)st.st_size - sizeof *h) / sizeof(hb_ops_op) < h->op_count) {
    hb_ops_unmap(file);
    snprintf(why, why_len, "%s: not an ops file (bad header or truncated)", path);
    return -1;
  }
  if (reserve(file) != 0) {
    snprintf(why, why_len, "%s: cannot reserve address space for its windows: %s", path,
             strerror(errno));
    hb_ops_unmap(file);
    return -1;
  }
  /* Every op checked once, here, so that a pass never meets a bad one
   * halfway (a slot beyond the table would write outside it). */
  int more;
  for (more = hb_ops_window_first(file); more > 0; more = hb_ops_window_next(file)) {
    for (uint64_t k = 0; k < file->count; k++) {
      const hb_ops_op *op = &file->ops[k];
      if (op->kind >= HB_OPS_KIND_COUNT || op->slot >= h->slot_count ||
          op->thread >= h->thread_count || op->align_log2 > HB_OPS_MAX_ALIGN_LOG2 ||
          (op->kind != HB_OPS_FREE && op->slot == h->slot_count - 1)) {
        hb_ops_unmap(file);
        snprintf(why, why_len, "%s: op %llu is not valid", path,
                 (unsigned long long)(file->first + k));
        return -1;
      }
    }
  }
  if (more < 0 || hb_ops_window_first(file) < 0) {
    snprintf(why, why_len, "%s: cannot map: %s", path, strerror(errno));
    hb_ops_unmap(file);
    return -1;
  }
  return 0;
}
