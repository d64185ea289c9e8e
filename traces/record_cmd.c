/* record_cmd.c — `heapbench record [-o DIR] [--keep-raw] -- PROGRAM ARGS...`:
 * runs PROGRAM under the recorder (recorder/, LD_PRELOAD) and converts the
 * raw recording of every process it started into DIR/<program>-<pid>.hbt.
 *
 * The recorder library is looked for in $HEAPBENCH_RECORDER when set, else
 * in the build tree (compiled in as HB_RECORDER_PATH), so a build tree
 * runs without installing.
 */
#define _GNU_SOURCE
#include "hb_trace.h"
#include "hb_cmd.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void usage(FILE *out) {
  fprintf(out,
          "usage: heapbench record [-o DIR] [--keep-raw] -- PROGRAM [ARGS...]\n"
          "\n"
          "Runs PROGRAM with the recorder preloaded and writes one replayable trace\n"
          "per process it starts (fork and exec included) to DIR (default: .), named\n"
          "<program>-<pid>.hbt. --keep-raw keeps the raw per-thread files in\n"
          "DIR/raw-<pid>/ (`heapbench trace convert` reads them too).\n");
}

static const char *recorder_path(void) {
  const char *path = getenv("HEAPBENCH_RECORDER");
  return path && *path ? path : HB_RECORDER_PATH;
}

static int ends_with(const char *text, const char *suffix) {
  size_t len = strlen(text), suffix_len = strlen(suffix);
  return len >= suffix_len && strcmp(text + len - suffix_len, suffix) == 0;
}

/* Runs argv with the recorder; returns its wait status or -1. */
static int run(char **argv, const char *raw_dir) {
  pid_t child = fork();
  if (child < 0) {
    perror("heapbench record: fork");
    return -1;
  }
  if (child == 0) {
    const char *old = getenv("LD_PRELOAD");
    char *preload = NULL;
    if (asprintf(&preload, "%s%s%s", recorder_path(), old && *old ? ":" : "",
                 old ? old : "") < 0)
      _exit(127);
    setenv("LD_PRELOAD", preload, 1);
    setenv("HB_RECORD_DIR", raw_dir, 1);
    execvp(argv[0], argv);
    fprintf(stderr, "heapbench record: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  /* The terminal's ^C goes to the program; we stay to convert. */
  signal(SIGINT, SIG_IGN);
  int status;
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR) return -1;
  signal(SIGINT, SIG_DFL);
  return status;
}

/* not_run: the program could not be started (exit 127): no recording is
 * expected. */
static int convert_all(const char *raw_dir, const char *out_dir, int keep_raw, int not_run) {
  DIR *dir = opendir(raw_dir);
  if (!dir) {
    fprintf(stderr, "heapbench record: %s: %s\n", raw_dir, strerror(errno));
    return -1;
  }
  int written = 0, failed = 0;
  for (struct dirent *e; (e = readdir(dir));) {
    if (!ends_with(e->d_name, ".t0.hbraw")) continue;
    char *raw = NULL, *out = NULL;
    size_t prefix_len = strlen(e->d_name) - strlen(".t0.hbraw");
    if (asprintf(&raw, "%s/%s", raw_dir, e->d_name) < 0 ||
        asprintf(&out, "%s/%.*s.hbt", out_dir, (int)prefix_len, e->d_name) < 0) {
      free(raw);
      failed++;
      continue;
    }
    hb_trace trace;
    hb_error error;
    if (hb_raw_load(raw, &trace, &error) || hb_hbt_write(&trace, out, &error)) {
      fprintf(stderr, "heapbench record: %s\n", error.message);
      failed++;
    } else {
      struct stat st;
      long long bytes = stat(out, &st) == 0 ? (long long)st.st_size : -1;
      printf("wrote %s: %zu ops, %u threads, %lld bytes (%.2f bytes/op)%s\n", out,
             trace.op_count, trace.thread_count, bytes,
             trace.op_count ? (double)bytes / (double)trace.op_count : 0.0,
             trace.incomplete ? ", incomplete: ended without exit handlers (crash, _exit, exec)"
                              " or a thread file is missing" : "");
      if (trace.dropped_ops || trace.unmatched_reallocs || trace.reused_addresses)
        printf("  dropped %" PRIu64 " frees of unknown pointers and %" PRIu64
               " allocations that returned NULL; %" PRIu64 " reallocs of unknown pointers kept "
               "as realloc(NULL), %" PRIu64 " allocations at a live address\n",
               trace.unmatched_frees, trace.failed_allocs, trace.unmatched_reallocs,
               trace.reused_addresses);
      written++;
      uint32_t threads = trace.thread_count;
      hb_trace_release(&trace);
      if (!keep_raw) {
        /* This process's thread files: <prefix>.t<N>.hbraw. */
        for (uint32_t t = 0; t < threads; t++) {
          char *thread_file = NULL;
          if (asprintf(&thread_file, "%s/%.*s.t%u.hbraw", raw_dir, (int)prefix_len, e->d_name,
                       t) < 0)
            break;
          unlink(thread_file);
          free(thread_file);
        }
      }
    }
    free(raw);
    free(out);
  }
  closedir(dir);
  if (!keep_raw && !failed) rmdir(raw_dir);
  if (written == 0 && failed == 0 && !not_run)
    fprintf(stderr, "heapbench record: no recording: is the program statically linked, or "
                    "setuid (LD_PRELOAD ignored)?\n");
  return failed ? -1 : written;
}

int hb_cmd_record(int argc, char **argv) {
  const char *out_dir = ".";
  int keep_raw = 0, i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
      out_dir = argv[++i];
    } else if (strcmp(argv[i], "--keep-raw") == 0) {
      keep_raw = 1;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    } else {
      break; /* the program, without "--" */
    }
  }
  if (i >= argc) {
    usage(stderr);
    return 2;
  }
  if (access(recorder_path(), R_OK) != 0) {
    fprintf(stderr, "heapbench record: recorder %s: %s (set HEAPBENCH_RECORDER)\n",
            recorder_path(), strerror(errno));
    return 1;
  }
  if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "heapbench record: %s: %s\n", out_dir, strerror(errno));
    return 1;
  }
  /* Raw files go to a directory of their own; an absolute path because the
   * program may change directory before its first allocation. */
  char *absolute = realpath(out_dir, NULL), *raw_dir = NULL;
  if (!absolute || asprintf(&raw_dir, "%s/raw-%d", absolute, (int)getpid()) < 0 ||
      (mkdir(raw_dir, 0755) != 0 && errno != EEXIST)) {
    fprintf(stderr, "heapbench record: %s: %s\n", raw_dir ? raw_dir : out_dir, strerror(errno));
    free(absolute);
    free(raw_dir);
    return 1;
  }
  fflush(stdout);
  int status = run(argv + i, raw_dir);
  int written = convert_all(raw_dir, out_dir, keep_raw,
                            WIFEXITED(status) && WEXITSTATUS(status) == 127);
  free(absolute);
  free(raw_dir);
  if (status < 0 || written < 0) return 1;
  if (WIFSIGNALED(status)) {
    fprintf(stderr, "heapbench record: %s killed by signal %d (%s); recorded up to then\n",
            argv[i], WTERMSIG(status), strsignal(WTERMSIG(status)));
    return 128 + WTERMSIG(status);
  }
  return WEXITSTATUS(status);
}
