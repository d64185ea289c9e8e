#!/usr/bin/python3
"""test_report.py — the charts and `heapbench report` on JSON, run by meson:

    test_report.py GROUP HEAPBENCH FIXTURES_DIR [extra...]

GROUP is one of:
  charts    plots/charts.py writes every chart the inputs call for, as
            non-empty PNG and SVG, with the same colour for an allocator
            in every chart and non-ok cells written, not dropped;
  report    `heapbench report` on replay + Google Benchmark JSON from two
            "machines": every chart written, each embedded in report.html,
            labels, statuses and machine information on the page;
  errors    bad or missing JSON: one line naming the file and the field on
            stderr, exit status 1, no report written;
  replay    EXTRA = trace: `heapbench replay --json` on a real trace, then
            `heapbench report` on what it wrote.

Exit 0 = pass, 1 = fail, 77 = skipped (meson's convention).
"""

import base64
import copy
import html.parser
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PLOTS = os.path.dirname(HERE)
sys.path.insert(0, PLOTS)

import palette  # noqa: E402
import results  # noqa: E402
from drawing import slug  # noqa: E402

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print(f"FAIL: {what}", file=sys.stderr)
    return condition


def run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def expected_charts(paths):
    """The chart files the inputs call for, derived from the JSON itself."""
    names = set()
    sources = results.load_all(paths)
    replay = [s for s in sources if s.kind == "replay"]
    for source in replay:
        names.add(f"overview-{slug(source.label)}")
        if len(palette.ladder([r["allocator"] for r in source.runs])) >= 2:
            names.add(f"sbrk-ladder-{slug(source.label)}")
        for run_ in source.runs:
            for what in ("throughput", "memory", "heap-growth", "reuse"):
                names.add(f"{slug(run_['trace'])}-{what}")
    for source in sources:
        for point in source.points:
            names.add(f"micro-{slug(point.family)}")
    return sorted(names)


def check_chart_files(out_dir, names):
    for name in names:
        png = os.path.join(out_dir, name + ".png")
        svg = os.path.join(out_dir, name + ".svg")
        if check(os.path.isfile(png) and os.path.getsize(png) > 1000, f"{png} written, non-empty"):
            with open(png, "rb") as stream:
                check(stream.read(8) == b"\x89PNG\r\n\x1a\n", f"{png} is a PNG")
        if check(os.path.isfile(svg) and os.path.getsize(svg) > 1000, f"{svg} written, non-empty"):
            with open(svg, encoding="utf-8") as stream:
                check("<svg" in stream.read(2000), f"{svg} is an SVG")


def svg_text(out_dir, name):
    with open(os.path.join(out_dir, name + ".svg"), encoding="utf-8") as stream:
        return stream.read()


class _TagBalance(html.parser.HTMLParser):
    """Every element the page opens is closed, in order."""
    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def fixtures(fixture_dir, *names):
    return [os.path.join(fixture_dir, n) for n in names]


# ---- groups ------------------------------------------------------------------

def test_charts(python, fixture_dir):
    inputs = fixtures(fixture_dir, "replay-a.json", "gbench-pairs.json")
    names = expected_charts(inputs)
    check(len(names) == 13, f"13 charts expected from the fixtures, got {len(names)}: {names}")
    with tempfile.TemporaryDirectory() as out_dir:
        code, out, err = run([python, os.path.join(PLOTS, "charts.py")] + inputs + ["-o", out_dir])
        check(code == 0, f"charts.py exits 0 (got {code}: {err.strip()})")
        check_chart_files(out_dir, names)
        written = sorted(f[:-4] for f in os.listdir(out_dir) if f.endswith(".png"))
        check(written == names, f"exactly the expected charts: {written}")
        # Trace name and op count in every per-trace title.
        for what in ("throughput", "memory", "heap-growth", "reuse"):
            check("binary — 12,000 ops" in svg_text(out_dir, f"binary-{what}"),
                  f"binary-{what} title has trace and op count")
        # The same colour for the same allocator in every chart it is in.
        for name in ("binary-throughput", "binary-memory", "binary-heap-growth",
                     "binary-reuse", "overview-ci-vm"):
            text = svg_text(out_dir, name).lower()
            for allocator in ("glibc", "jemalloc", "sbrk"):
                check(palette.colour(allocator) in text,
                      f"{name} draws {allocator} in {palette.colour(allocator)}")
        micro = svg_text(out_dir, "micro-pairs").lower()
        for allocator in ("glibc", "jemalloc", "sbrk", "sbrk-tutorial"):
            check(palette.colour(allocator) in micro, f"micro-pairs draws {allocator} in its colour")
        # Non-ok cells are written on the chart, not dropped: sbrk-tutorial on
        # binary timed out in its instrumented pass (timed figures kept),
        # sbrk-coalesce failed (nothing kept).
        throughput = svg_text(out_dir, "binary-throughput")
        check("1.11 (timeout)" in throughput, "timeout cell's kept throughput drawn with its status")
        check("failed: heap check: o… — not measured" in throughput,
              "failed cell written on binary-throughput")
        memory = svg_text(out_dir, "binary-memory")
        check("timeout — not measured" in memory, "timeout cell's missing memory figures written")
        growth = svg_text(out_dir, "binary-heap-growth")
        check("sbrk-tutorial: timeout, not measured" in growth, "timeout cell in heap growth legend")
        check("footprint not reported" in svg_text(out_dir, "binary-memory"),
              "null footprint written as not reported")
        check("error: sbrk-tutorial: out of memory" in micro.replace("…", ""),
              "errored microbenchmark written on micro-pairs")
        threads = svg_text(out_dir, "micro-threads")
        for line in ("glibc threads:1", "glibc threads:2", "sbrk threads:1", "sbrk threads:2"):
            check(line in threads, f"micro-threads has a line {line!r}")
        check("real_time" not in threads, "Google Benchmark's own settings are not variants")
        ladder = svg_text(out_dir, "sbrk-ladder-ci-vm")
        check("not ok on 1 of 2" in ladder, "ladder names the policies that did not complete")
    # Palette: fixed by name, distinct for the well-known allocators,
    # the sbrk policies in the warm family.
    known = ["glibc", "jemalloc", "mimalloc", "tcmalloc", "sbrk-tutorial", "sbrk"]
    check(len({palette.colour(n) for n in known}) == len(known), "well-known colours distinct")
    check(palette.colour("sbrk-segfit") == palette.colour("sbrk-segfit"), "colour stable")
    check(palette.ladder(["sbrk", "glibc", "sbrk-b", "sbrk-tutorial", "sbrk-a"])
          == ["sbrk-tutorial", "sbrk-b", "sbrk-a", "sbrk"], "ladder order")


def test_report(heapbench, fixture_dir):
    inputs = fixtures(fixture_dir, "replay-a.json", "replay-laptop.json", "gbench-pairs.json")
    names = expected_charts(inputs)
    check("sbrk-ladder-replay-laptop" not in names and "sbrk-ladder-ci-vm" in names,
          "a ladder for the input with several sbrk policies only")
    with tempfile.TemporaryDirectory() as out_dir:
        code, out, err = run([heapbench, "report"] + inputs + ["-o", out_dir])
        check(code == 0, f"heapbench report exits 0 (got {code}: {err.strip()})")
        check(err == "", f"nothing on stderr (no matplotlib warnings): {err.strip()[:200]}")
        check_chart_files(out_dir, names)
        written = sorted(f[:-4] for f in os.listdir(out_dir) if f.endswith(".png"))
        check(written == names, f"exactly the expected charts: {written}")
        page_path = os.path.join(out_dir, "report.html")
        check(page_path in out, "the command says where the report is")
        if not check(os.path.isfile(page_path), "report.html written"):
            return
        with open(page_path, encoding="utf-8") as stream:
            page = stream.read()
        for name in names:
            if not os.path.isfile(os.path.join(out_dir, name + ".png")):
                continue   # already reported by check_chart_files
            with open(os.path.join(out_dir, name + ".png"), "rb") as stream:
                data = base64.b64encode(stream.read()).decode("ascii")
            check(f"data:image/png;base64,{data}" in page, f"report.html embeds {name}.png")
        check('src="http' not in page and "src='http" not in page, "no external resources")
        balance = _TagBalance()
        balance.feed(page)
        check(not balance.errors and not balance.stack,
              f"report.html elements balanced: {balance.errors[:3]} open {balance.stack[:3]}")
        for text in ("ci-vm", "replay-laptop", "gbench-pairs",           # labels
                     "Intel(R) Xeon(R) CPU @ 2.60GHz", "AMD Ryzen 7 5800U",  # machines
                     "Linux 6.1.0 x86_64", "gcc 12.2.0", "time_limit_sec = 60",
                     "timeout", "failed: heap check: overlapping blocks",
                     "error: sbrk-tutorial: out of memory", "Google Benchmark library build"):
            check(text in page, f"report.html shows {text!r}")
    # Labels: the JSON label, else the file name; equal labels told apart.
    with tempfile.TemporaryDirectory() as tmp:
        twin = os.path.join(tmp, "twin.json")
        with open(inputs[0], encoding="utf-8") as stream, open(twin, "w") as out:
            out.write(stream.read())
        labels = [s.label for s in results.load_all([inputs[0], twin, inputs[1]])]
        check(labels == ["ci-vm #1", "ci-vm #2", "replay-laptop"], f"labels {labels}")
        # An input without runs: no charts for it, and the page says so.
        with open(inputs[0], encoding="utf-8") as stream:
            doc = json.load(stream)
        doc["runs"] = []
        with open(twin, "w", encoding="utf-8") as out:
            json.dump(doc, out)
        out_dir = os.path.join(tmp, "empty")
        code, _, err = run([heapbench, "report", twin, "-o", out_dir])
        check(code == 0 and "Warning" not in err, f"empty input reported (got {code}: {err})")
        check([f for f in os.listdir(out_dir) if f != "report.html"] == [],
              "no charts for an input without runs")
        with open(os.path.join(out_dir, "report.html"), encoding="utf-8") as stream:
            check("No runs in this input." in stream.read(), "the page says the input has no runs")
        # Two traces of one name from different files stay apart.
        with open(inputs[0], encoding="utf-8") as stream:
            doc = json.load(stream)
        for run_ in doc["runs"]:
            if run_["trace"] == "binary":
                run_["trace"], run_["trace_path"] = "short1", "elsewhere/short1.hbt"
        with open(twin, "w", encoding="utf-8") as out:
            json.dump(doc, out)
        traces = sorted({r["trace"] for r in results.load(twin).runs})
        check(traces == ["short1 (../shared/traces/malloclab/short1.rep)",
                         "short1 (elsewhere/short1.hbt)"], f"same-name traces kept apart: {traces}")


def _mutations(replay, gbench):
    """(name, file text, words the error line must contain)."""
    def edit(doc, change):
        doc = copy.deepcopy(doc)
        change(doc)
        return json.dumps(doc)
    cases = [
        ("not-json", "{\"schema_version\": 1, \"runs\": [", ["invalid JSON", "line 1"]),
        ("empty", "", ["invalid JSON"]),
        ("array", "[1, 2]", ["top level must be a JSON object"]),
        ("unknown-kind", "{\"hello\": 1}", ["neither heapbench replay JSON"]),
        ("nan", json.dumps(replay).replace("41.2", "NaN", 1), ["NaN"]),
        ("schema-2", edit(replay, lambda d: d.update(schema_version=2)),
         ["schema_version", "is 2", "version 1"]),
        ("no-runs", edit(replay, lambda d: d.pop("runs")), ["runs", "missing"]),
        ("no-machine", edit(replay, lambda d: d.pop("machine")), ["machine", "missing"]),
        ("no-ns", edit(replay, lambda d: d["runs"][0].pop("ns_per_op")),
         ["runs[0].ns_per_op", "missing"]),
        ("no-allocator", edit(replay, lambda d: d["runs"][3].pop("allocator")),
         ["runs[3].allocator", "missing"]),
        ("string-ops", edit(replay, lambda d: d["runs"][1].update(ops="12")),
         ["runs[1].ops", "non-negative integer"]),
        ("null-live", edit(replay, lambda d: d["runs"][0].update(peak_live_bytes=None)),
         ["runs[0].peak_live_bytes", "null"]),
        ("bad-status", edit(replay, lambda d: d["runs"][0].update(status="fine")),
         ["runs[0].status"]),
        ("growth-order", edit(replay, lambda d: d["runs"][0]["heap_growth"].reverse()),
         ["runs[0].heap_growth[1].op", "op order"]),
        ("duplicate-cell", edit(replay, lambda d: d["runs"].insert(1, copy.deepcopy(d["runs"][0]))),
         ["runs[1]", "\"short1\" on \"glibc\" again (first in runs[0])"]),
        ("bad-histogram", edit(replay, lambda d: d["runs"][0].update(
            reuse_distance_histogram=[[1, 2, 3]])), ["runs[0].reuse_distance_histogram[0]"]),
        ("gbench-name", edit(gbench, lambda d: d["benchmarks"][0].update(
            name="BM_malloc", run_name="BM_malloc")), ["benchmarks[0].name", "family/allocator/size"]),
        ("gbench-time", edit(gbench, lambda d: d["benchmarks"][0].pop("real_time")),
         ["benchmarks[0].real_time", "missing"]),
        ("gbench-unit", edit(gbench, lambda d: d["benchmarks"][0].update(time_unit="fortnights")),
         ["benchmarks[0].time_unit"]),
    ]
    return cases


def test_errors(heapbench, fixture_dir):
    with open(os.path.join(fixture_dir, "replay-a.json"), encoding="utf-8") as stream:
        replay = json.load(stream)
    with open(os.path.join(fixture_dir, "gbench-pairs.json"), encoding="utf-8") as stream:
        gbench = json.load(stream)
    with tempfile.TemporaryDirectory() as tmp:
        good = os.path.join(fixture_dir, "replay-a.json")
        cases = _mutations(replay, gbench)
        missing = os.path.join(tmp, "missing.json")
        for name, text, words in cases + [("missing", None, ["cannot read"])]:
            path = missing if text is None else os.path.join(tmp, name + ".json")
            if text is not None:
                with open(path, "w", encoding="utf-8") as stream:
                    stream.write(text)
            out_dir = os.path.join(tmp, "out-" + name)
            # The bad file comes second: a good file before it must not
            # hide it or leave a half-written report behind.
            code, out, err = run([heapbench, "report", good, path, "-o", out_dir])
            lines = err.strip().splitlines()
            check(code == 1, f"{name}: exit status 1 (got {code})")
            check(len(lines) == 1, f"{name}: one line on stderr, got {lines}")
            line = lines[0] if lines else ""
            check(line.startswith(f"heapbench report: {path}: "), f"{name}: names the file: {line}")
            for word in words:
                check(word in line, f"{name}: error mentions {word!r}: {line}")
            check("Traceback" not in err, f"{name}: no Python traceback")
            check(not os.path.exists(os.path.join(out_dir, "report.html")),
                  f"{name}: no report written")
    # Usage errors.
    code, _, err = run([heapbench, "report"])
    check(code == 2 and "usage" in err, f"no arguments: usage and status 2 (got {code})")
    code, _, err = run([heapbench, "report", os.path.join(fixture_dir, "replay-a.json")])
    check(code == 2 and "-o DIR" in err, f"no -o: usage and status 2 (got {code})")


def test_replay(heapbench, fixture_dir, trace):
    if not os.path.isfile(trace):
        print(f"skip: {trace} is absent")
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        out_json = os.path.join(tmp, "replay.json")
        code, _, err = run([heapbench, "replay", "--repeat", "1", "--allocators",
                            "glibc,sbrk-tutorial", "--json", out_json, trace])
        if not check(code == 0, f"heapbench replay exits 0 (got {code}: {err.strip()})"):
            return 1
        source = results.load(out_json)   # raises on a contract break
        check(source.kind == "replay", "replay JSON recognised")
        allocators = sorted({r["allocator"] for r in source.runs})
        check(allocators == ["glibc", "sbrk-tutorial"], f"runs of both allocators: {allocators}")
        names = expected_charts([out_json])
        out_dir = os.path.join(tmp, "report")
        code, out, err = run([heapbench, "report", out_json, "-o", out_dir])
        check(code == 0, f"heapbench report on real replay JSON exits 0 (got {code}: {err.strip()})")
        check_chart_files(out_dir, names)
        page = os.path.join(out_dir, "report.html")
        if check(os.path.isfile(page), "report.html written"):
            with open(page, encoding="utf-8") as stream:
                text = stream.read()
            check(text.count("data:image/png;base64,") == len(names),
                  f"report.html embeds all {len(names)} charts")
    return 0


def main(argv):
    group, heapbench_or_python, fixture_dir = argv[1], argv[2], argv[3]
    status = {
        "charts": lambda: test_charts(heapbench_or_python, fixture_dir),
        "report": lambda: test_report(heapbench_or_python, fixture_dir),
        "errors": lambda: test_errors(heapbench_or_python, fixture_dir),
        "replay": lambda: test_replay(heapbench_or_python, fixture_dir, argv[4]),
    }[group]()
    if status == 77:
        return 77
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
