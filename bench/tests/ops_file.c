/* ops_file.c — the ops file (hb_ops.h): what the encoder writes for a
 * hand-made trace, read back through the worker's mapper, and the mapper
 * refusing files that are not ops files; the streaming encoder on a trace
 * of many short-lived blocks, few live (recycled slots: slot_count is the
 * most blocks live + 1, every other figure and op as the whole trace's
 * encoding gives them). */
#define _GNU_SOURCE
#include "hb_ops.h"
#include "hb_reader.h"
#include "hb_test.h"
#include "hb_trace.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void push(hb_trace *trace, hb_op op) {
  hb_error error;
  HB_CHECK(hb_trace_push(trace, op, &error) == 0, "push: %s", error.message);
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* 3 threads, a fresh id per block, at most 50 live, over several of the
 * encoder's 16K-op chunks, free(NULL)s among them. */
static void make_churn(hb_trace *trace, size_t ops) {
  hb_trace_init(trace, "churn", "synthetic");
  trace->thread_count = 3;
  uint32_t live[50], live_count = 0, next_id = 0;
  for (size_t i = 0; i < ops; i++) {
    hb_op op = {.thread = (uint32_t)(rng() % 3)};
    unsigned choice = (unsigned)(rng() % 16);
    if (choice == 15) {
      op.kind = HB_OP_FREE;
      op.id = HB_NULL_ID;
    } else if (live_count == 0 || (live_count < 50 && choice < 7)) {
      op.kind = choice % 3 == 0 ? HB_OP_ALIGNED : HB_OP_MALLOC;
      op.align_log2 = op.kind == HB_OP_ALIGNED ? 6 : 0;
      op.id = live[live_count++] = next_id++;
      op.size = 1 + rng() % 4000;
    } else if (choice < 9) {
      op.kind = HB_OP_REALLOC;
      op.id = live[rng() % live_count];
      op.size = 1 + rng() % 4000;
    } else {
      uint32_t k = (uint32_t)(rng() % live_count);
      op.kind = HB_OP_FREE;
      op.id = live[k];
      live[k] = live[--live_count];
    }
    push(trace, op);
  }
  trace->id_count = next_id;
}

/* The whole ops file at fd, mapped (the format of hb_ops.h, read here
 * without the worker's windowed mapper): its ops, or NULL. */
static const hb_ops_op *map_ops(int fd, const hb_ops_header *header, size_t *bytes) {
  *bytes = sizeof *header + header->op_count * sizeof(hb_ops_op);
  void *map = mmap(NULL, *bytes, PROT_READ, MAP_SHARED, fd, 0);
  HB_CHECK(map != MAP_FAILED, "cannot map the ops file");
  if (map == MAP_FAILED) return NULL;
  HB_CHECK(memcmp(map, header, sizeof *header) == 0, "the file's header is not the one returned");
  return (const hb_ops_op *)((const char *)map + sizeof *header);
}

static void unmap_ops(const hb_ops_op *ops, size_t bytes) {
  if (ops) munmap((void *)((const char *)ops - sizeof(hb_ops_header)), bytes);
}

static void test_streaming(void) {
  hb_trace trace;
  hb_error error;
  make_churn(&trace, 70000);
  hb_trace_stats stats;
  HB_CHECK(hb_trace_stats_compute(&trace, &stats, &error) == 0, "%s", error.message);
  char dir[] = "/tmp/hb-ops-stream-XXXXXX", path[64];
  HB_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  snprintf(path, sizeof path, "%s/churn.hbt", dir);
  HB_CHECK(hb_hbt_write(&trace, path, &error) == 0, "write: %s", error.message);
  hb_ops_header whole_header, header;
  int whole_fd = hb_ops_encode(&trace, &whole_header, &error);
  HB_CHECK(whole_fd >= 0, "encode: %s", error.message);
  hb_reader *reader;
  HB_CHECK(hb_reader_open(path, HB_READER_SLOTS, &reader, &error) == 0, "open: %s", error.message);
  int fd = hb_ops_encode_reader(reader, &header, &error);
  HB_CHECK(fd >= 0, "encode from the reader: %s", error.message);
  hb_reader_close(reader);
  HB_CHECK(header.slot_count == stats.peak_live_blocks + 1 && stats.peak_live_blocks <= 50,
           "%u slots for at most %" PRIu64 " blocks live (%u blocks)", header.slot_count,
           stats.peak_live_blocks, trace.id_count);
  hb_ops_header expected = whole_header;
  expected.slot_count = header.slot_count;
  HB_CHECK(memcmp(&expected, &header, sizeof header) == 0,
           "figures differ: peak %" PRIu64 " at op %" PRIu64 " vs %" PRIu64 " at op %" PRIu64,
           header.peak_live_bytes, header.peak_live_op, whole_header.peak_live_bytes,
           whole_header.peak_live_op);
  size_t whole_bytes = 0, stream_bytes = 0;
  const hb_ops_op *whole_ops = whole_fd >= 0 ? map_ops(whole_fd, &whole_header, &whole_bytes) : NULL;
  const hb_ops_op *stream_ops = fd >= 0 ? map_ops(fd, &header, &stream_bytes) : NULL;
  size_t differ = 0, bad_slots = 0;
  for (uint64_t i = 0; whole_ops && stream_ops && i < header.op_count; i++) {
    const hb_ops_op *x = &whole_ops[i], *y = &stream_ops[i];
    differ += x->kind != y->kind || x->size != y->size || x->thread != y->thread ||
              x->align_log2 != y->align_log2;
    int null_free = trace.ops[i].kind == HB_OP_FREE && trace.ops[i].id == HB_NULL_ID;
    bad_slots += null_free ? y->slot != header.slot_count - 1 : y->slot >= header.slot_count - 1;
  }
  HB_CHECK(differ == 0 && bad_slots == 0, "%zu ops differ, %zu slots wrong", differ, bad_slots);
  unmap_ops(whole_ops, whole_bytes);
  unmap_ops(stream_ops, stream_bytes);

  /* The ops file goes under TMPDIR: one that cannot take it is named. */
  char *saved = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
  setenv("TMPDIR", "/nonexistent/hb-tmp", 1);
  HB_CHECK(hb_reader_open(path, HB_READER_SLOTS, &reader, &error) == 0, "open: %s", error.message);
  int refused = hb_ops_encode_reader(reader, &header, &error);
  HB_CHECK(refused < 0 && strstr(error.message, "/nonexistent/hb-tmp (TMPDIR)"),
           "an unusable TMPDIR: %s", error.message);
  hb_reader_close(reader);
  if (saved) setenv("TMPDIR", saved, 1); else unsetenv("TMPDIR");
  free(saved);
  close(fd);
  close(whole_fd);
  unlink(path);
  rmdir(dir);
  hb_trace_release(&trace);
}

/* A real trace: the streaming encoding (recycled slots) hands the workers
 * the same calls as the whole trace's (its ids as slots): op by op the
 * same kind, size hint, thread and alignment, each block on one slot from
 * creation to free, the same header figures. The allocator under test
 * cannot tell them apart, so no figure of a replay can change. */
static void test_same_calls(const char *path) {
  hb_trace trace;
  hb_error error;
  HB_CHECK(hb_trace_load(path, &trace, &error) == 0, "%s", error.message);
  hb_ops_header whole_header, header;
  int whole_fd = hb_ops_encode(&trace, &whole_header, &error);
  hb_reader *reader;
  HB_CHECK(hb_reader_open(path, HB_READER_SLOTS, &reader, &error) == 0, "%s", error.message);
  int fd = hb_ops_encode_reader(reader, &header, &error);
  hb_reader_close(reader);
  HB_CHECK(whole_fd >= 0 && fd >= 0, "%s: encode: %s", path, error.message);
  size_t whole_bytes = 0, stream_bytes = 0;
  const hb_ops_op *whole_ops = whole_fd >= 0 ? map_ops(whole_fd, &whole_header, &whole_bytes) : NULL;
  const hb_ops_op *stream_ops = fd >= 0 ? map_ops(fd, &header, &stream_bytes) : NULL;
  uint32_t *renamed = malloc(whole_header.slot_count * sizeof *renamed);
  size_t differ = 0;
  for (uint64_t i = 0; whole_ops && stream_ops && i < header.op_count; i++) {
    const hb_ops_op *x = &whole_ops[i], *y = &stream_ops[i];
    differ += x->kind != y->kind || x->size != y->size || x->thread != y->thread ||
              x->align_log2 != y->align_log2;
    if (x->slot == whole_header.slot_count - 1) {
      differ += y->slot != header.slot_count - 1;
    } else if (x->kind != HB_OPS_FREE && x->kind != HB_OPS_REALLOC) {
      renamed[x->slot] = y->slot;
    } else {
      differ += renamed[x->slot] != y->slot;
    }
  }
  hb_ops_header expected = whole_header;
  expected.slot_count = header.slot_count;
  HB_CHECK(memcmp(&expected, &header, sizeof header) == 0 && differ == 0,
           "%s: %zu ops differ, header figures %s", path, differ,
           memcmp(&expected, &header, sizeof header) ? "differ" : "equal");
  printf("%s: %llu ops, %u slots by id, %u recycled\n", path,
         (unsigned long long)header.op_count, whole_header.slot_count, header.slot_count);
  unmap_ops(whole_ops, whole_bytes);
  unmap_ops(stream_ops, stream_bytes);
  free(renamed);
  close(fd);
  close(whole_fd);
  hb_trace_release(&trace);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) test_same_calls(argv[i]);
  test_streaming();
  hb_trace trace;
  hb_trace_init(&trace, "hand-made", "synthetic");
  trace.id_count = 3;
  push(&trace, (hb_op){.kind = HB_OP_MALLOC, .id = 0, .size = 64});
  push(&trace, (hb_op){.kind = HB_OP_ALIGNED, .align_log2 = 12, .id = 1, .size = 100});
  push(&trace, (hb_op){.kind = HB_OP_REALLOC, .id = 0, .size = 200}); /* live 300: the peak */
  push(&trace, (hb_op){.kind = HB_OP_FREE, .id = HB_NULL_ID});
  push(&trace, (hb_op){.kind = HB_OP_FREE, .id = 1});
  push(&trace, (hb_op){.kind = HB_OP_FREE, .id = 0});
  push(&trace, (hb_op){.kind = HB_OP_REALLOC, .flags = HB_FLAG_FROM_NULL, .id = 2, .size = 50});
  hb_error error;
  HB_CHECK(hb_trace_check(&trace, &error) == 0, "check: %s", error.message);

  hb_ops_header header;
  int fd = hb_ops_encode(&trace, &header, &error);
  hb_trace_release(&trace);
  HB_CHECK(fd >= 0, "encode: %s", error.message);
  if (fd < 0) return hb_test_exit("ops_file");
  HB_CHECK(header.op_count == 7 && header.slot_count == 4 && header.thread_count == 1,
           "header counts");
  HB_CHECK(header.peak_live_bytes == 300 && header.peak_live_op == 2, "peak live %llu at op %llu",
           (unsigned long long)header.peak_live_bytes, (unsigned long long)header.peak_live_op);
  HB_CHECK(header.allocations == 3 && header.reallocs == 1 && header.frees == 3,
           "kinds counted: %llu allocations, %llu reallocs, %llu frees",
           (unsigned long long)header.allocations, (unsigned long long)header.reallocs,
           (unsigned long long)header.frees);

  char path[64], why[512];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  hb_ops_file mapped;
  HB_CHECK(hb_ops_map(path, &mapped, why, sizeof why) == 0, "map: %s", why);
  if (mapped.ops) {
    const hb_ops_op *ops = mapped.ops;
    static const uint8_t kinds[7] = {HB_OPS_MALLOC, HB_OPS_ALIGNED, HB_OPS_REALLOC,
                                     HB_OPS_FREE,   HB_OPS_FREE,    HB_OPS_FREE,
                                     HB_OPS_REALLOC_NEW};
    for (int i = 0; i < 7; i++) HB_CHECK(ops[i].kind == kinds[i], "op %d kind %u", i, ops[i].kind);
    HB_CHECK(ops[1].align_log2 == 12, "alignment kept");
    HB_CHECK(ops[3].slot == 3 && ops[3].size == 0, "free(NULL) frees the never-used last slot");
    HB_CHECK(ops[4].slot == 1 && ops[4].size == 0, "an aligned block is freed without a hint");
    HB_CHECK(ops[5].slot == 0 && ops[5].size == 200, "a free's hint is the current request");
    HB_CHECK(memcmp(&mapped.header, &header, sizeof header) == 0, "the file's header is final");
  }

  /* Windows of 3 ops: 0-2, 3-5, 6; each holds the ops the whole file
   * holds there, whatever the window's offset in its page. */
  setenv(HB_OPS_WINDOW_ENV, "3", 1);
  hb_ops_file windowed;
  HB_CHECK(hb_ops_map(path, &windowed, why, sizeof why) == 0, "map in windows: %s", why);
  if (windowed.ops && mapped.ops) {
    uint64_t seen = 0, windows = 0;
    int more;
    for (more = hb_ops_window_first(&windowed); more > 0; more = hb_ops_window_next(&windowed)) {
      HB_CHECK(windowed.first == seen && windowed.count == (seen < 6 ? 3u : 1u),
               "window %llu: ops %llu + %llu", (unsigned long long)windows,
               (unsigned long long)windowed.first, (unsigned long long)windowed.count);
      HB_CHECK(memcmp(windowed.ops, mapped.ops + seen, windowed.count * sizeof(hb_ops_op)) == 0,
               "window %llu holds the file's ops", (unsigned long long)windows);
      seen += windowed.count;
      windows++;
    }
    HB_CHECK(more == 0 && seen == 7 && windows == 3, "3 windows cover the 7 ops: %llu in %llu",
             (unsigned long long)seen, (unsigned long long)windows);
    HB_CHECK(windowed.first == 6 && windowed.ops, "the last window stays after the end");
    HB_CHECK(hb_ops_window_first(&windowed) == 1 && windowed.first == 0 &&
                 windowed.ops[2].kind == HB_OPS_REALLOC,
             "back to the first window");
  }
  hb_ops_unmap(&windowed);
  setenv(HB_OPS_WINDOW_ENV, "0", 1);
  HB_CHECK(hb_ops_map(path, &windowed, why, sizeof why) != 0 && strstr(why, HB_OPS_WINDOW_ENV),
           "a window of 0 ops refused: %s", why);
  unsetenv(HB_OPS_WINDOW_ENV);

  /* A bad op in a later window is refused when the file is opened, before
   * any replay, naming the op. */
  char corrupt[] = "/tmp/hb-ops-window-XXXXXX";
  int corrupt_fd = mkstemp(corrupt);
  HB_CHECK(corrupt_fd >= 0, "mkstemp");
  if (corrupt_fd >= 0 && mapped.ops) {
    hb_ops_op ops[7];
    memcpy(ops, mapped.ops, sizeof ops);
    ops[5].slot = 99; /* beyond the slot table */
    HB_CHECK(write(corrupt_fd, &header, sizeof header) == (ssize_t)sizeof header &&
                 write(corrupt_fd, ops, sizeof ops) == (ssize_t)sizeof ops,
             "write");
    close(corrupt_fd);
    setenv(HB_OPS_WINDOW_ENV, "2", 1);
    HB_CHECK(hb_ops_map(corrupt, &windowed, why, sizeof why) != 0 && strstr(why, "op 5 "),
             "bad op 5 refused: %s", why);
    unsetenv(HB_OPS_WINDOW_ENV);
    unlink(corrupt);
  }

  /* An alignment no allocator could honour is refused while encoding. */
  hb_trace wild;
  hb_trace_init(&wild, "wild", "synthetic");
  wild.id_count = 1;
  push(&wild, (hb_op){.kind = HB_OP_ALIGNED, .align_log2 = 40, .id = 0, .size = 8});
  hb_ops_header wild_header;
  int wild_fd = hb_ops_encode(&wild, &wild_header, &error);
  HB_CHECK(wild_fd < 0 && strstr(error.message, "alignment 2^40"), "wild alignment: %s",
           error.message);
  if (wild_fd >= 0) close(wild_fd);
  hb_trace_release(&wild);

  /* Not an ops file: refused with a reason, no crash. */
  char bad[] = "/tmp/hb-ops-file-XXXXXX";
  int bad_fd = mkstemp(bad);
  HB_CHECK(bad_fd >= 0, "mkstemp");
  if (bad_fd >= 0) {
    char junk[200];
    memset(junk, 'x', sizeof junk);
    HB_CHECK(write(bad_fd, junk, sizeof junk) == (ssize_t)sizeof junk, "write");
    close(bad_fd);
    hb_ops_file refused;
    HB_CHECK(hb_ops_map(bad, &refused, why, sizeof why) != 0 && strstr(why, bad),
             "junk refused, naming the file: %s", why);
    HB_CHECK(hb_ops_map("/nonexistent/ops", &refused, why, sizeof why) != 0, "missing refused");
    unlink(bad);
  }
  close(fd);
  return hb_test_exit("ops_file");
}
