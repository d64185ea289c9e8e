/* foreign.c — another user of sbrk moves the break between the policy's
 * calls (as glibc's own malloc does in the same process). Every policy must
 * notice, start a new region instead of assuming its memory continues,
 * leave the foreign memory alone, refuse to shrink a break it no longer
 * owns, and keep every block and invariant intact.
 */
#define _DEFAULT_SOURCE
#include "hb_adapters.h"
#include "hb_sbrk.h"
#include "hb_test.h"

#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { BLOCKS = 64, FOREIGN_BYTES = 4096 + 8 }; /* leaves the break unaligned */

static void check_heap(const hb_allocator *a, const char *when) {
  char why[512];
  HB_CHECK(hb_sbrk_check(a->name, why, sizeof why) == 0, "%s: %s: %s", a->name, when, why);
}

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
    check_heap(a, "before the foreign sbrk");
    /* Someone else takes memory at the break, and writes to it. */
    foreign[round] = sbrk(FOREIGN_BYTES);
    HB_CHECK(foreign[round] != (void *)-1, "foreign sbrk failed");
    if (foreign[round] == (void *)-1) return;
    memset(foreign[round], 0xF0 + round, FOREIGN_BYTES);
    /* Free a large block: the top can no longer be given back. */
    a->free(blocks[round * 16], 0);
    blocks[round * 16] = NULL;
    check_heap(a, "after the foreign sbrk");
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
    check_heap(a, "after realloc");
  }
  for (int round = 0; round < 4; round++)
    for (size_t j = 0; j < FOREIGN_BYTES; j++)
      if (foreign[round][j] != 0xF0 + round) {
        HB_CHECK(0, "%s: the allocator wrote into foreign memory %d", a->name, round);
        break;
      }
  for (int i = 0; i < BLOCKS; i++) a->free(blocks[i], 0);
  check_heap(a, "after freeing everything");
}

/* Each policy runs in a child of its own, so every one starts from the same
 * break and the test fits valgrind's fixed 8 MiB brk segment too. */
int main(void) {
  for (size_t i = 0; i < hb_sbrk_policy_count; i++) {
    fflush(stdout);
    pid_t child = fork();
    HB_CHECK(child >= 0, "fork failed");
    if (child == 0) {
      run(hb_sbrk_policies[i]);
      if (hb_test_failures == 0) printf("%s: survived a moving break\n", hb_sbrk_policies[i]->name);
      fflush(stdout);
      _exit(hb_test_failures ? 1 : 0);
    }
    int status = 0;
    HB_CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
             "%s: the child failed (status %#x)", hb_sbrk_policies[i]->name, status);
  }
  return hb_test_exit("sbrk-foreign");
}
