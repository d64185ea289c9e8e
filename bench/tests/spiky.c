/* spiky.c — a test adapter: glibc's malloc, except that every 500th
 * malloc first spins for 200 us. Linked only into the test worker
 * hb-worker-spiky (bench/tests/meson.build), so the latency test knows
 * where the tail must be: 0.2% of the mallocs, above 200,000 ns. */
#include "hb_adapters.h"

#include <time.h>

#define SPIKE_EVERY 500
#define SPIKE_NS 200000

static unsigned long calls;

static void spin(void) {
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do {
    clock_gettime(CLOCK_MONOTONIC, &t);
  } while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < SPIKE_NS);
}

static void *spiky_malloc(size_t size) {
  if (++calls % SPIKE_EVERY == 0) spin();
  return hb_allocator_glibc.malloc(size);
}
static void spiky_free(void *ptr, size_t hint) { hb_allocator_glibc.free(ptr, hint); }
static void *spiky_realloc(void *ptr, size_t size) { return hb_allocator_glibc.realloc(ptr, size); }
static void *spiky_calloc(size_t n, size_t size) { return hb_allocator_glibc.calloc(n, size); }
static void *spiky_aligned(size_t alignment, size_t size) {
  return hb_allocator_glibc.aligned_alloc(alignment, size);
}
static size_t spiky_usable(void *ptr) { return hb_allocator_glibc.usable_size(ptr); }
static int spiky_stat(hb_stat which, uint64_t *value) { return hb_allocator_glibc.stat(which, value); }
static const char *spiky_version(void) { return "test"; }

const hb_allocator hb_allocator_spiky = {
    .name = "spiky",
    .description = "test: glibc, every 500th malloc 200 us late",
    .version = spiky_version,
    .malloc = spiky_malloc,
    .free = spiky_free,
    .realloc = spiky_realloc,
    .calloc = spiky_calloc,
    .aligned_alloc = spiky_aligned,
    .usable_size = spiky_usable,
    .stat = spiky_stat,
};
