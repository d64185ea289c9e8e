#!/usr/bin/python3
"""report.py — `heapbench report RESULTS.json... -o DIR`: every chart (PNG and
SVG) plus DIR/report.html (page.py).

Inputs may be heapbench replay JSON (docs/JSON.md) and Google Benchmark
JSON, mixed, from several machines or runs: each is labelled with its JSON
`label` or else its file name. A file that breaks its contract stops the
report with one line naming the file and the field, and exit status 1,
before anything is drawn.
"""

import shlex
import sys

import results

PROG = "heapbench report"
ABOUT = """\
Reads heapbench replay JSON (heapbench replay --json, docs/JSON.md) and
Google Benchmark JSON (names family/allocator/size), in any mix, from one or
several machines or runs (each labelled by its JSON label or its file name),
and writes into DIR every chart as PNG and SVG and report.html, one
self-contained page with the charts beside their tables and the machines.
A bad or missing file stops it with one line naming the file and the field.
See docs/REPORT.md."""


def describe(source):
    """What the report draws from one input, in a line."""
    if source.kind == "replay":
        traces = len({r["trace"] for r in source.runs})
        allocators = len({r["allocator"] for r in source.runs})
        what = (f"{len(source.runs)} run{'s' if len(source.runs) != 1 else ''} of heapbench "
                f"replay ({traces} trace{'s' if traces != 1 else ''} x {allocators} "
                f"allocator{'s' if allocators != 1 else ''})")
    else:
        what = (f"{len(source.points)} Google Benchmark result"
                f"{'s' if len(source.points) != 1 else ''}")
    return f"drawing {what} as '{source.label}'"


def main(argv):
    paths, out_dir = results.parse_args(argv, PROG, ABOUT)
    try:
        sources = results.load_all(paths)
    except results.InputError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    for source in sources:
        print(f"{PROG}: {source.path}: {describe(source)}")
        if getattr(source, "note", ""):
            print(f"{PROG}: {source.path}: {source.note}")
    # matplotlib loads only once the inputs are known good: errors come fast.
    import charts
    import page
    try:
        drawn = charts.draw_all(sources, out_dir)
        command = " ".join([PROG] + [shlex.quote(a) for a in argv])
        path = page.render(sources, {c.key: c for c in drawn}, command, out_dir)
    except OSError as error:
        print(f"{PROG}: {error.filename or out_dir}: {error.strerror}", file=sys.stderr)
        return 1
    print(f"{PROG}: {len(drawn)} charts (PNG and SVG) and {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
