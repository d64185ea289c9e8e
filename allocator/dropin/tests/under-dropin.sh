#!/bin/bash
# under-dropin.sh LIBRARY CASE — runs a real program normally and under
# LD_PRELOAD=LIBRARY, and fails unless both runs succeed with the same
# output and the library really served allocations (its HB_SBRK_REPORT
# line). Exit 77 (skipped) when the program is not installed.
#
# CASE: python | python-threads | gcc | sqlite3 | git | xz-threads
set -u
lib=$1
case_name=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "skipped: $1 is not installed"; exit 77; }
}

# run_case DIR: the case's commands, run in DIR; prints what is compared.
run_case() {
  local dir=$1
  mkdir -p "$dir" && cd "$dir" || return 1
  case $case_name in
    python)
      /usr/bin/python3 -c '
import json, re, collections, hashlib
words = [("w%d" % (i * 7919 % 10007)) * (1 + i % 5) for i in range(200000)]
counts = collections.Counter(w[:4] for w in words)
tree = {"k%d" % i: {"v": list(range(i % 50)), "s": "x" * (i % 300)} for i in range(20000)}
blob = json.dumps(tree, sort_keys=True)
back = json.loads(blob)
found = len(re.findall(r"k1\d+", blob))
text = "".join(sorted(set(words)))[:100000]
print(len(words), sorted(counts.items())[:5], len(blob), found, len(back),
      hashlib.sha256(text.encode()).hexdigest())'
      ;;
    python-threads)
      /usr/bin/python3 -c '
import threading, hashlib
results = [None] * 4
def work(k):
    acc = []
    for i in range(60000):
        acc.append(("t%d-%d" % (k, i)) * (1 + i % 7))
        if len(acc) > 500: acc = acc[250:]
    results[k] = hashlib.sha256("".join(acc).encode()).hexdigest()
threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(results)'
      ;;
    gcc)
      cat > prog.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct node { struct node *next; char name[24]; };
static int compare(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
int main(void) {
  struct node *head = NULL;
  for (int i = 0; i < 1000; i++) {
    struct node *n = malloc(sizeof *n);
    snprintf(n->name, sizeof n->name, "node%d", (i * 37) % 1000);
    n->next = head;
    head = n;
  }
  char *names[1000];
  int k = 0;
  for (struct node *n = head; n; n = n->next) names[k++] = n->name;
  qsort(names, 1000, sizeof names[0], compare);
  printf("%s %s %s\n", names[0], names[500], names[999]);
  return 0;
}
C
      gcc -O2 -S -o prog.s prog.c && gcc -O2 -o prog prog.c && ./prog && md5sum < prog.s
      ;;
    sqlite3)
      sqlite3 :memory: <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, val REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
INSERT INTO t SELECT i, i % 97, printf('name-%08d', (i * 7919) % 200000), (i * 31 % 1000) / 7.0 FROM n;
CREATE INDEX t_name ON t(name);
SELECT grp, count(*), round(sum(val), 3), min(name), max(name) FROM t GROUP BY grp ORDER BY grp LIMIT 5;
SELECT count(DISTINCT name), group_concat(id, ',') FROM (SELECT * FROM t WHERE name LIKE 'name-0000001%' ORDER BY id);
SELECT length(group_concat(name)) FROM t;
SQL
      ;;
    git)
      export GIT_AUTHOR_NAME=hb GIT_AUTHOR_EMAIL=hb@example.org GIT_COMMITTER_NAME=hb \
             GIT_COMMITTER_EMAIL=hb@example.org GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' \
             GIT_COMMITTER_DATE='2026-01-01T00:00:00Z' HOME=$dir GIT_CONFIG_NOSYSTEM=1
      git init -q -b main repo && cd repo || return 1
      for i in $(seq 1 30); do
        seq 1 $((i * 200)) > "file$((i % 7)).txt"
        git add -A && git commit -q -m "commit $i" || return 1
      done
      git log --format='%H %s' | head -5
      git log --stat --format=%s | md5sum
      git gc -q && git fsck --no-progress && git rev-list --count HEAD
      ;;
    xz-threads)
      seq 1 800000 > data.txt # two 3 MiB blocks at -1: two threads at work
      xz -T2 -1 -k -c data.txt > data.xz && xz -T2 -d -c data.xz | md5sum && md5sum < data.txt
      ;;
    *)
      echo "unknown case $case_name" >&2
      return 2
      ;;
  esac
}

case $case_name in
  python | python-threads) need /usr/bin/python3 ;;
  gcc) need gcc ;;
  sqlite3) need sqlite3 ;;
  git) need git ;;
  xz-threads) need xz ;;
esac
[ -f "$lib" ] || { echo "no library $lib"; exit 1; }

(run_case "$work/normal") > "$work/normal.out" 2> "$work/normal.err"
normal_status=$?
(export LD_PRELOAD=$lib HB_SBRK_REPORT=$work/report; run_case "$work/preload") > "$work/preload.out" 2> "$work/preload.err"
preload_status=$?

status=0
if [ $normal_status -ne 0 ]; then
  echo "FAIL: the normal run failed ($normal_status):"; cat "$work/normal.err"; status=1
fi
if [ $preload_status -ne 0 ]; then
  echo "FAIL: the run under $lib failed ($preload_status):"; cat "$work/preload.err"; status=1
fi
if ! cmp -s "$work/normal.out" "$work/preload.out"; then
  echo "FAIL: outputs differ:"; diff "$work/normal.out" "$work/preload.out" | head -20; status=1
fi
# Every process of the preloaded run reports; at least one served allocations.
if ! grep -Eqs '^hb-sbrk: pid [0-9]+: [1-9][0-9]* allocations' "$work/report"; then
  echo "FAIL: no process reported allocations served by $lib"; status=1
fi
echo "output ($(wc -l < "$work/normal.out") lines):"
head -5 "$work/normal.out"
head -5 "$work/report" 2>/dev/null
exit $status
