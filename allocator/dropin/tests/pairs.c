/* pairs.c — the cost of a malloc/free pair through whatever malloc the
 * process has: run as is (glibc) and under LD_PRELOAD=libhb-sbrk.so by
 * pairs.sh. One thread, so the drop-in takes no lock (dropin.c: lock()).
 * Prints "<ns per pair>". */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { PAIRS = 20000000, SLOTS = 64 };

int main(void) {
  void *slots[SLOTS] = {0};
  void *volatile escape; /* GCC would delete an unused free(malloc(n)) */
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (long i = 0; i < PAIRS; i++) {
    free(slots[i & (SLOTS - 1)]);
    slots[i & (SLOTS - 1)] = malloc(16 + (size_t)(i & 7) * 8);
    escape = slots[i & (SLOTS - 1)];
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  (void)escape;
  for (int k = 0; k < SLOTS; k++) free(slots[k]);
  printf("%.2f\n", ((double)(end.tv_sec - start.tv_sec) * 1e9 + (double)(end.tv_nsec - start.tv_nsec)) / PAIRS);
  return 0;
}
