/* rep.c — reader for CS:APP malloc-lab trace files (.rep).
 *
 * Header: four numbers, one per line. The classic set (2002) has
 * sugg_heapsize, num_ids, num_ops, weight; the extended set (Autolab-era
 * drivers) has weight, num_ids, num_ops, ignore_ranges. Both put the id
 * count second and the op count third, which is all a replayer needs.
 * Then ops, one per line:
 *   a <id> <bytes>    malloc
 *   r <id> <bytes>    realloc; of an id that is not live: realloc(NULL, n)
 *   f <id>            free; "f -1" is free(NULL)
 * Like the lab's driver, reading stops after num_ops ops; a file with fewer
 * is truncated, which is an error. Read as a stream (reader_source.h),
 * plain or gzip-compressed. "r <id> 0" is a realloc to zero: it
 * frees the block (flagged HB_FLAG_REALLOC_ZERO).
 */
#include "live_ids.h"
#include "reader_source.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* Parses one unsigned decimal number at *cursor, skipping blanks first. */
static int parse_number(const char **cursor, uint64_t *value) {
  const char *p = *cursor;
  while (*p == ' ' || *p == '\t') p++;
  if (*p < '0' || *p > '9') return -1;
  uint64_t v = 0;
  for (; *p >= '0' && *p <= '9'; p++) {
    if (v > (UINT64_MAX - 9) / 10) return -1;
    v = v * 10 + (uint64_t)(*p - '0');
  }
  *value = v;
  *cursor = p;
  return 0;
}

static int at_line_end(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
  return *p == 0;
}

typedef struct rep_state {
  char *path;
  gzFile file;
  unsigned long line_number;
  uint64_t id_count, op_count, ops_read;
  hb_live_ids live; /* the live ids (values unused) */
} rep_state;

static void rep_close(void *state) {
  rep_state *s = state;
  if (!s) return;
  if (s->file) gzclose(s->file);
  hb_live_ids_release(&s->live);
  free(s->path);
  free(s);
}

/* Reads one line into line[size]: 1, 0 at the end of the file, -1 if too
 * long. */
static int read_line(gzFile file, char *line, int size) {
  if (!gzgets(file, line, size)) return 0;
  if (!strchr(line, '\n') && !gzeof(file)) return -1;
  return 1;
}

/* The next ops, up to a batch; 1 once the header's op count is read. */
static int rep_fill(void *state, hb_trace *trace, hb_error *error) {
  rep_state *s = state;
  const char *path = s->path;
  char line[256];
  while (s->ops_read < s->op_count) {
    if (trace->op_count >= HB_READER_BATCH_OPS) return 0;
    s->line_number++;
    unsigned long line_number = s->line_number;
    int got = read_line(s->file, line, sizeof line);
    if (got == 0)
      return hb_fail(error, "%s:%lu: truncated: header promises %" PRIu64 " ops, file has %" PRIu64,
                     path, line_number, s->op_count, s->ops_read);
    if (got < 0) return hb_fail(error, "%s:%lu: line too long", path, line_number);
    const char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (at_line_end(p)) continue; /* blank lines are not ops */
    char verb = *p++;
    hb_op op = {0};
    uint64_t id = 0, size = 0;
    if (verb == 'f') {
      const char *q = p;
      while (*q == ' ' || *q == '\t') q++;
      if (q[0] == '-' && q[1] == '1' && at_line_end(q + 2)) {
        op.kind = HB_OP_FREE;
        op.id = HB_NULL_ID;
      } else if (parse_number(&p, &id) == 0 && at_line_end(p)) {
        op.kind = HB_OP_FREE;
      } else {
        return hb_fail(error, "%s:%lu: malformed free (expected 'f <id>')", path, line_number);
      }
    } else if (verb == 'a' || verb == 'r') {
      if (parse_number(&p, &id) || parse_number(&p, &size) || !at_line_end(p))
        return hb_fail(error, "%s:%lu: malformed '%c' (expected '%c <id> <bytes>')", path,
                       line_number, verb, verb);
      op.kind = verb == 'a' ? HB_OP_MALLOC : HB_OP_REALLOC;
      op.size = size;
    } else {
      return hb_fail(error, "%s:%lu: unknown op '%c' (expected a, r or f)", path, line_number,
                     verb);
    }
    if (op.id != HB_NULL_ID) {
      if (id >= s->id_count)
        return hb_fail(error, "%s:%lu: id %" PRIu64 " out of range (header says %" PRIu64 " ids)",
                       path, line_number, id, s->id_count);
      op.id = (uint32_t)id;
      uint32_t unused;
      int live = hb_live_ids_get(&s->live, (uint32_t)id, &unused);
      if (op.kind == HB_OP_REALLOC && !live) op.flags |= HB_FLAG_FROM_NULL;
      if (op.kind == HB_OP_REALLOC && size == 0 && live) {
        op.kind = HB_OP_FREE;
        op.flags = HB_FLAG_REALLOC_ZERO;
      }
      if (op.kind == HB_OP_FREE && !live)
        return hb_fail(error, "%s:%lu: free of id %" PRIu64 ", which is not allocated", path,
                       line_number, id);
      if (op.kind == HB_OP_MALLOC && live)
        return hb_fail(error, "%s:%lu: allocation of id %" PRIu64 ", which is still allocated",
                       path, line_number, id);
      if (op.kind == HB_OP_FREE)
        hb_live_ids_remove(&s->live, (uint32_t)id, &unused);
      else if (!live && hb_live_ids_add(&s->live, (uint32_t)id, 0) < 0)
        return hb_fail(error, "%s:%lu: out of memory", path, line_number);
    }
    if (hb_trace_push(trace, op, error)) return -1;
    s->ops_read++;
  }
  return 1;
}

int hb_rep_open(const char *path, hb_trace *trace, hb_reader_source *source, hb_error *error) {
  rep_state *s = calloc(1, sizeof *s);
  if (!s || !(s->path = strdup(path))) {
    free(s);
    return hb_fail(error, "%s: out of memory", path);
  }
  s->file = gzopen(path, "rb");
  if (!s->file) {
    rep_close(s);
    return hb_fail(error, "%s: cannot open: %s", path, strerror(errno));
  }
  gzbuffer(s->file, 1 << 16);
  hb_trace_init(trace, path, "rep");

  char line[256];
  uint64_t header[4];
  for (int i = 0; i < 4; i++) {
    s->line_number++;
    const char *p = line;
    if (read_line(s->file, line, sizeof line) != 1 || parse_number(&p, &header[i]) ||
        !at_line_end(p)) {
      unsigned long line_number = s->line_number;
      rep_close(s);
      hb_trace_release(trace);
      return hb_fail(error, "%s:%lu: malformed .rep header (expected 4 numbers, one per line)",
                     path, line_number);
    }
  }
  uint64_t id_count = header[1], op_count = header[2];
  /* Sizes are checked against the file before anything is allocated for
   * them: an op line takes at least 3 bytes ("f 0"), and every id is made
   * by some op, so a header claiming far more is damaged, not a reason to
   * reserve gigabytes. A gzip file is not checked against its size (it may
   * hold far more); nothing is reserved for its counts either: the ops
   * stream, the live ids sit in a set as large as what is live. */
  struct stat st;
  const char *bad_header = NULL;
  int bad_line = 3; /* the op count's line, or 2 for the id count's */
  if (gzdirect(s->file) && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
      op_count > (uint64_t)st.st_size / 3) {
    bad_header = "more ops than the file can hold (truncated?)";
  } else if (id_count >= HB_NULL_ID || id_count > op_count + HB_TRACE_SPARE_IDS) {
    bad_header = "far more block ids than ops";
    bad_line = 2;
  }
  if (bad_header) {
    rep_close(s);
    hb_trace_release(trace);
    return hb_fail(error, "%s:%d: header declares %" PRIu64 " ids and %" PRIu64 " ops: %s", path,
                   bad_line, id_count, op_count, bad_header);
  }
  trace->id_count = (uint32_t)id_count;
  s->id_count = id_count;
  s->op_count = op_count;
  if (hb_live_ids_init(&s->live)) {
    rep_close(s);
    hb_trace_release(trace);
    return hb_fail(error, "%s: out of memory", path);
  }
  *source = (hb_reader_source){rep_fill, rep_close, s, 0, 0};
  return 0;
}
