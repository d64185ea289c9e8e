"""replay_charts.py — the charts of heapbench replay results (docs/JSON.md):
per trace, speed, memory, heap growth and reuse; per input, the overview
of every trace, peak resident memory, and the sbrk policy ladder.
Conventions: drawing.py.

Speed is time per operation (lower is better), cold (each pass the first
replay in a fresh process) and warm (the same process replaying again);
ratios are this run's time over the baseline's (docs/JSON.md
`ratio_to_baseline`), drawn with their 95% interval. Memory is ranked on
resident-based utilization; the allocator's own footprint account is shown
beside it, never ranked on."""

import math
from dataclasses import dataclass

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator

import palette
import results
from drawing import (FLAG_COLOUR, FLAG_MARK, KIND_TINT, NOT_OK_FACE,
                     SOURCE_STYLES, FuncFormatter, byte_unit, geomean, hbars, input_slots,
                     percent, plural,
                     plain_log, plain_number, plt, save, sig3, size_label, slot_y, slug,
                     source_legend, status_text, thousands, times, tint, trace_title)
import drawing

# One letter per flag where a chart has room for no more (the overview);
# a flag heapbench adds later is shown as "?" there and by name elsewhere.
FLAG_LETTERS = {"short-pass": "S", "high-spread": "H", "warm-high-spread": "W",
                "few-passes": "F"}
KINDS = ("warm", "cold")   # warm first: it is the one to rank on

# ---- replay: the data in chart form ---------------------------------------

@dataclass
class Ratio:
    """A run's time per op over the baseline's, on one trace and input."""
    value: float          # 1.0 for the baseline itself
    ci: tuple = None      # the 95% interval (low, high), or None
    significant: bool = None   # None: not tested (a schema 1 input)
    is_baseline: bool = False


def flags_for(run, kind=None):
    """The run's flags that concern one speed ("cold", "warm"; None: all)."""
    return [f for f in run["flags"] or []
            if kind is None or results.FLAGS.get(f, ("both",))[0] in (kind, "both")]


def speed_ns(run, kind):
    return run["warm_ns_per_op" if kind == "warm" else "ns_per_op"]


class ReplayView:
    """Replay runs of every input, indexed by trace, allocator and label."""

    def __init__(self, sources):
        self.sources = [s for s in sources if s.kind == "replay"]
        self.labels = [s.label for s in self.sources]
        self.source = {s.label: s for s in self.sources}
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

    def baseline_name(self, labels=None):
        """The baseline allocator of the inputs, or "the baseline" if they differ."""
        names = {self.source[label].baseline for label in (labels or self.labels)}
        return names.pop() if len(names) == 1 else "the baseline"

    def kinds(self, labels=None):
        """The speeds the inputs measured, warm first."""
        speeds = {self.source[label].speed for label in (labels or self.labels)}
        return [k for k in KINDS if any(s in (k, "both") for s in speeds)] or ["cold"]

    def ratio(self, trace, label, run, kind):
        """The run's time per op over the baseline's, for kind "cold" or
        "warm": a Ratio, or None when there is none (not measured, or no
        baseline). Schema 2 inputs carry it (with its interval); for a
        schema 1 input it is the ratio of the cold medians, untested."""
        source = self.source[label]
        mine = speed_ns(run, kind)
        if mine is None:
            return None
        if run["allocator"] == source.baseline:
            return Ratio(1.0, is_baseline=True)
        if source.schema_version == 1:
            base = self.cells.get((trace, label, source.baseline))
            base_ns = speed_ns(base, kind) if base else None
            return Ratio(mine / base_ns) if base_ns and mine > 0 else None
        ratio = run["ratio_to_baseline"]
        prefix = "warm_" if kind == "warm" else ""
        if ratio is None or ratio[f"{prefix}ns_per_op"] is None:
            return None
        ci = ratio[f"{prefix}ci95"]
        return Ratio(ratio[f"{prefix}ns_per_op"], tuple(ci) if ci else None,
                     bool(ratio[f"{prefix}significant"]))

    def has_baseline(self, trace, label, kind):
        """Whether the baseline measured this speed on that trace and input."""
        base = self.cells.get((trace, label, self.source[label].baseline))
        return base is not None and speed_ns(base, kind) is not None

    def not_measured(self, label, run, what):
        """Why an ok run has no `what` ("warm", "cold", "resident"): in words."""
        source = self.source[label]
        if source.schema_version == 1:
            return {"warm": "no warm speed", "resident": "no resident figure"}.get(
                what, "not measured") + " (schema 1 input)"
        if what in KINDS and source.speed not in (what, "both"):
            return f"not measured (speed: {source.speed})"
        return "not measured"


def ratio_text(ratio, baseline):
    """The words a table or chart gives a ratio: "0.62× (0.58–0.66) faster",
    "no clear difference", "1.27×, too few passes to tell", "baseline"."""
    if ratio.is_baseline:
        return "baseline"
    if ratio.significant is None:
        return f"{times(ratio.value)} (no interval)"
    if ratio.ci is None:
        return "too few passes to tell"
    if not ratio.significant:
        return "no clear difference"
    way = "faster" if ratio.value < 1 else "slower"
    return f"{times(ratio.value)} ({times(ratio.ci[0])[:-1]}–{times(ratio.ci[1])}) {way}"


# ---- replay charts, one set per trace ---------------------------------------

def _bars_height(view, allocators, slots_per_input=1):
    """Inches for a chart with a row of bars per allocator, one per input
    (and per speed)."""
    slots = max(1, len(view.labels) * slots_per_input * 0.7)
    return 0.45 * len(allocators) * slots + 1.4


def _pass_range(_label, run, kind):
    """The fastest and the slowest timed pass, in ns per op."""
    prefix = "warm_" if kind == "warm" else ""
    low, high = run[f"{prefix}ns_per_op_min"], run[f"{prefix}ns_per_op_max"]
    return (low, high) if low is not None and high is not None else None


def _flag_names(_label, run, kind=None):
    return ", ".join(flags_for(run, kind)) or None


def _flag_footer(fig, runs, height):
    """One line per flag raised in runs, under the chart: what it means."""
    raised = list(dict.fromkeys(f for run in runs for f in run["flags"] or []))
    lines = [f"{FLAG_MARK} {flag}: " + results.FLAGS.get(flag, ("", "see docs/JSON.md"))[1]
             for flag in raised]
    for i, line in enumerate(lines):
        fig.text(0.01, -0.01 - i * 0.2 / height, line, fontsize=7.5, color=FLAG_COLOUR,
                 va="top")


def _tints(view):
    """Cold bars are lighter only beside warm ones."""
    return KIND_TINT if "warm" in view.kinds() else {"cold": 0.0}


def _ratio_rows(ax, view, trace, allocators, cells, kinds):
    """The ratio to the baseline, a dot per input and speed in each
    allocator's row (same rows as hbars), with its 95% interval as an error
    bar; hollow where there is no clear difference."""
    slots = input_slots(view.labels, kinds)
    spans = [1.0]
    texts = []
    for row, allocator in enumerate(allocators):
        for slot, (i, label, kind) in enumerate(slots):
            y = slot_y(row, slot, len(slots))
            run = cells.get((label, allocator))
            if run is None:
                continue
            ok = run["status"] == "ok"
            ratio = view.ratio(trace, label, run, kind)
            named = f"{kind}: "
            if ratio is None:
                if speed_ns(run, kind) is None:
                    why = (f"{status_text(run['status'])} — not measured" if not ok
                           else view.not_measured(label, run, kind))
                else:
                    why = f"no {view.source[label].baseline} baseline"
                ax.text(0.01, y, " " + named + why, transform=ax.get_yaxis_transform(),
                        va="center", fontsize=8, color="#b00000" if not ok else "#555555",
                        style="italic")
                continue
            colour = tint(palette.colour(allocator), _tints(view)[kind])
            if ratio.is_baseline:
                ax.plot([1.0], [y], marker="|", markersize=9, markeredgewidth=2,
                        color=palette.colour(allocator))
                texts.append((1.0, y, f"{named}baseline", "black"))
                continue
            hollow = ratio.significant is False
            end = ratio.value
            if ratio.ci:
                ax.plot(ratio.ci, [y, y], color="black", linewidth=0.9)
                ax.plot(ratio.ci, [y, y], color="black", linestyle="none", marker="|",
                        markersize=5)
                spans += list(ratio.ci)
                end = max(end, ratio.ci[1])
            edge = "#b00000" if not ok else FLAG_COLOUR if flags_for(run, kind) else \
                (palette.colour(allocator) if hollow else "black")
            ax.plot([ratio.value], [y], marker="o", markersize=6,
                    markerfacecolor="white" if hollow else colour, markeredgecolor=edge,
                    markeredgewidth=1.4 if hollow or edge != "black" else 0.5, zorder=3)
            spans.append(ratio.value)
            words = ratio_text(ratio, view.source[label].baseline)
            texts.append((end, y, f"{named}{words}"
                          + ("" if ok else f" ({status_text(run['status'])})"),
                          "black" if ok else "#b00000"))
    ax.set_xscale("log")
    low, high = min(spans) / 1.25, max(spans) * 1.25
    # Room on the right for the words: the data takes 55% of the width.
    ax.set_xlim(low, math.exp(math.log(low) + (math.log(high) - math.log(low)) / 0.55))
    for x, y, words, colour in texts:
        ax.text(x, y, "  " + words, va="center", fontsize=7.5, color=colour)
    ax.axvline(1.0, color=palette.colour(view.baseline_name()), linestyle="--", linewidth=0.8)
    plain_log(ax.xaxis)
    ax.set_yticks(range(len(allocators)))
    ax.set_ylim(len(allocators) - 0.5, -0.5)
    ax.grid(axis="x", alpha=0.3)


def chart_throughput(view, trace, out_dir):
    cells, allocators = view.trace_cells(trace)
    def kinds(label):
        return view.kinds([label])
    height = _bars_height(view, allocators, max(len(kinds(label)) for label in view.labels))
    fig, (ax_abs, ax_rel) = plt.subplots(1, 2, figsize=(12, height), sharey=True)
    both = len(view.kinds()) > 1
    hbars(ax_abs, allocators, view.labels, cells,
          lambda label, run, kind: speed_ns(run, kind), drawing.ns,
          "time per operation, ns (lower is better)\n"
          "bar: median pass; whisker: fastest–slowest pass"
          + ("; dark: warm, light: cold" if both else ""),
          missing=lambda label, run, kind: view.not_measured(label, run, kind),
          whisker=_pass_range, log_if_spread=20, kinds=kinds, mark=_flag_names,
          tints=_tints(view))
    _ratio_rows(ax_rel, view, trace, allocators, cells, kinds)
    baseline = view.baseline_name()
    ax_rel.set_xlabel(f"time per operation ÷ {baseline}'s (log scale; left of 1 = faster)\n"
                      "error bar: 95% interval; hollow: no clear difference")
    source_legend(ax_rel, view.labels)
    title = trace_title("replay speed, " + (" and ".join(view.kinds())), trace, cells.values())
    fig.suptitle(title)
    fig.tight_layout()
    _flag_footer(fig, cells.values(), height)
    return save(fig, out_dir, f"{slug(trace)}-throughput", f"trace/{trace}/throughput", title)


def chart_memory(view, trace, out_dir):
    cells, allocators = view.trace_cells(trace)
    height = _bars_height(view, allocators) + 0.3
    fig, (ax_util, ax_frag) = plt.subplots(1, 2, figsize=(11, height), sharey=True)

    def resident_missing(label, run):
        return view.not_measured(label, run, "resident")
    hbars(ax_util, allocators, view.labels, cells,
          lambda l, r: None if r["utilization"] is None else 100 * r["utilization"],
          percent,
          "utilization (%), bar: peak live bytes ÷ peak resident bytes (higher is better)\n"
          "◇: the allocator's own account, peak live ÷ the footprint it reports (not ranked on)",
          missing=resident_missing,
          reach=lambda l, r: None if r["reported_utilization"] is None
          else 100 * r["reported_utilization"] + 3)
    # The allocator's own account, beside the bar: shown, not ranked on.
    top = 118
    for row, allocator in enumerate(allocators):
        for i, label in enumerate(view.labels):
            run = cells.get((label, allocator))
            if run is None or run["reported_utilization"] is None:
                continue
            value = 100 * run["reported_utilization"]
            ax_util.plot([value], [slot_y(row, i, len(view.labels))], marker="D", markersize=5,
                         markerfacecolor="white", markeredgecolor="black", markeredgewidth=0.9,
                         zorder=3)
            top = max(top, value * 1.1)
    ax_util.set_xlim(0, top)
    hbars(ax_frag, allocators, view.labels, cells, lambda l, r: r["fragmentation"],
          sig3,
          "fragmentation: peak resident ÷ peak live − 1\n(lower is better)",
          missing=resident_missing, log_if_spread=True)
    source_legend(ax_frag, view.labels)
    title = trace_title("memory: utilization of resident memory, fragmentation", trace,
                        cells.values())
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, out_dir, f"{slug(trace)}-memory", f"trace/{trace}/memory", title)


def chart_heap_growth(view, trace, out_dir):
    """Live bytes, each allocator's resident bytes (what the kernel counts)
    and, thinner, the footprint the allocator reports, against the op index."""
    cells, allocators = view.trace_cells(trace)
    live_peak, peaks = 1, []
    for run in cells.values():
        samples = run["heap_growth"] or []
        live_peak = max([live_peak] + [s["live_bytes"] for s in samples])
        for key in ("resident_bytes", "footprint_bytes"):
            values = [s[key] for s in samples if s[key] is not None]
            if values:
                peaks.append(max(values))
    # Curves ten times apart (an allocator that reserves megabytes up front,
    # or one that balloons) would flatten the others on a linear scale:
    # then the scale is logarithmic, and says so.
    top = max([live_peak] + peaks)
    log_scale = top > 10 * min([live_peak] + peaks)
    unit, scale = byte_unit(top)
    fig, ax = plt.subplots(figsize=(10, 4.6))
    handles = []
    lives = 0   # the live-bytes lines lead the legend
    several = len(view.labels) > 1
    for i, label in enumerate(view.labels):
        style = SOURCE_STYLES[i % len(SOURCE_STYLES)]
        suffix = f" ({label})" if several else ""
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
            samples = run["heap_growth"]
            ops = [s["op"] for s in samples]
            if not live_drawn and ops:
                # Live bytes belong to the trace, not the allocator: drawn once per input.
                line, = ax.plot(ops, [s["live_bytes"] / scale for s in samples],
                                color="black", linewidth=1.6, linestyle=style,
                                label=f"live bytes{suffix}")
                handles.insert(lives, line)
                lives += 1
                live_drawn = True
            colour = palette.colour(allocator)
            resident = [s["resident_bytes"] for s in samples]
            if ops and all(r is not None for r in resident):
                line, = ax.plot(ops, [r / scale for r in resident], color=colour, linewidth=1.6,
                                linestyle=style, label=f"{allocator} resident{suffix}{state}")
                handles.append(line)
            footprint = [s["footprint_bytes"] for s in samples]
            beside = ops and all(r is not None for r in resident)
            if ops and all(f is not None for f in footprint):
                # Beside a resident curve, thin and faded (and dashed when
                # one input has the line styles to itself): the allocator's
                # own account. Alone (a schema 1 input), drawn in full.
                line, = ax.plot(ops, [f / scale for f in footprint], color=colour,
                                linewidth=0.9 if beside else 1.4, alpha=0.7 if beside else 1.0,
                                linestyle=style if several or not beside else (0, (4, 2)),
                                label=f"{allocator} footprint, own account{suffix}{state}")
                handles.append(line)
            elif ops:
                handles.append(Line2D([], [], color=colour, linestyle="none", marker="x",
                                      label=f"{allocator}{suffix}: footprint not reported{state}"))
    if not handles:
        ax.text(0.5, 0.5, "no heap growth samples", transform=ax.transAxes, ha="center")
    ax.set_xlabel("operation index (trace order)")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
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
    title = trace_title("heap growth (live, resident and reported footprint)", trace,
                        cells.values())
    ax.set_title(title)
    fig.tight_layout()
    return save(fig, out_dir, f"{slug(trace)}-heap-growth", f"trace/{trace}/heap-growth", title)


def _count_label(count):
    """1, 8, 512, 4K, 256K, 2M: a bucket bound short enough for a tick."""
    for suffix, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.3g}{suffix}"
    return f"{count:g}"


def chart_reuse(view, trace, out_dir):
    """Reuse rate (bars, a row per allocator) and, beside each row, that
    allocator's reuse-distance distribution in a small panel of its own:
    drawn on one axes, allocators with the same distribution hid each
    other's lines."""
    cells, allocators = view.trace_cells(trace)
    fig = plt.figure(figsize=(11, _bars_height(view, allocators) + 0.6))
    grid = fig.add_gridspec(1, 2, width_ratios=[1, 1.2], wspace=0.25)
    ax_rate = fig.add_subplot(grid[0])
    panels = grid[1].subgridspec(len(allocators), 1, hspace=0.15)
    hbars(ax_rate, allocators, view.labels, cells,
          lambda l, r: None if r["reuse_rate"] is None else 100 * r["reuse_rate"],
          lambda v: f"{v:.0f}%",
          "reuse rate (% of allocations placed in a freed block)", missing="no reuse figure")
    ax_rate.set_xlim(0, 118)
    bounds = sorted({b for run in cells.values() for b, _ in run["reuse_distance_histogram"] or []})
    position = {b: k for k, b in enumerate(bounds)}
    axes, top = [], 0.0
    for row, allocator in enumerate(allocators):
        ax = fig.add_subplot(panels[row], sharex=axes[0] if axes else None,
                             sharey=axes[0] if axes else None)
        axes.append(ax)
        notes = []
        for i, label in enumerate(view.labels):
            run = cells.get((label, allocator))
            if not run:
                continue
            histogram = run["reuse_distance_histogram"]
            counts = np.array([c for _, c in histogram or []], dtype=float)
            suffix = f" ({label})" if len(view.labels) > 1 else ""
            if not histogram or counts.sum() <= 0:
                notes.append(("not measured" if histogram is None else "no reuse") + suffix)
                continue
            shares = 100 * counts / counts.sum()
            top = max(top, shares.max())
            x = [position[b] for b, _ in histogram]
            if len(view.labels) == 1:
                ax.bar(x, shares, width=0.8, color=palette.colour(allocator),
                       edgecolor="black", linewidth=0.3)
            else:
                # Later inputs thinner, on top: equal distributions stay visible.
                ax.step(x, shares, where="mid", color=palette.colour(allocator),
                        linestyle=SOURCE_STYLES[i % len(SOURCE_STYLES)],
                        linewidth=max(0.8, 2.8 - 1.0 * i), label=label, zorder=2 + i)
        ax.text(0.99, 0.92, allocator, transform=ax.transAxes, ha="right", va="top",
                fontsize=8, color="black")
        if notes:
            ax.text(0.5, 0.5, "; ".join(notes), transform=ax.transAxes, ha="center",
                    va="center", fontsize=8, color="#555555", style="italic")
        ax.grid(axis="y", alpha=0.3)
        ax.tick_params(labelsize=7)
        if row < len(allocators) - 1:
            ax.tick_params(labelbottom=False)
    if axes:
        # One y scale for every panel, up to the largest share drawn.
        axes[0].set_ylim(0, min(100, max(top, 1) * 1.2))
        axes[0].yaxis.set_major_locator(MaxNLocator(nbins=2, steps=[1, 2, 5, 10]))
        step = max(1, math.ceil(len(bounds) / 8))
        axes[-1].set_xticks(range(0, len(bounds), step))
        axes[-1].set_xticklabels([_count_label(b) for b in bounds[::step]], fontsize=7)
        axes[-1].set_xlabel("reuse distance: ops from a free to the reuse of its block\n"
                            "(bucket upper bound, powers of 2)")
        axes[len(axes) // 2].set_ylabel("share of reuses (%)")
        # (The top panel may have nothing drawn: an allocator that reused no block.)
        if len(view.labels) > 1 and axes[0].get_legend_handles_labels()[0]:
            axes[0].legend(fontsize=7, loc="upper center", ncol=len(view.labels))
    source_legend(ax_rate, view.labels)
    title = trace_title("reuse of freed blocks", trace, cells.values())
    fig.suptitle(title)
    return save(fig, out_dir, f"{slug(trace)}-reuse", f"trace/{trace}/reuse", title)



# ---- replay charts across traces, one per input ----------------------------

@dataclass
class Dot:
    """One cell's point on an overview row."""
    value: float
    ci: tuple = None
    hollow: bool = False      # no clear difference
    flagged: bool = False


def _dot_rows(ax, view, label, traces, allocators, point):
    """One row per trace, one dot per allocator at its own small height
    inside the row (so equal values do not hide each other), with its
    interval as an error bar. point(trace, run) is a Dot or None. Returns
    the (row, column, allocator, status) of every cell that is not ok, and
    the values drawn (interval ends included)."""
    not_ok, drawn = [], []
    spread = 0.7 / max(1, len(allocators))
    for row, trace in enumerate(traces):
        for j, allocator in enumerate(allocators):
            run = view.cells.get((trace, label, allocator))
            if run is None:
                continue
            ok = run["status"] == "ok"
            if not ok:
                not_ok.append((row, j, allocator, run["status"]))
            dot = point(trace, run)
            if dot is None:
                continue
            y = row + (j - (len(allocators) - 1) / 2) * spread
            colour = palette.colour(allocator)
            if dot.ci:
                ax.plot(dot.ci, [y, y], color=colour, linewidth=1.0, alpha=0.8)
                drawn += list(dot.ci)
            # A ring: red, a figure a cell that is not ok kept; orange, flagged.
            if not ok or dot.flagged:
                ax.plot(dot.value, y, "o", markersize=9, markerfacecolor="none",
                        markeredgecolor="#b00000" if not ok else FLAG_COLOUR,
                        markeredgewidth=1.3)
            ax.plot(dot.value, y, "o", markersize=5,
                    markerfacecolor="white" if dot.hollow else colour,
                    markeredgecolor=colour if dot.hollow else "black",
                    markeredgewidth=1.3 if dot.hollow else 0.4, zorder=3)
            drawn.append(dot.value)
    ax.set_yticks(range(len(traces)))
    ax.set_ylim(len(traces) - 0.5, -0.5)
    for row in range(1, len(traces)):
        ax.axhline(row - 0.5, color="#e5e5e5", linewidth=0.6)
    ax.grid(axis="x", alpha=0.3)
    return not_ok, drawn


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


def _input_traces(view, label):
    return [t for t in view.traces if any(k[0] == t and k[1] == label for k in view.cells)]


def _input_allocators(view, label):
    return [a for a in view.allocators if any(k[1] == label and k[2] == a for k in view.cells)]


def _panel_note(ax, text):
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=8.5,
            color="#555555", style="italic", wrap=True)


def chart_overview(view, label, out_dir):
    # Wide, so the page shows it smaller than drawn: larger type.
    with plt.rc_context({"font.size": 10.5, "axes.titlesize": 11}):
        return _chart_overview(view, label, out_dir)


def _chart_overview(view, label, out_dir):
    """Every trace of one input: a row per trace, a dot per allocator, for
    warm and cold time relative to the baseline (with their intervals) and
    for resident-based utilization; a last column marks the cells that are
    not ok and the flags raised."""
    source = view.source[label]
    baseline = source.baseline
    traces = _input_traces(view, label)
    allocators = _input_allocators(view, label)
    height = 3.2 + len(traces) * (0.3 + 0.05 * len(allocators))
    fig, (ax_warm, ax_cold, ax_util, ax_bad) = plt.subplots(
        1, 4, figsize=(15, height), sharey=True,
        gridspec_kw={"width_ratios": [3, 3, 2.4, max(0.9, 0.4 * len(allocators))]})

    def speed(kind):
        def point(trace, run):
            ratio = view.ratio(trace, label, run, kind)
            if ratio is None:
                return None
            return Dot(ratio.value, ratio.ci, ratio.significant is False and not ratio.is_baseline,
                       bool(flags_for(run, kind)))
        return point
    not_ok = []
    for ax, kind in ((ax_warm, "warm"), (ax_cold, "cold")):
        not_ok, drawn = _dot_rows(ax, view, label, traces, allocators, speed(kind))
        ax.axvline(1.0, color=palette.colour(baseline), linestyle="--", linewidth=0.8)
        ax.set_xscale("log")
        if drawn:
            ax.set_xlim(min(drawn + [1]) / 1.3, max(drawn + [1]) * 1.3)
        else:
            ax.set_xlim(0.5, 2)
            why = view.not_measured(label, {}, kind)
            _panel_note(ax, f"{kind} speed {why}" if why.startswith("not") else why)
        plain_log(ax.xaxis)
        ax.set_title(f"{kind} speed" + (" (rank on this)" if kind == "warm" else
                                         " (first replay in a fresh process)"), fontsize=10.5)
        ax.set_xlabel(f"time per op ÷ {baseline}'s\n(log scale; left of 1 = faster)")
        for row, trace in enumerate(traces):
            if drawn and not view.has_baseline(trace, label, kind):
                ax.text(0.5, row, f"no {baseline} baseline", transform=ax.get_yaxis_transform(),
                        ha="center", va="center", fontsize=8.5, color="#555555", style="italic")
    ax_warm.set_yticklabels([_trace_tick(view, t, label) for t in traces], fontsize=9)
    _, drawn = _dot_rows(ax_util, view, label, traces, allocators,
                         lambda t, r: None if r["utilization"] is None
                         else Dot(100 * r["utilization"]))
    ax_util.set_xlim(0, 102)
    ax_util.set_title("memory", fontsize=10.5)
    ax_util.set_xlabel("utilization:\npeak live ÷ peak resident (%)")
    if not drawn:
        why = view.not_measured(label, {}, "resident")
        _panel_note(ax_util, f"resident memory {why}" if why.startswith("not") else
                    why.replace("no resident figure", "no resident memory"))
    # Cells that are not ok, and the flags: marks in the allocator's column.
    raised = []
    for row, j, allocator, status in not_ok:
        ax_bad.plot(j, row - 0.18, "X" if status == "timeout" else "s", markersize=7,
                    color=palette.colour(allocator), markeredgecolor="#b00000")
    for row, trace in enumerate(traces):
        for j, allocator in enumerate(allocators):
            run = view.cells.get((trace, label, allocator))
            flags = flags_for(run) if run else []
            raised += flags
            if flags:
                # Up to three letters in a column about 0.5 in wide: small
                # enough not to run into the next column's.
                ax_bad.text(j, row + 0.2, "".join(FLAG_LETTERS.get(f, "?") for f in flags),
                            ha="center", va="center", fontsize=7.5, fontweight="bold",
                            color=FLAG_COLOUR)
    ax_bad.set_xticks(range(len(allocators)))
    ax_bad.set_xticklabels(allocators, rotation=60, ha="right", rotation_mode="anchor",
                           fontsize=8.5)
    ax_bad.set_xlim(-0.6, len(allocators) - 0.4)
    ax_bad.set_title("status not ok; flags", fontsize=10.5)
    if not not_ok and not raised:
        _panel_note(ax_bad, "every cell ok,\nno flags" if source.schema_version > 1
                    else "every cell ok")
    ax_bad.grid(axis="x", alpha=0.3)
    for row in range(1, len(traces)):
        ax_bad.axhline(row - 0.5, color="#e5e5e5", linewidth=0.6)
    handles = [Line2D([], [], marker="o", linestyle="none", color=palette.colour(a),
                      markeredgecolor="black", markeredgewidth=0.4, label=a) for a in allocators]
    handles += [Line2D([], [], marker="o", linestyle="none", markerfacecolor="white",
                       markeredgecolor="#555555", markeredgewidth=1.3,
                       label="hollow: no clear difference"),
                Line2D([], [], color="#555555", linewidth=1.0,
                       label="line: 95% interval"),
                Line2D([], [], marker="o", linestyle="none", markersize=9,
                       markerfacecolor="none", markeredgecolor=FLAG_COLOUR,
                       markeredgewidth=1.3, label="orange ring: flagged"),
                Line2D([], [], marker="o", linestyle="none", markersize=9,
                       markerfacecolor="none", markeredgecolor="#b00000",
                       markeredgewidth=1.3, label="red ring: status not ok"),
                Line2D([], [], marker="X", linestyle="none", color="white",
                       markeredgecolor="#b00000", label="timeout"),
                Line2D([], [], marker="s", linestyle="none", color="white",
                       markeredgecolor="#b00000", label="failed")]
    for flag in dict.fromkeys(raised):
        letter = FLAG_LETTERS.get(flag, "?")
        meaning = results.FLAGS[flag][1] if flag in results.FLAGS else "see docs/JSON.md"
        handles.append(Line2D([], [], marker=f"${letter}$", linestyle="none",
                              color=FLAG_COLOUR, label=f"{flag}: {meaning}"))
    columns = 7
    short = [h for h in handles if len(h.get_label()) < 40]
    long = [h for h in handles if len(h.get_label()) >= 40]
    rows = math.ceil(len(short) / columns) + math.ceil(len(long) / 2)
    legend_inches = 0.2 + 0.26 * rows
    fig.legend(handles=short, loc="lower center", ncol=min(len(short), columns), fontsize=9,
               bbox_to_anchor=(0.5, 0.26 * math.ceil(len(long) / 2) / height))
    if long:
        fig.legend(handles=long, loc="lower center", ncol=2, fontsize=9,
                   bbox_to_anchor=(0.5, 0.0))
    title = (f"{label}: every trace — {plural(len(traces), 'trace')}, "
             f"{thousands(_total_ops(view, traces, label))} ops in all")
    if source.note:
        title += f"\n{source.note}"
    fig.suptitle(title)
    fig.tight_layout(rect=(0, legend_inches / height, 1, 1))
    return save(fig, out_dir, f"overview-{slug(label)}", f"overview/{label}", title)


def chart_resident(view, label, out_dir):
    """Peak resident memory of every allocator on every trace of one input
    (a bar each, log scale), each trace's peak live bytes marked; None for
    an input without resident figures (schema 1)."""
    source = view.source[label]
    if source.schema_version < 2:
        return None
    traces = _input_traces(view, label)
    allocators = _input_allocators(view, label)
    slots = len(allocators)
    height = 1.6 + len(traces) * (0.3 + 0.17 * slots)
    fig, ax = plt.subplots(figsize=(10, height))
    bar = 0.85 / max(1, slots)
    values, texts = [], []
    for row, trace in enumerate(traces):
        live = None
        for j, allocator in enumerate(allocators):
            run = view.cells.get((trace, label, allocator))
            if run is None:
                continue
            live = run["peak_live_bytes"]
            y = slot_y(row, j, slots) * 1.0
            value = run["peak_resident_bytes"]
            if value is None:
                ok = run["status"] == "ok"
                ax.add_patch(Rectangle((0, y - bar / 2), 1, bar, transform=ax.get_yaxis_transform(),
                                       facecolor=NOT_OK_FACE, edgecolor="#999999", hatch="xx",
                                       linewidth=0.5))
                texts.append((y, f"{allocator}: " + (f"{status_text(run['status'])} — not measured"
                                                     if not ok else "not measured"), "#b00000"))
                continue
            if value <= 0:  # nothing beyond the start: no bar on a log axis
                texts.append((y, f"{allocator}: 0 B beyond the start", "#333333"))
                continue
            # A dot: on a log axis a bar's length would mean nothing.
            ax.plot([value], [y], marker="o", markersize=8, color=palette.colour(allocator),
                    markeredgecolor="black" if run["status"] == "ok" else "#b00000",
                    markeredgewidth=0.5, linestyle="none", zorder=3)
            ax.annotate(drawing.byte_size(value), (value, y), xytext=(7, 0),
                        textcoords="offset points", va="center", fontsize=7)
            values.append(value)
        if live:
            low_y, high_y = slot_y(row, 0, slots) - bar / 2, slot_y(row, slots - 1, slots) + bar / 2
            ax.plot([live, live], [low_y, high_y], color="black", linewidth=1.4)
            values.append(live)
    if values:
        low, high = min(v for v in values if v > 0), max(values)
        ax.set_xscale("log")
        ax.set_xlim(low / 2, high * 4)
        ticks = [2 ** k for k in range(int(math.log2(low / 2)), int(math.log2(high * 4)) + 1)]
        step = max(1, math.ceil(len(ticks) / 9))
        ax.set_xticks(ticks[::step])
        ax.set_xticklabels([size_label(t) for t in ticks[::step]], fontsize=8)
        ax.minorticks_off()
    for y, words, colour in texts:
        ax.text(0.01, y, " " + words, transform=ax.get_yaxis_transform(), va="center",
                fontsize=7, color=colour, style="italic")
    ax.set_yticks(range(len(traces)))
    ax.set_yticklabels([_trace_tick(view, t, label) for t in traces], fontsize=8)
    ax.set_ylim(len(traces) - 0.5, -0.5)
    for row in range(1, len(traces)):
        ax.axhline(row - 0.5, color="#cccccc", linewidth=0.6)
    ax.set_xlabel("peak resident bytes beyond the start of the instrumented pass, every byte "
                  "written (log scale; lower is better)")
    ax.grid(axis="x", alpha=0.3)
    handles = [Line2D([], [], marker="o", markersize=8, linestyle="none",
                      color=palette.colour(a), markeredgecolor="black", markeredgewidth=0.5,
                      label=a) for a in allocators]
    handles.append(Line2D([], [], color="black", linewidth=1.4,
                          label="peak live bytes (the trace's own)"))
    ax.legend(handles=handles, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    title = f"{label}: peak resident memory — {plural(len(traces), 'trace')}"
    ax.set_title(title)
    fig.tight_layout()
    return save(fig, out_dir, f"resident-{slug(label)}", f"resident/{label}", title)


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
    # Warm speed where the input has it; a schema 1 input has no resident
    # figures, and the sbrk policies all count their footprint alike (bytes
    # obtained with sbrk), so their own account compares them there.
    kind = "warm" if "warm" in view.kinds([label]) else "cold"
    resident = view.source[label].schema_version >= 2

    def mops(run):
        return None if speed_ns(run, kind) is None else 1e3 / speed_ns(run, kind)

    def utilization(run):
        value = run["utilization" if resident else "reported_utilization"]
        return None if value is None else 100 * value
    for ax, metric, ylabel in (
            (ax_tp, mops, f"{kind} throughput (million operations per second)"),
            (ax_util, utilization, "utilization (peak live ÷ peak resident, %)" if resident else
             "utilization (peak live ÷ peak footprint,\nthe allocator's own account, %)")):
        for x, policy in enumerate(ladder):
            mean = geomean([metric(view.cells[(t, label, policy)]) for t in complete])
            if mean is not None and ax is ax_tp:
                # Throughput is on a log axis, where a bar's length means
                # nothing: a thick mark at the mean instead.
                ax.plot([x - 0.3, x + 0.3], [mean, mean], color=palette.colour(policy),
                        linewidth=7, solid_capstyle="butt", zorder=4)
            elif mean is not None:
                ax.bar(x, mean, width=0.6, color=palette.colour(policy), edgecolor="black",
                       linewidth=0.4)
            if mean is not None:
                ax.annotate(f"{mean:.3g}", (x, mean), xytext=(0, 6), textcoords="offset points",
                            ha="center", va="bottom", fontsize=7.5, zorder=5,
                            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1,
                                  "alpha": 0.85})
        for t in traces:
            xs, ys = [], []
            for x, policy in enumerate(ladder):
                run = view.cells.get((t, label, policy))
                if run and run["status"] == "ok" and metric(run) is not None:
                    xs.append(x)
                    ys.append(metric(run))
            ax.plot(xs, ys, color="#666666", linewidth=0.6, marker="o", markersize=2.5, alpha=0.7)
        ax.set_xticks(range(len(ladder)))
        ax.set_xticklabels([_ladder_tick(view, label, traces, p) for p in ladder], fontsize=8)
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", alpha=0.3)
    ax_tp.set_yscale("log")
    ax_tp.set_xlim(-0.6, len(ladder) - 0.4)
    plain_log(ax_tp.yaxis)
    ax_util.set_ylim(0, 110)
    handles = [Patch(facecolor="#cccccc", edgecolor="black",
                     label=f"bar or thick mark: geometric mean over the {len(complete)} trace"
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
