/* main.c — main() of the hb-gbench-<group> executables: registers every
 * family for every allocator the group's registry holds, then hands the
 * command line to Google Benchmark.
 *
 *   hb-gbench-GROUP [--traces=DIR] [--benchmark_... options]
 *                          run (see --help); the trace family replays
 *                          every .hbt file in DIR (default: the small traces, traces/data/small)
 *   hb-gbench-GROUP --list-allocators           the registry, one name a line
 *
 * Families run in registration order: all allocators of one family, then
 * the next family. They share one process, so each benchmark starts from
 * the heap the previous ones left.
 */
#include "families.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--list-allocators") == 0) {
    for (size_t i = 0; i < hb_allocator_count(); i++) printf("%s\n", hb_allocator_at(i)->name);
    return 0;
  }
  void (*const families[])(const hb_allocator *) = {
      hb_gbf_register_pairs,  hb_gbf_register_blocks,  hb_gbf_register_realloc,
      hb_gbf_register_threads,
  };
  for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
    for (size_t i = 0; i < hb_allocator_count(); i++) families[f](hb_allocator_at(i));

  /* --traces=DIR is ours: taken out before Google Benchmark sees argv. */
  const char *trace_dir = HB_GBF_TRACE_DIR;
  int kept = 1;
  for (int i = 1; i < argc; i++) {
    if (strncmp(argv[i], "--traces=", 9) == 0)
      trace_dir = argv[i] + 9;
    else
      argv[kept++] = argv[i];
  }
  argv[kept] = NULL;
  hb_gbf_register_traces(trace_dir);
  return hb_gb_main(kept, argv);
}
