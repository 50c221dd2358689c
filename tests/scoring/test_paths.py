"""Paths of a return series (what the tearsheet draws): hand-worked, and consistent with the metrics
bit for bit (the curve ends at total_return, its lowest point is max_drawdown)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests import scoring as sc
from backtests.scoring import paths


def test_wealth_and_drawdown_hand_worked():
    r = np.array([0.10, np.nan, -0.10, 0.20])  # the NaN is no observation: skipped
    # wealth 1.1, 0.99, 1.188; peaks 1.1, 1.1, 1.188
    assert paths.wealth(r) == pytest.approx([1.1, 0.99, 1.188])
    assert paths.drawdown(r) == pytest.approx([0.0, 0.99 / 1.1 - 1, 0.0])
    # the starting wealth of 1 is a peak: a first-period loss is a drawdown
    assert paths.drawdown([-0.05, 0.02]) == pytest.approx([-0.05, 0.95 * 1.02 - 1])
    assert paths.wealth([]).size == 0 and paths.drawdown([]).size == 0


def test_paths_end_at_the_metrics_bit_for_bit():
    rng = np.random.default_rng(7)
    for n in (1, 2, 37, 300):
        r = rng.normal(0.0005, 0.03, n)
        assert paths.wealth(r)[-1] - 1.0 == sc.total_return(r)
        assert paths.drawdown(r).min() == min(sc.max_drawdown(r), 0.0)


def test_drawdown_periods_hand_worked():
    t = pd.date_range("2026-01-01", periods=6, freq="D", tz="UTC")
    w = np.array([1.1, 0.99, 1.21, 1.21, 0.605, 1.0])  # wealth after each period
    r = pd.Series(w / np.concatenate([[1.0], w[:-1]]) - 1.0, index=t)
    dds = paths.drawdown_periods(r)
    assert [d["depth"] for d in dds] == pytest.approx([-0.5, 0.99 / 1.1 - 1])
    deep, first = dds
    # peak 1.1 after period 1, trough period 2, back at the peak (1.21 >= 1.1) in period 3
    assert (first["start"], first["trough"], first["end"], first["periods"]) == (
        t[0].isoformat(), t[1].isoformat(), t[2].isoformat(), 2)
    # peak 1.21 (period 3, the later of two equal highs is still at the peak), not recovered
    assert deep["start"] == t[3].isoformat() and deep["trough"] == t[4].isoformat() and deep["end"] is None
    assert deep["periods"] == 2
    # a loss in the first period starts at the initial wealth (start None)
    lost = paths.drawdown_periods(pd.Series([-0.1, 0.2], index=t[:2]))
    assert lost == [{"start": None, "trough": t[0].isoformat(), "end": t[1].isoformat(), "depth": pytest.approx(-0.1),
                     "periods": 2}]
    assert paths.drawdown_periods(pd.Series([0.01, 0.02], index=t[:2])) == []


def test_rolling_window_rule():
    assert paths.rolling_periods(29) is None
    assert paths.rolling_periods(30) == 10 and paths.rolling_periods(60) == 15
    assert paths.rolling_periods(1000) == 63


def test_rolling_volatility_and_beta_hand_worked():
    r = np.array([0.01, 0.03, -0.01, 0.05])
    vol = paths.rolling_volatility(r, 3)
    assert np.isnan(vol[:2]).all()
    assert vol[2] == pytest.approx(np.std([0.01, 0.03, -0.01], ddof=1))
    assert vol[3] == pytest.approx(np.std([0.03, -0.01, 0.05], ddof=1))
    b = np.array([0.02, -0.01, 0.01, 0.03])
    beta = paths.rolling_beta(2.0 * b + 0.001, b, 3)
    assert np.isnan(beta[:2]).all() and beta[2:] == pytest.approx([2.0, 2.0])
    # the benchmark missing inside the window, or flat: no beta
    assert np.isnan(paths.rolling_beta(r, np.array([0.01, np.nan, 0.02, 0.03]), 3)[2])
    assert np.isnan(paths.rolling_beta(r, np.full(4, 0.01), 3)[3])
    # over a whole series the rolling beta is the beta metric
    rng = np.random.default_rng(1)
    x, y = rng.normal(0, 0.01, 40), rng.normal(0, 0.01, 40)
    assert paths.rolling_beta(x, y, 40)[-1] == pytest.approx(sc.beta(x, y), rel=1e-12)


def test_pooled_view_of_a_series():
    t = pd.date_range("2026-01-01", periods=40, freq="D", tz="UTC")
    rng = np.random.default_rng(3)
    r = pd.Series(rng.normal(0, 0.02, 40), index=t)
    r.iloc[5] = np.nan  # not a row of this combination
    b = pd.Series(rng.normal(0, 0.01, 40), index=t)
    view = paths.pooled_view(r, b)
    assert list(view.series.columns) == ["wealth", "drawdown", "rolling_volatility", "rolling_beta"]
    assert view.series.index.equals(r.dropna().index)
    assert view.series["wealth"].iloc[-1] - 1.0 == sc.total_return(r)
    assert view.record["rolling_periods"] == 10 and view.record["rolling_reason"] is None
    assert view.record["drawdowns"][0]["depth"] == pytest.approx(sc.max_drawdown(r), rel=1e-12)
    short = paths.pooled_view(r.iloc[:12], None)
    assert list(short.series.columns) == ["wealth", "drawdown"]
    assert short.record["rolling_periods"] is None and short.record["rolling_reason"] == "fewer than 30 periods"
