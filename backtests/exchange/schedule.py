"""The scheduled day of each market as a :class:`~backtests.exchange.states.Timeline`, before any rule fires.

- ``XKRX``: opening call auction (orders from 30 minutes before the open, one print at the open),
  continuous trading, the closing call auction (the last 10 minutes, printed at the close).
- ``XNYS``: continuous trading from the open to the close; the opening and closing crosses are
  instants (an order placed while closed fills at the next open, as an auction print).
- ``CRYPTO``: continuous, 24 hours a day, every day. Crypto venues have no market-wide halts, no
  price limits and no call auctions in this model (individual venues may pause a market for
  maintenance; no rule text governs that, so nothing is derived).

Session opens and closes come from :mod:`backtests.time.calendars`, special sessions included
(exam-day late opens and closes, ad-hoc closures: :mod:`backtests.time.special_sessions`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.errors import DataError
from backtests.exchange.rules import KRX_SESSIONS, US_SESSIONS, SessionRegime, regime_for
from backtests.exchange.states import NAT, State, Timeline, concat, make_timeline
from backtests.time.calendars import CRYPTO, sessions


def session_regime(market: str, date: pd.Timestamp) -> SessionRegime | None:
    """The call-auction layout of ``market`` on ``date`` (``None`` for crypto)."""
    if market == "XKRX":
        return regime_for(KRX_SESSIONS, date, "KRX sessions")  # type: ignore[return-value]
    if market == "XNYS":
        return regime_for(US_SESSIONS, date, "NYSE sessions")  # type: ignore[return-value]
    return None


def session_day(market: str, date: pd.Timestamp, open_ns: int, close_ns: int) -> Timeline:
    """One scheduled session: ``[open - opening auction, close)`` with the market's auctions."""
    reg = session_regime(market, date)
    if market == CRYPTO or reg is None:
        return make_timeline(market, [open_ns, close_ns], [State.CONTINUOUS])
    edges = [open_ns - reg.opening_auction] if reg.opening_auction else []
    codes: list[int] = [State.CALL_OPEN] if reg.opening_auction else []
    unc: list[int] = [open_ns] if reg.opening_auction else []
    edges.append(open_ns)
    codes.append(State.CONTINUOUS)
    unc.append(NAT)
    if reg.closing_auction:
        edges.append(close_ns - reg.closing_auction)
        codes.append(State.CLOSING_AUCTION)
        unc.append(close_ns)
    edges.append(close_ns)
    return make_timeline(market, edges, codes, unc)


def schedule(market: str, start: pd.Timestamp | str, end: pd.Timestamp | str) -> Timeline:
    """Scheduled state of ``market`` over the local session dates ``start..end`` (inclusive).

    Nights, weekends and holidays are ``CLOSED`` segments. The timeline starts at the first
    session's opening auction and ends at the last session's close.

    Raises
    ------
    DataError
        When there is no session in the range.
    """
    sched = sessions(market, start, end)
    if sched.empty:
        raise DataError(f"{market} has no session between {pd.Timestamp(start).date()} and {pd.Timestamp(end).date()}")
    opens = pd.DatetimeIndex(sched["open"]).as_unit("ns").asi8
    closes = pd.DatetimeIndex(sched["close"]).as_unit("ns").asi8
    days = [session_day(market, d, int(o), int(c)) for d, o, c in zip(sched.index, opens, closes)]
    return concat(days) if len(days) > 1 else days[0]


def session_bounds_ns(market: str, date: pd.Timestamp | str) -> tuple[int, int]:
    """``(open, close)`` of one local session date as UTC int64 ns.

    Raises
    ------
    DataError
        When ``date`` is not a session of ``market`` (a holiday or a special closure).
    """
    d = pd.Timestamp(date).normalize()
    sched = sessions(market, d, d)
    if sched.empty:
        raise DataError(f"{d.date()} is not a {market} session", where=market)
    return (int(pd.Timestamp(sched["open"].iloc[0]).value), int(pd.Timestamp(sched["close"].iloc[0]).value))


def local_clock(market: str, instants: np.ndarray) -> pd.DatetimeIndex:
    """UTC int64 ns instants as local wall-clock times of ``market`` (for messages and tests)."""
    tz = {"XKRX": "Asia/Seoul", "XNYS": "America/New_York"}.get(market, "UTC")
    return pd.DatetimeIndex(pd.to_datetime(np.asarray(instants, dtype=np.int64), utc=True)).tz_convert(tz)
