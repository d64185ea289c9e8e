/* formats.c — the binary format, the importers and the .rep export, on
 * traces this test builds: round trips keep every field, every format
 * reads the same compressed with zstd, and every truncated, corrupted or
 * foreign file is refused with a message naming the file and where.
 *
 * Usage: formats TMPDIR
 */
#include "hb_test.h"
#include "hb_trace.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

/* A trace with every kind and flag, ids reused, several threads, sizes up
 * to 2^63, optional timestamps. */
static void make_trace(hb_trace *trace, size_t ops, uint32_t threads, int timed) {
  hb_trace_init(trace, "generated.hbt", "hbt");
  free(trace->program);
  trace->program = strdup("generator --with args");
  trace->pid = 4242;
  trace->thread_count = threads;
  trace->id_count = 300;
  trace->unmatched_frees = 3;
  trace->failed_allocs = 2;
  trace->dropped_ops = 5;
  trace->unmatched_reallocs = 7;
  trace->reused_addresses = 1;
  unsigned char live[300] = {0};
  hb_error error;
  uint64_t time_ns = 1000;
  for (size_t i = 0; i < ops; i++) {
    hb_op op = {0};
    op.thread = (uint32_t)(hb_test_rng() % threads);
    uint32_t id = (uint32_t)(hb_test_rng() % 300);
    unsigned choice = (unsigned)(hb_test_rng() % 8);
    if (choice == 7) {
      op.kind = HB_OP_FREE;
      op.id = HB_NULL_ID;
    } else if (!live[id]) {
      static const uint8_t creators[] = {HB_OP_MALLOC, HB_OP_CALLOC, HB_OP_ALIGNED,
                                         HB_OP_REALLOC};
      op.kind = creators[choice % 4];
      op.id = id;
      op.size = choice == 6 ? (uint64_t)1 << (hb_test_rng() % 64) : hb_test_rng() % 5000;
      if (op.kind == HB_OP_ALIGNED) op.align_log2 = (uint8_t)(hb_test_rng() % 64);
      if (op.kind == HB_OP_REALLOC) op.flags = HB_FLAG_FROM_NULL;
      live[id] = 1;
    } else if (choice < 3) {
      op.kind = HB_OP_REALLOC;
      op.id = id;
      op.size = hb_test_rng() % 100000;
    } else {
      op.kind = HB_OP_FREE;
      op.id = id;
      if (choice == 3) op.flags = HB_FLAG_REALLOC_ZERO;
      live[id] = 0;
    }
    time_ns += hb_test_rng() % 3 == 0 ? hb_test_rng() % 1000000 : hb_test_rng() % 200;
    if (timed)
      hb_trace_push_timed(trace, op, hb_test_rng() % 50 == 0 ? time_ns - 100 : time_ns, &error);
    else
      hb_trace_push(trace, op, &error);
  }
}

static int same_ops(const hb_trace *a, const hb_trace *b) {
  if (a->op_count != b->op_count) return 0;
  for (size_t i = 0; i < a->op_count; i++) {
    const hb_op *x = &a->ops[i], *y = &b->ops[i];
    if (x->kind != y->kind || x->flags != y->flags || x->thread != y->thread || x->id != y->id ||
        x->size != y->size || (x->kind == HB_OP_ALIGNED && x->align_log2 != y->align_log2)) {
      fprintf(stderr, "op %zu differs\n", i);
      return 0;
    }
    if (a->time_ns && b->time_ns && a->time_ns[i] != b->time_ns[i]) return 0;
  }
  return (a->time_ns == NULL) == (b->time_ns == NULL);
}

static int write_bytes(const char *path, const void *data, size_t size) {
  FILE *file = fopen(path, "wb");
  if (!file) return -1;
  size_t written = fwrite(data, 1, size, file);
  return fclose(file) == 0 && written == size ? 0 : -1;
}

static unsigned char *read_bytes(const char *path, size_t *size) {
  FILE *file = fopen(path, "rb");
  if (!file) return NULL;
  fseek(file, 0, SEEK_END);
  *size = (size_t)ftell(file);
  rewind(file);
  unsigned char *data = malloc(*size ? *size : 1);
  if (data && fread(data, 1, *size, file) != *size) {
    free(data);
    data = NULL;
  }
  fclose(file);
  return data;
}

/* The load fails, with one line that starts with the path and says where. */
static void expect_refused(const char *path, const char *where, const char *what) {
  hb_trace trace;
  hb_error error;
  memset(&error, 0, sizeof error);
  int rc = hb_trace_load(path, &trace, &error);
  HB_CHECK(rc != 0, "%s was accepted", what);
  if (rc == 0) {
    hb_trace_release(&trace);
    return;
  }
  HB_CHECK(strncmp(error.message, path, strlen(path)) == 0 && strstr(error.message, where) &&
               !strchr(error.message, '\n'),
           "%s: message '%s' should start with the path and contain '%s'", what, error.message,
           where);
  HB_CHECK(trace.ops == NULL && trace.op_count == 0, "%s: trace not left empty", what);
}

static void test_hbt_round_trip(void) {
  for (int timed = 0; timed < 2; timed++) {
    for (uint32_t threads = 1; threads <= 5; threads += 4) {
      hb_trace trace, back;
      hb_error error;
      make_trace(&trace, 20000, threads, timed);
      HB_CHECK(hb_trace_check(&trace, &error) == 0, "generated trace invalid: %s", error.message);
      const char *path = hb_test_path("round.hbt");
      HB_CHECK(hb_hbt_write(&trace, path, &error) == 0, "write: %s", error.message);
      int rc = hb_trace_load(path, &back, &error);
      HB_CHECK(rc == 0, "load: %s", error.message);
      if (rc != 0) {
        hb_trace_release(&trace);
        continue;
      }
      HB_CHECK(strcmp(back.format, "hbt") == 0, "format %s", back.format);
      HB_CHECK(same_ops(&trace, &back), "ops differ after a round trip (timed %d, threads %u)",
               timed, threads);
      HB_CHECK(strcmp(back.program, trace.program) == 0 && back.pid == 4242 &&
                   back.thread_count == threads && back.id_count == 300,
               "header fields lost");
      HB_CHECK(back.unmatched_frees == 3 && back.failed_allocs == 2 && back.dropped_ops == 5 &&
                   back.unmatched_reallocs == 7 && back.reused_addresses == 1,
               "conversion counts lost");
      hb_trace_release(&back);
      hb_trace_release(&trace);
    }
  }
  /* An empty trace is a trace. */
  hb_trace empty, back;
  hb_error error;
  hb_trace_init(&empty, "empty", "hbt");
  const char *path = hb_test_path("empty.hbt");
  HB_CHECK(hb_hbt_write(&empty, path, &error) == 0, "write empty: %s", error.message);
  HB_CHECK(hb_trace_load(path, &back, &error) == 0 && back.op_count == 0, "load empty: %s",
           error.message);
  hb_trace_release(&back);
  hb_trace_release(&empty);
}

/* Every prefix and every single-byte change of a small trace is refused. */
static void test_hbt_damage(void) {
  hb_trace trace;
  hb_error error;
  make_trace(&trace, 60, 3, 1);
  const char *good = hb_test_path("small.hbt");
  HB_CHECK(hb_hbt_write(&trace, good, &error) == 0, "write: %s", error.message);
  hb_trace_release(&trace);
  size_t size;
  unsigned char *data = read_bytes(good, &size);
  HB_CHECK(data != NULL && size > 100, "cannot read back %s", good);
  if (!data) return;
  const char *bad = hb_test_path("damaged.hbt");
  for (size_t cut = 0; cut < size; cut++) {
    write_bytes(bad, data, cut);
    char what[64];
    snprintf(what, sizeof what, "trace cut to %zu bytes", cut);
    expect_refused(bad, "offset", what);
  }
  for (size_t at = 0; at < size; at++) {
    data[at] ^= 0x5a;
    write_bytes(bad, data, size);
    data[at] ^= 0x5a;
    char what[64];
    snprintf(what, sizeof what, "trace with byte %zu changed", at);
    expect_refused(bad, "offset", what);
  }
  unsigned char *longer = malloc(size + 1);
  memcpy(longer, data, size);
  longer[size] = 0;
  write_bytes(bad, longer, size + 1);
  expect_refused(bad, "offset", "trace with a trailing byte");
  free(longer);
  free(data);

  /* A header claiming billions of ids for a few ops is damaged (and would
   * cost gigabytes to check). */
  make_trace(&trace, 60, 1, 0);
  trace.id_count = 0xF0000000u;
  HB_CHECK(hb_hbt_write(&trace, bad, &error) == 0, "write: %s", error.message);
  hb_trace_release(&trace);
  expect_refused(bad, "offset 28", "trace with an absurd id count");
  write_bytes(bad, "2000\n4000000000\n1\n1\na 0 1\n", 27);
  expect_refused(bad, ":2:", ".rep with an absurd id count");

  static const unsigned char elf[] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0};
  write_bytes(bad, elf, sizeof elf);
  expect_refused(bad, "offset 0", "an ELF file");
  write_bytes(bad, "hello\n", 6);
  expect_refused(bad, "offset 0", "a text file");
}

static uint64_t get_le(const unsigned char *p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static void put_le(unsigned char *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Past the checksums: random changes to the records of a valid trace,
 * with every CRC recomputed, so the decoder itself meets them. Each must
 * be refused with a message or load as a trace that passes the checks. */
static void test_hbt_mutations(void) {
  hb_trace trace;
  hb_error error;
  make_trace(&trace, 400, 3, 1);
  const char *good = hb_test_path("mutate.hbt"), *bad = hb_test_path("mutated.hbt");
  HB_CHECK(hb_hbt_write(&trace, good, &error) == 0, "write: %s", error.message);
  hb_trace_release(&trace);
  size_t size;
  unsigned char *data = read_bytes(good, &size);
  if (!data) return;
  size_t header_bytes = (size_t)get_le(data + 12, 4), program_bytes = (size_t)get_le(data + 72, 4);
  uint32_t threads = (uint32_t)get_le(data + 24, 4);
  int refused = 0, loaded = 0;
  for (int round = 0; round < 3000; round++) {
    unsigned char *copy = malloc(size);
    memcpy(copy, data, size);
    int changes = 1 + (int)(hb_test_rng() % 4);
    for (int c = 0; c < changes; c++) {
      size_t at = header_bytes + (size_t)(hb_test_rng() % (size - header_bytes));
      copy[at] = (unsigned char)hb_test_rng();
    }
    if (hb_test_rng() % 4 == 0) put_le(copy + 28, hb_test_rng() % 400, 4); /* id count too */
    size_t offset = header_bytes;
    for (uint32_t t = 0; t < threads; t++) {
      unsigned char *entry = copy + 76 + program_bytes + 24 * t;
      size_t length = (size_t)get_le(entry + 8, 8);
      put_le(entry + 16, crc32(0, copy + offset, (uInt)length), 4);
      offset += length;
    }
    put_le(copy + header_bytes - 4, crc32(0, copy, (uInt)(header_bytes - 4)), 4);
    write_bytes(bad, copy, size);
    free(copy);
    memset(&error, 0, sizeof error);
    if (hb_trace_load(bad, &trace, &error) == 0) {
      hb_trace_stats stats;
      HB_CHECK(hb_trace_stats_compute(&trace, &stats, &error) == 0, "stats: %s", error.message);
      hb_trace_release(&trace);
      loaded++;
    } else {
      HB_CHECK(strncmp(error.message, bad, strlen(bad)) == 0 && !strchr(error.message, '\n'),
               "mutation %d: message '%s'", round, error.message);
      refused++;
    }
  }
  printf("mutations: %d refused, %d loaded (and checked)\n", refused, loaded);
  HB_CHECK(refused > 0, "no mutation was refused");
  free(data);
}

static const char valgrind_log[] =
    "==77== Memcheck, a memory error detector\n"
    "==77== Command: ./demo --flag\n"
    "==77== \n"
    "--77-- malloc(100) = 0x4A00010\n"
    "--77-- _Znwm(24) = 0x4A00100\n"
    "some output of the program (mallocs nothing)\n"
    "--77-- calloc(3,5) = 0x4A00200\n"
    "--77-- memalign(al 64, size 100) = 0x4A00240\n"
    "--77-- _ZnwmSt11align_val_t(size 64, al 128) = 0x4A00300\n"
    "--77-- realloc(0x0,50) = 0x4A00400\n"
    "--77-- realloc(0x4A00010,200) = 0x4A00500\n"
    "--77-- free(0x0)\n"
    "--77-- _ZdlPv(0x4A00100)\n"
    "--77-- malloc(0) = 0x0\n"
    "--77-- free(0x1234)\n"
    "--77-- Reading syms from /lib/x.so\n"
    "--78-- malloc(8) = 0x4A00010\n"
    "--77-- realloc(0x4A00400,0)free(0x4A00400)\n"
    "--77--  = 0\n"
    "--77-- realloc(0x0,9)malloc(9) = 0x4A00600\n"
    "--77-- _ZdaPv(0x4A00200)\n"
    "--77-- free(0x4A00500)\n"
    "--77-- malloc(7) = 0x4A0";

static void write_text(const char *path, const char *text, int gzip) {
  if (gzip) {
    gzFile file = gzopen(path, "wb");
    gzwrite(file, text, (unsigned)strlen(text));
    gzclose(file);
  } else {
    write_bytes(path, text, strlen(text));
  }
}

static void test_valgrind(void) {
  /* Expected ops: kind, id, size, align_log2, flags. */
  static const struct { uint8_t kind; uint32_t id; uint64_t size; uint8_t align, flags; } want[] = {
      {HB_OP_MALLOC, 0, 100, 0, 0},     {HB_OP_MALLOC, 1, 24, 0, 0},
      {HB_OP_CALLOC, 2, 15, 0, 0},      {HB_OP_ALIGNED, 3, 100, 6, 0},
      {HB_OP_ALIGNED, 4, 64, 7, 0},     {HB_OP_REALLOC, 5, 50, 0, HB_FLAG_FROM_NULL},
      {HB_OP_REALLOC, 0, 200, 0, 0},    {HB_OP_FREE, HB_NULL_ID, 0, 0, 0},
      {HB_OP_FREE, 1, 0, 0, 0},         {HB_OP_FREE, 5, 0, 0, HB_FLAG_REALLOC_ZERO},
      {HB_OP_REALLOC, 6, 9, 0, HB_FLAG_FROM_NULL},
      {HB_OP_FREE, 2, 0, 0, 0},         {HB_OP_FREE, 0, 0, 0, 0},
  };
  size_t want_count = sizeof want / sizeof want[0];
  for (int gzip = 0; gzip < 2; gzip++) {
    const char *path = hb_test_path(gzip ? "demo.trace.gz" : "demo.trace");
    write_text(path, valgrind_log, gzip);
    hb_trace trace;
    hb_error error;
    int rc = hb_trace_load(path, &trace, &error);
    HB_CHECK(rc == 0, "valgrind log (gzip %d): %s", gzip, error.message);
    if (rc) continue;
    HB_CHECK(strcmp(trace.format, "valgrind") == 0 && strcmp(trace.program, "./demo") == 0 &&
                 trace.pid == 77,
             "format %s program '%s' pid %u", trace.format, trace.program, trace.pid);
    HB_CHECK(trace.op_count == want_count, "%zu ops, want %zu", trace.op_count, want_count);
    for (size_t i = 0; i < want_count && i < trace.op_count; i++) {
      const hb_op *op = &trace.ops[i];
      HB_CHECK(op->kind == want[i].kind && op->id == want[i].id && op->size == want[i].size &&
                   op->align_log2 == want[i].align && op->flags == want[i].flags,
               "op %zu: %s id %u size %lu align %u flags %u", i, hb_op_kind_name(op->kind),
               op->id, (unsigned long)op->size, op->align_log2, op->flags);
    }
    HB_CHECK(trace.failed_allocs == 1 && trace.unmatched_frees == 1 && trace.dropped_ops == 2,
             "failed %lu unmatched %lu", (unsigned long)trace.failed_allocs,
             (unsigned long)trace.unmatched_frees);
    HB_CHECK(trace.other_process_calls == 1, "%lu calls of process 78 counted, want 1",
             (unsigned long)trace.other_process_calls);
    hb_trace_release(&trace);
  }
  /* The same cut-short line in the middle of a log is an error, on its line. */
  const char *bad = hb_test_path("bad.trace");
  write_text(bad, "--5-- malloc(1) = 0x10\n--5-- malloc(7) = \n--5-- free(0x10)\n", 0);
  expect_refused(bad, ":2:", "valgrind log with a malformed line");
  write_text(bad, "==5== only a banner\n", 0);
  expect_refused(bad, ":1:", "valgrind log without events");
  /* A gzip stream cut short is corrupted, not a recording cut short. */
  const char *gz = hb_test_path("cut.trace.gz");
  write_text(gz, valgrind_log, 1);
  size_t size;
  unsigned char *data = read_bytes(gz, &size);
  if (data) {
    write_bytes(gz, data, size / 2);
    expect_refused(gz, ":", "truncated gzip log");
    free(data);
  }
}

/* path compressed with zstd into zst_path, as `frames` frames (a file may
 * hold several, as `cat a.zst b.zst` makes). 0, or -1. */
static int zstd_compress_file(const char *path, const char *zst_path, int frames) {
  size_t size;
  unsigned char *data = read_bytes(path, &size);
  if (!data) return -1;
  size_t capacity = ZSTD_compressBound(size) * (size_t)frames + 64, used = 0;
  unsigned char *packed = malloc(capacity);
  int rc = packed ? 0 : -1;
  for (int f = 0; f < frames && rc == 0; f++) {
    size_t from = size * (size_t)f / (size_t)frames, to = size * (size_t)(f + 1) / (size_t)frames;
    size_t n = ZSTD_compress(packed + used, capacity - used, data + from, to - from, 3);
    if (ZSTD_isError(n)) rc = -1;
    else used += n;
  }
  if (rc == 0) rc = write_bytes(zst_path, packed, used);
  free(packed);
  free(data);
  return rc;
}

/* Each format, compressed, loads as its plain form: same ops and fields;
 * only the path and name are the compressed file's. */
static void expect_same_compressed(const char *plain, const char *zst_name, int frames,
                                   const char *want_name) {
  const char *zst = hb_test_path(zst_name);
  HB_CHECK(zstd_compress_file(plain, zst, frames) == 0, "cannot compress %s", plain);
  hb_trace a, b;
  hb_error error;
  int rc_a = hb_trace_load(plain, &a, &error);
  HB_CHECK(rc_a == 0, "%s: %s", plain, error.message);
  int rc_b = hb_trace_load(zst, &b, &error);
  HB_CHECK(rc_b == 0, "%s: %s", zst, error.message);
  if (rc_a == 0 && rc_b == 0) {
    HB_CHECK(same_ops(&a, &b), "%s: ops differ from %s", zst, plain);
    HB_CHECK(strcmp(a.format, b.format) == 0 && strcmp(a.program, b.program) == 0 &&
                 a.pid == b.pid && a.thread_count == b.thread_count &&
                 a.id_count == b.id_count && a.dropped_ops == b.dropped_ops &&
                 a.unmatched_frees == b.unmatched_frees && a.failed_allocs == b.failed_allocs &&
                 a.unmatched_reallocs == b.unmatched_reallocs &&
                 a.reused_addresses == b.reused_addresses && a.incomplete == b.incomplete &&
                 a.other_process_calls == b.other_process_calls,
             "%s: header fields differ from %s", zst, plain);
    HB_CHECK(strcmp(b.path, zst) == 0 && strcmp(b.name, want_name) == 0,
             "%s: path '%s' name '%s', want name '%s'", zst, b.path, b.name, want_name);
  }
  if (rc_a == 0) hb_trace_release(&a);
  if (rc_b == 0) hb_trace_release(&b);
}

static void test_zstd(void) {
  hb_trace trace;
  hb_error error;
  make_trace(&trace, 3000, 3, 1);
  /* Own copies: tmp_path's buffers are reused. */
  char hbt[1200], rep[1200], log[1200], log_gz[1200];
  snprintf(hbt, sizeof hbt, "%s", hb_test_path("z.hbt"));
  snprintf(rep, sizeof rep, "%s", hb_test_path("z.rep"));
  snprintf(log, sizeof log, "%s", hb_test_path("z.trace"));
  snprintf(log_gz, sizeof log_gz, "%s", hb_test_path("z.trace.gz"));
  HB_CHECK(hb_hbt_write(&trace, hbt, &error) == 0, "write: %s", error.message);
  hb_trace_release(&trace);
  write_text(rep, "20000\n3\n6\n1\na 0 10\na 1 20\nr 0 30\nf 1\na 2 7\nf 0\n", 0);
  write_text(log, valgrind_log, 0);
  write_text(log_gz, valgrind_log, 1);
  expect_same_compressed(hbt, "z.hbt.zst", 1, "z");
  expect_same_compressed(rep, "z.rep.zst", 1, "z");
  expect_same_compressed(log, "z.trace.zst", 1, "z");
  expect_same_compressed(log_gz, "z.trace.gz.zst", 1, "z"); /* gzip inside zstd */
  expect_same_compressed(hbt, "frames.hbt.zst", 3, "frames");
  /* By content, not by name. */
  expect_same_compressed(hbt, "plain-looking.hbt", 1, "plain-looking");

  /* Truncated: every cut after the frame magic is a decompression error
   * naming the file, on one line; every damaged byte is refused. */
  const char *zst = hb_test_path("z.hbt.zst");
  size_t size;
  unsigned char *data = read_bytes(zst, &size);
  HB_CHECK(data != NULL && size > 100, "cannot read back %s", zst);
  if (!data) return;
  const char *bad = hb_test_path("damaged.hbt.zst");
  for (size_t cut = 4; cut < size; cut += cut < 200 ? 1 : 97) {
    write_bytes(bad, data, cut);
    char what[64];
    snprintf(what, sizeof what, "zstd trace cut to %zu bytes", cut);
    expect_refused(bad, ": zstd decompression failed: ", what);
  }
  for (size_t at = 4; at < size; at += at < 200 ? 1 : 13) {
    unsigned char saved = data[at];
    data[at] ^= 0x5a;
    write_bytes(bad, data, size);
    char what[64];
    snprintf(what, sizeof what, "zstd trace with byte %zu changed", at);
    expect_refused(bad, ":", what);
    data[at] = saved;
  }
  free(data);
  /* A decompressed file that is no trace: the message says so, and where
   * the offset counts from. */
  const char *text = hb_test_path("words.txt"), *text_zst = hb_test_path("words.zst");
  write_text(text, "hello\n", 0);
  HB_CHECK(zstd_compress_file(text, text_zst, 1) == 0, "cannot compress %s", text);
  expect_refused(text_zst, "words.zst (decompressed): offset 0: unknown trace format",
                 "compressed text that is no trace");
}

static void test_rep(void) {
  /* Extended header (weight, ids, ops, ignored): f -1, r of an unknown id,
   * r to zero; the file goes on past num_ops, which readers ignore. */
  const char *path = hb_test_path("ext.rep");
  write_text(path, "0\n3\n7\n1\na 0 10\nf -1\nr 1 20\nr 0 30\nr 1 0\nf 0\na 2 5\na 2 99\n", 0);
  hb_trace trace;
  hb_error error;
  int rc = hb_trace_load(path, &trace, &error);
  HB_CHECK(rc == 0, "extended .rep: %s", error.message);
  if (rc == 0) {
    HB_CHECK(trace.op_count == 7 && trace.id_count == 3, "%zu ops %u ids", trace.op_count,
             trace.id_count);
    HB_CHECK(trace.ops[1].kind == HB_OP_FREE && trace.ops[1].id == HB_NULL_ID, "f -1");
    HB_CHECK(trace.ops[2].kind == HB_OP_REALLOC && trace.ops[2].flags == HB_FLAG_FROM_NULL,
             "r of an unknown id");
    HB_CHECK(trace.ops[4].kind == HB_OP_FREE && trace.ops[4].flags == HB_FLAG_REALLOC_ZERO,
             "r to zero");
    /* Export and read back: the same ops. */
    const char *out = hb_test_path("export.rep");
    HB_CHECK(hb_rep_write(&trace, out, &error) == 0, "export: %s", error.message);
    hb_trace back;
    rc = hb_trace_load(out, &back, &error);
    HB_CHECK(rc == 0, "exported .rep: %s", error.message);
    if (rc == 0) {
      HB_CHECK(same_ops(&trace, &back), "exported .rep reads back different");
      hb_trace_release(&back);
    }
    hb_trace_release(&trace);
  }
  write_text(path, "20000\n2\n3\n1\na 0 10\na 1\nf 0\n", 0);
  expect_refused(path, ":6:", ".rep with an 'a' without size");
  write_text(path, "20000\n2\n4\n1\na 0 10\nf 0\n", 0);
  expect_refused(path, ":7:", "truncated .rep");
  write_text(path, "20000\n2\n2\n1\na 0 10\nf 1\n", 0);
  expect_refused(path, ":6:", ".rep freeing a dead id");
  /* Several threads cannot go to .rep. */
  make_trace(&trace, 100, 2, 0);
  HB_CHECK(hb_rep_write(&trace, hb_test_path("two.rep"), &error) != 0,
           "a two-thread trace was exported to .rep");
  hb_trace_release(&trace);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: formats TMPDIR\n");
    return 2;
  }
  snprintf(hb_test_tmpdir, sizeof hb_test_tmpdir, "%s", argv[1]);
  mkdir(hb_test_tmpdir, 0755);
  test_hbt_round_trip();
  test_hbt_damage();
  test_hbt_mutations();
  test_valgrind();
  test_rep();
  test_zstd();
  return hb_test_exit("formats");
}
