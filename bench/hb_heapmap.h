/* hb_heapmap.h — front end: the heap-map pass's snapshots
 * (`replay --heap-map K`, docs/METRICS.md "Heap map"), read back from the
 * worker's lines (hb_worker_protocol.h) and written as the run's JSON
 * `heap_map` (docs/JSON.md). */
#ifndef HB_HEAPMAP_H
#define HB_HEAPMAP_H

#include "hb_worker_protocol.h"

#include <stdint.h>
#include <stdio.h>

enum { HB_HEAPMAP_ALLOCATED, HB_HEAPMAP_FREE, HB_HEAPMAP_PARKED, HB_HEAPMAP_STATES };

typedef struct hb_heap_block {
  uint64_t start, bytes;
  unsigned state; /* HB_HEAPMAP_* */
} hb_heap_block;

typedef struct hb_heap_snapshot {
  uint64_t op, live_bytes;
  int heap_detail;           /* 1: every block of an sbrk heap; 0: the replay's live blocks */
  uint64_t span_bytes, bin_bytes;
  uint64_t blocks[HB_HEAPMAP_STATES], bytes[HB_HEAPMAP_STATES];
  unsigned segment_count;
  uint64_t segment_start[HB_HEAPMAP_SEGMENTS], segment_bytes[HB_HEAPMAP_SEGMENTS];
  uint64_t bins[HB_HEAPMAP_BINS][HB_HEAPMAP_STATES];
  hb_heap_block *block_list; /* malloc'ed; NULL when the worker did not list them */
  size_t block_list_count;
} hb_heap_snapshot;

typedef struct hb_heap_map {
  unsigned count;
  hb_heap_snapshot *snapshots; /* malloc'ed, [count], in op order */
} hb_heap_map;

/* The snapshots in a heap-map pass's output; NULL when it has none or
 * memory runs out. */
hb_heap_map *hb_heapmap_parse(const char *out);
void hb_heapmap_free(hb_heap_map *map);
/* The run's member `"heap_map": {...}` (null for NULL), with the comma
 * and line break before it; `peak_live_op` marks the peak's snapshot. */
void hb_heapmap_json(FILE *out, const hb_heap_map *map, uint64_t peak_live_op);

#endif
