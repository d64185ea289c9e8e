/* builder.h — private to traces/: turns pointer events (what a recorder or
 * a log sees) into trace ops with block ids.
 *
 * Each block gets a fresh id (ids are never reused, so id_count is the
 * number of blocks). The problems of real recordings are counted in the
 * trace, never hidden: a free of an unknown pointer is dropped
 * (unmatched_frees), an allocation that returned NULL is dropped
 * (failed_allocs), a realloc of an unknown pointer becomes realloc(NULL)
 * (unmatched_reallocs), an allocation at a live address means a free was
 * missed (reused_addresses; the old block stays live).
 */
#ifndef HB_BUILDER_H
#define HB_BUILDER_H

#include "hb_trace.h"

/* One address of a live block and its id: key and id side by side, so a
 * lookup costs one cache miss, not two. */
typedef struct hb_builder_entry {
  uint64_t key; /* the block's address; 0 = empty */
  uint32_t id;
  uint32_t unused;
} hb_builder_entry;

typedef struct hb_builder {
  hb_trace *trace;
  int timed;                  /* push a timestamp with every op */
  hb_builder_entry *entries;  /* open addressing, linear probing, at most 3/4 full */
  size_t capacity, count;     /* capacity: a power of two */
  size_t mask;                /* capacity - 1 */
  unsigned hash_shift;        /* 64 - log2(capacity) */
  uint32_t next_id;
} hb_builder;

/* The map holds only live blocks: memory follows what is live, not the
 * trace's length. */
int hb_builder_init(hb_builder *builder, hb_trace *trace, int timed, hb_error *error);
/* Sets id_count and dropped_ops; releases the address map. */
void hb_builder_finish(hb_builder *builder);
/* Releases the address map only (the trace left alone: it may be gone). */
void hb_builder_release_map(hb_builder *builder);

/* kind: HB_OP_MALLOC, HB_OP_CALLOC or HB_OP_ALIGNED; ptr = the result. */
int hb_builder_alloc(hb_builder *builder, hb_op_kind kind, uint32_t thread, uint64_t size,
                     unsigned align_log2, uint64_t ptr, uint64_t time_ns, hb_error *error);
int hb_builder_free(hb_builder *builder, uint32_t thread, uint64_t ptr, uint64_t time_ns,
                    hb_error *error);
/* An address's home slot: its 4 KiB page hashed (Fibonacci hashing, the
 * product's top bits) to a run of 256 slots, its 16-byte granule within
 * the page an offset into that run. A program's calls cluster in a few
 * pages at a time (the allocator reuses what was just freed), so its
 * entries cluster in a few runs of the table, which stay in the cache;
 * hashing each address on its own scattered them over the whole table, a
 * cache miss per call (figures: FORMAT.md, "Conversion"). */
static inline size_t hb_builder_home(const hb_builder *builder, uint64_t ptr) {
  uint64_t page = ptr >> 12;
  return (size_t)(((page * 0x9E3779B97F4A7C15ull) >> builder->hash_shift) + ((ptr >> 4) & 255)) &
         builder->mask;
}
/* Starts loading the map entry of ptr into the cache: a reader that
 * decodes events ahead calls it some events before passing ptr, so the
 * miss on a map larger than the cache overlaps other work. Changes
 * nothing. */
static inline void hb_builder_prefetch(const hb_builder *builder, uint64_t ptr) {
  __builtin_prefetch(&builder->entries[hb_builder_home(builder, ptr)], 1);
}

/* A realloc in two steps, for recorders that see the old block released
 * before the call returns: take forgets old_ptr and returns its id
 * (HB_NULL_ID for NULL or an unknown pointer); finish places the op. */
uint32_t hb_builder_realloc_take(hb_builder *builder, uint64_t old_ptr);
int hb_builder_realloc_finish(hb_builder *builder, uint32_t thread, uint64_t old_ptr,
                              uint32_t old_id, uint64_t size, uint64_t new_ptr,
                              uint64_t time_ns, hb_error *error);

#endif
