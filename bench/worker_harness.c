/* worker_harness.c — what a worker's passes use besides the allocator:
 * output through a fixed buffer and write(2), harness memory from mmap,
 * resident-set readings and clocks. Nothing here calls malloc: in the
 * jemalloc, mimalloc and tcmalloc workers malloc is the allocator under
 * test (docs/METRICS.md). Shared by the workers and the trace
 * microbenchmarks (bench/gbench/). */
#define _GNU_SOURCE
#include "hb_ops.h"
#include "worker_pass.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ---- Output: a fixed buffer and write(2), so nothing mallocs ---- */
static char out_buffer[16384];
static size_t out_used;

void hb_out_flush(void) {
  size_t done = 0;
  while (done < out_used) {
    ssize_t n = write(STDOUT_FILENO, out_buffer + done, out_used - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += (size_t)n;
  }
  out_used = 0;
}

void hb_out(const char *format, ...) {
  char line[512];
  va_list args;
  va_start(args, format);
  int len = vsnprintf(line, sizeof line, format, args);
  va_end(args);
  if (len < 0) return;
  if ((size_t)len >= sizeof line) len = sizeof line - 1;
  if (out_used + (size_t)len > sizeof out_buffer) hb_out_flush();
  memcpy(out_buffer + out_used, line, (size_t)len);
  out_used += (size_t)len;
}

void hb_out_figure(hb_worker_figure figure, uint64_t value) {
  hb_out("%s %llu\n", hb_worker_figure_key(figure), (unsigned long long)value);
}

/* ---- Harness memory ---- */
static uint64_t harness_bytes;

void *hb_harness_map(size_t bytes) {
  if (bytes == 0) bytes = 1;
  void *memory = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                      -1, 0);
  if (memory == MAP_FAILED) return NULL;
  /* Write every page: MAP_POPULATE may map the shared zero page only. */
  long page = sysconf(_SC_PAGESIZE);
  for (size_t off = 0; off < bytes; off += (size_t)page) ((volatile char *)memory)[off] = 0;
  harness_bytes += (bytes + (size_t)page - 1) / (size_t)page * (size_t)page;
  return memory;
}

void hb_harness_unmap(void *memory, size_t bytes) {
  if (!memory) return;
  long page = sysconf(_SC_PAGESIZE);
  munmap(memory, bytes ? bytes : 1);
  harness_bytes -= (bytes + (size_t)page - 1) / (size_t)page * (size_t)page;
}

uint64_t hb_harness_mapped_bytes(void) { return harness_bytes; }

uint64_t hb_current_rss_bytes(void) {
  static int fd = -2;
  if (fd == -2) fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[128];
  ssize_t n = pread(fd, text, sizeof text - 1, 0);
  if (n <= 0) return 0;
  text[n] = 0;
  /* "size resident shared ...", in pages */
  const char *p = strchr(text, ' ');
  if (!p) return 0;
  uint64_t pages = 0;
  for (p++; *p >= '0' && *p <= '9'; p++) pages = pages * 10 + (uint64_t)(*p - '0');
  return pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The kernel's peak-RSS mark (VmHWM) is reset to the current RSS by writing
 * "5" to clear_refs. getrusage's ru_maxrss cannot serve: across exec it
 * keeps the parent's peak, and posix_spawn's child shares the parent's
 * memory until exec. */
uint64_t hb_minor_faults(void) {
  struct rusage usage;
  return getrusage(RUSAGE_SELF, &usage) == 0 ? (uint64_t)usage.ru_minflt : 0;
}

int hb_peak_rss_reset(void) {
  int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = write(fd, "5", 1) == 1 ? 0 : -1;
  close(fd);
  return rc;
}

/* A "Key:   N kB" line of /proc/self/status, in bytes; 0 if absent. */
static uint64_t status_bytes(const char *key) {
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[4096];
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return 0;
  text[n] = 0;
  const char *p = strstr(text, key);
  if (!p) return 0;
  p += strlen(key);
  while (*p == ' ' || *p == '\t') p++;
  uint64_t kib = 0;
  for (; *p >= '0' && *p <= '9'; p++) kib = kib * 10 + (uint64_t)(*p - '0');
  return kib * 1024;
}

uint64_t hb_peak_rss_bytes(void) { return status_bytes("\nVmHWM:"); }

uint64_t hb_file_rss_bytes(void) {
  return status_bytes("\nRssFile:") + status_bytes("\nRssShmem:");
}

uint64_t hb_anon_rss_bytes(void) { return status_bytes("\nRssAnon:"); }

uint64_t hb_now_ns(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

uint64_t hb_cpu_ns(void) {
  struct timespec now;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* ---- Blocks the trace leaves live ---- */
int hb_leftovers_find(hb_ops_file *trace, hb_leftovers *left) {
  const hb_ops_header *h = &trace->header;
  memset(left, 0, sizeof *left);
  /* Per slot: 0 free, else 1 + the hint. Scratch, unmapped below: sized by
   * the slot table, so by the most blocks live once slots are recycled. */
  size_t state_bytes = h->slot_count * sizeof(uint64_t);
  size_t aligned_bytes = h->slot_count;
  uint64_t *state = hb_harness_map(state_bytes);
  unsigned char *aligned = hb_harness_map(aligned_bytes);
  if (!state || !aligned) {
    hb_harness_unmap(state, state_bytes);
    hb_harness_unmap(aligned, aligned_bytes);
    return -1;
  }
  uint64_t live = 0;
  int more;
  for (more = hb_ops_window_first(trace); more > 0; more = hb_ops_window_next(trace)) {
    for (uint64_t k = 0; k < trace->count; k++) {
      const hb_ops_op *op = &trace->ops[k];
      if (op->slot == h->slot_count - 1) continue; /* free(NULL) */
      if (op->kind == HB_OPS_FREE) {
        live -= state[op->slot] != 0;
        state[op->slot] = 0;
        continue;
      }
      aligned[op->slot] = (unsigned char)hb_ops_stays_aligned(op->kind, aligned[op->slot]);
      live += state[op->slot] == 0;
      state[op->slot] = 1 + (aligned[op->slot] ? 0 : op->size);
    }
  }
  if (more < 0) {
    hb_harness_unmap(state, state_bytes);
    hb_harness_unmap(aligned, aligned_bytes);
    return -1;
  }
  left->slot_bytes = live * sizeof *left->slot;
  left->hint_bytes = live * sizeof *left->hint;
  left->slot = hb_harness_map(left->slot_bytes);
  left->hint = hb_harness_map(left->hint_bytes);
  int rc = left->slot && left->hint ? 0 : -1;
  for (uint32_t s = 0; rc == 0 && s + 1 < h->slot_count; s++)
    if (state[s]) {
      left->slot[left->count] = s;
      left->hint[left->count++] = state[s] - 1;
    }
  hb_harness_unmap(state, state_bytes);
  hb_harness_unmap(aligned, aligned_bytes);
  return rc;
}

void hb_leftovers_free(const hb_leftovers *left, const hb_allocator *allocator, void **slots) {
  for (uint64_t k = 0; k < left->count; k++) allocator->free(slots[left->slot[k]], left->hint[k]);
}

void hb_leftovers_release(hb_leftovers *left) {
  hb_harness_unmap(left->slot, left->slot_bytes);
  hb_harness_unmap(left->hint, left->hint_bytes);
}
