/* live_ids.c — the set of live block ids (live_ids.h). */
#include "live_ids.h"

#include <stdlib.h>

static size_t home_of(const hb_live_ids *set, uint32_t key) {
  /* Fibonacci hashing: consecutive ids spread over the table. */
  return (size_t)(((uint64_t)key * 0x9E3779B97F4A7C15ull) >> 20) & (set->capacity - 1);
}

static int grow(hb_live_ids *set) {
  size_t old_capacity = set->capacity;
  uint32_t *old_keys = set->keys, *old_values = set->values;
  size_t capacity = old_capacity ? old_capacity * 2 : 1024;
  uint32_t *keys = calloc(capacity, sizeof *keys), *values = malloc(capacity * sizeof *values);
  if (!keys || !values) {
    free(keys);
    free(values);
    return -1;
  }
  set->keys = keys;
  set->values = values;
  set->capacity = capacity;
  for (size_t i = 0; i < old_capacity; i++) {
    if (!old_keys[i]) continue;
    size_t s = home_of(set, old_keys[i]);
    while (set->keys[s]) s = (s + 1) & (capacity - 1);
    set->keys[s] = old_keys[i];
    set->values[s] = old_values[i];
  }
  free(old_keys);
  free(old_values);
  return 0;
}

int hb_live_ids_init(hb_live_ids *set) {
  *set = (hb_live_ids){0};
  return grow(set);
}

void hb_live_ids_release(hb_live_ids *set) {
  free(set->keys);
  free(set->values);
  *set = (hb_live_ids){0};
}

/* The entry of key, or the empty entry where it would go. */
static size_t find(const hb_live_ids *set, uint32_t key) {
  size_t s = home_of(set, key);
  while (set->keys[s] && set->keys[s] != key) s = (s + 1) & (set->capacity - 1);
  return s;
}

int hb_live_ids_get(const hb_live_ids *set, uint32_t id, uint32_t *value) {
  size_t s = find(set, id + 1);
  if (!set->keys[s]) return 0;
  *value = set->values[s];
  return 1;
}

int hb_live_ids_add(hb_live_ids *set, uint32_t id, uint32_t value) {
  if ((set->count + 1) * 2 > set->capacity && grow(set)) return -1;
  size_t s = find(set, id + 1);
  set->keys[s] = id + 1;
  set->values[s] = value;
  set->count++;
  return 0;
}

int hb_live_ids_remove(hb_live_ids *set, uint32_t id, uint32_t *value) {
  size_t s = find(set, id + 1);
  if (!set->keys[s]) return 0;
  *value = set->values[s];
  size_t mask = set->capacity - 1, hole = s;
  set->keys[hole] = 0;
  set->count--;
  /* Backward shift: move each later entry of the run into the hole unless
   * its home lies cyclically in (hole, i]. */
  for (size_t i = (hole + 1) & mask; set->keys[i]; i = (i + 1) & mask) {
    size_t home = home_of(set, set->keys[i]);
    int stays = hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
    if (stays) continue;
    set->keys[hole] = set->keys[i];
    set->values[hole] = set->values[i];
    set->keys[i] = 0;
    hole = i;
  }
  return 1;
}
