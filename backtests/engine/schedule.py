"""Turn timestamped target weights into an order schedule per window (pure numpy, no vectorbt).

Rules (the heart of "no look-ahead in execution"):

1. A decision stamped ``tau`` fills at the asset's first bar stamped strictly after ``tau``; the
   target in force at a bar is the latest decision before it. Decisions made while the asset's
   market is closed or halted wait for its next bar.
2. The fill price is that bar's open when ``fill == "open"`` and the bar opened after the decision
   was made (``open_time > tau``), otherwise its close. "Made" means when the target last changed,
   so a target set at the New York close and unchanged since still fills at Seoul's next open.
3. An order is sent only when the target changes; positions drift with prices in between.
4. Each window starts flat; with ``exit_at_window_end`` every position is closed at the close of the
   asset's last bar in the window.

Sells pay the sell-side tax; whether a fill is a sell is known from the sign of the target change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtests.engine.costs import SymbolCosts

NEVER = np.iinfo(np.int64).min


@dataclass
class AssetBars:
    """One traded asset's bars in USD: stamps, open instants, open and close prices."""

    stamps: np.ndarray  # int64 ns UTC, sorted
    open_times: np.ndarray  # int64 ns UTC
    open: np.ndarray
    close: np.ndarray


@dataclass
class ScheduleArrays:
    """Views into the stacked simulation arrays for one window: shape (rows, combos, symbols),
    except ``close`` (rows, symbols) which is tiled over combos by the caller."""

    close: np.ndarray
    size: np.ndarray  # target weight where an order is sent, NaN elsewhere
    price: np.ndarray  # fill price where an order is sent, NaN elsewhere
    fees: np.ndarray  # fee fraction of each order
    at_open: np.ndarray  # bool: the order fills at the bar's open


def decision_arrays(weights: pd.DataFrame, n_combos: int, symbols: list[str],
                    start: pd.Timestamp | None = None, end: pd.Timestamp | None = None,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forward-filled targets and their change times, trimmed to what ``[start, end]`` needs.

    Parameters
    ----------
    weights
        Index: UTC decision stamps (sorted); columns MultiIndex (combo, symbol), combos 0..n-1.
    start, end
        Only decisions before ``end`` matter, and of those before ``start`` only the state they
        leave (the values and change times at the last one are kept exactly).

    Returns
    -------
    (tau, values, changed_at)
        ``tau`` (n,) int64 ns; ``values`` (n, combos, symbols) targets with NaN carried forward and
        leading NaN = 0; ``changed_at`` (n, combos, symbols) int64 ns stamp when each value was set.
    """
    idx = pd.DatetimeIndex(weights.index)
    if not idx.is_monotonic_increasing or idx.has_duplicates:
        raise ValueError("strategy weights must have a sorted index without duplicate stamps")
    tau = idx.as_unit("ns").asi8
    cols = pd.MultiIndex.from_product([range(n_combos), symbols])
    vals = weights.reindex(columns=cols).to_numpy(dtype="float64", na_value=np.nan)
    hi = len(tau) if end is None else int(np.searchsorted(tau, end.value, side="left"))
    vals = vals[:hi]
    tau = tau[:hi]
    # carry NaN forward (column-wise), leading NaN = flat
    valid = ~np.isnan(vals)
    pos = np.where(valid, np.arange(len(tau))[:, None], -1)
    np.maximum.accumulate(pos, axis=0, out=pos)
    vals = np.where(pos >= 0, vals[np.clip(pos, 0, None), np.arange(vals.shape[1])], 0.0)
    if not np.isfinite(vals).all():
        raise ValueError("strategy weights contain inf")
    changed = np.empty(vals.shape, dtype=bool)
    if len(tau):
        changed[0] = vals[0] != 0.0
        changed[1:] = vals[1:] != vals[:-1]
    changed_at = np.where(changed, tau[:, None], NEVER)
    if len(tau):
        np.maximum.accumulate(changed_at, axis=0, out=changed_at)
    lo = 0 if start is None else max(0, int(np.searchsorted(tau, start.value, side="left")) - 1)
    shape = (len(tau) - lo, n_combos, len(symbols))
    return tau[lo:], vals[lo:].reshape(shape), changed_at[lo:].reshape(shape)


def window_schedule(
    rows: np.ndarray,
    assets: list[AssetBars],
    tau: np.ndarray,
    values: np.ndarray,
    changed_at: np.ndarray,
    costs: list[SymbolCosts],
    fill: str,
    exit_at_end: bool,
    out: ScheduleArrays,
) -> np.ndarray:
    """Write one window's order schedule into ``out`` (see module docstring for the rules).

    Parameters
    ----------
    rows
        (rows,) int64 ns sim stamps of the window (union of the assets' bar stamps inside it).
    assets
        Per symbol, its bars restricted to the window.
    tau, values, changed_at
        From :func:`decision_arrays`.
    out
        Arrays to fill (already NaN/0-initialised by the caller).

    Returns
    -------
    numpy.ndarray
        (combos,) number of positions opened (flat to non-zero), over all symbols.
    """
    n_rows, n_combos = len(rows), values.shape[1]
    entries = np.zeros(n_combos, dtype=np.int64)
    for j, (bars, cost) in enumerate(zip(assets, costs)):
        if len(bars.stamps) == 0:
            continue
        at = np.searchsorted(rows, bars.stamps)
        col = np.full(n_rows, np.nan)
        col[at] = bars.close
        out.close[:, j] = pd.Series(col).ffill().bfill().to_numpy()
        # latest decision strictly before each bar
        pos = np.searchsorted(tau, bars.stamps, side="left") - 1
        has = pos >= 0
        safe = np.clip(pos, 0, None)
        tgt = np.where(has[:, None], values[safe, :, j], 0.0)  # (k, combos)
        made = np.where(has[:, None], changed_at[safe, :, j], NEVER)
        if exit_at_end:
            tgt[-1, :] = 0.0
        prev = np.empty_like(tgt)
        prev[0] = 0.0
        prev[1:] = tgt[:-1]
        order = tgt != prev
        use_open = (fill == "open") & (bars.open_times[:, None] > made) & np.isfinite(bars.open)[:, None]
        if exit_at_end:
            use_open[-1, :] = False
        px = np.where(use_open, bars.open[:, None], bars.close[:, None])
        out.size[at, :, j] = np.where(order, tgt, np.nan)
        out.price[at, :, j] = np.where(order, px, np.nan)
        out.fees[at, :, j] = cost.commission + np.where(tgt < prev, cost.sell_tax, 0.0)
        out.at_open[at, :, j] = use_open & order
        entries += ((prev == 0.0) & (tgt != 0.0)).sum(axis=0)
    return entries
