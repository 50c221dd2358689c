"""'Traded' is a position the strategy chose: an episode of a rotation that never left its resting
sleeve is not a trade (hand-built: a BTC/ETH-like sleeve that rotates into a stablecoin in 2 of 5
windows reports 2 traded, where 'any fill' said 5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.data.frames import daily_bars
from backtests.data.market_data import MarketData, SymbolInfo
from backtests.engine.rules import Rules
from backtests.engine.simulate import simulate
from backtests.errors import StrategyError
from backtests.scoring.evaluate import StrategyRuns, score_strategy
from backtests.strategy.base import Role, Strategy
from backtests.strategy.calls import resting_targets
from backtests.strategy.params import FloatParam
from backtests.time.windows import Event, make_window

SYMS = ["R", "E", "S"]
DATES = pd.date_range("2026-01-01", periods=80, freq="D")
REST = [0.6, 0.4, 0.0]  # the resting sleeve: 60% R, 40% E


def market() -> MarketData:
    rng = np.random.default_rng(0)
    bars = {}
    for s in SYMS:
        c = np.ones(80) if s == "S" else 100 * np.cumprod(1 + rng.normal(0, 0.01, 80))
        bars[s] = daily_bars(pd.DataFrame({"open": c, "close": c}, index=DATES), "CRYPTO")
    return MarketData(bars, {s: SymbolInfo(s, "CRYPTO") for s in SYMS})


WINDOWS = [make_window(Event(f"w{k}", f"w{k}", "custom", "CRYPTO", DATES[10 + 14 * k], "intraday"), 3, 6)
           for k in range(5)]


def rotation_weights(md: MarketData, rotate_in: tuple[int, ...]) -> pd.DataFrame:
    """Resting sleeve everywhere; all in S for two days around the event of the windows ``rotate_in``."""
    w = np.tile(REST, (len(DATES), 1))
    for k in rotate_in:
        d = 10 + 14 * k
        w[d:d + 2] = [0.0, 0.0, 1.0]
    return pd.DataFrame(w, index=md.bars["R"].index, columns=pd.MultiIndex.from_product([[0], SYMS]))


def test_a_rotation_that_fires_in_2_of_5_windows_reports_2_traded():
    md = market()
    rules = Rules.build(md.info, SYMS)
    res = simulate(md, rotation_weights(md, (1, 3)), 1, WINDOWS, rules, neutral=np.array([REST]))
    assert [int(r.stats["chosen"][0]) for r in res] == [0, 1, 0, 1, 0]
    assert all(r.stats["n_orders"][0] > 0 for r in res)  # every episode filled orders: "any fill" said 5 of 5
    # the resting sleeve declared flat (the default): every episode that held anything traded
    flat = simulate(md, rotation_weights(md, (1, 3)), 1, WINDOWS, rules)
    assert [int(r.stats["chosen"][0]) for r in flat] == [1, 1, 1, 1, 1]
    # scoring reads the engine's statistic: 2 traded of 5 events
    ids = [f"run_{w.id}" for w in WINDOWS]
    index = pd.DatetimeIndex(np.unique(np.concatenate([r.stamps for r in res])), tz="UTC")
    returns = pd.DataFrame(np.nan, index=index, columns=ids)
    for rid, r in zip(ids, res):
        returns.loc[pd.DatetimeIndex(r.stamps, tz="UTC"), rid] = r.returns[:, 0]
    runs = pd.DataFrame({"combo": 0, "window": [w.id for w in WINDOWS], "ppy": 365.0,
                         **{k: [r.stats[k][0] for r in res] for k in ("entries", "n_orders", "exposure", "turnover",
                                                                       "chosen")}}, index=pd.Index(ids, name="id"))
    out = score_strategy(StrategyRuns("rot", "rot", returns, None, runs, pd.DataFrame({"k": [0]}), 0, windows=WINDOWS),
                         risk_free=0.0, rank_by="total_return", pbo_blocks=2, n_resamples=50, confidence=0.95, seed=0)
    assert out["pooled"][0]["events"]["n_traded"] == 2 and out["pooled"][0]["events"]["n_events"] == 5
    el = out["summary"]["event_level"]["0"]
    assert el["n_traded"] == 2 and [e["traded"] for e in el["episodes"]] == [False, True, False, True, False]


def test_the_forced_exit_at_the_window_end_is_not_a_choice():
    md = market()
    rules = Rules.build(md.info, SYMS, exit_at_window_end=True)
    res = simulate(md, rotation_weights(md, ()), 1, WINDOWS[:2], rules, neutral=np.array([REST]))
    assert [int(r.stats["chosen"][0]) for r in res] == [0, 0]  # the sell to flat at the end is the engine's


class Sleeve(Strategy):
    name = "sleeve"
    roles = {"a": Role("R"), "b": Role("R"), "c": Role("S"), "sig": Role("E", traded=False)}
    weight = FloatParam(0.5, low=0.0, high=1.0)

    def resting_weights(self, **params):
        return {"a": params["weight"], "b": 0.25}


def test_resting_weights_per_combination_roles_sharing_a_symbol_add_up():
    grid = pd.DataFrame({"weight": [0.5, 0.2]})
    got = resting_targets(Sleeve(), "sleeve", grid)
    assert Sleeve().traded_symbols == ["R", "S"]
    np.testing.assert_allclose(got, [[0.75, 0.0], [0.45, 0.0]])


def test_a_neutral_naming_a_read_only_role_is_the_plugins_error():
    class Bad(Sleeve):
        def resting_weights(self, **params):
            return {"sig": 1.0}

    with pytest.raises(StrategyError, match="not traded"):
        resting_targets(Bad(), "bad", pd.DataFrame({"weight": [0.5]}))
