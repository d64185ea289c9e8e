#!/usr/bin/python3
"""check_shim.py EXE — runs the shim's own benchmarks (shim.c) and checks
the Google Benchmark JSON: names, arguments, counters and their flags,
items, skip-with-error, threads."""
import json
import os
import subprocess
import sys
import tempfile


def fail(message):
    print(f"check_shim: {message}", file=sys.stderr)
    sys.exit(1)


def expect(condition, message):
    if not condition:
        fail(message)


with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "out.json")
    run = subprocess.run([sys.argv[1], "--benchmark_min_time=0.01", "--benchmark_out=" + out,
                          "--benchmark_out_format=json"], capture_output=True, text=True)
    expect(run.returncode == 0, f"exit {run.returncode}: {run.stderr.strip()}")
    expect("shim:" not in run.stderr, run.stderr.strip())
    with open(out) as f:
        results = {r["name"]: r for r in json.load(f)["benchmarks"]}

expect(set(results) == {"shim/count/3/5", "shim/limit-pause", "shim/skip",
                        "shim/threads/real_time/threads:2", "shim/manual/manual_time"}, f"names: {sorted(results)}")

count = results["shim/count/3/5"]
expect(not count.get("error_occurred"), f"count: {count.get('error_message')}")
expect(count["handed_out"] == count["iterations"] > 1, f"count: {count}")
expect((count["arg0"], count["arg1"]) == (3, 5), f"count: arguments {count}")
# A rate is the value divided by the CPU seconds of the whole run.
cpu_s = count["cpu_time"] * count["iterations"] * {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1}[count["time_unit"]]
expect(abs(count["rate"] * cpu_s / count["handed_out"] - 1) < 0.01, f"count: rate {count}")
expect(abs(count["items_per_second"] / count["rate"] - 3) < 0.01, f"count: items {count}")

limit = results["shim/limit-pause"]
expect(limit["largest_batch"] == 1 and limit["iterations"] >= 1, f"limit-pause: {limit}")

skip = results["shim/skip"]
expect(skip.get("error_occurred") and skip.get("error_message") == "skipped on purpose",
       f"skip: {skip}")

threads = results["shim/threads/real_time/threads:2"]
expect(not threads.get("error_occurred"), f"threads: {threads.get('error_message')}")
expect(threads["threads"] == 2, f"threads: {threads}")
expect(threads["threads_seen"] == 2 and threads["index_sum"] == 1, f"threads: sums {threads}")
expect(threads["one_on_average"] == 1, f"threads: average {threads}")
manual = results["shim/manual/manual_time"]
expect(manual["time_unit"] == "ns" and abs(manual["real_time"] - 2e6) < 1, f"manual: {manual}")
expect(manual.get("label") == "two ms", f"manual: label {manual}")

print("shim: names, arguments, counters, items, skip, threads, manual time and label as expected")
