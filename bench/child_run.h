/* child_run.h — private to the front end: run a child process with its stdout
 * and stderr on pipes, under a deadline. Nothing here knows what a worker
 * prints; cell_run.c reads the output (hb_worker_protocol.h). */
#ifndef HB_CHILD_RUN_H
#define HB_CHILD_RUN_H

#include <stddef.h>
#include <stdint.h>

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

/* CLOCK_MONOTONIC in ns: the clock of `deadline_ns`. */
uint64_t hb_monotonic_ns(void);

/* "SIGSEGV" for 11; "signal N" when the number has no name. */
void hb_signal_text(int sig, char *text, size_t size);

#endif
