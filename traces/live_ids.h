/* live_ids.h — private to traces/: the set of live block ids, each with a
 * value (its slot, for reader.c), in memory proportional to the ids live
 * at once, not to the largest id: readers must not size anything by an id
 * a file names (an id of 4e9 in a .rep line is one entry, not 512 MB of
 * bitmap). Open addressing, linear probing, backward-shift deletion. */
#ifndef HB_LIVE_IDS_H
#define HB_LIVE_IDS_H

#include <stddef.h>
#include <stdint.h>

typedef struct hb_live_ids {
  uint64_t *entries; /* (id + 1) << 32 | value; 0: empty */
  size_t capacity, count;
  unsigned shift;    /* 64 - log2(capacity) */
} hb_live_ids;

/* 0, or -1 when out of memory. */
int hb_live_ids_init(hb_live_ids *set);
void hb_live_ids_release(hb_live_ids *set);
/* The entry of id: *value set and 1 if live, 0 if not. */
int hb_live_ids_get(const hb_live_ids *set, uint32_t id, uint32_t *value);
/* Adds id with value: 0, 1 if id was live already (left as it was), or
 * -1 when out of memory. */
int hb_live_ids_add(hb_live_ids *set, uint32_t id, uint32_t value);
/* Removes id if live: 1 and *value set if it was, 0 if not. */
int hb_live_ids_remove(hb_live_ids *set, uint32_t id, uint32_t *value);

#endif
