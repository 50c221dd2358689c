"""The generator's output: plain arrays per asset, the exchange timelines, the parameters, the label.

A :class:`ScenarioBatch` holds a chunk of scenarios (rows) of one :class:`~.family.ScenarioSpec`.
Bars of an asset share one grid of stamps across scenarios (UTC int64 ns bar ends); where a
scenario printed nothing (a halt, an auction, the closing call) its values are NaN. Everything
carries ``synthetic = "scenario"``: later stages must not pool it with market data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from backtests.exchange.states import NAT, Timeline, concat
from backtests.notices import Notice
from backtests.scenarios.clock import MarketGrid
from backtests.scenarios.family import SCENARIO, ScenarioSpec
from backtests.scenarios.params import ParamTable


@dataclass(frozen=True)
class AssetBars:
    """One asset's bars in every scenario of a batch.

    Attributes
    ----------
    symbol, market, kind, currency
        As in the family.
    starts, ends
        ``(T,)`` bar starts and ends (stamps), UTC int64 ns.
    open, high, low, close
        ``(n, T)`` prices in the asset's currency (NaN: no print).
    volume
        ``(n, T)`` units traded (NaN: no print; an auction bar carries what was collected before it).
    auction
        ``(n, T)`` bool: the bar's open is a call auction's print (open, reopening, VI end, or the
        closing print, which is then the bar's only price).
    extra
        Additional series per bar (crypto: ``long_liquidations_usd``, ``short_liquidations_usd``).
    reference
        The reference price (previous close before the first session).
    reference_time
        When the reference close printed (UTC int64 ns).
    """

    symbol: str
    market: str
    kind: str
    currency: str
    starts: np.ndarray
    ends: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    auction: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    reference: float = float("nan")
    reference_time: int = NAT

    def frame(self, j: int) -> pd.DataFrame:
        """Scenario row ``j`` as a bar table: printed bars only, indexed by their end (UTC)."""
        ok = ~np.isnan(self.close[j])
        cols = {"open": self.open[j, ok], "high": self.high[j, ok], "low": self.low[j, ok],
                "close": self.close[j, ok], "volume": self.volume[j, ok],
                "auction": self.auction[j, ok].astype(np.float64)}
        for k, v in self.extra.items():
            cols[k] = v[j, ok]
        return pd.DataFrame(cols, index=pd.DatetimeIndex(pd.to_datetime(self.ends[ok], utc=True), name="time"))


@dataclass(frozen=True)
class ScenarioBatch:
    """A chunk of generated scenarios.

    Attributes
    ----------
    spec
        What generated them (family, parameters, replicates, seed, streams).
    index
        ``(n,)`` global scenario indices (row ``j`` is scenario ``index[j]``).
    params
        The parameters of each row.
    grids
        ``{market: MarketGrid}``: sessions and 1-minute clock of each market.
    bars
        ``{symbol: AssetBars}`` at the family's bar length.
    day_timelines
        ``{market: ((Timeline per row) per session)}``: the market-wide exchange state derived
        from each row's index path (rows where no rule could fire share the scheduled day).
    symbol_timelines
        ``{symbol: ((Timeline per row) per session)}``: a stock's state overlaid on its market's,
        when the family derives single-stock rules.
    notices
        Named warnings (counts are scenarios).
    synthetic
        Always ``"scenario"``.
    """

    spec: ScenarioSpec
    index: np.ndarray
    params: ParamTable
    grids: dict[str, MarketGrid]
    bars: dict[str, AssetBars]
    day_timelines: dict[str, tuple[tuple[Timeline, ...], ...]]
    symbol_timelines: dict[str, tuple[tuple[Timeline, ...], ...]] = field(default_factory=dict)
    notices: tuple[Notice, ...] = ()
    synthetic: str = SCENARIO

    def __len__(self) -> int:
        return len(self.index)

    @property
    def label(self) -> str:
        """``SCENARIO <family> seed=<seed> spec=<digest>``: shown with anything derived from the batch."""
        return f"SCENARIO {self.spec.family.name} seed={self.spec.seed} spec={self.spec.digest()}"

    def row(self, scenario: int) -> int:
        """Row of global scenario index ``scenario`` in this batch."""
        hits = np.flatnonzero(self.index == scenario)
        if not hits.size:
            raise KeyError(f"scenario {scenario} is not in this batch ({self.index[0]}..{self.index[-1]})")
        return int(hits[0])

    def timeline(self, market: str, j: int, symbol: str | None = None) -> Timeline:
        """Row ``j``'s exchange state over all its sessions of ``market`` (one symbol's, if given
        and the family derives single-stock rules)."""
        days = self.symbol_timelines.get(symbol) if symbol is not None else None
        days = days if days is not None else self.day_timelines[market]
        tls = [d[j] for d in days]
        return concat(tls) if len(tls) > 1 else tls[0]

    def events(self, j: int) -> pd.DataFrame:
        """Rule firings of row ``j`` (every market, and symbols when derived), in time order."""
        rows = []
        sources = [(m, None, d) for m, d in self.day_timelines.items()]
        sources += [(self.bars[s].market, s, d) for s, d in self.symbol_timelines.items()]
        seen = set()
        for market, symbol, days in sources:
            for day in days:
                for ev in day[j].events:
                    key = (ev.code, ev.instant, ev.symbol, market)
                    if key in seen:
                        continue
                    seen.add(key)
                    rows.append({"market": market, "symbol": ev.symbol, "code": ev.code, "level": ev.level,
                                 "time": pd.Timestamp(ev.instant, tz="UTC"), "value": ev.value,
                                 "threshold": ev.threshold, "rule": ev.rule})
        cols = ["market", "symbol", "code", "level", "time", "value", "threshold", "rule"]
        return pd.DataFrame(rows, columns=cols).sort_values(["time", "code"], kind="stable").reset_index(drop=True)

    @cached_property
    def halts(self) -> pd.DataFrame:
        """First market-wide halt per row and market: ``(row, scenario, market, level, time_ns)``;
        rows without a halt are absent."""
        out = []
        for market, days in self.day_timelines.items():
            for j in range(len(self)):
                for day in days:
                    evs = [e for e in day[j].events if e.level is not None and not e.code.endswith("excluded")]
                    if evs:
                        e = min(evs, key=lambda ev: ev.instant)
                        out.append({"row": j, "scenario": int(self.index[j]), "market": market, "level": e.level,
                                    "time_ns": e.instant})
                        break
        return pd.DataFrame(out, columns=["row", "scenario", "market", "level", "time_ns"])


__all__ = ["AssetBars", "ScenarioBatch"]
