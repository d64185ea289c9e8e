/* load.c — hb_trace_load: reading a trace file of any supported format,
 * the reader picked by the file's content, never by its name (hb_trace.h). */
#include "hb_trace.h"

#include "hbt_format.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

int hb_trace_load(const char *path, hb_trace *trace, hb_error *error) {
  memset(trace, 0, sizeof *trace);
  FILE *file = fopen(path, "rb");
  if (!file) return hb_fail(error, "%s: cannot open: %s", path, strerror(errno));
  unsigned char head[8] = {0};
  size_t got = fread(head, 1, sizeof head, file);
  int read_errno = ferror(file) ? errno : 0;
  fclose(file);
  if (read_errno) return hb_fail(error, "%s: cannot read: %s", path, strerror(read_errno));
  if (got == 0) return hb_fail(error, "%s: offset 0: empty file", path);

  /* Binary formats by magic; text formats by their first character after
   * gzip decompression (zlib reads plain files unchanged). */
  int rc;
  if (got == sizeof head && memcmp(head, HB_HBT_MAGIC, sizeof head) == 0) {
    rc = hb_hbt_load(path, trace, error);
  } else if (got == sizeof head && memcmp(head, HB_RAW_MAGIC, sizeof head) == 0) {
    rc = hb_raw_load(path, trace, error);
  } else {
    gzFile text = gzopen(path, "rb");
    if (!text) return hb_fail(error, "%s: cannot open: %s", path, strerror(errno));
    int first = gzgetc(text);
    gzclose(text);
    if (first >= '0' && first <= '9')
      rc = hb_rep_load(path, trace, error);
    else if (first == '=' || first == '-')
      rc = hb_valgrind_load(path, trace, error);
    else
      return hb_fail(error,
                     "%s: offset 0: unknown trace format (not a heapbench trace or recording, "
                     ".rep or valgrind log)",
                     path);
  }
  if (rc == 0 && hb_trace_check(trace, error) != 0) rc = -1;
  if (rc != 0) hb_trace_release(trace);
  return rc;
}
