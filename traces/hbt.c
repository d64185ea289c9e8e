/* hbt.c — reader and writer of heapbench's binary trace format (.hbt).
 * The layout is specified in FORMAT.md; this file is the reference
 * implementation of that text, so the two change together.
 *
 * Records live in one stream per thread. Each record carries the gap to
 * its thread's previous record in the global order, so a reader decodes
 * each stream alone and knows each op's global position; every other
 * field is a delta against the same thread's previous record, which keeps
 * most records at 3-6 bytes. Reader and writer both stream (below).
 */
#include "hb_trace.h"
#include "reader_source.h"
#include "hbt_format.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- little-endian fields and varints ------------------------------------ */

static void put_le(unsigned char *p, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(value >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; i++) value |= (uint64_t)p[i] << (8 * i);
  return value;
}

/* A header or thread-entry field by its name in hbt_format.h. */
#define GET_FIELD(base, name) get_le((base) + HB_HBT_##name##_OFFSET, HB_HBT_##name##_WIDTH)
#define PUT_FIELD(base, name, value) \
  put_le((base) + HB_HBT_##name##_OFFSET, (value), HB_HBT_##name##_WIDTH)

/* header_bytes, as FORMAT.md defines it: 76 + P + 24 * T (+ 24 when flags
 * say the recorder's cost is there) + 4. */
static uint64_t header_bytes_for(uint64_t program_bytes, uint32_t threads, uint32_t flags) {
  return HB_HBT_FIXED_HEADER_BYTES + program_bytes + (uint64_t)threads * HB_HBT_THREAD_ENTRY_BYTES +
         ((flags & HB_HBT_FLAG_RECORDING) ? HB_HBT_RECORDING_BYTES : 0) + HB_HBT_HEADER_CRC_BYTES;
}

static uint64_t zigzag(int64_t value) { return ((uint64_t)value << 1) ^ (uint64_t)(value >> 63); }
static int64_t unzigzag(uint64_t value) { return (int64_t)(value >> 1) ^ -(int64_t)(value & 1); }

typedef struct buffer {
  unsigned char *data;
  size_t length, capacity;
} buffer;

static int buffer_reserve(buffer *b, size_t more) {
  if (b->length + more <= b->capacity) return 0;
  size_t capacity = b->capacity ? b->capacity : 4096;
  while (capacity < b->length + more) capacity *= 2;
  unsigned char *data = realloc(b->data, capacity);
  if (!data) return -1;
  b->data = data;
  b->capacity = capacity;
  return 0;
}

/* A varint at p (the caller reserved 10 bytes); the byte after it. */
static unsigned char *put_varint_at(unsigned char *p, uint64_t value) {
  while (value >= 0x80) {
    *p++ = (unsigned char)(value | 0x80);
    value >>= 7;
  }
  *p++ = (unsigned char)value;
  return p;
}

/* 0 and the value, or -1 when the varint runs past end or past 64 bits. */
static int get_varint(const unsigned char **cursor, const unsigned char *end, uint64_t *value) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*cursor >= end) return -1;
    unsigned char byte = *(*cursor)++;
    if (shift == 63 && byte > 1) return -1;
    v |= (uint64_t)(byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      *value = v;
      return 0;
    }
  }
  return -1;
}

/* ---- per-thread coding state --------------------------------------------- */

typedef struct stream_state {
  int64_t previous_index;   /* global index of the thread's previous record; -1 at start */
  int64_t last_created_id;  /* id of the thread's previous creating record; -1 at start */
  uint64_t previous_time_ns;
} stream_state;

static const stream_state stream_start = {-1, -1, 0};

static int code_of(const hb_op *op) {
  switch (op->kind) {
  case HB_OP_MALLOC: return HB_HBT_MALLOC;
  case HB_OP_CALLOC: return HB_HBT_CALLOC;
  case HB_OP_ALIGNED: return HB_HBT_ALIGNED;
  case HB_OP_REALLOC:
    return (op->flags & HB_FLAG_FROM_NULL) ? HB_HBT_REALLOC_FROM_NULL : HB_HBT_REALLOC;
  default:
    if (op->id == HB_NULL_ID) return HB_HBT_FREE_NULL;
    return (op->flags & HB_FLAG_REALLOC_ZERO) ? HB_HBT_FREE_BY_REALLOC_ZERO : HB_HBT_FREE;
  }
}

static int code_creates(int code) { return code <= HB_HBT_ALIGNED || code == HB_HBT_REALLOC_FROM_NULL; }
static int code_has_size(int code) { return code <= HB_HBT_REALLOC_FROM_NULL; }

/* ---- writer ----------------------------------------------------------------- */

/* The writer streams: each thread's records go to a buffer of its own;
 * a full buffer is appended to a spill file (unlinked, beside the output)
 * and remembered as a piece of that thread's stream. At the end the
 * header, known only then, is written, then each thread's pieces in
 * order, into a file beside the target that is renamed over it: a reader
 * never sees half a trace. Memory: a buffer per thread and a list of
 * pieces, whatever the trace's length; disk: the trace twice, briefly.
 *
 * Thread 0's stream comes first after the header, so when the header's
 * size is known in advance (hb_hbt_writer_expect: the program's name, the
 * thread count and whether the recorder's cost follows) that stream goes
 * straight to its place in the output file instead: a one-thread trace is
 * then written once, not spilled and copied. Should finish find another
 * header size, the output file so far serves as thread 0's spill file. */

typedef struct piece {
  uint64_t offset, length; /* in the spill file */
} piece;

typedef struct thread_out {
  buffer records;     /* not yet spilled */
  size_t room;        /* records.length may grow to this before make_room: the
                         smaller of the buffer's capacity and the spill size */
  piece *pieces;
  size_t piece_count, piece_capacity;
  stream_state state;
  uint64_t op_count, spilled_bytes; /* the stream: spilled_bytes + records.length */
  uint32_t crc;
} thread_out;

/* A record's bytes at most: four varints of <= 10 bytes (the first, id,
 * size, time) and the alignment byte. */
#define MAX_RECORD_BYTES 41

struct hb_hbt_writer {
  char *path, *temporary, *spill_path;
  FILE *spill;
  uint64_t spill_bytes;
  FILE *direct;        /* the output file, thread 0's stream written from direct_at on */
  uint64_t direct_at;  /* the header's size, as expected */
  int timed;
  uint64_t op_count;
  thread_out *threads;
  uint32_t thread_capacity;
  size_t buffer_bytes; /* per thread, before spilling */
};

static void writer_free(hb_hbt_writer *w) {
  if (!w) return;
  if (w->spill) fclose(w->spill);
  if (w->direct) { /* finish did not take it: not a trace */
    fclose(w->direct);
    unlink(w->temporary);
  }
  for (uint32_t t = 0; t < w->thread_capacity; t++) {
    free(w->threads[t].records.data);
    free(w->threads[t].pieces);
  }
  free(w->threads);
  free(w->path);
  free(w->temporary);
  free(w->spill_path);
  free(w);
}

int hb_hbt_writer_open(const char *path, int timed, hb_hbt_writer **out, hb_error *error) {
  *out = NULL;
  hb_hbt_writer *w = calloc(1, sizeof *w);
  size_t length = strlen(path) + 32;
  if (w) {
    w->path = strdup(path);
    w->temporary = malloc(length);
    w->spill_path = malloc(length);
  }
  if (!w || !w->path || !w->temporary || !w->spill_path) {
    writer_free(w);
    return hb_fail(error, "%s: out of memory", path);
  }
  w->timed = timed;
  snprintf(w->temporary, length, "%s.tmp%ld", path, (long)getpid());
  snprintf(w->spill_path, length, "%s.spill%ld", path, (long)getpid());
  w->spill = fopen(w->spill_path, "w+b");
  if (!w->spill) {
    hb_fail(error, "%s: cannot create: %s", w->spill_path, strerror(errno));
    writer_free(w);
    return -1;
  }
  unlink(w->spill_path); /* gone with the writer, whatever happens */
  *out = w;
  return 0;
}

int hb_hbt_writer_expect(hb_hbt_writer *w, const char *program, uint32_t thread_count,
                         int recording, hb_error *error) {
  if (w->direct || w->op_count) return 0; /* too late: thread 0 spills */
  uint32_t flags = recording ? HB_HBT_FLAG_RECORDING : 0;
  w->direct_at = header_bytes_for(strlen(program ? program : ""),
                                  thread_count ? thread_count : 1, flags);
  w->direct = fopen(w->temporary, "w+b");
  if (!w->direct || fseeko(w->direct, (off_t)w->direct_at, SEEK_SET) != 0)
    return hb_fail(error, "%s: cannot create: %s", w->temporary, strerror(errno));
  return 0;
}

static int spill(hb_hbt_writer *w, thread_out *t, hb_error *error) {
  if (t->records.length == 0) return 0;
  if (w->direct && t == w->threads) { /* thread 0, in place in the output */
    t->crc = (uint32_t)crc32(t->crc, t->records.data, (uInt)t->records.length);
    if (fwrite(t->records.data, 1, t->records.length, w->direct) != t->records.length)
      return hb_fail(error, "%s: write failed: %s", w->path, strerror(errno));
    t->spilled_bytes += t->records.length;
    t->records.length = 0;
    return 0;
  }
  if (t->piece_count == t->piece_capacity) {
    size_t capacity = t->piece_capacity ? t->piece_capacity * 2 : 16;
    piece *pieces = realloc(t->pieces, capacity * sizeof *pieces);
    if (!pieces) return hb_fail(error, "%s: out of memory", w->path);
    t->pieces = pieces;
    t->piece_capacity = capacity;
  }
  /* The checksum a buffer at a time: per record, the call would cost more
   * than the record's encoding. */
  t->crc = (uint32_t)crc32(t->crc, t->records.data, (uInt)t->records.length);
  if (fwrite(t->records.data, 1, t->records.length, w->spill) != t->records.length)
    return hb_fail(error, "%s: cannot write the spill file beside it: %s", w->path,
                   strerror(errno));
  t->pieces[t->piece_count++] = (piece){w->spill_bytes, t->records.length};
  w->spill_bytes += t->records.length;
  t->spilled_bytes += t->records.length;
  t->records.length = 0;
  return 0;
}

/* What the fast path of hb_hbt_writer_add does not do: check the op's
 * thread and kind, make room for a thread not seen yet, spill a full
 * buffer, grow a small one. Then the record fits in its thread's buffer.
 * 0, or -1 with *error set. */
static int make_room(hb_hbt_writer *w, const hb_op *op, uint64_t i, hb_error *error) {
  if (op->thread >= HB_NULL_ID || op->kind >= HB_OP_KIND_COUNT)
    return hb_fail(error, "%s: op %" PRIu64 ": thread %u or kind %u out of range", w->path, i,
                   op->thread, op->kind);
  if (op->thread >= w->thread_capacity) {
    uint32_t capacity = w->thread_capacity ? w->thread_capacity : 4;
    while (capacity <= op->thread) capacity *= 2;
    thread_out *threads = realloc(w->threads, capacity * sizeof *threads);
    if (!threads) return hb_fail(error, "%s: out of memory", w->path);
    memset(threads + w->thread_capacity, 0, (capacity - w->thread_capacity) * sizeof *threads);
    for (uint32_t t = w->thread_capacity; t < capacity; t++) threads[t].state = stream_start;
    w->threads = threads;
    w->thread_capacity = capacity;
    /* Many threads, smaller buffers: their sum stays near 16 MiB. */
    w->buffer_bytes = capacity > 256 ? 16384 : 65536;
    for (uint32_t t = 0; t < capacity; t++)
      if (threads[t].room > w->buffer_bytes) threads[t].room = w->buffer_bytes;
  }
  thread_out *t = &w->threads[op->thread];
  buffer *b = &t->records;
  if (b->length + MAX_RECORD_BYTES > w->buffer_bytes && spill(w, t, error)) return -1;
  if (b->length + MAX_RECORD_BYTES > b->capacity && buffer_reserve(b, MAX_RECORD_BYTES))
    return hb_fail(error, "%s: out of memory", w->path);
  t->room = b->capacity < w->buffer_bytes ? b->capacity : w->buffer_bytes;
  return 0;
}

int hb_hbt_writer_add(hb_hbt_writer *w, const hb_op *ops, const uint64_t *time_ns, size_t count,
                      hb_error *error) {
  for (size_t k = 0; k < count; k++, w->op_count++) {
    const hb_op *op = &ops[k];
    uint64_t i = w->op_count;
    /* One test for the common case: a known thread with room in its
     * buffer (a thread's room is 0 until make_room has seen it). */
    if (op->thread >= w->thread_capacity || op->kind >= HB_OP_KIND_COUNT ||
        w->threads[op->thread].records.length + MAX_RECORD_BYTES > w->threads[op->thread].room)
      if (make_room(w, op, i, error)) return -1;
    thread_out *t = &w->threads[op->thread];
    /* Encoded through locals: the compiler keeps them in registers. */
    unsigned char *cursor = t->records.data + t->records.length;
    stream_state s = t->state;
    int code = code_of(op);
    cursor = put_varint_at(cursor,
                           (uint64_t)((int64_t)i - s.previous_index - 1) << 3 | (uint64_t)code);
    s.previous_index = (int64_t)i;
    if (code != HB_HBT_FREE_NULL) {
      if (code_creates(code)) {
        cursor = put_varint_at(cursor, zigzag((int64_t)op->id - s.last_created_id - 1));
        s.last_created_id = op->id;
      } else {
        cursor = put_varint_at(cursor, zigzag(s.last_created_id - (int64_t)op->id));
      }
    }
    if (code_has_size(code)) cursor = put_varint_at(cursor, op->size);
    if (code == HB_HBT_ALIGNED) *cursor++ = op->align_log2;
    if (w->timed) {
      uint64_t time = time_ns ? time_ns[k] : 0;
      cursor = put_varint_at(cursor, zigzag((int64_t)(time - s.previous_time_ns)));
      s.previous_time_ns = time;
    }
    t->state = s;
    t->records.length = (size_t)(cursor - t->records.data);
    t->op_count++;
  }
  return 0;
}

/* Copies length bytes at offset of from to out. */
static int copy_piece(FILE *from, const piece *p, FILE *out, unsigned char *scratch,
                      size_t scratch_bytes) {
  if (fseeko(from, (off_t)p->offset, SEEK_SET) != 0) return -1;
  for (uint64_t left = p->length; left;) {
    size_t n = left < scratch_bytes ? (size_t)left : scratch_bytes;
    if (fread(scratch, 1, n, from) != n || fwrite(scratch, 1, n, out) != n) return -1;
    left -= n;
  }
  return 0;
}

int hb_hbt_writer_finish(hb_hbt_writer *w, const hb_trace *meta, hb_error *error) {
  int rc = -1;
  uint32_t threads = meta->thread_count ? meta->thread_count : 1;
  unsigned char *h = NULL, *scratch = NULL;
  FILE *file = NULL;
  if (w->thread_capacity > threads) {
    /* Only if an op's thread is beyond the trace's count (never after the
     * reader's check): refuse rather than drop its stream. */
    for (uint32_t t = threads; t < w->thread_capacity; t++)
      if (w->threads[t].op_count) {
        hb_fail(error, "%s: thread %u beyond the trace's %u threads", w->path, t, threads);
        goto done;
      }
  }
  for (uint32_t t = 0; t < w->thread_capacity; t++) /* what was never spilled */
    w->threads[t].crc = (uint32_t)crc32(w->threads[t].crc, w->threads[t].records.data,
                                        (uInt)w->threads[t].records.length);
  const char *program = meta->program ? meta->program : "";
  size_t program_bytes = strlen(program);
  /* The recorder's cost, for a trace converted from a raw recording. */
  uint32_t flags = (w->timed ? HB_HBT_FLAG_TIMESTAMPS : 0) |
                   (meta->incomplete ? HB_HBT_FLAG_INCOMPLETE : 0) |
                   (meta->recorder_records ? HB_HBT_FLAG_RECORDING : 0);
  size_t header_bytes = (size_t)header_bytes_for(program_bytes, threads, flags);
  h = calloc(1, header_bytes);
  scratch = malloc(1 << 16);
  if (!h || !scratch) {
    hb_fail(error, "%s: out of memory", w->path);
    goto done;
  }
  memcpy(h + HB_HBT_MAGIC_OFFSET, HB_HBT_MAGIC, HB_HBT_MAGIC_WIDTH);
  PUT_FIELD(h, VERSION, HB_HBT_VERSION);
  PUT_FIELD(h, HEADER_BYTES, header_bytes);
  PUT_FIELD(h, FLAGS, flags);
  PUT_FIELD(h, PID, meta->pid);
  PUT_FIELD(h, THREADS, threads);
  PUT_FIELD(h, ID_COUNT, meta->id_count);
  PUT_FIELD(h, OP_COUNT, w->op_count);
  PUT_FIELD(h, UNMATCHED_FREES, meta->unmatched_frees);
  PUT_FIELD(h, FAILED_ALLOCS, meta->failed_allocs);
  PUT_FIELD(h, UNMATCHED_REALLOCS, meta->unmatched_reallocs);
  PUT_FIELD(h, REUSED_ADDRESSES, meta->reused_addresses);
  PUT_FIELD(h, PROGRAM_BYTES, program_bytes);
  memcpy(h + HB_HBT_FIXED_HEADER_BYTES, program, program_bytes);
  unsigned char *entry = h + HB_HBT_FIXED_HEADER_BYTES + program_bytes;
  for (uint32_t t = 0; t < threads; t++, entry += HB_HBT_THREAD_ENTRY_BYTES) {
    const thread_out *out = t < w->thread_capacity ? &w->threads[t] : NULL;
    PUT_FIELD(entry, ENTRY_OP_COUNT, out ? out->op_count : 0);
    PUT_FIELD(entry, ENTRY_STREAM_BYTES, out ? out->spilled_bytes + out->records.length : 0);
    PUT_FIELD(entry, ENTRY_STREAM_CRC, out ? out->crc : 0);
  }
  if (flags & HB_HBT_FLAG_RECORDING) {
    PUT_FIELD(entry, RECORDING_RECORDS, meta->recorder_records);
    PUT_FIELD(entry, RECORDING_RAW_BYTES, meta->recorder_raw_bytes);
    PUT_FIELD(entry, RECORDING_CONVERT_NS, meta->convert_ns);
    entry += HB_HBT_RECORDING_BYTES;
  }
  put_le(entry, crc32(0, h, (uInt)(header_bytes - HB_HBT_HEADER_CRC_BYTES)),
         HB_HBT_HEADER_CRC_BYTES);

  /* Thread 0's stream: already in place after the header's room, or
   * (another header size) a piece of the output file so far, which then
   * leaves its name to the file written now. */
  FILE *direct = w->direct;
  w->direct = NULL;
  piece direct_piece = {0, 0};
  int in_place = direct && w->direct_at == header_bytes;
  if (direct && !in_place) {
    if (w->thread_capacity)
      direct_piece = (piece){w->direct_at, w->threads[0].spilled_bytes};
    unlink(w->temporary);
  }
  file = in_place ? direct : fopen(w->temporary, "wb");
  if (!file) {
    hb_fail(error, "%s: cannot create: %s", w->temporary, strerror(errno));
    if (direct) fclose(direct);
    goto done;
  }
  int ok = fflush(w->spill) == 0;
  if (!in_place) ok = ok && fwrite(h, 1, header_bytes, file) == header_bytes;
  for (uint32_t t = 0; ok && t < threads && t < w->thread_capacity; t++) {
    thread_out *out = &w->threads[t];
    if (t == 0 && direct && !in_place)
      ok = fflush(direct) == 0 &&
           copy_piece(direct, &direct_piece, file, scratch, 1 << 16) == 0;
    for (size_t k = 0; ok && k < out->piece_count; k++)
      ok = copy_piece(w->spill, &out->pieces[k], file, scratch, 1 << 16) == 0;
    /* An empty stream has no buffer, and fwrite's pointer must not be NULL. */
    ok = ok && (out->records.length == 0 ||
                fwrite(out->records.data, 1, out->records.length, file) == out->records.length);
  }
  if (in_place) /* the header last, into the room left for it */
    ok = ok && fseeko(file, 0, SEEK_SET) == 0 && fwrite(h, 1, header_bytes, file) == header_bytes;
  if (direct && !in_place) fclose(direct);
  if (fclose(file) != 0) ok = 0;
  file = NULL;
  if (!ok || rename(w->temporary, w->path) != 0) {
    hb_fail(error, "%s: write failed: %s", w->path, strerror(errno));
    unlink(w->temporary);
    goto done;
  }
  rc = 0;
done:
  free(h);
  free(scratch);
  writer_free(w);
  return rc;
}

void hb_hbt_writer_abort(hb_hbt_writer *w) { writer_free(w); }

int hb_hbt_write(const hb_trace *trace, const char *path, hb_error *error) {
  hb_hbt_writer *w;
  if (hb_hbt_writer_open(path, trace->time_ns != NULL, &w, error)) return -1;
  if (hb_hbt_writer_expect(w, trace->program, trace->thread_count, trace->recorder_records != 0,
                           error)) {
    hb_hbt_writer_abort(w);
    return -1;
  }
  uint32_t threads = trace->thread_count ? trace->thread_count : 1;
  for (size_t i = 0; i < trace->op_count; i++)
    if (trace->ops[i].thread >= threads) {
      hb_hbt_writer_abort(w);
      return hb_fail(error, "%s: op %zu: thread %u or kind %u out of range", path, i,
                     trace->ops[i].thread, trace->ops[i].kind);
    }
  if (hb_hbt_writer_add(w, trace->ops, trace->time_ns, trace->op_count, error)) {
    hb_hbt_writer_abort(w);
    return -1;
  }
  return hb_hbt_writer_finish(w, trace, error);
}

/* ---- reader --------------------------------------------------------------- */

/* The reader streams. Opening checks what FORMAT.md says a reader must
 * refuse before any op: the fixed header, the program name and the
 * header's checksum (read_header), then the thread table: each stream
 * within the file, the counts adding up to the header's, no byte after the
 * last stream, and each stream's checksum, read once through (open_streams:
 * a damaged file is refused before any op is delivered, as when the whole
 * file was read first). Then fill decodes each thread's stream through a
 * buffer of its own and merges them by global position, the thread whose
 * next record comes first in a small heap: memory is a buffer per thread,
 * whatever the trace's length. */

/* Beyond these a header is damaged: nothing is allocated on its word. */
#define HBT_MAX_PROGRAM_BYTES 65536
#define HBT_MAX_THREADS 65536
#define HBT_MAX_RECORD_BYTES 41 /* 4 varints of <= 10 bytes, an alignment byte */

/* What the header says about the rest of the file. */
typedef struct hbt_layout {
  uint64_t header_bytes; /* offset of the first stream */
  uint64_t program_bytes;
  uint32_t threads;
  uint32_t flags;
  uint64_t op_count;
} hbt_layout;

typedef struct thread_in {
  uint64_t offset, length; /* the stream in the file */
  uint64_t count, read;    /* records it holds, records decoded */
  uint64_t consumed;       /* stream bytes before buffer[0] */
  unsigned char *buffer;
  size_t position, filled;
  stream_state state;
  hb_op op;                /* decoded, not yet delivered */
  uint64_t time_ns;
  int64_t index;           /* op's global position */
} thread_in;

typedef struct hbt_state {
  char *path;
  int fd;
  uint64_t size;
  hbt_layout layout;
  uint32_t id_count;
  int timestamps;
  thread_in *threads;
  size_t buffer_bytes;
  uint32_t *heap;          /* threads with a decoded op, by index, smallest first */
  uint32_t heap_count;
  uint64_t delivered;
} hbt_state;

static void hbt_close(void *state) {
  hbt_state *h = state;
  if (!h) return;
  if (h->fd >= 0) close(h->fd);
  if (h->threads)
    for (uint32_t t = 0; t < h->layout.threads; t++) free(h->threads[t].buffer);
  free(h->threads);
  free(h->heap);
  free(h->path);
  free(h);
}

/* Reads exactly length bytes at offset: 0, or -1 (short or failed). */
static int read_at(int fd, void *data, size_t length, uint64_t offset) {
  unsigned char *p = data;
  while (length) {
    ssize_t n = pread(fd, p, length, (off_t)offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    length -= (size_t)n;
    offset += (uint64_t)n;
  }
  return 0;
}

/* Checks the header and copies its figures into *trace (all but the ops). */
static int read_header(hbt_state *h, hb_trace *trace, hb_error *error) {
  const char *path = h->path;
  unsigned char fixed[HB_HBT_FIXED_HEADER_BYTES];
  if (h->size < HB_HBT_FIXED_HEADER_BYTES || read_at(h->fd, fixed, sizeof fixed, 0) != 0 ||
      memcmp(fixed + HB_HBT_MAGIC_OFFSET, HB_HBT_MAGIC, HB_HBT_MAGIC_WIDTH) != 0)
    return hb_fail(error, "%s: offset %d: not a heapbench trace or header truncated (%" PRIu64
                   " bytes)", path, HB_HBT_MAGIC_OFFSET, h->size);
  uint32_t version = (uint32_t)GET_FIELD(fixed, VERSION);
  if (version != HB_HBT_VERSION)
    return hb_fail(error, "%s: offset %d: format version %u, this build reads version %d", path,
                   HB_HBT_VERSION_OFFSET, version, HB_HBT_VERSION);
  uint64_t header_bytes = GET_FIELD(fixed, HEADER_BYTES);
  uint32_t flags = (uint32_t)GET_FIELD(fixed, FLAGS);
  uint32_t threads = (uint32_t)GET_FIELD(fixed, THREADS);
  uint64_t program_bytes = GET_FIELD(fixed, PROGRAM_BYTES);
  if (header_bytes > h->size || threads == 0 ||
      header_bytes != header_bytes_for(program_bytes, threads, flags))
    return hb_fail(error,
                   "%s: offset %d: header size %" PRIu64 " inconsistent (file has %" PRIu64
                   " bytes)", path, HB_HBT_HEADER_BYTES_OFFSET, header_bytes, h->size);
  if (threads > HBT_MAX_THREADS)
    return hb_fail(error, "%s: offset %d: %u threads, more than this reader takes (%d)", path,
                   HB_HBT_THREADS_OFFSET, threads, HBT_MAX_THREADS);
  if (program_bytes > HBT_MAX_PROGRAM_BYTES)
    return hb_fail(error, "%s: offset %d: program name of %" PRIu64 " bytes (at most %d)", path,
                   HB_HBT_PROGRAM_BYTES_OFFSET, program_bytes, HBT_MAX_PROGRAM_BYTES);
  unsigned char *data = malloc(header_bytes);
  if (!data) return hb_fail(error, "%s: out of memory", path);
  if (read_at(h->fd, data, header_bytes, 0) != 0) {
    free(data);
    return hb_fail(error, "%s: offset 0: cannot read the header: %s", path, strerror(errno));
  }
  uint64_t crc_offset = header_bytes - HB_HBT_HEADER_CRC_BYTES;
  if (crc32(0, data, (uInt)crc_offset) != get_le(data + crc_offset, HB_HBT_HEADER_CRC_BYTES)) {
    free(data);
    return hb_fail(error, "%s: offset %" PRIu64 ": header checksum mismatch (corrupted)", path,
                   crc_offset);
  }
  if (flags & ~(uint32_t)(HB_HBT_FLAG_TIMESTAMPS | HB_HBT_FLAG_INCOMPLETE |
                          HB_HBT_FLAG_RECORDING)) {
    free(data);
    return hb_fail(error, "%s: offset %d: unknown flags 0x%x", path, HB_HBT_FLAGS_OFFSET, flags);
  }
  trace->pid = (uint32_t)GET_FIELD(data, PID);
  trace->thread_count = threads;
  uint32_t id_count = (uint32_t)GET_FIELD(data, ID_COUNT);
  uint64_t op_count = GET_FIELD(data, OP_COUNT);
  trace->unmatched_frees = GET_FIELD(data, UNMATCHED_FREES);
  trace->failed_allocs = GET_FIELD(data, FAILED_ALLOCS);
  trace->unmatched_reallocs = GET_FIELD(data, UNMATCHED_REALLOCS);
  trace->reused_addresses = GET_FIELD(data, REUSED_ADDRESSES);
  trace->dropped_ops = trace->unmatched_frees + trace->failed_allocs;
  trace->incomplete = (flags & HB_HBT_FLAG_INCOMPLETE) != 0;
  if (flags & HB_HBT_FLAG_RECORDING) { /* just before the header's CRC */
    const unsigned char *recording = data + crc_offset - HB_HBT_RECORDING_BYTES;
    trace->recorder_records = GET_FIELD(recording, RECORDING_RECORDS);
    trace->recorder_raw_bytes = GET_FIELD(recording, RECORDING_RAW_BYTES);
    trace->convert_ns = GET_FIELD(recording, RECORDING_CONVERT_NS);
  }
  char *program = malloc(program_bytes + 1);
  if (!program) {
    free(data);
    return hb_fail(error, "%s: out of memory", path);
  }
  memcpy(program, data + HB_HBT_FIXED_HEADER_BYTES, program_bytes);
  program[program_bytes] = 0;
  free(trace->program);
  trace->program = program;

  /* Every record is at least one byte: a bound that stops a corrupted
   * count from promising more than the file holds. */
  int rc = 0;
  if (op_count > h->size - header_bytes)
    rc = hb_fail(error, "%s: offset %d: op count %" PRIu64 " larger than the file allows", path,
                 HB_HBT_OP_COUNT_OFFSET, op_count);
  else if (id_count > op_count + HB_TRACE_SPARE_IDS)
    rc = hb_fail(error, "%s: offset %d: id count %u implausible for %" PRIu64 " ops", path,
                 HB_HBT_ID_COUNT_OFFSET, id_count, op_count);
  h->layout = (hbt_layout){header_bytes, program_bytes, threads, flags, op_count};
  h->id_count = trace->id_count = id_count;
  h->timestamps = (flags & HB_HBT_FLAG_TIMESTAMPS) != 0;
  /* The thread table, while the header is at hand. */
  h->threads = rc == 0 ? calloc(threads, sizeof *h->threads) : NULL;
  if (rc == 0 && !h->threads) rc = hb_fail(error, "%s: out of memory", path);
  uint64_t offset = header_bytes;
  const unsigned char *entry = data + HB_HBT_FIXED_HEADER_BYTES + program_bytes;
  for (uint32_t t = 0; rc == 0 && t < threads; t++, entry += HB_HBT_THREAD_ENTRY_BYTES) {
    thread_in *in = &h->threads[t];
    in->offset = offset;
    in->count = GET_FIELD(entry, ENTRY_OP_COUNT);
    in->length = GET_FIELD(entry, ENTRY_STREAM_BYTES);
    in->state = stream_start;
    /* The checksum goes in `index` until open_streams has checked it. */
    in->index = (int64_t)GET_FIELD(entry, ENTRY_STREAM_CRC);
    if (in->length > h->size - offset)
      rc = hb_fail(error, "%s: offset %" PRIu64 ": thread %u stream of %" PRIu64
                   " bytes truncated (%" PRIu64 " left)", path, offset, t, in->length,
                   h->size - offset);
    offset += in->length;
  }
  free(data);
  return rc;
}

/* Checks each stream's checksum and the counts against the header. */
static int open_streams(hbt_state *h, hb_error *error) {
  const char *path = h->path;
  size_t chunk = 1 << 20;
  unsigned char *scratch = malloc(chunk);
  if (!scratch) return hb_fail(error, "%s: out of memory", path);
  uint64_t total = 0;
  size_t entry = HB_HBT_FIXED_HEADER_BYTES + h->layout.program_bytes;
  int rc = 0;
  for (uint32_t t = 0; rc == 0 && t < h->layout.threads; t++, entry += HB_HBT_THREAD_ENTRY_BYTES) {
    thread_in *in = &h->threads[t];
    uLong crc = crc32(0, NULL, 0);
    for (uint64_t done = 0; rc == 0 && done < in->length;) {
      size_t n = in->length - done < chunk ? (size_t)(in->length - done) : chunk;
      if (read_at(h->fd, scratch, n, in->offset + done) != 0)
        rc = hb_fail(error, "%s: offset %" PRIu64 ": thread %u stream unreadable: %s", path,
                     in->offset + done, t, strerror(errno));
      crc = crc32(crc, scratch, (uInt)n);
      done += n;
    }
    if (rc) break;
    if (crc != (uLong)in->index) {
      rc = hb_fail(error, "%s: offset %" PRIu64 ": thread %u stream checksum mismatch (corrupted)",
                   path, in->offset, t);
      break;
    }
    total += in->count;
    if (total > h->layout.op_count || total < in->count)
      rc = hb_fail(error, "%s: offset %zu: thread op counts exceed the header's %" PRIu64, path,
                   entry, h->layout.op_count);
  }
  free(scratch);
  if (rc) return rc;
  if (total != h->layout.op_count)
    return hb_fail(error, "%s: offset %d: header promises %" PRIu64 " ops, streams hold %" PRIu64,
                   path, HB_HBT_OP_COUNT_OFFSET, h->layout.op_count, total);
  const thread_in *last = &h->threads[h->layout.threads - 1];
  uint64_t end = last->offset + last->length;
  if (end != h->size)
    return hb_fail(error, "%s: offset %" PRIu64 ": %" PRIu64 " bytes of trailing garbage", path,
                   end, h->size - end);
  return 0;
}

/* Makes at least HBT_MAX_RECORD_BYTES of thread t's stream available in
 * its buffer, or all that is left. */
static int refill_thread(hbt_state *h, thread_in *in, hb_error *error) {
  size_t left = in->filled - in->position;
  if (left >= HBT_MAX_RECORD_BYTES) return 0;
  uint64_t stream_left = in->length - (in->consumed + in->filled);
  if (stream_left == 0) return 0;
  if (!in->buffer && !(in->buffer = malloc(h->buffer_bytes)))
    return hb_fail(error, "%s: out of memory", h->path);
  memmove(in->buffer, in->buffer + in->position, left);
  in->consumed += in->position;
  in->position = 0;
  size_t n = h->buffer_bytes - left;
  if (n > stream_left) n = (size_t)stream_left;
  if (read_at(h->fd, in->buffer + left, n, in->offset + in->consumed + left) != 0)
    return hb_fail(error, "%s: offset %" PRIu64 ": read failed: %s", h->path,
                   in->offset + in->consumed + left, strerror(errno));
  in->filled = left + n;
  return 0;
}

/* Decodes thread t's next record into in->op and in->index. */
static int decode_record(hbt_state *h, uint32_t thread, hb_error *error) {
  thread_in *in = &h->threads[thread];
  const char *path = h->path;
  if (refill_thread(h, in, error)) return -1;
  const unsigned char *start = in->buffer ? in->buffer + in->position : NULL;
  const unsigned char *cursor = start, *end = in->buffer ? in->buffer + in->filled : NULL;
  uint64_t offset = in->offset + in->consumed + in->position, n = in->read;
  uint64_t op_count = h->layout.op_count, head, value;
  stream_state *s = &in->state;
  if (!cursor || get_varint(&cursor, end, &head))
    return hb_fail(error, "%s: offset %" PRIu64 ": thread %u record %" PRIu64
                   ": truncated or bad varint", path, offset, thread, n);
  int code = (int)(head & 7);
  uint64_t gap = head >> 3;
  if (gap >= op_count || s->previous_index + 1 + (int64_t)gap >= (int64_t)op_count)
    return hb_fail(error, "%s: offset %" PRIu64 ": thread %u record %" PRIu64
                   ": position out of range", path, offset, thread, n);
  int64_t index = s->previous_index + 1 + (int64_t)gap;
  s->previous_index = index;
  hb_op op = {0};
  op.thread = thread;
  switch (code) {
  case HB_HBT_MALLOC: op.kind = HB_OP_MALLOC; break;
  case HB_HBT_CALLOC: op.kind = HB_OP_CALLOC; break;
  case HB_HBT_ALIGNED: op.kind = HB_OP_ALIGNED; break;
  case HB_HBT_REALLOC: op.kind = HB_OP_REALLOC; break;
  case HB_HBT_REALLOC_FROM_NULL: op.kind = HB_OP_REALLOC; op.flags = HB_FLAG_FROM_NULL; break;
  case HB_HBT_FREE_BY_REALLOC_ZERO: op.kind = HB_OP_FREE; op.flags = HB_FLAG_REALLOC_ZERO; break;
  default: op.kind = HB_OP_FREE; break;
  }
  if (code == HB_HBT_FREE_NULL) {
    op.id = HB_NULL_ID;
  } else {
    if (get_varint(&cursor, end, &value))
      return hb_fail(error, "%s: offset %" PRIu64 ": thread %u record %" PRIu64 ": truncated id",
                     path, offset, thread, n);
    int64_t id = code_creates(code) ? s->last_created_id + 1 + unzigzag(value)
                                    : s->last_created_id - unzigzag(value);
    if (id < 0 || id >= (int64_t)h->id_count)
      return hb_fail(error, "%s: offset %" PRIu64 ": thread %u record %" PRIu64 ": id %" PRId64
                     " out of range (%u ids)", path, offset, thread, n, id, h->id_count);
    op.id = (uint32_t)id;
    if (code_creates(code)) s->last_created_id = id;
  }
  if (code_has_size(code) && get_varint(&cursor, end, &op.size))
    return hb_fail(error, "%s: offset %" PRIu64 ": thread %u record %" PRIu64 ": truncated size",
                   path, offset, thread, n);
  if (code == HB_HBT_ALIGNED) {
    if (cursor >= end || *cursor > 63)
      return hb_fail(error, "%s: offset %" PRIu64 ": thread %u record %" PRIu64
                     ": bad alignment", path, offset, thread, n);
    op.align_log2 = *cursor++;
  }
  in->time_ns = 0;
  if (h->timestamps) {
    if (get_varint(&cursor, end, &value))
      return hb_fail(error, "%s: offset %" PRIu64 ": thread %u record %" PRIu64
                     ": truncated time", path, offset, thread, n);
    s->previous_time_ns += (uint64_t)unzigzag(value);
    in->time_ns = s->previous_time_ns;
  }
  in->position += (size_t)(cursor - start);
  in->read++;
  in->op = op;
  in->index = index;
  return 0;
}

/* The heap of threads with a decoded record, smallest position on top. */
static int64_t heap_key(const hbt_state *h, uint32_t k) { return h->threads[h->heap[k]].index; }
static void heap_swap(hbt_state *h, uint32_t a, uint32_t b) {
  uint32_t t = h->heap[a];
  h->heap[a] = h->heap[b];
  h->heap[b] = t;
}
static void heap_push(hbt_state *h, uint32_t thread) {
  uint32_t k = h->heap_count++;
  h->heap[k] = thread;
  while (k > 0 && heap_key(h, (k - 1) / 2) > heap_key(h, k)) {
    heap_swap(h, k, (k - 1) / 2);
    k = (k - 1) / 2;
  }
}
/* The top's key grew (or the top was replaced): moves it down. */
static void heap_sift_top(hbt_state *h) {
  for (uint32_t k = 0;;) {
    uint32_t smallest = k, l = 2 * k + 1, r = l + 1;
    if (l < h->heap_count && heap_key(h, l) < heap_key(h, smallest)) smallest = l;
    if (r < h->heap_count && heap_key(h, r) < heap_key(h, smallest)) smallest = r;
    if (smallest == k) break;
    heap_swap(h, k, smallest);
    k = smallest;
  }
}
static void heap_pop(hbt_state *h) {
  h->heap[0] = h->heap[--h->heap_count];
  heap_sift_top(h);
}

/* A thread's stream once its records are all decoded: nothing after them. */
static int check_stream_end(const hbt_state *h, uint32_t t, hb_error *error) {
  const thread_in *in = &h->threads[t];
  uint64_t used = in->consumed + in->position;
  if (used != in->length)
    return hb_fail(error, "%s: offset %" PRIu64 ": thread %u: %" PRIu64 " bytes left after its %"
                   PRIu64 " records", h->path, in->offset + used, t, in->length - used, in->count);
  return 0;
}

/* Decodes thread t's next record and queues it, or checks its end; t is
 * the heap's top (its op just delivered) or not in the heap (at open). */
static int advance(hbt_state *h, uint32_t t, int on_top, hb_error *error) {
  thread_in *in = &h->threads[t];
  if (in->read == in->count) {
    if (on_top) heap_pop(h);
    free(in->buffer); /* done with this thread */
    in->buffer = NULL;
    return check_stream_end(h, t, error);
  }
  if (decode_record(h, t, error)) return -1;
  if (on_top)
    heap_sift_top(h); /* one sift instead of a pop and a push */
  else
    heap_push(h, t);
  return 0;
}

static int hbt_fill(void *state, hb_trace *batch, hb_error *error) {
  hbt_state *h = state;
  while (h->delivered < h->layout.op_count) {
    if (batch->op_count >= HB_READER_BATCH_OPS) return 0;
    if (h->heap_count == 0)
      return hb_fail(error, "%s: offset %d: the streams end before op %" PRIu64, h->path,
                     HB_HBT_OP_COUNT_OFFSET, h->delivered);
    uint32_t t = h->heap[0];
    thread_in *in = &h->threads[t];
    if (in->index != (int64_t)h->delivered) {
      /* The smallest position is past the next op (none has it) or before
       * it (two records claim one position). */
      uint64_t offset = in->offset + in->consumed + in->position;
      return hb_fail(error, "%s: offset %" PRIu64 ": thread %u record %" PRIu64 ": position %"
                     PRId64 " %s", h->path, offset, t, in->read - 1, in->index,
                     in->index < (int64_t)h->delivered ? "used twice"
                                                        : "leaves an earlier position empty");
    }
    int rc = h->timestamps ? hb_trace_push_timed(batch, in->op, in->time_ns, error)
                           : hb_trace_push(batch, in->op, error);
    if (rc) return -1;
    h->delivered++;
    if (advance(h, t, 1, error)) return -1;
  }
  return 1;
}

int hb_hbt_open(const char *path, hb_trace *batch, hb_reader_source *source, hb_error *error) {
  hbt_state *h = calloc(1, sizeof *h);
  if (!h || !(h->path = strdup(path))) {
    free(h);
    return hb_fail(error, "%s: out of memory", path);
  }
  h->fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (h->fd < 0 || fstat(h->fd, &st) != 0) {
    hb_fail(error, "%s: cannot open: %s", path, strerror(errno));
    hbt_close(h);
    return -1;
  }
  h->size = (uint64_t)st.st_size;
  hb_trace_init(batch, path, "hbt");
  int rc = read_header(h, batch, error);
  if (rc == 0) rc = open_streams(h, error);
  if (rc == 0) {
    /* Many threads, smaller buffers: their sum stays near 16 MiB. */
    size_t per_thread = ((size_t)16 << 20) / h->layout.threads;
    h->buffer_bytes = per_thread > 65536 ? 65536 : per_thread < 256 ? 256 : per_thread;
    h->heap = malloc(h->layout.threads * sizeof *h->heap);
    if (!h->heap) rc = hb_fail(error, "%s: out of memory", path);
  }
  for (uint32_t t = 0; rc == 0 && t < h->layout.threads; t++) {
    h->threads[t].index = -1;
    rc = advance(h, t, 0, error);
  }
  if (rc != 0) {
    hbt_close(h);
    hb_trace_release(batch);
    return -1;
  }
  *source = (hb_reader_source){hbt_fill, hbt_close, h, h->timestamps, 0};
  return 0;
}
