/* raw_reader.h — private to traces/: one process's raw recording (the
 * recorder's .hbraw files, one per thread) read as a stream of ops.
 *
 * Memory: a mapped window of each thread's file, the address map of the
 * blocks live at once (builder.h) and the caller's batch; never the
 * recording's length. hb_raw_load (hb_trace.h) is this reader filling one
 * trace to the end; `heapbench record` fills batches and writes each to
 * its .hbt as it goes (hbt_writer.h).
 */
#ifndef HB_RAW_READER_H
#define HB_RAW_READER_H

#include "hb_trace.h"

typedef struct hb_raw_reader hb_raw_reader;

/* Opens the recording path belongs to ("<prefix>.t<N>.hbraw": all its
 * threads; under another name, a one-thread recording alone) and checks
 * every thread file's header. Names `batch` (hb_trace_init) and sets
 * program, pid, thread_count, incomplete and recorder_raw_bytes. 0 and
 * *reader, or -1 with *error set (batch released, nothing left open). */
int hb_raw_reader_open(const char *path, hb_trace *batch, hb_raw_reader **reader,
                       hb_error *error);

/* Appends ops to batch, the one given to open (the address map counts
 * into it), until it holds at least `until` ops or the recording ends
 * (the caller may reset op_count between calls), and keeps its figures current
 * (id_count, dropped and kept counts, recorder_records). 0: more may
 * follow; 1: the recording has ended (figures final); -1 with *error set. */
int hb_raw_reader_fill(hb_raw_reader *reader, hb_trace *batch, size_t until, hb_error *error);

void hb_raw_reader_close(hb_raw_reader *reader);

#endif
