/* list.c — `heapbench list`: the allocators this build can measure, as
 * the workers report them (bench/workers.c); `heapbench version`: the
 * version of heapbench and of each of those allocators. */
#include "cli/hb_cli_config.h" /* HB_VERSION */
#include "hb_cmd.h"
#include "hb_workers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
  return 0;
}

int hb_cmd_list(int argc, char **argv) {
  static const char usage[] =
      "usage: heapbench list\n"
      "\n"
      "The allocators this build can measure: name (for --allocators), the worker\n"
      "program that holds it, its version and what it is.\n";
  if (wants_help(argc, argv)) {
    fputs(usage, stdout);
    return 0;
  }
  if (argc > 1) {
    fputs(usage, stderr);
    return 2;
  }
  hb_allocator_info *infos;
  size_t count = hb_workers_discover(&infos);
  printf("%-16s %-10s %-28s %s\n", "allocator", "worker", "version", "description");
  for (size_t i = 0; i < count; i++)
    printf("%-16s %-10s %-28.28s %s\n", infos[i].name, infos[i].group, infos[i].version,
           infos[i].description);
  free(infos);
  return count ? 0 : 1;
}

int hb_cmd_version(int argc, char **argv) {
  static const char usage[] =
      "usage: heapbench version   (or heapbench --version)\n"
      "\n"
      "Prints \"heapbench X.Y.Z\", then each allocator this build measures with the\n"
      "version it reports.\n";
  if (wants_help(argc, argv)) {
    fputs(usage, stdout);
    return 0;
  }
  if (argc > 1) {
    fputs(usage, stderr);
    return 2;
  }
  printf("heapbench %s\n", HB_VERSION);
  hb_allocator_info *infos;
  size_t count = hb_workers_discover(&infos);
  for (size_t i = 0; i < count; i++) printf("  %-16s %s\n", infos[i].name, infos[i].version);
  free(infos);
  return 0;
}
