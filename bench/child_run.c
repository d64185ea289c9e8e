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
#include <sys/mman.h>
#include <sys/syscall.h>
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
  return hb_child_run_collect_env(argv, NULL, deadline_ns, run);
}

int hb_child_run_collect_env(char *const argv[], char *const envp[], uint64_t deadline_ns,
                             hb_child_run *run) {
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
  int rc = posix_spawn(&pid, argv[0], &actions, NULL, argv, envp ? envp : environ);
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

char **hb_env_with(const char *name, const char *value) {
  size_t count = 0, name_len = strlen(name);
  while (environ[count]) count++;
  char **envp = calloc(count + 2, sizeof *envp);
  char *entry = malloc(name_len + strlen(value) + 2);
  if (!envp || !entry) {
    free(envp);
    free(entry);
    return NULL;
  }
  sprintf(entry, "%s=%s", name, value);
  size_t used = 0;
  for (size_t k = 0; k < count; k++)
    if (!(strncmp(environ[k], name, name_len) == 0 && environ[k][name_len] == '='))
      envp[used++] = environ[k];
  envp[used++] = entry; /* last: hb_env_free finds it there */
  envp[used] = NULL;
  return envp;
}

void hb_env_free(char **envp) {
  if (!envp) return;
  size_t n = 0;
  while (envp[n]) n++;
  if (n) free(envp[n - 1]);
  free(envp);
}

/* ---- A program measured as a whole ---- */

/* The child, between fork and exec: only async-signal-safe calls. */
static void program_child(char *const argv[], char *const envp[], const char *stdin_path,
                          int out_fd, int err_fd, int report_fd) {
  int in_fd = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY);
  if (in_fd < 0 || dup2(in_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
      dup2(err_fd, STDERR_FILENO) < 0)
    goto failed;
  /* The peak-RSS mark the exec hands on to ru_maxrss: this copy of the
   * front end's, reset to what the child holds now (a few pages). */
  int refs = open("/proc/self/clear_refs", O_WRONLY);
  if (refs >= 0) {
    (void)!write(refs, "5", 1);
    close(refs);
  }
  execve(argv[0], argv, envp);
failed:;
  int error = errno;
  (void)!write(report_fd, &error, sizeof error);
  _exit(127);
}

int hb_program_run_once(char *const argv[], char *const envp[], const char *stdin_path,
                        uint64_t deadline_ns, hb_program_run *run) {
  memset(run, 0, sizeof *run);
  run->out_fd = -1;
  int out_fd = memfd_create("heapbench-run-stdout", MFD_CLOEXEC);
  int err_fd = memfd_create("heapbench-run-stderr", MFD_CLOEXEC);
  int report[2] = {-1, -1};
  if (out_fd < 0 || err_fd < 0 || pipe2(report, O_CLOEXEC) != 0) {
    snprintf(run->err, sizeof run->err, "cannot start %s: %s", argv[0], strerror(errno));
    goto fail;
  }
  uint64_t start = hb_monotonic_ns();
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(run->err, sizeof run->err, "cannot start %s: %s", argv[0], strerror(errno));
    goto fail;
  }
  if (pid == 0) program_child(argv, envp ? envp : environ, stdin_path, out_fd, err_fd, report[1]);
  close(report[1]);
  report[1] = -1;
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  for (;;) {
    int timeout_ms = -1;
    if (deadline_ns) {
      uint64_t now = hb_monotonic_ns();
      if (now >= deadline_ns) {
        kill(pid, SIGKILL);
        run->timed_out = 1;
        break;
      }
      timeout_ms = (int)((deadline_ns - now) / 1000000u) + 1;
    }
    if (pidfd < 0) break; /* no pidfd (old kernel): wait without a deadline */
    struct pollfd fd = {pidfd, POLLIN, 0};
    int ready = poll(&fd, 1, timeout_ms);
    if (ready > 0) break;
    if (ready < 0 && errno != EINTR) break;
  }
  int status = 0;
  while (wait4(pid, &status, 0, &run->usage) < 0 && errno == EINTR) {
  }
  run->wall_ns = hb_monotonic_ns() - start;
  if (pidfd >= 0) close(pidfd);
  int exec_errno = 0;
  if (read(report[0], &exec_errno, sizeof exec_errno) == (ssize_t)sizeof exec_errno) {
    snprintf(run->err, sizeof run->err, "cannot start %s: %s", argv[0], strerror(exec_errno));
    errno = exec_errno;
    goto fail;
  }
  if (WIFSIGNALED(status))
    run->signal = WTERMSIG(status);
  else
    run->exit_code = WEXITSTATUS(status);
  /* The last line of stderr. */
  off_t err_len = lseek(err_fd, 0, SEEK_END);
  if (err_len > 0) {
    char tail[4096];
    off_t from = err_len > (off_t)sizeof tail ? err_len - (off_t)sizeof tail : 0;
    ssize_t n = pread(err_fd, tail, (size_t)(err_len - from), from);
    if (n > 0) last_line(run->err, sizeof run->err, tail, (size_t)n);
  }
  close(err_fd);
  close(report[0]);
  lseek(out_fd, 0, SEEK_SET);
  run->out_fd = out_fd;
  return 0;

fail:
  if (out_fd >= 0) close(out_fd);
  if (err_fd >= 0) close(err_fd);
  if (report[0] >= 0) close(report[0]);
  if (report[1] >= 0) close(report[1]);
  return -1;
}
