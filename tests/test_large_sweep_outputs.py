"""Large sweeps: every run in runs.parquet, metrics.json keeps what a reader needs; the benchmark
is stored once per (strategy, window); the tearsheet regenerates from such a folder."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from backtests.outputs import documents
from backtests.report import read_returns

CONFIG = """
name: large
windows: [deepseek_r1, kospi_crash_2026]
benchmark: SPY
strategies:
  - name: buy_and_hold
    label: hold_qqq
    roles: {asset: QQQ}
    params:
      weight: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 0.05, 0.15, 0.25]
"""


@pytest.fixture(scope="module")
def large_run(tmp_path_factory):
    from backtests.orchestration.cli import main

    base = tmp_path_factory.mktemp("large")
    cfg = base / "large.yaml"
    cfg.write_text(CONFIG)
    mp = pytest.MonkeyPatch()
    mp.setattr(documents, "RUNS_IN_JSON_MAX", 20)  # 26 runs: a "large" sweep
    try:
        assert main(["run", str(cfg), "--out", str(base / "out"), "--no-progress"]) == 0
    finally:
        mp.undo()
    return base / "out"


def test_every_run_is_in_runs_parquet_and_metrics_json_keeps_the_ranked_ones(large_run):
    metrics = json.loads((large_run / "metrics.json").read_text())
    table = pd.read_parquet(large_run / "runs.parquet")
    assert metrics["n_runs"] == len(table) == 26 and metrics["runs_file"] == "runs.parquet"
    summary = metrics["strategies"][0]
    keep = {r["combo"] for r in summary["ranking"]} | {summary["best_combo"], summary["default_combo"]} - {None}
    assert {r["combo"] for r in metrics["runs"]} == keep and len(keep) < 13
    by_id = table.set_index("id")
    for rec in metrics["runs"]:  # the same numbers in both places
        row = by_id.loc[rec["id"]]
        assert (row["strategy"], row["window"], int(row["combo"])) == (rec["strategy"], rec["window"], rec["combo"])
        assert json.loads(row["params"]) == rec["params"]
        for key, value in rec["metrics"].items():
            assert (pd.isna(row[key]) and value is None) or row[key] == pytest.approx(value, rel=0, abs=0)


def test_benchmark_is_stored_once_per_strategy_and_window(large_run):
    bench = pd.read_parquet(large_run / "benchmark.parquet")
    returns = read_returns(large_run / "returns.parquet")
    assert sorted(bench.columns) == ["hold_qqq|deepseek_r1", "hold_qqq|kospi_crash_2026"]
    assert bench.index.equals(returns.index)
    metrics = json.loads((large_run / "metrics.json").read_text())
    run = metrics["runs"][0]
    col = bench[f"{run['strategy']}|{run['window']}"]
    assert col.notna().sum() > 0
    assert (col.notna() == returns[run["id"]].notna()).all()


def test_tearsheet_regenerates_from_a_large_sweep_folder(large_run):
    from backtests.orchestration.cli import main

    (large_run / "tearsheet.html").unlink()
    assert main(["report", str(large_run)]) == 0
    html = (large_run / "tearsheet.html").read_text()
    assert "hold_qqq" in html and "benchmark SPY" in html


def test_small_studies_keep_every_run_in_metrics_json(tmp_path):
    from backtests.orchestration.cli import main
    from tests.conftest import ROOT

    assert main(["run", str(ROOT / "tests" / "configs" / "small.yaml"), "--out", str(tmp_path / "o"),
                 "--no-progress"]) == 0
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["n_runs"] == len(metrics["runs"]) == 4 and metrics["runs_file"] is None
    assert not (tmp_path / "o" / "runs.parquet").exists()
