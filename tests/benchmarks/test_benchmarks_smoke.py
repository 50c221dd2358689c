"""Smoke test of the benchmark harness at tiny sizes (the full run is `python -m benchmarks`)."""

from __future__ import annotations

import json

import pytest

from benchmarks import compare
from benchmarks.common import ma_grid, machine_info


def test_grid_sizes():
    for n in (1, 10, 100, 1_000, 100_000):
        g = ma_grid(n)
        assert len(g) == n and not g.duplicated().any()


def test_machine_info_names_the_machine():
    m = machine_info()
    assert m["cores"] and m["python"] and m["packages"]["vectorbt"]


def test_engine_agrees_with_handwritten_vectorbt():
    res = compare.bench_vs_vectorbt([3], repeat=1, runner=True)
    row = res["rows"][0]
    assert row["max_rel_diff_final"] < 1e-9
    assert row["runner_max_rel_diff_final"] < 1e-9
    assert row["engine_s"] > 0 and row["vbt_s"] > 0


def test_agrees_with_backtesting_py():
    pytest.importorskip("backtesting")
    res = compare.bench_vs_backtesting([5, 10], [20], repeat=1, check=2)
    assert res["max_rel_diff"] < 1e-6
    assert res["backtesting_per_combo_ms"] > 0 and res["ours_per_combo_ms"] > 0


def test_scaling_worker_reports_time_and_memory():
    r = compare._run_worker(["--mode", "engine", "--combos", "10", "--repeat", "1"], timeout=120)
    assert "error" not in r, r
    assert r["median_s"] > 0 and r["peak_rss_mb"] > 50 and r["ru_maxrss_mb"] > 50
    json.dumps(r)


def test_import_profile_of_help_has_no_vectorbt():
    r = compare.import_profile(["--help"])
    assert r["vectorbt_imported"] is False


def test_markdown_renders():
    results = {"machine": machine_info(), "command": "python -m benchmarks --quick",
               "vs_vectorbt": compare.bench_vs_vectorbt([1], repeat=1, runner=False)}
    text = compare.markdown(results)
    assert "Overhead vs hand-written vectorbt" in text and "| 1 |" in text
