"""Yahoo's chart API, offline, behind yfinance's real code.

:func:`install` replaces the one HTTP call of ``yfinance.data.YfData`` (``get``) with an answer
built here, shaped as Yahoo's v8 ``/finance/chart/<symbol>`` JSON (``meta`` with
``exchangeTimezoneName`` and the intraday ``tradingPeriods``, ``timestamp`` = bar opens in epoch
seconds, ``indicators.quote``). Everything after the HTTP layer is yfinance 1.7.0 itself
(``Ticker.history``, ``download``'s ``(Price, Ticker)`` columns, the ``Datetime`` index in the
exchange's zone), so the provider is tested on exactly what the installed yfinance returns.

Yahoo's refusals are answered as Yahoo does (HTTP 422, ``chart.error.description``): a 1-minute
range starting more than 30 days before the stub's clock ("The requested range must be within the
last 30 days."), longer than 8 days ("Only 8 days worth of 1m granularity data are allowed to be
fetched per request."), a 5-minute range older than 60 days.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

LIMITS = {"1m": (30, 8), "2m": (60, None), "5m": (60, None), "15m": (60, None), "30m": (60, None),
          "90m": (60, None), "1h": (730, None), "60m": (730, None)}
SESSION = {"Asia/Seoul": ("09:00", "15:30", "KST", 32400), "America/New_York": ("09:30", "16:00", "EST", -18000)}


class Response:
    def __init__(self, body: dict, status: int = 200, url: str = "") -> None:
        self._body = body
        self.status_code = status
        self.url = url
        self.text = json.dumps(body)

    def json(self) -> dict:
        return self._body


@dataclass
class YahooChart:
    """Bars per symbol (index: tz-aware bar opens; columns open, high, low, close, volume)."""

    bars: dict[str, pd.DataFrame]
    now: pd.Timestamp
    requests: list[dict] = field(default_factory=list)

    def answer(self, url: str, params: dict) -> Response:
        symbol = url.rsplit("/", 1)[-1]
        frame = self.bars[symbol]
        tz = str(frame.index.tz)
        if params.get("range") == "1d":  # yfinance asks this first, for the time zone
            return Response(self._body(symbol, tz, frame.iloc[-1:], "1d"), url=url)
        self.requests.append({"symbol": symbol, **params})
        interval = params["interval"]
        p1, p2 = int(params["period1"]), int(params["period2"])
        back, per = LIMITS.get(interval, (None, None))
        now_s = int(self.now.timestamp())
        if back is not None and p1 < now_s - back * 86400:
            return self._refuse(url, interval, p1, p2, f"The requested range must be within the last {back} days.")
        if per is not None and p2 - p1 > per * 86400:
            return self._refuse(url, interval, p1, p2, f"Only {per} days worth of {interval} granularity data are "
                                                       "allowed to be fetched per request.")
        opens = frame.index.as_unit("s").asi8
        keep = (opens >= p1) & (opens < p2)
        return Response(self._body(symbol, tz, frame.loc[keep], interval), url=url)

    def _refuse(self, url: str, interval: str, p1: int, p2: int, why: str) -> Response:
        body = {"chart": {"result": None, "error": {
            "code": "Unprocessable Entity",
            "description": f"{interval} data not available for startTime={p1} and endTime={p2}. {why}"}}}
        return Response(body, status=422, url=url)

    @staticmethod
    def _body(symbol: str, tz: str, frame: pd.DataFrame, interval: str) -> dict:
        start, end, zone, offset = SESSION[tz]
        days = sorted({t.normalize() for t in frame.index}) or [pd.Timestamp.now(tz=tz).normalize()]
        periods = [[{"timezone": zone, "gmtoffset": offset,
                     "start": int((d + pd.Timedelta(start + ":00")).timestamp()),
                     "end": int((d + pd.Timedelta(end + ":00")).timestamp())}] for d in days]
        ts = frame.index.as_unit("s").asi8.tolist()
        col = lambda c: [None if not np.isfinite(v) else float(v) for v in frame[c].to_numpy(float)]  # noqa: E731
        last = float(frame["close"].iloc[-1]) if len(frame) else 0.0
        meta = {"currency": "KRW" if tz == "Asia/Seoul" else "USD", "symbol": symbol, "exchangeName": "KSC",
                "instrumentType": "INDEX" if symbol.startswith("^") else "EQUITY", "firstTradeDate": 0,
                "regularMarketTime": ts[-1] if ts else 0, "gmtoffset": offset, "timezone": zone,
                "exchangeTimezoneName": tz, "regularMarketPrice": last, "chartPreviousClose": last, "priceHint": 2,
                "currentTradingPeriod": {k: {"timezone": zone, "start": 0, "end": 0, "gmtoffset": offset}
                                         for k in ("pre", "regular", "post")},
                "dataGranularity": interval, "range": "",
                "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]}
        if interval != "1d":
            meta["tradingPeriods"] = periods
        quote = {c: col(c) for c in ("open", "high", "low", "close")}
        quote["volume"] = [int(v) for v in frame["volume"].to_numpy(float)]
        return {"chart": {"result": [{"meta": meta, "timestamp": ts, "indicators": {"quote": [quote]}}],
                          "error": None}}


def install(monkeypatch, tmp_path, chart: YahooChart) -> YahooChart:
    """Answer yfinance's HTTP calls from ``chart`` for one test (its caches in ``tmp_path``: the
    user's own yfinance cache is neither read nor written; :func:`uninstall` puts it back)."""
    import yfinance as yf
    from yfinance.data import YfData

    yf.set_tz_cache_location(str(tmp_path / "yf-cache"))
    YfData.cache_get.cache_clear()
    monkeypatch.setattr(YfData, "get", lambda self, url, params=None, timeout=30: chart.answer(url, params or {}))
    return chart


def cache_location() -> str:
    from yfinance.cache import _TzDBManager

    return _TzDBManager.get_location()


def uninstall(location: str) -> None:
    """yfinance's caches back where they were before :func:`install`."""
    import yfinance as yf
    from yfinance.data import YfData

    YfData.cache_get.cache_clear()
    yf.set_tz_cache_location(location)


def minute_bars(day: str, tz: str = "Asia/Seoul", skip: tuple[str, str] | None = None, start_price: float = 9000.0,
                step: str = "1min") -> pd.DataFrame:
    """One session of bars of a random-free path (bar opens in ``tz``); ``skip`` = local (from, to)
    with no bars (a halt)."""
    open_, close, _, _ = SESSION[tz]
    d = pd.Timestamp(day)
    opens = pd.date_range(d + pd.Timedelta(open_ + ":00"), d + pd.Timedelta(close + ":00"), freq=step,
                          inclusive="left", tz=tz)
    if skip is not None:
        a, b = (d + pd.Timedelta(x + ":00") for x in skip)
        local = opens.tz_localize(None)
        opens = opens[(local < a) | (local >= b)]
    c = start_price * (1 + 0.0001 * np.arange(len(opens)))
    return pd.DataFrame({"open": c, "high": c * 1.0005, "low": c * 0.9995, "close": c, "volume": 100.0}, index=opens)
