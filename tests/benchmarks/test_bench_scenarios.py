"""The scenario benchmark's worker runs (a smoke run; the figures live in docs/scenarios.md)."""

from __future__ import annotations

import json

from benchmarks import bench_scenarios


def test_worker_generates_and_reports(capsys):
    bench_scenarios.worker("issue", 24)
    rec = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rec["case"] == "issue" and rec["n"] == 24
    assert rec["bar_values"] == 24 * 390 * 5
    assert rec["seconds"] > 0 and rec["maxrss_mb"] > 0
