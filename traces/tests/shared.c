/* shared.c — the real traces in ../shared (skipped where absent): every
 * malloc-lab .rep loads with the counts and peak SOURCE.txt lists for it
 * (alaska.rep, malformed, is refused on its first bad line), every
 * valgrind log imports, and every one survives a round trip through .hbt
 * at <= 8 bytes per op.
 *
 * Usage: shared SHARED_TRACES_DIR TMPDIR
 */
#include "hb_test.h"
#include "hb_trace.h"

#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static char tmpdir[1024];
static uint64_t total_ops, total_bytes;
static int summaries; /* valgrind logs checked against their own heap summary */

static void round_trip(const hb_trace *trace) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s.hbt", tmpdir, trace->name);
  hb_error error;
  hb_trace back;
  HB_CHECK(hb_hbt_write(trace, path, &error) == 0, "%s", error.message);
  int rc = hb_trace_load(path, &back, &error);
  HB_CHECK(rc == 0, "%s", error.message);
  if (rc) return;
  int same = back.op_count == trace->op_count && back.id_count == trace->id_count;
  for (size_t i = 0; same && i < trace->op_count; i++)
    same = memcmp(&back.ops[i], &trace->ops[i], sizeof(hb_op)) == 0;
  HB_CHECK(same, "%s: .hbt round trip changed the ops", trace->path);
  struct stat st;
  if (stat(path, &st) == 0) {
    total_ops += trace->op_count;
    total_bytes += (uint64_t)st.st_size;
  }
  hb_trace_release(&back);
}

/* Checks one SOURCE.txt line: "name hdr[...] oplines=N a=A f=F r=R ... peak_payload=P". */
static void check_rep(const char *dir, const char *line) {
  char name[128];
  if (sscanf(line, " %127s hdr[", name) != 1 || !strstr(name, ".rep")) return;
  const char *a = strstr(line, " a="), *peak = strstr(line, "peak_payload=");
  if (!a || !peak) return;
  uint64_t allocs, frees, reallocs, peak_bytes;
  if (sscanf(a, " a=%" SCNu64 " f=%" SCNu64 " r=%" SCNu64, &allocs, &frees, &reallocs) != 3 ||
      sscanf(peak, "peak_payload=%" SCNu64, &peak_bytes) != 1)
    return;
  char path[1600];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  hb_trace trace;
  hb_error error;
  int rc = hb_trace_load(path, &trace, &error);
  if (strcmp(name, "alaska.rep") == 0) {
    HB_CHECK(rc != 0 && strstr(error.message, "alaska.rep:7:"), "alaska.rep: %s",
             rc ? error.message : "accepted");
    if (rc == 0) hb_trace_release(&trace);
    return;
  }
  HB_CHECK(rc == 0, "%s", error.message);
  if (rc) return;
  hb_trace_stats stats;
  hb_trace_stats_compute(&trace, &stats, &error);
  /* Files with an op line past num_ops are counted over all lines there. */
  if (!strstr(line, "!=num_ops")) {
    uint64_t realloc_frees = 0; /* "r id 0" reads as a free */
    for (size_t i = 0; i < trace.op_count; i++)
      realloc_frees += trace.ops[i].kind == HB_OP_FREE &&
                       (trace.ops[i].flags & HB_FLAG_REALLOC_ZERO);
    HB_CHECK(stats.ops_by_kind[HB_OP_MALLOC] == allocs &&
                 stats.ops_by_kind[HB_OP_FREE] - realloc_frees == frees &&
                 stats.ops_by_kind[HB_OP_REALLOC] + realloc_frees == reallocs,
             "%s: a=%" PRIu64 " f=%" PRIu64 " r=%" PRIu64 ", SOURCE.txt says %" PRIu64 " %" PRIu64
             " %" PRIu64, name, stats.ops_by_kind[HB_OP_MALLOC], stats.ops_by_kind[HB_OP_FREE],
             stats.ops_by_kind[HB_OP_REALLOC], allocs, frees, reallocs);
    HB_CHECK(stats.peak_live_bytes == peak_bytes, "%s: peak %" PRIu64 ", SOURCE.txt says %" PRIu64,
             name, stats.peak_live_bytes, peak_bytes);
  }
  round_trip(&trace);
  hb_trace_release(&trace);
}

static int check_malloclab(const char *dir) {
  char path[1200];
  snprintf(path, sizeof path, "%s/SOURCE.txt", dir);
  FILE *source = fopen(path, "r");
  if (!source) return 0;
  char line[1024], folder[1200];
  const char *current = dir;
  int checked = 0;
  while (fgets(line, sizeof line, source)) {
    if (strstr(line, "Subfolder cmu-extended/")) {
      snprintf(folder, sizeof folder, "%s/cmu-extended", dir);
      current = folder;
    }
    if (strstr(line, "hdr[")) {
      check_rep(current, line);
      checked++;
    }
  }
  fclose(source);
  return checked;
}

/* valgrind's own summary at the end of a log: "total heap usage: 2,876
 * allocs, 2,876 frees, 82,417 bytes allocated". 0 if absent. */
static int heap_usage(const char *path, uint64_t *allocs, uint64_t *bytes) {
  gzFile file = gzopen(path, "rb");
  if (!file) return 0;
  char line[1024];
  int found = 0;
  while (!found && gzgets(file, line, sizeof line)) {
    char *p = strstr(line, "total heap usage: ");
    if (!p) continue;
    /* Drop the commas (thousands separators and all), then read the numbers. */
    char digits[256];
    size_t n = 0;
    for (p += 18; *p && n + 1 < sizeof digits; p++)
      if (*p != ',') digits[n++] = *p;
    digits[n] = 0;
    uint64_t frees;
    found = sscanf(digits, "%" SCNu64 " allocs %" SCNu64 " frees %" SCNu64, allocs, &frees,
                   bytes) == 3;
  }
  gzclose(file);
  return found;
}

static int check_valgrind(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int checked = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (!strstr(e->d_name, ".trace.gz")) continue;
    char path[1600];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    hb_trace trace;
    hb_error error;
    int rc = hb_trace_load(path, &trace, &error);
    HB_CHECK(rc == 0, "%s", error.message);
    if (rc) continue;
    HB_CHECK(trace.op_count > 0 && trace.unmatched_frees == 0, "%s: %zu ops, %" PRIu64
             " unmatched frees", path, trace.op_count, trace.unmatched_frees);
    /* Against valgrind's own count, where the log is big enough for 0.1%
     * to mean something (test-zero's summary counts calls its log lacks). */
    uint64_t allocs, bytes;
    hb_trace_stats stats;
    if (heap_usage(path, &allocs, &bytes) && allocs >= 1000 &&
        hb_trace_stats_compute(&trace, &stats, &error) == 0) {
      uint64_t ours = stats.ops_by_kind[HB_OP_MALLOC] + stats.ops_by_kind[HB_OP_CALLOC] +
                      stats.ops_by_kind[HB_OP_ALIGNED] + stats.ops_by_kind[HB_OP_REALLOC];
      double off_allocs = fabs((double)ours - (double)allocs) / (double)allocs;
      double off_bytes = fabs((double)stats.requested_bytes - (double)bytes) / (double)bytes;
      HB_CHECK(off_allocs <= 0.001 && off_bytes <= 0.001,
               "%s: %" PRIu64 " allocations of %" PRIu64 " bytes; valgrind says %" PRIu64
               " of %" PRIu64, path, ours, stats.requested_bytes, allocs, bytes);
      summaries++;
    }
    round_trip(&trace);
    hb_trace_release(&trace);
    checked++;
  }
  closedir(d);
  return checked;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: shared SHARED_TRACES_DIR TMPDIR\n");
    return 2;
  }
  snprintf(tmpdir, sizeof tmpdir, "%s", argv[2]);
  mkdir(tmpdir, 0755);
  char dir[1100];
  snprintf(dir, sizeof dir, "%s/malloclab", argv[1]);
  int reps = check_malloclab(dir);
  snprintf(dir, sizeof dir, "%s/valgrind", argv[1]);
  int logs = check_valgrind(dir);
  if (reps + logs == 0) {
    printf("shared: no traces in %s, skipped\n", argv[1]);
    return HB_TEST_SKIP;
  }
  printf("shared: %d .rep files, %d valgrind logs; .hbt: %" PRIu64 " ops in %" PRIu64
         " bytes, %.2f bytes/op\n", reps, logs, total_ops, total_bytes,
         total_ops ? (double)total_bytes / (double)total_ops : 0.0);
  HB_CHECK(reps >= 60 && logs >= 10, "found only %d .rep and %d logs", reps, logs);
  HB_CHECK(summaries >= 7, "only %d valgrind logs checked against their heap summary", summaries);
  HB_CHECK(total_bytes <= 8 * total_ops, "%.2f bytes/op", (double)total_bytes / (double)total_ops);
  return hb_test_exit("shared");
}
