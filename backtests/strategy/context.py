"""What a strategy sees: its symbols' data, the event catalogue, and helpers for alignment."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from backtests.data.market_data import MarketData, asof
from backtests.errors import StrategyError


class StrategyContext:
    """Read-only view of the data a strategy may use.

    Parameters
    ----------
    data
        Market data (already restricted to the strategy's symbols plus FX).
    symbols
        ``{role: symbol}`` resolved from the strategy defaults and the config.
    events
        The event catalogue as a DataFrame (``id, label, kind, market, date, timing, time_utc``).

    Notes
    -----
    :attr:`index` is the decision clock: the union of the bar stamps (UTC) of the role symbols.
    A strategy returns target weights on this index (it may add extra UTC stamps, e.g. the end of an
    intraday halt); a decision at stamp ``t`` may only use data stamped ``<= t`` and fills at each
    asset's next bar after ``t``.
    """

    def __init__(self, data: MarketData, symbols: Mapping[str, str], events: pd.DataFrame | None = None) -> None:
        self.data = data
        self.symbols = dict(symbols)
        self._events = events if events is not None else pd.DataFrame(
            columns=["id", "label", "kind", "market", "date", "timing", "time_utc"])
        idx = pd.DatetimeIndex([], tz="UTC").as_unit("ns")
        for sym in dict.fromkeys(self.symbols.values()):
            idx = idx.union(data.require(sym).index)
        self.index: pd.DatetimeIndex = idx

    # ----------------------------------------------------------------- symbols
    def symbol(self, role: str) -> str:
        """Symbol playing ``role``."""
        try:
            return self.symbols[role]
        except KeyError:
            raise StrategyError(f"no symbol for role {role!r} (roles: {', '.join(self.symbols)})") from None

    def market(self, role: str) -> str:
        """Market code (XKRX, XNYS, CRYPTO) of the role's symbol."""
        return self.data.market_of(self.symbol(role))

    # ------------------------------------------------------------------ series
    def bars(self, role: str) -> pd.DataFrame:
        """All columns of the role's own bars (index: its own UTC stamps)."""
        return self.data.require(self.symbol(role))

    def series(self, role: str, name: str = "close", usd: bool = False) -> pd.Series:
        """One column on the role's own bars; ``usd=True`` converts prices through FX as of each stamp."""
        sym = self.symbol(role)
        return self.data.to_usd(sym, name) if usd else self.data.series(sym, name)

    def close(self, role: str, usd: bool = False) -> pd.Series:
        return self.series(role, "close", usd)

    def open(self, role: str, usd: bool = False) -> pd.Series:
        return self.series(role, "open", usd)

    def high(self, role: str, usd: bool = False) -> pd.Series:
        return self.series(role, "high", usd)

    def low(self, role: str, usd: bool = False) -> pd.Series:
        return self.series(role, "low", usd)

    def intraday(self, role: str) -> pd.DataFrame | None:
        """Finer bars of the role's symbol if the data has them (e.g. 5-minute on a crash day)."""
        return self.data.intraday.get(self.symbol(role))

    def known_at(self, values: pd.Series, index: pd.DatetimeIndex | None = None) -> pd.Series:
        """Value of ``values`` known at each stamp of ``index`` (default :attr:`index`): the last
        observation at or before it, never a later one."""
        return asof(values, self.index if index is None else index)

    # ------------------------------------------------------------------ events
    def events(self, kind: str | None = None) -> pd.DataFrame:
        """Catalogue events (all, or of one ``kind``), sorted by ``time_utc``.

        Scheduled events (earnings dates) are known in advance; unscheduled ones (crashes, halts)
        must only be acted on from their ``time_utc`` on.
        """
        ev = self._events if kind is None else self._events[self._events["kind"] == kind]
        return ev.sort_values(["time_utc", "id"]).reset_index(drop=True)

    def empty_weights(self, columns: list[str] | None = None) -> pd.DataFrame:
        """A zero weight frame on :attr:`index` with the role symbols (or ``columns``) as columns."""
        cols = columns if columns is not None else list(dict.fromkeys(self.symbols.values()))
        return pd.DataFrame(0.0, index=self.index, columns=cols)
