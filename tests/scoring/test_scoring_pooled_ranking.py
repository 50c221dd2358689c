"""Pooling a combination across windows, and ranking a sweep with DSR and PBO."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests import scoring as sc

IDX = pd.date_range("2025-01-20", periods=40, freq="D", tz="UTC")


def _runs():
    r = pd.DataFrame(np.nan, index=IDX, columns=["A@late", "A@early", "B@late", "B@early"])
    r.loc[IDX[20:25], "A@late"] = [0.01, 0.02, -0.01, 0.0, 0.01]
    r.loc[IDX[2:5], "A@early"] = [0.03, -0.02, 0.01]
    r.loc[IDX[20:25], "B@late"] = [-0.01, 0.0, 0.01, 0.0, 0.02]
    r.loc[IDX[2:5], "B@early"] = [0.0, 0.01, -0.01]
    runs = {"A@late": ("A", "late"), "A@early": ("A", "early"), "B@late": ("B", "late"), "B@early": ("B", "early")}
    return r, runs


def test_pool_chains_windows_in_time_order():
    r, runs = _runs()
    pooled, _ = sc.pool_returns(r, runs)
    assert list(pooled.columns) == ["A", "B"]
    assert list(pooled.index.get_level_values("window")) == ["early"] * 3 + ["late"] * 5
    np.testing.assert_allclose(pooled["A"], [0.03, -0.02, 0.01, 0.01, 0.02, -0.01, 0.0, 0.01])


def test_pooled_metrics_and_window_summaries():
    r, runs = _runs()
    table, reasons = sc.pooled_metrics(r, runs, 252)
    chained = np.array([0.03, -0.02, 0.01, 0.01, 0.02, -0.01, 0.0, 0.01])
    assert table.loc["A", "total_return"] == pytest.approx(np.prod(1 + chained) - 1)
    assert table.loc["A", "sharpe"] == pytest.approx(sc.sharpe(chained, 252))
    assert table.loc["A", "n_periods"] == 8 and table.loc["A", "n_windows"] == 2
    early = 1.03 * 0.98 * 1.01 - 1
    late = 1.01 * 1.02 * 0.99 * 1.0 * 1.01 - 1
    assert table.loc["A", "window_total_return_mean"] == pytest.approx((early + late) / 2)
    assert table.loc["A", "window_total_return_median"] == pytest.approx((early + late) / 2)
    # B: early window 1.0 * 1.01 * 0.99 - 1 = -0.0001 (a loss), late window +0.0199
    assert table.loc["B", "window_positive_fraction"] == pytest.approx(0.5)
    assert list(table.columns) == [*sc.METRIC_KEYS, *sc.POOLED_KEYS]
    assert reasons == {}


def test_chained_view_keeps_both_copies_but_pooled_metrics_count_each_period_once():
    r = pd.DataFrame({"w1": [0.01, 0.02, np.nan], "w2": [np.nan, 0.03, 0.04]}, index=IDX[:3])
    runs = {"w1": ("A", "w1"), "w2": ("A", "w2")}
    pooled, _ = sc.pool_returns(r, runs)
    np.testing.assert_allclose(pooled["A"], [0.01, 0.02, 0.03, 0.04])  # chart view: the shared bar twice
    cal, _ = sc.calendar_returns(r, runs)
    np.testing.assert_allclose(cal["A"], [0.01, (0.02 + 0.03) / 2, 0.04])  # calendar time: once, averaged
    table, _ = sc.pooled_metrics(r, runs, 252)
    assert table.loc["A", "n_periods"] == 3
    assert table.loc["A", "total_return"] == pytest.approx(1.01 * 1.025 * 1.04 - 1)


def test_chain_windows_single_combo():
    s1 = pd.Series([0.01, 0.02], index=IDX[10:12])
    s0 = pd.Series([0.05], index=IDX[1:2])
    chained = sc.chain_windows({"later": s1, "earlier": s0})
    assert list(chained) == [0.05, 0.01, 0.02]
    assert list(chained.index.get_level_values("window")) == ["earlier", "later", "later"]


def test_pool_with_benchmark_series():
    r, runs = _runs()
    bench = pd.Series(np.linspace(-0.01, 0.01, len(IDX)), index=IDX)
    table, _ = sc.pooled_metrics(r, runs, 252, benchmark=bench)
    pooled, pb = sc.pool_returns(r, runs, bench)
    assert table.loc["B", "beta"] == pytest.approx(sc.beta(pooled["B"].to_numpy(), pb["B"].to_numpy()))


def test_duplicate_combo_window_is_an_error():
    r, _ = _runs()
    runs = {"A@late": ("A", "late"), "A@early": ("A", "late"), "B@late": ("B", "late"), "B@early": ("B", "early")}
    r.loc[IDX[2:5], "A@early"] = np.nan
    r.loc[IDX[20:22], "A@early"] = 0.0
    with pytest.raises(ValueError, match="share a combo, window and bar"):
        sc.pool_returns(r, runs)


def test_pooled_many_combos_fast():
    import time

    rng = np.random.default_rng(0)
    n_combo, n_win, n_bar = 1000, 10, 20
    idx = pd.date_range("2020-01-01", periods=n_win * 40, freq="D", tz="UTC")
    data = np.full((len(idx), n_combo * n_win), np.nan)
    for w in range(n_win):
        data[w * 40 : w * 40 + n_bar, w * n_combo : (w + 1) * n_combo] = rng.normal(0, 0.01, (n_bar, n_combo))
    cols = [f"c{c}@w{w}" for w in range(n_win) for c in range(n_combo)]
    runs = pd.DataFrame({"combo": [c.split("@")[0] for c in cols], "window": [c.split("@")[1] for c in cols]}, index=cols)
    start = time.perf_counter()
    table, _ = sc.pooled_metrics(pd.DataFrame(data, index=idx, columns=cols), runs, 252)
    assert time.perf_counter() - start < 5.0
    assert table.shape[0] == n_combo and (table["n_periods"] == 200).all() and (table["n_windows"] == 10).all()


# -------------------------------------------------------------------------------------- ranking


def _sweep(seed: int = 1, edge: float = 0.004):
    rng = np.random.default_rng(seed)
    returns = pd.DataFrame(rng.normal(0, 0.01, (240, 30)), columns=[f"p{i}" for i in range(30)])
    returns["p11"] += edge
    table, _ = sc.metrics_table(returns, 252)
    return returns, table


def test_rank_sweep_sorts_and_attaches_dsr_and_pbo():
    returns, table = _sweep()
    ranked = sc.rank_sweep(table, 252, returns=returns)
    assert ranked.index[0] == "p11"
    assert list(ranked["rank"]) == list(range(1, 31))
    assert (np.diff(ranked["sharpe"].to_numpy()) <= 0).all()
    assert list(ranked.columns[:8]) == ["rank", "dsr", "pbo", "n_trials", "n_trials_raw", "n_identical",
                                       "sharpe_star", "notes"]
    assert (ranked["n_trials"] == 30).all()
    sr = table["sharpe"] / np.sqrt(252)
    star = sc.expected_max_sharpe(30, float(np.var(sr, ddof=1)))
    assert ranked["sharpe_star"].iloc[0] == pytest.approx(star)
    want = sc.probabilistic_sharpe_ratio(
        sr["p11"], 240, table.loc["p11", "skew"], table.loc["p11", "kurtosis"], star
    )
    assert ranked.loc["p11", "dsr"] == pytest.approx(want)
    assert ranked["pbo"].iloc[0] == sc.probability_of_backtest_overfitting(returns).pbo
    assert ranked["pbo"].iloc[0] < 0.2


def test_rank_sweep_ties_keep_row_order_and_nan_last():
    table = pd.DataFrame(
        {"sharpe": [1.0, np.nan, 2.0, 1.0], "skew": 0.0, "kurtosis": 3.0, "n_periods": 100},
        index=["a", "b", "c", "d"],
    )
    ranked = sc.rank_sweep(table, 252)
    assert list(ranked.index) == ["c", "a", "d", "b"]
    assert np.isnan(ranked.loc["b", "rank"]) and np.isnan(ranked.loc["b", "dsr"])
    assert "pbo: no pooled returns given" in ranked.loc["a", "notes"]
    assert (ranked["n_trials"] == 4).all()  # the NaN trial was still run


def test_rank_sweep_single_combo_and_too_short_pbo():
    returns, table = _sweep()
    one = sc.rank_sweep(table.iloc[:1], 252, returns=returns)
    assert np.isnan(one["dsr"].iloc[0]) and np.isnan(one["pbo"].iloc[0])
    assert "fewer than 2 finite trial Sharpe ratios" in one["notes"].iloc[0]
    assert "at least 2 columns" in one["notes"].iloc[0]
    short = sc.rank_sweep(table, 252, returns=returns.iloc[:5])
    assert np.isnan(short["pbo"]).all() and "exceeds" in short["notes"].iloc[0]
    with pytest.raises(ValueError, match="not a column"):
        sc.rank_sweep(table, 252, metric="nope")
