"""Providers on fixtures shaped like the libraries' real answers: normalisation, paging, retries, errors."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.data.providers import ProviderError, TransientError, guess_meta, with_retries
from backtests.data.providers.coinglass import CoinGlassProvider, liquidations_to_bars
from backtests.data.providers.crypto import CcxtProvider, ccxt_timeframe, funding_to_bars, market_symbol
from backtests.data.providers.yahoo import YahooProvider, normalize_download

FIX = Path(__file__).parent / "fixtures"


def yf_frame(name: str, tz: str | None = None) -> pd.DataFrame:
    df = pd.read_csv(FIX / name, header=[0, 1], index_col=0)
    idx = pd.to_datetime(df.index, utc=tz is not None)
    df.index = pd.DatetimeIndex(idx.tz_convert(tz) if tz else idx, name=df.index.name)
    df.columns = df.columns.set_names(["Price", "Ticker"])
    return df


def no_sleep(log: list[float] | None = None):
    return (lambda s: log.append(s)) if log is not None else (lambda s: None)


# ------------------------------------------------------------------------------ yfinance
def test_yfinance_daily_adjusted_via_monkeypatched_download(monkeypatch):
    yf = pytest.importorskip("yfinance")
    calls = []

    def fake_download(tickers, **kw):
        calls.append((tickers, kw))
        return yf_frame("yf_download_daily_MU.csv")

    monkeypatch.setattr(yf, "download", fake_download)
    got = YahooProvider(sleep=no_sleep()).fetch("MU", "bars", "1D", pd.Timestamp("2025-01-22"),
                                                pd.Timestamp("2025-01-31"))
    (ticker, kw), = calls
    assert ticker == "MU" and kw["auto_adjust"] is True and kw["interval"] == "1d"
    assert kw["end"] == "2025-02-01"  # Yahoo's end is exclusive
    f = got.frame
    assert list(f.columns) == ["open", "high", "low", "close", "volume", "open_time"]
    # stamped at the New York close in UTC (EST: 21:00)
    assert f.index[3] == pd.Timestamp("2025-01-27 21:00", tz="UTC")
    assert f["open_time"].iloc[3] == pd.Timestamp("2025-01-27 14:30", tz="UTC")
    assert f["close"].iloc[3] / f["close"].iloc[2] - 1 == pytest.approx(-0.117, abs=1e-3)
    assert got.meta.market == "XNYS" and got.source_version.startswith("yfinance")


def test_yfinance_unadjusted_multi_ticker_answer_picks_the_ticker_and_drops_closed_days():
    raw = yf_frame("yf_download_daily_unadjusted.csv")
    f = normalize_download(raw, "000660.KS", "1D", "XKRX")
    assert "adj_close" in f.columns
    # KRX closed 2025-01-27..30: those NaN rows are not bars
    local = f.index.tz_convert("Asia/Seoul").normalize().tz_localize(None)
    assert pd.Timestamp("2025-01-28") not in local and pd.Timestamp("2025-01-31") in local
    assert f.index[0] == pd.Timestamp("2025-01-22 06:30", tz="UTC")  # Seoul 15:30
    mu = normalize_download(raw, "MU", "1D", "XNYS")
    assert len(mu) == 8 and mu.index[0].hour == 21


def test_yfinance_intraday_tz_aware_bars_are_stamped_at_their_end_in_utc():
    raw = yf_frame("yf_download_5m_KS11.csv", tz="Asia/Seoul")
    f = normalize_download(raw, "^KS11", "5min", "XKRX")
    assert f["open_time"].iloc[0] == pd.Timestamp("2026-06-23 00:00", tz="UTC")  # 09:00 KST
    assert f.index[0] == pd.Timestamp("2026-06-23 00:05", tz="UTC")


def test_yfinance_retries_timeouts_with_backoff_then_succeeds():
    n = {"calls": 0}

    def flaky(tickers, **kw):
        n["calls"] += 1
        if n["calls"] < 3:
            raise TimeoutError("read timed out")
        return yf_frame("yf_download_daily_MU.csv")

    sleeps: list[float] = []
    got = YahooProvider(download=flaky, base_delay=0.5, sleep=no_sleep(sleeps)).fetch(
        "MU", "bars", "1D", pd.Timestamp("2025-01-22"), pd.Timestamp("2025-01-31"))
    assert n["calls"] == 3 and sleeps == [0.5, 1.0] and len(got.frame) == 8


def test_yfinance_gives_up_with_a_clear_error():
    def down(tickers, **kw):
        raise ConnectionError("connection refused")

    with pytest.raises(ProviderError) as err:
        YahooProvider(download=down, attempts=3, sleep=no_sleep()).fetch(
            "NVDA", "bars", "1D", pd.Timestamp("2025-01-02"), pd.Timestamp("2025-01-31"))
    msg = str(err.value)
    assert "yfinance NVDA 1d 2025-01-02..2025-01-31" in msg and "3 attempts" in msg and "connection refused" in msg


def test_yfinance_logged_rate_limit_is_retried_but_no_data_is_an_error_at_once():
    log = logging.getLogger("yfinance")
    calls = {"n": 0}

    def limited(tickers, **kw):  # yf.download logs failures and returns an empty frame
        calls["n"] += 1
        if calls["n"] == 1:
            log.error("['MU']: YFRateLimitError('Too Many Requests. Rate limited. Try after a while.')")
            return pd.DataFrame()
        return yf_frame("yf_download_daily_MU.csv")

    got = YahooProvider(download=limited, sleep=no_sleep()).fetch("MU", "bars", "1D", pd.Timestamp("2025-01-22"),
                                                                  pd.Timestamp("2025-01-31"))
    assert calls["n"] == 2 and len(got.frame) == 8

    calls["n"] = 0

    def delisted(tickers, **kw):
        calls["n"] += 1
        log.error("['ZZZZ']: possibly delisted; no price data found (1d 2025-01-02 -> 2025-02-01)")
        return pd.DataFrame()

    with pytest.raises(ProviderError, match="no data: .*possibly delisted"):
        YahooProvider(download=delisted, sleep=no_sleep()).fetch("ZZZZ", "bars", "1D", pd.Timestamp("2025-01-02"),
                                                                 pd.Timestamp("2025-01-31"))
    assert calls["n"] == 1


def test_yfinance_empty_answer_and_unknown_interval():
    with pytest.raises(ProviderError, match="empty answer"):
        YahooProvider(download=lambda t, **k: pd.DataFrame(), sleep=no_sleep()).fetch(
            "MU", "bars", "1D", pd.Timestamp("2025-01-02"), pd.Timestamp("2025-01-31"))
    with pytest.raises(ProviderError, match="does not serve '4h'"):
        YahooProvider(download=lambda t, **k: None).fetch("MU", "bars", "4h", pd.Timestamp("2025-01-02"),
                                                          pd.Timestamp("2025-01-31"))


def test_symbol_facts():
    assert guess_meta("000660.KS").market == "XKRX" and guess_meta("000660.KS").currency == "KRW"
    assert guess_meta("KRW=X").kind == "fx" and guess_meta("KRW=X").currency == "KRW"
    assert guess_meta("SOL-USD").kind == "crypto" and guess_meta("USDT-USD").kind == "stablecoin"
    assert guess_meta("^SOX").kind == "index" and guess_meta("TSM").market == "XNYS"


# ---------------------------------------------------------------------------------- ccxt
class FakeExchange:
    """Minimal ccxt-like client: pages answers by ``since``/``limit`` like an exchange does."""

    rateLimit = 50
    enableRateLimit = False

    def __init__(self, fail_first: int = 0, error: Exception | None = None):
        self.ohlcv = json.loads((FIX / "ccxt_ohlcv_BTCUSDT_4h.json").read_text())
        self.funding = json.loads((FIX / "ccxt_funding_BTCUSDT.json").read_text())
        self.calls: list[tuple[str, int | None, int | None]] = []
        self.fail_first = fail_first
        self.error = error

    def _maybe_fail(self):
        if self.fail_first > 0:
            self.fail_first -= 1
            raise self.error

    def fetch_ohlcv(self, symbol, timeframe="1m", since=None, limit=None, params={}):
        self.calls.append(("ohlcv", since, limit))
        self._maybe_fail()
        rows = [r for r in self.ohlcv if since is None or r[0] >= since]
        return rows[:limit]

    def fetch_funding_rate_history(self, symbol=None, since=None, limit=None, params={}):
        self.calls.append(("funding", since, limit))
        rows = [r for r in self.funding if since is None or r["timestamp"] >= since]
        return rows[:limit]


def test_ccxt_ohlcv_is_paged_within_the_rate_limit_and_stamped_at_bar_end():
    ex = FakeExchange()
    sleeps: list[float] = []
    prov = CcxtProvider("binance", client=ex, page_limit=5, sleep=no_sleep(sleeps))
    got = prov.fetch("BTC-USD", "bars", "4h", pd.Timestamp("2025-01-26"), pd.Timestamp("2025-01-28"))
    f = got.frame
    assert len(f) == 18 and got.source == "ccxt_binance"
    pages = [c for c in ex.calls if c[0] == "ohlcv"]
    assert len(pages) == 4 and all(c[2] == 5 for c in pages)
    assert sleeps == [0.05] * 3  # rateLimit ms between pages (ccxt not throttling itself)
    assert f["open_time"].iloc[0] == pd.Timestamp("2025-01-26 00:00", tz="UTC")
    assert f.index[0] == pd.Timestamp("2025-01-26 04:00", tz="UTC")
    assert f.index.is_unique and f.index.is_monotonic_increasing


def test_ccxt_with_a_real_exchange_class_monkeypatched(monkeypatch):
    ccxt = pytest.importorskip("ccxt")
    ex = ccxt.binance({"enableRateLimit": True})
    four = json.loads((FIX / "ccxt_ohlcv_BTCUSDT_4h.json").read_text())
    data = [[four[i][0], four[i][1], max(r[2] for r in four[i:i + 6]), min(r[3] for r in four[i:i + 6]),
             four[i + 5][4], sum(r[5] for r in four[i:i + 6])] for i in range(0, 18, 6)]  # the same as 1d bars
    monkeypatch.setattr(ex, "fetch_ohlcv", lambda symbol, timeframe="1m", since=None, limit=None, params={}:
                        [r for r in data if r[0] >= since][:limit])
    sleeps: list[float] = []
    got = CcxtProvider("binance", client=ex, page_limit=1000, sleep=no_sleep(sleeps)).fetch(
        "BTC-USD", "bars", "1D", pd.Timestamp("2025-01-26"), pd.Timestamp("2025-01-28"))
    assert sleeps == []  # ccxt throttles itself (enableRateLimit)
    assert len(got.frame) == 3 and got.frame.index[0] == pd.Timestamp("2025-01-27 00:00", tz="UTC")  # daily: next midnight


def test_ccxt_funding_history_becomes_percent_per_bar():
    ex = FakeExchange()
    got = CcxtProvider("binance", client=ex, sleep=no_sleep()).fetch(
        "BTC-USD", "funding", "1D", pd.Timestamp("2025-01-26"), pd.Timestamp("2025-01-28"))
    f = got.frame
    assert list(f.columns) == ["funding_rate", "open_time"]
    # day 2025-01-26 holds the settlements at 08:00, 16:00 and 00:00 of the 27th (known at its close)
    assert f.loc[pd.Timestamp("2025-01-27", tz="UTC"), "funding_rate"] == pytest.approx(
        100 * np.mean([0.00008, 0.0001, -0.00005]))
    rows = json.loads((FIX / "ccxt_funding_BTCUSDT.json").read_text())
    assert funding_to_bars(rows, "8h")["funding_rate"].iloc[0] == pytest.approx(0.01)
    with pytest.raises(ProviderError, match="off the 1d grid"):
        from backtests.data.providers.crypto import ohlcv_to_bars

        ohlcv_to_bars(json.loads((FIX / "ccxt_ohlcv_BTCUSDT_4h.json").read_text()), "1D")


def test_ccxt_retries_network_errors_and_names_exchange_errors():
    ccxt = pytest.importorskip("ccxt")
    sleeps: list[float] = []
    ex = FakeExchange(fail_first=2, error=ccxt.RequestTimeout("binance GET timed out"))
    got = CcxtProvider("binance", client=ex, base_delay=0.25, sleep=no_sleep(sleeps)).fetch(
        "BTC-USD", "bars", "4h", pd.Timestamp("2025-01-26"), pd.Timestamp("2025-01-28"))
    assert len(got.frame) == 18 and sleeps[:2] == [0.25, 0.5]
    ex = FakeExchange(fail_first=1, error=ccxt.BadSymbol("binance does not have market symbol FOO/USDT"))
    with pytest.raises(ProviderError, match="BadSymbol: binance does not have market symbol"):
        CcxtProvider("binance", client=ex, sleep=no_sleep()).fetch(
            "FOO-USD", "bars", "4h", pd.Timestamp("2025-01-26"), pd.Timestamp("2025-01-28"))
    assert len(ex.calls) == 1


def test_ccxt_empty_answer_and_helpers():
    with pytest.raises(ProviderError, match="empty answer for 2024-01-01..2024-01-02"):
        CcxtProvider("binance", client=FakeExchange(), sleep=no_sleep()).fetch(
            "BTC-USD", "bars", "4h", pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02"))
    assert ccxt_timeframe("1D") == "1d" and ccxt_timeframe("4h") == "4h" and ccxt_timeframe("5min") == "5m"
    assert market_symbol("BTC-USD") == "BTC/USDT" and market_symbol("ETH-USD", perp=True) == "ETH/USDT:USDT"
    with pytest.raises(ProviderError):
        CcxtProvider("../evil")


def test_with_retries_only_retries_transient_errors():
    n = {"k": 0}

    def boom():
        n["k"] += 1
        raise ValueError("not transient")

    with pytest.raises(ValueError):
        with_retries(boom, "x", sleep=no_sleep())
    assert n["k"] == 1

    def always():
        raise TransientError("HTTP 503")

    with pytest.raises(ProviderError, match="x: gave up after 2 attempts: HTTP 503"):
        with_retries(always, "x", attempts=2, sleep=no_sleep())


# ----------------------------------------------------------------------------- coinglass
class FakeResponse:
    def __init__(self, status: int, body: object):
        self.status_code = status
        self._body = body

    def json(self):
        if isinstance(self._body, Exception):
            raise self._body
        return self._body


class FakeSession:
    def __init__(self, answers):
        self.answers = list(answers)
        self.requests: list[dict] = []

    def get(self, url, params=None, headers=None, timeout=None):
        self.requests.append({"url": url, "params": dict(params or {}), "headers": dict(headers or {})})
        a = self.answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a


BODY = json.loads((FIX / "coinglass_liquidation_aggregated_history_BTC_4h.json").read_text())
KEY = "cg-secret-key-123"


def test_coinglass_liquidations_with_retries_and_the_key_only_in_the_header(monkeypatch, tmp_path):
    monkeypatch.setenv("COINGLASS_API_KEY", KEY)
    sess = FakeSession([FakeResponse(503, {}), TimeoutError("read timed out"), FakeResponse(200, BODY)])
    sleeps: list[float] = []
    got = CoinGlassProvider(session=sess, base_delay=1.0, sleep=no_sleep(sleeps)).fetch(
        "BTC-USD", "liquidations", "4h", pd.Timestamp("2025-01-26"), pd.Timestamp("2025-01-27"))
    assert sleeps == [1.0, 2.0] and len(sess.requests) == 3
    req = sess.requests[-1]
    assert req["headers"]["CG-API-KEY"] == KEY and KEY not in req["url"] and KEY not in json.dumps(req["params"])
    assert req["params"]["symbol"] == "BTC" and req["params"]["interval"] == "4h"
    f = got.frame
    assert list(f.columns) == ["long_liquidations_usd", "short_liquidations_usd", "open_time"]
    assert f["long_liquidations_usd"].idxmax() == pd.Timestamp("2025-01-27 08:00", tz="UTC")  # bar 04:00-08:00
    assert KEY not in got.query and KEY not in got.source_version
    # storing it never writes the key
    from backtests.data.cache import Cache

    cache = Cache(tmp_path / "c")
    cache.store(got.source, "BTC-USD", "liquidations", "4h", f, got.meta,
                [(pd.Timestamp("2025-01-26"), pd.Timestamp("2025-01-27"))], got.source_version, got.query)
    for p in (tmp_path / "c").rglob("*"):
        if p.is_file():
            assert KEY.encode() not in p.read_bytes()


def test_coinglass_errors_are_clear_and_never_show_the_key(monkeypatch):
    monkeypatch.delenv("COINGLASS_API_KEY", raising=False)
    with pytest.raises(ProviderError, match="COINGLASS_API_KEY"):
        CoinGlassProvider(session=FakeSession([])).fetch("BTC-USD", "liquidations", "1D", pd.Timestamp("2025-01-01"),
                                                         pd.Timestamp("2025-01-02"))
    monkeypatch.setenv("COINGLASS_API_KEY", KEY)
    with pytest.raises(ProviderError, match="HTTP 401 .check the API key") as err:
        CoinGlassProvider(session=FakeSession([FakeResponse(401, {})]), sleep=no_sleep()).fetch(
            "BTC-USD", "liquidations", "1D", pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-02"))
    assert KEY not in str(err.value)
    echo = FakeResponse(200, {"code": "40001", "msg": f"invalid key {KEY}"})
    with pytest.raises(ProviderError, match="API code 40001") as err:
        CoinGlassProvider(session=FakeSession([echo]), sleep=no_sleep()).fetch(
            "BTC-USD", "liquidations", "1D", pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-02"))
    assert KEY not in str(err.value) and "***" in str(err.value)
    with pytest.raises(ProviderError, match="empty answer"):
        CoinGlassProvider(session=FakeSession([FakeResponse(200, {"code": "0", "data": []})]), sleep=no_sleep()).fetch(
            "BTC-USD", "liquidations", "1D", pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-02"))
    with pytest.raises(ProviderError, match="gave up after 2 attempts: HTTP 429"):
        CoinGlassProvider(session=FakeSession([FakeResponse(429, {})] * 2), attempts=2, sleep=no_sleep()).fetch(
            "BTC-USD", "liquidations", "1D", pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-02"))
    assert liquidations_to_bars(BODY["data"], "1D").index[0] == pd.Timestamp("2025-01-27", tz="UTC")
