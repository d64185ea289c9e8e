/* worker.c — main() of the hb-worker-<group> executables: the only code
 * that calls allocators on the front end's behalf. Built once per allocator
 * group (bench/meson.build), so each worker holds only allocators that can
 * share a process, and the front end starts one process per measurement.
 *
 *   hb-worker-GROUP --list     one line per allocator: name, version,
 *                              description, tab-separated
 */
#include "hb_allocator.h"

#include <stdio.h>
#include <string.h>

static int list_allocators(void) {
  for (size_t i = 0; i < hb_allocator_count(); i++) {
    const hb_allocator *a = hb_allocator_at(i);
    printf("%s\t%s\t%s\n", a->name, a->version(), a->description);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--list") == 0) return list_allocators();
  fprintf(stderr, "usage: %s --list\n", argv[0]);
  return 2;
}
