/* workers.c — finding the worker executables and asking them, with
 * `hb-worker-<group> --list`, which allocators they hold.
 *
 * Workers are looked for in $HEAPBENCH_WORKER_DIR when set, else in the
 * build tree's bench/ directory (compiled in as HB_WORKER_DIR), so that a
 * build tree runs without installing. */
#define _GNU_SOURCE
#include "hb_workers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const groups[] = {HB_WORKER_GROUPS};

static const char *worker_dir(void) {
  const char *dir = getenv("HEAPBENCH_WORKER_DIR");
  return dir && *dir ? dir : HB_WORKER_DIR;
}

/* Copies src into dst, cut to fit. */
static void copy_text(char *dst, size_t size, const char *src) {
  size_t len = strnlen(src, size - 1);
  memcpy(dst, src, len);
  dst[len] = 0;
}

size_t hb_workers_discover(hb_allocator_info **infos) {
  size_t count = 0, capacity = 16;
  hb_allocator_info *list = calloc(capacity, sizeof *list);
  if (!list) return 0;
  for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
    char path[4096], command[4200];
    snprintf(path, sizeof path, "%s/hb-worker-%s", worker_dir(), groups[g]);
    snprintf(command, sizeof command, "'%s' --list", path);
    FILE *pipe = popen(command, "r");
    if (!pipe) continue;
    char line[512];
    while (fgets(line, sizeof line, pipe)) {
      /* name \t version \t description */
      line[strcspn(line, "\n")] = 0;
      char *version = strchr(line, '\t');
      char *description = version ? strchr(version + 1, '\t') : NULL;
      if (!description) continue;
      *version++ = 0;
      *description++ = 0;
      if (count == capacity) {
        hb_allocator_info *grown = realloc(list, 2 * capacity * sizeof *list);
        if (!grown) break;
        list = grown;
        capacity *= 2;
      }
      hb_allocator_info *info = &list[count++];
      memset(info, 0, sizeof *info);
      copy_text(info->name, sizeof info->name, line);
      copy_text(info->group, sizeof info->group, groups[g]);
      copy_text(info->version, sizeof info->version, version);
      copy_text(info->description, sizeof info->description, description);
      copy_text(info->worker_path, sizeof info->worker_path, path);
    }
    if (pclose(pipe) != 0)
      fprintf(stderr, "heapbench: worker %s did not answer --list\n", path);
  }
  if (count == 0) fprintf(stderr, "heapbench: no allocator worker found in %s\n", worker_dir());
  *infos = list;
  return count;
}

const hb_allocator_info *hb_workers_find(const hb_allocator_info *infos, size_t count,
                                         const char *name) {
  for (size_t i = 0; i < count; i++)
    if (strcmp(infos[i].name, name) == 0) return &infos[i];
  return NULL;
}
