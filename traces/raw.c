/* raw.c — reads one process's raw recording (the recorder's .hbraw files,
 * one per thread; layout in hbt_format.h and FORMAT.md) into a trace.
 *
 * The threads' records are merged by their per-process sequence number,
 * which the recorder takes before a free and after an allocation returns,
 * so an address is always released before another thread's record can
 * receive it. Records past a file's committed count (a thread killed in
 * the middle of storing one) are ignored.
 */
#define _GNU_SOURCE
#include "builder.h"
#include "hb_trace.h"
#include "hbt_format.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct thread_file {
  hb_raw_header header;
  hb_raw_record *records;
  uint64_t count, next;
  uint64_t realloc_old_ptr; /* between a REALLOC_BEGIN and its END */
  uint32_t realloc_old_id;
  int in_realloc;
} thread_file;

static int read_thread(const char *path, uint32_t index, thread_file *t, hb_error *error) {
  FILE *file = fopen(path, "rb");
  if (!file) return hb_fail(error, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  int rc = 0;
  if (fstat(fileno(file), &st) != 0 || fread(&t->header, sizeof t->header, 1, file) != 1) {
    rc = hb_fail(error, "%s: offset 0: raw recording header truncated", path);
  } else if (memcmp(t->header.magic, HB_RAW_MAGIC, 8) != 0) {
    rc = hb_fail(error, "%s: offset 0: not a heapbench raw recording", path);
  } else if (t->header.version != HB_RAW_VERSION ||
             t->header.record_bytes != sizeof(hb_raw_record)) {
    rc = hb_fail(error, "%s: offset 8: raw format version %u (record %u bytes) not supported",
                 path, t->header.version, t->header.record_bytes);
  } else if (t->header.thread_index != index) {
    rc = hb_fail(error, "%s: offset 20: thread index %u, expected %u", path,
                 t->header.thread_index, index);
  } else {
    uint64_t count = t->header.record_count;
    uint64_t room = st.st_size > HB_RAW_HEADER_BYTES
                        ? ((uint64_t)st.st_size - HB_RAW_HEADER_BYTES) / sizeof(hb_raw_record)
                        : 0;
    if (count > room) {
      rc = hb_fail(error, "%s: offset %jd: file ends before its %" PRIu64 " committed records",
                   path, (intmax_t)st.st_size, count);
    } else {
      t->count = count;
      t->records = malloc((count ? count : 1) * sizeof *t->records);
      if (!t->records)
        rc = hb_fail(error, "%s: out of memory", path);
      else if (fseek(file, HB_RAW_HEADER_BYTES, SEEK_SET) != 0 ||
               fread(t->records, sizeof *t->records, count, file) != count)
        rc = hb_fail(error, "%s: offset %d: read error", path, HB_RAW_HEADER_BYTES);
    }
  }
  fclose(file);
  return rc;
}

static uint64_t seq_of(const hb_raw_record *r) { return r->seq_align_event >> 16; }

/* Min-heap of thread indexes keyed by their next record's seq. */
static void heap_sift_down(uint32_t *heap, size_t n, size_t i, const thread_file *threads) {
  for (;;) {
    size_t smallest = i, l = 2 * i + 1, r = l + 1;
    const thread_file *ti = &threads[heap[smallest]];
    if (l < n && seq_of(&threads[heap[l]].records[threads[heap[l]].next]) <
                     seq_of(&ti->records[ti->next]))
      smallest = l;
    const thread_file *ts = &threads[heap[smallest]];
    if (r < n && seq_of(&threads[heap[r]].records[threads[heap[r]].next]) <
                     seq_of(&ts->records[ts->next]))
      smallest = r;
    if (smallest == i) return;
    uint32_t tmp = heap[i];
    heap[i] = heap[smallest];
    heap[smallest] = tmp;
    i = smallest;
  }
}

static int apply(hb_builder *b, thread_file *t, uint32_t thread, const hb_raw_record *r,
                 uint64_t time_ns, const char *path, hb_error *error) {
  unsigned event = r->seq_align_event & 0xff, align_log2 = (r->seq_align_event >> 8) & 0xff;
  switch (event) {
  case HB_RAW_MALLOC:
    return hb_builder_alloc(b, HB_OP_MALLOC, thread, r->size, 0, r->ptr, time_ns, error);
  case HB_RAW_CALLOC:
    return hb_builder_alloc(b, HB_OP_CALLOC, thread, r->size, 0, r->ptr, time_ns, error);
  case HB_RAW_ALIGNED:
    if (align_log2 > 63) break;
    return hb_builder_alloc(b, HB_OP_ALIGNED, thread, r->size, align_log2, r->ptr, time_ns,
                            error);
  case HB_RAW_FREE:
    return hb_builder_free(b, thread, r->ptr, time_ns, error);
  case HB_RAW_REALLOC_BEGIN:
    if (t->in_realloc) break;
    t->in_realloc = 1;
    t->realloc_old_ptr = r->ptr;
    t->realloc_old_id = hb_builder_realloc_take(b, r->ptr);
    return 0;
  case HB_RAW_REALLOC_END:
    if (!t->in_realloc) break;
    t->in_realloc = 0;
    return hb_builder_realloc_finish(b, thread, t->realloc_old_ptr, t->realloc_old_id, r->size,
                                     r->ptr, time_ns, error);
  default:
    break;
  }
  return hb_fail(error, "%s: offset %" PRIu64 ": thread %u: bad record (event %u)", path,
                 (uint64_t)HB_RAW_HEADER_BYTES + (uint64_t)(r - t->records) * sizeof *r, thread,
                 event);
}

int hb_raw_load(const char *path, hb_trace *trace, hb_error *error) {
  hb_trace_init(trace, path, "hbraw");
  /* "<prefix>.t<N>.hbraw": find the prefix, read thread 0 for the count. */
  size_t len = strlen(path);
  const char *suffix = ".hbraw";
  char *prefix = NULL, *name = NULL;
  thread_file *threads = NULL;
  uint32_t *heap = NULL;
  uint32_t thread_count = 0;
  int rc = -1, builder_ready = 0;
  hb_builder builder;
  if (len > strlen(suffix) && strcmp(path + len - strlen(suffix), suffix) == 0) {
    size_t end = len - strlen(suffix), t = end;
    while (t > 0 && path[t - 1] >= '0' && path[t - 1] <= '9') t--;
    if (t < end && t >= 2 && path[t - 1] == 't' && path[t - 2] == '.') prefix = strndup(path, t - 2);
  }
  if (!prefix) {
    hb_fail(error, "%s: offset 0: a raw recording is named <prefix>.t<N>.hbraw", path);
    goto done;
  }
  name = malloc(strlen(prefix) + 32);
  if (!name) {
    hb_fail(error, "%s: out of memory", path);
    goto done;
  }
  thread_file first;
  memset(&first, 0, sizeof first);
  sprintf(name, "%s.t0.hbraw", prefix);
  if (read_thread(name, 0, &first, error)) {
    free(first.records);
    goto done;
  }
  thread_count = first.header.threads_started;
  if (thread_count == 0 || thread_count > 1u << 20) {
    free(first.records);
    hb_fail(error, "%s: offset 24: thread count %u out of range", name, thread_count);
    goto done;
  }
  threads = calloc(thread_count, sizeof *threads);
  heap = calloc(thread_count, sizeof *heap);
  if (!threads || !heap) {
    free(first.records);
    hb_fail(error, "%s: out of memory", path);
    goto done;
  }
  threads[0] = first;
  for (uint32_t t = 1; t < thread_count; t++) {
    sprintf(name, "%s.t%u.hbraw", prefix, t);
    if (read_thread(name, t, &threads[t], error)) goto done;
  }
  free(trace->program);
  trace->program = strndup(first.header.program, HB_RAW_PROGRAM_BYTES);
  free(trace->name);
  const char *slash = strrchr(prefix, '/');
  trace->name = strdup(slash ? slash + 1 : prefix);
  if (!trace->program || !trace->name) {
    hb_fail(error, "%s: out of memory", path);
    goto done;
  }
  trace->pid = first.header.pid;
  trace->thread_count = thread_count;
  trace->incomplete = !first.header.exited;
  uint64_t start_ns = first.header.start_ns;

  if (hb_builder_init(&builder, trace, 1, error)) goto done;
  builder_ready = 1;
  size_t heap_size = 0;
  for (uint32_t t = 0; t < thread_count; t++) {
    for (uint64_t i = 1; i < threads[t].count; i++)
      if (seq_of(&threads[t].records[i]) <= seq_of(&threads[t].records[i - 1])) {
        sprintf(name, "%s.t%u.hbraw", prefix, t);
        hb_fail(error, "%s: offset %" PRIu64 ": sequence numbers go backwards (corrupted)", name,
                (uint64_t)HB_RAW_HEADER_BYTES + i * sizeof(hb_raw_record));
        goto done;
      }
    if (threads[t].count) heap[heap_size++] = t;
  }
  for (size_t i = heap_size; i-- > 0;) heap_sift_down(heap, heap_size, i, threads);
  while (heap_size) {
    uint32_t t = heap[0];
    thread_file *tf = &threads[t];
    const hb_raw_record *r = &tf->records[tf->next];
    uint64_t time_ns = r->time_ns > start_ns ? r->time_ns - start_ns : 0;
    if (apply(&builder, tf, t, r, time_ns, path, error)) goto done;
    if (++tf->next == tf->count) heap[0] = heap[--heap_size];
    heap_sift_down(heap, heap_size, 0, threads);
  }
  rc = 0;
done:
  if (builder_ready) hb_builder_finish(&builder);
  if (threads)
    for (uint32_t t = 0; t < thread_count; t++) free(threads[t].records);
  free(threads);
  free(heap);
  free(prefix);
  free(name);
  if (rc != 0) hb_trace_release(trace);
  return rc;
}
