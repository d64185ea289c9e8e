/* run.c — `heapbench run`: an unmodified program, run whole under each
 * allocator (LD_PRELOAD of its library; nothing for glibc; the sbrk
 * policies through the drop-in library and HB_SBRK_POLICY), passes
 * interleaved across allocators as the replay's are. Figures from wait4
 * (docs/RUN.md); the table, JSON and CSV are written by run_report.c. */
#define _GNU_SOURCE
#include "args.h"
#include "hb_cmd.h"
#include "child_run.h"
#include "run_report.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define USAGE                                                                                \
  "usage: heapbench run [--allocators LIST] [--repeat N] [--time-limit SEC] [--json FILE]\n"  \
  "                     [--csv FILE] [--stdin FILE] [--check-output] [--baseline NAME]\n"   \
  "                     [--label TEXT] -- PROGRAM [ARGS...]\n"

/* Used when --allocators is not given: one of each built group, sbrk's
 * default policy for the drop-in (the others by name). */
static const char *const default_allocators[] = {"glibc", "jemalloc", "mimalloc", "tcmalloc",
                                                 "sbrk"};

static void help(void) {
  printf(USAGE
         "\n"
         "Runs PROGRAM, unmodified, once per pass under each allocator: its library\n"
         "in LD_PRELOAD (nothing for glibc; the sbrk policies through %s\n"
         "with HB_SBRK_POLICY=NAME), in the current directory, stdin from /dev/null.\n"
         "Prints a table (one row per allocator): wall time, CPU time, peak RSS,\n"
         "page faults, context switches, and whether the program's result (exit code,\n"
         "and stdout with --check-output) is the same as under the baseline.\n"
         "\n"
         "  --allocators LIST  comma-separated names (see `heapbench list`; default: glibc,\n"
         "                     jemalloc, mimalloc, tcmalloc, sbrk, those built); NAME=PATH\n"
         "                     adds any malloc library; -NAME leaves one out\n"
         "  --repeat N         passes per allocator (default 5): the median is reported,\n"
         "                     with min and max; the allocators take turns, pass by pass\n"
         "  --time-limit SEC   per allocator, its passes together (default 300, 0 = none);\n"
         "                     past it the run is reported 'timeout'\n"
         "  --json FILE        write every figure (docs/RUN.md); - for stdout (the table\n"
         "                     then goes to stderr)\n"
         "  --csv FILE         one line per allocator, the scalar figures; - for stdout\n"
         "  --stdin FILE       the program's stdin (read anew for every pass)\n"
         "  --check-output     compare the program's stdout across allocators too\n"
         "  --baseline NAME    the allocator the others are compared to (default glibc)\n"
         "  --label TEXT       a name for this run in the JSON (default: the host name)\n"
         "\n"
         "Figures are defined in docs/RUN.md.\n",
         HB_DROPIN_PATH);
}

static int usage_error(const char *problem, const char *arg) {
  fprintf(stderr, "heapbench run: %s%s%s\n%s", problem, arg ? " " : "", arg ? arg : "", USAGE);
  return 2;
}

/* ---- The program: found, and able to take LD_PRELOAD ---- */

/* PROGRAM as execvp would find it, into `path`; -1 with `why` set. */
static int find_program(const char *name, char *path, size_t size, char *why, size_t why_size) {
  if (strchr(name, '/')) {
    snprintf(path, size, "%s", name);
  } else {
    const char *search = getenv("PATH");
    if (!search || !*search) search = "/usr/local/bin:/usr/bin:/bin";
    path[0] = 0;
    for (const char *dir = search; *dir;) {
      size_t len = strcspn(dir, ":");
      char candidate[PATH_MAX];
      snprintf(candidate, sizeof candidate, "%.*s/%s", (int)len, len ? dir : ".", name);
      if (access(candidate, X_OK) == 0) {
        snprintf(path, size, "%s", candidate);
        break;
      }
      dir += len + (dir[len] == ':');
    }
    if (!path[0]) {
      snprintf(why, why_size, "%s: no such program in PATH", name);
      return -1;
    }
  }
  struct stat st;
  if (stat(path, &st) != 0) {
    snprintf(why, why_size, "%s: %s", name, strerror(errno));
    return -1;
  }
  if (!S_ISREG(st.st_mode) || access(path, X_OK) != 0) {
    snprintf(why, why_size, "%s: not an executable file", name);
    return -1;
  }
  if (st.st_mode & (S_ISUID | S_ISGID)) {
    snprintf(why, why_size,
             "%s: set-user-ID or set-group-ID: the loader ignores LD_PRELOAD for it", name);
    return -1;
  }
  return 0;
}

/* The machine of this process (e_machine of /proc/self/exe). */
static int own_machine(void) {
  static int machine = -1;
  if (machine < 0) {
    Elf64_Ehdr h;
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    machine = fd >= 0 && read(fd, &h, sizeof h) == (ssize_t)sizeof h ? h.e_machine : EM_X86_64;
    if (fd >= 0) close(fd);
  }
  return machine;
}

/* Can LD_PRELOAD act on the program at `path`? A dynamically linked ELF
 * program of this machine, or a script whose interpreter is one. */
static int check_preloadable(const char *name, const char *path, int depth, char *why,
                             size_t why_size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(why, why_size, "%s: %s", name, strerror(errno));
    return -1;
  }
  unsigned char head[256];
  ssize_t n = read(fd, head, sizeof head - 1);
  if (n >= 2 && head[0] == '#' && head[1] == '!') {
    close(fd);
    if (depth > 0) return 0; /* the kernel allows one level; leave deeper ones to it */
    head[n] = 0;
    char *interpreter = (char *)head + 2;
    while (*interpreter == ' ' || *interpreter == '\t') interpreter++;
    interpreter[strcspn(interpreter, " \t\n")] = 0;
    if (!*interpreter) {
      snprintf(why, why_size, "%s: a script without an interpreter", name);
      return -1;
    }
    return check_preloadable(interpreter, interpreter, depth + 1, why, why_size);
  }
  Elf64_Ehdr h;
  if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || memcmp(h.e_ident, ELFMAG, SELFMAG) != 0) {
    close(fd);
    snprintf(why, why_size, "%s: not an ELF program or a script", name);
    return -1;
  }
  if (h.e_ident[EI_CLASS] != ELFCLASS64 || h.e_machine != own_machine()) {
    close(fd);
    snprintf(why, why_size,
             "%s: built for another machine or word size: the allocators' libraries cannot be "
             "preloaded into it", name);
    return -1;
  }
  int dynamic = 0;
  for (unsigned k = 0; k < h.e_phnum; k++) {
    Elf64_Phdr ph;
    if (pread(fd, &ph, sizeof ph, (off_t)(h.e_phoff + (uint64_t)k * h.e_phentsize)) !=
        (ssize_t)sizeof ph)
      break;
    dynamic |= ph.p_type == PT_INTERP;
  }
  close(fd);
  if (!dynamic) {
    snprintf(why, why_size,
             "%s: statically linked: LD_PRELOAD cannot replace its malloc, so every "
             "allocator would measure the one built into it", name);
    return -1;
  }
  return 0;
}

/* ---- Allocators: what to preload ---- */

/* Sets result->library and ->policy for infos' allocator; -1 with `why`. */
static int allocator_library(const hb_allocator_info *info, hb_program_result *result,
                             char *why, size_t why_size) {
  result->library[0] = result->policy[0] = 0;
  if (info->preload[0]) {
    snprintf(result->library, sizeof result->library, "%s", info->preload);
    return 0;
  }
  if (strcmp(info->name, "glibc") == 0) return 0;
  if (strcmp(info->group, "native") == 0) { /* an sbrk policy: the drop-in */
    if (access(HB_DROPIN_PATH, R_OK) != 0) {
      snprintf(why, why_size, "%s: the drop-in library %s is missing", info->name, HB_DROPIN_PATH);
      return -1;
    }
    snprintf(result->library, sizeof result->library, "%s", HB_DROPIN_PATH);
    snprintf(result->policy, sizeof result->policy, "%s", info->name);
    return 0;
  }
  char path[4096];
  if (hb_workers_malloc_library(info, path, sizeof path) != 0) {
    snprintf(why, why_size, "%s: its worker did not say which library holds its malloc",
             info->name);
    return -1;
  }
  if (strstr(path, "/libc.so")) {
    snprintf(why, why_size, "%s: its worker's malloc is glibc's: nothing to preload", info->name);
    return -1;
  }
  snprintf(result->library, sizeof result->library, "%s", path);
  return 0;
}

/* The front end's environment without LD_PRELOAD and HB_SBRK_POLICY, then
 * the allocator's. */
static char **allocator_environment(const hb_program_result *result) {
  size_t count = 0;
  while (environ[count]) count++;
  char **envp = calloc(count + 3, sizeof *envp);
  if (!envp) return NULL;
  size_t used = 0;
  for (size_t k = 0; k < count; k++)
    if (strncmp(environ[k], "LD_PRELOAD=", 11) != 0 &&
        strncmp(environ[k], "HB_SBRK_POLICY=", 15) != 0)
      envp[used++] = environ[k];
  if (result->library[0] && asprintf(&envp[used++], "LD_PRELOAD=%s", result->library) < 0)
    envp[--used] = NULL;
  if (result->policy[0] && asprintf(&envp[used++], "HB_SBRK_POLICY=%s", result->policy) < 0)
    envp[--used] = NULL;
  envp[used] = NULL;
  return envp;
}

static void environment_free(char **envp, const hb_program_result *result) {
  if (!envp) return;
  size_t n = 0;
  while (envp[n]) n++;
  int added = (result->library[0] != 0) + (result->policy[0] != 0);
  for (int k = 0; k < added && n; k++) free(envp[--n]);
  free(envp);
}

/* ---- Passes ---- */

typedef struct pass_figures {
  double wall, user, sys, rss, minflt, majflt, nvcsw, nivcsw;
} pass_figures;

typedef struct allocator_state {
  hb_program_result *r;
  char **envp;
  pass_figures *passes; /* [repeat] */
  uint64_t used_ns;
  uint64_t first_hash;
  int stopped;
} allocator_state;

static double timeval_ns(struct timeval t) { return (double)t.tv_sec * 1e9 + (double)t.tv_usec * 1e3; }

/* FNV-1a 64 of a memfd's contents, and its length. */
static uint64_t hash_fd(int fd, uint64_t *bytes) {
  uint64_t hash = 0xcbf29ce484222325ull;
  *bytes = 0;
  unsigned char chunk[65536];
  ssize_t n;
  while ((n = read(fd, chunk, sizeof chunk)) > 0) {
    for (ssize_t k = 0; k < n; k++) hash = (hash ^ chunk[k]) * 0x100000001b3ull;
    *bytes += (uint64_t)n;
  }
  return hash;
}

static void one_pass(allocator_state *s, unsigned k, char *const argv[], const char *path,
                     const hb_run_settings *settings) {
  hb_program_result *r = s->r;
  uint64_t limit = settings->time_limit_sec > 0 ? (uint64_t)(settings->time_limit_sec * 1e9) : 0;
  if (limit && s->used_ns >= limit) {
    snprintf(r->status, sizeof r->status, "timeout");
    s->stopped = 1;
    return;
  }
  char *run_argv[4096];
  size_t argc = 0;
  run_argv[argc++] = (char *)path;
  for (size_t i = 1; argv[i] && argc < 4095; i++) run_argv[argc++] = argv[i];
  run_argv[argc] = NULL;
  hb_program_run run;
  uint64_t deadline = limit ? hb_monotonic_ns() + (limit - s->used_ns) : 0;
  if (hb_program_run_once(run_argv, s->envp, settings->stdin_path, deadline, &run) != 0) {
    snprintf(r->status, sizeof r->status, "failed: %.500s", run.err);
    s->stopped = 1;
    return;
  }
  s->used_ns += run.wall_ns;
  uint64_t bytes = 0, hash = hash_fd(run.out_fd, &bytes);
  close(run.out_fd);
  if (run.timed_out) {
    snprintf(r->status, sizeof r->status, "timeout");
    s->stopped = 1;
    return;
  }
  if (run.signal) {
    char name[32];
    hb_signal_text(run.signal, name, sizeof name);
    if (run.err[0])
      snprintf(r->status, sizeof r->status, "failed: %s (%.400s)", name, run.err);
    else
      snprintf(r->status, sizeof r->status, "failed: %s", name);
    s->stopped = 1;
    return;
  }
  if (k > 0 && run.exit_code != r->exit_code) r->exit_codes_vary = 1;
  if (k == 0) s->first_hash = hash;
  else if (hash != s->first_hash) r->stdout_varies = 1;
  r->exit_code = run.exit_code;
  r->stdout_hash = hash;
  r->stdout_bytes = bytes;
  struct rusage *u = &run.usage;
  s->passes[k] = (pass_figures){(double)run.wall_ns, timeval_ns(u->ru_utime), timeval_ns(u->ru_stime),
                                (double)u->ru_maxrss * 1024.0, (double)u->ru_minflt,
                                (double)u->ru_majflt, (double)u->ru_nvcsw, (double)u->ru_nivcsw};
  r->speed.repeat_done = k + 1;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median of field `offset` over n passes; NaN for none. */
static double median_field(const pass_figures *passes, unsigned n, size_t offset) {
  if (n == 0) return NAN;
  double values[1000];
  for (unsigned k = 0; k < n; k++) values[k] = *(const double *)((const char *)&passes[k] + offset);
  qsort(values, n, sizeof *values, compare_doubles);
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

static void finish(allocator_state *s, unsigned repeat) {
  hb_program_result *r = s->r;
  unsigned n = r->speed.repeat_done;
#define MEDIAN(field) median_field(s->passes, n, offsetof(pass_figures, field))
  r->user_ns = MEDIAN(user);
  r->sys_ns = MEDIAN(sys);
  r->peak_rss_bytes = MEDIAN(rss);
  r->minor_faults = MEDIAN(minflt);
  r->major_faults = MEDIAN(majflt);
  r->voluntary_switches = MEDIAN(nvcsw);
  r->involuntary_switches = MEDIAN(nivcsw);
  hb_speed *wall = &r->speed.cold;
  r->speed.ops = 1;
  r->speed.peak_rss_bytes = HB_UNKNOWN;
  if (n == repeat && n > 0 && (wall->pass_ns_per_op = malloc(n * sizeof(double)))) {
    wall->measured = 1;
    wall->ns_per_op = MEDIAN(wall);
    wall->ns_per_op_min = wall->ns_per_op_max = s->passes[0].wall;
    for (unsigned k = 0; k < n; k++) {
      wall->pass_ns_per_op[k] = s->passes[k].wall;
      if (s->passes[k].wall < wall->ns_per_op_min) wall->ns_per_op_min = s->passes[k].wall;
      if (s->passes[k].wall > wall->ns_per_op_max) wall->ns_per_op_max = s->passes[k].wall;
    }
    wall->cpu_ns_per_op = MEDIAN(user) + MEDIAN(sys);
    wall->minor_faults = r->minor_faults;
  }
#undef MEDIAN
  if (strcmp(r->status, "ok") == 0 && r->exit_codes_vary)
    snprintf(r->status, sizeof r->status, "failed: the exit code changed between passes");
}

/* ---- The command ---- */

typedef struct run_args {
  const char *allocator_list, *json_path, *csv_path, *baseline;
  hb_run_settings settings;
  char **program; /* argv of the program, NULL-terminated */
} run_args;

/* 0: parsed; 1: --help printed; 2: usage error printed. */
static int parse_args(int argc, char **argv, run_args *args) {
  int i = 1;
  for (; i < argc; i++) {
    const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(arg, "--") == 0) {
      i++;
      break;
    }
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      help();
      return 1;
    }
    if (strcmp(arg, "--check-output") == 0) {
      args->settings.check_output = 1;
      continue;
    }
    if (arg[0] != '-') break; /* PROGRAM without "--" */
    static const char *const with_value[] = {"--allocators", "--repeat", "--time-limit", "--json",
                                             "--csv", "--stdin", "--baseline", "--label"};
    int known = 0;
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
      known |= strcmp(arg, with_value[k]) == 0;
    if (!known) return usage_error("unknown option", arg);
    if (!value) return usage_error("missing value after", arg);
    if (strcmp(arg, "--allocators") == 0) args->allocator_list = value;
    else if (strcmp(arg, "--json") == 0) args->json_path = value;
    else if (strcmp(arg, "--csv") == 0) args->csv_path = value;
    else if (strcmp(arg, "--stdin") == 0) args->settings.stdin_path = value;
    else if (strcmp(arg, "--baseline") == 0) args->baseline = value;
    else if (strcmp(arg, "--label") == 0) args->settings.label = value;
    else if (strcmp(arg, "--repeat") == 0 && hb_parse_count(value, &args->settings.repeat, 1) != 0)
      return usage_error("--repeat wants a count from 1 to 1000, not", value);
    else if (strcmp(arg, "--time-limit") == 0 &&
             hb_parse_seconds(value, &args->settings.time_limit_sec) != 0)
      return usage_error("--time-limit wants seconds (0 = none), not", value);
    i++;
  }
  if (args->json_path && args->csv_path && strcmp(args->json_path, "-") == 0 &&
      strcmp(args->csv_path, "-") == 0)
    return usage_error("--json - and --csv - cannot both write to stdout", NULL);
  if (i >= argc) return usage_error("no PROGRAM to run", NULL);
  args->program = &argv[i];
  return 0;
}

/* "glibc,jemalloc,..." of the default allocators this build has. */
static void default_list(const hb_allocator_info *infos, size_t count, char *list, size_t size) {
  list[0] = 0;
  for (size_t k = 0; k < sizeof default_allocators / sizeof default_allocators[0]; k++)
    if (hb_workers_find(infos, count, default_allocators[k]))
      snprintf(list + strlen(list), size - strlen(list), "%s%s", list[0] ? "," : "",
               default_allocators[k]);
}

/* Opens an output file before anything runs ("-": stdout); NULL (and a
 * message) when it cannot be written. */
static FILE *open_output(const char *path) {
  FILE *file = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
  if (!file) fprintf(stderr, "heapbench run: %s: cannot write: %s\n", path, strerror(errno));
  return file;
}

int hb_cmd_run(int argc, char **argv) {
  run_args args = {.settings = {.repeat = 5, .time_limit_sec = 300}};
  int parsed = parse_args(argc, argv, &args);
  if (parsed) return parsed == 1 ? 0 : 2;
  const hb_run_settings *settings = &args.settings;
  if (settings->stdin_path && access(settings->stdin_path, R_OK) != 0) {
    fprintf(stderr, "heapbench run: --stdin %s: %s\n", settings->stdin_path, strerror(errno));
    return 1;
  }
  char path[PATH_MAX], why[8400];
  if (find_program(args.program[0], path, sizeof path, why, sizeof why) != 0 ||
      check_preloadable(args.program[0], path, 0, why, sizeof why) != 0) {
    fprintf(stderr, "heapbench run: %s\n", why);
    return 1;
  }

  int rc = 1;
  hb_allocator_info *infos = NULL;
  size_t info_count = hb_workers_discover(&infos), *chosen = NULL, chosen_count = 0;
  hb_program_result *results = NULL;
  allocator_state *states = NULL;
  FILE *json = NULL, *csv = NULL;
  char defaults[256];
  if (info_count == 0) goto out;
  default_list(infos, info_count, defaults, sizeof defaults);
  if (hb_workers_choose("run", args.allocator_list ? args.allocator_list : defaults, &infos,
                        &info_count, &chosen, &chosen_count) != 0)
    goto out;
  results = calloc(chosen_count, sizeof *results);
  states = calloc(chosen_count, sizeof *states);
  if (!results || !states) goto out;
  for (size_t a = 0; a < chosen_count; a++) {
    if (allocator_library(&infos[chosen[a]], &results[a], why, sizeof why) != 0) {
      fprintf(stderr, "heapbench run: %s\n", why);
      goto out;
    }
  }
  size_t baseline = chosen_count;
  const char *baseline_name = args.baseline ? args.baseline : "glibc";
  for (size_t a = 0; a < chosen_count; a++)
    if (strcmp(infos[chosen[a]].name, baseline_name) == 0) baseline = a;
  if (args.baseline && baseline == chosen_count) {
    fprintf(stderr, "heapbench run: --baseline %s is not among the allocators run\n", args.baseline);
    goto out;
  }
  if (args.json_path && !(json = open_output(args.json_path))) goto out;
  if (args.csv_path && !(csv = open_output(args.csv_path))) goto out;

  unsigned repeat = settings->repeat;
  for (size_t a = 0; a < chosen_count; a++) {
    hb_program_result *r = &results[a];
    snprintf(r->status, sizeof r->status, "ok");
    r->exit_code = -1;
    r->same_exit_code = r->same_stdout = -1;
    states[a].r = r;
    states[a].envp = allocator_environment(r);
    states[a].passes = calloc(repeat, sizeof *states[a].passes);
    if (!states[a].envp || !states[a].passes) {
      snprintf(r->status, sizeof r->status, "failed: out of memory in the front end");
      states[a].stopped = 1;
    }
  }
  /* Pass k under every allocator before pass k + 1 under any. */
  int terminal = isatty(STDERR_FILENO);
  for (unsigned k = 0; k < repeat; k++)
    for (size_t a = 0; a < chosen_count; a++) {
      if (states[a].stopped) continue;
      if (terminal) {
        fprintf(stderr, "\r\033[Kheapbench run: pass %u/%u under %s", k + 1, repeat,
                infos[chosen[a]].name);
        fflush(stderr);
      }
      one_pass(&states[a], k, args.program, path, settings);
    }
  if (terminal) fprintf(stderr, "\r\033[K");
  for (size_t a = 0; a < chosen_count; a++) finish(&states[a], repeat);

  /* The program's result under each allocator against the reference's. */
  size_t reference = baseline < chosen_count ? baseline : 0;
  const hb_program_result *ref = &results[reference];
  for (size_t a = 0; a < chosen_count; a++) {
    hb_program_result *r = &results[a];
    if (r->speed.repeat_done == 0 || ref->speed.repeat_done == 0) continue;
    r->same_exit_code = r->exit_code == ref->exit_code;
    if (settings->check_output && !r->stdout_varies && !ref->stdout_varies)
      r->same_stdout = r->stdout_hash == ref->stdout_hash && r->stdout_bytes == ref->stdout_bytes;
  }

  hb_run_report report = {.settings = settings, .argv = args.program, .program_path = path,
                          .infos = infos, .info_count = info_count, .chosen = chosen,
                          .chosen_count = chosen_count, .results = results,
                          .baseline = baseline, .reference = reference};
  /* JSON or CSV on stdout: the table goes to stderr. */
  int to_stdout = json == stdout || csv == stdout;
  hb_run_table(to_stdout ? stderr : stdout, &report);
  rc = 0;
  if (json) {
    if (hb_run_json(json, args.json_path, &report) != 0) rc = 1;
    json = NULL;
  }
  if (csv) {
    if (hb_run_csv(csv, args.csv_path, &report) != 0) rc = 1;
    csv = NULL;
  }

out:
  if (json && json != stdout) { /* stopped before the run: leave nothing half-written */
    fclose(json);
    unlink(args.json_path);
  }
  if (csv && csv != stdout) {
    fclose(csv);
    unlink(args.csv_path);
  }
  if (states)
    for (size_t a = 0; a < chosen_count; a++) {
      environment_free(states[a].envp, &results[a]);
      free(states[a].passes);
    }
  if (results)
    for (size_t a = 0; a < chosen_count; a++) hb_cell_result_release(&results[a].speed);
  free(states);
  free(results);
  free(chosen);
  free(infos);
  return rc;
}
