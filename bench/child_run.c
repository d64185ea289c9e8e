/* child_run.c — a child process with its output on pipes, under a deadline
 * (child_run.h). Front end only. */
#define _GNU_SOURCE
#include "child_run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

uint64_t hb_monotonic_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void append(char **buffer, size_t *len, size_t *capacity, const char *data, size_t n) {
  if (*len + n + 1 > *capacity) {
    size_t grown = *capacity ? *capacity : 4096;
    while (*len + n + 1 > grown) grown *= 2;
    char *bigger = realloc(*buffer, grown);
    if (!bigger) return; /* output is cut; parsing says what is missing */
    *buffer = bigger;
    *capacity = grown;
  }
  memcpy(*buffer + *len, data, n);
  *len += n;
  (*buffer)[*len] = 0;
}

/* Keeps the last complete line of stderr output (falls back to the tail). */
static void last_line(char *dst, size_t size, const char *text, size_t len) {
  while (len && (text[len - 1] == '\n' || text[len - 1] == '\r')) len--;
  size_t start = len;
  while (start && text[start - 1] != '\n') start--;
  size_t n = len - start < size - 1 ? len - start : size - 1;
  memcpy(dst, text + start, n);
  dst[n] = 0;
}

int hb_child_run_collect(char *const argv[], uint64_t deadline_ns, hb_child_run *run) {
  memset(run, 0, sizeof *run);
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) goto spawn_failed;
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    goto spawn_failed;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    errno = rc;
    goto spawn_failed;
  }

  size_t out_capacity = 0, err_len = 0, err_capacity = 0;
  char *err_text = NULL;
  struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    int timeout_ms = -1;
    if (deadline_ns) {
      uint64_t now = hb_monotonic_ns();
      if (now >= deadline_ns) {
        kill(pid, SIGKILL);
        run->timed_out = 1;
        deadline_ns = 0; /* drain what is left, then reap */
        continue;
      }
      timeout_ms = (int)((deadline_ns - now) / 1000000u) + 1;
    }
    int ready = poll(fds, 2, timeout_ms);
    if (ready < 0 && errno != EINTR) break;
    for (int k = 0; k < 2 && ready > 0; k++) {
      if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char chunk[8192];
      ssize_t n = read(fds[k].fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        close(fds[k].fd);
        fds[k].fd = -1;
        open_fds--;
      } else if (k == 0) {
        append(&run->out, &run->out_len, &out_capacity, chunk, (size_t)n);
      } else if (err_len < 65536) {
        append(&err_text, &err_len, &err_capacity, chunk, (size_t)n);
      }
    }
  }
  for (int k = 0; k < 2; k++)
    if (fds[k].fd >= 0) close(fds[k].fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    run->signal = WTERMSIG(status);
  else
    run->exit_code = WEXITSTATUS(status);
  if (err_text) last_line(run->err, sizeof run->err, err_text, err_len);
  free(err_text);
  if (!run->out) run->out = calloc(1, 1);
  return 0;

spawn_failed:
  snprintf(run->err, sizeof run->err, "cannot start %s: %s", argv[0], strerror(errno));
  return -1;
}

/* "SEGV" -> "SIGSEGV"; unknown numbers as "signal N". */
void hb_signal_text(int sig, char *text, size_t size) {
  const char *abbrev = sigabbrev_np(sig);
  if (abbrev)
    snprintf(text, size, "SIG%s", abbrev);
  else
    snprintf(text, size, "signal %d", sig);
}
