/* live_ids.c — the set of live block ids (live_ids.h).
 *
 * Each entry is one 64-bit word, (id + 1) << 32 | value, 0 when empty: a
 * lookup touches one cache line, not a key's and a value's. */
#include "live_ids.h"

#include <stdlib.h>

#define KEY(entry) ((uint32_t)((entry) >> 32))

static size_t home_of(const hb_live_ids *set, uint32_t key) {
  /* Fibonacci hashing, the product's top bits: consecutive ids spread. */
  return (size_t)(((uint64_t)key * 0x9E3779B97F4A7C15ull) >> set->shift);
}

static int grow(hb_live_ids *set) {
  size_t old_capacity = set->capacity;
  uint64_t *old = set->entries;
  size_t capacity = old_capacity ? old_capacity * 2 : 1024;
  uint64_t *entries = calloc(capacity, sizeof *entries);
  if (!entries) return -1;
  set->entries = entries;
  set->capacity = capacity;
  set->shift = 64;
  for (size_t c = capacity; c > 1; c >>= 1) set->shift--;
  for (size_t i = 0; i < old_capacity; i++) {
    if (!old[i]) continue;
    size_t s = home_of(set, KEY(old[i]));
    while (set->entries[s]) s = (s + 1) & (capacity - 1);
    set->entries[s] = old[i];
  }
  free(old);
  return 0;
}

int hb_live_ids_init(hb_live_ids *set) {
  *set = (hb_live_ids){0};
  return grow(set);
}

void hb_live_ids_release(hb_live_ids *set) {
  free(set->entries);
  *set = (hb_live_ids){0};
}

/* The entry of key, or the empty entry where it would go. */
static size_t find(const hb_live_ids *set, uint32_t key) {
  size_t s = home_of(set, key);
  while (set->entries[s] && KEY(set->entries[s]) != key) s = (s + 1) & (set->capacity - 1);
  return s;
}

int hb_live_ids_get(const hb_live_ids *set, uint32_t id, uint32_t *value) {
  uint64_t entry = set->entries[find(set, id + 1)];
  if (!entry) return 0;
  *value = (uint32_t)entry;
  return 1;
}

int hb_live_ids_add(hb_live_ids *set, uint32_t id, uint32_t value) {
  if ((set->count + 1) * 2 > set->capacity && grow(set)) return -1;
  size_t s = find(set, id + 1);
  if (set->entries[s]) return 1;
  set->entries[s] = (uint64_t)(id + 1) << 32 | value;
  set->count++;
  return 0;
}

int hb_live_ids_remove(hb_live_ids *set, uint32_t id, uint32_t *value) {
  size_t s = find(set, id + 1);
  if (!set->entries[s]) return 0;
  *value = (uint32_t)set->entries[s];
  size_t mask = set->capacity - 1, hole = s;
  set->entries[hole] = 0;
  set->count--;
  /* Backward shift: move each later entry of the run into the hole unless
   * its home lies cyclically in (hole, i]. */
  for (size_t i = (hole + 1) & mask; set->entries[i]; i = (i + 1) & mask) {
    size_t home = home_of(set, KEY(set->entries[i]));
    int stays = hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
    if (stays) continue;
    set->entries[hole] = set->entries[i];
    set->entries[i] = 0;
    hole = i;
  }
  return 1;
}
