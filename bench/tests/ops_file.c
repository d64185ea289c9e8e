/* ops_file.c — the ops file (hb_ops.h): what the encoder writes for a
 * hand-made trace, read back through the worker's mapper, and the mapper
 * refusing files that are not ops files. */
#define _GNU_SOURCE
#include "hb_ops.h"
#include "hb_test.h"
#include "hb_trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void push(hb_trace *trace, hb_op op) {
  hb_error error;
  HB_CHECK(hb_trace_push(trace, op, &error) == 0, "push: %s", error.message);
}

int main(void) {
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
