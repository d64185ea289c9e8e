#!/usr/bin/env bash
# workloads.sh — records real programs with `heapbench record` into
# replayable traces, one <name>.hbt per workload.
#
#   traces/workloads.sh small HEAPBENCH OUTDIR   the bundled set (traces/data/):
#                                                small, a few hundred KB in all
#   traces/workloads.sh large HEAPBENCH OUTDIR   larger workloads for allocator
#                                                benchmarks, >= 500k ops each
#
# `meson compile -C build record-workloads` runs the large set into
# build/workloads/. Needs python3, sqlite3, gcc, git and perl (quickstart
# installs them). Inputs (a C file, a git repository) are generated in a
# temporary directory, so the recordings depend on no file of this tree.
set -euo pipefail
size=${1:?usage: workloads.sh small|large HEAPBENCH OUTDIR}
heapbench=${2:?}
out=${3:?}
case "$size" in small|large) ;; *) echo "workloads.sh: small or large, not $size" >&2; exit 2 ;; esac
heapbench=$(realpath "$heapbench")
mkdir -p "$out"
out=$(realpath "$out")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# record NAME PROGRAM-NAME COMMAND...: records COMMAND, keeps the trace of the
# process named PROGRAM-NAME (gcc runs cc1 and as; git runs git) as
# OUTDIR/NAME.hbt, the largest one if there are several.
record() {
  local name=$1 keep=$2
  shift 2
  rm -rf rec
  "$heapbench" record -o rec -- "$@" >rec.log || { cat rec.log >&2; return 1; }
  local trace
  trace=$(ls -S rec/"$keep"-*.hbt 2>/dev/null | head -1)
  [ -n "$trace" ] || { echo "workloads.sh: $name: no $keep trace in: $(ls rec)" >&2; return 1; }
  mv "$trace" "$out/$name.hbt"
  "$heapbench" trace info "$out/$name.hbt" |
    awk -v name="$name" '/^file/ {bytes = $4; sub(/^\(/, "", bytes)} /^ops/ {ops = $2}
                         /^threads/ {threads = $2}
                         END {printf "%-18s %9d ops %2d threads %10s bytes\n", name, ops, threads, bytes}'
}

# A C file of N small functions, for cc1.
c_file() {
  /usr/bin/python3 - "$1" <<'PY'
import sys
n = int(sys.argv[1])
print("#include <stdio.h>\n#include <string.h>")
print("struct item { int key; char name[16]; struct item *next; };")
for i in range(n):
    k = i % 13 + 2
    print(f"static int f{i}(const struct item *it, int x) {{ int a[{k}]; memset(a, 0, sizeof a);"
          f" for (int j = 0; j < {k}; j++) a[j] = x * j + it->key + {i};"
          f" return a[{k - 1}] + (it->next ? f{max(i - 1, 0)}(it->next, x - 1) : 0); }}")
print("int main(void) { struct item b = {1, \"b\", 0}, a = {2, \"a\", &b}; int s = 0;")
for i in range(0, n, 5):
    print(f"  s += f{i}(&a, s & 7);")
print('  printf("%d\\n", s); return 0; }')
PY
}

# A git repository with N files and COMMITS commits, each changing every
# 7th file; then N/10 files modified and not committed.
git_repo() {
  local files=$1 commits=${2:-1}
  git init -q repo
  for ((i = 0; i < files; i++)); do printf 'line %d\nsome text %d\n' $i $((i * 7)) > repo/f$i.txt; done
  git -C repo add .
  for ((c = 0; c < commits; c++)); do
    if [ $c -gt 0 ]; then
      for ((i = c; i < files; i += 7)); do echo "change $c" >> repo/f$i.txt; done
    fi
    git -C repo -c user.email=heapbench@example.invalid -c user.name=heapbench commit -qam "commit $c"
  done
  for ((i = 0; i < files; i += 10)); do echo changed >> repo/f$i.txt; done
}

if [ "$size" = small ]; then
  # python3 with its own small-object allocator (the default): malloc sees
  # the larger objects.
  record python3-json python3 /usr/bin/python3 -c '
import json
rows = [{"id": i, "name": "item%d" % i, "tags": ["t%d" % (i % 7)] * (i % 5), "text": "lorem ipsum " * (i % 90)} for i in range(300)]
print(len(json.loads(json.dumps(rows))))'
  record sqlite3-index sqlite3 sqlite3 :memory: "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT);
    WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<3000)
    INSERT INTO t SELECT x, printf('%05d', x*7919 % 10007) FROM c;
    CREATE INDEX tb ON t(b);
    SELECT count(*), min(b), max(b) FROM t GROUP BY substr(b,1,2) ORDER BY 1 DESC LIMIT 3;"
  # No #include: cc1 on the code itself, not on libc's headers.
  printf '%s\n' 'struct item { int key; struct item *next; };' \
    'static int walk(const struct item *it, int x) { int s = 0; for (; it; it = it->next) s += it->key * x; return s; }' \
    'int main(void) { struct item b = {1, 0}, a = {2, &b}; return walk(&a, 3) & 1; }' > small.c
  record cc1-O2 cc1 gcc -O2 -c small.c -o small.o
  git_repo 300
  record git-status git git -C repo status --short
  record git-grep-threads git git -C repo grep -c line
else
  export PYTHONHASHSEED=0
  PYTHONMALLOC=malloc record python3-dicts python3 /usr/bin/python3 -c '
d = {}
for i in range(50000):
    d[str(i)] = [i, str(i) * 3, {"k": i}]
    if i % 3 == 0:
        del d[str(i // 2)]
print(len(sorted(d.keys())))'
  record python3-json-large python3 /usr/bin/python3 -c '
import json, re
rows = [{"id": i, "name": "item%d" % i, "tags": ["t%d" % (i % 7)] * (i % 5), "text": "lorem ipsum " * (i % 90)} for i in range(3000)]
blob = json.dumps(rows)
words = re.findall(r"\w+", blob)
counts = {}
for w in words: counts[w] = counts.get(w, 0) + 1
print(len(json.loads(blob)), len(counts))'
  record sqlite3-sort sqlite3 sqlite3 :memory: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<100000)
    SELECT count(*), sum(length(s)) FROM (SELECT x, printf('%08d-%s', x*7919 % 100003, hex(randomblob(8))) AS s FROM c ORDER BY s);"
  c_file 300 > medium.c
  record cc1-O2-large cc1 gcc -O2 -c medium.c -o medium.o
  record perl-hash perl perl -e 'my %h; for my $i (1..200000) { $h{"k$i"} = [$i, "v" x ($i % 50)]; delete $h{"k".int($i/2)} if $i % 3 == 0 } print scalar(keys %h), "\n"'
  git_repo 3000 12
  record git-log-patch git git -C repo log -p --stat -n 11
fi
