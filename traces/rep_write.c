/* rep_write.c — export of a single-threaded trace to the classic CS:APP
 * .rep format (rep.c reads it back).
 *
 * .rep knows malloc, realloc and free only: calloc and aligned
 * allocations are written as 'a' (their alignment and zeroing are lost),
 * realloc(NULL, n) as 'r' of a dead id (which readers take as
 * realloc(NULL)), a free by realloc(p, 0) as 'r <id> 0', free(NULL) as
 * 'f -1'. The header is classic: suggested heap size (the peak live
 * bytes), ids, ops, weight 1.
 */
#include "hb_trace.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int hb_rep_write(const hb_trace *trace, const char *path, hb_error *error) {
  if (trace->thread_count > 1)
    return hb_fail(error, "%s: .rep holds one thread; this trace has %u", path,
                   trace->thread_count);
  hb_trace_stats stats;
  if (hb_trace_stats_compute(trace, &stats, error)) return -1;
  FILE *file = fopen(path, "w");
  if (!file) return hb_fail(error, "%s: cannot create: %s", path, strerror(errno));
  fprintf(file, "%" PRIu64 "\n%u\n%zu\n1\n", stats.peak_live_bytes, trace->id_count,
          trace->op_count);
  for (size_t i = 0; i < trace->op_count; i++) {
    const hb_op *op = &trace->ops[i];
    if (op->kind == HB_OP_FREE && op->id == HB_NULL_ID)
      fputs("f -1\n", file);
    else if (op->kind == HB_OP_FREE && (op->flags & HB_FLAG_REALLOC_ZERO))
      fprintf(file, "r %u 0\n", op->id);
    else if (op->kind == HB_OP_FREE)
      fprintf(file, "f %u\n", op->id);
    else if (op->kind == HB_OP_REALLOC)
      fprintf(file, "r %u %" PRIu64 "\n", op->id, op->size);
    else
      fprintf(file, "a %u %" PRIu64 "\n", op->id, op->size);
  }
  int failed = ferror(file);
  if (fclose(file) != 0) failed = 1;
  if (failed) return hb_fail(error, "%s: write failed: %s", path, strerror(errno));
  return 0;
}
