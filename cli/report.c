/* report.c — `heapbench report RESULTS.json... -o DIR`: the charts and the
 * HTML report are drawn by plots/report.py with matplotlib, so this command
 * only replaces itself with the Python interpreter meson found at configure
 * time (one that imports matplotlib and numpy; the `python3` on PATH may
 * not) running that script with the same arguments. */
#include "cli/hb_cli_config.h" /* HB_REPORT_PYTHON, HB_REPORT_SCRIPT */
#include "hb_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int hb_cmd_report(int argc, char **argv) {
#ifdef HB_REPORT_PYTHON
  /* argv[0] is "report": the script stands in its place. */
  char **args = calloc((size_t)argc + 2, sizeof *args);
  if (!args) {
    fprintf(stderr, "heapbench report: out of memory\n");
    return 1;
  }
  args[0] = (char *)HB_REPORT_PYTHON;
  args[1] = (char *)HB_REPORT_SCRIPT;
  for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
  args[argc + 1] = NULL;
  execv(HB_REPORT_PYTHON, args);
  fprintf(stderr, "heapbench report: cannot run %s: %s\n", HB_REPORT_PYTHON, strerror(errno));
  free(args);
  return 1;
#else
  (void)argc;
  (void)argv;
  fprintf(stderr,
          "heapbench report: this build has no Python with matplotlib and numpy "
          "(install python3-matplotlib python3-numpy, then meson setup --reconfigure build)\n");
  return 1;
#endif
}
