"""results.py — reads the two kinds of JSON the report accepts and checks
them against their contracts before anything is drawn:

  * heapbench replay JSON, exactly as docs/JSON.md defines it (one object
    per (trace, allocator) cell in "runs"): schema_version 2, and the older
    schema_version 1, which loads with a note on what it lacks (NOTE_V1);
  * Google Benchmark JSON (context + benchmarks[]), whose benchmark names
    follow heapbench's convention family/allocator/arg, e.g. pairs/glibc/64.

The kind is told by content, not by file name. Anything that breaks a
contract raises InputError with ONE line naming the file and the field, so
the command can print it and exit non-zero instead of drawing a wrong chart.

A schema 1 run is brought into schema 2's shape once, here, so the charts
read one shape: the figures schema 1 does not have are None, and its
footprint-based utilization moves to reported_utilization (what it was:
the allocator's own account), since utilization now means resident-based.
"""

import json
import math
import os
import sys
from dataclasses import dataclass, field

REPLAY_SCHEMA_VERSIONS = (1, 2)

# What a schema 1 input lacks, said once: the page and the command print it.
NOTE_V1 = ("schema_version 1: no warm speed, no resident memory (its utilization is the "
           "allocator's own footprint account), no flags or intervals")

# The flags schema 2 defines (docs/JSON.md), what each means, and which
# speed it concerns ("cold", "warm" or "both"). A flag not listed here is
# still shown, by its name.
FLAGS = {
    "short-pass": ("cold", "the median cold pass took under 20 ms of wall time: "
                           "start-up dominated, not comparable"),
    "high-spread": ("cold", "the slowest cold pass is more than 10% above the fastest"),
    "warm-high-spread": ("warm", "the slowest warm pass is more than 10% above the fastest"),
    "few-passes": ("both", "too few passes for a 95% interval (fewer than 4 on either side)"),
}
SPEEDS = ("both", "cold", "warm")


class InputError(Exception):
    """A file the report cannot use; str() is the one-line message."""


# ---- value checks --------------------------------------------------------

def _is_number(value):
    # bool is an int in Python; a JSON true is not a figure.
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


class _Checker:
    """Field access that turns every contract break into an InputError
    naming the file and the JSON path of the field."""

    def __init__(self, path):
        self.path = path

    def fail(self, where, problem):
        where = f"{where}: " if where else ""
        raise InputError(f"{self.path}: {where}{problem}")

    def get(self, obj, key, where, kind, nullable=False):
        name = f"{where}.{key}" if where else key
        if not isinstance(obj, dict) or key not in obj:
            self.fail(name, "missing")
        value = obj[key]
        if value is None:
            if nullable:
                return None
            self.fail(name, "is null")
        ok = {
            "number": _is_number,
            "nonneg": lambda v: _is_number(v) and v >= 0,
            "int": lambda v: _is_int(v) and v >= 0,
            "str": lambda v: isinstance(v, str),
            "object": lambda v: isinstance(v, dict),
            "list": lambda v: isinstance(v, list),
            "any": lambda v: True,
        }[kind](value)
        if not ok:
            wanted = {"number": "a number", "nonneg": "a non-negative number",
                      "int": "a non-negative integer", "str": "a string",
                      "object": "an object", "list": "a list", "any": ""}[kind]
            self.fail(name, f"must be {wanted}, not {json.dumps(value)[:40]}")
        return value


# ---- the data the charts read --------------------------------------------

@dataclass
class Source:
    """One input file."""
    path: str
    kind: str            # "replay" | "gbench" | "run" (run_charts.py)
    label: str
    machine: dict        # shown as-is in the machine table
    settings: dict = field(default_factory=dict)
    tool: str = ""
    runs: list = field(default_factory=list)     # replay: validated run dicts
    points: list = field(default_factory=list)   # gbench: MicroPoint
    schema_version: int = 0  # replay: as read (its runs are in schema 2's shape)
    note: str = ""           # replay: what the input lacks, or ""
    baseline: str = "glibc"  # replay: the allocator ratios are taken against
    speed: str = "both"      # replay: the speeds measured, "both" | "cold" | "warm"


@dataclass
class MicroPoint:
    """One Google Benchmark result reduced to what the chart needs."""
    family: str
    allocator: str
    size: int
    variant: str         # what else the name says, e.g. "threads:2"; "" if nothing
    ns_per_op: float     # None when status is not "ok"
    status: str          # "ok" | "error: <message>"
    per_item: bool       # True: 1e9 / items_per_second; False: real time per iteration
    repetitions: int


# ---- replay JSON -----------------------------------------------------------

# Fields every run carries whatever its status (docs/JSON.md).
_RUN_ALWAYS = [("trace", "str", False), ("allocator", "str", False),
               ("status", "str", False)]
_RUN_DESCRIBED = [("trace_path", "any", True), ("trace_format", "any", True),
                  ("threads", "any", True), ("allocator_version", "any", True),
                  ("ops", "int", False), ("repeat", "int", False),
                  ("peak_live_bytes", "int", False)]
# The speed figures, cold and warm. An "ok" run has them unless the input
# did not measure that speed (settings.speed); a run that is not ok may
# have any of them null (they survive when every timed pass completed).
_COLD = [("ns_per_op", "nonneg"), ("ns_per_op_min", "nonneg"), ("ns_per_op_max", "nonneg"),
         ("ops_per_sec", "nonneg")]
_COLD_V2 = [("cpu_ns_per_op", "nonneg"), ("ns_per_op_passes", "list")]
_WARM = [("warm_ns_per_op", "nonneg"), ("warm_ns_per_op_min", "nonneg"),
         ("warm_ns_per_op_max", "nonneg"), ("warm_ns_per_op_passes", "list"),
         ("warm_cpu_ns_per_op", "nonneg")]
# Other figures an "ok" run must carry; the flag says whether null is
# allowed (the allocator cannot report it, or there was nothing to measure).
# A run that is not ok may have any of them null: the instrumented ones
# survive when that pass completed.
_RUN_OK = [
    ("peak_footprint_bytes", "int", True),
    ("footprint_at_peak_live_bytes", "int", True),
    ("peak_rss_bytes", "int", True),
    ("utilization", "nonneg", True), ("fragmentation", "number", True),
    ("reuse_rate", "nonneg", True), ("byte_reuse_rate", "nonneg", True),
    ("reuse_distance_median", "nonneg", True), ("reuse_distance_p90", "nonneg", True),
    ("reuse_distance_histogram", "list", False),
    ("lifo_share", "nonneg", True),
    ("heap_growth", "list", False),
]
_RUN_OK_V2 = [("peak_resident_bytes", "int", False), ("reported_utilization", "nonneg", True)]
_RATIO_FIELDS = [("ns_per_op", "ci95", "significant"),
                 ("warm_ns_per_op", "warm_ci95", "warm_significant")]


def _check_figures(check, run, where, figures, complete):
    for key, kind, nullable in figures:
        if complete or key in run:
            check.get(run, key, where, kind, nullable or not complete)
        else:
            run[key] = None   # not measured: the same as the contract's null


def _check_passes(check, run, where, key):
    for i, value in enumerate(run.get(key) or []):
        if not (_is_number(value) and value >= 0):
            check.fail(f"{where}.{key}[{i}]", "must be a non-negative number")


def _check_ratio(check, run, where):
    """ratio_to_baseline: null, or the ratios, intervals and verdicts."""
    ratio = check.get(run, "ratio_to_baseline", where, "object", nullable=True)
    if ratio is None:
        return
    where = f"{where}.ratio_to_baseline"
    check.get(ratio, "baseline", where, "str")
    for value_key, ci_key, significant_key in _RATIO_FIELDS:
        check.get(ratio, value_key, where, "nonneg", nullable=True)
        ci = check.get(ratio, ci_key, where, "list", nullable=True)
        if ci is not None and not (len(ci) == 2 and all(_is_number(v) and v > 0 for v in ci)
                                   and ci[0] <= ci[1]):
            check.fail(f"{where}.{ci_key}", "must be [low, high], 0 < low <= high")
        significant = check.get(ratio, significant_key, where, "any", nullable=True)
        if significant is not None and not isinstance(significant, bool):
            check.fail(f"{where}.{significant_key}", "must be true, false or null")


def _check_run(check, run, where, schema, speed):
    if not isinstance(run, dict):
        check.fail(where, "must be an object")
    for key, kind, nullable in _RUN_ALWAYS + _RUN_DESCRIBED:
        check.get(run, key, where, kind, nullable)
    status = run["status"]
    if status not in ("ok", "timeout") and not status.startswith("failed"):
        check.fail(f"{where}.status",
                   f"must be ok, timeout or \"failed: <reason>\", not {json.dumps(status)[:40]}")
    complete = status == "ok"
    if schema == 1:
        _check_figures(check, run, where, [(k, t, False) for k, t in _COLD], complete)
    else:
        # A speed the input did not measure is null even in an ok run.
        for figures, measured in ((_COLD + _COLD_V2, speed != "warm"),
                                  (_WARM, speed != "cold")):
            _check_figures(check, run, where, [(k, t, not measured) for k, t in figures],
                           complete)
        _check_passes(check, run, where, "ns_per_op_passes")
        _check_passes(check, run, where, "warm_ns_per_op_passes")
    _check_figures(check, run, where, _RUN_OK + (_RUN_OK_V2 if schema == 2 else []), complete)
    for i, pair in enumerate(run["reuse_distance_histogram"] or []):
        name = f"{where}.reuse_distance_histogram[{i}]"
        if not (isinstance(pair, list) and len(pair) == 2 and _is_number(pair[0])
                and pair[0] > 0 and _is_int(pair[1])):
            check.fail(name, "must be [upper bound > 0, count]")
    last_op = -1
    resident_key = "resident_bytes" if schema == 2 else "rss_bytes"
    for i, sample in enumerate(run["heap_growth"] or []):
        name = f"{where}.heap_growth[{i}]"
        op = check.get(sample, "op", name, "int")
        check.get(sample, "live_bytes", name, "int")
        check.get(sample, "footprint_bytes", name, "int", nullable=True)
        check.get(sample, resident_key, name, "int", nullable=True)
        if op < last_op:
            check.fail(f"{name}.op", f"{op} comes after op {last_op}: samples must be in op order")
        last_op = op
    if schema == 2:
        flags = check.get(run, "flags", where, "list")
        for i, flag in enumerate(flags):
            if not isinstance(flag, str):
                check.fail(f"{where}.flags[{i}]", "must be a string")
        _check_ratio(check, run, where)
        _check_heap_map(check, run, where)
    else:
        _as_schema_2(run)
        run["heap_map"] = None


def _check_heap_map(check, run, where):
    """heap_map (docs/JSON.md): absent in files written before it, read as
    null; else its snapshots, each with bins the charts can draw."""
    heap_map = run.setdefault("heap_map", None)
    if heap_map is None:
        return
    where = f"{where}.heap_map"
    if check.get(heap_map, "detail", where, "str") not in ("heap", "slots"):
        check.fail(f"{where}.detail", "must be heap or slots")
    check.get(heap_map, "bins", where, "int")
    for i, snapshot in enumerate(check.get(heap_map, "snapshots", where, "list")):
        name = f"{where}.snapshots[{i}]"
        for key in ("op", "live_bytes", "span_bytes", "bin_bytes"):
            check.get(snapshot, key, name, "int")
        if snapshot["bin_bytes"] == 0:
            check.fail(f"{name}.bin_bytes", "must be above 0")
        if not isinstance(check.get(snapshot, "peak_live", name, "any"), bool):
            check.fail(f"{name}.peak_live", "must be true or false")
        for state in ("allocated", "free", "parked"):
            figure = check.get(snapshot, state, name, "object",
                               nullable=state != "allocated" and heap_map["detail"] == "slots")
            if figure is not None:
                check.get(figure, "blocks", f"{name}.{state}", "int")
                check.get(figure, "bytes", f"{name}.{state}", "int")
        for key, width in (("segments", 2), ("bins", 4)):
            for j, row in enumerate(check.get(snapshot, key, name, "list")):
                if not (isinstance(row, list) and len(row) == width and all(_is_int(v) and v >= 0 for v in row)):
                    check.fail(f"{name}.{key}[{j}]", f"must be a list of {width} non-negative integers")
        check.get(snapshot, "blocks", name, "list", nullable=True)


def _as_schema_2(run):
    """A checked schema 1 run in schema 2's shape: what schema 1 did not
    measure is None; its utilization was the allocator's own account."""
    for key, _ in _WARM:
        run[key] = None
    run["reported_utilization"] = run["utilization"]
    run["utilization"] = run["fragmentation"] = None
    run["peak_resident_bytes"] = None
    run["flags"] = None           # not computed, unlike [] (none raised)
    run["ratio_to_baseline"] = None
    for sample in run["heap_growth"] or []:
        sample["resident_bytes"] = None


def _distinct_traces(check, runs):
    """Charts key a cell by (trace, allocator). Two traces of one name from
    different files (bash.rep and bash.hbt, or two folders) are told apart
    by their paths; the same cell twice is an error."""
    paths = {}
    for run in runs:
        paths.setdefault(run["trace"], []).append(run["trace_path"])
    for name, seen in paths.items():
        distinct = list(dict.fromkeys(seen))
        if len(distinct) > 1:
            for run in runs:
                if run["trace"] == name:
                    run["trace"] = f"{name} ({run['trace_path']})"
    cells = {}
    for i, run in enumerate(runs):
        key = (run["trace"], run["allocator"])
        if key in cells:
            check.fail(f"runs[{i}]", f"trace {json.dumps(run['trace'])} on "
                       f"{json.dumps(run['allocator'])} again (first in runs[{cells[key]}])")
        cells[key] = i


def _load_replay(check, doc, path):
    version = check.get(doc, "schema_version", "", "any")
    if version not in REPLAY_SCHEMA_VERSIONS:
        check.fail("schema_version", f"is {json.dumps(version)}, this report reads versions "
                   + " and ".join(str(v) for v in REPLAY_SCHEMA_VERSIONS))
    tool = check.get(doc, "tool", "", "str")
    machine = check.get(doc, "machine", "", "object")
    settings = check.get(doc, "settings", "", "object")
    baseline, speed = "glibc", "cold"    # schema 1: cold speed, glibc the reference
    if version == 2:
        speed = check.get(settings, "speed", "settings", "str")
        if speed not in SPEEDS:
            check.fail("settings.speed", f"must be both, cold or warm, not {json.dumps(speed)[:40]}")
        baseline = check.get(settings, "baseline", "settings", "str")
    label = check.get(doc, "label", "", "str", nullable=True) if "label" in doc else None
    runs = check.get(doc, "runs", "", "list")
    for i, run in enumerate(runs):
        _check_run(check, run, f"runs[{i}]", version, speed)
    _distinct_traces(check, runs)
    notes = [NOTE_V1] if version == 1 else []
    if doc.get("partial") is True:  # written while the replay ran, which then stopped
        notes.append(f"partial: the replay stopped after {doc.get('traces_done', '?')} of "
                     f"{doc.get('traces_planned', '?')} traces")
    return Source(path=path, kind="replay", label=label or "", machine=machine,
                  settings=settings, tool=tool, runs=runs, schema_version=version,
                  note="; ".join(notes), baseline=baseline, speed=speed)


# ---- Google Benchmark JSON -------------------------------------------------

_NS_PER_UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


# Parts Google Benchmark appends to a name that change how it measures, not
# what: they do not tell one line of a chart from another.
_GB_SETTINGS = ("real_time", "manual_time", "process_time")
_GB_SETTING_PREFIXES = ("repeats:", "min_time:", "min_warmup_time:", "iterations:")


def _split_name(check, name, where):
    """family/allocator/size[/more]: what follows the size (further
    arguments, threads:N) is the variant; Google Benchmark's own settings
    (real_time, repeats:3, ...) are dropped."""
    parts = name.split("/")
    if len(parts) < 3 or not parts[2].isdigit() or not parts[0] or not parts[1]:
        check.fail(f"{where}.name",
                   f"{json.dumps(name)} is not family/allocator/size (e.g. pairs/glibc/64)")
    variant = [p for p in parts[3:]
               if p not in _GB_SETTINGS and not p.startswith(_GB_SETTING_PREFIXES)]
    return parts[0], parts[1], int(parts[2]), "/".join(variant)


def _load_gbench(check, doc, path):
    context = check.get(doc, "context", "", "object")
    benchmarks = check.get(doc, "benchmarks", "", "list")
    groups = {}    # run_name -> {"iterations": [...], "aggregates": {name: entry}}
    order = []
    for i, entry in enumerate(benchmarks):
        where = f"benchmarks[{i}]"
        name = check.get(entry, "name", where, "str")
        run_name = entry.get("run_name", name) if isinstance(entry, dict) else name
        if not isinstance(run_name, str):
            check.fail(f"{where}.run_name", "must be a string")
        run_type = entry.get("run_type", "iteration")
        if run_type not in ("iteration", "aggregate"):
            check.fail(f"{where}.run_type", f"must be iteration or aggregate, not {json.dumps(run_type)[:40]}")
        family, allocator, size, variant = _split_name(check, run_name, where)
        if not entry.get("error_occurred", False):
            check.get(entry, "real_time", where, "nonneg")
            check.get(entry, "cpu_time", where, "nonneg")
            unit = check.get(entry, "time_unit", where, "str")
            if unit not in _NS_PER_UNIT:
                check.fail(f"{where}.time_unit", f"unknown unit {json.dumps(unit)[:20]}")
            if "items_per_second" in entry:
                check.get(entry, "items_per_second", where, "nonneg")
        if run_type == "aggregate":
            check.get(entry, "aggregate_name", where, "str")
        key = (family, allocator, size, variant)
        if key not in groups:
            groups[key] = {"iterations": [], "aggregates": {}}
            order.append(key)
        if run_type == "aggregate":
            groups[key]["aggregates"][entry["aggregate_name"]] = entry
        else:
            groups[key]["iterations"].append(entry)

    points = []
    for key in order:
        family, allocator, size, variant = key
        group = groups[key]
        errors = [e for e in group["iterations"] if e.get("error_occurred")]
        if errors:
            message = str(errors[0].get("error_message", "")) or "error"
            points.append(MicroPoint(family, allocator, size, variant, None,
                                     f"error: {message}", False, len(group["iterations"])))
            continue
        # The median of the repetitions: Google Benchmark's own aggregate if
        # it wrote one, else the median of the iteration runs.
        chosen = group["aggregates"].get("median")
        candidates = [chosen] if chosen else group["iterations"]
        if not candidates:
            continue  # only mean/stddev aggregates of nothing: nothing to draw
        per_item = all(e.get("items_per_second", 0) > 0 for e in candidates)
        values = sorted(_ns_per_op(e, per_item) for e in candidates)
        middle = len(values) // 2
        ns = values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2
        points.append(MicroPoint(family, allocator, size, variant, ns, "ok", per_item,
                                 max(1, len(group["iterations"]))))
    machine = {k: context[k] for k in ("host_name", "num_cpus", "mhz_per_cpu",
                                       "cpu_scaling_enabled", "caches", "load_avg",
                                       "library_build_type", "date", "executable")
               if k in context}
    return Source(path=path, kind="gbench", label="", machine=machine,
                  tool="Google Benchmark", points=points)


def _ns_per_op(entry, per_item):
    if per_item:
        return 1e9 / entry["items_per_second"]
    return entry["real_time"] * _NS_PER_UNIT[entry["time_unit"]]


# ---- entry point -----------------------------------------------------------

def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def load(path):
    """Reads and checks one file; returns a Source or raises InputError."""
    check = _Checker(path)
    try:
        with open(path, "rb") as stream:
            raw = stream.read()
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror}") from None
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: byte {error.start}: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: line {error.lineno} column {error.colno}: "
                         f"invalid JSON: {error.msg}") from None
    except ValueError as error:
        raise InputError(f"{path}: invalid JSON: {error}") from None
    if not isinstance(doc, dict):
        check.fail("", "the top level must be a JSON object")
    if doc.get("kind") == "run":   # heapbench run --json (docs/RUN.md)
        import run_charts
        return run_charts.load_run(check, doc, path, Source)
    if "runs" in doc or "schema_version" in doc:
        return _load_replay(check, doc, path)
    if "benchmarks" in doc or "context" in doc:
        return _load_gbench(check, doc, path)
    check.fail("", "neither heapbench replay JSON (schema_version, runs) "
                   "nor Google Benchmark JSON (context, benchmarks)")


def load_all(paths):
    """Loads every file and gives each a distinct label: the JSON's own
    label (replay --label, else the host name), else the file name without
    its extension; inputs whose labels repeat (two runs on one machine) are
    labelled by file name, and "#1", "#2" only when those repeat too."""
    sources = [load(path) for path in paths]

    def file_label(source):
        return os.path.splitext(os.path.basename(source.path))[0]

    def repeated():
        seen = {}
        for source in sources:
            seen.setdefault(source.label, []).append(source)
        return [same for same in seen.values() if len(same) > 1]

    for source in sources:
        if not source.label:
            source.label = file_label(source)
    for same in repeated():
        for source in same:
            source.label = file_label(source)
    for same in repeated():
        for number, source in enumerate(same, 1):
            source.label = f"{source.label} #{number}"
    return sources


def parse_args(argv, prog, about=""):
    """The command line report.py and charts.py share: RESULTS.json... -o DIR.
    --help prints the usage and `about`; usage errors exit with status 2."""
    usage = f"usage: {prog} RESULTS.json... -o DIR"
    paths, out_dir = [], None
    args = iter(argv)
    for arg in args:
        if arg in ("-h", "--help"):
            print(usage + ("\n\n" + about if about else ""))
            sys.exit(0)
        if arg in ("-o", "--output"):
            out_dir = next(args, None)
            if out_dir is None:
                print(f"{prog}: -o needs a directory\n{usage}", file=sys.stderr)
                sys.exit(2)
        elif arg.startswith("-") and arg != "-":
            print(f"{prog}: unknown option '{arg}'\n{usage}", file=sys.stderr)
            sys.exit(2)
        else:
            paths.append(arg)
    if not paths or not out_dir:
        print(f"{prog}: need at least one RESULTS.json and -o DIR\n{usage}", file=sys.stderr)
        sys.exit(2)
    return paths, out_dir
