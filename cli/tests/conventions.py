#!/usr/bin/env python3
"""The conventions every heapbench command keeps, checked as a user runs it:

  --help on every command and subcommand: usage on stdout, exit 0;
  heapbench --version / version: "heapbench X.Y.Z" and each allocator's version;
  --json - (JSON on stdout, the table on stderr); --csv FILE|-;
  a directory stands for every trace in it, sorted by name (replay, trace info);
  --traces PATTERN picks traces by name;
  an interrupted replay leaves a JSON that says it is partial, which report reads.

    conventions.py HEAPBENCH
"""
import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("check failed:", what, file=sys.stderr)


def run(*args, timeout=300):
    return subprocess.run([HEAPBENCH, *args], capture_output=True, text=True, timeout=timeout)


def write_rep(path, ops, ids):
    with open(path, "w") as out:
        out.write(f"0\n{ids}\n{len(ops)}\n1\n")
        for op in ops:
            out.write(" ".join(str(x) for x in op) + "\n")


def small_trace(path, blocks=8):
    write_rep(path, [("a", i, 16 * (i + 1)) for i in range(blocks)]
              + [("f", i) for i in range(blocks)], blocks)


def test_help():
    commands = [[], ["list"], ["replay"], ["trace"], ["trace", "info"], ["trace", "convert"],
                ["trace", "dump"], ["record"], ["version"], ["report"]]
    for command in commands:
        for flag in ("--help", "-h"):
            proc = run(*command, flag)
            what = " ".join(["heapbench", *command, flag])
            if command == ["report"] and "no Python" in proc.stderr:
                continue  # a build without matplotlib
            check(proc.returncode == 0, f"{what}: exit {proc.returncode}: {proc.stderr[:200]}")
            check(proc.stdout.startswith("usage: "), f"{what}: stdout {proc.stdout[:80]!r}")
            check(proc.stderr == "", f"{what}: stderr {proc.stderr[:200]!r}")
    # Bad usage stays an error, on stderr.
    for command in (["list", "extra"], ["frobnicate"], ["version", "extra"]):
        proc = run(*command)
        check(proc.returncode == 2 and proc.stdout == "", f"{command}: exit {proc.returncode}")


def test_version():
    listed = run("list").stdout.splitlines()[1:]
    names = [line.split()[0] for line in listed if line.strip()]
    for args in (["--version"], ["version"]):
        proc = run(*args)
        check(proc.returncode == 0, f"{args}: exit {proc.returncode}")
        lines = proc.stdout.splitlines()
        check(bool(lines) and re.fullmatch(r"heapbench \d+\.\d+\.\d+", lines[0]),
              f"{args}: first line {lines[:1]}")
        shown = [line.split()[0] for line in lines[1:]]
        check(shown == names, f"{args}: allocators {shown}, `list` says {names}")


def test_outputs(tmp):
    traces = os.path.join(tmp, "traces")
    os.mkdir(traces)
    # Written out of order; a README and a subdirectory are not traces.
    for name in ("b-two", "a-one", "c-three"):
        small_trace(os.path.join(traces, name + ".rep"))
    open(os.path.join(traces, "README"), "w").write("not a trace\n")
    os.mkdir(os.path.join(traces, "more"))
    common = ["--repeat", "2", "--allocators", "glibc,sbrk"]

    # trace info DIR: each trace, by name.
    proc = run("trace", "info", traces)
    check(proc.returncode == 0, f"trace info DIR: exit {proc.returncode}: {proc.stderr}")
    files = re.findall(r"^file +(\S+)", proc.stdout, re.M)
    check([os.path.basename(f) for f in files] == ["a-one.rep", "b-two.rep", "c-three.rep"],
          f"trace info DIR: {files}")
    empty = os.path.join(tmp, "empty")
    os.mkdir(empty)
    proc = run("trace", "info", empty)
    check(proc.returncode == 1 and "no trace" in proc.stderr, f"trace info of an empty dir: "
          f"{proc.returncode} {proc.stderr!r}")

    # replay DIR --json -: JSON on stdout, the table on stderr, traces by name.
    proc = run("replay", *common, "--json", "-", traces)
    check(proc.returncode == 0, f"--json -: exit {proc.returncode}: {proc.stderr}")
    check(not os.path.exists("-"), "--json - wrote a file named '-'")
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        doc = {"runs": []}
        check(False, f"--json -: stdout is not JSON: {proc.stdout[:200]!r}")
    check(doc.get("partial") is False, "a finished run's JSON says partial")
    check([(r["trace"], r["allocator"]) for r in doc["runs"]] ==
          [(t, a) for t in ("a-one", "b-two", "c-three") for a in ("glibc", "sbrk")],
          f"replay DIR: runs {[(r['trace'], r['allocator']) for r in doc['runs']]}")
    check(re.search(r"^trace +allocator", proc.stderr, re.M) is not None,
          "--json -: the table is not on stderr")

    # --csv FILE and --csv -.
    out = os.path.join(tmp, "runs.csv")
    proc = run("replay", *common, "--csv", out, traces)
    check(proc.returncode == 0, f"--csv FILE: exit {proc.returncode}: {proc.stderr}")
    check(re.search(r"^trace +allocator", proc.stdout, re.M) is not None,
          "--csv FILE: the table left stdout")
    rows = list(csv.DictReader(open(out)))
    check(len(rows) == 6, f"--csv: {len(rows)} rows, want 3 traces x 2 allocators")
    for column in ("trace", "allocator", "ops", "cold_ns_per_op", "warm_ns_per_op",
                   "cold_vs_glibc_x", "peak_live_bytes", "peak_resident_bytes", "util_pct",
                   "reuse_pct", "status"):
        check(bool(rows) and column in rows[0], f"--csv: no column {column}")
    for row in rows:
        check(row["status"] == "ok" and float(row["cold_ns_per_op"]) > 0,
              f"--csv row {row['trace']}/{row['allocator']}: {row['status']}")
        check(int(row["peak_live_bytes"]) == sum(16 * (i + 1) for i in range(8)),
              f"--csv: peak live {row['peak_live_bytes']}")
        check(row["cold_vs_glibc_x"] == "" if row["allocator"] == "glibc"
              else float(row["cold_vs_glibc_x"]) > 0, f"--csv: ratio {row['cold_vs_glibc_x']}")
    proc = run("replay", *common, "--csv", "-", traces)
    stdout_rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    check(len(stdout_rows) == 6 and re.search(r"^trace +allocator", proc.stderr, re.M),
          f"--csv -: {len(stdout_rows)} rows on stdout")
    proc = run("replay", *common, "--csv", "-", "--json", "-", traces)
    check(proc.returncode == 2 and "stdout" in proc.stderr, "--csv - --json - accepted")

    # --traces: names matched as shell globs, comma-separated; a pattern
    # matching nothing names the traces there are.
    proc = run("replay", *common, "--traces", "a-*,c-three", "--json", "-", traces)
    got = [r["trace"] for r in json.loads(proc.stdout or '{"runs": []}')["runs"]]
    check(got == ["a-one", "a-one", "c-three", "c-three"], f"--traces: {got}")
    proc = run("replay", *common, "--traces", "nosuch*", traces)
    check(proc.returncode == 2 and "nosuch*" in proc.stderr and "b-two" in proc.stderr,
          f"--traces without match: {proc.returncode} {proc.stderr!r}")
    # Without TRACE, the bundled traces: a pattern that matches none lists them.
    proc = run("replay", "--traces", "nosuch*")
    check(proc.returncode == 2 and "nosuch*" in proc.stderr, f"--traces on bundled: {proc.stderr!r}")


def test_partial(tmp):
    """Ctrl-C after the first trace: the JSON holds it and says it is partial."""
    quick, slow = os.path.join(tmp, "1-quick.rep"), os.path.join(tmp, "2-slow.rep")
    small_trace(quick)
    n = 200000
    write_rep(slow, [("a", i, 64) for i in range(n)] + [("f", i) for i in range(n)], n)
    out = os.path.join(tmp, "partial.json")
    proc = subprocess.Popen([HEAPBENCH, "replay", "--repeat", "20", "--allocators", "glibc,sbrk",
                             "--json", out, quick, slow], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    doc, deadline = None, time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            doc = json.load(open(out))
            if doc.get("traces_done") == 1:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    check(proc.poll() is None, "the replay ended before it could be interrupted")
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=60)
    doc = json.load(open(out))
    check(doc.get("partial") is True and doc.get("traces_done") == 1
          and doc.get("traces_planned") == 2, f"partial JSON: {doc.get('partial')}, "
          f"{doc.get('traces_done')} of {doc.get('traces_planned')}")
    check([r["trace"] for r in doc["runs"]] == ["1-quick", "1-quick"],
          f"partial JSON runs: {[r['trace'] for r in doc['runs']]}")
    report = run("report", out, "-o", os.path.join(tmp, "report"))
    if "no Python" not in report.stderr:
        check(report.returncode == 0, f"report of a partial JSON: {report.stderr[-500:]}")
        check("partial: the replay stopped after 1 of 2 traces" in report.stdout,
              f"report does not say the input is partial: {report.stdout!r}")
        check("drawing 2 runs of heapbench replay (1 trace x 2 allocators)" in report.stdout,
              f"report does not say what it draws: {report.stdout!r}")


def main():
    global HEAPBENCH
    HEAPBENCH = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="hb-cli-test-") as tmp:
        os.chdir(tmp)  # a file named "-" would land here
        test_help()
        test_version()
        test_outputs(tmp)
        test_partial(tmp)
    print(f"conventions: {len(FAILURES)} failed checks")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
