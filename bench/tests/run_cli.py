#!/usr/bin/env python3
"""Tests of `heapbench run` as a user runs it.

    run_cli.py CASE HEAPBENCH RUN_ALLOC RUN_STATIC

RUN_ALLOC is bench/tests/run_alloc.c built (a known allocation pattern),
RUN_STATIC the same statically linked. No test asserts a speed. Exit 77 =
skipped (meson).
"""
import json
import os
import subprocess
import sys
import tempfile

FAILURES = []
TBB_PROXY = "/usr/lib/x86_64-linux-gnu/libtbbmalloc_proxy.so.2"
MIB = 1 << 20


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("check failed:", what, file=sys.stderr)


def run(heapbench, *args, env=None):
    return subprocess.run([heapbench, "run", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def runs_of(path):
    data = json.load(open(path))
    check(data.get("kind") == "run", "the JSON says kind: run")
    check("machine" in data and "cores" in data["machine"], "the machine block is there")
    return {r["allocator"]: r for r in data["runs"]}


def case_pattern(heapbench, tmp, alloc, static):
    """64 MiB against 1 MiB under two allocators: exit code, RSS ordering,
    every figure of the JSON, the CSV, the table."""
    out = {}
    for mib in (1, 64):
        path = os.path.join(tmp, f"{mib}.json")
        csv = os.path.join(tmp, f"{mib}.csv")
        proc = run(heapbench, "--allocators", "glibc,sbrk", "--repeat", "2", "--json", path,
                   "--csv", csv, "--check-output", "--", alloc, str(mib), "3")
        check(proc.returncode == 0, f"{mib} MiB: exit {proc.returncode}: {proc.stderr}")
        if proc.returncode:
            return
        out[mib] = runs_of(path)
        lines = open(csv).read().splitlines()
        check(len(lines) == 3 and lines[0].startswith("program,allocator,status"), "CSV shape")
        check("glibc" in proc.stdout and "sbrk" in proc.stdout and "reference" in proc.stdout,
              "the table names the allocators")
    for name in ("glibc", "sbrk"):
        small, big = out[1][name], out[64][name]
        for r in (small, big):
            check(r["status"] == "ok", f"{name}: status {r['status']}")
            check(r["exit_code"] == 3, f"{name}: exit code {r['exit_code']}")
            check(r["repeat"] == 2 and len(r["wall_ns_passes"]) == 2, f"{name}: passes")
            check(r["wall_ns_min"] <= r["wall_ns"] <= r["wall_ns_max"], f"{name}: min <= median <= max")
            for key in ("user_ns", "sys_ns", "minor_faults", "major_faults", "voluntary_switches",
                        "involuntary_switches"):
                check(isinstance(r[key], (int, float)) and r[key] >= 0, f"{name}: {key} {r[key]}")
            check(r["result"]["same_exit_code"] is True, f"{name}: same exit code")
            check(r["result"]["same_stdout"] is True, f"{name}: same stdout")
            check(r["argv"][1:] == [str(64 if r is big else 1), "3"], f"{name}: argv {r['argv']}")
        check(big["peak_rss_bytes"] > small["peak_rss_bytes"] + 48 * MIB,
              f"{name}: peak RSS 64 MiB {big['peak_rss_bytes']} vs 1 MiB {small['peak_rss_bytes']}")
        check(small["peak_rss_bytes"] < 16 * MIB,
              f"{name}: 1 MiB run's peak RSS {small['peak_rss_bytes']}: the front end's counted?")
    check(out[1]["glibc"]["library"] is None, "glibc: nothing preloaded")
    check(out[1]["sbrk"]["library"].endswith("libhb-sbrk.so"), "sbrk: the drop-in")
    check(out[1]["sbrk"]["sbrk_policy"] == "sbrk", "sbrk: its policy")
    check(out[1]["sbrk"]["ratio_to_baseline"]["baseline"] == "glibc", "ratio to glibc")
    check(out[1]["glibc"]["ratio_to_baseline"] is None, "no ratio for the baseline itself")


def case_result_differs(heapbench, tmp, alloc, static):
    """A result that depends on the allocator is reported per run."""
    path = os.path.join(tmp, "usable.json")
    proc = run(heapbench, "--allocators", "glibc,sbrk-tutorial", "--repeat", "1", "--json", path,
               "--check-output", "--", alloc, "usable")
    check(proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}")
    runs = runs_of(path)
    g, t = runs["glibc"], runs["sbrk-tutorial"]
    if g["exit_code"] == t["exit_code"]:
        print("skipped: both allocators give the same usable size")
        return
    check(t["result"]["same_exit_code"] is False, "the exit code differs")
    check(t["result"]["same_stdout"] is False, "the stdout differs")
    check("EXIT" in proc.stdout, "the table shows it")


def case_policies(heapbench, tmp, alloc, static):
    """Each sbrk policy through the drop-in, by HB_SBRK_POLICY; a library
    given by path is simply preloaded."""
    report = os.path.join(tmp, "report.txt")
    dropin = os.path.join(os.path.dirname(heapbench), "allocator", "dropin", "libhb-sbrk.so")
    spec = f"sbrk-bestfit,sbrk-nextfit,mine={dropin}"
    if os.path.exists(TBB_PROXY):
        spec += f",tbb={TBB_PROXY}"
    path = os.path.join(tmp, "p.json")
    proc = run(heapbench, "--allocators", spec, "--repeat", "1", "--json", path, "--", alloc, "4",
               "0", env=dict(os.environ, HB_SBRK_REPORT=report))
    check(proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}")
    runs = runs_of(path)
    for name, r in runs.items():
        check(r["status"] == "ok" and r["exit_code"] == 0, f"{name}: {r['status']}")
    # The last three: the check that mine= interposes malloc ran the drop-in too.
    policies = [line.rsplit(" ", 1)[-1] for line in open(report).read().splitlines()][-3:]
    check(policies == ["sbrk-bestfit", "sbrk-nextfit", "sbrk"], f"policies served: {policies}")
    check(runs["mine"]["library"] == os.path.realpath(dropin), "NAME=PATH: preloaded as given")
    if "tbb" in runs:
        check(runs["tbb"]["library"].startswith("/usr/lib/") and runs["tbb"]["group"] == "preload",
              "tbb: preloaded")


def case_bad_input(heapbench, tmp, alloc, static):
    """One line naming the problem, exit 1 (2 for usage), nothing written.
    And the CLI conventions: --help, --json - (the table on stderr)."""
    for flag in ("--help", "-h"):
        proc = run(heapbench, flag)
        check(proc.returncode == 0 and proc.stdout.startswith("usage: heapbench run")
              and proc.stderr == "", f"run {flag}: {proc.returncode} {proc.stderr[:100]!r}")
    proc = run(heapbench, "--allocators", "glibc", "--repeat", "1", "--json", "-", alloc, "1", "0")
    check(proc.returncode == 0, f"--json -: exit {proc.returncode}")
    try:
        check(json.loads(proc.stdout)["runs"][0]["allocator"] == "glibc", "--json -: the JSON")
    except ValueError:
        check(False, f"--json -: stdout is not JSON: {proc.stdout[:100]!r}")
    check("peak RSS" in proc.stderr, "--json -: the table on stderr")
    not_exec = os.path.join(tmp, "data.txt")
    with open(not_exec, "w") as f:
        f.write("hello\n")
    not_elf = os.path.join(tmp, "lib.so")
    with open(not_elf, "w") as f:
        f.write("nope\n")
    cases = [
        ([os.path.join(tmp, "no-such-program")], "no-such-program", 1),
        (["no-such-program-anywhere"], "no-such-program-anywhere", 1),
        ([not_exec], "not an executable", 1),
        ([static], "statically linked", 1),
        (["--allocators", f"x={not_elf}", alloc, "1", "0"], "lib.so", 1),
        (["--allocators", f"x={os.path.join(tmp, 'gone.so')}", alloc, "1", "0"], "gone.so", 1),
        (["--allocators", "glibc,nosuch", alloc, "1", "0"], "nosuch", 1),
        (["--stdin", os.path.join(tmp, "nothing"), alloc, "1", "0"], "nothing", 1),
        (["--repeat", "0", alloc], "--repeat", 2),
        (["--csv", "-", "--json", "-", alloc], "stdout", 2),
        ([], "PROGRAM", 2),
    ]
    for args, needle, code in cases:
        json_path = os.path.join(tmp, "bad.json")
        proc = run(heapbench, "--json", json_path, *args)
        check(proc.returncode == code, f"{args}: exit {proc.returncode}, want {code}")
        first = proc.stderr.splitlines()[0] if proc.stderr else ""
        check(needle in first, f"{args}: first error line {first!r} does not name {needle!r}")
        if code == 1:
            check(len(proc.stderr.splitlines()) == 1, f"{args}: one line: {proc.stderr!r}")
        check(proc.stdout == "" and not os.path.exists(json_path), f"{args}: something was written")


def case_report(heapbench, tmp, alloc, static):
    """`heapbench report` draws run results, beside the replay's."""
    run_json = os.path.join(tmp, "run.json")
    proc = run(heapbench, "--allocators", "glibc,sbrk-tutorial", "--repeat", "2", "--json",
               run_json, "--", alloc, "usable")
    check(proc.returncode == 0, f"run: exit {proc.returncode}: {proc.stderr}")
    trace = os.path.join(tmp, "tiny.rep")
    with open(trace, "w") as f:
        f.write("0\n2\n4\n1\na 0 32\na 1 4000\nf 0\nf 1\n")
    replay_json = os.path.join(tmp, "replay.json")
    proc = subprocess.run([heapbench, "replay", "--allocators", "glibc,sbrk", "--repeat", "1",
                           "--json", replay_json, trace], capture_output=True, text=True)
    check(proc.returncode == 0, f"replay: exit {proc.returncode}: {proc.stderr}")
    out_dir = os.path.join(tmp, "report")
    proc = subprocess.run([heapbench, "report", run_json, replay_json, "-o", out_dir],
                          capture_output=True, text=True)
    if proc.returncode != 0 and "matplotlib" in proc.stderr:
        print("skipped: no matplotlib")
        sys.exit(77)
    check(proc.returncode == 0, f"report: exit {proc.returncode}: {proc.stderr}")
    for name in ("run-1.png", "run-1.svg", "report.html"):
        check(os.path.exists(os.path.join(out_dir, name)), f"report wrote {name}")
    page = open(os.path.join(out_dir, "report.html"), encoding="utf-8").read()
    check("Programs (heapbench run)" in page, "the page has the programs section")
    check("Overview: every trace" in page, "the replay sections are there too")
    check("sbrk-tutorial" in page and "glibc" in page, "the allocators are named")
    runs = runs_of(run_json)
    if runs["glibc"]["exit_code"] != runs["sbrk-tutorial"]["exit_code"]:
        check("≠" in page, "a different result is marked on the page")


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in CASES:
        print(f"usage: {sys.argv[0]} {'|'.join(CASES)} HEAPBENCH RUN_ALLOC RUN_STATIC",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="hb-run-test-") as tmp:
        CASES[sys.argv[1]](os.path.abspath(sys.argv[2]), tmp, sys.argv[3], sys.argv[4])
    print(f"{sys.argv[1]}: {len(FAILURES)} failed checks")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
