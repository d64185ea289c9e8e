/* gen_rep.c — writes a long CS:APP .rep trace with few blocks live at
 * once, to measure heapbench's memory on traces longer than any bundled
 * one (traces/FORMAT.md, "Memory at scale").
 *
 * usage: hb-gen-rep OPS MAX_LIVE [SEED] > FILE.rep
 * OPS/2 blocks, each allocated once ('a', a fresh id: OPS/2 distinct ids)
 * and freed once ('f') in a random order, at most MAX_LIVE live at once.
 * Sizes are mostly small (16..1024 bytes), one in 64 up to 64 KiB.
 * The same arguments give the same file (a xorshift generator). */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t state;
static uint64_t next_random(void) { /* xorshift64* */
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1Dull;
}

static uint64_t draw_size(void) {
  uint64_t r = next_random();
  if ((r & 63) == 0) return 1024 + (r >> 8) % (64 * 1024);
  return 16 + (r >> 8) % 1009;
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: hb-gen-rep OPS MAX_LIVE [SEED] > FILE.rep\n");
    return 2;
  }
  uint64_t ops = strtoull(argv[1], NULL, 10), max_live = strtoull(argv[2], NULL, 10);
  state = argc == 4 ? strtoull(argv[3], NULL, 10) : 1;
  if (state == 0) state = 1;
  if (ops < 2 || ops % 2 || max_live == 0 || ops / 2 >= UINT32_MAX) {
    fprintf(stderr, "hb-gen-rep: OPS must be even, >= 2 and < 2^33; MAX_LIVE >= 1\n");
    return 2;
  }
  uint64_t blocks = ops / 2;
  uint32_t *live = malloc(max_live * sizeof *live);
  if (!live) return 1;
  static char buffer[1 << 20];
  setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
  printf("0\n%" PRIu64 "\n%" PRIu64 "\n1\n", blocks, ops);
  uint64_t live_count = 0, created = 0, written = 0;
  while (written < ops) {
    /* Allocate while blocks remain and the pool has room, half the time
     * (always when nothing is live); free a random live block otherwise. */
    int allocate = created < blocks && live_count < max_live &&
                   (live_count == 0 || (next_random() & 1));
    if (allocate) {
      live[live_count++] = (uint32_t)created;
      printf("a %" PRIu64 " %" PRIu64 "\n", created++, draw_size());
    } else {
      uint64_t k = next_random() % live_count;
      printf("f %" PRIu32 "\n", live[k]);
      live[k] = live[--live_count];
    }
    written++;
  }
  free(live);
  return fflush(stdout) == 0 ? 0 : 1;
}
