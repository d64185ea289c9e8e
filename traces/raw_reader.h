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

/* Following a recording while its process runs (`heapbench record`
 * converts while the program runs): opens the recording path belongs to
 * if its thread 0 has stored a record, times them in ns and is the only
 * thread so far. 0 and *reader as hb_raw_reader_open gives (but the trace's
 * figures are those of thread 0 so far); 1: not yet (try again later); 2:
 * it cannot be followed (ticks, threads, a name not <prefix>.t<N>.hbraw):
 * read it at its end. Its errors are left to that reading. */
int hb_raw_reader_open_following(const char *path, hb_trace *batch, hb_raw_reader **reader,
                                 hb_error *error);
/* Appends to batch, as hb_raw_reader_fill, the ops the recording holds so
 * far: 0, batch holds `until`; 1, it holds all there is for now; 2, all
 * there will be until hb_raw_reader_settle (a second thread started); -1
 * with *error set. */
int hb_raw_reader_follow(hb_raw_reader *reader, hb_trace *batch, size_t until, hb_error *error);
/* Once the process has ended: reads every thread's header, as opening the
 * finished recording would, and goes on where following stopped: then
 * hb_raw_reader_fill gives the rest. The trace's figures are then the
 * whole recording's. No-op for a reader opened on a finished recording.
 * 0, or -1 with *error set. */
int hb_raw_reader_settle(hb_raw_reader *reader, hb_trace *batch, hb_error *error);

#endif
