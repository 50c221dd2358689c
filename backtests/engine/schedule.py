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


@dataclass
class AssetBars:
    """One traded asset's bars in USD: stamps, open instants, open and close prices."""

    stamps: np.ndarray  # int64 ns UTC, sorted
    open_times: np.ndarray  # int64 ns UTC
    open: np.ndarray
    close: np.ndarray


@dataclass
class WindowSchedule:
    """Order schedule of one window for all combos and symbols.

    Arrays are (rows, combos, symbols) unless stated; ``rows`` are the window's sim stamps.
    """

    stamps: np.ndarray  # (rows,) int64 ns
    close: np.ndarray  # (rows, symbols) valuation price, filled forward/backward within the window
    size: np.ndarray  # (rows, combos, symbols) target weight where an order is sent, NaN elsewhere
    price: np.ndarray  # (rows, combos, symbols) fill price where an order is sent, NaN elsewhere
    fees: np.ndarray  # (rows, combos, symbols) fee fraction of each order
    target: np.ndarray  # (rows, combos, symbols) target in force after each row's fills
    entries: np.ndarray  # (combos,) number of position openings (flat -> non-zero), all symbols
    fill_time: np.ndarray  # (rows, combos, symbols) int64 ns instant of each fill (open or close)


def decision_arrays(weights: pd.DataFrame, n_combos: int, symbols: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forward-filled targets and their change times.

    Parameters
    ----------
    weights
        Index: UTC decision stamps (sorted); columns MultiIndex (combo, symbol), combos 0..n-1.

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
    vals = weights.reindex(columns=cols).to_numpy(dtype="float64")
    vals = pd.DataFrame(vals).ffill().fillna(0.0).to_numpy().reshape(len(tau), n_combos, len(symbols))
    if not np.isfinite(vals).all():
        raise ValueError("strategy weights contain inf")
    changed = np.empty_like(vals, dtype=bool)
    if len(tau):
        changed[0] = vals[0] != 0.0
        changed[1:] = vals[1:] != vals[:-1]
    stamp_when = np.where(changed, tau[:, None, None], np.iinfo(np.int64).min)
    changed_at = np.maximum.accumulate(stamp_when, axis=0) if len(tau) else stamp_when
    return tau, vals, changed_at


def window_schedule(
    rows: np.ndarray,
    assets: list[AssetBars],
    tau: np.ndarray,
    values: np.ndarray,
    changed_at: np.ndarray,
    costs: list[SymbolCosts],
    fill: str,
    exit_at_end: bool,
) -> WindowSchedule:
    """Build the order schedule of one window (see module docstring for the rules).

    Parameters
    ----------
    rows
        (rows,) int64 ns sim stamps of the window (union of the assets' bar stamps inside it).
    assets
        Per symbol, its bars restricted to the window.
    tau, values, changed_at
        From :func:`decision_arrays`.
    """
    n_rows, n_combos, n_syms = len(rows), values.shape[1], len(assets)
    close = np.full((n_rows, n_syms), np.nan)
    size = np.full((n_rows, n_combos, n_syms), np.nan)
    price = np.full((n_rows, n_combos, n_syms), np.nan)
    fees = np.zeros((n_rows, n_combos, n_syms))
    target = np.zeros((n_rows, n_combos, n_syms))
    entries = np.zeros(n_combos, dtype=np.int64)
    fill_time = np.zeros((n_rows, n_combos, n_syms), dtype=np.int64)
    for j, (bars, cost) in enumerate(zip(assets, costs)):
        if len(bars.stamps) == 0:
            continue
        at = np.searchsorted(rows, bars.stamps)
        col = pd.Series(np.nan, index=range(n_rows))
        col.iloc[at] = bars.close
        close[:, j] = col.ffill().bfill().to_numpy()
        # latest decision strictly before each bar
        pos = np.searchsorted(tau, bars.stamps, side="left") - 1
        has = pos >= 0
        tgt = np.where(has[:, None], values[np.clip(pos, 0, None), :, j], 0.0)  # (k, combos)
        made = np.where(has[:, None], changed_at[np.clip(pos, 0, None), :, j], np.iinfo(np.int64).min)
        if exit_at_end:
            tgt[-1, :] = 0.0
        prev = np.vstack([np.zeros((1, n_combos)), tgt[:-1]])
        order = tgt != prev
        use_open = (fill == "open") & (bars.open_times[:, None] > made) & np.isfinite(bars.open)[:, None]
        if exit_at_end:
            use_open[-1, :] = False
        px = np.where(use_open, bars.open[:, None], bars.close[:, None])
        sell = tgt < prev
        size[at, :, j] = np.where(order, tgt, np.nan)
        price[at, :, j] = np.where(order, px, np.nan)
        fill_time[at, :, j] = np.where(use_open, bars.open_times[:, None], bars.stamps[:, None])
        fees[at, :, j] = cost.commission + np.where(sell, cost.sell_tax, 0.0)
        held = pd.DataFrame(np.full((n_rows, n_combos), np.nan))
        held.iloc[at] = tgt
        target[:, :, j] = held.ffill().fillna(0.0).to_numpy()
        entries += ((prev == 0.0) & (tgt != 0.0)).sum(axis=0)
    return WindowSchedule(stamps=rows, close=close, size=size, price=price, fees=fees,
                          target=target, entries=entries, fill_time=fill_time)
