/* hb_trace.h — a trace in memory: what hb_trace_load produces, what
 * `trace synth` and the tests work on. Reading a trace as a stream, in
 * memory set by what is live, is hb_reader.h (replay and `heapbench
 * trace info|convert|dump` read that way).
 *
 * A trace is the ordered list of allocator calls a program made, with each
 * pointer replaced by a block id. A block id names one block from the call
 * that creates it to the call that frees it; realloc moves the id to the
 * resized block. An id may be used again after its block was freed.
 *
 * Readers (hb_trace_load picks one by content; FORMAT.md specifies them):
 *   - heapbench's own binary format, .hbt
 *   - the recorder's raw files, .hbraw (one process, all its threads)
 *   - CS:APP malloc-lab .rep files, classic and extended headers
 *   - valgrind --trace-malloc=yes logs
 * (the text formats also gzip-compressed; every format also compressed
 * with zstd, found by its frame magic, read by hb_trace_load only).
 */
#ifndef HB_TRACE_H
#define HB_TRACE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hb_op_kind {
  HB_OP_MALLOC = 0, /* id = malloc(size) */
  HB_OP_CALLOC,     /* id = calloc(1, size): size is the product nmemb * size */
  HB_OP_ALIGNED,    /* id = aligned allocation of size at 1 << align_log2
                       (posix_memalign, aligned_alloc, memalign, valloc, pvalloc) */
  HB_OP_REALLOC,    /* id = realloc(block id, size); with HB_FLAG_FROM_NULL,
                       realloc(NULL, size) and id is a new block */
  HB_OP_FREE,       /* free(block id); id == HB_NULL_ID is free(NULL) */
  HB_OP_KIND_COUNT
} hb_op_kind;

enum {
  HB_FLAG_FROM_NULL = 1u << 0,    /* HB_OP_REALLOC of a NULL pointer */
  HB_FLAG_REALLOC_ZERO = 1u << 1, /* HB_OP_FREE that was realloc(p, 0) */
};

#define HB_NULL_ID UINT32_MAX

/* Readers refuse an id count above op count + this: every id is created by
 * some op, so more is a damaged header (and memory spent for nothing). */
#define HB_TRACE_SPARE_IDS 65536u

typedef struct hb_op {
  uint8_t kind;       /* hb_op_kind */
  uint8_t flags;      /* HB_FLAG_* */
  uint8_t align_log2; /* HB_OP_ALIGNED only */
  uint8_t reserved;
  uint32_t thread;    /* index of the recording thread, 0 .. thread_count-1 */
  uint32_t id;        /* block id, 0 .. id_count-1, or HB_NULL_ID */
  uint32_t reserved2;
  uint64_t size;      /* bytes requested (0 for frees) */
} hb_op;

typedef struct hb_trace {
  char *path;            /* as given to hb_trace_load */
  char *name;            /* file name without directory and extension */
  const char *format;    /* "hbt", "rep", "valgrind" */
  char *program;         /* recorded program, or "" when the format has none */
  uint32_t pid;          /* recorded process id, 0 when unknown */
  uint32_t thread_count; /* >= 1 */
  uint32_t id_count;     /* every id is < id_count */
  size_t op_count;
  size_t op_capacity;
  hb_op *ops;
  uint64_t dropped_ops; /* calls a reader could not place (unmatched frees): counted, never silent */
  /* Added with the binary format and the recorder (all zero/NULL when a
   * format cannot tell). dropped_ops == unmatched_frees + failed_allocs. */
  uint64_t *time_ns;            /* per op, ns since the recording started; NULL if not recorded */
  uint64_t unmatched_frees;     /* free of a pointer never seen allocated: dropped */
  uint64_t failed_allocs;       /* allocation calls that returned NULL: dropped */
  uint64_t unmatched_reallocs;  /* realloc of a pointer never seen allocated: kept as realloc(NULL) */
  uint64_t reused_addresses;    /* allocation returned a live address (a free was missed): the
                                   old block stays live to the end */
  int incomplete;               /* the recorded process died without exiting normally */
  uint64_t other_process_calls; /* valgrind logs of several processes: allocator calls of the
                                   processes after the first, not read (not in dropped_ops) */
  /* The recorder's own cost, for a raw recording or a .hbt that holds it
   * (FORMAT.md, "The recorder's cost"); all 0 otherwise. */
  uint64_t recorder_records;    /* records the recorder stored (a realloc is two) */
  uint64_t recorder_raw_bytes;  /* bytes of those records */
  uint64_t convert_ns;          /* wall time spent turning them into the .hbt; 0: not measured */
} hb_trace;

/* Errors are one line: "<file>:<line>: <problem>" for text formats,
 * "<file>: offset <n>: <problem>" for binary ones. */
typedef struct hb_error {
  char message[512];
} hb_error;

/* Reads any supported format, plain or zstd-compressed. 0 on success; -1
 * with *error set (and *trace left empty) otherwise. The trace is also
 * checked (hb_trace_check). */
int hb_trace_load(const char *path, hb_trace *trace, hb_error *error);
void hb_trace_release(hb_trace *trace);

/* Id discipline: no allocation of a live id, no free or realloc of a dead
 * one, ids and threads in range. 0, or -1 with *error naming the op. */
int hb_trace_check(const hb_trace *trace, hb_error *error);

/* Building a trace (for readers and converters). */
void hb_trace_init(hb_trace *trace, const char *path, const char *format);
/* Names the trace after path (its path and name), for a file read through
 * another path; -1 (out of memory) with *error set. */
int hb_trace_set_path(hb_trace *trace, const char *path, hb_error *error);
/* Appends an op; -1 (out of memory) with *error set. */
int hb_trace_push(hb_trace *trace, hb_op op, hb_error *error);
/* Appends an op with its timestamp (the trace then carries time_ns for
 * every op; earlier ops without one read 0). */
int hb_trace_push_timed(hb_trace *trace, hb_op op, uint64_t time_ns, hb_error *error);

/* Formats *error; always returns -1 so readers can `return hb_fail(...)`. */
int hb_fail(hb_error *error, const char *format, ...) __attribute__((format(printf, 2, 3)));

const char *hb_op_kind_name(hb_op_kind kind);

/* Format readers, for callers that know the format. Text readers read
 * gzip-compressed files too. */
int hb_rep_load(const char *path, hb_trace *trace, hb_error *error);
int hb_hbt_load(const char *path, hb_trace *trace, hb_error *error);
int hb_valgrind_load(const char *path, hb_trace *trace, hb_error *error);
/* A raw recording of the recorder (traces/recorder/): path is any of one
 * process's thread files, "<prefix>.t<N>.hbraw"; all its threads are read.
 * A file under another name is read alone if it is a one-thread recording. */
int hb_raw_load(const char *path, hb_trace *trace, hb_error *error);

/* Writers. hb_hbt_write writes the binary format (traces/FORMAT.md);
 * hb_rep_write a classic .rep (single-threaded traces only: calloc and
 * aligned allocations become 'a', timestamps are left out). */
int hb_hbt_write(const hb_trace *trace, const char *path, hb_error *error);
int hb_rep_write(const hb_trace *trace, const char *path, hb_error *error);

/* The .hbt writer as a stream (hb_hbt_write is open, add, finish): ops in
 * order, any number at a time (time_ns: one per op, or NULL for 0s; used
 * when opened timed), then finish takes the trace's figures from meta
 * (program, pid, thread_count, id_count, the adjustment counts,
 * incomplete; not its ops) and writes the file. finish and abort free the
 * writer. Memory: a buffer per thread, not the trace. */
typedef struct hb_hbt_writer hb_hbt_writer;
int hb_hbt_writer_open(const char *path, int timed, hb_hbt_writer **writer, hb_error *error);
int hb_hbt_writer_add(hb_hbt_writer *writer, const hb_op *ops, const uint64_t *time_ns,
                      size_t count, hb_error *error);
int hb_hbt_writer_finish(hb_hbt_writer *writer, const hb_trace *meta, hb_error *error);
void hb_hbt_writer_abort(hb_hbt_writer *writer);
/* Before the first op, what finish will be given, when the caller knows:
 * the program's name, thread count and whether the recorder's cost
 * follows (meta->recorder_records != 0). Thread 0's stream is then written
 * once, straight into the output, instead of spilled and copied; the file
 * is the same whatever finish is given (a wrong guess costs the copy).
 * 0, or -1 with *error set (the output file cannot be created). */
int hb_hbt_writer_expect(hb_hbt_writer *writer, const char *program, uint32_t thread_count,
                         int recording, hb_error *error);

/* Directories (traces/dir.c). hb_path_is_dir: 1 if path names a directory.
 * hb_trace_dir_list: the trace files directly in dir, sorted by name
 * (names ending in .hbt, .rep, .trace, .log or .t0.hbraw, each maybe
 * followed by .gz or .zst), as malloc'd "dir/name" paths; -1 with *error
 * set when dir cannot be read or holds none. */
int hb_path_is_dir(const char *path);
int hb_trace_dir_list(const char *dir, char ***paths, size_t *count, hb_error *error);
void hb_trace_dir_release(char **paths, size_t count);

/* Figures every tool reports the same way. */
typedef struct hb_trace_stats {
  uint64_t ops_by_kind[HB_OP_KIND_COUNT];
  uint64_t free_null;            /* free(NULL) among the frees */
  uint64_t realloc_from_null;    /* realloc(NULL, n) among the reallocs */
  uint64_t requested_bytes;      /* sum of sizes of malloc, calloc, aligned and realloc */
  uint64_t peak_live_bytes;      /* max over time of the requested sizes of live blocks */
  uint64_t peak_live_blocks;
  uint64_t size_histogram[65];   /* [0]: size 0; [k]: 2^(k-1) <= size < 2^k */
} hb_trace_stats;
int hb_trace_stats_compute(const hb_trace *trace, hb_trace_stats *stats, hb_error *error);

#ifdef __cplusplus
}
#endif
#endif
