#!/usr/bin/python3
"""ladder_table.py — the docs' sbrk tables from `heapbench replay --json` output.

Usage: ladder_table.py REPLAY.json [ALLOCATOR,...]
       ladder_table.py --versus REPLAY.json BASE OTHER

The first form: one row per trace, one column per allocator (in the order
given, default the order the JSON lists them): "Mops/s / utilization",
throughput from the median wall-clock ns per op, then the average
utilization of each column.
Utilization here is the CS:APP malloc lab's, the allocator's own figure:
peak live bytes / peak footprint. It is `reported_utilization` where the
JSON has it (schema 2, where `utilization` is resident-memory based), else
computed from `peak_live_bytes` and `peak_footprint_bytes` (both schemas).
The second: OTHER against BASE per trace: ns per op (wall and CPU time,
medians), OTHER's speed as a ratio (BASE time / OTHER time: > 1 is faster),
peak footprints and their ratio (OTHER / BASE: <= 1 is smaller).
"""
import json
import sys


def cs_app_utilization(run):
    """Peak live bytes / peak footprint; None when the allocator cannot
    report its footprint."""
    if "reported_utilization" in run:
        return run["reported_utilization"]
    footprint, live = run.get("peak_footprint_bytes"), run.get("peak_live_bytes")
    if not footprint or live is None:
        return None
    return live / footprint


def versus(path, base, other):
    with open(path) as f:
        runs = json.load(f)["runs"]
    cells = {(r["trace"], r["allocator"]): r for r in runs}
    traces = []
    for r in runs:
        if r["trace"] not in traces:
            traces.append(r["trace"])
    print("| trace | ops | wall ns/op %s / %s | speed ratio (wall) | CPU ns/op %s / %s | "
          "speed ratio (CPU) | peak footprint %s / %s (KiB) | footprint ratio |"
          % (base, other, base, other, base, other))
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for t in traces:
        b, o = cells.get((t, base)), cells.get((t, other))
        if not b or not o or b.get("status") != "ok" or o.get("status") != "ok":
            print("| %s | - | - | - | - | - | - | - |" % t)
            continue
        print("| %s | %d | %.1f / %.1f | %.2f | %.1f / %.1f | %.2f | %d / %d | %.3f |" % (
            t, b["ops"], b["ns_per_op"], o["ns_per_op"], b["ns_per_op"] / o["ns_per_op"],
            b["cpu_ns_per_op"], o["cpu_ns_per_op"], b["cpu_ns_per_op"] / o["cpu_ns_per_op"],
            b["peak_footprint_bytes"] // 1024, o["peak_footprint_bytes"] // 1024,
            o["peak_footprint_bytes"] / b["peak_footprint_bytes"]))


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--versus":
        versus(*sys.argv[2:])
        return
    if len(sys.argv) < 2:
        sys.exit(__doc__.strip().splitlines()[2])
    with open(sys.argv[1]) as f:
        runs = json.load(f)["runs"]
    traces, allocators, cells = [], [], {}
    for run in runs:
        if run["trace"] not in traces:
            traces.append(run["trace"])
        if run["allocator"] not in allocators:
            allocators.append(run["allocator"])
        cells[run["trace"], run["allocator"]] = run
    if len(sys.argv) > 2:
        allocators = sys.argv[2].split(",")

    def cell(run):
        if not run or run.get("status") != "ok":
            return run.get("status", "-") if run else "-"
        util = cs_app_utilization(run)
        speed = "%.2f" % (run["ops_per_sec"] / 1e6) if run.get("ops_per_sec") else "-"
        return "%s / %s" % (speed, "%.3f" % util if util is not None else "-")

    print("| trace | " + " | ".join(allocators) + " |")
    print("|---|" + "---:|" * len(allocators))
    for trace in traces:
        print("| %s | " % trace + " | ".join(cell(cells.get((trace, a))) for a in allocators) + " |")
    averages = []
    for a in allocators:
        utils = [cs_app_utilization(cells[t, a]) for t in traces if (t, a) in cells]
        utils = [u for u in utils if u is not None]
        averages.append("**%.3f**" % (sum(utils) / len(utils)) if len(utils) == len(traces) else "-")
    print("| **average utilization** | " + " | ".join(averages) + " |")


main()
