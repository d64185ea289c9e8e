/* trace_cmd.c — `heapbench trace info|convert|dump`: look at, convert and
 * print traces of any format hb_trace_load reads. */
#include "hb_cmd.h"
#include "hb_reader.h"
#include "hb_synth.h"
#include "hb_trace.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *out) {
  fprintf(out,
          "usage: heapbench trace info FILE|DIR...\n"
          "       heapbench trace convert INPUT OUTPUT.hbt|OUTPUT.rep\n"
          "       heapbench trace dump FILE\n"
          "       heapbench trace synth --like TRACE --ops N [--seed S] [--threads T] -o OUT.hbt\n"
          "\n"
          "FILE/INPUT: a heapbench trace (.hbt), a raw recording (<prefix>.t0.hbraw),\n"
          "a CS:APP .rep file or a valgrind --trace-malloc=yes log (gzip or plain);\n"
          "any of them also compressed with zstd.\n"
          "info describes each FILE, and every trace in a DIR (sorted by name).\n"
          "convert writes OUTPUT in the format its extension names; .rep holds one thread.\n"
          "dump prints one op per line.\n"
          "synth draws a trace of N ops from TRACE's blocks (their sizes, lifetimes, reallocs\n"
          "and threads; docs/SYNTH.md), the same for the same seed (default 1), and says how\n"
          "close its mixes are to TRACE's.\n");
}

static int ends_with(const char *text, const char *suffix) {
  size_t len = strlen(text), suffix_len = strlen(suffix);
  return len >= suffix_len && strcmp(text + len - suffix_len, suffix) == 0;
}

static long long file_bytes(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* What a converter had to leave out or adjust, never silently. */
static void print_adjustments(FILE *out, const hb_trace *trace, const char *indent) {
  fprintf(out, "%sdropped     %" PRIu64 " ops: %" PRIu64 " frees of unknown pointers, %" PRIu64
          " allocations that returned NULL\n", indent, trace->dropped_ops,
          trace->unmatched_frees, trace->failed_allocs);
  if (trace->other_process_calls)
    fprintf(out, "%sskipped     %" PRIu64 " calls of other processes (a log of several; only"
            " the first, pid %" PRIu32 ", is read)\n", indent, trace->other_process_calls,
            trace->pid);
  if (trace->unmatched_reallocs || trace->reused_addresses)
    fprintf(out, "%sadjusted    %" PRIu64 " reallocs of unknown pointers kept as realloc(NULL), %"
            PRIu64 " allocations at a live address (missed free; old block left live)\n", indent,
            trace->unmatched_reallocs, trace->reused_addresses);
}

/* A reader's ops, batch by batch, to `each`; then the reader's figures
 * are final. 0, or 1 with the message printed. */
typedef int each_batch(void *context, const hb_trace *meta, const hb_op *ops,
                       const uint64_t *time_ns, size_t count, uint64_t first, hb_error *error);
static int stream(const char *path, unsigned flags, each_batch *each, void *context,
                  const char *command, hb_reader **open_reader) {
  hb_reader *reader;
  hb_error error;
  if (hb_reader_open(path, flags, &reader, &error)) {
    fprintf(stderr, "heapbench %s: %s\n", command, error.message);
    return 1;
  }
  hb_op *ops = malloc(HB_READER_BATCH_OPS * sizeof *ops);
  uint64_t *times = malloc(HB_READER_BATCH_OPS * sizeof *times);
  int rc = 0;
  if (!ops || !times) rc = hb_fail(&error, "%s: out of memory", path);
  uint64_t first = 0;
  for (long got; rc == 0 && (got = hb_reader_next(reader, ops, times, HB_READER_BATCH_OPS,
                                                   &error)) != 0;) {
    if (got < 0 ||
        each(context, hb_reader_trace(reader), ops, times, (size_t)got, first, &error) != 0)
      rc = -1;
    first += (uint64_t)got;
  }
  free(ops);
  free(times);
  if (rc != 0) {
    if (error.message[0]) fprintf(stderr, "heapbench %s: %s\n", command, error.message);
    hb_reader_close(reader);
    return 1;
  }
  *open_reader = reader;
  return 0;
}

/* What info gathers as the ops go by. */
typedef struct info_state {
  hb_stats_stream stats;
  uint64_t per_thread[8]; /* ops of the first threads */
  uint64_t last_time_ns;
} info_state;

static int info_batch(void *context, const hb_trace *meta, const hb_op *ops,
                      const uint64_t *time_ns, size_t count, uint64_t first, hb_error *error) {
  (void)meta;
  (void)first;
  info_state *state = context;
  for (size_t i = 0; i < count; i++) {
    if (ops[i].thread < 8) state->per_thread[ops[i].thread]++;
    if (time_ns[i] > state->last_time_ns) state->last_time_ns = time_ns[i];
  }
  return hb_stats_stream_add(&state->stats, ops, count, error);
}

/* The recorder's own cost, where the trace holds it (FORMAT.md). */
static void print_recorder_cost(const hb_trace *trace) {
  if (!trace->recorder_records) return;
  printf("recorder    %" PRIu64 " records, %" PRIu64 " raw bytes (%.2f bytes/record)",
         trace->recorder_records, trace->recorder_raw_bytes,
         (double)trace->recorder_raw_bytes / (double)trace->recorder_records);
  if (trace->convert_ns)
    printf("; converted in %.1f ms (%.1f ns/op)", (double)trace->convert_ns / 1e6,
           trace->op_count ? (double)trace->convert_ns / (double)trace->op_count : 0.0);
  printf("\n");
}

static int info(const char *path) {
  info_state state = {0};
  hb_stats_stream_init(&state.stats);
  hb_reader *reader;
  /* Slots, not ids: the figures' state is as large as the most blocks
   * live at once. */
  if (stream(path, HB_READER_SLOTS, info_batch, &state, "trace", &reader)) {
    hb_stats_stream_release(&state.stats);
    return 1;
  }
  const hb_trace trace = *hb_reader_trace(reader);
  const hb_trace_stats stats = state.stats.stats;
  long long bytes = file_bytes(path);
  printf("file        %s (%s, %lld bytes", path, trace.format, bytes);
  if (strcmp(trace.format, "hbt") == 0 && trace.op_count)
    printf(", %.2f bytes/op", (double)bytes / (double)trace.op_count);
  printf(")\n");
  printf("program     %s (pid %u)%s\n", trace.program[0] ? trace.program : "-", trace.pid,
         trace.incomplete ? ", recording incomplete: the process ended without its exit handlers (crash, _exit, exec) or a thread file is missing" : "");
  printf("threads     %u", trace.thread_count);
  if (trace.thread_count > 1) { /* ops per thread, the first few */
    printf(" (ops per thread:");
    for (uint32_t t = 0; t < trace.thread_count && t < 8; t++)
      printf(" %" PRIu64, state.per_thread[t]);
    printf("%s)", trace.thread_count > 8 ? " ..." : "");
  }
  printf("\n");
  printf("ops         %zu\n", trace.op_count);
  for (int k = 0; k < HB_OP_KIND_COUNT; k++) {
    printf("  %-9s %" PRIu64, hb_op_kind_name((hb_op_kind)k), stats.ops_by_kind[k]);
    if (k == HB_OP_REALLOC) printf(" (%" PRIu64 " of NULL)", stats.realloc_from_null);
    if (k == HB_OP_FREE) printf(" (%" PRIu64 " of NULL)", stats.free_null);
    printf("\n");
  }
  printf("blocks      %u\n", trace.id_count);
  printf("requested   %" PRIu64 " bytes\n", stats.requested_bytes);
  printf("peak live   %" PRIu64 " bytes in %" PRIu64 " blocks\n", stats.peak_live_bytes,
         stats.peak_live_blocks);
  if (trace.time_ns && trace.op_count)
    printf("duration    %.3f ms (first to last op)\n", (double)state.last_time_ns / 1e6);
  print_adjustments(stdout, &trace, "");
  print_recorder_cost(&trace);
  printf("sizes       (requested bytes: count)\n");
  uint64_t most = 0;
  for (int b = 0; b < 65; b++)
    if (stats.size_histogram[b] > most) most = stats.size_histogram[b];
  for (int b = 0; b < 65; b++) {
    if (!stats.size_histogram[b]) continue;
    char range[48];
    if (b == 0)
      snprintf(range, sizeof range, "0");
    else
      snprintf(range, sizeof range, "%" PRIu64 "..%" PRIu64, (uint64_t)1 << (b - 1),
               b == 64 ? UINT64_MAX : ((uint64_t)1 << b) - 1);
    int bar = (int)(40 * stats.size_histogram[b] / most);
    printf("  %-24s %10" PRIu64 " %.*s\n", range, stats.size_histogram[b], bar,
           "########################################");
  }
  hb_stats_stream_release(&state.stats);
  hb_reader_close(reader);
  return 0;
}

static int convert_batch(void *context, const hb_trace *meta, const hb_op *ops,
                         const uint64_t *time_ns, size_t count, uint64_t first, hb_error *error) {
  (void)meta;
  (void)first;
  return hb_hbt_writer_add(context, ops, time_ns, count, error);
}

/* .hbt output streams; .rep output needs its header's counts and peak
 * first, so that one loads the trace whole. */
static int convert(const char *input, const char *output) {
  hb_trace trace;
  hb_error error;
  int rep = ends_with(output, ".rep");
  if (!rep && !ends_with(output, ".hbt")) {
    fprintf(stderr, "heapbench trace: %s: output must end in .hbt or .rep\n", output);
    return 2;
  }
  hb_reader *reader = NULL;
  int rc;
  if (rep) {
    if (hb_trace_load(input, &trace, &error)) {
      fprintf(stderr, "heapbench trace: %s\n", error.message);
      return 1;
    }
    rc = hb_rep_write(&trace, output, &error);
  } else {
    /* Whether the input is timed is known once it is open: open it twice
     * (the first only for that; opening reads no ops). */
    hb_reader *probe;
    if (hb_reader_open(input, 0, &probe, &error)) {
      fprintf(stderr, "heapbench trace: %s\n", error.message);
      return 1;
    }
    int timed = hb_reader_timed(probe);
    const hb_trace *head = hb_reader_trace(probe);
    hb_hbt_writer *writer;
    if (hb_hbt_writer_open(output, timed, &writer, &error) ||
        hb_hbt_writer_expect(writer, head->program, head->thread_count,
                             head->recorder_records || head->recorder_raw_bytes, &error)) {
      fprintf(stderr, "heapbench trace: %s\n", error.message);
      hb_hbt_writer_abort(writer);
      hb_reader_close(probe);
      return 1;
    }
    hb_reader_close(probe);
    if (stream(input, 0, convert_batch, writer, "trace", &reader)) {
      hb_hbt_writer_abort(writer);
      return 1;
    }
    trace = *hb_reader_trace(reader);
    rc = hb_hbt_writer_finish(writer, &trace, &error);
  }
  if (rc) {
    fprintf(stderr, "heapbench trace: %s\n", error.message);
  } else {
    long long bytes = file_bytes(output);
    printf("wrote %s: %zu ops, %u threads, %u blocks, %lld bytes (%.2f bytes/op)\n", output,
           trace.op_count, trace.thread_count, trace.id_count, bytes,
           trace.op_count ? (double)bytes / (double)trace.op_count : 0.0);
    print_adjustments(stdout, &trace, "  ");
  }
  if (reader)
    hb_reader_close(reader);
  else
    hb_trace_release(&trace);
  return rc ? 1 : 0;
}

static int dump_batch(void *context, const hb_trace *meta, const hb_op *ops,
                      const uint64_t *time_ns, size_t count, uint64_t first, hb_error *error) {
  (void)context;
  (void)error;
  for (size_t k = 0; k < count; k++) {
    const hb_op *op = &ops[k];
    printf("%" PRIu64 " %u %s ", first + k, op->thread, hb_op_kind_name((hb_op_kind)op->kind));
    if (op->id == HB_NULL_ID)
      printf("null");
    else
      printf("%u", op->id);
    if (op->kind != HB_OP_FREE) printf(" %" PRIu64, op->size);
    if (op->kind == HB_OP_ALIGNED) printf(" align=%" PRIu64, (uint64_t)1 << op->align_log2);
    if (op->flags & HB_FLAG_FROM_NULL) printf(" from-null");
    if (op->flags & HB_FLAG_REALLOC_ZERO) printf(" by-realloc-zero");
    if (meta->time_ns) printf(" t=%" PRIu64, time_ns[k]);
    if (putchar('\n') == EOF) {
      error->message[0] = 0; /* stdout closed (dump | head): stop quietly */
      return -1;
    }
  }
  return 0;
}

static int count_batch(void *context, const hb_trace *meta, const hb_op *ops,
                       const uint64_t *time_ns, size_t count, uint64_t first, hb_error *error) {
  (void)context, (void)meta, (void)ops, (void)time_ns, (void)count, (void)first, (void)error;
  return 0;
}

/* One op per line: index, thread, kind, id, size, alignment, time. The
 * first line gives counts some formats know only at their end: the trace
 * is read twice, once for them, once to print. */
static int dump(const char *path) {
  hb_reader *reader;
  if (stream(path, 0, count_batch, NULL, "trace", &reader)) return 1;
  const hb_trace *trace = hb_reader_trace(reader);
  printf("# %s: format %s, program %s, pid %u, %u threads, %u ids, %zu ops\n", path,
         trace->format, trace->program[0] ? trace->program : "-", trace->pid,
         trace->thread_count, trace->id_count, trace->op_count);
  printf("# op thread kind id size [align=BYTES] [null] [t=NS]\n");
  hb_reader_close(reader);
  int rc = stream(path, 0, dump_batch, NULL, "trace", &reader);
  if (rc == 0) hb_reader_close(reader);
  if (fflush(stdout) != 0) return 1;
  return rc;
}

/* trace info: each FILE, and a DIR's traces in name order. */
static int info_all(int count, char **paths) {
  int rc = 0, shown = 0;
  for (int i = 0; i < count; i++) {
    char **listed = NULL;
    size_t listed_count = 0;
    if (hb_path_is_dir(paths[i])) {
      hb_error error;
      if (hb_trace_dir_list(paths[i], &listed, &listed_count, &error)) {
        fprintf(stderr, "heapbench trace: %s\n", error.message);
        rc = 1;
        continue;
      }
    }
    for (size_t k = 0; k < (listed ? listed_count : 1); k++) {
      if (shown++) printf("\n");
      if (info(listed ? listed[k] : paths[i])) rc = 1;
    }
    hb_trace_dir_release(listed, listed_count);
  }
  return rc;
}

static int parse_count(const char *text, uint64_t *value) {
  char *end;
  if (!text || text[0] == '-' || !*text) return -1;
  unsigned long long v = strtoull(text, &end, 10);
  if (*end) return -1;
  *value = v;
  return 0;
}

static int synth(int argc, char **argv) {
  const char *like = NULL, *out_path = NULL;
  hb_synth_options options = {.seed = 1};
  uint64_t threads = 0;
  int have_ops = 0;
  for (int i = 0; i < argc; i += 2) { /* each option takes a value */
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(argv[i], "--like") == 0 && value) {
      like = value;
    } else if (strcmp(argv[i], "-o") == 0 && value) {
      out_path = value;
    } else if (strcmp(argv[i], "--ops") == 0) {
      if (parse_count(value, &options.ops) != 0 || options.ops == 0) {
        fprintf(stderr, "heapbench trace synth: --ops wants a positive count, not %s\n",
                value ? value : "nothing");
        return 2;
      }
      have_ops = 1;
    } else if (strcmp(argv[i], "--seed") == 0) {
      if (parse_count(value, &options.seed) != 0) {
        fprintf(stderr, "heapbench trace synth: --seed wants a number, not %s\n",
                value ? value : "nothing");
        return 2;
      }
    } else if (strcmp(argv[i], "--threads") == 0) {
      if (parse_count(value, &threads) != 0 || threads == 0 || threads > 4096) {
        fprintf(stderr, "heapbench trace synth: --threads wants 1 to 4096, not %s\n",
                value ? value : "nothing");
        return 2;
      }
    } else {
      fprintf(stderr, "heapbench trace synth: unknown argument %s\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (!like || !out_path || !have_ops) {
    fprintf(stderr, "heapbench trace synth: needs --like TRACE, --ops N and -o OUT.hbt\n");
    return 2;
  }
  options.threads = (uint32_t)threads;
  hb_trace source, drawn;
  hb_error error;
  if (hb_trace_load(like, &source, &error) != 0) {
    fprintf(stderr, "heapbench trace synth: %s\n", error.message);
    return 1;
  }
  int rc = 1;
  hb_trace_profile a, b;
  if (hb_trace_synth(&source, &options, &drawn, &error) != 0) {
    fprintf(stderr, "heapbench trace synth: %s\n", error.message);
  } else {
    if (hb_trace_check(&drawn, &error) != 0 || hb_hbt_write(&drawn, out_path, &error) != 0 ||
        hb_trace_profile_compute(&source, &a, &error) != 0 ||
        hb_trace_profile_compute(&drawn, &b, &error) != 0) {
      fprintf(stderr, "heapbench trace synth: %s\n", error.message);
    } else {
      double size_l1, lifetime_l1, kind_max;
      hb_trace_profile_compare(&a, &b, &size_l1, &lifetime_l1, &kind_max);
      printf("%s: %zu ops, %u blocks, %u threads, drawn from %s (seed %llu)\n"
             "against it: size mix L1 %.3f, lifetime mix L1 %.3f, largest kind share "
             "difference %.3f\n",
             out_path, drawn.op_count, drawn.id_count, drawn.thread_count, like,
             (unsigned long long)options.seed, size_l1, lifetime_l1, kind_max);
      rc = 0;
    }
    hb_trace_release(&drawn);
  }
  hb_trace_release(&source);
  return rc;
}

int hb_cmd_trace(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *sub = argv[1];
  for (int i = 2; i < argc; i++) /* `heapbench trace info --help` */
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    }
  if (strcmp(sub, "info") == 0 && argc >= 3) return info_all(argc - 2, argv + 2);
  if (strcmp(sub, "convert") == 0 && argc == 4) return convert(argv[2], argv[3]);
  if (strcmp(sub, "dump") == 0 && argc == 3) return dump(argv[2]);
  if (strcmp(sub, "synth") == 0) return synth(argc - 2, argv + 2);
  usage(stderr);
  return 2;
}
