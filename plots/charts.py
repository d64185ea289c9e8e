#!/usr/bin/python3
"""charts.py — draws every heapbench chart from checked results (results.py)
and writes each as PNG and SVG.

    /usr/bin/python3 plots/charts.py RESULTS.json... -o DIR

Conventions every chart keeps:
  * an allocator has the same colour everywhere (palette.py);
  * when several inputs (machines, runs) are compared, each input has its
    own hatch, listed in the legend by its label;
  * a cell whose status is not "ok" is drawn as a grey cross-hatched band
    with its status written on it: never dropped, never drawn as zero;
  * a figure the allocator could not report (null) is written "not
    reported", again never drawn as zero;
  * per-trace charts carry the trace name and its operation count in the
    title.
"""

import math
import os
import re
import sys

import matplotlib
matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullLocator  # noqa: E402
import numpy as np  # noqa: E402

import palette  # noqa: E402
import results  # noqa: E402

plt.rcParams.update({
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",     # text stays text in the SVG: smaller, searchable
    "svg.hashsalt": "heapbench",  # stable ids: same input, same SVG
})

_SOURCE_HATCHES = ["", "///", "...", "\\\\\\", "ooo", "xxx"]
_SOURCE_STYLES = ["-", "--", ":", "-."]
_NOT_OK_FACE = "#eeeeee"


class Chart:
    """A written chart: where its files are and what the report says of it."""

    def __init__(self, key, title, base):
        self.key = key          # e.g. "trace/bash/throughput", "micro/pairs"
        self.title = title
        self.png = base + ".png"
        self.svg = base + ".svg"


# ---- helpers ---------------------------------------------------------------

def slug(text):
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def thousands(number):
    return f"{number:,}" if number is not None else "?"


def byte_unit(max_bytes):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if max_bytes >= 4 * scale:
            return unit, scale
    return "bytes", 1


def status_text(status):
    """The short form a chart can hold: "timeout", "failed", "error"."""
    return status if len(status) <= 22 else status[:21] + "…"


def _g(value, _position=None):
    return f"{value:g}"


def _log_1_2_5(value, _position=None):
    """Minor-tick labels of a log axis at 2× and 5× only: 1, 2, 5, 10, 20..."""
    if value <= 0:
        return ""
    mantissa = round(value / 10 ** math.floor(math.log10(value)), 6)
    return f"{value:g}" if mantissa in (2, 5) else ""


def plain_log(axis):
    """A log axis labelled with plain numbers instead of 10^k. Call it once
    the data is drawn: under one decade every minor tick gets a label."""
    low, high = sorted(axis.get_view_interval())
    axis.set_major_formatter(FuncFormatter(_g))
    few = low > 0 and high / low < 10
    axis.set_minor_formatter(FuncFormatter(_g if few else _log_1_2_5))


def size_label(size_bytes):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size_bytes >= scale and size_bytes % scale == 0:
            return f"{size_bytes // scale} {unit}"
    return f"{size_bytes} B"


def _save(fig, out_dir, name, key, title):
    base = os.path.join(out_dir, name)
    fig.savefig(base + ".png", bbox_inches="tight")
    fig.savefig(base + ".svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return Chart(key, title, base)


def _trace_title(what, trace, cells):
    """"bash — 4,162 ops: throughput"; op counts of every input if they differ."""
    counts = sorted({c["ops"] for c in cells if c.get("ops") is not None})
    ops = " / ".join(thousands(n) for n in counts) if counts else "? "
    return f"{trace} — {ops} ops: {what}"


def _source_legend(ax, labels, loc="lower right"):
    if len(labels) < 2:
        return
    handles = [Patch(facecolor="white", edgecolor="black", hatch=_SOURCE_HATCHES[i % 6],
                     label=label) for i, label in enumerate(labels)]
    ax.legend(handles=handles, loc=loc, fontsize=8, title="input", title_fontsize=8)


def _hbars(ax, allocators, labels, cells, value, fmt, xlabel, missing="not reported",
           whisker=None):
    """Horizontal bars: one row per allocator, one bar per input inside it.
    cells[(label, allocator)] is a run or absent; value(label, run) a number
    or None; whisker(label, run) an optional (low, high) drawn as an error bar."""
    height = 0.8 / max(1, len(labels))
    top = 0.0
    for row, allocator in enumerate(allocators):
        for i, label in enumerate(labels):
            y = row + (i - (len(labels) - 1) / 2) * height
            run = cells.get((label, allocator))
            if run is None:
                continue
            ok = run["status"] == "ok"
            v = value(label, run)
            if v is None and not ok:
                ax.add_patch(Rectangle((0, y - height / 2), 1, height,
                                       transform=ax.get_yaxis_transform(),
                                       facecolor=_NOT_OK_FACE, edgecolor="#999999",
                                       hatch="xx", linewidth=0.5))
                ax.text(0.01, y, f" {status_text(run['status'])} — not measured",
                        transform=ax.get_yaxis_transform(), va="center", fontsize=8,
                        color="#b00000", style="italic")
                continue
            if v is None:
                ax.text(0.01, y, f" {missing}", transform=ax.get_yaxis_transform(),
                        va="center", fontsize=8, color="#555555", style="italic")
                continue
            # A cell that is not ok but kept this figure (e.g. the timed passes
            # completed, the instrumented one timed out): drawn, cross-hatched,
            # with its status beside the value.
            ax.barh(y, v, height=height * 0.92, color=palette.colour(allocator),
                    hatch=_SOURCE_HATCHES[i % 6] if ok else "xx",
                    edgecolor="black" if ok else "#b00000", linewidth=0.4 if ok else 0.8)
            end = v
            span = whisker(label, run) if whisker else None
            if span:
                ax.plot(span, [y, y], color="black", linewidth=0.8)
                ax.plot(span, [y, y], color="black", linestyle="none", marker="|", markersize=5)
                end = max(v, span[1])
            ax.text(end, y, " " + fmt(v) + ("" if ok else f" ({status_text(run['status'])})"),
                    va="center", fontsize=7.5, color="black" if ok else "#b00000")
            top = max(top, end)
    ax.set_yticks(range(len(allocators)))
    ax.set_yticklabels(allocators)
    ax.invert_yaxis()
    ax.set_ylim(len(allocators) - 0.5, -0.5)
    ax.set_xlim(0, top * 1.3 if top > 0 else 1)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)


# ---- replay: the data in chart form ---------------------------------------

class ReplayView:
    """Replay runs of every input, indexed by trace, allocator and label."""

    def __init__(self, sources):
        self.sources = [s for s in sources if s.kind == "replay"]
        self.labels = [s.label for s in self.sources]
        self.cells = {}   # (trace, label, allocator) -> run
        traces, allocators = [], []
        for source in self.sources:
            for run in source.runs:
                self.cells[(run["trace"], source.label, run["allocator"])] = run
                traces.append(run["trace"])
                allocators.append(run["allocator"])
        self.traces = list(dict.fromkeys(traces))
        self.allocators = palette.order(allocators)

    def trace_cells(self, trace):
        """{(label, allocator): run} for one trace, and its allocators in order."""
        cells = {(label, alloc): run for (t, label, alloc), run in self.cells.items()
                 if t == trace}
        allocators = [a for a in self.allocators if any(k[1] == a for k in cells)]
        return cells, allocators

    def baseline(self, trace, label):
        """glibc's ns/op on that trace and input, if its timed passes completed."""
        run = self.cells.get((trace, label, "glibc"))
        return run["ns_per_op"] if run and (run["ns_per_op"] or 0) > 0 else None


# ---- replay charts, one set per trace ---------------------------------------

def _pass_range(_label, run):
    """Throughput of the slowest and the fastest timed pass, in Mops/s."""
    if (run["ns_per_op_min"] or 0) > 0 and (run["ns_per_op_max"] or 0) > 0:
        return 1e3 / run["ns_per_op_max"], 1e3 / run["ns_per_op_min"]
    return None


def chart_throughput(view, trace, out_dir):
    cells, allocators = view.trace_cells(trace)
    fig, (ax_abs, ax_rel) = plt.subplots(1, 2, figsize=(10, 0.45 * len(allocators) * max(1, len(view.labels) * 0.7) + 1.4),
                                         sharey=True)
    _hbars(ax_abs, allocators, view.labels, cells,
           lambda l, r: None if r["ops_per_sec"] is None else r["ops_per_sec"] / 1e6, lambda v: f"{v:.3g}",
           "million ops per second (bar: median pass; whisker: slowest–fastest)",
           whisker=_pass_range)

    def relative(label, run):
        base = view.baseline(trace, label)
        return base / run["ns_per_op"] if base and (run["ns_per_op"] or 0) > 0 else None
    _hbars(ax_rel, allocators, view.labels, cells, relative, lambda v: f"{v:.2f}×",
           "× glibc's throughput on the same input (higher is better)",
           missing="no glibc baseline")
    ax_rel.axvline(1.0, color=palette.colour("glibc"), linestyle="--", linewidth=0.8)
    _source_legend(ax_rel, view.labels)
    title = _trace_title("replay throughput", trace, cells.values())
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out_dir, f"{slug(trace)}-throughput", f"trace/{trace}/throughput", title)


def chart_memory(view, trace, out_dir):
    cells, allocators = view.trace_cells(trace)
    fig, (ax_util, ax_frag) = plt.subplots(1, 2, figsize=(10, 0.45 * len(allocators) * max(1, len(view.labels) * 0.7) + 1.4),
                                           sharey=True)
    _hbars(ax_util, allocators, view.labels, cells,
           lambda l, r: None if r["utilization"] is None else 100 * r["utilization"],
           lambda v: f"{v:.1f}%",
           "utilization (peak live bytes ÷ peak footprint, %; higher is better)",
           missing="footprint not reported")
    _hbars(ax_frag, allocators, view.labels, cells, lambda l, r: r["fragmentation"],
           lambda v: f"{v:.2f}",
           "fragmentation (footprint at peak live ÷ peak live − 1; lower is better)",
           missing="footprint not reported")
    _source_legend(ax_frag, view.labels)
    title = _trace_title("memory utilization and fragmentation", trace, cells.values())
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out_dir, f"{slug(trace)}-memory", f"trace/{trace}/memory", title)


def chart_heap_growth(view, trace, out_dir):
    cells, allocators = view.trace_cells(trace)
    peak = 1
    for run in cells.values():
        for sample in run["heap_growth"] or []:
            peak = max(peak, sample["live_bytes"], sample["footprint_bytes"] or 0)
    unit, scale = byte_unit(peak)
    fig, ax = plt.subplots(figsize=(10, 4.2))
    handles = []
    lives = 0   # the live-bytes lines lead the legend
    for i, label in enumerate(view.labels):
        style = _SOURCE_STYLES[i % len(_SOURCE_STYLES)]
        suffix = f" ({label})" if len(view.labels) > 1 else ""
        live_drawn = False
        for allocator in allocators:
            run = cells.get((label, allocator))
            if run is None:
                continue
            if run["heap_growth"] is None:
                handles.append(Patch(facecolor=_NOT_OK_FACE, edgecolor="#999999", hatch="xx",
                                     label=f"{allocator}{suffix}: {status_text(run['status'])}, not measured"))
                continue
            # A cell that is not ok but whose instrumented pass completed
            # still has its curve; the legend carries its status.
            state = "" if run["status"] == "ok" else f" ({status_text(run['status'])})"
            ops = [s["op"] for s in run["heap_growth"]]
            if not live_drawn and ops:
                # Live bytes belong to the trace, not the allocator: drawn once per input.
                line, = ax.plot(ops, [s["live_bytes"] / scale for s in run["heap_growth"]],
                                color="black", linewidth=1.6, linestyle=style,
                                label=f"live bytes{suffix}")
                handles.insert(lives, line)
                lives += 1
                live_drawn = True
            footprint = [s["footprint_bytes"] for s in run["heap_growth"]]
            if ops and all(f is not None for f in footprint):
                line, = ax.plot(ops, [f / scale for f in footprint], color=palette.colour(allocator),
                                linewidth=1.4, linestyle=style,
                                label=f"{allocator} footprint{suffix}{state}")
                handles.append(line)
            else:
                handles.append(Line2D([], [], color=palette.colour(allocator), linestyle="none",
                                      marker="x",
                                      label=f"{allocator}{suffix}: footprint not reported{state}"))
    if not handles:
        ax.text(0.5, 0.5, "no heap growth samples", transform=ax.transAxes, ha="center")
    ax.set_xlabel("operation index (trace order)")
    ax.set_ylabel(f"bytes ({unit})")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    title = _trace_title("heap growth (live bytes and each allocator's footprint)", trace, cells.values())
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, out_dir, f"{slug(trace)}-heap-growth", f"trace/{trace}/heap-growth", title)


def chart_reuse(view, trace, out_dir):
    cells, allocators = view.trace_cells(trace)
    fig, (ax_rate, ax_dist) = plt.subplots(1, 2, figsize=(11, 0.45 * len(allocators) * max(1, len(view.labels) * 0.7) + 1.8),
                                           gridspec_kw={"width_ratios": [1, 1.2]})
    _hbars(ax_rate, allocators, view.labels, cells,
           lambda l, r: None if r["reuse_rate"] is None else 100 * r["reuse_rate"],
           lambda v: f"{v:.0f}%",
           "reuse rate (% of allocations placed in a freed block)", missing="no reuse figure")
    ax_rate.set_xlim(0, 118)
    drawn = 0
    for i, label in enumerate(view.labels):
        style = _SOURCE_STYLES[i % len(_SOURCE_STYLES)]
        for allocator in allocators:
            run = cells.get((label, allocator))
            if not run or not run["reuse_distance_histogram"]:
                continue
            bounds = [b for b, _ in run["reuse_distance_histogram"]]
            counts = np.array([c for _, c in run["reuse_distance_histogram"]], dtype=float)
            if counts.sum() <= 0:
                continue
            suffix = f" ({label})" if len(view.labels) > 1 else ""
            ax_dist.plot(bounds, 100 * counts / counts.sum(), marker="o", markersize=3,
                         color=palette.colour(allocator), linestyle=style,
                         label=f"{allocator}{suffix}")
            drawn += 1
    if drawn:
        ax_dist.set_xscale("log", base=2)
        ax_dist.xaxis.set_major_formatter(FuncFormatter(_g))
        ax_dist.legend(fontsize=7.5)
    else:
        ax_dist.text(0.5, 0.5, "no reuse measured", transform=ax_dist.transAxes, ha="center")
    ax_dist.set_xlabel("reuse distance (ops from a free to the reuse of its block;\n"
                       "bucket upper bound, log₂ scale)")
    ax_dist.set_ylabel("share of reuses (%)")
    ax_dist.grid(alpha=0.3)
    _source_legend(ax_rate, view.labels)
    title = _trace_title("reuse of freed blocks", trace, cells.values())
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out_dir, f"{slug(trace)}-reuse", f"trace/{trace}/reuse", title)


# ---- replay charts across traces, one per input ----------------------------

def _dot_rows(ax, view, label, traces, allocators, value):
    """One row per trace, one dot per allocator at its own small height
    inside the row (so equal values do not hide each other). Returns the
    (row, allocator, status) of every cell that is not ok."""
    not_ok = []
    spread = 0.7 / max(1, len(allocators))
    for row, trace in enumerate(traces):
        for j, allocator in enumerate(allocators):
            run = view.cells.get((trace, label, allocator))
            if run is None:
                continue
            ok = run["status"] == "ok"
            if not ok:
                not_ok.append((row, j, allocator, run["status"]))
            v = value(trace, run)
            if v is None:
                continue
            # A figure a not-ok cell kept: drawn, ringed in red.
            ax.plot(v, row + (j - (len(allocators) - 1) / 2) * spread, "o", markersize=5,
                    color=palette.colour(allocator), markeredgecolor="black" if ok else "#b00000",
                    markeredgewidth=0.4 if ok else 1.2)
    ax.set_yticks(range(len(traces)))
    ax.set_ylim(len(traces) - 0.5, -0.5)
    for row in range(1, len(traces)):
        ax.axhline(row - 0.5, color="#e5e5e5", linewidth=0.6)
    ax.grid(axis="x", alpha=0.3)
    return not_ok


def _ops(view, trace, label):
    for (t, l, _), run in view.cells.items():
        if t == trace and l == label and run.get("ops") is not None:
            return run["ops"]
    return None


def _total_ops(view, traces, label):
    return sum(_ops(view, t, label) or 0 for t in traces)


def chart_overview(view, label, out_dir):
    """Every trace of one input: a row per trace, a dot per allocator, for
    throughput relative to glibc and for utilization; a third column marks
    the cells that are not ok."""
    traces = [t for t in view.traces if any(k[0] == t and k[1] == label for k in view.cells)]
    allocators = [a for a in view.allocators
                  if any(k[1] == label and k[2] == a for k in view.cells)]
    height = 2.4 + len(traces) * (0.2 + 0.022 * len(allocators))
    fig, (ax_rel, ax_util, ax_bad) = plt.subplots(
        1, 3, figsize=(13, height), sharey=True,
        gridspec_kw={"width_ratios": [3, 3, max(0.8, 0.22 * len(allocators))]})

    def relative(trace, run):
        base = view.baseline(trace, label)
        return base / run["ns_per_op"] if base and (run["ns_per_op"] or 0) > 0 else None
    not_ok = _dot_rows(ax_rel, view, label, traces, allocators, relative)
    ax_rel.axvline(1.0, color=palette.colour("glibc"), linestyle="--", linewidth=0.8)
    ax_rel.set_xscale("log")
    plain_log(ax_rel.xaxis)
    ax_rel.set_xlabel("throughput ÷ glibc's (log scale; right of 1 = faster)")
    for row, trace in enumerate(traces):
        if view.baseline(trace, label) is None:
            ax_rel.text(0.5, row, "no glibc baseline", transform=ax_rel.get_yaxis_transform(),
                        ha="center", va="center", fontsize=7.5, color="#555555", style="italic")
    ax_rel.set_yticklabels([f"{t} ({thousands(_ops(view, t, label))} ops)" for t in traces],
                           fontsize=8)
    _dot_rows(ax_util, view, label, traces, allocators,
              lambda t, r: None if r["utilization"] is None else 100 * r["utilization"])
    ax_util.set_xlim(0, 102)
    ax_util.set_xlabel("utilization: peak live ÷ peak footprint (%)")
    # Cells that were not measured: a mark in the allocator's column.
    for row, j, allocator, status in not_ok:
        ax_bad.plot(j, row, "X" if status == "timeout" else "s", markersize=7,
                    color=palette.colour(allocator), markeredgecolor="#b00000")
    ax_bad.set_xticks(range(len(allocators)))
    ax_bad.set_xticklabels(allocators, rotation=90, fontsize=7.5)
    ax_bad.set_xlim(-0.6, len(allocators) - 0.4)
    ax_bad.set_title("status not ok", fontsize=9)
    ax_bad.grid(axis="x", alpha=0.3)
    for row in range(1, len(traces)):
        ax_bad.axhline(row - 0.5, color="#e5e5e5", linewidth=0.6)
    handles = [Line2D([], [], marker="o", linestyle="none", color=palette.colour(a),
                      markeredgecolor="black", markeredgewidth=0.4, label=a) for a in allocators]
    handles += [Line2D([], [], marker="X", linestyle="none", color="white",
                       markeredgecolor="#b00000", label="timeout"),
                Line2D([], [], marker="s", linestyle="none", color="white",
                       markeredgecolor="#b00000", label="failed")]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 8), fontsize=8,
               bbox_to_anchor=(0.5, 0.0))
    title = (f"{label}: every trace — {len(traces)} traces, "
             f"{thousands(_total_ops(view, traces, label))} ops in all")
    fig.suptitle(title)
    legend_inches = 0.15 + 0.22 * math.ceil(len(handles) / 8)
    fig.tight_layout(rect=(0, legend_inches / height, 1, 1))
    return _save(fig, out_dir, f"overview-{slug(label)}", f"overview/{label}", title)


def _geomean(values):
    values = [v for v in values if v and v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def _ladder_tick(view, label, traces, policy):
    """The policy's name, and on how many traces it did not complete (the
    trace sections of the report say which)."""
    not_ok = [t for t in traces
              if (view.cells.get((t, label, policy)) or {}).get("status", "ok") != "ok"]
    if not not_ok:
        return policy
    return f"{policy}\nnot ok on {len(not_ok)} of {len(traces)}"


def chart_ladder(view, label, out_dir):
    """The sbrk policies from the tutorial to the default: the geometric mean
    over the traces every policy completed (bars), and each trace (dots)."""
    names = [k[2] for k in view.cells if k[1] == label]
    ladder = palette.ladder(names)
    if len(ladder) < 2:
        return None  # one policy is not a ladder
    traces = [t for t in view.traces if any(k[0] == t and k[1] == label for k in view.cells)]
    complete = [t for t in traces if all(
        (view.cells.get((t, label, p)) or {}).get("status") == "ok" for p in ladder)]
    fig, (ax_tp, ax_util) = plt.subplots(1, 2, figsize=(max(8, 2.2 * len(ladder) + 3), 4.6))
    for ax, metric, scale, ylabel in (
            (ax_tp, "ops_per_sec", 1e-6, "throughput (million operations per second)"),
            (ax_util, "utilization", 100, "utilization (peak live ÷ peak footprint, %)")):
        for x, policy in enumerate(ladder):
            values = [(view.cells[(t, label, policy)][metric]) for t in complete]
            mean = _geomean([v * scale for v in values if v is not None])
            if mean is not None:
                ax.bar(x, mean, width=0.6, color=palette.colour(policy), edgecolor="black",
                       linewidth=0.4)
                ax.text(x, mean, f"{mean:.3g}", ha="center", va="bottom", fontsize=7.5)
        for t in traces:
            xs, ys = [], []
            for x, policy in enumerate(ladder):
                run = view.cells.get((t, label, policy))
                if run and run["status"] == "ok" and run[metric] is not None:
                    xs.append(x)
                    ys.append(run[metric] * scale)
            ax.plot(xs, ys, color="#666666", linewidth=0.6, marker="o", markersize=2.5, alpha=0.7)
        ax.set_xticks(range(len(ladder)))
        ax.set_xticklabels([_ladder_tick(view, label, traces, p) for p in ladder], fontsize=8)
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", alpha=0.3)
    ax_tp.set_yscale("log")
    plain_log(ax_tp.yaxis)
    ax_util.set_ylim(0, 110)
    handles = [Patch(facecolor="#cccccc", edgecolor="black",
                     label=f"geometric mean over the {len(complete)} trace"
                           f"{'' if len(complete) == 1 else 's'} every policy completed"),
               Line2D([], [], color="#666666", marker="o", markersize=2.5, linewidth=0.6,
                      label="one trace")]
    fig.legend(handles=handles, fontsize=7.5, loc="lower center", ncol=2,
               bbox_to_anchor=(0.5, -0.06))
    title = (f"{label}: sbrk policy ladder — {len(traces)} traces, "
             f"{thousands(_total_ops(view, traces, label))} ops in all")
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out_dir, f"sbrk-ladder-{slug(label)}", f"ladder/{label}", title)


# ---- microbenchmarks (Google Benchmark) ------------------------------------

def micro_families(sources):
    families = []
    for source in sources:
        if source.kind == "gbench":
            families += [p.family for p in source.points]
    return list(dict.fromkeys(families))


def chart_micro(sources, family, out_dir):
    gbench = [s for s in sources if s.kind == "gbench"]
    fig, ax = plt.subplots(figsize=(9, 4.6))
    allocators = palette.order(p.allocator for s in gbench for p in s.points if p.family == family)
    # Variants (e.g. threads:1 and threads:2) of one allocator: one line
    # each, told apart by marker (and by line style when there is one input).
    variants = list(dict.fromkeys(p.variant for s in gbench for p in s.points
                                  if p.family == family))
    markers = dict(zip(variants, "os^Dvp*h"))
    per_item = set()
    sizes = set()
    for i, source in enumerate(gbench):
        style = _SOURCE_STYLES[i % len(_SOURCE_STYLES)]
        for allocator, variant in ((a, v) for a in allocators for v in variants):
            if len(gbench) == 1:
                style = _SOURCE_STYLES[variants.index(variant) % len(_SOURCE_STYLES)]
            points = sorted((p for p in source.points if p.family == family
                             and p.allocator == allocator and p.variant == variant),
                            key=lambda p: p.size)
            suffix = (f" {variant}" if variant else "") + \
                (f" ({source.label})" if len(gbench) > 1 else "")
            ok = [p for p in points if p.status == "ok"]
            if ok:
                ax.plot([p.size for p in ok], [p.ns_per_op for p in ok],
                        marker=markers.get(variant, "o"), markersize=3.5,
                        color=palette.colour(allocator), linestyle=style,
                        label=f"{allocator}{suffix}")
                per_item |= {p.per_item for p in ok}
            for p in points:
                if p.status != "ok":
                    # Not measured: a cross on the size axis, explained in the legend.
                    ax.plot([p.size], [0.02], transform=ax.get_xaxis_transform(), marker="X",
                            markersize=8, color=palette.colour(allocator),
                            markeredgecolor="#b00000", linestyle="none",
                            label=f"{allocator}{suffix} @ {size_label(p.size)}: "
                                  f"{p.status}")
            sizes.update(p.size for p in points)
    ax.set_xscale("log", base=2)
    ticks = sorted(sizes)
    if len(ticks) > 10:
        # Too many odd sizes to label: label powers of two, at most ~10.
        low, high = math.log2(ticks[0]), math.log2(ticks[-1])
        step = max(1, math.ceil((high - low) / 10))
        ticks = [2 ** k for k in range(math.floor(low), math.ceil(high) + 1, step)]
    ax.set_xticks(ticks)
    ax.set_xticklabels([size_label(s) for s in ticks], fontsize=8)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_yscale("log")
    plain_log(ax.yaxis)
    ax.set_xlabel("request size (log₂ scale)")
    what = {frozenset([True]): "ns per operation",
            frozenset([False]): "ns per iteration"}.get(frozenset(per_item), "ns per operation")
    ax.set_ylabel(f"{what} (log scale; lower is better)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    labels = ", ".join(s.label for s in gbench)
    title = f"microbenchmark {family}: time per operation against size — {labels}"
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, out_dir, f"micro-{slug(family)}", f"micro/{family}", title)


# ---- everything ------------------------------------------------------------

def draw_all(sources, out_dir):
    """Writes every chart the inputs allow; returns the Chart list."""
    os.makedirs(out_dir, exist_ok=True)
    charts = []
    view = ReplayView(sources)
    for label in view.labels:
        charts.append(chart_overview(view, label, out_dir))
        ladder = chart_ladder(view, label, out_dir)
        if ladder:
            charts.append(ladder)
    for trace in view.traces:
        charts.append(chart_throughput(view, trace, out_dir))
        charts.append(chart_memory(view, trace, out_dir))
        charts.append(chart_heap_growth(view, trace, out_dir))
        charts.append(chart_reuse(view, trace, out_dir))
    for family in micro_families(sources):
        charts.append(chart_micro(sources, family, out_dir))
    return charts


def parse_args(argv, prog):
    usage = f"usage: {prog} RESULTS.json... -o DIR"
    paths, out_dir = [], None
    args = iter(argv)
    for arg in args:
        if arg in ("-h", "--help"):
            print(usage)
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


def main(argv):
    prog = "heapbench charts"
    paths, out_dir = parse_args(argv, prog)
    try:
        sources = results.load_all(paths)
    except results.InputError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 1
    for chart in draw_all(sources, out_dir):
        print(chart.png)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
