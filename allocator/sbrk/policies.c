/* policies.c — the list of sbrk policies, the checker entry point and the
 * error reporting every policy shares. */
#include "../hb_adapters.h"
#include "hb_sbrk.h"
#include "ladder.h" /* generated from ladder.txt by meson.build */
#include "os.h"
#include "policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* In the order of ladder.txt: the default first, then the ladder. */
const hb_allocator *const hb_sbrk_policies[] = {HB_SBRK_LADDER_TABLES};
const size_t hb_sbrk_policy_count = sizeof hb_sbrk_policies / sizeof hb_sbrk_policies[0];

int hb_sbrk_check(const char *name, char *why, size_t why_len) {
  for (size_t i = 0; i < hb_sbrk_policy_count; i++) {
    /* The table is a policy's first member: the cast is exact. */
    const hb_sbrk_policy *policy = (const hb_sbrk_policy *)hb_sbrk_policies[i];
    if (strcmp(policy->table.name, name) == 0) return policy->check(why, why_len);
  }
  return hb_sbrk_fail(why, why_len, "no sbrk policy named '%s'", name);
}

int hb_sbrk_walk(const char *name, hb_sbrk_visit *visit, void *context) {
  for (size_t i = 0; i < hb_sbrk_policy_count; i++) {
    const hb_sbrk_policy *policy = (const hb_sbrk_policy *)hb_sbrk_policies[i];
    if (strcmp(policy->table.name, name) == 0) {
      policy->walk(visit, context);
      return 0;
    }
  }
  return -1;
}

unsigned long hb_sbrk_break_moves(void) { return hb_os_break_moves(); }

void hb_sbrk_die(const char *caller, const char *problem, const void *ptr) {
  /* No stdio: the heap may be what is broken. */
  char text[160];
  int len = snprintf(text, sizeof text, "heapbench sbrk: %s(%p): %s\n", caller, ptr, problem);
  if (len > 0) (void)!write(STDERR_FILENO, text, (size_t)len < sizeof text ? (size_t)len : sizeof text - 1);
  abort();
}

int hb_sbrk_fail(char *why, size_t why_len, const char *format, ...) {
  va_list args;
  va_start(args, format);
  if (why && why_len) vsnprintf(why, why_len, format, args);
  va_end(args);
  return -1;
}
