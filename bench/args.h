/* args.h — private to the front end's commands (replay.c, run.c): the
 * numbers their options take, parsed one way. */
#ifndef HB_ARGS_H
#define HB_ARGS_H

#include <errno.h>
#include <stdlib.h>

/* A count from `min` to 1000 (--repeat, --warmup); 0, or -1 when `text`
 * is not one. */
static inline int hb_parse_count(const char *text, unsigned *value, unsigned long min) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(text, &end, 10);
  if (errno || end == text || *end || v < min || v > 1000 || text[0] == '-') return -1;
  *value = (unsigned)v;
  return 0;
}

/* Seconds, 0 to 1e7 (--time-limit); 0, or -1. */
static inline int hb_parse_seconds(const char *text, double *value) {
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (errno || end == text || *end || !(v >= 0) || v > 1e7) return -1;
  *value = v;
  return 0;
}

#endif
