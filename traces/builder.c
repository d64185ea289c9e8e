/* builder.c — pointer events to ops with block ids (see builder.h). */
#include "builder.h"

#include <stdlib.h>
#include <string.h>

static size_t slot_of(const hb_builder *b, uint64_t key) {
  /* Fibonacci hashing: allocator addresses differ in the middle bits. */
  return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (b->capacity - 1);
}

static int map_grow(hb_builder *b) {
  size_t old_capacity = b->capacity;
  uint64_t *old_keys = b->keys;
  uint32_t *old_ids = b->ids;
  b->capacity = old_capacity ? old_capacity * 2 : 1 << 12;
  b->keys = calloc(b->capacity, sizeof *b->keys);
  b->ids = malloc(b->capacity * sizeof *b->ids);
  if (!b->keys || !b->ids) {
    free(b->keys);
    free(b->ids);
    b->keys = old_keys;
    b->ids = old_ids;
    b->capacity = old_capacity;
    return -1;
  }
  for (size_t i = 0; i < old_capacity; i++) {
    if (!old_keys[i]) continue;
    size_t s = slot_of(b, old_keys[i]);
    while (b->keys[s]) s = (s + 1) & (b->capacity - 1);
    b->keys[s] = old_keys[i];
    b->ids[s] = old_ids[i];
  }
  free(old_keys);
  free(old_ids);
  return 0;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t map_find(const hb_builder *b, uint64_t key) {
  size_t s = slot_of(b, key);
  while (b->keys[s] && b->keys[s] != key) s = (s + 1) & (b->capacity - 1);
  return s;
}

/* Removes the entry at slot s, shifting later entries of the probe run back. */
static void map_erase(hb_builder *b, size_t s) {
  size_t mask = b->capacity - 1, hole = s;
  b->keys[hole] = 0;
  b->count--;
  for (size_t i = (hole + 1) & mask; b->keys[i]; i = (i + 1) & mask) {
    size_t home = slot_of(b, b->keys[i]);
    /* Move i into the hole unless its home lies cyclically in (hole, i]. */
    int stays = hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
    if (stays) continue;
    b->keys[hole] = b->keys[i];
    b->ids[hole] = b->ids[i];
    b->keys[i] = 0;
    hole = i;
  }
}

/* Maps ptr to id; an existing live mapping means a free was missed. */
static int map_put(hb_builder *b, uint64_t ptr, uint32_t id, hb_error *error) {
  if ((b->count + 1) * 2 > b->capacity && map_grow(b))
    return hb_fail(error, "%s: out of memory", b->trace->path);
  size_t s = map_find(b, ptr);
  if (b->keys[s]) {
    b->trace->reused_addresses++;
  } else {
    b->keys[s] = ptr;
    b->count++;
  }
  b->ids[s] = id;
  return 0;
}

static int push(hb_builder *b, hb_op op, uint64_t time_ns, hb_error *error) {
  return b->timed ? hb_trace_push_timed(b->trace, op, time_ns, error)
                  : hb_trace_push(b->trace, op, error);
}

int hb_builder_init(hb_builder *builder, hb_trace *trace, int timed, hb_error *error) {
  memset(builder, 0, sizeof *builder);
  builder->trace = trace;
  builder->timed = timed;
  if (map_grow(builder)) return hb_fail(error, "%s: out of memory", trace->path);
  return 0;
}

void hb_builder_finish(hb_builder *builder) {
  hb_trace *trace = builder->trace;
  trace->id_count = builder->next_id;
  trace->dropped_ops = trace->unmatched_frees + trace->failed_allocs;
  free(builder->keys);
  free(builder->ids);
  builder->keys = NULL;
  builder->ids = NULL;
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
    if (!b->keys[s]) {
      b->trace->unmatched_frees++;
      return 0;
    }
    op.id = b->ids[s];
    map_erase(b, s);
  }
  return push(b, op, time_ns, error);
}

uint32_t hb_builder_realloc_take(hb_builder *b, uint64_t old_ptr) {
  if (!old_ptr) return HB_NULL_ID;
  size_t s = map_find(b, old_ptr);
  if (!b->keys[s]) return HB_NULL_ID;
  uint32_t id = b->ids[s];
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
