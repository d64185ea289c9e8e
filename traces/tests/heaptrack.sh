#!/usr/bin/env bash
# heaptrack.sh — the recorder against heaptrack on a real program: the
# number of allocation calls and the peak live heap must agree within 0.1%.
# Skipped (77) where heaptrack is not installed.
#
# Like with like:
#  - the same deterministic run: python3 with PYTHONMALLOC=malloc (every
#    object through malloc), PYTHONHASHSEED=0, address randomisation off;
#  - the same libraries loaded: heaptrack's preload library pulls in
#    libstdc++, whose start-up allocates its exception pool (72704 bytes,
#    live to the end) through the traced malloc, so the recorder's run
#    preloads libstdc++ too;
#  - heaptrack's calls come from heaptrack_print; its exact peak is replayed
#    from heaptrack's own data file ('a' size records, '+' allocations, '-'
#    frees), whose '+' count must equal heaptrack_print's figure.
# Usage: heaptrack.sh HEAPBENCH RECORDER_SO TMPDIR
set -u
heapbench=$1
recorder=$2
dir=$3
python=/usr/bin/python3
for tool in heaptrack heaptrack_print zstd setarch; do
  command -v $tool >/dev/null || { echo "heaptrack.sh: $tool not installed, skipped"; exit 77; }
done
[ -x $python ] || { echo "heaptrack.sh: $python missing, skipped"; exit 77; }
rm -rf "$dir" && mkdir -p "$dir" || exit 1

cat > "$dir/work.py" <<'PY'
d = {}
for i in range(20000):
    d[str(i)] = [i, str(i) * 3, {"k": i}]
    if i % 3 == 0:
        del d[str(i // 2)]
print(len(sorted(d.keys())))
PY
export PYTHONHASHSEED=0 PYTHONMALLOC=malloc
norandom=(setarch "$(uname -m)" -R)

"${norandom[@]}" heaptrack -o "$dir/heaptrack" $python "$dir/work.py" >"$dir/heaptrack.log" 2>&1 ||
  { echo "heaptrack failed:"; cat "$dir/heaptrack.log"; exit 1; }
data=$(ls "$dir"/heaptrack.* | grep -v '\.log$' | head -1)
calls_printed=$(heaptrack_print -p 0 -a 0 -T 0 -l 0 "$data" |
                sed -n 's/^calls to allocation functions: \([0-9]*\).*/\1/p')
read -r calls_heaptrack peak_heaptrack < <($python - "$data" <<'PY'
import subprocess, sys
text = subprocess.run(["zstd", "-dcf", sys.argv[1]], capture_output=True, check=True).stdout
sizes, live, peak, calls = [], 0, 0, 0
for line in text.decode().splitlines():
    if line.startswith("a "):
        sizes.append(int(line.split()[1], 16))
    elif line.startswith("+ "):
        live += sizes[int(line[2:], 16)]
        calls += 1
        peak = max(peak, live)
    elif line.startswith("- "):
        live -= sizes[int(line[2:], 16)]
print(calls, peak)
PY
)

stdcxx=$(ldd /usr/lib/heaptrack/libheaptrack_preload.so 2>/dev/null | awk '/libstdc\+\+/ {print $3}')
# libstdc++ goes into python's preload list only (heapbench itself may be a
# sanitizer build, whose runtime must come first in its own list).
"${norandom[@]}" "$heapbench" record -o "$dir/hb" -- \
  env LD_PRELOAD="$recorder${stdcxx:+:$stdcxx}" $python "$dir/work.py" >"$dir/record.log" ||
  { echo "heapbench record failed:"; cat "$dir/record.log"; exit 1; }
info=$("$heapbench" trace info "$dir"/hb/python3*.hbt) || exit 1
count() { sed -n "s/^  $1 *\([0-9]*\).*/\1/p" <<<"$info"; }
calls_ours=$(( $(count malloc) + $(count calloc) + $(count aligned) + $(count realloc) ))
peak_ours=$(sed -n 's/^peak live   \([0-9]*\) bytes.*/\1/p' <<<"$info")

echo "heaptrack: $calls_printed calls (heaptrack_print), $calls_heaptrack in its data, peak $peak_heaptrack bytes"
echo "recorder:  $calls_ours calls, peak $peak_ours bytes"
$python - "$calls_printed" "$calls_heaptrack" "$peak_heaptrack" "$calls_ours" "$peak_ours" <<'PY'
import sys
printed, calls_ht, peak_ht, calls, peak = map(int, sys.argv[1:])
ok = printed == calls_ht
if not ok:
    print(f"FAIL: heaptrack_print says {printed} calls, its data file holds {calls_ht}")
for name, theirs, ours in (("calls", calls_ht, calls), ("peak", peak_ht, peak)):
    off = abs(ours - theirs) / theirs
    print(f"{name}: off by {ours - theirs} ({100 * off:.4f}%)")
    if off > 0.001:
        print(f"FAIL: {name} differs by more than 0.1%")
        ok = False
sys.exit(0 if ok else 1)
PY
