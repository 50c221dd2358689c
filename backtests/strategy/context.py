"""What a strategy sees: its symbols' data, the event catalogue, and helpers for alignment.

Events are point-in-time: every row of :meth:`StrategyContext.events` carries ``known_from_utc``,
the instant from which the event is public. An unscheduled event (a crash, a halt) is known from
the instant it happened (``time_utc``, or a later ``known_from_utc`` given by the catalogue);
a scheduled one (an earnings date) is known in advance (``known_from_utc`` is NaT). The look-ahead
audit (:mod:`backtests.audit`) removes every unscheduled event not yet known at each cut, so a
strategy that acts on one before ``known_from_utc`` is caught.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np
import pandas as pd

from backtests.data.market_data import MarketData, asof, read_only_index
from backtests.errors import StrategyError


#: Columns of :meth:`StrategyContext.events` (the catalogue's, see ``Catalogue.frame``, then
#: ``known_from_utc``); an events file may add its own fields after ``shock``.
EVENT_COLUMNS = ["id", "label", "kind", "market", "date", "timing", "time_utc", "scheduled", "time_rule",
                 "time_source", "shock", "known_from_utc"]


def _utc(values: pd.Series) -> pd.DatetimeIndex:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return pd.DatetimeIndex(values).tz_convert("UTC")
    return pd.DatetimeIndex(pd.to_datetime(values, utc=True))


def event_known_from(events: pd.DataFrame) -> pd.Series:
    """UTC instant from which each event is public: NaT for scheduled events (known in advance).

    An unscheduled event is known from its ``known_from_utc`` when the catalogue gives one, else
    from its ``time_utc`` (never earlier than ``time_utc``).
    """
    n = len(events)
    nat = np.iinfo(np.int64).min
    when = _utc(events["time_utc"]).as_unit("ns").asi8.copy() if "time_utc" in events else np.full(n, nat)
    if "known_from_utc" in events:
        given = _utc(events["known_from_utc"]).as_unit("ns").asi8
        later = (given != nat) & ((given > when) | (when == nat))
        when[later] = given[later]
    sched = events["scheduled"].to_numpy() if "scheduled" in events else np.zeros(n, bool)
    when[np.array([x is True or (x == x and x is not None and bool(x)) for x in sched], dtype=bool)] = nat
    stamps = pd.DatetimeIndex(when.view("M8[ns]")).tz_localize("UTC")
    return pd.Series(stamps, index=events.index, name="known_from_utc")


def events_known_at(events: pd.DataFrame, t: pd.Timestamp) -> np.ndarray:
    """Boolean mask: the events public at instant ``t`` (scheduled ones always)."""
    known = pd.DatetimeIndex(event_known_from(events))
    return known.isna() | (known <= t)


class StrategyContext:
    """Read-only view of the data a strategy may use (the full reference: docs/strategies.md,
    "The context API").

    Read-only is enforced: :attr:`data` is :meth:`MarketData.read_only` of the data given, so
    every frame or series an accessor returns is the strategy's own (a pandas-level write changes
    only it, a write into its arrays raises), :attr:`index` is read-only, :attr:`symbols` cannot be
    assigned to. Nothing a strategy does to what it is handed reaches the engine, the benchmark or
    another strategy (docs/strategies.md, "What scare guards against").

    Parameters
    ----------
    data
        Market data (already restricted to the strategy's symbols plus FX).
    symbols
        ``{role: symbol}`` resolved from the strategy defaults and the config.
    events
        The event catalogue as a DataFrame (``Catalogue.frame()``: ``id, label, kind, market, date,
        timing, time_utc, scheduled, time_rule, time_source, shock`` and any extra fields);
        ``known_from_utc`` is added (see module docstring).
    traded
        The symbols that receive weights (``Strategy.traded_symbols``): the default columns of
        :meth:`empty_weights`. Default: every role's symbol.

    Notes
    -----
    :attr:`index` is the decision clock: the union of the bar stamps (UTC) of the role symbols,
    read-only roles included. A strategy returns target weights on this index (it may add extra
    UTC stamps, e.g. the end of an intraday halt); a decision at stamp ``t`` may only use data
    stamped ``<= t`` and fills at each asset's next bar after ``t``.
    """

    def __init__(self, data: MarketData, symbols: Mapping[str, str], events: pd.DataFrame | None = None,
                 traded: Sequence[str] | None = None) -> None:
        self.data = data.read_only()
        self.symbols: Mapping[str, str] = MappingProxyType(dict(symbols))
        self.traded = list(dict.fromkeys(self.symbols.values() if traded is None else traded))
        ev = events.copy() if events is not None else pd.DataFrame(columns=EVENT_COLUMNS[:-1])
        if "scheduled" not in ev:
            ev["scheduled"] = ev["kind"].astype(str).str.contains("earnings") if "kind" in ev else False
        ev["known_from_utc"] = event_known_from(ev)
        self._events = ev
        idx = pd.DatetimeIndex([], tz="UTC").as_unit("ns")
        for sym in dict.fromkeys(self.symbols.values()):
            idx = idx.union(data.require(sym).index)
        self._index: pd.DatetimeIndex = read_only_index(idx)

    @property
    def index(self) -> pd.DatetimeIndex:
        """The decision clock (UTC): the union of the role symbols' bar stamps (read-only)."""
        return self._index

    # ----------------------------------------------------------------- symbols
    def symbol(self, role: str) -> str:
        """Symbol playing ``role`` (a :class:`StrategyError` naming the roles for an unknown one)."""
        try:
            return self.symbols[role]
        except KeyError:
            raise StrategyError(f"no symbol for role {role!r} (roles: {', '.join(self.symbols)})") from None

    def market(self, role: str) -> str:
        """Market code (``XKRX``, ``XNYS``, ``CRYPTO``) whose calendar stamps the role's bars."""
        return self.data.market_of(self.symbol(role))

    # ------------------------------------------------------------------ series
    def bars(self, role: str) -> pd.DataFrame:
        """All columns of the role's own bars: index its UTC close stamps, ``open_time`` the UTC
        instant each bar opened, prices in the symbol's currency, extra series as the data has them."""
        return self.data.require(self.symbol(role))

    def series(self, role: str, name: str = "close", usd: bool = False) -> pd.Series:
        """One column on the role's own bars; ``usd=True`` converts a price through the FX rate known
        at each stamp (an ``open`` at the bar's ``open_time``)."""
        sym = self.symbol(role)
        return self.data.to_usd(sym, name) if usd else self.data.series(sym, name)

    def close(self, role: str, usd: bool = False) -> pd.Series:
        """``series(role, "close", usd)``."""
        return self.series(role, "close", usd)

    def open(self, role: str, usd: bool = False) -> pd.Series:
        """``series(role, "open", usd)``: known from the bar's ``open_time``, stamped at its close."""
        return self.series(role, "open", usd)

    def high(self, role: str, usd: bool = False) -> pd.Series:
        """``series(role, "high", usd)``."""
        return self.series(role, "high", usd)

    def low(self, role: str, usd: bool = False) -> pd.Series:
        """``series(role, "low", usd)``."""
        return self.series(role, "low", usd)

    def intraday(self, role: str) -> pd.DataFrame | None:
        """Finer bars of the role's symbol if the data has them (e.g. 5-minute on a crash day), else
        None: index the UTC bar ends, ``open_time`` the bar starts, prices in the symbol's currency."""
        return self.data.intraday.get(self.symbol(role))

    def known_at(self, values: pd.Series, index: pd.DatetimeIndex | None = None) -> pd.Series:
        """Value of ``values`` known at each stamp of ``index`` (default :attr:`index`): the last
        non-NaN observation stamped at or before it, never a later one (NaN before the first)."""
        return asof(values, self.index if index is None else index)

    # ------------------------------------------------------------------ events
    def events(self, kind: str | None = None, known_at: pd.Timestamp | None = None) -> pd.DataFrame:
        """Catalogue events (all, or of one ``kind``), sorted by ``time_utc`` then ``id``.

        Columns: :data:`EVENT_COLUMNS` (and an events file's extra fields before
        ``known_from_utc``). ``known_from_utc`` is NaT for scheduled events (earnings dates, public
        in advance, usable before they happen), else the UTC instant from which the event is public.
        A decision stamped before an unscheduled event's ``known_from_utc`` must not depend on it:
        pass ``known_at`` to get only the events public at that instant, or use
        :meth:`known_events` to align them on the decision clock.
        """
        ev = self._events if kind is None else self._events[self._events["kind"] == kind]
        if known_at is not None:
            ev = ev[events_known_at(ev, pd.Timestamp(known_at))]
        return ev.sort_values(["time_utc", "id"]).reset_index(drop=True)

    def known_events(self, kind: str | None = None, index: pd.DatetimeIndex | None = None) -> pd.DataFrame:
        """The latest *unscheduled* event public at each stamp of ``index`` (default :attr:`index`).

        One row per stamp with the columns of :meth:`events`, all missing (NaN, NaT, None) until the
        first event of ``kind`` becomes public: the point-in-time way to act on crashes and halts
        (a decision at a stamp sees exactly the events known then). Scheduled events are left out.
        """
        at = self.index if index is None else index
        ev = self.events(kind)
        ev = ev[ev["known_from_utc"].notna()].sort_values(["known_from_utc", "id"], kind="stable")
        pos = pd.DatetimeIndex(ev["known_from_utc"]).as_unit("ns").searchsorted(at, side="right") - 1
        rows = ev.reset_index(drop=True).reindex(np.where(pos >= 0, pos, -1))
        return rows.set_axis(at)

    def empty_weights(self, columns: list[str] | None = None) -> pd.DataFrame:
        """A zero weight frame on :attr:`index`, one column per traded symbol (or ``columns``)."""
        cols = columns if columns is not None else list(self.traded)
        return pd.DataFrame(0.0, index=self.index, columns=cols)
