/* trace.c — the in-memory trace: building, checking and its figures (see
 * hb_trace.h). Loading a file by its content is load.c. */
#include "hb_reader.h"
#include "hb_trace.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hb_fail(hb_error *error, const char *format, ...) {
  va_list args;
  va_start(args, format);
  if (error) vsnprintf(error->message, sizeof error->message, format, args);
  va_end(args);
  return -1;
}

const char *hb_op_kind_name(hb_op_kind kind) {
  static const char *const names[HB_OP_KIND_COUNT] = {"malloc", "calloc", "aligned", "realloc",
                                                      "free"};
  return (unsigned)kind < HB_OP_KIND_COUNT ? names[kind] : "unknown";
}

/* Cuts suffix off name if name ends with it (and is longer): 1 if cut. */
static int strip_suffix(char *name, const char *suffix) {
  size_t len = strlen(name), suffix_len = strlen(suffix);
  if (len <= suffix_len || strcmp(name + len - suffix_len, suffix) != 0) return 0;
  name[len - suffix_len] = 0;
  return 1;
}

static char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *start = slash ? slash + 1 : path;
  char *name = strdup(start);
  if (!name) return NULL;
  /* Strip the compressions, then the format extension: "server.trace.gz"
   * and "server.trace.gz.zst" -> "server". */
  static const char *const compressions[] = {".gz", ".zst"};
  static const char *const extensions[] = {".hbt", ".rep", ".trace", ".log"};
  for (int stripped = 1; stripped;) {
    stripped = 0;
    for (size_t i = 0; i < sizeof compressions / sizeof compressions[0]; i++)
      stripped |= strip_suffix(name, compressions[i]);
  }
  for (size_t i = 0; i < sizeof extensions / sizeof extensions[0]; i++)
    strip_suffix(name, extensions[i]);
  return name;
}

void hb_trace_init(hb_trace *trace, const char *path, const char *format) {
  memset(trace, 0, sizeof *trace);
  trace->path = strdup(path);
  trace->name = base_name(path);
  trace->format = format;
  trace->program = strdup("");
  trace->thread_count = 1;
}

int hb_trace_set_path(hb_trace *trace, const char *path, hb_error *error) {
  char *copy = strdup(path), *name = base_name(path);
  if (!copy || !name) {
    free(copy);
    free(name);
    return hb_fail(error, "%s: out of memory", path);
  }
  free(trace->path);
  free(trace->name);
  trace->path = copy;
  trace->name = name;
  return 0;
}

void hb_trace_release(hb_trace *trace) {
  free(trace->path);
  free(trace->name);
  free(trace->program);
  free(trace->ops);
  free(trace->time_ns);
  memset(trace, 0, sizeof *trace);
}

int hb_trace_push(hb_trace *trace, hb_op op, hb_error *error) {
  if (trace->op_count == trace->op_capacity) {
    size_t capacity = trace->op_capacity ? trace->op_capacity * 2 : 4096;
    hb_op *ops = realloc(trace->ops, capacity * sizeof *ops);
    if (!ops) return hb_fail(error, "%s: out of memory at op %zu", trace->path, trace->op_count);
    trace->ops = ops;
    if (trace->time_ns) {
      uint64_t *times = realloc(trace->time_ns, capacity * sizeof *times);
      if (!times) return hb_fail(error, "%s: out of memory at op %zu", trace->path, trace->op_count);
      trace->time_ns = times;
    }
    trace->op_capacity = capacity;
  }
  if (trace->time_ns) trace->time_ns[trace->op_count] = 0;
  trace->ops[trace->op_count++] = op;
  return 0;
}

int hb_trace_push_timed(hb_trace *trace, hb_op op, uint64_t time_ns, hb_error *error) {
  if (!trace->time_ns) {
    size_t capacity = trace->op_capacity ? trace->op_capacity : 4096;
    trace->time_ns = calloc(capacity, sizeof *trace->time_ns);
    if (!trace->time_ns) return hb_fail(error, "%s: out of memory", trace->path);
  }
  if (hb_trace_push(trace, op, error) != 0) return -1;
  trace->time_ns[trace->op_count - 1] = time_ns;
  return 0;
}

/* Creates: every op but a free and a realloc of a live block. */
static int op_creates(const hb_op *op) {
  return op->kind != HB_OP_FREE && (op->kind != HB_OP_REALLOC || (op->flags & HB_FLAG_FROM_NULL));
}

/* One op into the figures; live_size[id] is the requested size of each
 * live block (id < id_limit: ops beyond it count but are not tracked). */
static void stats_add(hb_trace_stats *stats, uint64_t *live_size, uint64_t id_limit,
                      uint64_t *live_bytes, uint64_t *live_blocks, const hb_op *op) {
  if (op->kind >= HB_OP_KIND_COUNT) return;
  stats->ops_by_kind[op->kind]++;
  if (op->kind == HB_OP_FREE) {
    if (op->id == HB_NULL_ID) {
      stats->free_null++;
      return;
    }
    if (op->id < id_limit) {
      *live_bytes -= live_size[op->id];
      live_size[op->id] = 0;
      (*live_blocks)--;
    }
    return;
  }
  if (op->kind == HB_OP_REALLOC && (op->flags & HB_FLAG_FROM_NULL)) stats->realloc_from_null++;
  stats->requested_bytes += op->size;
  int bucket = 0;
  for (uint64_t s = op->size; s; s >>= 1) bucket++;
  stats->size_histogram[bucket]++;
  if (op->id >= id_limit) return;
  if (op_creates(op))
    (*live_blocks)++;
  else
    *live_bytes -= live_size[op->id];
  live_size[op->id] = op->size;
  *live_bytes += op->size;
  if (*live_bytes > stats->peak_live_bytes) stats->peak_live_bytes = *live_bytes;
  if (*live_blocks > stats->peak_live_blocks) stats->peak_live_blocks = *live_blocks;
}

int hb_trace_stats_compute(const hb_trace *trace, hb_trace_stats *stats, hb_error *error) {
  memset(stats, 0, sizeof *stats);
  uint64_t *live_size = calloc(trace->id_count ? trace->id_count : 1, sizeof *live_size);
  if (!live_size) return hb_fail(error, "%s: out of memory", trace->path);
  uint64_t live_bytes = 0, live_blocks = 0;
  for (size_t i = 0; i < trace->op_count; i++)
    stats_add(stats, live_size, trace->id_count, &live_bytes, &live_blocks, &trace->ops[i]);
  free(live_size);
  return 0;
}

void hb_stats_stream_init(hb_stats_stream *stream) { memset(stream, 0, sizeof *stream); }

int hb_stats_stream_add(hb_stats_stream *stream, const hb_op *ops, size_t count,
                        hb_error *error) {
  for (size_t i = 0; i < count; i++) {
    const hb_op *op = &ops[i];
    if (op->id != HB_NULL_ID && op->id >= stream->slot_capacity) {
      /* Slots come from a reader: at most the most blocks live at once. */
      uint64_t capacity = stream->slot_capacity ? stream->slot_capacity : 1024;
      while (capacity <= op->id) capacity *= 2;
      uint64_t *grown = realloc(stream->slot_bytes, capacity * sizeof *grown);
      if (!grown) return hb_fail(error, "out of memory for %" PRIu64 " slots", capacity);
      memset(grown + stream->slot_capacity, 0,
             (capacity - stream->slot_capacity) * sizeof *grown);
      stream->slot_bytes = grown;
      stream->slot_capacity = capacity;
    }
    stats_add(&stream->stats, stream->slot_bytes, stream->slot_capacity, &stream->live_bytes,
              &stream->live_blocks, op);
  }
  return 0;
}

void hb_stats_stream_release(hb_stats_stream *stream) {
  free(stream->slot_bytes);
  memset(stream, 0, sizeof *stream);
}

int hb_trace_check(const hb_trace *trace, hb_error *error) {
  unsigned char *live = calloc(trace->id_count ? trace->id_count : 1, 1);
  if (!live) return hb_fail(error, "%s: out of memory checking ids", trace->path);
  int rc = 0;
  for (size_t i = 0; i < trace->op_count && rc == 0; i++) {
    const hb_op *op = &trace->ops[i];
    if (op->kind >= HB_OP_KIND_COUNT) {
      rc = hb_fail(error, "%s: op %zu: unknown kind %u", trace->path, i, op->kind);
      break;
    }
    if (op->thread >= trace->thread_count) {
      rc = hb_fail(error, "%s: op %zu: thread %u out of range (%u threads)", trace->path, i,
                   op->thread, trace->thread_count);
      break;
    }
    if (op->kind == HB_OP_FREE && op->id == HB_NULL_ID) continue; /* free(NULL) */
    if (op->id >= trace->id_count) {
      rc = hb_fail(error, "%s: op %zu: block id %u out of range (%u ids)", trace->path, i, op->id,
                   trace->id_count);
      break;
    }
    const char *kind = hb_op_kind_name(op->kind);
    if (op_creates(op)) {
      if (live[op->id]) rc = hb_fail(error, "%s: op %zu: %s of block id %u, which is still live",
                                     trace->path, i, kind, op->id);
      live[op->id] = 1;
    } else if (!live[op->id]) {
      rc = hb_fail(error, "%s: op %zu: %s of block id %u, which is not live (freed twice?)",
                   trace->path, i, kind, op->id);
    } else if (op->kind == HB_OP_FREE) {
      live[op->id] = 0;
    }
  }
  free(live);
  return rc;
}
