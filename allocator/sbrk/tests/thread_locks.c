/* thread_locks.c — how often the default policy takes its lock once the
 * process has threads (tcache.c): the patterns that made python3 and git
 * take it on a quarter to a half of their calls (docs/SBRK.md, "Thread
 * safety"), each counted with hb_tcache_lock_acquisitions():
 *
 *  - one thread cycling through buffers of 7,160 bytes, and through four
 *    64 KiB blocks at once (zlib's deflate state), as git's threads do;
 *  - calloc of small blocks, realloc from NULL, realloc to the size a
 *    block already has, and malloc_usable_size;
 *  - small blocks allocated and kept (a growing structure);
 *  - a producer thread allocating small blocks that a consumer frees
 *    (they go through the depot, a batch at a time, without the lock).
 *
 * And one thing the caches must give up for the heap: before the heap
 * grows, the growing thread's cache (its small lists but their four
 * newest blocks each), and other threads' larger blocks when they are
 * 1/32 of the heap or more, go back to it, so a malloc of a size a cache
 * held then misses (takes the lock) once the kept blocks are used; other
 * threads' few larger blocks in a large heap stay.
 *
 * Each phase runs while a second thread exists (so the caches are on)
 * and no other thread calls the allocator; it must take the lock at most
 * once per `per_lock` calls. The heap checker then accounts for every
 * block, cached ones included.
 */
#define _GNU_SOURCE
#include "sbrk_test.h"
#include "tcache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { ROUNDS = 4000, HANDED = 200000, QUEUE = 1024 };

static const hb_allocator *policy;

/* Locks taken while `phase` ran `calls` allocator calls; fails the test
 * when that is more than calls / per_lock. */
static void expect_few_locks(const char *what, void (*phase)(void), unsigned long calls,
                             unsigned long per_lock) {
  unsigned long before = hb_tcache_lock_acquisitions();
  phase();
  /* Minus the acquisition that reads the counter. */
  unsigned long taken = hb_tcache_lock_acquisitions() - before - 1;
  printf("%s: %lu locks for %lu calls\n", what, taken, calls);
  HB_CHECK(taken * per_lock <= calls, "%s: the lock was taken %lu times in %lu calls (at most %lu expected)",
           what, taken, calls, calls / per_lock);
}

static void buffers(void) {
  for (int round = 0; round < ROUNDS; round++) {
    char *buffer = policy->malloc(7160);
    HB_CHECK(buffer, "malloc(7160)");
    memset(buffer, round, 7160);
    policy->free(buffer, 7160);
    char *deflate[4];
    for (int i = 0; i < 4; i++) {
      deflate[i] = policy->malloc(65536);
      HB_CHECK(deflate[i], "malloc(65536)");
      deflate[i][65535] = (char)i;
    }
    for (int i = 0; i < 4; i++) policy->free(deflate[i], 65536);
  }
}

static void calloc_realloc(void) {
  for (int round = 0; round < ROUNDS; round++) {
    unsigned char *zeroed = policy->calloc(10, 24);
    HB_CHECK(zeroed, "calloc");
    for (int i = 0; i < 240; i++)
      if (zeroed[i]) {
        HB_CHECK(0, "calloc: byte %d is %d", i, zeroed[i]);
        break;
      }
    memset(zeroed, 0xA5, 240);
    char *grown = policy->realloc(NULL, 200);
    HB_CHECK(grown, "realloc(NULL, 200)");
    memset(grown, 1, 200);
    char *same = policy->realloc(grown, 196); /* same block size */
    HB_CHECK(same == grown && same[195] == 1, "realloc to the same block size moved or lost data");
    HB_CHECK(policy->usable_size(same) >= 196, "usable_size %zu < 196", policy->usable_size(same));
    policy->free(same, 196);
    policy->free(zeroed, 240);
  }
}

static void *kept[ROUNDS];
static void growing(void) {
  for (int i = 0; i < ROUNDS; i++) {
    kept[i] = policy->malloc(200);
    HB_CHECK(kept[i], "malloc(200)");
  }
}

/* Producer and consumer: a ring of blocks from one thread to the other. */
static _Atomic(void *) ring[QUEUE];
static void *consumer(void *unused) {
  (void)unused;
  for (unsigned long i = 0; i < HANDED; i++) {
    _Atomic(void *) *cell = &ring[i % QUEUE];
    void *block;
    while (!(block = atomic_exchange(cell, NULL))) sched_yield();
    policy->free(block, 64);
  }
  return NULL;
}
static void handed_over(void) {
  pthread_t id;
  HB_CHECK(pthread_create(&id, NULL, consumer, NULL) == 0, "pthread_create");
  for (unsigned long i = 0; i < HANDED; i++) {
    void *block = policy->malloc(64);
    HB_CHECK(block, "malloc(64)");
    _Atomic(void *) *cell = &ring[i % QUEUE];
    void *expected = NULL;
    while (!atomic_compare_exchange_weak(cell, &expected, block)) {
      expected = NULL;
      sched_yield();
    }
  }
  pthread_join(id, NULL);
}

/* Fills this thread's cache with 16 blocks of 1,000 bytes, then asks for
 * a block larger than any free one: before the heap grows, the list gives
 * back all but its four newest blocks (tcache.c: TCACHE_GROW_KEEP), so the
 * next four mallocs of 1,000 bytes take no lock and the fifth takes it.
 * (Before 2026-12-03 the whole list went back, and the first took it.) */
static void released_before_growth(void) {
  void *blocks[16];
  for (int i = 0; i < 16; i++) HB_CHECK((blocks[i] = policy->malloc(1000)), "malloc(1000)");
  for (int i = 0; i < 16; i++) policy->free(blocks[i], 1000);
  unsigned long before = hb_tcache_lock_acquisitions();
  void *hit = policy->malloc(1000);
  HB_CHECK(hb_tcache_lock_acquisitions() == before + 1, "a cached size took the lock");
  policy->free(hit, 1000);
  /* Larger than any free block: the heap would have to grow for it (the
   * blocks given back may merge into one that serves it instead). */
  size_t big = (size_t)hb_sbrk_test_stat(policy, HB_STAT_LARGEST_FREE_BYTES) + 4096;
  void *grown = policy->malloc(big);
  HB_CHECK(grown, "malloc(%zu)", big);
  void *after[5];
  before = hb_tcache_lock_acquisitions();
  for (int i = 0; i < 4; i++) HB_CHECK((after[i] = policy->malloc(1000)), "malloc(1000)");
  unsigned long kept_taken = hb_tcache_lock_acquisitions() - before - 1;
  before = hb_tcache_lock_acquisitions();
  HB_CHECK((after[4] = policy->malloc(1000)), "malloc(1000)");
  unsigned long fifth_taken = hb_tcache_lock_acquisitions() - before - 1;
  printf("after the heap grew, four mallocs of a size the cache held took the lock %lu times, "
         "the fifth %lu\n", kept_taken, fifth_taken);
  HB_CHECK(kept_taken == 0, "the thread's list kept none of its newest blocks through the grow (%lu locks)",
           kept_taken);
  HB_CHECK(fifth_taken == 1, "the thread's list was not given back before the heap grew (%lu locks)",
           fifth_taken);
  for (int i = 0; i < 5; i++) policy->free(after[i], 1000);
  policy->free(grown, big);
}

/* Another thread's larger blocks go back too when they are a good part
 * of the heap (1/32 of it or more): it caches four blocks of 64,000
 * bytes, main makes the heap want to grow, and the other thread's next
 * malloc of that size must take the lock (its slots were emptied). One
 * such block in a heap of 4 MiB stays: a busy thread keeps the buffers it
 * cycles through (emptying every thread's slots at every grow made git's
 * threads queue for the lock: docs/SBRK.md), and its next malloc of that
 * size takes no lock. (Valgrind gives the break 8 MiB: the heap stays
 * under.) */
static pthread_barrier_t step;
static unsigned long other_taken, other_taken_after;
static int held_blocks; /* 1 to 4 */
static void *holder(void *unused) {
  (void)unused;
  void *blocks[4];
  for (int i = 0; i < held_blocks; i++) HB_CHECK((blocks[i] = policy->malloc(64000)), "malloc(64000)");
  for (int i = 0; i < held_blocks; i++) policy->free(blocks[i], 64000);
  unsigned long before = hb_tcache_lock_acquisitions();
  void *hit = policy->malloc(64000); /* from its slots */
  other_taken = hb_tcache_lock_acquisitions() - before - 1;
  policy->free(hit, 64000);
  pthread_barrier_wait(&step); /* cached */
  pthread_barrier_wait(&step); /* main made the heap grow */
  before = hb_tcache_lock_acquisitions();
  void *again = policy->malloc(64000);
  other_taken_after = hb_tcache_lock_acquisitions() - before - 1;
  policy->free(again, 64000);
  return NULL;
}
/* Runs holder while main makes the heap grow; the locks the holder's
 * malloc took after the grow. */
static unsigned long other_thread_after_growth(int blocks) {
  held_blocks = blocks;
  pthread_barrier_init(&step, NULL, 2);
  pthread_t id;
  HB_CHECK(pthread_create(&id, NULL, holder, NULL) == 0, "pthread_create");
  pthread_barrier_wait(&step);
  HB_CHECK(other_taken == 0, "a cached 64,000-byte block took the lock %lu times", other_taken);
  size_t big = (size_t)hb_sbrk_test_stat(policy, HB_STAT_LARGEST_FREE_BYTES) + 4096;
  void *grown = policy->malloc(big);
  HB_CHECK(grown, "malloc(%zu)", big);
  pthread_barrier_wait(&step);
  pthread_join(id, NULL);
  policy->free(grown, big);
  pthread_barrier_destroy(&step);
  return other_taken_after;
}
static void others_released_before_growth(void) {
  uint64_t footprint = hb_sbrk_test_stat(policy, HB_STAT_FOOTPRINT_BYTES);
  /* The premise: four blocks of 64,000 bytes are 1/32 of the heap or more. */
  HB_CHECK(footprint <= (uint64_t)4 * 64000 * 32, "the heap is already %llu bytes", (unsigned long long)footprint);
  unsigned long taken = other_thread_after_growth(4);
  printf("small heap: after another thread grew it, a malloc of a size this thread held took the lock %lu times\n",
         taken);
  HB_CHECK(taken == 1, "this thread's larger blocks were not given back before another grew the heap "
           "(%lu locks)", taken);
}
static void others_kept_in_a_large_heap(void) {
  /* 4 MiB in use: the holder's 64,000 bytes are 1/65 of the heap. */
  void *ballast = policy->malloc((size_t)4 << 20);
  HB_CHECK(ballast, "malloc(4 MiB)");
  unsigned long taken = other_thread_after_growth(1);
  printf("large heap: after another thread grew it, a malloc of a size this thread held took the lock %lu times\n",
         taken);
  HB_CHECK(taken == 0, "a thread's larger block went back, 1/65 of the heap, before another grew it "
           "(%lu locks)", taken);
  policy->free(ballast, (size_t)4 << 20);
}

/* Once there are threads, the pages a grow adds are faulted in after the
 * lock is let go (MADV_POPULATE_WRITE), not one by one under it: right
 * after a malloc that grew the heap, a page inside the new block is
 * resident though nothing wrote it (a single-threaded heap leaves such
 * pages untouched: sbrk-growth). */
static void grown_pages_faulted_in(void) {
  long page = sysconf(_SC_PAGESIZE);
  void *probe = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int supported = probe != MAP_FAILED && madvise(probe, (size_t)page, MADV_POPULATE_WRITE) == 0;
  if (probe != MAP_FAILED) munmap(probe, (size_t)page);
  if (!supported) {
    printf("grown pages: MADV_POPULATE_WRITE not supported here, not checked\n");
    return;
  }
  /* More than every free byte together: the heap must grow. */
  size_t big = (size_t)hb_sbrk_test_stat(policy, HB_STAT_FREE_BYTES) + ((size_t)1 << 20);
  char *before = sbrk(0);
  void *grown = policy->malloc(big);
  char *end = sbrk(0);
  HB_CHECK(grown && end > before, "malloc(%zu) did not grow the heap", big);
  if (!grown || end <= before) return;
  /* The big block took the heap to its end (a grow of just what was
   * missing). Free blocks below it (the thread's lists keep a few blocks
   * through a grow, which may keep free ones apart) are taken first, so
   * the next small block needs a grow too, which adds the slack (1/8 of
   * the heap, at most 128 KiB), free at the top after the block: nothing
   * has written it. The big block's own pages are its owner's to write. */
  void *fillers[64];
  int filled = 0;
  for (size_t largest; filled < 64 && (largest = (size_t)hb_sbrk_test_stat(
                                            policy, HB_STAT_LARGEST_FREE_BYTES)) >= 4000;)
    HB_CHECK((fillers[filled++] = policy->malloc(largest - HB_BLOCK_HEADER_BYTES)), "malloc(%zu)",
             largest - HB_BLOCK_HEADER_BYTES);
  char *small = policy->malloc(4000);
  char *next_end = sbrk(0);
  HB_CHECK(small && next_end > end, "malloc(4000) did not grow the heap");
  end = next_end;
  HB_CHECK(small && (uintptr_t)end > (uintptr_t)small + 4000 + 4 * (uintptr_t)page,
           "no free pages above a small block after a grow (break %p, block %p)", (void *)end, (void *)small);
  if (small && (uintptr_t)end > (uintptr_t)small + 4000 + 4 * (uintptr_t)page) {
    unsigned char resident = 0;
    char *slack = (char *)(((uintptr_t)end - (size_t)page * 2) & ~(uintptr_t)(page - 1));
    char *middle = (char *)(((uintptr_t)grown + big / 2) & ~(uintptr_t)(page - 1));
    HB_CHECK(mincore(slack, (size_t)page, &resident) == 0, "mincore");
    printf("grown pages: a free page of the top is %sresident after the grow\n", resident & 1 ? "" : "not ");
    HB_CHECK(resident & 1, "the free pages a grow added were not faulted in");
    HB_CHECK(mincore(middle, (size_t)page, &resident) == 0, "mincore");
    HB_CHECK(!(resident & 1), "a page inside the new block was faulted in");
  }
  /* Given back whatever failed above, so the checks after this one see a
   * heap with nothing of this case left in use. */
  policy->free(small, 4000);
  for (int i = 0; i < filled; i++) policy->free(fillers[i], 0);
  policy->free(grown, big);
}

/* A thread that exists, so the process is not single-threaded, and does
 * nothing until main is done. */
static pthread_barrier_t done;
static void *bystander(void *unused) {
  (void)unused;
  pthread_barrier_wait(&done);
  return NULL;
}

int main(void) {
  policy = hb_allocator_find("sbrk");
  HB_CHECK(policy != NULL, "no policy named sbrk");
  if (!policy) return hb_test_exit("sbrk-thread-locks");
  pthread_barrier_init(&done, NULL, 2);
  pthread_t id;
  HB_CHECK(pthread_create(&id, NULL, bystander, NULL) == 0, "pthread_create");
  /* Ten calls per round: one lock per 20 calls at most (the first
   * rounds fill the cache; then none are needed). */
  expect_few_locks("7,160-byte buffer and four 64 KiB blocks", buffers, ROUNDS * 10UL, 20);
  expect_few_locks("calloc, realloc(NULL), realloc to the same size, usable_size", calloc_realloc,
                   ROUNDS * 7UL, 20);
  /* A miss brings the next 15 blocks of its size. */
  expect_few_locks("200-byte blocks kept", growing, ROUNDS, 12);
  hb_sbrk_test_check(policy, "with blocks of every kind cached");
  for (int i = 0; i < ROUNDS; i++) policy->free(kept[i], 200);
  /* The blocks go through the depot in batches of 16 without the lock
   * (taking it for each batch, as before the depot, is one per 16
   * calls); it is taken only when the depot is empty or full. */
  unsigned long moves = hb_tcache_depot_moves();
  expect_few_locks("64-byte blocks from one thread to another", handed_over, HANDED * 2UL, 200);
  moves = hb_tcache_depot_moves() - moves;
  printf("hand-over: %lu depot batches moved\n", moves);
  HB_CHECK(moves * 16 >= HANDED, "only %lu batches of 16 went through the depot for %d blocks", moves, HANDED);
  hb_sbrk_test_check(policy, "after the hand-over");
  released_before_growth();
  hb_sbrk_test_check(policy, "after the heap grew");
  others_released_before_growth();
  hb_sbrk_test_check(policy, "after another thread's blocks went back");
  grown_pages_faulted_in();
  hb_sbrk_test_check(policy, "after a grow with threads");
  others_kept_in_a_large_heap();
  hb_sbrk_test_check(policy, "after a grow while another thread kept its blocks");
  pthread_barrier_wait(&done);
  pthread_join(id, NULL);
  return hb_test_exit("sbrk-thread-locks");
}
