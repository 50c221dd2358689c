"""The periods in which a strategy held a position, and its pooled returns over them alone.

An event strategy is flat most of the time: its calendar-time pooled series averages each open
episode with equal capital, flat ones included, so a full position held through a -10% day shows
up diluted and its VaR, drawdown and Sortino describe mostly idle capital. The risk of the trade
itself is read on the **exposed series**:

* A run is **exposed** in a period ``(a, b]`` (``a`` its previous period end, or the window start)
  when it holds a position at some instant of ``[a, b)``: after its fills at or before ``a``, or
  after a fill inside the period (an open fill between two closes). A fill at ``b`` itself (a
  close fill) changes the holding only from ``b`` on.
* The exposed pooled series has one row per period in which at least one open episode of the
  combination is exposed, and its return is the equal-capital mean over the **exposed** episodes
  only (a flat episode does not dilute it).

Both are computed from the orders table (``run``, ``symbol``, ``side``, ``size``, ``fill_time``),
vectorized over every run: pure numpy/pandas.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from backtests.scoring.trades import holdings


def exposure_mask(orders: pd.DataFrame | None, index: pd.DatetimeIndex, valid: np.ndarray, run_ids: Sequence[str],
                  run_start: np.ndarray) -> np.ndarray | None:
    """``(T, runs)`` bool: run ``j`` holds a position during the period ending at ``index[t]``.

    Parameters
    ----------
    orders
        The fills of the runs (None: unknown, returns None).
    index
        UTC period ends of the returns table.
    valid
        ``(T, runs)``: the run has a return at that period end (its periods).
    run_ids
        Run id of each column.
    run_start
        ``(runs,)`` int64 ns: each run's window start (the start of its first period).
    """
    if orders is None:
        return None
    n_t, n_r = valid.shape
    out = np.zeros((n_t, n_r), dtype=bool)
    if not len(orders) or not valid.any():
        return out
    h = holdings(orders)
    h = h.assign(j=pd.Index([str(r) for r in run_ids]).get_indexer(h["run"].to_numpy()))
    h = h[h["j"] >= 0].sort_values(["j", "fill"], kind="stable")
    delta = (~h["flat_after"]).astype(np.int64) - (~h["flat_before"]).astype(np.int64)
    n_held = delta.groupby(h["j"], sort=False).cumsum().to_numpy()  # symbols held after each fill
    ev = pd.DataFrame({"j": h["j"].to_numpy(), "t": h["fill"].to_numpy(), "n": n_held})
    ev = ev.drop_duplicates(["j", "t"], keep="last")  # the holding after every fill at one instant
    # each period of each run: (run, a, b)
    jj, tt = np.nonzero(valid.T)  # run-major, then time
    stamps = index.as_unit("ns").asi8
    b = stamps[tt]
    first = np.r_[True, jj[1:] != jj[:-1]]
    a = np.where(first, np.asarray(run_start, dtype=np.int64)[jj], np.r_[b[:1], b[:-1]])
    instants = np.unique(np.concatenate([a, b, ev["t"].to_numpy()]))
    m = np.int64(instants.size + 1)
    ev_key = ev["j"].to_numpy(dtype=np.int64) * m + np.searchsorted(instants, ev["t"].to_numpy())
    a_key = jj.astype(np.int64) * m + np.searchsorted(instants, a)
    b_key = jj.astype(np.int64) * m + np.searchsorted(instants, b)
    pos = ev["n"].to_numpy() > 0
    k = np.searchsorted(ev_key, a_key, side="right") - 1
    at_a = (k >= 0) & (ev_key[np.clip(k, 0, None)] // m == jj) & pos[np.clip(k, 0, None)]
    counts = np.concatenate([[0], np.cumsum(pos)])
    inside = counts[np.searchsorted(ev_key, b_key, side="left")] > counts[np.searchsorted(ev_key, a_key, side="right")]
    out[tt, jj] = at_a | inside
    return out


def exposed_pool(values: np.ndarray, exposed: np.ndarray, n_combos: int, n_windows: int, is_open: np.ndarray,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The exposed pooled series of every combination.

    Parameters
    ----------
    values, exposed
        ``(T, n_combos * n_windows)`` per-period returns and :func:`exposure_mask`, runs
        combination-major then window.
    is_open
        ``(T, n_windows)``: the period end lies in the window (episodes not open are not pooled).

    Returns
    -------
    (pooled, rows)
        ``pooled`` ``(len(rows), n_combos)``: per kept row the mean return over the exposed open
        episodes, NaN where none of that combination's is exposed; ``rows``: the rows where some
        combination is exposed.
    """
    t = values.shape[0]
    v3 = values.reshape(t, n_combos, n_windows)
    e3 = exposed.reshape(t, n_combos, n_windows) & is_open[:, None, :] & ~np.isnan(v3)
    n = e3.sum(axis=2)
    rows = np.flatnonzero((n > 0).any(axis=1))
    total = np.where(e3[rows], v3[rows], 0.0).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = np.where(n[rows] > 0, total / n[rows], np.nan)
    return pooled, rows
