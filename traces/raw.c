/* raw.c — reads one process's raw recording (the recorder's .hbraw files,
 * one per thread; layout in hbt_format.h and FORMAT.md) as a stream of
 * ops (raw_reader.h; hb_raw_open is its reader_source.h face), and whole
 * into a trace (hb_raw_load).
 *
 * The threads' records are merged by their per-process sequence number,
 * which the recorder takes before a free and after an allocation returns,
 * so an address is always released before another thread's record can
 * receive it. Records past a file's committed count (a thread killed in
 * the middle of storing one) are ignored.
 *
 * Speed is what `heapbench record` waits for once the program has ended:
 * each thread file is read through a mapped window (the page cache's
 * pages, no copy), records are decoded straight into the merge, and the
 * address map's cache misses are overlapped: a record's map entry is
 * prefetched LOOKAHEAD records before the builder needs it.
 */
#define _GNU_SOURCE
#include "builder.h"
#include "hb_trace.h"
#include "hbt_format.h"
#include "raw_reader.h"
#include "reader_source.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HB_RAW_MAX_MISSING_THREADS 64
/* Bytes of a thread file mapped at once: RSS stays bounded whatever the
 * recording's length. */
#define WINDOW_BYTES ((uint64_t)4 << 20)
/* Records decoded ahead of the builder (a power of two): enough to cover
 * a cache miss with the work of the records in between. */
#define LOOKAHEAD 16
/* Base times and spans below this many ns sum exactly in a double
 * (2^52 + 2^52 <= 2^53). */
#define EXACT_NS_LIMIT ((uint64_t)1 << 52)

/* One decoded record. time: in the file's unit. */
typedef struct raw_record {
  uint64_t seq, time, ptr, size;
  uint8_t event, align_log2;
} raw_record;

typedef struct raw_thread {
  hb_raw_header header;
  const unsigned char *map;            /* the window's mapping (page aligned) */
  size_t map_bytes;
  const unsigned char *base;           /* where record offset window_first is mapped */
  const unsigned char *cursor, *end;   /* the window's records not yet decoded */
  uint64_t window_first;
  uint64_t previous_seq, previous_time, previous_ptr;
  uint64_t decoded;                    /* records decoded so far */
  raw_record next;                     /* valid when has_next */
  int has_next;
  int missing;                         /* never started: see thread_never_started */
  uint64_t realloc_old_ptr, realloc_size; /* between a REALLOC_BEGIN and its END */
  uint32_t realloc_old_id;
  int in_realloc;
} raw_thread;

/* A record taken from the merge, waiting for the builder. */
typedef struct pending {
  raw_record record;
  uint64_t time_ns, number; /* number: the record's index in its thread, for messages */
  uint32_t thread;
} pending;

struct hb_raw_reader {
  char *path;      /* as opened, for messages */
  char *prefix;    /* "<prefix>.t<N>.hbraw"; NULL: path read alone */
  raw_thread *threads;
  uint32_t thread_count;
  uint32_t *heap;  /* min-heap of threads with records, by their next record's seq */
  size_t heap_size;
  hb_builder builder;
  int builder_ready;
  double unit_ns;
  int exact_ns;     /* times in ns whose double sums are exact: integer arithmetic gives them */
  uint64_t start_ns;
  uint64_t records; /* records decoded, all threads */
  pending ring[LOOKAHEAD];
  size_t ring_first, ring_count;
  size_t page_bytes;
  /* Following a recording still being written (hb_raw_reader_follow):
   * thread 0 alone, its end only where its records end for now. */
  int following;
  int second_thread;                 /* seen started: follow no further */
  const hb_raw_header *live_header;  /* thread 0's header, mapped shared: what the recorder stores */
};

static int get_varint(const unsigned char **cursor, const unsigned char *end, uint64_t *value) {
  const unsigned char *p = *cursor;
  if (p < end && !(*p & 0x80)) { /* most fields fit in one byte */
    *value = *p;
    *cursor = p + 1;
    return 0;
  }
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p >= end) return -1;
    unsigned char byte = *p++;
    v |= (uint64_t)(byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      *value = v;
      *cursor = p;
      return 0;
    }
  }
  return -1;
}

static uint64_t unzigzag(uint64_t value) { return (value >> 1) ^ (uint64_t)-(int64_t)(value & 1); }

/* Thread t's file name into name (of at least strlen(prefix) + 32 bytes). */
static void thread_path(const hb_raw_reader *r, uint32_t t, char *name, size_t size) {
  if (r->prefix)
    snprintf(name, size, "%s.t%u.hbraw", r->prefix, t);
  else
    snprintf(name, size, "%s", r->path);
}

static size_t name_bytes(const hb_raw_reader *r) {
  return strlen(r->prefix ? r->prefix : r->path) + 32;
}

static void unmap_window(raw_thread *th) {
  if (th->map) munmap((void *)th->map, th->map_bytes);
  th->map = th->base = th->cursor = th->end = NULL;
}

/* Maps thread t's records from `offset` on (at most WINDOW_BYTES, never
 * past the committed bytes). The file is opened for the mapping only:
 * a recording of thousands of threads holds no descriptor open. */
static int map_window(hb_raw_reader *r, uint32_t t, uint64_t offset, hb_error *error) {
  raw_thread *th = &r->threads[t];
  unmap_window(th);
  uint64_t committed = th->header.committed_bytes;
  uint64_t bytes = committed - offset < WINDOW_BYTES ? committed - offset : WINDOW_BYTES;
  uint64_t file_offset = HB_RAW_HEADER_BYTES + offset;
  uint64_t aligned = file_offset & ~(uint64_t)(r->page_bytes - 1);
  char name[name_bytes(r)];
  thread_path(r, t, name, sizeof name);
  int fd = open(name, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    int saved = errno;
    if (fd >= 0) close(fd);
    return hb_fail(error, "%s: cannot open: %s", name, strerror(saved));
  }
  if ((uint64_t)st.st_size < file_offset + bytes) { /* shrunk since it was opened */
    close(fd);
    return hb_fail(error, "%s: offset %jd: file ends before its %" PRIu64 " committed bytes",
                   name, (intmax_t)st.st_size, committed);
  }
  size_t map_bytes = (size_t)(file_offset + bytes - aligned);
  /* MAP_POPULATE: the window is read through, so one call maps every page
   * of it instead of a fault per few pages. */
  void *map = mmap(NULL, map_bytes ? map_bytes : 1, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd,
                   (off_t)aligned);
  int saved = errno;
  close(fd);
  if (map == MAP_FAILED) return hb_fail(error, "%s: cannot map: %s", name, strerror(saved));
  th->map = map;
  th->map_bytes = map_bytes ? map_bytes : 1;
  th->window_first = offset;
  th->base = th->cursor = (const unsigned char *)map + (file_offset - aligned);
  th->end = th->base + bytes;
  return 0;
}

/* Decodes the record at th->cursor, whose bytes end by `end`, into
 * th->next: 0, or -1 (nothing changed) when it is not a record. */
static inline int decode(hb_raw_reader *r, raw_thread *th, const unsigned char *end) {
  const unsigned char *cursor = th->cursor;
  uint64_t head, time_delta, ptr_delta, size = 0;
  if (get_varint(&cursor, end, &head)) return -1;
  unsigned event = head & 7, align_log2 = 0;
  if (event < HB_RAW_MALLOC || event > HB_RAW_FREE) return -1;
  if (event == HB_RAW_ALIGNED) {
    if (cursor >= end || *cursor > 63) return -1;
    align_log2 = *cursor++;
  }
  if (get_varint(&cursor, end, &time_delta) || get_varint(&cursor, end, &ptr_delta) ||
      (hb_raw_event_has_size(event) && get_varint(&cursor, end, &size)))
    return -1;
  raw_record *rec = &th->next;
  rec->event = (uint8_t)event;
  rec->align_log2 = (uint8_t)align_log2;
  rec->seq = th->previous_seq += 1 + (head >> 3);
  rec->time = th->previous_time += unzigzag(time_delta);
  rec->ptr = th->previous_ptr += unzigzag(ptr_delta);
  rec->size = size;
  th->cursor = cursor;
  th->decoded++;
  r->records++;
  th->has_next = 1;
  return 0;
}

/* thread_next past its common case: at a window's end, padding, the
 * thread's end, or a bad record (its message). */
static int __attribute__((noinline)) thread_next_slow(hb_raw_reader *r, uint32_t t,
                                                      hb_error *error) {
  raw_thread *th = &r->threads[t];
  uint64_t committed = th->header.committed_bytes, chunk = th->header.chunk_bytes;
  for (;;) {
    uint64_t offset = th->window_first + (uint64_t)(th->cursor - th->base);
    uint64_t window_end = th->window_first + (uint64_t)(th->end - th->base);
    if (offset >= committed) {
      th->has_next = 0;
      if (!r->following) unmap_window(th); /* else the next records come here */
      return 0;
    }
    /* A record may run past the window's end, never past the committed
     * bytes: map on from it. */
    if ((uint64_t)(th->end - th->cursor) < HB_RAW_MAX_RECORD_BYTES && window_end < committed) {
      if (map_window(r, t, offset, error)) return -1;
      continue;
    }
    if (*th->cursor == HB_RAW_PADDING) { /* the rest of this chunk is unused */
      uint64_t next = (offset / chunk + 1) * chunk;
      if (next >= committed) {
        th->has_next = 0;
        if (!r->following) unmap_window(th); /* else the next chunk's records come */
        return 0;
      }
      if (next < window_end)
        th->cursor = th->base + (next - th->window_first);
      else if (map_window(r, t, next, error))
        return -1;
      continue;
    }
    if (decode(r, th, th->end) == 0) return 0;
    char name[name_bytes(r)];
    thread_path(r, t, name, sizeof name);
    return hb_fail(error, "%s: offset %" PRIu64 ": bad record %" PRIu64 " (corrupted)", name,
                   HB_RAW_HEADER_BYTES + offset, th->decoded);
  }
}

/* Decodes thread t's next record into th->next (has_next 0 at its end:
 * the window is then unmapped). Most records start HB_RAW_MAX_RECORD_BYTES
 * or more before the window's end: then the record lies in the window
 * whatever its bytes say, and only padding needs a look at the offsets
 * (thread_next_slow, which also gives a bad record its message). Inline:
 * this is once per record. */
static inline int thread_next(hb_raw_reader *r, uint32_t t, hb_error *error) {
  raw_thread *th = &r->threads[t];
  if ((size_t)(th->end - th->cursor) >= HB_RAW_MAX_RECORD_BYTES &&
      *th->cursor != HB_RAW_PADDING &&
      decode(r, th, th->cursor + HB_RAW_MAX_RECORD_BYTES) == 0)
    return 0;
  return thread_next_slow(r, t, error);
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

/* Reads and checks thread `index`'s header (the records are mapped later). */
static int read_header(const char *path, uint32_t index, raw_thread *t, hb_error *error) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return hb_fail(error, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  int rc = 0;
  if (fstat(fd, &st) != 0 ||
      pread(fd, &t->header, sizeof t->header, 0) != (ssize_t)sizeof t->header) {
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
    uint64_t room = st.st_size > HB_RAW_HEADER_BYTES ? (uint64_t)st.st_size - HB_RAW_HEADER_BYTES
                                                     : 0;
    if (t->header.committed_bytes > room)
      rc = hb_fail(error, "%s: offset %jd: file ends before its %" PRIu64 " committed bytes",
                   path, (intmax_t)st.st_size, t->header.committed_bytes);
  }
  close(fd);
  return rc;
}

/* A thread's decoding starts before its first record. */
static void start_decoding(raw_thread *t) {
  t->previous_seq = UINT64_MAX; /* -1 */
  t->previous_time = t->header.base_time;
}

static uint64_t clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ns per record time unit. For TSC ticks: from the widest span between
 * the clock pairs the threads stored; if the process lived under a
 * millisecond, from a short measurement here (recordings are converted on
 * the machine that made them: `heapbench record`). */
static double ns_per_unit(const raw_thread *threads, uint32_t count) {
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
static void heap_sift_down(hb_raw_reader *r, size_t i) {
  uint32_t *heap = r->heap;
  size_t n = r->heap_size;
  const raw_thread *threads = r->threads;
  for (;;) {
    size_t smallest = i, l = 2 * i + 1, right = l + 1;
    if (l < n && threads[heap[l]].next.seq < threads[heap[smallest]].next.seq) smallest = l;
    if (right < n && threads[heap[right]].next.seq < threads[heap[smallest]].next.seq)
      smallest = right;
    if (smallest == i) return;
    uint32_t tmp = heap[i];
    heap[i] = heap[smallest];
    heap[smallest] = tmp;
    i = smallest;
  }
}

static int apply(hb_raw_reader *r, const pending *p, hb_error *error) {
  hb_builder *b = &r->builder;
  raw_thread *t = &r->threads[p->thread];
  const raw_record *rec = &p->record;
  uint32_t thread = p->thread;
  switch (rec->event) {
  case HB_RAW_MALLOC:
    return hb_builder_alloc(b, HB_OP_MALLOC, thread, rec->size, 0, rec->ptr, p->time_ns, error);
  case HB_RAW_CALLOC:
    return hb_builder_alloc(b, HB_OP_CALLOC, thread, rec->size, 0, rec->ptr, p->time_ns, error);
  case HB_RAW_ALIGNED:
    return hb_builder_alloc(b, HB_OP_ALIGNED, thread, rec->size, rec->align_log2, rec->ptr,
                            p->time_ns, error);
  case HB_RAW_FREE:
    return hb_builder_free(b, thread, rec->ptr, p->time_ns, error);
  case HB_RAW_REALLOC_BEGIN:
    if (t->in_realloc) break;
    t->in_realloc = 1;
    t->realloc_old_ptr = rec->ptr;
    t->realloc_size = rec->size;
    t->realloc_old_id = hb_builder_realloc_take(b, rec->ptr);
    return 0;
  case HB_RAW_REALLOC_END:
    if (!t->in_realloc) break;
    t->in_realloc = 0;
    return hb_builder_realloc_finish(b, thread, t->realloc_old_ptr, t->realloc_old_id,
                                     t->realloc_size, rec->ptr, p->time_ns, error);
  default:
    break;
  }
  return hb_fail(error, "%s: thread %u record %" PRIu64 ": %s without its pair (corrupted)",
                 r->path, thread, p->number,
                 rec->event == HB_RAW_REALLOC_END ? "realloc end" : "realloc begin");
}

/* Moves the next record in seq order from the merge into the ring,
 * starting the load of its address's map entry. */
static int take_next(hb_raw_reader *r, hb_error *error) {
  uint32_t t = r->heap[0];
  raw_thread *th = &r->threads[t];
  pending *p = &r->ring[(r->ring_first + r->ring_count++) & (LOOKAHEAD - 1)];
  p->record = th->next;
  p->thread = t;
  p->number = th->decoded - 1;
  /* ns since the process started, through the thread's base pair. In ns
   * and below 2^53 (104 days) the double sum is exact: the integer one is
   * the same number, for a few instructions instead of conversions. */
  uint64_t since_base = p->record.time - th->header.base_time;
  if (r->exact_ns && since_base < EXACT_NS_LIMIT) {
    uint64_t ns = th->header.base_ns + since_base;
    p->time_ns = ns > r->start_ns ? ns - r->start_ns : 0;
  } else {
    double ns = (double)th->header.base_ns + (double)(int64_t)since_base * r->unit_ns;
    p->time_ns = ns > (double)r->start_ns ? (uint64_t)(ns - (double)r->start_ns) : 0;
  }
  if (p->record.ptr) hb_builder_prefetch(&r->builder, p->record.ptr);
  if (thread_next(r, t, error)) return -1;
  if (!th->has_next) r->heap[0] = r->heap[--r->heap_size];
  if (r->heap_size > 1) heap_sift_down(r, 0);
  return 0;
}

static void keep_figures(hb_raw_reader *r, hb_trace *batch) {
  batch->id_count = r->builder.next_id;
  batch->dropped_ops = batch->unmatched_frees + batch->failed_allocs;
  batch->recorder_records = r->records;
}

int hb_raw_reader_fill(hb_raw_reader *r, hb_trace *batch, size_t until, hb_error *error) {
  while (batch->op_count < until) {
    while (r->ring_count < LOOKAHEAD && r->heap_size)
      if (take_next(r, error)) return -1;
    if (!r->ring_count) {
      keep_figures(r, batch);
      return 1;
    }
    const pending *p = &r->ring[r->ring_first];
    r->ring_first = (r->ring_first + 1) & (LOOKAHEAD - 1);
    r->ring_count--;
    if (apply(r, p, error)) return -1;
  }
  keep_figures(r, batch);
  return r->ring_count || r->heap_size ? 0 : 1;
}

void hb_raw_reader_close(hb_raw_reader *r) {
  if (!r) return;
  /* The address map only: the batch it counted into may be gone. */
  if (r->builder_ready) hb_builder_release_map(&r->builder);
  if (r->threads)
    for (uint32_t t = 0; t < r->thread_count; t++) unmap_window(&r->threads[t]);
  if (r->live_header) munmap((void *)r->live_header, HB_RAW_HEADER_BYTES);
  free(r->threads);
  free(r->heap);
  free(r->prefix);
  free(r->path);
  free(r);
}

/* Threads 1 .. thread_count - 1 (thread 0 is in place): their headers,
 * the arrays sized for them, the trace's figures from every header. */
static int load_threads(hb_raw_reader *r, hb_trace *trace, uint32_t thread_count,
                        hb_error *error) {
  char name[name_bytes(r)];
  raw_thread *threads = realloc(r->threads, thread_count * sizeof *threads);
  uint32_t *heap = threads ? realloc(r->heap, thread_count * sizeof *heap) : NULL;
  if (threads) r->threads = threads;
  if (heap) r->heap = heap;
  if (!threads || !heap) return hb_fail(error, "%s: out of memory", r->path);
  memset(threads + 1, 0, (thread_count - 1) * sizeof *threads);
  r->thread_count = thread_count;
  uint32_t missing = 0;
  for (uint32_t t = 1; t < thread_count; t++) {
    thread_path(r, t, name, sizeof name);
    if (thread_never_started(name)) {
      /* No record lost, but say the recording is not whole. Only threads
       * starting when the process died can be in that state: many more
       * means a damaged thread count. */
      threads[t].missing = 1;
      trace->incomplete = 1;
      if (++missing > HB_RAW_MAX_MISSING_THREADS) {
        thread_path(r, 0, name, sizeof name);
        return hb_fail(error, "%s: offset 28: thread count %u, but more than %d thread files "
                       "are missing (corrupted?)", name, thread_count,
                       HB_RAW_MAX_MISSING_THREADS);
      }
      continue;
    }
    if (read_header(name, t, &threads[t], error)) return -1;
    start_decoding(&threads[t]);
  }
  trace->thread_count = thread_count;
  trace->incomplete |= !threads[0].header.exited;
  r->start_ns = threads[0].header.start_ns;
  r->unit_ns = ns_per_unit(threads, thread_count);
  r->exact_ns = r->unit_ns == 1.0 && r->start_ns < EXACT_NS_LIMIT;
  trace->recorder_raw_bytes = 0;
  for (uint32_t t = 0; t < thread_count; t++) {
    if (threads[t].header.base_ns >= EXACT_NS_LIMIT) r->exact_ns = 0;
    if (!threads[t].missing) trace->recorder_raw_bytes += threads[t].header.committed_bytes;
  }
  return 0;
}

/* Each thread without a record in hand decodes its next; the merge heap
 * holds every thread that has one. */
static int start_merge(hb_raw_reader *r, hb_error *error) {
  r->heap_size = 0;
  for (uint32_t t = 0; t < r->thread_count; t++) {
    if (r->threads[t].missing) continue;
    if (!r->threads[t].has_next && thread_next(r, t, error)) return -1;
    if (r->threads[t].has_next) r->heap[r->heap_size++] = t;
  }
  for (size_t i = r->heap_size; i-- > 0;) heap_sift_down(r, i);
  return 0;
}

/* Whether a recording can be followed as it is written: its thread 0 has
 * stored a record (its header is whole then), alone so far, with times in
 * ns (ticks convert through clock pairs the recorder stores at its end).
 * 0: it can; 1: not yet; 2: never. */
static int followable(const hb_raw_header *h) {
#if defined(__x86_64__)
  if (__atomic_load_n(&h->committed_bytes, __ATOMIC_ACQUIRE) == 0) return 1;
  if (h->time_in_ticks || __atomic_load_n(&h->threads_started, __ATOMIC_ACQUIRE) != 1) return 2;
  return 0;
#else
  /* The order follow relies on, between the recorder's sequence numbers
   * and the thread count, is that of x86's locked instructions. */
  (void)h;
  return 2;
#endif
}

static int open_reader(const char *path, hb_trace *trace, hb_raw_reader **reader, int follow,
                       hb_error *error) {
  *reader = NULL;
  hb_trace_init(trace, path, "hbraw");
  hb_raw_reader *r = calloc(1, sizeof *r);
  if (!r || !(r->path = strdup(path))) {
    free(r);
    hb_trace_release(trace);
    return hb_fail(error, "%s: out of memory", path);
  }
  long page = sysconf(_SC_PAGESIZE);
  r->page_bytes = page > 0 ? (size_t)page : 4096;
  /* "<prefix>.t<N>.hbraw": find the prefix, read thread 0 for the count. */
  size_t len = strlen(path);
  const char *suffix = ".hbraw";
  if (len > strlen(suffix) && strcmp(path + len - strlen(suffix), suffix) == 0) {
    size_t end = len - strlen(suffix), t = end;
    while (t > 0 && path[t - 1] >= '0' && path[t - 1] <= '9') t--;
    if (t < end && t >= 2 && path[t - 1] == 't' && path[t - 2] == '.')
      r->prefix = strndup(path, t - 2);
  }
  /* A file under another name is read alone: fine for a one-thread
   * recording, which is all of it. */
  int renamed = r->prefix == NULL;
  char name[name_bytes(r)];
  int rc = -1;
  r->threads = calloc(1, sizeof *r->threads);
  r->heap = calloc(1, sizeof *r->heap);
  if (!r->threads || !r->heap) {
    hb_fail(error, "%s: out of memory", path);
    goto fail;
  }
  r->thread_count = 1;
  raw_thread *first = &r->threads[0];
  thread_path(r, 0, name, sizeof name);
  if (read_header(name, 0, first, error)) {
    rc = follow ? 1 : -1; /* being created, perhaps: its errors are for the end */
    goto fail;
  }
  start_decoding(first);
  uint32_t thread_count = first->header.threads_started;
  if (follow) {
    if ((rc = followable(&first->header)) != 0 || renamed) {
      rc = rc ? rc : 2;
      goto fail;
    }
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    void *map = fd < 0 ? MAP_FAILED
                       : mmap(NULL, HB_RAW_HEADER_BYTES, PROT_READ, MAP_SHARED, fd, 0);
    if (fd >= 0) close(fd);
    if (map == MAP_FAILED) {
      rc = 2;
      goto fail;
    }
    r->live_header = map;
    r->following = 1;
    rc = -1;
  } else if (thread_count == 0 || thread_count > 1u << 16 || (renamed && thread_count != 1)) {
    if (renamed && thread_count > 1)
      hb_fail(error, "%s: offset 28: a recording of %u threads is read by its file names, "
              "<prefix>.t<N>.hbraw", name, thread_count);
    else
      hb_fail(error, "%s: offset 28: thread count %u out of range", name, thread_count);
    goto fail;
  } else if (load_threads(r, trace, thread_count, error)) {
    goto fail;
  }
  first = &r->threads[0]; /* load_threads moved the array */
  free(trace->program);
  trace->program = strndup(first->header.program, HB_RAW_PROGRAM_BYTES);
  if (!renamed) { /* "python3-1234", not "python3-1234.t0" */
    free(trace->name);
    const char *slash = strrchr(r->prefix, '/');
    trace->name = strdup(slash ? slash + 1 : r->prefix);
  }
  if (!trace->program || !trace->name) {
    hb_fail(error, "%s: out of memory", path);
    goto fail;
  }
  trace->pid = first->header.pid;
  if (follow) { /* the figures at the end: hb_raw_reader_settle */
    trace->thread_count = 1;
    r->start_ns = first->header.start_ns;
    r->unit_ns = 1.0;
    r->exact_ns = r->start_ns < EXACT_NS_LIMIT && first->header.base_ns < EXACT_NS_LIMIT;
  }
  if (hb_builder_init(&r->builder, trace, 1, error)) goto fail;
  r->builder_ready = 1;
  if (start_merge(r, error)) goto fail;
  *reader = r;
  return 0;
fail:
  hb_raw_reader_close(r);
  hb_trace_release(trace);
  return rc;
}

int hb_raw_reader_open(const char *path, hb_trace *trace, hb_raw_reader **reader,
                       hb_error *error) {
  return open_reader(path, trace, reader, 0, error);
}

int hb_raw_reader_open_following(const char *path, hb_trace *trace, hb_raw_reader **reader,
                                 hb_error *error) {
  return open_reader(path, trace, reader, 1, error);
}

int hb_raw_reader_follow(hb_raw_reader *r, hb_trace *batch, size_t until, hb_error *error) {
  if (!r->following) return 2;
  raw_thread *th = &r->threads[0];
  if (!r->second_thread) {
    /* The recorder stores a record's bytes, then committed_bytes; a new
     * thread counts itself before taking its first sequence number. So
     * the records committed before the count was seen still 1 came before
     * any other thread's (x86's locked instructions are in one order):
     * the merge cannot misplace them. Committed bytes read after a second
     * thread was seen could hold records that come after its first. */
    uint64_t committed = __atomic_load_n(&r->live_header->committed_bytes, __ATOMIC_ACQUIRE);
    if (__atomic_load_n(&r->live_header->threads_started, __ATOMIC_ACQUIRE) != 1)
      r->second_thread = 1;
    else if (committed > th->header.committed_bytes)
      th->header.committed_bytes = committed;
  }
  if (!th->has_next) {
    if (thread_next(r, 0, error)) return -1;
    if (th->has_next) r->heap[r->heap_size++] = 0;
  }
  int rc = hb_raw_reader_fill(r, batch, until, error);
  if (rc <= 0) return rc;
  return r->second_thread ? 2 : 1;
}

int hb_raw_reader_settle(hb_raw_reader *r, hb_trace *trace, hb_error *error) {
  if (!r->following) return 0;
  r->following = 0;
  munmap((void *)r->live_header, HB_RAW_HEADER_BYTES);
  r->live_header = NULL;
  char name[name_bytes(r)];
  thread_path(r, 0, name, sizeof name);
  raw_thread *first = &r->threads[0];
  hb_raw_header header;
  {
    raw_thread fresh;
    memset(&fresh, 0, sizeof fresh);
    if (read_header(name, 0, &fresh, error)) return -1;
    header = fresh.header;
  }
  if (header.time_in_ticks != first->header.time_in_ticks ||
      header.committed_bytes < first->header.committed_bytes || header.threads_started == 0 ||
      header.threads_started > 1u << 16)
    return hb_fail(error, "%s: offset 0: header changed under the reader (corrupted)", name);
  first->header = header;
  if (load_threads(r, trace, header.threads_started, error)) return -1;
  return start_merge(r, error);
}

int hb_raw_load(const char *path, hb_trace *trace, hb_error *error) {
  hb_raw_reader *reader;
  if (hb_raw_reader_open(path, trace, &reader, error)) return -1;
  int rc = hb_raw_reader_fill(reader, trace, SIZE_MAX, error);
  hb_raw_reader_close(reader);
  if (rc < 0) {
    hb_trace_release(trace);
    return -1;
  }
  return 0;
}

/* The streaming reader's source (reader_source.h). */
static int source_fill(void *state, hb_trace *batch, hb_error *error) {
  return hb_raw_reader_fill(state, batch, HB_READER_BATCH_OPS, error);
}

static void source_close(void *state) { hb_raw_reader_close(state); }

int hb_raw_open(const char *path, hb_trace *batch, hb_reader_source *source, hb_error *error) {
  hb_raw_reader *reader;
  if (hb_raw_reader_open(path, batch, &reader, error)) return -1;
  /* The builder gives the ids (raw_reader.h): they need no checking. */
  *source = (hb_reader_source){.fill = source_fill, .close = source_close, .state = reader,
                               .timed = 1, .ids_made = 1};
  return 0;
}
