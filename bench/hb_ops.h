/* hb_ops.h — the ops file: a trace decoded in advance for replay.
 *
 * The front end loads a trace once (any format hb_trace_load reads) and
 * encodes it into this compact form; every worker process that measures
 * that trace maps the file read-only and replays it without parsing,
 * without allocating and without looking anything up:
 *
 *   +----------------+------------------------------------------------+
 *   | hb_ops_header | hb_ops_op[op_count]  (16 bytes each)          |
 *   +----------------+------------------------------------------------+
 *
 * Each op names a slot in the replay's slot table, slot -> pointer: a
 * block's slot from the op that creates it to the op that frees it, given
 * to a later block once freed (hb_reader.h), so slot_count is the most
 * blocks live at once + 1 (an in-memory trace's encoding, hb_ops_encode,
 * uses its block ids as slots instead). Slot `slot_count - 1` never holds a block: free(NULL) is a
 * free of that slot. A free carries the size its block was requested with,
 * so the replay can give the allocator its size hint without a lookup —
 * except for a block from aligned allocation, whose hint is 0 ("unknown"),
 * as hb_allocator.h requires.
 */
#ifndef HB_OPS_H
#define HB_OPS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hb_ops_kind {
  HB_OPS_MALLOC = 0,  /* slot = malloc(size) */
  HB_OPS_CALLOC,      /* slot = calloc(1, size) */
  HB_OPS_ALIGNED,     /* slot = aligned_alloc(1 << align_log2, size) */
  HB_OPS_REALLOC,     /* slot = realloc(slot, size) */
  HB_OPS_REALLOC_NEW, /* slot = realloc(NULL, size) */
  HB_OPS_FREE,        /* free(slot, size hint = size) */
  HB_OPS_KIND_COUNT
} hb_ops_kind;

typedef struct hb_ops_op {
  uint64_t size;      /* bytes requested; for a free, the size hint (see above) */
  uint32_t slot;      /* block id, or slot_count - 1 for free(NULL) */
  uint8_t kind;       /* hb_ops_kind */
  uint8_t align_log2; /* HB_OPS_ALIGNED only */
  uint16_t thread;    /* recording thread, 0 .. thread_count - 1 */
} hb_ops_op;

/* Whether a block counts as aligned once an op of `kind` has made or
 * resized it: a block from aligned allocation stays so across reallocs
 * (they may leave it in place), and its frees carry no size hint
 * (hb_allocator.h: a wrong hint corrupts jemalloc's and tcmalloc's heaps). */
static inline int hb_ops_stays_aligned(uint8_t kind, int was_aligned) {
  return kind == HB_OPS_ALIGNED || (kind == HB_OPS_REALLOC && was_aligned);
}

#define HB_OPS_MAGIC "HBOPS01"
#define HB_OPS_MAX_THREADS 4096
#define HB_OPS_MAX_ALIGN_LOG2 30 /* 1 GiB: beyond that, no allocator answers */

typedef struct hb_ops_header {
  char magic[8];            /* HB_OPS_MAGIC */
  uint64_t op_count;
  uint32_t slot_count;      /* the most blocks live at once + 1 (or the trace's id count + 1) */
  uint32_t thread_count;
  /* Figures of the trace alone (docs/METRICS.md), computed while encoding. */
  uint64_t peak_live_bytes; /* largest sum of requested sizes of live blocks */
  uint64_t peak_live_op;    /* first op after which live bytes reach that peak */
  uint64_t allocations;     /* ops that create a block (realloc counted apart) */
  uint64_t reallocs;        /* HB_OPS_REALLOC ops */
  uint64_t frees;           /* HB_OPS_FREE ops, free(NULL) included */
} hb_ops_header;

/* The ops that follow the header stay 16-byte aligned. */
_Static_assert(sizeof(hb_ops_header) == 64, "hb_ops_header is 64 bytes");
_Static_assert(sizeof(hb_ops_op) == 16, "hb_ops_op is 16 bytes");

/* ---- Front end: encoding (needs traces/hb_trace.h) ---- */
struct hb_trace;
struct hb_error;
struct hb_reader;

/* Encodes the rest of a reader's trace (opened with HB_READER_SLOTS) into
 * a new unlinked file under $TMPDIR (default /tmp) and returns its
 * descriptor, inheritable by the workers (they open /proc/self/fd/N),
 * with *header filled in; -1 with *error set when the trace cannot be
 * replayed (a bad op, too many threads, out of memory, the disk full).
 * Memory: a chunk of ops and a state per slot, not the trace. */
int hb_ops_encode_reader(struct hb_reader *reader, hb_ops_header *header,
                         struct hb_error *error);

/* The same from a trace in memory (it must have passed hb_trace_check),
 * its block ids as slots: slot_count is its id count + 1. */
int hb_ops_encode(const struct hb_trace *trace, hb_ops_header *header,
                   struct hb_error *error);

/* ---- Worker: mapping ---- */
typedef struct hb_ops_file {
  const hb_ops_header *header;
  const hb_ops_op *ops;
  size_t map_bytes;
} hb_ops_file;

/* Maps the ops file at `path` read-only and faults every page in, so the
 * replay never takes a page fault on its own input. 0, or -1 with a
 * one-line reason in `why`. No malloc. */
int hb_ops_map(const char *path, hb_ops_file *trace, char *why, size_t why_len);

#ifdef __cplusplus
}
#endif
#endif
