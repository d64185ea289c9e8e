/* tcache.c — the default policy's thread safety: one lock around the
 * shared heap, and in front of it a small cache of blocks per thread
 * (glibc's tcache is the model), so most small mallocs and frees of a
 * multi-threaded program take no lock at all.
 *
 * What changes from calling the heap under one lock, and why: with
 * several threads, every call took the lock; the threads of python3 or
 * git spent more time waiting for it (and moving its cache line between
 * cores) than in the heap (docs/SBRK.md, "Threads").
 *
 *   - While the process has one thread (glibc's __libc_single_threaded),
 *     every call goes straight to the heap: no lock, no cache, the
 *     single-threaded paths and figures of heap.c unchanged. glibc clears
 *     the flag in pthread_create, before the new thread exists, and never
 *     sets it again; only this thread can create that thread, and never
 *     from inside these functions, so the flag cannot change during a call.
 *   - Then each thread has a cache (initial-exec TLS: no allocation, no
 *     __tls_get_addr) of TCACHE_CLASSES bins, one per block size from 32
 *     to TCACHE_MAX_BLOCK_BYTES (requests up to 1032 bytes), each a LIFO
 *     list of at most TCACHE_CAP blocks linked through their payloads. A
 *     free of such a block pushes it on its bin and a malloc of that size
 *     pops it, lock-free; a malloc that misses takes the lock once and
 *     fills half the bin; a free to a full bin takes the lock once and
 *     gives half the bin back.
 *   - Between the caches and the heap, a depot keeps whole batches of
 *     TCACHE_BATCH blocks of one size (tcmalloc's transfer cache is the
 *     model): a free to a full bin hands its older half to the depot,
 *     still linked, and a malloc that misses takes a batch back, each a
 *     few stores under a spin lock of the bin's own. A producer thread
 *     whose blocks a consumer frees (python3's queues) then moves them in
 *     batches of 16 without the heap's lock; before, each batch went
 *     through the heap block by block under that lock, and with both cores
 *     busy the two threads queued for it (docs/SBRK.md, "Threads"). The
 *     depot holds at most DEPOT_BIN_BYTES of one size; beyond, and when
 *     the heap would grow, its blocks go back to the heap.
 *   - Larger blocks, up to TCACHE_BIG_MAX_BYTES, are kept in a few slots
 *     per thread (TCACHE_BIG_SLOTS, at most TCACHE_BIG_BUDGET_BYTES in
 *     all): threads cycle through a handful of buffer sizes (git: zlib's
 *     deflate state, 5,952 bytes and four blocks of 64 KiB, its inflate
 *     state, 7,160 bytes and 32 KiB; a third of its mallocs), and each
 *     took the lock twice; git's worker threads also use 4,000+ other sizes
 *     of 4-64 KiB, so 8 slots lost the zlib buffers among them and 32 miss
 *     half as often. A malloc takes the newest block that fits without
 *     wasting more than an eighth of it; a free to full slots gives the
 *     oldest back. The slots have a spin lock of their own (uncontended:
 *     only a thread growing the heap takes it besides their owner).
 *   - calloc and realloc use the caches too: calloc(n) as a malloc that
 *     zeroes, realloc(NULL, n) as malloc, a realloc to the block size the
 *     block already has returns it, and one to a size a cached block has
 *     moves there (in python3 these were a third of the calls that took
 *     the lock, in git a seventh).
 *   - A block freed by another thread than the one that allocated it goes
 *     into the freeing thread's cache: there is one heap, and a block is
 *     the same wherever it came from (glibc's tcache does the same).
 *   - Before the heap grows, the depot and the calling thread's larger
 *     blocks go back to it (the heap's release_held), its small lists all
 *     but their TCACHE_GROW_KEEP newest blocks, and other threads' slots
 *     when together they hold 1/32 of the heap or more: blocks the threads
 *     hold no longer make the heap bigger than it has to be, as the quick
 *     lists do not (heap.h). The few kept serve the thread's next mallocs
 *     of each size without the lock: emptying its lists made every size
 *     miss after each of a cold pass's hundreds of grows (docs/SBRK.md,
 *     "Threads: what a grow leaves in the lists"). Other threads' small
 *     lists are theirs alone (no lock guards them) and stay.
 *   - With threads, the free pages a grow adds at the top are faulted in
 *     after the lock is let go (unlock_heap): each block cut from them
 *     under the lock would otherwise take its page fault there.
 *   - A thread's cache is given back to the heap when the thread exits (a
 *     pthread key's destructor); frees that come later, from other
 *     destructors, go to the heap under the lock.
 *   - Cached blocks are allocated for the heap and free for the program:
 *     stat() reports them as free, and the checker accounts for every one
 *     (hb_heap_check_held). The lock-free paths never write a block's
 *     header (the heap may be setting its P bit under the lock, for the
 *     block before it), only its payload: the list link and a key that
 *     catches most double frees (glibc's tcache key).
 *   - fork: the lock, the slots' and the depot's locks are held across fork
 *     (pthread_atfork), so the child never inherits a heap, a cache or the
 *     depot in the middle of an update.
 */
#define _GNU_SOURCE
#include "heap.h"
#include "tcache.h"
#include "os.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

#define TCACHE_MAX_BLOCK_BYTES ((size_t)1040)
#define TCACHE_CLASSES ((TCACHE_MAX_BLOCK_BYTES >> 4) - 1) /* 32 .. 1040 bytes */
/* A bin holds at most TCACHE_CAP blocks; a miss fills half of it, a free
 * to a full bin gives half back. */
#define TCACHE_CAP 32
#define TCACHE_BATCH (TCACHE_CAP / 2)
/* The depot holds at most this many bytes of one size (at least 8
 * batches): a producer that runs ahead of its consumer by a queue of a
 * thousand blocks hands them all over through it. Above that, its blocks
 * go back to the heap; the whole depot goes back before the heap grows. */
#define DEPOT_BIN_BYTES ((size_t)128 << 10)
/* In a cached block's second payload word: "probably cached" (glibc's
 * tcache key). A match sends free to look through the bin. */
#define TCACHE_KEY ((uintptr_t)0x7c3e9a51d2b84f61u)
/* Larger blocks: four 64 KiB blocks (zlib's deflate) and a few more fit. */
#define TCACHE_BIG_SLOTS 32
#define TCACHE_BIG_MAX_BYTES (((size_t)64 << 10) + 64)
#define TCACHE_BIG_BUDGET_BYTES ((size_t)320 << 10)
/* Before the heap grows, the growing thread's small lists keep this many
 * blocks each, the newest (4 measured best: docs/SBRK.md, "Threads: what
 * a grow leaves in the lists"). */
#define TCACHE_GROW_KEEP 4u
/* Before the heap grows, other threads' larger blocks go back to it when
 * together they are at least 1/32 of its footprint. */
#define TCACHE_OTHERS_SHARE_SHIFT 5

enum { CACHE_UNUSED, CACHE_STARTING, CACHE_ACTIVE, CACHE_GONE };

typedef struct hb_tcache {
  void *bins[TCACHE_CLASSES]; /* payload pointers; payload[0] links, payload[1] = key */
  uint8_t counts[TCACHE_CLASSES];
  /* The larger blocks, oldest first: payload pointers and block bytes;
   * under big_lock, since a thread that grows the heap takes them back
   * (hb_tcache_release_held). stat() reads the two totals (relaxed). */
  int big_lock;
  void *big[TCACHE_BIG_SLOTS];
  size_t big_bytes[TCACHE_BIG_SLOTS];
  unsigned big_count;
  size_t big_total_bytes;
  int state;
  /* The bins' blocks and bytes: written by the owning thread only, read by
   * stat() (relaxed). */
  _Atomic size_t blocks, bytes;
  struct hb_tcache *next_cache, *prev_cache; /* the registry, under the lock */
  hb_heap *heap;
} hb_tcache;

static __thread hb_tcache cache __attribute__((tls_model("initial-exec")));

static pthread_mutex_t heap_lock = PTHREAD_MUTEX_INITIALIZER;
static hb_tcache *registry;    /* every thread's active cache, under the lock */
static pthread_key_t exit_key; /* its destructor empties the exiting thread's cache */
static int exit_key_made;      /* pthread_key_create succeeded */
static unsigned long lock_acquisitions; /* under the lock */

/* The heap's lock: tried TCACHE_LOCK_SPINS times, a pause apart, before
 * the mutex puts the thread to sleep. What it guards is short (a search
 * and a split, or a batch of frees), so a thread that finds it held
 * mostly gets it a few hundred cycles later, where a sleep on the futex
 * and the wake-up cost tens of microseconds on a VM, and the program's
 * other threads stall behind the sleeper meanwhile. git-repack-threads
 * found it held at 1.5% of its acquisitions, and that was enough to make
 * it 15% slower (docs/SBRK.md, "Threads: spinning before sleeping"). */
#define TCACHE_LOCK_SPINS 200
static void lock(void) {
  unsigned spins = 0;
  while (pthread_mutex_trylock(&heap_lock) != 0) {
    if (++spins == TCACHE_LOCK_SPINS) {
      pthread_mutex_lock(&heap_lock);
      break;
    }
    cpu_relax();
  }
  lock_acquisitions++;
}
static void unlock(void) { pthread_mutex_unlock(&heap_lock); }

/* Unlocks after a call that may have grown the heap, then faults in the
 * pages it grew by (heap.h: note_grown), outside the lock: the other
 * threads keep using the heap meanwhile, where each first write to a new
 * page would otherwise fault with the lock held. A kernel without
 * MADV_POPULATE_WRITE (before 5.14) refuses it: the pages then fault as
 * they are written, as before. A trim may have given the range back by
 * then: the call fails, harmlessly. */
static void unlock_heap(hb_heap *h) {
  uintptr_t lo = h->grown_lo, hi = h->grown_hi;
  h->grown_lo = h->grown_hi = 0;
  /* Only what is still free at the top: the block the caller got is its
   * own to write (outside the lock), and a large one may be used
   * sparsely; the top is where the next blocks are cut under the lock.
   * At most the grow's slack (heap.c: grow_request) becomes resident
   * before it is used. */
  uintptr_t page = hb_os_page_bytes();
  uintptr_t top_lo = h->top ? ((uintptr_t)h->top + HB_BLOCK_HEADER_BYTES + page - 1) & ~(page - 1) : 0;
  uintptr_t top_hi = h->top ? (uintptr_t)h->top_end & ~(page - 1) : 0;
  if (lo < top_lo) lo = top_lo;
  if (hi > top_hi) hi = top_hi;
  unlock();
#ifdef MADV_POPULATE_WRITE
  if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
#else
  (void)lo;
  (void)hi;
#endif
}

static inline size_t bin_of(size_t bytes) { return (bytes >> 4) - 2; }
static inline size_t bytes_of(size_t bin) { return (bin + 2) << 4; }

/* ---- The depot: batches of one size between the threads' caches ---- */

/* One size's batches, each a list of TCACHE_BATCH blocks linked as in a
 * bin, the batches linked through their first block's third payload word
 * (every block has three); on a cache line of its own, since two threads
 * handing blocks of one size over touch only it. */
typedef struct depot_bin {
  int lock;
  _Atomic unsigned count; /* batches; written under the lock, stat() reads it */
  void *batches;          /* the newest batch */
  unsigned long moves;    /* batches put or taken, under the lock (tests, the drop-in's report) */
} __attribute__((aligned(128))) depot_bin;

static inline void **next_batch(void *batch) { return &((void **)batch)[2]; }

static depot_bin depot[TCACHE_CLASSES];

/* The batches of `bin` the depot may hold: DEPOT_BIN_BYTES' worth, at
 * least 8. */
static inline unsigned depot_limit(size_t bin) {
  unsigned limit = (unsigned)(DEPOT_BIN_BYTES / (TCACHE_BATCH * bytes_of(bin)));
  return limit > 8 ? limit : 8;
}

/* The depot's and the larger blocks' locks are held for a few stores:
 * spin, and yield now and then in case the holder was preempted (two
 * cores, more threads). */
static void spin_lock(int *held) {
  for (unsigned spins = 0; __atomic_exchange_n(held, 1, __ATOMIC_ACQUIRE);)
    while (__atomic_load_n(held, __ATOMIC_RELAXED)) {
      if (++spins % 64 == 0)
        sched_yield();
      else
        cpu_relax();
    }
}
static void spin_unlock(int *held) { __atomic_store_n(held, 0, __ATOMIC_RELEASE); }
static void depot_lock(depot_bin *d) { spin_lock(&d->lock); }
static void depot_unlock(depot_bin *d) { spin_unlock(&d->lock); }

/* Files a batch; 0 when the depot has no room for it. */
static int depot_put(size_t bin, void *batch) {
  depot_bin *d = &depot[bin];
  depot_lock(d);
  unsigned count = atomic_load_explicit(&d->count, memory_order_relaxed);
  int put = count < depot_limit(bin);
  if (put) {
    *next_batch(batch) = d->batches;
    d->batches = batch;
    atomic_store_explicit(&d->count, count + 1, memory_order_relaxed);
    d->moves++;
  }
  depot_unlock(d);
  return put;
}

/* The newest batch of `bin`, or NULL. */
static void *depot_take(size_t bin) {
  depot_bin *d = &depot[bin];
  if (!atomic_load_explicit(&d->count, memory_order_relaxed)) return NULL; /* no lock for nothing */
  depot_lock(d);
  unsigned count = atomic_load_explicit(&d->count, memory_order_relaxed);
  void *batch = NULL;
  if (count) {
    batch = d->batches;
    d->batches = *next_batch(batch);
    *next_batch(batch) = NULL;
    atomic_store_explicit(&d->count, count - 1, memory_order_relaxed);
    d->moves++;
  }
  depot_unlock(d);
  return batch;
}

/* Whether ptr is in one of the depot's batches of `bin` (a double free:
 * the caller saw the cache key on it). */
static int depot_holds(size_t bin, void *ptr) {
  depot_bin *d = &depot[bin];
  int found = 0;
  depot_lock(d);
  for (void *batch = d->batches; batch && !found; batch = *next_batch(batch))
    for (void *block = batch; block && !found; block = ((void **)block)[0]) found = block == ptr;
  depot_unlock(d);
  return found;
}

/* Gives a batch's blocks (or any list of cached blocks, linked the same
 * way) back to the heap; under the heap's lock. */
static void heap_free_batch(hb_heap *h, void *batch) {
  *next_batch(batch) = NULL;
  while (batch) {
    void *next = ((void **)batch)[0];
    ((uintptr_t *)batch)[1] = 0;
    hb_heap_free(h, batch);
    batch = next;
  }
}

/* Gives every batch in the depot back to the heap; under the heap's
 * lock. Non-zero when there was one. */
static int depot_empty(hb_heap *h) {
  int any = 0;
  for (size_t bin = 0; bin < TCACHE_CLASSES; bin++) {
    depot_bin *d = &depot[bin];
    if (!atomic_load_explicit(&d->count, memory_order_relaxed)) continue;
    depot_lock(d);
    void *batches = d->batches;
    d->batches = NULL;
    atomic_store_explicit(&d->count, 0, memory_order_relaxed);
    depot_unlock(d);
    for (void *next; batches; batches = next) {
      next = *next_batch(batches);
      heap_free_batch(h, batches);
      any = 1;
    }
  }
  return any;
}

static inline void account(hb_tcache *c, long blocks, long bytes) {
  atomic_store_explicit(&c->blocks, atomic_load_explicit(&c->blocks, memory_order_relaxed) + blocks,
                        memory_order_relaxed);
  atomic_store_explicit(&c->bytes, atomic_load_explicit(&c->bytes, memory_order_relaxed) + bytes,
                        memory_order_relaxed);
}

static inline void push(hb_tcache *c, size_t bin, void *ptr) {
  ((void **)ptr)[0] = c->bins[bin];
  ((uintptr_t *)ptr)[1] = TCACHE_KEY;
  c->bins[bin] = ptr;
  c->counts[bin]++;
}

static inline void *pop(hb_tcache *c, size_t bin) {
  void *ptr = c->bins[bin];
  c->bins[bin] = ((void **)ptr)[0];
  ((uintptr_t *)ptr)[1] = 0;
  c->counts[bin]--;
  return ptr;
}

/* Gives the blocks of `bin` back to the heap but its `keep` newest (the
 * likeliest in this core's cache); under the lock. How many it gave. */
static unsigned drain(hb_tcache *c, size_t bin, unsigned keep) {
  if (c->counts[bin] <= keep) return 0;
  void **link = &c->bins[bin];
  for (unsigned i = 0; i < keep; i++) link = (void **)*link;
  void *rest = *link; /* linked as a batch is */
  *link = NULL;
  unsigned given = c->counts[bin] - keep;
  c->counts[bin] = (uint8_t)keep;
  account(c, -(long)given, -(long)(given * bytes_of(bin)));
  heap_free_batch(c->heap, rest);
  return given;
}

/* Detaches the TCACHE_BATCH oldest blocks of a full bin (its newest,
 * likeliest in this core's cache, stay), still linked: the batch. */
static void *cut_batch(hb_tcache *c, size_t bin) {
  void *last_kept = c->bins[bin];
  for (unsigned i = 1; i < (unsigned)c->counts[bin] - TCACHE_BATCH; i++) last_kept = ((void **)last_kept)[0];
  void *batch = ((void **)last_kept)[0];
  ((void **)last_kept)[0] = NULL;
  c->counts[bin] -= TCACHE_BATCH;
  return batch;
}

/* Takes the larger block in `slot` out of the cache; under big_lock. */
static void *big_take(hb_tcache *c, unsigned slot) {
  void *ptr = c->big[slot];
  size_t bytes = c->big_bytes[slot];
  unsigned count = c->big_count - 1;
  for (unsigned i = slot; i < count; i++) {
    c->big[i] = c->big[i + 1];
    c->big_bytes[i] = c->big_bytes[i + 1];
  }
  __atomic_store_n(&c->big_count, count, __ATOMIC_RELAXED);
  __atomic_store_n(&c->big_total_bytes, c->big_total_bytes - bytes, __ATOMIC_RELAXED);
  ((uintptr_t *)ptr)[1] = 0;
  return ptr;
}

/* Takes the oldest larger blocks out until `room` more bytes and one more
 * block fit, into out (TCACHE_BIG_SLOTS of room); under big_lock. The
 * caller gives them to the heap after big_lock: a thread that holds it
 * never waits for the heap's lock (the other order is taken). */
static unsigned big_evict(hb_tcache *c, size_t room, void **out) {
  unsigned n = 0;
  while (c->big_count &&
         (c->big_count >= TCACHE_BIG_SLOTS || c->big_total_bytes + room > TCACHE_BIG_BUDGET_BYTES))
    out[n++] = big_take(c, 0);
  return n;
}

/* Gives all of c's larger blocks back to the heap; under the heap's lock,
 * from any thread. Non-zero when it held one. */
static int big_flush(hb_tcache *c, hb_heap *h) {
  if (!__atomic_load_n(&c->big_count, __ATOMIC_RELAXED)) return 0; /* only its owner adds */
  void *out[TCACHE_BIG_SLOTS];
  spin_lock(&c->big_lock);
  unsigned n = big_evict(c, TCACHE_BIG_BUDGET_BYTES, out);
  spin_unlock(&c->big_lock);
  for (unsigned i = 0; i < n; i++) hb_heap_free(h, out[i]);
  return n != 0;
}

/* Gives every block of the cache back to the heap; under the lock. */
static void empty(hb_tcache *c) {
  for (size_t bin = 0; bin < TCACHE_CLASSES; bin++) drain(c, bin, 0);
  big_flush(c, c->heap);
}

/* The exiting thread's cache goes back to the heap. */
static void cache_exit(void *opaque) {
  hb_tcache *c = opaque;
  lock();
  empty(c);
  if (c->prev_cache)
    c->prev_cache->next_cache = c->next_cache;
  else
    registry = c->next_cache;
  if (c->next_cache) c->next_cache->prev_cache = c->prev_cache;
  c->state = CACHE_GONE;
  unlock();
}

/* The larger blocks other threads than this one hold; under the lock. */
static size_t others_big_bytes(hb_heap *h) {
  size_t bytes = 0;
  for (hb_tcache *other = registry; other; other = other->next_cache)
    if (other != &cache && other->heap == h) bytes += __atomic_load_n(&other->big_total_bytes, __ATOMIC_RELAXED);
  return bytes;
}

int hb_tcache_release_held(hb_heap *h) {
  hb_tcache *c = &cache;
  int released = depot_empty(h);
  /* This thread's larger blocks; other threads' only when they hold a
   * good part of the heap (TCACHE_OTHERS_SHARE_SHIFT): idle threads then
   * do not keep it larger, while busy ones keep the buffers they cycle
   * through. Emptying every thread's slots at every grow made each of
   * them miss its next buffers and queue for the lock: git's cold pass
   * ran 1.3x glibc's, 1.0x without (docs/SBRK.md, "Threads: whose slots
   * go back"). The small blocks only of this thread, whose bins no
   * other thread may touch, and not the TCACHE_GROW_KEEP newest of each
   * size. */
  int others = others_big_bytes(h) >= (h->footprint_bytes >> TCACHE_OTHERS_SHARE_SHIFT);
  for (hb_tcache *other = registry; other; other = other->next_cache)
    if (other->heap == h && (other == c || others)) released |= big_flush(other, h);
  if (c->state != CACHE_ACTIVE || c->heap != h) return released;
  for (size_t bin = 0; bin < TCACHE_CLASSES; bin++) released |= drain(c, bin, TCACHE_GROW_KEEP) != 0;
  return released;
}

/* This thread's first use of its cache: it joins the registry and asks
 * for the destructor. 0 when the cache may be used. */
static int cache_start(hb_tcache *c, hb_heap *heap) {
  if (c->state != CACHE_UNUSED) return -1;
  /* STARTING sends calls made meanwhile (pthread_setspecific may
   * allocate) to the heap under the lock. */
  c->state = CACHE_STARTING;
  if (!exit_key_made || pthread_setspecific(exit_key, c) != 0) {
    c->state = CACHE_GONE;
    return -1;
  }
  c->heap = heap;
  lock();
  heap->note_grown = 1;
  c->next_cache = registry;
  if (registry) registry->prev_cache = c;
  registry = c;
  unlock();
  c->state = CACHE_ACTIVE;
  return 0;
}

/* The child must not inherit a lock held by a thread it does not have. */
static void before_fork(void) {
  lock();
  for (hb_tcache *c = registry; c; c = c->next_cache) spin_lock(&c->big_lock);
  for (size_t bin = 0; bin < TCACHE_CLASSES; bin++) depot_lock(&depot[bin]);
}
static void after_fork(void) {
  for (size_t bin = 0; bin < TCACHE_CLASSES; bin++) depot_unlock(&depot[bin]);
  for (hb_tcache *c = registry; c; c = c->next_cache) spin_unlock(&c->big_lock);
  unlock();
}

__attribute__((constructor)) static void tcache_init(void) {
  exit_key_made = pthread_key_create(&exit_key, cache_exit) == 0;
  pthread_atfork(before_fork, after_fork, after_fork);
}

/* ---- The policy's calls ---- */

/* This thread's cache, ready for use, or NULL (the thread is starting or
 * exiting: the caller takes the lock). */
static inline hb_tcache *my_cache(hb_heap *h) {
  hb_tcache *c = &cache;
  return c->state == CACHE_ACTIVE || cache_start(c, h) == 0 ? c : NULL;
}

/* A cached block of `bytes` (block bytes, non-zero) for this thread, or
 * NULL on a miss; no lock. */
static inline void *cached(hb_tcache *c, size_t bytes) {
  if (bytes <= TCACHE_MAX_BLOCK_BYTES) {
    size_t bin = bin_of(bytes);
    if (!c->bins[bin]) {
      /* The bin is empty: a batch from the depot fills half of it. */
      void *batch = depot_take(bin);
      if (!batch) return NULL;
      c->bins[bin] = batch;
      c->counts[bin] = TCACHE_BATCH;
      account(c, TCACHE_BATCH, (long)(TCACHE_BATCH * bytes));
    }
    account(c, -1, -(long)bytes);
    return pop(c, bin);
  }
  /* The newest larger block that fits, wasting at most an eighth. */
  if (!c->big_count) return NULL; /* no lock for nothing: only this thread adds */
  void *ptr = NULL;
  spin_lock(&c->big_lock);
  for (unsigned slot = c->big_count; slot-- > 0;)
    if (c->big_bytes[slot] >= bytes && c->big_bytes[slot] - bytes <= bytes >> 3) {
      ptr = big_take(c, slot);
      break;
    }
  spin_unlock(&c->big_lock);
  return ptr;
}

/* After a miss on a small size, under the lock: the next few blocks of
 * its size for the bin, so the next mallocs of it take no lock. */
static void refill(hb_tcache *c, hb_heap *h, size_t size, size_t bytes) {
  if (bytes > TCACHE_MAX_BLOCK_BYTES) return;
  size_t bin = bin_of(bytes);
  unsigned filled = 0;
  for (; filled + 1 < TCACHE_CAP / 2 && c->counts[bin] < TCACHE_CAP / 2; filled++) {
    void *more = hb_heap_malloc(h, size);
    if (!more) break;
    /* A bin holds blocks of its size only (the checker holds it to
     * that): the heap may hand out a little more than asked, when what
     * would be left is too small to be a block. */
    if (hb_block_size(hb_block_of(more)) != bytes) {
      hb_heap_free(h, more);
      break;
    }
    push(c, bin, more);
  }
  account(c, filled, (long)(filled * bytes));
}

/* The calls of a process with threads (tcache.h calls the heap itself
 * before there is a second thread). */
void *hb_tcache_malloc_threaded(hb_heap *h, size_t size) {
  size_t bytes = hb_block_bytes_for(size);
  hb_tcache *c;
  if (bytes && bytes <= TCACHE_BIG_MAX_BYTES && (c = my_cache(h))) {
    void *ptr = cached(c, bytes);
    if (ptr) return ptr;
    /* A miss: one lock for this block and the next few of its size. */
    lock();
    ptr = hb_heap_malloc(h, size);
    if (ptr) refill(c, h, size, bytes);
    unlock_heap(h);
    return ptr;
  }
  lock();
  void *ptr = hb_heap_malloc(h, size);
  unlock_heap(h);
  return ptr;
}

/* The block bytes of `ptr` when it looks like an allocated block of the
 * heap that a thread cache may hold (not parked, not over
 * TCACHE_BIG_MAX_BYTES), else 0: the caller then takes the lock, and the
 * heap's own checks report what is wrong. The heap's bounds only grow
 * while it has blocks in use, so a pointer inside them can be read; the
 * lock-free paths read the header, never write it. */
static inline size_t cacheable_bytes(hb_heap *h, void *ptr) {
  uintptr_t address = (uintptr_t)ptr;
  if ((address & 15) || address <= h->lowest || address >= h->highest) return 0;
  uint64_t header = __atomic_load_n(&hb_block_of(ptr)->header, __ATOMIC_RELAXED);
  size_t bytes = (size_t)(header & HB_BLOCK_SIZE_MASK);
  if ((header & (HB_BLOCK_MAGIC_MASK | HB_BLOCK_ALLOC | HB_BLOCK_QUICK)) !=
          (HB_BLOCK_MAGIC | HB_BLOCK_ALLOC) ||
      bytes < HB_BLOCK_MIN_BYTES || bytes > TCACHE_BIG_MAX_BYTES)
    return 0;
  return bytes;
}

void hb_tcache_free_threaded(hb_heap *h, void *ptr) {
  size_t bytes = cacheable_bytes(h, ptr);
  hb_tcache *c;
  if (bytes && (c = my_cache(h))) {
    int keyed = ((uintptr_t *)ptr)[1] == TCACHE_KEY;
    if (bytes <= TCACHE_MAX_BLOCK_BYTES) {
      size_t bin = bin_of(bytes);
      if (keyed) {
        for (void *cached = c->bins[bin]; cached; cached = ((void **)cached)[0])
          if (cached == ptr) hb_sbrk_die("free", "double free (block is in a thread cache)", ptr);
        if (depot_holds(bin, ptr)) hb_sbrk_die("free", "double free (block is in the depot)", ptr);
      }
      if (c->counts[bin] >= TCACHE_CAP) {
        /* The older half goes to the depot, or to the heap when the
         * depot has no room for it. */
        void *batch = cut_batch(c, bin);
        account(c, -TCACHE_BATCH, -(long)(TCACHE_BATCH * bytes));
        if (!depot_put(bin, batch)) {
          lock();
          heap_free_batch(h, batch);
          unlock();
        }
      }
      push(c, bin, ptr);
    } else {
      void *evicted[TCACHE_BIG_SLOTS];
      spin_lock(&c->big_lock);
      for (unsigned slot = 0; keyed && slot < c->big_count; slot++)
        if (c->big[slot] == ptr) hb_sbrk_die("free", "double free (block is in a thread cache)", ptr);
      unsigned n = big_evict(c, bytes, evicted);
      ((uintptr_t *)ptr)[1] = TCACHE_KEY;
      c->big[c->big_count] = ptr;
      c->big_bytes[c->big_count] = bytes;
      __atomic_store_n(&c->big_count, c->big_count + 1, __ATOMIC_RELAXED);
      __atomic_store_n(&c->big_total_bytes, c->big_total_bytes + bytes, __ATOMIC_RELAXED);
      spin_unlock(&c->big_lock);
      if (n) {
        lock();
        for (unsigned i = 0; i < n; i++) hb_heap_free(h, evicted[i]);
        unlock();
      }
      return;
    }
    account(c, 1, (long)bytes);
    return;
  }
  lock();
  hb_heap_free(h, ptr);
  unlock();
}

void *hb_tcache_calloc_threaded(hb_heap *h, size_t count, size_t size) {
  size_t total;
  if (hb_calloc_bytes(count, size, &total)) return NULL;
  size_t bytes = hb_block_bytes_for(total);
  hb_tcache *c = NULL;
  if (bytes && bytes <= TCACHE_BIG_MAX_BYTES && (c = my_cache(h))) {
    void *ptr = cached(c, bytes);
    if (ptr) return memset(ptr, 0, total);
  }
  /* The heap's calloc knows which memory is still zero. */
  lock();
  void *ptr = hb_heap_calloc(h, count, size);
  if (ptr && c) refill(c, h, total, bytes);
  unlock_heap(h);
  return ptr;
}

void *hb_tcache_realloc_threaded(hb_heap *h, void *ptr, size_t size) {
  if (!ptr) return hb_tcache_malloc_threaded(h, size);
  /* A block that already has the size the heap would leave it at (it
   * splits off only a whole block: heap.c, shrink_in_place) stays. */
  size_t have = cacheable_bytes(h, ptr), bytes = hb_block_bytes_for(size);
  if (have && bytes && bytes <= have && have - bytes < HB_BLOCK_MIN_BYTES) return ptr;
  /* Both sizes cacheable and a block of the new one cached: move to it,
   * as the heap would when the block cannot grow where it is. */
  hb_tcache *c;
  if (have && bytes && bytes <= TCACHE_BIG_MAX_BYTES && (c = my_cache(h))) {
    void *moved = cached(c, bytes);
    if (moved) {
      memcpy(moved, ptr, (have < bytes ? have : bytes) - HB_BLOCK_HEADER_BYTES);
      hb_tcache_free_threaded(h, ptr);
      return moved;
    }
  }
  lock();
  void *moved = hb_heap_realloc(h, ptr, size);
  unlock_heap(h);
  return moved;
}

/* The calls that do not go through the cache: the heap under the lock. */
void *hb_tcache_aligned_alloc_threaded(hb_heap *h, size_t alignment, size_t size) {
  lock();
  void *ptr = hb_heap_aligned_alloc(h, alignment, size);
  unlock_heap(h);
  return ptr;
}

size_t hb_tcache_usable_size_threaded(hb_heap *h, void *ptr) {
  /* An allocated block's size is read without the lock, as free reads it. */
  size_t bytes = ptr ? cacheable_bytes(h, ptr) : 0;
  if (bytes) return bytes - HB_BLOCK_HEADER_BYTES;
  lock();
  bytes = hb_heap_usable_size(h, ptr);
  unlock_heap(h);
  return bytes;
}

unsigned long hb_tcache_lock_acquisitions(void) {
  lock();
  unsigned long count = lock_acquisitions;
  unlock();
  return count;
}

unsigned long hb_tcache_depot_moves(void) {
  unsigned long moves = 0;
  for (size_t bin = 0; bin < TCACHE_CLASSES; bin++) {
    depot_lock(&depot[bin]);
    moves += depot[bin].moves;
    depot_unlock(&depot[bin]);
  }
  return moves;
}

/* Cached blocks are free for the program: stat() moves them from the
 * heap's in-use figures to its free ones. */
int hb_tcache_stat(hb_heap *h, hb_stat which, uint64_t *value) {
  /* No cache or depot holds a block before there is a second thread (the
   * replay's instrumented pass asks after every op). */
  if (hb_tcache_single_threaded()) return hb_heap_stat(h, which, value);
  lock();
  int rc = hb_heap_stat(h, which, value);
  size_t blocks = 0, bytes = 0;
  for (hb_tcache *c = registry; c; c = c->next_cache) {
    blocks += atomic_load_explicit(&c->blocks, memory_order_relaxed) +
              __atomic_load_n(&c->big_count, __ATOMIC_RELAXED);
    bytes += atomic_load_explicit(&c->bytes, memory_order_relaxed) +
             __atomic_load_n(&c->big_total_bytes, __ATOMIC_RELAXED);
  }
  for (size_t bin = 0; bin < TCACHE_CLASSES; bin++) {
    size_t held = (size_t)atomic_load_explicit(&depot[bin].count, memory_order_relaxed) * TCACHE_BATCH;
    blocks += held;
    bytes += held * bytes_of(bin);
  }
  unlock();
  if (rc != 0) return rc;
  switch (which) {
    case HB_STAT_IN_USE_BYTES: *value -= bytes; break;
    case HB_STAT_FREE_BYTES: *value += bytes; break;
    case HB_STAT_FREE_BLOCKS: *value += blocks; break;
    default: break;
  }
  return 0;
}

/* The checker's walk over every cached block (hb_heap_check_held): the
 * bins of each cache, then its larger blocks; then the depot's batches. */
typedef struct held_walk {
  hb_tcache *cache;
  size_t bin; /* TCACHE_CLASSES + slot for the larger blocks */
  void *block;
  int in_depot;
  size_t depot_bin;
  void *depot_batch; /* the next batch of depot_bin to walk */
  int depot_started; /* depot_batch is set for depot_bin */
  size_t blocks, bytes; /* counted on the way, against the caches' counters */
  size_t claimed_blocks, claimed_bytes;
  size_t last_bytes; /* the size of the last block returned, by its bin or slot */
} held_walk;

static void walk_cache(held_walk *w, hb_tcache *c) {
  w->cache = c;
  if (!c) return;
  w->claimed_blocks += atomic_load_explicit(&c->blocks, memory_order_relaxed) + c->big_count;
  w->claimed_bytes += atomic_load_explicit(&c->bytes, memory_order_relaxed) + c->big_total_bytes;
  w->bin = 0;
  w->block = c->bins[0];
}

/* The depot's next block, or NULL at its end. */
static void *next_in_depot(held_walk *w) {
  while (!w->block) {
    if (w->depot_bin >= TCACHE_CLASSES) return NULL;
    if (!w->depot_started) {
      w->depot_batch = depot[w->depot_bin].batches;
      w->depot_started = 1;
    }
    if (w->depot_batch) {
      w->block = w->depot_batch;
      w->depot_batch = *next_batch(w->depot_batch);
      /* Each batch holds TCACHE_BATCH blocks: the count must match. */
      w->claimed_blocks += TCACHE_BATCH;
      w->claimed_bytes += TCACHE_BATCH * bytes_of(w->depot_bin);
    } else {
      w->depot_bin++;
      w->depot_started = 0;
    }
  }
  void *ptr = w->block;
  w->block = ((void **)ptr)[0];
  w->last_bytes = bytes_of(w->depot_bin);
  w->blocks++;
  w->bytes += w->last_bytes;
  return ptr;
}

static void *next_held(void *opaque) {
  held_walk *w = opaque;
  if (w->in_depot) return next_in_depot(w);
  while (w->cache) {
    if (w->block) {
      void *ptr = w->block;
      size_t bytes;
      if (w->bin < TCACHE_CLASSES) {
        w->block = ((void **)ptr)[0];
        bytes = bytes_of(w->bin);
      } else {
        w->block = NULL;
        bytes = w->cache->big_bytes[w->bin - TCACHE_CLASSES];
      }
      w->last_bytes = bytes;
      w->blocks++;
      w->bytes += bytes;
      return ptr;
    }
    if (++w->bin < TCACHE_CLASSES) {
      w->block = w->cache->bins[w->bin];
      continue;
    }
    if (w->bin - TCACHE_CLASSES < w->cache->big_count) {
      w->block = w->cache->big[w->bin - TCACHE_CLASSES];
      continue;
    }
    walk_cache(w, w->cache->next_cache);
  }
  w->in_depot = 1;
  w->block = NULL;
  return next_in_depot(w);
}

/* The heap and every thread's cache. Other threads must not be using the
 * allocator meanwhile (their caches are read without their knowledge). */
int hb_tcache_check(hb_heap *h, char *why, size_t why_len) {
  lock();
  int rc = hb_heap_check(h, why, why_len);
  held_walk w = {0};
  walk_cache(&w, registry);
  /* (the depot's claimed blocks are added as its batches are walked) */
  if (rc == 0) rc = hb_heap_check_held(h, next_held, &w, why, why_len);
  /* Every cached block is a block of the heap (checked above): each has
   * the size of its bin or slot. */
  held_walk again = {0};
  walk_cache(&again, registry);
  for (void *ptr; rc == 0 && (ptr = next_held(&again));)
    if (hb_block_size(hb_block_of(ptr)) != again.last_bytes)
      rc = hb_sbrk_fail(why, why_len, "%s: cached block %p has %zu bytes, its list holds blocks of %zu", h->name,
                        ptr, hb_block_size(hb_block_of(ptr)), again.last_bytes);
  if (rc == 0 && (w.blocks != w.claimed_blocks || w.bytes != w.claimed_bytes))
    rc = hb_sbrk_fail(why, why_len, "%s: thread caches and depot hold %zu blocks of %zu bytes, their counters say %zu of %zu",
                      h->name, w.blocks, w.bytes, w.claimed_blocks, w.claimed_bytes);
  unlock();
  return rc;
}
