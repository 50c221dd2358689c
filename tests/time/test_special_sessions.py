"""Special sessions exchange_calendars misses: KRX exam days (10:00-16:30 KST) and election closures."""

import importlib.metadata

import pandas as pd
import pytest

from backtests.time import calendars
from backtests.time.calendars import session_bounds, sessions, stamp_daily
from backtests.time.special_sessions import SPECIAL_SESSIONS, SpecialSession, apply_special_sessions, digest

CSAT = ["2016-11-17", "2017-11-16", "2017-11-23", "2018-11-15", "2019-11-14", "2020-12-03", "2021-11-18",
        "2022-11-17", "2023-11-16", "2024-11-14", "2025-11-13", "2026-11-19"]


def test_2025_exam_day_is_stamped_at_its_1630_close():
    assert stamp_daily("XKRX", pd.DatetimeIndex(["2025-11-13"]))[0] == pd.Timestamp("2025-11-13 07:30", tz="UTC")
    opens, _ = session_bounds("XKRX", pd.DatetimeIndex(["2025-11-13"]))
    assert opens[0] == pd.Timestamp("2025-11-13 01:00", tz="UTC")
    # the next day is an ordinary session
    assert stamp_daily("XKRX", pd.DatetimeIndex(["2025-11-14"]))[0] == pd.Timestamp("2025-11-14 06:30", tz="UTC")


@pytest.mark.parametrize("day", CSAT)
def test_every_exam_day_2016_2026_runs_1000_to_1630(day):
    s = sessions("XKRX", day, day)
    o = pd.Timestamp(s["open"].iloc[0]).tz_convert("Asia/Seoul")
    c = pd.Timestamp(s["close"].iloc[0]).tz_convert("Asia/Seoul")
    assert (o.strftime("%H:%M"), c.strftime("%H:%M")) == ("10:00", "16:30")


def test_2026_06_03_local_elections_is_not_a_session():
    days = sessions("XKRX", "2026-06-01", "2026-06-05").index.strftime("%Y-%m-%d")
    assert list(days) == ["2026-06-01", "2026-06-02", "2026-06-04", "2026-06-05"]


@pytest.mark.parametrize("day", ["2017-05-09", "2018-06-13", "2022-03-09", "2022-06-01", "2024-04-10", "2025-06-03"])
def test_other_election_days_are_closed(day):
    assert sessions("XKRX", day, day).empty


def test_every_entry_is_sourced_and_well_formed():
    for s in SPECIAL_SESSIONS:
        assert s.source and s.rule and s.kind in {"hours", "closed"} and s.status in {"announced", "expected"}
        assert (s.open is not None) == (s.kind == "hours")


def test_apply_adds_moves_and_drops():
    idx = pd.DatetimeIndex(["2030-01-02", "2030-01-03"], name="session")
    sched = pd.DataFrame({"open": pd.DatetimeIndex(["2030-01-02 00:00", "2030-01-03 00:00"], tz="UTC"),
                          "close": pd.DatetimeIndex(["2030-01-02 06:30", "2030-01-03 06:30"], tz="UTC")}, index=idx)
    table = (SpecialSession("2030-01-02", "XKRX", "closed", None, None, "r", "s"),
             SpecialSession("2030-01-03", "XKRX", "hours", "10:00", "16:30", "r", "s"))
    out = apply_special_sessions("XKRX", sched, table)
    assert list(out.index.strftime("%Y-%m-%d")) == ["2030-01-03"]
    assert out["close"].iloc[0] == pd.Timestamp("2030-01-03 07:30", tz="UTC")
    assert apply_special_sessions("XNYS", sched, table) is sched


def test_cache_key_follows_the_table(tmp_path, monkeypatch):
    assert digest() == digest(SPECIAL_SESSIONS)
    other = SPECIAL_SESSIONS + (SpecialSession("2030-01-03", "XKRX", "closed", None, None, "r", "s"),)
    assert digest(other) != digest()
    monkeypatch.setenv("SCARE_CACHE_DIR", str(tmp_path))
    calendars._exchange_schedule.cache_clear()
    try:
        calendars._exchange_schedule("XKRX", 2025, 2026)
        version = importlib.metadata.version("exchange_calendars")
        assert [p.name for p in tmp_path.iterdir()] == [f"calendar-XKRX-2025-2026-xcals{version}-special{digest()}.parquet"]
    finally:
        calendars._exchange_schedule.cache_clear()
