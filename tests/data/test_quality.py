"""Quality checks: each check on a small constructed frame, and the two real defects in ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.time.calendars import sessions
from backtests.data.files import load_file
from backtests.data.frames import daily_bars, intraday_bars
from backtests.data.quality import check_bars, enforce, vet
from backtests.errors import DataError

SHARED = Path(os.environ.get("SCARE_SHARED_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")


def bars(close, market="XNYS", start="2025-01-02", **cols) -> pd.DataFrame:
    days = sessions(market, start, "2026-12-31").index[: len(close)]
    table = pd.DataFrame({"close": np.asarray(close, dtype=float), **cols}, index=days)
    return daily_bars(table, market)


def checks(findings, level=None):
    return [f.check for f in findings if level is None or f.level == level]


def test_clean_data_has_no_findings():
    c = 100 * np.cumprod(1 + 0.01 * np.sin(np.arange(60)))
    f = bars(c, open=c * 0.999, high=c * 1.01, low=c * 0.99, volume=np.full(60, 1e6))
    assert check_bars(f, "MU", "XNYS") == []


def test_each_check_fires():
    c = np.linspace(100, 110, 40)
    assert checks(check_bars(bars(np.r_[c[:10], -1.0, c[11:]]), "X", "XNYS"), "error") == ["non_positive"]
    f = bars(c, open=c, high=c * 1.01, low=c * 0.99)
    f.iloc[5, f.columns.get_loc("high")] = c[5] * 0.995  # high a little below close: rounding, a warning
    assert checks(check_bars(f, "X", "XNYS"), "warning") == ["ohlc"]
    f.iloc[5, f.columns.get_loc("high")] = c[5] * 0.9  # close 11% above the high: a wrong price
    found = check_bars(f, "X", "XNYS")
    assert checks(found, "error") == ["bad_price"] and found[0].message.startswith("field close: ")
    inf = bars(np.r_[c[:3], np.inf, c[4:]])
    found = check_bars(inf, "X", "XNYS", labels=np.array([f"line {i + 2}" for i in range(40)]))
    assert checks(found, "error") == ["non_finite"] and "inf on " in found[0].message and "(line 5)" in found[0].message
    future = bars(c)
    assert checks(check_bars(future, "X", "XNYS", now=future.index[30]), "error") == ["future"]
    holiday = daily_bars(pd.DataFrame({"close": [1.0, 1.0, 1.0]}, index=pd.DatetimeIndex(
        ["2025-07-03", "2025-07-04", "2025-07-07"])), "XNYS")  # Independence Day
    found = check_bars(holiday, "X", "XNYS")
    assert checks(found, "error") == ["closed_session"] and "2025-07-04" in found[0].message
    jump = np.r_[c[:20], c[20:] / 10]
    found = check_bars(bars(jump), "X", "XNYS", "etf")
    assert checks(found, "error") == ["split"] and "1:9.9" in found[0].message
    assert checks(check_bars(bars(jump), "BTC-USD", "XNYS", "crypto")) == []  # crypto does not split
    half = np.r_[c[:20], c[20:] / 2]
    assert checks(check_bars(bars(half), "X", "XNYS"), "warning") == ["possible_split"]
    stale = np.r_[c[:10], np.full(6, c[10]), c[16:]]
    assert checks(check_bars(bars(stale), "X", "XNYS"), "warning") == ["stale"]
    gap = bars(c).drop(index=bars(c).index[[7, 8]])
    w = check_bars(gap, "X", "XNYS")
    assert checks(w) == ["gap"] and "2 XNYS sessions without a bar" in w[0].message


def test_timezone_problems():
    # dates shifted by a time zone: a New York series labelled with the next (UTC) date
    c = np.linspace(100, 110, 30)
    days = sessions("XNYS", "2025-01-02", "2025-03-31").index[:30] + pd.Timedelta(days=1)
    shifted = daily_bars(pd.DataFrame({"close": c}, index=days), "XNYS")
    found = check_bars(shifted, "X", "XNYS")
    assert "timezone" in checks(found, "error")
    # intraday Seoul bars given in UTC as if they were KST: outside the session
    idx = pd.date_range("2026-06-23 09:00", periods=20, freq="5min", tz="UTC")
    f = intraday_bars(pd.DataFrame({"close": np.linspace(9000, 8800, 20)}, index=idx), "5min")
    assert checks(check_bars(f, "^KS11", "XKRX", "index", "5min"), "error") == ["timezone"]
    ok = intraday_bars(pd.DataFrame({"close": np.linspace(9000, 8800, 20)}, index=idx.tz_localize(None)
                                    .tz_localize("Asia/Seoul")), "5min")
    assert checks(check_bars(ok, "^KS11", "XKRX", "index", "5min")) == []
    # bars opening after they close
    bad = bars(c)
    bad["open_time"] = bad.index + pd.Timedelta(hours=1)
    assert "timezone" in checks(check_bars(bad, "X", "XNYS"), "error")


def test_enforce_raises_naming_symbol_and_file():
    f = bars(np.r_[np.linspace(100, 110, 5), 0.0])
    with pytest.raises(DataError) as exc:
        enforce(check_bars(f, "000660.KS", "XKRX"), where="000660.KS (data_cache/import/000660.KS/x.parquet)")
    assert str(exc.value).startswith("000660.KS (data_cache/import/000660.KS/x.parquet): bad data for 000660.KS")
    assert enforce(check_bars(bars(np.linspace(1, 2, 10)), "X", "XNYS")) == []


@pytest.mark.shared_data
def test_sk_hynix_close_only_negative_prices_are_caught():
    path = SHARED / "equities" / "close_only" / "000660.KS_SKHynix.csv"
    if not path.is_file():
        pytest.skip("../shared/data is absent")
    f = load_file(path, "XKRX").frame
    found = check_bars(f, "000660.KS_SKHynix", "XKRX")
    err = [x for x in found if x.level == "error"]
    assert [x.check for x in err] == ["non_positive"]
    assert "778 such rows" in err[0].message and "2002-12-26" in err[0].message
    with pytest.raises(DataError, match="non-positive close"):
        enforce(found)
    later = load_file(path, "XKRX", start=pd.Timestamp("2003-01-01")).frame
    # after the negative stretch, yfinance's rows on KRX holidays remain (the last on 2015-08-14)
    (err,) = [x for x in check_bars(later, "000660.KS_SKHynix", "XKRX") if x.level == "error"]
    assert err.check == "closed_session" and "bar(s) on dates XKRX is closed" in err.message
    clean = load_file(path, "XKRX", start=pd.Timestamp("2015-08-15")).frame
    assert checks(check_bars(clean, "000660.KS_SKHynix", "XKRX"), "error") == []


@pytest.mark.shared_data
def test_soxs_unadjusted_split_is_caught():
    path = SHARED / "equities" / "SOXS.csv"
    if not path.is_file():
        pytest.skip("../shared/data is absent")
    f = load_file(path, "XNYS").frame
    err = [x for x in check_bars(f, "SOXS", "XNYS", "etf") if x.level == "error"]
    assert [x.check for x in err] == ["split"] and "2026-05-26" in err[0].message
    assert "1:18.43" in err[0].message
    warn = check_bars(f, "SOXS", "XNYS", "etf")
    assert any(x.check == "stale" and "zero volume" in x.message for x in warn)
    sox = load_file(SHARED / "equities" / "SOX_index.csv", "XNYS").frame
    assert any(x.check == "ohlc" and "2023-04-26" in x.message for x in check_bars(sox, "SOX", "XNYS", "index"))


def _krx_minutes(days, closes) -> pd.DataFrame:
    opens = pd.DatetimeIndex([pd.Timestamp(f"{d} 09:00", tz="Asia/Seoul") + pd.Timedelta(minutes=i)
                              for d in days for i in range(3)])
    return intraday_bars(pd.DataFrame({"close": closes}, index=opens), "1min", market="XKRX")


def test_the_split_check_compares_intraday_bars_only_days_apart():
    # two crash days a year apart: a 5x move between them is not a split
    far = _krx_minutes(["2024-08-05", "2026-06-23"], [100.0, 100, 100, 500, 500, 500])
    assert checks(check_bars(far, "X", "XKRX", "equity", "1min")) == []
    # the same move from one session to the next is one
    near = _krx_minutes(["2026-06-22", "2026-06-23"], [100.0, 100, 100, 500, 500, 500])
    assert "split" in checks(check_bars(near, "X", "XKRX", "equity", "1min"), "error")


def test_intraday_bars_outside_the_session_follow_the_closed_session_rule():
    opens = pd.date_range("2026-06-23 15:27", periods=5, freq="1min", tz="Asia/Seoul")  # 15:30, 15:31: after
    f = intraday_bars(pd.DataFrame({"close": np.full(5, 100.0)}, index=opens), "1min", market="XKRX")
    assert checks(check_bars(f, "X", "XKRX", "equity", "1min"), "error") == ["closed_session"]
    kept, notes = vet(f, "X", "XKRX", "equity", "1min", closed="drop")
    assert len(kept) == 3 and [n.code for n in notes] == ["closed_session_bar_dropped"]
    # a bar running past the close is outside too (a 5-minute bar opening 15:28 would end 15:33)
    late = f.iloc[:3].copy()
    late.index = late.index.where(late.index != late.index[-1], late.index[-1] + pd.Timedelta(minutes=3))
    assert checks(check_bars(late, "X", "XKRX", "equity", "1min"), "error") == ["closed_session"]
