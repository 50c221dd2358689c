"""Event-level statistics: each episode's return, with the cluster as the independent unit.

An *episode* is one run of a combination over one window; its return is the run's total return
(``prod(1 + r) - 1`` over the window's periods). Episodes are grouped into clusters
(:func:`backtests.scoring.calendar_time.event_clusters`); every test here treats clusters, not
episodes, as independent:

* ``t_stat``/``p_value`` (the verdict's p-value: "is the mean return per event different from
  0?"): the mean episode return regressed on a constant with cluster-robust standard errors, CR1
  (``V = G / (G - 1) * sum_g (sum_{i in g} e_i)^2 / N^2``, ``e_i = r_i - mean``), Student t with
  ``G - 1`` degrees of freedom (as statsmodels ``OLS(...).fit(cov_type="cluster", use_t=True)``;
  the tests check the closed form against it). The sweep-wide table computes the same closed form
  for every combination at once.
* ``sign_test_p``: exact two-sided binomial test (scipy ``binomtest``, p = 1/2) on the clusters'
  mean episode returns, zero means left out.
* ``ci_low``/``ci_high``: with fewer than :data:`MIN_BOOTSTRAP_CLUSTERS` clusters the inversion of
  that t test, ``mean +- t(G - 1, 1 - a/2) * SE`` (so the interval excludes 0 exactly when the
  test rejects at the same level); from :data:`MIN_BOOTSTRAP_CLUSTERS` clusters on, the percentile
  interval of the mean when whole clusters are resampled with replacement (seeded from the study
  seed). A bootstrap over G clusters can only return weighted means of the G cluster means: with
  three clusters its "95% interval" is the range of the three means.
* ``win_rate``: fraction of **traded** episodes with a return > 0 (an episode is traded when the
  strategy took a position it chose, see docs/metrics.md).
* :func:`shock_slope`: OLS of episode returns on the shock size with CR1 cluster-robust standard
  errors and Student t with ``G - 1`` degrees of freedom (3 clusters at least).

Out of sample by event (:func:`out_of_sample`): leave-one-cluster-out and walk-forward choice of
the parameters by the ranking metric computed on the calendar-time rows of the other (earlier)
clusters.

References
----------
Cameron, A. C., Gelbach, J. B. and Miller, D. L. (2008), "Bootstrap-based improvements for
inference with clustered errors", Review of Economics and Statistics 90(3). MacKinnon, J. G. and
Webb, M. D. (2017), "Wild bootstrap inference for wildly different cluster sizes", Journal of
Applied Econometrics 32(2). Webb, M. D. (2023), "Reworking wild bootstrap-based inference for
clustered errors", Canadian Journal of Economics 56(3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from scipy.stats import t as student_t

EVENT_KEYS = ("n_events", "n_clusters", "n_traded", "mean", "median", "win_rate", "t_stat", "p_value")
#: Fewest clusters for the cluster-bootstrap interval of the mean; below it the interval is the
#: cluster-robust t interval with G - 1 degrees of freedom (docs/metrics.md says why 30).
MIN_BOOTSTRAP_CLUSTERS = 30
CI_T = "cluster-robust t interval (CR1 standard error, Student t with G - 1 df)"
CI_BOOTSTRAP = "cluster bootstrap percentile interval (seeded)"
#: What the event-level p-value tests (the verdict's leading p-value).
P_QUESTION = "mean return per event = 0 (cluster-robust t, G - 1 df)"


def _one_hot(code: np.ndarray, n: int) -> np.ndarray:
    m = np.zeros((code.size, n))
    m[np.arange(code.size), code] = 1.0
    return m


def event_table(returns: np.ndarray, traded: np.ndarray, cluster: np.ndarray, n_clusters: int,
                ) -> tuple[pd.DataFrame, list[str | None]]:
    """Event-level statistics of every combination at once.

    Parameters
    ----------
    returns
        ``(C, W)`` episode returns (NaN: the run has no period).
    traded
        ``(C, W)`` bool: the episode has at least one fill.
    cluster
        ``(W,)`` cluster code of each window.

    Returns
    -------
    (table, reasons)
        ``table`` has one row per combination and the columns :data:`EVENT_KEYS`; ``reasons``
        one entry per row: None, or why some statistic is NaN.
    """
    valid = ~np.isnan(returns)
    n = valid.sum(axis=1)
    onehot = _one_hot(cluster, n_clusters)
    g = ((valid.astype(float) @ onehot) > 0).sum(axis=1)
    r0 = np.where(valid, returns, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = r0.sum(axis=1) / n
        e = np.where(valid, returns - mean[:, None], 0.0)
        s = e @ onehot
        var = g / (g - 1.0) * (s * s).sum(axis=1) / (n.astype(float) ** 2)
        t_stat = mean / np.sqrt(var)
    lo = np.where(valid, returns, np.inf).min(axis=1)
    hi = np.where(valid, returns, -np.inf).max(axis=1)
    equal = valid.any(axis=1) & (lo == hi)
    ok_t = (g >= 2) & ~equal & (var > 0) & np.isfinite(t_stat)
    t_stat = np.where(ok_t, t_stat, np.nan)
    p = np.where(ok_t, 2.0 * student_t.sf(np.abs(np.nan_to_num(t_stat)), np.maximum(g - 1, 1)), np.nan)
    with np.errstate(invalid="ignore"):
        median = np.nanmedian(np.where(valid, returns, np.nan), axis=1) if returns.shape[1] else np.full(len(n), np.nan)
    tv = traded & valid
    n_traded = tv.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        win = np.where(n_traded > 0, (tv & (returns > 0)).sum(axis=1) / n_traded, np.nan)
    table = pd.DataFrame({
        "n_events": n.astype(np.int64), "n_clusters": g.astype(np.int64), "n_traded": n_traded.astype(np.int64),
        "mean": np.where(n > 0, mean, np.nan), "median": median, "win_rate": win,
        "t_stat": t_stat, "p_value": p,
    })
    reasons: list[str | None] = []
    for k in range(len(n)):
        why = []
        if n[k] == 0:
            why.append("no episode with returns")
        elif g[k] < 2:
            why.append("t_stat: fewer than 2 clusters (all episodes in one cluster)")
        elif not ok_t[k]:
            why.append("t_stat: episode returns do not vary across clusters")
        if n_traded[k] == 0:
            why.append("win_rate: no episode traded")
        reasons.append("; ".join(why) or None)
    return table, reasons


@dataclass(frozen=True)
class ClusterMeanTest:
    """The cluster-robust t test of a mean (one regressor: the constant).

    Attributes
    ----------
    mean, se
        Mean of the values and its CR1 standard error ``sqrt(G / (G - 1) * sum_g S_g^2 / N^2)``,
        ``S_g`` the sum of the deviations from the mean in cluster g.
    t_stat, p_value, df
        ``mean / se``, two-sided Student t p-value with ``df = G - 1``.
    n, n_clusters
        Values and clusters used (NaN values left out).
    reason
        Why ``t_stat`` is NaN (None when it is defined).
    """

    mean: float
    se: float
    t_stat: float
    p_value: float
    df: int
    n: int
    n_clusters: int
    reason: str | None = None

    def interval(self, confidence: float) -> tuple[float, float]:
        """``mean +- t(df, (1 + confidence) / 2) * se``: the set of means the test does not reject at
        level ``1 - confidence`` (NaN bounds when the test is undefined)."""
        if self.reason is not None:
            return float("nan"), float("nan")
        half = float(student_t.ppf(0.5 + confidence / 2.0, self.df)) * self.se
        return self.mean - half, self.mean + half


def cluster_mean_test(values: np.ndarray, cluster: np.ndarray) -> ClusterMeanTest:
    """Cluster-robust (CR1) t test that the mean of ``values`` is 0, Student t with G - 1 df.

    The closed form of statsmodels ``OLS(values, 1).fit(cov_type="cluster", use_t=True)``: with K = 1
    regressor its small-sample factor ``G / (G - 1) * (N - 1) / (N - K)`` is ``G / (G - 1)``.
    """
    values = np.asarray(values, dtype=float)
    ok = ~np.isnan(values)
    r, codes = values[ok], np.unique(np.asarray(cluster)[ok], return_inverse=True)[1]
    n, g = int(r.size), int(codes.max()) + 1 if r.size else 0
    nan = float("nan")
    if n == 0:
        return ClusterMeanTest(nan, nan, nan, nan, 0, 0, 0, "no episode with returns")
    mean = float(r.mean())
    if g < 2:
        return ClusterMeanTest(mean, nan, nan, nan, 0, n, g, "fewer than 2 clusters (all episodes in one cluster)")
    if np.all(r == r[0]):
        return ClusterMeanTest(mean, nan, nan, nan, g - 1, n, g, "returns do not vary")
    s = np.bincount(codes, weights=r - mean, minlength=g)
    var = g / (g - 1.0) * float((s * s).sum()) / float(n) ** 2
    if not var > 0:
        return ClusterMeanTest(mean, nan, nan, nan, g - 1, n, g, "returns do not vary across clusters")
    se = var ** 0.5
    t = mean / se
    return ClusterMeanTest(mean, se, t, float(2.0 * student_t.sf(abs(t), g - 1)), g - 1, n, g)


def cluster_robust_t(returns: np.ndarray, cluster: np.ndarray) -> tuple[float, float, str | None]:
    """t-statistic and two-sided p-value of the mean, cluster-robust (:func:`cluster_mean_test`)."""
    test = cluster_mean_test(returns, cluster)
    return test.t_stat, test.p_value, test.reason


def mean_interval(returns: np.ndarray, cluster: np.ndarray, *, confidence: float, n_resamples: int,
                  seed: int) -> dict[str, Any]:
    """The interval of a mean with clusters as the units, by the rule of :data:`MIN_BOOTSTRAP_CLUSTERS`.

    Returns
    -------
    dict
        ``low``, ``high`` (NaN when undefined), ``method`` (:data:`CI_T` or :data:`CI_BOOTSTRAP`),
        ``df`` (G - 1 for the t interval, None for the bootstrap), ``n_clusters`` and ``reason``.
    """
    test = cluster_mean_test(returns, cluster)
    if test.n_clusters >= MIN_BOOTSTRAP_CLUSTERS:
        lo, hi, why = cluster_bootstrap_ci(returns, cluster, n_resamples, confidence, seed)
        return {"low": lo, "high": hi, "method": CI_BOOTSTRAP, "df": None, "n_clusters": test.n_clusters,
                "reason": why}
    lo, hi = test.interval(confidence)
    return {"low": lo, "high": hi, "method": CI_T, "df": test.df if test.reason is None else None,
            "n_clusters": test.n_clusters, "reason": test.reason}


def cluster_sign_test(cluster_means: np.ndarray) -> tuple[float, str | None]:
    """Exact two-sided binomial test (p = 1/2) on the signs of the clusters' mean returns."""
    m = cluster_means[np.isfinite(cluster_means)]
    m = m[m != 0]
    if m.size == 0:
        return float("nan"), "no cluster with a non-zero mean return"
    return float(binomtest(int((m > 0).sum()), int(m.size), 0.5).pvalue), None


def cluster_bootstrap_ci(returns: np.ndarray, cluster: np.ndarray, n_resamples: int, confidence: float,
                         seed: int) -> tuple[float, float, str | None]:
    """Percentile interval of the mean episode return, resampling whole clusters with replacement.

    Each resample draws G clusters (G = clusters with an episode return) and takes the mean over
    all episodes of the drawn clusters. The generator is seeded from ``(seed, G, episodes)``.
    """
    ok = ~np.isnan(returns)
    r, g = returns[ok], cluster[ok]
    codes, g = np.unique(g, return_inverse=True)
    n_g = codes.size
    if n_g < 2:
        return float("nan"), float("nan"), "fewer than 2 clusters to resample"
    sums = np.bincount(g, weights=r, minlength=n_g)
    counts = np.bincount(g, minlength=n_g).astype(float)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), n_g, int(r.size)]))
    draws = rng.integers(0, n_g, size=(n_resamples, n_g))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(means, [tail, 1.0 - tail])
    return float(lo), float(hi), None


def cluster_means(returns: np.ndarray, cluster: np.ndarray, n_clusters: int) -> np.ndarray:
    """``(C, G)`` equal-capital mean episode return per cluster (NaN: no episode return there)."""
    valid = ~np.isnan(returns)
    onehot = _one_hot(cluster, n_clusters)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.where(valid, returns, 0.0) @ onehot) / (valid.astype(float) @ onehot)


def event_level(returns: np.ndarray, traded: np.ndarray, cluster: np.ndarray, cluster_ids: list[str],
                *, n_resamples: int, confidence: float, seed: int,
                episodes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The EventLevel object of ``metrics.json`` for one combination (see docs/metrics.md).

    ``returns``/``traded`` are ``(W,)``; ``episodes`` (optional) are the per-episode records to
    embed (window, cluster, return, traded, entry/exit, shock).
    """
    table, reasons = event_table(returns[None, :], traded[None, :], cluster, len(cluster_ids))
    row = table.iloc[0]
    test = cluster_mean_test(returns, cluster)
    t_why = test.reason
    cm = cluster_means(returns[None, :], cluster, len(cluster_ids))[0]
    sign_p, sign_why = cluster_sign_test(cm)
    ci = mean_interval(returns, cluster, confidence=confidence, n_resamples=n_resamples, seed=seed)
    ci_why = ci["reason"]
    why = [w for w in (reasons[0] if reasons[0] and "win_rate" in reasons[0] else None,
                       t_why and f"t_stat: {t_why}", sign_why and f"sign_test_p: {sign_why}",
                       ci_why and f"ci: {ci_why}") if w]
    out: dict[str, Any] = {
        "n_events": int(row["n_events"]), "n_clusters": int(row["n_clusters"]), "n_traded": int(row["n_traded"]),
    }
    if episodes is not None:
        out["episodes"] = episodes
    out.update({
        "mean": _f(row["mean"]), "median": _f(row["median"]), "win_rate": _f(row["win_rate"]),
        "t_stat": _f(test.t_stat), "p_value": _f(test.p_value), "df": test.df if test.reason is None else None,
        "sign_test_p": _f(sign_p), "ci_low": _f(ci["low"]), "ci_high": _f(ci["high"]), "ci_confidence": confidence,
        "ci_method": ci["method"], "nan_reason": "; ".join(why) or None,
    })
    return out


SLOPE_METHOD = "OLS, CR1 cluster-robust standard errors, Student t with G - 1 df"


def shock_slope(shock: np.ndarray, returns: np.ndarray, cluster: np.ndarray, confidence: float) -> dict[str, Any]:
    """Episode return regressed on shock size: ``r_i = a + b s_i + u_i``, clusters independent.

    The slope's standard error is CR1 cluster-robust, ``V = (X'X)^-1 (sum_g X_g' u_g u_g' X_g)
    (X'X)^-1 * G / (G - 1) * (N - 1) / (N - 2)`` (statsmodels ``cov_type="cluster"``), and its test
    and interval use Student t with G - 1 degrees of freedom (not the normal: with 3 clusters the
    95% critical value is 4.30, not 1.96). Episodes without a shock size or a return are left out.

    Returns
    -------
    dict
        ``slope``, ``intercept`` (return per unit of shock, and at shock 0), ``se``, ``t_stat``,
        ``p_value`` (two-sided: is the slope different from 0?), ``df``, ``ci_low``, ``ci_high``,
        ``confidence``, ``n``, ``n_clusters``, ``method`` and ``nan_reason`` (null when all are
        defined; the slope alone is given with fewer than 3 clusters).
    """
    x, y = np.asarray(shock, dtype=float), np.asarray(returns, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y, g = x[ok], y[ok], np.unique(np.asarray(cluster)[ok], return_inverse=True)[1]
    n, n_g = int(x.size), int(g.max()) + 1 if x.size else 0
    out: dict[str, Any] = {k: None for k in ("slope", "intercept", "se", "t_stat", "p_value", "df", "ci_low",
                                             "ci_high")}
    out.update({"confidence": confidence, "n": n, "n_clusters": n_g, "method": SLOPE_METHOD, "nan_reason": None})
    if n < 3:
        out["nan_reason"] = f"fewer than 3 episodes with a shock size ({n})"
        return out
    if not np.ptp(x) > 0:
        out["nan_reason"] = "every episode has the same shock size"
        return out
    X = np.column_stack([np.ones(n), x])
    xtx_inv = np.linalg.inv(X.T @ X)
    beta = xtx_inv @ (X.T @ y)
    out["intercept"], out["slope"] = _f(beta[0]), _f(beta[1])
    if n_g < 3:
        out["nan_reason"] = f"no interval: the cluster-robust slope needs 3 clusters (has {n_g})"
        return out
    u = y - X @ beta
    score = np.zeros((n_g, 2))
    np.add.at(score, g, X * u[:, None])
    v = xtx_inv @ (score.T @ score) @ xtx_inv * (n_g / (n_g - 1.0)) * ((n - 1.0) / (n - 2.0))
    se = float(np.sqrt(v[1, 1])) if v[1, 1] > 0 else 0.0
    if not se > 0:
        out["nan_reason"] = "the line fits every episode exactly: no standard error"
        return out
    t = float(beta[1]) / se
    half = float(student_t.ppf(0.5 + confidence / 2.0, n_g - 1)) * se
    out.update({"se": se, "t_stat": _f(t), "p_value": _f(2.0 * student_t.sf(abs(t), n_g - 1)), "df": n_g - 1,
                "ci_low": _f(beta[1] - half), "ci_high": _f(beta[1] + half)})
    return out


def _f(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


# ---------------------------------------------------------------------------------------------
# Out of sample by event
# ---------------------------------------------------------------------------------------------

ScoreFn = Callable[[np.ndarray], np.ndarray]  # bool row mask -> one score per combination


def _choose(scores: np.ndarray) -> int | None:
    """Best column: highest finite score, the first on ties; None when no score is finite."""
    finite = np.isfinite(scores)
    if not finite.any():
        return None
    return int(np.argmax(np.where(finite, scores, -np.inf)))


def _summary(per: list[dict[str, Any]], in_sample: list[float], nan_reason: str | None) -> dict[str, Any]:
    got = [p["return"] is not None for p in per]
    vals = np.array([p["return"] for p, ok in zip(per, got) if ok], dtype=float)
    ins = np.array([v for v, ok in zip(in_sample, got) if ok], dtype=float)
    if per and vals.size == 0:
        nan_reason = "no held-out cluster has a result (no finite ranking metric on the training clusters)"
    mean = float(vals.mean()) if vals.size else float("nan")
    ins_mean = float(ins.mean()) if ins.size and np.isfinite(ins).all() else float("nan")
    if vals.size and not np.isfinite(ins_mean) and nan_reason is None:
        nan_reason = "in_sample_mean: no whole-sample best combination"
    return {
        "per_cluster": per, "mean": _f(mean), "median": _f(np.median(vals)) if vals.size else None,
        "win_rate": _f((vals > 0).mean()) if vals.size else None, "n_clusters": int(vals.size),
        "in_sample_mean": _f(ins_mean), "gap": _f(ins_mean - mean), "nan_reason": nan_reason,
    }


def out_of_sample(row_cluster: np.ndarray, cl_means: np.ndarray, cl_counts: np.ndarray,
                  cluster_ids: list[str], score: ScoreFn, best: int | None, params: Callable[[int], dict],
                  min_train: int) -> dict[str, Any]:
    """Leave-one-cluster-out and walk-forward parameter choice, scored on the held-out cluster.

    Parameters
    ----------
    row_cluster
        ``(T,)`` cluster code of each calendar-time pooled row (UTC period).
    cl_means, cl_counts
        ``(C, G)`` mean episode return per cluster and ``(G,)`` episodes per cluster.
    score
        The ranking metric on a subset of the pooled rows: ``(T,)`` bool mask -> ``(C,)`` scores,
        higher is better (the first combination wins a tie; NaN never wins).
    best
        The combination chosen on the whole sample (its cluster returns are the in-sample figure).
    params
        Combination -> its parameters (for the records).
    min_train
        Walk-forward: fewest earlier clusters to choose on.

    Returns
    -------
    dict
        ``{"loco": {...}, "walk_forward": {..., "min_train_clusters"}}``; each holds
        ``per_cluster`` records ``{cluster, chosen_combo, chosen_params, return, n_events}``, the
        mean, median and win rate of the held-out returns, ``in_sample_mean`` (the whole-sample
        best combination's returns on the same clusters), ``gap`` = in-sample minus
        out-of-sample mean, and ``nan_reason``.
    """
    n_g = len(cluster_ids)

    def held_out(g: int, train_rows: np.ndarray) -> tuple[dict[str, Any], float]:
        chosen = _choose(np.asarray(score(train_rows), dtype=float)) if train_rows.any() else None
        ret = float(cl_means[chosen, g]) if chosen is not None else float("nan")
        rec = {"cluster": cluster_ids[g], "chosen_combo": chosen,
               "chosen_params": params(chosen) if chosen is not None else None,
               "return": _f(ret), "n_events": int(cl_counts[g])}
        ins = float(cl_means[best, g]) if best is not None else float("nan")
        return rec, ins

    loco_per, loco_ins = [], []
    if n_g >= 2:
        for g in range(n_g):
            rec, ins = held_out(g, row_cluster != g)
            loco_per.append(rec)
            loco_ins.append(ins)
    loco = _summary(loco_per, loco_ins, None if n_g >= 2 else f"leave-one-cluster-out needs 2 clusters (has {n_g})")
    wf_per, wf_ins = [], []
    start = max(1, int(min_train))
    for g in range(start, n_g):
        rec, ins = held_out(g, row_cluster < g)
        wf_per.append(rec)
        wf_ins.append(ins)
    wf = _summary(wf_per, wf_ins, None if n_g > start else
                  f"walk-forward needs more than {start} training cluster(s) (has {n_g} clusters)")
    wf["min_train_clusters"] = start
    return {"loco": loco, "walk_forward": wf}
