"""Compare the decisions of a truncated run with the full run, and name the channel responsible.

Every decision up to the cut is compared, for every combination and symbol: the ones that fired
(entries, exits) and the ones that did not (a zero that would have become a one is a difference
too). NaN ("no new decision") equals NaN; numbers are equal within ``1e-9`` relative and ``1e-12``
absolute (a look-ahead that moves a weight by less is not one that matters).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtests.audit.truncate import Channel, Timeline, truncate
from backtests.data.market_data import MarketData
from backtests.strategy.base import Strategy
from backtests.strategy.context import StrategyContext

RTOL, ATOL = 1e-9, 1e-12


def decisions(strategy: Strategy, data: MarketData, grid: pd.DataFrame, events: pd.DataFrame | Timeline | None,
              label: str) -> pd.DataFrame:
    """The strategy's target weights for the whole grid (one call), checked like a run's."""
    from backtests.strategy.validate import check_target_weights, definition_line, guard  # the run's own checks

    if isinstance(events, Timeline):
        events = events.events
    ctx = StrategyContext(data, strategy.symbols, events, traded=strategy.traded_symbols)
    vectorized = type(strategy).target_weights is not Strategy.target_weights
    made_by = type(strategy).target_weights if vectorized else type(strategy).weights
    # the plug-in's own bug: one line pointing at its file and line, exactly as in a run
    out = guard(strategy, label, "target_weights()" if vectorized else "weights()", strategy.target_weights,
                ctx, grid, at=made_by)
    # neither windows nor the clock span are checked here: a cut truncates one channel at a time
    weights, _ = check_target_weights(out, label, list(strategy.traded_symbols), len(grid),
                                      where=definition_line(made_by))
    return weights.astype("float64")


@dataclass(frozen=True)
class Difference:
    """The first decision (earliest stamp, then column order) that differs."""

    stamp: pd.Timestamp
    combo: object
    symbol: str
    full: float | None
    other: float | None
    count: int  # how many (stamp, combo, symbol) decisions differ up to the cut


def _num(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def first_difference(full: pd.DataFrame, other: pd.DataFrame, t: pd.Timestamp) -> Difference | None:
    """The first decision stamped ``<= t`` on which ``full`` and ``other`` disagree, or None."""
    a = full.iloc[: int(np.searchsorted(full.index.asi8, t.value, side="right"))]
    b = other.iloc[: int(np.searchsorted(other.index.asi8, t.value, side="right"))]
    cols = full.columns
    if a.index.equals(b.index) and b.columns.equals(cols):
        idx, A, B = a.index, a.to_numpy(dtype="float64"), b.to_numpy(dtype="float64")
    else:
        idx = a.index.union(b.index)
        A = a.reindex(index=idx, columns=cols).to_numpy(dtype="float64", na_value=np.nan)
        B = b.reindex(index=idx, columns=cols).to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isclose(A, B, rtol=RTOL, atol=ATOL, equal_nan=True)
    extra = [c for c in other.columns if c not in set(cols)]
    if not bad.any():
        if extra and b[extra].notna().to_numpy().any():
            c = next(x for x in extra if b[x].notna().any())
            s = b[c].first_valid_index()
            return Difference(s, c[0], c[1], None, _num(float(other.at[s, c])), 1)
        return None
    r, c = np.argwhere(bad)[0]
    combo, symbol = cols[c]
    return Difference(idx[r], combo, str(symbol), _num(A[r, c]), _num(B[r, c]), int(bad.sum()))


def attribute(strategy: Strategy, data: MarketData, grid: pd.DataFrame, events: Timeline | None,
              label: str, full: pd.DataFrame, t: pd.Timestamp, chans: list[Channel]) -> tuple[list[str], str, int]:
    """Which channels make the decisions up to ``t`` differ.

    First each channel is truncated alone: those that reproduce a difference are responsible. When
    none does (the cheat needs several channels together), each channel is left whole in turn with
    all the others truncated: those whose whole version removes the difference are responsible.

    Returns
    -------
    (channel ids, method, strategy calls made)
        ``method`` is ``"alone"``, ``"left whole"`` or ``"jointly"`` (no single channel found).
    """
    def differs(**which: list[str]) -> bool | None:
        """True/False: the decisions up to ``t`` differ from the full run; None: the strategy raised."""
        d, ev = truncate(data, events, t, **which)
        try:
            w = decisions(strategy, d, grid, ev, label)
        except Exception:  # a strategy may fail on mismatched channels: not evidence either way
            return None
        return first_difference(full, w, t) is not None

    alone = [ch.id for ch in chans if differs(only=[ch.id])]
    if alone:
        return alone, "alone", len(chans)
    whole = [ch.id for ch in chans if differs(keep=[ch.id]) is False]
    calls = 2 * len(chans)
    return (whole, "left whole", calls) if whole else ([c.id for c in chans], "jointly", calls)
