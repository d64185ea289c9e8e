#!/usr/bin/python3
"""ladder_table_test.py LADDER_TABLE — plots/ladder_table.py gives the CS:APP
utilization (peak live bytes / peak footprint) from replay JSON of schema 1
(computed from the two byte counts, not read from `utilization`) and of
schema 2 (`reported_utilization`, while `utilization` is resident-memory
based there), and "-" where the allocator cannot report its footprint."""
import json
import subprocess
import sys
import tempfile


def run(base, **fields):
    r = {"trace": "t", "allocator": "a", "status": "ok", "ops": 100, "ns_per_op": 10.0,
         "ops_per_sec": 100e6, "cpu_ns_per_op": 9.0, "peak_live_bytes": 900,
         "peak_footprint_bytes": 1000}
    r.update(base, **fields)
    return r


def table(runs, schema):
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump({"schema_version": schema, "runs": runs}, f)
        f.flush()
        return subprocess.run([sys.executable, sys.argv[1], f.name], check=True,
                              capture_output=True, text=True).stdout


def expect(text, line, why):
    if line not in text.splitlines():
        sys.exit("FAIL: %s: no line %r in\n%s" % (why, line, text))


# Schema 1: `utilization` is the same ratio; the script must not need it.
out = table([run({}, utilization=None), run({"trace": "u"}, peak_footprint_bytes=None)], 1)
expect(out, "| t | 100.00 / 0.900 |", "schema 1: from peak_live_bytes / peak_footprint_bytes")
expect(out, "| u | 100.00 / - |", "schema 1: no footprint, no utilization")
expect(out, "| **average utilization** | - |", "schema 1: no average over a missing cell")
# Schema 2: `utilization` is resident-memory based; reported_utilization wins.
out = table([run({}, utilization=0.5, reported_utilization=0.9),
             run({"trace": "u"}, utilization=0.5, reported_utilization=0.7)], 2)
expect(out, "| t | 100.00 / 0.900 |", "schema 2: reported_utilization")
expect(out, "| **average utilization** | **0.800** |", "schema 2: average of reported")
print("ok")
