/* child_run.h — private to the front end: run a child process with its stdout
 * and stderr on pipes, under a deadline. Nothing here knows what a worker
 * prints; cell_run.c reads the output (hb_worker_protocol.h). */
#ifndef HB_CHILD_RUN_H
#define HB_CHILD_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

typedef struct hb_child_run {
  int timed_out; /* killed at the deadline */
  int signal;    /* the signal that ended it, 0 if it exited */
  int exit_code;
  char *out;     /* all of stdout, NUL-terminated, malloc'ed (never NULL after a start) */
  size_t out_len;
  char err[512]; /* the last line it wrote on stderr */
} hb_child_run;

/* Starts `argv` (argv[0] a path) with stdout and stderr on pipes, reads
 * both until they close, kills the child with SIGKILL at `deadline_ns`
 * (CLOCK_MONOTONIC; 0 = never) and reaps it. 0, or -1 when it could not be
 * started (run->err says why, run->out is NULL). */
int hb_child_run_collect(char *const argv[], uint64_t deadline_ns, hb_child_run *run);
/* The same with the environment `envp` (NULL: the front end's). */
int hb_child_run_collect_env(char *const argv[], char *const envp[], uint64_t deadline_ns,
                             hb_child_run *run);

/* A copy of the front end's environment with NAME=VALUE set (replacing
 * any NAME), for hb_child_run_collect_env / hb_program_run; NULL when out
 * of memory. Freed with hb_env_free. */
char **hb_env_with(const char *name, const char *value);
void hb_env_free(char **envp);

/* ---- A program measured as a whole (`heapbench run`) ---- */
typedef struct hb_program_run {
  int timed_out, signal, exit_code; /* as in hb_child_run */
  uint64_t wall_ns;                 /* from just before fork to its exit being seen */
  struct rusage usage;              /* wait4's: the program and its waited-for children */
  int out_fd;  /* its whole stdout, in a memfd (offset 0); -1 when not kept */
  char err[512]; /* the last line it wrote on stderr */
} hb_program_run;

/* Runs argv[0] (a path) with `envp`, stdin from `stdin_path` (NULL:
 * /dev/null), stdout and stderr into memfds (nothing for the front end to
 * read while the program runs), killing it with SIGKILL at `deadline_ns`
 * (0 = never). The child resets its peak-RSS mark before exec, so that
 * usage.ru_maxrss is the program's own and not the front end's (see
 * worker_harness.c on ru_maxrss across exec). 0, or -1 when it could not
 * be started (run->err says why: the exec's errno). */
int hb_program_run_once(char *const argv[], char *const envp[], const char *stdin_path,
                        uint64_t deadline_ns, hb_program_run *run);

/* CLOCK_MONOTONIC in ns: the clock of `deadline_ns`. */
uint64_t hb_monotonic_ns(void);

/* "SIGSEGV" for 11; "signal N" when the number has no name. */
void hb_signal_text(int sig, char *text, size_t size);

#endif
