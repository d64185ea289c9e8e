#!/usr/bin/python3
"""charts.py — writes every heapbench chart, as PNG and SVG, from checked
results (results.py):

    /usr/bin/python3 plots/charts.py RESULTS.json... -o DIR

replay_charts.py draws the replay results (latency_charts.py their latency
pass, heap_map_charts.py their heap maps), micro_charts.py the Google Benchmark ones; drawing.py holds what
they share.
"""

import os
import sys

import heap_map_charts
import latency_charts
import micro_charts
import replay_charts
import results
import run_charts
import size_class_charts


def draw_all(sources, out_dir):
    """Writes every chart the inputs allow; returns the Chart list."""
    os.makedirs(out_dir, exist_ok=True)
    charts = []
    view = replay_charts.ReplayView(sources)
    for label in view.labels:
        if not any(key[1] == label for key in view.cells):
            continue   # an input without runs: the page says so
        charts.append(replay_charts.chart_overview(view, label, out_dir))
        resident = replay_charts.chart_resident(view, label, out_dir)
        if resident:
            charts.append(resident)
        ladder = replay_charts.chart_ladder(view, label, out_dir)
        if ladder:
            charts.append(ladder)
    for trace in view.traces:
        charts.append(replay_charts.chart_throughput(view, trace, out_dir))
        charts.append(replay_charts.chart_memory(view, trace, out_dir))
        charts.append(replay_charts.chart_heap_growth(view, trace, out_dir))
        charts.append(replay_charts.chart_reuse(view, trace, out_dir))
        classes = size_class_charts.chart_size_classes(view, trace, out_dir)
        if classes:
            charts.append(classes)
        latency = latency_charts.chart_latency(view, trace, out_dir)
        if latency:
            charts.append(latency)
        charts += heap_map_charts.charts_for_trace(view, trace, out_dir)
    for family in micro_charts.micro_families(sources):
        charts.append(micro_charts.chart_micro(sources, family, out_dir))
    charts += run_charts.draw_all(sources, out_dir)
    return charts


def main(argv):
    prog = "heapbench charts"
    paths, out_dir = results.parse_args(argv, prog)
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
