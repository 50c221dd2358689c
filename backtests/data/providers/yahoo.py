"""yfinance: equities, indices, ETFs, FX and crypto, daily and intraday, adjusted or not.

``yf.download`` returns columns ``MultiIndex (Price, Ticker)`` (``Adj Close`` only when
``auto_adjust=False``); a daily index of naive local dates (named ``Date``), an intraday index of
tz-aware bar-*open* times in the exchange's zone (named ``Datetime``: the bar labelled 09:00 KST
covers 09:00-09:01 and its close is known at 09:01). It never raises for a failed ticker: it logs
the error on the ``yfinance`` logger and returns empty (or all-NaN) columns. So the provider listens
to that logger during the call to tell a timeout or rate limit (retried with backoff) from "no
data" (an error at once).

How far back Yahoo serves intraday bars (:data:`INTRADAY_LIMITS`): it refuses a range that starts
too long ago (HTTP 422, ``"1m data not available for startTime=... The requested range must be
within the last 30 days."``) and a 1-minute range longer than 8 days in one request (``"Only 8 days
worth of 1m granularity data are allowed to be fetched per request."``; 7 in older answers). The
provider checks the start before asking (one line naming the limit, never an empty success) and
asks for 1-minute bars in windows of 7 days. Sources: yfinance 1.7.0 ``scrapers/history.py``
(``period="max"`` starts 8 days back for 1m, 60 days for 2m-90m, 730 days for 1h; "Intraday data
cannot extend last 60 days"); Yahoo's own refusals quoted in yfinance issues #383 (1m: "within the
last 30 days"), #356 and PR #959 (1m: "Only 7 days worth ... per request"), #1389 (5m: "within the
last 60 days").
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

#: Yahoo interval -> (days back a range may start, days per request). See the module docstring.
INTRADAY_LIMITS: dict[str, tuple[int, int]] = {"1m": (30, 7), "2m": (60, 60), "5m": (60, 60), "15m": (60, 60),
                                               "30m": (60, 60), "90m": (60, 60), "1h": (730, 730)}
#: Keep this far inside Yahoo's horizon: the check and Yahoo's own clock are a request apart.
HORIZON_MARGIN = pd.Timedelta(hours=1)

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
    return intraday_bars(df, frequency, stamped_at="open", market=market)


def earliest_start(interval: str, market: str, now: pd.Timestamp) -> pd.Timestamp | None:
    """The first local date Yahoo serves ``interval`` bars from, ``now`` (UTC); ``None`` for daily.

    Yahoo measures its horizon from the request's ``period1``, the start date's midnight in the
    exchange's zone: the earliest date is the first whose midnight lies inside the horizon (with
    :data:`HORIZON_MARGIN` to spare).
    """
    if interval not in INTRADAY_LIMITS:
        return None
    from backtests.time.calendars import get_market

    back = pd.Timestamp(now) - pd.Timedelta(days=INTRADAY_LIMITS[interval][0]) + HORIZON_MARGIN
    local = back.tz_convert(get_market(market).tz).tz_localize(None)
    day = local.normalize()
    return day if local == day else day + pd.Timedelta(days=1)


def request_windows(interval: str, start: pd.Timestamp, end: pd.Timestamp) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Local-date windows ``[a, b]`` (inclusive) of at most the interval's days per request (one
    window for daily bars)."""
    a, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if interval not in INTRADAY_LIMITS:
        return [(a, end)]
    per = INTRADAY_LIMITS[interval][1]
    out = []
    while a <= end:
        b = min(a + pd.Timedelta(days=per - 1), end)
        out.append((a, b))
        a = b + pd.Timedelta(days=1)
    return out


def horizon_text(interval: str) -> str:
    back, per = INTRADAY_LIMITS[interval]
    return (f"yfinance serves {interval} bars for the last {back} days only"
            + (f", at most {per} days per request" if per < back else ""))


class YahooProvider:
    """Fetch bars with ``yfinance.download`` (injectable for tests: ``download=fake``; ``now=`` a clock)."""

    name = "yfinance"

    def __init__(self, download: Callable[..., Any] | None = None, timeout: float = 20.0, attempts: int = 4,
                 base_delay: float = 2.0, sleep: Callable[[float], None] | None = None,
                 now: Callable[[], pd.Timestamp] | None = None) -> None:
        self._download = download
        self.timeout = timeout
        self.attempts = attempts
        self.base_delay = base_delay
        self.sleep = sleep
        self.now = now or (lambda: pd.Timestamp.now(tz="UTC"))

    def _dl(self) -> Callable[..., Any]:
        if self._download is not None:
            return self._download
        return need("yfinance", "yfinance==1.7.0").download

    def fetch(self, symbol: str, series: str, frequency: str, start: pd.Timestamp, end: pd.Timestamp,
              meta: Meta | None = None) -> Fetched:
        """Bars of ``symbol`` for local dates ``start..end`` (inclusive).

        ``series`` ``bars`` asks Yahoo for adjusted prices (``auto_adjust=True``: splits and
        dividends), ``bars_unadj`` for raw prices plus an ``adj_close`` column. Intraday bars are
        asked for only inside Yahoo's horizon (:data:`INTRADAY_LIMITS`; a start before it is a
        :class:`ProviderError` naming the limit), 1-minute bars in windows of 7 days; windows with
        no session of the symbol's market are not asked for. Gaps (a halt, a minute without trades)
        stay gaps.
        """
        if series not in {"bars", "bars_unadj"}:
            raise ProviderError(f"Yahoo has no {series!r} series (bars, bars_unadj)", where=f"yfinance {symbol}")
        meta = meta or guess_meta(symbol)
        interval = yahoo_interval(frequency)
        start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
        what = f"yfinance {symbol} {interval} {start.date()}..{end.date()}"
        first = earliest_start(interval, meta.market, self.now())
        if first is not None and start < first:
            back = INTRADAY_LIMITS[interval][0]
            coarser = [f"{n} ({d} days)" for n, d in (("5min", 60), ("1h", 730)) if d > back] or ["1D"]
            raise ProviderError(f"{horizon_text(interval)} (Yahoo refuses older ranges); asked from {start.date()}, "
                                f"the earliest is {first.date()}: use {' or '.join(coarser)} bars, import a file of "
                                "your own bars (scare data import), or ccxt for crypto", where=what)
        frames = []
        for a, b in request_windows(interval, start, end):
            if interval != "1d" and not _has_session(meta.market, a, b):
                continue
            raw = self._download_window(symbol, series, interval, a, b)
            try:
                frames.append(normalize_download(raw, symbol, frequency, meta.market))
            except ProviderError as exc:
                raise ProviderError(exc.bare_message, where=f"yfinance {symbol} {interval} {a.date()}..{b.date()}"
                                    ) from None
        if not frames:
            raise ProviderError(f"no {meta.market} session between {start.date()} and {end.date()}", where=what)
        frame = pd.concat(frames).sort_index() if len(frames) > 1 else frames[0]
        frame = frame.loc[~frame.index.duplicated(keep="last")]
        frame = _clip_local(frame, meta.market, start, end, self.now())
        return Fetched(frame=frame, meta=meta, source="yfinance", source_version=library_version("yfinance"),
                       query=what)

    def _download_window(self, symbol: str, series: str, interval: str, start: pd.Timestamp,
                         end: pd.Timestamp) -> pd.DataFrame:
        """One ``yf.download`` call for local dates ``start..end`` (Yahoo's ``end`` is exclusive)."""
        kwargs = dict(start=start.strftime("%Y-%m-%d"), end=(end + pd.Timedelta(days=1)).strftime("%Y-%m-%d"),
                      interval=interval, auto_adjust=series == "bars", actions=False, progress=False,
                      threads=False, multi_level_index=True, group_by="column", timeout=self.timeout,
                      ignore_tz=interval == "1d")
        what = f"yfinance {symbol} {interval} {kwargs['start']}..{end.date()}"

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
                limit = f" ({horizon_text(interval)})" if interval in INTRADAY_LIMITS and "not available" in text else ""
                raise ProviderError(f"no data: {text.splitlines()[0]}{limit}", where=what)
            return raw

        kw: dict[str, Any] = {"attempts": self.attempts, "base_delay": self.base_delay}
        if self.sleep is not None:
            kw["sleep"] = self.sleep
        return with_retries(call, what, **kw)


def _has_session(market: str, start: pd.Timestamp, end: pd.Timestamp) -> bool:
    from backtests.time.calendars import CRYPTO, sessions

    return market == CRYPTO or len(sessions(market, start, end)) > 0


def _clip_local(frame: pd.DataFrame, market: str, start: pd.Timestamp, end: pd.Timestamp,
                now: pd.Timestamp) -> pd.DataFrame:
    """Keep bars whose open lies in local dates start..end, and only bars already closed at ``now``."""
    from backtests.time.calendars import get_market

    tz = get_market(market).tz
    local = pd.DatetimeIndex(frame["open_time"]).tz_convert(tz).tz_localize(None).normalize()
    keep = (local >= pd.Timestamp(start)) & (local <= pd.Timestamp(end))
    keep &= np.asarray(frame.index <= now)
    return frame.loc[np.asarray(keep)]
