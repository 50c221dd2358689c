"""The yfinance provider at 1 and 5 minutes, on the installed yfinance's own answers (offline).

Yahoo's HTTP answer is stubbed (``yahoo_stub``); ``yf.download`` and everything after it run for
real, so the frames are exactly what yfinance 1.7.0 returns (``(Price, Ticker)`` columns, a
tz-aware ``Datetime`` index of bar opens in the exchange's zone).
"""

from __future__ import annotations

import pandas as pd
import pytest
from yahoo_stub import YahooChart, cache_location, install, minute_bars, uninstall

from backtests.data.cache import Cache, fetch
from backtests.data.providers import ProviderError
from backtests.data.providers.yahoo import (INTRADAY_LIMITS, YahooProvider, earliest_start, request_windows)

pytest.importorskip("yfinance")

NOW = pd.Timestamp("2026-07-20 12:00", tz="UTC")  # the clock of Yahoo and of the provider


def _sessions(days, tz="Asia/Seoul", skip=None, step="1min"):
    return pd.concat([minute_bars(d, tz, skip if d == days[0] else None, 9000.0 + i, step)
                      for i, d in enumerate(days)])


@pytest.fixture
def yahoo(monkeypatch, tmp_path):
    before = cache_location()

    def make(bars: dict[str, pd.DataFrame], now: pd.Timestamp = NOW) -> YahooChart:
        return install(monkeypatch, tmp_path, YahooChart(bars, now))
    yield make
    uninstall(before)


def _provider(now=NOW) -> YahooProvider:
    return YahooProvider(now=lambda: now, sleep=lambda s: None)


def test_the_stub_is_answered_through_the_real_yfinance_download(yahoo):
    import yfinance as yf

    yahoo({"^KS11": minute_bars("2026-07-14")})
    raw = yf.download("^KS11", start="2026-07-14", end="2026-07-15", interval="1m", progress=False, threads=False,
                      multi_level_index=True, group_by="column", auto_adjust=True)
    assert list(raw.columns.names) == ["Price", "Ticker"] and raw.index.name == "Datetime"
    assert str(raw.index.tz) == "Asia/Seoul" and raw.index[0] == pd.Timestamp("2026-07-14 09:00", tz="Asia/Seoul")


def test_one_minute_bars_are_stamped_at_their_close_with_their_open_kept(yahoo):
    yahoo({"^KS11": minute_bars("2026-07-14")})
    got = _provider().fetch("^KS11", "bars", "1min", pd.Timestamp("2026-07-14"), pd.Timestamp("2026-07-14"))
    f = got.frame
    assert len(f) == 390 and got.source == "yfinance"
    # yfinance labels a bar by its open: the 09:00 KST bar closes 09:01 KST (00:01 UTC)
    assert f["open_time"].iloc[0] == pd.Timestamp("2026-07-14 00:00", tz="UTC")
    assert f.index[0] == pd.Timestamp("2026-07-14 00:01", tz="UTC")
    assert f.index[-1] == pd.Timestamp("2026-07-14 06:30", tz="UTC")  # the 15:29 bar ends at the 15:30 close


def test_a_halt_stays_a_gap(yahoo):
    yahoo({"^KS11": minute_bars("2026-07-14", skip=("10:50", "11:20"))})
    f = _provider().fetch("^KS11", "bars", "1min", pd.Timestamp("2026-07-14"), pd.Timestamp("2026-07-14")).frame
    assert len(f) == 360
    local = pd.DatetimeIndex(f["open_time"]).tz_convert("Asia/Seoul")
    assert local[(local.hour == 10) & (local.minute == 49)].size == 1
    after = local[local > pd.Timestamp("2026-07-14 10:49", tz="Asia/Seoul")][0]
    assert after == pd.Timestamp("2026-07-14 11:20", tz="Asia/Seoul")


def test_one_minute_bars_are_asked_for_in_windows_of_seven_days(yahoo):
    days = [str(d.date()) for d in pd.bdate_range("2026-06-22", "2026-07-10")]
    chart = yahoo({"^KS11": _sessions(days)})
    f = _provider().fetch("^KS11", "bars", "1min", pd.Timestamp("2026-06-22"), pd.Timestamp("2026-07-10")).frame
    spans = [(int(r["period2"]) - int(r["period1"])) / 86400 for r in chart.requests]
    assert len(chart.requests) == 3 and max(spans) <= 7  # 06-22..28, 06-29..07-05, 07-06..10
    assert len(f) == 390 * len(days) and f.index.is_unique and f.index.is_monotonic_increasing


def test_a_window_without_a_session_is_not_asked_for(yahoo):
    chart = yahoo({"^KS11": minute_bars("2026-07-14")})
    with pytest.raises(ProviderError, match="no XKRX session between 2026-07-18 and 2026-07-19"):
        _provider().fetch("^KS11", "bars", "1min", pd.Timestamp("2026-07-18"), pd.Timestamp("2026-07-19"))
    assert chart.requests == []


def test_a_start_beyond_the_one_minute_horizon_is_one_line_naming_the_limit(yahoo):
    chart = yahoo({"^KS11": minute_bars("2026-06-02")})
    with pytest.raises(ProviderError) as err:
        _provider().fetch("^KS11", "bars", "1min", pd.Timestamp("2026-06-01"), pd.Timestamp("2026-06-05"))
    msg = str(err.value)
    assert "\n" not in msg
    assert "yfinance serves 1m bars for the last 30 days only, at most 7 days per request" in msg
    assert "asked from 2026-06-01, the earliest is 2026-06-21: use 5min (60 days) or 1h (730 days) bars" in msg
    assert chart.requests == []  # refused before asking


def test_five_minute_bars_reach_sixty_days_back(yahoo):
    yahoo({"^KS11": minute_bars("2026-05-26", step="5min")})
    f = _provider().fetch("^KS11", "bars", "5min", pd.Timestamp("2026-05-26"), pd.Timestamp("2026-05-26")).frame
    assert len(f) == 78 and f.index[-1] == pd.Timestamp("2026-05-26 06:30", tz="UTC")
    with pytest.raises(ProviderError, match=r"yfinance serves 5m bars for the last 60 days only \(Yahoo refuses older "
                                            r"ranges\); asked from 2026-05-20, the earliest is 2026-05-22: use 1h"):
        _provider().fetch("^KS11", "bars", "5min", pd.Timestamp("2026-05-20"), pd.Timestamp("2026-05-26"))


def test_yahoos_own_refusal_names_the_limit(yahoo):
    # Yahoo's clock runs a day ahead of ours: our check passes, Yahoo answers 422 with its reason
    yahoo({"^KS11": minute_bars("2026-06-22")}, now=NOW + pd.Timedelta(days=2))
    with pytest.raises(ProviderError) as err:
        YahooProvider(now=lambda: NOW, sleep=lambda s: None, attempts=1).fetch(
            "^KS11", "bars", "1min", pd.Timestamp("2026-06-22"), pd.Timestamp("2026-06-22"))
    msg = str(err.value)
    assert "The requested range must be within the last 30 days" in msg
    assert "(yfinance serves 1m bars for the last 30 days only" in msg and "\n" not in msg


def test_new_york_minutes_across_a_dst_change(yahoo):
    bars = pd.concat([minute_bars("2026-03-06", "America/New_York"), minute_bars("2026-03-09", "America/New_York")])
    yahoo({"MU": bars}, now=pd.Timestamp("2026-03-20", tz="UTC"))
    f = _provider(pd.Timestamp("2026-03-20", tz="UTC")).fetch("MU", "bars", "1min", pd.Timestamp("2026-03-06"),
                                                             pd.Timestamp("2026-03-09")).frame
    opens = pd.DatetimeIndex(f["open_time"])
    # 09:30 New York is 14:30 UTC on Friday (EST) and 13:30 UTC on Monday (EDT, clocks moved on the 8th)
    assert opens[0] == pd.Timestamp("2026-03-06 14:30", tz="UTC")
    assert opens[390] == pd.Timestamp("2026-03-09 13:30", tz="UTC")
    assert f.index[389] == pd.Timestamp("2026-03-06 21:00", tz="UTC") and len(f) == 780


def test_fetched_into_the_cache(yahoo, tmp_path):
    yahoo({"^KS11": minute_bars("2026-07-14", skip=("10:50", "11:20"))})
    cache = Cache(tmp_path / "dc")
    rep = fetch(cache, "^KS11", "bars", "1min", "2026-07-14", "2026-07-14", provider=_provider())
    assert rep.key == "yfinance/^KS11/bars/1min" and rep.rows == 360
    (entry,) = cache.find("^KS11", "1min")
    back = cache.read(entry)
    assert len(back) == 360 and back.index[0] == pd.Timestamp("2026-07-14 00:01", tz="UTC")
    assert "open_time" in back.columns


def test_horizon_helpers():
    assert INTRADAY_LIMITS["1m"] == (30, 7) and INTRADAY_LIMITS["5m"][0] == 60 and INTRADAY_LIMITS["1h"][0] == 730
    assert earliest_start("1d", "XKRX", NOW) is None
    # 30 days before 2026-07-20 12:00 UTC (+1 h) is 2026-06-20 22:00 KST: the first whole day is the 21st
    assert earliest_start("1m", "XKRX", NOW) == pd.Timestamp("2026-06-21")
    w = request_windows("1m", pd.Timestamp("2026-06-21"), pd.Timestamp("2026-07-04"))
    assert [(a.day, b.day) for a, b in w] == [(21, 27), (28, 4)]
    # daily bars: one request, whatever the span
    assert request_windows("1d", pd.Timestamp("1990-01-02"), pd.Timestamp("2026-07-01")) == [
        (pd.Timestamp("1990-01-02"), pd.Timestamp("2026-07-01"))]
