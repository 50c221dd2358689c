"""Rank a parameter sweep and say how much the winner can be trusted.

The ranking is a plain sort of the pooled metrics table; next to each row go its deflated
Sharpe ratio (the probability that its true Sharpe ratio beats the best one expected from that
many trials of pure luck) and the sweep's probability of backtest overfitting.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.scoring import trust
from backtests.scoring.calendar_time import Distinct, distinct_columns

RANK_COLUMNS: tuple[str, ...] = ("rank", "dsr", "pbo", "n_trials", "n_trials_raw", "n_identical",
                                 "sharpe_star", "notes")


def _order(values: np.ndarray) -> np.ndarray:
    """Descending, stable (ties keep row order), NaN last."""
    key = np.where(np.isnan(values), np.inf, -values)
    return np.lexsort((np.arange(values.size), key))


def rank_sweep(
    pooled: pd.DataFrame,
    periods_per_year: float | pd.Series,
    metric: str = "sharpe",
    returns: pd.DataFrame | None = None,
    n_blocks: int = 8,
    pbo_metric: str = "sharpe",
    n_trials: int | None = None,
    distinct: Distinct | None = None,
) -> pd.DataFrame:
    """Sort a sweep by a metric and attach DSR and PBO.

    Parameters
    ----------
    pooled : pd.DataFrame
        One row per parameter combination actually run (e.g. from
        :func:`~backtests.scoring.pooled.pooled_metrics`); needs the column ``metric`` and, for
        DSR, ``sharpe`` (annualized), ``skew``, ``kurtosis`` (raw) and ``n_periods``.
    periods_per_year : float or pd.Series
        The annualization the ``sharpe`` column carries (a Series is indexed like ``pooled``);
        Sharpe ratios are divided by its square root for DSR, which works per period.
    metric : str
        Column to sort by, higher is better (default ``"sharpe"``).
    returns : pd.DataFrame, optional
        The sweep's pooled returns, one column per row of ``pooled`` (same labels), for PBO.
        Without it ``pbo`` is NaN.
    n_blocks : int
        CSCV blocks for PBO.
    pbo_metric : str
        Selection metric inside PBO (a name accepted by
        :func:`~backtests.scoring.trust.probability_of_backtest_overfitting`).
    n_trials : int, optional
        Number of trials for DSR; default the number of **distinct** pooled return series (see
        ``distinct``), NaN Sharpe ratios included. The trial Sharpe variance uses the finite
        per-period Sharpe ratios of one member per distinct series.
    distinct : Distinct, optional
        Rows of ``pooled`` grouped by bit-identical pooled returns; default computed from
        ``returns`` (every row its own series without ``returns``). PBO runs on one column per
        group, the first in row order.

    Returns
    -------
    pd.DataFrame
        ``pooled`` sorted by ``metric`` (descending, stable, NaN last) with leading columns
        ``rank`` (1 = best; NaN metric -> no rank), ``dsr``, ``pbo`` (the same for every row:
        it is a property of the sweep), ``n_trials`` (distinct series), ``n_trials_raw`` (rows),
        ``n_identical`` (rows with this row's series, itself included), ``sharpe_star`` (the
        expected maximum per-period Sharpe ratio DSR tests against) and ``notes`` (why
        ``dsr``/``pbo`` are NaN).
    """
    if metric not in pooled.columns:
        raise ValueError(f"metric {metric!r} is not a column of the pooled table")
    for col in ("sharpe", "skew", "kurtosis", "n_periods"):
        if col not in pooled.columns:
            raise ValueError(f"the pooled table needs a {col!r} column for DSR")
    if isinstance(periods_per_year, pd.Series):
        ppy = periods_per_year.reindex(pooled.index).to_numpy(dtype=float)
    else:
        ppy = np.full(len(pooled), float(periods_per_year))
    if not np.all(np.isfinite(ppy) & (ppy > 0)):
        raise ValueError("periods_per_year must be finite and positive for every row")

    notes = np.full(len(pooled), "", dtype=object)
    if distinct is None:
        if returns is not None:
            distinct = distinct_columns(returns[list(pooled.index)].to_numpy(dtype=float, na_value=np.nan))
        else:
            distinct = Distinct(np.arange(len(pooled)), np.arange(len(pooled)), np.ones(len(pooled), np.int64))
    sr = pooled["sharpe"].to_numpy(dtype=float) / np.sqrt(ppy)
    _, var = trust.trial_sharpe_stats(sr[distinct.first])
    n_trials = distinct.n if n_trials is None else int(n_trials)
    if np.isfinite(var):
        sr_star = trust.expected_max_sharpe(n_trials, var)
        dsr = np.asarray(
            trust.probabilistic_sharpe_ratio(
                sr,
                pooled["n_periods"].to_numpy(dtype=float),
                pooled["skew"].to_numpy(dtype=float),
                pooled["kurtosis"].to_numpy(dtype=float),
                sr_star,
            ),
            dtype=float,
        )
        notes[np.isnan(dsr)] = "dsr: sharpe, skew or kurtosis undefined"
    else:
        sr_star = float("nan")
        dsr = np.full(len(pooled), np.nan)
        notes[:] = ("dsr: every combination has the same returns" if distinct.n == 1 and len(pooled) > 1
                    else "dsr: fewer than 2 finite trial Sharpe ratios among the distinct series")

    pbo = float("nan")
    pbo_note = "pbo: no pooled returns given" if returns is None else ""
    if returns is not None:
        if distinct.n < 2:
            pbo_note = ("pbo: every combination has the same returns" if len(pooled) > 1
                        else "pbo: PBO needs at least 2 columns (trials), got 1")
        else:
            try:
                reps = [pooled.index[i] for i in distinct.first]
                pbo = trust.probability_of_backtest_overfitting(
                    returns[reps], n_blocks=n_blocks, metric=pbo_metric
                ).pbo
            except ValueError as exc:  # too few rows or columns for CSCV: a data condition
                pbo_note = f"pbo: {exc}"
    if pbo_note:
        notes = np.array([f"{n}; {pbo_note}" if n else pbo_note for n in notes], dtype=object)

    order = _order(pooled[metric].to_numpy(dtype=float))
    ranked = pooled.iloc[order].copy()
    values = ranked[metric].to_numpy(dtype=float)
    rank = np.where(np.isnan(values), np.nan, np.arange(1, len(values) + 1, dtype=float))
    lead = pd.DataFrame(
        {
            "rank": rank,
            "dsr": dsr[order],
            "pbo": pbo,
            "n_trials": n_trials,
            "n_trials_raw": len(pooled),
            "n_identical": distinct.n_identical[order],
            "sharpe_star": sr_star,
            "notes": notes[order],
        },
        index=ranked.index,
    )
    return pd.concat([lead, ranked.drop(columns=[c for c in RANK_COLUMNS if c in ranked])], axis=1)

