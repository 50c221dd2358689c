"""ccxt: crypto OHLCV and funding-rate history from an exchange named in the config or CLI.

``exchange.fetch_ohlcv(symbol, timeframe, since, limit)`` returns ``[[ms, open, high, low, close,
volume], ...]`` keyed by bar *open* (UTC ms); ``fetch_funding_rate_history(symbol, since, limit)``
returns dicts ``{"symbol", "fundingRate", "timestamp", "datetime", "info"}`` stamped at each
settlement. Both are paged forward from ``since`` until the range is covered, one page per call,
waiting ``exchange.rateLimit`` ms between calls unless ccxt throttles itself (``enableRateLimit``).

How far back: an exchange serves klines from the day a pair listed, whatever the bar length; it
caps a page, not the history. Binance (ccxt 4.5.90 ``binance.fetch_ohlcv``): at most 1,000 spot
bars a call (1,500 for futures; the default 500), klines keyed by their open time, BTC/USDT from
its listing on 2017-08-17 (04:00 UTC, the first kline backfills report), so a year of 1-minute bars
is 526 calls. A range starting before the exchange's first bar is served from that bar on, and the
answer says so in a warning (``history_starts_late``); bars are stamped at their close (open +
bar length) with the open kept, and a minute the exchange has no bar for (an outage) stays a gap.

Funding rates are stored in **percent per funding interval** (ccxt gives a fraction: x100), the unit
of CoinGlass dumps and of the synthetic replay; bars get the mean of the rates settled inside them
(a settlement at ``t`` belongs to the bar ``(open, close]`` that contains ``t``: known at its close).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from backtests.time.calendars import CRYPTO, parse_frequency
from backtests.data.frames import utc_open_bars
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

DAY = pd.Timedelta(days=1)


def ccxt_timeframe(frequency: str) -> str:
    """``1D`` -> ``1d``, ``4h`` -> ``4h``, ``5min`` -> ``5m``."""
    bar = parse_frequency(frequency) or DAY
    minutes = int(bar / pd.Timedelta(minutes=1))
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def market_symbol(symbol: str, perp: bool = False, quote: str = "USDT") -> str:
    """Exchange market for a study symbol: ``BTC-USD`` -> ``BTC/USDT`` (``BTC/USDT:USDT`` for perps).

    A symbol that already looks like a ccxt market (``BTC/USDT``) is used as given.
    """
    if "/" in symbol:
        return symbol
    m = re.match(r"^([A-Z0-9]{2,10})-(USD|USDT|USDC)$", symbol)
    if not m:
        raise ProviderError("not a crypto symbol (expected e.g. BTC-USD or BTC/USDT)", where=f"ccxt {symbol}")
    base = m.group(1)
    return f"{base}/{quote}:{quote}" if perp else f"{base}/{quote}"


def ohlcv_to_bars(rows: list[list[Any]], frequency: str) -> pd.DataFrame:
    """ccxt OHLCV lists -> stamped bars (daily bars on UTC days, stamped at the next midnight)."""
    arr = np.asarray(rows, dtype="float64")
    if arr.ndim != 2 or arr.shape[1] < 5:
        raise ProviderError(f"unexpected OHLCV shape {arr.shape}", where="ccxt")
    table = pd.DataFrame(arr[:, 1:6], columns=["open", "high", "low", "close", "volume"][: arr.shape[1] - 1],
                         index=pd.to_datetime(arr[:, 0].astype("int64"), unit="ms", utc=True).as_unit("ns"))
    table = table.loc[~table.index.duplicated(keep="last")].sort_index()
    bar = parse_frequency(frequency) or DAY
    off = np.flatnonzero(table.index.asi8 % bar.value != 0)
    if off.size:
        raise ProviderError(f"bar opens off the {ccxt_timeframe(frequency)} grid (first {table.index[off[0]]})",
                            where="ccxt")
    return utc_open_bars(table, frequency)


def funding_to_bars(rows: list[dict[str, Any]], frequency: str) -> pd.DataFrame:
    """ccxt funding-rate dicts -> ``funding_rate`` (percent) per bar, mean of settlements inside it."""
    ts = [r.get("timestamp") for r in rows]
    rate = [r.get("fundingRate") for r in rows]
    s = pd.Series(pd.to_numeric(pd.Series(rate), errors="coerce").to_numpy() * 100.0,
                  index=pd.DatetimeIndex(pd.to_datetime(pd.Series(ts, dtype="float64"), unit="ms", utc=True)
                                         ).as_unit("ns")).dropna()
    s = s.loc[~s.index.duplicated(keep="last")].sort_index()
    if s.empty:
        raise ProviderError("empty answer (no funding rates)", where="ccxt")
    bar = parse_frequency(frequency) or DAY
    ns = bar.value
    closes = -(-s.index.asi8 // ns) * ns  # ceil to the bar grid: a settlement at t is known at its bar's close
    opens = pd.DatetimeIndex(pd.to_datetime(closes - ns, utc=True)).as_unit("ns")
    table = s.groupby(opens).mean().to_frame("funding_rate")
    return utc_open_bars(table, frequency)


class CcxtProvider:
    """Page OHLCV and funding history out of one ccxt exchange (``client=`` injects one for tests)."""

    name = "ccxt"

    def __init__(self, exchange: str = "binance", client: Any = None, page_limit: int = 1000,
                 attempts: int = 4, base_delay: float = 1.0, sleep: Callable[[float], None] = time.sleep,
                 market: str | None = None, max_pages: int = 10_000,
                 now: Callable[[], pd.Timestamp] | None = None) -> None:
        if not re.match(r"^[a-z0-9_]+$", exchange or ""):
            raise ProviderError(f"bad exchange id {exchange!r}", where="ccxt")
        self.exchange = exchange
        self._client = client
        self.page_limit = page_limit
        self.attempts = attempts
        self.base_delay = base_delay
        self.sleep = sleep
        self.market = market
        self.max_pages = max_pages
        self.now = now or (lambda: pd.Timestamp.now(tz="UTC"))

    @property
    def source(self) -> str:
        return f"ccxt_{self.exchange}"

    def client(self) -> Any:
        if self._client is None:
            ccxt = need("ccxt", "ccxt==4.5.90")
            if self.exchange not in getattr(ccxt, "exchanges", []):
                raise ProviderError(f"ccxt has no exchange {self.exchange!r}", where="ccxt")
            self._client = getattr(ccxt, self.exchange)({"enableRateLimit": True, "timeout": 30_000})
        return self._client

    def _transient(self) -> tuple[type[BaseException], ...]:
        try:
            import ccxt

            return (TransientError, ccxt.NetworkError, TimeoutError, ConnectionError)
        except ImportError:
            return (TransientError, TimeoutError, ConnectionError)

    def _call(self, fn: Callable[[], Any], what: str) -> Any:
        try:
            return with_retries(fn, what, attempts=self.attempts, base_delay=self.base_delay, sleep=self.sleep,
                                transient=self._transient())
        except ProviderError:
            raise
        except Exception as exc:  # ccxt.ExchangeError, BadSymbol, AuthenticationError ...
            name = type(exc).__name__
            if name.endswith("Error") or "ccxt" in type(exc).__module__:
                raise ProviderError(f"{name}: {str(exc).splitlines()[0] if str(exc) else ''}", where=what) from None
            raise

    def _throttle(self, client: Any) -> None:
        if not getattr(client, "enableRateLimit", False):
            self.sleep(float(getattr(client, "rateLimit", 1000)) / 1000.0)

    def _page(self, fetch: Callable[[int], list[Any]], stamp: Callable[[Any], int], start_ms: int, end_ms: int,
              step_ms: int, what: str) -> list[Any]:
        client = self.client()
        out: list[Any] = []
        since = start_ms
        for page in range(self.max_pages):
            if page:
                self._throttle(client)
            rows = self._call(lambda: fetch(since), f"{what} since {pd.Timestamp(since, unit='ms', tz='UTC')}")
            if not rows:
                break
            out.extend(r for r in rows if start_ms <= stamp(r) < end_ms)
            last = max(stamp(r) for r in rows)
            if last < since or last + step_ms >= end_ms:
                break
            since = last + step_ms
        return out

    def fetch(self, symbol: str, series: str, frequency: str, start: pd.Timestamp, end: pd.Timestamp,
              meta: Meta | None = None) -> Fetched:
        """Bars (``series='bars'``) or funding rates (``'funding'``) of ``symbol`` for UTC days start..end."""
        meta = meta or (guess_meta(symbol) if "/" not in symbol else Meta(CRYPTO, "USD", "crypto"))
        client = self.client()
        start_ms = int(pd.Timestamp(start).tz_localize("UTC").value // 1_000_000)
        end_ms = int((pd.Timestamp(end) + DAY).tz_localize("UTC").value // 1_000_000)
        now_ms = int(self.now().value // 1_000_000)
        notes: list[str] = []
        if series == "bars":
            mkt = self.market or market_symbol(symbol)
            tf = ccxt_timeframe(frequency)
            step = int((parse_frequency(frequency) or DAY) / pd.Timedelta(milliseconds=1))
            what = f"{self.source} {mkt} {tf}"
            rows = self._page(lambda since: client.fetch_ohlcv(mkt, tf, since=since, limit=self.page_limit),
                              lambda r: int(r[0]), start_ms, end_ms, step, what)
            rows = [r for r in rows if int(r[0]) + step <= now_ms]  # the bar still open is not a bar yet
            if not rows:
                raise ProviderError(f"empty answer for {pd.Timestamp(start).date()}..{pd.Timestamp(end).date()}",
                                    where=what)
            frame = ohlcv_to_bars(rows, frequency)
            first_ms = min(int(r[0]) for r in rows)
            if first_ms - start_ms >= max(step, 86_400_000):
                notes.append(f"{what}: the exchange's bars start {pd.Timestamp(first_ms, unit='ms', tz='UTC')}, "
                             f"after the requested {pd.Timestamp(start).date()}: it has nothing earlier (a pair's "
                             "history starts when it listed) [history_starts_late]")
        elif series == "funding":
            mkt = self.market or market_symbol(symbol, perp=True)
            what = f"{self.source} {mkt} funding"
            rows = self._page(lambda since: client.fetch_funding_rate_history(mkt, since=since, limit=self.page_limit),
                              lambda r: int(r["timestamp"]), start_ms, end_ms, 1, what)
            if not rows:
                raise ProviderError(f"empty answer for {pd.Timestamp(start).date()}..{pd.Timestamp(end).date()}",
                                    where=what)
            frame = funding_to_bars(rows, frequency)
            frame = frame.loc[np.asarray(frame.index <= self.now())]
        else:
            raise ProviderError(f"ccxt has no {series!r} series (bars, funding)", where=f"{self.source} {symbol}")
        return Fetched(frame=frame, meta=meta, source=self.source, source_version=library_version("ccxt"),
                       query=f"{what} {pd.Timestamp(start).date()}..{pd.Timestamp(end).date()}", warnings=notes)
