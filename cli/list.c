/* list.c — `heapbench list`: the allocators this build can measure, as
 * the workers report them (bench/workers.c). */
#include "hb_cmd.h"
#include "hb_workers.h"

#include <stdio.h>
#include <stdlib.h>

int hb_cmd_list(int argc, char **argv) {
  (void)argv;
  if (argc > 1) {
    fprintf(stderr, "usage: heapbench list\n");
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
