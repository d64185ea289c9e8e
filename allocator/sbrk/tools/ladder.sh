#!/bin/sh
# ladder.sh HEAPBENCH LADDER_TABLE JSON ALLOCATORS REPEAT TRACE... — the sbrk
# ladder side by side: `heapbench replay --json JSON` on the traces, then
# plots/ladder_table.py's table (Mops/s / utilization) from that JSON.
# Exits 77 (meson's "skipped") when the first trace is absent: the shared
# traces live outside the project.
set -e
heapbench=$1 table=$2 json=$3 allocators=$4 repeat=$5
shift 5
[ -e "$1" ] || { echo "skipped: $1 is absent"; exit 77; }
"$heapbench" replay --allocators "$allocators" --repeat "$repeat" --json "$json" "$@"
echo
/usr/bin/python3 "$table" "$json" "$allocators"
