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


def channels(data: MarketData, roles: Mapping[str, str], events: pd.DataFrame | None) -> list[Channel]:
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


def prepare_events(events: pd.DataFrame | None) -> pd.DataFrame | None:
    """The catalogue with ``time_utc`` as UTC datetimes and ``known_from_utc`` filled in (done once
    per audit, so that truncating it at each cut is cheap)."""
    if events is None or not len(events):
        return events
    out = events.reset_index(drop=True).copy()
    out["time_utc"] = pd.DatetimeIndex(pd.to_datetime(out["time_utc"], utc=True)).as_unit("ns")
    if "scheduled" not in out:
        out["scheduled"] = out["kind"].astype(str).str.contains("earnings")
    out["known_from_utc"] = event_known_from(out)
    return out


def truncate_events(events: pd.DataFrame | None, t: pd.Timestamp) -> pd.DataFrame | None:
    """The catalogue as known at ``t`` (see module docstring)."""
    if events is None or not len(events):
        return events
    known = pd.DatetimeIndex(event_known_from(events))
    keep = np.asarray(known.isna() | (known <= t))
    out = events[keep]
    ahead = np.asarray(known[keep].isna() & (pd.DatetimeIndex(pd.to_datetime(out["time_utc"], utc=True)) > t))
    outcome = [c for c in out.columns if c not in SCHEDULE_FIELDS]
    if ahead.any() and outcome:
        out = out.copy()
        for c in outcome:
            col = out[c].to_numpy(dtype=object, copy=True)
            col[ahead] = None
            out[c] = col
    return out


def _cut(frame: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
    n = int(np.searchsorted(frame.index.asi8, t.value, side="right"))
    return frame.iloc[:n]


def truncate(data: MarketData, events: pd.DataFrame | None, t: pd.Timestamp,
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
    ev = truncate_events(events, t) if hit("events") else events
    return MarketData(bars=bars, info=dict(data.info), frequency=data.frequency, synthetic=data.synthetic,
                      intraday=intraday, fx=dict(data.fx), warnings=list(data.warnings)), ev
