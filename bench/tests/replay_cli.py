#!/usr/bin/env python3
"""Tests of `heapbench replay` as a user runs it: table, JSON, statuses, errors.

    replay_cli.py CASE HEAPBENCH [SHARED_DIR]

Every trace is written by the test itself (CS:APP .rep text), and every
figure the trace alone implies (live bytes, peak live bytes) is computed
here, independently of the C code. Exit 77 = skipped (meson).
"""
import json
import os
import random
import re
import stat
import subprocess
import sys
import tempfile
import time

FAILURES = []
SKIP = 77


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("check failed:", what, file=sys.stderr)
    return cond


def write_rep(path, ops, ids):
    """ops: list of ('a', id, size) | ('r', id, size) | ('f', id)."""
    with open(path, "w") as out:
        out.write(f"0\n{ids}\n{len(ops)}\n1\n")
        for op in ops:
            out.write(" ".join(str(x) for x in op) + "\n")


def rep_live_bytes(path):
    """Live bytes after each op of a .rep trace, by the lab's rules: 'r' of a
    dead id is realloc(NULL), 'r id 0' frees, 'f -1' is free(NULL)."""
    lines = open(path).read().split("\n")
    op_count = int(lines[2])
    sizes, live, series = {}, 0, []
    for line in lines[4:]:
        if len(series) == op_count:
            break
        words = line.split()
        if not words:
            continue
        if words[0] == "f":
            if words[1] != "-1":
                live -= sizes.pop(int(words[1]))
        else:
            block, size = int(words[1]), int(words[2])
            if words[0] == "r" and size == 0 and block in sizes:
                live -= sizes.pop(block)
            else:
                live += size - sizes.get(block, 0)
                sizes[block] = size
        series.append(live)
    return series


def random_trace(path, ops=3000, seed=7):
    """Mallocs, reallocs and frees of mixed sizes, ids reused after free."""
    rng = random.Random(seed)
    live, free_ids, out, next_id = [], [], [], 0
    while len(out) < ops:
        roll = rng.random()
        if live and roll < 0.40:
            block = live.pop(rng.randrange(len(live)))
            out.append(("f", block))
            free_ids.append(block)
        elif live and roll < 0.50:
            out.append(("r", rng.choice(live), rng.choice([24, 100, 700, 5000])))
        else:
            block = free_ids.pop() if free_ids else next_id
            if block == next_id:
                next_id += 1
            size = rng.choice([8, 16, 24, 32, 48, 64, 128, 256, 1000, 4096, 70000])
            out.append(("a", block, size))
            live.append(block)
    write_rep(path, out, next_id)


def run(heapbench, *args, env=None, timeout=600):
    started = time.monotonic()
    proc = subprocess.run([heapbench, "replay", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)
    return proc, time.monotonic() - started


def allocators(heapbench):
    proc = subprocess.run([heapbench, "list"], capture_output=True, text=True, check=True)
    return [line.split()[0] for line in proc.stdout.splitlines()[1:] if line.strip()]


def close(a, b, tolerance=1e-3):
    return a is not None and b is not None and abs(a - b) <= tolerance * max(1.0, abs(b))


RUN_FIELDS = ["trace", "trace_path", "trace_format", "threads", "allocator",
              "allocator_version", "status", "ops", "repeat", "ns_per_op", "ns_per_op_min",
              "ns_per_op_max", "ops_per_sec", "peak_live_bytes", "peak_footprint_bytes",
              "footprint_at_peak_live_bytes", "footprint_poll_stride", "peak_rss_bytes",
              "utilization", "fragmentation", "reuse_rate", "byte_reuse_rate",
              "reuse_distance_median", "reuse_distance_p90", "reuse_distance_histogram",
              "lifo_share", "heap_growth", "group", "ns_per_op_passes", "peak_live_op",
              "footprint_polls", "allocations", "reuses", "cpu_ns_per_op",
              "warm_ns_per_op", "warm_ns_per_op_min", "warm_ns_per_op_max",
              "warm_ns_per_op_passes", "warm_cpu_ns_per_op", "minor_faults",
              "warm_minor_faults", "flags", "ratio_to_baseline", "peak_resident_bytes",
              "reported_utilization", "latency_clock", "latency_timer_ns", "latency_ns",
              "slowest_ops", "size_classes", "heap_map"]
FLAGS = {"short-pass", "high-spread", "warm-high-spread", "few-passes"}


def check_speed(name, run, prefix):
    """One kind of speed (cold: prefix "", warm: "warm_"): median of the passes."""
    median_field = prefix + "ns_per_op"
    check(run[prefix + "ns_per_op_min"] <= run[median_field] <= run[prefix + "ns_per_op_max"],
          f"{name}: {median_field} outside [min, max]")
    check(close(run[prefix + "ops_per_sec"], 1e9 / run[median_field]), f"{name}: {prefix}ops_per_sec")
    check(run[prefix + "cpu_ns_per_op"] > 0, f"{name}: {prefix}cpu_ns_per_op")
    passes = sorted(run[prefix + "ns_per_op_passes"])
    check(len(passes) == run["repeat"], f"{name}: {len(passes)} {prefix}passes listed")
    check(close(passes[0], run[prefix + "ns_per_op_min"]) and
          close(passes[-1], run[prefix + "ns_per_op_max"]), f"{name}: {prefix}passes vs min/max")
    middle = len(passes) // 2
    median = passes[middle] if len(passes) % 2 else (passes[middle - 1] + passes[middle]) / 2
    check(close(median, run[median_field]), f"{name}: {median_field} is not the median of the passes")
    spread = passes[-1] > 1.10 * passes[0]
    flag = "high-spread" if not prefix else "warm-high-spread"
    check((flag in run["flags"]) == spread, f"{name}: {flag} flag {run['flags']} vs passes {passes}")


def check_ok_run(run, trace_path):
    """Every figure of a completed cell against the trace and each other."""
    name = f"{run['trace']}/{run['allocator']}"
    for field in RUN_FIELDS:
        check(field in run, f"{name}: field {field} missing")
    live = rep_live_bytes(trace_path)
    check(run["status"] == "ok", f"{name}: status {run['status']!r}")
    check(run["ops"] == len(live), f"{name}: ops {run['ops']} != {len(live)}")
    check(run["peak_live_bytes"] == max(live),
          f"{name}: peak_live_bytes {run['peak_live_bytes']} != {max(live)}")
    check_speed(name, run, "")
    check_speed(name, run, "warm_")
    classes = run["size_classes"]
    check(sum(c["allocations"] for c in classes) == run["allocations"]
          and sum(c["reuses"] for c in classes) == run["reuses"],
          f"{name}: size classes do not add up to the allocations and reuses")
    for c in classes:
        bound = c["up_to_bytes"]
        check(bound == 1 or bound & (bound - 1) == 0, f"{name}: class bound {bound}")
        check(c["peak_live_bytes"] <= run["peak_live_bytes"],
              f"{name}: a class's peak live above the trace's")
    latency = run["latency_ns"]
    check(latency is not None, f"{name}: no latency figures")
    if latency is not None:
        check(sum(k["count"] for k in latency.values()) == run["ops"],
              f"{name}: latency counts do not add up to the ops")
        for kind, k in latency.items():
            check(k["p50"] <= k["p90"] <= k["p99"] <= k["p999"] <= k["max"] * 1.0001,
                  f"{name}: {kind} latency quantiles out of order {k}")
        slowest = run["slowest_ops"]
        check(0 < len(slowest) <= 20 and all(a["ns"] >= b["ns"] for a, b in zip(slowest, slowest[1:])),
              f"{name}: slowest_ops")
    check(set(run["flags"]) <= FLAGS, f"{name}: unknown flags {run['flags']}")
    short = run["ns_per_op"] * run["ops"] < 20e6
    check(("short-pass" in run["flags"]) == short, f"{name}: short-pass flag {run['flags']}")
    resident = run["peak_resident_bytes"]
    check(resident is not None and resident > 0, f"{name}: peak resident {resident}")
    check(close(run["utilization"], run["peak_live_bytes"] / resident),
          f"{name}: utilization {run['utilization']} != live/resident")
    check(close(run["fragmentation"], resident / run["peak_live_bytes"] - 1),
          f"{name}: fragmentation")
    check(max(s["resident_bytes"] for s in run["heap_growth"]) <= resident,
          f"{name}: a heap-growth sample above the peak resident")
    footprint = run["peak_footprint_bytes"]
    if footprint is not None:
        check(footprint > 0, f"{name}: peak footprint {footprint}")
        check(close(run["reported_utilization"], run["peak_live_bytes"] / footprint),
              f"{name}: reported_utilization {run['reported_utilization']} != live/footprint")
        check(run["footprint_at_peak_live_bytes"] <= footprint, f"{name}: footprint at peak")
    else:
        check(run["reported_utilization"] is None, f"{name}: reported utilization without a footprint")
    ratio = run["ratio_to_baseline"]
    if run["allocator"] == "glibc":
        check(ratio is None, f"{name}: the baseline has a ratio to itself")
    elif ratio is not None:
        check(ratio["baseline"] == "glibc", f"{name}: baseline {ratio['baseline']}")
        for kind in ("", "warm_"):
            value, interval = ratio[kind + "ns_per_op"], ratio[kind + "ci95"]
            if interval is None:
                check(not ratio[kind + "significant"], f"{name}: significant without an interval")
                continue
            check(value > 0 and 0 < interval[0] <= interval[1], f"{name}: {kind}ratio {value} {interval}")
            holds_one = interval[0] <= 1 <= interval[1]
            check(ratio[kind + "significant"] == (not holds_one),
                  f"{name}: {kind}significant {ratio[kind + 'significant']} with {interval}")
    for field in ("reuse_rate", "byte_reuse_rate", "lifo_share"):
        check(run[field] is None or 0 <= run[field] <= 1, f"{name}: {field} = {run[field]}")
    histogram = run["reuse_distance_histogram"]
    check(sum(count for _, count in histogram) == run["reuses"],
          f"{name}: histogram does not add up to the reuses")
    if run["reuses"]:
        check(1 <= run["reuse_distance_median"] <= run["reuse_distance_p90"],
              f"{name}: reuse distance median/p90")
    check(close(run["reuse_rate"], run["reuses"] / run["allocations"]), f"{name}: reuse_rate")
    growth = run["heap_growth"]
    check(0 < len(growth) <= 1001, f"{name}: {len(growth)} growth samples")
    ops = [s["op"] for s in growth]
    check(ops == sorted(set(ops)), f"{name}: growth samples not in op order")
    check(ops[-1] == len(live) - 1, f"{name}: last growth sample is not the last op")
    for s in growth:
        if s["live_bytes"] != live[s["op"]]:
            check(False, f"{name}: live_bytes at op {s['op']}: {s['live_bytes']} != {live[s['op']]}")
            break
    if run["peak_rss_bytes"] is not None:
        check(run["peak_rss_bytes"] >= 0, f"{name}: peak_rss_bytes")


def case_table_and_json(heapbench, tmp, shared):
    trace = os.path.join(tmp, "mixed.rep")
    random_trace(trace)
    names = allocators(heapbench)
    check(len(names) >= 2, f"too few allocators built: {names}")
    out = os.path.join(tmp, "out.json")
    proc, _ = run(heapbench, "--repeat", "2", "--json", out, trace)
    check(proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}")
    rows = [line.split() for line in proc.stdout.splitlines()]
    check(rows and rows[0][:2] == ["trace", "allocator"], "table heading")
    for name in names:
        check(any(r[:2] == ["mixed", name] and r[-1] == "ok" for r in rows),
              f"no ok table row for {name}")
    doc = json.load(open(out))
    check(doc["schema_version"] == 2, "schema_version")
    for field in ("cpu_model", "cores", "kernel", "glibc", "compiler", "libraries", "date"):
        check(field in doc["machine"], f"machine.{field} missing")
    check(doc["settings"]["repeat"] == 2, "settings.repeat")
    check([r["allocator"] for r in doc["runs"]] == names, "one run per allocator, in order")
    check_documented(doc)
    for r in doc["runs"]:
        check(r["repeat"] == 2, f"{r['allocator']}: repeat")
        check_ok_run(r, trace)
    # Writing whole blocks, and a label.
    proc, _ = run(heapbench, "--allocators", "glibc,sbrk-tutorial", "--repeat", "1", "--touch",
                  "all", "--label", "whole blocks", "--json", out, trace)
    check(proc.returncode == 0, f"--touch all: exit {proc.returncode}: {proc.stderr}")
    doc = json.load(open(out))
    check(doc["settings"]["touch"] == "all", "settings.touch")
    check(doc["label"] == "whole blocks", "label")
    for r in doc["runs"]:
        check_ok_run(r, trace)


def documented_example():
    """The example object of docs/JSON.md, comments removed."""
    doc_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                            "JSON.md")
    text = open(doc_path).read()
    start = text.index("```json") + len("```json")
    block = text[start:text.index("```", start)]
    return json.loads(re.sub(r"//[^\n]*", "", block))


def check_documented(doc):
    """Every field the replay writes is in docs/JSON.md, and the reverse."""
    example = documented_example()
    check(list(doc) == list(example), f"top-level fields {list(doc)} != documented")
    check(set(doc["machine"]) == set(example["machine"]), "machine fields != documented")
    check(set(doc["settings"]) == set(example["settings"]), "settings fields != documented")
    for r in doc["runs"]:
        check(list(r) == list(example["runs"][0]),
              f"run fields differ from docs/JSON.md: {set(r) ^ set(example['runs'][0])}")
        for s in r["heap_growth"] or []:
            check(set(s) == set(example["runs"][0]["heap_growth"][0]), "sample fields")
            break


def case_forced_reuse(heapbench, tmp, shared):
    # malloc A, free A, malloc the same size: a first-fit list must hand A back.
    reuse = os.path.join(tmp, "reuse.rep")
    write_rep(reuse, [("a", 0, 64), ("f", 0), ("a", 1, 64)], 2)
    # ... and a bigger request cannot fit in A's 64 bytes: no reuse.
    no_reuse = os.path.join(tmp, "noreuse.rep")
    write_rep(no_reuse, [("a", 0, 64), ("f", 0), ("a", 1, 128)], 2)
    # Two blocks freed oldest first; first fit on an address-ordered list
    # takes the older (lower) one: a reuse, but not of the newest: LIFO 0.
    fifo = os.path.join(tmp, "fifo.rep")
    write_rep(fifo, [("a", 0, 64), ("a", 1, 64), ("f", 0), ("f", 1), ("a", 2, 64)], 3)
    # A smaller request in a freed 64-byte block: 32 of 96 allocated bytes reused.
    smaller = os.path.join(tmp, "smaller.rep")
    write_rep(smaller, [("a", 0, 64), ("f", 0), ("a", 1, 32)], 2)
    out = os.path.join(tmp, "reuse.json")
    proc, _ = run(heapbench, "--allocators", "sbrk-tutorial", "--repeat", "1", "--json", out,
                  reuse, no_reuse, fifo, smaller)
    check(proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}")
    first, second, third, fourth = json.load(open(out))["runs"]
    check(third["reuses"] == 1 and third["lifo_share"] == 0, f"fifo: lifo {third['lifo_share']}")
    check(third["reuse_distance_median"] == 2, "fifo: block freed at op 2, reused at op 4")
    check(third["reuse_distance_histogram"] == [[2, 1]], "fifo: histogram")
    check(fourth["reuse_rate"] == 0.5, f"smaller: reuse_rate {fourth['reuse_rate']}")
    check(close(fourth["byte_reuse_rate"], 32 / 96, 1e-5),
          f"smaller: byte_reuse_rate {fourth['byte_reuse_rate']} != 1/3")
    check(first["status"] == "ok" and second["status"] == "ok", "statuses")
    check(first["allocations"] == 2 and first["reuses"] == 1, f"reuses {first['reuses']}")
    check(first["reuse_rate"] == 0.5, f"reuse_rate {first['reuse_rate']} != 0.5")
    check(first["byte_reuse_rate"] == 0.5, f"byte_reuse_rate {first['byte_reuse_rate']} != 0.5")
    check(first["lifo_share"] == 1, f"lifo_share {first['lifo_share']}")
    check(first["reuse_distance_median"] == 1, "reuse distance: free at op 1, reuse at op 2")
    check(first["reuse_distance_histogram"] == [[1, 1]], "histogram")
    check(second["reuses"] == 0 and second["reuse_rate"] == 0, "no reuse when it cannot fit")
    check(second["reuse_distance_median"] is None, "no distance without reuse")


def case_timeout(heapbench, tmp, shared):
    # 120,000 live blocks: the tutorial policy walks them all on every
    # malloc (7e9 steps), while glibc's four passes (cold and warm, the
    # instrumented and the latency one) fit in the limit even under ASan on
    # a busy machine.
    trace = os.path.join(tmp, "big.rep")
    write_rep(trace, [("a", i, 16) for i in range(120000)], 120000)
    out = os.path.join(tmp, "timeout.json")
    proc, elapsed = run(heapbench, "--allocators", "sbrk-tutorial,glibc", "--repeat", "1",
                        "--time-limit", "4", "--json", out, trace)
    check(proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}")
    runs = {r["allocator"]: r for r in json.load(open(out))["runs"]}
    check(runs["sbrk-tutorial"]["status"] == "timeout",
          f"sbrk-tutorial status {runs['sbrk-tutorial']['status']!r}")
    check(runs["sbrk-tutorial"]["peak_footprint_bytes"] is None, "no figure from a killed pass")
    check(runs["glibc"]["status"] == "ok", "the glibc cell still runs")
    check(elapsed < 30, f"the limit did not stop the cell ({elapsed:.1f} s)")
    check(re.search(r"sbrk-tutorial .* timeout$", proc.stdout, re.M), "timeout in the table")


def case_crash(heapbench, tmp, shared):
    # Workers that crash: wrappers kill the native worker when it is asked
    # to run sbrk-tutorial; everything else goes to the real workers.
    real_dir = os.path.join(os.path.dirname(heapbench), "bench")
    fake_dir = os.path.join(tmp, "workers")
    os.mkdir(fake_dir)
    for name in os.listdir(real_dir):
        if not name.startswith("hb-worker-") or name.endswith(".p"):
            continue
        wrapper = os.path.join(fake_dir, name)
        with open(wrapper, "w") as out:
            out.write("#!/bin/sh\n"
                      'case " $* " in *" --allocator sbrk-tutorial "*) kill -SEGV $$ ;; esac\n'
                      f'exec "{os.path.join(real_dir, name)}" "$@"\n')
        os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IXUSR)
    trace = os.path.join(tmp, "mixed.rep")
    random_trace(trace, ops=500)
    out = os.path.join(tmp, "crash.json")
    env = dict(os.environ, HEAPBENCH_WORKER_DIR=fake_dir)
    proc, _ = run(heapbench, "--allocators", "glibc,sbrk-tutorial,jemalloc", "--repeat", "1",
                  "--json", out, trace, env=env)
    check(proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}")
    runs = {r["allocator"]: r for r in json.load(open(out))["runs"]}
    check(runs["sbrk-tutorial"]["status"].startswith("failed: SIGSEGV"),
          f"crash status {runs['sbrk-tutorial']['status']!r}")
    check(runs["sbrk-tutorial"]["ns_per_op"] is None, "no timing from a crashed cell")
    for name in ("glibc", "jemalloc"):
        check(runs[name]["status"] == "ok", f"{name} still runs: {runs[name]['status']!r}")
        check_ok_run(runs[name], trace)


def case_null(heapbench, tmp, shared):
    huge = 1 << 60
    bad = os.path.join(tmp, "huge.rep")
    write_rep(bad, [("a", 0, 32), ("f", 0), ("a", 1, huge), ("f", 1)], 2)
    good = os.path.join(tmp, "small.rep")
    write_rep(good, [("a", 0, 32), ("f", 0)], 1)
    out = os.path.join(tmp, "null.json")
    proc, _ = run(heapbench, "--repeat", "1", "--json", out, bad, good)
    check(proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}")
    for r in json.load(open(out))["runs"]:
        if r["trace"] == "huge":
            want = f"failed: allocation of {huge} bytes returned NULL at op 2"
            check(r["status"] == want, f"{r['allocator']}: {r['status']!r} != {want!r}")
        else:
            check(r["status"] == "ok", f"{r['allocator']} on the small trace: {r['status']!r}")


def case_bad_input(heapbench, tmp, shared):
    good = os.path.join(tmp, "good.rep")
    write_rep(good, [("a", 0, 32), ("f", 0)], 1)
    malformed = os.path.join(tmp, "malformed.rep")
    with open(malformed, "w") as out:
        out.write("0\n1\n2\n1\na 0 32\nx 0\n")
    double_free = os.path.join(tmp, "double.rep")
    write_rep(double_free, [("a", 0, 32), ("f", 0), ("f", 0)], 1)
    missing = os.path.join(tmp, "missing.rep")
    empty = os.path.join(tmp, "empty.rep")
    write_rep(empty, [], 0)
    cases = [
        (["--allocators", "glibc,nosuch", good], "nosuch"),
        ([missing], "missing.rep"),
        ([good, malformed], "malformed.rep:6"),
        ([double_free], "double.rep:7"),
        ([good, empty], "empty.rep"),
        (["--repeat", "0", good], "--repeat"),
        (["--time-limit", "soon", good], "--time-limit"),
        (["--frobnicate", good], "--frobnicate"),
        (["--allocators", "-nosuch", good], "nosuch"),
        (["--allocators", "glibc,-glibc", good], "no allocator"),
        (["--speed", "lukewarm", good], "--speed"),
        (["--warmup", "-1", good], "--warmup"),
        (["--allocators", "sbrk", "--baseline", "glibc", good], "--baseline glibc"),
        (["--json", os.path.join(tmp, "no", "such", "dir.json"), good], "dir.json"),
    ]
    for args, needle in cases:
        proc, _ = run(heapbench, *args)
        check(proc.returncode != 0, f"{args}: exit 0")
        first = proc.stderr.splitlines()[0] if proc.stderr else ""
        check(needle in first, f"{args}: first error line {first!r} does not name {needle!r}")
        check(proc.stdout == "", f"{args}: a table was printed anyway")


def holes_trace(path, big_block):
    """1,000 blocks of 96 bytes side by side and a guard after them, then
    all 1,000 freed: a run of adjacent free blocks. With `big_block`, then a
    block as large as the run (1,000 x 112-byte blocks less its header):
    the tutorial policy cannot merge the run, so the block goes after it
    and the 1,000 holes stay; a coalescing policy merges them and places
    the block there. Without it, the default policy's quick lists still
    hold the 1,000 (parked), the tutorial's list holds them free."""
    ops = [("a", i, 96) for i in range(1001)] + [("f", i) for i in range(1000)]
    if big_block:
        ops.append(("a", 1001, 1000 * 112 - 8))
    write_rep(path, ops, 1002)


def expected_snapshot_ops(op_count, k, peak_op):
    ops = {max((j + 1) * op_count // k - 1, 0) for j in range(k)}
    return sorted(ops | {peak_op})


def check_heap_map(name, run, live, k):
    """The snapshots' figures agree with the trace and with each other."""
    heap_map = run["heap_map"]
    if not check(heap_map is not None, f"{name}: heap_map is null"):
        return None
    peak_op = live.index(max(live))
    wanted = expected_snapshot_ops(len(live), k, peak_op)
    snapshots = heap_map["snapshots"]
    check([s["op"] for s in snapshots] == wanted,
          f"{name}: snapshots after ops {[s['op'] for s in snapshots]}, expected {wanted}")
    detail = "heap" if run["allocator"].startswith("sbrk") else "slots"
    check(heap_map["detail"] == detail, f"{name}: detail {heap_map['detail']}, expected {detail}")
    for s in snapshots:
        where = f"{name} op {s['op']}"
        check(s["peak_live"] == (s["op"] == peak_op), f"{where}: peak_live {s['peak_live']}")
        check(s["live_bytes"] == live[s["op"]], f"{where}: live {s['live_bytes']} != {live[s['op']]}")
        check(len(s["bins"]) <= heap_map["bins"] and len(s["segments"]) <= 32,
              f"{where}: {len(s['bins'])} bins, {len(s['segments'])} segments")
        check(sum(g[1] for g in s["segments"]) == s["span_bytes"], f"{where}: segments != span")
        states = [("allocated", 1, "a"), ("free", 2, "f"), ("parked", 3, "p")]
        for state, column, letter in states:
            figure = s[state]
            if detail == "slots" and state != "allocated":
                check(figure is None, f"{where}: {state} is not null for a slot map")
                continue
            check(sum(b[column] for b in s["bins"]) == figure["bytes"],
                  f"{where}: {state} bins add up to {sum(b[column] for b in s['bins'])}, "
                  f"not {figure['bytes']}")
            if s["blocks"] is not None:
                listed = [b for b in s["blocks"] if b[2] == letter]
                check(len(listed) == figure["blocks"] and sum(b[1] for b in listed) == figure["bytes"],
                      f"{where}: listed {state} blocks disagree with the counts")
        if detail == "slots":
            check(s["allocated"]["bytes"] == s["live_bytes"], f"{where}: slot bytes != live bytes")
    return snapshots


def case_heap_map(heapbench, tmp, shared):
    """--heap-map K: snapshots at the right ops, bins that add up, and the
    heap shapes the crafted traces must leave (holes_trace)."""
    big, parked = os.path.join(tmp, "holes.rep"), os.path.join(tmp, "parked.rep")
    holes_trace(big, True)
    holes_trace(parked, False)
    out = os.path.join(tmp, "map.json")
    proc, _ = run(heapbench, "--repeat", "1", "--no-latency", "--heap-map", "2", "--allocators",
                  "sbrk,sbrk-tutorial,glibc", "--json", out, big, parked)
    check(proc.returncode == 0, f"replay --heap-map failed: {proc.stderr[-500:]}")
    if proc.returncode != 0:
        return
    doc = json.load(open(out))
    check(doc["settings"]["heap_map"] == 2, "settings.heap_map")
    final = {}
    check(len(doc["runs"]) == 6, f"{len(doc['runs'])} runs")
    for r in doc["runs"]:
        check(r["status"] == "ok", f"{r['trace']} on {r['allocator']}: {r['status']}")
        path = big if r["trace"] == "holes" else parked
        snapshots = check_heap_map(f"{r['trace']} on {r['allocator']}", r, rep_live_bytes(path), 2)
        if snapshots:
            final[(r["trace"], r["allocator"])] = snapshots[-1]
    # The tutorial policy: the 1,000 freed blocks (32-byte header + 96) stay
    # holes, all below the big block, which had to go after them.
    check(len(final) == 6, f"final snapshots of {sorted(final)}")
    s = final.get(("holes", "sbrk-tutorial"))
    if s and check(s["blocks"] is not None, "holes on sbrk-tutorial: blocks listed"):
        holes = [b for b in s["blocks"] if b[2] == "f"]
        check(len(holes) == 1000 and all(b[1] == 128 for b in holes),
              f"holes on sbrk-tutorial: {len(holes)} free blocks, expected 1,000 of 128 bytes")
        big_block = [b for b in s["blocks"] if b[2] == "a" and b[1] >= 111992]
        check(len(big_block) == 1 and all(h[0] < big_block[0][0] for h in holes),
              "holes on sbrk-tutorial: the big block lies above the holes")
    # The default policy: the run merged and the big block took it: no
    # parked block, and at most the free space around it (two blocks).
    s = final.get(("holes", "sbrk"))
    if s:
        check(s["parked"]["blocks"] == 0 and s["free"]["blocks"] <= 2,
              f"holes on sbrk: {s['parked']['blocks']} parked, {s['free']['blocks']} free blocks")
    s = final.get(("parked", "sbrk"))
    if s and check(s["blocks"] is not None, "parked on sbrk: blocks listed"):
        # 112 bytes each (96 and a header, rounded to 16), or up to 32 more
        # where the rest of a free block was too small to split off.
        check(len([b for b in s["blocks"] if b[2] == "p" and 112 <= b[1] < 144]) == 1000,
              f"parked on sbrk: {s['parked']['blocks']} parked blocks, expected 1,000 of 112 bytes")
    s = final.get(("parked", "sbrk-tutorial"))
    if s:
        check(s["free"]["blocks"] == 1000 and s["parked"]["blocks"] == 0,
              f"parked on sbrk-tutorial: {s['free']['blocks']} free, {s['parked']['blocks']} parked")
    s = final.get(("holes", "glibc"))
    if s:
        check(s["allocated"]["blocks"] == 2, f"holes on glibc: {s['allocated']['blocks']} live blocks")
    # Without the option: no pass, null.
    proc, _ = run(heapbench, "--repeat", "1", "--no-latency", "--allocators", "glibc", "--json",
                  out, parked)
    doc = json.load(open(out))
    check(doc["settings"]["heap_map"] is None and doc["runs"][0]["heap_map"] is None,
          "without --heap-map, heap_map is null")
    for bad in ("0", "65", "-1", "two", "1.5"):
        proc, _ = run(heapbench, "--heap-map", bad, parked)
        first = proc.stderr.splitlines()[0] if proc.stderr else ""
        check(proc.returncode == 2 and "--heap-map wants a count from 1 to 64" in first
              and bad in first, f"--heap-map {bad}: exit {proc.returncode}, {first!r}")


def case_allocator_list(heapbench, tmp, shared):
    """--allocators: names in the order given, "all", and "-NAME" to leave one out."""
    trace = os.path.join(tmp, "tiny.rep")
    write_rep(trace, [("a", 0, 32), ("f", 0)], 1)
    names = allocators(heapbench)
    expect = {
        "sbrk,glibc": ["sbrk", "glibc"],
        "-sbrk-tutorial": [n for n in names if n != "sbrk-tutorial"],
        "all,-glibc,-sbrk": [n for n in names if n not in ("glibc", "sbrk")],
        "glibc,sbrk,-sbrk,sbrk-bestfit": ["glibc", "sbrk-bestfit"],
    }
    for spec, want in expect.items():
        proc, _ = run(heapbench, "--repeat", "1", "--allocators", spec, trace)
        check(proc.returncode == 0, f"{spec}: exit {proc.returncode}: {proc.stderr}")
        got = [line.split()[1] for line in proc.stdout.splitlines()[1:]
               if line.startswith("tiny ")]
        check(got == want, f"--allocators {spec}: {got}, want {want}")


def case_shared_traces(heapbench, tmp, shared):
    base = os.path.join(shared, "traces", "malloclab")
    traces = [os.path.join(base, "cmu-extended", "bash.rep"), os.path.join(base, "realloc-bal.rep")]
    if not all(os.path.exists(t) for t in traces):
        print("skipped: ../shared traces absent")
        sys.exit(SKIP)
    out = os.path.join(tmp, "shared.json")
    proc, _ = run(heapbench, "--allocators", "glibc,jemalloc", "--repeat", "1", "--json", out,
                  *traces)
    check(proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}")
    runs = json.load(open(out))["runs"]
    check(len(runs) == 4, "2 traces x 2 allocators")
    for r in runs:
        check_ok_run(r, r["trace_path"])


def case_resident(heapbench, tmp, shared):
    """peak_resident_bytes is what the kernel holds with every byte written:
    64 blocks of 512 KiB (32 MiB live) must show as about 32 MiB resident on
    every allocator. Writing only the first byte of each block would leave
    most of those pages untouched (a few hundred KiB resident), so this
    fails if the instrumented pass stops writing whole blocks. The grown
    part of a realloc counts too: 16 blocks grown from 64 KiB to 1 MiB."""
    trace = os.path.join(tmp, "big.rep")
    ops = [("a", i, 512 << 10) for i in range(64)] + [("f", i) for i in range(64)]
    ops += [("a", 64 + i, 64 << 10) for i in range(16)]
    ops += [("r", 64 + i, 1 << 20) for i in range(16)] + [("f", 64 + i) for i in range(16)]
    write_rep(trace, ops, 80)
    out = os.path.join(tmp, "big.json")
    proc, _ = run(heapbench, "--repeat", "1", "--json", out, trace)
    check(proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}")
    for r in json.load(open(out))["runs"]:
        name = f"big/{r['allocator']}"
        check(r["status"] == "ok", f"{name}: {r['status']}")
        live, resident = r["peak_live_bytes"], r["peak_resident_bytes"]
        check(live == 32 << 20, f"{name}: peak live {live}")
        # The tutorial policy never splits or merges: the 1 MiB blocks of
        # the second part cannot use the freed 512 KiB ones, so it holds
        # 48 MiB, as the kernel rightly counts. (Under AddressSanitizer
        # every written byte also touches 1/8 of a byte of shadow memory.)
        high = 1.8 if r["allocator"] == "sbrk-tutorial" else 1.3
        check(resident is not None and 0.95 * live <= resident <= high * live,
              f"{name}: peak resident {resident} for {live} live bytes, every byte written")


def case_warm(heapbench, tmp, shared):
    """The warm replay runs in the process the cold one warmed up: an
    allocator that keeps freed memory (jemalloc: dirty pages decay over
    seconds) takes far fewer page faults in it. 20,000 blocks of 500 bytes
    (10 MB) allocated, then freed."""
    if "jemalloc" not in allocators(heapbench):
        print("jemalloc not built: SKIP")
        sys.exit(77)
    trace = os.path.join(tmp, "warm.rep")
    n = 20000
    write_rep(trace, [("a", i, 500) for i in range(n)] + [("f", i) for i in range(n)], n)
    out = os.path.join(tmp, "warm.json")
    proc, _ = run(heapbench, "--repeat", "3", "--allocators", "jemalloc", "--warmup", "1",
                  "--json", out, trace)
    check(proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}")
    r = json.load(open(out))["runs"][0]
    check(r["status"] == "ok" and r["warm_ns_per_op"] > 0, f"warm: {r['status']}")
    check(r["minor_faults"] > 1000, f"cold replay took only {r['minor_faults']} faults for 10 MB")
    check(r["warm_minor_faults"] < r["minor_faults"] / 4,
          f"warm replay took {r['warm_minor_faults']} faults, cold {r['minor_faults']}")
    # --speed cold leaves the warm figures out, and the reverse.
    proc, _ = run(heapbench, "--repeat", "1", "--allocators", "jemalloc", "--speed", "cold",
                  "--json", out, trace)
    r = json.load(open(out))["runs"][0]
    check(r["ns_per_op"] is not None and r["warm_ns_per_op"] is None, "--speed cold")
    proc, _ = run(heapbench, "--repeat", "1", "--allocators", "jemalloc", "--speed", "warm",
                  "--json", out, trace)
    r = json.load(open(out))["runs"][0]
    check(r["ns_per_op"] is None and r["warm_ns_per_op"] is not None, "--speed warm")


def case_bundled(heapbench, tmp, shared):
    # No TRACE: the traces the project ships (traces/data/*.hbt, *.hbt.zst).
    data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "traces", "data")
    bundled = sorted(f.split(".hbt")[0] for f in os.listdir(data)
                     if f.endswith(".hbt") or f.endswith(".hbt.zst")) if os.path.isdir(data) else []
    out = os.path.join(tmp, "bundled.json")
    proc, _ = run(heapbench, "--allocators", "glibc", "--repeat", "1", "--speed", "cold",
                  "--json", out)
    if not bundled:
        check(proc.returncode != 0 and "no bundled trace" in proc.stderr,
              f"no bundled trace: exit {proc.returncode}, {proc.stderr!r}")
        return
    check(proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}")
    runs = json.load(open(out))["runs"]
    check(sorted(r["trace"] for r in runs) == bundled, "one run per bundled trace")
    for r in runs:
        check(r["status"] == "ok" and r["trace_format"] == "hbt", f"{r['trace']}: {r['status']}")
    # The sbrk policy on a multi-threaded recording: creating the replay's
    # threads mallocs from glibc, which moves the program break; the policy
    # must not start before they exist (it once did in the instrumented
    # pass, and glibc's trim then took its heap away: SIGBUS).
    threaded = sorted((t for t in bundled if "threads" in t), key=lambda t: not t.startswith("python3"))
    if threaded and "sbrk" in allocators(heapbench):
        proc, _ = run(heapbench, "--allocators", "sbrk", "--repeat", "1", "--speed", "cold",
                      "--traces", threaded[0], "--json", out)
        r = json.load(open(out))["runs"][0]
        check(r["status"] == "ok" and r["peak_resident_bytes"], f"sbrk on {threaded[0]}: {r['status']}")


def loaded_library(stem):
    """The path of a shared object this Python process has mapped, e.g. libm."""
    for line in open("/proc/self/maps"):
        path = line.split()[-1]
        if os.path.basename(path).startswith(stem + ".so"):
            return path
    return None


TBB_PROXY = "/usr/lib/x86_64-linux-gnu/libtbbmalloc_proxy.so.2"


def case_library(heapbench, tmp, shared):
    """--allocators NAME=PATH: the drop-in given by path replays like the sbrk
    adapter (ops, peak live, reuse); an allocator with no adapter (TBB's
    proxy) replays; a bad library stops the command before anything runs."""
    dropin = os.path.join(os.path.dirname(heapbench), "allocator", "dropin", "libhb-sbrk.so")
    trace = os.path.join(tmp, "mixed.rep")
    random_trace(trace, ops=4000, seed=16)
    spec = f"sbrk,mine={dropin}"
    have_tbb = os.path.exists(TBB_PROXY)
    if have_tbb:
        spec += f",tbb={TBB_PROXY}"
    else:
        print("note: libtbbmalloc2 is not installed (quickstart installs it); tbb part skipped")
    out = os.path.join(tmp, "lib.json")
    proc, _ = run(heapbench, "--repeat", "1", "--allocators", spec, "--json", out, trace)
    check(proc.returncode == 0, f"{spec}: exit {proc.returncode}: {proc.stderr}")
    if proc.returncode != 0:
        return
    runs = {r["allocator"]: r for r in json.load(open(out))["runs"]}
    sbrk, mine = runs["sbrk"], runs["mine"]
    for key in ("ops", "peak_live_bytes", "allocations", "reuses", "lifo_share", "reuse_rate"):
        check(sbrk[key] == mine[key], f"drop-in by path: {key} {mine[key]} != sbrk's {sbrk[key]}")
    check(mine["group"] == "preload", f"group {mine['group']}")
    check(mine["status"] == "ok", f"drop-in status {mine['status']}")
    check(mine["peak_footprint_bytes"] is None, "a preloaded library has no footprint of its own")
    check((mine["peak_resident_bytes"] or 0) > 0, "the resident measure is there")
    check(all(s["footprint_bytes"] is None for s in mine["heap_growth"]), "growth: no footprint")
    if have_tbb:
        tbb = runs["tbb"]
        check(tbb["status"] == "ok", f"tbb status {tbb['status']}")
        check(tbb["ops"] == sbrk["ops"] and tbb["peak_live_bytes"] == sbrk["peak_live_bytes"],
              "tbb: the same trace")
        check(tbb["ns_per_op"] is not None, "tbb: timed")
    # Bad libraries: one line naming it, exit 1, nothing written.
    not_elf = os.path.join(tmp, "notes.so")
    with open(not_elf, "w") as f:
        f.write("not a library\n")
    libm = loaded_library("libm")
    bad = [(f"x={os.path.join(tmp, 'missing.so')}", "missing.so"), (f"x={not_elf}", "notes.so"),
           (f"glibc={dropin}", "glibc")]
    if libm:
        bad.append((f"m={libm}", "does not interpose malloc"))
    for spec, needle in bad:
        json_path = os.path.join(tmp, "bad.json")
        proc, _ = run(heapbench, "--allocators", spec, "--json", json_path, trace)
        check(proc.returncode == 1, f"{spec}: exit {proc.returncode}")
        lines = proc.stderr.splitlines()
        check(len(lines) == 1 and needle in lines[0], f"{spec}: stderr {proc.stderr!r}")
        check(proc.stdout == "" and not os.path.exists(json_path), f"{spec}: something was written")


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in CASES:
        print(f"usage: {sys.argv[0]} {'|'.join(CASES)} HEAPBENCH [SHARED_DIR]", file=sys.stderr)
        return 2
    heapbench = os.path.abspath(sys.argv[2])
    shared = sys.argv[3] if len(sys.argv) > 3 else ""
    with tempfile.TemporaryDirectory(prefix="hb-replay-test-") as tmp:
        CASES[sys.argv[1]](heapbench, tmp, shared)
    print(f"{sys.argv[1]}: {len(FAILURES)} failed checks")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
