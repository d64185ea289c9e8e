/* threads.c — the drop-in library under several threads, and fork while
 * other threads allocate. Linked against libhb-sbrk.so, which then is the
 * process's malloc (checked with dladdr, so the test cannot pass on glibc's
 * malloc by mistake).
 *
 * Four threads churn malloc/calloc/realloc/free/posix_memalign with fill
 * patterns checked before every free; meanwhile the main thread forks
 * repeatedly and each child allocates and frees before exiting: a child
 * that inherited the lock held or a heap half-updated would hang (meson's
 * timeout) or abort; each child then starts a thread of its own, which
 * needs the lock free. Blocks made before the first thread (when the
 * library takes no lock) are freed while the threads run.
 */
#define _GNU_SOURCE
#include "hb_test.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { THREADS = 4, SLOTS = 64, OPS = 200000, FORKS = 40 };

static int corrupted;

static void *churn(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u + 1;
  unsigned char *ptrs[SLOTS] = {0};
  size_t sizes[SLOTS] = {0};
  for (int op = 0; op < OPS; op++) {
    seed = seed * 1103515245u + 12345u;
    int s = (int)((seed >> 8) % SLOTS);
    unsigned char tag = (unsigned char)(s + (uintptr_t)arg * 64);
    if (ptrs[s]) {
      for (size_t i = 0; i < sizes[s]; i++)
        if (ptrs[s][i] != tag) {
          __atomic_store_n(&corrupted, 1, __ATOMIC_RELAXED);
          break;
        }
      if (seed & 0x10000) {
        size_t size = 1 + (seed >> 20) % 3000;
        unsigned char *moved = realloc(ptrs[s], size);
        if (!moved) return (void *)1;
        memset(moved, tag, size);
        ptrs[s] = moved;
        sizes[s] = size;
      } else {
        free(ptrs[s]);
        ptrs[s] = NULL;
      }
    } else {
      size_t size = 1 + (seed >> 16) % 2000;
      void *p = NULL;
      switch ((seed >> 4) % 3) {
        case 0: p = malloc(size); break;
        case 1: p = calloc(size, 1); break;
        default:
          if (posix_memalign(&p, 64, size)) p = NULL;
          if ((uintptr_t)p % 64) __atomic_store_n(&corrupted, 1, __ATOMIC_RELAXED);
      }
      if (!p) return (void *)1;
      memset(p, tag, size);
      ptrs[s] = p;
      sizes[s] = size;
    }
  }
  for (int s = 0; s < SLOTS; s++) free(ptrs[s]);
  return NULL;
}

/* A thread of a forked child: the child's heap lock must be free. */
static void *child_thread(void *arg) {
  (void)arg;
  char *q = malloc(300);
  if (q) memset(q, 2, 300);
  free(q);
  return q ? NULL : (void *)1;
}

int main(void) {
  Dl_info info;
  HB_CHECK(dladdr((void *)(uintptr_t)malloc, &info) && info.dli_fname &&
               strstr(info.dli_fname, "libhb-sbrk"),
           "malloc is not the drop-in's (it comes from %s)", info.dli_fname ? info.dli_fname : "?");
  /* Blocks made while the process has one thread (the library takes no
   * lock then), freed below while the other threads run (it must now). */
  enum { EARLY = 2000 };
  static char *early[EARLY];
  for (int i = 0; i < EARLY; i++) {
    early[i] = malloc(16 + (size_t)i % 200);
    if (early[i]) memset(early[i], 7, 16 + (size_t)i % 200);
  }
  pthread_t threads[THREADS];
  for (uintptr_t t = 0; t < THREADS; t++)
    HB_CHECK(pthread_create(&threads[t], NULL, churn, (void *)t) == 0, "pthread_create");
  for (int i = 0; i < EARLY; i++) {
    for (size_t k = 0; early[i] && k < 16 + (size_t)i % 200; k++)
      if (early[i][k] != 7) __atomic_store_n(&corrupted, 1, __ATOMIC_RELAXED);
    free(early[i]);
  }
  int children_ok = 0;
  for (int f = 0; f < FORKS; f++) {
    pid_t child = fork();
    if (child == 0) {
      char *p = malloc(1000);
      if (!p) _exit(3);
      memset(p, 1, 1000);
      p = realloc(p, 5000);
      free(p);
      if (!p) _exit(4);
      /* The child starts a thread of its own: a lock left held by the
       * fork would hang it here. */
      pthread_t t;
      void *result = (void *)1;
      if (pthread_create(&t, NULL, child_thread, NULL) == 0) pthread_join(t, &result);
      _exit(result ? 5 : 0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    children_ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
    usleep(2000);
  }
  for (int t = 0; t < THREADS; t++) {
    void *result;
    pthread_join(threads[t], &result);
    HB_CHECK(result == NULL, "thread %d: allocation failed", t);
  }
  HB_CHECK(!corrupted, "a block's contents changed under another thread");
  HB_CHECK(children_ok == FORKS, "%d of %d forked children failed", FORKS - children_ok, FORKS);
  void *p = memalign(4096, 10);
  HB_CHECK(p && (uintptr_t)p % 4096 == 0 && malloc_usable_size(p) >= 10, "memalign");
  free(p);
  p = pvalloc(1);
  HB_CHECK(p && (uintptr_t)p % 4096 == 0 && malloc_usable_size(p) >= 4096, "pvalloc");
  free(p);
  p = valloc(100);
  HB_CHECK(p && (uintptr_t)p % 4096 == 0, "valloc");
  free(p);
  p = aligned_alloc(256, 512);
  HB_CHECK(p && (uintptr_t)p % 256 == 0, "aligned_alloc");
  free(p);
  volatile size_t huge = SIZE_MAX / 2; /* volatile: GCC rejects the constant overflow */
  HB_CHECK(reallocarray(NULL, huge, 3) == NULL, "reallocarray overflow accepted");
  HB_CHECK(posix_memalign(&p, 24, 10) == EINVAL, "posix_memalign(24) accepted");
  p = malloc(10);
  HB_CHECK(realloc(p, 0) == NULL, "realloc(p, 0) did not free");
  return hb_test_exit("dropin-threads");
}
