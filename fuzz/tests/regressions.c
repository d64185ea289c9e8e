/* regressions.c — every input the fuzzers ever broke a reader with, kept.
 *
 * Usage: regressions DIR. Each file in DIR is loaded with hb_trace_load;
 * a name ending in ".reject" must be refused with an error message, one
 * ending in ".accept" must load and pass hb_trace_check; and the
 * streaming reader must agree with the loader on each, at several batch
 * sizes (stream_check.h). Run in the
 * sanitizer build, a leak or bad access on any of them fails the test too.
 */
#include "../stream_check.h"
#include "hb_test.h"
#include "hb_trace.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

static int ends_with(const char *text, const char *suffix) {
  size_t len = strlen(text), suffix_len = strlen(suffix);
  return len >= suffix_len && strcmp(text + len - suffix_len, suffix) == 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: regressions DIR\n");
    return 2;
  }
  DIR *dir = opendir(argv[1]);
  HB_CHECK(dir != NULL, "cannot open %s", argv[1]);
  if (!dir) return hb_test_exit("regressions");
  int files = 0;
  for (struct dirent *entry; (entry = readdir(dir));) {
    int reject = ends_with(entry->d_name, ".reject"), accept = ends_with(entry->d_name, ".accept");
    if (!reject && !accept) continue;
    files++;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", argv[1], entry->d_name);
    hb_trace trace;
    hb_error error;
    error.message[0] = 0;
    int rc = hb_trace_load(path, &trace, &error);
    if (reject) {
      HB_CHECK(rc != 0, "%s was accepted", entry->d_name);
      HB_CHECK(error.message[0] != 0 && strchr(error.message, '\n') == NULL,
               "%s: the error is not one line: '%s'", entry->d_name, error.message);
    } else {
      HB_CHECK(rc == 0, "%s was rejected: %s", entry->d_name, error.message);
    }
    if (rc == 0) hb_trace_release(&trace);
    static const size_t capacities[] = {1, 3, 4096};
    for (size_t c = 0; c < sizeof capacities / sizeof capacities[0]; c++) {
      char why[1024];
      HB_CHECK(hb_stream_check(path, capacities[c], why, sizeof why) == 0, "%s at %zu: %s",
               entry->d_name, capacities[c], why);
    }
  }
  closedir(dir);
  HB_CHECK(files > 0, "no regression inputs in %s", argv[1]);
  return hb_test_exit("regressions");
}
