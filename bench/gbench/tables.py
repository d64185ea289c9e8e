#!/usr/bin/python3
"""tables.py pairs|trace [--cpu] FILE.json... — the tables of
docs/BENCHMARKS.md, from Google Benchmark JSON written with
--benchmark_repetitions and --benchmark_report_aggregates_only=true.

  pairs   one row per allocator, one column per size: the median time per
          malloc/free pair in ns (real time; CPU time with --cpu)
  trace   one row per trace and allocator: the median ns per op of the
          in-process replay (manual time / ops) and the replay's counters
"""
import json
import sys

SIZES = [16, 64, 256, 4096, 65536, 1048576]
LABELS = ["16 B", "64 B", "256 B", "4 KiB", "64 KiB", "1 MiB"]
TO_NS = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}


def medians(paths, family):
    """(allocator, arg) -> the median aggregate's result, in file order."""
    found = {}
    for path in paths:
        with open(path) as f:
            for result in json.load(f)["benchmarks"]:
                if result.get("aggregate_name") != "median":
                    continue
                parts = result["run_name"].split("/")
                if parts[0] == family:
                    found[(parts[1], parts[2])] = result
    return found


def pairs_table(paths, column):
    found = medians(paths, "pairs")
    allocators = list(dict.fromkeys(a for a, _ in found))
    print("| allocator | " + " | ".join(LABELS) + " |")
    print("|---|" + "---:|" * len(SIZES))
    for a in allocators:
        cells = []
        for size in SIZES:
            r = found.get((a, str(size)))
            cells.append(f"{r[column] * TO_NS[r['time_unit']]:.1f}" if r else "—")
        print(f"| {a} | " + " | ".join(cells) + " |")


def trace_table(paths):
    found = medians(paths, "trace")
    print("| trace | allocator | ns/op | utilization | reuse rate | LIFO share |")
    print("|---|---|---:|---:|---:|---:|")
    for (a, trace), r in sorted(found.items(), key=lambda item: (item[0][1], 0)):
        def figure(name):
            return f"{r[name]:.3f}" if name in r else "—"
        ns = f"{1e9 / r['items_per_second']:.1f}" if r.get("items_per_second") else "—"
        print(f"| {trace} | {a} | {ns} | {figure('utilization')} | {figure('reuse_rate')} | "
              f"{figure('lifo_share')} |")


if len(sys.argv) < 3 or sys.argv[1] not in ("pairs", "trace"):
    sys.exit(__doc__)
args = sys.argv[2:]
column = "real_time"
if args[0] == "--cpu":
    column, args = "cpu_time", args[1:]
if sys.argv[1] == "pairs":
    pairs_table(args, column)
else:
    trace_table(args)
