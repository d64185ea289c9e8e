#!/usr/bin/env bash
# overhead.sh — the recorder's cost on a malloc-heavy real program:
# python3 with PYTHONMALLOC=malloc (every object through malloc) building
# and trimming a dict of lists, run ROUNDS times plain and ROUNDS times with
# the recorder preloaded (alternating, raw files on the same disk as the
# build). Prints the best wall time of each and the ratio; fails above
# 1.5x. The best of several runs stands for the cost on an idle machine.
# Usage: overhead.sh RECORDER_SO HEAPBENCH TMPDIR [ROUNDS]
set -u
recorder=$1
heapbench=$2
dir=$3
rounds=${4:-5}
script_name=overhead.sh
. "$(dirname "$0")/bench_setup.sh"
min() { awk "BEGIN { print ($1 < $2) ? $1 : $2 }"; }
best_plain=999 best_recorded=999
for ((i = 0; i < rounds; i++)); do
  t=$(seconds $python "$dir/work.py") || exit 1
  best_plain=$(min "$t" "$best_plain")
  rm -f "$dir"/*.hbraw
  t=$(seconds env LD_PRELOAD="$recorder" HB_RECORD_DIR="$dir" $python "$dir/work.py") || exit 1
  best_recorded=$(min "$t" "$best_recorded")
done
ops=$("$heapbench" trace info "$dir"/*.t0.hbraw 2>/dev/null | sed -n 's/^ops *//p')
ratio=$(awk "BEGIN { print $best_recorded / $best_plain }")
printf 'recorder-overhead: python3 (PYTHONMALLOC=malloc), %s allocator calls: plain %.3f s, recorded %.3f s, ratio %.2fx (best of %d)\n' \
  "${ops:-?}" "$best_plain" "$best_recorded" "$ratio" "$rounds"
rm -f "$dir"/*.hbraw
awk "BEGIN { exit !($ratio <= 1.5) }"
