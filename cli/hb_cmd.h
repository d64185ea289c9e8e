/* hb_cmd.h — the entry points of the `heapbench` subcommands, one per
 * command, whichever folder implements it. Each takes the arguments after
 * `heapbench` (argv[0] is the command's name: "replay", "trace", ...) and
 * returns the process exit status (2: bad usage). cli/heapbench.c
 * dispatches to them. */
#ifndef HB_CMD_H
#define HB_CMD_H

/* heapbench list (cli/list.c) */
int hb_cmd_list(int argc, char **argv);
/* heapbench version, heapbench --version (cli/list.c) */
int hb_cmd_version(int argc, char **argv);
/* heapbench replay [OPTIONS] [TRACE...] (bench/replay.c) */
int hb_cmd_replay(int argc, char **argv);
/* heapbench run [OPTIONS] -- PROGRAM ARGS... (bench/run.c) */
int hb_cmd_run(int argc, char **argv);
/* heapbench trace info|convert|dump (traces/trace_cmd.c) */
int hb_cmd_trace(int argc, char **argv);
/* heapbench record [-o DIR] [OPTIONS] -- PROGRAM ARGS... (traces/record_cmd.c) */
int hb_cmd_record(int argc, char **argv);
/* heapbench report RESULTS.json... -o DIR (cli/report.c) */
int hb_cmd_report(int argc, char **argv);

#endif
