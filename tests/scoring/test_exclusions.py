"""A window without its signal (a declared series missing throughout it) is left out of the event
statistics and the pooled series, with a named warning; its run stays."""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.data.frames import daily_bars
from backtests.data.market_data import MarketData, SymbolInfo
from backtests.scoring import exclusions
from backtests.scoring.evaluate import score_strategy
from backtests.strategy.base import Role, Strategy
from backtests.time.windows import Event, make_window

from test_scoring_score_strategy import A, B, C, KW, sweep


class Reads(Strategy):
    name = "reads"
    roles = {"x": Role("X", series=("close", "liq")), "y": Role("Y", traded=False, series=("close",))}


def test_a_series_missing_throughout_a_window_is_found():
    dates = pd.date_range("2025-04-01", periods=60, freq="D")
    liq = np.where(dates < pd.Timestamp("2025-05-11"), 1.0, np.nan)  # the source stopped on 2025-05-11
    x = daily_bars(pd.DataFrame({"close": np.linspace(100, 110, 60), "liq": liq}, index=dates), "CRYPTO")
    y = daily_bars(pd.DataFrame({"close": np.ones(60)}, index=dates), "CRYPTO")
    md = MarketData({"X": x, "Y": y}, {"X": SymbolInfo("X", "CRYPTO"), "Y": SymbolInfo("Y", "CRYPTO")})
    before = make_window(Event("before", "b", "custom", "CRYPTO", pd.Timestamp("2025-04-20"), "intraday"), 3, 5)
    after = make_window(Event("after", "a", "custom", "CRYPTO", pd.Timestamp("2025-05-20"), "intraday"), 3, 5)
    got = exclusions.missing_signals(md, Reads(), [before, after])
    assert got == {"after": [("x", "X", "liq")]}
    (n,) = exclusions.notices(got, "reads")
    assert (n.code, n.window, n.symbol, n.strategy) == ("signal_missing", "after", "X", "reads")
    assert exclusions.reasons(got)["after"].startswith("signal_missing: liq of X (x)")


def test_an_excluded_window_is_not_an_event_nor_a_pooled_period():
    values = {(0, "a"): A, (0, "b"): B, (0, "c"): C}
    full = score_strategy(sweep(values, 1), **KW)
    out = score_strategy(sweep(values, 1, excluded={"c": "signal_missing: liq of X (x) has no value"}), **KW)
    ev, el = out["pooled"][0]["events"], out["summary"]["event_level"]["0"]
    assert (ev["n_events"], el["n_events"], el["n_excluded"]) == (2, 2, 1)
    assert el["excluded"] == [{"window": "c", "reason": "signal_missing: liq of X (x) has no value"}]
    assert el["mean"] == np.mean([np.prod(1 + np.array(A)) - 1, np.prod(1 + np.array(B)) - 1])
    c = next(e for e in el["episodes"] if e["window"] == "c")
    assert c["excluded"].startswith("signal_missing") and c["return"] is not None  # the run's own result stays
    # window c's periods are gone from the pooled series
    assert out["pooled"][0]["metrics"]["n_periods"] == full["pooled"][0]["metrics"]["n_periods"] - len(C)
    assert out["summary"]["n_events"] == 2 and out["summary"]["excluded"][0]["window"] == "c"
    assert len(out["runs"]) == 3
