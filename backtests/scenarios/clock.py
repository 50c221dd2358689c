"""The real session clock scenario paths are stamped on.

Each market of a family gets a :class:`MarketGrid`: its real sessions around the shock (from
:mod:`backtests.time.calendars`, special sessions included), 1-minute bars inside them stamped at
their end (UTC int64 ns), and the *points* a path is valued at: each session's open (the opening
print) and every bar end. A path has ``T + S`` points for ``T`` bars in ``S`` sessions; bar ``k``
runs from point ``bar_points[k]`` to ``bar_points[k] + 1``. Crypto trades around the clock: its
grid is one continuous stretch covering every exchange session of the scenario.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtests.errors import ConfigError
from backtests.time.calendars import CRYPTO, get_market, sessions

MINUTE = 60_000_000_000  # ns


@dataclass(frozen=True)
class MarketGrid:
    """One market's sessions, 1-minute bars and valuation points in a scenario.

    Attributes
    ----------
    market
        ``XKRX``, ``XNYS`` or ``CRYPTO``.
    dates
        Local session dates (crypto: the UTC date of the stretch's start).
    opens, closes
        Session opens and closes, UTC int64 ns (crypto: the stretch's start and end).
    reference
        The instant of the close every path of this market is measured from (the close before the
        first session; crypto: the stretch's start), UTC int64 ns.
    starts, ends
        Bar starts and ends (stamps), UTC int64 ns, 1 minute apart inside a session.
    session
        Session index of each bar.
    bar_points
        Index of the point at each bar's start (its end is the next point).
    points
        Instants of the points (session opens and bar ends), UTC int64 ns.
    point_session
        Session index of each point.
    point_minute
        Minutes since its session's open of each point.
    session_points
        Index of each session's open point (length ``S + 1``: the last entry is ``P``).
    """

    market: str
    dates: tuple[pd.Timestamp, ...]
    opens: np.ndarray
    closes: np.ndarray
    reference: int
    starts: np.ndarray
    ends: np.ndarray
    session: np.ndarray
    bar_points: np.ndarray
    points: np.ndarray
    point_session: np.ndarray
    point_minute: np.ndarray
    session_points: np.ndarray

    @property
    def n_bars(self) -> int:
        return len(self.starts)

    @property
    def n_points(self) -> int:
        return len(self.points)

    @property
    def n_sessions(self) -> int:
        return len(self.opens)

    def session_bars(self, s: int) -> slice:
        """The bars of session ``s`` as a slice."""
        lo = int(self.session_points[s]) - s
        hi = int(self.session_points[s + 1]) - (s + 1)
        return slice(lo, hi)

    def trading_minutes(self) -> np.ndarray:
        """Trading-clock minutes of each point since the first open (nights do not count)."""
        lengths = np.diff(self.session_points) - 1
        before = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        return before[self.point_session] + self.point_minute

    def local_minutes(self, s: int) -> float:
        """Minutes after local midnight of session ``s``'s open."""
        tz = get_market(self.market).tz
        t = pd.Timestamp(int(self.opens[s]), tz="UTC").tz_convert(tz)
        return t.hour * 60 + t.minute + t.second / 60.0


def _grid(market: str, dates: list[pd.Timestamp], opens: np.ndarray, closes: np.ndarray, reference: int) -> MarketGrid:
    lengths = (closes - opens) // MINUTE
    if np.any((closes - opens) % MINUTE):
        raise ConfigError(f"{market}: a session is not a whole number of minutes")
    starts = np.concatenate([o + MINUTE * np.arange(n, dtype=np.int64) for o, n in zip(opens, lengths)])
    session = np.repeat(np.arange(len(opens)), lengths)
    session_points = np.concatenate([[0], np.cumsum(lengths + 1)])
    points = np.concatenate([o + MINUTE * np.arange(n + 1, dtype=np.int64) for o, n in zip(opens, lengths)])
    point_session = np.repeat(np.arange(len(opens)), lengths + 1)
    point_minute = (np.arange(len(points)) - session_points[point_session]).astype(np.float64)
    bar_points = np.arange(len(starts)) + session
    return MarketGrid(market, tuple(dates), opens.astype(np.int64), closes.astype(np.int64), int(reference),
                      starts.astype(np.int64), (starts + MINUTE).astype(np.int64), session.astype(np.int64),
                      bar_points.astype(np.int64), points.astype(np.int64), point_session.astype(np.int64),
                      point_minute, session_points.astype(np.int64))


def _around(market: str, date: pd.Timestamp) -> pd.DataFrame:
    return sessions(market, date - pd.Timedelta(days=45), date + pd.Timedelta(days=45))


def exchange_grid(market: str, anchor: pd.Timestamp, before: int, after: int, first_open_at: int | None = None
                  ) -> tuple[MarketGrid, int]:
    """The grid of ``before`` sessions, the shock session and ``after`` sessions of ``market``.

    Parameters
    ----------
    market
        Exchange code.
    anchor
        The leader market's shock date; for another market the shock session is its first session
        opening at or after ``first_open_at`` (UTC ns): the first chance its traders have to react.
    before, after
        Sessions before and after the shock session.
    first_open_at
        See ``anchor``; ``None`` for the leader's market (the shock session is ``anchor`` itself).

    Returns
    -------
    (MarketGrid, int)
        The grid and the index of the shock session in it (``before``).

    Raises
    ------
    ConfigError
        When ``anchor`` is not a session of the leader's market.
    """
    sched = _around(market, anchor)
    opens = pd.DatetimeIndex(sched["open"]).as_unit("ns").asi8
    closes = pd.DatetimeIndex(sched["close"]).as_unit("ns").asi8
    if first_open_at is None:
        hits = np.flatnonzero(sched.index == anchor)
        if not hits.size:
            raise ConfigError(f"scenario date {anchor.date()} is not a {market} session")
        i = int(hits[0])
    else:
        i = int(np.searchsorted(opens, first_open_at, side="left"))
    lo, hi = i - before, i + after
    if lo < 1 or hi >= len(opens):
        raise ConfigError(f"{market}: not enough sessions around {anchor.date()} for the scenario")
    dates = list(sched.index[lo:hi + 1])
    return _grid(market, dates, opens[lo:hi + 1], closes[lo:hi + 1], int(closes[lo - 1])), before


def crypto_grid(start: int, end: int) -> MarketGrid:
    """One continuous stretch of 1-minute crypto bars over ``[start, end)`` (UTC ns, whole minutes)."""
    start = start // MINUTE * MINUTE
    end = -(-end // MINUTE) * MINUTE
    d = pd.Timestamp(start, tz="UTC").tz_localize(None).normalize()
    return _grid(CRYPTO, [d], np.array([start]), np.array([end]), start)


def family_grids(family) -> tuple[dict[str, MarketGrid], dict[str, int]]:
    """Every market's grid for a :class:`~backtests.scenarios.family.ScenarioFamily`.

    Returns
    -------
    (grids, shock_session)
        ``{market: MarketGrid}`` and ``{market: index of its shock session}`` (crypto: 0).
    """
    anchor = pd.Timestamp(family.date).normalize()
    lead = family.asset(family.leader).market
    grids: dict[str, MarketGrid] = {}
    shock: dict[str, int] = {}
    grids[lead], shock[lead] = exchange_grid(lead, anchor, family.sessions_before, family.sessions_after)
    shock_open = int(grids[lead].opens[shock[lead]])
    for m in family.markets:
        if m in grids or m == CRYPTO:
            continue
        grids[m], shock[m] = exchange_grid(m, anchor, family.sessions_before, family.sessions_after, shock_open)
    if CRYPTO in family.markets:
        ex = [g for g in grids.values()]
        grids[CRYPTO] = crypto_grid(min(int(g.opens[0]) for g in ex), max(int(g.closes[-1]) for g in ex))
        shock[CRYPTO] = 0
    return grids, shock


__all__ = ["MarketGrid", "exchange_grid", "crypto_grid", "family_grids", "grids_for", "MINUTE"]


_GRIDS: dict[str, tuple[dict[str, MarketGrid], dict[str, int]]] = {}


def grids_for(family) -> tuple[dict[str, MarketGrid], dict[str, int]]:
    """The market grids of a :class:`~backtests.scenarios.family.ScenarioFamily` (:func:`family_grids`,
    cached per family structure)."""
    key = hashlib.sha256(json.dumps(family.record(), sort_keys=True, default=str).encode()).hexdigest()
    if key not in _GRIDS:
        _GRIDS[key] = family_grids(family)
    return _GRIDS[key]
