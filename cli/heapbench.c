/* heapbench.c — the `heapbench` command: dispatches to the subcommands
 * (their entry points: hb_cmd.h). */
#include "hb_cmd.h"

#include <stdio.h>
#include <string.h>

static const struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} commands[] = {
    {"list", hb_cmd_list, "list the allocators this build can measure"},
    {"replay", hb_cmd_replay, "replay traces on allocators: speed, memory, reuse"},
    {"run", hb_cmd_run, "run a whole program under each allocator: time, memory"},
    {"trace", hb_cmd_trace, "look at and convert traces: info, convert, dump"},
    {"record", hb_cmd_record, "run a program and record its allocator calls"},
    {"report", hb_cmd_report, "charts and an HTML report from replay / Google Benchmark JSON"},
    {"version", hb_cmd_version, "the version of heapbench and of each allocator"},
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
  if (strcmp(argv[1], "--version") == 0) return hb_cmd_version(argc - 1, argv + 1);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "heapbench: unknown command '%s' (try heapbench --help)\n", argv[1]);
  return 2;
}
