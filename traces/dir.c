/* dir.c — the trace files of a directory, for the commands that accept a
 * directory where they accept a trace (heapbench replay, trace info). */
#define _GNU_SOURCE
#include "hb_trace.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int hb_path_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A trace by its name: a known format's suffix, maybe compressed. */
static int trace_file_name(const char *name) {
  static const char *const formats[] = {".hbt", ".rep", ".trace", ".log", ".t0.hbraw"};
  static const char *const wrappers[] = {"", ".gz", ".zst"};
  if (name[0] == '.') return 0;
  size_t len = strlen(name);
  for (size_t w = 0; w < sizeof wrappers / sizeof wrappers[0]; w++)
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
      size_t wl = strlen(wrappers[w]), fl = strlen(formats[f]);
      if (len > wl + fl && strcmp(name + len - wl, wrappers[w]) == 0 &&
          strncmp(name + len - wl - fl, formats[f], fl) == 0)
        return 1;
    }
  return 0;
}

static int select_trace(const struct dirent *entry) { return trace_file_name(entry->d_name); }

static int by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

int hb_trace_dir_list(const char *dir, char ***paths, size_t *count, hb_error *error) {
  struct dirent **entries;
  *paths = NULL;
  *count = 0;
  int n = scandir(dir, &entries, select_trace, by_name);
  if (n < 0) return hb_fail(error, "%s: cannot read: %s", dir, strerror(errno));
  char **list = calloc((size_t)n + 1, sizeof *list);
  size_t kept = 0;
  for (int i = 0; i < n; i++) {
    char *path = NULL;
    struct stat st;
    if (list && asprintf(&path, "%s/%s", dir, entries[i]->d_name) >= 0 && stat(path, &st) == 0 &&
        S_ISREG(st.st_mode))
      list[kept++] = path;
    else
      free(path);
    free(entries[i]);
  }
  free(entries);
  if (!list) return hb_fail(error, "%s: out of memory", dir);
  if (kept == 0) {
    free(list);
    return hb_fail(error, "%s: no trace in this directory (names ending in .hbt, .rep, .trace, "
                   ".log or .t0.hbraw, maybe with .gz or .zst)", dir);
  }
  *paths = list;
  *count = kept;
  return 0;
}

void hb_trace_dir_release(char **paths, size_t count) {
  for (size_t i = 0; paths && i < count; i++) free(paths[i]);
  free(paths);
}
