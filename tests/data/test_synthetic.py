"""The synthetic replay: determinism, calibration (measured from the output), time conventions."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from backtests.time.calendars import local_session_dates
from backtests.data.market_data import asof
from backtests.data.synthetic import generate
from backtests.errors import DataError

TOL = 0.005  # calibrated returns: within half a percentage point

EVENT_DATES = pd.to_datetime([
    "2024-08-05", "2024-09-26", "2024-12-19", "2025-01-27", "2025-01-28", "2025-01-31",
    "2025-03-21", "2025-06-26", "2025-09-24", "2025-10-10", "2025-12-18", "2026-03-04",
    "2026-03-09", "2026-03-19", "2026-06-08", "2026-06-23", "2026-06-24", "2026-06-25",
    "2026-06-26",
])


@pytest.fixture(scope="module")
def md():
    return generate()


@pytest.fixture(scope="module")
def md4h():
    return generate(frequency="4h")


def _pos(md, sym, date):
    frame = md.bars[sym]
    local = local_session_dates(md.info[sym].market, frame.index)
    hits = np.flatnonzero(local == pd.Timestamp(date))
    assert hits.size == 1, f"{sym} has no bar on {date}"
    return frame, int(hits[0])


def ret(md, sym, date, field="close"):
    """``field`` on the session ``date`` relative to the previous session's close."""
    frame, i = _pos(md, sym, date)
    return float(frame[field].iloc[i] / frame["close"].iloc[i - 1] - 1.0)


def log_returns(md, sym):
    frame = md.bars[sym]
    r = np.log(frame["close"]).diff()
    local = local_session_dates(md.info[sym].market, frame.index)
    return pd.Series(r.to_numpy(), index=local).iloc[1:]


# ----------------------------------------------------------------------------- determinism
def test_deterministic_for_a_seed(md):
    again = generate()
    assert md.fingerprint() == again.fingerprint()
    for sym in md.bars:
        pd.testing.assert_frame_equal(md.bars[sym], again.bars[sym])
    for sym in md.intraday:
        pd.testing.assert_frame_equal(md.intraday[sym], again.intraday[sym])
    assert generate(frequency="4h").fingerprint() == generate(frequency="4h").fingerprint()


def test_other_seed_differs(md):
    other = generate(seed=7)
    fp, fo = md.fingerprint(), other.fingerprint()
    assert set(fp) == set(fo)
    assert all(fp[s] != fo[s] for s in fp)


def test_sub_range_is_a_slice_of_the_default(md):
    part = generate(start="2025-01-02", end="2025-03-31")
    for sym, frame in part.bars.items():
        full = md.bars[sym]
        pd.testing.assert_frame_equal(frame, full.loc[frame.index[0]: frame.index[-1]])
    assert part.intraday == {}


def test_labelled_synthetic(md, md4h):
    assert md.synthetic and md4h.synthetic
    assert md.fx == {"KRW": "KRW=X"}
    assert all(info.source == "synthetic" for info in md.info.values())
    assert md.symbols == ["^KS11", "069500.KS", "000660.KS", "005930.KS", "KRW=X", "EWY", "MU", "NVDA",
                          "SOXX", "QQQ", "SPY", "BTC-USD", "ETH-USD", "USDT-USD"]
    kinds = {s: (i.market, i.currency, i.kind) for s, i in md.info.items()}
    assert kinds["^KS11"] == ("XKRX", "KRW", "index")
    assert kinds["069500.KS"] == ("XKRX", "KRW", "etf")
    assert kinds["KRW=X"] == ("XKRX", "KRW", "fx")
    assert kinds["EWY"] == ("XNYS", "USD", "etf")
    assert kinds["USDT-USD"] == ("CRYPTO", "USD", "stablecoin")
    assert kinds["BTC-USD"] == ("CRYPTO", "USD", "crypto")


def test_bad_arguments_are_data_errors():
    with pytest.raises(DataError):
        generate(frequency="1h")
    with pytest.raises(DataError):
        generate(start="2020-01-01")
    with pytest.raises(DataError):
        generate(start="2026-01-01", end="2025-01-01")


# ----------------------------------------------------------------------------- calibration
CALIBRATED = [
    # DeepSeek R1
    ("NVDA", "2025-01-27", -0.17), ("MU", "2025-01-27", -0.12), ("SOXX", "2025-01-27", -0.08),
    ("QQQ", "2025-01-27", -0.03), ("SPY", "2025-01-27", -0.015), ("EWY", "2025-01-27", -0.03),
    ("BTC-USD", "2025-01-27", -0.05),
    ("000660.KS", "2025-01-31", -0.10), ("005930.KS", "2025-01-31", -0.024), ("^KS11", "2025-01-31", -0.008),
    # KOSPI circuit-breaker days and the rebound
    ("^KS11", "2024-08-05", -0.088), ("^KS11", "2026-03-04", -0.12), ("^KS11", "2026-03-09", -0.0596),
    ("^KS11", "2026-06-23", -0.0999), ("^KS11", "2026-06-24", 0.03), ("^KS11", "2026-06-25", 0.05),
    # 2026-06-23
    ("005930.KS", "2026-06-23", -0.12), ("000660.KS", "2026-06-23", -0.125), ("EWY", "2026-06-23", -0.09),
    ("MU", "2026-06-23", -0.13), ("SOXX", "2026-06-23", -0.08), ("QQQ", "2026-06-23", -0.033),
    ("SPY", "2026-06-23", -0.015), ("KRW=X", "2026-06-23", 0.02), ("BTC-USD", "2026-06-23", -0.06),
    # Micron results (next New York session) and Hynix on 2026-06-25
    ("MU", "2024-09-26", 0.15), ("MU", "2024-12-19", -0.16), ("MU", "2025-03-21", -0.08),
    ("MU", "2025-06-26", -0.01), ("MU", "2025-09-24", 0.08), ("MU", "2025-12-18", 0.10),
    ("MU", "2026-03-19", -0.05), ("MU", "2026-06-25", 0.16), ("000660.KS", "2026-06-25", 0.11),
    # October 2025 crypto cascade
    ("BTC-USD", "2025-10-10", -0.07), ("ETH-USD", "2025-10-10", -0.12),
]


@pytest.mark.parametrize("sym,date,target", CALIBRATED)
def test_calibrated_close_to_close(md, sym, date, target):
    assert ret(md, sym, date) == pytest.approx(target, abs=TOL)


CB_LOWS = {"2024-08-05": -0.108, "2026-03-04": -0.127, "2026-03-09": -0.0875, "2026-06-08": -0.088,
           "2026-06-23": -0.0999, "2026-06-26": -0.09}


def test_kospi_circuit_breaker_days(md):
    for date, low in CB_LOWS.items():
        assert ret(md, "^KS11", date, "low") == pytest.approx(low, abs=TOL), date
    frame = md.bars["^KS11"]
    low_vs_prev = frame["low"].to_numpy()[1:] / frame["close"].to_numpy()[:-1] - 1.0
    local = local_session_dates("XKRX", frame.index)[1:]
    hit = sorted(d.strftime("%Y-%m-%d") for d in local[low_vs_prev <= -0.08])
    assert hit == sorted(CB_LOWS)
    assert ret(md, "^KS11", "2026-06-23", "open") == pytest.approx(-0.003, abs=0.002)
    f, i = _pos(md, "^KS11", "2026-06-23")
    assert f["low"].iloc[i] == f["close"].iloc[i]


def test_kodex_tracks_kospi(md):
    assert ret(md, "069500.KS", "2026-06-23") == pytest.approx(ret(md, "^KS11", "2026-06-23"), abs=TOL)
    diff = (log_returns(md, "069500.KS") - log_returns(md, "^KS11")).abs()
    assert diff.max() < 0.01


def test_hynix_follows_micron_results(md):
    pairs = [("2024-09-26", "2024-09-26"), ("2024-12-19", "2024-12-19"), ("2025-03-21", "2025-03-21"),
             ("2025-06-26", "2025-06-26"), ("2025-09-24", "2025-09-24"), ("2025-12-18", "2025-12-18"),
             ("2026-03-19", "2026-03-19"), ("2026-06-25", "2026-06-25")]
    ratios = []
    for mu_date, hy_date in pairs:
        mu, hy = np.log1p(ret(md, "MU", mu_date)), np.log1p(ret(md, "000660.KS", hy_date))
        assert np.sign(mu) == np.sign(hy)
        ratios.append(hy / mu)
    assert 0.45 < np.mean(ratios) < 0.75
    assert np.std(ratios) > 0.02  # dispersion: the pair spread dislocates


def test_crypto_shocks_liquidations_and_funding(md):
    btc = md.bars["BTC-USD"]
    longs = btc["long_liquidations_usd"]
    med = longs.median()
    assert 15e6 < med < 60e6

    def on(date, col="long_liquidations_usd", sym="BTC-USD"):
        return md.bars[sym].loc[pd.Timestamp(date, tz="UTC") + pd.Timedelta(days=1), col]

    assert on("2025-01-27") > 3 * med
    assert on("2025-10-10") > 15 * med
    assert on("2025-10-10", sym="ETH-USD") > 15 * md.bars["ETH-USD"]["long_liquidations_usd"].median()
    assert on("2026-06-23") > 10 * med
    assert longs.idxmax() == pd.Timestamp("2026-06-24", tz="UTC")  # the 2026-06-23 UTC day
    assert on("2026-06-23", "funding_rate") < 0
    assert min(on("2025-10-10", "funding_rate"), on("2025-10-11", "funding_rate")) < 0
    assert btc["funding_rate"].median() == pytest.approx(0.01, abs=0.003)
    for sym in ("BTC-USD", "ETH-USD"):
        f = md.bars[sym]
        assert (f[["long_liquidations_usd", "short_liquidations_usd"]] >= 0).all().all()
        r = np.log(f["close"]).diff()
        assert np.corrcoef(-r.iloc[1:], np.log(f["long_liquidations_usd"].iloc[1:]))[0, 1] > 0.2


# ----------------------------------------------------------------------------- time conventions
def test_krx_closed_for_lunar_new_year(md):
    for sym in ("^KS11", "069500.KS", "000660.KS", "005930.KS", "KRW=X"):
        local = local_session_dates("XKRX", md.bars[sym].index)
        for d in ("2025-01-27", "2025-01-28", "2025-01-29", "2025-01-30"):
            assert pd.Timestamp(d) not in local
        assert pd.Timestamp("2025-01-24") in local and pd.Timestamp("2025-01-31") in local
    assert pd.Timestamp("2025-01-27") in local_session_dates("XNYS", md.bars["MU"].index)


def test_seoul_close_stamped_before_new_york_close(md):
    hy, i = _pos(md, "000660.KS", "2026-06-25")
    mu, j = _pos(md, "MU", "2026-06-25")
    assert hy.index[i] == pd.Timestamp("2026-06-25 06:30", tz="UTC")
    assert hy.index[i] < mu.index[j] == pd.Timestamp("2026-06-25 20:00", tz="UTC")


def test_weekends(md):
    for sym in ("BTC-USD", "ETH-USD", "USDT-USD"):
        days = local_session_dates("CRYPTO", md.bars[sym].index)
        assert (days.day_of_week >= 5).sum() > 200
        assert (np.diff(md.bars[sym].index.asi8) == 86_400 * 10**9).all()
    for sym in ("^KS11", "MU"):
        assert (local_session_dates(md.info[sym].market, md.bars[sym].index).day_of_week < 5).all()


def test_crash_day_intraday(md):
    """The default intraday channel: 5-minute bars of the six KOSPI level-1 days, aggregated from the
    rule-printed minutes (tests/data/test_synthetic_intraday.py checks the minutes themselves)."""
    assert set(md.intraday) == {"^KS11", "069500.KS", "000660.KS", "005930.KS"}
    for sym, bars in md.intraday.items():
        opens = pd.DatetimeIndex(bars["open_time"])
        kst = opens.tz_convert("Asia/Seoul")
        assert sorted({str(d.date()) for d in kst}) == ["2024-08-05", "2026-03-04", "2026-03-09", "2026-06-08",
                                                        "2026-06-23", "2026-06-26"]
        assert ((bars.index - opens) == pd.Timedelta(minutes=5)).all()
        day = kst.normalize() == pd.Timestamp("2026-06-23", tz="Asia/Seoul")
        d23 = bars.loc[np.asarray(day)]
        o23 = kst[np.asarray(day)]
        assert o23[0] == pd.Timestamp("2026-06-23 09:00", tz="Asia/Seoul")
        assert d23.index[-1].tz_convert("Asia/Seoul") == pd.Timestamp("2026-06-23 15:30", tz="Asia/Seoul")
        steps = np.diff(o23.asi8) // 60_000_000_000
        gaps = np.flatnonzero(steps > 5)
        # the halt and its call auction: nothing from 10:50 to 11:20; the closing auction: 15:20-15:25
        assert [(str(o23[g].time()), str(o23[g + 1].time())) for g in gaps][0] == ("10:45:00", "11:20:00")
        frame, i = _pos(md, sym, "2026-06-23")
        daily = frame.iloc[i]
        assert d23["open"].iloc[0] == daily["open"] and d23["close"].iloc[-1] == daily["close"]
        assert d23["high"].max() == daily["high"] and d23["low"].min() == daily["low"]
        assert d23["volume"].sum() == daily["volume"]
        if sym == "^KS11":
            assert daily["low"] == daily["close"]  # 2026-06-23 closes at its low
            prev = frame["close"].iloc[i - 1]
            assert (d23["low"].iloc[:gaps[0]] / prev - 1 > -0.08).all()  # the 10:45 bar is the first to reach -8%
            assert d23["low"].iloc[gaps[0]] / prev - 1 <= -0.08
            assert d23["open"].iloc[gaps[0] + 1] / prev - 1 < -0.08  # reopens after the call auction, lower


def test_four_hour_is_crypto_only(md, md4h):
    assert md4h.symbols == ["BTC-USD", "ETH-USD", "USDT-USD"]
    assert md4h.frequency == "4h" and md4h.intraday == {}
    for sym, bars in md4h.bars.items():
        opens = pd.DatetimeIndex(bars["open_time"])
        assert ((bars.index - opens) == pd.Timedelta(hours=4)).all()
        assert (opens.hour % 4 == 0).all()
        per_day = pd.Series(1, index=opens.normalize()).groupby(level=0).size()
        assert (per_day == 6).all()
        daily = md.bars[sym]
        assert len(per_day) == len(daily)
        # 4h bars aggregate exactly to the daily bars
        closes = bars["close"].to_numpy()[5::6]
        np.testing.assert_allclose(closes, daily["close"].to_numpy(), rtol=1e-12)
        np.testing.assert_allclose(bars["high"].to_numpy().reshape(-1, 6).max(axis=1), daily["high"], rtol=1e-12)
        np.testing.assert_allclose(bars["volume"].to_numpy().reshape(-1, 6).sum(axis=1), daily["volume"],
                                   rtol=1e-9)
        if sym != "USDT-USD":
            np.testing.assert_allclose(bars["long_liquidations_usd"].to_numpy().reshape(-1, 6).sum(axis=1),
                                       daily["long_liquidations_usd"], rtol=1e-9)


# ----------------------------------------------------------------------------- sanity everywhere
def _check_ohlc(frame, name):
    o, h, lo, c = (frame[k].to_numpy() for k in ("open", "high", "low", "close"))
    assert np.isfinite(np.column_stack([o, h, lo, c])).all(), name
    assert (lo > 0).all(), name
    assert (lo <= np.minimum(o, c)).all(), name
    assert (h >= np.maximum(o, c)).all(), name
    assert (frame["volume"].to_numpy() >= 0).all(), name


def test_ohlc_consistent_and_positive(md, md4h):
    for sym, frame in md.bars.items():
        _check_ohlc(frame, sym)
    for sym, frame in md.intraday.items():
        _check_ohlc(frame, f"{sym} intraday")
    for sym, frame in md4h.bars.items():
        _check_ohlc(frame, f"{sym} 4h")
    usdt = md.bars["USDT-USD"]
    assert ((usdt["low"] > 0.99) & (usdt["high"] < 1.01)).all()
    assert (usdt["close"] - 1.0).abs().median() < 0.001


def test_memory_stocks_co_move_on_normal_days(md):
    hy, ss = log_returns(md, "000660.KS"), log_returns(md, "005930.KS")
    mu_since = asof(np.log(md.bars["MU"]["close"]), md.bars["000660.KS"].index).diff().iloc[1:]
    mu_since.index = hy.index  # MU's move between two Seoul closes, as known at the later one
    normal = ~hy.index.isin(EVENT_DATES) & ~(hy.index - pd.Timedelta(days=1)).isin(EVENT_DATES)
    ok = normal & mu_since.notna().to_numpy()
    assert np.corrcoef(hy[ok], ss[ok])[0, 1] > 0.5
    assert np.corrcoef(hy[ok], mu_since[ok])[0, 1] > 0.5


VOLS = {"^KS11": 0.18, "000660.KS": 0.45, "005930.KS": 0.32, "MU": 0.50, "NVDA": 0.50, "SOXX": 0.35,
        "QQQ": 0.20, "SPY": 0.15, "EWY": 0.22, "KRW=X": 0.07, "BTC-USD": 0.50, "ETH-USD": 0.70}


def test_normal_day_volatility(md):
    for sym, target in VOLS.items():
        r = log_returns(md, sym)
        r = r[~r.index.isin(EVENT_DATES)]
        ppy = 365 if md.info[sym].market == "CRYPTO" else 252
        assert r.std() * np.sqrt(ppy) == pytest.approx(target, rel=0.25), sym


def test_price_levels_near_reality(md):
    def close_on(sym, date):
        frame, i = _pos(md, sym, date)
        return frame["close"].iloc[i]

    assert 60 < close_on("MU", "2025-01-24") < 140
    assert close_on("MU", "2026-06-25") > 900
    assert 2000 < md.bars["^KS11"]["close"].loc[:"2025-06-30"].median() < 3200
    assert md.bars["^KS11"]["close"].max() > 8500
    assert 100_000 < close_on("000660.KS", "2025-01-24") < 350_000
    assert close_on("000660.KS", "2026-06-23") > 2_000_000
    assert 30_000 < md.bars["BTC-USD"]["close"].min() and md.bars["BTC-USD"]["close"].max() < 170_000
    assert 1200 < md.bars["KRW=X"]["close"].min() and md.bars["KRW=X"]["close"].max() < 1650
