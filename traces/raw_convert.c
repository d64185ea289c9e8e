/* raw_convert.c — one process's raw recording into its .hbt (raw_convert.h).
 *
 * The conversion is two stages that only meet at the ops: reading
 * (decoding the raw records, merging the threads by seq, the address map:
 * raw.c) and writing (encoding each op into its thread's stream,
 * checksums, the file: hbt.c). By default the calling thread does both,
 * batch after batch. With writer_thread, a second thread writes while the
 * caller reads, so that the conversion would take as long as the longer
 * stage, reading (about 80% of the work); on the 2-vCPU machine where it
 * was measured, two threads took longer than one, the reader slowing down
 * by more than the writer took off it (FORMAT.md, "Conversion"): hence not
 * the default.
 *
 * Between the two threads, a ring of batches, in order: the reader fills
 * the batch its trace holds, then swaps that trace's arrays with those of
 * the next free slot (a batch passes without a copy); the writer takes the
 * oldest slot, encodes it and frees it. A full ring stops the reader, an
 * empty one the writer, so memory is the ring's whatever the recording's
 * length. The writer is opened on the first batch (timed when that batch
 * carries times: a recording without an op has none), as one thread did
 * it, and every batch reaches hb_hbt_writer_add in the order it was read:
 * the bytes written are those one thread writes.
 */
#define _GNU_SOURCE
#include "raw_convert.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One batch in the ring: the arrays of a trace, as hb_trace_push grows them. */
typedef struct batch {
  hb_op *ops;
  uint64_t *time_ns;
  size_t count, capacity;
  int timed; /* the reader's trace had times when it was handed over */
} batch;

typedef struct pipeline {
  pthread_mutex_t lock;
  pthread_cond_t filled, emptied;
  batch *slots;
  size_t slot_count, first, count; /* count slots from first hold batches */
  int read_all;                    /* no batch follows those in the ring */
  int stop;                        /* the reader failed: write no more */
  int write_failed;                /* the writer failed: read no more */
  const char *out;
  hb_hbt_writer *writer;           /* opened on the first batch */
  const char *program;             /* what the header will hold, for hb_hbt_writer_expect */
  uint32_t thread_count;
  int recording;
  hb_error write_error;
} pipeline;

static uint64_t clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int write_batch(pipeline *p, const batch *b, hb_error *error) {
  if (!p->writer &&
      (hb_hbt_writer_open(p->out, b->timed, &p->writer, error) ||
       hb_hbt_writer_expect(p->writer, p->program, p->thread_count, p->recording, error)))
    return -1;
  return hb_hbt_writer_add(p->writer, b->ops, b->time_ns, b->count, error);
}

/* The writer thread: the oldest batch, until the reader has handed over
 * its last one and the ring is empty (or the reader failed). */
static void *write_batches(void *argument) {
  pipeline *p = argument;
  pthread_mutex_lock(&p->lock);
  for (;;) {
    while (!p->count && !p->read_all && !p->stop) pthread_cond_wait(&p->filled, &p->lock);
    if (p->stop || !p->count) break;
    batch *b = &p->slots[p->first];
    pthread_mutex_unlock(&p->lock);
    int rc = write_batch(p, b, &p->write_error);
    pthread_mutex_lock(&p->lock);
    if (rc) {
      p->write_failed = 1;
      pthread_cond_signal(&p->emptied);
      break;
    }
    p->first = (p->first + 1) % p->slot_count;
    p->count--;
    pthread_cond_signal(&p->emptied);
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

/* Moves the trace's ops into the next free slot and gives the trace that
 * slot's arrays (emptied by the writer) to fill next. */
static void swap_into(batch *slot, hb_trace *trace) {
  batch full = {trace->ops, trace->time_ns, trace->op_count, trace->op_capacity,
                trace->time_ns != NULL};
  trace->ops = slot->ops;
  trace->time_ns = slot->time_ns;
  trace->op_capacity = slot->capacity;
  trace->op_count = 0;
  *slot = full;
}

/* Hands the trace's batch to the writer thread; waits while the ring is
 * full. -1 when the writer has failed. */
static int hand_over(pipeline *p, hb_trace *trace, int last) {
  pthread_mutex_lock(&p->lock);
  while (p->count == p->slot_count && !p->write_failed) pthread_cond_wait(&p->emptied, &p->lock);
  int rc = p->write_failed ? -1 : 0;
  if (!rc) {
    swap_into(&p->slots[(p->first + p->count) % p->slot_count], trace);
    p->count++;
    p->read_all = last;
    pthread_cond_signal(&p->filled);
  }
  pthread_mutex_unlock(&p->lock);
  return rc;
}

static void release_slots(pipeline *p) {
  for (size_t k = 0; k < p->slot_count; k++) {
    free(p->slots[k].ops);
    free(p->slots[k].time_ns);
  }
  free(p->slots);
}

/* hb_raw_convert from where the reader is, into writer (NULL: opened on
 * the first batch) which holds *ops ops already. */
static int convert_rest(hb_raw_reader *reader, hb_trace *trace, const char *out,
                        const hb_raw_convert_options *options, hb_hbt_writer *writer,
                        uint64_t *ops, hb_error *error) {
  size_t batch_ops = options->batch_ops ? options->batch_ops : HB_RAW_CONVERT_BATCH_OPS;
  /* The header's figures known from the opening: program, threads, and
   * whether the recorder's cost will follow (any record at all). */
  pipeline p = {.out = out, .writer = writer, .program = trace->program,
                .thread_count = trace->thread_count, .recording = trace->recorder_raw_bytes != 0};
  p.slot_count = options->ring_batches ? options->ring_batches : HB_RAW_CONVERT_RING_BATCHES;
  pthread_t writer_thread;
  int threaded = 0;
  if (options->writer_thread) {
    p.slots = calloc(p.slot_count, sizeof *p.slots);
    if (!p.slots) return hb_fail(error, "%s: out of memory", out);
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.filled, NULL);
    pthread_cond_init(&p.emptied, NULL);
    /* Without a second thread (none to be had), one does both. */
    threaded = pthread_create(&writer_thread, NULL, write_batches, &p) == 0;
  }
  int rc = 0;
  for (int ended = 0; !ended && !rc;) {
    trace->op_count = 0;
    rc = hb_raw_reader_fill(reader, trace, batch_ops, error);
    if (rc < 0) break;
    ended = rc == 1;
    rc = 0;
    *ops += trace->op_count;
    if (!threaded) {
      batch b = {trace->ops, trace->time_ns, trace->op_count, trace->op_capacity,
                 trace->time_ns != NULL};
      rc = write_batch(&p, &b, error);
    } else if (hand_over(&p, trace, ended)) {
      rc = -1; /* the writer's error, below */
    }
  }
  if (threaded) {
    pthread_mutex_lock(&p.lock);
    if (rc && !p.write_failed) p.stop = 1; /* the reader's error: the rest is not written */
    pthread_cond_signal(&p.filled);
    pthread_mutex_unlock(&p.lock);
    pthread_join(writer_thread, NULL);
    if (p.write_failed) {
      *error = p.write_error;
      rc = -1;
    }
  }
  if (p.slots) {
    release_slots(&p);
    pthread_mutex_destroy(&p.lock);
    pthread_cond_destroy(&p.filled);
    pthread_cond_destroy(&p.emptied);
  }
  if (rc || *ops < options->min_ops) {
    hb_hbt_writer_abort(p.writer);
    return rc;
  }
  trace->convert_ns = options->started_ns ? clock_ns() - options->started_ns : 0;
  return hb_hbt_writer_finish(p.writer, trace, error);
}

int hb_raw_convert(hb_raw_reader *reader, hb_trace *trace, const char *out,
                   const hb_raw_convert_options *options, uint64_t *ops, hb_error *error) {
  *ops = 0;
  return convert_rest(reader, trace, out, options, NULL, ops, error);
}

/* ---- while the program runs ---------------------------------------------- */

/* Ops per step of a conversion that follows a running program: small, so
 * that a step at idle priority ends soon after the program does. */
#define LIVE_BATCH_OPS 4096

struct hb_raw_live {
  hb_raw_reader *reader;
  hb_trace trace; /* the reader's batch, and the recording's figures */
  char *out;
  hb_hbt_writer *writer; /* opened on the first op */
  uint64_t ops;
  int failed;
};

int hb_raw_live_open(const char *raw, const char *out, hb_raw_live **live) {
  *live = NULL;
  hb_raw_live *l = calloc(1, sizeof *l);
  if (!l || !(l->out = strdup(out))) {
    free(l);
    return 2;
  }
  hb_error error;
  int rc = hb_raw_reader_open_following(raw, &l->trace, &l->reader, &error);
  if (rc) {
    free(l->out);
    free(l);
    return rc < 0 ? 2 : rc;
  }
  *live = l;
  return 0;
}

int hb_raw_live_step(hb_raw_live *l) {
  if (l->failed) return -1;
  hb_error error;
  l->trace.op_count = 0;
  int rc = hb_raw_reader_follow(l->reader, &l->trace, LIVE_BATCH_OPS, &error);
  if (rc >= 0 && l->trace.op_count) {
    /* As the conversion at the end would: timed (ops have times), the
     * header's size as the recording looks now (a wrong guess costs a
     * copy, not a byte). */
    if (!l->writer &&
        (hb_hbt_writer_open(l->out, l->trace.time_ns != NULL, &l->writer, &error) ||
         hb_hbt_writer_expect(l->writer, l->trace.program, l->trace.thread_count, 1, &error)))
      rc = -1;
    else if (hb_hbt_writer_add(l->writer, l->trace.ops, l->trace.time_ns, l->trace.op_count,
                               &error))
      rc = -1;
    l->ops += l->trace.op_count;
  }
  if (rc < 0) l->failed = 1; /* the conversion at the end reads it anew, and says why */
  return rc;
}

int hb_raw_live_usable(const hb_raw_live *live) { return live && !live->failed; }

uint64_t hb_raw_live_ops(const hb_raw_live *live) { return live->ops; }

int hb_raw_live_finish(hb_raw_live *l, const hb_raw_convert_options *options, hb_trace **trace,
                       uint64_t *ops, hb_error *error) {
  *trace = &l->trace;
  *ops = l->ops;
  if (hb_raw_reader_settle(l->reader, &l->trace, error)) return -1;
  hb_hbt_writer *writer = l->writer;
  l->writer = NULL; /* convert_rest finishes or aborts it */
  return convert_rest(l->reader, &l->trace, l->out, options, writer, ops, error);
}

void hb_raw_live_close(hb_raw_live *l) {
  if (!l) return;
  hb_hbt_writer_abort(l->writer);
  hb_raw_reader_close(l->reader);
  hb_trace_release(&l->trace);
  free(l->out);
  free(l);
}

/* A positive count from the environment, or `otherwise`. */
static size_t env_count(const char *name, size_t otherwise) {
  const char *text = getenv(name);
  if (!text || !*text) return otherwise;
  char *end;
  errno = 0;
  unsigned long long value = strtoull(text, &end, 10);
  return errno || *end || value == 0 || text[0] == '-' ? otherwise : (size_t)value;
}

void hb_raw_convert_options_from_env(hb_raw_convert_options *options) {
  options->batch_ops = env_count("HEAPBENCH_CONVERT_BATCH_OPS", options->batch_ops);
  options->ring_batches = env_count("HEAPBENCH_CONVERT_RING_BATCHES", options->ring_batches);
  size_t threads = env_count("HEAPBENCH_CONVERT_THREADS", 0);
  if (threads) options->writer_thread = threads >= 2;
}
