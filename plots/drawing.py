"""drawing.py — what every heapbench chart shares: the conventions (one
colour per allocator from palette.py, a hatch or line style per input, how a
cell that is not ok or a figure that is not reported is drawn), the
formatters, and writing a chart as PNG and SVG.

Conventions every chart keeps:
  * an allocator has the same colour everywhere (palette.py);
  * when several inputs (machines, runs) are compared, each input has its
    own hatch (bars) or line style (lines), listed in the legend by label;
  * a cell whose status is not "ok" is never dropped and never drawn as
    zero: a figure it did not measure is a grey cross-hatched band with its
    status written on it; a figure it kept is drawn cross-hatched, red-edged,
    with its status beside it;
  * a figure the allocator could not report (null) is written "not
    reported", again never drawn as zero;
  * a flagged figure (the replay's "flags": start-up dominated, passes
    spread widely, too few passes) is edged in FLAG_COLOUR with the flag
    named beside it;
  * per-trace charts carry the trace name and its operation count in the
    title.
"""

import math
import os
import re

import matplotlib
matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402
from matplotlib.ticker import FuncFormatter, Locator, LogLocator, MaxNLocator  # noqa: E402

import palette  # noqa: E402

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

SOURCE_HATCHES = ["", "///", "...", "\\\\\\", "ooo", "xxx"]
SOURCE_STYLES = ["-", "--", ":", "-."]
SOURCE_MARKERS = ["o", "s", "D", "^", "v", "P"]  # dots in place of bars on a log axis
NOT_OK_FACE = "#eeeeee"
FLAG_COLOUR = "#d47500"
FLAG_MARK = "⚑"
# Speeds drawn side by side: warm, the one to rank on, in the allocator's
# colour; cold in a lighter tint of it.
KIND_TINT = {None: 0.0, "warm": 0.0, "cold": 0.55}


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


def geomean(values):
    """The geometric mean of the positive values; None if there are none."""
    values = [v for v in values if v is not None and v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def plural(count, word):
    """"1 trace", "2 traces"."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def plain(value):
    """A figure as a person writes it, never in e-notation: 2,070, 41.2,
    4.12, 0.0123 (three significant digits below 100)."""
    if value is None:
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    rounded = float(f"{value:.3g}")   # 99.96 is 100, not 100.0
    if abs(rounded) >= 100:
        return f"{value:,.0f}"
    if rounded == 0:
        return "0"
    decimals = max(0, 2 - math.floor(math.log10(abs(rounded))))
    return f"{rounded:.{decimals}f}"


def ns(value):
    """Nanoseconds with their unit: "2,070 ns", "41.2 ns"."""
    return "—" if value is None else f"{plain(value)} ns"


def tint(colour, amount):
    """colour mixed with white: 0 is the colour, 1 white."""
    rgb = matplotlib.colors.to_rgb(colour)
    return tuple(c + (1 - c) * amount for c in rgb)


def byte_size(value):
    """Bytes as a person writes them: "512 B", "41.2 KiB", "1.27 MiB"."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= scale:
            number = plain(value / scale)
            if "." in number:
                number = number.rstrip("0").rstrip(".")   # 32 KiB, 1.2 MiB
            return f"{number} {unit}"
    return f"{value:,} B"


def sig3(value):
    """Three significant digits without e-notation: 0.0157, 15.6, 4,120."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def percent(value):
    """A percentage: 98.5%, and small ones as 0.02% rather than 0.0%."""
    return f"{value:.1f}%" if value >= 1 or value == 0 else f"{value:.2g}%"


def times(ratio, _position=None):
    """A ratio to the baseline: 1.37×, 0.82×, 21.8×, 2,140×, and small
    ones with two significant digits (0.0042×) rather than a misleading 0.00×."""
    if ratio >= 100:
        return f"{ratio:,.0f}×"
    if ratio >= 10:
        return f"{ratio:.1f}×"
    return f"{ratio:.2f}×" if ratio >= 0.1 else f"{ratio:.2g}×"


def status_text(status):
    """The short form a chart can hold: "timeout", "failed", "error"."""
    return status if len(status) <= 22 else status[:21] + "…"


def plain_number(value, _position=None):
    return f"{value:g}"


def _log_1_2_5(value, _position=None):
    """Minor-tick labels of a log axis at 2× and 5× only: 1, 2, 5, 10, 20..."""
    if value <= 0:
        return ""
    mantissa = round(value / 10 ** math.floor(math.log10(value)), 6)
    return f"{value:g}" if mantissa in (2, 5) else ""


class _PlainLogMinor(Locator):
    """Minor ticks of a log axis: the usual 2..9 × 10^k, but under one
    decade round linear steps (8, 9, 10, 11, 12), so a span like 8-12 ns
    is labelled above 10 too."""

    def __init__(self):
        self.log = LogLocator(base=10, subs="auto")
        self.linear = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10])

    def set_axis(self, axis):
        super().set_axis(axis)
        self.log.set_axis(axis)
        self.linear.set_axis(axis)

    def __call__(self):
        low, high = sorted(self.axis.get_view_interval())
        if low > 0 and high / low < 10:
            return [v for v in self.linear.tick_values(low, high) if low <= v <= high]
        return self.log()


def plain_log(axis):
    """A log axis labelled with plain numbers instead of 10^k: the fewer
    decades shown, the more minor ticks get a label (all under one decade,
    2× and 5× up to three, none beyond). The span is read when the labels
    are drawn, not when this is called: autoscaling may not have run yet
    (a span read too early once left a 8-45 ns axis labelled 8, 9, 10)."""
    def minor(value, position=None):
        low, high = sorted(axis.get_view_interval())
        decades = math.log10(high / low) if low > 0 else 99
        if decades < 1:
            return plain_number(value)
        return _log_1_2_5(value) if decades <= 3 else ""
    axis.set_major_formatter(FuncFormatter(plain_number))
    axis.set_minor_locator(_PlainLogMinor())
    axis.set_minor_formatter(FuncFormatter(minor))


def size_label(size_bytes):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size_bytes >= scale and size_bytes % scale == 0:
            return f"{size_bytes // scale} {unit}"
    return f"{size_bytes} B"


def save(fig, out_dir, name, key, title):
    base = os.path.join(out_dir, name)
    fig.savefig(base + ".png", bbox_inches="tight")
    fig.savefig(base + ".svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return Chart(key, title, base)


def trace_title(what, trace, cells):
    """"bash — 4,162 ops: throughput"; op counts of every input if they differ."""
    counts = sorted({c["ops"] for c in cells if c.get("ops") is not None})
    ops = " / ".join(thousands(n) for n in counts) if counts else "? "
    return f"{trace} — {ops} ops: {what}"


def source_legend(ax, labels, loc=None):
    """Which hatch (bars) or dot shape (log axes) is which input: in a row
    above the axes, where it cannot cover a value (inside, it once hid one)."""
    if len(labels) < 2:
        return
    from matplotlib.lines import Line2D
    handles = [(Patch(facecolor="white", edgecolor="black", hatch=SOURCE_HATCHES[i % 6]),
                Line2D([], [], marker=SOURCE_MARKERS[i % 6], linestyle="none",
                       markerfacecolor="white", markeredgecolor="black"))
               for i in range(len(labels))]
    if loc is None:
        ax.legend(handles=handles, labels=list(labels), loc="lower left",
                  bbox_to_anchor=(0.0, 1.0), ncol=len(labels), fontsize=8, title="input:",
                  title_fontsize=8, frameon=False, alignment="left")
    else:
        ax.legend(handles=handles, labels=list(labels), loc=loc, fontsize=8, title="input",
                  title_fontsize=8)


def slot_y(row, slot, slots):
    """The centre of bar `slot` of `slots` in an allocator's row."""
    return row + (slot - (slots - 1) / 2) * (0.8 / max(1, slots))


def input_slots(labels, kinds=(None,)):
    """The bars of an allocator's row: (input index, label, kind) for every
    input and each of its kinds (a tuple, or a function of the label)."""
    return [(i, label, kind) for i, label in enumerate(labels)
            for kind in (kinds(label) if callable(kinds) else kinds)]


def hbars(ax, allocators, labels, cells, value, fmt, xlabel, missing="not reported",
          whisker=None, log_if_spread=False, kinds=(None,), mark=None, reach=None,
          tints=None):
    """Horizontal bars: one row per allocator, one bar per input inside it.
    cells[(label, allocator)] is a run or absent; value(label, run) a number
    or None; whisker(label, run) an optional (low, high) drawn as an error bar;
    missing the text for a None value of an ok run, or a function
    (label, run) giving it; mark(label, run) an optional text naming the
    run's flags: the bar is then edged in FLAG_COLOUR and the text follows
    the value; reach(label, run) an optional x the caller marks on the bar's
    line (the value is written after it). With log_if_spread, values more
    than 100 times apart get a log axis.

    kinds: several bars per input, e.g. ("warm", "cold"), or a function
    giving an input's label its kinds; each kind is tinted by tints
    (default KIND_TINT) and named after the value; value, whisker, missing, mark and reach are then
    called with the kind as a third argument."""
    def call(function, label, run, kind):
        return function(label, run) if kind is None else function(label, run, kind)
    slots = input_slots(labels, kinds)
    height = 0.8 / max(1, len(slots))
    top = 0.0
    low = math.inf
    bars = []
    for row, allocator in enumerate(allocators):
        for slot, (i, label, kind) in enumerate(slots):
            y = slot_y(row, slot, len(slots))
            run = cells.get((label, allocator))
            named = f"{kind}: " if kind else ""
            if run is None:
                if len(labels) > 1 and (slot == 0 or slots[slot - 1][1] != label):
                    # absent from this input, not failed in it
                    ax.text(0.01, y, f" not run in {label}", transform=ax.get_yaxis_transform(),
                            va="center", fontsize=7, color="#888888")
                continue
            ok = run["status"] == "ok"
            v = call(value, label, run, kind)
            if v is None and not ok:
                ax.add_patch(Rectangle((0, y - height / 2), 1, height,
                                       transform=ax.get_yaxis_transform(),
                                       facecolor=NOT_OK_FACE, edgecolor="#999999",
                                       hatch="xx", linewidth=0.5))
                ax.text(0.01, y, f" {named}{status_text(run['status'])} — not measured",
                        transform=ax.get_yaxis_transform(), va="center", fontsize=8,
                        color="#b00000", style="italic")
                continue
            if v is None:
                why = missing if isinstance(missing, str) else call(missing, label, run, kind)
                ax.text(0.01, y, f" {named}{why}", transform=ax.get_yaxis_transform(),
                        va="center", fontsize=8, color="#555555", style="italic")
                continue
            flag = call(mark, label, run, kind) if mark else None
            # A cell that is not ok but kept this figure (e.g. the timed passes
            # completed, the instrumented one timed out): drawn, cross-hatched,
            # with its status beside the value.
            edge = "black" if ok else "#b00000"
            if flag:
                edge = FLAG_COLOUR
            # Drawn once the scale is known: a bar, or a dot on a log axis.
            bars.append(dict(y=y, v=v, input=i, ok=ok, edge=edge, flag=flag,
                             colour=tint(palette.colour(allocator),
                                         (tints or KIND_TINT).get(kind, 0.0))))
            end = v
            span = call(whisker, label, run, kind) if whisker else None
            if span:
                ax.plot(span, [y, y], color="black", linewidth=0.8)
                ax.plot(span, [y, y], color="black", linestyle="none", marker="|", markersize=5)
                end = max(v, span[1])
            mark_x = call(reach, label, run, kind) if reach else None
            if mark_x is not None:
                end = max(end, mark_x)
            # Offset in points, not a leading space: clear of a dot's edge too.
            text = ax.annotate(fmt(v) + (f" {kind}" if kind else "")
                               + ("" if ok else f" ({status_text(run['status'])})"),
                               (end, y), xytext=(6, 0), textcoords="offset points",
                               va="center", fontsize=7.5, color="black" if ok else "#b00000")
            if flag:
                ax.annotate(f" {FLAG_MARK} {flag}", xycoords=text, xy=(1, 0.5), va="center",
                            fontsize=7.5, color=FLAG_COLOUR, fontweight="bold")
            top = max(top, end)
            if v > 0:
                low = min(low, v)
    ax.set_yticks(range(len(allocators)))
    ax.set_yticklabels(allocators)
    ax.invert_yaxis()
    ax.set_ylim(len(allocators) - 0.5, -0.5)
    spread = 100 if log_if_spread is True else log_if_spread
    log = bool(spread and top > spread * low)
    for bar in bars:
        if log:
            # On a log axis a bar's length means nothing (it depends on where
            # the axis starts): a dot at the value, its shape naming the input.
            ax.plot([bar["v"]], [bar["y"]], marker=SOURCE_MARKERS[bar["input"] % 6],
                    markersize=8, markerfacecolor=bar["colour"], markeredgecolor=bar["edge"],
                    markeredgewidth=0.6 if bar["ok"] and not bar["flag"] else 1.6,
                    linestyle="none", zorder=3)
        else:
            ax.barh(bar["y"], bar["v"], height=height * 0.92, color=bar["colour"],
                    hatch=SOURCE_HATCHES[bar["input"] % 6] if bar["ok"] else "xx",
                    edgecolor=bar["edge"], linewidth=0.4 if bar["ok"] and not bar["flag"] else 1.4,
                    linestyle="--" if bar["flag"] else "-")
    if log:
        ax.set_xscale("log")
        ax.set_xlim(low / 3, top * 6)
        plain_log(ax.xaxis)
        xlabel = xlabel.replace("\n", ", log scale\n", 1) if "\n" in xlabel else xlabel + ", log scale"
    else:
        # Room on the right for the value, its status and its flags.
        ax.set_xlim(0, top * (1.3 if mark is None else 1.6) if top > 0 else 1)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
