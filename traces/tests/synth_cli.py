#!/usr/bin/python3
"""synth_cli.py — `heapbench trace synth`, checked from outside: the mixes
of a drawn trace are recomputed here from `heapbench trace dump` of both
traces (not taken from synth's own report), the draw is the same for the
same seed and another for another seed, threads are kept or folded, and
bad arguments are refused with one line.

    synth_cli.py HEAPBENCH SMALL_TRACE_DIR
"""
import collections
import os
import subprocess
import sys
import tempfile

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print(f"check failed: {what}")
    return cond


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300)


def bucket(value):
    return 0 if value <= 1 else (value - 1).bit_length()


def mixes(heapbench, path):
    """Size mix of created blocks, lifetime mix (never freed: 'live'), kind
    shares of ops, and the thread count, from the dump."""
    out = run(heapbench, "trace", "dump", path).stdout.splitlines()
    sizes, lifetimes, kinds = collections.Counter(), collections.Counter(), collections.Counter()
    created, threads, ops = {}, set(), 0
    for line in out:
        if line.startswith("#"):
            continue
        f = line.split()
        index, thread, kind = int(f[0]), int(f[1]), f[2]
        ops += 1
        kinds[kind] += 1
        threads.add(thread)
        if kind == "free":
            if f[3] != "null":
                lifetimes[bucket(index - created.pop(f[3]))] += 1
        elif kind != "realloc" or "from-null" in f:
            created[f[3]] = index
            sizes[bucket(int(f[4]))] += 1
    lifetimes["live"] += len(created)
    blocks = sum(sizes.values())

    def norm(counter, total):
        return {k: v / total for k, v in counter.items()}
    return norm(sizes, blocks), norm(lifetimes, blocks), norm(kinds, ops), len(threads)


def l1(a, b):
    return sum(abs(a.get(k, 0) - b.get(k, 0)) for k in set(a) | set(b))


def main():
    heapbench, small = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="hb-synth-") as tmp:
        # 1. The mixes hold, recomputed independently, on cc1 (a compiler).
        source = os.path.join(small, "cc1-O2.hbt")
        out = os.path.join(tmp, "a.hbt")
        proc = run(heapbench, "trace", "synth", "--like", source, "--ops", "200000", "--seed", "5",
                   "-o", out)
        check(proc.returncode == 0, f"synth exit {proc.returncode}: {proc.stderr}")
        s_size, s_life, s_kind, _ = mixes(heapbench, source)
        d_size, d_life, d_kind, _ = mixes(heapbench, out)
        check(sum(1 for line in run(heapbench, "trace", "dump", out).stdout.splitlines()
                  if not line.startswith("#")) == 200000, "200,000 ops drawn")
        check(l1(s_size, d_size) <= 0.10, f"size mix L1 {l1(s_size, d_size):.3f}")
        check(l1(s_life, d_life) <= 0.20, f"lifetime mix L1 {l1(s_life, d_life):.3f}")
        worst = max(abs(s_kind.get(k, 0) - d_kind.get(k, 0)) for k in set(s_kind) | set(d_kind))
        check(worst <= 0.02, f"kind shares differ by {worst:.3f}")
        # 1b. Short lifetimes survive the draw: sqlite3 frees 44% of its
        #     blocks three or four ops after creating them, in fixed patterns
        #     that blocks drawn one at a time interleaved (that class then
        #     held 64% of the drawn blocks, lifetime L1 0.44).
        source_b = os.path.join(small, "sqlite3-index.hbt")
        out_b = os.path.join(tmp, "s.hbt")
        proc = run(heapbench, "trace", "synth", "--like", source_b, "--ops", "42000", "--seed", "2",
                   "-o", out_b)
        check(proc.returncode == 0, f"synth exit {proc.returncode}: {proc.stderr}")
        s_life, d_life = mixes(heapbench, source_b)[1], mixes(heapbench, out_b)[1]
        check(l1(s_life, d_life) <= 0.10, f"sqlite3 lifetime mix L1 {l1(s_life, d_life):.3f}")
        worst = max(abs(s_life.get(k, 0) - d_life.get(k, 0)) for k in set(s_life) | set(d_life))
        check(worst <= 0.03, f"a lifetime class differs by {worst:.3f}")
        # 2. Deterministic for a seed; another seed, another draw.
        again, other = os.path.join(tmp, "b.hbt"), os.path.join(tmp, "c.hbt")
        run(heapbench, "trace", "synth", "--like", source, "--ops", "200000", "--seed", "5", "-o", again)
        run(heapbench, "trace", "synth", "--like", source, "--ops", "200000", "--seed", "6", "-o", other)
        data = [open(p, "rb").read() for p in (out, again, other)]
        check(data[0] == data[1], "the same seed draws the same trace")
        check(data[0] != data[2], "another seed draws another trace")
        # 3. Threads: kept, with frees on other threads than the allocating
        #    one when the recording has them; or folded onto fewer.
        threaded = os.path.join(small, "git-grep-threads.hbt")
        out3 = os.path.join(tmp, "t.hbt")
        proc = run(heapbench, "trace", "synth", "--like", threaded, "--ops", "50000", "-o", out3)
        check(proc.returncode == 0, f"synth of a threaded trace: {proc.stderr}")
        check(mixes(heapbench, out3)[3] == mixes(heapbench, threaded)[3], "the threads are kept")
        run(heapbench, "trace", "synth", "--like", threaded, "--ops", "50000", "--threads", "2",
            "-o", out3)
        check(mixes(heapbench, out3)[3] == 2, "--threads 2 folds them onto two")
        # 4. Bad arguments: one line, no file.
        for args, needle in ((["--like", source, "--ops", "0", "-o", out], "--ops"),
                             (["--ops", "10", "-o", out], "--like"),
                             (["--like", os.path.join(tmp, "nope.hbt"), "--ops", "10", "-o", out],
                              "nope.hbt"),
                             (["--like", source, "--ops", "10", "--threads", "x", "-o", out],
                              "--threads")):
            proc = run(heapbench, "trace", "synth", *args)
            check(proc.returncode != 0 and needle in proc.stderr.splitlines()[0],
                  f"{args}: exit {proc.returncode}, {proc.stderr!r}")
    print(f"synth: {len(FAILURES)} failed checks")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
