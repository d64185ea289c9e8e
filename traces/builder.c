/* builder.c — pointer events to ops with block ids (see builder.h). */
#include "builder.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

static size_t slot_of(const hb_builder *b, uint64_t key) { return hb_builder_home(b, key); }

/* The map's operations and push run once or twice for every op a reader
 * turns out: inlined into hb_builder_alloc and hb_builder_free, where GCC
 * kept them as calls (5% of the instructions of converting a recording). */
#define HOT static inline __attribute__((always_inline))

#define HUGE_PAGE_BYTES ((size_t)2 << 20)

/* The map's table, zeroed. Addresses are spread over it at random, so a
 * table of tens of MiB in 4 KiB pages misses the TLB on nearly every
 * lookup: it is mapped at a huge-page boundary and asks for huge pages
 * (transparent huge pages, where the kernel has them on madvise). */
static hb_builder_entry *entries_alloc(size_t capacity) {
  size_t bytes = capacity * sizeof(hb_builder_entry);
  if (bytes < HUGE_PAGE_BYTES) return calloc(capacity, sizeof(hb_builder_entry));
  unsigned char *map = mmap(NULL, bytes + HUGE_PAGE_BYTES, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) return NULL;
  uintptr_t start = ((uintptr_t)map + HUGE_PAGE_BYTES - 1) & ~(uintptr_t)(HUGE_PAGE_BYTES - 1);
  size_t head = start - (uintptr_t)map;
  if (head) munmap(map, head);
  munmap((unsigned char *)start + bytes, HUGE_PAGE_BYTES - head);
  madvise((void *)start, bytes, MADV_HUGEPAGE); /* a hint: without it, 4 KiB pages */
  return (hb_builder_entry *)start;
}

static void entries_free(hb_builder_entry *entries, size_t capacity) {
  size_t bytes = capacity * sizeof(hb_builder_entry);
  if (bytes < HUGE_PAGE_BYTES)
    free(entries);
  else if (entries)
    munmap(entries, bytes);
}

static int map_grow(hb_builder *b) {
  size_t old_capacity = b->capacity;
  hb_builder_entry *old = b->entries;
  size_t capacity = old_capacity ? old_capacity * 2 : 1 << 12;
  hb_builder_entry *entries = entries_alloc(capacity);
  if (!entries) return -1;
  b->entries = entries;
  b->capacity = capacity;
  b->mask = capacity - 1;
  b->hash_shift = 64;
  for (size_t c = capacity; c > 1; c >>= 1) b->hash_shift--;
  for (size_t i = 0; i < old_capacity; i++) {
    if (!old[i].key) continue;
    size_t s = slot_of(b, old[i].key);
    while (entries[s].key) s = (s + 1) & (capacity - 1);
    entries[s] = old[i];
  }
  entries_free(old, old_capacity);
  return 0;
}

/* The slot holding key, or the empty slot where it would go. */
HOT size_t map_find(const hb_builder *b, uint64_t key) {
  size_t s = slot_of(b, key);
  while (b->entries[s].key && b->entries[s].key != key) s = (s + 1) & b->mask;
  return s;
}

/* Removes the entry at slot s, shifting later entries of the probe run back. */
HOT void map_erase(hb_builder *b, size_t s) {
  size_t mask = b->mask, hole = s;
  hb_builder_entry *e = b->entries;
  e[hole].key = 0;
  b->count--;
  for (size_t i = (hole + 1) & mask; e[i].key; i = (i + 1) & mask) {
    size_t home = slot_of(b, e[i].key);
    /* Move i into the hole unless its home lies cyclically in (hole, i]. */
    int stays = hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
    if (stays) continue;
    e[hole] = e[i];
    e[i].key = 0;
    hole = i;
  }
}

/* Maps ptr to id; an existing live mapping means a free was missed. The
 * table is kept at most 3/4 full: half full, it took twice the memory,
 * fresh pages the kernel clears, for probes a slot or two shorter
 * (FORMAT.md, "Conversion"). */
HOT int map_put(hb_builder *b, uint64_t ptr, uint32_t id, hb_error *error) {
  if ((b->count + 1) * 4 > b->capacity * 3 && map_grow(b))
    return hb_fail(error, "%s: out of memory", b->trace->path);
  size_t s = map_find(b, ptr);
  if (b->entries[s].key) {
    b->trace->reused_addresses++;
  } else {
    b->entries[s].key = ptr;
    b->count++;
  }
  b->entries[s].id = id;
  return 0;
}

HOT int push(hb_builder *b, hb_op op, uint64_t time_ns, hb_error *error) {
  hb_trace *t = b->trace;
  /* The common case in place: room left, times kept as the trace keeps
   * them. The calls below grow the arrays and start the times. */
  if (t->op_count < t->op_capacity && (t->time_ns != NULL) == (b->timed != 0)) {
    if (t->time_ns) t->time_ns[t->op_count] = time_ns;
    t->ops[t->op_count++] = op;
    return 0;
  }
  return b->timed ? hb_trace_push_timed(t, op, time_ns, error) : hb_trace_push(t, op, error);
}

int hb_builder_init(hb_builder *builder, hb_trace *trace, int timed, hb_error *error) {
  memset(builder, 0, sizeof *builder);
  builder->trace = trace;
  builder->timed = timed;
  if (map_grow(builder)) return hb_fail(error, "%s: out of memory", trace->path);
  return 0;
}

void hb_builder_release_map(hb_builder *builder) {
  entries_free(builder->entries, builder->capacity);
  builder->entries = NULL;
  builder->capacity = 0;
}

void hb_builder_finish(hb_builder *builder) {
  hb_trace *trace = builder->trace;
  trace->id_count = builder->next_id;
  trace->dropped_ops = trace->unmatched_frees + trace->failed_allocs;
  hb_builder_release_map(builder);
}

int hb_builder_alloc(hb_builder *b, hb_op_kind kind, uint32_t thread, uint64_t size,
                     unsigned align_log2, uint64_t ptr, uint64_t time_ns, hb_error *error) {
  if (!ptr) {
    b->trace->failed_allocs++;
    return 0;
  }
  if (b->next_id == HB_NULL_ID) return hb_fail(error, "%s: too many blocks", b->trace->path);
  hb_op op = {.kind = (uint8_t)kind, .thread = thread, .id = b->next_id++, .size = size};
  b->trace->id_count = b->next_id; /* current, for a reader that streams (reader.c) */
  if (kind == HB_OP_ALIGNED) op.align_log2 = (uint8_t)align_log2;
  if (map_put(b, ptr, op.id, error)) return -1;
  return push(b, op, time_ns, error);
}

int hb_builder_free(hb_builder *b, uint32_t thread, uint64_t ptr, uint64_t time_ns,
                    hb_error *error) {
  hb_op op = {.kind = HB_OP_FREE, .thread = thread, .id = HB_NULL_ID};
  if (ptr) {
    size_t s = map_find(b, ptr);
    if (!b->entries[s].key) {
      b->trace->unmatched_frees++;
      return 0;
    }
    op.id = b->entries[s].id;
    map_erase(b, s);
  }
  return push(b, op, time_ns, error);
}

uint32_t hb_builder_realloc_take(hb_builder *b, uint64_t old_ptr) {
  if (!old_ptr) return HB_NULL_ID;
  size_t s = map_find(b, old_ptr);
  if (!b->entries[s].key) return HB_NULL_ID;
  uint32_t id = b->entries[s].id;
  map_erase(b, s);
  return id;
}

int hb_builder_realloc_finish(hb_builder *b, uint32_t thread, uint64_t old_ptr, uint32_t old_id,
                              uint64_t size, uint64_t new_ptr, uint64_t time_ns,
                              hb_error *error) {
  hb_trace *trace = b->trace;
  if (!new_ptr) {
    if (size == 0 && old_id != HB_NULL_ID) { /* realloc(p, 0) freed p */
      hb_op op = {.kind = HB_OP_FREE, .flags = HB_FLAG_REALLOC_ZERO, .thread = thread,
                  .id = old_id};
      return push(b, op, time_ns, error);
    }
    if (size == 0 && old_ptr) { /* realloc(unknown, 0): a free we cannot place */
      trace->unmatched_frees++;
      return 0;
    }
    /* The call failed and the old block, if any, is still there. */
    trace->failed_allocs++;
    return old_id == HB_NULL_ID ? 0 : map_put(b, old_ptr, old_id, error);
  }
  hb_op op = {.kind = HB_OP_REALLOC, .thread = thread, .id = old_id, .size = size};
  if (old_id == HB_NULL_ID) {
    if (old_ptr) trace->unmatched_reallocs++;
    if (b->next_id == HB_NULL_ID) return hb_fail(error, "%s: too many blocks", trace->path);
    op.flags = HB_FLAG_FROM_NULL;
    op.id = b->next_id++;
    trace->id_count = b->next_id;
  }
  if (map_put(b, new_ptr, op.id, error)) return -1;
  return push(b, op, time_ns, error);
}
