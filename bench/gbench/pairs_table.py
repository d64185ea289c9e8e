#!/usr/bin/python3
"""pairs_table.py [--cpu] FILE.json... — the docs' table of malloc/free pair
cost: one row per allocator, one column per size, the median real time (or
with --cpu the median CPU time) per pair in ns, from Google Benchmark JSON
written with --benchmark_repetitions and
--benchmark_report_aggregates_only=true (see docs/BENCHMARKS.md)."""
import json
import sys

SIZES = [16, 64, 256, 4096, 65536, 1048576]
LABELS = ["16 B", "64 B", "256 B", "4 KiB", "64 KiB", "1 MiB"]
TO_NS = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}

args = sys.argv[1:]
column = "real_time"
if args and args[0] == "--cpu":
    column, args = "cpu_time", args[1:]
medians = {}  # allocator -> size -> ns
order = []
for path in args:
    with open(path) as f:
        report = json.load(f)
    for result in report["benchmarks"]:
        if result.get("aggregate_name") != "median":
            continue
        family, allocator, size = result["run_name"].split("/")[:3]
        if family != "pairs" or int(size) not in SIZES:
            continue
        if allocator not in medians:
            medians[allocator] = {}
            order.append(allocator)
        medians[allocator][int(size)] = result[column] * TO_NS[result["time_unit"]]

print("| allocator | " + " | ".join(LABELS) + " |")
print("|---|" + "---:|" * len(SIZES))
for allocator in order:
    cells = [f"{medians[allocator][s]:.1f}" if s in medians[allocator] else "—" for s in SIZES]
    print(f"| {allocator} | " + " | ".join(cells) + " |")
