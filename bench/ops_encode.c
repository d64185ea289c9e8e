/* ops_encode.c — a trace -> the ops file workers replay (hb_ops.h). Front
 * end only.
 *
 * The encoder streams: ops go out 16K at a time to a file, its header's
 * figures are summed as they pass and written last, and the per-slot state
 * (requested size, aligned or not) is as large as the slot table. From a
 * reader with recycled slots (hb_ops_encode_reader) that is the most
 * blocks live at once, and the file sits on disk under $TMPDIR, never in
 * memory: a 500M-op trace makes an 8 GB ops file.
 *
 * free(NULL) names slot slot_count - 1, which a stream knows only at its
 * end: those ops are written with a placeholder, and the chunks holding
 * one (a bit per chunk) are read back and patched at the end. */
#define _GNU_SOURCE
#include "hb_ops.h"
#include "hb_reader.h"
#include "hb_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK_OPS (1u << 14)
#define NULL_PLACEHOLDER UINT32_MAX

typedef struct encoder {
  const char *path; /* the trace's, for messages */
  int fd;
  hb_ops_header *header;
  /* Per slot: requested size of the live block (free size hints, live
   * bytes), and whether it came from aligned allocation: such blocks get
   * no size hint (hb_allocator.h: a sized free would also need the
   * alignment; jemalloc's heap is corrupted by a size alone). */
  uint64_t *block_bytes;
  uint8_t *aligned_block;
  size_t slot_capacity;
  uint64_t live_bytes;
  hb_ops_op chunk[CHUNK_OPS];
  size_t used;
  uint64_t chunks_written;
  uint8_t *null_chunks; /* a bit per chunk written: it holds a free(NULL) */
  size_t null_chunk_bytes;
  int chunk_has_null;
} encoder;

/* Writes all of buf at offset, retrying short writes. */
static int pwrite_all(int fd, const void *buf, size_t len, off_t offset) {
  const char *p = buf;
  while (len) {
    ssize_t n = pwrite(fd, p, len, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
    offset += n;
  }
  return 0;
}

static const char *temporary_dir(void) {
  const char *dir = getenv("TMPDIR");
  return dir && *dir ? dir : "/tmp";
}

static int write_failed(const encoder *e, hb_error *error) {
  return hb_fail(error, "%s: cannot write the replay's ops file in %s (TMPDIR): %s", e->path,
                 temporary_dir(), strerror(errno));
}

/* A new unlinked file under $TMPDIR. Not close-on-exec: the workers
 * inherit it and open it as /proc/self/fd/N. */
static int ops_file_create(const char *path, hb_error *error) {
  const char *dir = temporary_dir();
  int fd = open(dir, O_TMPFILE | O_RDWR, 0600);
  if (fd < 0) {
    char name[4096];
    snprintf(name, sizeof name, "%s/heapbench-ops-XXXXXX", dir);
    fd = mkstemp(name);
    if (fd >= 0) unlink(name);
  }
  if (fd < 0)
    return hb_fail(error, "%s: cannot create the replay's ops file in %s (TMPDIR): %s", path, dir,
                   strerror(errno));
  return fd;
}

static int encoder_begin(encoder *e, const char *path, uint32_t thread_count,
                         hb_ops_header *header, hb_error *error) {
  memset(header, 0, sizeof *header);
  e->path = path;
  e->header = header;
  e->fd = -1;
  if (thread_count > HB_OPS_MAX_THREADS)
    return hb_fail(error, "%s: %u threads; replay handles at most %d", path, thread_count,
                   HB_OPS_MAX_THREADS);
  memcpy(header->magic, HB_OPS_MAGIC, sizeof header->magic);
  header->thread_count = thread_count;
  e->fd = ops_file_create(path, error);
  return e->fd < 0 ? -1 : 0;
}

static int slots_cover(encoder *e, uint32_t slot, hb_error *error) {
  if (slot < e->slot_capacity) return 0;
  size_t capacity = e->slot_capacity ? e->slot_capacity : 1024;
  while (capacity <= slot) capacity *= 2;
  uint64_t *bytes = realloc(e->block_bytes, capacity * sizeof *bytes);
  if (bytes) e->block_bytes = bytes;
  uint8_t *aligned = bytes ? realloc(e->aligned_block, capacity) : NULL;
  if (!aligned) return hb_fail(error, "%s: out of memory for %zu slots", e->path, capacity);
  e->aligned_block = aligned;
  memset(e->block_bytes + e->slot_capacity, 0, (capacity - e->slot_capacity) * sizeof *bytes);
  memset(e->aligned_block + e->slot_capacity, 0, capacity - e->slot_capacity);
  e->slot_capacity = capacity;
  return 0;
}

static int flush_chunk(encoder *e, hb_error *error) {
  if (e->used == 0) return 0;
  off_t offset = (off_t)(sizeof *e->header + e->chunks_written * CHUNK_OPS * sizeof(hb_ops_op));
  if (pwrite_all(e->fd, e->chunk, e->used * sizeof *e->chunk, offset)) return write_failed(e, error);
  if (e->chunk_has_null) {
    size_t byte = (size_t)(e->chunks_written / 8);
    if (byte >= e->null_chunk_bytes) {
      size_t bytes = e->null_chunk_bytes ? e->null_chunk_bytes * 2 : 64;
      while (bytes <= byte) bytes *= 2;
      uint8_t *grown = realloc(e->null_chunks, bytes);
      if (!grown) return hb_fail(error, "%s: out of memory", e->path);
      memset(grown + e->null_chunk_bytes, 0, bytes - e->null_chunk_bytes);
      e->null_chunks = grown;
      e->null_chunk_bytes = bytes;
    }
    e->null_chunks[byte] |= (uint8_t)(1u << (e->chunks_written % 8));
  }
  e->chunks_written++;
  e->used = 0;
  e->chunk_has_null = 0;
  return 0;
}

/* One op (its id a slot) into the file; i is its index. */
static int encode_op(encoder *e, const hb_op *op, uint64_t i, hb_error *error) {
  hb_ops_header *header = e->header;
  if (op->thread >= header->thread_count)
    return hb_fail(error, "%s: op %" PRIu64 ": thread %u beyond the trace's %u", e->path, i,
                   op->thread, header->thread_count);
  hb_ops_op out = {.size = op->size, .slot = op->id, .thread = (uint16_t)op->thread};
  if (!(op->kind == HB_OP_FREE && op->id == HB_NULL_ID) && slots_cover(e, op->id, error))
    return -1;
  switch ((hb_op_kind)op->kind) {
    case HB_OP_MALLOC: out.kind = HB_OPS_MALLOC; break;
    case HB_OP_CALLOC: out.kind = HB_OPS_CALLOC; break;
    case HB_OP_ALIGNED:
      if (op->align_log2 > HB_OPS_MAX_ALIGN_LOG2)
        return hb_fail(error, "%s: op %" PRIu64 ": alignment 2^%u is beyond what replay supports "
                       "(2^%d)", e->path, i, op->align_log2, HB_OPS_MAX_ALIGN_LOG2);
      out.kind = HB_OPS_ALIGNED;
      out.align_log2 = op->align_log2;
      break;
    case HB_OP_REALLOC:
      out.kind = (op->flags & HB_FLAG_FROM_NULL) ? HB_OPS_REALLOC_NEW : HB_OPS_REALLOC;
      break;
    case HB_OP_FREE:
    default:
      out.kind = HB_OPS_FREE;
      if (op->id == HB_NULL_ID) {
        out.slot = NULL_PLACEHOLDER;
        out.size = 0;
        e->chunk_has_null = 1;
      } else {
        out.size = e->aligned_block[op->id] ? 0 : e->block_bytes[op->id];
      }
      break;
  }
  if (out.kind == HB_OPS_FREE) {
    header->frees++;
    if (out.slot != NULL_PLACEHOLDER) {
      e->live_bytes -= e->block_bytes[out.slot];
      e->block_bytes[out.slot] = 0;
    }
  } else {
    if (out.kind == HB_OPS_REALLOC) {
      header->reallocs++;
      e->live_bytes -= e->block_bytes[out.slot];
    } else {
      header->allocations++;
    }
    e->block_bytes[out.slot] = out.size;
    e->aligned_block[out.slot] = (uint8_t)hb_ops_stays_aligned(out.kind, e->aligned_block[out.slot]);
    e->live_bytes += out.size;
    if (e->live_bytes > header->peak_live_bytes) {
      header->peak_live_bytes = e->live_bytes;
      header->peak_live_op = i;
    }
  }
  e->chunk[e->used++] = out;
  header->op_count++;
  return e->used == CHUNK_OPS ? flush_chunk(e, error) : 0;
}

/* The last chunk, the free(NULL) slots patched, the header: the file's
 * descriptor, or -1 with *error set (the file closed). */
static int encoder_end(encoder *e, int rc, uint32_t slot_count, hb_error *error) {
  if (rc == 0) rc = flush_chunk(e, error);
  e->header->slot_count = slot_count;
  for (uint64_t c = 0; rc == 0 && c < e->chunks_written; c++) {
    if (!(e->null_chunks && c / 8 < e->null_chunk_bytes && (e->null_chunks[c / 8] >> (c % 8)) & 1))
      continue;
    off_t offset = (off_t)(sizeof *e->header + c * CHUNK_OPS * sizeof(hb_ops_op));
    ssize_t got = pread(e->fd, e->chunk, sizeof e->chunk, offset);
    if (got < 0) {
      rc = write_failed(e, error);
      break;
    }
    size_t ops = (size_t)got / sizeof *e->chunk;
    for (size_t k = 0; k < ops; k++)
      if (e->chunk[k].slot == NULL_PLACEHOLDER) e->chunk[k].slot = slot_count - 1;
    if (pwrite_all(e->fd, e->chunk, ops * sizeof *e->chunk, offset)) rc = write_failed(e, error);
  }
  if (rc == 0 && pwrite_all(e->fd, e->header, sizeof *e->header, 0)) rc = write_failed(e, error);
  free(e->block_bytes);
  free(e->aligned_block);
  free(e->null_chunks);
  if (rc != 0) {
    if (e->fd >= 0) close(e->fd);
    return -1;
  }
  return e->fd;
}

int hb_ops_encode(const hb_trace *trace, hb_ops_header *header, hb_error *error) {
  encoder *e = calloc(1, sizeof *e);
  if (!e) return hb_fail(error, "%s: out of memory", trace->path);
  int rc = encoder_begin(e, trace->path, trace->thread_count, header, error);
  /* The trace's ids are the slots: one per id, then free(NULL)'s. */
  if (rc == 0 && trace->id_count && slots_cover(e, trace->id_count - 1, error)) rc = -1;
  for (size_t i = 0; rc == 0 && i < trace->op_count; i++)
    rc = encode_op(e, &trace->ops[i], i, error);
  int fd = e->fd < 0 ? -1 : encoder_end(e, rc, trace->id_count + 1, error);
  free(e);
  return fd;
}

int hb_ops_encode_reader(hb_reader *reader, hb_ops_header *header, hb_error *error) {
  const hb_trace *meta = hb_reader_trace(reader);
  encoder *e = calloc(1, sizeof *e);
  hb_op *ops = malloc(HB_READER_BATCH_OPS * sizeof *ops);
  int rc = e && ops ? 0 : hb_fail(error, "%s: out of memory", meta->path);
  if (rc == 0) rc = encoder_begin(e, meta->path, meta->thread_count, header, error);
  uint64_t index = 0;
  for (long got; rc == 0 && (got = hb_reader_next(reader, ops, NULL, HB_READER_BATCH_OPS,
                                                   error)) != 0;) {
    if (got < 0) rc = -1;
    for (long k = 0; rc == 0 && k < got; k++) rc = encode_op(e, &ops[k], index++, error);
  }
  free(ops);
  int fd = -1;
  if (e && e->fd >= 0) {
    /* The slot count is final now: the most blocks live at once, + 1. */
    uint32_t slots = hb_reader_slot_count(reader);
    if (rc == 0 && slots == UINT32_MAX)
      rc = hb_fail(error, "%s: more than %u blocks live at once", meta->path, UINT32_MAX - 1);
    fd = encoder_end(e, rc, slots + 1, error);
  }
  free(e);
  return fd;
}
