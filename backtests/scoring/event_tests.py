"""The event-study test battery: is the mean abnormal return around the shocks different from 0?

Inputs are a market-model event study's pieces (:func:`backtests.scoring.event_study`): per event
``i`` its CAR over the event window, its event-window abnormal returns, its estimation-window
residuals ``e_it`` and their standard deviation ``s_i`` (ddof = 2), and the cluster of each event.
Each test returns ``{"stat", "p_value", "nan_reason"}`` (two-sided p-values):

``t``
    The mean CAR regressed on a constant with cluster-robust standard errors (statsmodels
    ``cov_type="cluster"``, Student t with G - 1 degrees of freedom): clusters are independent,
    events within a cluster are not.
``bmp``
    Boehmer, Musumeci and Poulsen (1991) standardized cross-sectional test:
    ``SCAR_i = CAR_i / (s_i sqrt(L_i))`` (``L_i`` event-window returns of event ``i``),
    ``t = mean(SCAR) / (std(SCAR, ddof=1) / sqrt(N))``, Student t with N - 1 degrees of freedom.
``kolari_pynnonen``
    BMP adjusted for cross-correlation of the events (Kolari and Pynnönen 2010):
    ``t_KP = t_BMP sqrt((1 - r) / (1 + (N - 1) r))`` with ``r`` the mean pairwise correlation of
    the events' estimation-window residuals (aligned on event time, pairs with >= 3 common rows).
``grank``
    Kolari and Pynnönen (2011) generalized rank test: per event the estimation-window
    standardized residuals ``e_it / s_i`` and the cross-sectionally re-standardized CAR
    ``SCAR_i / std(SCAR)`` (as one "day" 0) are ranked, ``U_it = rank / (T_i + 1) - 1/2``;
    ``Z = mean_i U_i0 / S``, ``S^2 = 1/T sum_t (N_t / N) Ubar_t^2`` over the T = L1 + 1 days,
    ``t = Z sqrt((T - 2) / (T - 1 - Z^2))``, Student t with T - 2 degrees of freedom.
``generalized_sign``
    Cowan (1992): ``p = mean_i (share of positive estimation residuals of event i)``, ``w`` the
    events with CAR > 0, ``stat = (w - N p) / sqrt(N p (1 - p))``; the p-value is the exact
    two-sided binomial test of ``w`` out of N at ``p`` (scipy ``binomtest``).
``calendar_time``
    Calendar-time portfolio test (Jaffe 1974, Mandelker 1974): the equal-weight portfolio of the
    events open at each UTC period regressed on the benchmark, ``r_p = a + b r_m + u``; the stat is
    the t-statistic of the intercept ``a`` (statsmodels OLS, HC1 standard errors, Student t).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import binomtest
from scipy.stats import rankdata
from scipy.stats import t as student_t

TEST_KEYS = ("t", "bmp", "kolari_pynnonen", "grank", "generalized_sign", "calendar_time")


def _result(stat: float, p: float, reason: str | None = None) -> dict[str, Any]:
    stat, p = float(stat), float(p)
    if reason is None and not (np.isfinite(stat) and np.isfinite(p)):
        reason = "not defined for these returns"
    if reason is not None:
        return {"stat": None, "p_value": None, "nan_reason": reason}
    return {"stat": stat, "p_value": p, "nan_reason": None}


def _nan(reason: str) -> dict[str, Any]:
    return {"stat": None, "p_value": None, "nan_reason": reason}


def cluster_t(car: np.ndarray, cluster: np.ndarray) -> dict[str, Any]:
    """Mean CAR with cluster-robust standard errors (statsmodels OLS on a constant)."""
    from backtests.scoring.episodes import cluster_robust_t

    t, p, why = cluster_robust_t(np.asarray(car, dtype=float), np.asarray(cluster))
    return _result(t, p, why)


def scar(car: np.ndarray, n_event: np.ndarray, resid_std: np.ndarray) -> np.ndarray:
    """Standardized CARs ``CAR_i / (s_i sqrt(L_i))``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(car, float) / (np.asarray(resid_std, float) * np.sqrt(np.asarray(n_event, float)))


def bmp(car: np.ndarray, n_event: np.ndarray, resid_std: np.ndarray) -> dict[str, Any]:
    """Boehmer-Musumeci-Poulsen standardized cross-sectional t-test."""
    z = scar(car, n_event, resid_std)
    z = z[np.isfinite(z)]
    n = z.size
    if n < 2:
        return _nan(f"needs 2 events with an estimation window (has {n})")
    sd = z.std(ddof=1)
    if not sd > 0:
        return _nan("standardized CARs do not vary")
    t = z.mean() / (sd / np.sqrt(n))
    return _result(t, 2 * student_t.sf(abs(t), n - 1))


def mean_cross_correlation(resid: np.ndarray) -> float:
    """Mean pairwise Pearson correlation of the columns of ``(L1, N)`` residuals (pairwise
    complete rows, at least 3 per pair, neither constant); NaN when no pair qualifies."""
    n = resid.shape[1]
    vals = []
    for i in range(n):
        for j in range(i + 1, n):
            ok = ~np.isnan(resid[:, i]) & ~np.isnan(resid[:, j])
            if ok.sum() >= 3:
                a, b = resid[ok, i], resid[ok, j]
                if a.std() > 0 and b.std() > 0:
                    vals.append(float(np.corrcoef(a, b)[0, 1]))
    return float(np.mean(vals)) if vals else float("nan")


def kolari_pynnonen(car: np.ndarray, n_event: np.ndarray, resid_std: np.ndarray, resid: np.ndarray,
                    ) -> dict[str, Any]:
    """BMP with the Kolari-Pynnönen cross-correlation adjustment."""
    base = bmp(car, n_event, resid_std)
    if base["stat"] is None:
        return base
    ok = np.isfinite(scar(car, n_event, resid_std))
    n = int(ok.sum())
    r = mean_cross_correlation(resid[:, ok])
    if not np.isfinite(r):
        return _nan("no pair of events with 3 common estimation residuals")
    den = 1.0 + (n - 1) * r
    if den <= 0 or r >= 1:
        return _nan(f"mean residual cross-correlation {r:.3f} leaves no variance")
    t = base["stat"] * np.sqrt((1.0 - r) / den)
    out = _result(t, 2 * student_t.sf(abs(t), n - 1))
    out["mean_correlation"] = r
    return out


def grank(car: np.ndarray, n_event: np.ndarray, resid_std: np.ndarray, resid: np.ndarray) -> dict[str, Any]:
    """Kolari-Pynnönen generalized rank (GRANK) test of the cumulated event window."""
    z = scar(car, n_event, resid_std)
    ok = np.isfinite(z) & np.isfinite(resid_std) & (np.asarray(resid_std) > 0)
    n = int(ok.sum())
    if n < 2:
        return _nan(f"needs 2 events with an estimation window (has {n})")
    z, s, e = z[ok], np.asarray(resid_std, float)[ok], resid[:, ok]
    sd = z.std(ddof=1)
    if not sd > 0:
        return _nan("standardized CARs do not vary")
    g = np.vstack([e / s, (z / sd)[None, :]])  # rows: estimation days, then day 0 (the CAR)
    present = ~np.isnan(g)
    u = np.full(g.shape, np.nan)
    for i in range(n):
        col = g[present[:, i], i]
        u[present[:, i], i] = rankdata(col) / (col.size + 1.0) - 0.5
    n_t = present.sum(axis=1)
    days = n_t > 0
    ubar = np.where(days, np.nansum(u, axis=1) / np.maximum(n_t, 1), np.nan)
    t_days = int(days.sum())
    if t_days < 3:
        return _nan("fewer than 2 estimation days")
    s_u = np.sqrt(np.sum((n_t[days] / n) * ubar[days] ** 2) / t_days)
    if not s_u > 0:
        return _nan("ranks do not vary")
    zz = ubar[-1] / s_u
    den = t_days - 1 - zz**2
    if den <= 0:
        return _nan("rank statistic at its bound")
    t = zz * np.sqrt((t_days - 2) / den)
    return _result(t, 2 * student_t.sf(abs(t), t_days - 2))


def generalized_sign(car: np.ndarray, resid: np.ndarray) -> dict[str, Any]:
    """Cowan's generalized sign test (exact binomial p-value at the estimation-period share)."""
    car = np.asarray(car, float)
    have = ~np.isnan(resid)
    ok = np.isfinite(car) & (have.sum(axis=0) > 0)
    n = int(ok.sum())
    if n == 0:
        return _nan("no event with an estimation window")
    share = (np.where(have, resid > 0, False).sum(axis=0) / np.maximum(have.sum(axis=0), 1))[ok]
    p = float(share.mean())
    if not 0 < p < 1:
        return _nan("estimation residuals are all of one sign")
    w = int((car[ok] > 0).sum())
    stat = (w - n * p) / np.sqrt(n * p * (1 - p))
    return _result(stat, binomtest(w, n, p).pvalue)


def calendar_time(portfolio: np.ndarray, benchmark: np.ndarray | None) -> dict[str, Any]:
    """Intercept t-test of the calendar-time portfolio on the benchmark (OLS, HC1 errors)."""
    from statsmodels.regression.linear_model import OLS

    y = np.asarray(portfolio, float)
    if benchmark is None:
        ok = np.isfinite(y)
        x = np.ones((int(ok.sum()), 1))
    else:
        b = np.asarray(benchmark, float)
        ok = np.isfinite(y) & np.isfinite(b)
        x = np.column_stack([np.ones(int(ok.sum())), b[ok]])
    k = x.shape[1]
    if ok.sum() < k + 2:
        return _nan(f"fewer than {k + 2} calendar periods")
    if k == 2 and not np.ptp(x[:, 1]) > 0:
        return _nan("benchmark constant over the calendar periods")
    if not np.ptp(y[ok]) > 0:
        return _nan("portfolio returns do not vary")
    fit = OLS(y[ok], x).fit(cov_type="HC1", use_t=True)
    out = _result(fit.tvalues[0], fit.pvalues[0])
    if out["stat"] is not None:
        out["n_periods"] = int(ok.sum())
    return out


def battery(car: np.ndarray, n_event: np.ndarray, resid_std: np.ndarray, resid: np.ndarray,
                 cluster: np.ndarray, portfolio: np.ndarray | None, benchmark: np.ndarray | None,
                 ) -> dict[str, dict[str, Any]]:
    """All of :data:`TEST_KEYS` for one event study (events = columns of ``resid``)."""
    car = np.asarray(car, float)
    keep = np.isfinite(car)
    car, n_event, resid_std = car[keep], np.asarray(n_event)[keep], np.asarray(resid_std, float)[keep]
    resid, cluster = resid[:, keep], np.asarray(cluster)[keep]
    return {
        "t": cluster_t(car, cluster),
        "bmp": bmp(car, n_event, resid_std),
        "kolari_pynnonen": kolari_pynnonen(car, n_event, resid_std, resid),
        "grank": grank(car, n_event, resid_std, resid),
        "generalized_sign": generalized_sign(car, resid),
        "calendar_time": calendar_time(portfolio, benchmark) if portfolio is not None
        else _nan("no calendar-time portfolio"),
    }
