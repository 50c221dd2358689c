"""US rule cases worked by hand: market-wide circuit breakers (NYSE 7.12 / Nasdaq 4121) and LULD.

MWCB: S&P 500 down 7% / 13% at or before 3:25 p.m. ET -> 15-minute halt, reopening cross at its end;
after 3:25 p.m. levels 1-2 do not halt; down 20% at any time -> closed for the day. A level fires
at the end of the first bar touching it (bars here are 1 minute). LULD: bands of 5% (Tier 1) /
10% (Tier 2) above $3, 20% from $0.75 to $3, the lesser of $0.15 and 75% below $0.75; doubled in
the first 15 and the last 25 minutes; a 15-second limit state then a 5-minute pause.
"""

import numpy as np
import pytest

from backtests.exchange.admission import FillKind, Reason, admit
from backtests.exchange.rules import US_LULD, regime_for
from backtests.exchange.schedule import session_bounds_ns
from backtests.exchange.states import State, overlay
from backtests.exchange.us import luld_band_fraction, luld_bands, luld_state, us_market_state

from .paths import at, clock, states_by_clock, step_bars

N = "XNYS"
D = "2026-06-22"
P = 5000.0


def spx(levels, date=D, end="16:00"):
    return step_bars(N, date, levels, "09:30", end)


def halts(tl):
    return [(clock(N, s), clock(N, e)) for s, e in tl.segments(State.HALTED)]


def test_level1_at_1524_halts_15_minutes():
    tl = us_market_state(spx({"09:30": 4950.0, "15:24": 4650.0}), P, D)  # 4650 = -7%
    assert halts(tl) == [("15:25:00", "15:40:00")]
    adm = admit(tl, np.array([at(N, D, "15:30")]))
    assert clock(N, adm.fill_at[0]) == "15:40:00" and adm.kind[0] == FillKind.AUCTION


def test_level1_at_1526_does_not_halt():
    tl = us_market_state(spx({"09:30": 4950.0, "15:26": 4600.0}), P, D)
    assert halts(tl) == []
    assert [(e.code, clock(N, e.instant)) for e in tl.events] == [("mwcb_level1_excluded", "15:27:00")]


def test_level2_after_level1():
    tl = us_market_state(spx({"09:30": 4950.0, "10:00": 4640.0, "11:00": 4340.0}), P, D)  # -7.2%, -13.2%
    assert halts(tl) == [("10:01:00", "10:16:00"), ("11:01:00", "11:16:00")]


def test_level3_any_time_closes_the_day():
    tl = us_market_state(spx({"09:30": 4950.0, "15:50": 4000.0}), P, D)  # -20% at 15:50
    assert halts(tl) == [("15:51:00", "16:00:00")]
    assert [e.code for e in tl.events] == ["mwcb_level1_excluded", "mwcb_level2_excluded", "mwcb_level3"]
    adm = admit(tl, np.array([at(N, D, "15:55")]))
    assert adm.reason[0] == Reason.HALTED_TO_CLOSE


def test_early_close_cutoff_is_1225():
    d = "2025-11-28"  # the day after Thanksgiving: close 13:00 ET
    ok = us_market_state(spx({"09:30": 4950.0, "12:24": 4650.0}, d, end="13:00"), P, d)
    assert halts(ok) == [("12:25:00", "12:40:00")]
    late = us_market_state(spx({"09:30": 4950.0, "12:25": 4650.0}, d, end="13:00"), P, d)
    assert halts(late) == []


def test_no_mwcb_model_before_2013_04_08():
    d = "2012-06-01"
    tl = us_market_state(spx({"09:30": 4000.0}, d), P, d)
    assert halts(tl) == [] and tl.events == ()


REG = regime_for(US_LULD, D, "LULD")


@pytest.mark.parametrize(("tier", "prev", "expected"), [
    (1, 50.0, (0.05, float("inf"))), (2, 50.0, (0.10, float("inf"))), (1, 3.0, (0.20, float("inf"))),
    (2, 0.75, (0.20, float("inf"))), (1, 0.50, (0.75, 0.15)), (2, 0.10, (0.75, 0.15))])
def test_band_fraction_by_tier_and_price(tier, prev, expected):
    assert luld_band_fraction(REG, tier, prev) == expected


def test_bands_mid_day_and_doubled_at_the_open():
    o, c = session_bounds_ns(N, D)
    assert luld_bands(50.0, 50.0, 1, at(N, D, "10:00"), o, c, REG) == (47.5, 52.5)
    assert luld_bands(50.0, 50.0, 1, at(N, D, "09:40"), o, c, REG) == (45.0, 55.0)
    assert luld_bands(50.0, 50.0, 1, at(N, D, "09:45"), o, c, REG) == (47.5, 52.5)


def test_bands_doubled_in_the_last_25_minutes():
    o, c = session_bounds_ns(N, D)
    assert luld_bands(50.0, 50.0, 1, at(N, D, "15:35"), o, c, REG) == (45.0, 55.0)
    assert luld_bands(50.0, 50.0, 1, at(N, D, "15:34"), o, c, REG) == (47.5, 52.5)
    # 2019 regime: Tier 2 above $3 is not doubled at the close; under the 2014 regime it was
    assert luld_bands(50.0, 50.0, 2, at(N, D, "15:40"), o, c, REG) == (45.0, 55.0)
    d = "2018-06-01"
    o2, c2 = session_bounds_ns(N, d)
    assert luld_bands(50.0, 50.0, 2, at(N, d, "15:40"), o2, c2, regime_for(US_LULD, d, "LULD")) == (40.0, 60.0)


def test_bands_below_75_cents():
    o, c = session_bounds_ns(N, D)
    # lesser of $0.15 and 75%: 0.50 -> 0.15 (0.375 is larger); 0.12 -> 0.09
    assert luld_bands(0.50, 0.50, 1, at(N, D, "11:00"), o, c, REG) == (0.35, 0.65)
    assert luld_bands(0.12, 0.12, 1, at(N, D, "11:00"), o, c, REG) == (0.03, 0.21)


def test_limit_state_then_five_minute_pause_and_reopening():
    # Tier 1, flat at 50 (reference 50, band 47.50); the bar [10:30, 10:31) falls to 47.50 and
    # closes there: limit state at 10:31:00, pause 10:31:15-10:36:15, reopening print at 10:36:15
    bars = step_bars(N, D, {"09:30": 50.0, "10:30": 47.5, "10:40": 48.0}, "09:30", "16:00")
    tl = luld_state(bars, 50.0, D, tier=1, symbol="MU")
    assert [(e.code, clock(N, e.instant)) for e in tl.events] == [("luld_limit_state", "10:31:00"),
                                                                   ("luld_pause", "10:31:15")]
    assert [(clock(N, s), clock(N, e)) for s, e in tl.segments(State.PAUSED)] == [("10:31:15", "10:36:15")]
    adm = admit(tl, np.array([at(N, D, "10:33"), at(N, D, "10:31:10")]))
    assert [clock(N, t) for t in adm.fill_at] == ["10:36:15", "10:31:10"]
    assert list(adm.kind) == [FillKind.AUCTION, FillKind.CONTINUOUS]


def test_limit_state_that_clears_is_not_a_pause():
    bars = step_bars(N, D, {"09:30": 50.0}, "09:30", "16:00")
    i = 60  # the bar [10:30, 10:31)
    bars.iloc[i, bars.columns.get_loc("low")] = 47.5
    tl = luld_state(bars, 50.0, D, tier=1, symbol="MU")
    assert [e.code for e in tl.events] == ["luld_limit_state"]
    assert tl.segments(State.PAUSED).size == 0


def test_tier2_wider_band_no_state():
    bars = step_bars(N, D, {"09:30": 50.0, "10:30": 47.5}, "09:30", "16:00")
    assert luld_state(bars, 50.0, D, tier=2, symbol="X").events == ()


def test_luld_phase1_bands_from_0945_only():
    d = "2013-05-01"
    # a -6% bar at 09:35 would reach a 5% band, but Phase I bands start at 9:45
    bars = step_bars(N, d, {"09:30": 50.0, "09:35": 47.0, "09:36": 50.0}, "09:30", "16:00")
    assert luld_state(bars, 50.0, d, tier=1, symbol="X").events == ()
    assert luld_state(bars, 50.0, "2013-01-02", tier=1, symbol="X").events == ()  # before LULD


def test_market_halt_overrides_a_symbol_state():
    market = us_market_state(spx({"09:30": 4950.0, "10:00": 4640.0}), P, D)
    sym = luld_state(step_bars(N, D, {"09:30": 50.0}, "09:30", "16:00"), 50.0, D, tier=1, symbol="MU")
    tl = overlay(market, sym)
    assert states_by_clock(N, tl)[1] == ("10:01:00", "10:16:00", "halted")
    assert tl.symbol == "MU"


def test_band_screen_skips_only_sessions_no_band_can_reach():
    """The screen (:func:`bands_out_of_reach`) lets :func:`luld_state` skip its per-bar walk only
    where the walk would paint nothing: random sessions, calm and wild, at every band schedule
    (above $3, $0.75-$3, below $0.75; both tiers) give the same timeline with and without it."""
    import backtests.exchange.us as us
    from backtests.exchange.bars import as_bars

    rng = np.random.default_rng(20)
    o, c = session_bounds_ns(N, D)
    skipped = fired = 0
    for case in range(120):
        price = [50.0, 2.0, 0.5][case % 3]
        vol = [0.0005, 0.002, 0.006, 0.012][case // 3 % 4]
        tier = 1 + case % 2
        bars = step_bars(N, D, {"09:30": price}, "09:30", "16:00")
        path = price * np.exp(np.cumsum(rng.normal(0.0, vol, len(bars))))
        path *= np.where(np.arange(len(bars)) >= rng.integers(0, len(bars)), 1.0 - rng.uniform(-0.3, 0.3), 1.0)  # a gap
        bars["open"] = np.concatenate([[price], path[:-1]])
        bars["close"] = path
        bars["high"] = np.maximum(bars["open"], path) * (1 + rng.uniform(0, vol, len(bars)))
        bars["low"] = np.minimum(bars["open"], path) * (1 - rng.uniform(0, vol, len(bars)))
        fast = luld_state(bars, price, D, tier=tier, symbol="X")
        b = as_bars(bars, where="X").between(o, c)
        skip = us.bands_out_of_reach(b, price, tier, REG)
        skipped += skip
        original = us.bands_out_of_reach
        us.bands_out_of_reach = lambda *a: False  # the per-bar walk, always
        try:
            walked = luld_state(bars, price, D, tier=tier, symbol="X")
        finally:
            us.bands_out_of_reach = original
        assert fast.events == walked.events and np.array_equal(fast.edges, walked.edges)
        assert np.array_equal(fast.codes, walked.codes)
        assert not (skip and walked.events)
        fired += bool(walked.events)
    assert 0 < skipped < 120 and fired > 0  # both branches were exercised, and bands were reached


def test_band_screen_keeps_a_bar_exactly_at_the_band():
    bars = step_bars(N, D, {"09:30": 50.0, "10:30": 47.5, "10:40": 48.0}, "09:30", "16:00")
    from backtests.exchange.bars import as_bars
    from backtests.exchange.us import bands_out_of_reach

    o, c = session_bounds_ns(N, D)
    b = as_bars(bars, where="MU").between(o, c)
    assert not bands_out_of_reach(b, 50.0, 1, REG)  # 47.50 is the Tier 1 band of a 50.00 reference
    flat = as_bars(step_bars(N, D, {"09:30": 50.0}, "09:30", "16:00"), where="MU").between(o, c)
    assert bands_out_of_reach(flat, 50.0, 1, REG)
