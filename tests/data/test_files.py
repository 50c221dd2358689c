"""backtests.data.files: intraday CSVs (frequency declared or inferred, spacing, time zones,
sessions) with the same mapping and checks as daily files; the crypto open rule at load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.config.model import DataConfig, FileSpec
from backtests.data.files import infer_frequency, load_file
from backtests.data.sources import load_market_data
from backtests.errors import DataError


def _minutes(start: str, n: int, tz: str = "Asia/Seoul", step: str = "1min") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq=step, tz=tz)


def _csv(path, opens: pd.DatetimeIndex, fmt: str = "%Y-%m-%d %H:%M", closes=None, layout: str = "ohlcv") -> None:
    c = np.asarray(closes, float) if closes is not None else 100 + np.arange(len(opens)) * 0.1
    times = opens.strftime(fmt) if fmt else [t.isoformat() for t in opens]
    if layout == "yfinance":
        frame = pd.DataFrame({"Datetime": times, "Open": c, "High": c + 0.5, "Low": c - 0.5, "Close": c,
                              "Volume": 1000.0})
    else:
        frame = pd.DataFrame({"date": times, "open": c, "high": c + 0.5, "low": c - 0.5, "close": c, "volume": 1000.0})
    frame.to_csv(path, index=False)


def _study(path, freq: str = "auto", study_freq: str = "1D", intraday: bool = True, closed: str = "error", **kw):
    spec = FileSpec(path=str(path), symbol=kw.pop("symbol", "^KS11"), market=kw.pop("market", "XKRX"),
                    currency=kw.pop("currency", "KRW"), kind=kw.pop("kind", "index"), frequency=freq,
                    intraday=intraday, **kw)
    return DataConfig(source="files", frequency=study_freq, files=(spec,), fx={}, closed_session_bars=closed)


# ---------------------------------------------------------------------- frequency
def test_a_one_minute_krx_file_in_local_time_is_read_and_its_frequency_inferred(tmp_path):
    p = tmp_path / "ks11_1m.csv"
    _csv(p, _minutes("2026-06-23 09:00", 390).tz_localize(None))
    got = load_file(p, "XKRX")
    assert got.frequency == "1min" and len(got.frame) == 390
    # the first bar opens 09:00 KST (00:00 UTC) and is known at 09:01; the last closes at 15:30
    assert got.frame["open_time"].iloc[0] == pd.Timestamp("2026-06-23 00:00", tz="UTC")
    assert got.frame.index[0] == pd.Timestamp("2026-06-23 00:01", tz="UTC")
    assert got.frame.index[-1] == pd.Timestamp("2026-06-23 06:30", tz="UTC")


@pytest.mark.parametrize("step,label", [("1min", "1min"), ("5min", "5min"), ("4h", "4h"), ("30s", "30s")])
def test_frequency_inference(step, label):
    assert infer_frequency(pd.date_range("2026-06-23 00:00", periods=12, freq=step)) == label


def test_daily_files_infer_1D_whatever_their_spacing():
    assert infer_frequency(pd.DatetimeIndex(["2025-01-02", "2025-01-03", "2025-01-06"])) == "1D"
    assert infer_frequency(pd.DatetimeIndex(["2025-01-02T00:00Z", "2025-01-03T00:00Z"])) == "1D"
    # a daily export with a time of day still has days between its rows
    assert infer_frequency(pd.DatetimeIndex(["2025-01-02 16:00", "2025-01-03 16:00", "2025-01-06 16:00"])) == "1D"


def test_declared_frequency_matching_the_file_is_kept(tmp_path):
    p = tmp_path / "k5.csv"
    _csv(p, _minutes("2026-06-23 09:00", 78, step="5min").tz_localize(None))
    assert load_file(p, "XKRX", frequency="5min").frequency == "5min"


def test_one_minute_bars_declared_as_five_minutes_are_refused(tmp_path):
    p = tmp_path / "k1.csv"
    _csv(p, _minutes("2026-06-23 09:00", 60).tz_localize(None))
    with pytest.raises(DataError, match=r"most bars are 1min apart \(59 of 59 steps\), not 5min.*declare frequency: "
                                        r"1min"):
        load_file(p, "XKRX", frequency="5min")


def test_a_step_that_is_not_a_whole_number_of_bars_is_refused_naming_the_lines(tmp_path):
    opens = _minutes("2026-06-23 09:00", 10).tz_localize(None).tolist()
    opens[5] = opens[5] + pd.Timedelta(seconds=30)  # line 7 is 90 s after line 6
    p = tmp_path / "odd.csv"
    _csv(p, pd.DatetimeIndex(opens), fmt="%Y-%m-%d %H:%M:%S")
    with pytest.raises(DataError, match=r"\(line 6\) and .*\(line 7\) are 0 days 00:01:30 apart, not a whole number "
                                        r"of 1min bars"):
        load_file(p, "XKRX", frequency="1min")


def test_intraday_bars_declared_daily_are_refused(tmp_path):
    p = tmp_path / "k1.csv"
    _csv(p, _minutes("2026-06-23 09:00", 30).tz_localize(None))
    with pytest.raises(DataError, match=r"30 bars on 2026-06-23, 1min apart: intraday bars, but frequency 1D is "
                                        r"declared; declare frequency: 1min"):
        load_file(p, "XKRX", frequency="1D")


def test_a_single_timed_row_needs_a_declared_frequency(tmp_path):
    p = tmp_path / "one.csv"
    _csv(p, _minutes("2026-06-23 09:00", 1).tz_localize(None))
    with pytest.raises(DataError, match="cannot infer the bar frequency"):
        load_file(p, "XKRX")
    assert load_file(p, "XKRX", frequency="1min").frequency == "1min"


# ------------------------------------------------------------------ halts, sessions
def test_a_halt_is_a_gap_inside_the_session_not_a_closure(tmp_path):
    # no prints 10:50..11:19 (a level-1 halt and its call auction): read, kept as a gap, no finding
    opens = _minutes("2026-06-23 09:00", 390).tz_localize(None)
    opens = opens[(opens < pd.Timestamp("2026-06-23 10:50")) | (opens >= pd.Timestamp("2026-06-23 11:20"))]
    p = tmp_path / "halt.csv"
    _csv(p, opens)
    md = load_market_data(_study(p), tmp_path)
    f = md.intraday["^KS11"]
    assert len(f) == 360 and md.warnings == []
    gap = f.index.to_series().diff().max()
    assert gap == pd.Timedelta(minutes=31)


def test_a_bar_outside_the_session_is_an_error_or_dropped_by_the_closed_session_rule(tmp_path):
    opens = _minutes("2026-06-23 09:00", 392).tz_localize(None)  # 15:30 and 15:31: after the close
    p = tmp_path / "late.csv"
    _csv(p, opens)
    with pytest.raises(DataError, match=r"2 bar\(s\) outside the XKRX session \(local bar opens 2026-06-23 15:30 "
                                        r"\(line 392\), 2026-06-23 15:31 \(line 393\)\).*closed_session_bars: drop "
                                        r"\[closed_session\]"):
        load_market_data(_study(p), tmp_path)
    md = load_market_data(_study(p, closed="drop"), tmp_path)
    assert len(md.intraday["^KS11"]) == 390
    (n,) = [w for w in md.warnings if getattr(w, "code", "") == "closed_session_bar_dropped"]
    assert n.count == 2


def test_a_file_in_the_wrong_time_zone_is_a_time_zone_error(tmp_path):
    # Seoul bars written in UTC but declared as exchange-local: most bars fall at night
    p = tmp_path / "utc.csv"
    _csv(p, _minutes("2026-06-23 00:00", 390, tz="UTC").tz_localize(None))
    with pytest.raises(DataError, match=r"390 of 390 bar\(s\) open outside the XKRX session.*wrong time zone"):
        load_market_data(_study(p), tmp_path)
    assert len(load_market_data(_study(p, time_zone="UTC"), tmp_path).intraday["^KS11"]) == 390


def test_bars_labelled_by_their_close(tmp_path):
    p = tmp_path / "c.csv"
    _csv(p, _minutes("2026-06-23 09:05", 78, step="5min").tz_localize(None))  # 09:05 .. 15:30
    f = load_file(p, "XKRX", bar_time="close").frame
    assert f["open_time"].iloc[0] == pd.Timestamp("2026-06-23 00:00", tz="UTC")
    assert f.index[-1] == pd.Timestamp("2026-06-23 06:30", tz="UTC")


# ------------------------------------------------------------------------------ DST
def _ny_days() -> pd.DatetimeIndex:
    # Friday 2025-03-07 (EST) and Monday 2025-03-10 (EDT): New York's clocks moved on Sunday the 9th
    return _minutes("2025-03-07 09:30", 390, "America/New_York").append(
        _minutes("2025-03-10 09:30", 390, "America/New_York"))


def test_new_york_local_times_across_a_dst_change(tmp_path):
    p = tmp_path / "spy_1m.csv"
    _csv(p, _ny_days().tz_localize(None))
    f = load_file(p, "XNYS").frame
    assert f["open_time"].iloc[0] == pd.Timestamp("2025-03-07 14:30", tz="UTC")
    assert f["open_time"].iloc[390] == pd.Timestamp("2025-03-10 13:30", tz="UTC")


def test_times_with_offsets_that_change_at_dst_are_read_as_written(tmp_path):
    p = tmp_path / "spy_1m_offsets.csv"
    _csv(p, _ny_days(), fmt=None)  # 2025-03-07T09:30:00-05:00 ... 2025-03-10T09:30:00-04:00
    text = p.read_text()
    assert "-05:00" in text and "-04:00" in text
    f = load_file(p, "XNYS").frame
    assert f["open_time"].iloc[390] == pd.Timestamp("2025-03-10 13:30", tz="UTC") and len(f) == 780


def test_a_local_time_in_the_dst_gap_is_refused_not_guessed(tmp_path):
    # crypto bars written in New York time: 02:30 on 2025-03-09 never happened there
    opens = pd.date_range("2025-03-09 01:00", periods=4, freq="30min")
    p = tmp_path / "btc_ny.csv"
    _csv(p, opens)
    with pytest.raises(DataError, match=r"line 4: local time 2025-03-09 02:00 in America/New_York does not exist"):
        load_file(p, "CRYPTO", time_zone="America/New_York")


# ---------------------------------------------------- same mapping and checks as daily
def test_a_yfinance_intraday_export_maps_like_a_daily_one(tmp_path):
    p = tmp_path / "yf.csv"
    _csv(p, _minutes("2026-06-23 09:00", 10), fmt=None, layout="yfinance")
    got = load_file(p, "XKRX")
    assert got.layout == "yfinance" and got.frequency == "1min"
    assert {"open", "high", "low", "close", "volume"} <= set(got.frame.columns)


def test_intraday_bars_get_the_quality_checks(tmp_path):
    closes = 100 + np.arange(30) * 0.1
    closes[10] = 0.0  # a zero print
    p = tmp_path / "bad.csv"
    _csv(p, _minutes("2026-06-23 09:00", 30).tz_localize(None), closes=closes)
    with pytest.raises(DataError, match=r"non-positive.*line 12.*\[non_positive\]"):
        load_market_data(_study(p), tmp_path)


def test_a_panel_file_must_have_the_studys_frequency(tmp_path):
    p = tmp_path / "k1.csv"
    _csv(p, _minutes("2026-06-23 09:00", 30).tz_localize(None))
    with pytest.raises(DataError, match=r"1min bars, the study's frequency is 1D.*intraday: true"):
        load_market_data(_study(p, intraday=False), tmp_path)


# --------------------------------------------------------------------- crypto opens
def test_a_close_only_crypto_file_opens_at_the_previous_close_with_a_named_warning(tmp_path):
    p = tmp_path / "BTC-USD_close_4h.csv"
    t = pd.date_range("2025-10-10", periods=6, freq="4h", tz="UTC")
    pd.DataFrame({"date": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "close": [100, 99, 98, 97, 90, 95.0]}).to_csv(p, index=False)
    cfg = _study(p, study_freq="4h", intraday=False, symbol="BTC-USD", market="CRYPTO", currency="USD", kind="crypto")
    md = load_market_data(cfg, tmp_path)
    bars = md.bars["BTC-USD"]
    assert np.isnan(bars["open"].iloc[0]) and bars["open"].iloc[1:].tolist() == [100, 99, 98, 97, 90]
    (n,) = [w for w in md.warnings if getattr(w, "code", "") == "open_from_previous_close"]
    assert n.count == 5 and str(p) in n.message


def test_an_equity_file_without_opens_keeps_no_open(tmp_path):
    p = tmp_path / "MU.csv"
    days = pd.bdate_range("2025-02-03", periods=5)
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "close": [100, 101, 102, 103, 104.0]}).to_csv(p, index=False)
    cfg = _study(p, intraday=False, symbol="MU", market="XNYS", currency="USD", kind="equity")
    md = load_market_data(cfg, tmp_path)
    assert "open" not in md.bars["MU"].columns
    assert not [w for w in md.warnings if getattr(w, "code", "") == "open_from_previous_close"]


def test_a_yf_download_to_csv_file_with_its_three_header_lines(tmp_path):
    # what `yf.download("^KS11", interval="1m").to_csv(path)` writes: Price/Ticker/Datetime header lines
    p = tmp_path / "ks11_yf.csv"
    opens = _minutes("2026-06-23 09:00", 5)
    c = [100.0, 101, 102, 101, 0.0]
    raw = pd.DataFrame({("Close", "^KS11"): c, ("High", "^KS11"): [x + 1 for x in c], ("Low", "^KS11"): c,
                        ("Open", "^KS11"): c, ("Volume", "^KS11"): 0.0},
                       index=pd.DatetimeIndex(opens, name="Datetime"))
    raw.columns.names = ["Price", "Ticker"]
    raw.to_csv(p)
    assert p.read_text().splitlines()[:3] == ["Price,Close,High,Low,Open,Volume", "Ticker,^KS11,^KS11,^KS11,^KS11,^KS11",
                                              "Datetime,,,,,"]
    with pytest.raises(DataError, match=r"non-positive close 0 .*line 8"):  # lines count the three header lines
        load_market_data(_study(p), tmp_path)


def test_an_intraday_file_has_the_studys_intraday_length(tmp_path):
    p = tmp_path / "k1.csv"
    _csv(p, _minutes("2026-06-23 09:00", 30).tz_localize(None))
    cfg = _study(p)
    assert len(load_market_data(cfg.model_copy(update={"intraday": "1min"}), tmp_path).intraday["^KS11"]) == 30
    with pytest.raises(DataError, match="the file's bars are 1min, data.intraday is 5min"):
        load_market_data(cfg.model_copy(update={"intraday": "5min"}), tmp_path)


@pytest.mark.parametrize("frequency", ["auto", "4h", "1D"])
def test_a_date_beyond_what_nanoseconds_hold_is_one_line(tmp_path, frequency):
    # found by tests/data/test_files_fuzz.py: year 1 in a file declared 4h was a traceback
    p = tmp_path / "y1.csv"
    p.write_text("date,open,high,low,close,volume\n0001-01-01,100,100,100,100,100\n")
    with pytest.raises(DataError, match=r"field date: 0001-01-01 00:00:00 \(line 2\) is outside the dates scare "
                                        r"handles \(1678\.\.2261\)"):
        load_file(p, "XKRX", frequency=frequency)
