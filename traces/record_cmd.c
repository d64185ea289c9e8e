/* record_cmd.c — `heapbench record [-o DIR] [OPTIONS] -- PROGRAM ARGS...`:
 * runs PROGRAM under the recorder (recorder/, LD_PRELOAD) and converts the
 * raw recording of every process it started into DIR/<program>-<pid>.hbt.
 * It refuses what the recorder cannot see (static, setuid), and names the
 * runtimes whose objects never reach malloc (Python without
 * PYTHONMALLOC=malloc, ...).
 *
 * The recorder library is looked for in $HEAPBENCH_RECORDER when set, else
 * in the build tree (compiled in as HB_RECORDER_PATH), so a build tree
 * runs without installing.
 */
#define _GNU_SOURCE
#include "hb_cmd.h"
#include "hb_trace.h"
#include "raw_convert.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *out) {
  fprintf(out,
          "usage: heapbench record [-o DIR] [--keep-raw] [--main-only] [--min-ops N]\n"
          "                        -- PROGRAM [ARGS...]\n"
          "\n"
          "Runs PROGRAM with the recorder preloaded (LD_PRELOAD) and writes one replayable\n"
          "trace per process it starts (fork and exec included) to DIR (default: .),\n"
          "named <program>-<pid>.hbt, then says which it wrote and the largest.\n"
          "\n"
          "  --main-only   only the first process (the one started, and what it execs)\n"
          "  --min-ops N   write no trace of fewer than N operations (helpers, pipes)\n"
          "  --keep-raw    keep the raw per-thread files in DIR/raw-<pid>/\n"
          "                (`heapbench trace convert` reads them too)\n"
          "\n"
          "What the recorder cannot see: a statically linked or setuid program (the\n"
          "dynamic loader ignores LD_PRELOAD there; record refuses them), and the\n"
          "objects of runtimes that allocate from their own pools and call malloc only\n"
          "for large chunks. Python is one: set PYTHONMALLOC=malloc to record its objects\n"
          "(3,432 ops -> 2.5M on one script):\n"
          "  PYTHONMALLOC=malloc heapbench record -- python3 myscript.py\n"
          "Java, Node.js (V8), Go and Ruby keep their objects in their own heaps, with\n"
          "no switch to send them to malloc: a recording holds only the runtime's own\n"
          "malloc calls.\n");
}

/* Runtimes that keep their objects out of malloc; record says so at the end. */
static const struct runtime {
  const char *program_prefix; /* the recorded program's name starts with this */
  const char *variable, *value; /* the environment that routes objects to malloc; NULL: none */
  const char *what;
} runtimes[] = {
    {"python", "PYTHONMALLOC", "malloc", "Python allocates its small objects from its own pools"},
    {"java", NULL, NULL, "the JVM keeps Java objects in its own garbage-collected heap"},
    {"node", NULL, NULL, "V8 keeps JavaScript objects in its own garbage-collected heap"},
    {"ruby", NULL, NULL, "Ruby keeps its objects in its own heap pages"},
};

static const char *recorder_path(void) {
  const char *path = getenv("HEAPBENCH_RECORDER");
  return path && *path ? path : HB_RECORDER_PATH;
}

static int ends_with(const char *text, const char *suffix) {
  size_t len = strlen(text), suffix_len = strlen(suffix);
  return len >= suffix_len && strcmp(text + len - suffix_len, suffix) == 0;
}

/* ---- Converting while the program runs -------------------------------------
 * With HEAPBENCH_RECORD_FOLLOW=1, the main process's recording is
 * converted as it is written, by a thread at idle priority (SCHED_IDLE: it
 * runs only on a CPU nothing else wants), as far as the reader can follow
 * it (raw_convert.h); at the program's end convert_all goes on from there.
 * Not by default: though it takes no CPU time from the program, it slowed
 * python3 work.py by about 10% where measured (its memory traffic, most
 * likely: a loop of pure arithmetic beside the program did not; FORMAT.md,
 * "Conversion"), and a recording should time the program as it runs
 * unobserved. */
typedef struct follower {
  pthread_t thread;
  int running;
  const char *raw_dir, *out_dir;
  pid_t pid;
  int ended;          /* the program has ended: stop (atomic) */
  char *prefix;       /* the recording followed: <raw_dir>/<prefix>.t0.hbraw */
  hb_raw_live *live;
} follower;

/* The main process's thread-0 file, when it has one: "<program>-<pid>" (a
 * later image of it, after an exec of the same program, is "-<pid>-<n>"). */
static char *main_recording(const follower *f) {
  char suffix[64];
  snprintf(suffix, sizeof suffix, "-%ld.t0.hbraw", (long)f->pid);
  DIR *dir = opendir(f->raw_dir);
  char *prefix = NULL;
  for (struct dirent *e; dir && !prefix && (e = readdir(dir));)
    if (ends_with(e->d_name, suffix))
      prefix = strndup(e->d_name, strlen(e->d_name) - strlen(".t0.hbraw"));
  if (dir) closedir(dir);
  return prefix;
}

static void *follow(void *argument) {
  follower *f = argument;
  struct sched_param idle = {0};
  pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);
  const struct timespec pause = {0, 2000000}; /* 2 ms: the program writes meanwhile */
  while (!__atomic_load_n(&f->ended, __ATOMIC_ACQUIRE)) {
    int rc = 1;
    if (!f->live) {
      char *raw = NULL, *out = NULL;
      if (!f->prefix) f->prefix = main_recording(f);
      if (f->prefix && asprintf(&raw, "%s/%s.t0.hbraw", f->raw_dir, f->prefix) >= 0 &&
          asprintf(&out, "%s/%s.hbt", f->out_dir, f->prefix) >= 0)
        rc = hb_raw_live_open(raw, out, &f->live);
      free(raw);
      free(out);
    } else {
      rc = hb_raw_live_step(f->live);
    }
    if (rc == 2 || rc < 0) break; /* nothing more before the end */
    if (rc == 1) nanosleep(&pause, NULL);
  }
  return NULL;
}

static void follow_start(follower *f) {
  const char *setting = getenv("HEAPBENCH_RECORD_FOLLOW");
  if (!setting || strcmp(setting, "1") != 0) return;
  f->running = pthread_create(&f->thread, NULL, follow, f) == 0;
}

static void follow_stop(follower *f) {
  __atomic_store_n(&f->ended, 1, __ATOMIC_RELEASE);
  if (!f->running) return;
  /* Back to normal priority for the step under way, where allowed: an idle
   * thread may wait long for a CPU on a busy machine. */
  struct sched_param normal = {0};
  pthread_setschedparam(f->thread, SCHED_OTHER, &normal);
  pthread_join(f->thread, NULL);
  f->running = 0;
}

/* The conversion begun for prefix, if any, now the caller's. */
static hb_raw_live *follow_take(follower *f, const char *prefix) {
  if (!f || !f->live || !f->prefix || strcmp(f->prefix, prefix) != 0) return NULL;
  hb_raw_live *live = f->live;
  f->live = NULL;
  if (hb_raw_live_usable(live)) return live;
  hb_raw_live_close(live); /* converted anew: that says what went wrong */
  return NULL;
}

/* Runs argv with the recorder; returns its wait status or -1. */
static int run(char **argv, const char *raw_dir, pid_t *main_pid, follower *f) {
  pid_t child = fork();
  *main_pid = child;
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
  f->pid = child;
  follow_start(f);
  int status;
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR) {
      follow_stop(f);
      return -1;
    }
  follow_stop(f);
  signal(SIGINT, SIG_DFL);
  return status;
}

/* What the command line asked for. */
typedef struct record_options {
  const char *out_dir;
  int keep_raw, main_only;
  unsigned long min_ops;
} record_options;

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Removes one process's thread files: <prefix>.t<N>.hbraw. */
static void remove_raw(const char *raw_dir, const char *prefix, uint32_t threads) {
  for (uint32_t t = 0; t < (threads ? threads : 1); t++) {
    char *thread_file = NULL;
    if (asprintf(&thread_file, "%s/%s.t%u.hbraw", raw_dir, prefix, t) < 0) return;
    unlink(thread_file);
    free(thread_file);
  }
}

/* The runtime a recorded program is, if it is one that hides its objects
 * from malloc and the environment does not route them there; NULL otherwise. */
static const struct runtime *hiding_runtime(const char *program) {
  for (size_t k = 0; k < sizeof runtimes / sizeof runtimes[0]; k++) {
    const struct runtime *r = &runtimes[k];
    if (strncmp(program, r->program_prefix, strlen(r->program_prefix)) != 0) continue;
    const char *set = r->variable ? getenv(r->variable) : NULL;
    if (r->variable && set && strcmp(set, r->value) == 0) return NULL;
    return r;
  }
  return NULL;
}

static uint64_t clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Converts every process's raw recording (in name order) into out_dir,
 * going on with the one f began; main_pid: the first process. Returns the
 * traces written, or -1. */
static int convert_all(const char *raw_dir, const record_options *options, pid_t main_pid,
                       follower *f) {
  DIR *dir = opendir(raw_dir);
  if (!dir) {
    fprintf(stderr, "heapbench record: %s: %s\n", raw_dir, strerror(errno));
    return -1;
  }
  char **names = NULL;
  size_t count = 0, capacity = 0;
  for (struct dirent *e; (e = readdir(dir));) {
    if (!ends_with(e->d_name, ".t0.hbraw")) continue;
    if (count == capacity) {
      capacity = capacity ? 2 * capacity : 16;
      char **more = realloc(names, capacity * sizeof *names);
      if (!more) break;
      names = more;
    }
    if ((names[count] = strndup(e->d_name, strlen(e->d_name) - strlen(".t0.hbraw")))) count++;
  }
  closedir(dir);
  if (count) qsort(names, count, sizeof *names, by_name);

  int written = 0, failed = 0, skipped_small = 0, skipped_other = 0;
  char largest[4096] = "";
  uint64_t largest_ops = 0;
  const struct runtime *hiding = NULL;
  char hiding_program[64] = "";
  for (size_t k = 0; k < count; k++) {
    const char *prefix = names[k];
    char *raw = NULL, *out = NULL;
    if (asprintf(&raw, "%s/%s.t0.hbraw", raw_dir, prefix) < 0 ||
        asprintf(&out, "%s/%s.hbt", options->out_dir, prefix) < 0) {
      free(raw);
      failed++;
      continue;
    }
    hb_trace opened, *trace = &opened;
    hb_error error;
    uint32_t threads = 0;
    /* convert_ns: from here, for a recording begun while the program ran
     * too (what record's user waits for). */
    hb_raw_convert_options convert_options = {.min_ops = options->min_ops,
                                              .started_ns = clock_ns()};
    hb_raw_convert_options_from_env(&convert_options);
    uint64_t ops = 0;
    hb_raw_reader *reader = NULL;
    hb_raw_live *live = follow_take(f, prefix);
    if (!live && hb_raw_reader_open(raw, &opened, &reader, &error)) {
      fprintf(stderr, "heapbench record: %s\n", error.message);
      failed++;
    } else {
      int converted = 0;
      if (!live && options->main_only && opened.pid != (uint32_t)main_pid) {
        threads = opened.thread_count;
        skipped_other++;
      } else if (live ? hb_raw_live_finish(live, &convert_options, &trace, &ops, &error)
                      : hb_raw_convert(reader, &opened, out, &convert_options, &ops, &error)) {
        fprintf(stderr, "heapbench record: %s\n", error.message);
        failed++; /* threads 0: the raw files are kept */
      } else {
        converted = 1;
        threads = trace->thread_count;
      }
      if (converted && ops < options->min_ops) {
        skipped_small++;
      } else if (converted) {
        struct stat st;
        long long bytes = stat(out, &st) == 0 ? (long long)st.st_size : -1;
        printf("wrote %s: %" PRIu64 " ops, %u thread%s, %lld bytes (%.2f bytes/op)%s\n", out,
               ops, trace->thread_count, trace->thread_count == 1 ? "" : "s", bytes,
               ops ? (double)bytes / (double)ops : 0.0,
               trace->incomplete ? ", incomplete: ended without exit handlers (crash, _exit)"
                                  " or a thread file is missing" : "");
        if (trace->dropped_ops || trace->unmatched_reallocs || trace->reused_addresses)
          printf("  dropped %" PRIu64 " frees of unknown pointers and %" PRIu64
                 " allocations that returned NULL; %" PRIu64 " reallocs of unknown pointers "
                 "kept as realloc(NULL), %" PRIu64 " allocations at a live address\n",
                 trace->unmatched_frees, trace->failed_allocs, trace->unmatched_reallocs,
                 trace->reused_addresses);
        written++;
        if (ops >= largest_ops) {
          largest_ops = ops;
          snprintf(largest, sizeof largest, "%s", out);
        }
        if (!hiding && (hiding = hiding_runtime(trace->program)))
          snprintf(hiding_program, sizeof hiding_program, "%s", trace->program);
      }
      if (live) {
        hb_raw_live_close(live);
      } else {
        hb_raw_reader_close(reader);
        hb_trace_release(&opened);
      }
    }
    if (!options->keep_raw && threads) remove_raw(raw_dir, prefix, threads);
    free(raw);
    free(out);
    free(names[k]);
  }
  free(names);
  if (!options->keep_raw && !failed) rmdir(raw_dir);
  if (written > 1 || skipped_small || skipped_other) {
    printf("%d trace%s written", written, written == 1 ? "" : "s");
    if (written > 1) printf(", the largest %s (%" PRIu64 " ops)", largest, largest_ops);
    if (skipped_small)
      printf("; %d process%s of fewer than %lu ops not written (--min-ops)", skipped_small,
             skipped_small == 1 ? "" : "es", options->min_ops);
    if (skipped_other)
      printf("; %d other process%s not written (--main-only)", skipped_other,
             skipped_other == 1 ? "" : "es");
    printf("\n");
  }
  if (hiding) {
    if (hiding->variable)
      fprintf(stderr, "heapbench record: note: %s: %s, which malloc never sees; set %s=%s to "
              "record them (%s=%s heapbench record -- ...)\n", hiding_program, hiding->what,
              hiding->variable, hiding->value, hiding->variable, hiding->value);
    else
      fprintf(stderr, "heapbench record: note: %s: %s; the recording holds only its malloc "
              "calls\n", hiding_program, hiding->what);
  }
  return failed ? -1 : written;
}

/* The program execvp would run: argv0 itself when it has a '/', else
 * the first executable of that name in $PATH. NULL when none. */
static char *find_program(const char *argv0) {
  if (strchr(argv0, '/')) return strdup(argv0);
  const char *path = getenv("PATH");
  char *copy = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin"), *save = NULL;
  char *found = NULL;
  for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d && !found;
       d = strtok_r(NULL, ":", &save)) {
    char *candidate = NULL;
    if (asprintf(&candidate, "%s/%s", *d ? d : ".", argv0) < 0) break;
    if (access(candidate, X_OK) == 0)
      found = candidate;
    else
      free(candidate);
  }
  free(copy);
  return found;
}

/* Why the recorder cannot see PROGRAM, or NULL: a statically linked ELF
 * (no PT_INTERP: no dynamic loader, so no LD_PRELOAD) or a setuid/setgid
 * one (the loader ignores LD_PRELOAD for it). Scripts and what cannot be
 * read are left to exec. */
static const char *unrecordable(const char *program) {
  struct stat st;
  if (stat(program, &st) != 0) return NULL;
  if (((st.st_mode & S_ISUID) && st.st_uid != geteuid()) ||
      ((st.st_mode & S_ISGID) && st.st_gid != getegid()))
    return "it is setuid or setgid: the dynamic loader ignores LD_PRELOAD for it";
  FILE *file = fopen(program, "rb");
  if (!file) return NULL;
  Elf64_Ehdr eh;
  const char *why = NULL;
  if (fread(&eh, sizeof eh, 1, file) == 1 && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
      eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr)) {
    int interpreter = 0;
    for (unsigned k = 0; k < eh.e_phnum; k++) {
      Elf64_Phdr ph;
      if (fseek(file, (long)(eh.e_phoff + k * sizeof ph), SEEK_SET) != 0 ||
          fread(&ph, sizeof ph, 1, file) != 1)
        break;
      interpreter |= ph.p_type == PT_INTERP;
    }
    if (!interpreter)
      why = "it is statically linked: there is no dynamic loader to preload the recorder";
  }
  fclose(file);
  return why;
}

int hb_cmd_record(int argc, char **argv) {
  record_options options = {.out_dir = "."};
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
      options.out_dir = argv[++i];
    } else if (strcmp(argv[i], "--keep-raw") == 0) {
      options.keep_raw = 1;
    } else if (strcmp(argv[i], "--main-only") == 0) {
      options.main_only = 1;
    } else if (strcmp(argv[i], "--min-ops") == 0 && i + 1 < argc) {
      char *end;
      errno = 0;
      options.min_ops = strtoul(argv[++i], &end, 10);
      if (errno || *end || end == argv[i] || argv[i][0] == '-') {
        fprintf(stderr, "heapbench record: --min-ops wants a count, not %s\n", argv[i]);
        return 2;
      }
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
  char *program = find_program(argv[i]);
  const char *why = program ? unrecordable(program) : NULL;
  if (why) {
    fprintf(stderr, "heapbench record: cannot record %s: %s\n", program, why);
    free(program);
    return 1;
  }
  free(program);
  const char *out_dir = options.out_dir;
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
  pid_t main_pid = 0;
  follower f = {.raw_dir = raw_dir, .out_dir = options.out_dir};
  int status = run(argv + i, raw_dir, &main_pid, &f);
  int not_run = WIFEXITED(status) && WEXITSTATUS(status) == 127;
  int written = convert_all(raw_dir, &options, main_pid, &f);
  hb_raw_live_close(f.live); /* not taken: its recording was gone */
  free(f.prefix);
  free(absolute);
  free(raw_dir);
  if (status < 0 || written < 0) return 1;
  if (written == 0 && !not_run)
    printf("heapbench record: %s made no allocation through malloc: no trace written\n",
           argv[i]);
  if (WIFSIGNALED(status)) {
    fprintf(stderr, "heapbench record: %s killed by signal %d (%s); recorded up to then\n",
            argv[i], WTERMSIG(status), strsignal(WTERMSIG(status)));
    return 128 + WTERMSIG(status);
  }
  return WEXITSTATUS(status);
}
