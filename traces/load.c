/* load.c — opening a trace file of any supported format, the reader
 * picked by the file's content, never by its name: hb_reader_open
 * (hb_reader.h) and hb_trace_load (hb_trace.h), which collects a reader's
 * ops into memory.
 *
 * A file compressed with zstd (found by its frame magic) is decompressed
 * first into an unlinked temporary file on disk (under $TMPDIR, default
 * /tmp), which the same readers then read through /proc/self/fd: every
 * format reads compressed as it reads plain, no reader knows about zstd,
 * and a multi-gigabyte trace costs disk, not memory. */
#define _GNU_SOURCE
#include "hb_reader.h"
#include "hb_trace.h"

#include "hbt_format.h"
#include "reader_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* A zstd frame starts with ZSTD_MAGICNUMBER, little-endian. */
static const unsigned char zstd_magic[4] = {0x28, 0xB5, 0x2F, 0xFD};

/* The first bytes of a file, enough for every magic. */
#define HEAD_BYTES 8
_Static_assert(HB_HBT_MAGIC_WIDTH == HEAD_BYTES && sizeof HB_RAW_MAGIC - 1 == HEAD_BYTES,
               "the binary formats' magics fill the head");

/* Reads up to HEAD_BYTES first bytes: 0 and their count (at least 1), or
 * -1 with *error set (an empty file is an error). */
static int read_head(const char *path, unsigned char head[HEAD_BYTES], size_t *got,
                     hb_error *error) {
  FILE *file = fopen(path, "rb");
  if (!file) return hb_fail(error, "%s: cannot open: %s", path, strerror(errno));
  memset(head, 0, HEAD_BYTES);
  *got = fread(head, 1, HEAD_BYTES, file);
  int read_errno = ferror(file) ? errno : 0;
  fclose(file);
  if (read_errno) return hb_fail(error, "%s: cannot read: %s", path, strerror(read_errno));
  if (*got == 0) return hb_fail(error, "%s: offset 0: empty file", path);
  return 0;
}

/* The opener of an uncompressed file (gzip aside): binary formats by
 * magic; text formats by their first character after gzip decompression
 * (zlib reads plain files unchanged). NULL with *error set. */
typedef int opener_fn(const char *, hb_trace *, hb_reader_source *, hb_error *);
static opener_fn *pick_opener(const char *path, const unsigned char head[HEAD_BYTES], size_t got,
                              hb_error *error) {
  if (got == HEAD_BYTES && memcmp(head, HB_HBT_MAGIC, HEAD_BYTES) == 0) return hb_hbt_open;
  if (got == HEAD_BYTES && memcmp(head, HB_RAW_MAGIC, HEAD_BYTES) == 0) return hb_raw_open;
  gzFile text = gzopen(path, "rb");
  if (!text) {
    hb_fail(error, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  int first = gzgetc(text);
  gzclose(text);
  if (first >= '0' && first <= '9') return hb_rep_open;
  if (first == '=' || first == '-') return hb_valgrind_open;
  hb_fail(error,
          "%s: offset 0: unknown trace format (not a heapbench trace or recording, "
          ".rep or valgrind log)",
          path);
  return NULL;
}

static int write_all(int fd, const unsigned char *data, size_t length) {
  while (length) {
    ssize_t written = write(fd, data, length);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return -1;
    data += written;
    length -= (size_t)written;
  }
  return 0;
}

/* A new unlinked file under $TMPDIR (default /tmp): its descriptor, or -1
 * with *error set. O_TMPFILE where the file system has it, else a named
 * file unlinked at once. */
static int temporary_file(const char *path, hb_error *error) {
  const char *dir = getenv("TMPDIR");
  if (!dir || !*dir) dir = "/tmp";
  int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    char name[4096];
    snprintf(name, sizeof name, "%s/heapbench-XXXXXX", dir);
    fd = mkostemp(name, O_CLOEXEC);
    if (fd >= 0) unlink(name);
  }
  if (fd < 0)
    hb_fail(error, "%s: cannot create a temporary file in %s (TMPDIR): %s", path, dir,
            strerror(errno));
  return fd;
}

/* Decompresses every zstd frame of the file at path into a new temporary
 * file: its descriptor (positioned anywhere), or -1 with *error set. */
static int decompress_to_file(const char *path, hb_error *error) {
  FILE *in = fopen(path, "rb");
  if (!in) return hb_fail(error, "%s: cannot open: %s", path, strerror(errno));
  int fd = temporary_file(path, error);
  if (fd < 0) {
    fclose(in);
    return -1;
  }
  ZSTD_DCtx *context = ZSTD_createDCtx();
  size_t in_capacity = ZSTD_DStreamInSize(), out_capacity = ZSTD_DStreamOutSize();
  unsigned char *in_buffer = malloc(in_capacity), *out_buffer = malloc(out_capacity);
  int rc = -1;
  if (!context || !in_buffer || !out_buffer) {
    hb_fail(error, "%s: zstd decompression failed: out of memory", path);
    goto done;
  }
  /* 0 once the last frame is complete: a file that ends mid-frame is
   * truncated, not a shorter trace. */
  size_t frame_left = 1;
  size_t got;
  while ((got = fread(in_buffer, 1, in_capacity, in)) > 0) {
    ZSTD_inBuffer input = {in_buffer, got, 0};
    /* zstd holds back the last byte of a frame until it has written all
     * of the frame's output, so input used up means output written. */
    while (input.pos < input.size) {
      ZSTD_outBuffer output = {out_buffer, out_capacity, 0};
      frame_left = ZSTD_decompressStream(context, &output, &input);
      if (ZSTD_isError(frame_left)) {
        hb_fail(error, "%s: zstd decompression failed: %s", path, ZSTD_getErrorName(frame_left));
        goto done;
      }
      if (write_all(fd, out_buffer, output.pos) != 0) {
        {
          const char *dir = getenv("TMPDIR");
          hb_fail(error, "%s: zstd decompression failed: cannot write the decompressed copy "
                  "in %s (TMPDIR): %s", path, dir && *dir ? dir : "/tmp", strerror(errno));
        }
        goto done;
      }
    }
  }
  if (ferror(in)) {
    hb_fail(error, "%s: zstd decompression failed: read error", path);
    goto done;
  }
  if (frame_left != 0) {
    hb_fail(error, "%s: zstd decompression failed: the file ends inside a frame (truncated)",
            path);
    goto done;
  }
  rc = 0;
done:
  fclose(in);
  ZSTD_freeDCtx(context);
  free(in_buffer);
  free(out_buffer);
  if (rc != 0 && fd >= 0) close(fd);
  return rc == 0 ? fd : -1;
}

int hb_reader_open(const char *path, unsigned flags, hb_reader **reader, hb_error *error) {
  *reader = NULL;
  unsigned char head[HEAD_BYTES];
  size_t got;
  if (read_head(path, head, &got, error) != 0) return -1;
  if (got < sizeof zstd_magic || memcmp(head, zstd_magic, sizeof zstd_magic) != 0) {
    opener_fn *opener = pick_opener(path, head, got, error);
    return opener ? hb_reader_create(path, path, -1, opener, flags, reader, error) : -1;
  }
  int fd = decompress_to_file(path, error);
  if (fd < 0) return -1;
  char fd_path[64];
  snprintf(fd_path, sizeof fd_path, "/proc/self/fd/%d", fd);
  opener_fn *opener = NULL;
  if (read_head(fd_path, head, &got, error) == 0) opener = pick_opener(fd_path, head, got, error);
  if (!opener) {
    /* Messages name the user's file, as the reader's do. */
    char named[sizeof error->message];
    snprintf(named, sizeof named, "%s (decompressed)", path);
    char *hit = error ? strstr(error->message, fd_path) : NULL;
    if (hit) {
      char rest[sizeof error->message];
      snprintf(rest, sizeof rest, "%s", hit + strlen(fd_path));
      *hit = 0;
      size_t used = strlen(error->message);
      snprintf(error->message + used, sizeof error->message - used, "%s%s", named, rest);
    }
    close(fd);
    return -1;
  }
  return hb_reader_create(path, fd_path, fd, opener, flags, reader, error);
}

/* All of a reader's ops into *trace. */
static int collect(hb_reader *reader, hb_trace *trace, hb_error *error) {
  const hb_trace *meta = hb_reader_trace(reader);
  hb_trace_init(trace, meta->path, meta->format);
  enum { BATCH = HB_READER_BATCH_OPS };
  hb_op *ops = malloc(BATCH * sizeof *ops);
  uint64_t *times = malloc(BATCH * sizeof *times);
  int timed = hb_reader_timed(reader), rc = 0;
  if (!ops || !times) rc = hb_fail(error, "%s: out of memory", meta->path);
  for (long got; rc == 0 && (got = hb_reader_next(reader, ops, times, BATCH, error)) != 0;) {
    if (got < 0) rc = -1;
    for (long i = 0; rc == 0 && i < got; i++)
      rc = timed ? hb_trace_push_timed(trace, ops[i], times[i], error)
                 : hb_trace_push(trace, ops[i], error);
  }
  free(ops);
  free(times);
  if (rc == 0) {
    meta = hb_reader_trace(reader);
    char *program = strdup(meta->program ? meta->program : "");
    if (!program) rc = hb_fail(error, "%s: out of memory", meta->path);
    free(trace->program);
    trace->program = program;
    trace->pid = meta->pid;
    trace->thread_count = meta->thread_count;
    trace->id_count = meta->id_count;
    trace->dropped_ops = meta->dropped_ops;
    trace->unmatched_frees = meta->unmatched_frees;
    trace->failed_allocs = meta->failed_allocs;
    trace->unmatched_reallocs = meta->unmatched_reallocs;
    trace->reused_addresses = meta->reused_addresses;
    trace->incomplete = meta->incomplete;
    trace->other_process_calls = meta->other_process_calls;
    trace->recorder_records = meta->recorder_records;
    trace->recorder_raw_bytes = meta->recorder_raw_bytes;
    trace->convert_ns = meta->convert_ns;
  }
  if (rc != 0) hb_trace_release(trace);
  return rc;
}

/* One format's reader, whole: the format's hb_*_load. */
static int load_with(opener_fn *opener, const char *path, hb_trace *trace, hb_error *error) {
  memset(trace, 0, sizeof *trace);
  hb_reader *reader;
  if (hb_reader_create(path, path, -1, opener, 0, &reader, error) != 0) return -1;
  int rc = collect(reader, trace, error);
  hb_reader_close(reader);
  return rc;
}

int hb_rep_load(const char *path, hb_trace *trace, hb_error *error) {
  return load_with(hb_rep_open, path, trace, error);
}

int hb_hbt_load(const char *path, hb_trace *trace, hb_error *error) {
  return load_with(hb_hbt_open, path, trace, error);
}

int hb_valgrind_load(const char *path, hb_trace *trace, hb_error *error) {
  return load_with(hb_valgrind_open, path, trace, error);
}

int hb_trace_load(const char *path, hb_trace *trace, hb_error *error) {
  memset(trace, 0, sizeof *trace);
  hb_reader *reader;
  if (hb_reader_open(path, 0, &reader, error) != 0) return -1;
  int rc = collect(reader, trace, error);
  hb_reader_close(reader);
  /* The reader checked every op; the whole trace is checked again, as the
   * readers before the streaming ones were. */
  if (rc == 0 && hb_trace_check(trace, error) != 0) {
    hb_trace_release(trace);
    rc = -1;
  }
  return rc;
}
