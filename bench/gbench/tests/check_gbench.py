#!/usr/bin/python3
"""check_gbench.py EXE [--traces=DIR] FAMILY... — runs a hb-gbench-<group>
executable for a moment (tiny --benchmark_min_time) and checks its Google
Benchmark JSON: every family named on the command line ran on every
allocator the executable's registry lists, each result has iterations and
a time or a "skipped:" reason from the time guard (never for pairs), and
memory counters, where present, are sane (0 < utilization, and <= 1 for
the microbenchmarks). With --traces=DIR, the trace family replays DIR and
must hold one result per allocator and trace, with the replay's counters."""
import json
import os
import subprocess
import sys
import tempfile


def fail(message):
    print(f"check_gbench: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    exe, families = sys.argv[1], sys.argv[2:]
    extra, traces = [], []
    if families and families[0].startswith("--traces="):
        extra = [families.pop(0)]
        trace_dir = extra[0][len("--traces="):]
        traces = sorted(f[:-4] for f in os.listdir(trace_dir) if f.endswith(".hbt"))
        families.append("trace")
    allocators = subprocess.run([exe, "--list-allocators"], check=True, capture_output=True,
                                text=True).stdout.split()
    if not allocators:
        fail(f"{exe} lists no allocator")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.json")
        run = subprocess.run([exe] + extra + ["--benchmark_min_time=0.001", "--benchmark_out=" + out,
                              "--benchmark_out_format=json"], capture_output=True, text=True)
        if run.returncode != 0:
            fail(f"{exe} exited {run.returncode}: {run.stderr.strip()}")
        with open(out) as f:
            report = json.load(f)

    seen = {}  # (family, allocator) -> number of results
    for result in report["benchmarks"]:
        name = result["name"]
        parts = name.split("/")
        if len(parts) < 3:
            fail(f"{name}: not family/allocator/arg")
        family, allocator = parts[0], parts[1]
        if allocator not in allocators:
            fail(f"{name}: allocator {allocator} is not in the registry {allocators}")
        seen[(family, allocator)] = seen.get((family, allocator), 0) + 1
        if result.get("error_occurred"):
            message = result.get("error_message", "")
            if family == "pairs" or not message.startswith("skipped:"):
                fail(f"{name}: failed: {message}")
            continue
        if result["iterations"] < 1 or result["real_time"] <= 0:
            fail(f"{name}: no measurement: {result}")
        if family == "trace":
            seen[("trace", allocator, parts[2])] = 1
            # The counters come from the replay's own cell; it must have run.
            for counter in ("reuse_rate", "peak_live_bytes"):
                if counter not in result:
                    fail(f"{name}: no {counter} ({result.get('label', 'no label')})")
            if result["items_per_second"] <= 0:
                fail(f"{name}: items_per_second {result['items_per_second']}")
        # A footprint sampled between reads may miss a trace's peak: the
        # replay's utilization is not bounded by 1 (docs/METRICS.md).
        limit = float("inf") if family == "trace" else 1
        if "utilization" in result and not 0 < result["utilization"] <= limit:
            fail(f"{name}: utilization {result['utilization']} outside (0, {limit}]")
        if "peak_footprint_bytes" in result and result["peak_footprint_bytes"] <= 0:
            fail(f"{name}: peak_footprint_bytes {result['peak_footprint_bytes']}")
        # glibc always answers its footprint: its counters must be there.
        if allocator == "glibc" and family != "trace" and "peak_footprint_bytes" not in result:
            fail(f"{name}: no memory counters for glibc")

    for family in families:
        for allocator in allocators:
            if (family, allocator) not in seen:
                fail(f"no {family}/{allocator}/... result")
    for trace in traces:
        for allocator in allocators:
            if ("trace", allocator, trace) not in seen:
                fail(f"no trace/{allocator}/{trace} result")
    print(f"{len(report['benchmarks'])} results, {len(families)} families x "
          f"{len(allocators)} allocators: {', '.join(allocators)}")


main()
