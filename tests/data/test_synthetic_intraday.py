"""The synthetic replay's 1-minute crash days: the halts come out of the KRX rules, not a hand-placed gap.

The 2026-06-23 case is worked by hand from the rule text (docs/exchange.md, ``krx_cb_2015``): the
index must lie at or below 8% under the previous close for one whole minute; the halt starts when
that minute is proven, lasts 20 minutes, and a 10-minute single-price call auction follows, which
prints at its end. So if the first 1-minute bar lying entirely at or below the level opens at 10:49,
the halt runs 10:50-11:10, the call auction 11:10-11:20, and the first print after it is the bar
opening at 11:20.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.config.model import DataConfig
from backtests.data.sources import load_market_data
from backtests.data.synthetic import generate
from backtests.data.synthetic_intraday import CRASH_DAYS, SYMBOLS, crash_minutes
from backtests.data.synthetic_world import _build
from backtests.errors import DataError
from backtests.exchange import krx_market_state, krx_symbol_state, overlay
from backtests.exchange.bars import as_bars
from backtests.exchange.compare import catalogue_halts, compare_bars, compare_halts
from backtests.exchange.states import State
from backtests.strategy.context import StrategyContext
from backtests.time.calendars import local_session_dates
from backtests.time.windows import load_builtin

KST = "Asia/Seoul"


@pytest.fixture(scope="module")
def md():
    return generate(intraday="1min")


def _day(frame: pd.DataFrame, date: str) -> pd.DataFrame:
    local = pd.DatetimeIndex(frame["open_time"]).tz_convert(KST).tz_localize(None).normalize()
    return frame.loc[np.asarray(local == pd.Timestamp(date))]


def _prev_close(md, sym: str, date: str) -> float:
    frame = md.bars[sym]
    local = local_session_dates("XKRX", frame.index)
    i = int(np.flatnonzero(local == pd.Timestamp(date))[0])
    return float(frame["close"].iloc[i - 1])


def _kst(ns: int) -> str:
    return pd.Timestamp(int(ns), tz="UTC").tz_convert(KST).strftime("%H:%M")


def test_2026_06_23_halts_at_the_minute_the_rule_says(md):
    bars = _day(md.intraday["^KS11"], "2026-06-23")
    prev = _prev_close(md, "^KS11", "2026-06-23")
    level = prev * (1 - 0.08)
    opens = pd.DatetimeIndex(bars["open_time"]).tz_convert(KST)
    # by hand: the first bar lying entirely at or below the level, and what the rule makes of it
    below = np.flatnonzero(bars["high"].to_numpy() <= level)
    first = opens[below[0]]
    assert first == pd.Timestamp("2026-06-23 10:49", tz=KST)
    assert (bars["high"].to_numpy()[: below[0]] > level).all()
    halt = first + pd.Timedelta(minutes=1)
    auction = halt + pd.Timedelta(minutes=20)
    uncross = auction + pd.Timedelta(minutes=10)
    assert (str(halt.time()), str(auction.time()), str(uncross.time())) == ("10:50:00", "11:10:00", "11:20:00")
    # the exchange model derives the same from the generated minutes
    tl = krx_market_state(bars, prev, "2026-06-23", bar="1min")
    (ev,) = [e for e in tl.events if e.code == "cb_level1"]
    assert _kst(ev.instant) == "10:50"
    assert [(_kst(s), _kst(e)) for s, e in tl.segments(State.HALTED)] == [("10:50", "11:10")]
    assert [(_kst(s), _kst(e)) for s, e in tl.segments(State.CALL_REOPEN)] == [("11:10", "11:20")]
    # nothing prints from the halt to the uncross; the auction's print opens the 11:20 bar
    for sym in SYMBOLS:
        o = pd.DatetimeIndex(_day(md.intraday[sym], "2026-06-23")["open_time"]).tz_convert(KST)
        assert not ((o >= halt) & (o < uncross)).any()
        assert uncross in o
    assert first in pd.DatetimeIndex(bars["open_time"]).tz_convert(KST)


@pytest.mark.parametrize("crash", CRASH_DAYS, ids=[c.date for c in CRASH_DAYS])
def test_every_crash_day_halts_where_its_table_says(md, crash):
    bars = _day(md.intraday["^KS11"], crash.date)
    tl = krx_market_state(bars, _prev_close(md, "^KS11", crash.date), crash.date, bar="1min")
    assert [_kst(e.instant) for e in tl.events if e.code.startswith("cb_level")] == [crash.halt]
    assert compare_bars(tl, as_bars(bars, "1min"), where="^KS11") == []  # no print in a halt, no unexplained gap


def test_the_derived_halts_agree_with_the_catalogue(md):
    recorded = catalogue_halts(load_builtin().frame())
    for crash in CRASH_DAYS:
        bars = _day(md.intraday["^KS11"], crash.date)
        tl = krx_market_state(bars, _prev_close(md, "^KS11", crash.date), crash.date, bar="1min")
        assert compare_halts(tl, recorded, crash.date) == [], crash.date


@pytest.mark.parametrize("date", [c.date for c in CRASH_DAYS])
def test_daily_bars_are_the_aggregate_of_the_printed_minutes(md, date):
    for sym in SYMBOLS:
        day = _day(md.intraday[sym], date)
        frame = md.bars[sym]
        row = frame.iloc[int(np.flatnonzero(local_session_dates("XKRX", frame.index) == pd.Timestamp(date))[0])]
        assert day["open"].iloc[0] == row["open"] and day["close"].iloc[-1] == row["close"]
        assert day["high"].max() == row["high"] and day["low"].min() == row["low"]
        assert day["volume"].sum() == row["volume"]
        # the close is the closing call auction's single print at 15:30
        last = day.iloc[-1]
        assert day.index[-1].tz_convert(KST) == pd.Timestamp(f"{date} 15:30", tz=KST)
        assert last["open"] == last["high"] == last["low"] == last["close"]


def test_the_calibrated_daily_figures_survive():
    md = generate(intraday=None)
    frame = md.bars["^KS11"]
    local = local_session_dates("XKRX", frame.index)
    i = int(np.flatnonzero(local == pd.Timestamp("2026-06-23"))[0])
    prev = frame["close"].iloc[i - 1]
    assert frame["close"].iloc[i] / prev - 1 == pytest.approx(-0.0999, abs=1e-12)
    assert frame["low"].iloc[i] == frame["close"].iloc[i]
    assert frame["open"].iloc[i] / prev - 1 == pytest.approx(-0.003, abs=1e-12)
    # the minutes and the daily bars are one world: asking for none changes no daily bar
    assert md.fingerprint() == {k: v for k, v in generate().fingerprint().items()}


def test_each_symbols_own_rules_give_back_the_timeline_it_printed_under():
    world = _build(20260623)
    minutes = crash_minutes(world.daily, 20260623)
    vi_days = 0
    for crash in CRASH_DAYS:
        d = pd.Timestamp(crash.date)
        tls = minutes.timelines[d]
        for sym in SYMBOLS[1:]:
            bars = minutes.bars[sym]
            local = bars.index.tz_convert(KST).tz_localize(None).normalize()
            day = bars.loc[np.asarray(local == d)]
            stamped = day.set_axis(day.index + pd.Timedelta(minutes=1))
            daily = world.daily[sym]
            prev = float(daily["close"].iloc[daily.index.get_loc(d) - 1])
            again = overlay(tls["^KS11"], krx_symbol_state(stamped, prev, d, sym, bar="1min"))
            assert np.array_equal(again.edges, tls[sym].edges) and np.array_equal(again.codes, tls[sym].codes)
            vi = [e for e in tls[sym].events if e.code.startswith("vi_")]
            vi_days += bool(vi)
            for e in vi:  # two silent minutes after the trigger; the next print is the first minute of
                opens = day.index.asi8  # continuous trading after them (a market halt may come first)
                end = e.instant + 2 * 60_000_000_000
                assert not ((opens >= e.instant) & (opens < end)).any()
                grid = np.arange(end, tls[sym].end, 60_000_000_000)
                resume = grid[tls[sym].state_at(grid) == State.CONTINUOUS][0]
                assert opens[opens >= e.instant][0] == resume
    assert vi_days >= 1  # SK Hynix and Samsung fall more than 10% on 2026-06-23


@pytest.mark.parametrize("seed", [1, 7, 99, 2024])
def test_other_seeds_halt_at_the_same_minutes(seed):
    md = generate(seed=seed, intraday="1min", start="2026-06-01", end="2026-06-30")
    for crash in CRASH_DAYS[3:]:
        bars = _day(md.intraday["^KS11"], crash.date)
        tl = krx_market_state(bars, _prev_close(md, "^KS11", crash.date), crash.date, bar="1min")
        assert [_kst(e.instant) for e in tl.events if e.code == "cb_level1"] == [crash.halt]


# ------------------------------------------------------------------------ the config
def test_a_study_asks_for_the_minutes_and_ctx_intraday_returns_them(tmp_path):
    cfg = DataConfig(source="synthetic", intraday="1min", start="2026-06-01", end="2026-06-30")
    md = load_market_data(cfg, tmp_path)
    assert md.synthetic and set(md.intraday) == set(SYMBOLS)
    ks = md.intraday["^KS11"]
    assert ((ks.index - pd.DatetimeIndex(ks["open_time"])) == pd.Timedelta(minutes=1)).all()
    assert sorted({str(d.date()) for d in pd.DatetimeIndex(ks["open_time"]).tz_convert(KST)}) == [
        "2026-06-08", "2026-06-23", "2026-06-26"]
    ctx = StrategyContext(md, {"index": "^KS11", "kodex": "069500.KS"})
    pd.testing.assert_frame_equal(ctx.intraday("kodex"), md.intraday["069500.KS"])
    assert ctx.intraday("index") is not None and len(ctx.intraday("index")) == len(ks)


def test_the_default_channel_is_five_minutes_and_none_turns_it_off(tmp_path):
    five = load_market_data(DataConfig(source="synthetic", start="2026-06-22", end="2026-06-24"), tmp_path)
    ks = five.intraday["^KS11"]
    assert ((ks.index - pd.DatetimeIndex(ks["open_time"])) == pd.Timedelta(minutes=5)).all()
    off = load_market_data(DataConfig(source="synthetic", intraday="none", start="2026-06-22", end="2026-06-24"),
                           tmp_path)
    assert off.intraday == {}
    with pytest.raises(DataError, match="whole minutes"):
        load_market_data(DataConfig(source="synthetic", intraday="90s"), tmp_path)


@pytest.mark.parametrize("step", ["1min", "5min"])
def test_the_minutes_pass_the_quality_checks_without_a_warning(tmp_path, step):
    # paths turn back at their day's high and low instead of sticking to them: no stale runs
    md = load_market_data(DataConfig(source="synthetic", intraday=step), tmp_path)
    assert md.warnings == []
