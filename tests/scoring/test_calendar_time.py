"""Calendar-time pooling on one clock: one shock seen from two markets, both episodes holding the
same New York asset, pools to that asset's own return (worked by hand, to 1e-12)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.data.frames import daily_bars
from backtests.data.market_data import MarketData, SymbolInfo
from backtests.engine.results import RUN_STATS
from backtests.engine.rules import Rules
from backtests.engine.simulate import simulate
from backtests.scoring import calendar_pool, open_mask, spans_of
from backtests.scoring.evaluate import StrategyRuns, score_strategy
from backtests.time.windows import Event, make_window

NY_DAYS = pd.date_range("2026-04-06", "2026-04-24", freq="B")  # no holiday in New York or Seoul
X_CLOSE = 100.0 * np.cumprod(1 + np.tile([0.03, -0.02, 0.05, -0.04, 0.01], 3))


def data() -> MarketData:
    # X opens at the previous close: a position bought at an open earns the same move that day as
    # one held since the previous close
    x = pd.DataFrame({"open": np.concatenate([[100.0], X_CLOSE[:-1]]), "close": X_CLOSE}, index=NY_DAYS)
    s = pd.DataFrame({"open": 50.0, "close": 50.0}, index=NY_DAYS)
    return MarketData({"X": daily_bars(x, "XNYS"), "S": daily_bars(s, "XKRX")},
                      {"X": SymbolInfo("X", "XNYS"), "S": SymbolInfo("S", "XKRX")})


# the New York episode (sessions 04-09..04-17) and the Seoul one (04-13..04-21): one shock
NEW_YORK = make_window(Event("ny", "ny", "custom", "XNYS", pd.Timestamp("2026-04-13"), "before_open", shock="s"), 2, 4)
SEOUL = make_window(Event("kr", "kr", "custom", "XKRX", pd.Timestamp("2026-04-15"), "before_open", shock="s"), 2, 4)


def episodes(md: MarketData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold 100% of X in both windows; the strategy reads X and the Seoul series S (its clock)."""
    clock = md.index  # X's New York closes and S's Seoul closes
    weights = pd.DataFrame(1.0, index=clock, columns=pd.MultiIndex.from_product([[0], ["X"]]))
    rules = Rules.build(md.info, ["X"])
    results = simulate(md, weights, 1, [NEW_YORK, SEOUL], rules)
    stamps = np.unique(np.concatenate([r.stamps for r in results]))
    returns = pd.DataFrame(np.nan, index=pd.DatetimeIndex(stamps, tz="UTC"), columns=["ny", "kr"])
    for col, r in zip(returns.columns, results):
        returns.loc[pd.DatetimeIndex(r.stamps, tz="UTC"), col] = r.returns[:, 0]
    runs = pd.DataFrame({"combo": [0, 0], "window": ["ny", "kr"], "ppy": rules.clock.periods_per_year,
                         **{s.name: np.concatenate([s.column(r.stats[s.name]) for r in results])
                            for s in RUN_STATS if not s.paired_only}}, index=pd.Index(["ny", "kr"], name="id"))
    return returns, runs


def test_both_episodes_are_marked_on_the_assets_clock():
    md = data()
    returns, _ = episodes(md)
    ny_closes = md.require("X").index
    assert returns.index.isin(ny_closes).all()  # never at a Seoul close: X has no price there
    # each day of the union span is one row; the Seoul episode has a return wherever it is open
    assert returns.index.equals(ny_closes[(ny_closes > NEW_YORK.start_utc) & (ny_closes <= SEOUL.end_utc)])
    assert returns["kr"].notna().sum() == SEOUL.contains(ny_closes).sum()


def test_two_markets_holding_one_asset_pool_to_its_return_over_their_union_span():
    md = data()
    returns, runs = episodes(md)
    is_open = open_mask(returns.index, spans_of([NEW_YORK, SEOUL]))
    pooled, rows = calendar_pool(returns.to_numpy(), 1, 2, is_open)
    x = md.require("X")["close"]
    # bought at the 04-10 open (= the 04-09 close, after the first decision at the 04-09 close);
    # the last position is sold at the 04-20 close (the Seoul window's last New York bar)
    want = x[pd.Timestamp("2026-04-20 20:00", tz="UTC")] / x[pd.Timestamp("2026-04-09 20:00", tz="UTC")] - 1.0
    assert np.prod(1.0 + pooled[:, 0]) - 1.0 == pytest.approx(want, abs=1e-12)
    # each day the asset's move once (not twice at half weight): the episodes agree at every common row
    both = returns.notna().all(axis=1).to_numpy()
    assert both.sum() == 5  # the New York closes of 04-13..04-17
    np.testing.assert_allclose(returns["ny"][both], returns["kr"][both], rtol=0, atol=1e-12)
    # the scoring stage's pooled record is that series, annualized on the asset's 252 sessions
    sr = StrategyRuns("s", "s", returns, None, runs, pd.DataFrame({"k": [0]}), 0, windows=[NEW_YORK, SEOUL])
    out = score_strategy(sr, risk_free=0.0, rank_by="sharpe", pbo_blocks=2, n_resamples=10, confidence=0.9,
                         seed=1, min_train_clusters=1)
    rec = out["pooled"][0]["metrics"]
    assert rec["total_return"] == pytest.approx(want, abs=1e-12)
    assert rec["n_periods"] == len(rows) == len(returns)
    assert out["summary"]["periods_per_year"] == 252.0 and out["summary"]["n_clusters"] == 1
