#!/usr/bin/env bash
# workloads.sh — records real programs with `heapbench record` into
# replayable traces, one <name>.hbt per workload.
#
#   traces/workloads.sh default HEAPBENCH OUTDIR the bundled set (traces/data/):
#                                                five programs, 1.3M-1.9M ops
#                                                each, two multi-threaded,
#                                                written as <name>.hbt.zst
#   traces/workloads.sh small HEAPBENCH OUTDIR   the test set (traces/data/small/):
#                                                a few hundred KB in all
#   traces/workloads.sh large HEAPBENCH OUTDIR   larger workloads for allocator
#                                                benchmarks, >= 500k ops each
#
# `meson compile -C build record-workloads` runs the large set into
# build/workloads/. Needs python3, sqlite3, gcc, g++, git and perl, and zstd
# for the default set (quickstart installs them). Inputs (source files, logs,
# a git history) are generated in a temporary directory, so the recordings
# depend on no file of this tree.
set -euo pipefail
size=${1:?usage: workloads.sh default|small|large HEAPBENCH OUTDIR}
heapbench=${2:?}
out=${3:?}
case "$size" in default|small|large) ;; *) echo "workloads.sh: default, small or large, not $size" >&2; exit 2 ;; esac
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

# compress NAME: OUTDIR/NAME.hbt becomes OUTDIR/NAME.hbt.zst. --long=27 keeps
# the window at the 128 MiB a zstd reader accepts without being told more.
compress() {
  zstd -q -19 --long=27 -T2 -f --rm "$out/$1.hbt" -o "$out/$1.hbt.zst"
}

# An access log of N lines in the combined format of web servers, on stdout.
access_log() {
  perl - "$1" <<'PL'
srand(7);
my @paths = map { "/api/v1/" . (qw(users orders items search cart))[$_ % 5] . "/$_" } 1..400;
my @agents = ("Mozilla/5.0 (X11; Linux x86_64)", "curl/7.88.1", "Wget/1.21.3", "python-requests/2.28.1");
for my $i (1..$ARGV[0]) {
  my $ip = join ".", 10, int(rand(4)), int(rand(256)), int(rand(256));
  printf "%s - - [%02d/Mar/2024:%02d:%02d:%02d +0000] \"%s %s HTTP/1.1\" %d %d \"-\" \"%s\"\n",
    $ip, 1 + $i % 28, $i / 3600 % 24, $i / 60 % 60, $i % 60, (rand() < 0.8 ? "GET" : "POST"),
    $paths[rand @paths] . (rand() < 0.3 ? "?q=" . int(rand(1000)) : ""), (200, 200, 200, 304, 404, 500)[rand 6],
    int(rand(50000)), $agents[rand @agents];
}
PL
}

# A C++17 file: N record types, each with a report function that fills a
# std::map of std::vector, sorts and formats. Most of cc1plus's work is the
# standard headers and their templates, as in any C++ project.
cxx_file() {
  /usr/bin/python3 - "$1" <<'PY'
import sys
n = int(sys.argv[1])
print("""#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace inventory {
struct Item { std::string name; int count; double price; };
template <typename Key> class Index {
 public:
  void add(const Key &k, const Item &it) { by_key_[k].push_back(it); }
  std::size_t size() const { return by_key_.size(); }
  template <typename F> void each(F f) const { for (const auto &[k, v] : by_key_) f(k, v); }
 private:
  std::map<Key, std::vector<Item>> by_key_;
};""")
for i in range(n):
    print(f"""
struct Record{i} {{
  std::string label = "r{i}";
  std::vector<int> values;
  std::map<std::string, double> weights;
  double total() const {{
    double s = 0;
    for (int v : values) s += v * {i + 1};
    for (const auto &[k, w] : weights) s += w * k.size();
    return s;
  }}
}};
std::string report{i}(const std::vector<Record{i}> &rs) {{
  Index<std::string> idx;
  std::string out;
  for (const auto &r : rs) idx.add(r.label, Item{{r.label, int(r.values.size()), r.total()}});
  std::vector<std::pair<std::string, double>> rows;
  idx.each([&](const std::string &k, const std::vector<Item> &v) {{
    double t = 0; for (const auto &it : v) t += it.price * it.count; rows.emplace_back(k, t); }});
  std::sort(rows.begin(), rows.end(), [](const auto &a, const auto &b) {{ return a.second > b.second; }});
  for (const auto &[k, t] : rows) out += k + ' ' + std::to_string(t) + '\\n';
  return out;
}}""")
print("} // namespace inventory\nint main() {\n  std::string all;")
for i in range(n):
    print(f"  {{ std::vector<inventory::Record{i}> rs(3); rs[0].values = {{1, 2, {i}}};"
          f' rs[1].weights["w"] = {i}.5; all += inventory::report{i}(rs); }}')
print("  return int(all.size() & 1);\n}")
PY
}

# A git repository with FILES C-like files and COMMITS commits, each editing
# a few lines of a tenth of the files; built with fast-import (one process).
git_history() {
  git init -q -b main repo
  /usr/bin/python3 - "$1" "$2" <<'PY' | git -C repo fast-import --quiet
import random, sys
files, commits = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(3)
words = "alloc free size block list node next prev heap arena page chunk bin fit split merge".split()
def line(): return "    " + " ".join(rnd.choice(words) for _ in range(rnd.randrange(3, 12))) + ";\n"
content = {f"src/mod{i // 50}/file{i}.c": [line() for _ in range(rnd.randrange(20, 200))] for i in range(files)}
out = sys.stdout.buffer
for c in range(commits):
    names = list(content) if c == 0 else rnd.sample(list(content), files // 10)
    message = f"commit {c}\n".encode()
    out.write(b"commit refs/heads/main\n")
    out.write(b"committer heapbench <heapbench@example.invalid> %d +0000\n" % (1700000000 + c * 3600))
    out.write(b"data %d\n%s" % (len(message), message))
    for name in names:
        lines = content[name]
        if c:
            for _ in range(rnd.randrange(1, 6)):
                lines[rnd.randrange(len(lines))] = line()
            if rnd.random() < 0.3:
                lines.insert(rnd.randrange(len(lines)), line())
        data = "".join(lines).encode()
        out.write(b"M 100644 inline %s\ndata %d\n%s\n" % (name.encode(), len(data), data))
PY
}

if [ "$size" = default ]; then
  # Same behaviour on every machine: no user or system configuration (git,
  # sqlite3's .sqliterc), C locale, fixed hash seeds and random seeds.
  export HOME=$work GIT_CONFIG_NOSYSTEM=1 LC_ALL=C TZ=UTC PYTHONHASHSEED=0 PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0
  access_log 100000 > access.log
  head -n 16000 access.log > access-16k.log

  # Log analysis on a thread pool, python3 with PYTHONMALLOC=malloc (its own
  # small-object allocator would hide almost every allocation). A reader
  # thread hands batches of lines to four parser threads through a bounded
  # queue; the parsers send JSON summaries to a merging thread. Batches are
  # allocated by the reader and freed by a parser, summaries allocated by a
  # parser and freed by the merger.
  cat > logs.py <<'PY'
import collections, json, queue, re, sys, threading
WORKERS, BATCH = 4, 250
LINE = re.compile(r'(\S+) \S+ \S+ \[[^:]+:(\d+):[^\]]+\] "(\w+) ([^" ?]+)\S* [^"]*" (\d+) (\d+) "[^"]*" "([^"]*)"')
batches, summaries = queue.Queue(maxsize=16), queue.Queue(maxsize=16)
def reader(path):
    with open(path) as f:
        batch = []
        for line in f:
            batch.append(line)
            if len(batch) == BATCH:
                batches.put(batch)
                batch = []
        batches.put(batch)
    for _ in range(WORKERS):
        batches.put(None)
def parser():
    while (batch := batches.get()) is not None:
        paths, clients, hours = collections.Counter(), collections.defaultdict(set), collections.Counter()
        for line in batch:
            m = LINE.match(line)
            if not m:
                continue
            ip, hour, method, path, code, size, agent = m.groups()
            paths[(method, path, code)] += int(size)
            clients[ip].add(path)
            hours[(hour, agent.split("/")[0])] += 1
        summaries.put(json.dumps({"paths": [[*k, v] for k, v in paths.items()],
                                  "clients": {ip: sorted(p) for ip, p in clients.items()},
                                  "hours": [[*k, v] for k, v in hours.items()]}))
    summaries.put(None)
def merger(result):
    paths, clients, hours, done = collections.Counter(), collections.defaultdict(set), collections.Counter(), 0
    while done < WORKERS:
        s = summaries.get()
        if s is None:
            done += 1
            continue
        s = json.loads(s)
        for method, path, code, size in s["paths"]:
            paths[(method, path, code)] += size
        for ip, p in s["clients"].items():
            clients[ip].update(p)
        for hour, agent, n in s["hours"]:
            hours[(hour, agent)] += n
    result += [paths.most_common(3), len(clients), hours.most_common(2)]
result = []
threads = [threading.Thread(target=reader, args=(sys.argv[1],)), threading.Thread(target=merger, args=(result,))]
threads += [threading.Thread(target=parser) for _ in range(WORKERS)]
for t in threads: t.start()
for t in threads: t.join()
print(result)
PY
  PYTHONMALLOC=malloc record python3-threads python3 /usr/bin/python3 logs.py access-16k.log
  compress python3-threads

  # A database on disk (WAL): load two tables in a transaction, build three
  # indexes, join and group, correlated subquery, update, delete.
  cat > orders.sql <<'SQL'
PRAGMA journal_mode=WAL;
CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT, city TEXT, joined TEXT);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, item TEXT, qty INTEGER, price REAL, note TEXT);
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<20000)
INSERT INTO customer SELECT x, printf('customer %d', x*7919 % 20011), printf('city%03d', x % 397),
  date('2015-01-01', printf('+%d days', x % 3000)) FROM c;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<120000)
INSERT INTO orders SELECT x, 1 + (x*104729) % 20000, printf('item-%05d', (x*31) % 5003), 1 + x % 9,
  ((x*17) % 10000) / 100.0, substr(printf('%08x%08x', x*2654435761 % 4294967296, x*40503), 1, x % 16) FROM c;
COMMIT;
CREATE INDEX orders_customer ON orders(customer);
CREATE INDEX orders_item ON orders(item, qty);
CREATE INDEX customer_city ON customer(city);
SELECT c.city, count(*), round(sum(o.qty*o.price), 2) FROM orders o JOIN customer c ON c.id = o.customer
  GROUP BY c.city ORDER BY 3 DESC LIMIT 5;
SELECT item, sum(qty) FROM orders WHERE item BETWEEN 'item-01000' AND 'item-01100' GROUP BY item ORDER BY 2 DESC LIMIT 3;
SELECT name, (SELECT count(*) FROM orders WHERE customer = customer.id) AS n FROM customer
  WHERE city = 'city042' ORDER BY n DESC LIMIT 3;
UPDATE orders SET note = note || '-shipped' WHERE id % 5 = 0;
DELETE FROM orders WHERE qty = 1;
SELECT count(*), count(DISTINCT customer) FROM orders;
SQL
  record sqlite3-orders sqlite3 sqlite3 -batch orders.db < orders.sql
  compress sqlite3-orders

  cxx_file 2 > inventory.cc
  record cc1plus-O2 cc1plus g++ -std=c++17 -O2 -c inventory.cc -o inventory.o
  compress cc1plus-O2

  # Per-path, per-client and per-hour summary of the access log.
  cat > report.pl <<'PL'
my (%by_path, %by_ip, %by_hour, %status, @large);
while (my $line = <STDIN>) {
  next unless $line =~ m{^(\S+) \S+ \S+ \[(\d+)/(\w+)/(\d+):(\d+):\d+:\d+ [^\]]+\] "(\w+) ([^" ?]+)(\?\S*)? [^"]*" (\d+) (\d+) "[^"]*" "([^"]*)"};
  my ($ip, $hour, $method, $path, $code, $bytes, $agent) = ($1, $5, $6, $7, $9, $10, $11);
  my $p = $by_path{"$method $path"} //= {hits => 0, bytes => 0, codes => {}};
  $p->{hits}++; $p->{bytes} += $bytes; $p->{codes}{$code}++;
  push @{$by_ip{$ip}}, $path;
  $by_hour{$hour}{$agent}++;
  $status{$code}++;
  push @large, [$path, $bytes] if $bytes > 49000;
}
my @top = (sort { $by_path{$b}{hits} <=> $by_path{$a}{hits} || $a cmp $b } keys %by_path)[0..9];
printf "%-40s %6d %10d %s\n", $_, $by_path{$_}{hits}, $by_path{$_}{bytes},
  join(",", map { "$_=$by_path{$_}{codes}{$_}" } sort keys %{$by_path{$_}{codes}}) for @top;
my %distinct = map { $_ => scalar(keys %{{ map { $_ => 1 } @{$by_ip{$_}} }}) } keys %by_ip;
printf "clients %d, most paths %d\n", scalar(keys %distinct), (sort { $b <=> $a } values %distinct)[0];
printf "%s %d\n", $_, $status{$_} for sort keys %status;
printf "large %d\n", scalar @large;
PL
  record perl-logreport perl perl report.pl < access.log
  compress perl-logreport

  # git gc's heavy step: repack the whole history, delta search on 2 threads.
  git_history 1600 100
  record git-repack-threads git git -C repo -c pack.threads=2 repack -a -d -f -q --window=20
  compress git-repack-threads
elif [ "$size" = small ]; then
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
