"""The metric registry is the one list of metric keys: the table, the kernels, the public
functions, the page and the docs follow it; importing it is light."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests import scoring as sc
from backtests.scoring import kernels, metrics, registry

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_registry_pulls_in_nothing_heavy():
    code = ("import sys; import backtests.scoring.registry; import backtests.scoring; "
            "print(sorted(m for m in ('numpy', 'pandas', 'numba', 'scipy', 'arch', 'statsmodels') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    # the pure-numpy modules load without the compiled kernels or the statistics libraries
    code = ("import sys; import backtests.scoring.metrics, backtests.scoring.calendar_time, backtests.scoring.paths; "
            "print(sorted(m for m in ('numba', 'scipy', 'arch', 'statsmodels') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_table_columns_are_the_registry_keys_in_order():
    df = pd.DataFrame({"a": [0.01, -0.02, 0.03], "b": [0.0, 0.01, np.nan]})
    table, _ = sc.metrics_table(df, 252.0, df["a"] * 0.5)
    computed = [m.key for m in registry.METRICS if m.compiled]
    assert list(table.columns) == computed
    assert sc.METRIC_KEYS == tuple(m.key for m in registry.METRICS if m.source == "returns")
    assert list(sc.metrics_table(df, 252.0)[0].columns) == list(sc.METRIC_KEYS)


def test_every_computed_metric_has_its_kernel_and_public_function():
    for m in registry.METRICS:
        if not m.compiled:
            assert m.reference is None and not m.args, m.key
            continue
        assert callable(getattr(kernels, f"finish_{m.key}")), m.key
        if m.reference is not None:
            assert callable(metrics.reference_kernel(m.key)), m.key
        if m.function:
            assert callable(getattr(sc, m.key)) and m.key in sc.__all__, m.key
        assert set(m.args) <= {"ppy", "risk_free"} and list(m.args) == sorted(m.args, key=["ppy", "risk_free"].index)


def test_fields_are_from_their_vocabularies():
    for m in registry.METRICS:
        assert m.source in registry.SOURCES and m.fmt in registry.FORMATS, m.key
        assert m.better in (None, "higher", "lower") and set(m.scope) <= {"runs", "pooled"} and m.scope, m.key
        assert m.per_period is None or m.annualized, m.key
        assert m.label and m.unit and m.definition, m.key
    assert registry.ANNUALIZED == {"annual_return", "annual_volatility", "sharpe", "sortino", "calmar", "alpha",
                                   "information_ratio"}
    for row in (*registry.TEARSHEET_ROWS, registry.WINDOW_ROW):
        assert all(k in registry.BY_KEY for k in row)


def test_records_carry_exactly_the_registered_keys(tmp_path):
    """A scored strategy's run and pooled records hold registry keys only, each in its scope."""
    from backtests.scoring.evaluate import StrategyRuns, score_strategy

    rng = np.random.default_rng(0)
    idx = pd.date_range("2025-01-02 21:00", periods=40, freq="D", tz="UTC")
    rets = pd.DataFrame(rng.normal(0, 0.01, (40, 4)), index=idx, columns=["r0", "r1", "r2", "r3"])
    rets.iloc[20:, [0, 2]] = np.nan
    rets.iloc[:20, [1, 3]] = np.nan
    runs = pd.DataFrame({"combo": [0, 0, 1, 1], "window": ["w1", "w2"] * 2, "ppy": 252.0, "entries": 1,
                         "exposure": 0.5, "turnover": 1.0, "n_orders": 2}, index=rets.columns)
    grid = pd.DataFrame({"k": [1, 2]})
    out = score_strategy(StrategyRuns("s", "s", rets, rets * 0.5, runs, grid, 0), risk_free=0.0, rank_by="sharpe",
                         pbo_blocks=2, n_resamples=100, confidence=0.9, seed=0)
    for scope, records in (("runs", out["runs"]), ("pooled", out["pooled"])):
        for rec in records:
            for key in rec["metrics"]:
                assert key in registry.BY_KEY and scope in registry.BY_KEY[key].scope, (scope, key)


def test_rank_by_problems():
    assert registry.rank_by_problem("sharpe") is None
    assert registry.rank_by_problem("window_total_return_mean") is None
    assert "did you mean 'sharpe'" in registry.rank_by_problem("sharp")
    assert "lower is better" in registry.rank_by_problem("annual_volatility")
    assert "per-run statistic" in registry.rank_by_problem("n_orders")
    assert "needs a benchmark" in registry.rank_by_problem("alpha", has_benchmark=False)
    assert registry.rank_by_problem("alpha", has_benchmark=True) is None


def test_per_period_value_is_the_annualized_ratio_over_sqrt_ppy():
    assert registry.per_period_value("sharpe", 2.0, 256.0) == pytest.approx(0.125)
    assert registry.per_period_value("annual_volatility", 0.32, 256.0) == pytest.approx(0.02)
    assert registry.per_period_value("annual_return", 0.1, 252.0) is None
    assert registry.per_period_value("total_return", 0.1, 252.0) is None


def test_docs_list_exactly_the_registry_keys_with_unit_and_annualized_flag():
    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    block = text[text.index(registry.DOCS_BEGIN):text.index(registry.DOCS_END) + len(registry.DOCS_END) + 1]
    assert block == registry.docs_block(), "docs/metrics.md is out of date: run python scripts/metric_docs.py"
    rows = [line.split(" | ") for line in block.splitlines() if line.startswith("| `")]
    listed = {r[0].strip("| `"): (r[3], r[4]) for r in rows}
    assert listed == {m.key: (m.unit, "yes" if m.annualized else "no") for m in registry.METRICS}
    # no other table of metric keys in the docs: every `key` row of metrics.md is in the block
    outside = text.replace(block, "")
    for m in registry.METRICS:
        assert f"| `{m.key}` |" not in outside, m.key
