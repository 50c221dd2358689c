"""Episodes, leverage with financing, valuation at the fill instant, fill kinds: hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.data.frames import daily_bars
from backtests.data.market_data import MarketData, SymbolInfo
from backtests.engine.costs import SymbolCosts
from backtests.engine.schedule import UnfillableOrder
from backtests.engine.rules import Rules
from backtests.engine.simulate import NS_PER_YEAR, simulate
from backtests.errors import ScareInputError
from backtests.time.windows import Event, make_window

FREE = SymbolCosts(commission=0.0, sell_tax=0.0, slippage=0.0, borrow_rate=0.0)
CASH = 1_000_000.0
US_DATES = ["2026-06-16", "2026-06-17", "2026-06-18", "2026-06-22", "2026-06-23", "2026-06-24", "2026-06-25"]


def us_data() -> MarketData:
    bars = daily_bars(pd.DataFrame({"open": [100, 101, 102, 103, 104, 110, 120],
                                    "close": [100.5, 101.5, 102.5, 103.5, 105, 111, 119]},
                                   index=pd.DatetimeIndex(US_DATES)), "XNYS")
    return MarketData({"A": bars}, {"A": SymbolInfo("A", "XNYS")})


def window(market="XNYS", date="2026-06-22", pre=2, post=3):
    return make_window(Event("w", "w", "custom", market, pd.Timestamp(date), "before_open"), pre, post)


def weights(index, values, symbols=("A",), combos=1) -> pd.DataFrame:
    cols = pd.MultiIndex.from_product([range(combos), list(symbols)])
    return pd.DataFrame(np.asarray(values, dtype=float).reshape(len(index), -1), index=index, columns=cols)

def sim(md, w, n, windows, symbols=("A",), costs=None, keep_weights=True, **settings):
    """``simulate`` under the rules of ``symbols`` (free of costs unless ``costs``) and ``settings``."""
    rules = Rules.build(md.info, list(symbols), costs=costs, **settings)
    return simulate(md, w, n, windows, rules, keep_weights=keep_weights)



def lev(x: float, **kw) -> dict:
    """Rule settings of a study with maximum leverage ``x``."""
    return {"max_leverage": x, **kw}


# ------------------------------------------------------------------------------ leverage
def test_two_x_long_borrows_and_pays_financing_on_calendar_time():
    md = us_data()
    idx = md.bars["A"].index
    rate = 0.365
    (res,) = sim(md, weights(idx, [0, 0, 0, 2, 2, 2, 2]), 1, [window()], **lev(2.0, financing_rate=rate))
    buy = res.orders.iloc[0]
    units = 2 * CASH / 104.0  # 2x equity at the 06-23 open
    assert buy["size"] == pytest.approx(units, rel=1e-12)
    assert list(res.orders["symbol"]) == ["A", "A"]  # the credit line is bookkeeping, not an order
    rets = res.returns[:, 0]
    v3 = CASH + units * (105.0 - 104.0)  # cash is -CASH after the buy
    assert rets[3] == pytest.approx(v3 / CASH - 1, rel=1e-12)  # no financing before the first close
    assert res.held[3, 0, 0] == pytest.approx(units * 105.0 / v3, rel=1e-12)
    v4 = units * 111.0 - CASH
    day = 24 * 3600 * 1e9 / NS_PER_YEAR
    borrowed = units * 105.0 / v3 - 1.0  # negative cash as a fraction of value over 06-23 -> 06-24
    assert rets[4] == pytest.approx(v4 / v3 - 1 - rate * borrowed * day, rel=1e-10)
    # without financing the same path is the plain 2x price path
    (free,) = sim(md, weights(idx, [0, 0, 0, 2, 2, 2, 2]), 1, [window()], **lev(2.0, financing_rate=0.0))
    assert np.prod(1 + free.returns[:, 0]) == pytest.approx((units * 119.0 - CASH) / CASH, rel=1e-12)


def test_target_beyond_max_leverage_is_an_error_naming_stamp_and_symbol():
    md = us_data()
    idx = md.bars["A"].index
    with pytest.raises(UnfillableOrder) as err:
        sim(md, weights(idx, [0, 0, 0, 2, 2, 2, 2]), 1, [window()], **lev(1.0))
    assert isinstance(err.value, ScareInputError)
    assert err.value.symbol == "A" and err.value.combo == 0
    assert err.value.stamp == idx[3]
    assert "max_leverage" in str(err.value)


def test_short_of_fifty_is_bounded():
    md = us_data()
    idx = md.bars["A"].index
    with pytest.raises(UnfillableOrder, match="50x"):
        sim(md, weights(idx, [0, 0, 0, -50, -50, -50, -50]), 1, [window()], **lev(2.0))


def test_clip_scales_the_target_down_and_counts_it():
    md = us_data()
    idx = md.bars["A"].index
    (res,) = sim(md, weights(idx, [0, 0, 0, 3, 3, 3, 3]), 1, [window()], **lev(1.5, on_unfillable="clip"))
    assert res.orders.iloc[0]["size"] == pytest.approx(1.5 * CASH / 104.0, rel=1e-12)
    assert res.stats["n_clipped"][0] == 3  # decisions at 06-22, 06-23, 06-24 (06-25's never fills)
    codes = [n["code"] for n in res.notices]
    assert "clipped_order" in codes


def test_per_market_cap_applies_to_that_markets_symbols():
    md = us_data()
    idx = md.bars["A"].index
    limits = {"max_leverage": 3.0, "market_caps": {"XNYS": 1.5}}
    with pytest.raises(UnfillableOrder, match="costs.markets.XNYS.max_leverage"):
        sim(md, weights(idx, [0, 0, 0, 2, 2, 2, 2]), 1, [window()], **limits)


def test_buy_beyond_cash_after_legging_is_not_silent():
    # B (Seoul) is bought before A (New York) is sold: with no borrowing the buy cannot be filled
    k_dates = pd.DatetimeIndex(["2026-06-22", "2026-06-23", "2026-06-24", "2026-06-25"])
    kb = daily_bars(pd.DataFrame({"open": [10.0] * 4, "close": [10.0] * 4}, index=k_dates), "XKRX")
    ub = daily_bars(pd.DataFrame({"open": [50.0] * 4, "close": [50.0] * 4}, index=k_dates), "XNYS")
    md = MarketData({"A": ub, "B": kb}, {"A": SymbolInfo("A", "XNYS"), "B": SymbolInfo("B", "XKRX")})
    idx = md.index
    # long A from the first stamp; switched to B at the New York close of 06-22: B fills at the
    # 06-23 Seoul open, hours before A can be sold at the 06-23 New York open
    a = np.where(idx < pd.Timestamp("2026-06-22 20:00", tz="UTC"), 1.0, 0.0)
    vals = np.column_stack([a, 1.0 - a])
    win = make_window(Event("k", "k", "custom", "XKRX", pd.Timestamp("2026-06-23"), "before_open"), 1, 2)
    limits = {"max_leverage": 1.0}
    with pytest.raises(UnfillableOrder, match="could not be filled in full") as err:
        sim(md, weights(idx, vals, ("A", "B")), 1, [win], ["A", "B"], **limits)
    assert err.value.symbol == "B"
    (res,) = sim(md, weights(idx, vals, ("A", "B")), 1, [win], ["A", "B"], max_leverage=1.0, on_unfillable="clip")
    assert res.stats["n_clipped"][0] == 1
    assert [n["code"] for n in res.notices] == ["clipped_order"]
    # with a 2x credit line it fills in full (cash is negative until A is sold)
    (ok,) = sim(md, weights(idx, vals, ("A", "B")), 1, [win], ["A", "B"], max_leverage=2.0)
    b = ok.orders[ok.orders["symbol"] == "B"].iloc[0]
    assert b["size"] == pytest.approx(CASH / 10.0, rel=1e-12)


# ------------------------------------------------------------------------------ episodes
def test_a_window_does_not_inherit_a_position_decided_before_it():
    md = us_data()
    idx = md.bars["A"].index
    # decided at the 06-16 close (before the window's 06-17 open), exited at the 06-23 close
    vals = [1, 1, 1, 1, 0, 0, 0]
    (res,) = sim(md, weights(idx, vals), 1, [window()], entry="change")
    assert len(res.orders) == 0
    assert np.all(res.returns == 0.0)
    # as a state strategy the first in-window decision (06-17 close) opens it at the 06-18 open
    (st,) = sim(md, weights(idx, vals), 1, [window()], entry="state")
    assert st.orders["price"].tolist() == [102.0, 110.0]  # 06-18 open; exit decided at the 06-23 close


def test_a_change_inside_the_window_opens_it():
    md = us_data()
    idx = md.bars["A"].index
    vals = [1, 1, 1, 0.5, 0.5, 0.5, 0.5]  # held from before; changed to 0.5 at the 06-22 close
    (res,) = sim(md, weights(idx, vals), 1, [window()], entry="change")
    assert res.orders["price"].tolist() == [104.0, 119.0]
    assert res.orders.iloc[0]["size"] == pytest.approx(0.5 * CASH / 104.0, rel=1e-12)


def test_overlapping_windows_are_separate_episodes():
    md = us_data()
    idx = md.bars["A"].index
    vals = [0, 0, 1, 1, 1, 1, 1]  # decided at the 06-18 close
    early = window(date="2026-06-18", pre=1, post=2)  # 06-17..06-23
    late = window(date="2026-06-23", pre=1, post=1)  # 06-22..06-24: starts after the decision
    a, b = sim(md, weights(idx, vals), 1, [early, late], entry="change")
    assert a.orders["price"].tolist() == [103.0, 105.0]  # bought at the 06-22 open, out at the 06-23 close
    assert len(b.orders) == 0
    assert [n["code"] for n in b.notices] == ["carried_target_dropped"]


# ------------------------------------------------------------------- valuation at the fill instant
def _three_assets() -> MarketData:
    dates = pd.DatetimeIndex(["2026-06-22", "2026-06-23", "2026-06-24", "2026-06-25", "2026-06-26"])
    k = daily_bars(pd.DataFrame({"open": [10, 11, 9, 12, 13.0], "close": [10.5, 10, 11, 12.5, 12]}, index=dates), "XKRX")
    n = daily_bars(pd.DataFrame({"open": [100, 90, 120, 95, 101.0], "close": [95, 110, 100, 105, 99]}, index=dates), "XNYS")
    c = daily_bars(pd.DataFrame({"open": [50, 60, 45, 70, 55.0], "close": [60, 45, 70, 55, 65]}, index=dates), "CRYPTO")
    return MarketData({"K": k, "N": n, "C": c}, {"K": SymbolInfo("K", "XKRX"), "N": SymbolInfo("N", "XNYS"),
                                                  "C": SymbolInfo("C", "CRYPTO")})


def _latest(md: MarketData, sym: str, t: int) -> float:
    """Latest price of ``sym`` known at instant ``t`` (opens at their open instant, closes at their
    stamp; a close and the next bar's open at the same instant: the close, the price filled there)."""
    b = md.bars[sym]
    obs = sorted([(int(o.value), 0, float(p)) for o, p in zip(pd.DatetimeIndex(b["open_time"]), b["open"])] +
                 [(int(s.value), 1, float(p)) for s, p in zip(b.index, b["close"])])
    known = [p for (ti, _, p) in obs if ti <= t]
    return known[-1]


def test_three_asset_rebalance_is_sized_at_the_latest_prices_of_every_asset():
    md = _three_assets()
    syms = ["K", "N", "C"]
    idx = md.index
    first = np.array([0.2, 0.3, 0.4])
    second = np.array([0.5, 0.2, 0.1])
    t1 = pd.Timestamp("2026-06-24 07:00", tz="UTC")
    vals = np.where((idx < t1)[:, None], first, second)
    win = make_window(Event("x", "x", "custom", "XNYS", pd.Timestamp("2026-06-24"), "before_open"), 2, 2)
    costs = {s: FREE for s in syms}
    (res,) = sim(md, weights(idx, vals, syms), 1, [win], syms, costs, max_leverage=1.0)
    orders = res.orders.sort_values(["row", "fill_time"], kind="stable")
    assert len(orders) >= 6
    cash, pos = CASH, dict.fromkeys(syms, 0.0)
    target_at = {}
    for row, grp in orders.groupby("row", sort=True):
        t = int(grp["fill_time"].min())
        value = cash + sum(pos[s] * _latest(md, s, t) for s in syms if pos[s])
        for o in grp.itertuples():
            signed = o.size if o.side == "buy" else -o.size
            stamp = res.stamps[row]
            tgt = res.target[row, 0, syms.index(o.symbol)]
            target_at[(row, o.symbol)] = tgt
            if not (row == len(res.stamps) - 1 or tgt == 0.0):
                # held weight at the fill instant equals the target (zero costs: exactly)
                assert (pos[o.symbol] + signed) * o.price / value == pytest.approx(tgt, rel=1e-10), (stamp, o.symbol)
        for o in grp.itertuples():
            signed = o.size if o.side == "buy" else -o.size
            pos[o.symbol] += signed
            cash -= signed * o.price
    assert {s for (_, s) in target_at} == set(syms)


# ------------------------------------------------------------------------------ fill kinds
def test_fill_kinds_open_close_and_auction():
    md = us_data()
    stamp = pd.Timestamp("2026-06-23 15:00", tz="UTC")  # during the 06-23 session
    idx = md.bars["A"].index.union(pd.DatetimeIndex([stamp]))
    vals = [0, 0, 0, 0, 1, 1, 1, 1]
    (res,) = sim(md, weights(idx, vals), 1, [window()])
    assert res.orders["fill_kind"].tolist() == ["auction", "close"]
    assert res.orders["fill_time"].iloc[0] == md.bars["A"].index[4].value
    (res2,) = sim(md, weights(md.bars["A"].index, [0, 0, 0, 1, 1, 1, 1]), 1, [window()])
    assert res2.orders["fill_kind"].tolist() == ["open", "close"]
    assert res2.orders["fill_time"].iloc[0] == pd.Timestamp(md.bars["A"]["open_time"].iloc[4]).value


def test_open_fill_on_close_only_data_is_a_named_fallback():
    bars = daily_bars(pd.DataFrame({"close": [100.0, 101, 102, 103, 104, 110, 120]},
                                   index=pd.DatetimeIndex(US_DATES)), "XNYS")
    md = MarketData({"A": bars}, {"A": SymbolInfo("A", "XNYS")})
    (res,) = sim(md, weights(bars.index, [0, 0, 0, 1, 1, 1, 1]), 1, [window()])
    assert res.orders["fill_kind"].tolist() == ["close", "close"]
    (fb,) = [n for n in res.notices if n["code"] == "open_fill_fallback"]
    assert fb["symbol"] == "A" and fb["count"] == 1


# ------------------------------------------------------------------------------ paired legs
def _ny_and_4h_crypto() -> MarketData:
    dates = pd.DatetimeIndex(["2026-06-22", "2026-06-23", "2026-06-24", "2026-06-25"])
    n = daily_bars(pd.DataFrame({"open": [100, 101, 102, 103.0], "close": [100.5, 101.5, 102.5, 103.5]},
                                index=dates), "XNYS")
    stamps = pd.date_range("2026-06-22 04:00", "2026-06-26 00:00", freq="4h", tz="UTC")
    px = 50.0 + np.arange(len(stamps))
    c = pd.DataFrame({"open": px - 0.5, "close": px, "open_time": stamps - pd.Timedelta(hours=4)},
                     index=pd.DatetimeIndex(stamps, name="time"))
    return MarketData({"N": n, "C": c}, {"N": SymbolInfo("N", "XNYS"), "C": SymbolInfo("C", "CRYPTO")})


def test_pair_decided_at_0630_utc_fills_both_legs_at_the_first_common_instant():
    md = _ny_and_4h_crypto()
    syms = ["N", "C"]
    decided = pd.Timestamp("2026-06-23 06:30", tz="UTC")
    idx = md.index.union(pd.DatetimeIndex([decided]))
    vals = np.where((idx >= decided)[:, None], [0.5, -0.5], [0.0, 0.0])
    win = make_window(Event("p", "p", "custom", "XNYS", pd.Timestamp("2026-06-23"), "before_open"), 1, 2)
    costs = {s: FREE for s in syms}
    lim = {"max_leverage": 1.0}
    (tog,) = sim(md, weights(idx, vals, syms), 1, [win], syms, costs, **lim, legs="together", paired=True)
    entry = tog.orders.groupby("symbol").first()
    # New York opens at 13:30 UTC (not a 4-hour crypto stamp); the New York close at 20:00 UTC is
    # one: the first instant at which both legs trade
    common = pd.Timestamp("2026-06-23 20:00", tz="UTC").value
    assert entry.loc["N", "fill_time"] == common and entry.loc["C", "fill_time"] == common
    assert entry.loc["N", "price"] == 101.5  # N's 06-23 close
    c = md.bars["C"]
    assert entry.loc["C", "price"] == c.loc[pd.Timestamp(common, tz="UTC"), "close"]
    assert tog.stats["legs_traded"][0] == 2 and tog.stats["legging_gap_hours"][0] == 0.0
    assert not [n for n in tog.notices if n["code"] in ("pair_one_leg", "legs_not_together")]
    # both legs sized at the same valuation: equal and opposite value at the fill
    assert entry.loc["N", "size"] * entry.loc["N", "price"] == pytest.approx(0.5 * CASH, rel=1e-12)
    assert entry.loc["C", "size"] * entry.loc["C", "price"] == pytest.approx(0.5 * CASH, rel=1e-12)
    # independent legs: N at the 13:30 UTC open, C at the 08:00 UTC close, 5.5 hours apart
    (ind,) = sim(md, weights(idx, vals, syms), 1, [win], syms, costs, **lim, paired=True)
    first = ind.orders.groupby("symbol").first()
    assert first.loc["N", "fill_time"] == pd.Timestamp("2026-06-23 13:30", tz="UTC").value
    assert first.loc["C", "fill_time"] == pd.Timestamp("2026-06-23 08:00", tz="UTC").value
    assert ind.stats["legging_gap_hours"][0] == pytest.approx(5.5)


def test_pair_without_a_common_instant_is_flagged_and_a_one_leg_episode_is_counted():
    k_dates = pd.DatetimeIndex(["2026-06-22", "2026-06-23", "2026-06-24", "2026-06-25"])
    kb = daily_bars(pd.DataFrame({"open": [10.0] * 4, "close": [10.0] * 4}, index=k_dates), "XKRX")
    ub = daily_bars(pd.DataFrame({"open": [50.0] * 4, "close": [50.0] * 4}, index=k_dates), "XNYS")
    md = MarketData({"U": ub, "K": kb}, {"U": SymbolInfo("U", "XNYS"), "K": SymbolInfo("K", "XKRX")})
    syms = ["U", "K"]
    idx = md.index
    win = make_window(Event("k", "k", "custom", "XNYS", pd.Timestamp("2026-06-23"), "before_open"), 1, 2)
    costs = {s: FREE for s in syms}
    lim = {"max_leverage": 1.0}
    # decided at the 06-24 Seoul close: U fills at the 06-24 New York open, K only at its 06-25 close
    # (the window's last K bar: flat there), so only U ever trades
    vals = np.where((idx >= pd.Timestamp("2026-06-24 06:30", tz="UTC"))[:, None], [0.5, -0.5], [0.0, 0.0])
    (res,) = sim(md, weights(idx, vals, syms), 1, [win], syms, costs, **lim, legs="together", paired=True)
    codes = sorted(n["code"] for n in res.notices)
    assert codes == ["legs_not_together", "pair_one_leg"]
    assert res.stats["legs_traded"][0] == 1 and np.isnan(res.stats["legging_gap_hours"][0])
