"""micro_charts.py — the charts of Google Benchmark results: per family,
ns/op against request size, one line per allocator (and variant, and
input). Conventions: drawing.py."""

import math

from matplotlib.ticker import NullLocator

import palette
from drawing import SOURCE_STYLES, plain_log, plt, save, size_label, slug


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
        style = SOURCE_STYLES[i % len(SOURCE_STYLES)]
        for allocator, variant in ((a, v) for a in allocators for v in variants):
            if len(gbench) == 1:
                style = SOURCE_STYLES[variants.index(variant) % len(SOURCE_STYLES)]
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
    return save(fig, out_dir, f"micro-{slug(family)}", f"micro/{family}", title)
