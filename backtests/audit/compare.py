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
from backtests.strategy.calls import decide

RTOL, ATOL = 1e-9, 1e-12


def decisions(strategy: Strategy, data: MarketData, grid: pd.DataFrame, events: pd.DataFrame | Timeline | None,
              label: str) -> pd.DataFrame:
    """The strategy's target weights for the whole grid (one call), called and checked as in a run
    (:func:`~backtests.strategy.calls.decide`: a plug-in's bug is one line at its file and line).

    Neither windows nor the clock span are checked here: a cut truncates one channel at a time.
    """
    if isinstance(events, Timeline):
        events = events.events
    weights, _ = decide(strategy, label, data, events, grid, check_clock=False)
    return weights.astype("float64")  # copy-on-write: no copy when already float64


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


#: decisions compared per block: the comparison's temporaries stay this size (x 8 bytes, about a
#: megabyte, in cache) whatever the grid, so a decision costs the same at 1 or 100,000 combinations
BLOCK_CELLS = 1 << 17


def compare_cells(full: pd.DataFrame, other: pd.DataFrame, t: pd.Timestamp) -> int:
    """How many decisions :func:`first_difference` compares at cut ``t`` (stamps up to ``t`` of
    either run, times the full run's columns): what the audit's budget charges a comparison by."""
    rows = _upto(full.index, t)
    if not other.index.equals(full.index):
        rows = max(rows, _upto(other.index, t))
    return rows * max(1, full.shape[1])


def _upto(index: pd.Index, t: pd.Timestamp) -> int:
    """How many stamps of a sorted UTC index are ``<= t`` (any time unit)."""
    return int(index.searchsorted(t, side="right"))


def _first_bad(A: np.ndarray, B: np.ndarray) -> tuple[int, int, int]:
    """``(row, column, count)`` of the first cell (earliest row, then column) where ``A`` and ``B``
    differ (:data:`RTOL`, :data:`ATOL`, NaN equal to NaN), or ``(-1, -1, 0)``; compared in blocks
    of columns of at most :data:`BLOCK_CELLS` cells."""
    rows, cols = A.shape
    step = max(1, BLOCK_CELLS // max(1, rows))
    first, count = (-1, -1), 0
    for lo in range(0, cols, step):
        hi = min(cols, lo + step)
        bad = ~np.isclose(A[:, lo:hi], B[:, lo:hi], rtol=RTOL, atol=ATOL, equal_nan=True)
        n = int(np.count_nonzero(bad))
        if not n:
            continue
        count += n
        hit = bad.any(axis=1)
        r = int(np.argmax(hit))
        if first[0] < 0 or r < first[0]:
            first = (r, lo + int(np.argmax(bad[r])))
    return first[0], first[1], count


def first_difference(full: pd.DataFrame, other: pd.DataFrame, t: pd.Timestamp) -> Difference | None:
    """The first decision stamped ``<= t`` on which ``full`` and ``other`` disagree, or None.

    Linear in the number of decisions: columns of ``other`` are matched to ``full``'s by one hash
    join (a column ``other`` lacks compares as "no decision"), and the cells are compared in
    blocks (:func:`_first_bad`). A column only ``other`` has that holds a decision up to ``t`` is a
    difference too.
    """
    a = full.iloc[: _upto(full.index, t)]
    b = other.iloc[: _upto(other.index, t)]
    cols = full.columns
    same_cols = b.columns.equals(cols)
    if a.index.equals(b.index) and same_cols:
        idx, A, B = a.index, a.to_numpy(dtype="float64"), b.to_numpy(dtype="float64")
    else:
        idx = a.index.union(b.index)
        A = a.reindex(index=idx).to_numpy(dtype="float64", na_value=np.nan)
        B = b.reindex(index=idx, columns=cols).to_numpy(dtype="float64", na_value=np.nan)
    r, c, count = _first_bad(A, B)
    if count:
        combo, symbol = cols[c]
        return Difference(idx[r], combo, str(symbol), _num(A[r, c]), _num(B[r, c]), count)
    if same_cols:
        return None
    extra = np.flatnonzero(~other.columns.isin(cols))  # one hash table over ``cols``
    if not extra.size:
        return None
    seen = b.iloc[:, extra].notna().to_numpy()
    live = np.flatnonzero(seen.any(axis=0))
    if not live.size:
        return None
    j = int(live[0])  # the first such column (in other's order), at its first decision
    row = int(np.argmax(seen[:, j]))
    s, col = b.index[row], other.columns[extra[j]]
    return Difference(s, col[0], col[1], None, _num(float(b.iat[row, extra[j]])), 1)


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
