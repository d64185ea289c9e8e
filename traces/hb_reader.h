/* hb_reader.h — a trace read as a stream: ops delivered in batches, memory
 * bounded by the blocks live at once, never by the trace's length.
 *
 * Every format hb_trace_load reads (.hbt, raw recordings, .rep, valgrind
 * logs; gzip for the text formats, zstd for all) opens here, picked by
 * content. Each op delivered has passed the id discipline check of
 * hb_trace_check (a create of a live id, a free or realloc of a dead one,
 * a thread out of range stop the stream with "<file>: op <n>: ..."), done
 * as the ops go by with a map of the live ids only.
 *
 * With HB_READER_SLOTS, block ids are renumbered into slots: a block takes
 * a slot when it is created and gives it back when it is freed, so slots
 * run from 0 to the most blocks live at once - 1, whatever the number of
 * blocks the trace made. A freed slot goes back to the freeing thread's
 * own list and that thread's next block takes it first: a slot passes
 * from one thread to another only when the taker has none of its own, so
 * the renumbering adds no cross-thread order a threaded replay must wait
 * for beyond those. free(NULL) keeps HB_NULL_ID.
 *
 * Memory: the live-id map and slot lists (O(blocks live)), one batch, the
 * readers' own state (per-thread stream cursors for .hbt, the address map
 * of live blocks for valgrind and raw). A zstd-compressed file is first
 * decompressed into an unlinked temporary file on disk, under $TMPDIR
 * (default /tmp), never into memory.
 */
#ifndef HB_READER_H
#define HB_READER_H

#include "hb_trace.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hb_reader hb_reader;

enum {
  HB_READER_SLOTS = 1u << 0, /* deliver recycled slots instead of the trace's block ids */
};

/* Opens the trace at path (format by content). 0 and *reader, or -1 with
 * *error set (nothing left open). */
int hb_reader_open(const char *path, unsigned flags, hb_reader **reader, hb_error *error);

/* Up to `capacity` next ops into ops[], their times into time_ns[] when
 * time_ns is not NULL (0 for a trace without times): how many (at least 1
 * while the trace has more), 0 at its end, -1 with *error set. After -1
 * the reader can only be closed. */
long hb_reader_next(hb_reader *reader, hb_op *ops, uint64_t *time_ns, size_t capacity,
                    hb_error *error);

/* What the trace says about itself, without ops: path, name, format,
 * program, pid, thread_count, and time_ns != NULL for a timed trace
 * (ops and time_ns are never to be read through). op_count counts the ops
 * delivered so far; id_count, dropped_ops and the adjustment counts
 * (unmatched_frees ...) are final once hb_reader_next has returned 0
 * (some formats know them at open). */
const hb_trace *hb_reader_trace(const hb_reader *reader);

/* Whether the trace carries a time per op. */
int hb_reader_timed(const hb_reader *reader);

/* With HB_READER_SLOTS: slots handed out so far; at the end, the most
 * blocks live at once (every slot delivered is below it). */
uint32_t hb_reader_slot_count(const hb_reader *reader);

void hb_reader_close(hb_reader *reader);

/* The figures of hb_trace_stats (hb_trace.h), computed as ops go by:
 * ops from a reader opened with HB_READER_SLOTS (the state is a size per
 * slot, so as large as the most blocks live at once). */
typedef struct hb_stats_stream {
  hb_trace_stats stats;
  uint64_t *slot_bytes; /* requested size of the block in each slot, 0 when free */
  uint64_t slot_capacity;
  uint64_t live_bytes, live_blocks;
} hb_stats_stream;
void hb_stats_stream_init(hb_stats_stream *stream);
/* -1 (out of memory) with *error set. */
int hb_stats_stream_add(hb_stats_stream *stream, const hb_op *ops, size_t count,
                        hb_error *error);
void hb_stats_stream_release(hb_stats_stream *stream);

/* Ops per batch the readers aim at: what a caller's buffer for
 * hb_reader_next should hold to take a batch in one call. */
#define HB_READER_BATCH_OPS 4096

#ifdef __cplusplus
}
#endif
#endif
