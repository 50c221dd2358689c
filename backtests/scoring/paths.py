"""Paths of one return series for the charts: wealth, drawdown, drawdown periods, rolling risk.

The tearsheet draws these from what the scoring stage wrote (``pooled.parquet``,
``metrics.json`` ``strategies[].pooled_detail``); it computes none of them. Conventions are those
of :mod:`backtests.scoring.metrics`: per-period simple returns in, NaN rows skipped (a path has
one value per observation), wealth starts at 1 before the first return and that starting wealth
counts as a peak, so ``drawdown(r).min() == max_drawdown(r)`` and ``wealth(r)[-1] - 1 ==
total_return(r)`` bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: Rolling windows: a quarter of the series, between these many periods.
ROLLING_MIN, ROLLING_MAX = 10, 63
#: Below this many periods no rolling series is drawn (three rolling windows of ROLLING_MIN).
ROLLING_SHORTEST = 3 * ROLLING_MIN
#: Below this benchmark variance (population, per period) beta is undefined, as in the beta metric.
FLAT_VARIANCE = 1e-30


def _values(returns: pd.Series | np.ndarray) -> np.ndarray:
    r = np.asarray(returns, dtype=float)
    return r[~np.isnan(r)]


def wealth(returns: pd.Series | np.ndarray) -> np.ndarray:
    """Compounded wealth after each observation, from 1 before the first: ``cumprod(1 + r)``.

    Parameters
    ----------
    returns
        Per-period simple returns; NaN rows are skipped.

    Returns
    -------
    np.ndarray
        One value per observation; its last value minus 1 is :func:`~backtests.scoring.total_return`.
    """
    return np.cumprod(1.0 + _values(returns))


def drawdown(returns: pd.Series | np.ndarray) -> np.ndarray:
    """Drawdown after each observation, ``W_t / max(1, W_1..W_t) - 1`` (a fraction, <= 0).

    The starting wealth of 1 counts as a peak; the minimum is
    :func:`~backtests.scoring.max_drawdown`.
    """
    w = wealth(returns)
    if not w.size:
        return w
    return w / np.maximum.accumulate(np.maximum(w, 1.0)) - 1.0


def drawdown_periods(returns: pd.Series, top: int = 5) -> list[dict[str, Any]]:
    """The ``top`` deepest drawdowns of a return series, deepest first.

    Parameters
    ----------
    returns
        Per-period simple returns indexed by UTC period end; NaN rows are skipped.
    top
        How many to keep.

    Returns
    -------
    list of dict
        Each ``start`` (the period end of the last peak before it; None when the peak is the
        starting wealth), ``trough`` (period end of the lowest wealth), ``end`` (first period end
        back at the peak; None = not recovered), ``depth`` (fraction, negative) and ``periods``
        (peak to recovery, or to the last period). Times are ISO 8601 strings in UTC.
    """
    r = returns.dropna()
    if r.empty:
        return []
    times = r.index
    w = np.concatenate([[1.0], np.cumprod(1.0 + r.to_numpy(dtype=float))])
    peak = np.maximum.accumulate(w)
    under = w < peak * (1 - 1e-12)
    out: list[dict[str, Any]] = []
    i, n = 1, len(w)
    while i < n:
        if not under[i]:
            i += 1
            continue
        s = i - 1  # position of the peak in `w` (0 = the starting wealth)
        j = i
        while j < n and under[j]:
            j += 1
        seg = w[i:j] / peak[i:j] - 1.0
        k = i + int(np.argmin(seg))
        out.append({"start": _iso(times[s - 1]) if s >= 1 else None, "trough": _iso(times[k - 1]),
                    "end": _iso(times[j - 1]) if j < n else None, "depth": float(seg.min()),
                    "periods": int(j - s) if j < n else int(n - 1 - s)})
        i = j
    out.sort(key=lambda d: d["depth"])  # stable: equal depths keep time order
    return out[:top]


def _iso(t: Any) -> str:
    return pd.Timestamp(t).isoformat()


def rolling_periods(n: int) -> int | None:
    """The rolling window of an ``n``-period series: a quarter of it within [10, 63]; None when
    the series is shorter than :data:`ROLLING_SHORTEST` periods."""
    if n < ROLLING_SHORTEST:
        return None
    return max(ROLLING_MIN, min(ROLLING_MAX, n // 4))


def rolling_volatility(returns: np.ndarray, k: int) -> np.ndarray:
    """Per-period volatility over the trailing ``k`` observations, ``std(r, ddof=1)`` (NaN for the
    first ``k - 1``); not annualized."""
    return pd.Series(_values(returns)).rolling(k).std(ddof=1).to_numpy()


def rolling_beta(returns: np.ndarray, benchmark: np.ndarray, k: int) -> np.ndarray:
    """Beta to the benchmark over the trailing ``k`` rows, ``cov(r, b) / var(b)`` with population
    moments as the beta metric; NaN where the benchmark is missing in the window or flat
    (variance below :data:`FLAT_VARIANCE`). ``returns`` and ``benchmark`` are row-aligned, without
    NaN in ``returns``."""
    r = pd.Series(np.asarray(returns, dtype=float))
    b = pd.Series(np.asarray(benchmark, dtype=float))
    cov = r.rolling(k).cov(b, ddof=0)
    var = b.rolling(k).var(ddof=0)
    return (cov / var.where(var >= FLAT_VARIANCE)).to_numpy()


@dataclass(frozen=True)
class PooledView:
    """What the tearsheet draws of one pooled series: its paths (one row per observation, indexed
    by UTC period end) and the JSON-ready summary (drawdown periods, rolling window)."""

    series: pd.DataFrame
    record: dict[str, Any]


def pooled_view(returns: pd.Series, benchmark: pd.Series | None = None, top: int = 5) -> PooledView:
    """Wealth, drawdown, rolling volatility and beta of a pooled series, and its drawdown periods.

    Parameters
    ----------
    returns
        A combination's calendar-time pooled returns, indexed by UTC period end (NaN = no row).
    benchmark
        Its pooled benchmark on the same index, or None.
    top
        Drawdown periods kept.

    Returns
    -------
    PooledView
        ``series`` columns ``wealth``, ``drawdown``, ``rolling_volatility`` and (with a benchmark)
        ``rolling_beta`` on the observations of ``returns``; ``record``: ``drawdowns``
        (:func:`drawdown_periods`), ``rolling_periods`` (the window, :func:`rolling_periods`) and
        ``rolling_reason`` (why there is none, else None).
    """
    r = returns.dropna()
    values = r.to_numpy(dtype=float)
    cols: dict[str, np.ndarray] = {"wealth": wealth(values), "drawdown": drawdown(values)}
    k = rolling_periods(len(values))
    if k is not None:
        cols["rolling_volatility"] = rolling_volatility(values, k)
        if benchmark is not None:
            cols["rolling_beta"] = rolling_beta(values, benchmark.reindex(r.index).to_numpy(dtype=float), k)
    reason = None if k is not None else f"fewer than {ROLLING_SHORTEST} periods"
    return PooledView(pd.DataFrame(cols, index=r.index),
                      {"drawdowns": drawdown_periods(r, top), "rolling_periods": k, "rolling_reason": reason})
