/* hb_trace_cli.h — the `heapbench` subcommands implemented in traces/:
 * each takes the arguments after `heapbench` (argv[0] is the command's
 * name) and returns the process exit status. */
#ifndef HB_TRACE_CLI_H
#define HB_TRACE_CLI_H

int hb_trace_main(int argc, char **argv);  /* heapbench trace info|convert|dump */
int hb_record_main(int argc, char **argv); /* heapbench record [-o DIR] -- PROGRAM ARGS... */

#endif
