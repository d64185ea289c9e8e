"""latency_charts.py — the latency pass of heapbench replay results
(docs/METRICS.md, "Latency"; JSON `latency_ns`, `slowest_ops`): per trace,
one panel per kind of call, each allocator's latency against the share of
calls (median, p90, p99, p99.9, slowest), both axes logarithmic, so the
tail is as readable as the middle; and the table beside it."""

import math

import palette
from drawing import plt, save, thousands, trace_title
from matplotlib.ticker import FixedLocator, FuncFormatter

QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999))
KIND_ORDER = ("malloc", "free", "realloc", "calloc", "aligned")


def _tail_x(q):
    """The x of quantile q: how many nines (p90 = 1, p99 = 2, p99.9 = 3)."""
    return -math.log10(1 - q)


def _measured(view, trace):
    cells, allocators = view.trace_cells(trace)
    return {key: run for key, run in cells.items() if run.get("latency_ns")}, allocators


def chart_latency(view, trace, out_dir):
    """The latency chart of one trace, or None when no run measured latency
    (schema 1 inputs, --no-latency, multi-threaded traces before the pass
    measured them)."""
    cells, allocators = _measured(view, trace)
    if not cells:
        return None
    kinds = [k for k in KIND_ORDER if any(k in run["latency_ns"] for run in cells.values())]
    fig, axes = plt.subplots(1, len(kinds), figsize=(3.3 * len(kinds) + 1.2, 3.8), squeeze=False)
    styles = ["-", "--", ":", "-."]
    labels = list(dict.fromkeys(label for label, _ in cells))
    for ax, kind in zip(axes[0], kinds):
        low = math.inf
        for (label, allocator), run in cells.items():
            k = run["latency_ns"].get(kind)
            if not k:
                continue
            xs = [_tail_x(q) for _, q in QUANTILES] + [_tail_x(1 - 1 / max(k["count"], 2))]
            ys = [max(k[name], 0.5) for name, _ in QUANTILES] + [max(k["max"], 0.5)]
            low = min(low, min(ys))
            ax.plot(xs, ys, styles[labels.index(label) % len(styles)], marker="o", markersize=3,
                    color=palette.colour(allocator), linewidth=1.2,
                    label=allocator if len(labels) == 1 else f"{allocator} ({label})")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
        ax.xaxis.set_major_locator(FixedLocator([_tail_x(q) for _, q in QUANTILES]))
        ax.xaxis.set_major_formatter(FuncFormatter(
            lambda v, _p: {0.3: "p50", 1.0: "p90", 2.0: "p99", 3.0: "p99.9"}.get(round(v, 1), "")))
        ax.set_title(kind, fontsize=9)
        ax.set_xlabel("share of calls (last point: the slowest)", fontsize=7.5)
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("ns per call (log scale)")
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.0, 0.9))
    title = trace_title("latency of each call (lower is better)", trace, list(cells.values()))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save(fig, out_dir, f"{_slug(trace)}-latency", f"trace/{trace}/latency", title)


def _slug(text):
    import drawing
    return drawing.slug(text)


def latency_table(view, trace, esc):
    """HTML: per allocator and kind, count, mean and the quantiles in ns,
    and the slowest call; "" when nothing was measured."""
    cells, allocators = _measured(view, trace)
    if not cells:
        return ""
    rows = []
    for (label, allocator), run in sorted(cells.items(), key=lambda kv: allocators.index(kv[0][1])):
        for kind in KIND_ORDER:
            k = run["latency_ns"].get(kind)
            if not k:
                continue
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in [
                esc(allocator if len({l for l, _ in cells}) == 1 else f"{allocator} ({label})"),
                esc(kind), thousands(k["count"]),
                *(f"{k[name]:,.0f} ns" for name in ("mean", "p50", "p90", "p99", "p999", "max"))])
                + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("allocator", "call", "count", "mean", "p50", "p90",
                                             "p99", "p99.9", "slowest"))
    first = next(iter(cells.values()))
    note = (f"<p class=\"meta\">Each call timed on its own ({esc(first.get('latency_clock'))} clock, "
            f"its own cost of {first.get('latency_timer_ns') or 0:.0f} ns subtracted); a quantile "
            "is its histogram bucket's upper bound, at most 9% high. A slowest call of "
            "milliseconds is usually the scheduler, not the allocator.</p>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>{note}"
