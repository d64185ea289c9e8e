#!/usr/bin/env bash
# pairs.sh PAIRS LIBRARY [RUNS] — pairs.c on glibc and under the drop-in,
# alternating, RUNS times each (default 7); prints every run and the median
# ns per malloc/free pair of each. A benchmark: it asserts nothing.
set -euo pipefail
pairs=$1 library=$2 runs=${3:-7}
glibc=() dropin=()
for ((r = 0; r < runs; r++)); do
  glibc+=("$("$pairs")")
  dropin+=("$(LD_PRELOAD=$library "$pairs")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
echo "glibc:    ${glibc[*]} ns/pair, median $(median "${glibc[@]}")"
echo "libhb-sbrk: ${dropin[*]} ns/pair, median $(median "${dropin[@]}")"
