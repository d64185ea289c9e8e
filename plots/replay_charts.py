"""replay_charts.py — the charts of heapbench replay results (docs/JSON.md):
per trace, throughput, memory, heap growth and reuse; per input, the overview
of every trace and the sbrk policy ladder. Conventions: drawing.py."""

import math

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

import palette
from drawing import (NOT_OK_FACE, SOURCE_STYLES, FuncFormatter, byte_unit, hbars, plain_log,
                     percent, plain_number, plt, save, sig3, slug, source_legend,
                     status_text, thousands, times, trace_title)

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

def _bars_height(view, allocators):
    """Inches for a chart with a row of bars per allocator, one per input."""
    return 0.45 * len(allocators) * max(1, len(view.labels) * 0.7) + 1.4


def _pass_range(_label, run):
    """Throughput of the slowest and the fastest timed pass, in Mops/s."""
    if (run["ns_per_op_min"] or 0) > 0 and (run["ns_per_op_max"] or 0) > 0:
        return 1e3 / run["ns_per_op_max"], 1e3 / run["ns_per_op_min"]
    return None


def chart_throughput(view, trace, out_dir):
    cells, allocators = view.trace_cells(trace)
    fig, (ax_abs, ax_rel) = plt.subplots(1, 2, figsize=(10, _bars_height(view, allocators)),
                                         sharey=True)
    hbars(ax_abs, allocators, view.labels, cells,
          lambda l, r: None if r["ops_per_sec"] is None else r["ops_per_sec"] / 1e6,
          sig3,
          "million ops per second\n(bar: median pass; whisker: slowest–fastest)",
          whisker=_pass_range)

    def relative(label, run):
        base = view.baseline(trace, label)
        return base / run["ns_per_op"] if base and (run["ns_per_op"] or 0) > 0 else None
    hbars(ax_rel, allocators, view.labels, cells, relative, times,
          "× glibc's throughput on the same input\n(higher is better)",
          missing="no glibc baseline")
    ax_rel.axvline(1.0, color=palette.colour("glibc"), linestyle="--", linewidth=0.8)
    source_legend(ax_rel, view.labels)
    title = trace_title("replay throughput", trace, cells.values())
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, out_dir, f"{slug(trace)}-throughput", f"trace/{trace}/throughput", title)


def chart_memory(view, trace, out_dir):
    cells, allocators = view.trace_cells(trace)
    fig, (ax_util, ax_frag) = plt.subplots(1, 2, figsize=(10, _bars_height(view, allocators)),
                                           sharey=True)
    hbars(ax_util, allocators, view.labels, cells,
          lambda l, r: None if r["utilization"] is None else 100 * r["utilization"],
          percent,
          "utilization (%): peak live bytes ÷ peak footprint\n(higher is better)",
          missing="footprint not reported")
    hbars(ax_frag, allocators, view.labels, cells, lambda l, r: r["fragmentation"],
          sig3,
          "fragmentation: peak footprint ÷ peak live − 1\n(lower is better)",
          missing="footprint not reported", log_if_spread=True)
    ax_util.set_xlim(0, 118)
    source_legend(ax_frag, view.labels)
    title = trace_title("memory utilization and fragmentation", trace, cells.values())
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, out_dir, f"{slug(trace)}-memory", f"trace/{trace}/memory", title)


def chart_heap_growth(view, trace, out_dir):
    cells, allocators = view.trace_cells(trace)
    live_peak, footprint_peaks = 1, []
    for run in cells.values():
        samples = run["heap_growth"] or []
        live_peak = max([live_peak] + [s["live_bytes"] for s in samples])
        footprints = [s["footprint_bytes"] for s in samples if s["footprint_bytes"] is not None]
        if footprints:
            footprint_peaks.append(max(footprints))
    # Footprints ten times apart (an allocator that reserves megabytes up
    # front, or one that balloons) would flatten the other curves on a
    # linear scale: then the scale is logarithmic, and says so.
    top = max([live_peak] + footprint_peaks)
    log_scale = top > 10 * min([live_peak] + footprint_peaks)
    unit, scale = byte_unit(top)
    fig, ax = plt.subplots(figsize=(10, 4.2))
    handles = []
    lives = 0   # the live-bytes lines lead the legend
    for i, label in enumerate(view.labels):
        style = SOURCE_STYLES[i % len(SOURCE_STYLES)]
        suffix = f" ({label})" if len(view.labels) > 1 else ""
        live_drawn = False
        for allocator in allocators:
            run = cells.get((label, allocator))
            if run is None:
                continue
            if run["heap_growth"] is None:
                handles.append(Patch(facecolor=NOT_OK_FACE, edgecolor="#999999", hatch="xx",
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
    if log_scale:
        # Zero (an empty heap) has no place on a log axis: the axis starts
        # at 1 KiB and the curves run off its bottom there.
        ax.set_yscale("log")
        ax.set_ylim(1024 / scale, top * 1.5 / scale)
        plain_log(ax.yaxis)
        ax.set_ylabel(f"bytes ({unit}, log scale)")
    else:
        ax.set_ylim(0, top * 1.05 / scale)
        ax.set_ylabel(f"bytes ({unit})")
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    title = trace_title("heap growth (live bytes and each allocator's footprint)", trace, cells.values())
    ax.set_title(title)
    fig.tight_layout()
    return save(fig, out_dir, f"{slug(trace)}-heap-growth", f"trace/{trace}/heap-growth", title)


def chart_reuse(view, trace, out_dir):
    cells, allocators = view.trace_cells(trace)
    fig, (ax_rate, ax_dist) = plt.subplots(1, 2, figsize=(11, _bars_height(view, allocators) + 0.4),
                                           gridspec_kw={"width_ratios": [1, 1.2]})
    hbars(ax_rate, allocators, view.labels, cells,
          lambda l, r: None if r["reuse_rate"] is None else 100 * r["reuse_rate"],
          lambda v: f"{v:.0f}%",
          "reuse rate (% of allocations placed in a freed block)", missing="no reuse figure")
    ax_rate.set_xlim(0, 118)
    drawn, top, handles = 0, 0.0, []
    for i, label in enumerate(view.labels):
        style = SOURCE_STYLES[i % len(SOURCE_STYLES)]
        for allocator in allocators:
            run = cells.get((label, allocator))
            if not run:
                continue
            suffix = f" ({label})" if len(view.labels) > 1 else ""
            histogram = run["reuse_distance_histogram"]
            counts = np.array([c for _, c in histogram or []], dtype=float)
            if not histogram or counts.sum() <= 0:
                # Listed, not dropped: no reuse at all, or not measured.
                why = "not measured" if histogram is None else "no reuse"
                handles.append(Line2D([], [], color=palette.colour(allocator), linestyle="none",
                                      marker="x", label=f"{allocator}{suffix}: {why}"))
                continue
            shares = 100 * counts / counts.sum()
            line, = ax_dist.plot([b for b, _ in histogram], shares, marker="o", markersize=3,
                                 color=palette.colour(allocator), linestyle=style,
                                 label=f"{allocator}{suffix}")
            handles.append(line)
            top = max(top, shares.max())
            drawn += 1
    if drawn:
        ax_dist.set_xscale("log", base=2)
        ax_dist.xaxis.set_major_formatter(FuncFormatter(plain_number))
        ax_dist.set_ylim(0, min(105, top * 1.1))
    else:
        ax_dist.text(0.5, 0.5, "no reuse measured", transform=ax_dist.transAxes, ha="center")
    if handles:
        ax_dist.legend(handles=handles, fontsize=7.5)
    ax_dist.set_xlabel("reuse distance (ops from a free to the reuse of its block;\n"
                       "bucket upper bound, log₂ scale)")
    ax_dist.set_ylabel("share of reuses (%)")
    ax_dist.grid(alpha=0.3)
    source_legend(ax_rate, view.labels)
    title = trace_title("reuse of freed blocks", trace, cells.values())
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, out_dir, f"{slug(trace)}-reuse", f"trace/{trace}/reuse", title)


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


def _trace_tick(view, trace, label):
    """"bash (4,162 ops)", and the thread count when there are several."""
    threads = next((r["threads"] for (t, l, _), r in view.cells.items()
                    if t == trace and l == label), 1)
    many = f", {threads} threads" if isinstance(threads, int) and threads > 1 else ""
    return f"{trace} ({thousands(_ops(view, trace, label))} ops{many})"


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
    ax_rel.set_yticklabels([_trace_tick(view, t, label) for t in traces], fontsize=8)
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
    if not not_ok:
        ax_bad.text(0.5, 0.5, "none: every cell ok", transform=ax_bad.transAxes, ha="center",
                    va="center", fontsize=8, color="#186a1d")
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
    return save(fig, out_dir, f"overview-{slug(label)}", f"overview/{label}", title)


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
                ax.text(x, mean, f"{mean:.3g}", ha="center", va="bottom", fontsize=7.5,
                        bbox={"facecolor": "white", "edgecolor": "none", "pad": 1, "alpha": 0.85},
                        zorder=5)
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
    return save(fig, out_dir, f"sbrk-ladder-{slug(label)}", f"ladder/{label}", title)
