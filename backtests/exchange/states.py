"""Market state as plain arrays: a :class:`Timeline` of half-open segments with a state code each.

A timeline covers ``[edges[0], edges[-1])`` in UTC int64 nanoseconds. Segment ``i`` is
``[edges[i], edges[i+1])`` with state ``codes[i]`` (:class:`State`), price-lock flag ``locks[i]``
(:class:`Lock`) and, for call-auction segments, the instant ``uncross[i]`` at which the auction
prints (its end; :data:`NAT` otherwise). Rule firings are kept as :class:`StateEvent` records. Several
sessions are one timeline with ``CLOSED`` segments between them, so the engine can read the whole
history with one ``searchsorted``.

Everything here is pure: functions return new timelines.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum

import numpy as np
import pandas as pd

from backtests.errors import DataError

#: Missing instant (numpy's NaT as int64).
NAT = np.iinfo(np.int64).min


class State(IntEnum):
    """What the market (or one symbol) is doing during a segment.

    ``CLOSED``: outside the session. ``CONTINUOUS``: continuous trading. ``HALTED``: market-wide halt
    (no new orders, no trades). ``PAUSED``: single-symbol trading pause (LULD). ``CALL_OPEN``,
    ``CALL_REOPEN``, ``CALL_VI``: single-price call auctions (orders collected, one print at the
    segment's end: the open, the reopening after a halt or pause, a volatility interruption).
    ``CLOSING_AUCTION``: the closing call auction (prints at the close).
    """

    CLOSED = 0
    CONTINUOUS = 1
    HALTED = 2
    PAUSED = 3
    CALL_OPEN = 4
    CALL_REOPEN = 5
    CALL_VI = 6
    CLOSING_AUCTION = 7


#: States in which an order is accepted and can trade (now or at the auction's print).
ACCEPTING = (State.CONTINUOUS, State.CALL_OPEN, State.CALL_REOPEN, State.CALL_VI, State.CLOSING_AUCTION)
#: Call-auction states: one print at the segment's end.
AUCTIONS = (State.CALL_OPEN, State.CALL_REOPEN, State.CALL_VI, State.CLOSING_AUCTION)


class Lock(IntEnum):
    """Price lock of a symbol during a segment: at its daily limit with no trading through it.

    ``UP``: locked at the upper limit (buy orders queue, do not fill). ``DOWN``: at the lower limit.
    """

    NONE = 0
    UP = 1
    DOWN = -1


#: Priority when two timelines overlap (market and symbol): the more restrictive state wins.
_PRIORITY = {State.CONTINUOUS: 0, State.CALL_VI: 1, State.CALL_OPEN: 2, State.CLOSING_AUCTION: 3,
             State.CALL_REOPEN: 4, State.PAUSED: 5, State.HALTED: 6, State.CLOSED: 7}


@dataclass(frozen=True)
class StateEvent:
    """A rule firing (or a condition that met a rule but was excluded by it).

    Attributes
    ----------
    code
        e.g. ``cb_level1``, ``cb_level1_excluded`` (met in the last 40 minutes), ``sidecar``,
        ``vi_static``, ``vi_dynamic``, ``limit_locked_up``, ``luld_limit_state``, ``luld_pause``,
        ``mwcb_level1``.
    instant
        UTC int64 ns at which the rule fired (the instant the bars prove it, see docs/exchange.md).
    rule
        Id of the regime that produced it (``krx_cb_2015``).
    level
        Circuit-breaker level, when any.
    value, threshold
        Observed price/index value and the trigger level it crossed.
    symbol
        Single-symbol rules: the symbol.
    note
        Words for a person.
    """

    code: str
    instant: int
    rule: str
    level: int | None = None
    value: float | None = None
    threshold: float | None = None
    symbol: str | None = None
    note: str = ""

    @property
    def time(self) -> pd.Timestamp:
        return pd.Timestamp(self.instant, tz="UTC")


@dataclass(frozen=True)
class Timeline:
    """Exchange state over time, as arrays (see the module docstring).

    Attributes
    ----------
    market
        ``XKRX``, ``XNYS`` or ``CRYPTO``.
    edges
        Sorted segment boundaries, int64 ns UTC, length ``n + 1``.
    codes
        :class:`State` per segment (int8, length ``n``).
    locks
        :class:`Lock` per segment (int8).
    uncross
        Auction print instant per segment (int64 ns; :data:`NAT` for non-auction segments).
    events
        The rule firings behind the segments, in time order.
    derived_from
        ``schedule`` (calendar only), ``intraday`` (rules applied to intraday bars), ``daily``
        (what daily bars show: limit-locked closes) or ``catalogue`` (a recorded halt time).
    symbol
        ``None`` for a market-wide timeline.
    """

    market: str
    edges: np.ndarray
    codes: np.ndarray
    locks: np.ndarray
    uncross: np.ndarray
    events: tuple[StateEvent, ...] = ()
    derived_from: str = "schedule"
    symbol: str | None = None

    def __post_init__(self) -> None:
        n = len(self.codes)
        if len(self.edges) != n + 1 or len(self.locks) != n or len(self.uncross) != n:
            raise DataError(f"timeline arrays do not line up ({len(self.edges)} edges, {n} codes)")
        if n and np.any(np.diff(self.edges) <= 0):
            raise DataError("timeline edges must increase strictly")

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def start(self) -> int:
        return int(self.edges[0])

    @property
    def end(self) -> int:
        return int(self.edges[-1])

    def segment_at(self, instants: np.ndarray) -> np.ndarray:
        """Index of the segment holding each instant (``-1`` outside the timeline)."""
        t = np.asarray(instants, dtype=np.int64)
        i = np.searchsorted(self.edges, t, side="right") - 1
        return np.where((i >= 0) & (i < len(self.codes)), i, -1)

    def state_at(self, instants: np.ndarray) -> np.ndarray:
        """:class:`State` at each instant (``-1`` outside the timeline)."""
        i = self.segment_at(instants)
        return np.where(i >= 0, self.codes[np.maximum(i, 0)], -1).astype(np.int8)

    def segments(self, *states: State) -> np.ndarray:
        """``(k, 2)`` int64 array of ``[start, end)`` of the segments in ``states``."""
        m = np.isin(self.codes, np.asarray(states, dtype=np.int8))
        return np.column_stack([self.edges[:-1][m], self.edges[1:][m]])

    def frame(self) -> pd.DataFrame:
        """The segments as a table (UTC timestamps and state names), for people."""
        return pd.DataFrame({
            "start": pd.to_datetime(self.edges[:-1], utc=True),
            "end": pd.to_datetime(self.edges[1:], utc=True),
            "state": [State(c).name.lower() for c in self.codes],
            "lock": [Lock(x).name.lower() for x in self.locks],
            "uncross": pd.to_datetime(np.where(self.uncross == NAT, np.datetime64("NaT"),
                                               self.uncross.astype("datetime64[ns]")), utc=True),
        })


def make_timeline(market: str, edges, codes, uncross=None, locks=None, events=(), derived_from="schedule",
                  symbol=None) -> Timeline:
    """Build a :class:`Timeline` from lists, merging neighbours with the same state, lock and print."""
    e = np.asarray(edges, dtype=np.int64)
    c = np.asarray(codes, dtype=np.int8)
    u = np.full(len(c), NAT, dtype=np.int64) if uncross is None else np.asarray(uncross, dtype=np.int64)
    k = np.zeros(len(c), dtype=np.int8) if locks is None else np.asarray(locks, dtype=np.int8)
    keep = np.ones(len(c), dtype=bool)
    if len(c) > 1:
        keep[1:] = (c[1:] != c[:-1]) | (k[1:] != k[:-1]) | (u[1:] != u[:-1])
    edges_out = np.append(e[:-1][keep], e[-1])
    return Timeline(market, edges_out, c[keep], k[keep], u[keep],
                    tuple(sorted(events, key=lambda ev: (ev.instant, ev.code))), derived_from, symbol)


def with_events(tl: Timeline, events: tuple[StateEvent, ...]) -> Timeline:
    """``tl`` with recorded-only ``events`` added (states unchanged: e.g. a KRX sidecar)."""
    return replace(tl, events=tuple(sorted(tl.events + tuple(events), key=lambda ev: (ev.instant, ev.code))))


def paint(tl: Timeline, start: int, end: int, code: State | None, *, uncross: int = NAT, lock: Lock | None = None,
          events: tuple[StateEvent, ...] = ()) -> Timeline:
    """A copy of ``tl`` with ``[start, end)`` set to ``code`` (clipped to the timeline).

    ``code=None`` keeps the states (and auction prints); ``uncross`` is recorded on the painted
    segment (auctions); ``lock=None`` keeps the existing locks, a :class:`Lock` overrides them.
    Painting an empty or outside interval only adds the events.
    """
    start, end = max(int(start), tl.start), min(int(end), tl.end)
    if start >= end:
        return with_events(tl, events)
    cuts = np.unique(np.concatenate([tl.edges, [start, end]]))
    seg = np.searchsorted(tl.edges, cuts[:-1], side="right") - 1
    codes, locks, unc = tl.codes[seg].copy(), tl.locks[seg].copy(), tl.uncross[seg].copy()
    inside = (cuts[:-1] >= start) & (cuts[:-1] < end)
    if code is not None:
        codes[inside] = int(code)
        unc[inside] = uncross
    if lock is not None:
        locks[inside] = int(lock)
    return make_timeline(tl.market, cuts, codes, unc, locks, tl.events + tuple(events), tl.derived_from, tl.symbol)


def paint_lock(tl: Timeline, start: int, end: int, lock: Lock, events: tuple[StateEvent, ...] = ()) -> Timeline:
    """A copy of ``tl`` with the lock flag of ``[start, end)`` set to ``lock`` (states unchanged)."""
    return paint(tl, start, end, None, lock=lock, events=events)


def overlay(market_tl: Timeline, symbol_tl: Timeline) -> Timeline:
    """One symbol's effective timeline: the market's and the symbol's own states combined.

    At every instant the more restrictive state wins (closed > halted > paused > reopening auction >
    closing auction > opening auction > VI auction > continuous); the symbol's locks are kept.
    Covers the intersection of the two timelines.
    """
    lo, hi = max(market_tl.start, symbol_tl.start), min(market_tl.end, symbol_tl.end)
    if lo >= hi:
        raise DataError("the market and symbol timelines do not overlap")
    cuts = np.unique(np.concatenate([market_tl.edges, symbol_tl.edges]))
    cuts = cuts[(cuts >= lo) & (cuts <= hi)]
    left = cuts[:-1]
    im = market_tl.segment_at(left)
    is_ = symbol_tl.segment_at(left)
    cm, cs = market_tl.codes[im], symbol_tl.codes[is_]
    prio = np.vectorize(lambda c: _PRIORITY[State(c)])
    take_symbol = prio(cs) > prio(cm)
    codes = np.where(take_symbol, cs, cm)
    unc = np.where(take_symbol, symbol_tl.uncross[is_], market_tl.uncross[im])
    locks = np.where(np.isin(codes, (State.CLOSED, State.HALTED, State.PAUSED)), 0, symbol_tl.locks[is_])
    derived = symbol_tl.derived_from if symbol_tl.derived_from != "schedule" else market_tl.derived_from
    return make_timeline(market_tl.market, cuts, codes, unc, locks, market_tl.events + symbol_tl.events,
                         derived, symbol_tl.symbol)


def concat(timelines: list[Timeline]) -> Timeline:
    """Several timelines of one market, in time order, as one (gaps between them become ``CLOSED``)."""
    if not timelines:
        raise DataError("no timelines to join")
    tls = sorted(timelines, key=lambda t: t.start)
    edges: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    locks: list[np.ndarray] = []
    unc: list[np.ndarray] = []
    prev_end = None
    for t in tls:
        if prev_end is not None:
            if t.start < prev_end:
                raise DataError("timelines to join overlap")
            if t.start > prev_end:
                edges.append(np.array([prev_end]))
                codes.append(np.array([State.CLOSED], dtype=np.int8))
                locks.append(np.zeros(1, dtype=np.int8))
                unc.append(np.array([NAT]))
        edges.append(t.edges[:-1])
        codes.append(t.codes)
        locks.append(t.locks)
        unc.append(t.uncross)
        prev_end = t.end
    derived = sorted({t.derived_from for t in tls})
    return make_timeline(tls[0].market, np.concatenate(edges + [np.array([prev_end])]), np.concatenate(codes),
                         np.concatenate(unc), np.concatenate(locks), sum((t.events for t in tls), ()),
                         "+".join(derived), tls[0].symbol)
