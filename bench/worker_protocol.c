/* worker_protocol.c — the front end's reader of hb_worker_protocol.h. */
#include "hb_worker_protocol.h"

#include <stdlib.h>
#include <string.h>

void hb_worker_parse_figures(const char *out, int64_t figures[HB_FIG_COUNT]) {
  for (int f = 0; f < HB_FIG_COUNT; f++) figures[f] = -1;
  for (const char *line = out; *line;) {
    size_t key_len = strcspn(line, " \n");
    if (line[key_len] == ' ')
      for (int f = 0; f < HB_FIG_COUNT; f++) {
        const char *key = hb_worker_figure_key((hb_worker_figure)f);
        if (strlen(key) == key_len && strncmp(line, key, key_len) == 0) {
          char *end;
          long long value = strtoll(line + key_len + 1, &end, 10);
          /* A value that is not a whole non-negative number stays unknown. */
          if (end != line + key_len + 1 && (*end == '\n' || !*end) && value >= 0)
            figures[f] = value;
          break;
        }
      }
    const char *end = strchr(line, '\n');
    if (!end) break;
    line = end + 1;
  }
}
