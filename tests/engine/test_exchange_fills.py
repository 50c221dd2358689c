"""The engine obeys the exchange state: halts, reopening auctions, closing auctions, locked limits,
Level-3 days and short-sale bans, on hand-built bars with the expected fills worked by hand from
the KRX rule texts (docs/exchange.md). See tests/engine/crash_day.py for the day."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.data.market_data import MarketData, SymbolInfo
from backtests.engine.rules import Rules
from backtests.engine.schedule import UnfillableOrder
from backtests.engine.simulate import simulate
from backtests.engine.state import StateSettings, build_state
from backtests.exchange.short_sale import BorrowOverride
from backtests.time.windows import Event, make_window

from crash_day import DAY, KODEX, crash_data, daily, kst, minute_bars


def window(day: str = DAY, market: str = "XKRX", pre: int = 2, post: int = 5):
    return make_window(Event(id="w", label="w", kind="test", market=market, date=pd.Timestamp(day)), pre, post)


def run(data: MarketData, targets: dict[pd.Timestamp, float], symbol: str = KODEX, win=None,
        settings: StateSettings | None = None, events: pd.DataFrame | None = None, **kw):
    """One combination's target ``{decision instant: weight}`` on ``symbol`` over ``win``."""
    win = win or window()
    state = build_state(data, events, [(win.start_utc, win.end_utc)], [symbol], settings)
    rules = Rules.build(data.info, [symbol], entry="change", state=state, **kw)
    idx = pd.DatetimeIndex(sorted(targets))
    w = pd.DataFrame({(0, symbol): [targets[t] for t in idx]}, index=idx)
    w.columns = pd.MultiIndex.from_tuples(w.columns, names=["combo", "symbol"])
    (res,) = simulate(data, w, 1, [win], rules)
    return res


def fills(res) -> list[tuple[pd.Timestamp, str, float, str]]:
    o = res.orders
    return [(pd.Timestamp(int(t), tz="UTC"), k, round(float(p), 6), s)
            for t, k, p, s in zip(o["fill_time"], o["fill_kind"], o["price"], o["side"])]


def codes(res) -> dict[str, int]:
    return {n["code"]: n["count"] for n in res.notices}


# ---------------------------------------------------------------------------- halts and auctions
def test_decision_in_the_halt_fills_at_the_reopening_print():
    # halt 13:06-13:26, call auction 13:26-13:36 (rule: 20 + 10 minutes); first print 93 at 13:36
    res = run(crash_data(), {kst("13:10"): 1.0})
    assert fills(res)[0] == (kst("13:36"), "auction", 93.0, "buy")
    assert res.stats["n_halted"][0] == 0 and res.stats["n_locked"][0] == 0


def test_decision_in_the_call_auction_fills_at_its_print():
    res = run(crash_data(), {kst("13:30"): 1.0})
    assert fills(res)[0] == (kst("13:36"), "auction", 93.0, "buy")


@pytest.mark.parametrize("clock", ["11:00", "13:40"])
def test_decision_in_continuous_trading_is_a_market_on_close_order(clock):
    res = run(crash_data(), {kst(clock): 1.0})
    assert fills(res)[0] == (kst("15:30"), "auction", 93.5, "buy")


def test_volatility_interruption_cut_by_the_halt_prints_at_the_reopening():
    # KODEX's 13:05 print (92) is 8% below the last (100): a dynamic VI (6% for a stock outside
    # KOSPI 200) opens a 2-minute call auction 13:05-13:07; the market halt from 13:06 cuts it, so
    # it never prints: an order placed at 13:05 fills at the reopening print, 13:36 at 93
    res = run(crash_data(), {kst("13:05"): 1.0})
    assert fills(res)[0] == (kst("13:36"), "auction", 93.0, "buy")


def test_without_intraday_bars_the_print_is_unknown_and_the_order_fills_at_the_close():
    res = run(crash_data(kodex_intraday=False), {kst("13:10"): 1.0})
    assert fills(res)[0] == (kst("15:30"), "auction", 93.5, "buy")
    assert codes(res)["auction_unpriced"] == 1


def test_state_off_fills_the_halt_decision_at_the_close():
    res = run(crash_data(), {kst("13:10"): 1.0}, settings=StateSettings(enabled=False))
    assert fills(res)[0] == (kst("15:30"), "auction", 93.5, "buy")


def test_catalogue_halt_places_the_halt_on_a_day_without_intraday_index_bars():
    # no KOSPI bars that day: the catalogue's 13:06 halt gives the same 13:06-13:26 halt and 13:36 print
    data = crash_data(kospi_intraday=minute_bars("2026-06-22", [("09:00", "15:30", 10000.0, 10000.0)]))
    ev = pd.DataFrame({"id": ["h"], "kind": ["krx_circuit_breaker"], "market": ["XKRX"], "date": [pd.Timestamp(DAY)],
                       "time_utc": [kst("13:06")], "time_rule": ["reported"]})
    res = run(data, {kst("13:10"): 1.0}, events=ev)
    assert fills(res)[0] == (kst("13:36"), "auction", 93.0, "buy")


def level3_day() -> pd.DataFrame:
    # -8.5% from 10:00: Level 1 at 10:01 (halt to 10:21, auction to 10:31); -16% from 11:00, also 1%
    # below Level 1's 9,150 (9,058.5): Level 2 at 11:01 (halt to 11:21, auction to 11:31); -21% from
    # 12:00, 1% below 8,400 (8,316): Level 3 at 12:01, trading ends for the day
    return minute_bars(DAY, [("09:00", "10:00", 10000.0, 10000.0), ("10:00", "11:00", 9150.0, 9150.0),
                             ("11:00", "12:00", 8400.0, 8400.0), ("12:00", "15:30", 7900.0, 7900.0)])


@pytest.mark.parametrize("clock", ["11:40", "12:30"])
def test_level_three_kills_the_day_and_the_order_is_sent_again_next_session(clock):
    res = run(crash_data(kospi_intraday=level3_day()), {kst(clock): 1.0})
    assert fills(res)[0] == (kst("09:00", "2026-06-24"), "open", 100.0, "buy")
    assert res.stats["n_halted"][0] == 1
    assert codes(res)["order_halted"] == 1


# ---------------------------------------------------------------------------- price limits
LOCKED_UP = {"2026-06-24": {"high": 121.55, "low": 110.0, "close": 121.55}}  # 93.5 x 1.3: the +30% limit


def test_buy_into_a_limit_locked_close_does_not_fill_and_is_sent_at_the_next_open():
    res = run(crash_data(kodex_days=LOCKED_UP), {kst("10:00", "2026-06-24"): 1.0})
    assert fills(res)[0] == (kst("09:00", "2026-06-25"), "open", 100.0, "buy")
    assert res.stats["n_locked"][0] == 1 and codes(res)["limit_locked"] == 1


def test_sell_at_a_limit_up_close_fills():
    res = run(crash_data(kodex_days=LOCKED_UP), {kst("10:00", "2026-06-22"): 1.0, kst("10:00", "2026-06-24"): 0.0})
    assert [f[:2] for f in fills(res)] == [(kst("15:30", "2026-06-22"), "auction"),
                                           (kst("15:30", "2026-06-24"), "auction")]
    assert res.stats["n_locked"][0] == 0


def test_locked_fill_share_fills_that_share_of_the_bar_volume():
    # 10% of the day's 1,000 units trade at the locked close; the rest at the next open
    res = run(crash_data(kodex_days=LOCKED_UP), {kst("10:00", "2026-06-24"): 1.0}, locked_fill_share=0.1)
    o = res.orders
    assert o["size"].iloc[0] == pytest.approx(100.0) and o["price"].iloc[0] == pytest.approx(121.55)
    assert pd.Timestamp(int(o["fill_time"].iloc[1]), tz="UTC") == kst("09:00", "2026-06-25")
    assert res.stats["n_locked"][0] == 1 and res.stats["n_clipped"][0] == 0


def test_a_refused_exit_at_the_window_end_is_named():
    # the window's last bar (06-30) closes locked down (100 x 0.7 = 70): the exit sell cannot fill
    data = crash_data(kodex_days={"2026-06-30": {"high": 80.0, "low": 70.0, "close": 70.0}})
    res = run(data, {kst("10:00", "2026-06-22"): 1.0})
    assert res.stats["n_locked"][0] == 1
    note = next(n for n in res.notices if n["code"] == "limit_locked")
    assert "exit(s) at the window's end could not fill" in note["message"]
    assert len(res.orders) == 1  # the buy only


# ---------------------------------------------------------------------------- short-sale bans
def krx_stock(symbol: str, start: str, end: str) -> MarketData:
    bars = daily("XKRX", start, end, open=100.0, high=100.0, low=100.0, close=100.0)
    return MarketData(bars={symbol: bars}, info={symbol: SymbolInfo(symbol, "XKRX", "USD", "equity")})


def test_short_during_a_ban_is_an_error_naming_the_ban():
    data = krx_stock("000660.KS", "2024-06-01", "2024-06-30")
    with pytest.raises(UnfillableOrder, match="krx_ban_2023_all") as exc:
        run(data, {kst("10:00", "2024-06-10"): -0.5}, symbol="000660.KS", win=window("2024-06-12"))
    assert exc.value.symbol == "000660.KS" and exc.value.combo == 0
    assert exc.value.stamp == kst("10:00", "2024-06-10")


def test_short_during_a_ban_with_clip_is_not_filled_and_counted():
    data = krx_stock("000660.KS", "2024-06-01", "2024-06-30")
    res = run(data, {kst("10:00", "2024-06-10"): 0.5, kst("10:00", "2024-06-12"): -0.5}, symbol="000660.KS",
              win=window("2024-06-12"), on_unfillable="clip")
    # the long is sold down to flat (a sale that is not short), the short part is refused
    assert [f[3] for f in fills(res)] == ["buy", "sell"]
    assert res.stats["n_short_banned"][0] == 1
    assert codes(res)["short_sale_banned"] == 1
    assert np.allclose(res.held[-1], 0.0)


def test_kospi200_member_could_short_in_2022_an_unknown_symbol_could_not():
    win = window("2022-06-15")
    ok = run(krx_stock("000660.KS", "2022-06-01", "2022-06-30"), {kst("10:00", "2022-06-13"): -0.5},
             symbol="000660.KS", win=win)
    assert fills(ok)[0][3] == "sell" and ok.stats["n_short_banned"][0] == 0
    data = krx_stock("123456.KS", "2022-06-01", "2022-06-30")
    with pytest.raises(UnfillableOrder, match="krx_ban_2021_partial"):
        run(data, {kst("10:00", "2022-06-13"): -0.5}, symbol="123456.KS", win=win)
    member = StateSettings(members=(("123456.KS", ("KOSPI200",)),))
    assert fills(run(data, {kst("10:00", "2022-06-13"): -0.5}, symbol="123456.KS", win=win,
                     settings=member))[0][3] == "sell"
    state = build_state(data, None, [(win.start_utc, win.end_utc)], ["123456.KS"])
    assert [n.code for n in state.notices] == ["index_membership_unknown"]


def test_borrow_override_forbids_a_short_the_regulator_allowed():
    data = krx_stock("000660.KS", "2026-06-01", "2026-06-30")
    win = window("2026-06-15")
    no_borrow = StateSettings(overrides=(BorrowOverride("000660.KS", "XKRX", "2026-06-10", "2026-06-20", False,
                                                        "recall"),))
    with pytest.raises(UnfillableOrder, match="borrow_unavailable: recall"):
        run(data, {kst("10:00", "2026-06-12"): -0.5}, symbol="000660.KS", win=win, settings=no_borrow)
    assert fills(run(data, {kst("10:00", "2026-06-12"): -0.5}, symbol="000660.KS", win=win))[0][3] == "sell"


def test_us_2008_ban_on_financials():
    bars = daily("XNYS", "2008-09-10", "2008-10-20", open=20.0, high=20.0, low=20.0, close=20.0)
    data = MarketData(bars={"BAC": bars}, info={"BAC": SymbolInfo("BAC", "XNYS")})
    win = window("2008-09-24", "XNYS")
    t = pd.Timestamp("2008-09-22 15:00", tz="UTC")
    with pytest.raises(UnfillableOrder, match="sec_ban_2008_financials"):
        run(data, {t: -0.5}, symbol="BAC", win=win, settings=StateSettings(financials=("BAC",)))
    assert fills(run(data, {t: -0.5}, symbol="BAC", win=win))[0][3] == "sell"  # not declared a financial
