"""The seed strategies on the embedded SYNTHETIC replay: each reacts to the shock it was built for."""

from __future__ import annotations

import pandas as pd
import pytest

from backtests.strategy import StrategyContext
from backtests.time.windows import load_builtin
from strategies.fade_kospi_halt import FadeKospiHalt
from strategies.memory_pair_earnings import MemoryPairEarnings
from strategies.stablecoin_rotation import StablecoinRotation
from strat_fixtures import changes, weights


@pytest.fixture(scope="module")
def synthetic():
    mod = pytest.importorskip("backtests.data.synthetic")
    return mod.generate(start="2025-01-02", end="2026-07-31")


@pytest.fixture(scope="module")
def events():
    return load_builtin().frame()


def test_fade_buys_after_the_synthetic_halt(synthetic, events):
    s = FadeKospiHalt()
    data = synthetic.select(list(s.symbols.values()))
    w = weights(s, data, {"use_catalogue": False, "hold": 2}, events=events)
    # the KRX rule applied to the synthetic 2026-06-23 KOSPI bars gives the halt; the fade decides at
    # the end of the bar that proves it (the bars are known at their ends)
    from backtests.exchange import krx_market_state

    bars = data.intraday["^KS11"]
    day = bars.loc["2026-06-22 23:00":"2026-06-23 07:00"]
    prev = float(data.bars["^KS11"]["close"].loc[:"2026-06-22 23:00"].iloc[-1])
    tl = krx_market_state(day, prev, "2026-06-23")
    fired = next(e.instant for e in tl.events if e.code == "cb_level1")
    halt = day.index[day.index.asi8 >= fired][0]
    c = changes(w)
    assert c.loc[halt, "069500.KS"] == 1.0
    assert c.loc["2026-06-25 06:30":"2026-06-25 06:30", "069500.KS"].eq(0.0).all()


def test_pair_trades_around_the_june_2026_report(synthetic, events):
    s = MemoryPairEarnings()
    data = synthetic.select(list(s.symbols.values()))
    w = weights(s, data, {"entry_z": 1.5, "exit_z": 0.5, "lookback": 60}, events=events)
    held = w.abs().sum(axis=1) > 0
    assert held.any()
    inside, _ = s.entry_windows(StrategyContext(data, s.symbols, events), 1, 3)
    assert not (held.to_numpy() & ~inside).any()


def test_rotation_is_safe_after_the_october_2025_cascade(synthetic, events):
    s = StablecoinRotation()
    data = synthetic.select(list(s.symbols.values()))
    w = weights(s, data, {"window": 1, "history": 90, "cooldown": 2}, events=events)
    assert w.loc[pd.Timestamp("2025-10-11", tz="UTC"), "USDT-USD"] == 1.0
    assert w.loc[pd.Timestamp("2025-10-09", tz="UTC"), "BTC-USD"] == 0.6
