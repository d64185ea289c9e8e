/* hb_ops.h — the ops file: a trace decoded in advance for replay.
 *
 * The front end reads a trace once, as a stream (any format hb_reader_open
 * reads), and encodes it into this compact form, written to a file as it
 * goes; every worker process that measures
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
 * uses its block ids as slots instead). Slot `slot_count - 1` never holds
 * a block: free(NULL) is a free of that slot. A free carries the size its block was requested with,
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

/* ---- Worker: the ops, window by window ----
 * A worker never maps the whole file: a trace of 1e9 ops is 16 GB. It maps
 * one window of ops at a time (HB_OPS_WINDOW_OPS ops, 16 MiB, unless the
 * environment variable of that name says otherwise: tests set it small),
 * faulted in before the window is replayed and unmapped when the next one
 * replaces it, so the replay takes no page fault on its own input and the
 * worker's memory does not grow with the trace. The file may be a memfd or
 * a disk file. The iterator, as every pass uses it:
 *
 *   for (int more = hb_ops_window_first(&file); more > 0; more = hb_ops_window_next(&file))
 *     ... file.ops[0 .. file.count) are ops file.first .. file.first + file.count - 1 ...
 *   (more < 0: a window could not be mapped)
 *
 * A window already in place is not mapped again: a trace that fits one
 * window is mapped once for all the replays of a pass. */
#define HB_OPS_WINDOW_OPS ((uint64_t)1 << 20)
#define HB_OPS_WINDOW_ENV "HB_OPS_WINDOW_OPS"

typedef struct hb_ops_file {
  hb_ops_header header;   /* a copy of the file's header */
  const hb_ops_op *ops;   /* the current window's ops; NULL before the first */
  uint64_t first, count;  /* which ops of the file those are */
  uint64_t window_ops;    /* ops per window (the last may hold fewer) */
  /* Private to ops_map.c. */
  int fd;
  void *map;           /* the address range the windows take turns in */
  size_t map_bytes;
  size_t window_bytes; /* of it, what the current window maps */
} hb_ops_file;

/* Opens the ops file at `path`, checks its header and every op (window by
 * window: a bad op is refused here, before any replay), and leaves the
 * first window mapped. 0, or -1 with a one-line reason in `why`. No
 * malloc: in the jemalloc, mimalloc and tcmalloc workers malloc is the
 * allocator under test. */
int hb_ops_map(const char *path, hb_ops_file *file, char *why, size_t why_len);
/* Makes the window that starts at op 0 current; 1, or -1 when it cannot be
 * mapped (errno says why). */
int hb_ops_window_first(hb_ops_file *file);
/* Replaces the current window by the next one: 1; 0 (the current window
 * left in place) when it was the last; -1 when the next cannot be mapped. */
int hb_ops_window_next(hb_ops_file *file);
/* Unmaps the window and closes the file. */
void hb_ops_unmap(hb_ops_file *file);

#ifdef __cplusplus
}
#endif
#endif
