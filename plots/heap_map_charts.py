"""heap_map_charts.py — the heap, drawn (docs/METRICS.md, "Heap map"; JSON
`heap_map`, written by `heapbench replay --heap-map K`): one figure per
trace and allocator, a strip per snapshot, the heap's address space from
left to right (its segments laid end to end), each bin coloured by what
its bytes hold: allocated, free or parked (freed, held unmerged on a
quick list); white where no block lies (region headers, gaps the
allocator keeps to itself). A bin holding several kinds gets their
colours mixed in proportion. For allocators other than the sbrk policies
the replay sees only its own live blocks: those are drawn, the rest is
white."""

import numpy as np

from drawing import Patch, byte_size, plt, save, slug, thousands, trace_title

# What a byte holds -> its colour. Allocated dark, free light: the holes
# stand out; parked in between, orange, as "freed but not yet free".
COLOURS = {"allocated": (0.17, 0.29, 0.52), "free": (0.66, 0.85, 0.47),
           "parked": (0.96, 0.58, 0.18)}
NO_BLOCK = (1.0, 1.0, 1.0)
STATES = ("allocated", "free", "parked")


def strip(snapshot):
    """The snapshot's bins as an RGB row (one pixel per bin, shape
    (1, bins, 3)): each bin the mix of its states' colours by bytes, white
    for the part of the bin no block covers."""
    bin_bytes = snapshot["bin_bytes"]
    count = max(1, -(-snapshot["span_bytes"] // bin_bytes)) if snapshot["span_bytes"] else 1
    row = np.ones((1, count, 3))
    for index, *bytes_by_state in snapshot["bins"]:
        if index >= count:
            continue
        colour = np.zeros(3)
        covered = 0
        for state, amount in zip(STATES, bytes_by_state):
            colour += np.array(COLOURS[state]) * amount
            covered += amount
        colour += np.array(NO_BLOCK) * max(bin_bytes - covered, 0)
        row[0, index] = colour / max(bin_bytes, covered)
    return row


def _describe(snapshot):
    """'live 96 KiB · free 1,000 blocks, 125 KiB · parked 0' for a strip."""
    parts = [f"live {byte_size(snapshot['live_bytes'])}"]
    for state in ("free", "parked"):
        figure = snapshot.get(state)
        if figure is not None:
            parts.append(f"{state} {thousands(figure['blocks'])}" +
                         (f" ({byte_size(figure['bytes'])})" if figure["blocks"] else ""))
    return " · ".join(parts)


def maps(view, trace):
    """[(label, allocator, run)] of the trace's runs that have a heap map,
    in allocator order."""
    cells, allocators = view.trace_cells(trace)
    found = [(label, allocator, run) for (label, allocator), run in cells.items()
             if run.get("heap_map")]
    return sorted(found, key=lambda c: allocators.index(c[1]))


def chart_heap_map(view, trace, label, allocator, run, out_dir, several_labels=False):
    """The heap-map figure of one run."""
    heap_map = run["heap_map"]
    snapshots = heap_map["snapshots"]
    widest = max(max(s["span_bytes"] for s in snapshots), 16)
    fig, ax = plt.subplots(figsize=(9.5, 0.55 * len(snapshots) + 1.6))
    for row, snapshot in enumerate(snapshots):
        span = max(snapshot["span_bytes"], 1)
        ax.imshow(strip(snapshot), extent=(0, span, row + 0.4, row - 0.4), aspect="auto",
                  interpolation="nearest")
        ax.add_patch(plt.Rectangle((0, row - 0.4), span, 0.8, fill=False, linewidth=0.5,
                                   edgecolor="#555555"))
        offset = 0
        for start, length in snapshot["segments"][:-1]:   # where one segment ends
            offset += length
            ax.plot([offset, offset], [row - 0.45, row + 0.45], color="black", linewidth=1.2)
        ax.text(1.01, row, _describe(snapshot), transform=ax.get_yaxis_transform(),
                va="center", fontsize=7)
    ax.set_xlim(0, widest)
    ax.set_ylim(len(snapshots) - 0.5, -0.5)
    ax.set_yticks(range(len(snapshots)))
    ax.set_yticklabels([f"after op {thousands(s['op'])}" + (" (peak live)" if s["peak_live"] else "")
                        for s in snapshots], fontsize=7.5)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _p: byte_size(int(v)) if v else "0"))
    heap = heap_map["detail"] == "heap"
    ax.set_xlabel("address offset: every block of the heap, regions laid end to end" if heap else
                  "address offset: the live blocks the replay holds (cut at gaps of 1 MiB or more)",
                  fontsize=8)
    handles = [Patch(facecolor=COLOURS["allocated"], label="allocated")]
    if heap:
        handles += [Patch(facecolor=COLOURS["free"], label="free"),
                    Patch(facecolor=COLOURS["parked"], label="parked (quick lists)")]
    handles.append(Patch(facecolor=NO_BLOCK, edgecolor="#999999",
                         label="no block" if heap else "not seen by the replay"))
    height = fig.get_figheight()
    fig.legend(handles=handles, fontsize=7, loc="lower center", ncol=len(handles), frameon=False)
    name = allocator if not several_labels else f"{allocator} ({label})"
    title = trace_title(f"heap map, {name}", trace, [run])
    ax.set_title(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.35 / height, 1, 1))
    file_name = f"{slug(trace)}-heap-map-{slug(allocator)}" + (f"-{slug(label)}" if several_labels else "")
    return save(fig, out_dir, file_name, f"trace/{trace}/heap-map/{label}/{allocator}", title)


def charts_for_trace(view, trace, out_dir):
    """Every heap-map figure of one trace (none without --heap-map)."""
    found = maps(view, trace)
    several = len({label for label, _, _ in found}) > 1
    return [chart_heap_map(view, trace, label, allocator, run, out_dir, several)
            for label, allocator, run in found]


def heap_map_table(run, esc):
    """HTML: per snapshot, blocks and bytes by state."""
    heap = run["heap_map"]["detail"] == "heap"
    states = STATES if heap else ("allocated",)
    head = "".join(f"<th>{h}</th>" for h in ["after op", "live"] + [s for s in states])
    rows = []
    for s in run["heap_map"]["snapshots"]:
        cells = [thousands(s["op"]) + (" (peak)" if s["peak_live"] else ""), byte_size(s["live_bytes"])]
        cells += [f"{thousands(s[state]['blocks'])} / {byte_size(s[state]['bytes'])}" for state in states]
        rows.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    note = ("<p class=\"meta\">Blocks / bytes (headers included) in each state. Each strip "
            f"has up to {run['heap_map']['bins']} bins; a bin's colour mixes its states' by "
            "bytes.</p>" if heap else
            "<p class=\"meta\">Blocks / requested bytes the replay holds: this allocator's "
            "free and parked memory is not visible from outside it.</p>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>{note}"
