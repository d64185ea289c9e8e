/* run_alloc.c — the program `heapbench run`'s tests measure, with a known
 * allocation pattern:
 *
 *   run-alloc MIB EXIT    allocates MIB MiB in 64 KiB blocks, writes every
 *                         byte, frees it all, prints a checksum, exits EXIT
 *   run-alloc usable      prints malloc_usable_size(malloc(100)) and exits
 *                         with it: a result that depends on the allocator
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "usable") == 0) {
    void *p = malloc(100);
    size_t usable = malloc_usable_size(p);
    printf("%zu\n", usable);
    free(p);
    return (int)(usable & 0xff);
  }
  if (argc != 3) {
    fprintf(stderr, "usage: run-alloc MIB EXIT | usable\n");
    return 2;
  }
  size_t blocks = (size_t)atol(argv[1]) * 16;
  char **block = calloc(blocks + 1, sizeof *block);
  unsigned long sum = 0;
  for (size_t i = 0; i < blocks; i++) {
    block[i] = malloc(65536);
    if (!block[i]) return 99;
    memset(block[i], (int)(i & 0x7f) + 1, 65536);
  }
  for (size_t i = 0; i < blocks; i++) {
    sum += (unsigned char)block[i][i % 65536];
    free(block[i]);
  }
  free(block);
  printf("%lu\n", sum);
  return atoi(argv[2]);
}
