/* hb_test.h — the few macros heapbench's C tests share.
 *
 * A test program calls HB_CHECK for every assertion; a failed check prints
 * the file, line and expression and counts the failure, and the program
 * ends with hb_test_exit(), which prints a summary and exits 1 if anything
 * failed (77, meson's "skipped", if the test skipped itself).
 */
#ifndef HB_TEST_H
#define HB_TEST_H

#include <stdint.h>
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

/* A test's scratch files: it names its directory in hb_test_tmpdir (from
 * its arguments); hb_test_path("x") is "<dir>/x", in one of eight buffers
 * used in turn, so one call can take several paths. */
__attribute__((unused)) static char hb_test_tmpdir[1024];
static inline const char *hb_test_path(const char *name) {
  static char paths[8][1200];
  static int next;
  char *path = paths[next++ % 8];
  snprintf(path, sizeof paths[0], "%s/%s", hb_test_tmpdir, name);
  return path;
}

/* Reproducible test data: xorshift64, seeded by setting the state. */
__attribute__((unused)) static uint64_t hb_test_rng_state = 0x9E3779B97F4A7C15ull;
static inline uint64_t hb_test_rng(void) {
  hb_test_rng_state ^= hb_test_rng_state << 13;
  hb_test_rng_state ^= hb_test_rng_state >> 7;
  hb_test_rng_state ^= hb_test_rng_state << 17;
  return hb_test_rng_state;
}

/* The whole content of a file (malloc'd; NULL if unreadable); *bytes its
 * length. */
static inline unsigned char *hb_test_slurp(const char *path, size_t *bytes) {
  FILE *file = fopen(path, "rb");
  *bytes = 0;
  if (!file) return NULL;
  fseek(file, 0, SEEK_END);
  long length = ftell(file);
  fseek(file, 0, SEEK_SET);
  unsigned char *data = malloc(length > 0 ? (size_t)length : 1);
  *bytes = data && length > 0 && fread(data, 1, (size_t)length, file) == (size_t)length
               ? (size_t)length : 0;
  fclose(file);
  return data;
}

static inline int hb_test_exit(const char *name) {
  printf("%s: %d checks, %d failed\n", name, hb_test_checks, hb_test_failures);
  return hb_test_failures ? 1 : 0;
}

#endif
