/* foreign.c — another user of sbrk moves the break between the policy's
 * calls (as glibc's own malloc does in the same process). Every policy must
 * notice, start a new region instead of assuming its memory continues,
 * leave the foreign memory alone, refuse to shrink a break it no longer
 * owns, and keep every block and invariant intact.
 */
#define _DEFAULT_SOURCE
#include "sbrk_test.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

enum { BLOCKS = 64, FOREIGN_BYTES = 4096 + 8 }; /* leaves the break unaligned */

static void run(const hb_allocator *a) {
  unsigned char *blocks[BLOCKS];
  size_t sizes[BLOCKS];
  unsigned char *foreign[4];
  for (int round = 0; round < 4; round++) {
    for (int i = round * 16; i < round * 16 + 16; i++) {
      sizes[i] = 24 + (size_t)i * 97 + (i % 7 == 0 ? 100000 : 0);
      blocks[i] = a->malloc(sizes[i]);
      HB_CHECK(blocks[i] != NULL, "%s: malloc", a->name);
      if (blocks[i]) memset(blocks[i], i, sizes[i]);
    }
    hb_sbrk_test_check(a, "before the foreign sbrk");
    /* Someone else takes memory at the break, and writes to it. */
    foreign[round] = sbrk(FOREIGN_BYTES);
    HB_CHECK(foreign[round] != (void *)-1, "foreign sbrk failed");
    if (foreign[round] == (void *)-1) return;
    memset(foreign[round], 0xF0 + round, FOREIGN_BYTES);
    /* Free a large block: the top can no longer be given back. */
    a->free(blocks[round * 16], 0);
    blocks[round * 16] = NULL;
    hb_sbrk_test_check(a, "after the foreign sbrk");
  }
  /* Realloc everything larger: blocks move across regions. */
  for (int i = 0; i < BLOCKS; i++) {
    if (!blocks[i]) continue;
    unsigned char *moved = a->realloc(blocks[i], sizes[i] * 2);
    HB_CHECK(moved != NULL, "%s: realloc", a->name);
    if (!moved) continue;
    for (size_t j = 0; j < sizes[i]; j++)
      if (moved[j] != (unsigned char)i) {
        HB_CHECK(0, "%s: block %d lost its contents at byte %zu", a->name, i, j);
        break;
      }
    blocks[i] = moved;
    hb_sbrk_test_check(a, "after realloc");
  }
  for (int round = 0; round < 4; round++)
    for (size_t j = 0; j < FOREIGN_BYTES; j++)
      if (foreign[round][j] != 0xF0 + round) {
        HB_CHECK(0, "%s: the allocator wrote into foreign memory %d", a->name, round);
        break;
      }
  for (int i = 0; i < BLOCKS; i++) a->free(blocks[i], 0);
  hb_sbrk_test_check(a, "after freeing everything");
}

/* Each policy runs in a child of its own, so every one starts from the same
 * break and the test fits valgrind's fixed 8 MiB brk segment too. */
int main(void) {
  for (size_t i = 0; i < hb_sbrk_policy_count; i++)
    hb_sbrk_test_in_child(hb_sbrk_policies[i], run, "survived a moving break");
  return hb_test_exit("sbrk-foreign");
}
