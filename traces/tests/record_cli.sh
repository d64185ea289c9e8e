#!/usr/bin/env bash
# record_cli.sh — `heapbench record` as a user runs it: what it refuses
# (static programs), what is no error (a program that allocates nothing),
# fork then exec is complete, --main-only, --min-ops, the closing summary,
# the note for Python without PYTHONMALLOC=malloc, and traces converted
# otherwise than by default holding the ops their raw files hold: by two
# threads in batches of a few ops through a ring of two
# (HEAPBENCH_CONVERT_*), and while the program runs
# (HEAPBENCH_RECORD_FOLLOW=1).
# Usage: record_cli.sh HEAPBENCH STATIC_TARGET TMPDIR RECORD_TARGET
set -u
heapbench=$1
static_target=$2
dir=$3
record_target=$4
rm -rf "$dir" && mkdir -p "$dir" || exit 1
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# A statically linked program: refused, exit 1, nothing written.
err=$("$heapbench" record -o "$dir/static" -- "$static_target" 2>&1 >/dev/null)
[ $? -eq 1 ] || fail "static program: exit status not 1"
grep -q "cannot record .*statically linked" <<<"$err" || fail "static program: said '$err'"
ls "$dir/static"/*.hbt >/dev/null 2>&1 && fail "static program: a trace was written"

# A dynamically linked program that allocates nothing: no error.
out=$("$heapbench" record -o "$dir/true" -- /bin/true 2>&1)
[ $? -eq 0 ] || fail "/bin/true: exit status not 0: $out"
grep -q "made no allocation through malloc" <<<"$out" || fail "/bin/true: said '$out'"
grep -qi "statically\|setuid" <<<"$out" && fail "/bin/true: blamed on static/setuid: $out"

# fork then exec: every process complete; the summary names the largest.
script='ls / >/dev/null; echo hi | cat >/dev/null'
out=$("$heapbench" record -o "$dir/all" -- bash -c "$script" 2>&1) || fail "bash -c: $out"
grep -q "incomplete" <<<"$out" && fail "fork then exec flagged incomplete: $out"
written=$(ls "$dir/all"/*.hbt | wc -l)
[ "$written" -ge 3 ] || fail "bash -c: $written traces, want bash, ls, cat and helpers"
grep -q "^$written traces written, the largest $dir/all/.*\.hbt ([0-9]* ops)" <<<"$out" ||
  fail "bash -c: no summary line: $out"

out=$("$heapbench" record -o "$dir/main" --main-only -- bash -c "$script" 2>&1)
[ "$(ls "$dir/main"/*.hbt | wc -l)" -eq 1 ] || fail "--main-only: $(ls "$dir/main")"
grep -q "other process.* not written (--main-only)" <<<"$out" || fail "--main-only said: $out"

out=$("$heapbench" record -o "$dir/min" --min-ops 100000000 -- bash -c "$script" 2>&1)
ls "$dir/min"/*.hbt >/dev/null 2>&1 && fail "--min-ops: small traces written"
grep -q "not written (--min-ops)" <<<"$out" || fail "--min-ops said: $out"
"$heapbench" record --min-ops lots -- /bin/true 2>/dev/null; [ $? -eq 2 ] || fail "--min-ops lots accepted"

# Python: a note naming PYTHONMALLOC=malloc, unless it is set.
if [ -x /usr/bin/python3 ]; then
  err=$(env -u PYTHONMALLOC "$heapbench" record -o "$dir/py" -- /usr/bin/python3 -c pass 2>&1 >/dev/null)
  grep -q "set PYTHONMALLOC=malloc" <<<"$err" || fail "python3: no PYTHONMALLOC note: '$err'"
  [ "$(grep -c PYTHONMALLOC <<<"$err")" -eq 1 ] || fail "python3: the note is not one line: $err"
  err=$(PYTHONMALLOC=malloc "$heapbench" record -o "$dir/py2" -- /usr/bin/python3 -c pass 2>&1 >/dev/null)
  grep -q "PYTHONMALLOC" <<<"$err" && fail "python3 with PYTHONMALLOC=malloc: note anyway"
fi

# The recorder's own cost travels with the trace: trace info shows its
# records (a realloc is two: at least the ops), raw bytes and the time the
# conversion took; the raw files kept say the same records and bytes, and
# hold the same ops (times aside: for a process that lived under a
# millisecond, each reading measures the TSC's rate itself).
out=$("$heapbench" record -o "$dir/cost" --keep-raw -- /bin/ls -l / 2>&1) || fail "ls: $out"
hbt=$(ls "$dir/cost"/*.hbt | head -1)
raw=$(ls "$dir/cost"/raw-*/*.t0.hbraw | head -1)
info=$("$heapbench" trace info "$hbt")
cost=$(grep '^recorder ' <<<"$info")
ops=$(sed -n 's/^ops *//p' <<<"$info")
records=$(sed -n 's/^recorder *\([0-9]*\) records.*/\1/p' <<<"$cost")
grep -q "^recorder *[0-9]* records, [0-9]* raw bytes (.* bytes/record); converted in [0-9.]* ms" \
  <<<"$cost" || fail "trace info: no recorder line: $info"
[ -n "$records" ] && [ -n "$ops" ] && [ "$records" -ge "$ops" ] && [ "$ops" -gt 0 ] ||
  fail "trace info: $records records for $ops ops"
raw_cost=$("$heapbench" trace info "$raw" | grep '^recorder ')
[ "${raw_cost%%;*}" = "${cost%%;*}" ] || fail "raw files say '$raw_cost', the trace '$cost'"
ops_of() { "$heapbench" trace dump "$1" | tail -n +2 | sed 's/ t=[0-9]*$//'; }
cmp -s <(ops_of "$hbt") <(ops_of "$raw") ||
  fail "the trace's ops differ from the raw files'"

# Five threads freeing each other's blocks, converted by a reader and a
# writer thread in batches of 5 ops through a ring of 2: the trace's ops
# are those of its raw files (times aside, as above).
out=$(HEAPBENCH_CONVERT_THREADS=2 HEAPBENCH_CONVERT_BATCH_OPS=5 HEAPBENCH_CONVERT_RING_BATCHES=2 \
      "$heapbench" record -o "$dir/threads" --keep-raw -- "$record_target" threads 2>&1) ||
  fail "threads: $out"
hbt=$(ls "$dir/threads"/*.hbt | head -1)
raw=$(ls "$dir/threads"/raw-*/*.t0.hbraw | head -1)
grep -q "5 threads" <<<"$out" || fail "threads: $out"
cmp -s <(ops_of "$hbt") <(ops_of "$raw") ||
  fail "threads: the trace converted in small batches differs from its raw files"

# Converted while the program runs (HEAPBENCH_RECORD_FOLLOW=1): one
# thread for 400,000 calls, then 300 ms idle (when an idle-priority
# follower runs even on a busy machine, most likely); five threads, which
# following leaves to the end from the second on. The same ops as their
# raw files.
for mode in long threads; do
  out=$(HEAPBENCH_RECORD_FOLLOW=1 "$heapbench" record -o "$dir/follow-$mode" --keep-raw -- \
        "$record_target" "$mode" 200000 300 2>&1) || fail "follow $mode: $out"
  hbt=$(ls "$dir/follow-$mode"/*.hbt | head -1)
  raw=$(ls "$dir/follow-$mode"/raw-*/*.t0.hbraw | head -1)
  cmp -s <(ops_of "$hbt") <(ops_of "$raw") ||
    fail "follow $mode: the trace converted while the program ran differs from its raw files"
done

echo "record_cli.sh: $failures failures"
[ "$failures" -eq 0 ]
