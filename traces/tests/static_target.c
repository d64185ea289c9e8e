/* static_target.c — a statically linked program that allocates: what
 * `heapbench record` must refuse (no dynamic loader, so no LD_PRELOAD). */
#include <stdlib.h>

int main(void) {
  free(malloc(100));
  return 0;
}
