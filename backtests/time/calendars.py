"""Markets, their session calendars, and how bars are stamped in UTC.

Convention used everywhere in scare: **a bar is stamped at the UTC instant its close is known**.

- Exchange daily bars: the session close from ``exchange_calendars`` (XKRX 15:30 KST = 06:30 UTC,
  XNYS 16:00 ET = 20:00 or 21:00 UTC depending on daylight saving). Early closes are honoured, and
  so are the special sessions exchange_calendars misses (KRX exam days 10:00-16:30, election
  closures: :mod:`backtests.time.special_sessions`).
- Crypto daily bars (UTC days): stamped at the following midnight UTC (the day's close).
- Intraday bars of any market: stamped at the bar's end (open stamp + bar length).

Each bar also has an *open time* (the session open for a daily bar, the bar start for intraday);
the engine needs it to decide whether an order placed at time ``tau`` may fill at a bar's open
(only when the bar opened after ``tau``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.errors import DataError
from backtests.time.special_sessions import apply_special_sessions, digest as special_sessions_digest

CRYPTO = "CRYPTO"


class CalendarRangeError(DataError):
    """Dates beyond the years an exchange calendar knows (XKRX: 1956..2050)."""


@dataclass(frozen=True)
class Market:
    """A market and its conventions.

    Attributes
    ----------
    code
        ``XKRX``, ``XNYS`` (exchange_calendars codes) or ``CRYPTO`` (24/7, UTC days).
    tz
        IANA time zone the market's local dates are in.
    currency
        Currency its instruments are quoted in by default.
    regular_open, regular_close
        Local clock times used when a date is missing from the calendar (``HH:MM``).
    periods_per_year
        Daily periods per year used to annualize: 252 for exchanges, 365 for crypto.
    """

    code: str
    tz: str
    currency: str
    regular_open: str
    regular_close: str
    periods_per_year: int


MARKETS: dict[str, Market] = {
    "XKRX": Market("XKRX", "Asia/Seoul", "KRW", "09:00", "15:30", 252),
    "XNYS": Market("XNYS", "America/New_York", "USD", "09:30", "16:00", 252),
    CRYPTO: Market(CRYPTO, "UTC", "USD", "00:00", "24:00", 365),
}


def get_market(code: str) -> Market:
    """Return the :class:`Market` for ``code`` or raise a :class:`DataError` naming it."""
    try:
        return MARKETS[code]
    except KeyError:
        known = ", ".join(sorted(MARKETS))
        raise DataError(f"unknown market {code!r} (known: {known})") from None


#: Years every exchange schedule covers. One wide schedule per market is built once: building
#: XKRX costs seconds (Korean lunar holidays), so it is also cached on disk.
SCHEDULE_YEARS = (1995, 2030)


def cache_root() -> Path:
    """Folder for derived caches (``$SCARE_CACHE_DIR`` or ``~/.cache/scare``)."""
    return Path(os.environ.get("SCARE_CACHE_DIR") or Path.home() / ".cache" / "scare")


def _build_schedule(code: str, start_year: int, end_year: int) -> pd.DataFrame:
    import exchange_calendars as xcals  # imported lazily: it costs ~0.3 s

    cal = xcals.get_calendar(code, start=f"{start_year}-01-01", end=f"{end_year}-12-31")
    sched = cal.schedule[["open", "close"]].copy()
    sched.index = pd.DatetimeIndex(sched.index).tz_localize(None).normalize().as_unit("ns")
    sched.index.name = "session"
    for col in ("open", "close"):
        sched[col] = pd.DatetimeIndex(sched[col]).tz_convert("UTC").as_unit("ns")
    # exam-day hours and election closures exchange_calendars misses (backtests/time/special_sessions.py)
    return apply_special_sessions(code, sched)


@lru_cache(maxsize=16)
def _exchange_schedule(code: str, start_year: int, end_year: int) -> pd.DataFrame:
    from importlib.metadata import version

    path = cache_root() / (f"calendar-{code}-{start_year}-{end_year}-xcals{version('exchange_calendars')}"
                           f"-special{special_sessions_digest()}.parquet")
    if path.is_file():
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError):
            pass  # a damaged cache file is rebuilt below
    sched = _build_schedule(code, start_year, end_year)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        sched.to_parquet(tmp)
        os.replace(tmp, path)
    except OSError:
        pass  # read-only home: keep the in-memory copy only
    return sched


def _schedule_for(code: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    lo, hi = SCHEDULE_YEARS
    if start.year < lo or end.year > hi:
        # widen by whole decades so long histories share one (cached) schedule
        lo, hi = min(lo, start.year // 10 * 10), max(hi, end.year // 10 * 10 + 9)
    return _exchange_schedule(code, lo, hi)


def sessions(code: str, start: pd.Timestamp | str, end: pd.Timestamp | str) -> pd.DataFrame:
    """Sessions of a market between two local dates, inclusive.

    Parameters
    ----------
    code
        Market code (``XKRX``, ``XNYS``, ``CRYPTO``).
    start, end
        Local session dates (naive), inclusive.

    Returns
    -------
    pandas.DataFrame
        Indexed by naive session date, with tz-aware UTC columns ``open`` and ``close``.
    """
    start = pd.Timestamp(start).normalize()
    end = pd.Timestamp(end).normalize()
    if code == CRYPTO:
        days = pd.date_range(start, end, freq="D")
        opens = days.tz_localize("UTC")
        return pd.DataFrame(
            {"open": opens, "close": opens + pd.Timedelta(days=1)},
            index=pd.DatetimeIndex(days, name="session"),
        )
    get_market(code)
    try:
        sched = _schedule_for(code, start, end)
    except ValueError as exc:  # exchange_calendars: beyond the years it records holidays for
        raise CalendarRangeError(f"the {code} calendar cannot cover {start.date()}..{end.date()}: "
                                 f"{str(exc).splitlines()[0]}", where=code) from None
    return sched.loc[start:end]


class LocalTimeError(DataError):
    """A local wall-clock time that is not exactly one instant in its zone.

    ``row`` is the position of the first such time in the index given to :func:`localize`.
    """

    def __init__(self, message: str, where: str | None = None, row: int = 0) -> None:
        super().__init__(message, where=where)
        self.row = row


def localize(local: pd.DatetimeIndex, tz: str) -> pd.DatetimeIndex:
    """Naive local wall-clock times in ``tz`` as UTC instants, refusing the ones that are not one instant.

    The rule (docs/data.md "Local times and daylight saving"): a time inside the spring-forward gap
    (New York 02:30 on 2025-03-09) does not exist, and one inside the fall-back hour (01:30 on
    2024-11-03) happens twice, an hour apart. Neither is guessed: the first one raises
    :class:`LocalTimeError` naming the time, the zone and what happens there, with its ``row``.
    """
    local = pd.DatetimeIndex(local)
    utc = local.tz_localize(tz, nonexistent="NaT", ambiguous="NaT")
    bad = np.flatnonzero(np.asarray(utc.isna() & ~local.isna()))
    if bad.size:
        i = int(bad[0])
        t = local[i]
        gap = pd.isna(pd.DatetimeIndex([t]).tz_localize(tz, nonexistent="NaT", ambiguous=np.array([True]))[0])
        what = ("does not exist there: clocks jump forward over it (the daylight-saving gap)" if gap else
                "happens twice there: clocks fall back over it (daylight saving ends), so it names two instants an "
                "hour apart")
        more = f" (and {bad.size - 1} more such time(s))" if bad.size > 1 else ""
        raise LocalTimeError(f"local time {t:%Y-%m-%d %H:%M} in {tz} {what}{more}", row=i)
    return utc.tz_convert("UTC")


def _regular_time(dates: pd.DatetimeIndex, market: Market, clock: str) -> pd.DatetimeIndex:
    hours, minutes = (int(x) for x in clock.split(":"))
    local = dates + pd.Timedelta(hours=hours, minutes=minutes)
    return localize(local, market.tz)


def session_bounds(code: str, dates: pd.DatetimeIndex) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """UTC open and close instants for the given local session dates.

    Dates the calendar does not know as sessions (a calendar out of date, a special session) get
    the market's regular hours, so a bar is never dropped for a calendar gap; the data quality
    checks report such dates separately.

    Returns
    -------
    (opens, closes)
        Two tz-aware UTC DatetimeIndex objects aligned with ``dates``.
    """
    market = get_market(code)
    dates = pd.DatetimeIndex(dates).tz_localize(None).normalize()
    if len(dates) == 0:
        empty = pd.DatetimeIndex([], tz="UTC")
        return empty, empty
    if code == CRYPTO:
        opens = dates.tz_localize("UTC")
        return opens, opens + pd.Timedelta(days=1)
    sched = sessions(code, dates.min(), dates.max())
    opens = pd.Series(sched["open"]).reindex(dates)
    closes = pd.Series(sched["close"]).reindex(dates)
    missing = closes.isna().to_numpy()
    if missing.any():
        opens[missing] = _regular_time(dates[missing], market, market.regular_open)
        closes[missing] = _regular_time(dates[missing], market, market.regular_close)
    return (
        pd.DatetimeIndex(opens.to_numpy()).tz_localize(None).tz_localize("UTC")
        if opens.dt.tz is None
        else pd.DatetimeIndex(opens),
        pd.DatetimeIndex(closes),
    )


def stamp_daily(code: str, dates: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """UTC close stamps for daily bars labelled with local session ``dates``."""
    return session_bounds(code, dates)[1]


def local_session_dates(code: str, stamps: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Local session date of each UTC close stamp (inverse of :func:`stamp_daily`)."""
    stamps = pd.DatetimeIndex(stamps)
    if code == CRYPTO:
        return (stamps - pd.Timedelta(days=1)).tz_convert("UTC").tz_localize(None).normalize()
    market = get_market(code)
    return stamps.tz_convert(market.tz).tz_localize(None).normalize()


def parse_frequency(freq: str) -> pd.Timedelta | None:
    """Bar length for an intraday frequency string, ``None`` for daily (``1D``/``D``)."""
    f = freq.strip()
    if f.upper() in {"1D", "D", "DAILY"}:
        return None
    try:
        return pd.Timedelta(pd.tseries.frequencies.to_offset(f))
    except (ValueError, TypeError):
        raise DataError(f"unknown bar frequency {freq!r} (use e.g. 1D, 4h, 5min)") from None


def periods_per_year(code: str, freq: str = "1D") -> float:
    """Periods per year for annualizing returns sampled at ``freq`` in market ``code``.

    Daily: 252 for exchanges, 365 for crypto. Intraday: the daily figure times bars per day
    (24h / bar length for crypto, regular session length / bar length for exchanges).
    """
    market = get_market(code)
    bar = parse_frequency(freq)
    if bar is None:
        return float(market.periods_per_year)
    if code == CRYPTO:
        day = pd.Timedelta(days=1)
    else:
        oh, om = (int(x) for x in market.regular_open.split(":"))
        ch, cm = (int(x) for x in market.regular_close.split(":"))
        day = pd.Timedelta(hours=ch - oh, minutes=cm - om)
    return float(market.periods_per_year) * float(np.ceil(day / bar))


def clock_periods_per_year(markets: Iterable[str], freq: str = "1D") -> float:
    """Periods per year of a mark-to-market clock made of the bars of ``markets``.

    A run is valued at every stamp at which a price of an asset it trades is known: the union of
    its traded symbols' bar stamps. Bars of different markets are stamped at different instants
    (daily: XKRX closes at 06:30 UTC, XNYS at 20:00/21:00 UTC, CRYPTO days at 00:00 UTC), so the
    clock has as many periods a year as its markets together: the sum of
    :func:`periods_per_year` over the distinct markets. One market: its own figure (252, 365, or
    the intraday figure). XKRX + XNYS daily: 504; XNYS + CRYPTO daily: 617.

    The sum counts a stamp twice where two markets' bars end at the same instant. That never
    happens for the daily bars of the markets scare knows; intraday bars of an exchange can end
    on a 24/7 market's grid (XKRX hourly bars and CRYPTO hourly bars), and such a mixed intraday
    clock is overstated by the shared stamps (docs/metrics.md, "The clock").

    Parameters
    ----------
    markets
        Market codes of the symbols whose bars make the clock (repeats are counted once).
    freq
        Bar frequency of the data (``1D``, ``4h``, ...).

    Returns
    -------
    float
        Periods per year (> 0).

    Raises
    ------
    DataError
        No market, or an unknown one.
    """
    codes = sorted(set(markets))
    if not codes:
        raise DataError("a clock needs the market of at least one traded symbol")
    return float(sum(periods_per_year(code, freq) for code in codes))
