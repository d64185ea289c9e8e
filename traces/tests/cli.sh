#!/usr/bin/env bash
# cli.sh — `heapbench trace info|convert|dump` end to end: good input gives
# the figures, bad input one line naming the file and where, a non-zero
# exit and no crash.
# Usage: cli.sh HEAPBENCH TMPDIR [BUNDLED_TRACES_DIR]
set -u
heapbench=$1
dir=$2
bundled=${3:-}
rm -rf "$dir" && mkdir -p "$dir" || exit 1
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# A valgrind log: 3 allocations, a realloc, a free of an unknown pointer,
# a failed allocation, frees.
cat > "$dir/demo.trace" <<'LOG'
==9== Command: ./demo
--9-- malloc(10) = 0x1000
--9-- calloc(2,8) = 0x2000
--9-- memalign(al 64, size 100) = 0x3000
--9-- realloc(0x1000,40) = 0x4000
--9-- free(0x9999)
--9-- malloc(5) = 0x0
--9-- free(0x4000)
--9-- free(0x2000)
LOG

out=$("$heapbench" trace info "$dir/demo.trace") || fail "info on a valgrind log failed"
for want in "threads     1" "ops         6" "  malloc    1" "  calloc    1" "  aligned   1" \
            "  realloc   1 (0 of NULL)" "  free      2 (0 of NULL)" "requested   166 bytes" \
            "peak live   156 bytes in 3 blocks" \
            "dropped     2 ops: 1 frees of unknown pointers, 1 allocations that returned NULL"; do
  grep -qxF -- "$want" <<<"$out" || fail "info lacks '$want'"
done
grep -Eq "^  64\.\.127 +1 #" <<<"$out" || fail "info lacks the 64..127 size bucket"
grep -q "^skipped" <<<"$out" && fail "info reports other processes in a log of one"

# A log of two processes (--trace-children=yes): the first is read, the
# other's calls are counted and reported, by info and by replay.
{ cat "$dir/demo.trace"; echo "--10-- malloc(7) = 0x1000"; echo "--10-- free(0x1000)"; } > "$dir/two.trace"
out=$("$heapbench" trace info "$dir/two.trace") || fail "info on a two-process log failed"
grep -qxF "ops         6" <<<"$out" || fail "two-process log: not the first process's 6 ops"
grep -qxF "skipped     2 calls of other processes (a log of several; only the first, pid 9, is read)" \
  <<<"$out" || fail "two-process log: info does not say what it skipped: $out"
err=$("$heapbench" replay --allocators glibc --repeat 1 "$dir/two.trace" 2>&1 >/dev/null) ||
  fail "replay of a two-process log failed: $err"
grep -q "only the first process (pid 9) is replayed; 2 calls of other processes skipped" \
  <<<"$err" || fail "replay does not say what it skipped: $err"

out=$("$heapbench" trace convert "$dir/demo.trace" "$dir/demo.hbt") || fail "convert failed"
grep -q "^wrote $dir/demo.hbt: 6 ops, 1 threads, 3 blocks" <<<"$out" || fail "convert said: $out"
grep -q "dropped     2 ops: 1 frees of unknown pointers, 1 allocations that returned NULL" \
  <<<"$out" || fail "convert hid the dropped ops: $out"
"$heapbench" trace info "$dir/demo.hbt" | grep -q "bytes/op" || fail "info on .hbt lacks bytes/op"
"$heapbench" trace info "$dir/demo.hbt" | grep -q "^dropped     2 ops" ||
  fail ".hbt lost the dropped count"
"$heapbench" trace convert "$dir/demo.hbt" "$dir/demo.rep" >/dev/null || fail "export to .rep"
[ "$(head -4 "$dir/demo.rep" | tr '\n' ' ')" = "156 3 6 1 " ] || fail ".rep header: $(head -4 "$dir/demo.rep")"
lines=$("$heapbench" trace dump "$dir/demo.hbt" | wc -l)
[ "$lines" -eq 8 ] || fail "dump wrote $lines lines, want 2 + 6"
"$heapbench" trace dump "$dir/demo.hbt" | grep -qx "2 0 aligned 2 100 align=64" ||
  fail "dump lacks the aligned op"
# Output format by extension only.
"$heapbench" trace convert "$dir/demo.hbt" "$dir/demo.txt" 2>/dev/null && fail "convert to .txt"

# Bad input: one line on stderr naming the file and an offset or line.
expect_error() { # FILE PATTERN WHAT
  local err status
  err=$("$heapbench" trace info "$1" 2>&1 >/dev/null)
  status=$?
  [ "$status" -eq 1 ] || fail "$3: exit status $status, want 1"
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "$3: more than one line: $err"
  grep -q -- "$2" <<<"$err" || fail "$3: message '$err' lacks '$2'"
}
size=$(stat -c %s "$dir/demo.hbt")
head -c $((size - 3)) "$dir/demo.hbt" > "$dir/truncated.hbt"
expect_error "$dir/truncated.hbt" "^heapbench trace: $dir/truncated.hbt: offset [0-9]" "truncated .hbt"
cp "$dir/demo.hbt" "$dir/corrupted.hbt"
printf '\377' | dd of="$dir/corrupted.hbt" bs=1 seek=$((size - 2)) conv=notrunc status=none
expect_error "$dir/corrupted.hbt" "$dir/corrupted.hbt: offset [0-9]*: .*checksum" "corrupted .hbt"
head -c 40 "$heapbench" > "$dir/foreign.bin"
expect_error "$dir/foreign.bin" "$dir/foreign.bin: offset 0: unknown trace format" "an ELF file"
printf '1\n2\n3\n1\na 0 10\na 1\nf 0\n' > "$dir/bad.rep"
expect_error "$dir/bad.rep" "$dir/bad.rep:6: malformed 'a'" "malformed .rep"
: > "$dir/empty.hbt"
expect_error "$dir/empty.hbt" "$dir/empty.hbt: offset 0: empty" "empty file"
expect_error "$dir/missing.hbt" "$dir/missing.hbt: cannot open" "missing file"
# A directory: every trace in it, by name (here: bad ones among them).
"$heapbench" trace info "$dir" >/dev/null 2>&1 && fail "info on a directory of bad traces exit 0"
"$heapbench" trace convert "$dir/truncated.hbt" "$dir/out.hbt" 2>/dev/null && fail "convert of a truncated file succeeded"
[ -e "$dir/out.hbt" ] && fail "convert of a truncated file left an output"
"$heapbench" trace 2>/dev/null; [ $? -eq 2 ] || fail "trace without arguments should exit 2"
"$heapbench" trace frobnicate x 2>/dev/null; [ $? -eq 2 ] || fail "unknown subcommand should exit 2"

# The bundled traces load, with nothing dropped: the default data of
# `heapbench replay` (zstd-wrapped: at least five real programs of at least
# 1M ops each, one of them multi-threaded) and the tests' small ones.
if [ -n "$bundled" ]; then
  found=0 large=0 threaded=0
  for trace in "$bundled"/*.hbt "$bundled"/*.hbt.zst "$bundled"/small/*.hbt; do
    [ -e "$trace" ] || continue
    found=$((found + 1))
    out=$("$heapbench" trace info "$trace") || { fail "bundled $trace does not load"; continue; }
    grep -q "^dropped     0 ops" <<<"$out" || fail "bundled $trace dropped ops"
    grep -q "bytes/op" <<<"$out" || fail "bundled $trace: no bytes/op"
    case "$trace" in
      */small/*) ;;
      *)
        ops=$(awk '$1 == "ops" {print $2}' <<<"$out")
        threads=$(awk '$1 == "threads" {print $2}' <<<"$out")
        [ "${ops:-0}" -ge 1000000 ] || fail "default trace $trace has ${ops:-no} ops, not 1M"
        large=$((large + 1))
        [ "${threads:-1}" -gt 1 ] && threaded=$((threaded + 1))
        ;;
    esac
  done
  [ "$found" -ge 9 ] || fail "only $found bundled traces in $bundled"
  [ "$large" -ge 5 ] || fail "only $large default traces in $bundled"
  [ "$threaded" -ge 1 ] || fail "no multi-threaded default trace in $bundled"
fi

echo "cli.sh: $failures failures"
[ "$failures" -eq 0 ]
