"""run_charts.py — `heapbench run` results (docs/RUN.md) in the report:
reading and checking the JSON, one chart per program (wall time and peak
RSS per allocator, side by side) and its table.

The conventions are drawing.py's: one colour per allocator, a hatch per
input, a run that is not ok drawn as a grey band with its status, never as
zero; a result that differs from the reference's is written on its bar.
"""

import json

import palette

# Every run carries these whatever its status (docs/RUN.md).
_ALWAYS = [("program", "str"), ("argv", "list"), ("allocator", "str"), ("status", "str"),
           ("repeat", "int"), ("flags", "list"), ("result", "object")]
# Figures: null only when no pass completed (or, for wall time, not all).
_FIGURES = ["exit_code", "wall_ns", "wall_ns_min", "wall_ns_max", "user_ns", "sys_ns",
            "peak_rss_bytes", "minor_faults", "major_faults"]


def load_run(check, doc, path, source_class):
    """A `heapbench run --json` file, checked; a Source of kind "run"."""
    version = check.get(doc, "schema_version", "", "any")
    if version != 2:
        check.fail("schema_version", f"is {json.dumps(version)}, run results are version 2")
    tool = check.get(doc, "tool", "", "str")
    machine = check.get(doc, "machine", "", "object")
    settings = check.get(doc, "settings", "", "object")
    baseline = check.get(settings, "baseline", "settings", "str", nullable=True)
    label = check.get(doc, "label", "", "str", nullable=True) if "label" in doc else None
    runs = check.get(doc, "runs", "", "list")
    for i, run in enumerate(runs):
        where = f"runs[{i}]"
        for key, kind in _ALWAYS:
            check.get(run, key, where, kind)
        for key in _FIGURES:
            value = check.get(run, key, where, "number", nullable=True)
            if value is not None and value < 0 and key != "exit_code":
                check.fail(f"{where}.{key}", "is negative")
        if run["status"] == "ok" and run["wall_ns"] is None:
            check.fail(f"{where}.wall_ns", "is null in a run whose status is ok")
    return source_class(path=path, kind="run", label=label or "", machine=machine,
                        settings=settings, tool=tool, runs=runs, schema_version=version,
                        baseline=baseline or "")


def programs(sources):
    """[(program text, [(label, run)...])]: each program's runs over every input."""
    by_program = {}
    for source in sources:
        if source.kind != "run":
            continue
        for run in source.runs:
            text = " ".join(run["argv"])
            by_program.setdefault(text, []).append((source.label, run))
    return list(by_program.items())


def _result_note(run):
    result = run["result"]
    if result.get("same_exit_code") is False:
        return f"exit {run['exit_code']} ≠ {result.get('reference')}'s"
    if result.get("same_stdout") is False:
        return f"stdout ≠ {result.get('reference')}'s"
    return ""


def chart_program(index, program, runs, out_dir):
    """Wall time (median, whiskers from the fastest to the slowest pass) and
    peak RSS, one bar per (input, allocator)."""
    import drawing
    plt = drawing.plt
    labels = list(dict.fromkeys(label for label, _ in runs))
    allocators = palette.order([run["allocator"] for _, run in runs])
    rows = [(label, run) for alloc in allocators for label, run in runs
            if run["allocator"] == alloc]
    height = 1.2 + 0.32 * len(rows)
    fig, (ax_time, ax_rss) = plt.subplots(1, 2, figsize=(10, height), sharey=True)
    y = list(range(len(rows)))
    names = [run["allocator"] + (f" ({label})" if len(labels) > 1 else "") for label, run in rows]
    for ax, key, scale, unit in ((ax_time, "wall_ns", 1e9, "s"),
                                 (ax_rss, "peak_rss_bytes", 1 << 20, "MiB")):
        top = max([max(run[key], run.get("wall_ns_max") or 0 if key == "wall_ns" else 0) / scale
                   for _, run in rows if run[key] is not None] or [1])
        for row, (label, run) in enumerate(rows):
            hatch = drawing.SOURCE_HATCHES[labels.index(label) % len(drawing.SOURCE_HATCHES)]
            value = run[key]
            if value is None or (run["status"] != "ok" and key == "wall_ns"):
                ax.barh(row, top, color=drawing.NOT_OK_FACE, hatch="xx", edgecolor="#999999")
                ax.text(top * 0.02, row, drawing.status_text(run["status"]), va="center", fontsize=8)
                continue
            flagged = bool(run["flags"]) and key == "wall_ns"
            ax.barh(row, value / scale, color=palette.colour(run["allocator"]), hatch=hatch,
                    edgecolor=drawing.FLAG_COLOUR if flagged else "white",
                    linewidth=1.2 if flagged else 0.5)
            if key == "wall_ns" and run["wall_ns_min"] is not None:
                ax.errorbar(value / scale, row, xerr=[[(value - run["wall_ns_min"]) / scale],
                                                      [(run["wall_ns_max"] - value) / scale]],
                            fmt="none", ecolor="#333333", capsize=2, linewidth=0.8)
            note = drawing.plain(value / scale) + f" {unit}"
            differs = _result_note(run)
            if differs:
                note += f"  ✗ {differs}"
            if run["status"] != "ok":
                note += f"  ({drawing.status_text(run['status'])})"
            end = max(value, run.get("wall_ns_max") or 0) if key == "wall_ns" else value
            ax.text(end / scale, row, "  " + note, va="center", fontsize=8,
                    color="#b00000" if differs or run["status"] != "ok" else "#222222")
        ax.set_xlim(0, top * 1.45)
        ax.set_xlabel({"wall_ns": "wall time per run, s (median; whiskers: fastest–slowest)",
                       "peak_rss_bytes": "peak RSS, MiB (median ru_maxrss)"}[key])
    ax_time.set_yticks(y)
    ax_time.set_yticklabels(names)
    ax_time.invert_yaxis()
    title = program if len(program) <= 90 else program[:89] + "…"
    fig.suptitle(f"run: {title}", fontsize=10)
    if len(labels) > 1:
        drawing.source_legend(ax_rss, labels)
    fig.tight_layout()
    return drawing.save(fig, out_dir, f"run-{index}", f"run/{index}", f"run: {title}")


def draw_all(sources, out_dir):
    return [chart_program(i, program, runs, out_dir)
            for i, (program, runs) in enumerate(programs(sources), 1)]


def table(runs, esc):
    """The HTML table beside a program's chart."""
    def seconds(ns):
        return "—" if ns is None else f"{ns / 1e9:.3g} s"

    def mib(value):
        return "—" if value is None else f"{value / (1 << 20):.1f} MiB"

    out = ["<table><thead><tr><th>allocator</th><th>input</th><th>wall</th><th>vs baseline</th>"
           "<th>user</th><th>sys</th><th>peak RSS</th><th>exit</th><th>result</th>"
           "<th>status</th></tr></thead><tbody>"]
    for label, run in runs:
        ratio = run.get("ratio_to_baseline")
        if not ratio:
            vs = "—"
        elif not ratio.get("ci95"):
            vs = f"{ratio['wall_ns']:.2f}× (few passes)"
        elif not ratio.get("significant"):
            vs = "no clear difference"
        else:
            vs = f"{ratio['wall_ns']:.2f}× ({ratio['ci95'][0]:.2f}–{ratio['ci95'][1]:.2f})"
        result = _result_note(run) or ("reference" if run["result"].get("reference") ==
                                       run["allocator"] else "same")
        out.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in (
            run["allocator"], label, seconds(run["wall_ns"]), vs, seconds(run["user_ns"]),
            seconds(run["sys_ns"]), mib(run["peak_rss_bytes"]), run["exit_code"], result,
            run["status"])) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)
