/* load.c — hb_trace_load: reading a trace file of any supported format,
 * the reader picked by the file's content, never by its name (hb_trace.h).
 *
 * A file compressed with zstd (found by its frame magic) is decompressed
 * into an anonymous memory file first, which the same readers then read
 * through /proc/self/fd: every format reads compressed as it reads plain,
 * and no reader knows about zstd. */
#define _GNU_SOURCE
#include "hb_trace.h"

#include "hbt_format.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

/* An uncompressed file (gzip aside): binary formats by magic; text formats
 * by their first character after gzip decompression (zlib reads plain
 * files unchanged). Not checked yet. */
static int load_plain(const char *path, const unsigned char head[HEAD_BYTES], size_t got,
                      hb_trace *trace, hb_error *error) {
  if (got == HEAD_BYTES && memcmp(head, HB_HBT_MAGIC, HEAD_BYTES) == 0)
    return hb_hbt_load(path, trace, error);
  if (got == HEAD_BYTES && memcmp(head, HB_RAW_MAGIC, HEAD_BYTES) == 0)
    return hb_raw_load(path, trace, error);
  gzFile text = gzopen(path, "rb");
  if (!text) return hb_fail(error, "%s: cannot open: %s", path, strerror(errno));
  int first = gzgetc(text);
  gzclose(text);
  if (first >= '0' && first <= '9') return hb_rep_load(path, trace, error);
  if (first == '=' || first == '-') return hb_valgrind_load(path, trace, error);
  return hb_fail(error,
                 "%s: offset 0: unknown trace format (not a heapbench trace or recording, "
                 ".rep or valgrind log)",
                 path);
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

/* Decompresses every zstd frame of the file at path into a new memory
 * file: its descriptor (positioned anywhere), or -1 with *error set. */
static int decompress_to_memfd(const char *path, hb_error *error) {
  FILE *in = fopen(path, "rb");
  if (!in) return hb_fail(error, "%s: cannot open: %s", path, strerror(errno));
  int fd = memfd_create("heapbench-zstd", MFD_CLOEXEC);
  ZSTD_DCtx *context = ZSTD_createDCtx();
  size_t in_capacity = ZSTD_DStreamInSize(), out_capacity = ZSTD_DStreamOutSize();
  unsigned char *in_buffer = malloc(in_capacity), *out_buffer = malloc(out_capacity);
  int rc = -1;
  if (fd < 0) {
    hb_fail(error, "%s: zstd decompression failed: no memory file: %s", path, strerror(errno));
    goto done;
  }
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
        hb_fail(error, "%s: zstd decompression failed: cannot write to memory: %s", path,
                strerror(errno));
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

/* In *error, every mention of `from` becomes `to`. */
static void rename_in_message(hb_error *error, const char *from, const char *to) {
  char renamed[sizeof error->message];
  size_t from_length = strlen(from), used = 0;
  const char *rest = error->message;
  for (const char *hit; (hit = strstr(rest, from)) != NULL; rest = hit + from_length) {
    int n = snprintf(renamed + used, sizeof renamed - used, "%.*s%s", (int)(hit - rest), rest, to);
    used += n > 0 ? (size_t)n : 0;
    if (used >= sizeof renamed) break;
  }
  if (used < sizeof renamed) snprintf(renamed + used, sizeof renamed - used, "%s", rest);
  memcpy(error->message, renamed, sizeof renamed);
  error->message[sizeof error->message - 1] = 0;
}

/* A zstd-compressed file: its content loaded as load_plain would, the
 * trace and any message naming path (messages add "(decompressed)": their
 * offsets and lines count in the decompressed content). */
static int load_zstd(const char *path, hb_trace *trace, hb_error *error) {
  int fd = decompress_to_memfd(path, error);
  if (fd < 0) return -1;
  char fd_path[64];
  snprintf(fd_path, sizeof fd_path, "/proc/self/fd/%d", fd);
  unsigned char head[HEAD_BYTES];
  size_t got;
  int rc = read_head(fd_path, head, &got, error);
  if (rc == 0) rc = load_plain(fd_path, head, got, trace, error);
  close(fd);
  if (rc == 0) return hb_trace_set_path(trace, path, error);
  if (error) {
    char named[sizeof error->message];
    snprintf(named, sizeof named, "%s (decompressed)", path);
    rename_in_message(error, fd_path, named);
  }
  return -1;
}

int hb_trace_load(const char *path, hb_trace *trace, hb_error *error) {
  memset(trace, 0, sizeof *trace);
  unsigned char head[HEAD_BYTES];
  size_t got;
  if (read_head(path, head, &got, error) != 0) return -1;
  int rc;
  if (got >= sizeof zstd_magic && memcmp(head, zstd_magic, sizeof zstd_magic) == 0)
    rc = load_zstd(path, trace, error);
  else
    rc = load_plain(path, head, got, trace, error);
  if (rc == 0 && hb_trace_check(trace, error) != 0) rc = -1;
  if (rc != 0) hb_trace_release(trace);
  return rc;
}
