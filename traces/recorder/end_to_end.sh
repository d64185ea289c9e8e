#!/usr/bin/env bash
# end_to_end.sh — what `heapbench record` costs a malloc-heavy program from
# start to end: the program under the recorder, then the conversion of its
# raw files into a .hbt. python3 with PYTHONMALLOC=malloc runs work.py
# (about 6M allocator calls) ROUNDS times plain, ROUNDS times under
# `heapbench record` and ROUNDS times with the recorder preloaded alone
# (no conversion), taking turns; prints the median wall time of each,
# their ratios, and the conversion's own time as the trace stores it
# (trace info), the median of the rounds' own ratios (the figure the
# benchmark holds to 1.5x: fails above), and a split of what record adds
# between the recorder in the program and what comes after it.
# The recorder is the one beside HEAPBENCH in its build tree (or
# $HEAPBENCH_RECORDER). Usage: end_to_end.sh HEAPBENCH TMPDIR [ROUNDS]
set -u
heapbench=$1
dir=$2
rounds=${3:-5}
script_name=end_to_end.sh
. "$(dirname "$0")/bench_setup.sh"
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
recorder=${HEAPBENCH_RECORDER:-$(dirname "$heapbench")/traces/recorder/libhb_record.so}
[ -r "$recorder" ] || { echo "$script_name: no recorder at $recorder"; exit 1; }
plain=() recorded=() converted=() preloaded=()
for ((i = 0; i < rounds; i++)); do
  t=$(seconds $python "$dir/work.py") || exit 1
  plain+=("$t")
  rm -rf "$dir/out"
  t=$(seconds "$heapbench" record -o "$dir/out" -- $python "$dir/work.py") || exit 1
  recorded+=("$t")
  info=$("$heapbench" trace info "$dir"/out/*.hbt) || exit 1
  ops=$(sed -n 's/^ops *//p' <<<"$info")
  converted+=("$(sed -n 's/^recorder .*converted in \([0-9.]*\) ms.*/\1/p' <<<"$info")")
  rm -rf "$dir/raw" && mkdir "$dir/raw" || exit 1
  t=$(seconds env LD_PRELOAD="$recorder" HB_RECORD_DIR="$dir/raw" $python "$dir/work.py") || exit 1
  preloaded+=("$t")
  rm -rf "$dir/raw" # as record does: its dirty pages never written back meanwhile
done
plain_s=$(printf '%s\n' "${plain[@]}" | median)
recorded_s=$(printf '%s\n' "${recorded[@]}" | median)
preloaded_s=$(printf '%s\n' "${preloaded[@]}" | median)
convert_ms=$(printf '%s\n' "${converted[@]}" | median)
ratio=$(awk "BEGIN { print $recorded_s / $plain_s }")
# Each round's record over the same round's plain run, run just before it:
# this machine's speed drifts by up to a third from minute to minute (two
# levels, ~1.4 s and ~1.8 s plain, 2026-12-02), and a drift between the
# runs of two different rounds moves the ratio of the medians; the median
# of the rounds' own ratios cancels what the two runs of a round share.
paired=$(for ((i = 0; i < rounds; i++)); do awk "BEGIN { print ${recorded[i]} / ${plain[i]} }"; done | median)
printf 'record-end-to-end: python3 (PYTHONMALLOC=malloc), %s ops: plain %.3f s, heapbench record %.3f s, ratio %.2fx; conversion %.0f ms (%.1f M ops/s) (medians of %d)\n' \
  "$ops" "$plain_s" "$recorded_s" "$ratio" "$convert_ms" \
  "$(awk "BEGIN { print $ops / ($convert_ms * 1000) }")" "$rounds"
printf 'record-end-to-end: median of the rounds'"'"' own ratios (record / the plain run before it) %.2fx, rounds %s\n' \
  "$paired" "$(for ((i = 0; i < rounds; i++)); do awk "BEGIN { printf \"%.2f \", ${recorded[i]} / ${plain[i]} }"; done)"
printf 'record-end-to-end: of the %.3f s record adds, the recorder in the program %.3f s (recorded alone %.3f s, %.2fx), after it %.3f s\n' \
  "$(awk "BEGIN { print $recorded_s - $plain_s }")" "$(awk "BEGIN { print $preloaded_s - $plain_s }")" \
  "$preloaded_s" "$(awk "BEGIN { print $preloaded_s / $plain_s }")" \
  "$(awk "BEGIN { print $recorded_s - $preloaded_s }")"
rm -rf "$dir/out"
awk "BEGIN { exit !($paired <= 1.5) }"
