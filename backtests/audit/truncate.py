"""The world as known at a cut: market data and events truncated at an instant, one channel at a time.

A *channel* is one stream of information a strategy can read: the bars of one symbol (prices and
any extra series such as liquidations), its intraday bars, an FX series, or the event catalogue.
Truncating a channel at ``t`` keeps what was known at ``t``:

* bars, intraday bars, FX: the rows stamped ``<= t`` (a bar is known at its close stamp);
* events: scheduled events stay (their date and time are public in advance) but only with their
  schedule fields (id, label, kind, market, date, timing, time); every other field of a scheduled
  event that has not happened by ``t`` is blanked (an outcome such as a reaction size is not known
  before); unscheduled events not public at ``t`` (``known_from_utc > t``) are removed.

Truncating all channels at once is "the data known at ``t``"; truncating one alone tells which
channel a difference comes from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtests.data.market_data import MarketData
from backtests.strategy.context import event_known_from

#: fields of a scheduled event that are public before it happens
SCHEDULE_FIELDS = ("id", "label", "kind", "market", "date", "timing", "time_utc", "time_local", "scheduled",
                   "known_from_utc", "description")


@dataclass(frozen=True)
class Channel:
    """One stream of information.

    Attributes
    ----------
    id
        ``bars:<symbol>``, ``intraday:<symbol>``, ``fx:<symbol>`` or ``events``.
    label
        For a person: ``prices of role 'index' (^KS11)``, ``intraday bars of role ...``,
        ``FX KRW=X (KRW per USD)``, ``events (unscheduled, before they were public)``.
    """

    id: str
    label: str


def channels(data: MarketData, roles: Mapping[str, str], events: pd.DataFrame | Timeline | None) -> list[Channel]:
    """Every channel of ``data`` (and the catalogue) a strategy with ``roles`` ({role: symbol}) can read."""
    by_symbol: dict[str, list[str]] = {}
    for role, sym in roles.items():
        by_symbol.setdefault(sym, []).append(role)
    fx = {sym: cur for cur, sym in data.fx.items()}

    def who(sym: str) -> str:
        names = by_symbol.get(sym)
        if not names:
            return f"{sym} (not a role of the strategy)"
        return f"role {', '.join(repr(r) for r in names)} ({sym})"

    out: list[Channel] = []
    for sym in data.bars:
        if sym in fx and sym not in by_symbol:
            out.append(Channel(f"fx:{sym}", f"FX {sym} ({fx[sym]} per USD)"))
        else:
            out.append(Channel(f"bars:{sym}", f"prices of {who(sym)}"))
    for sym in data.intraday:
        out.append(Channel(f"intraday:{sym}", f"intraday bars of {who(sym)}"))
    if events is not None and len(events):
        out.append(Channel("events", "events (catalogue rows or fields not yet public)"))
    return out


class Timeline:
    """The catalogue prepared once per audit so that its state at any cut is cheap to get.

    ``at(t)`` is the catalogue as known at ``t`` (see module docstring); cuts that see the same
    events share one frame.
    """

    def __init__(self, events: pd.DataFrame) -> None:
        ev = events.reset_index(drop=True).copy()
        ev["time_utc"] = pd.DatetimeIndex(pd.to_datetime(ev["time_utc"], utc=True)).as_unit("ns")
        if "scheduled" not in ev:
            ev["scheduled"] = ev["kind"].astype(str).str.contains("earnings")
        ev["known_from_utc"] = event_known_from(ev)
        self.events = ev
        known = pd.DatetimeIndex(ev["known_from_utc"])
        self._known = known.asi8
        self._scheduled = known.isna()
        self._when = pd.DatetimeIndex(ev["time_utc"]).asi8
        self._outcome = [c for c in ev.columns if c not in SCHEDULE_FIELDS]
        self._memo: dict[bytes, pd.DataFrame] = {}

    def __len__(self) -> int:
        return len(self.events)

    def at(self, t: pd.Timestamp) -> pd.DataFrame:
        v = pd.Timestamp(t).value
        keep = self._scheduled | (self._known <= v)
        ahead = self._scheduled & (self._when > v)
        memo = keep.tobytes() + ahead.tobytes()
        if memo not in self._memo:
            out = self.events[keep]
            blank = ahead[keep]
            if blank.any() and self._outcome:
                out = out.copy()
                for c in self._outcome:
                    col = out[c].to_numpy(dtype=object, copy=True)
                    col[blank] = None
                    out[c] = col
            self._memo[memo] = out
        return self._memo[memo]


def prepare_events(events: pd.DataFrame | Timeline | None) -> Timeline | None:
    """A :class:`Timeline` of the catalogue (None when there are no events)."""
    if events is None or isinstance(events, Timeline):
        return events
    return Timeline(events) if len(events) else None


def truncate_events(events: pd.DataFrame | Timeline | None, t: pd.Timestamp) -> pd.DataFrame | None:
    """The catalogue as known at ``t`` (see module docstring)."""
    line = prepare_events(events)
    return None if line is None else line.at(t)


def _cut(frame: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
    n = int(np.searchsorted(frame.index.asi8, t.value, side="right"))
    return frame.iloc[:n]


def truncate(data: MarketData, events: pd.DataFrame | Timeline | None, t: pd.Timestamp,
             only: Iterable[str] | None = None, keep: Iterable[str] = ()) -> tuple[MarketData, pd.DataFrame | None]:
    """``(data, events)`` with channels truncated at ``t``.

    Parameters
    ----------
    data, events
        The full world.
    t
        Cut instant (UTC): rows stamped ``<= t`` are known.
    only
        Channel ids to truncate (default: all).
    keep
        Channel ids to leave whole (applied after ``only``).
    """
    t = pd.Timestamp(t)
    chosen = None if only is None else set(only)
    whole = set(keep)

    def hit(*ids: str) -> bool:
        return (chosen is None or bool(chosen.intersection(ids))) and not whole.intersection(ids)

    fx_syms = set(data.fx.values())
    bars = {}
    for sym, frame in data.bars.items():
        # an FX series is named fx:<sym>, or bars:<sym> when it is also one of the strategy's roles
        ids = (f"bars:{sym}", f"fx:{sym}") if sym in fx_syms else (f"bars:{sym}",)
        bars[sym] = _cut(frame, t) if hit(*ids) else frame
    intraday = {sym: _cut(f, t) if hit(f"intraday:{sym}") else f for sym, f in data.intraday.items()}
    line = prepare_events(events)
    ev = None if line is None else line.at(t) if hit("events") else line.events
    return _derived(data, bars, intraday), ev


def _derived(data: MarketData, bars: dict[str, pd.DataFrame], intraday: dict[str, pd.DataFrame]) -> MarketData:
    """A MarketData of row prefixes of ``data``'s validated frames, without validating them again
    (a prefix of valid bars is valid; validation would cost more than many strategies)."""
    out = object.__new__(MarketData)
    out.__dict__.update(bars=bars, info=dict(data.info), frequency=data.frequency, synthetic=data.synthetic,
                        intraday=intraday, fx=dict(data.fx), warnings=list(data.warnings))
    return out
