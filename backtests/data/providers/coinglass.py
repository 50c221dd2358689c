"""Aggregated liquidation history over HTTP (CoinGlass v4 style API).

``GET {base_url}/api/futures/liquidation/aggregated-history?exchange_list=Binance&symbol=BTC
&interval=4h&start_time=<ms>&end_time=<ms>&limit=1000`` with header ``CG-API-KEY: <key>`` answers
``{"code": "0", "msg": "success", "data": [{"time": <ms bar open>,
"aggregated_long_liquidation_usd": ..., "aggregated_short_liquidation_usd": ...}, ...]}``.

The key is read from an environment variable (``COINGLASS_API_KEY`` by default) at call time. It is
only ever placed in the request header: never in the URL, the cache, the manifest or a message
(every error text is scrubbed of it). Timeouts, connection errors, 429 and 5xx are retried with
exponential backoff; 4xx, a non-zero API ``code`` and an empty ``data`` list are errors at once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from backtests.time.calendars import parse_frequency
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

BASE_URL = "https://open-api-v4.coinglass.com"
ENDPOINT = "/api/futures/liquidation/aggregated-history"
KEY_ENV = "COINGLASS_API_KEY"
RENAME = {"aggregated_long_liquidation_usd": "long_liquidations_usd",
          "aggregated_short_liquidation_usd": "short_liquidations_usd",
          "longLiquidationUsd": "long_liquidations_usd", "shortLiquidationUsd": "short_liquidations_usd"}


def cg_interval(frequency: str) -> str:
    bar = parse_frequency(frequency)
    if bar is None:
        return "1d"
    minutes = int(bar / pd.Timedelta(minutes=1))
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def liquidations_to_bars(rows: list[dict[str, Any]], frequency: str) -> pd.DataFrame:
    """API ``data`` rows (bar-open ``time`` in ms) -> stamped ``long/short_liquidations_usd`` bars."""
    df = pd.DataFrame(rows)
    if df.empty or "time" not in df.columns:
        raise ProviderError("empty answer (no rows with a 'time')", where="coinglass")
    df = df.rename(columns=RENAME)
    cols = [c for c in ("long_liquidations_usd", "short_liquidations_usd") if c in df.columns]
    if not cols:
        raise ProviderError(f"answer has no liquidation columns (has {sorted(df.columns)})", where="coinglass")
    t = pd.to_numeric(df["time"], errors="coerce")
    if t.max() < 1e11:  # seconds, not ms
        t = t * 1000
    table = df[cols].apply(pd.to_numeric, errors="coerce").astype("float64")
    table.index = pd.DatetimeIndex(pd.to_datetime(t.astype("int64"), unit="ms", utc=True)).as_unit("ns")
    table = table.loc[~table.index.duplicated(keep="last")].sort_index()
    return utc_open_bars(table, frequency)


class CoinGlassProvider:
    """Liquidation history for a coin (``session=`` injects a requests-like session for tests)."""

    name = "coinglass"
    source = "coinglass"

    def __init__(self, session: Any = None, base_url: str = BASE_URL, key_env: str = KEY_ENV,
                 exchange_list: str = "Binance", timeout: float = 30.0, attempts: int = 4, base_delay: float = 2.0,
                 sleep: Callable[[float], None] = time.sleep, page_limit: int = 1000, min_interval: float = 2.0) -> None:
        self._session = session
        self.base_url = base_url.rstrip("/")
        self.key_env = key_env
        self.exchange_list = exchange_list
        self.timeout = timeout
        self.attempts = attempts
        self.base_delay = base_delay
        self.sleep = sleep
        self.page_limit = page_limit
        self.min_interval = min_interval  # seconds between pages (free plans allow ~30 calls/min)

    def _key(self) -> str:
        key = os.environ.get(self.key_env, "").strip()
        if not key:
            raise ProviderError(f"set the API key in the environment variable {self.key_env} "
                                "(it is read at call time and never stored)", where="coinglass")
        return key

    def session(self) -> Any:
        if self._session is None:
            self._session = need("requests", "requests").Session()
        return self._session

    def _get(self, params: dict[str, Any], what: str) -> list[dict[str, Any]]:
        key = self._key()

        def scrub(text: str) -> str:
            return text.replace(key, "***") if key else text

        def call() -> list[dict[str, Any]]:
            try:
                resp = self.session().get(self.base_url + ENDPOINT, params=params, headers={"CG-API-KEY": key,
                                          "accept": "application/json"}, timeout=self.timeout)
            except Exception as exc:  # requests.Timeout / ConnectionError and friends
                name = type(exc).__name__
                if any(w in name for w in ("Timeout", "Connection")) or isinstance(exc, (TimeoutError, OSError)):
                    raise TransientError(scrub(f"{name}: {exc}")) from None
                raise ProviderError(scrub(f"{name}: {exc}"), where=what) from None
            status = int(getattr(resp, "status_code", 0))
            if status == 429 or status >= 500:
                raise TransientError(f"HTTP {status}")
            if status >= 400:
                hint = " (check the API key and plan)" if status in (401, 403) else ""
                raise ProviderError(f"HTTP {status}{hint}", where=what)
            try:
                body = resp.json()
            except ValueError:
                raise ProviderError("answer is not JSON", where=what) from None
            code = str(body.get("code", "0")) if isinstance(body, dict) else "?"
            if code not in {"0", "200"}:
                msg = scrub(str(body.get("msg", ""))[:200]) if isinstance(body, dict) else ""
                if "limit" in msg.lower() and "rate" in msg.lower():
                    raise TransientError(f"API code {code}: {msg}")
                raise ProviderError(f"API code {code}: {msg}", where=what)
            data = body.get("data") if isinstance(body, dict) else None
            return list(data or [])

        return with_retries(call, what, attempts=self.attempts, base_delay=self.base_delay, sleep=self.sleep)

    def fetch(self, symbol: str, series: str, frequency: str, start: pd.Timestamp, end: pd.Timestamp,
              meta: Meta | None = None) -> Fetched:
        if series != "liquidations":
            raise ProviderError(f"no {series!r} series here (liquidations)", where=f"coinglass {symbol}")
        meta = meta or guess_meta(symbol)
        coin = symbol.split("-")[0].split("/")[0].upper()
        interval = cg_interval(frequency)
        step = int((parse_frequency(frequency) or pd.Timedelta(days=1)) / pd.Timedelta(milliseconds=1))
        start_ms = int(pd.Timestamp(start).tz_localize("UTC").value // 1_000_000)
        end_ms = int((pd.Timestamp(end) + pd.Timedelta(days=1)).tz_localize("UTC").value // 1_000_000)
        what = f"coinglass {coin} liquidations {interval} ({self.exchange_list})"
        rows: list[dict[str, Any]] = []
        since = start_ms
        for page in range(10_000):
            if page:
                self.sleep(self.min_interval)
            params = {"exchange_list": self.exchange_list, "symbol": coin, "interval": interval,
                      "start_time": since, "end_time": end_ms, "limit": self.page_limit}
            got = self._get(params, what)
            if not got:
                break
            rows.extend(r for r in got if start_ms <= float(r.get("time", -1)) < end_ms)
            last = int(max(float(r.get("time", 0)) for r in got))
            if last < since or last + step >= end_ms or len(got) < self.page_limit:
                break
            since = last + step
        if not rows:
            raise ProviderError(f"empty answer for {pd.Timestamp(start).date()}..{pd.Timestamp(end).date()}",
                                where=what)
        frame = liquidations_to_bars(rows, frequency)
        frame = frame.loc[np.asarray(frame.index <= pd.Timestamp.now(tz="UTC"))]
        return Fetched(frame=frame, meta=meta, source=self.source, source_version=f"coinglass-api-v4; "
                       f"{library_version('requests')}", query=f"{what} {pd.Timestamp(start).date()}.."
                       f"{pd.Timestamp(end).date()}")
