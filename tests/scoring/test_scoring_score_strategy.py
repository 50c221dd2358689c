"""score_strategy end to end on a hand-built sweep: calendar-time pooling, clusters, event level,
trials, the benchmark over tradable periods, degenerate sweeps; event_time_view with windows of
different lengths (issue 12)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t

from backtests.scoring.evaluate import StrategyRuns, event_time_view, score_strategy

DAY = pd.Timedelta(days=1)
IDX = pd.DatetimeIndex([pd.Timestamp("2026-01-05 21:00", tz="UTC") + k * DAY for k in range(10)])


def win(i: str, first: int, last: int, shock=None):
    """A window whose span holds the period ends IDX[first..last]."""
    return SimpleNamespace(id=i, start_utc=IDX[first] - pd.Timedelta(hours=6), end_utc=IDX[last],
                           shock=shock, pre=1, post=last - first - 1,
                           sessions=pd.DatetimeIndex(IDX[first:last + 1].normalize().tz_localize(None)))


WINDOWS = [win("a", 0, 3), win("b", 2, 5), win("c", 7, 9)]  # a and b overlap: clusters {a, b}, {c}


def sweep(values: dict[tuple[int, str], list[float]], n_c: int, bench=None, n_orders=None, first_fill=None, **kw):
    """A hand-built sweep over WINDOWS; ``first_fill``: window id -> the first possible fill the
    engine reported for every run of that window (absent: none, every period counts)."""
    cols, combos, wins = [], [], []
    R = np.full((len(IDX), n_c * 3), np.nan)
    for c in range(n_c):
        for k, w in enumerate(WINDOWS):
            j = c * 3 + k
            rows = np.flatnonzero((IDX > w.start_utc) & (IDX <= w.end_utc))
            R[rows, j] = values[(c, w.id)]
            cols.append(f"r{c}{w.id}")
            combos.append(c)
            wins.append(w.id)
    runs = pd.DataFrame({"combo": combos, "window": wins, "ppy": 252.0,
                         "entries": 1, "exposure": 1.0, "turnover": 1.0,
                         "n_orders": 1 if n_orders is None else n_orders}, index=pd.Index(cols, name="id"))
    if first_fill is not None:
        runs["first_fill"] = pd.DatetimeIndex([first_fill.get(w) for w in wins], tz="UTC")
    returns = pd.DataFrame(R, index=IDX, columns=cols)
    b = None
    if bench is not None:
        b = pd.DataFrame(np.where(np.isnan(R), np.nan, np.asarray(bench)[:, None]), index=IDX, columns=cols)
    grid = pd.DataFrame({"k": list(range(n_c))})
    return StrategyRuns("s", "s", returns, b, runs, grid, 0, windows=WINDOWS, **kw)


KW = dict(risk_free=0.0, rank_by="sharpe", pbo_blocks=2, n_resamples=200, confidence=0.9, seed=3,
          min_train_clusters=1)
A = [0.01, 0.02, -0.01, 0.03]
B = [0.02, 0.01, 0.00, -0.02]
C = [0.01, -0.01, 0.02]


def test_pooled_is_calendar_time_each_period_once():
    vals = {(0, "a"): A, (0, "b"): B, (0, "c"): C,
            (1, "a"): [2 * x for x in A], (1, "b"): [2 * x for x in B], (1, "c"): [2 * x for x in C]}
    out = score_strategy(sweep(vals, 2), **KW)
    cal = out["calendar"]
    # periods 0..5 (a: 0-3, b: 2-5) then 7..9 (c); 2 and 3 are shared: mean of a and b
    assert list(cal.index) == list(IDX[[0, 1, 2, 3, 4, 5, 7, 8, 9]])
    expect = [A[0], A[1], (A[2] + B[0]) / 2, (A[3] + B[1]) / 2, B[2], B[3], *C]
    np.testing.assert_allclose(cal[0].to_numpy(), expect, atol=1e-15)
    p0 = out["pooled"][0]
    assert p0["metrics"]["n_periods"] == 9
    assert p0["metrics"]["total_return"] == pytest.approx(np.prod(1 + np.array(expect)) - 1, rel=1e-12)
    assert p0["metrics"]["n_events"] == 3 and p0["metrics"]["n_clusters"] == 2
    ep = [np.prod(1 + np.array(x)) - 1 for x in (A, B, C)]
    assert p0["events"]["mean"] == pytest.approx(np.mean(ep))
    s = out["summary"]
    assert [c["windows"] for c in s["clusters"]] == [["a", "b"], ["c"]]
    assert s["trials"]["n_raw"] == 2 and s["trials"]["n_distinct"] == 2
    assert p0["n_identical"] == 1 and p0["trust"]["n_trials"] == 2 and p0["trust"]["n_trials_raw"] == 2
    el = s["event_level"][str(s["best_combo"])]
    assert el["n_events"] == 3 and el["n_clusters"] == 2
    assert [e["cluster"] for e in el["episodes"]] == ["c1", "c1", "c2"]
    assert el["episodes"][0]["return"] == pytest.approx(ep[0])
    assert set(s["oos"]) == {"loco", "walk_forward"}
    json.dumps({k: out[k] for k in ("runs", "pooled", "summary")}, allow_nan=False)


def test_benchmark_comparison_starts_at_the_first_possible_fill():
    vals = {(0, "a"): [0.0, 0.02, -0.01, 0.03], (0, "b"): B, (0, "c"): [0.0, -0.01, 0.02]}
    bench = np.array([0.05, 0.01, 0.02, 0.01, 0.0, 0.01, 0.0, 0.04, 0.01, -0.01])
    # first fills: window a at the end of its period 0, c inside its first period (7): a period
    # counts only when it starts at or after the fill; b has none (no fill possible: all periods count)
    sr = sweep(vals, 1, bench=bench, first_fill={"a": IDX[0], "c": IDX[7] - pd.Timedelta(hours=3)})
    out = score_strategy(sr, **KW)
    cal, cb = out["calendar"][0].to_numpy(), out["calendar_benchmark"][0].to_numpy()
    # pooled benchmark: equal-capital over open episodes, an untradable episode adds 0
    expect_b = [np.nan, 0.01, (0.02 + 0.02) / 2, (0.01 + 0.01) / 2, 0.0, 0.01, np.nan, 0.01, -0.01]
    np.testing.assert_allclose(cb, expect_b, atol=1e-15)
    ok = ~np.isnan(expect_b)
    exc = np.prod(1 + cal[ok]) - np.prod(1 + np.array(expect_b)[ok])
    assert out["pooled"][0]["metrics"]["excess_return"] == pytest.approx(exc, rel=1e-12)
    # the run record of window a: excess over its periods 1-3 only
    ra = out["runs"][0]["metrics"]["excess_return"]
    assert ra == pytest.approx(np.prod(1 + np.array([0.02, -0.01, 0.03])) - np.prod([1.01, 1.02, 1.01]), rel=1e-12)


def test_identical_combinations_and_nothing_traded_are_defined():
    vals = {(c, w): [0.0] * n for c in range(3) for w, n in (("a", 4), ("b", 4), ("c", 3))}
    out = score_strategy(sweep(vals, 3, n_orders=0), **KW)
    s = out["summary"]
    assert s["trials"]["n_distinct"] == 1 and s["trials"]["n_raw"] == 3
    assert s["pbo"] is None and "same returns" in out["pooled"][0]["trust"]["notes"]
    ev = out["pooled"][0]["events"]
    assert ev["win_rate"] is None and "no episode traded" in ev["nan_reason"] and ev["n_traded"] == 0
    assert ev["t_stat"] is None
    assert all(p["n_identical"] == 3 for p in out["pooled"])
    json.dumps({k: out[k] for k in ("runs", "pooled", "summary")}, allow_nan=False)


def test_event_time_view_windows_of_different_lengths():
    idx = pd.DatetimeIndex([pd.Timestamp("2026-01-05", tz="UTC") + k * DAY for k in range(12)])
    # one row per session: each window's session closes are its rows' stamps
    def win(i: str, pre: int, post: int, closes: pd.DatetimeIndex) -> SimpleNamespace:
        return SimpleNamespace(id=i, pre=pre, post=post, sessions=pd.DatetimeIndex(range(len(closes))), closes=closes,
                               start_utc=closes[0] - DAY / 2, end_utc=closes[-1])

    # w1 and w3 overlap: one cluster; w2 another
    w1, w2, w3 = win("w1", 2, 3, idx[0:6]), win("w2", 1, 4, idx[6:12]), win("w3", 0, 1, idx[0:2])
    r = pd.DataFrame(np.nan, index=idx, columns=["x", "y", "z"])
    r.iloc[0:6, 0] = 0.01
    r.iloc[6:12, 1] = 0.02
    r.iloc[0:2, 2] = -0.01
    runs = pd.DataFrame({"combo": [0, 0, 0], "window": ["w1", "w2", "w3"]}, index=["x", "y", "z"])
    out = event_time_view(r, runs, {"w1": w1, "w2": w2, "w3": w3}, [0])["0"]
    assert out["t"]["w1"] == [-2, -1, 0, 1, 2, 3] and out["t"]["w3"] == [0, 1]
    assert out["mean_t"] == [0, 1]
    # at t = 0: w1 cum after 3 periods, w2 after 2, w3 after 1
    t0 = np.mean([1.01**3 - 1, 1.02**2 - 1, 0.99 - 1])
    assert out["mean"][0] == pytest.approx(t0)
    # the interval of the mean at t = 0: clusters {w1, w3} and {w2}, CR1 t with 1 df
    v = np.array([1.01**3 - 1, 1.02**2 - 1, 0.99 - 1])
    e = v - v.mean()
    se = np.sqrt(2 / 1 * ((e[0] + e[2]) ** 2 + e[1] ** 2) / 9)
    half = student_t.ppf(0.975, 1) * se
    assert (out["mean_low"][0], out["mean_high"][0]) == (pytest.approx(v.mean() - half), pytest.approx(v.mean() + half))
    assert out["interval"]["df"] == 1 and out["interval"]["n_clusters"] == 2 and "t interval" in out["interval"]["method"]
