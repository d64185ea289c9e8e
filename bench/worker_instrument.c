/* worker_instrument.c — the instrumented pass: the same replay as the
 * timed pass, with the memory and reuse figures of docs/METRICS.md
 * measured around every op. Never timed.
 *
 * Every structure here lives in harness memory (mmap) so the allocator
 * under test sees only the trace's own calls, and none grows with the
 * trace's length (docs/METRICS.md, "Bounded memory"): per slot, per freed
 * block not yet reused (grown by doubling as needed), per 2 MiB of freed
 * address space, or fixed. Every allocated byte is written (a realloc: the
 * part it added), as a program would, so the resident figures count every
 * page the allocator handed out. Bookkeeping per op:
 *   - live bytes (sum of requested sizes of live blocks);
 *   - the resident set (the kernel's peak mark, reset at the start, and
 *     /proc/self/statm at each heap-growth sample), less harness memory;
 *   - the footprint the allocator reports (stat HB_STAT_FOOTPRINT_BYTES),
 *     polled after every op, or every `stride` ops when polling would cost
 *     more than the budget the front end gives (the stride is reported);
 *   - freed blocks not yet reused: address -> (free op, size), plus one
 *     stack per requested size for the LIFO share; reuse distances in a
 *     histogram, exact below 2^20 ops;
 *   - every address range that ever held a freed block, as a bitmap of
 *     16-byte granules in 2 MiB chunks, for the byte reuse rate.
 * A multi-threaded trace runs each recorded thread on its own thread, but
 * strictly in trace order (a turn counter), so the figures are exact and
 * the same on every run. The ops come window by window (hb_ops.h); the
 * threads cross a window's end together.
 */
#define _GNU_SOURCE
#include "worker_pass.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define TARGET_SAMPLES 1000
#define LARGE_REQUEST_BYTES ((uint64_t)128 << 10) /* glibc's default mmap threshold */
#define GRANULE_BYTES 16
#define CHUNK_BYTES ((uint64_t)2 << 20) /* address space one bitmap covers */
#define CHUNK_WORDS (CHUNK_BYTES / GRANULE_BYTES / 64)
#define MAX_CHUNKS (1u << 15)            /* 64 GiB of freed address space */
#define EMPTY_KEY UINT64_MAX
#define INITIAL_FREED 65536u /* freed blocks tracked before the tables first grow */
/* Reuse distances: counted exactly below 2^DISTANCE_EXACT_BITS ops, above
 * in 2^DISTANCE_SUB_BITS buckets per power of two (within 1/8192 of the
 * distance: docs/METRICS.md). At most 9.4 MiB of counts, fewer for a trace
 * too short to need them all. */
#define DISTANCE_EXACT_BITS 20
#define DISTANCE_SUB_BITS 12

/* ---- A map from uint64 to uint32: open addressing, linear probing ---- */
typedef struct u64map {
  uint64_t *keys;
  uint32_t *values;
  uint64_t mask, used;
} u64map;

static uint64_t mix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  return k;
}

static int map_init(u64map *m, uint64_t at_least) {
  uint64_t capacity = 64;
  while (capacity < 2 * at_least) capacity *= 2;
  m->keys = hb_harness_map(capacity * sizeof *m->keys);
  m->values = hb_harness_map(capacity * sizeof *m->values);
  m->mask = capacity - 1;
  m->used = 0;
  if (!m->keys || !m->values) return -1;
  memset(m->keys, 0xff, capacity * sizeof *m->keys); /* EMPTY_KEY everywhere */
  return 0;
}

static void map_release(u64map *m) {
  hb_harness_unmap(m->keys, (m->mask + 1) * sizeof *m->keys);
  hb_harness_unmap(m->values, (m->mask + 1) * sizeof *m->values);
  m->keys = NULL;
  m->values = NULL;
}

/* Index of key's entry, or of the empty entry where it would go. */
static uint64_t map_find(const u64map *m, uint64_t key) {
  uint64_t i = mix(key) & m->mask;
  while (m->keys[i] != EMPTY_KEY && m->keys[i] != key) i = (i + 1) & m->mask;
  return i;
}

static void map_insert_at(u64map *m, uint64_t i, uint64_t key, uint32_t value) {
  m->keys[i] = key;
  m->values[i] = value;
  m->used++;
}

/* Removes entry i, shifting later entries of the same probe run back. */
static void map_erase(u64map *m, uint64_t i) {
  m->used--;
  uint64_t j = i;
  for (;;) {
    j = (j + 1) & m->mask;
    if (m->keys[j] == EMPTY_KEY) break;
    uint64_t home = mix(m->keys[j]) & m->mask;
    /* Move j into the hole unless its home lies cyclically in (i, j]. */
    int home_between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!home_between) {
      m->keys[i] = m->keys[j];
      m->values[i] = m->values[j];
      i = j;
    }
  }
  m->keys[i] = EMPTY_KEY;
}

/* ---- The pass's state ---- */
typedef struct freed_block {
  uint64_t address, size, free_op;
  uint32_t newer, older; /* neighbours in the stack of its size; 0 = none */
} freed_block;

typedef struct sample {
  uint64_t op, live_bytes, footprint_bytes, resident_bytes;
  int footprint_known;
} sample;

static struct state {
  const hb_pass_env *env;
  uint64_t op_count;
  uint64_t *block_bytes; /* requested size per slot */
  uint64_t live_bytes;
  int failed;
  hb_pass_failure failure;

  int footprint_known;
  uint64_t footprint_bytes, peak_footprint_bytes, footprint_at_peak_live_bytes;
  uint64_t poll_stride, polls, poll_ns, max_poll_stride;
  uint64_t window_polls, window_ns[256]; /* the last reads' costs */
  uint64_t next_live_poll_bytes;          /* read again when live bytes reach this */

  sample *samples;
  uint64_t sample_count;
  uint64_t rss_baseline_bytes, harness_baseline_bytes, file_baseline_bytes, anon_baseline_bytes;
  int peak_known; /* the kernel's peak mark could be reset, and read */
  uint64_t peak_resident_bytes;

  u64map freed_by_address; /* -> freed_block index */
  u64map newest_by_size;   /* -> freed_block index, top of that size's stack */
  freed_block *blocks;     /* [0] unused; a reused block's entry goes back on a free list */
  uint64_t block_count, block_capacity;
  uint32_t free_entry;     /* first unused entry below block_count, linked by `older`; 0: none */

  uint64_t allocations, reuses, lifo_reuses, allocated_bytes, reused_bytes;
  /* Per size class k (requests of 2^(k-1) + 1 .. 2^k bytes; 0: 0 and 1). */
  struct {
    uint64_t allocations, reuses, live_bytes, peak_live_bytes, waste_bytes, waste_count;
  } size_class[HB_SIZE_CLASSES];
  uint64_t *distance_counts;  /* reuses per distance bucket */
  uint64_t distance_buckets;  /* of them: enough for the longest distance, op_count - 1 */
  uint64_t distance_pow2[65]; /* reuses with 2^(k-1) < distance <= 2^k */

  u64map chunk_of; /* chunk number -> index into chunks */
  uint64_t **chunks;
  uint32_t chunk_count;
  int byte_reuse_lost; /* more freed address space than MAX_CHUNKS covers */
  int harness_lost;    /* a table could not grow: the pass stops */
} S;

/* ---- The resident peak ----
 * The kernel's peak mark (VmHWM) less the anonymous memory the process
 * held before the pass, the harness memory mapped since, and the file
 * pages it holds now: the trace's window of ops and the allocator's code
 * (run for the first time in the pass), neither of them heap. The window
 * mapped now, not the one mapped at the baseline: the last window of a
 * trace is smaller, and subtracting the first one's pages cut a peak in
 * it short by the difference (docs/METRICS.md, "Windows of ops"). The
 * harness maps bitmap chunks, and the next window, as the pass goes; so
 * that none of them is subtracted from a peak it came after, each mapping
 * ends a segment: the peak so far is taken, and the mark is reset for the
 * next. */
static void resident_checkpoint(void) {
  if (!S.peak_known) return;
  uint64_t peak = hb_peak_rss_bytes(), file = hb_file_rss_bytes();
  uint64_t harness = hb_harness_mapped_bytes() - S.harness_baseline_bytes;
  uint64_t own = S.anon_baseline_bytes + harness + file;
  if (peak == 0) S.peak_known = 0;
  if (peak > own && peak - own > S.peak_resident_bytes) S.peak_resident_bytes = peak - own;
}

/* Harness memory mapped during the pass ends a segment of the resident
 * peak: taken before the mapping, the mark reset after. */
static void segment_end(void) { resident_checkpoint(); }
static void segment_start(void) {
  if (S.peak_known && hb_peak_rss_reset() != 0) S.peak_known = 0;
}

/* Doubles a map when one more entry would fill it past half. 0, or -1. */
static int map_make_room(u64map *m) {
  if ((m->used + 1) * 2 <= m->mask + 1) return 0;
  u64map grown;
  segment_end();
  if (map_init(&grown, m->mask + 1) != 0) {
    map_release(&grown);
    return -1;
  }
  for (uint64_t i = 0; i <= m->mask; i++)
    if (m->keys[i] != EMPTY_KEY) {
      uint64_t at = map_find(&grown, m->keys[i]);
      map_insert_at(&grown, at, m->keys[i], m->values[i]);
    }
  map_release(m);
  *m = grown;
  segment_start();
  return 0;
}

/* A free entry of S.blocks; 0 when the pool could not grow. */
static uint32_t block_entry(void) {
  if (S.free_entry) {
    uint32_t index = S.free_entry;
    S.free_entry = S.blocks[index].older;
    return index;
  }
  if (S.block_count + 1 >= S.block_capacity) {
    if (S.block_capacity >= UINT32_MAX / 2) return 0;
    uint64_t capacity = 2 * S.block_capacity;
    segment_end();
    freed_block *grown = hb_harness_map(capacity * sizeof *grown);
    if (!grown) return 0;
    memcpy(grown, S.blocks, S.block_capacity * sizeof *grown);
    hb_harness_unmap(S.blocks, S.block_capacity * sizeof *S.blocks);
    S.blocks = grown;
    S.block_capacity = capacity;
    segment_start();
  }
  return (uint32_t)++S.block_count;
}

static void block_entry_release(uint32_t index) {
  S.blocks[index].older = S.free_entry;
  S.free_entry = index;
}

/* ---- Byte reuse: the granule bitmap ---- */
static uint64_t *chunk_bits(uint64_t chunk, int create) {
  uint64_t at = map_find(&S.chunk_of, chunk);
  if (S.chunk_of.keys[at] == chunk) return S.chunks[S.chunk_of.values[at]];
  if (!create) return NULL;
  if (S.chunk_count == MAX_CHUNKS) {
    S.byte_reuse_lost = 1;
    return NULL;
  }
  segment_end();
  uint64_t *bits = hb_harness_map(CHUNK_WORDS * sizeof(uint64_t));
  segment_start();
  if (!bits) {
    S.byte_reuse_lost = 1;
    return NULL;
  }
  S.chunk_of.keys[at] = chunk;
  S.chunk_of.values[at] = S.chunk_count;
  S.chunks[S.chunk_count++] = bits;
  return bits;
}

/* Sets (mark) or counts the granule bits [first, last] (inclusive, global
 * granule numbers). Returns the count of set bits when counting. */
static uint64_t granules(uint64_t first, uint64_t last, int mark) {
  const uint64_t per_chunk = CHUNK_BYTES / GRANULE_BYTES;
  uint64_t count = 0;
  while (first <= last) {
    uint64_t chunk = first / per_chunk;
    uint64_t end = chunk * per_chunk + per_chunk - 1 < last ? chunk * per_chunk + per_chunk - 1 : last;
    uint64_t *bits = chunk_bits(chunk, mark);
    if (bits) {
      for (uint64_t g = first; g <= end;) {
        uint64_t bit = g % per_chunk, word = bit / 64, offset = bit % 64;
        uint64_t n = 64 - offset;
        if (n > end - g + 1) n = end - g + 1;
        uint64_t mask = (n == 64 ? ~0ull : ((1ull << n) - 1)) << offset;
        if (mark)
          bits[word] |= mask;
        else
          count += (uint64_t)__builtin_popcountll(bits[word] & mask);
        g += n;
      }
    } else if (mark) {
      return 0; /* lost: byte_reuse_lost says so */
    }
    first = end + 1;
  }
  return count;
}

static int granule_set(uint64_t g) { return granules(g, g, 0) != 0; }

static void mark_freed_range(uint64_t address, uint64_t size) {
  if (size == 0) return;
  granules(address / GRANULE_BYTES, (address + size - 1) / GRANULE_BYTES, 1);
}

/* Bytes of [address, address + size) that lie in granules that held a freed block. */
static uint64_t freed_bytes_in(uint64_t address, uint64_t size) {
  if (size == 0) return 0;
  uint64_t first = address / GRANULE_BYTES, last = (address + size - 1) / GRANULE_BYTES;
  uint64_t bytes = granules(first, last, 0) * GRANULE_BYTES;
  if (bytes == 0) return 0;
  if (granule_set(first)) bytes -= address - first * GRANULE_BYTES;
  if (granule_set(last)) bytes -= (last + 1) * GRANULE_BYTES - (address + size);
  return bytes;
}

/* ---- Reuse distances: a histogram, so memory does not grow with the
 * number of reuses ---- */
static uint64_t distance_bucket(uint64_t d) {
  if (d < ((uint64_t)1 << DISTANCE_EXACT_BITS)) return d;
  unsigned e = 63 - (unsigned)__builtin_clzll(d); /* 2^e <= d < 2^(e+1) */
  uint64_t sub = (d >> (e - DISTANCE_SUB_BITS)) & (((uint64_t)1 << DISTANCE_SUB_BITS) - 1);
  return ((uint64_t)1 << DISTANCE_EXACT_BITS) +
         ((uint64_t)(e - DISTANCE_EXACT_BITS) << DISTANCE_SUB_BITS) + sub;
}

/* The distance a bucket stands for: itself when exact, else the middle of
 * its range. */
static uint64_t distance_of_bucket(uint64_t b) {
  if (b < ((uint64_t)1 << DISTANCE_EXACT_BITS)) return b;
  uint64_t r = b - ((uint64_t)1 << DISTANCE_EXACT_BITS);
  unsigned e = DISTANCE_EXACT_BITS + (unsigned)(r >> DISTANCE_SUB_BITS);
  uint64_t sub = r & (((uint64_t)1 << DISTANCE_SUB_BITS) - 1);
  unsigned shift = e - DISTANCE_SUB_BITS;
  return ((((uint64_t)1 << DISTANCE_SUB_BITS) + sub) << shift) + (((uint64_t)1 << shift) >> 1);
}

/* The k-th smallest distance (from 0). */
static uint64_t distance_kth(uint64_t k) {
  uint64_t seen = 0;
  for (uint64_t b = 0; b < S.distance_buckets; b++) {
    seen += S.distance_counts[b];
    if (seen > k) return distance_of_bucket(b);
  }
  return 0;
}

/* ---- Reuse of freed blocks ---- */
static void unlink_from_size_stack(uint32_t index) {
  freed_block *b = &S.blocks[index];
  if (b->newer) {
    S.blocks[b->newer].older = b->older;
  } else { /* it is the top of its stack */
    uint64_t at = map_find(&S.newest_by_size, b->size);
    if (b->older)
      S.newest_by_size.values[at] = b->older;
    else
      map_erase(&S.newest_by_size, at);
  }
  if (b->older) S.blocks[b->older].newer = b->newer;
  b->newer = b->older = 0;
}

static void note_free(void *ptr, uint64_t size, uint64_t op) {
  if (!ptr) return;
  uint64_t address = (uint64_t)(uintptr_t)ptr;
  if (map_make_room(&S.freed_by_address) != 0 || map_make_room(&S.newest_by_size) != 0) {
    S.harness_lost = 1;
    return;
  }
  uint64_t at = map_find(&S.freed_by_address, address);
  uint32_t index;
  if (S.freed_by_address.keys[at] == address) { /* cannot happen with a sound allocator */
    index = S.freed_by_address.values[at];
    unlink_from_size_stack(index);
  } else {
    index = block_entry();
    if (!index) {
      S.harness_lost = 1;
      return;
    }
    map_insert_at(&S.freed_by_address, at, address, index);
  }
  freed_block *b = &S.blocks[index];
  b->address = address;
  b->size = size;
  b->free_op = op;
  b->newer = 0;
  uint64_t top = map_find(&S.newest_by_size, size);
  if (S.newest_by_size.keys[top] == size) {
    b->older = S.newest_by_size.values[top];
    S.blocks[b->older].newer = index;
  } else {
    b->older = 0;
    map_insert_at(&S.newest_by_size, top, size, index);
  }
  S.newest_by_size.values[top] = index;
  mark_freed_range(address, size);
}

/* The size class of a request (hb_worker_protocol.h). */
static unsigned size_class(uint64_t size) {
  return size <= 1 ? 0 : 64 - (unsigned)__builtin_clzll(size - 1);
}

static void note_allocation(void *ptr, uint64_t size, uint64_t op) {
  S.allocations++;
  S.allocated_bytes += size;
  unsigned k = size_class(size);
  S.size_class[k].allocations++;
  if (!ptr) return;
  if (S.env->allocator->usable_size) { /* internal waste: usable beyond requested */
    size_t usable = S.env->allocator->usable_size(ptr);
    if (usable >= size) {
      S.size_class[k].waste_bytes += usable - size;
      S.size_class[k].waste_count++;
    }
  }
  uint64_t address = (uint64_t)(uintptr_t)ptr;
  S.reused_bytes += freed_bytes_in(address, size);
  uint64_t at = map_find(&S.freed_by_address, address);
  if (S.freed_by_address.keys[at] != address) return;
  uint32_t index = S.freed_by_address.values[at];
  freed_block *b = &S.blocks[index];
  uint64_t distance = op - b->free_op;
  S.distance_counts[distance_bucket(distance)]++;
  S.distance_pow2[distance <= 1 ? 0 : 64 - (unsigned)__builtin_clzll(distance - 1)]++;
  S.reuses++;
  S.size_class[k].reuses++;
  uint64_t top = map_find(&S.newest_by_size, b->size);
  if (S.newest_by_size.keys[top] == b->size && S.newest_by_size.values[top] == index)
    S.lifo_reuses++;
  unlink_from_size_stack(index);
  map_erase(&S.freed_by_address, at);
  block_entry_release(index);
}

/* ---- Footprint and samples ---- */
static uint64_t select_kth(uint64_t *v, uint64_t n, uint64_t k);

static void poll_footprint(uint64_t op) {
  uint64_t t0 = hb_now_ns(), value;
  int rc = S.env->allocator->stat(HB_STAT_FOOTPRINT_BYTES, &value);
  uint64_t spent = hb_now_ns() - t0;
  S.poll_ns += spent;
  S.polls++;
  S.window_ns[S.window_polls++] = spent;
  if (rc != 0) {
    S.footprint_known = 0;
    return;
  }
  S.footprint_bytes = value;
  if (value > S.peak_footprint_bytes) S.peak_footprint_bytes = value;
  /* Every 256 reads: at what a read costs now (the median of the last 256:
   * some allocators' stats slow down as the heap grows, and a median
   * ignores the read that happened to be descheduled), would reading at
   * this stride to the end overrun the budget? Then read less often. */
  if (S.window_polls == 256) {
    uint64_t per_poll = select_kth(S.window_ns, 256, 128);
    uint64_t left = S.env->poll_budget_ns > S.poll_ns ? S.env->poll_budget_ns - S.poll_ns : 0;
    while (per_poll * ((S.op_count - op) / S.poll_stride) > left && S.poll_stride < S.op_count)
      S.poll_stride *= 2;
    if (S.poll_stride > S.max_poll_stride) S.max_poll_stride = S.poll_stride;
    S.window_polls = 0;
  }
}

/* `allocated_bytes`: what the op asked for (0 for a free). */
static void after_op(uint64_t i, uint64_t allocated_bytes) {
  /* Sample k is taken after op floor((k + 1) * n / TARGET_SAMPLES) - 1:
   * evenly spread, the last op always included. */
  int is_sample = (i + 1) * TARGET_SAMPLES / S.op_count != i * TARGET_SAMPLES / S.op_count ||
                  i + 1 == S.op_count;
  int is_peak = i == S.env->trace->header.peak_live_op;
  /* Between strided reads, also read where the footprint is likely to
   * grow, so a stride above 1 misses less of the peak: when live bytes
   * pass their previous high by 1/64, and after a large request. */
  int live_high = S.live_bytes >= S.next_live_poll_bytes;
  int large = allocated_bytes >= LARGE_REQUEST_BYTES;
  /* Those extra reads, and the samples', stay within the budget too (an
   * allocator whose read walks its whole heap, glibc's mallinfo2, would
   * otherwise spend seconds there); the read at the peak is always made. */
  int within_budget = S.poll_ns < S.env->poll_budget_ns;
  if (S.footprint_known &&
      (i % S.poll_stride == 0 || is_peak ||
       (within_budget && (is_sample || live_high || large)))) {
    poll_footprint(i);
    if (live_high) S.next_live_poll_bytes = S.live_bytes + S.live_bytes / 64 + 4096;
  }
  if (is_peak) S.footprint_at_peak_live_bytes = S.footprint_bytes;
  if (is_sample && S.sample_count < TARGET_SAMPLES + 2) {
    /* Anonymous pages only: code pages are not heap. */
    uint64_t rss = hb_anon_rss_bytes();
    uint64_t harness = hb_harness_mapped_bytes() - S.harness_baseline_bytes;
    uint64_t own = S.anon_baseline_bytes + harness;
    S.samples[S.sample_count++] = (sample){
        .op = i, .live_bytes = S.live_bytes, .footprint_bytes = S.footprint_bytes,
        .resident_bytes = rss > own ? rss - own : 0, .footprint_known = S.footprint_known};
  }
}

/* ---- One op, with its bookkeeping ---- */
/* Writes bytes [from, size) of a block, as a program that uses all it
 * asked for would, so that the resident figures count every page the
 * allocator handed out (a realloc writes only the part it added: the
 * allocator moved or kept the rest). */
static void touch(void *p, uint64_t from, uint64_t size, uint64_t index) {
  if (p && size > from) memset((char *)p + from, (int)(index & 0xff), size - from);
}

/* Op `i` of the trace, `op` in the current window. */
static int instrumented_op(const hb_ops_op *op, uint64_t i) {
  const hb_allocator *a = S.env->allocator;
  void **slots = S.env->slots;
  void *p = NULL, *old;
  uint64_t touched_from = 0;
  switch (op->kind) {
    case HB_OPS_FREE:
      old = slots[op->slot];
      a->free(old, op->size);
      if (op->slot != S.env->trace->header.slot_count - 1) {
        note_free(old, S.block_bytes[op->slot], i);
        S.live_bytes -= S.block_bytes[op->slot];
        S.size_class[size_class(S.block_bytes[op->slot])].live_bytes -= S.block_bytes[op->slot];
        S.block_bytes[op->slot] = 0;
        slots[op->slot] = NULL;
      }
      after_op(i, 0);
      return S.harness_lost ? -1 : 0;
    case HB_OPS_MALLOC: p = a->malloc(op->size); break;
    case HB_OPS_CALLOC: p = a->calloc(1, op->size); break;
    case HB_OPS_ALIGNED: p = a->aligned_alloc((size_t)1 << op->align_log2, op->size); break;
    case HB_OPS_REALLOC_NEW: p = a->realloc(NULL, op->size); break;
    case HB_OPS_REALLOC:
      old = slots[op->slot];
      p = a->realloc(old, op->size);
      if (!p && op->size) break; /* failed: the old block stays */
      if (p != old) { /* moved: an allocation, and the old block is freed */
        note_allocation(p, op->size, i);
        note_free(old, S.block_bytes[op->slot], i);
      }
      S.live_bytes -= S.block_bytes[op->slot];
      S.size_class[size_class(S.block_bytes[op->slot])].live_bytes -= S.block_bytes[op->slot];
      touched_from = S.block_bytes[op->slot];
      goto placed;
    default: return -1;
  }
  if (!p && op->size) {
    S.failed = 1;
    S.failure = (hb_pass_failure){.failed = 1, .op = i, .size = op->size};
    return -1;
  }
  note_allocation(p, op->size, i);
placed:
  touch(p, touched_from, op->size, i);
  slots[op->slot] = p;
  S.block_bytes[op->slot] = op->size;
  S.live_bytes += op->size;
  unsigned k = size_class(op->size);
  S.size_class[k].live_bytes += op->size;
  if (S.size_class[k].live_bytes > S.size_class[k].peak_live_bytes)
    S.size_class[k].peak_live_bytes = S.size_class[k].live_bytes;
  after_op(i, op->size);
  return S.harness_lost ? -1 : 0;
}

/* ---- Several threads, one at a time in trace order ----
 * The thread whose op is next runs it; the others sleep on a futex word of
 * their own, which the previous op's thread bumps and wakes when the turn
 * passes to them (spinning would steal the core from the thread whose turn
 * it is when threads outnumber cores). */
typedef struct turn_arg turn_arg;

typedef struct turn_state {
  const hb_thread_plan *plan;
  hb_ops_file *trace;
  turn_arg *args;
  atomic_uint_fast64_t turn; /* index of the next op to run */
  atomic_int stop, leave;
  _Atomic uint32_t start, finished; /* gates (worker_pass.h): windows released, done */
} turn_state;

struct turn_arg {
  turn_state *shared;
  uint32_t thread;
  _Atomic uint32_t wake; /* bumped when this thread may have the turn */
};

static void wake_thread(turn_arg *arg) {
  atomic_fetch_add_explicit(&arg->wake, 1, memory_order_release);
  hb_futex_wake(&arg->wake, 1);
}

/* Thread `arg->thread`'s ops of the current window, each in its turn. */
static void turn_thread_ops(turn_arg *arg) {
  turn_state *s = arg->shared;
  const hb_ops_op *ops = s->trace->ops;
  const uint64_t first = s->trace->first, count = s->trace->count;
  for (uint64_t k = s->plan->first[arg->thread]; k < s->plan->first[arg->thread + 1]; k++) {
    uint32_t w = s->plan->order[k];
    uint64_t i = first + w;
    for (unsigned spins = 0;; spins++) {
      uint32_t seen = atomic_load_explicit(&arg->wake, memory_order_acquire);
      if (atomic_load_explicit(&s->turn, memory_order_acquire) == i) break;
      if (atomic_load_explicit(&s->stop, memory_order_relaxed)) return;
      if (spins < 100)
        hb_spin_pause(&(unsigned){0});
      else
        hb_futex_wait(&arg->wake, seen);
    }
    if (instrumented_op(&ops[w], i) != 0) {
      atomic_store(&s->stop, 1);
      for (uint32_t t = 0; t < s->plan->thread_count; t++) wake_thread(&s->args[t]);
      return;
    }
    atomic_store_explicit(&s->turn, i + 1, memory_order_release);
    /* The window's last op hands over to the main thread, at the gate. */
    if (w + 1 < count && ops[w + 1].thread != arg->thread) wake_thread(&s->args[ops[w + 1].thread]);
  }
}

static void *turn_thread(void *opaque) {
  turn_arg *arg = opaque;
  turn_state *s = arg->shared;
  for (uint32_t released = 1;; released++) {
    hb_count_wait(&s->start, released);
    if (atomic_load(&s->leave)) break;
    if (!atomic_load(&s->stop)) turn_thread_ops(arg);
    hb_count_up(&s->finished);
  }
  return NULL;
}

/* `memory`: the threads' ids and arguments, thread_memory_bytes(plan). */
static size_t thread_memory_bytes(const hb_thread_plan *plan) {
  return plan->thread_count * (sizeof(pthread_t) + sizeof(turn_arg));
}

/* The allocator sets itself up, then the baseline every resident figure
 * is taken against. A multi-threaded pass calls this once its threads
 * exist: creating a thread mallocs from glibc, which may move the program
 * break, and an sbrk policy must be the only one moving it once it runs. */
static void begin_measuring(void) {
  /* A program's allocator is running long before most of what a trace
   * records: its start-up metadata, a constant 50-250 KiB for some, is not
   * counted as the trace's resident memory. */
  const hb_allocator *a = S.env->allocator;
  a->free(a->malloc(1), 1);
  S.peak_known = hb_peak_rss_reset() == 0;
  S.rss_baseline_bytes = hb_current_rss_bytes();
  S.file_baseline_bytes = hb_file_rss_bytes();
  S.anon_baseline_bytes = hb_anon_rss_bytes();
  if (S.rss_baseline_bytes == 0) S.peak_known = 0;
  S.harness_baseline_bytes = hb_harness_mapped_bytes();
}

/* The next window, the resident peak's segment ended before the current
 * one is unmapped and started once the next is in (the file pages the
 * windows bring in are not heap). */
static int next_window(void) {
  segment_end();
  int more = hb_ops_window_next(S.env->trace);
  segment_start();
  return more;
}

/* 0, -1 (an op failed), -2 (threads or a window could not be had). */
static int run_threads(hb_thread_plan *plan, char *memory) {
  hb_ops_file *trace = S.env->trace;
  pthread_t *ids = (pthread_t *)memory;
  turn_arg *args = (turn_arg *)(ids + plan->thread_count);
  turn_state s = {.plan = plan, .trace = trace, .args = args};
  uint32_t started = 0;
  for (; started < plan->thread_count; started++) {
    args[started].shared = &s;
    args[started].thread = started;
    atomic_init(&args[started].wake, 0);
    if (hb_start_thread(&ids[started], turn_thread, &args[started]) != 0) {
      atomic_store(&s.stop, 1);
      break;
    }
  }
  int more = hb_ops_window_first(trace);
  begin_measuring();
  uint32_t released = 0;
  for (; more > 0 && !atomic_load(&s.stop); more = next_window()) {
    hb_thread_plan_build(trace, plan);
    hb_count_up(&s.start);
    hb_count_wait(&s.finished, started * ++released);
  }
  atomic_store(&s.leave, 1);
  hb_count_up(&s.start);
  for (uint32_t t = 0; t < started; t++) pthread_join(ids[t], NULL);
  return started < plan->thread_count || more < 0 ? -2 : S.failed || S.harness_lost ? -1 : 0;
}

static int run_one_thread(void) {
  hb_ops_file *trace = S.env->trace;
  int more = hb_ops_window_first(trace);
  begin_measuring();
  for (; more > 0; more = next_window())
    for (uint64_t k = 0; k < trace->count; k++)
      if (instrumented_op(&trace->ops[k], trace->first + k) != 0) return -1;
  return more < 0 ? -2 : 0;
}

/* ---- Order statistics without sorting (qsort may malloc) ---- */
static uint64_t select_kth(uint64_t *v, uint64_t n, uint64_t k) {
  uint64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    uint64_t pivot = v[lo + (hi - lo) / 2], i = lo, j = hi;
    while (i <= j) {
      while (v[i] < pivot) i++;
      while (v[j] > pivot) j--;
      if (i <= j) {
        uint64_t t = v[i];
        v[i] = v[j];
        v[j] = t;
        i++;
        if (j == 0) break;
        j--;
      }
    }
    if (k <= j)
      hi = j;
    else if (k >= i)
      lo = i;
    else
      return v[k];
  }
  return v[k];
}

static void report(void) {
  const hb_ops_header *h = &S.env->trace->header;
  hb_out("status ok\n");
  hb_out_figure(HB_FIG_OPS, h->op_count);
  hb_out_figure(HB_FIG_PEAK_LIVE_BYTES, h->peak_live_bytes);
  hb_out_figure(HB_FIG_PEAK_LIVE_OP, h->peak_live_op);
  if (S.peak_known) hb_out_figure(HB_FIG_PEAK_RESIDENT_BYTES, S.peak_resident_bytes);
  if (S.footprint_known) {
    hb_out_figure(HB_FIG_PEAK_FOOTPRINT_BYTES, S.peak_footprint_bytes);
    hb_out_figure(HB_FIG_FOOTPRINT_AT_PEAK_LIVE_BYTES, S.footprint_at_peak_live_bytes);
    hb_out_figure(HB_FIG_FOOTPRINT_POLL_STRIDE, S.max_poll_stride);
    hb_out_figure(HB_FIG_FOOTPRINT_POLLS, S.polls);
    hb_out_figure(HB_FIG_FOOTPRINT_POLL_NS, S.poll_ns);
  }
  hb_out_figure(HB_FIG_ALLOCATIONS, S.allocations);
  hb_out_figure(HB_FIG_REUSES, S.reuses);
  hb_out_figure(HB_FIG_LIFO_REUSES, S.lifo_reuses);
  hb_out_figure(HB_FIG_ALLOCATED_BYTES, S.allocated_bytes);
  if (!S.byte_reuse_lost) hb_out_figure(HB_FIG_REUSED_BYTES, S.reused_bytes);
  if (S.reuses) {
    for (unsigned k = 0; k < 64; k++)
      if (S.distance_pow2[k])
        hb_out("reuse_distance_bucket %llu %llu\n", 1ull << k,
               (unsigned long long)S.distance_pow2[k]);
    hb_out_figure(HB_FIG_REUSE_DISTANCE_MEDIAN, distance_kth((S.reuses - 1) / 2));
    hb_out_figure(HB_FIG_REUSE_DISTANCE_P90, distance_kth((S.reuses * 9 + 9) / 10 - 1));
  }
  for (unsigned k = 0; k < HB_SIZE_CLASSES; k++)
    if (S.size_class[k].allocations)
      hb_out("size_class %u %llu %llu %llu %llu %llu\n", k,
             (unsigned long long)S.size_class[k].allocations,
             (unsigned long long)S.size_class[k].reuses,
             (unsigned long long)S.size_class[k].peak_live_bytes,
             (unsigned long long)S.size_class[k].waste_bytes,
             (unsigned long long)S.size_class[k].waste_count);
  for (uint64_t k = 0; k < S.sample_count; k++) {
    const sample *s = &S.samples[k];
    if (s->footprint_known)
      hb_out("sample %llu %llu %llu %llu\n", (unsigned long long)s->op,
             (unsigned long long)s->live_bytes, (unsigned long long)s->footprint_bytes,
             (unsigned long long)s->resident_bytes);
    else
      hb_out("sample %llu %llu - %llu\n", (unsigned long long)s->op,
             (unsigned long long)s->live_bytes, (unsigned long long)s->resident_bytes);
  }
}

int hb_instrumented_pass(const hb_pass_env *env) {
  memset(&S, 0, sizeof S);
  const hb_ops_header *h = &env->trace->header;
  S.env = env;
  S.op_count = h->op_count;
  S.poll_stride = S.max_poll_stride = 1;
  /* Freed blocks not yet reused: at most one per free or realloc, and the
   * tables grow (by doubling) past INITIAL_FREED. */
  uint64_t freed_bound = h->frees + h->reallocs + 1;
  if (freed_bound > INITIAL_FREED) freed_bound = INITIAL_FREED;
  S.block_capacity = freed_bound + 1;
  S.block_bytes = hb_harness_map(h->slot_count * sizeof *S.block_bytes);
  S.samples = hb_harness_map((TARGET_SAMPLES + 2) * sizeof *S.samples);
  S.blocks = hb_harness_map(S.block_capacity * sizeof *S.blocks);
  S.distance_buckets = distance_bucket(S.op_count) + 1;
  S.distance_counts = hb_harness_map(S.distance_buckets * sizeof *S.distance_counts);
  S.chunks = hb_harness_map(MAX_CHUNKS * sizeof *S.chunks);
  if (!S.block_bytes || !S.samples || !S.blocks || !S.distance_counts || !S.chunks ||
      map_init(&S.freed_by_address, freed_bound) || map_init(&S.newest_by_size, freed_bound) ||
      map_init(&S.chunk_of, MAX_CHUNKS)) {
    hb_out("status failed: the worker could not map its instrumentation arrays\n");
    return -1;
  }
  /* A multi-threaded replay's plan is harness memory too: made before the
   * baseline, so the resident figures leave it out. */
  hb_thread_plan plan = {0};
  char *thread_memory = NULL;
  if (h->thread_count > 1 &&
      (hb_thread_plan_init(env->trace, &plan) != 0 ||
       !(thread_memory = hb_harness_map(thread_memory_bytes(&plan))))) {
    hb_out("status failed: the worker could not start the replay's threads\n");
    return -1;
  }
  uint64_t probe;
  S.footprint_known = env->allocator->stat(HB_STAT_FOOTPRINT_BYTES, &probe) == 0;
  int rc = h->thread_count > 1 ? run_threads(&plan, thread_memory) : run_one_thread();
  resident_checkpoint(); /* the last segment */
  /* The kernel counts RSS in per-CPU batches, so a mark and a reading can
   * each be a few dozen pages behind: a sample above the mark is kept. */
  for (uint64_t k = 0; k < S.sample_count; k++)
    if (S.samples[k].resident_bytes > S.peak_resident_bytes)
      S.peak_resident_bytes = S.samples[k].resident_bytes;
  if (thread_memory) {
    hb_harness_unmap(thread_memory, thread_memory_bytes(&plan));
    hb_thread_plan_release(&plan);
  }
  if (rc == -2) {
    hb_out("status failed: the worker could not start the replay's threads or map a window of "
           "its ops\n");
    return -1;
  }
  if (S.harness_lost) {
    hb_out("status failed: the worker could not grow its instrumentation tables\n");
    return -1;
  }
  if (rc != 0) {
    hb_out("status failed: allocation of %llu bytes returned NULL at op %llu\n",
           (unsigned long long)S.failure.size, (unsigned long long)S.failure.op);
    return -1;
  }
  report();
  return 0;
}
