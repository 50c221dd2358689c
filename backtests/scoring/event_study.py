"""Market-model event study: abnormal returns around each shock, aligned on the event.

Each window's returns are indexed by **event time** ``t``, an integer count of sessions of the
market that defines the event (``t = 0`` is the event session, ``t = -1`` the session before).
For every window a market model ``r_t = alpha + beta * b_t + e_t`` is fitted by OLS on an
estimation window that ends before the event window (``t`` in
``[-pre - gap - estimation_length, -pre - gap - 1]``); abnormal returns in the event window
``[-pre, post]`` are ``AR_t = r_t - (alpha + beta * b_t)``. CAR is the sum of a window's ARs;
CAAR is the mean CAR across windows with the cross-sectional t-statistic
``CAAR / (std(CAR, ddof=1) / sqrt(N))``.

Everything is vectorized over windows; the frames are small (one column per shock).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

EventReturns = pd.DataFrame | Mapping[str, pd.Series]


@dataclass(frozen=True)
class EventStudyResult:
    """Outcome of :func:`event_study`.

    Attributes
    ----------
    abnormal
        Abnormal returns, index ``t`` = -pre..post, one column per window (NaN where the window
        has no return or was dropped).
    car
        Cumulative abnormal return per window over [-pre, post] (NaN for dropped windows).
    aar
        Average abnormal return across the included windows, by ``t``.
    caar_path
        Cumulative sum of ``aar`` over ``t``.
    caar
        Mean CAR across the included windows.
    t_stat
        Cross-sectional t-statistic of ``caar`` (NaN with fewer than 2 windows or equal CARs).
    p_value
        Two-sided p-value of ``t_stat`` (Student t, N - 1 degrees of freedom).
    n_events
        Windows included.
    fraction_positive
        Fraction of included windows with CAR > 0.
    model
        Per window: ``alpha``, ``beta`` (per period), ``n_estimation`` (returns used in the
        fit), ``residual_std`` (ddof=2) and ``n_event`` (event-window returns present).
    dropped
        ``{window_id: reason}`` for windows left out.
    residuals
        Market-model residuals in the estimation window, index ``t`` (estimation event times),
        one column per window (NaN where a return is missing or the window was dropped).
    """

    abnormal: pd.DataFrame
    car: pd.Series
    aar: pd.Series
    caar_path: pd.Series
    caar: float
    t_stat: float
    p_value: float
    n_events: int
    fraction_positive: float
    model: pd.DataFrame
    dropped: dict[str, str] = field(default_factory=dict)
    residuals: pd.DataFrame | None = None


def _frame(data: EventReturns, what: str) -> pd.DataFrame:
    df = pd.DataFrame(dict(data)) if not isinstance(data, pd.DataFrame) else data
    idx = df.index
    if len(idx) and not (
        pd.api.types.is_integer_dtype(idx)
        or (pd.api.types.is_float_dtype(idx) and np.all(np.mod(idx.to_numpy(), 1) == 0))
    ):
        raise ValueError(f"{what} must be indexed by integer event time (t = 0 at the event)")
    if not idx.is_unique:
        raise ValueError(f"{what} has duplicate event times")
    return df.set_axis(idx.astype(np.int64), axis=0).astype(float)


def event_study(
    returns: EventReturns,
    benchmark: EventReturns,
    pre: int,
    post: int,
    estimation_length: int,
    gap: int = 0,
    min_estimation: int | None = None,
) -> EventStudyResult:
    """Market-model abnormal returns, CAR per window and CAAR across windows.

    Parameters
    ----------
    returns : pd.DataFrame or mapping of window id -> pd.Series
        Per-period simple returns of the traded asset (or strategy) per window, indexed by
        integer event time and reaching back far enough to cover the estimation window.
    benchmark : pd.DataFrame or mapping of window id -> pd.Series
        Benchmark returns on the same event-time axis, one column per window id.
    pre, post : int
        Event window ``[-pre, post]`` (``pre`` sessions before the event, ``post`` after).
    estimation_length : int
        Sessions in the estimation window.
    gap : int
        Sessions left out between the estimation window and the event window (default 0).
    min_estimation : int, optional
        Fewest paired (return, benchmark) observations for a fit; default
        ``max(3, estimation_length // 2)``. Windows with fewer are dropped with a reason.

    Returns
    -------
    EventStudyResult
    """
    if pre < 0 or post < 0 or gap < 0:
        raise ValueError("pre, post and gap must be non-negative")
    if estimation_length < 2:
        raise ValueError("estimation_length must be at least 2")
    min_est = max(3, estimation_length // 2) if min_estimation is None else int(min_estimation)
    if min_est < 2:
        raise ValueError("min_estimation must be at least 2")
    r = _frame(returns, "returns")
    b = _frame(benchmark, "benchmark")
    missing = r.columns.difference(b.columns)
    if len(missing):
        raise ValueError("benchmark has no column for window(s) " + ", ".join(map(str, missing)))
    ids = list(r.columns)
    b = b[ids]

    est_times = np.arange(-pre - gap - estimation_length, -pre - gap)
    event_times = np.arange(-pre, post + 1)
    re = r.reindex(est_times).to_numpy()
    be = b.reindex(est_times).to_numpy()
    both = ~np.isnan(re) & ~np.isnan(be)
    n_est = both.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rm = np.where(both, re, 0.0).sum(0) / n_est
        bm = np.where(both, be, 0.0).sum(0) / n_est
        bres = np.where(both, be - bm, 0.0)
        var_b = (bres**2).sum(0) / n_est
        beta = (bres * np.where(both, re - rm, 0.0)).sum(0) / n_est / var_b
        alpha = rm - beta * bm
        resid = np.where(both, re - alpha - beta * be, 0.0)
        resid_std = np.sqrt((resid**2).sum(0) / (n_est - 2))

    rw = r.reindex(event_times).to_numpy()
    bw = b.reindex(event_times).to_numpy()
    ar = rw - (alpha + beta * bw)
    n_event = (~np.isnan(ar)).sum(0)

    dropped: dict[str, str] = {}
    b_const = var_b <= 1e-30
    for j, wid in enumerate(ids):
        if n_est[j] < min_est:
            dropped[wid] = f"only {n_est[j]} estimation returns (need {min_est})"
        elif b_const[j]:
            dropped[wid] = "benchmark constant in the estimation window"
        elif n_event[j] == 0:
            dropped[wid] = "no returns in the event window"
    keep = np.array([wid not in dropped for wid in ids], dtype=bool)
    ar[:, ~keep] = np.nan
    car = np.where(keep, np.nansum(ar, axis=0), np.nan)

    kept = car[keep]
    n = int(kept.size)
    caar = float(kept.mean()) if n else float("nan")
    sd = float(kept.std(ddof=1)) if n >= 2 else float("nan")
    t_stat = caar / (sd / np.sqrt(n)) if n >= 2 and sd > 0 else float("nan")
    p_value = float(2 * student_t.sf(abs(t_stat), n - 1)) if np.isfinite(t_stat) else float("nan")

    t_index = pd.Index(event_times, name="t")
    abnormal = pd.DataFrame(ar, index=t_index, columns=r.columns)
    present = ~np.isnan(ar[:, keep])
    with np.errstate(invalid="ignore", divide="ignore"):
        aar_values = np.where(present, ar[:, keep], 0.0).sum(1) / present.sum(1)
    aar = pd.Series(aar_values, index=t_index, name="aar")
    model = pd.DataFrame(
        {
            "alpha": np.where(keep, alpha, np.nan),
            "beta": np.where(keep, beta, np.nan),
            "n_estimation": n_est,
            "residual_std": np.where(keep, resid_std, np.nan),
            "n_event": n_event,
        },
        index=r.columns,
    )
    return EventStudyResult(
        abnormal=abnormal,
        car=pd.Series(car, index=r.columns, name="car"),
        aar=aar,
        caar_path=aar.fillna(0.0).cumsum().where(aar.notna()).rename("caar"),
        caar=caar,
        t_stat=float(t_stat),
        p_value=p_value,
        n_events=n,
        fraction_positive=float((kept > 0).mean()) if n else float("nan"),
        model=model,
        dropped=dropped,
        residuals=pd.DataFrame(np.where(both & keep[None, :], re - alpha - beta * be, np.nan),
                               index=pd.Index(est_times, name="t"), columns=r.columns),
    )
