/* hb_test.h — the few macros heapbench's C tests share.
 *
 * A test program calls HB_CHECK for every assertion; a failed check prints
 * the file, line and expression and counts the failure, and the program
 * ends with hb_test_exit(), which prints a summary and exits 1 if anything
 * failed (77, meson's "skipped", if the test skipped itself).
 */
#ifndef HB_TEST_H
#define HB_TEST_H

#include <stdio.h>
#include <stdlib.h>

static int hb_test_failures;
static int hb_test_checks;

#define HB_CHECK(cond, ...)                                                    \
  do {                                                                         \
    hb_test_checks++;                                                          \
    if (!(cond)) {                                                             \
      hb_test_failures++;                                                      \
      fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
    }                                                                          \
  } while (0)

#define HB_TEST_SKIP 77

static inline int hb_test_exit(const char *name) {
  printf("%s: %d checks, %d failed\n", name, hb_test_checks, hb_test_failures);
  return hb_test_failures ? 1 : 0;
}

#endif
