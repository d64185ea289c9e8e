/* policy.h — what the sbrk policies share (private to allocator/sbrk/). */
#ifndef HB_SBRK_POLICY_H
#define HB_SBRK_POLICY_H

#include "../hb_adapters.h"
#include "hb_sbrk.h"

#include <stddef.h>
#include <stdint.h>

#define HB_SBRK_VERSION "1.0"

/* A policy: its public table (first member, so a table pointer is a policy
 * pointer) and its heap checker. */
typedef struct hb_sbrk_policy {
  hb_allocator table;
  /* 0 when every invariant holds, else -1 with the reason in `why`. */
  int (*check)(char *why, size_t why_len);
  /* hb_sbrk_walk (hb_sbrk.h) on this policy's heap. */
  void (*walk)(hb_sbrk_visit *visit, void *context);
} hb_sbrk_policy;

/* The policies; their order is ladder.txt's. */
extern const hb_sbrk_policy hb_sbrk_default; /* "sbrk": segfit.c */
extern const hb_sbrk_policy hb_sbrk_tutorial;
extern const hb_sbrk_policy hb_sbrk_coalesce;
extern const hb_sbrk_policy hb_sbrk_nextfit;
extern const hb_sbrk_policy hb_sbrk_bestfit;
extern const hb_sbrk_policy hb_sbrk_addrfit;

static inline size_t hb_round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Prints "heapbench sbrk: <caller>(<ptr>): <problem>" and aborts. */
_Noreturn void hb_sbrk_die(const char *caller, const char *problem, const void *ptr);
/* Formats the reason into `why` and returns -1, for checkers. */
int hb_sbrk_fail(char *why, size_t why_len, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

#endif
