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
 * is truncated, which is an error. "r <id> 0" is a realloc to zero: it
 * frees the block (flagged HB_FLAG_REALLOC_ZERO).
 */
#include "hb_trace.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

int hb_rep_load(const char *path, hb_trace *trace, hb_error *error) {
  FILE *file = fopen(path, "r");
  if (!file) return hb_fail(error, "%s: cannot open: %s", path, strerror(errno));
  hb_trace_init(trace, path, "rep");

  char line[256];
  unsigned long line_number = 0;
  uint64_t header[4];
  for (int i = 0; i < 4; i++) {
    line_number++;
    const char *p = line;
    if (!fgets(line, sizeof line, file) || parse_number(&p, &header[i]) || !at_line_end(p)) {
      fclose(file);
      hb_trace_release(trace);
      return hb_fail(error, "%s:%lu: malformed .rep header (expected 4 numbers, one per line)",
                     path, line_number);
    }
  }
  uint64_t id_count = header[1], op_count = header[2];
  /* Sizes are checked against the file before anything is allocated for
   * them: an op line takes at least 3 bytes ("f 0"), and every id is made
   * by some op, so a header claiming far more is damaged, not a reason to
   * reserve gigabytes. */
  struct stat st;
  const char *bad_header = NULL;
  int bad_line = 3; /* the op count's line, or 2 for the id count's */
  if (fstat(fileno(file), &st) == 0 && S_ISREG(st.st_mode) && op_count > (uint64_t)st.st_size / 3) {
    bad_header = "more ops than the file can hold (truncated?)";
  } else if (id_count >= HB_NULL_ID || id_count > op_count + HB_TRACE_SPARE_IDS) {
    bad_header = "far more block ids than ops";
    bad_line = 2;
  }
  if (bad_header) {
    fclose(file);
    hb_trace_release(trace);
    return hb_fail(error, "%s:%d: header declares %" PRIu64 " ids and %" PRIu64 " ops: %s", path,
                   bad_line, id_count, op_count, bad_header);
  }
  trace->id_count = (uint32_t)id_count;
  unsigned char *live = calloc(id_count ? id_count : 1, 1);
  if (!live) {
    fclose(file);
    hb_trace_release(trace);
    return hb_fail(error, "%s: out of memory", path);
  }

  int rc = 0;
  uint64_t ops_read = 0;
  while (rc == 0 && ops_read < op_count) {
    line_number++;
    if (!fgets(line, sizeof line, file)) {
      rc = hb_fail(error, "%s:%lu: truncated: header promises %" PRIu64 " ops, file has %" PRIu64,
                   path, line_number, op_count, ops_read);
      break;
    }
    if (!strchr(line, '\n') && !feof(file)) {
      rc = hb_fail(error, "%s:%lu: line too long", path, line_number);
      break;
    }
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
        rc = hb_fail(error, "%s:%lu: malformed free (expected 'f <id>')", path, line_number);
        break;
      }
    } else if (verb == 'a' || verb == 'r') {
      if (parse_number(&p, &id) || parse_number(&p, &size) || !at_line_end(p)) {
        rc = hb_fail(error, "%s:%lu: malformed '%c' (expected '%c <id> <bytes>')", path,
                     line_number, verb, verb);
        break;
      }
      op.kind = verb == 'a' ? HB_OP_MALLOC : HB_OP_REALLOC;
      op.size = size;
    } else {
      rc = hb_fail(error, "%s:%lu: unknown op '%c' (expected a, r or f)", path, line_number, verb);
      break;
    }
    if (op.id != HB_NULL_ID) {
      if (id >= id_count) {
        rc = hb_fail(error, "%s:%lu: id %" PRIu64 " out of range (header says %" PRIu64 " ids)",
                     path, line_number, id, id_count);
        break;
      }
      op.id = (uint32_t)id;
      if (op.kind == HB_OP_REALLOC && !live[id]) op.flags |= HB_FLAG_FROM_NULL;
      if (op.kind == HB_OP_REALLOC && size == 0 && live[id]) {
        op.kind = HB_OP_FREE;
        op.flags = HB_FLAG_REALLOC_ZERO;
      }
      if (op.kind == HB_OP_FREE && !live[id]) {
        rc = hb_fail(error, "%s:%lu: free of id %" PRIu64 ", which is not allocated", path,
                     line_number, id);
        break;
      }
      if (op.kind == HB_OP_MALLOC && live[id]) {
        rc = hb_fail(error, "%s:%lu: allocation of id %" PRIu64 ", which is still allocated",
                     path, line_number, id);
        break;
      }
      live[id] = op.kind != HB_OP_FREE;
    }
    rc = hb_trace_push(trace, op, error);
    ops_read++;
  }
  free(live);
  fclose(file);
  if (rc != 0) hb_trace_release(trace);
  return rc;
}
