/* misuse.c — every sbrk policy aborts with a clear message on a double
 * free and on freeing a pointer it never handed out.
 *
 * Each misuse runs in a forked child whose stderr goes to a pipe; the
 * parent checks the child died of SIGABRT and said what was wrong.
 */
#include "hb_adapters.h"
#include "hb_sbrk.h"
#include "hb_test.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef void (*misuse_fn)(const hb_allocator *a);

static void double_free(const hb_allocator *a) {
  void *p = a->malloc(40);
  void *keep = a->malloc(40); /* so p does not merge into the top */
  a->free(p, 0);
  a->free(p, 0);
  a->free(keep, 0);
}

static void double_free_after_merge(const hb_allocator *a) {
  char *p = a->malloc(100), *q = a->malloc(100), *keep = a->malloc(100);
  a->free(p, 0);
  a->free(q, 0); /* merges with p in the coalescing policies */
  a->free(q, 0);
  a->free(keep, 0);
}

static void interior_pointer(const hb_allocator *a) {
  char *p = a->malloc(256);
  memset(p, 0, 256);
  a->free(p + 64, 0);
}

static void stack_pointer(const hb_allocator *a) {
  (void)a->malloc(16); /* the heap exists */
  char local[64];
  memset(local, 0, sizeof local);
  a->free(local + 32, 0);
}

static void realloc_of_freed(const hb_allocator *a) {
  void *p = a->malloc(64);
  void *keep = a->malloc(64);
  a->free(p, 0);
  (void)!a->realloc(p, 128);
  a->free(keep, 0);
}

/* Runs `misuse` in a child; checks it aborted and stderr holds `expect`. */
static void expect_abort(const hb_allocator *a, const char *what, misuse_fn misuse,
                         const char *expect) {
  int pipe_fds[2];
  HB_CHECK(pipe(pipe_fds) == 0, "pipe");
  fflush(NULL);
  pid_t child = fork();
  if (child == 0) {
    dup2(pipe_fds[1], STDERR_FILENO);
    close(pipe_fds[0]);
    signal(SIGABRT, SIG_DFL);
    misuse(a);
    _exit(0); /* not detected */
  }
  close(pipe_fds[1]);
  char text[1024];
  size_t used = 0;
  ssize_t got;
  while (used < sizeof text - 1 && (got = read(pipe_fds[0], text + used, sizeof text - 1 - used)) > 0)
    used += (size_t)got;
  text[used] = 0;
  close(pipe_fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  HB_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
           "%s: %s: child was not aborted (status %#x)", a->name, what, status);
  HB_CHECK(strstr(text, "heapbench sbrk:") && strstr(text, expect),
           "%s: %s: stderr lacks \"%s\": %s", a->name, what, expect, text);
  printf("%s: %s -> %s", a->name, what, text);
}

int main(void) {
  for (size_t i = 0; i < hb_sbrk_policy_count; i++) {
    const hb_allocator *a = hb_sbrk_policies[i];
    expect_abort(a, "double free", double_free, "double free");
    expect_abort(a, "double free after merge", double_free_after_merge, "double free");
    expect_abort(a, "free of an interior pointer", interior_pointer, "invalid pointer");
    expect_abort(a, "free of a stack pointer", stack_pointer, "invalid pointer");
    expect_abort(a, "realloc of a freed block", realloc_of_freed, "double free");
  }
  return hb_test_exit("sbrk-misuse");
}
