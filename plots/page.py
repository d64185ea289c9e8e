"""page.py — the HTML page of `heapbench report`: one self-contained file
(charts embedded as base64 PNG, each linking to its SVG beside the page)
that puts each chart beside its table and shows the machine and settings of
every input.
"""

import base64
import datetime
import html
import os

import drawing
import heap_map_charts
import latency_charts
import micro_charts
import palette
import replay_charts
import run_charts
import results

# ---- formatting --------------------------------------------------------------

def esc(value):
    return html.escape(str(value), quote=True)


def fmt_num(value):
    """A plain figure, never in e-notation (drawing.plain)."""
    return drawing.plain(value)


def fmt_bytes(value):
    if value is None:
        return '<span class="na" title="not reported">n/r</span>'
    return f'<span title="{value:,} bytes">{drawing.byte_size(value)}</span>'


def fmt_pct(value):
    return "—" if value is None else f"{100 * value:.1f}%"


def fmt_range(low, high):
    """"2,000–2,180 ns"."""
    return "—" if low is None or high is None else \
        f"{drawing.plain(low)}–{drawing.plain(high)} ns"


def fmt_ratio(ratio, baseline):
    """A ratio to the baseline in words (replay_charts.ratio_text), with the
    figures in its tooltip where the words leave them out."""
    if ratio is None:
        return "—"
    words = replay_charts.ratio_text(ratio, baseline)
    if ratio.is_baseline or ratio.significant:
        return esc(words)
    interval = (f", 95% interval {drawing.times(ratio.ci[0])}–{drawing.times(ratio.ci[1])}"
                if ratio.ci else ", no interval")
    return (f'<span class="unclear" title="{drawing.times(ratio.value)} {esc(baseline)}\'s '
            f'time{interval}">{esc(words)}</span>')


def fmt_flags(run, kind=None):
    """The run's flags, each named and explained in its tooltip."""
    if run["flags"] is None:
        return '<span class="na" title="a schema 1 input has no flags">—</span>'
    return " ".join(
        f'<span class="flag" title="{esc(results.FLAGS.get(f, ("", "see docs/JSON.md"))[1])}">'
        f'{drawing.FLAG_MARK}&nbsp;{esc(f)}</span>'
        for f in replay_charts.flags_for(run, kind))


def flags_note(runs):
    """Under a table: what each flag raised in it means."""
    raised = list(dict.fromkeys(f for run in runs for f in run["flags"] or []))
    if not raised:
        return ""
    return '<p class="flagnote">' + "<br>".join(
        f"{drawing.FLAG_MARK} <b>{esc(f)}</b>: "
        f"{esc(results.FLAGS.get(f, ('', 'see docs/JSON.md'))[1])}" for f in raised) + "</p>"


def status_cell(status):
    cls = "ok" if status == "ok" else "bad"
    return f'<td class="{cls}">{esc(status)}</td>'


def swatch(allocator):
    return (f'<span class="sw" style="background:{palette.colour(allocator)}"></span>'
            f'{esc(allocator)}')


def scrolling(table_html):
    """A table in a box of its own that scrolls sideways: one wider than
    the window (the overview, with six columns of words) does not run off
    the page's right edge."""
    return f'<div class="tablewrap">{table_html}</div>'


def table(header, rows, cls=""):
    out = [f'<table class="{cls}"><thead><tr>']
    out += [f"<th>{h}</th>" for h in header]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in row)
                   + "</tr>")
    out.append("</tbody></table>")
    return scrolling("".join(out))


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
        return {"replay": "heapbench replay", "run": "heapbench run"}.get(source.kind,
                                                                         "Google Benchmark")
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
    return scrolling("".join(out))


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
    """Warm and cold time per op, their pass ranges, the ratios to the
    baseline in words, and the flags. The fastest warm (else cold) median
    of each input is bold."""
    kinds = view.kinds()
    best = {}
    for label, _, run in _runs_rows(view, trace):
        for kind in kinds:
            value = replay_charts.speed_ns(run, kind)
            if run["status"] == "ok" and value is not None:
                best.setdefault((label, kind), value)
                best[(label, kind)] = min(best[(label, kind)], value)
    bold_kind = {label: next((k for k in kinds if (label, k) in best), None)
                 for label in view.labels}
    rows = []
    for label, allocator, run in _runs_rows(view, trace):
        baseline = view.source[label].baseline
        row = [esc(label)] if len(view.labels) > 1 else []
        row += [swatch(allocator), status_cell(run["status"]),
                f'<td class="words">{fmt_flags(run)}</td>']
        # A cell that is not ok shows whatever figures it kept (JSON.md).
        for kind in kinds:
            prefix = "warm_" if kind == "warm" else ""
            value = run[f"{prefix}ns_per_op"]
            shown = drawing.ns(value)
            if run["status"] == "ok" and bold_kind[label] == kind and \
                    value == best.get((label, kind)):
                shown = f"<b>{shown}</b>"
            row += [shown, fmt_range(run[f"{prefix}ns_per_op_min"], run[f"{prefix}ns_per_op_max"])]
        for kind in kinds:
            row.append(fmt_ratio(view.ratio(trace, label, run, kind), baseline))
        row.append(str(run["repeat"]))
        rows.append(row)
    baseline = esc(view.baseline_name())
    header = (["input"] if len(view.labels) > 1 else []) + ["allocator", "status", "flags"]
    for kind in kinds:
        header += [f"{kind} time per op (median)", f"{kind} fastest–slowest pass"]
    header += [f"{kind} vs {baseline} (95% interval)" for kind in kinds] + ["passes"]
    return table(header, rows, "num")


def memory_table(view, trace):
    rows = []
    for label, allocator, run in _runs_rows(view, trace):
        row = [esc(label)] if len(view.labels) > 1 else []
        row += [swatch(allocator), status_cell(run["status"])]
        v1 = view.source[label].schema_version == 1

        def size(key):
            # null figures of a cell that is not ok were not measured ("—");
            # of an ok cell, the allocator cannot report them ("n/r").
            if key == "peak_resident_bytes" and v1:
                return '<span class="na" title="a schema 1 input has no resident figure">—</span>'
            return fmt_bytes(run[key]) if run[key] is not None or run["status"] == "ok" else "—"
        row += [fmt_bytes(run["peak_live_bytes"]), size("peak_resident_bytes"),
                fmt_pct(run["utilization"]), fmt_num(run["fragmentation"]),
                size("peak_footprint_bytes"), fmt_pct(run["reported_utilization"]),
                size("peak_rss_bytes")]
        rows.append(row)
    header = (["input"] if len(view.labels) > 1 else []) + [
        "allocator", "status", "peak live", "peak resident", "utilization (resident)",
        "fragmentation", "peak footprint (allocator's own account)",
        "utilization (allocator's own account)", "peak RSS (cold timed pass)"]
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


def _verdicts(ratios):
    """"faster on 2 traces, no clear difference on 1 trace" from Ratios."""
    counts = {}
    for ratio in ratios:
        if ratio.is_baseline:
            continue
        if ratio.significant is None:
            verdict = "no interval"
        elif not ratio.significant:
            verdict = "no clear difference"
        else:
            verdict = "faster" if ratio.value < 1 else "slower"
        counts[verdict] = counts.get(verdict, 0) + 1
    order = ["faster", "slower", "no clear difference", "no interval"]
    return ", ".join(f"{v} on {drawing.plural(counts[v], 'trace')}" for v in order if v in counts)


def overview_table(view, label):
    """Per allocator: geometric means over the traces it completed (cold
    without the start-up dominated ones), how it compares with the
    baseline trace by trace, and how many cells were not ok or flagged."""
    source = view.source[label]
    baseline = esc(source.baseline)
    kinds = view.kinds([label])
    rows = []
    traces = [t for t in view.traces if any(k[0] == t and k[1] == label for k in view.cells)]
    for allocator in view.allocators:
        runs = [view.cells[(t, label, allocator)] for t in traces
                if (t, label, allocator) in view.cells]
        if not runs:
            continue
        ok = [r for r in runs if r["status"] == "ok"]
        not_ok = len(runs) - len(ok)
        row = [swatch(allocator), f"{len(ok)} of {drawing.plural(len(runs), 'trace')}",
               f'<td class="{"bad" if not_ok else "ok"}">{not_ok}</td>']
        for kind in kinds:
            ratios = [view.ratio(r["trace"], label, r, kind) for r in ok
                      if kind == "warm" or "short-pass" not in (r["flags"] or [])]
            ratios = [r for r in ratios if r is not None]
            mean = drawing.geomean([r.value for r in ratios])
            if allocator == source.baseline:
                row += ["baseline", ""]
            else:
                row += [drawing.times(mean) if mean else "—",
                        f'<td class="words">{_verdicts(ratios) or "—"}</td>']
        row.append(fmt_pct(drawing.geomean([r["utilization"] for r in ok])))
        flagged = sum(1 for r in runs if r["flags"])
        row.append("—" if source.schema_version == 1 else
                   f'<td class="{"warn" if flagged else ""}">{flagged}</td>')
        rows.append(row)
    header = ["allocator", "completed", "not ok"]
    for kind in kinds:
        cells = "ok cells" if kind == "warm" else "ok cells without short-pass"
        header += [f"{kind} time vs {baseline} (geo. mean, {cells})",
                   f"{kind}: trace by trace (95% interval)"]
    header += ["utilization, resident (geo. mean, ok cells)", "flagged cells"]
    return table(header, rows, "num")


def resident_table(view, label):
    """Peak resident bytes: a row per allocator, a column per trace."""
    traces = [t for t in view.traces if any(k[0] == t and k[1] == label for k in view.cells)]
    rows = []
    for allocator in view.allocators:
        runs = [view.cells.get((t, label, allocator)) for t in traces]
        if not any(runs):
            continue
        row = [swatch(allocator)]
        for run in runs:
            if run is None:
                row.append("")
            elif run["peak_resident_bytes"] is None:
                row.append(status_cell(run["status"]) if run["status"] != "ok" else "—")
            else:
                row.append(fmt_bytes(run["peak_resident_bytes"]))
        rows.append(row)
    lives = [next((r["peak_live_bytes"] for (t2, l, _), r in view.cells.items()
                   if t2 == t and l == label), None) for t in traces]
    rows.append(["<i>peak live</i>"] + [fmt_bytes(v) if v is not None else "" for v in lives])
    return table(["allocator"] + [esc(t) for t in traces], rows, "num")


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
                        drawing.ns(p.ns_per_op),
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
td{white-space:nowrap} table.machines td{white-space:normal;overflow-wrap:anywhere}
thead th{background:#f4f4f4} table.num td{text-align:right} table.num td:nth-child(-n+2){text-align:left}
td.ok{color:#186a1d} td.bad{color:#b00000;font-weight:600} .na{color:#888}
.sw{display:inline-block;width:.8em;height:.8em;margin-right:.35em;border:1px solid #0004;vertical-align:-1px}
nav a{margin-right:1em} code{background:#f4f4f4;padding:0 .3em;overflow-wrap:anywhere}
table.num td.words{text-align:left} .flag{color:#a65b00;font-weight:600} td.warn{color:#a65b00;font-weight:600}
.flagnote{font-size:12px;color:#a65b00;margin:.2em 0}
.tablewrap{overflow-x:auto;max-width:100%} td.words{white-space:normal;min-width:12em}
.unclear{color:#555;font-style:italic;border-bottom:1px dotted #999}
.note{background:#fff6e0;border-left:4px solid #d47500;padding:.3em .6em}
"""


def _threads(threads):
    return drawing.plural(threads, "thread") if isinstance(threads, int) else f"{threads} thread(s)"


def _note(source):
    return (f'<p class="note"><b>{esc(source.label)}</b> '
            f'({esc(os.path.basename(source.path))}) is {esc(source.note)}.</p>')


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
    # What an older input lacks, said once at the top and again at its overview.
    notes = {s.label: _note(s) for s in sources if getattr(s, "note", "")}
    out += list(notes.values())
    nav = ['<a href="#machines">machines</a>']
    if view.labels:
        nav += ['<a href="#overview">overview</a>', '<a href="#traces">traces</a>']
    if families:
        nav.append('<a href="#micro">microbenchmarks</a>')
    run_programs = run_charts.programs(sources)
    if run_programs:
        nav.append('<a href="#programs">programs</a>')
    nav.append('<a href="#reading">how to read</a>')
    out.append("<nav>" + "".join(nav) + "</nav>")

    out.append('<h2 id="machines">Machines and settings</h2>')
    out.append(machines_section(sources))

    if view.labels:
        out.append('<h2 id="overview">Overview: every trace</h2>')
        for label in view.labels:
            out.append(f"<h3>{esc(label)}</h3>")
            out.append(notes.get(label, ""))
            if f"overview/{label}" not in charts_by_key:
                out.append("<p>No runs in this input.</p>")
                continue
            # The overview is wide (a column per measure): the table goes under it.
            out.append(f'<div class="wide">{figure(charts_by_key.get(f"overview/{label}"))}</div>')
            out.append(overview_table(view, label))
            out.append(flags_note(view.source[label].runs))
            resident = charts_by_key.get(f"resident/{label}")
            if resident:
                out.append(side_by_side(resident, resident_table(view, label)))
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
                       f'{esc(_threads(first.get("threads")))}, '
                       f'<code>{esc(first.get("trace_path"))}</code>)</span></h3>')
            out.append(side_by_side(charts_by_key[f"trace/{trace}/throughput"],
                                    throughput_table(view, trace),
                                    flags_note(cells.values())))
            out.append(side_by_side(charts_by_key[f"trace/{trace}/memory"],
                                    memory_table(view, trace)))
            out.append(side_by_side(charts_by_key[f"trace/{trace}/heap-growth"], ""))
            out.append(side_by_side(charts_by_key[f"trace/{trace}/reuse"],
                                    reuse_table(view, trace)))
            if f"trace/{trace}/size-classes" in charts_by_key:
                out.append(side_by_side(charts_by_key[f"trace/{trace}/size-classes"], ""))
            if f"trace/{trace}/latency" in charts_by_key:
                out.append(side_by_side(charts_by_key[f"trace/{trace}/latency"],
                                        latency_charts.latency_table(view, trace, esc)))
            # One heap map per allocator, one after another: the policies'
            # heaps compared strip by strip (docs/REPORT.md).
            for label, allocator, run in heap_map_charts.maps(view, trace):
                chart = charts_by_key.get(f"trace/{trace}/heap-map/{label}/{allocator}")
                if chart:
                    out.append(side_by_side(chart, heap_map_charts.heap_map_table(run, esc)))
    if families:
        out.append('<h2 id="micro">Microbenchmarks (Google Benchmark)</h2>')
        for family in families:
            out.append(f"<h3>{esc(family)}</h3>")
            out.append(side_by_side(charts_by_key[f"micro/{family}"], micro_table(sources, family)))

    if run_programs:
        out.append('<h2 id="programs">Programs (heapbench run)</h2><p>Each program run whole '
                   "under each allocator (docs/RUN.md): wall time and the program's own peak "
                   "RSS, medians over the passes. A result (exit code, stdout) that differs "
                   "from the reference allocator's is marked ✗: a finding, not a speed.</p>")
        for index, (program, runs) in enumerate(run_programs, 1):
            out.append(f"<h3><code>{esc(program)}</code></h3>")
            out.append(side_by_side(charts_by_key[f"run/{index}"], run_charts.table(runs, esc)))
    out.append('<h2 id="reading">How to read this report</h2><ul>'
               "<li>Each allocator has one colour in every chart; the sbrk policies share the "
               "yellow–orange–brown family, in ladder order from the lightest, <code>sbrk-tutorial</code>, to the darkest, the "
               "default <code>sbrk</code>. With several inputs, each input has its own hatch "
               "(bars) or line style (lines).</li>"
               "<li>Speed is time per operation, the median over the timed passes (lower is "
               "better). <b>Cold</b>: each pass is the first replay in a fresh process, so it "
               "includes the allocator's start-up. <b>Warm</b>: the same process, having freed "
               "everything, replays the trace again: rank allocators on this. In charts warm "
               "bars are dark, cold bars light.</li>"
               "<li>“vs glibc” (the input's baseline) is this allocator's time over the baseline's on the same input "
               "and trace (below 1 = faster), with its 95% interval (Hodges–Lehmann/Moses, "
               "from the pass times). “no clear difference”: the interval holds 1 (the "
               "figures are in the tooltip); “too few passes to tell”: no interval.</li>"
               "<li>Utilization = peak live bytes ÷ peak resident bytes (every allocated byte "
               "written, measured by the kernel the same way for every allocator); "
               "fragmentation = peak resident ÷ peak live − 1. The allocator's own account "
               "(peak live ÷ the footprint it reports) is shown beside it, never ranked on: "
               "allocators do not count their footprint alike (docs/METRICS.md defines every "
               "figure).</li>"
               f"<li>{drawing.FLAG_MARK} Flags (orange): "
               + "; ".join(f"<b>{esc(f)}</b>: {esc(m)}" for f, (_, m) in results.FLAGS.items())
               + ".</li>"
               "<li>A grey cross-hatched band or a red entry marks a cell whose status is not "
               "<code>ok</code> (timeout, failure): it was not measured and is not drawn as "
               "zero. “not reported” / n/r: the allocator cannot report that figure.</li>"
               "<li>Microbenchmarks: ns/op is 1e9 ÷ <code>items_per_second</code> when the "
               "benchmark counts items, else its real time per iteration; with repetitions, "
               "the median.</li></ul>")
    out.append("</body></html>")
    path = os.path.join(out_dir, "report.html")
    with open(path, "w", encoding="utf-8") as stream:
        stream.write("\n".join(out))
    return path
