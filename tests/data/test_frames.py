"""backtests.data.frames: where a bar's UTC stamp is decided, and the 24/7 open rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.data.frames import intraday_bars, opens_from_previous_close, utc_open_bars


def _bars(index: pd.DatetimeIndex, freq: str, market: str | None = None, **cols) -> pd.DataFrame:
    cols = cols or {"close": np.arange(1.0, len(index) + 1)}
    return intraday_bars(pd.DataFrame(cols, index=index), freq, market=market)


# --------------------------------------------------------------------------- stamps
def test_a_one_minute_kst_bar_is_stamped_at_its_close_with_its_open_kept():
    # opens 09:00 KST = 00:00 UTC, closes 09:01 KST
    f = _bars(pd.DatetimeIndex(["2026-06-23 09:00"]).tz_localize("Asia/Seoul"), "1min", "XKRX")
    assert f.index[0] == pd.Timestamp("2026-06-23 00:01", tz="UTC")
    assert f["open_time"].iloc[0] == pd.Timestamp("2026-06-23 00:00", tz="UTC")
    assert str(f.index.dtype) == "datetime64[ns, UTC]"


def test_a_bar_labelled_by_its_close_keeps_its_open():
    f = intraday_bars(pd.DataFrame({"close": [1.0]}, index=pd.DatetimeIndex(["2026-06-23 00:05"], tz="UTC")), "5min",
                      stamped_at="close")
    assert f.index[0] == pd.Timestamp("2026-06-23 00:05", tz="UTC")
    assert f["open_time"].iloc[0] == pd.Timestamp("2026-06-23 00:00", tz="UTC")


def test_the_last_hourly_bar_of_a_session_ends_at_the_close():
    # Yahoo's New York hourly bars open 9:30 ... 15:30 ET; the 15:30 bar's close is the 16:00 close
    opens = pd.date_range("2025-03-07 09:30", periods=7, freq="1h", tz="America/New_York")
    f = _bars(opens, "1h", "XNYS")
    assert f.index[-1] == pd.Timestamp("2025-03-07 16:00", tz="America/New_York")
    assert f.index[-2] == pd.Timestamp("2025-03-07 15:30", tz="America/New_York")
    # KRX: 15:00 KST opens the last hourly bar, which ends at the 15:30 close
    k = _bars(pd.date_range("2026-06-23 09:00", periods=7, freq="1h", tz="Asia/Seoul"), "1h", "XKRX")
    assert k.index[-1] == pd.Timestamp("2026-06-23 15:30", tz="Asia/Seoul")
    # crypto has no close: every bar lasts its length
    c = _bars(pd.date_range("2026-06-23 20:00", periods=2, freq="4h", tz="UTC"), "4h", "CRYPTO")
    assert c.index[-1] == pd.Timestamp("2026-06-24 04:00", tz="UTC")


def test_an_exam_day_session_closes_late_so_its_bar_is_not_cut():
    # 2025-11-13 (CSAT): KRX 10:00-16:30 KST; an hourly bar opening 15:30 ends at 16:30
    f = _bars(pd.DatetimeIndex(["2025-11-13 15:30"]).tz_localize("Asia/Seoul"), "1h", "XKRX")
    assert f.index[0] == pd.Timestamp("2025-11-13 16:30", tz="Asia/Seoul")


def test_gaps_are_kept_never_filled():
    opens = pd.DatetimeIndex(["2026-06-23 10:48", "2026-06-23 10:49", "2026-06-23 11:20"]).tz_localize("Asia/Seoul")
    f = _bars(opens, "1min", "XKRX")
    assert len(f) == 3 and f.index[2] - f.index[1] == pd.Timedelta(minutes=31)


def test_daylight_saving_moves_the_utc_stamp_not_the_local_bar():
    before = _bars(pd.DatetimeIndex(["2025-03-07 09:30"]).tz_localize("America/New_York"), "1min", "XNYS")
    after = _bars(pd.DatetimeIndex(["2025-03-10 09:30"]).tz_localize("America/New_York"), "1min", "XNYS")
    assert before.index[0] == pd.Timestamp("2025-03-07 14:31", tz="UTC")
    assert after.index[0] == pd.Timestamp("2025-03-10 13:31", tz="UTC")


def test_utc_open_daily_bars_are_utc_days():
    f = utc_open_bars(pd.DataFrame({"close": [1.0]}, index=pd.DatetimeIndex(["2025-01-27"], tz="UTC")), "1D")
    assert f.index[0] == pd.Timestamp("2025-01-28", tz="UTC")


# ------------------------------------------------------------------ the 24/7 open rule
def _crypto(closes, freq="4h", start="2025-01-27", opens=None, drop=(), high=None, low=None):
    idx = pd.date_range(start, periods=len(closes), freq=freq, tz="UTC")
    cols = {"close": np.asarray(closes, dtype=float)}
    if opens is not None:
        cols["open"] = np.asarray(opens, dtype=float)
    if high is not None:
        cols["high"], cols["low"] = np.asarray(high, float), np.asarray(low, float)
    f = utc_open_bars(pd.DataFrame(cols, index=idx), freq)
    return f.drop(f.index[list(drop)]) if drop else f


def test_crypto_bars_without_opens_open_at_the_previous_close():
    f, notes = opens_from_previous_close(_crypto([100, 101, 103, 102]), "BTC-USD", "CRYPTO", "crypto", where="btc.csv")
    assert np.isnan(f["open"].iloc[0])  # nothing before the first bar
    assert f["open"].iloc[1:].tolist() == [100.0, 101.0, 103.0]
    (n,) = notes
    assert n.code == "open_from_previous_close" and n.count == 3 and n.symbol == "BTC-USD"
    assert "btc.csv" in n.message and "keep no open" in n.message


def test_daily_crypto_bars_follow_the_same_rule():
    f, notes = opens_from_previous_close(_crypto([100, 90], freq="1D"), "ETH-USD", "CRYPTO", "crypto")
    assert f["open"].iloc[1] == 100.0 and notes[0].count == 1


def test_opens_the_file_has_are_kept():
    f, notes = opens_from_previous_close(_crypto([100, 101, 103], opens=[99, 100.5, np.nan]), "BTC-USD", "CRYPTO",
                                         "crypto")
    assert f["open"].tolist() == [99.0, 100.5, 101.0] and notes[0].count == 1
    full, none = opens_from_previous_close(_crypto([100, 101], opens=[99, 100.5]), "BTC-USD", "CRYPTO", "crypto")
    assert none == [] and full["open"].tolist() == [99.0, 100.5]


def test_no_open_after_a_gap():
    # the third 4-hour bar is missing: the fourth bar's previous close is 8 hours before it opens
    f, notes = opens_from_previous_close(_crypto([100, 101, 103, 102], drop=(2,)), "BTC-USD", "CRYPTO", "crypto")
    assert f["open"].iloc[1] == 100.0 and np.isnan(f["open"].iloc[2])
    assert notes[0].count == 1


def test_no_open_where_the_bar_range_excludes_the_previous_close():
    f, notes = opens_from_previous_close(_crypto([100, 110, 111], high=[101, 112, 112], low=[99, 105, 109]),
                                         "BTC-USD", "CRYPTO", "crypto")
    assert np.isnan(f["open"].iloc[1])  # 100 is below the bar's low 105: a jump, the rule does not hold
    assert f["open"].iloc[2] == 110.0 and notes[0].count == 1


@pytest.mark.parametrize("market,kind", [("CRYPTO", "fx"), ("CRYPTO", "series"), ("XKRX", "equity"),
                                         ("XNYS", "etf")])
def test_the_rule_is_only_for_instruments_that_trade_through_the_bar_boundary(market, kind):
    frame = _crypto([100, 101, 103])
    out, notes = opens_from_previous_close(frame, "X", market, kind)
    assert notes == [] and "open" not in out.columns


def test_a_stablecoin_trades_24_7_too():
    _, notes = opens_from_previous_close(_crypto([1.0, 1.0001]), "USDT-USD", "CRYPTO", "stablecoin")
    assert notes[0].count == 1
