"""size_class_charts.py — the size classes of heapbench replay results
(docs/METRICS.md, "Size classes"; JSON `size_classes`): per trace, against
the power-of-two class of the requests, how many allocations the trace
makes there (shared by every allocator), each allocator's reuse rate, and
its mean internal waste per allocation — where fragmentation comes from."""

import palette
from drawing import plt, save, size_label, slug, trace_title


def chart_size_classes(view, trace, out_dir):
    """The size-class chart of one trace, or None when no run has size
    classes (schema 1 inputs, runs without the instrumented pass)."""
    cells, allocators = view.trace_cells(trace)
    cells = {key: run for key, run in cells.items() if run.get("size_classes")}
    if not cells:
        return None
    bounds = sorted({c["up_to_bytes"] for run in cells.values() for c in run["size_classes"]})
    x = {b: i for i, b in enumerate(bounds)}
    fig, (ax_count, ax_reuse, ax_waste) = plt.subplots(
        3, 1, figsize=(max(6.5, 0.45 * len(bounds) + 2.5), 7.2), sharex=True,
        gridspec_kw={"height_ratios": [1, 1.3, 1.3]})
    first = next(iter(cells.values()))
    counts = {c["up_to_bytes"]: c["allocations"] for c in first["size_classes"]}
    ax_count.bar([x[b] for b in counts], list(counts.values()), color="#999999")
    ax_count.set_yscale("log")
    ax_count.set_ylabel("allocations\n(the trace's)", fontsize=8)
    labels = list(dict.fromkeys(label for label, _ in cells))
    for (label, allocator), run in cells.items():
        name = allocator if len(labels) == 1 else f"{allocator} ({label})"
        style = ["-", "--", ":"][labels.index(label) % 3]
        classes = run["size_classes"]
        ax_reuse.plot([x[c["up_to_bytes"]] for c in classes], [100 * c["reuse_rate"] for c in classes],
                      style, marker="o", markersize=3, color=palette.colour(allocator), label=name)
        waste = [c for c in classes if c["mean_waste_bytes"] is not None]
        if waste:
            ax_waste.plot([x[c["up_to_bytes"]] for c in waste],
                          [max(c["mean_waste_bytes"], 0.1) for c in waste], style, marker="o",
                          markersize=3, color=palette.colour(allocator), label=name)
    ax_reuse.set_ylabel("reuse rate (%)", fontsize=8)
    ax_reuse.set_ylim(-3, 103)
    ax_waste.set_yscale("log")
    ax_waste.set_ylabel("mean waste per\nallocation (bytes, log)", fontsize=8)
    ax_waste.set_xticks(range(len(bounds)))
    ax_waste.set_xticklabels([f"≤{size_label(b)}" for b in bounds], rotation=60, fontsize=7)
    ax_waste.set_xlabel("requested size (power-of-two class)")
    for ax in (ax_count, ax_reuse, ax_waste):
        ax.grid(alpha=0.3)
    ax_reuse.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    title = trace_title("size classes: reuse and internal waste", trace, list(cells.values()))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save(fig, out_dir, f"{slug(trace)}-size-classes", f"trace/{trace}/size-classes", title)
