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
#include "reader_source.h"
#include "hbt_format.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define HB_RAW_MAX_MISSING_THREADS 64

/* One decoded record. time: in the file's unit until converted to ns. */
typedef struct raw_record {
  uint64_t seq, time, ptr, size;
  uint8_t event, align_log2;
} raw_record;

typedef struct thread_file {
  hb_raw_header header;
  raw_record *records;
  uint64_t count, next;
  uint64_t realloc_old_ptr, realloc_size; /* between a REALLOC_BEGIN and its END */
  uint32_t realloc_old_id;
  int in_realloc;
  int missing; /* never started: see thread_never_started */
} thread_file;

static int get_varint(const unsigned char **cursor, const unsigned char *end, uint64_t *value) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*cursor >= end) return -1;
    unsigned char byte = *(*cursor)++;
    v |= (uint64_t)(byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      *value = v;
      return 0;
    }
  }
  return -1;
}

static uint64_t unzigzag(uint64_t value) { return (value >> 1) ^ (uint64_t)-(int64_t)(value & 1); }

/* Decodes the committed bytes of one thread's records. */
static int decode(const char *path, thread_file *t, const unsigned char *data, uint64_t bytes,
                  hb_error *error) {
  uint64_t capacity = bytes / 3 + 1; /* a record is at least 3 bytes */
  t->records = malloc(capacity * sizeof *t->records);
  if (!t->records) return hb_fail(error, "%s: out of memory", path);
  const unsigned char *cursor = data, *end = data + bytes;
  uint64_t seq = UINT64_MAX, time = t->header.base_time, ptr = 0, chunk = t->header.chunk_bytes;
  while (cursor < end) {
    uint64_t offset = (uint64_t)(cursor - data), head, value;
    if (*cursor == HB_RAW_PADDING) { /* skip to the next chunk */
      cursor = data + (offset / chunk + 1) * chunk;
      if (cursor > end) cursor = end;
      continue;
    }
    raw_record r = {0};
    if (get_varint(&cursor, end, &head)) goto bad;
    r.event = head & 7;
    if (r.event < HB_RAW_MALLOC || r.event > HB_RAW_FREE) goto bad;
    r.seq = seq = seq + 1 + (head >> 3);
    if (r.event == HB_RAW_ALIGNED) {
      if (cursor >= end || *cursor > 63) goto bad;
      r.align_log2 = *cursor++;
    }
    if (get_varint(&cursor, end, &value)) goto bad;
    r.time = time += unzigzag(value);
    if (get_varint(&cursor, end, &value)) goto bad;
    r.ptr = ptr += unzigzag(value);
    if (hb_raw_event_has_size(r.event) && get_varint(&cursor, end, &r.size)) goto bad;
    if (t->count == capacity) goto bad;
    t->records[t->count++] = r;
    continue;
  bad:
    return hb_fail(error, "%s: offset %" PRIu64 ": bad record %" PRIu64 " (corrupted)", path,
                   HB_RAW_HEADER_BYTES + offset, t->count);
  }
  return 0;
}

/* A thread counts itself in thread 0's header before it creates and fills
 * its own file: a process that dies in between leaves no file, or one
 * whose header is still zero, for a thread that stored no record yet. */
static int thread_never_started(const char *path) {
  FILE *file = fopen(path, "rb");
  if (!file) return errno == ENOENT;
  char magic[8] = {0};
  size_t got = fread(magic, 1, sizeof magic, file);
  fclose(file);
  static const char zero[8];
  return got < sizeof magic || memcmp(magic, zero, sizeof magic) == 0;
}

static int read_thread(const char *path, uint32_t index, thread_file *t, hb_error *error) {
  FILE *file = fopen(path, "rb");
  if (!file) return hb_fail(error, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  int rc = 0;
  unsigned char *data = NULL;
  if (fstat(fileno(file), &st) != 0 || fread(&t->header, sizeof t->header, 1, file) != 1) {
    rc = hb_fail(error, "%s: offset 0: raw recording header truncated", path);
  } else if (memcmp(t->header.magic, HB_RAW_MAGIC, 8) != 0) {
    rc = hb_fail(error, "%s: offset 0: not a heapbench raw recording of this version", path);
  } else if (t->header.version != HB_RAW_VERSION || t->header.chunk_bytes < 4096) {
    rc = hb_fail(error, "%s: offset 8: raw format version %u (chunk %u bytes) not supported",
                 path, t->header.version, t->header.chunk_bytes);
  } else if (t->header.thread_index != index) {
    rc = hb_fail(error, "%s: offset 16: thread index %u, expected %u", path,
                 t->header.thread_index, index);
  } else {
    uint64_t bytes = t->header.committed_bytes;
    uint64_t room = st.st_size > HB_RAW_HEADER_BYTES ? (uint64_t)st.st_size - HB_RAW_HEADER_BYTES
                                                     : 0;
    if (bytes > room) {
      rc = hb_fail(error, "%s: offset %jd: file ends before its %" PRIu64 " committed bytes",
                   path, (intmax_t)st.st_size, bytes);
    } else {
      data = malloc(bytes ? bytes : 1);
      if (!data)
        rc = hb_fail(error, "%s: out of memory", path);
      else if (fseek(file, HB_RAW_HEADER_BYTES, SEEK_SET) != 0 ||
               fread(data, 1, bytes, file) != bytes)
        rc = hb_fail(error, "%s: offset %d: read error", path, HB_RAW_HEADER_BYTES);
      else
        rc = decode(path, t, data, bytes, error);
    }
  }
  free(data);
  fclose(file);
  return rc;
}

static uint64_t seq_of(const raw_record *r) { return r->seq; }

static uint64_t clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ns per record time unit. For TSC ticks: from the widest span between
 * the clock pairs the threads stored; if the process lived under a
 * millisecond, from a short measurement here (recordings are converted on
 * the machine that made them: `heapbench record`). */
static double ns_per_unit(const thread_file *threads, uint32_t count) {
  if (!threads[0].header.time_in_ticks) return 1.0;
  uint64_t first_ns = UINT64_MAX, first_time = 0, last_ns = 0, last_time = 0;
  for (uint32_t t = 0; t < count; t++) {
    if (threads[t].missing) continue;
    const hb_raw_header *h = &threads[t].header;
    if (h->base_ns < first_ns) {
      first_ns = h->base_ns;
      first_time = h->base_time;
    }
    uint32_t slot = h->late_slot & 1;
    uint64_t ns = h->late_ns[slot] ? h->late_ns[slot] : h->base_ns;
    uint64_t time = h->late_ns[slot] ? h->late_time[slot] : h->base_time;
    if (ns > last_ns) {
      last_ns = ns;
      last_time = time;
    }
  }
  if (last_ns > first_ns + 1000000 && last_time > first_time)
    return (double)(last_ns - first_ns) / (double)(last_time - first_time);
#if defined(__x86_64__)
  uint64_t ns0 = clock_ns(), ticks0 = __builtin_ia32_rdtsc(), ns1;
  while ((ns1 = clock_ns()) < ns0 + 2000000) {
  }
  uint64_t ticks1 = __builtin_ia32_rdtsc();
  if (ticks1 > ticks0) return (double)(ns1 - ns0) / (double)(ticks1 - ticks0);
#endif
  return 1.0;
}

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

static int apply(hb_builder *b, thread_file *t, uint32_t thread, const raw_record *r,
                 uint64_t time_ns, const char *path, hb_error *error) {
  unsigned event = r->event, align_log2 = r->align_log2;
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
    t->realloc_size = r->size;
    t->realloc_old_id = hb_builder_realloc_take(b, r->ptr);
    return 0;
  case HB_RAW_REALLOC_END:
    if (!t->in_realloc) break;
    t->in_realloc = 0;
    return hb_builder_realloc_finish(b, thread, t->realloc_old_ptr, t->realloc_old_id,
                                     t->realloc_size,
                                     r->ptr, time_ns, error);
  default:
    break;
  }
  return hb_fail(error, "%s: thread %u record %" PRIu64 ": %s without its pair (corrupted)",
                 path, thread, (uint64_t)(r - t->records),
                 event == HB_RAW_REALLOC_END ? "realloc end" : "realloc begin");
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
  /* A file under another name is read alone: fine for a one-thread
   * recording, which is all of it. */
  int renamed = prefix == NULL;
  if (renamed) prefix = strdup(path);
  name = prefix ? malloc(strlen(prefix) + 32) : NULL;
  if (!name) {
    hb_fail(error, "%s: out of memory", path);
    goto done;
  }
  thread_file first;
  memset(&first, 0, sizeof first);
  if (renamed)
    strcpy(name, path);
  else
    sprintf(name, "%s.t0.hbraw", prefix);
  if (read_thread(name, 0, &first, error)) {
    free(first.records);
    goto done;
  }
  thread_count = first.header.threads_started;
  if (thread_count == 0 || thread_count > 1u << 16 || (renamed && thread_count != 1)) {
    free(first.records);
    if (renamed && thread_count > 1)
      hb_fail(error, "%s: offset 28: a recording of %u threads is read by its file names, "
              "<prefix>.t<N>.hbraw", name, thread_count);
    else
      hb_fail(error, "%s: offset 28: thread count %u out of range", name, thread_count);
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
  uint32_t missing = 0;
  for (uint32_t t = 1; t < thread_count; t++) {
    sprintf(name, "%s.t%u.hbraw", prefix, t);
    if (thread_never_started(name)) {
      /* No record lost, but say the recording is not whole. Only threads
       * starting when the process died can be in that state: many more
       * means a damaged thread count. */
      threads[t].missing = 1;
      trace->incomplete = 1;
      if (++missing > HB_RAW_MAX_MISSING_THREADS) {
        sprintf(name, "%s.t0.hbraw", prefix);
        hb_fail(error, "%s: offset 28: thread count %u, but more than %d thread files are "
                "missing (corrupted?)", name, thread_count, HB_RAW_MAX_MISSING_THREADS);
        goto done;
      }
      continue;
    }
    if (read_thread(name, t, &threads[t], error)) goto done;
  }
  free(trace->program);
  trace->program = strndup(first.header.program, HB_RAW_PROGRAM_BYTES);
  if (!renamed) { /* "python3-1234", not "python3-1234.t0" */
    free(trace->name);
    const char *slash = strrchr(prefix, '/');
    trace->name = strdup(slash ? slash + 1 : prefix);
  }
  if (!trace->program || !trace->name) {
    hb_fail(error, "%s: out of memory", path);
    goto done;
  }
  trace->pid = first.header.pid;
  trace->thread_count = thread_count;
  trace->incomplete |= !first.header.exited;
  uint64_t start_ns = first.header.start_ns;
  double unit_ns = ns_per_unit(threads, thread_count);

  if (hb_builder_init(&builder, trace, 1, error)) goto done;
  builder_ready = 1;
  size_t heap_size = 0;
  for (uint32_t t = 0; t < thread_count; t++) {
    if (threads[t].count) heap[heap_size++] = t;
  }
  for (size_t i = heap_size; i-- > 0;) heap_sift_down(heap, heap_size, i, threads);
  while (heap_size) {
    uint32_t t = heap[0];
    thread_file *tf = &threads[t];
    const raw_record *r = &tf->records[tf->next];
    /* ns since the process started, through the thread's base pair. */
    double ns = (double)tf->header.base_ns +
                (double)(int64_t)(r->time - tf->header.base_time) * unit_ns;
    uint64_t time_ns = ns > (double)start_ns ? (uint64_t)(ns - (double)start_ns) : 0;
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

/* The streaming reader's source (reader_source.h): for now the whole
 * trace, handed out batch by batch. */
int hb_raw_open(const char *path, hb_trace *batch, hb_reader_source *source, hb_error *error) {
  return hb_whole_open(path, hb_raw_load, batch, source, error);
}
