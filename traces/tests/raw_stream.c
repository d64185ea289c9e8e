/* raw_stream.c — the raw reader (raw.c) and the streaming .hbt writer on
 * raw recordings built here, so every op the reader must produce is known:
 * several threads with cross-thread frees, realloc pairs with another
 * thread's call in between, reused addresses, failed allocations and
 * unknown frees; small chunks (padding at nearly every chunk's end) and
 * chunks larger than the reader's mapped window (records that run across
 * a window's end); files of several windows.
 *
 * Checked: hb_raw_load gives exactly the expected ops, times and counts;
 * hb_reader in batches gives the same; the .hbt written batch by batch
 * reads back the same with the recorder's cost, and a trace without it
 * keeps the version-1 layout; damaged files are refused naming the offset.
 * `heapbench record`'s conversion (raw_convert.h: a reader and a writer
 * thread, batches through a ring) writes the same bytes as one thread,
 * with batches and rings down to one op and one slot, and stops cleanly
 * on a damaged recording or an output it cannot write. The .hbt writer
 * told the header's size in advance writes the same bytes, whether the
 * guess holds or not. A recording converted while it is written
 * (hb_raw_live_*: thread 0 followed as its file grows, in place, record
 * by record, until a second thread starts, the rest at the end) gives the
 * bytes of a conversion at the end.
 *
 * Usage: raw_stream TMPDIR
 */
#define _GNU_SOURCE
#include "hb_reader.h"
#include "hb_test.h"
#include "hb_trace.h"
#include "hbt_format.h"
#include "raw_convert.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define THREADS 3
#define START_NS 1000u

/* ---- the recording, built in memory ------------------------------------- */

typedef struct event {
  uint8_t kind, align_log2; /* HB_RAW_* */
  uint32_t thread;
  uint64_t ptr, size, time;
} event;

typedef struct recording {
  event *events; /* in seq order */
  size_t count, capacity;
  hb_op *ops;    /* expected, in trace order */
  uint64_t *op_times;
  size_t op_count, op_capacity;
  uint32_t next_id;
  uint64_t failed_allocs, unmatched_frees;
} recording;

static void add_event(recording *r, unsigned kind, uint32_t thread, uint64_t ptr, uint64_t size,
                      unsigned align_log2) {
  if (r->count == r->capacity) {
    r->capacity = r->capacity ? 2 * r->capacity : 4096;
    r->events = realloc(r->events, r->capacity * sizeof *r->events);
  }
  /* Times: 7 ns apart, so the expected time of an op is its event's. */
  r->events[r->count] = (event){(uint8_t)kind, (uint8_t)align_log2, thread, ptr, size,
                                START_NS + 7 * r->count};
  r->count++;
}

static void expect(recording *r, hb_op op) {
  if (r->op_count == r->op_capacity) {
    r->op_capacity = r->op_capacity ? 2 * r->op_capacity : 4096;
    r->ops = realloc(r->ops, r->op_capacity * sizeof *r->ops);
    r->op_times = realloc(r->op_times, r->op_capacity * sizeof *r->op_times);
  }
  r->op_times[r->op_count] = r->events[r->count - 1].time - START_NS;
  r->ops[r->op_count++] = op;
}

typedef struct live_block {
  uint64_t ptr;
  uint32_t id;
} live_block;

static uint64_t seed = 88172645463325252ull;
static uint64_t next_random(void) { /* xorshift64 */
  seed ^= seed << 13;
  seed ^= seed >> 7;
  seed ^= seed << 17;
  return seed;
}

/* `steps` calls from THREADS threads, the expected ops alongside; the
 * first `solo` from thread 0 alone. */
static void build_solo(recording *r, size_t steps, size_t solo) {
  memset(r, 0, sizeof *r);
  live_block *live = malloc(steps * sizeof *live);
  /* Addresses free for reuse: a step gives back at most two. */
  uint64_t *freed = malloc((2 * steps + 16) * sizeof *freed);
  size_t live_count = 0, freed_count = 0;
  uint64_t fresh = 0x10000;
  for (size_t step = 0; step < steps; step++) {
    uint32_t thread = step < solo ? 0 : (uint32_t)(next_random() % THREADS);
    unsigned choice = (unsigned)(next_random() % 100);
    uint64_t size = 1 + next_random() % (choice < 2 ? 1u << 20 : 200);
    /* Fresh addresses or ones freed before: the reader's map must forget
     * a freed address and take it again. */
    uint64_t ptr;
    if (freed_count && next_random() % 2) {
      size_t k = next_random() % freed_count;
      ptr = freed[k];
      freed[k] = freed[--freed_count];
    } else {
      ptr = fresh;
      fresh += 16 * (1 + next_random() % 64);
    }
    if (choice < 45 || live_count < 8) { /* malloc, calloc, aligned */
      unsigned kind = choice % 3 == 0 ? HB_RAW_CALLOC : choice % 7 == 0 ? HB_RAW_ALIGNED
                                                                       : HB_RAW_MALLOC;
      unsigned align = kind == HB_RAW_ALIGNED ? 4 + (unsigned)(next_random() % 9) : 0;
      add_event(r, kind, thread, ptr, size, align);
      hb_op op = {.kind = kind == HB_RAW_CALLOC ? HB_OP_CALLOC
                          : kind == HB_RAW_ALIGNED ? HB_OP_ALIGNED : HB_OP_MALLOC,
                  .align_log2 = (uint8_t)align, .thread = thread, .id = r->next_id++,
                  .size = size};
      expect(r, op);
      live[live_count++] = (live_block){ptr, op.id};
    } else if (choice < 85) { /* free a live block, often another thread's */
      freed[freed_count++] = ptr; /* unused */
      size_t k = next_random() % live_count;
      live_block b = live[k];
      live[k] = live[--live_count];
      add_event(r, HB_RAW_FREE, thread, b.ptr, 0, 0);
      expect(r, (hb_op){.kind = HB_OP_FREE, .thread = thread, .id = b.id});
      freed[freed_count++] = b.ptr;
    } else if (choice < 95) { /* realloc: begin, maybe another thread's malloc, end */
      live_block *b = &live[next_random() % live_count];
      uint64_t old = b->ptr;
      int moves = next_random() % 2;
      if (!moves) freed[freed_count++] = ptr; /* resized in place: ptr unused */
      add_event(r, HB_RAW_REALLOC_BEGIN, thread, old, size, 0);
      if (step >= solo && next_random() % 4 == 0) {
        /* Another thread's call between the two records; if the block
         * moves, that thread may already receive its old address. */
        uint32_t other = (thread + 1) % THREADS;
        uint64_t taken = moves ? old : fresh;
        if (!moves) fresh += 4096;
        add_event(r, HB_RAW_MALLOC, other, taken, 24, 0);
        expect(r, (hb_op){.kind = HB_OP_MALLOC, .thread = other, .id = r->next_id, .size = 24});
        live[live_count++] = (live_block){taken, r->next_id++};
      } else if (moves) {
        freed[freed_count++] = old;
      }
      add_event(r, HB_RAW_REALLOC_END, thread, moves ? ptr : old, size, 0);
      expect(r, (hb_op){.kind = HB_OP_REALLOC, .thread = thread, .id = b->id, .size = size});
      b->ptr = moves ? ptr : old; /* b stays valid: live only grew at its end */
    } else if (choice < 97) { /* free(NULL), realloc(NULL, n), realloc(p, 0) */
      freed[freed_count++] = ptr;
      if (choice == 95) {
        add_event(r, HB_RAW_FREE, thread, 0, 0, 0);
        expect(r, (hb_op){.kind = HB_OP_FREE, .thread = thread, .id = HB_NULL_ID});
      } else {
        size_t k = next_random() % live_count;
        live_block b = live[k];
        live[k] = live[--live_count];
        add_event(r, HB_RAW_REALLOC_BEGIN, thread, b.ptr, 0, 0);
        add_event(r, HB_RAW_REALLOC_END, thread, 0, 0, 0);
        expect(r, (hb_op){.kind = HB_OP_FREE, .flags = HB_FLAG_REALLOC_ZERO, .thread = thread,
                          .id = b.id});
        freed[freed_count++] = b.ptr;
      }
    } else if (choice < 98) { /* a realloc of NULL creates */
      add_event(r, HB_RAW_REALLOC_BEGIN, thread, 0, size, 0);
      add_event(r, HB_RAW_REALLOC_END, thread, ptr, size, 0);
      hb_op op = {.kind = HB_OP_REALLOC, .flags = HB_FLAG_FROM_NULL, .thread = thread,
                  .id = r->next_id++, .size = size};
      expect(r, op);
      live[live_count++] = (live_block){ptr, op.id};
    } else if (choice < 99) { /* an allocation that failed: dropped, counted */
      freed[freed_count++] = ptr;
      add_event(r, HB_RAW_MALLOC, thread, 0, size, 0);
      r->failed_allocs++;
    } else { /* a free of a pointer never seen: dropped, counted */
      freed[freed_count++] = ptr;
      add_event(r, HB_RAW_FREE, thread, 0x7f0000000000ull + 16 * step, 0, 0);
      r->unmatched_frees++;
    }
  }
  free(live);
  free(freed);
}

static void build(recording *r, size_t steps) { build_solo(r, steps, 0); }

/* ---- the raw files, as the recorder lays them out ------------------------ */

static unsigned char *put_varint(unsigned char *p, uint64_t value) {
  while (value >= 0x80) {
    *p++ = (unsigned char)(value | 0x80);
    value >>= 7;
  }
  *p++ = (unsigned char)value;
  return p;
}

static uint64_t zigzag(uint64_t difference) {
  return (difference << 1) ^ (uint64_t)((int64_t)difference >> 63);
}

/* Thread t's records among the recording's first `upto` events, as the
 * recorder lays them out in chunks of chunk_bytes (calloc'd: the caller
 * frees it), and the header that commits them; *used and *count: bytes
 * and records. The caller sets exited and threads_started. */
static unsigned char *encode_thread(const recording *r, uint32_t t, size_t upto, uint32_t chunk_bytes,
                                    hb_raw_header *header, size_t *used_bytes, uint64_t *records) {
  size_t capacity = r->count * 40 + chunk_bytes, used = 0;
  unsigned char *data = calloc(1, capacity);
  uint64_t previous_seq = UINT64_MAX, previous_time = START_NS, previous_ptr = 0, count = 0;
  for (size_t seq = 0; seq < upto; seq++) {
    const event *e = &r->events[seq];
    if (e->thread != t) continue;
    /* The recorder's rule: a record never straddles a chunk; zeros pad. */
    if (used % chunk_bytes > chunk_bytes - HB_RAW_MAX_RECORD_BYTES)
      used = (used / chunk_bytes + 1) * chunk_bytes;
    unsigned char *p = data + used;
    p = put_varint(p, (seq - previous_seq - 1) << 3 | e->kind);
    if (e->kind == HB_RAW_ALIGNED) *p++ = e->align_log2;
    p = put_varint(p, zigzag(e->time - previous_time));
    p = put_varint(p, zigzag(e->ptr - previous_ptr));
    if (hb_raw_event_has_size(e->kind)) p = put_varint(p, e->size);
    previous_seq = seq;
    previous_time = e->time;
    previous_ptr = e->ptr;
    used = (size_t)(p - data);
    count++;
  }
  memset(header, 0, sizeof *header);
  memcpy(header->magic, HB_RAW_MAGIC, 8);
  header->version = HB_RAW_VERSION;
  header->chunk_bytes = chunk_bytes;
  header->thread_index = t;
  header->pid = 4242;
  header->start_ns = START_NS;
  header->committed_bytes = used;
  header->record_count = count;
  strcpy(header->program, "rawtest");
  header->base_time = header->base_ns = START_NS;
  *used_bytes = used;
  *records = count;
  return data;
}

/* Writes DIR/NAME.t<N>.hbraw with chunk_bytes chunks; the total record
 * bytes and the record count. */
static void write_raw(const recording *r, const char *prefix, uint32_t chunk_bytes,
                      uint64_t *raw_bytes, uint64_t *records) {
  *raw_bytes = *records = 0;
  for (uint32_t t = 0; t < THREADS; t++) {
    hb_raw_header header;
    size_t used;
    uint64_t count;
    unsigned char *data = encode_thread(r, t, r->count, chunk_bytes, &header, &used, &count);
    header.threads_started = t == 0 ? THREADS : 0;
    header.exited = 1;
    char path[1200];
    snprintf(path, sizeof path, "%s.t%u.hbraw", prefix, t);
    FILE *file = fopen(path, "wb");
    unsigned char page[HB_RAW_HEADER_BYTES] = {0};
    memcpy(page, &header, sizeof header);
    HB_CHECK(file && fwrite(page, 1, sizeof page, file) == sizeof page &&
                 fwrite(data, 1, used, file) == used && fclose(file) == 0,
             "cannot write %s", path);
    free(data);
    *raw_bytes += used;
    *records += count;
  }
}

/* ---- checks ----------------------------------------------------------------- */

static int same_op(const hb_op *a, const hb_op *b) {
  return a->kind == b->kind && a->flags == b->flags && a->thread == b->thread && a->id == b->id &&
         a->size == b->size && a->align_log2 == b->align_log2;
}

/* The first op of got[0..count) that differs from the expected ones from
 * `first` on, or count. */
static size_t first_difference(const recording *r, size_t first, const hb_op *got,
                               const uint64_t *times, size_t count) {
  for (size_t i = 0; i < count; i++)
    if (first + i >= r->op_count || !same_op(&got[i], &r->ops[first + i]) ||
        (times && times[i] != r->op_times[first + i]))
      return i;
  return count;
}

/* The .hbt writer told the header's figures in advance (thread 0's stream
 * straight into the output) writes the bytes it writes untold, whether
 * its guess holds or not (then the stream is copied). */
static void check_expect(const char *name, const hb_trace *trace, const char *told,
                         const char *untold) {
  struct { const char *program; uint32_t threads; int recording; } guesses[] = {
      {trace->program, trace->thread_count, trace->recorder_records != 0}, /* right */
      {"another program", trace->thread_count, trace->recorder_records != 0},
      {trace->program, trace->thread_count + 1, trace->recorder_records != 0},
      {trace->program, trace->thread_count, trace->recorder_records == 0},
  };
  size_t want_bytes = 0;
  unsigned char *want = hb_test_slurp(untold, &want_bytes);
  for (size_t g = 0; g < sizeof guesses / sizeof guesses[0]; g++) {
    hb_hbt_writer *writer;
    hb_error error;
    int rc = hb_hbt_writer_open(told, trace->time_ns != NULL, &writer, &error) ||
             hb_hbt_writer_expect(writer, guesses[g].program, guesses[g].threads,
                                  guesses[g].recording, &error);
    /* In small steps, as a converter adds batches. */
    for (size_t i = 0; rc == 0 && i < trace->op_count; i += 777) {
      size_t n = trace->op_count - i < 777 ? trace->op_count - i : 777;
      rc = hb_hbt_writer_add(writer, trace->ops + i, trace->time_ns ? trace->time_ns + i : NULL,
                             n, &error);
    }
    rc = rc || hb_hbt_writer_finish(writer, trace, &error);
    HB_CHECK(rc == 0, "%s: guess %zu: %s", name, g, rc ? error.message : "");
    size_t got_bytes = 0;
    unsigned char *got = hb_test_slurp(told, &got_bytes);
    HB_CHECK(want && got && want_bytes > 0 && got_bytes == want_bytes &&
                 memcmp(got, want, want_bytes) == 0,
             "%s: guess %zu: %zu bytes differ from the %zu written untold", name, g, got_bytes,
             want_bytes);
    free(got);
  }
  free(want);
}

static void check_recording(const char *tmpdir, const char *name, size_t steps,
                            uint32_t chunk_bytes) {
  recording r;
  build(&r, steps);
  char prefix[1100], t0[1200], hbt[1200];
  snprintf(prefix, sizeof prefix, "%s/%s", tmpdir, name);
  snprintf(t0, sizeof t0, "%s.t0.hbraw", prefix);
  snprintf(hbt, sizeof hbt, "%s.hbt", prefix);
  uint64_t raw_bytes, records;
  write_raw(&r, prefix, chunk_bytes, &raw_bytes, &records);

  /* Whole. */
  hb_trace trace;
  hb_error error;
  int rc = hb_raw_load(t0, &trace, &error);
  HB_CHECK(rc == 0, "%s: %s", name, rc ? error.message : "");
  if (rc) return;
  HB_CHECK(trace.op_count == r.op_count, "%s: %zu ops, want %zu", name, trace.op_count,
           r.op_count);
  size_t at = first_difference(&r, 0, trace.ops, trace.time_ns, trace.op_count);
  HB_CHECK(at == trace.op_count, "%s: op %zu differs (kind %u thread %u id %u size %" PRIu64
           ", want kind %u thread %u id %u size %" PRIu64 ")", name, at, trace.ops[at].kind,
           trace.ops[at].thread, trace.ops[at].id, trace.ops[at].size, r.ops[at].kind,
           r.ops[at].thread, r.ops[at].id, r.ops[at].size);
  HB_CHECK(trace.thread_count == THREADS && trace.id_count == r.next_id &&
               trace.failed_allocs == r.failed_allocs &&
               trace.unmatched_frees == r.unmatched_frees && trace.unmatched_reallocs == 0 &&
               trace.reused_addresses == 0 && !trace.incomplete && trace.pid == 4242,
           "%s: figures: %u threads, %u ids (want %u), %" PRIu64 " failed (want %" PRIu64
           "), %" PRIu64 " unmatched (want %" PRIu64 "), %" PRIu64 " reused", name,
           trace.thread_count, trace.id_count, r.next_id, trace.failed_allocs, r.failed_allocs,
           trace.unmatched_frees, r.unmatched_frees, trace.reused_addresses);
  HB_CHECK(trace.recorder_records == records && trace.recorder_raw_bytes == raw_bytes &&
               trace.convert_ns == 0,
           "%s: recorder cost %" PRIu64 " records (want %" PRIu64 "), %" PRIu64
           " bytes (want %" PRIu64 ")", name, trace.recorder_records, records,
           trace.recorder_raw_bytes, raw_bytes);

  /* In batches through hb_reader, written batch by batch with the cost. */
  hb_reader *reader;
  rc = hb_reader_open(t0, 0, &reader, &error);
  HB_CHECK(rc == 0, "%s: reader: %s", name, rc ? error.message : "");
  hb_hbt_writer *writer;
  HB_CHECK(hb_hbt_writer_open(hbt, 1, &writer, &error) == 0, "%s: %s", name, error.message);
  hb_op ops[1000];
  uint64_t times[1000];
  size_t delivered = 0, batches = 0;
  long got = 0;
  while (rc == 0 && (got = hb_reader_next(reader, ops, times, 1000, &error)) > 0) {
    size_t k = first_difference(&r, delivered, ops, times, (size_t)got);
    HB_CHECK(k == (size_t)got, "%s: reader op %zu differs", name, delivered + k);
    HB_CHECK(hb_hbt_writer_add(writer, ops, times, (size_t)got, &error) == 0, "%s: %s", name,
             error.message);
    delivered += (size_t)got;
    batches++;
  }
  HB_CHECK(rc == 0 && got == 0 && delivered == r.op_count && batches > 10,
           "%s: reader: %zu ops in %zu batches: %s", name, delivered, batches,
           got < 0 ? error.message : "");
  hb_trace meta = *hb_reader_trace(reader);
  meta.convert_ns = 123456789;
  HB_CHECK(hb_hbt_writer_finish(writer, &meta, &error) == 0, "%s: %s", name, error.message);
  if (rc == 0) hb_reader_close(reader);
  hb_trace back;
  rc = hb_trace_load(hbt, &back, &error);
  HB_CHECK(rc == 0, "%s: .hbt: %s", name, rc ? error.message : "");
  if (rc == 0) {
    HB_CHECK(back.op_count == r.op_count &&
                 first_difference(&r, 0, back.ops, back.time_ns, back.op_count) == back.op_count,
             "%s: the .hbt's ops differ", name);
    HB_CHECK(back.recorder_records == records && back.recorder_raw_bytes == raw_bytes &&
                 back.convert_ns == 123456789 && back.id_count == r.next_id &&
                 back.unmatched_frees == r.unmatched_frees,
             "%s: the .hbt's figures: %" PRIu64 " records, %" PRIu64 " bytes, %" PRIu64 " ns",
             name, back.recorder_records, back.recorder_raw_bytes, back.convert_ns);
    char told[1300];
    snprintf(told, sizeof told, "%s.told.hbt", prefix);
    check_expect(name, &back, told, hbt);
    /* Without the recorder's cost: the version-1 layout, flag bit 2 clear. */
    back.recorder_records = 0;
    HB_CHECK(hb_hbt_write(&back, hbt, &error) == 0, "%s: %s", name, error.message);
    FILE *file = fopen(hbt, "rb");
    unsigned char head[HB_HBT_FIXED_HEADER_BYTES] = {0};
    HB_CHECK(file && fread(head, 1, sizeof head, file) == sizeof head, "%s: reread", name);
    if (file) fclose(file);
    uint32_t header_bytes = head[12] | head[13] << 8 | (uint32_t)head[14] << 16;
    HB_CHECK(head[16] == HB_HBT_FLAG_TIMESTAMPS &&
                 header_bytes == 76 + strlen("rawtest") + 24 * THREADS + 4,
             "%s: without the cost: flags 0x%x, header %u bytes", name, head[16], header_bytes);
    hb_trace_release(&back);
  }
  hb_trace_release(&trace);
  free(r.events);
  free(r.ops);
  free(r.op_times);
}

/* record's conversion of raw (a .t0.hbraw) into out with the options; the
 * ops it counted, or -1 with *error set. */
static long long convert(const char *raw, const char *out, const hb_raw_convert_options *options,
                         hb_error *error) {
  hb_trace trace;
  hb_raw_reader *reader;
  if (hb_raw_reader_open(raw, &trace, &reader, error)) return -1;
  uint64_t ops;
  int rc = hb_raw_convert(reader, &trace, out, options, &ops, error);
  hb_raw_reader_close(reader);
  hb_trace_release(&trace);
  return rc ? -1 : (long long)ops;
}

/* The conversion in one thread is the reference: it reads back as the
 * expected ops; two threads, whatever the batch and ring sizes, write the
 * same bytes (a batch dropped, repeated or swapped in the ring would
 * change them: the streams and their checksums). */
static void check_convert(const char *tmpdir, const char *name, size_t steps,
                          uint32_t chunk_bytes, const hb_raw_convert_options *variants,
                          size_t variant_count) {
  recording r;
  build(&r, steps);
  char prefix[1100], t0[1200], reference[1200], out[1200];
  snprintf(prefix, sizeof prefix, "%s/%s", tmpdir, name);
  snprintf(t0, sizeof t0, "%s.t0.hbraw", prefix);
  snprintf(reference, sizeof reference, "%s.one.hbt", prefix);
  snprintf(out, sizeof out, "%s.two.hbt", prefix);
  uint64_t raw_bytes, records;
  write_raw(&r, prefix, chunk_bytes, &raw_bytes, &records);
  hb_error error;
  hb_raw_convert_options one = {0};
  long long ops = convert(t0, reference, &one, &error);
  HB_CHECK(ops == (long long)r.op_count, "%s: one thread: %lld ops, want %zu: %s", name, ops,
           r.op_count, ops < 0 ? error.message : "");
  hb_trace back;
  int rc = hb_trace_load(reference, &back, &error);
  HB_CHECK(rc == 0, "%s: one thread: %s", name, rc ? error.message : "");
  if (rc == 0) {
    HB_CHECK(back.op_count == r.op_count &&
                 first_difference(&r, 0, back.ops, back.time_ns, back.op_count) == back.op_count,
             "%s: one thread: the .hbt's ops differ", name);
    HB_CHECK(back.recorder_records == records && back.recorder_raw_bytes == raw_bytes &&
                 back.convert_ns == 0 && back.id_count == r.next_id,
             "%s: one thread: figures", name);
    hb_trace_release(&back);
  }
  size_t want_bytes = 0, got_bytes = 0;
  unsigned char *want = hb_test_slurp(reference, &want_bytes);
  for (size_t v = 0; v < variant_count; v++) {
    unlink(out);
    ops = convert(t0, out, &variants[v], &error);
    HB_CHECK(ops == (long long)r.op_count, "%s: batches of %zu, ring of %zu: %lld ops: %s", name,
             variants[v].batch_ops, variants[v].ring_batches, ops, ops < 0 ? error.message : "");
    unsigned char *got = hb_test_slurp(out, &got_bytes);
    HB_CHECK(want && got && want_bytes > 0 && got_bytes == want_bytes &&
                 memcmp(got, want, want_bytes) == 0,
             "%s: batches of %zu, ring of %zu: %zu bytes, not the %zu of one thread", name,
             variants[v].batch_ops, variants[v].ring_batches, got_bytes, want_bytes);
    free(got);
  }
  /* Fewer ops than min_ops: nothing written. */
  unlink(out);
  hb_raw_convert_options many = {.min_ops = r.op_count + 1, .batch_ops = 100};
  ops = convert(t0, out, &many, &error);
  HB_CHECK(ops == (long long)r.op_count && access(out, F_OK) != 0,
           "%s: min_ops: %lld ops, file written: %d", name, ops, access(out, F_OK) == 0);
  free(want);
  free(r.events);
  free(r.ops);
  free(r.op_times);
}

/* The recording's files as the recorder has them after its first `upto`
 * events, written in place as the recorder writes them (the reader may
 * have them mapped): records, then the header that commits them. Thread
 * 0's file only until `final`, where every thread's is whole and the
 * process has exited. */
static void write_raw_upto(const recording *r, const char *prefix, uint32_t chunk_bytes,
                           size_t upto, int final) {
  uint32_t started = 1;
  for (size_t seq = 0; seq < upto; seq++)
    if (r->events[seq].thread + 1 > started) started = r->events[seq].thread + 1;
  for (uint32_t t = 0; t < (final ? THREADS : 1); t++) {
    hb_raw_header header;
    size_t used;
    uint64_t count;
    unsigned char *data = encode_thread(r, t, upto, chunk_bytes, &header, &used, &count);
    header.threads_started = t == 0 ? (final ? THREADS : started) : 0;
    header.exited = (uint32_t)final;
    char path[1200];
    snprintf(path, sizeof path, "%s.t%u.hbraw", prefix, t);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    struct stat st;
    /* Grown a chunk at a time, never shrunk, as the recorder does. */
    off_t size = HB_RAW_HEADER_BYTES + (off_t)((used / chunk_bytes + 1) * chunk_bytes);
    unsigned char page[HB_RAW_HEADER_BYTES] = {0};
    memcpy(page, &header, sizeof header);
    HB_CHECK(fd >= 0 && fstat(fd, &st) == 0 && (st.st_size >= size || ftruncate(fd, size) == 0) &&
                 pwrite(fd, data, used, HB_RAW_HEADER_BYTES) == (ssize_t)used &&
                 pwrite(fd, page, sizeof page, 0) == (ssize_t)sizeof page && close(fd) == 0,
             "cannot write %s", path);
    free(data);
  }
}

/* A recording converted while it is written: thread 0 alone for `solo`
 * of `steps` events, its file written in place at checkpoints, the
 * conversion following it between them (until the other threads start:
 * it must then stop short of what it cannot place), then the rest at the
 * end: the bytes of the conversion of the finished recording. */
static void check_follow(const char *tmpdir, const char *name, size_t steps, size_t solo,
                         uint32_t chunk_bytes, size_t checkpoints) {
  recording r;
  build_solo(&r, steps, solo);
  char prefix[1100], t0[1200], followed[1200], reference[1200];
  snprintf(prefix, sizeof prefix, "%s/%s", tmpdir, name);
  snprintf(t0, sizeof t0, "%s.t0.hbraw", prefix);
  snprintf(followed, sizeof followed, "%s.followed.hbt", prefix);
  snprintf(reference, sizeof reference, "%s.hbt", prefix);
  for (uint32_t t = 0; t < THREADS; t++) { /* the recorder starts with empty files */
    char path[1200];
    snprintf(path, sizeof path, "%s.t%u.hbraw", prefix, t);
    unlink(path);
  }
  unlink(followed);
  hb_raw_live *live = NULL;
  int caught_up = 0, stopped = 0;
  uint64_t before_end = 0;
  for (size_t c = 1; c <= checkpoints; c++) {
    size_t upto = r.count * c / (checkpoints + 1);
    write_raw_upto(&r, prefix, chunk_bytes, upto, 0);
    if (!live) {
      int rc = hb_raw_live_open(t0, followed, &live);
      HB_CHECK(rc == 0 || (rc == 1 && upto == 0), "%s: following at event %zu: %d", name, upto,
               rc);
      if (rc) continue;
    }
    for (int rc = 0; rc == 0;) {
      rc = hb_raw_live_step(live);
      HB_CHECK(rc >= 0, "%s: following failed at event %zu", name, upto);
      caught_up += rc == 1;
      stopped += rc == 2;
    }
    before_end = hb_raw_live_ops(live);
  }
  write_raw_upto(&r, prefix, chunk_bytes, r.count, 1);
  HB_CHECK(live && caught_up > 0 && before_end > 0,
           "%s: following never caught up (%d) or converted nothing (%" PRIu64 " ops)", name,
           caught_up, before_end);
  HB_CHECK(solo >= steps || stopped > 0, "%s: following did not stop at the second thread",
           name);
  if (!live) {
    free(r.events);
    free(r.ops);
    free(r.op_times);
    return;
  }
  hb_raw_convert_options options = {0};
  hb_trace *trace;
  uint64_t ops;
  hb_error error;
  int rc = hb_raw_live_finish(live, &options, &trace, &ops, &error);
  HB_CHECK(rc == 0 && ops == r.op_count && trace->thread_count == THREADS && !trace->incomplete,
           "%s: finished: %s, %" PRIu64 " ops (want %zu)", name, rc ? error.message : "ok", ops,
           r.op_count);
  hb_raw_live_close(live);
  hb_raw_convert_options one = {0};
  long long whole = convert(t0, reference, &one, &error);
  HB_CHECK(whole == (long long)r.op_count, "%s: converted whole: %s", name,
           whole < 0 ? error.message : "");
  size_t want_bytes = 0, got_bytes = 0;
  unsigned char *want = hb_test_slurp(reference, &want_bytes), *got = hb_test_slurp(followed, &got_bytes);
  HB_CHECK(want && got && want_bytes > 0 && got_bytes == want_bytes &&
               memcmp(got, want, want_bytes) == 0,
           "%s: followed, %zu bytes differ from the %zu converted whole", name, got_bytes,
           want_bytes);
  free(want);
  free(got);
  free(r.events);
  free(r.ops);
  free(r.op_times);
}

/* A failure on either side stops both threads, says why, and writes
 * nothing: a record damaged past the first batches (the reader), an output
 * directory that does not exist (the writer, on its first batch). */
static void check_convert_failures(const char *tmpdir) {
  recording r;
  build(&r, 20000);
  char prefix[1100], t0[1200], t1[1200], out[1200];
  snprintf(prefix, sizeof prefix, "%s/convert-damaged", tmpdir);
  snprintf(t0, sizeof t0, "%s.t0.hbraw", prefix);
  snprintf(t1, sizeof t1, "%s.t1.hbraw", prefix);
  snprintf(out, sizeof out, "%s.hbt", prefix);
  uint64_t raw_bytes, records;
  write_raw(&r, prefix, 4096, &raw_bytes, &records);
  FILE *file = fopen(t1, "r+b"); /* the 3rd chunk's first record: event 7 */
  HB_CHECK(file && fseek(file, HB_RAW_HEADER_BYTES + 2 * 4096, SEEK_SET) == 0 &&
               fputc(0x07, file) == 0x07 && fclose(file) == 0,
           "damage");
  hb_raw_convert_options small = {.batch_ops = 16, .ring_batches = 2, .writer_thread = 1};
  hb_error error;
  unlink(out);
  long long ops = convert(t0, out, &small, &error);
  HB_CHECK(ops < 0 && strstr(error.message, t1) && strstr(error.message, "bad record"),
           "damaged: %s", ops < 0 ? error.message : "converted");
  HB_CHECK(access(out, F_OK) != 0, "damaged: %s written", out);

  write_raw(&r, prefix, 4096, &raw_bytes, &records);
  char nowhere[1300];
  snprintf(nowhere, sizeof nowhere, "%s/no-such-directory/out.hbt", tmpdir);
  ops = convert(t0, nowhere, &small, &error);
  HB_CHECK(ops < 0 && strstr(error.message, "no-such-directory") &&
               strstr(error.message, "cannot create"),
           "unwritable: %s", ops < 0 ? error.message : "converted");
  free(r.events);
  free(r.ops);
  free(r.op_times);
}

/* A damaged recording is refused with its file and offset named. */
static void check_damaged(const char *tmpdir) {
  recording r;
  build(&r, 20000);
  char prefix[1100], t0[1200], t1[1200];
  snprintf(prefix, sizeof prefix, "%s/damaged", tmpdir);
  snprintf(t0, sizeof t0, "%s.t0.hbraw", prefix);
  snprintf(t1, sizeof t1, "%s.t1.hbraw", prefix);
  uint64_t raw_bytes, records;
  hb_trace trace;
  hb_error error;

  write_raw(&r, prefix, 4096, &raw_bytes, &records);
  HB_CHECK(truncate(t1, HB_RAW_HEADER_BYTES + 5000) == 0, "truncate");
  int rc = hb_raw_load(t0, &trace, &error);
  HB_CHECK(rc != 0 && strstr(error.message, t1) && strstr(error.message, "offset 9096") &&
               strstr(error.message, "committed bytes"),
           "cut records: %s", rc ? error.message : "accepted");
  if (rc == 0) hb_trace_release(&trace);

  write_raw(&r, prefix, 4096, &raw_bytes, &records);
  FILE *file = fopen(t1, "r+b"); /* the 3rd chunk's first record: event 7 */
  HB_CHECK(file && fseek(file, HB_RAW_HEADER_BYTES + 2 * 4096, SEEK_SET) == 0 &&
               fputc(0x07, file) == 0x07 && fclose(file) == 0,
           "damage");
  rc = hb_raw_load(t0, &trace, &error);
  HB_CHECK(rc != 0 && strstr(error.message, t1) && strstr(error.message, "offset 12288") &&
               strstr(error.message, "bad record"),
           "bad event: %s", rc ? error.message : "accepted");
  if (rc == 0) hb_trace_release(&trace);
  free(r.events);
  free(r.ops);
  free(r.op_times);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: raw_stream TMPDIR\n");
    return 2;
  }
  mkdir(argv[1], 0755);
  /* Small chunks: padding at nearly every chunk's end. */
  check_recording(argv[1], "small-chunks", 50000, 4096);
  /* About 6 MiB per thread: more than a mapped window each, and chunks
   * larger than a window, so records run across a window's end. */
  check_recording(argv[1], "long", 2400000, 16u << 20);
  check_damaged(argv[1]);
  /* Batches and rings down to one op and one slot, where every hand-over
   * waits on the other thread. */
  const hb_raw_convert_options tiny[] = {
      {.batch_ops = 1, .ring_batches = 1, .writer_thread = 1},
      {.batch_ops = 7, .ring_batches = 2, .writer_thread = 1},
      {.batch_ops = 13, .ring_batches = 3, .writer_thread = 1},
      {.batch_ops = 4096, .ring_batches = 1, .writer_thread = 1},
      {.writer_thread = 1}, {.batch_ops = 5}};
  check_convert(argv[1], "convert-small", 50000, 4096, tiny, sizeof tiny / sizeof tiny[0]);
  const hb_raw_convert_options usual[] = {{.writer_thread = 1},
                                          {.batch_ops = 100, .ring_batches = 2, .writer_thread = 1}};
  check_convert(argv[1], "convert-long", 400000, 1u << 20, usual,
                sizeof usual / sizeof usual[0]);
  check_convert_failures(argv[1]);
  /* Followed record by record across small chunks (padding at nearly
   * every chunk's end), one thread throughout, then a second after a
   * while; in files larger than a mapped window. */
  check_follow(argv[1], "follow-solo", 30000, 30000, 4096, 40);
  check_follow(argv[1], "follow-threads", 60000, 20000, 4096, 40);
  check_follow(argv[1], "follow-long", 1200000, 900000, 1u << 20, 12);
  return hb_test_exit("raw_stream");
}
