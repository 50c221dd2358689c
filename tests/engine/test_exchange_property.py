"""Property: over 10^5 random orders on a day with rule-derived halts, no fill falls inside a halt,
no sell fills into a limit-down lock, and every fill is priced inside the day's price limits.

The engine runs on 1-minute bars of KODEX 200 (the day of tests/engine/crash_day.py, with bars
that keep printing flat during the halt so that an engine ignoring the state would fill there, and
a limit-down lock at 70 = 100 x 0.7 from 15:00 to 15:20); the state comes from the rules applied
to the 1-minute KOSPI bars (halt 13:06-13:26, call auction to 13:36) and to KODEX's own bars.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.data.market_data import MarketData, SymbolInfo
from backtests.engine.rules import Rules
from backtests.engine.simulate import simulate
from backtests.engine.state import StateSettings, build_state
from backtests.time.windows import Event, make_window

from crash_day import DAY, KODEX, KS, kst, minute_bars

PREV = "2026-06-22"
HALT, PRINT = kst("13:06"), kst("13:36")
LOCK_FROM, LOCK_TO = kst("15:00"), kst("15:20")
LO, HI = 70.0, 130.0  # +-30% of the previous close 100


def data() -> MarketData:
    ks = pd.concat([minute_bars(PREV, [("09:00", "15:30", 10000.0, 10000.0)]),
                    minute_bars(DAY, [("09:00", "13:05", 10000.0, 10000.0), ("13:05", "15:30", 9150.0, 9150.0)])])
    kx = pd.concat([minute_bars(PREV, [("09:00", "15:30", 100.0, 100.0)]),
                    minute_bars(DAY, [("09:00", "13:05", 100.0, 100.0), ("13:05", "13:36", 97.0, 97.0),
                                      ("13:36", "15:00", 96.0, 96.0), ("15:00", "15:20", 70.0, 70.0),
                                      ("15:20", "15:30", 80.0, 80.0)])])
    info = {KODEX: SymbolInfo(KODEX, "XKRX", "USD", "etf"), KS: SymbolInfo(KS, "XKRX", "USD", "index")}
    return MarketData(bars={KODEX: kx}, info=info, frequency="1min", intraday={KS: ks, KODEX: kx})


def random_orders(n_combos: int, n_stamps: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lo, hi = kst("09:00").value, kst("15:30").value
    stamps = np.unique(lo + rng.integers(0, (hi - lo) // 10**9, n_stamps) * 10**9)
    vals = np.round(rng.uniform(-1.0, 1.0, (len(stamps), n_combos)), 2)
    vals[rng.random(vals.shape) < 0.5] = np.nan  # half the stamps leave a combination's target as it is
    cols = pd.MultiIndex.from_product([range(n_combos), [KODEX]], names=["combo", "symbol"])
    return pd.DataFrame(vals, index=pd.DatetimeIndex(stamps, tz="UTC"), columns=cols)


def trade_instants(res) -> np.ndarray:
    """The instant of the print each fill takes: an open fill's instant, a fill at a bar's close the
    bar's last instant (1 ns before its stamp: the close is the last trade of the bar), an auction
    print its uncross."""
    o = res.orders
    t = o["fill_time"].to_numpy(dtype=np.int64)
    at_close = (t == res.stamps[o["row"].to_numpy()]) & (o["fill_kind"].to_numpy() != "open") & (t != PRINT.value)
    return np.where(at_close, t - 1, t)


def simulate_orders(enabled: bool, n_combos: int = 400, n_stamps: int = 600, seed: int = 7):
    d = data()
    win = make_window(Event(id="w", label="w", kind="test", market="XKRX", date=pd.Timestamp(DAY)), 1, 0)
    state = build_state(d, None, [(win.start_utc, win.end_utc)], [KODEX], StateSettings(enabled=enabled))
    rules = Rules.build(d.info, [KODEX], frequency="1min", state=state, on_unfillable="clip", max_leverage=2.0)
    w = random_orders(n_combos, n_stamps, seed)
    (res,) = simulate(d, w, n_combos, [win], rules)
    return res, w


def test_no_fill_in_a_halt_or_into_a_lock_and_every_price_inside_the_limits():
    res, w = simulate_orders(True)
    decisions = int(w.notna().to_numpy().sum())
    assert decisions >= 100_000
    o = res.orders
    t = trade_instants(res)
    assert len(o) > 20_000
    assert not ((t >= HALT.value) & (t < PRINT.value)).any()
    sells = o["side"].to_numpy() == "sell"
    assert not (sells & (t >= LOCK_FROM.value) & (t < LOCK_TO.value)).any()
    px = o["price"].to_numpy()
    assert ((px >= LO) & (px <= HI)).all()
    # the orders held back by the halt all fill at its reopening print, as auctions
    at_print = o["fill_time"].to_numpy(dtype=np.int64) == PRINT.value
    assert at_print.sum() > 100 and (o.loc[at_print, "fill_kind"] == "auction").all()
    assert res.stats["n_locked"].sum() > 0


def test_the_property_can_fail_an_engine_without_state_fills_inside_the_halt():
    res, _ = simulate_orders(False, n_combos=20, n_stamps=300)
    t = trade_instants(res)
    sells = res.orders["side"].to_numpy() == "sell"
    assert ((t >= HALT.value) & (t < PRINT.value)).any()
    assert (sells & (t >= LOCK_FROM.value) & (t < LOCK_TO.value)).any()
