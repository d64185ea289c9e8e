#!/usr/bin/python3
"""test_report.py — the charts and `heapbench report` on JSON, run by meson:

    test_report.py GROUP HEAPBENCH FIXTURES_DIR [extra...]

GROUP is one of:
  charts    plots/charts.py writes every chart the inputs call for, as
            non-empty PNG and SVG, with the same colour for an allocator
            in every chart and non-ok cells written, not dropped;
  report    `heapbench report` on replay JSON (schema_version 2, and an
            older schema_version 1 file) + Google Benchmark JSON from two
            "machines": every chart written, each embedded in report.html,
            labels, statuses, flags, ratios in words, the schema 1 note and
            machine information on the page, numbers without e-notation;
  errors    bad or missing JSON: one line naming the file and the field on
            stderr, exit status 1, no report written;
  replay    EXTRA = trace: `heapbench replay --json --heap-map 2` on a real
            trace, then `heapbench report` on what it wrote;
  heapmap   the heap-map figures of replay-heapmap.json (real replay output):
            one per trace and allocator, strips that render the bins
            faithfully (holes where the JSON has free bytes), on the page
            with their tables, beside an input written before heap maps.

Exit 0 = pass, 1 = fail, 77 = skipped (meson's convention).
"""

import base64
import copy
import html
import html.parser
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PLOTS = os.path.dirname(HERE)
sys.path.insert(0, PLOTS)

import palette  # noqa: E402
import results  # noqa: E402
import drawing  # noqa: E402
import page as html_page  # noqa: E402
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
        if source.schema_version >= 2:
            names.add(f"resident-{slug(source.label)}")
        if len(palette.ladder([r["allocator"] for r in source.runs])) >= 2:
            names.add(f"sbrk-ladder-{slug(source.label)}")
        for run_ in source.runs:
            for what in ("throughput", "memory", "heap-growth", "reuse"):
                names.add(f"{slug(run_['trace'])}-{what}")
            if run_.get("latency_ns"):   # the latency pass measured it
                names.add(f"{slug(run_['trace'])}-latency")
            if run_.get("heap_map"):
                names.add(f"{slug(run_['trace'])}-heap-map-{slug(run_['allocator'])}")
            if run_.get("size_classes"):
                names.add(f"{slug(run_['trace'])}-size-classes")
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


def page_text(page):
    """The page without its embedded images (base64 can hold any letters)."""
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)


def fixtures(fixture_dir, *names):
    return [os.path.join(fixture_dir, n) for n in names]


# ---- groups ------------------------------------------------------------------

def test_charts(python, fixture_dir):
    inputs = fixtures(fixture_dir, "replay-a.json", "gbench-pairs.json")
    names = expected_charts(inputs)
    check(len(names) == 14, f"14 charts expected from the fixtures, got {len(names)}: {names}")
    with tempfile.TemporaryDirectory() as out_dir:
        code, out, err = run([python, os.path.join(PLOTS, "charts.py")] + inputs + ["-o", out_dir])
        check(code == 0, f"charts.py exits 0 (got {code}: {err.strip()})")
        check_chart_files(out_dir, names)
        written = sorted(f[:-4] for f in os.listdir(out_dir) if f.endswith(".png"))
        check(written == names, f"exactly the expected charts: {written}")
        # Trace name and op count in every per-trace title.
        for what in ("throughput", "memory", "heap-growth", "reuse"):
            check("binary — 1,200,000 ops" in svg_text(out_dir, f"binary-{what}"),
                  f"binary-{what} title has trace and op count")
        # The same colour for the same allocator in every chart it is in.
        for name in ("binary-throughput", "binary-memory", "binary-heap-growth",
                     "binary-reuse", "overview-ci-vm", "resident-ci-vm"):
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
        for text in ("900 ns cold (timeout)", "850 ns warm (timeout)",
                     "warm: failed: heap check: o… — not measured",
                     "cold: failed: heap check: o… — not measured"):
            check(text in throughput, f"binary-throughput shows {text!r}")
        # Cold and warm side by side, ratios with their interval or in words,
        # flags named on the bar and explained under the chart.
        for text in ("30.0 ns warm", "41.2 ns cold", "warm: baseline",
                     "warm: 0.60× (0.58–0.62×) faster", "cold: 1.17× (1.09–1.31×) slower",
                     "warm: no clear difference", "⚑ high-spread",
                     "high-spread: the slowest cold pass is more than 10% above the fastest"):
            check(text in throughput, f"binary-throughput shows {text!r}")
        check("short-pass" not in throughput, "binary-throughput: no flag that was not raised")
        short1 = svg_text(out_dir, "short1-throughput")
        check("⚑ short-pass" in short1 and "⚑ warm-high-spread" in short1,
              "short1-throughput names its flags")
        overview = svg_text(out_dir, "overview-ci-vm")
        for text in ("warm speed (rank on this)", "hollow: no clear difference",
                     "orange ring: flagged", "short-pass: the median cold pass",
                     "high-spread: the slowest cold pass"):
            check(text in overview, f"overview-ci-vm shows {text!r}")
        memory = svg_text(out_dir, "binary-memory")
        check("timeout — not measured" in memory, "timeout cell's missing memory figures written")
        check("peak resident" in memory and "allocator's own account" in memory,
              "memory ranks on resident memory, the own account labelled")
        growth = svg_text(out_dir, "binary-heap-growth")
        check("sbrk-tutorial: timeout, not measured" in growth, "timeout cell in heap growth legend")
        check("glibc resident" in growth and "glibc footprint, own account" in growth,
              "heap growth draws resident bytes and the reported footprint")
        check("mimalloc: footprint not reported" in growth,
              "null footprint written as not reported")
        check("e+0" not in growth, "heap growth op axis without e-notation")
        resident = svg_text(out_dir, "resident-ci-vm")
        check("564 KiB" in resident and "sbrk-coalesce: failed: heap check: o… — not measured"
              in resident, "resident chart: values and the failed cell written")
        check("error: sbrk-tutorial: out of memory" in micro.replace("…", ""),
              "errored microbenchmark written on micro-pairs")
        threads = svg_text(out_dir, "micro-threads")
        for line in ("glibc threads:1", "glibc threads:2", "sbrk threads:1", "sbrk threads:2"):
            check(line in threads, f"micro-threads has a line {line!r}")
        check("real_time" not in threads, "Google Benchmark's own settings are not variants")
        ladder = svg_text(out_dir, "sbrk-ladder-ci-vm")
        check("not ok on 1 of 2" in ladder, "ladder names the policies that did not complete")
        check("warm throughput" in ladder, "ladder draws warm speed where the input has it")
    # Palette: fixed by name, distinct for the well-known allocators,
    # the sbrk policies in the warm family.
    known = ["glibc", "jemalloc", "mimalloc", "tcmalloc", "sbrk-tutorial", "sbrk"]
    check(len({palette.colour(n) for n in known}) == len(known), "well-known colours distinct")
    check(palette.colour("sbrk-segfit") == palette.colour("sbrk-segfit"), "colour stable")
    check(palette.ladder(["sbrk", "glibc", "sbrk-b", "sbrk-tutorial", "sbrk-a"])
          == ["sbrk-tutorial", "sbrk-b", "sbrk-a", "sbrk"], "ladder order")
    # Numbers as a person writes them: separators, units, no e-notation.
    for got, wanted in ((drawing.ns(2070.4), "2,070 ns"), (drawing.ns(41.2), "41.2 ns"),
                        (drawing.ns(0.01234), "0.0123 ns"), (drawing.ns(99.96), "100 ns"),
                        (html_page.fmt_range(2000, 2180), "2,000–2,180 ns"),
                        (drawing.byte_size(int(1.3 * 2 ** 20)), "1.3 MiB"),
                        (drawing.byte_size(32768), "32 KiB"), (drawing.byte_size(512), "512 B"),
                        (drawing.byte_size(1000 * 1024), "1,000 KiB"),
                        (drawing.times(2140.0), "2,140×"), (drawing.times(0.6), "0.60×"),
                        (drawing.plain(123456.7), "123,457"),
                        (drawing.plural(1, "trace"), "1 trace"),
                        (drawing.plural(2, "trace"), "2 traces")):
        check(got == wanted, f"formatted {wanted!r}, got {got!r}")
    check(drawing.geomean([2, 8, None, 0]) == 4.0 and drawing.geomean([]) is None,
          "one geometric mean, positive values only")


def test_report(heapbench, fixture_dir):
    inputs = fixtures(fixture_dir, "replay-a.json", "replay-laptop.json", "replay-v1.json",
                      "gbench-pairs.json")
    names = expected_charts(inputs)
    check("sbrk-ladder-replay-laptop" not in names and "sbrk-ladder-ci-vm" in names,
          "a ladder for the input with several sbrk policies only")
    check("resident-ci-vm" in names and "resident-ci-vm-2025" not in names,
          "a resident chart for each schema 2 input only")
    with tempfile.TemporaryDirectory() as out_dir:
        code, out, err = run([heapbench, "report"] + inputs + ["-o", out_dir])
        check(code == 0, f"heapbench report exits 0 (got {code}: {err.strip()})")
        check(err == "", f"nothing on stderr (no matplotlib warnings): {err.strip()[:200]}")
        check(f"{inputs[2]}: {results.NOTE_V1}" in out, "the command names what the old input lacks")
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
        text = page_text(page)
        for shown in ("ci-vm", "replay-laptop", "gbench-pairs",           # labels
                      "Intel(R) Xeon(R) CPU @ 2.60GHz", "AMD Ryzen 7 5800U",  # machines
                      "Linux 6.1.0 x86_64", "gcc 12.2.0", "time_limit_sec = 60",
                      "speed = both", "baseline = glibc",
                      "timeout", "failed: heap check: overlapping blocks",
                      "error: sbrk-tutorial: out of memory", "Google Benchmark library build",
                      # the schema 1 input, and what it lacks
                      "<b>ci-vm-2025</b> (replay-v1.json) is " + html.escape(results.NOTE_V1,
                                                                            quote=True),
                      # flags, named in the tables and explained
                      "⚑&nbsp;short-pass", "⚑&nbsp;high-spread", "⚑&nbsp;warm-high-spread",
                      "⚑&nbsp;few-passes", "<b>few-passes</b>: too few passes",
                      # ratios: a number where significant, words where not
                      "0.60× (0.58–0.62×) faster", "1.17× (1.09–1.31×) slower",
                      ">no clear difference<", ">too few passes to tell<",
                      "faster on 2 traces", "slower on 1 trace", "2 of 2 traces",
                      # numbers with units and separators
                      "41.2 ns", "40.0–43.7 ns", "564 KiB", "1.21 MiB",
                      "<h2 id=\"traces\">", "1 thread,"):
            check(shown in text, f"report.html shows {shown!r}")
        # mimalloc's interval holds 1 on binary: words, not its ratio.
        check("1.00× (0.94" not in text, "a ratio that is not significant is not printed as one")
        check(not re.search(r"\d[eE][+-]\d", text), "no e-notation in the page: "
              + ", ".join(re.findall(r".{20}\d[eE][+-]\d.{10}", text)[:3]))
        check("thread(s)" not in text, "thread counts in words")
    # A schema 1 file alone: loads, draws what it has, and says what it lacks.
    with tempfile.TemporaryDirectory() as out_dir:
        old = fixtures(fixture_dir, "replay-v1.json")
        code, out, err = run([heapbench, "report"] + old + ["-o", out_dir])
        check(code == 0 and err == "", f"schema 1 input reported (got {code}: {err.strip()})")
        check_chart_files(out_dir, expected_charts(old))
        with open(os.path.join(out_dir, "report.html"), encoding="utf-8") as stream:
            text = page_text(stream.read())
        check(text.count('<p class="note"><b>ci-vm-2025</b> (replay-v1.json) is '
                         + html.escape(results.NOTE_V1, quote=True)) == 2,
              "schema 1 note at the top and at its overview")
        check("0.80× (no interval)" in text, "schema 1 ratios untested, said so")
        check("no warm speed (schema 1 input)" in svg_text(out_dir, "overview-ci-vm-2025"),
              "schema 1 overview says what it lacks")
        memory = svg_text(out_dir, "binary-memory")
        check("no resident figure (schema 1 input)" in memory,
              "schema 1 memory chart says what it lacks")
    # Warm speed only: the cold figures are null in every run.
    with tempfile.TemporaryDirectory() as tmp:
        with open(inputs[0], encoding="utf-8") as stream:
            doc = json.load(stream)
        doc["settings"]["speed"] = "warm"
        for run_ in doc["runs"]:
            for key in ("ns_per_op", "ns_per_op_min", "ns_per_op_max", "ops_per_sec",
                        "cpu_ns_per_op", "ns_per_op_passes"):
                run_[key] = None
            run_["flags"] = [f for f in run_["flags"] if f == "warm-high-spread"]
            if run_["ratio_to_baseline"]:
                run_["ratio_to_baseline"].update(ns_per_op=None, ci95=None, significant=False)
        warm = os.path.join(tmp, "warm.json")
        with open(warm, "w", encoding="utf-8") as out:
            json.dump(doc, out)
        out_dir = os.path.join(tmp, "out")
        code, _, err = run([heapbench, "report", warm, "-o", out_dir])
        check(code == 0 and err == "", f"warm-only input reported (got {code}: {err.strip()})")
        check_chart_files(out_dir, expected_charts([warm]))
        throughput = svg_text(out_dir, "binary-throughput")
        check("30.0 ns warm" in throughput and " ns cold" not in throughput,
              "warm-only: warm bars only")
        check("cold speed not measured (speed: warm)" in svg_text(out_dir, "overview-ci-vm"),
              "warm-only: the overview says why cold speed is missing")
    # Labels: the JSON label, else the file name; equal labels (one
    # machine twice) become file names, and "#1", "#2" only if those repeat.
    with tempfile.TemporaryDirectory() as tmp:
        twin = os.path.join(tmp, "twin.json")
        with open(inputs[0], encoding="utf-8") as stream, open(twin, "w") as out:
            out.write(stream.read())
        first = os.path.splitext(os.path.basename(inputs[0]))[0]
        labels = [s.label for s in results.load_all([inputs[0], twin, inputs[1]])]
        check(labels == [first, "twin", "replay-laptop"], f"labels {labels}")
        os.mkdir(os.path.join(tmp, "again"))
        again = os.path.join(tmp, "again", "twin.json")
        with open(twin, encoding="utf-8") as stream, open(again, "w") as out:
            out.write(stream.read())
        labels = [s.label for s in results.load_all([twin, again])]
        check(labels == ["twin #1", "twin #2"], f"labels of two twin.json {labels}")
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


def _heap_map(**change):
    """A heap map of one snapshot as docs/JSON.md has it, with `change`."""
    snapshot = {"op": 1, "peak_live": True, "live_bytes": 32, "span_bytes": 48, "bin_bytes": 16,
                "allocated": {"blocks": 1, "bytes": 48}, "free": {"blocks": 0, "bytes": 0},
                "parked": {"blocks": 0, "bytes": 0}, "segments": [[4096, 48]],
                "bins": [[0, 16, 0, 0], [1, 16, 0, 0], [2, 16, 0, 0]],
                "blocks": [[4096, 48, "a"]]}
    snapshot.update(change)
    return {"detail": "heap", "bins": 512, "snapshots": [snapshot]}


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
        ("schema-3", edit(replay, lambda d: d.update(schema_version=3)),
         ["schema_version", "is 3", "versions 1 and 2"]),
        ("no-flags", edit(replay, lambda d: d["runs"][0].pop("flags")),
         ["runs[0].flags", "missing"]),
        ("null-flags", edit(replay, lambda d: d["runs"][4].update(flags=None)),
         ["runs[4].flags", "null"]),
        ("no-warm", edit(replay, lambda d: d["runs"][0].pop("warm_ns_per_op")),
         ["runs[0].warm_ns_per_op", "missing"]),
        ("no-resident", edit(replay, lambda d: d["runs"][1].update(peak_resident_bytes=None)),
         ["runs[1].peak_resident_bytes", "null"]),
        ("bad-interval", edit(replay, lambda d: d["runs"][1]["ratio_to_baseline"].update(
            ci95=[1.2, 0.9])), ["runs[1].ratio_to_baseline.ci95", "low <= high"]),
        ("bad-significant", edit(replay, lambda d: d["runs"][1]["ratio_to_baseline"].update(
            significant="yes")), ["runs[1].ratio_to_baseline.significant"]),
        ("bad-speed", edit(replay, lambda d: d["settings"].update(speed="hot")),
         ["settings.speed", "both, cold or warm"]),
        ("old-growth", edit(replay, lambda d: [s.update(rss_bytes=s.pop("resident_bytes"))
                                              for s in d["runs"][0]["heap_growth"]]),
         ["runs[0].heap_growth[0].resident_bytes", "missing"]),
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
        ("heap-map-free", edit(replay, lambda d: d["runs"][0].update(heap_map=_heap_map(free=None))),
         ["runs[0].heap_map.snapshots[0].free", "null"]),
        ("heap-map-bins", edit(replay, lambda d: d["runs"][0].update(heap_map=_heap_map(bins=[[0, 1]]))),
         ["runs[0].heap_map.snapshots[0].bins[0]", "4 non-negative integers"]),
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
                            "glibc,sbrk-tutorial", "--heap-map", "2", "--json", out_json, trace])
        if not check(code == 0, f"heapbench replay exits 0 (got {code}: {err.strip()})"):
            return 1
        source = results.load(out_json)   # raises on a contract break
        check(source.kind == "replay", "replay JSON recognised")
        allocators = sorted({r["allocator"] for r in source.runs})
        check(allocators == ["glibc", "sbrk-tutorial"], f"runs of both allocators: {allocators}")
        names = expected_charts([out_json])
        check(any(n.endswith("-latency") for n in names), "a latency chart is called for")
        check(sum(n.endswith(("-heap-map-glibc", "-heap-map-sbrk-tutorial")) for n in names) == 2,
              "a heap map per allocator is called for")
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


def _strip_checks(name, snapshot):
    """The strip is the bins, faithfully: each state's colour covers as
    many bins' worth as the JSON gives it bytes (its share of the strip's
    colour mix), and no bin outside the span is coloured."""
    import numpy
    import heap_map_charts
    row = heap_map_charts.strip(snapshot)[0]
    bins = row.shape[0]
    check(bins * snapshot["bin_bytes"] >= snapshot["span_bytes"] > (bins - 1) * snapshot["bin_bytes"],
          f"{name}: {bins} bins of {snapshot['bin_bytes']} bytes for a span of {snapshot['span_bytes']}")
    # Solve the mix back: the strip's summed colour is sum over states of
    # (bytes / bin_bytes) x colour, plus white for the rest.
    colours = [heap_map_charts.COLOURS[s] for s in heap_map_charts.STATES] + [heap_map_charts.NO_BLOCK]
    matrix = numpy.array(colours).T                     # 3 x 4
    matrix = numpy.vstack([matrix, numpy.ones(4)])      # the shares add up to the bin count
    total = numpy.append(row.sum(axis=0), bins)
    shares, *_ = numpy.linalg.lstsq(matrix, total, rcond=None)
    for k, state in enumerate(heap_map_charts.STATES):
        figure = snapshot[state]
        want = (figure["bytes"] if figure else 0) / snapshot["bin_bytes"]
        check(abs(shares[k] - want) <= 0.02 * bins + 0.5,
              f"{name}: the strip shows {shares[k]:.1f} bins of {state}, the JSON {want:.1f}")


def test_heapmap(heapbench, fixture_dir):
    heap = fixtures(fixture_dir, "replay-heapmap.json")[0]
    source = results.load(heap)
    runs = {(r["trace"], r["allocator"]): r for r in source.runs}
    check(set(runs) == {(t, a) for t in ("holes", "parked") for a in ("sbrk-tutorial", "sbrk", "glibc")},
          f"the fixture's runs: {sorted(runs)}")
    for (trace, allocator), r in runs.items():
        for snapshot in r["heap_map"]["snapshots"]:
            _strip_checks(f"{trace} on {allocator} op {snapshot['op']}", snapshot)
    # The tutorial policy's 200 holes lie left of its last block: the
    # strip's left part is free colour, its right part allocated.
    import heap_map_charts
    final = runs[("holes", "sbrk-tutorial")]["heap_map"]["snapshots"][-1]
    row = heap_map_charts.strip(final)[0]
    free = heap_map_charts.COLOURS["free"]
    freeish = [abs(pixel - free).sum() < 0.15 for pixel in row]
    first_not_free = freeish.index(False) if False in freeish else len(freeish)
    check(first_not_free >= 0.9 * final["free"]["bytes"] / final["bin_bytes"] and not any(freeish[first_not_free + 1:]),
          f"holes on sbrk-tutorial: free colour on bins 0..{first_not_free - 1} only, "
          f"of {len(row)}")
    inputs = [heap, fixtures(fixture_dir, "replay-a.json")[0]]   # replay-a: no heap maps
    names = expected_charts(inputs)
    maps = [n for n in names if "-heap-map-" in n]
    check(len(maps) == 6, f"6 heap-map charts called for, not {maps}")
    with tempfile.TemporaryDirectory() as out_dir:
        code, out, err = run([heapbench, "report"] + inputs + ["-o", out_dir])
        check(code == 0, f"heapbench report exits 0 (got {code}: {err.strip()})")
        check(err == "", f"nothing on stderr: {err.strip()[:200]}")
        check_chart_files(out_dir, names)
        written = sorted(f[:-4] for f in os.listdir(out_dir) if f.endswith(".png"))
        check(written == names, f"exactly the expected charts: {written}")
        with open(os.path.join(out_dir, "report.html"), encoding="utf-8") as stream:
            page = stream.read()
        for name in maps:
            with open(os.path.join(out_dir, name + ".png"), "rb") as stream:
                data = base64.b64encode(stream.read()).decode("ascii")
            check(f"data:image/png;base64,{data}" in page, f"report.html embeds {name}.png")
        text = page_text(page)
        check("heap map, sbrk-tutorial" in text and "after op" in text, "the heap-map tables")
        holes = final["free"]
        check(f"{holes['blocks']:,} / {drawing.byte_size(holes['bytes'])}" in text,
              "the tutorial policy's holes are in its table")
        check(text.count("not seen by the replay") == 0 and
              text.count("free and parked memory is not visible") == 2,
              "glibc's maps say what the replay cannot see")
    return 0


def main(argv):
    group, heapbench_or_python, fixture_dir = argv[1], argv[2], argv[3]
    status = {
        "charts": lambda: test_charts(heapbench_or_python, fixture_dir),
        "report": lambda: test_report(heapbench_or_python, fixture_dir),
        "errors": lambda: test_errors(heapbench_or_python, fixture_dir),
        "replay": lambda: test_replay(heapbench_or_python, fixture_dir, argv[4]),
        "heapmap": lambda: test_heapmap(heapbench_or_python, fixture_dir),
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
