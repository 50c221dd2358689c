"""The periods with a position and the exposed series, worked by hand; the annualization rule in one place."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtests.scoring import exposure, registry
from backtests.scoring.evaluate import score_strategy

from test_scoring_score_strategy import IDX, KW, sweep

T = pd.Timestamp


def test_exposure_mask_from_the_fills():
    """Periods end at the daily closes IDX[0..5] (21:00 UTC); one run opened at the IDX[1] close and
    closed at the IDX[3] close, then bought at an open between IDX[4] and IDX[5] and still holds.

    A close fill at b holds from b on: periods ending IDX[2], IDX[3] are exposed, IDX[1] is not; an
    open fill inside (IDX[4], IDX[5]) exposes that period."""
    valid = np.zeros((len(IDX), 2), bool)
    valid[:6, 0] = True
    valid[:6, 1] = True  # a second run with no fills: never exposed
    orders = pd.DataFrame({"run": ["r", "r", "r"], "symbol": ["X", "X", "X"], "side": ["buy", "sell", "buy"],
                           "size": [10.0, 10.0, 5.0],
                           "fill_time": [IDX[1], IDX[3], IDX[4] + pd.Timedelta(hours=13)]})
    start = np.array([(IDX[0] - pd.Timedelta(hours=6)).value] * 2)
    got = exposure.exposure_mask(orders, IDX, valid, ["r", "q"], start)
    assert list(np.flatnonzero(got[:, 0])) == [2, 3, 5] and not got[:, 1].any()
    assert exposure.exposure_mask(None, IDX, valid, ["r", "q"], start) is None


def test_exposed_pool_averages_the_exposed_episodes_only():
    """Two windows open together: one holds (+10%, -5%), the other is flat (0, 0). Calendar time halves
    the moves; the exposed series keeps them."""
    v = np.array([[0.10, 0.0], [-0.05, 0.0], [0.0, np.nan]])
    e = np.array([[True, False], [True, False], [False, False]])
    pooled, rows = exposure.exposed_pool(v, e, 1, 2, np.ones((3, 2), bool))
    assert list(rows) == [0, 1] and pooled[:, 0].tolist() == [0.10, -0.05]


def test_score_strategy_writes_the_exposed_risk_figures():
    from test_scoring_score_strategy import A, B, C

    cols = [f"r0{w}" for w in "abc"]
    # the run of window a holds over its last two periods only (bought at the close of its 2nd period)
    orders = pd.DataFrame({"run": ["r0a"], "symbol": ["X"], "side": ["buy"], "size": [1.0], "fill_time": [IDX[1]]})
    out = score_strategy(sweep({(0, "a"): A, (0, "b"): B, (0, "c"): C}, 1, orders=orders), **KW)
    m = out["pooled"][0]["metrics"]
    # a's periods 3 and 4 (IDX[2], IDX[3]) are exposed; b overlaps at IDX[2..3] but holds nothing
    assert m["exposed_periods"] == 2
    r = np.array(A[2:4])
    wealth = np.cumprod(1 + r)
    assert m["exposed_max_drawdown"] == pytest.approx(min(0.0, np.min(wealth / np.maximum.accumulate(np.maximum(wealth, 1.0)) - 1)))
    assert m["exposed_volatility"] == pytest.approx(np.std(r, ddof=1))
    assert m["exposed_value_at_risk"] == pytest.approx(np.quantile(r, 0.05))
    assert cols[0] in {x["id"] for x in out["runs"]}


def test_the_annualization_rule_in_one_place():
    assert registry.shown_value("sharpe", 5.58, 27, 252.0) == (pytest.approx(5.58 / math.sqrt(252)), "per period")
    assert registry.shown_value("sharpe", 5.58, 252, 252.0) == (5.58, "annualized")
    assert registry.shown_value("calmar", 2.0, 27, 252.0) == (None, "not shown")
    assert registry.shown_value("total_return", 0.1, 27, 252.0) == (0.1, "as is")
    assert registry.shown_label("sharpe", "per period") == "Sharpe / period"
    assert not registry.annualizes(None, 252.0) and registry.annualizes(365, 365.0)


def test_ranking_json_follows_the_annualization_rule():
    from test_scoring_score_strategy import A, B, C

    half = {k: [x / 2 for x in v] for k, v in (("a", A), ("b", B), ("c", C))}
    out = score_strategy(sweep({(0, "a"): A, (0, "b"): B, (0, "c"): C, **{(1, k): v for k, v in half.items()}}, 2), **KW)
    rec = out["summary"]["ranking"][0]
    p = next(x for x in out["pooled"] if x["combo"] == rec["combo"])
    n, sharpe = p["metrics"]["n_periods"], p["metrics"]["sharpe"]
    assert n < 252 and rec["metric"] == "sharpe" and rec["scale"] == "per period" and rec["n_periods"] == n
    assert rec["value"] == pytest.approx(sharpe / math.sqrt(252)) and "sharpe" not in rec
