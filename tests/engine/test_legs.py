"""``legs: before_event`` worked by hand: MU (XNYS) and SK Hynix (XKRX) around Micron's report
after the New York close of Wednesday 2026-06-24 (time_utc 20:01 UTC).

Sessions in UTC: Seoul 00:00-06:30, New York 13:30-20:00 (EDT). The last closes before the report
are Hynix's 2026-06-24 06:30 (C_hy) and MU's 2026-06-24 20:00 (C_mu); F = min = 06:30.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.data.market_data import MarketData, SymbolInfo
from backtests.engine.legs import before_event_times, last_closes_before
from backtests.engine.results import NEVER
from backtests.engine.rules import Rules
from backtests.engine.schedule import first_fill
from backtests.engine.simulate import asset_bars, simulate
from backtests.time.windows import Event, make_window

from crash_day import daily

T = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731
EVENT = Event(id="mu", label="mu", kind="micron_earnings", market="XNYS", date=pd.Timestamp("2026-06-24"),
              timing="after_close", scheduled=True)
E = EVENT.time_utc


def data() -> MarketData:
    mu = daily("XNYS", "2026-06-10", "2026-07-10", open=100.0, high=100.0, low=100.0, close=100.0)
    hy = daily("XKRX", "2026-06-10", "2026-07-10", open=50.0, high=50.0, low=50.0, close=50.0)
    return MarketData(bars={"MU": mu, "000660.KS": hy},
                      info={"MU": SymbolInfo("MU", "XNYS"), "000660.KS": SymbolInfo("000660.KS", "XKRX", "USD")})


def run(decisions: dict[pd.Timestamp, tuple[float, float]], legs: str):
    d = data()
    win = make_window(EVENT, 3, 3)
    rules = Rules.build(d.info, ["MU", "000660.KS"], entry="change", legs=legs, paired=True, max_leverage=2.0)
    idx = pd.DatetimeIndex(sorted(decisions))
    w = pd.DataFrame([decisions[t] for t in idx], index=idx,
                     columns=pd.MultiIndex.from_tuples([(0, "MU"), (0, "000660.KS")], names=["combo", "symbol"]))
    (res,) = simulate(d, w, 1, [win], rules)
    return res, win, d, rules


def first_fills(res) -> dict[str, pd.Timestamp]:
    o = res.orders
    return {s: pd.Timestamp(int(o.loc[o["symbol"] == s, "fill_time"].min()), tz="UTC") for s in o["symbol"].unique()}


def test_the_event_is_one_minute_after_the_new_york_close():
    assert E == T("2026-06-24 20:01")


def test_closes_and_release_times_by_hand():
    d = data()
    win = make_window(EVENT, 3, 3)
    bars = [asset_bars(d, s, win) for s in ("MU", "000660.KS")]
    closes = last_closes_before(bars, E.value)
    assert [T(int(c)) for c in closes] == [T("2026-06-24 20:00"), T("2026-06-24 06:30")]
    x = np.array([T("2026-06-23 20:00").value, T("2026-06-24 06:30").value, T("2026-06-24 10:00").value,
                  T("2026-06-25 07:00").value, NEVER])
    mu, late = before_event_times(x, E.value, closes, 0)
    hy, _ = before_event_times(x, E.value, closes, 1)
    one = pd.Timedelta(1, "ns")
    assert [T(int(v)) for v in mu[:4]] == [T("2026-06-24 20:00") - one, E, E, T("2026-06-25 07:00")]
    assert [T(int(v)) for v in hy[:4]] == [T("2026-06-24 06:30") - one, E, E, T("2026-06-25 07:00")]
    assert late.tolist() == [False, True, True, False, False] and mu[4] == NEVER


def test_a_decision_before_the_first_close_puts_both_legs_on_before_the_report():
    # decided at MU's 06-23 close: Hynix at its 06-24 close (06:30), MU at its 06-24 close (20:00), both
    # market-on-close orders in each market's last closing auction before the 20:01 report
    res, *_ = run({T("2026-06-23 20:00"): (0.5, -0.5)}, "before_event")
    assert first_fills(res) == {"MU": T("2026-06-24 20:00"), "000660.KS": T("2026-06-24 06:30")}
    assert set(res.orders["fill_kind"][:2]) == {"auction"}
    assert not [n for n in res.notices if n["code"] == "legs_after_event"]
    # independent: Hynix at its 06-24 open (00:00), MU at its 06-24 open (13:30): also before, but apart
    res, *_ = run({T("2026-06-23 20:00"): (0.5, -0.5)}, "independent")
    assert first_fills(res) == {"MU": T("2026-06-24 13:30"), "000660.KS": T("2026-06-24 00:00")}


def test_a_decision_at_the_seoul_close_of_the_report_day_straddles_under_independent_legs():
    # 06:30 is Hynix's own last close before the report: too late for it (fills come after decisions)
    res, *_ = run({T("2026-06-24 06:30"): (0.5, -0.5)}, "independent")
    got = first_fills(res)
    assert got["MU"] < E < got["000660.KS"]  # MU at 13:30 before the report, Hynix the next morning after it
    res, *_ = run({T("2026-06-24 06:30"): (0.5, -0.5)}, "before_event")
    assert first_fills(res) == {"MU": T("2026-06-25 13:30"), "000660.KS": T("2026-06-25 00:00")}
    assert [n["count"] for n in res.notices if n["code"] == "legs_after_event"] == [1]


def test_decisions_after_the_report_fill_as_independent():
    a, *_ = run({T("2026-06-25 07:00"): (0.5, -0.5)}, "before_event")
    b, *_ = run({T("2026-06-25 07:00"): (0.5, -0.5)}, "independent")
    assert first_fills(a) == first_fills(b) == {"MU": T("2026-06-25 13:30"), "000660.KS": T("2026-06-26 00:00")}


def test_the_last_pre_event_target_is_what_is_held_into_the_report():
    # entered at 06-22, changed to the opposite at 06-23: both collapse onto the 06-24 closes
    res, *_ = run({T("2026-06-22 20:00"): (0.5, -0.5), T("2026-06-23 20:00"): (-0.5, 0.5)}, "before_event")
    o = res.orders
    first = o.groupby("symbol")["fill_time"].min()
    assert {s: pd.Timestamp(int(t), tz="UTC") for s, t in first.items()} == \
        {"MU": T("2026-06-24 20:00"), "000660.KS": T("2026-06-24 06:30")}
    mu = o[o["symbol"] == "MU"].iloc[0]
    assert mu["side"] == "sell"  # MU short: the 06-23 target, not the 06-22 one


def test_first_fill_follows_the_policy():
    _, win, d, rules = run({T("2026-06-23 20:00"): (0.5, -0.5)}, "before_event")
    bars = [asset_bars(d, s, win) for s in ("MU", "000660.KS")]
    assert T(first_fill(T("2026-06-23 20:00").value, bars, rules, event=E.value)) == T("2026-06-24 06:30")
    assert T(first_fill(T("2026-06-24 06:30").value, bars, rules, event=E.value)) == T("2026-06-25 00:00")


@pytest.mark.parametrize("legs", ["together", "independent", "before_event"])
def test_rules_record_the_policy(legs):
    _, _, _, rules = run({T("2026-06-23 20:00"): (0.5, -0.5)}, legs)
    assert rules.record()["legs"] == legs
