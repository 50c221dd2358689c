"""KRX rule cases, each worked by hand from the rule text (docs/exchange.md cites the pages).

Rule (from 2015-06-15): KOSPI at or below -8% / -15% / -20% of the previous close for 1 minute;
levels 2-3 also 1% below the index value at which the previous level fired; each level once a day;
levels 1-2 not in the last 40 minutes (after close - 40 min); level 1-2: 20-minute halt, then a
10-minute single-price call auction printing at its end; level 3 ends the day. Before: one -10% level.
Bars lie entirely at a stated level, so with 1-minute bars "from 10:00" fires at 10:01:00.
"""

import numpy as np
import pandas as pd
import pytest

from backtests.errors import DataError
from backtests.exchange.admission import FillKind, Reason, admit
from backtests.exchange.krx import (krx_daily_symbol_state, krx_halt_from_catalogue, krx_market_state,
                                    krx_price_limits, krx_sidecar_events, krx_symbol_state)
from backtests.exchange.states import Lock, State, with_events

from .paths import at, clock, linear_bars, states_by_clock, step_bars

K = "XKRX"
D = "2026-06-22"  # an ordinary Monday session 09:00-15:30 KST
P = 1000.0


def kospi(levels, date=D, freq="1min", start="09:00", end="15:30"):
    return step_bars(K, date, levels, start, end, freq)


def halts(tl):
    return [(clock(K, s), clock(K, e)) for s, e in tl.segments(State.HALTED)]


def test_level1_fires_when_the_minute_completes_by_1450():
    # -8% from 14:49:00, held: the minute completes at 14:50:00, the last instant allowed
    tl = krx_market_state(kospi({"09:00": 990.0, "14:49": 920.0}), P, D)
    assert halts(tl) == [("14:50:00", "15:10:00")]
    assert states_by_clock(K, tl)[2:] == [("14:50:00", "15:10:00", "halted"),
                                          ("15:10:00", "15:20:00", "call_reopen"),
                                          ("15:20:00", "15:30:00", "closing_auction")]
    assert [e.code for e in tl.events] == ["cb_level1"]


def test_level1_at_1451_is_past_the_cutoff():
    tl = krx_market_state(kospi({"09:00": 990.0, "14:51": 900.0}), P, D)
    assert halts(tl) == []
    ev = tl.events[0]
    assert ev.code == "cb_level1_excluded" and clock(K, ev.instant) == "14:52:00"


def test_59_seconds_below_does_not_fire_60_does():
    # 1-second bars: -8% from 10:00:00 to 10:00:59 (59 s), back at -7% at 10:00:59
    short = kospi({"09:00": 990.0, "10:00:00": 920.0, "10:00:59": 930.0}, freq="1s")
    assert halts(krx_market_state(short, P, D)) == []
    full = kospi({"09:00": 990.0, "10:00:00": 920.0, "10:01:00": 930.0}, freq="1s")
    assert halts(krx_market_state(full, P, D)) == [("10:01:00", "10:21:00")]


def test_exactly_minus_8_percent_counts():
    # "declines 8% or more": 920.0 is exactly -8%
    tl = krx_market_state(kospi({"09:00": 990.0, "11:00": 920.0}), P, D)
    assert halts(tl) == [("11:01:00", "11:21:00")]


def test_level2_after_level1_same_day():
    tl = krx_market_state(kospi({"09:00": 990.0, "10:00": 915.0, "10:40": 840.0}), P, D)
    # L1 at 10:01 (915 = -8.5%), halt to 10:21, call auction to 10:31; L2 needs <= 850 and
    # <= 915 * 0.99 = 905.85: 840 from 10:40 -> 10:41, halt to 11:01, auction to 11:11
    assert halts(tl) == [("10:01:00", "10:21:00"), ("10:41:00", "11:01:00")]
    assert [(clock(K, s), clock(K, e)) for s, e in tl.segments(State.CALL_REOPEN)] == [
        ("10:21:00", "10:31:00"), ("11:01:00", "11:11:00")]
    assert [e.code for e in tl.events] == ["cb_level1", "cb_level2"]


def test_level2_needs_1pct_below_level1_trigger():
    # gap open at -16%: L1 fires at 09:01 at 840; -16% is past -15% but not 1% below 840 (831.6)
    tl = krx_market_state(kospi({"09:00": 840.0, "11:00": 832.0, "12:00": 831.5}), P, D)
    assert halts(tl) == [("09:01:00", "09:21:00"), ("12:01:00", "12:21:00")]
    assert tl.events[1].threshold == pytest.approx(831.6)


def test_level2_never_fires_without_level1():
    # the fall happens in the last 40 minutes: L1 excluded, so L2 and L3 cannot follow
    tl = krx_market_state(kospi({"09:00": 990.0, "14:55": 780.0}), P, D)
    assert halts(tl) == []
    assert [e.code for e in tl.events] == ["cb_level1_excluded"]


def test_level3_ends_the_day():
    tl = krx_market_state(kospi({"09:00": 990.0, "10:00": 915.0, "10:40": 840.0, "13:00": 790.0}), P, D)
    # L3 needs <= 800 and <= 840 * 0.99 = 831.6: 790 from 13:00 -> 13:01, halted to the close
    assert halts(tl)[-1] == ("13:01:00", "15:30:00")
    assert not len(tl.segments(State.CLOSING_AUCTION))
    orders = np.array([at(K, D, "13:30"), at(K, D, "15:25")])
    adm = admit(tl, orders)
    assert list(adm.reason) == [Reason.HALTED_TO_CLOSE] * 2 and not adm.allowed.any()


def test_level3_may_fire_in_the_last_40_minutes_until_the_closing_auction():
    tl = krx_market_state(kospi({"09:00": 990.0, "10:00": 915.0, "10:40": 840.0, "15:00": 790.0}), P, D)
    assert halts(tl)[-1] == ("15:01:00", "15:30:00")
    last = krx_market_state(kospi({"09:00": 990.0, "10:00": 915.0, "10:40": 840.0, "15:19": 790.0}), P, D)
    assert halts(last)[-1] == ("15:20:00", "15:30:00")
    # from 15:20 the closing call auction runs: no continuous index move can fire level 3
    late = krx_market_state(kospi({"09:00": 990.0, "10:00": 915.0, "10:40": 840.0, "15:20": 790.0}), P, D)
    assert [e.code for e in late.events] == ["cb_level1", "cb_level2"]


def test_each_level_once_a_day():
    tl = krx_market_state(kospi({"09:00": 990.0, "10:00": 915.0, "10:40": 950.0, "11:00": 910.0}), P, D)
    assert halts(tl) == [("10:01:00", "10:21:00")]
    assert [e.code for e in tl.events] == ["cb_level1"]


def test_pre_2015_single_10pct_level():
    d = "2014-06-02"  # close 15:00 KST then; cut-off 14:20
    nine = krx_market_state(kospi({"09:00": 950.0, "10:00": 910.0}, d, end="15:00"), P, d)
    assert halts(nine) == []
    ten = krx_market_state(kospi({"09:00": 950.0, "10:00": 895.0}, d, end="15:00"), P, d)
    assert halts(ten) == [("10:01:00", "10:21:00")]
    assert ten.events[0].rule == "krx_cb_1998"
    late = krx_market_state(kospi({"09:00": 950.0, "14:20": 895.0}, d, end="15:00"), P, d)
    assert [e.code for e in late.events] == ["cb_level1_excluded"]


def test_kosdaq_2007_08_16_as_reported():
    # mbn.co.kr 248546: KOSDAQ -10% held 1 minute, halt from 13:20, orders 13:40-13:50, trading 13:50
    d = "2007-08-16"
    tl = krx_market_state(kospi({"09:00": 950.0, "13:19": 899.0}, d, end="15:00"), P, d, index="KOSDAQ")
    assert states_by_clock(K, tl)[2:4] == [("13:20:00", "13:40:00", "halted"), ("13:40:00", "13:50:00", "call_reopen")]


def test_exam_day_moves_the_cutoff_and_the_closing_auction():
    d = "2025-11-13"  # CSAT: 10:00-16:30 KST, so the 40-minute cut-off is 15:50
    ok = krx_market_state(kospi({"10:00": 990.0, "15:49": 920.0}, d, start="10:00", end="16:30"), P, d)
    assert halts(ok) == [("15:50:00", "16:10:00")]
    assert [(clock(K, s), clock(K, e)) for s, e in ok.segments(State.CLOSING_AUCTION)] == [("16:20:00", "16:30:00")]
    assert [(clock(K, s), clock(K, e)) for s, e in ok.segments(State.CALL_OPEN)] == [("09:30:00", "10:00:00")]


def test_synthetic_2026_06_23_linear_fall():
    # 9000 falling 9 points a minute from 09:00 (-9% by 10:30): -8% (8280) at 10:20:00; the bar
    # [10:20, 10:21) lies at or below 8280, so level 1 fires at 10:21:00; halt to 10:41, call
    # auction 10:41-10:51 printing at 10:51.
    d = "2026-06-23"
    bars = linear_bars(K, d, "09:00", "15:30", lambda m: 9000.0 - 9.0 * min(m, 90.0))
    tl = krx_market_state(bars, 9000.0, d)
    assert halts(tl) == [("10:21:00", "10:41:00")]
    (s, e), = tl.segments(State.CALL_REOPEN)
    assert (clock(K, s), clock(K, e)) == ("10:41:00", "10:51:00")
    assert clock(K, tl.uncross[list(tl.codes).index(State.CALL_REOPEN)]) == "10:51:00"
    adm = admit(tl, np.array([at(K, d, "10:25"), at(K, d, "10:45"), at(K, d, "10:55")]))
    assert [clock(K, t) for t in adm.fill_at] == ["10:51:00", "10:51:00", "10:55:00"]
    assert list(adm.kind) == [FillKind.AUCTION, FillKind.AUCTION, FillKind.CONTINUOUS]


def test_five_minute_bars_give_the_same_halt_within_a_bar():
    d = "2026-06-23"
    bars = linear_bars(K, d, "09:00", "15:30", lambda m: 9000.0 - 9.0 * min(m, 90.0), freq="5min")
    # first 5-minute bar entirely at or below 8280 is [10:20, 10:25): fires at 10:21:00
    assert halts(krx_market_state(bars, 9000.0, d)) == [("10:21:00", "10:41:00")]


def test_catalogue_halt_gives_the_same_timeline():
    tl = krx_halt_from_catalogue("2024-08-05", "14:14:30")
    assert states_by_clock(K, tl)[2:4] == [("14:14:30", "14:34:30", "halted"), ("14:34:30", "14:44:30", "call_reopen")]
    assert tl.derived_from == "catalogue"
    with pytest.raises(DataError):
        krx_halt_from_catalogue("2014-06-02", "10:00", level=2)


def fut(levels, date=D):
    return step_bars(K, date, levels, "09:00", "15:30")


def test_sidecar_is_recorded_and_stops_nothing():
    ev = krx_sidecar_events(fut({"09:00": 398.0, "09:10": 380.0}), 400.0, D)
    assert [(e.code, clock(K, e.instant)) for e in ev] == [("sidecar_sell", "09:11:00")]
    tl = with_events(krx_market_state(kospi({"09:00": 990.0}), P, D), ev)
    assert tl.segments(State.HALTED).size == 0
    adm = admit(tl, np.array([at(K, D, "09:12")]))
    assert adm.kind[0] == FillKind.CONTINUOUS and clock(K, adm.fill_at[0]) == "09:12:00"


def test_sidecar_not_in_the_first_five_minutes():
    # futures -5% from the open: the run counts from 09:05, so it fires at 09:06 (as reported on
    # 2026-03-04 and 2026-03-09)
    ev = krx_sidecar_events(fut({"09:00": 380.0}), 400.0, D)
    assert clock(K, ev[0].instant) == "09:06:00"


def test_sidecar_once_a_day_and_not_in_the_last_40_minutes():
    ev = krx_sidecar_events(fut({"09:00": 398.0, "09:10": 380.0, "11:00": 425.0}), 400.0, D)
    assert [e.code for e in ev] == ["sidecar_sell"]
    assert krx_sidecar_events(fut({"09:00": 398.0, "14:50": 380.0}), 400.0, D) == ()


def test_kosdaq_sidecar_needs_futures_and_index():
    f = fut({"09:00": 1000.0, "10:00": 940.0})
    weak_index = fut({"09:00": 1000.0, "10:00": 980.0})
    strong_index = fut({"09:00": 1000.0, "10:00": 965.0})
    assert krx_sidecar_events(f, 1000.0, D, market="KOSDAQ", index_bars=weak_index, index_base=1000.0) == ()
    ev = krx_sidecar_events(f, 1000.0, D, market="KOSDAQ", index_bars=strong_index, index_base=1000.0)
    assert clock(K, ev[0].instant) == "10:01:00"


def test_price_limits_15_then_30_percent():
    assert [float(x) for x in krx_price_limits(10000.0, "2015-06-12")] == [8500.0, 11500.0]
    assert [float(x) for x in krx_price_limits(10000.0, "2015-06-15")] == [7000.0, 13000.0]


def test_leveraged_etf_limits_60_percent():
    assert [float(x) for x in krx_price_limits(10000.0, "2026-06-23", leverage=2)] == [4000.0, 16000.0]


def test_limits_round_inwards_to_the_tick():
    lo, hi = krx_price_limits(10010.0, "2026-06-23", tick=10.0)
    assert (float(lo), float(hi)) == (7010.0, 13010.0)  # 7007 -> 7010, 13013 -> 13010


def test_limit_locked_close_from_daily_bars():
    d = pd.DatetimeIndex(["2026-06-22"])
    tl, = krx_daily_symbol_state(d, np.array([100.0]), np.array([130.0]), np.array([101.0]),
                                 np.array([130.0]), "TEST")
    assert [e.code for e in tl.events] == ["limit_locked_close_up"]
    buy_sell = admit(tl, np.array([at(K, D, "15:25"), at(K, D, "15:25"), at(K, D, "15:00")]),
                     side=np.array([1, -1, 1]))
    assert list(buy_sell.reason) == [Reason.LIMIT_LOCKED, Reason.OK, Reason.OK]
    assert clock(K, buy_sell.fill_at[1]) == "15:30:00" and buy_sell.kind[1] == FillKind.AUCTION


def test_limit_locked_all_day_down():
    d = pd.DatetimeIndex(["2026-06-22"])
    tl, = krx_daily_symbol_state(d, np.array([100.0]), np.array([70.0]), np.array([70.0]), np.array([70.0]), "TEST")
    assert tl.events[0].code == "limit_locked_day_down"
    adm = admit(tl, np.array([at(K, D, "10:00")] * 2), side=np.array([-1, 1]))
    assert list(adm.reason) == [Reason.LIMIT_LOCKED, Reason.OK]


def test_intraday_lock_bars_and_orders():
    bars = step_bars(K, D, {"09:00": 110.0, "13:00": 130.0}, "09:00", "15:20")
    tl = krx_symbol_state(bars, 100.0, D, "TEST", vi_class="other")
    adm = admit(tl, np.array([at(K, D, "13:30"), at(K, D, "12:50")]), side=np.array([1, 1]))
    assert list(adm.reason) == [Reason.LIMIT_LOCKED, Reason.OK]
    assert Lock(tl.locks[tl.segment_at(np.array([at(K, D, "13:30")]))[0]]) == Lock.UP


RISE = {"09:00": 10000.0, "10:00": 10400.0, "10:01": 10800.0, "10:02": 11000.0}  # steps under 6%


def test_static_vi_two_minute_call_auction():
    # opens at 10000 (the reference); the bar [10:02, 10:03) is at 11000 (+10%): static VI at
    # 10:03, call auction to 10:05; an order at 10:04 fills at the 10:05 print
    bars = step_bars(K, D, RISE, "09:00", "15:20")
    tl = krx_symbol_state(bars, 10000.0, D, "TEST", vi_class="other")
    assert [(e.code, clock(K, e.instant)) for e in tl.events] == [("vi_static", "10:03:00")]
    assert [(clock(K, s), clock(K, e)) for s, e in tl.segments(State.CALL_VI)] == [("10:03:00", "10:05:00")]
    adm = admit(tl, np.array([at(K, D, "10:04")]))
    assert clock(K, adm.fill_at[0]) == "10:05:00" and adm.kind[0] == FillKind.AUCTION


def test_static_vi_reference_moves_to_the_vi_print():
    # after the VI printing 11000, the next static VI is at 12100 (+10% of 11000), not at 11000
    no = step_bars(K, D, {**RISE, "11:00": 11500.0, "11:01": 12000.0}, "09:00", "15:20")
    assert len(krx_symbol_state(no, 10000.0, D, "T", vi_class="other").segments(State.CALL_VI)) == 1
    yes = step_bars(K, D, {**RISE, "11:00": 11500.0, "11:01": 12000.0, "11:02": 12100.0}, "09:00", "15:20")
    vis = krx_symbol_state(yes, 10000.0, D, "T", vi_class="other").segments(State.CALL_VI)
    assert [clock(K, s) for s, _ in vis] == ["10:03:00", "11:03:00"]


def test_dynamic_vi_by_class():
    # a jump of 3.5% between two consecutive prints: a VI for a KOSPI 200 stock (3%), not for
    # another stock (6%)
    bars = step_bars(K, D, {"09:00": 10000.0, "10:00": 10350.0}, "09:00", "15:20")
    k200 = krx_symbol_state(bars, 10000.0, D, "T", vi_class="kospi200")
    assert [(e.code, clock(K, e.instant)) for e in k200.events] == [("vi_dynamic", "10:00:00")]
    assert krx_symbol_state(bars, 10000.0, D, "T", vi_class="other").events == ()


def test_no_static_vi_before_2015_06_15():
    d = "2015-01-05"
    bars = step_bars(K, d, {"09:00": 10000.0, "10:00": 10500.0, "10:01": 11000.0, "10:02": 11400.0}, "09:00", "14:50")
    tl = krx_symbol_state(bars, 10000.0, d, "T", vi_class="other")
    assert [e.code for e in tl.events] == []  # steps under 6% dynamic, no static VI yet, under +15%
    locked = step_bars(K, d, {"09:00": 10000.0, "10:00": 10500.0, "10:01": 11000.0, "10:02": 11500.0}, "09:00", "14:50")
    assert [e.code for e in krx_symbol_state(locked, 10000.0, d, "T", vi_class="other").events] == ["limit_locked_up"]
