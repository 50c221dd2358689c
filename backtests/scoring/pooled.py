"""Pool each (strategy, params) combination across its shock windows.

A combination is run once per window. :func:`pooled_metrics` scores its **calendar-time**
series (:func:`calendar_returns`: each UTC period once, overlapping episodes averaged with equal
capital; see :mod:`backtests.scoring.calendar_time`) with
:func:`~backtests.scoring.metrics.metrics_table`, next to summaries of the per-window total
returns.

:func:`pool_returns` and :func:`chain_windows` give the **chained view**, for charts only: the
per-window returns one after the other in time order, indexed by ``(window, time)``; windows that
overlap in time keep both copies of the shared bars, so a statistic computed on it counts those
periods twice.

All combinations are placed in one ``(rows, combos)`` matrix with a single fancy-index
assignment; nothing loops over runs or combinations.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from backtests.scoring import metrics as _m
from backtests.scoring.calendar_time import Span, calendar_pool, open_mask, spans_from_returns

POOLED_KEYS: tuple[str, ...] = (
    "n_windows",
    "window_total_return_mean",
    "window_total_return_median",
    "window_positive_fraction",
)


def _runs_frame(runs: pd.DataFrame | Mapping[Hashable, tuple[Hashable, Hashable]], columns: pd.Index) -> pd.DataFrame:
    if not isinstance(runs, pd.DataFrame):
        runs = pd.DataFrame.from_dict(dict(runs), orient="index", columns=["combo", "window"])
    if not {"combo", "window"} <= set(runs.columns):
        raise ValueError("runs must have 'combo' and 'window' columns, indexed by run id")
    missing = columns.difference(runs.index)
    if len(missing):
        raise ValueError("no combo/window for run(s) " + ", ".join(map(str, missing[:5])))
    return runs.loc[columns, ["combo", "window"]]


class _Layout:
    """Where each (time, run) observation goes in the pooled (rows, combos) matrix."""

    def __init__(self, returns: pd.DataFrame, runs: pd.DataFrame) -> None:
        values = returns.to_numpy(dtype=float, na_value=np.nan)
        ti, rj = np.nonzero(~np.isnan(values))
        combo_codes, combos = pd.factorize(runs["combo"], sort=False)
        window_codes, windows = pd.factorize(runs["window"], sort=False)
        self.combos = pd.Index(combos, name="combo")
        w = window_codes[rj]
        # windows in time order: by first bar (position in the sorted index), then by id order
        order = np.argsort(returns.index.to_numpy(), kind="stable")
        pos = np.empty_like(order)
        pos[order] = np.arange(order.size)
        tpos = pos[ti]
        start = np.full(len(windows), np.iinfo(np.int64).max)
        np.minimum.at(start, w, tpos)
        start_rank = np.empty(len(windows), dtype=np.int64)
        start_rank[np.lexsort((np.arange(len(windows)), start))] = np.arange(len(windows))
        key = start_rank[w].astype(np.int64) * (order.size + 1) + tpos
        uniq, self.row = np.unique(key, return_inverse=True)
        self.col = combo_codes[rj]
        flat = self.row * len(combos) + self.col
        if np.unique(flat).size != flat.size:
            dup = pd.Series(flat).duplicated(keep=False).to_numpy()
            bad = sorted({str(returns.columns[j]) for j in rj[dup]})[:4]
            raise ValueError("runs share a combo, window and bar: " + ", ".join(bad))
        row_window = windows[np.argsort(start_rank)][uniq // (order.size + 1)]
        row_time = returns.index[order[uniq % (order.size + 1)]]
        self.index = pd.MultiIndex.from_arrays([row_window, row_time], names=["window", "time"])
        self.ti, self.rj = ti, rj

    def place(self, values: np.ndarray) -> pd.DataFrame:
        out = np.full((len(self.index), len(self.combos)), np.nan)
        out[self.row, self.col] = values[self.ti, self.rj]
        return pd.DataFrame(out, index=self.index, columns=self.combos)


def pool_returns(
    returns: pd.DataFrame,
    runs: pd.DataFrame | Mapping[Hashable, tuple[Hashable, Hashable]],
    benchmark: pd.Series | pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Chain each combination's windows into one column (the chained view, for charts).

    Parameters
    ----------
    returns : pd.DataFrame
        Per-bar returns, index = UTC bar stamps, one column per run (NaN outside its window).
    runs : pd.DataFrame or mapping
        Per run id, its ``combo`` and ``window`` (a frame with those columns indexed by run id,
        or ``{run_id: (combo, window)}``).
    benchmark : pd.Series or pd.DataFrame, optional
        A Series on the same time index, or one benchmark column per run; pooled the same way.

    Returns
    -------
    pooled : pd.DataFrame
        Index ``(window, time)`` in chain order, one column per combo (first-appearance order),
        NaN where a combo has no bar.
    pooled_benchmark : pd.DataFrame or None
        The benchmark at the same places.
    """
    layout = _Layout(returns, _runs_frame(runs, returns.columns))
    pooled = layout.place(returns.to_numpy(dtype=float, na_value=np.nan))
    if benchmark is None:
        return pooled, None
    if isinstance(benchmark, pd.Series):
        b = np.broadcast_to(
            benchmark.reindex(returns.index).to_numpy(dtype=float, na_value=np.nan)[:, None],
            returns.shape,
        )
    else:
        b = benchmark.reindex(index=returns.index, columns=returns.columns).to_numpy(
            dtype=float, na_value=np.nan
        )
    return pooled, layout.place(b)


def chain_windows(windows: Mapping[Hashable, pd.Series]) -> pd.Series:
    """One combination's per-window return Series chained in time order.

    Windows are ordered by their first non-NaN stamp (ties by mapping order); the result is
    indexed by ``(window, time)`` and holds only observed bars.
    """
    if not windows:
        return pd.Series(dtype=float, index=pd.MultiIndex.from_arrays([[], []], names=["window", "time"]))
    wide = pd.concat({w: s for w, s in windows.items()}, axis=1, sort=True)
    wide.columns = pd.RangeIndex(wide.shape[1])
    runs = pd.DataFrame({"combo": 0, "window": list(windows)}, index=wide.columns)
    pooled, _ = pool_returns(wide, runs)
    return pooled[0].dropna()


def calendar_returns(
    returns: pd.DataFrame,
    runs: pd.DataFrame | Mapping[Hashable, tuple[Hashable, Hashable]],
    benchmark: pd.Series | pd.DataFrame | None = None,
    spans: list[Span] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Each combination's calendar-time pooled series (see :mod:`backtests.scoring.calendar_time`).

    Parameters
    ----------
    returns, runs, benchmark
        As :func:`pool_returns`; the index must be sorted UTC period ends.
    spans
        One :class:`~backtests.scoring.calendar_time.Span` per window, in order of first appearance in
        ``runs``; default: from just before each window's first period end to its last.

    Returns
    -------
    (pooled, pooled_benchmark)
        Index = the kept UTC period ends, one column per combo (first-appearance order).
    """
    runs_df = _runs_frame(runs, returns.columns)
    cc, combos = pd.factorize(runs_df["combo"], sort=False)
    wc, wins = pd.factorize(runs_df["window"], sort=False)
    n_c, n_w = len(combos), len(wins)
    slot = cc * n_w + wc
    if np.unique(slot).size != slot.size:
        raise ValueError("runs share a combo and a window: " + ", ".join(map(str, returns.columns[:4])))

    def grid(values: np.ndarray) -> np.ndarray:
        out = np.full((values.shape[0], n_c * n_w), np.nan)
        out[:, slot] = values
        return out

    if spans is None:
        spans = spans_from_returns(returns, list(runs_df["window"]))
    is_open = open_mask(pd.DatetimeIndex(returns.index), spans)
    vals, rows = calendar_pool(grid(returns.to_numpy(dtype=float, na_value=np.nan)), n_c, n_w, is_open)
    index = returns.index[rows]
    pooled = pd.DataFrame(vals, index=index, columns=pd.Index(combos, name="combo"))
    if benchmark is None:
        return pooled, None
    if isinstance(benchmark, pd.Series):
        b = np.broadcast_to(benchmark.reindex(returns.index).to_numpy(dtype=float, na_value=np.nan)[:, None],
                            returns.shape)
    else:
        b = benchmark.reindex(index=returns.index, columns=returns.columns).to_numpy(dtype=float, na_value=np.nan)
    b = np.where(np.isnan(returns.to_numpy(dtype=float, na_value=np.nan)), np.nan, b)
    bvals, brows = calendar_pool(grid(b), n_c, n_w, is_open)
    bfull = np.full((len(rows), n_c), np.nan)
    pos = np.searchsorted(rows, brows)
    bfull[pos] = bvals
    return pooled, pd.DataFrame(bfull, index=index, columns=pooled.columns)


def pooled_metrics(
    returns: pd.DataFrame,
    runs: pd.DataFrame | Mapping[Hashable, tuple[Hashable, Hashable]],
    periods_per_year: float | pd.Series,
    benchmark: pd.Series | pd.DataFrame | None = None,
    risk_free: float = 0.0,
) -> tuple[pd.DataFrame, dict[Any, dict[str, str]]]:
    """Metrics of each combination's calendar-time pooled returns plus per-window summaries.

    Parameters
    ----------
    returns, runs, benchmark
        As :func:`pool_returns`.
    periods_per_year : float or pd.Series
        One factor, or a Series indexed by combo id.
    risk_free : float
        Per-period risk-free return, as :func:`~backtests.scoring.metrics.metrics_table`.

    Returns
    -------
    table : pd.DataFrame
        Rows = combo ids; columns = the metric keys of ``metrics_table`` computed on the
        calendar-time series (``n_periods`` = its length: each UTC period once), then :data:`POOLED_KEYS`: ``n_windows`` (windows
        with at least one return), the mean and median of the per-window ``total_return`` and
        the fraction of those windows with a positive total return.
    reasons : dict
        ``{combo: {metric: reason}}`` for every NaN.
    """
    runs_df = _runs_frame(runs, returns.columns)
    pooled, pooled_bench = calendar_returns(returns, runs_df, benchmark)
    table, reasons = _m.metrics_table(pooled, periods_per_year, pooled_bench, risk_free)
    per_window = pd.Series(
        np.asarray(_m.total_return(returns.to_numpy(dtype=float, na_value=np.nan))),
        index=returns.columns,
    )
    grouped = per_window.groupby(runs_df["combo"].to_numpy(), sort=False)
    summary = pd.DataFrame(
        {
            "n_windows": grouped.count(),
            "window_total_return_mean": grouped.mean(),
            "window_total_return_median": grouped.median(),
            "window_positive_fraction": (per_window > 0)
            .where(per_window.notna())
            .groupby(runs_df["combo"].to_numpy(), sort=False)
            .mean(),
        }
    ).reindex(table.index)
    summary["n_windows"] = summary["n_windows"].fillna(0).astype(np.int64)
    for key in POOLED_KEYS[1:]:
        for combo in summary.index[summary[key].isna()]:
            reasons.setdefault(combo, {})[key] = "no window with returns"
    return pd.concat([table, summary], axis=1), reasons
