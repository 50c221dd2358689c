"""yfinance: equities, indices, ETFs, FX and crypto, daily and intraday, adjusted or not.

``yf.download`` returns columns ``MultiIndex (Price, Ticker)`` (``Adj Close`` only when
``auto_adjust=False``); a daily index of naive local dates (named ``Date``), an intraday index of
tz-aware bar-open times in the exchange's zone (named ``Datetime``). It never raises for a failed
ticker: it logs the error on the ``yfinance`` logger and returns empty (or all-NaN) columns. So the
provider listens to that logger during the call to tell a timeout or rate limit (retried with
backoff) from "no data" (an error at once).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from backtests.time.calendars import parse_frequency
from backtests.data.frames import daily_bars, intraday_bars
from backtests.data.providers.common import (
    Fetched,
    Meta,
    ProviderError,
    TransientError,
    guess_meta,
    library_version,
    need,
    with_retries,
)

#: Our frequency strings -> Yahoo intervals.
INTERVALS = {"1D": "1d", "1min": "1m", "2min": "2m", "5min": "5m", "15min": "15m", "30min": "30m",
             "60min": "1h", "1h": "1h", "90min": "90m"}
RENAME = {"Open": "open", "High": "high", "Low": "low", "Close": "close", "Adj Close": "adj_close",
          "Volume": "volume"}
_TRANSIENT_WORDS = ("timeout", "timed out", "ratelimit", "rate limit", "too many requests", "connection",
                    "curl: (", "temporarily", "502", "503", "504", "500 ")


def yahoo_interval(frequency: str) -> str:
    bar = parse_frequency(frequency)
    if bar is None:
        return "1d"
    for ours, theirs in INTERVALS.items():
        b = parse_frequency(ours)
        if b is not None and b == bar:
            return theirs
    raise ProviderError(f"Yahoo does not serve {frequency!r} bars (use 1D, 1h, 90min, 30min, 15min, 5min, "
                        "2min or 1min)", where="yfinance")


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.messages.append(record.getMessage())
        except Exception:  # noqa: BLE001 - never let logging break a fetch
            pass


def normalize_download(raw: pd.DataFrame | None, symbol: str, frequency: str, market: str) -> pd.DataFrame:
    """Turn ``yf.download``'s answer for one ticker into stamped bars (see module docstring)."""
    where = f"yfinance {symbol}"
    if raw is None or raw.empty:
        raise ProviderError("empty answer (no rows)", where=where)
    df = raw
    if isinstance(df.columns, pd.MultiIndex):
        names = list(df.columns.names)
        lvl = names.index("Ticker") if "Ticker" in names else (
            0 if "Close" in df.columns.get_level_values(1) else 1)
        tickers = list(dict.fromkeys(df.columns.get_level_values(lvl)))
        pick = next((t for t in tickers if str(t).upper() == symbol.upper()), None)
        if pick is None:
            if len(tickers) != 1:
                raise ProviderError(f"answer has no column for the ticker (has {tickers})", where=where)
            pick = tickers[0]
        df = df.xs(pick, axis=1, level=lvl)
    df = df.rename(columns=RENAME)
    df = df[[c for c in ("open", "high", "low", "close", "adj_close", "volume") if c in df.columns]]
    if "close" not in df.columns:
        raise ProviderError(f"answer has no Close column (has {list(raw.columns)})", where=where)
    df = df.apply(pd.to_numeric, errors="coerce").astype("float64")
    df = df.loc[df["close"].notna().to_numpy()]
    if df.empty:
        raise ProviderError("empty answer (every close is missing: unknown or delisted symbol?)", where=where)
    idx = pd.DatetimeIndex(df.index)
    if parse_frequency(frequency) is None:
        if idx.tz is not None:  # ignore_tz=False on daily data: dates in the exchange's zone
            idx = idx.tz_localize(None)
        df = df.set_axis(idx.normalize())
        df = df.loc[~df.index.duplicated(keep="last")]
        return daily_bars(df.sort_index(), market)
    if idx.tz is None:
        from backtests.time.calendars import get_market

        idx = idx.tz_localize(get_market(market).tz)
    df = df.set_axis(idx).sort_index()
    df = df.loc[~df.index.duplicated(keep="last")]
    return intraday_bars(df, frequency, stamped_at="open")


class YahooProvider:
    """Fetch bars with ``yfinance.download`` (injectable for tests: ``download=fake``)."""

    name = "yfinance"

    def __init__(self, download: Callable[..., Any] | None = None, timeout: float = 20.0, attempts: int = 4,
                 base_delay: float = 2.0, sleep: Callable[[float], None] | None = None) -> None:
        self._download = download
        self.timeout = timeout
        self.attempts = attempts
        self.base_delay = base_delay
        self.sleep = sleep

    def _dl(self) -> Callable[..., Any]:
        if self._download is not None:
            return self._download
        return need("yfinance", "yfinance==1.7.0").download

    def fetch(self, symbol: str, series: str, frequency: str, start: pd.Timestamp, end: pd.Timestamp,
              meta: Meta | None = None) -> Fetched:
        """Bars of ``symbol`` for local dates ``start..end`` (inclusive).

        ``series`` ``bars`` asks Yahoo for adjusted prices (``auto_adjust=True``: splits and
        dividends), ``bars_unadj`` for raw prices plus an ``adj_close`` column.
        """
        if series not in {"bars", "bars_unadj"}:
            raise ProviderError(f"Yahoo has no {series!r} series (bars, bars_unadj)", where=f"yfinance {symbol}")
        meta = meta or guess_meta(symbol)
        interval = yahoo_interval(frequency)
        kwargs = dict(start=pd.Timestamp(start).strftime("%Y-%m-%d"),
                      end=(pd.Timestamp(end) + pd.Timedelta(days=1)).strftime("%Y-%m-%d"),
                      interval=interval, auto_adjust=series == "bars", actions=False, progress=False,
                      threads=False, multi_level_index=True, group_by="column", timeout=self.timeout,
                      ignore_tz=interval == "1d")
        what = f"yfinance {symbol} {interval} {kwargs['start']}..{pd.Timestamp(end).date()}"

        def call() -> pd.DataFrame:
            cap = _Capture()
            log = logging.getLogger("yfinance")
            log.addHandler(cap)
            download = self._dl()  # imported first: yfinance's import adds its own warning filter
            try:
                with warnings.catch_warnings():
                    # yfinance's own pandas deprecation warnings are not the user's business (and would
                    # break the one-line error contract)
                    warnings.filterwarnings("ignore", module=r"yfinance(\.|$)")
                    raw = download(symbol, **kwargs)
            except (TimeoutError, ConnectionError, OSError) as exc:
                raise TransientError(f"{type(exc).__name__}: {exc}") from None
            finally:
                log.removeHandler(cap)
            empty = raw is None or raw.empty or raw.isna().all().all()
            if empty and cap.messages:
                text = " ".join(cap.messages)
                if any(w in text.lower() for w in _TRANSIENT_WORDS):
                    raise TransientError(text.splitlines()[0])
                raise ProviderError(f"no data: {text.splitlines()[0]}", where=what)
            return raw

        kw: dict[str, Any] = {"attempts": self.attempts, "base_delay": self.base_delay}
        if self.sleep is not None:
            kw["sleep"] = self.sleep
        raw = with_retries(call, what, **kw)
        try:
            frame = normalize_download(raw, symbol, frequency, meta.market)
        except ProviderError as exc:
            raise ProviderError(exc.bare_message, where=what) from None
        frame = _clip_local(frame, meta.market, start, end)
        return Fetched(frame=frame, meta=meta, source="yfinance" if series == "bars" else "yfinance",
                       source_version=library_version("yfinance"), query=what)


def _clip_local(frame: pd.DataFrame, market: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Keep bars whose open lies in local dates start..end, and only bars already closed."""
    from backtests.time.calendars import get_market

    tz = get_market(market).tz
    local = pd.DatetimeIndex(frame["open_time"]).tz_convert(tz).tz_localize(None).normalize()
    keep = (local >= pd.Timestamp(start)) & (local <= pd.Timestamp(end))
    keep &= np.asarray(frame.index <= pd.Timestamp.now(tz="UTC"))
    return frame.loc[np.asarray(keep)]
