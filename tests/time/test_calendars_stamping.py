"""Bars are stamped at the UTC instant their close is known, per market calendar."""

import pandas as pd
import pytest

from backtests.time.calendars import local_session_dates, periods_per_year, session_bounds, sessions, stamp_daily


def test_krx_closed_for_lunar_new_year_2025():
    days = sessions("XKRX", "2025-01-24", "2025-01-31").index
    assert list(days.strftime("%Y-%m-%d")) == ["2025-01-24", "2025-01-31"]


def test_seoul_close_precedes_new_york_close_on_the_same_date():
    hynix = stamp_daily("XKRX", pd.DatetimeIndex(["2026-06-25"]))[0]
    micron = stamp_daily("XNYS", pd.DatetimeIndex(["2026-06-25"]))[0]
    assert hynix == pd.Timestamp("2026-06-25 06:30", tz="UTC")
    assert micron == pd.Timestamp("2026-06-25 20:00", tz="UTC")  # EDT
    assert hynix < micron


def test_new_york_close_follows_daylight_saving():
    winter = stamp_daily("XNYS", pd.DatetimeIndex(["2025-01-27"]))[0]
    assert winter == pd.Timestamp("2025-01-27 21:00", tz="UTC")


def test_crypto_day_closes_at_next_midnight_utc():
    opens, closes = session_bounds("CRYPTO", pd.DatetimeIndex(["2025-10-10"]))
    assert opens[0] == pd.Timestamp("2025-10-10", tz="UTC")
    assert closes[0] == pd.Timestamp("2025-10-11", tz="UTC")


def test_stamps_round_trip_to_local_dates():
    dates = pd.DatetimeIndex(["2025-01-31", "2026-06-23"])
    for market in ("XKRX", "XNYS", "CRYPTO"):
        assert list(local_session_dates(market, stamp_daily(market, dates))) == list(dates)


def test_date_missing_from_calendar_gets_regular_hours():
    # 2025-01-28 is a KRX holiday: a bar labelled with it still gets a Seoul 15:30 stamp.
    closes = stamp_daily("XKRX", pd.DatetimeIndex(["2025-01-28"]))
    assert closes[0] == pd.Timestamp("2025-01-28 06:30", tz="UTC")


@pytest.mark.parametrize(("market", "freq", "ppy"), [
    ("XNYS", "1D", 252), ("CRYPTO", "1D", 365), ("CRYPTO", "4h", 365 * 6), ("XKRX", "5min", 252 * 78)])
def test_periods_per_year(market, freq, ppy):
    assert periods_per_year(market, freq) == ppy


def test_a_clocks_periods_per_year_is_the_sum_over_its_markets():
    from backtests.errors import DataError
    from backtests.time.calendars import clock_periods_per_year

    assert clock_periods_per_year(["XNYS"]) == 252.0
    assert clock_periods_per_year(["XNYS", "XNYS"]) == 252.0  # a market counts once
    assert clock_periods_per_year(["XKRX", "XNYS"]) == 504.0  # closes at 06:30 and 20:00/21:00 UTC
    assert clock_periods_per_year(["CRYPTO", "XNYS"]) == 617.0
    assert clock_periods_per_year(["CRYPTO"], "4h") == 365.0 * 6 == periods_per_year("CRYPTO", "4h")
    assert clock_periods_per_year(["CRYPTO", "XNYS"], "1h") == 365.0 * 24 + 252.0 * 7  # 6.5 h -> 7 bars
    with pytest.raises(DataError):
        clock_periods_per_year([])
    with pytest.raises(DataError):
        clock_periods_per_year(["XLON"])
