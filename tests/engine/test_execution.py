"""Next-bar execution, costs and FX valuation on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.data.frames import daily_bars
from backtests.data.market_data import MarketData, SymbolInfo
from backtests.engine.costs import SymbolCosts
from backtests.engine.rules import Rules
from backtests.engine.simulate import simulate
from backtests.time.windows import Event, make_window

CASH = 1_000_000.0


def us_bars(dates, opens, closes) -> pd.DataFrame:
    return daily_bars(pd.DataFrame({"open": opens, "close": closes}, index=pd.DatetimeIndex(dates)), "XNYS")


def us_data(**extra) -> MarketData:
    dates = ["2026-06-16", "2026-06-17", "2026-06-18", "2026-06-22", "2026-06-23", "2026-06-24", "2026-06-25"]
    bars = us_bars(dates, [100, 101, 102, 103, 104, 110, 120], [100.5, 101.5, 102.5, 103.5, 105, 111, 119])
    return MarketData({"A": bars}, {"A": SymbolInfo("A", "XNYS")}, **extra)


def window(market="XNYS", date="2026-06-22", pre=2, post=3, timing="before_open"):
    return make_window(Event("w", "w", "custom", market, pd.Timestamp(date), timing), pre, post)


def weights(index, values, symbols=("A",), combos=1) -> pd.DataFrame:
    cols = pd.MultiIndex.from_product([range(combos), list(symbols)])
    return pd.DataFrame(np.asarray(values, dtype=float).reshape(len(index), -1), index=index, columns=cols)

def sim(md, w, n, windows, symbols=("A",), costs=None, keep_weights=True, **settings):
    """``simulate`` under the rules of ``symbols`` (free of costs unless ``costs``) and ``settings``."""
    rules = Rules.build(md.info, list(symbols), costs=costs, **settings)
    return simulate(md, w, n, windows, rules, keep_weights=keep_weights)



def test_decision_at_close_fills_at_next_open_and_window_end_exits_at_close():
    md = us_data()
    idx = md.bars["A"].index
    # decide at the close of 06-22 (row 3): go 100% long
    w = weights(idx, [0, 0, 0, 1, 1, 1, 1])
    (res,) = sim(md, w, 1, [window()])
    stamps = pd.DatetimeIndex(res.stamps, tz="UTC")
    assert stamps[0].date().isoformat() == "2026-06-17"  # first bar after the window opened
    orders = res.orders
    assert list(orders["side"]) == ["buy", "sell"]
    assert orders["price"].tolist() == [104.0, 119.0]  # 06-23 open, then the last bar's close
    units = CASH / 104.0
    value_0623 = units * 105.0
    rets = res.returns[:, 0]
    assert rets[3] == pytest.approx(value_0623 / CASH - 1, rel=1e-12)  # 06-23 row
    assert rets[4] == pytest.approx(111.0 / 105.0 - 1, rel=1e-12)
    assert rets[5] == pytest.approx(119.0 / 111.0 - 1, rel=1e-12)
    assert np.prod(1 + rets) - 1 == pytest.approx(119.0 / 104.0 - 1, rel=1e-12)
    assert res.stats["entries"][0] == 1


def test_fill_at_close_mode_uses_the_next_bars_close():
    md = us_data()
    idx = md.bars["A"].index
    (res,) = sim(md, weights(idx, [0, 0, 0, 1, 1, 1, 1]), 1, [window()], fill="close")
    assert res.orders["price"].tolist()[0] == 105.0


def test_decision_after_a_bar_opened_fills_at_its_close_not_its_open():
    md = us_data()
    # a decision at 15:00 UTC on 06-23 (after the 13:30 UTC open) cannot use 06-23's open
    stamp = pd.Timestamp("2026-06-23 15:00", tz="UTC")
    idx = md.bars["A"].index.union(pd.DatetimeIndex([stamp]))
    vals = [0, 0, 0, 0, 1, 1, 1, 1]  # row 4 is the 15:00 decision
    (res,) = sim(md, weights(idx, vals), 1, [window()])
    assert res.orders["price"].tolist()[0] == 105.0
    assert pd.Timestamp(res.stamps[res.orders["row"][0]], tz="UTC").date().isoformat() == "2026-06-23"


def test_commission_sell_tax_and_slippage():
    md = us_data()
    idx = md.bars["A"].index
    cost = SymbolCosts(commission=0.001, sell_tax=0.002, slippage=0.01, borrow_rate=0.0)
    (res,) = sim(md, weights(idx, [0, 0, 0, 1, 1, 1, 1]), 1, [window()], ["A"], {"A": cost})
    buy, sell = res.orders.iloc[0], res.orders.iloc[1]
    assert buy["price"] == pytest.approx(104.0 * 1.01)
    assert sell["price"] == pytest.approx(119.0 * 0.99)
    assert buy["fees"] == pytest.approx(buy["size"] * buy["price"] * 0.001, rel=1e-9)
    assert sell["fees"] == pytest.approx(sell["size"] * sell["price"] * 0.003, rel=1e-9)  # tax on sells only
    final = CASH * np.prod(1 + res.returns[:, 0])
    expected_cash = CASH - buy["size"] * buy["price"] - buy["fees"] + sell["size"] * sell["price"] - sell["fees"]
    assert final == pytest.approx(expected_cash, rel=1e-10)


def test_short_pays_borrow_per_calendar_time():
    md = us_data()
    idx = md.bars["A"].index
    cost = SymbolCosts(0.0, 0.0, 0.0, borrow_rate=0.365)
    flat_price = us_bars(md.bars["A"].index.tz_convert("America/New_York").tz_localize(None).normalize(),
                         [100.0] * 7, [100.0] * 7)
    md = MarketData({"A": flat_price}, {"A": SymbolInfo("A", "XNYS")})
    (res,) = sim(md, weights(idx, [0, 0, 0, -1, -1, -1, -1]), 1, [window()], ["A"], {"A": cost})
    # held short from 06-23 open; borrow accrues over 06-23->06-24 and 06-24->06-25 (1 day each)
    per_day = 0.365 / 365.25
    rets = res.returns[:, 0]
    assert rets[4] == pytest.approx(-per_day, rel=1e-6)
    assert rets[5] == pytest.approx(-per_day, rel=1e-6)


def test_krw_asset_is_valued_in_usd_through_fx_known_at_its_close():
    dates = pd.DatetimeIndex(["2026-06-19", "2026-06-22", "2026-06-23", "2026-06-24", "2026-06-25"])
    krw = daily_bars(pd.DataFrame({"open": [10000.0] * 5, "close": [10000.0] * 5}, index=dates), "XKRX")
    fx = daily_bars(pd.DataFrame({"close": [1000.0, 1000.0, 1250.0, 1000.0, 1000.0]}, index=dates), "XKRX")
    md = MarketData({"H": krw, "KRW=X": fx}, {"H": SymbolInfo("H", "XKRX", "KRW"), "KRW=X": SymbolInfo("KRW=X", "XKRX", "KRW", "fx")},
                    fx={"KRW": "KRW=X"})
    usd = md.to_usd("H")
    assert usd.tolist() == [10.0, 10.0, 8.0, 10.0, 10.0]
    idx = krw.index
    w = make_window(Event("k", "k", "custom", "XKRX", pd.Timestamp("2026-06-22"), "before_open"), 1, 3)
    (res,) = sim(md, weights(idx, [1, 1, 1, 1, 1], ("H",)), 1, [w], ["H"])
    # the first decision (06-19 close) fills at 06-22's open (10 USD); valued at 8 USD when KRW
    # weakened on 06-23, back to 10 on 06-24
    rets = res.returns[:, 0]
    assert rets[1] == pytest.approx(0.0)
    assert rets[2] == pytest.approx(-0.2)
    assert rets[3] == pytest.approx(0.25)


def test_open_price_is_converted_with_the_rate_known_at_the_open():
    dates = pd.DatetimeIndex(["2026-06-22", "2026-06-23"])
    krw = daily_bars(pd.DataFrame({"open": [10000.0, 10000.0], "close": [10000.0, 10000.0]}, index=dates), "XKRX")
    fx = daily_bars(pd.DataFrame({"close": [1000.0, 1250.0]}, index=dates), "XKRX")
    md = MarketData({"H": krw, "KRW=X": fx},
                    {"H": SymbolInfo("H", "XKRX", "KRW"), "KRW=X": SymbolInfo("KRW=X", "XKRX", "KRW", "fx")},
                    fx={"KRW": "KRW=X"})
    # 06-23's open (00:00 UTC) only knows 06-22's Seoul-close rate (1000); its close knows 1250
    assert md.to_usd("H", "open").tolist() == [pytest.approx(np.nan, nan_ok=True), 10.0]
    assert md.to_usd("H", "close").tolist() == [10.0, 8.0]


def test_decision_while_market_closed_waits_for_the_next_session():
    # KRX is shut 2025-01-27..30; a decision on the New York close of 01-27 fills on 01-31's open.
    k_dates = pd.DatetimeIndex(["2025-01-22", "2025-01-23", "2025-01-24", "2025-01-31", "2025-02-03"])
    h = daily_bars(pd.DataFrame({"open": [1.0, 2, 3, 4, 5], "close": [1.5, 2.5, 3.5, 4.5, 5.5]}, index=k_dates), "XKRX")
    u_dates = pd.DatetimeIndex(["2025-01-24", "2025-01-27", "2025-01-28", "2025-01-29", "2025-01-30", "2025-01-31"])
    u = daily_bars(pd.DataFrame({"close": [10.0] * 6}, index=u_dates), "XNYS")
    md = MarketData({"H": h, "U": u}, {"H": SymbolInfo("H", "XKRX"), "U": SymbolInfo("U", "XNYS")})
    idx = md.index
    vals = (idx >= pd.Timestamp("2025-01-27 21:00", tz="UTC")).astype(float)
    w = make_window(Event("d", "d", "custom", "XKRX", pd.Timestamp("2025-01-23"), "before_open"), 1, 3)
    (res,) = sim(md, weights(idx, vals, ("H",)), 1, [w], ["H"])
    first = res.orders.iloc[0]
    assert first["price"] == 4.0
    assert pd.Timestamp(res.stamps[first["row"]], tz="UTC") == pd.Timestamp("2025-01-31 06:30", tz="UTC")


def test_combos_and_windows_are_independent_columns():
    md = us_data()
    idx = md.bars["A"].index
    w = weights(idx, np.column_stack([[0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0.5, 0.5, 0.5, 0.5]]), combos=2)
    res = sim(md, w, 2, [window(), window(pre=1, post=2)])
    r0 = res[0].returns
    # half the weight -> (approximately) half the first-day move, computed independently
    assert r0[3, 1] == pytest.approx(0.5 * (105 / 104 - 1), rel=1e-9)
    # the shorter window (06-18..06-24) enters at 06-23's open and exits at 06-24's close
    assert np.prod(1 + res[1].returns[:, 0]) - 1 == pytest.approx(111 / 104 - 1, rel=1e-12)
