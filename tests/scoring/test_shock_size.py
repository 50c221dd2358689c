"""Shock size (the first traded symbol's t = 0 move): missing with a reason, never a 0.0 standing in
for a bar that is not there (issue 21: 10 episodes of 2007-09 on a long fade study), and the slope
of return on shock size ignores the missing ones."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from backtests.data.frames import daily_bars
from backtests.data.market_data import MarketData, SymbolInfo
from backtests.scoring.evaluate_events import ShockSize, _t0_move, shock_fields
from backtests.time.calendars import sessions
from backtests.time.windows import Event, make_window

CRASH = pd.Timestamp("2024-08-05")  # an intraday event without a reported time: t = 0 is its session


def _bars(market: str, closes: dict[str, float]) -> pd.DataFrame:
    return daily_bars(pd.DataFrame({"close": list(closes.values())}, index=pd.DatetimeIndex(list(closes))), market)


def _data(kodex: dict[str, float]) -> MarketData:
    ny = {str(d.date()): 50.0 + i for i, d in enumerate(sessions("XNYS", "2024-07-29", "2024-08-09").index)}
    return MarketData(bars={"KODEX": _bars("XKRX", kodex), "EWY": _bars("XNYS", ny)},
                      info={"KODEX": SymbolInfo("KODEX", "XKRX"), "EWY": SymbolInfo("EWY", "XNYS")})


@pytest.fixture(scope="module")
def window():
    return make_window(Event("c", "crash", "custom", "XKRX", CRASH, "intraday"), 1, 3)


FULL = {"2024-08-01": 101.0, "2024-08-02": 100.0, "2024-08-05": 92.0, "2024-08-06": 95.0}


def test_shock_is_the_t0_close_over_the_t_minus_1_close(window):
    assert window.t0_session == CRASH and window.sessions[0] == pd.Timestamp("2024-08-02")
    got = _t0_move(_data(FULL), "KODEX", window)
    assert got == ShockSize(92.0 / 100.0 - 1.0) and got.reason is None
    # a New York symbol for a Seoul event: its last close before each Seoul close (New York's
    # 08-02 close, 54.0, lands between Seoul's 08-02 and 08-05 closes; 08-01's is 53.0)
    assert _t0_move(_data(FULL), "EWY", window).value == pytest.approx(54.0 / 53.0 - 1.0)


def test_no_bar_at_t0_is_missing_with_its_reason_not_zero(window):
    gap = {k: v for k, v in FULL.items() if k != "2024-08-05"}
    got = _t0_move(_data(gap), "KODEX", window)
    # the as-of price at both closes would be 08-02's 100.0: a 0.0 move that never happened
    assert got.value is None and got.reason == "no bar of KODEX at t = 0"
    assert shock_fields({"c": got}, "c") == {"shock": None, "shock_reason": "no bar of KODEX at t = 0"}


def test_no_bar_before_t0_is_missing_with_its_reason(window):
    late = {k: v for k, v in FULL.items() if k >= "2024-08-05"}
    got = _t0_move(_data(late), "KODEX", window)
    assert got.value is None and got.reason == "no bar of KODEX before t = 0"


def test_score_strategy_writes_null_shocks_with_reasons():
    from backtests.scoring.evaluate import score_strategy
    from test_scoring_score_strategy import A, B, C, KW, sweep

    shocks = {"a": ShockSize(-0.05), "b": ShockSize(None, "no bar of X at t = 0"), "c": ShockSize(0.03)}
    out = score_strategy(sweep({(0, "a"): A, (0, "b"): B, (0, "c"): C}, 1, shocks=shocks), **KW)
    eps = {e["window"]: e for e in out["summary"]["event_level"]["0"]["episodes"]}
    assert (eps["a"]["shock"], eps["a"]["shock_reason"]) == (-0.05, None)
    assert (eps["b"]["shock"], eps["b"]["shock_reason"]) == (None, "no bar of X at t = 0")
    assert (eps["c"]["shock"], eps["c"]["shock_reason"]) == (0.03, None)
    assert '"shock": null, "shock_reason": "no bar of X at t = 0"' in json.dumps(eps["b"], sort_keys=True)


def test_slope_ignores_missing_shocks():
    from backtests.scoring.episodes import shock_slope

    x = np.array([-0.04, np.nan, -0.10, -0.02])
    y = np.array([0.02, -0.01, 0.05, 0.00])
    fit = shock_slope(x, y, np.array([0, 1, 2, 3]), 0.95)
    slope = np.polyfit(x[[0, 2, 3]], y[[0, 2, 3]], 1)[0]  # OLS on the three episodes with a shock size
    assert fit["slope"] == pytest.approx(slope, rel=1e-12) and fit["n"] == 3
    # the 0.0 the old code recorded would have been a fourth point and another slope
    zero = np.polyfit(np.append(x[[0, 2, 3]], 0.0), np.append(y[[0, 2, 3]], -0.01), 1)[0]
    assert f"{zero:.2f}" != f"{slope:.2f}"
