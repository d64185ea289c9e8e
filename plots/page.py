"""page.py — the HTML page of `heapbench report`: one self-contained file
(charts embedded as base64 PNG, each linking to its SVG beside the page)
that puts each chart beside its table and shows the machine and settings of
every input.
"""

import base64
import datetime
import html
import math
import os

import drawing
import micro_charts
import palette
import replay_charts

# ---- formatting --------------------------------------------------------------

def esc(value):
    return html.escape(str(value), quote=True)


def fmt_num(value, digits=3):
    if value is None:
        return "—"
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 1000:
        return f"{int(value):,}"
    return f"{value:.{digits}g}"


def fmt_bytes(value):
    if value is None:
        return '<span class="na" title="not reported">n/r</span>'
    unit, scale = drawing.byte_unit(value)
    scaled = value / scale
    number = f"{scaled:,.0f}" if scaled >= 100 else f"{scaled:.3g}"
    shown = f"{value:,} B" if scale == 1 else f"{number} {unit}"
    return f'<span title="{value:,} bytes">{shown}</span>'


def fmt_pct(value):
    return "—" if value is None else f"{100 * value:.1f}%"


def status_cell(status):
    cls = "ok" if status == "ok" else "bad"
    return f'<td class="{cls}">{esc(status)}</td>'


def swatch(allocator):
    return (f'<span class="sw" style="background:{palette.colour(allocator)}"></span>'
            f'{esc(allocator)}')


def table(header, rows, cls=""):
    out = [f'<table class="{cls}"><thead><tr>']
    out += [f"<th>{h}</th>" for h in header]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in row)
                   + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def figure(chart):
    """The chart as an embedded PNG, linking to its SVG next to the page."""
    if chart is None:
        return ""
    with open(chart.png, "rb") as stream:
        data = base64.b64encode(stream.read()).decode("ascii")
    svg = os.path.basename(chart.svg)
    return (f'<figure><img alt="{esc(chart.title)}" src="data:image/png;base64,{data}">'
            f'<figcaption>{esc(chart.title)} · <a href="{esc(svg)}">SVG</a></figcaption></figure>')


def side_by_side(chart, table_html, note=""):
    return (f'<div class="pair"><div class="chart">{figure(chart)}</div>'
            f'<div class="table">{table_html}{note}</div></div>')


# ---- sections ----------------------------------------------------------------

_MACHINE_ROWS = [
    ("kind", "input"), ("tool", "tool"), ("file", "file"),
    ("cpu_model", "CPU"), ("cores", "cores"), ("num_cpus", "CPUs"),
    ("mhz_per_cpu", "MHz per CPU"), ("cpu_scaling_enabled", "CPU frequency scaling"),
    ("caches", "caches"), ("kernel", "kernel"), ("glibc", "glibc"),
    ("compiler", "compiler"), ("libraries", "libraries"), ("host_name", "host"),
    ("library_build_type", "Google Benchmark library build"), ("load_avg", "load average"),
    ("date", "date"), ("settings", "settings"),
]


def _machine_value(source, key):
    if key == "kind":
        return "heapbench replay" if source.kind == "replay" else "Google Benchmark"
    if key == "tool":
        return source.tool
    if key == "file":
        return source.path
    if key == "settings":
        return ", ".join(f"{k} = {v}" for k, v in source.settings.items()) or None
    value = source.machine.get(key)
    if key == "caches" and isinstance(value, list):
        return ", ".join(f"L{c.get('level')} {c.get('type', '')} "
                         + (drawing.size_label(c["size"]) if isinstance(c.get("size"), int) else "?")
                         for c in value if isinstance(c, dict))
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value


def machines_section(sources):
    rows = []
    known = {key for key, _ in _MACHINE_ROWS}
    extra = [k for s in sources for k in s.machine if k not in known]
    for key, name in _MACHINE_ROWS + [(k, k) for k in dict.fromkeys(extra)]:
        values = [_machine_value(s, key) for s in sources]
        if all(v is None or v == "" for v in values):
            continue
        cells = [esc("—" if v is None else v) for v in values]
        rows.append([f"<th>{esc(name)}</th>"] + cells)
    header = [""] + [esc(s.label) for s in sources]
    out = ['<table class="machines"><thead><tr>']
    out += [f"<th>{h}</th>" for h in header]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + row[0] + "".join(f"<td>{c}</td>" for c in row[1:]) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _input_cell(view, label):
    return esc(label) if len(view.labels) > 1 else None


def _runs_rows(view, trace):
    """(label, allocator, run) for one trace, in report order."""
    cells, allocators = view.trace_cells(trace)
    for allocator in allocators:
        for label in view.labels:
            run = cells.get((label, allocator))
            if run is not None:
                yield label, allocator, run


def throughput_table(view, trace):
    best = {}
    for label, _, run in _runs_rows(view, trace):
        if run["status"] == "ok":
            best[label] = max(best.get(label, 0), run["ops_per_sec"])
    rows = []
    for label, allocator, run in _runs_rows(view, trace):
        row = [esc(label)] if len(view.labels) > 1 else []
        row += [swatch(allocator), status_cell(run["status"])]
        # A cell that is not ok shows whatever figures it kept (JSON.md).
        if run["ns_per_op"] is not None:
            base = view.baseline(trace, label)
            mops = f"{run['ops_per_sec'] / 1e6:.3g}"
            if run["status"] == "ok" and run["ops_per_sec"] == best.get(label):
                mops = f"<b>{mops}</b>"
            row += [f"{run['ns_per_op']:.3g}",
                    f"{run['ns_per_op_min']:.3g}–{run['ns_per_op_max']:.3g}", mops,
                    drawing.times(base / run["ns_per_op"]) if base and run["ns_per_op"] > 0
                    else "—"]
        else:
            row += ["—"] * 4
        row.append(str(run["repeat"]))
        rows.append(row)
    header = (["input"] if len(view.labels) > 1 else []) + [
        "allocator", "status", "ns/op (median)", "ns/op min–max", "Mops/s", "× glibc", "passes"]
    return table(header, rows, "num")


def memory_table(view, trace):
    rows = []
    for label, allocator, run in _runs_rows(view, trace):
        row = [esc(label)] if len(view.labels) > 1 else []
        row += [swatch(allocator), status_cell(run["status"])]
        # null figures of a cell that is not ok were not measured ("—");
        # of an ok cell, the allocator cannot report them ("n/r").
        row += [fmt_bytes(run["peak_live_bytes"])] + [
            fmt_bytes(run[key]) if run[key] is not None or run["status"] == "ok" else "—"
            for key in ("peak_footprint_bytes", "footprint_at_peak_live_bytes", "peak_rss_bytes")]
        row += [fmt_pct(run["utilization"]), fmt_num(run["fragmentation"])]
        rows.append(row)
    header = (["input"] if len(view.labels) > 1 else []) + [
        "allocator", "status", "peak live", "peak footprint", "footprint at peak live",
        "peak RSS", "utilization", "fragmentation"]
    return table(header, rows, "num")


def reuse_table(view, trace):
    rows = []
    for label, allocator, run in _runs_rows(view, trace):
        row = [esc(label)] if len(view.labels) > 1 else []
        row += [swatch(allocator), status_cell(run["status"])]
        row += [fmt_pct(run["reuse_rate"]), fmt_pct(run["byte_reuse_rate"]),
                fmt_num(run["reuse_distance_median"]), fmt_num(run["reuse_distance_p90"]),
                fmt_pct(run["lifo_share"])]
        rows.append(row)
    header = (["input"] if len(view.labels) > 1 else []) + [
        "allocator", "status", "reuse rate", "byte reuse rate", "reuse distance median (ops)",
        "reuse distance p90 (ops)", "LIFO share"]
    return table(header, rows, "num")


def _geomean(values):
    values = [v for v in values if v is not None and v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def overview_table(view, label):
    """Per allocator: geometric means over the traces it completed, and how
    many it did not."""
    rows = []
    traces = [t for t in view.traces if (t, label, "glibc") in view.cells or
              any(k[0] == t and k[1] == label for k in view.cells)]
    for allocator in view.allocators:
        runs = [view.cells[(t, label, allocator)] for t in traces
                if (t, label, allocator) in view.cells]
        if not runs:
            continue
        ok = [r for r in runs if r["status"] == "ok"]
        rel = [view.baseline(r["trace"], label) / r["ns_per_op"] for r in ok
               if view.baseline(r["trace"], label) and (r["ns_per_op"] or 0) > 0]
        not_ok = len(runs) - len(ok)
        rows.append([swatch(allocator), f"{len(ok)} of {len(runs)}",
                     f'<td class="{"bad" if not_ok else "ok"}">{not_ok}</td>',
                     drawing.times(_geomean(rel)) if rel else "—",
                     fmt_pct(_geomean([r["utilization"] for r in ok]))])
    return table(["allocator", "traces completed", "not ok", "× glibc (geo. mean, ok cells)",
                  "utilization (geo. mean, ok cells)"], rows, "num")


def micro_table(sources, family):
    gbench = [s for s in sources if s.kind == "gbench"]
    variants = any(p.variant for s in gbench for p in s.points if p.family == family)
    rows = []
    for source in gbench:
        allocators = palette.order(p.allocator for p in source.points if p.family == family)
        for allocator in allocators:
            for p in sorted((p for p in source.points
                             if p.family == family and p.allocator == allocator),
                            key=lambda p: (p.variant, p.size)):
                row = [esc(source.label)] if len(gbench) > 1 else []
                row += [swatch(allocator)] + ([esc(p.variant)] if variants else [])
                row += [drawing.size_label(p.size), status_cell(p.status),
                        "—" if p.ns_per_op is None else f"{p.ns_per_op:.3g}",
                        "1e9 ÷ items_per_second" if p.per_item else "real time per iteration",
                        str(p.repetitions)]
                rows.append(row)
    header = (["input"] if len(gbench) > 1 else []) + ["allocator"] + \
        (["variant"] if variants else []) + ["size", "status", "ns/op", "from", "repetitions"]
    return table(header, rows, "num")


# ---- the page ----------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:1700px;padding:0 1em;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3{margin-top:1.6em} .meta{color:#555}
.pair{display:flex;flex-wrap:wrap;gap:1.2em;align-items:flex-start;margin:.6em 0 1.2em}
.pair .chart{flex:1 1 640px;min-width:0} .pair .table{flex:0 1 auto;overflow-x:auto}
figure{margin:0} figure img{max-width:100%;height:auto;border:1px solid #eee}
.wide{margin:.6em 0}
figcaption{font-size:12px;color:#666}
table{border-collapse:collapse;font-size:13px;margin:.3em 0}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
td{white-space:nowrap} table.machines td{white-space:normal}
thead th{background:#f4f4f4} table.num td{text-align:right} table.num td:nth-child(-n+2){text-align:left}
td.ok{color:#186a1d} td.bad{color:#b00000;font-weight:600} .na{color:#888}
.sw{display:inline-block;width:.8em;height:.8em;margin-right:.35em;border:1px solid #0004;vertical-align:-1px}
nav a{margin-right:1em} code{background:#f4f4f4;padding:0 .3em}
"""


def render(sources, charts_by_key, command, out_dir):
    """Writes out_dir/report.html; command is the command line that made it."""
    view = replay_charts.ReplayView(sources)
    families = micro_charts.micro_families(sources)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = ["<!doctype html><html lang=en><head><meta charset=utf-8>",
           "<meta name=viewport content='width=device-width,initial-scale=1'>",
           "<title>heapbench report</title>", f"<style>{_CSS}</style></head><body>",
           "<h1>heapbench report</h1>",
           f'<p class="meta">Written {esc(now)} by <code>{esc(command)}</code> from '
           f'{len(sources)} input{"s" if len(sources) != 1 else ""}: '
           + ", ".join(f"<b>{esc(s.label)}</b> ({esc(os.path.basename(s.path))})" for s in sources)
           + ".</p>"]
    nav = ['<a href="#machines">machines</a>']
    if view.labels:
        nav += ['<a href="#overview">overview</a>', '<a href="#traces">traces</a>']
    if families:
        nav.append('<a href="#micro">microbenchmarks</a>')
    nav.append('<a href="#reading">how to read</a>')
    out.append("<nav>" + "".join(nav) + "</nav>")

    out.append('<h2 id="machines">Machines and settings</h2>')
    out.append(machines_section(sources))

    if view.labels:
        out.append('<h2 id="overview">Overview: every trace</h2>')
        for label in view.labels:
            out.append(f"<h3>{esc(label)}</h3>")
            if f"overview/{label}" not in charts_by_key:
                out.append("<p>No runs in this input.</p>")
                continue
            # The overview is wide (a column per measure): the table goes under it.
            out.append(f'<div class="wide">{figure(charts_by_key.get(f"overview/{label}"))}</div>')
            out.append(overview_table(view, label))
            ladder = charts_by_key.get(f"ladder/{label}")
            if ladder:
                out.append(side_by_side(ladder, "<p>The sbrk policies in ladder order, from "
                                        "the tutorial policy to the default <code>sbrk</code>. "
                                        "Bars: geometric mean over the traces every policy "
                                        "completed; lines: one trace each.</p>"))
        out.append('<h2 id="traces">Traces</h2>')
        out.append("<p>" + " ".join(f'<a href="#t-{esc(drawing.slug(t))}">{esc(t)}</a>'
                                    for t in view.traces) + "</p>")
        for trace in view.traces:
            cells, _ = view.trace_cells(trace)
            first = next(iter(cells.values()))
            ops = sorted({c["ops"] for c in cells.values() if c.get("ops") is not None})
            out.append(f'<h3 id="t-{esc(drawing.slug(trace))}">{esc(trace)} — '
                       f'{" / ".join(f"{n:,}" for n in ops)} ops '
                       f'<span class="meta">({esc(first.get("trace_format"))}, '
                       f'{esc(first.get("threads"))} thread(s), '
                       f'<code>{esc(first.get("trace_path"))}</code>)</span></h3>')
            out.append(side_by_side(charts_by_key[f"trace/{trace}/throughput"],
                                    throughput_table(view, trace)))
            out.append(side_by_side(charts_by_key[f"trace/{trace}/memory"],
                                    memory_table(view, trace)))
            out.append(side_by_side(charts_by_key[f"trace/{trace}/heap-growth"], ""))
            out.append(side_by_side(charts_by_key[f"trace/{trace}/reuse"],
                                    reuse_table(view, trace)))
    if families:
        out.append('<h2 id="micro">Microbenchmarks (Google Benchmark)</h2>')
        for family in families:
            out.append(f"<h3>{esc(family)}</h3>")
            out.append(side_by_side(charts_by_key[f"micro/{family}"], micro_table(sources, family)))

    out.append('<h2 id="reading">How to read this report</h2><ul>'
               "<li>Each allocator has one colour in every chart; the sbrk policies share the "
               "orange–brown family, lightest for <code>sbrk-tutorial</code>, darkest for the "
               "default <code>sbrk</code>. With several inputs, each input has its own hatch "
               "(bars) or line style (lines).</li>"
               "<li>A grey cross-hatched band or a red entry marks a cell whose status is not "
               "<code>ok</code> (timeout, failure): it was not measured and is not drawn as "
               "zero. “not reported” / n/r: the allocator cannot report that figure.</li>"
               "<li>Throughput is the median over the timed passes; × glibc compares with "
               "glibc on the same input and trace. Utilization = peak live bytes ÷ peak "
               "footprint; fragmentation = peak footprint ÷ peak live − 1 "
               "(docs/METRICS.md defines every figure).</li>"
               "<li>Microbenchmarks: ns/op is 1e9 ÷ <code>items_per_second</code> when the "
               "benchmark counts items, else its real time per iteration; with repetitions, "
               "the median.</li></ul>")
    out.append("</body></html>")
    path = os.path.join(out_dir, "report.html")
    with open(path, "w", encoding="utf-8") as stream:
        stream.write("\n".join(out))
    return path
