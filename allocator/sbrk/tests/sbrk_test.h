/* sbrk_test.h — what the sbrk tests share: the heap checker as a test
 * check, a statistic read as a test check, and a phase run in a child of
 * its own (a fresh heap, and a crash fails one phase, not the program).
 */
#ifndef HB_SBRK_TEST_H
#define HB_SBRK_TEST_H

#include "hb_adapters.h"
#include "hb_sbrk.h"
#include "hb_test.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static inline void hb_sbrk_test_check(const hb_allocator *a, const char *when) {
  char why[512];
  HB_CHECK(hb_sbrk_check(a->name, why, sizeof why) == 0, "%s: %s: %s", a->name, when, why);
}

static inline uint64_t hb_sbrk_test_stat(const hb_allocator *a, hb_stat which) {
  uint64_t value = 0;
  HB_CHECK(a->stat(which, &value) == 0, "%s: stat %d", a->name, (int)which);
  return value;
}

/* Runs `phase` on `a` in a forked child; prints "<policy>: <what>" when it
 * passed there, and counts a failure here when the child did not exit 0. */
static inline void hb_sbrk_test_in_child(const hb_allocator *a,
                                         void (*phase)(const hb_allocator *), const char *what) {
  fflush(stdout);
  pid_t child = fork();
  HB_CHECK(child >= 0, "fork failed");
  if (child == 0) {
    phase(a);
    if (hb_test_failures == 0) printf("%s: %s\n", a->name, what);
    fflush(stdout);
    _exit(hb_test_failures ? 1 : 0);
  }
  int status = 0;
  HB_CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "%s: %s: the child failed (status %#x)", a->name, what, status);
}

#endif
