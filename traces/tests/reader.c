/* reader.c — the streaming reader (hb_reader.h): every format read batch
 * by batch gives the ops hb_trace_load gives, whatever the batch size
 * (including a realloc and a cross-thread free on either side of a
 * batch's edge); recycled slots stay below the most blocks live at once
 * and follow each block from creation to free; the streamed figures match
 * the whole trace's; bad input at scale is refused by its header, with
 * the offset or line, without allocating what the header claims.
 *
 * Usage: reader TMPDIR
 */
#define _GNU_SOURCE
#include "hb_reader.h"
#include "hb_test.h"
#include "hb_trace.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* Many short-lived blocks, few live: each block a fresh id (ids are never
 * reused, so id_count is the number of blocks), at most max_live live,
 * freed by any thread (cross-thread frees), some resized, free(NULL)s.
 * Ops 4095 and 4096, the edge of the readers' batches, are a realloc and
 * a free of the same block by another thread. */
static void make_churn(hb_trace *trace, size_t ops, uint32_t threads, uint32_t max_live,
                       int timed) {
  hb_trace_init(trace, "churn.hbt", "hbt");
  trace->thread_count = threads;
  uint32_t *live = malloc(max_live * sizeof *live), live_count = 0, next_id = 0;
  uint64_t time_ns = 0;
  hb_error error;
  for (size_t i = 0; i < ops; i++) {
    hb_op op = {0};
    op.thread = (uint32_t)(hb_test_rng() % threads);
    unsigned choice = (unsigned)(hb_test_rng() % 16);
    if (i == 4094 || i == 4095) { /* a block made at 4094, resized at 4095 by thread 0 */
      op.thread = 0;
      if (i == 4094) {
        op.kind = HB_OP_MALLOC;
        op.id = next_id++;
        op.size = 100;
        live[live_count++] = op.id; /* room is kept for it: see below */
      } else {
        op.kind = HB_OP_REALLOC;
        op.id = live[live_count - 1];
        op.size = 200;
      }
    } else if (i == 4096) { /* freed by thread 1 */
      op.thread = 1 % threads;
      op.kind = HB_OP_FREE;
      op.id = live[--live_count];
    } else if (choice == 15) {
      op.kind = HB_OP_FREE;
      op.id = HB_NULL_ID;
    } else if (live_count == 0 ||
               (live_count < max_live - 1 && i < ops - max_live && choice < 7)) {
      static const uint8_t creators[] = {HB_OP_MALLOC, HB_OP_CALLOC, HB_OP_ALIGNED,
                                         HB_OP_REALLOC};
      op.kind = creators[choice % 4];
      op.id = next_id++;
      op.size = 1 + hb_test_rng() % 3000;
      if (op.kind == HB_OP_ALIGNED) op.align_log2 = (uint8_t)(4 + hb_test_rng() % 8);
      if (op.kind == HB_OP_REALLOC) op.flags = HB_FLAG_FROM_NULL;
      live[live_count++] = op.id;
    } else if (choice < 9) {
      op.kind = HB_OP_REALLOC;
      op.id = live[hb_test_rng() % live_count];
      op.size = 1 + hb_test_rng() % 5000;
    } else {
      uint32_t k = (uint32_t)(hb_test_rng() % live_count);
      op.kind = HB_OP_FREE;
      op.id = live[k];
      if (choice == 9) op.flags = HB_FLAG_REALLOC_ZERO;
      live[k] = live[--live_count];
    }
    time_ns += hb_test_rng() % 500;
    if (timed)
      hb_trace_push_timed(trace, op, time_ns, &error);
    else
      hb_trace_push(trace, op, &error);
  }
  trace->id_count = next_id;
  free(live);
}

static int same_op(const hb_op *x, const hb_op *y, int compare_ids) {
  return x->kind == y->kind && x->flags == y->flags && x->thread == y->thread &&
         (!compare_ids || x->id == y->id) && x->size == y->size &&
         (x->kind != HB_OP_ALIGNED || x->align_log2 == y->align_log2);
}

/* Reads path with hb_reader at `capacity` ops per call and compares every
 * op and time with hb_trace_load's. */
static void expect_streams_as_loaded(const char *path, size_t capacity) {
  hb_trace whole;
  hb_error error;
  HB_CHECK(hb_trace_load(path, &whole, &error) == 0, "load %s: %s", path, error.message);
  hb_reader *reader;
  HB_CHECK(hb_reader_open(path, 0, &reader, &error) == 0, "open %s: %s", path, error.message);
  hb_op *ops = malloc(capacity * sizeof *ops);
  uint64_t *times = malloc(capacity * sizeof *times);
  size_t at = 0, mismatches = 0, calls = 0;
  long got;
  while ((got = hb_reader_next(reader, ops, times, capacity, &error)) > 0) {
    calls++;
    HB_CHECK((size_t)got <= capacity, "%s: %ld ops for a capacity of %zu", path, got, capacity);
    for (long k = 0; k < got; k++, at++) {
      if (at >= whole.op_count || !same_op(&ops[k], &whole.ops[at], 1) ||
          (whole.time_ns && whole.time_ns[at] != times[k]) || (!whole.time_ns && times[k]))
        mismatches++;
    }
  }
  HB_CHECK(got == 0, "%s: %s", path, error.message);
  HB_CHECK(at == whole.op_count && mismatches == 0,
           "%s at %zu per call: %zu ops streamed, %zu loaded, %zu differ", path, capacity, at,
           whole.op_count, mismatches);
  HB_CHECK(hb_reader_next(reader, ops, times, capacity, &error) == 0, "%s: more after the end",
           path);
  const hb_trace *meta = hb_reader_trace(reader);
  HB_CHECK(meta->op_count == whole.op_count && meta->id_count == whole.id_count &&
               meta->thread_count == whole.thread_count && meta->pid == whole.pid &&
               strcmp(meta->program, whole.program) == 0 &&
               meta->dropped_ops == whole.dropped_ops &&
               meta->unmatched_frees == whole.unmatched_frees &&
               meta->unmatched_reallocs == whole.unmatched_reallocs &&
               (meta->time_ns != NULL) == (whole.time_ns != NULL),
           "%s: the reader's figures differ from the loaded trace's", path);
  free(ops);
  free(times);
  hb_reader_close(reader);
  hb_trace_release(&whole);
}

/* A valgrind --trace-malloc=yes log of a one-thread trace: block id b
 * lives at address 0x10000 + 64 b. */
static void write_valgrind(const hb_trace *trace, const char *path, int gzip) {
  gzFile file = gzopen(path, gzip ? "wb" : "wbT");
  gzprintf(file, "==7== Memcheck, a memory error detector\n==7== Command: churn --x\n");
  for (size_t i = 0; i < trace->op_count; i++) {
    const hb_op *op = &trace->ops[i];
    unsigned long long address = 0x10000ull + 64ull * op->id;
    switch (op->kind) {
    case HB_OP_MALLOC: gzprintf(file, "--7-- malloc(%llu) = 0x%llx\n", (unsigned long long)op->size, address); break;
    case HB_OP_CALLOC: gzprintf(file, "--7-- calloc(1,%llu) = 0x%llx\n", (unsigned long long)op->size, address); break;
    case HB_OP_ALIGNED:
      gzprintf(file, "--7-- memalign(al %llu, size %llu) = 0x%llx\n", 1ull << op->align_log2,
               (unsigned long long)op->size, address);
      break;
    case HB_OP_REALLOC:
      gzprintf(file, "--7-- realloc(0x%llx,%llu) = 0x%llx\n",
               (op->flags & HB_FLAG_FROM_NULL) ? 0ull : address, (unsigned long long)op->size,
               address);
      break;
    default:
      if (op->id == HB_NULL_ID)
        gzprintf(file, "--7-- free(0x0)\n");
      else
        gzprintf(file, "--7-- free(0x%llx)\n", address);
    }
  }
  gzclose(file);
}

static void write_zstd(const char *from, const char *to) {
  FILE *in = fopen(from, "rb");
  fseek(in, 0, SEEK_END);
  size_t size = (size_t)ftell(in);
  rewind(in);
  unsigned char *data = malloc(size), *packed = malloc(ZSTD_compressBound(size));
  HB_CHECK(fread(data, 1, size, in) == size, "read %s", from);
  fclose(in);
  size_t packed_size = ZSTD_compress(packed, ZSTD_compressBound(size), data, size, 1);
  FILE *out = fopen(to, "wb");
  fwrite(packed, 1, packed_size, out);
  fclose(out);
  free(data);
  free(packed);
}

/* Every format, batch by batch, as hb_trace_load reads it. */
static void test_batches(void) {
  hb_trace trace, one;
  hb_error error;
  make_churn(&trace, 20000, 3, 40, 1);
  const char *hbt = hb_test_path("churn.hbt");
  HB_CHECK(hb_hbt_write(&trace, hbt, &error) == 0, "write: %s", error.message);
  make_churn(&one, 12000, 1, 25, 0);
  for (size_t i = 0; i < one.op_count; i++) { /* what .rep and this log writer keep */
    if (one.ops[i].kind == HB_OP_CALLOC || one.ops[i].kind == HB_OP_ALIGNED) {
      one.ops[i].kind = HB_OP_MALLOC;
      one.ops[i].align_log2 = 0;
    }
    one.ops[i].flags &= (uint8_t)~HB_FLAG_REALLOC_ZERO;
  }
  const char *rep = hb_test_path("churn.rep");
  HB_CHECK(hb_rep_write(&one, rep, &error) == 0, "write: %s", error.message);
  const char *log = hb_test_path("churn.trace"), *log_gz = hb_test_path("churn.trace.gz");
  write_valgrind(&one, log, 0);
  write_valgrind(&one, log_gz, 1);
  const char *hbt_zst = hb_test_path("churn.hbt.zst"), *rep_zst = hb_test_path("churn.rep.zst");
  write_zstd(hbt, hbt_zst);
  write_zstd(rep, rep_zst);
  const char *paths[] = {hbt, rep, log, log_gz, hbt_zst, rep_zst};
  static const size_t capacities[] = {1, 7, HB_READER_BATCH_OPS - 1, HB_READER_BATCH_OPS,
                                      HB_READER_BATCH_OPS + 1, 100000};
  for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++)
    for (size_t c = 0; c < sizeof capacities / sizeof capacities[0]; c++)
      expect_streams_as_loaded(paths[p], capacities[c]);
  /* The valgrind log's ops are the trace's (ids are given in order of
   * creation, as the churn made them). */
  hb_trace loaded;
  HB_CHECK(hb_trace_load(log, &loaded, &error) == 0, "%s", error.message);
  size_t differ = loaded.op_count == one.op_count ? 0 : 1;
  for (size_t i = 0; !differ && i < one.op_count; i++) differ += !same_op(&loaded.ops[i], &one.ops[i], 1);
  HB_CHECK(differ == 0, "the valgrind log reads back different ops");
  hb_trace_release(&loaded);
  hb_trace_release(&trace);
  hb_trace_release(&one);
}

/* Slots: below the most blocks live at once, each block's from its
 * creation to its free, free(NULL) left alone; figures as the whole
 * trace's. */
static void test_slots(void) {
  hb_trace trace;
  hb_error error;
  const uint32_t max_live = 37;
  make_churn(&trace, 60000, 4, max_live, 1);
  const char *path = hb_test_path("slots.hbt");
  HB_CHECK(hb_hbt_write(&trace, path, &error) == 0, "write: %s", error.message);
  hb_trace_stats whole_stats;
  HB_CHECK(hb_trace_stats_compute(&trace, &whole_stats, &error) == 0, "%s", error.message);
  HB_CHECK(trace.id_count > 100 * max_live, "the churn made only %u blocks", trace.id_count);

  hb_reader *reader;
  HB_CHECK(hb_reader_open(path, HB_READER_SLOTS, &reader, &error) == 0, "%s", error.message);
  uint32_t *slot_of_id = malloc(trace.id_count * sizeof *slot_of_id);
  unsigned char *slot_live = calloc(trace.id_count + 1, 1);
  hb_stats_stream stats;
  hb_stats_stream_init(&stats);
  hb_op ops[1000];
  size_t at = 0, bad = 0, handoffs = 0, wrong_list = 0;
  /* Whose list each free slot is on (the thread that freed it), how many
   * each thread has, how many slots were ever handed out. */
  uint32_t *freed_by = calloc(trace.id_count + 1, sizeof *freed_by);
  size_t own_free[4] = {0}, total_free = 0;
  uint32_t high_water = 0;
  long got;
  while ((got = hb_reader_next(reader, ops, NULL, 1000, &error)) > 0) {
    HB_CHECK(hb_stats_stream_add(&stats, ops, (size_t)got, &error) == 0, "%s", error.message);
    for (long k = 0; k < got; k++, at++) {
      const hb_op *op = &ops[k], *original = &trace.ops[at];
      if (!same_op(op, original, 0)) bad++;
      if (original->id == HB_NULL_ID) {
        bad += op->id != HB_NULL_ID;
        continue;
      }
      uint32_t slot = op->id;
      if (slot >= hb_reader_slot_count(reader)) {
        bad++;
        continue;
      }
      int creates = op->kind != HB_OP_FREE &&
                    (op->kind != HB_OP_REALLOC || (op->flags & HB_FLAG_FROM_NULL));
      if (creates) {
        bad += slot_live[slot]; /* a live block's slot handed out again */
        if (slot == high_water) {
          high_water++;
          wrong_list += total_free != 0; /* a new slot while some were free */
        } else {
          /* A thread takes its own freed slots first, another's only when
           * it has none. */
          wrong_list += own_free[op->thread] ? freed_by[slot] != op->thread : 0;
          handoffs += freed_by[slot] != op->thread;
          own_free[freed_by[slot]]--;
          total_free--;
        }
        slot_live[slot] = 1;
        slot_of_id[original->id] = slot;
      } else {
        bad += !slot_live[slot] || slot_of_id[original->id] != slot;
        if (op->kind == HB_OP_FREE) {
          slot_live[slot] = 0;
          freed_by[slot] = op->thread;
          own_free[op->thread]++;
          total_free++;
        }
      }
    }
  }
  HB_CHECK(got == 0, "%s", error.message);
  HB_CHECK(at == trace.op_count && bad == 0, "%zu ops streamed of %zu, %zu wrong", at,
           trace.op_count, bad);
  HB_CHECK(hb_reader_slot_count(reader) == whole_stats.peak_live_blocks,
           "%u slots for at most %" PRIu64 " blocks live at once (%u blocks in all)",
           hb_reader_slot_count(reader), whole_stats.peak_live_blocks, trace.id_count);
  HB_CHECK(memcmp(&stats.stats, &whole_stats, sizeof whole_stats) == 0,
           "streamed figures differ: peak %" PRIu64 " vs %" PRIu64 " bytes", stats.stats.peak_live_bytes,
           whole_stats.peak_live_bytes);
  printf("slots: %u for %u blocks; %zu creates took a slot another thread freed\n",
         hb_reader_slot_count(reader), trace.id_count, handoffs);
  HB_CHECK(wrong_list == 0, "%zu creates took a slot from the wrong list", wrong_list);
  hb_stats_stream_release(&stats);
  hb_reader_close(reader);
  free(slot_of_id);
  free(slot_live);
  free(freed_by);
  hb_trace_release(&trace);
}

/* The reader refuses path with a message naming it and `where`. */
static void expect_refused(const char *path, const char *where, const char *what) {
  hb_reader *reader;
  hb_error error;
  memset(&error, 0, sizeof error);
  int rc = hb_reader_open(path, HB_READER_SLOTS, &reader, &error);
  if (rc == 0) {
    hb_op ops[256];
    long got;
    while ((got = hb_reader_next(reader, ops, NULL, 256, &error)) > 0) {
    }
    rc = got < 0 ? -1 : 0;
    hb_error again;
    if (rc != 0)
      HB_CHECK(hb_reader_next(reader, ops, NULL, 256, &again) < 0, "%s: read on after an error",
               what);
    hb_reader_close(reader);
  }
  HB_CHECK(rc != 0, "%s was accepted", what);
  HB_CHECK(strncmp(error.message, path, strlen(path)) == 0 && strstr(error.message, where) &&
               !strchr(error.message, '\n') && !strstr(error.message, "out of memory"),
           "%s: message '%s' should start with the path and contain '%s'", what, error.message,
           where);
}

static void put_le(unsigned char *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Rewrites a .hbt's header field and its checksum. */
static void patch_hbt(const char *from, const char *to, size_t offset, uint64_t value, int bytes) {
  FILE *in = fopen(from, "rb");
  fseek(in, 0, SEEK_END);
  size_t size = (size_t)ftell(in);
  rewind(in);
  unsigned char *data = malloc(size);
  HB_CHECK(fread(data, 1, size, in) == size, "read %s", from);
  fclose(in);
  put_le(data + offset, value, bytes);
  uint32_t header_bytes = (uint32_t)(data[12] | data[13] << 8 | data[14] << 16 | (uint32_t)data[15] << 24);
  if (header_bytes <= size)
    put_le(data + header_bytes - 4, crc32(0, data, header_bytes - 4), 4);
  FILE *out = fopen(to, "wb");
  fwrite(data, 1, size, out);
  fclose(out);
  free(data);
}

static void write_text(const char *path, const char *text, int gzip) {
  gzFile file = gzopen(path, gzip ? "wb" : "wbT");
  gzwrite(file, text, (unsigned)strlen(text));
  gzclose(file);
}

/* Headers that claim more than the file holds, ids beyond any bound: each
 * refused with its offset or line, and (address space capped) without
 * allocating what they claim. */
static void test_bad_input_at_scale(void) {
#if !defined(__SANITIZE_ADDRESS__) && !defined(__has_feature)
  /* Anything sized by a header's word now fails as "out of memory", which
   * expect_refused rejects. (Not under ASan: its shadow needs terabytes of
   * address space.) */
  struct rlimit limit = {(rlim_t)768 << 20, (rlim_t)768 << 20};
  HB_CHECK(setrlimit(RLIMIT_AS, &limit) == 0, "cannot cap the address space");
#endif
  hb_trace trace;
  hb_error error;
  make_churn(&trace, 5000, 2, 20, 0);
  const char *good = hb_test_path("scale-good.hbt"), *bad = hb_test_path("scale-bad.hbt");
  HB_CHECK(hb_hbt_write(&trace, good, &error) == 0, "write: %s", error.message);
  size_t program_bytes = strlen(trace.program);
  hb_trace_release(&trace);
  /* 1e12 ops in a few kilobytes. */
  patch_hbt(good, bad, 32, 1000000000000ull, 8);
  expect_refused(bad, "offset 32", ".hbt claiming 1e12 ops");
  /* A stream of 3 GB in a truncated file: refused at open, by the table. */
  patch_hbt(good, bad, 76 + program_bytes + 8, 3000000000ull, 8);
  expect_refused(bad, "truncated", ".hbt whose stream claims 3 GB");
  /* Billions of ids, a program name of a gigabyte, a million threads. */
  patch_hbt(good, bad, 28, 0xF0000000u, 4);
  expect_refused(bad, "offset 28", ".hbt claiming 4e9 ids");
  patch_hbt(good, bad, 72, 1u << 30, 4);
  expect_refused(bad, "offset", ".hbt with a gigabyte program name");
  patch_hbt(good, bad, 24, 1000000, 4);
  expect_refused(bad, "offset", ".hbt claiming a million threads");

  /* .rep: 50M ops in a few bytes; ids far beyond the ops; an id of 4e9
   * within a header that allows it, in a gzip file (not checked against
   * its size): read as a stream, refused where it is cut. */
  const char *rep = hb_test_path("scale.rep"), *rep_gz = hb_test_path("scale.rep.gz");
  write_text(rep, "0\n10\n50000000\n1\na 0 5\nf 0\n", 0);
  expect_refused(rep, ":3:", ".rep claiming 50M ops");
  write_text(rep, "0\n4000000000\n2\n1\na 0 5\nf 0\n", 0);
  expect_refused(rep, ":2:", ".rep claiming 4e9 ids for 2 ops");
  write_text(rep_gz, "0\n4000000000\n4000000001\n1\na 3999999999 5\na 7 5\n", 1);
  expect_refused(rep_gz, ":7: truncated", "gzip .rep cut short after an id of 4e9");
  write_text(rep, "0\n10\n3\n1\na 0 5\na 11 5\nf 0\n", 0);
  expect_refused(rep, ":6: id 11 out of range", ".rep with an id beyond its header's");
  /* The id discipline, checked as the ops go by. */
  write_text(rep, "0\n10\n3\n1\na 0 5\nf 0\nf 0\n", 0);
  expect_refused(rep, ":7: free of id 0", ".rep freeing twice");
#if !defined(__SANITIZE_ADDRESS__) && !defined(__has_feature)
  struct rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
  setrlimit(RLIMIT_AS, &unlimited);
#endif
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: reader TMPDIR\n");
    return 2;
  }
  hb_test_rng_state = 0x2545F4914F6CDD1Dull; /* the data this test was written with */
  snprintf(hb_test_tmpdir, sizeof hb_test_tmpdir, "%s", argv[1]);
  char command[1200];
  snprintf(command, sizeof command, "mkdir -p '%s'", hb_test_tmpdir);
  if (system(command) != 0) return 1;
  test_batches();
  test_slots();
  test_bad_input_at_scale();
  return hb_test_exit("trace-reader");
}
