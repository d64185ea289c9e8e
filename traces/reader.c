/* reader.c — the core of hb_reader (hb_reader.h): batches from a format's
 * source (reader_source.h), the id discipline checked as they go by, and
 * block ids renumbered into recycled slots. Opening a file by its content
 * is load.c.
 *
 * The live ids sit in a map, id -> slot, that holds only what is live
 * (live_ids.h): a trace of 25M blocks with 20k live at once needs a map of
 * 20k entries, where hb_trace_check needs a byte per id the trace ever
 * had. */
#define _GNU_SOURCE
#include "live_ids.h"
#include "reader_source.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NO_SLOT UINT32_MAX

struct hb_reader {
  hb_trace batch;   /* the source's ops, and the trace's figures */
  hb_trace shown;   /* what hb_reader_trace returns: batch's figures, no ops */
  hb_reader_source source;
  unsigned flags;
  size_t next;      /* first op of batch not delivered yet */
  int ended;        /* the source said the trace ended */
  int failed;
  uint64_t delivered;
  /* Messages from the source name read_path; the user gave shown_path. */
  char *read_path, *renamed_path;
  int temporary_fd; /* a decompressed copy (load.c), closed with the reader; -1 */
  hb_live_ids live; /* id -> slot */
  /* Free slots: one LIFO list per thread, linked through next_free. */
  uint32_t *next_free;  /* [slot_capacity] */
  uint32_t slot_count, slot_capacity;
  uint32_t *free_head;  /* [head_count], NO_SLOT when empty */
  uint32_t head_count;
  uint64_t free_total;
  uint32_t steal_cursor;
};

/* ---- slots ------------------------------------------------------------------ */

static int heads_cover(hb_reader *r, uint32_t thread) {
  if (thread < r->head_count) return 0;
  uint32_t count = r->head_count ? r->head_count : 8;
  while (count <= thread) count *= 2;
  uint32_t *heads = realloc(r->free_head, count * sizeof *heads);
  if (!heads) return -1;
  for (uint32_t t = r->head_count; t < count; t++) heads[t] = NO_SLOT;
  r->free_head = heads;
  r->head_count = count;
  return 0;
}

static uint32_t pop(hb_reader *r, uint32_t thread) {
  uint32_t slot = r->free_head[thread];
  r->free_head[thread] = r->next_free[slot];
  r->free_total--;
  return slot;
}

/* A slot for a block `thread` creates: its own last freed one, else any
 * thread's, else a new one. NO_SLOT when out of memory. */
static uint32_t slot_take(hb_reader *r, uint32_t thread) {
  if (heads_cover(r, thread)) return NO_SLOT;
  if (r->free_head[thread] != NO_SLOT) return pop(r, thread);
  if (r->free_total) {
    /* Rare (a thread creating while only others free): a scan is enough. */
    for (uint32_t k = 0; k < r->head_count; k++) {
      uint32_t t = (r->steal_cursor + k) % r->head_count;
      if (r->free_head[t] != NO_SLOT) {
        r->steal_cursor = t;
        return pop(r, t);
      }
    }
  }
  if (r->slot_count == r->slot_capacity) {
    uint32_t capacity = r->slot_capacity ? r->slot_capacity * 2 : 1024;
    uint32_t *next_free = realloc(r->next_free, (size_t)capacity * sizeof *next_free);
    if (!next_free) return NO_SLOT;
    r->next_free = next_free;
    r->slot_capacity = capacity;
  }
  return r->slot_count++;
}

static void slot_give(hb_reader *r, uint32_t thread, uint32_t slot) {
  /* heads_cover(thread) held when the block's slot was taken or
   * thread < thread_count was checked: grow if this thread never created. */
  if (heads_cover(r, thread)) return; /* out of memory: the slot is lost, not reused */
  r->next_free[slot] = r->free_head[thread];
  r->free_head[thread] = slot;
  r->free_total++;
}

/* ---- the check, op by op ------------------------------------------------------ */

static int op_creates(const hb_op *op) {
  return op->kind != HB_OP_FREE && (op->kind != HB_OP_REALLOC || (op->flags & HB_FLAG_FROM_NULL));
}

/* Checks op (the trace's op number index) as hb_trace_check would, and
 * with HB_READER_SLOTS replaces its id by its slot. The ids of a source
 * that makes them (reader_source.h: ids_made) are checked against the live
 * ones only when they are renumbered. */
static int admit(hb_reader *r, hb_op *op, uint64_t index, hb_error *error) {
  const hb_trace *t = &r->batch;
  if (op->kind >= HB_OP_KIND_COUNT)
    return hb_fail(error, "%s: op %" PRIu64 ": unknown kind %u", t->path, index, op->kind);
  if (op->thread >= t->thread_count)
    return hb_fail(error, "%s: op %" PRIu64 ": thread %u out of range (%u threads)", t->path,
                   index, op->thread, t->thread_count);
  if (op->kind == HB_OP_FREE && op->id == HB_NULL_ID) return 0; /* free(NULL) */
  if (op->id >= t->id_count)
    return hb_fail(error, "%s: op %" PRIu64 ": block id %u out of range (%u ids)", t->path, index,
                   op->id, t->id_count);
  if (r->source.ids_made && !(r->flags & HB_READER_SLOTS)) return 0;
  const char *kind = hb_op_kind_name((hb_op_kind)op->kind);
  uint32_t slot;
  if (op_creates(op)) {
    /* The slot is taken first, so one probe adds the id or finds it live
     * (then the stream stops: the slot taken does not matter). */
    slot = slot_take(r, op->thread);
    int added = slot == NO_SLOT ? -1 : hb_live_ids_add(&r->live, op->id, slot);
    if (added == 1)
      return hb_fail(error, "%s: op %" PRIu64 ": %s of block id %u, which is still live",
                     t->path, index, kind, op->id);
    if (added < 0) return hb_fail(error, "%s: out of memory at op %" PRIu64, t->path, index);
  } else {
    int live = op->kind == HB_OP_FREE ? hb_live_ids_remove(&r->live, op->id, &slot)
                                      : hb_live_ids_get(&r->live, op->id, &slot);
    if (!live)
      return hb_fail(error,
                     "%s: op %" PRIu64 ": %s of block id %u, which is not live (freed twice?)",
                     t->path, index, kind, op->id);
    if (op->kind == HB_OP_FREE) slot_give(r, op->thread, slot);
  }
  if (r->flags & HB_READER_SLOTS) op->id = slot;
  return 0;
}

/* ---- the reader ----------------------------------------------------------------- */

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

static void fix_message(const hb_reader *r, hb_error *error) {
  if (error && r->renamed_path) rename_in_message(error, r->read_path, r->renamed_path);
}

int hb_reader_create(const char *shown_path, const char *read_path, int temporary_fd,
                     int (*opener)(const char *, hb_trace *, hb_reader_source *, hb_error *),
                     unsigned flags, hb_reader **out, hb_error *error) {
  *out = NULL;
  hb_reader *r = calloc(1, sizeof *r);
  if (!r) {
    if (temporary_fd >= 0) close(temporary_fd);
    return hb_fail(error, "%s: out of memory", shown_path);
  }
  r->flags = flags;
  r->temporary_fd = temporary_fd;
  r->read_path = strdup(read_path);
  if (temporary_fd >= 0 && r->read_path) {
    size_t length = strlen(shown_path) + sizeof " (decompressed)";
    r->renamed_path = malloc(length);
    if (r->renamed_path) snprintf(r->renamed_path, length, "%s (decompressed)", shown_path);
  }
  if (!r->read_path || (temporary_fd >= 0 && !r->renamed_path) || hb_live_ids_init(&r->live)) {
    hb_reader_close(r);
    return hb_fail(error, "%s: out of memory", shown_path);
  }
  if (opener(read_path, &r->batch, &r->source, error) != 0) {
    fix_message(r, error);
    memset(&r->batch, 0, sizeof r->batch); /* the opener released it */
    hb_reader_close(r);
    return -1;
  }
  if (strcmp(shown_path, read_path) != 0 && hb_trace_set_path(&r->batch, shown_path, error)) {
    hb_reader_close(r);
    return -1;
  }
  *out = r;
  return 0;
}

/* The next batch from the source, checked. 0 with ops to deliver or at
 * the end (r->ended), -1 on error. */
static int refill(hb_reader *r, hb_error *error) {
  while (!r->ended) {
    r->batch.op_count = 0;
    r->next = 0;
    int rc = r->source.fill(r->source.state, &r->batch, error);
    if (rc < 0) {
      fix_message(r, error);
      return -1;
    }
    r->ended = rc == 1;
    for (size_t i = 0; i < r->batch.op_count; i++)
      if (admit(r, &r->batch.ops[i], r->delivered + i, error)) return -1;
    if (r->batch.op_count) return 0;
  }
  return 0;
}

long hb_reader_next(hb_reader *r, hb_op *ops, uint64_t *time_ns, size_t capacity,
                    hb_error *error) {
  if (r->failed) return hb_fail(error, "%s: read after an error", r->batch.path);
  if (r->next == r->batch.op_count && refill(r, error)) {
    r->failed = 1;
    return -1;
  }
  size_t count = r->batch.op_count - r->next;
  if (count > capacity) count = capacity;
  if (count == 0) return 0; /* the end (batch.ops may be NULL: no memcpy from it) */
  memcpy(ops, r->batch.ops + r->next, count * sizeof *ops);
  if (time_ns) {
    if (r->source.timed && r->batch.time_ns)
      memcpy(time_ns, r->batch.time_ns + r->next, count * sizeof *time_ns);
    else
      memset(time_ns, 0, count * sizeof *time_ns);
  }
  r->next += count;
  r->delivered += count;
  return (long)count;
}

const hb_trace *hb_reader_trace(const hb_reader *reader) {
  hb_reader *r = (hb_reader *)reader; /* the shown copy is a cache */
  r->shown = r->batch;
  r->shown.ops = NULL;
  r->shown.op_capacity = 0;
  r->shown.op_count = r->delivered;
  /* Non-NULL marks a timed trace, as in a loaded one; never read. */
  r->shown.time_ns = r->source.timed ? (uint64_t *)&r->delivered : NULL;
  return &r->shown;
}

int hb_reader_timed(const hb_reader *reader) { return reader->source.timed; }

uint32_t hb_reader_slot_count(const hb_reader *reader) { return reader->slot_count; }

void hb_reader_close(hb_reader *r) {
  if (!r) return;
  if (r->source.close) r->source.close(r->source.state);
  hb_trace_release(&r->batch);
  if (r->temporary_fd >= 0) close(r->temporary_fd);
  free(r->read_path);
  free(r->renamed_path);
  hb_live_ids_release(&r->live);
  free(r->next_free);
  free(r->free_head);
  free(r);
}

/* ---- a whole-trace loader as a source ---------------------------------------------- */

typedef struct whole_state {
  hb_trace trace;
  size_t next;
} whole_state;

static int whole_fill(void *state, hb_trace *batch, hb_error *error) {
  whole_state *w = state;
  size_t end = w->next + HB_READER_BATCH_OPS;
  if (end > w->trace.op_count) end = w->trace.op_count;
  for (; w->next < end; w->next++) {
    int rc = w->trace.time_ns
                 ? hb_trace_push_timed(batch, w->trace.ops[w->next], w->trace.time_ns[w->next],
                                       error)
                 : hb_trace_push(batch, w->trace.ops[w->next], error);
    if (rc) return -1;
  }
  return w->next == w->trace.op_count;
}

static void whole_close(void *state) {
  whole_state *w = state;
  if (!w) return;
  hb_trace_release(&w->trace);
  free(w);
}

int hb_whole_open(const char *path, int (*load)(const char *, hb_trace *, hb_error *),
                  hb_trace *batch, hb_reader_source *source, hb_error *error) {
  whole_state *w = calloc(1, sizeof *w);
  if (!w) return hb_fail(error, "%s: out of memory", path);
  if (load(path, &w->trace, error) != 0) {
    free(w);
    return -1;
  }
  /* The batch carries every figure but the ops. */
  hb_trace_init(batch, path, w->trace.format);
  free(batch->program);
  batch->program = strdup(w->trace.program ? w->trace.program : "");
  batch->pid = w->trace.pid;
  batch->thread_count = w->trace.thread_count;
  batch->id_count = w->trace.id_count;
  batch->dropped_ops = w->trace.dropped_ops;
  batch->unmatched_frees = w->trace.unmatched_frees;
  batch->failed_allocs = w->trace.failed_allocs;
  batch->unmatched_reallocs = w->trace.unmatched_reallocs;
  batch->reused_addresses = w->trace.reused_addresses;
  batch->incomplete = w->trace.incomplete;
  batch->other_process_calls = w->trace.other_process_calls;
  *source = (hb_reader_source){whole_fill, whole_close, w, w->trace.time_ns != NULL, 0};
  return 0;
}
