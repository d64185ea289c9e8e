/* heapbench.c — the `heapbench` command: dispatches to the subcommand that
 * each folder implements. */
#include "hb_replay.h"
#include "hb_trace_cli.h"
#include "hb_workers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmd_list(int argc, char **argv) {
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

int hb_cmd_report(int argc, char **argv); /* cli/report.c */

static const struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} commands[] = {
    {"list", cmd_list, "list the allocators this build can measure"},
    {"replay", hb_replay_command, "replay traces on allocators: speed, memory, reuse"},
    {"trace", hb_trace_main, "look at and convert traces: info, convert, dump"},
    {"record", hb_record_main, "run a program and record its allocator calls"},
    {"report", hb_cmd_report, "charts and an HTML report from replay / Google Benchmark JSON"},
};

static void usage(FILE *out) {
  fprintf(out, "usage: heapbench COMMAND [ARGS...]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\n`heapbench COMMAND --help` describes one command.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "heapbench: unknown command '%s' (try heapbench --help)\n", argv[1]);
  return 2;
}
