/* raw_convert.h — private to traces/: one process's raw recording written
 * as its .hbt, the step `heapbench record` waits for once the program has
 * ended (record_cmd.c). The raw reader (raw_reader.h) fills batches of ops
 * that the .hbt writer (hb_trace.h) encodes, in the calling thread; or, on
 * request, a second thread encodes and writes them, batches passing in
 * order through a small ring: the file is the same bytes either way.
 *
 * Memory: the reader's, the writer's and the ring's batches, never the
 * recording's length.
 */
#ifndef HB_RAW_CONVERT_H
#define HB_RAW_CONVERT_H

#include "hb_trace.h"
#include "raw_reader.h"

/* Ops per batch: 384 KiB with their times, in cache, whatever the
 * recording's length; large enough that handing a batch to a writer thread
 * (a wake-up of it, a few µs) is rare next to the work on it. */
#define HB_RAW_CONVERT_BATCH_OPS 16384
/* Batches between the reader and the writer: enough that neither waits
 * on the other's bursts (a window mapped, a buffer spilled). */
#define HB_RAW_CONVERT_RING_BATCHES 4

typedef struct hb_raw_convert_options {
  unsigned long min_ops; /* a recording of fewer ops is not written (out left alone) */
  size_t batch_ops;      /* 0: HB_RAW_CONVERT_BATCH_OPS */
  size_t ring_batches;   /* 0: HB_RAW_CONVERT_RING_BATCHES */
  int writer_thread;     /* encode and write in a second thread; 0: the caller does both,
                            which was the faster where measured (FORMAT.md, "Conversion") */
  uint64_t started_ns;   /* CLOCK_MONOTONIC when the reader was opened: the trace's
                            convert_ns counts from it; 0: not measured (convert_ns 0) */
} hb_raw_convert_options;

/* Streams the recording `reader` reads (opened with `trace` as its batch)
 * into out. trace ends up with every figure of the recording (its ops: the
 * last batch only); *ops counts them all. Nothing is written when they are
 * fewer than options->min_ops. 0, or -1 with *error set (out left alone). */
int hb_raw_convert(hb_raw_reader *reader, hb_trace *trace, const char *out,
                   const hb_raw_convert_options *options, uint64_t *ops, hb_error *error);

/* ---- While the program runs --------------------------------------------
 * `heapbench record` can convert the main process's recording while the
 * program runs (HEAPBENCH_RECORD_FOLLOW=1, record_cmd.c), on idle CPU
 * time, as far as the reader can follow it (hb_raw_reader_open_following:
 * one thread so far, times in ns); what is left once the program has ended
 * is converted then, into the same file, the same bytes as a conversion
 * begun at the end. */
typedef struct hb_raw_live hb_raw_live;
/* Starts following the recording raw (its .t0.hbraw) into out: 0 and *live;
 * 1: not yet (try again); 2: it cannot be followed (convert it at the end). */
int hb_raw_live_open(const char *raw, const char *out, hb_raw_live **live);
/* Converts the next batch of what the recording holds: 0, more may be
 * there; 1, all there is for now; 2, all there will be until the program's
 * end; -1, it failed (hb_raw_live_usable is 0: convert anew at the end,
 * which says why). */
int hb_raw_live_step(hb_raw_live *live);
int hb_raw_live_usable(const hb_raw_live *live);
/* Ops converted so far. */
uint64_t hb_raw_live_ops(const hb_raw_live *live);
/* Once the program has ended: the rest of the recording, as hb_raw_convert
 * (options->started_ns: convert_ns counts from it); *trace is the
 * recording's (owned by live). 0, or -1 with *error set. */
int hb_raw_live_finish(hb_raw_live *live, const hb_raw_convert_options *options, hb_trace **trace,
                       uint64_t *ops, hb_error *error);
void hb_raw_live_close(hb_raw_live *live);

/* The options with the environment's HEAPBENCH_CONVERT_BATCH_OPS,
 * HEAPBENCH_CONVERT_RING_BATCHES and HEAPBENCH_CONVERT_THREADS (2: a
 * writer thread) applied: knobs for the tests (tiny batches and ring) and
 * for measuring (one thread against two in the same build). A value that
 * is not a positive number is ignored. */
void hb_raw_convert_options_from_env(hb_raw_convert_options *options);

#endif
