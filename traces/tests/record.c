/* record.c — the recorder on a program with known calls (record_target):
 * every call is recorded with its kind, size and alignment; threads with
 * cross-thread frees come out consistent (no free before its allocation,
 * no address handed out twice); fork and exec give each process its own
 * recording; a crash, abort or _exit loses nothing that happened before.
 * A recording of several chunks holds every call, and a short one's file
 * stays sparse (the recorder makes pages writable ahead of the records a
 * step at a time, not a chunk).
 * `heapbench record`'s conversion (raw_convert.h, two threads) of the
 * threaded and forking recordings gives the ops and times the raw reader
 * gives, and the bytes one thread writes, down to batches of a few ops.
 *
 * Usage: record RECORDER_SO TARGET TMPDIR
 */
#define _GNU_SOURCE
#include "hb_test.h"
#include "hb_trace.h"
#include "hbt_format.h"
#include "raw_convert.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *recorder, *target;
static char tmpdir[1024];

#define MAX_RECORDINGS 8
typedef struct recording {
  int count;
  hb_trace traces[MAX_RECORDINGS];
} recording;

/* Runs target MODE under the recorder into TMPDIR/MODE; loads every
 * process's recording. Returns the wait status. */
static int record(const char *mode, recording *out) {
  char dir[1200];
  snprintf(dir, sizeof dir, "%s/%s", tmpdir, mode);
  mkdir(dir, 0755);
  char command[4000];
  snprintf(command, sizeof command, "rm -f '%s'/*.hbraw", dir);
  if (system(command) != 0) return -1;
  pid_t child = fork();
  if (child == 0) {
    setenv("LD_PRELOAD", recorder, 1);
    setenv("HB_RECORD_DIR", dir, 1);
    setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=1", 1);
    execl(target, target, mode, (char *)NULL);
    _exit(127);
  }
  int status;
  waitpid(child, &status, 0);
  out->count = 0;
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d));) {
    size_t len = strlen(e->d_name);
    if (len < 9 || strcmp(e->d_name + len - 9, ".t0.hbraw") != 0) continue;
    if (out->count == MAX_RECORDINGS) break;
    char path[1600];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    hb_error error;
    int rc = hb_trace_load(path, &out->traces[out->count], &error);
    HB_CHECK(rc == 0, "%s: %s", mode, error.message);
    if (rc == 0) out->count++;
  }
  if (d) closedir(d);
  return status;
}

static void release(recording *r) {
  for (int i = 0; i < r->count; i++) hb_trace_release(&r->traces[i]);
}

/* Ops of that kind and size (any size when size is 0). */
static size_t count_ops(const hb_trace *trace, int kind, uint64_t size) {
  size_t n = 0;
  for (size_t i = 0; i < trace->op_count; i++)
    n += trace->ops[i].kind == kind && (size == 0 || trace->ops[i].size == size);
  return n;
}

static const hb_op *find_op(const hb_trace *trace, int kind, uint64_t size) {
  for (size_t i = 0; i < trace->op_count; i++)
    if (trace->ops[i].kind == kind && trace->ops[i].size == size) return &trace->ops[i];
  return NULL;
}

/* Whether the block created by `op` is freed later in the trace. */
static int freed_later(const hb_trace *trace, const hb_op *op) {
  for (const hb_op *o = op + 1; o < trace->ops + trace->op_count; o++)
    if (o->id == op->id && o->kind == HB_OP_FREE) return 1;
  return 0;
}

static void test_basic(void) {
  recording r;
  int status = record("basic", &r);
  HB_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "basic: status %d", status);
  HB_CHECK(r.count == 1, "basic: %d recordings", r.count);
  if (r.count != 1) {
    release(&r);
    return;
  }
  const hb_trace *t = &r.traces[0];
  HB_CHECK(!t->incomplete && t->thread_count == 1, "basic: incomplete %d threads %u",
           t->incomplete, t->thread_count);
  HB_CHECK(strcmp(t->program, "record_target") == 0, "program '%s'", t->program);
  static const struct { int kind; uint64_t size; int align_log2; int flags; } want[] = {
      {HB_OP_MALLOC, 10001, -1, 0},   {HB_OP_CALLOC, 10005, -1, 0},
      {HB_OP_REALLOC, 10002, -1, 0},  {HB_OP_REALLOC, 10003, -1, HB_FLAG_FROM_NULL},
      {HB_OP_REALLOC, 10004, -1, 0},  {HB_OP_ALIGNED, 10006, 6, 0},
      {HB_OP_ALIGNED, 10016, 5, 0},   {HB_OP_ALIGNED, 10007, 7, 0},
      {HB_OP_ALIGNED, 10008, 12, 0},  {HB_OP_ALIGNED, 10009, 12, 0},
      {HB_OP_MALLOC, 10010, -1, 0},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    const hb_op *op = find_op(t, want[i].kind, want[i].size);
    HB_CHECK(op != NULL, "basic: no %s of %lu", hb_op_kind_name(want[i].kind),
             (unsigned long)want[i].size);
    if (!op) continue;
    HB_CHECK(count_ops(t, want[i].kind, want[i].size) == 1, "basic: %s of %lu twice",
             hb_op_kind_name(want[i].kind), (unsigned long)want[i].size);
    HB_CHECK(want[i].align_log2 < 0 || op->align_log2 == want[i].align_log2,
             "basic: alignment of %lu is 2^%u", (unsigned long)want[i].size, op->align_log2);
    HB_CHECK(op->flags == want[i].flags, "basic: flags of %lu: %u", (unsigned long)want[i].size,
             op->flags);
    /* Everything but the realloc'ed-away blocks is freed, realloc(z, 0) included. */
    if (want[i].size != 10001 && want[i].size != 10003)
      HB_CHECK(freed_later(t, op), "basic: block of %lu not freed", (unsigned long)want[i].size);
  }
  const hb_op *z = find_op(t, HB_OP_MALLOC, 10010);
  int zero_free = 0;
  for (size_t i = 0; z && i < t->op_count; i++)
    zero_free += t->ops[i].id == z->id && t->ops[i].kind == HB_OP_FREE &&
                 (t->ops[i].flags & HB_FLAG_REALLOC_ZERO);
  HB_CHECK(zero_free == 1, "basic: realloc(p, 0) not recorded as a free");
  HB_CHECK(t->unmatched_frees == 0 && t->reused_addresses == 0,
           "basic: %lu unmatched frees, %lu reused addresses", (unsigned long)t->unmatched_frees,
           (unsigned long)t->reused_addresses);
  HB_CHECK(t->time_ns != NULL, "basic: no timestamps");
  release(&r);
}

static void test_threads(void) {
  recording r;
  int status = record("threads", &r);
  HB_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "threads: status %d", status);
  HB_CHECK(r.count == 1, "threads: %d recordings", r.count);
  if (r.count != 1) {
    release(&r);
    return;
  }
  const hb_trace *t = &r.traces[0];
  HB_CHECK(t->thread_count == 5, "threads: %u threads, want 5", t->thread_count);
  size_t blocks = 0;
  for (uint64_t s = 20001; s <= 20007; s++) blocks += count_ops(t, HB_OP_MALLOC, s);
  HB_CHECK(blocks == 4 * 5000, "threads: %zu marked blocks, want 20000", blocks);
  HB_CHECK(count_ops(t, HB_OP_MALLOC, 20010) == 4 * 5000, "threads: scratch blocks");
  /* The ordering promise: every free after its allocation, no address
   * given out while still live. hb_trace_load checked the first. */
  HB_CHECK(t->unmatched_frees == 0 && t->reused_addresses == 0,
           "threads: %lu unmatched frees, %lu reused addresses", (unsigned long)t->unmatched_frees,
           (unsigned long)t->reused_addresses);
  /* Blocks made by workers are freed by thread 0. */
  size_t cross = 0;
  for (size_t i = 0; i < t->op_count; i++)
    cross += t->ops[i].kind == HB_OP_FREE && t->ops[i].thread == 0;
  HB_CHECK(cross >= 4 * 5000, "threads: %zu frees in the main thread", cross);
  release(&r);
}

static void test_contend(void) {
  recording r;
  int status = record("contend", &r);
  HB_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "contend: status %d", status);
  HB_CHECK(r.count == 1, "contend: %d recordings", r.count);
  if (r.count == 1) {
    const hb_trace *t = &r.traces[0];
    HB_CHECK(count_ops(t, HB_OP_MALLOC, 24) >= 4 * 50000, "contend: %zu mallocs",
             count_ops(t, HB_OP_MALLOC, 24));
    HB_CHECK(t->unmatched_frees == 0 && t->reused_addresses == 0,
             "contend: %lu unmatched frees, %lu reused addresses (frees ordered wrong)",
             (unsigned long)t->unmatched_frees, (unsigned long)t->reused_addresses);
  }
  release(&r);
}

/* Records mode with HB_RECORD_CLOCK=clock: whether it made the one timed
 * recording expected (checked). */
static int record_timed(const char *mode, const char *clock, recording *r) {
  setenv("HB_RECORD_CLOCK", clock, 1);
  int status = record(mode, r);
  unsetenv("HB_RECORD_CLOCK");
  HB_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status %d", mode, status);
  HB_CHECK(r->count == 1, "%s: %d recordings", mode, r->count);
  return r->count == 1 && r->traces[0].time_ns;
}

/* Timestamps are ns: two calls 100 ms apart (a sleep) are recorded so,
 * whichever clock the recorder reads. */
static void test_time(const char *clock) {
  recording r;
  if (record_timed("sleep", clock, &r)) {
    const hb_trace *t = &r.traces[0];
    const hb_op *a = find_op(t, HB_OP_MALLOC, 60001), *b = find_op(t, HB_OP_MALLOC, 60002);
    HB_CHECK(a && b, "sleep: marked calls missing");
    if (a && b) {
      double ms = (double)(t->time_ns[b - t->ops] - t->time_ns[a - t->ops]) / 1e6;
      /* A loaded machine oversleeps; it never undersleeps. */
      HB_CHECK(ms >= 99.0 && ms < 2000.0, "sleep (clock %s): 100 ms recorded as %.3f ms", clock,
               ms);
    }
#if defined(__x86_64__)
    /* The clock asked for is the one the records hold. */
    char path[1400];
    snprintf(path, sizeof path, "%s/sleep/record_target-%u.t0.hbraw", tmpdir, t->pid);
    hb_raw_header header;
    FILE *file = fopen(path, "rb");
    int read_ok = file && fread(&header, sizeof header, 1, file) == 1;
    if (file) fclose(file);
    HB_CHECK(read_ok && (strcmp(clock, "default") == 0 ||
                         header.time_in_ticks == (strcmp(clock, "tsc") == 0)),
             "sleep (clock %s): times in %s", clock,
             read_ok && header.time_in_ticks ? "ticks" : "ns");
#endif
  }
  release(&r);
}

/* Calls 3 us apart, closer than the recorder's reads of the clock where
 * it interpolates (recorder.c, record_time): the recorded time between
 * any call and the first matches the program's own clock read just before
 * each call, and times never go back. Against the first call, all differ
 * by one constant (how late the recorder's read of that call came after
 * the program's; a preemption there moves them all): the median. A
 * preemption between the program's read and the call makes that call's
 * time later (the call was), hence a 90% share within 2 us of the median,
 * not every call; times not interpolated within the 10 us window
 * (left at the last read of the clock) would be spread over 10 us. */
static int by_value(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}
static void test_spaced(const char *clock) {
  recording r;
  if (!record_timed("spaced", clock, &r)) {
    release(&r);
    return;
  }
  enum { SPACED = 20000 };
  static uint64_t program[SPACED];
  static int64_t error_ns[SPACED];
  char path[1400];
  snprintf(path, sizeof path, "%s/spaced/spaced.times", tmpdir);
  FILE *file = fopen(path, "rb");
  int read_ok = file && fread(program, sizeof program, 1, file) == 1;
  if (file) fclose(file);
  HB_CHECK(read_ok, "spaced: no times from the program");
  const hb_trace *t = &r.traces[0];
  size_t n = 0, backwards = 0;
  uint64_t first = 0, previous = 0;
  for (size_t i = 0; read_ok && i < t->op_count; i++) {
    if (t->ops[i].kind != HB_OP_MALLOC || t->ops[i].size != 70001) continue;
    uint64_t at = t->time_ns[i];
    if (n == 0) first = at;
    backwards += n && at < previous;
    previous = at;
    if (n < SPACED) error_ns[n] = (int64_t)(at - first) - (int64_t)(program[n] - program[0]);
    n++;
  }
  HB_CHECK(n == SPACED, "spaced: %zu calls recorded, want %d", n, SPACED);
  HB_CHECK(backwards == 0, "spaced (clock %s): %zu times earlier than the one before", clock, backwards);
  if (n == SPACED) {
    qsort(error_ns, n, sizeof *error_ns, by_value);
    int64_t median = error_ns[n / 2];
    size_t close_enough = 0;
    for (size_t i = 0; i < n; i++) close_enough += error_ns[i] - median > -2000 && error_ns[i] - median < 2000;
    printf("spaced (clock %s): recorded minus program's time, median %lld ns, %zu of %zu within 2 us of it\n",
           clock, (long long)median, close_enough, n);
    HB_CHECK(close_enough * 100 >= n * 90, "spaced (clock %s): only %zu of %zu times within 2 us of the median",
             clock, close_enough, n);
  }
  release(&r);
}

static void test_fork(void) {
  recording r;
  int status = record("fork", &r);
  HB_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fork: status %d", status);
  HB_CHECK(r.count == 2, "fork: %d recordings, want parent and child", r.count);
  if (r.count == 2) {
    const hb_trace *parent = &r.traces[0], *child = &r.traces[1];
    if (count_ops(parent, HB_OP_MALLOC, 40001)) {
      const hb_trace *swap = parent;
      parent = child;
      child = swap;
    }
    HB_CHECK(parent->pid != child->pid, "fork: same pid");
    HB_CHECK(count_ops(parent, HB_OP_MALLOC, 30001) == 100 &&
                 count_ops(parent, HB_OP_MALLOC, 50001) == 300 &&
                 count_ops(parent, HB_OP_MALLOC, 40001) == 0,
             "fork: parent's calls");
    HB_CHECK(count_ops(child, HB_OP_MALLOC, 40001) == 200 &&
                 count_ops(child, HB_OP_MALLOC, 50001) == 0 &&
                 count_ops(child, HB_OP_MALLOC, 30001) == 0,
             "fork: child's calls (%zu)", count_ops(child, HB_OP_MALLOC, 40001));
  }
  release(&r);
}

static void test_exec(void) {
  recording r;
  int status = record("exec", &r);
  HB_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exec: status %d", status);
  HB_CHECK(r.count == 2, "exec: %d recordings, want before and after exec", r.count);
  if (r.count == 2) {
    HB_CHECK(r.traces[0].pid == r.traces[1].pid, "exec: pids differ");
    size_t before = count_ops(&r.traces[0], HB_OP_MALLOC, 30001) +
                    count_ops(&r.traces[1], HB_OP_MALLOC, 30001);
    size_t after = count_ops(&r.traces[0], HB_OP_MALLOC, 10001) +
                   count_ops(&r.traces[1], HB_OP_MALLOC, 10001);
    HB_CHECK(before == 10 && after == 1, "exec: %zu before, %zu after", before, after);
    /* Ended by exec is not cut short. */
    HB_CHECK(!r.traces[0].incomplete && !r.traces[1].incomplete, "exec: incomplete %d %d",
             r.traces[0].incomplete, r.traces[1].incomplete);
  }
  release(&r);
}

/* Converts raw into out as `heapbench record` does; 0 or -1. */
static int convert(const char *raw, const char *out, const hb_raw_convert_options *options) {
  hb_trace trace;
  hb_raw_reader *reader;
  hb_error error;
  if (hb_raw_reader_open(raw, &trace, &reader, &error)) {
    HB_CHECK(0, "%s: %s", raw, error.message);
    return -1;
  }
  uint64_t ops;
  int rc = hb_raw_convert(reader, &trace, out, options, &ops, &error);
  HB_CHECK(rc == 0, "%s: %s", raw, rc ? error.message : "");
  hb_raw_reader_close(reader);
  hb_trace_release(&trace);
  return rc;
}

/* Every recording of MODE (recorded before) through record's conversion:
 * one thread reads back as hb_trace_load reads the raw files; two threads
 * with batches of 3 ops in a ring of 2, and with the defaults, write the
 * same bytes. */
static void test_convert(const char *mode, int want_recordings) {
  char dir[1200];
  snprintf(dir, sizeof dir, "%s/%s", tmpdir, mode);
  DIR *d = opendir(dir);
  int seen = 0;
  for (struct dirent *e; d && (e = readdir(d));) {
    size_t len = strlen(e->d_name);
    if (len < 9 || strcmp(e->d_name + len - 9, ".t0.hbraw") != 0) continue;
    char raw[2400], one[2500], two[2500];
    snprintf(raw, sizeof raw, "%s/%s", dir, e->d_name);
    snprintf(one, sizeof one, "%s/converted.one.hbt", tmpdir);
    snprintf(two, sizeof two, "%s/converted.two.hbt", tmpdir);
    seen++;
    hb_raw_convert_options one_thread = {0};
    hb_trace loaded, converted;
    hb_error error;
    if (convert(raw, one, &one_thread) || hb_trace_load(raw, &loaded, &error)) continue;
    if (hb_trace_load(one, &converted, &error) == 0) {
      int same = converted.op_count == loaded.op_count && converted.time_ns && loaded.time_ns &&
                 converted.thread_count == loaded.thread_count &&
                 converted.id_count == loaded.id_count &&
                 converted.unmatched_frees == loaded.unmatched_frees &&
                 converted.reused_addresses == loaded.reused_addresses;
      for (size_t i = 0; same && i < loaded.op_count; i++)
        same = memcmp(&converted.ops[i], &loaded.ops[i], sizeof loaded.ops[i]) == 0 &&
               converted.time_ns[i] == loaded.time_ns[i];
      HB_CHECK(same, "%s: %s converted differs from the raw files read", mode, e->d_name);
      hb_trace_release(&converted);
    }
    hb_trace_release(&loaded);
    size_t want_bytes = 0;
    unsigned char *want = hb_test_slurp(one, &want_bytes);
    const hb_raw_convert_options variants[] = {
        {.batch_ops = 3, .ring_batches = 2, .writer_thread = 1}, {.writer_thread = 1}};
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
      unlink(two);
      if (convert(raw, two, &variants[v])) continue;
      size_t got_bytes = 0;
      unsigned char *got = hb_test_slurp(two, &got_bytes);
      HB_CHECK(want && got && got_bytes == want_bytes && memcmp(got, want, want_bytes) == 0,
               "%s: %s: two threads (batches of %zu) wrote %zu bytes, not one thread's %zu",
               mode, e->d_name, variants[v].batch_ops, got_bytes, want_bytes);
      free(got);
    }
    free(want);
  }
  if (d) closedir(d);
  HB_CHECK(seen == want_recordings, "%s: %d recordings converted, want %d", mode, seen,
           want_recordings);
}

/* 2M records, several 4 MiB chunks and many steps of pages made writable
 * ahead: every call recorded. */
static void test_long(void) {
  recording r;
  int status = record("long", &r);
  HB_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "long: status %d", status);
  HB_CHECK(r.count == 1, "long: %d recordings", r.count);
  if (r.count == 1) {
    const hb_trace *t = &r.traces[0];
    size_t calls = count_ops(t, HB_OP_MALLOC, 70001) + count_ops(t, HB_OP_MALLOC, 70002) +
                   count_ops(t, HB_OP_MALLOC, 70003);
    HB_CHECK(calls == 1000000 && t->recorder_raw_bytes > ((uint64_t)8 << 20),
             "long: %zu marked calls, %llu raw bytes", calls,
             (unsigned long long)t->recorder_raw_bytes);
  }
  release(&r);
}

/* A short recording's file is one 4 MiB chunk, holes but for its records
 * and the pages made writable ahead of them (256 KiB): made writable
 * whole, the chunk would take 4 MiB of disk (dirty pages to write back). */
static void test_sparse(void) {
  char command[1400];
  snprintf(command, sizeof command, "%s/basic", tmpdir);
  DIR *d = opendir(command);
  int seen = 0;
  for (struct dirent *e; d && (e = readdir(d));) {
    size_t len = strlen(e->d_name);
    if (len < 9 || strcmp(e->d_name + len - 9, ".t0.hbraw") != 0) continue;
    char path[2600];
    snprintf(path, sizeof path, "%s/basic/%s", tmpdir, e->d_name);
    struct stat st;
    HB_CHECK(stat(path, &st) == 0, "sparse: %s: cannot stat", path);
    seen++;
    HB_CHECK(st.st_size >= (4 << 20) && (uint64_t)st.st_blocks * 512 <= (1u << 20),
             "sparse: %s: %lld bytes on disk of %lld", path, (long long)st.st_blocks * 512,
             (long long)st.st_size);
  }
  if (d) closedir(d);
  HB_CHECK(seen == 1, "sparse: %d basic recordings", seen);
}

/* Copies the threads recording's files to DIR/r.t<N>.hbraw. */
static int copy_threads_recording(const char *dir) {
  char command[3200];
  snprintf(command, sizeof command,
           "cd '%s/threads' && for f in *.hbraw; do cp \"$f\" '%s'/r.t${f##*.t}; done", tmpdir,
           dir);
  return system(command);
}

/* A damaged raw recording is refused with the file and offset named. */
static void test_damaged_raw(void) {
  char dir[1200], t0[1300], t1[1300];
  snprintf(dir, sizeof dir, "%s/damaged", tmpdir);
  mkdir(dir, 0755);
  snprintf(t0, sizeof t0, "%s/r.t0.hbraw", dir);
  snprintf(t1, sizeof t1, "%s/r.t1.hbraw", dir);
  HB_CHECK(copy_threads_recording(dir) == 0, "cannot copy the threads recording");
  hb_trace trace;
  hb_error error;
  int rc = hb_trace_load(t1, &trace, &error); /* any thread's file names the recording */
  HB_CHECK(rc == 0 && trace.thread_count == 5, "copied recording: %s", rc ? error.message : "");
  if (rc == 0) hb_trace_release(&trace);
  struct { const char *file; long truncate_to; const char *where; } cases[] = {
      {t1, 100, "offset 0"},          /* header cut */
      {t1, 4200, "committed bytes"}, /* records cut */
      {t0, -1, "offset 0"},           /* magic overwritten */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    HB_CHECK(copy_threads_recording(dir) == 0, "cannot copy the threads recording");
    if (cases[i].truncate_to >= 0) {
      HB_CHECK(truncate(cases[i].file, cases[i].truncate_to) == 0, "truncate");
    } else {
      FILE *file = fopen(cases[i].file, "r+b");
      HB_CHECK(file && fwrite("XXXX", 1, 4, file) == 4, "overwrite");
      if (file) fclose(file);
    }
    rc = hb_trace_load(t0, &trace, &error);
    HB_CHECK(rc != 0 && strstr(error.message, cases[i].file) &&
                 strstr(error.message, cases[i].where),
             "damage %zu: %s", i, rc ? error.message : "accepted");
    if (rc == 0) hb_trace_release(&trace);
  }
  /* Renamed: a one-thread recording still loads, a thread file of a
   * several-thread one is refused with the reason. */
  char renamed[1300], command[3000];
  snprintf(renamed, sizeof renamed, "%s/renamed.raw", dir);
  snprintf(command, sizeof command, "cp '%s'/basic/*.t0.hbraw '%s'", tmpdir, renamed);
  HB_CHECK(system(command) == 0, "cannot copy the basic recording");
  rc = hb_trace_load(renamed, &trace, &error);
  HB_CHECK(rc == 0 && trace.thread_count == 1 && trace.op_count > 10, "renamed one-thread: %s",
           rc ? error.message : "");
  if (rc == 0) hb_trace_release(&trace);
  HB_CHECK(copy_threads_recording(dir) == 0, "cannot copy the threads recording");
  snprintf(command, sizeof command, "cp '%s' '%s'", t0, renamed);
  HB_CHECK(system(command) == 0, "cannot copy");
  rc = hb_trace_load(renamed, &trace, &error);
  HB_CHECK(rc != 0 && strstr(error.message, "offset 28") && strstr(error.message, "5 threads"),
           "renamed five-thread: %s", rc ? error.message : "accepted");
  if (rc == 0) hb_trace_release(&trace);

  /* A thread file that is missing (the process died between counting the
   * thread and creating its file): loads, flagged incomplete, and the
   * blocks only that thread allocated show as unmatched frees, counted. */
  HB_CHECK(copy_threads_recording(dir) == 0, "cannot copy the threads recording");
  unlink(t1);
  rc = hb_trace_load(t0, &trace, &error);
  HB_CHECK(rc == 0, "missing thread file: %s", rc ? error.message : "");
  if (rc == 0) {
    HB_CHECK(trace.incomplete && trace.unmatched_frees >= 5000,
             "missing thread file: incomplete %d, %lu unmatched frees", trace.incomplete,
             (unsigned long)trace.unmatched_frees);
    hb_trace_release(&trace);
  }
}

static void test_abnormal(const char *mode, int signal_number) {
  recording r;
  int status = record(mode, &r);
  if (signal_number)
    HB_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == signal_number, "%s: status %d", mode,
             status);
  else
    HB_CHECK(WIFEXITED(status), "%s: status %d", mode, status);
  HB_CHECK(r.count == 1, "%s: %d recordings", mode, r.count);
  if (r.count == 1) {
    HB_CHECK(count_ops(&r.traces[0], HB_OP_MALLOC, 30001) == 1000,
             "%s: %zu of 1000 calls before the end", mode,
             count_ops(&r.traces[0], HB_OP_MALLOC, 30001));
    HB_CHECK(r.traces[0].incomplete, "%s: not marked incomplete", mode);
  }
  release(&r);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: record RECORDER_SO TARGET TMPDIR\n");
    return 2;
  }
  recorder = argv[1];
  target = argv[2];
  snprintf(tmpdir, sizeof tmpdir, "%s", argv[3]);
  mkdir(tmpdir, 0755);
  test_basic();
  test_threads();
  test_contend();
  test_damaged_raw();
  test_time("default");
  test_time("monotonic");
  test_time("tsc");
  test_spaced("default");
  test_spaced("monotonic");
  test_fork();
  test_exec();
  test_long();
  test_sparse();
  test_convert("threads", 1);
  test_convert("contend", 1);
  test_convert("fork", 2);
  test_abnormal("crash", SIGSEGV);
  test_abnormal("abort", SIGABRT);
  test_abnormal("_exit", 0);
  return hb_test_exit("record");
}
