/* worker.c — main() of the hb-worker-<group> executables: the only code
 * that calls allocators on the front end's behalf. Built once per allocator
 * group (bench/meson.build), so each worker holds only allocators that can
 * share a process, and the front end starts one process per measurement.
 *
 *   hb-worker-GROUP --list     one line per allocator: name, version,
 *                              description, tab-separated
 *   hb-worker-GROUP --malloc-library
 *                              the file of the shared object that `malloc`
 *                              resolves into in this process (the library
 *                              `heapbench run` preloads for this group;
 *                              under LD_PRELOAD, the check that the
 *                              library interposes malloc)
 *   hb-worker-GROUP replay --allocator NAME --ops FILE
 *                   --pass timed|instrumented|latency|heapmap [--touch first-byte|all]
 *                   [--speed both|cold|warm] [--warmup N]
 *                   [--poll-budget-ms N] [--heap-map K]
 *                              one pass over an ops file (hb_ops.h);
 *                              its figures on stdout as
 *                              hb_worker_protocol.h defines them
 *
 * Exit status: 0 when the pass ran (whatever its status line says), 2 for
 * bad arguments or an unreadable ops file. A crash is the front end's to
 * report: it sees the signal.
 */
#define _GNU_SOURCE
#include "hb_allocator.h"
#include "hb_ops.h"
#include "worker_pass.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static int list_allocators(void) {
  for (size_t i = 0; i < hb_allocator_count(); i++) {
    const hb_allocator *a = hb_allocator_at(i);
    hb_out("%s\t%s\t%s\n", a->name, a->version(), a->description);
  }
  hb_out_flush();
  return 0;
}

/* Not a path when malloc is the executable's own (no worker links one in). */
static int malloc_library(void) {
  Dl_info info;
  void *symbol = dlsym(RTLD_DEFAULT, "malloc");
  if (!symbol || !dladdr(symbol, &info) || !info.dli_fname) return 1;
  char resolved[4096];
  const char *path = realpath(info.dli_fname, resolved) ? resolved : info.dli_fname;
  hb_out("%s\n", path);
  hb_out_flush();
  return 0;
}

static const char *program = "hb-worker";

static int usage(void) {
  char text[640];
  int len = snprintf(text, sizeof text,
                     "usage: %s --list | --malloc-library\n"
                     "       %s replay --allocator NAME --ops FILE --pass timed|instrumented|latency|heapmap"
                     " [--touch first-byte|all] [--speed both|cold|warm] [--warmup N]"
                     " [--poll-budget-ms N] [--heap-map K]\n",
                     program, program);
  if (len > 0) (void)!write(STDERR_FILENO, text, (size_t)len < sizeof text ? (size_t)len : sizeof text - 1);
  return 2;
}

static int fail_setup(const char *why) {
  char text[640];
  int len = snprintf(text, sizeof text, "hb-worker: %s\n", why);
  if (len > 0) (void)!write(STDERR_FILENO, text, (size_t)len < sizeof text ? (size_t)len : sizeof text - 1);
  return 2;
}

static void print_failure(const hb_pass_failure *failure) {
  if (failure->op == UINT64_MAX) {
    hb_out("status failed: the worker could not set up the replay (its threads, harness memory "
           "or a window of the ops)\n");
    return;
  }
  hb_out("status failed: allocation of %llu bytes returned NULL at op %llu\n",
         (unsigned long long)failure->size, (unsigned long long)failure->op);
}

static int replay(int argc, char **argv) {
  const char *allocator_name = NULL, *ops_path = NULL, *pass = NULL, *touch = "first-byte";
  const char *budget_ms = "2000", *speed = "both", *warmup = "0", *heap_map = "8";
  for (int i = 1; i < argc; i++) {
    const char **target = NULL;
    if (strcmp(argv[i], "--allocator") == 0) target = &allocator_name;
    else if (strcmp(argv[i], "--ops") == 0) target = &ops_path;
    else if (strcmp(argv[i], "--pass") == 0) target = &pass;
    else if (strcmp(argv[i], "--touch") == 0) target = &touch;
    else if (strcmp(argv[i], "--poll-budget-ms") == 0) target = &budget_ms;
    else if (strcmp(argv[i], "--speed") == 0) target = &speed;
    else if (strcmp(argv[i], "--warmup") == 0) target = &warmup;
    else if (strcmp(argv[i], "--heap-map") == 0) target = &heap_map;
    if (!target || i + 1 >= argc) return usage();
    *target = argv[++i];
  }
  if (!allocator_name || !ops_path || !pass) return usage();
  int timed = strcmp(pass, "timed") == 0, latency = strcmp(pass, "latency") == 0;
  int heapmap = strcmp(pass, "heapmap") == 0;
  if (!timed && !latency && !heapmap && strcmp(pass, "instrumented") != 0) return usage();
  int touch_all = strcmp(touch, "all") == 0;
  if (!touch_all && strcmp(touch, "first-byte") != 0) return usage();
  hb_speed_kind speed_kind = strcmp(speed, "cold") == 0   ? HB_SPEED_COLD
                             : strcmp(speed, "warm") == 0 ? HB_SPEED_WARM
                                                          : HB_SPEED_BOTH;
  if (speed_kind == HB_SPEED_BOTH && strcmp(speed, "both") != 0) return usage();
  char *end;
  unsigned long long budget = strtoull(budget_ms, &end, 10);
  if (*end || end == budget_ms) return usage();
  unsigned long warmups = strtoul(warmup, &end, 10);
  if (*end || end == warmup || warmups > 1000) return usage();
  unsigned long snapshots = strtoul(heap_map, &end, 10);
  if (*end || end == heap_map || snapshots < 1 || snapshots > HB_HEAPMAP_MAX_SNAPSHOTS) return usage();

  char why[512];
  const hb_allocator *allocator = hb_allocator_find(allocator_name);
  if (!allocator) {
    snprintf(why, sizeof why, "no allocator '%s' in this worker", allocator_name);
    return fail_setup(why);
  }
  hb_ops_file trace;
  if (hb_ops_map(ops_path, &trace, why, sizeof why) != 0) return fail_setup(why);
  size_t slot_bytes = trace.header.slot_count * sizeof(void *);
  void **slots = hb_harness_map(slot_bytes);
  if (!slots) return fail_setup("cannot map the slot table");

  hb_pass_env env = {.allocator = allocator, .trace = &trace, .slots = slots, .touch_all = touch_all,
                     .speed = speed_kind, .warmup = (unsigned)warmups,
                     .poll_budget_ns = budget * 1000000ull, .heap_map = (unsigned)snapshots};
  if (timed) {
    hb_timed_result result;
    if (hb_timed_pass(&env, &result) != 0) {
      print_failure(&result.failure);
    } else {
      hb_out("status ok\n");
      hb_out_figure(HB_FIG_OPS, trace.header.op_count);
      if (speed_kind != HB_SPEED_WARM) {
        hb_out_figure(HB_FIG_ELAPSED_NS, result.cold.elapsed_ns);
        hb_out_figure(HB_FIG_CPU_NS, result.cold.cpu_ns);
        hb_out_figure(HB_FIG_MINOR_FAULTS, result.cold.minor_faults);
        if (result.rss_baseline_bytes && result.cold_peak_rss_bytes)
          hb_out_figure(HB_FIG_PEAK_RSS_BYTES, result.cold_peak_rss_bytes);
      }
      if (speed_kind != HB_SPEED_COLD) {
        hb_out_figure(HB_FIG_WARM_ELAPSED_NS, result.warm.elapsed_ns);
        hb_out_figure(HB_FIG_WARM_CPU_NS, result.warm.cpu_ns);
        hb_out_figure(HB_FIG_WARM_MINOR_FAULTS, result.warm.minor_faults);
      }
    }
  } else if (latency) {
    hb_latency_pass(&env);
  } else if (heapmap) {
    hb_heapmap_pass(&env);
  } else {
    hb_instrumented_pass(&env);
  }
  hb_out_flush();
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 0) program = argv[0];
  if (argc == 2 && strcmp(argv[1], "--list") == 0) return list_allocators();
  if (argc == 2 && strcmp(argv[1], "--malloc-library") == 0) return malloc_library();
  if (argc >= 2 && strcmp(argv[1], "replay") == 0) return replay(argc - 1, argv + 1);
  return usage();
}
