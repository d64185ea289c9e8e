/* reader_source.h — private to traces/: what one format's streaming reader
 * gives hb_reader (hb_reader.h; the core is reader.c).
 *
 * A format's opener checks the file's header, names the trace
 * (hb_trace_init on `batch`, then program, pid, thread_count and whatever
 * figures the header holds) and fills *source. Then the core calls fill
 * again and again with batch->op_count reset to 0: fill appends the next
 * ops with hb_trace_push (hb_trace_push_timed for a timed source), about
 * HB_READER_BATCH_OPS of them (more is fine: batch grows), and keeps the
 * figures in batch current (id_count: every id delivered is below it;
 * unmatched_frees ...). The core checks the ids, renumbers them and
 * counts ops: a source checks only what its format promises.
 *
 * A source holds memory for what is live and a bounded buffer, never for
 * the ops it has delivered.
 */
#ifndef HB_READER_SOURCE_H
#define HB_READER_SOURCE_H

#include "hb_reader.h"
#include "hb_trace.h"

typedef struct hb_reader_source {
  /* 0: ops appended, more may follow (an empty batch is allowed);
   * 1: the trace has ended (batch may hold its last ops; figures final);
   * -1 with *error set. */
  int (*fill)(void *state, hb_trace *batch, hb_error *error);
  void (*close)(void *state);
  void *state;
  int timed; /* ops come with times (hb_trace_push_timed) */
  /* The source numbers the blocks itself, a fresh id for each allocation
   * and only live ids after it (a raw recording: the builder, from the
   * addresses): the core checks each op's kind and thread, and keeps its
   * map of live ids only to renumber them (HB_READER_SLOTS). That map's
   * lookups were two thirds of `trace convert`'s time on a raw recording. */
  int ids_made;
} hb_reader_source;

/* The formats' openers: 0, or -1 with *error set (batch released, nothing
 * left open). */
int hb_rep_open(const char *path, hb_trace *batch, hb_reader_source *source, hb_error *error);
int hb_hbt_open(const char *path, hb_trace *batch, hb_reader_source *source, hb_error *error);
int hb_valgrind_open(const char *path, hb_trace *batch, hb_reader_source *source,
                     hb_error *error);
int hb_raw_open(const char *path, hb_trace *batch, hb_reader_source *source, hb_error *error);

/* The core (reader.c), for load.c: a reader of the file at read_path by
 * `opener`, its trace and messages naming shown_path (a decompressed copy
 * at read_path: messages say "shown_path (decompressed)"); temporary_fd,
 * when not -1, is closed with the reader, or here on failure. */
int hb_reader_create(const char *shown_path, const char *read_path, int temporary_fd,
                     int (*opener)(const char *, hb_trace *, hb_reader_source *, hb_error *),
                     unsigned flags, hb_reader **reader, hb_error *error);

/* For a format without a streaming reader yet: loads the whole trace with
 * `load` and hands it out batch by batch (memory: the whole trace). */
int hb_whole_open(const char *path, int (*load)(const char *, hb_trace *, hb_error *),
                  hb_trace *batch, hb_reader_source *source, hb_error *error);

#endif
