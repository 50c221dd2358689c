"""How much to trust a backtest's Sharpe ratio: PSR, DSR, PBO and bootstrap intervals.

Units: PSR, DSR and the expected maximum Sharpe work in **per-period (non-annualized)** Sharpe
ratios, ``mean(r) / std(r, ddof=1)`` of the per-period returns, because the formulas' standard
error ``sqrt((1 - skew SR + (kurt - 1) / 4 SR^2) / (n - 1))`` is stated for the Sharpe ratio of
the sampling frequency. Divide an annualized Sharpe ratio by ``sqrt(periods_per_year)`` first.
Kurtosis is **raw** (3 for a normal distribution), as :func:`backtests.scoring.metrics.kurtosis`.

References
----------
Bailey, D. H. and Lopez de Prado, M. (2012), "The Sharpe ratio efficient frontier", Journal of
Risk 15(2). Bailey, D. H. and Lopez de Prado, M. (2014), "The deflated Sharpe ratio", Journal of
Portfolio Management 40(5). Bailey, D. H., Borwein, J., Lopez de Prado, M. and Zhu, Q. J. (2015),
"The probability of backtest overfitting", Journal of Computational Finance 20(4).
Politis, D. N. and Romano, J. P. (1994), "The stationary bootstrap", JASA 89(428).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from backtests.scoring import metrics as _m
from backtests.scoring._arch import bootstrap_tools  # arch on first use, without matplotlib
from backtests.scoring import registry
from backtests.scoring._panel import Panel, Returns, periods_per_year_array, sorted_quantile

#: Euler-Mascheroni constant.
EULER_GAMMA = 0.5772156649015329


def _wrap_like(template: Any, values: np.ndarray) -> Any:
    if isinstance(template, pd.Series):
        return pd.Series(values, index=template.index, name=template.name)
    if values.ndim == 0:
        return float(values)
    return values


def probabilistic_sharpe_ratio(
    sr: Any,
    n_obs: Any,
    skew: Any,
    kurtosis: Any,
    sr_benchmark: Any = 0.0,
) -> Any:
    """Probability that the true Sharpe ratio exceeds ``sr_benchmark`` (Bailey & Lopez de Prado).

    ``PSR = Phi((sr - sr_benchmark) * sqrt(n_obs - 1) / sqrt(1 - skew * sr + (kurtosis - 1) / 4 * sr^2))``

    Parameters
    ----------
    sr : float or array-like
        Observed Sharpe ratio, **per period** (not annualized).
    n_obs : int or array-like
        Number of returns the Sharpe ratio was estimated from.
    skew : float or array-like
        Skewness of those returns.
    kurtosis : float or array-like
        **Raw** kurtosis of those returns (3 for normal returns, not excess kurtosis).
    sr_benchmark : float or array-like
        Sharpe ratio to beat, per period; 0 by default.

    Returns
    -------
    float, np.ndarray or pd.Series
        A probability in [0, 1] (broadcast over the inputs; a Series ``sr`` keeps its index).
        NaN where ``n_obs < 2``, an input is NaN, or the variance term is not positive.
    """
    a_sr, a_n, a_g3, a_g4, a_b = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (sr, n_obs, skew, kurtosis, sr_benchmark))
    )
    var = 1.0 - a_g3 * a_sr + (a_g4 - 1.0) / 4.0 * a_sr**2
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (a_sr - a_b) * np.sqrt(a_n - 1.0) / np.sqrt(var)
    out = norm.cdf(z)
    out = np.where((a_n >= 2) & (var > 0) & np.isfinite(z), out, np.nan)
    return _wrap_like(sr, out)


def expected_max_sharpe(n_trials: int, var_of_trial_sharpes: float) -> float:
    """Expected maximum of ``n_trials`` Sharpe ratios when every true Sharpe ratio is 0.

    ``E[max] = sqrt(V) * ((1 - gamma) * Phi^-1(1 - 1/N) + gamma * Phi^-1(1 - 1/(N e)))`` with
    ``gamma`` the Euler-Mascheroni constant (Bailey & Lopez de Prado 2014, eq. for SR_0).

    Parameters
    ----------
    n_trials : int
        Number of independent trials (parameter combinations actually backtested), >= 1.
    var_of_trial_sharpes : float
        Variance of the trials' Sharpe ratios, in the units the result should have (per period
        for use in PSR/DSR).

    Returns
    -------
    float
        0 for a single trial; NaN when the variance is NaN.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be at least 1, got {n_trials}")
    if var_of_trial_sharpes < 0:
        raise ValueError("var_of_trial_sharpes must be non-negative")
    if n_trials == 1:
        return 0.0
    n = float(n_trials)
    return float(
        np.sqrt(var_of_trial_sharpes)
        * (
            (1.0 - EULER_GAMMA) * norm.ppf(1.0 - 1.0 / n)
            + EULER_GAMMA * norm.ppf(1.0 - 1.0 / (n * np.e))
        )
    )


def trial_sharpe_stats(trial_sharpes: Any, periods_per_year: float = 1.0) -> tuple[int, float]:
    """Number of trials and variance (ddof=1) of their **per-period** Sharpe ratios.

    Every entry counts as a trial (it was run), but only finite Sharpe ratios enter the
    variance; NaN variance with fewer than 2 finite values.
    """
    s = np.asarray(trial_sharpes, dtype=float).ravel() / np.sqrt(periods_per_year)
    finite = s[np.isfinite(s)]
    var = float(np.var(finite, ddof=1)) if finite.size >= 2 else float("nan")
    return int(s.size), var


def deflated_sharpe_ratio(
    returns: Returns,
    trial_sharpes: Any,
    trial_periods_per_year: float = 1.0,
    n_trials: int | None = None,
) -> Any:
    """PSR of the chosen run against the Sharpe ratio expected from the best of all trials.

    ``DSR = PSR(sr, n, skew, kurtosis, sr_benchmark=expected_max_sharpe(N, var(trial SRs)))``.

    Parameters
    ----------
    returns : pd.Series, pd.DataFrame or np.ndarray
        Per-period returns of the chosen run (or of several, one column each); NaN rows skipped.
    trial_sharpes : array-like
        Sharpe ratios of **all** trials run in the search (the chosen one included).
    trial_periods_per_year : float
        Annualization factor the ``trial_sharpes`` carry; they are divided by its square root to
        get per-period Sharpe ratios. 1 (the default) means they already are per period.
    n_trials : int, optional
        Number of trials; defaults to ``len(trial_sharpes)``.

    Returns
    -------
    float, pd.Series or np.ndarray
        A probability; NaN when the run has fewer than 4 returns or zero volatility, or fewer
        than 2 finite trial Sharpe ratios.
    """
    count, var = trial_sharpe_stats(trial_sharpes, trial_periods_per_year)
    n_trials = count if n_trials is None else n_trials
    sr_star = expected_max_sharpe(n_trials, var) if np.isfinite(var) else np.nan
    p = Panel.from_returns(returns)
    sr = _m._k_sharpe(p, np.ones(p.n_columns))[0]
    g3 = _m._k_skew(p)[0]
    g4 = _m._k_kurtosis(p)[0]
    return p.wrap(np.atleast_1d(probabilistic_sharpe_ratio(sr, p.n, g3, g4, sr_star)))


# ---------------------------------------------------------------------------------------------
# Probability of backtest overfitting (CSCV)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PBOResult:
    """Outcome of combinatorially symmetric cross-validation.

    Attributes
    ----------
    pbo
        Fraction of splits whose in-sample best column ranked at or below the out-of-sample
        median (logit <= 0); NaN when no split was defined.
    logits
        ``ln(w / (1 - w))`` per split, ``w`` the relative out-of-sample rank of the in-sample
        best column (NaN for a split with no finite in-sample metric).
    n_splits
        ``C(n_blocks, n_blocks / 2)``.
    n_blocks
        Number of contiguous row blocks S.
    """

    pbo: float
    logits: np.ndarray
    n_splits: int
    n_blocks: int


MetricFn = Callable[[np.ndarray], np.ndarray]


def _metric_fn(metric: str | MetricFn) -> MetricFn:
    """A PBO selection metric: a callable, or a registered metric where higher is better that has
    a reference kernel (annualized ones per period: ranks do not depend on annualization)."""
    if callable(metric):
        return metric
    known = [m.key for m in registry.METRICS if m.source == "returns" and m.reference is not None
             and m.better == "higher"]
    if metric not in known:
        raise ValueError(f"unknown PBO metric {metric!r}; use one of {', '.join(sorted(known))} or a callable")
    m = registry.BY_KEY[metric]
    kernel = _m.reference_kernel(metric)
    return lambda x: kernel(Panel(x), *({"ppy": np.ones(x.shape[1]), "risk_free": 0.0}[a] for a in m.args))[0]


def _split_sharpes(
    x: np.ndarray, blocks: list[np.ndarray], splits: list[tuple[int, ...]]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-period Sharpe of every column in and out of sample, for all splits at once.

    Per-block counts, sums and sums of squares are added up per split. Ties must be exact: two
    columns with bit-identical returns on a split's rows get bit-identical scores, so the returns
    are centred on one scalar shared by every column (not on each column's own mean, which would
    make identical in-sample blocks differ in the last bits) and the block sums are added row by
    row in a fixed order (no BLAS product, whose summation order may differ between columns).
    """
    valid = ~np.isnan(x)
    centre = float(np.mean(x[valid])) if valid.any() else 0.0
    centre = centre if np.isfinite(centre) else 0.0
    xc = np.where(valid, x - centre, 0.0)
    cnt = np.stack([valid[b].sum(0) for b in blocks]).astype(float)
    s1 = np.stack([xc[b].sum(0) for b in blocks])
    s2 = np.stack([(xc[b] ** 2).sum(0) for b in blocks])
    all_blocks = set(range(len(blocks)))

    def sharpe(chosen: list[int]) -> np.ndarray:
        idx = np.asarray(sorted(chosen))
        n, a, b = cnt[idx].sum(0), s1[idx].sum(0), s2[idx].sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            var = (b - a * a / n) / (n - 1)
            sd = np.sqrt(np.where((n >= 2) & (var > 1e-12 * b / n), var, np.nan))
            return (centre + a / n) / sd

    is_scores = np.stack([sharpe(list(ins)) for ins in splits])
    oos_scores = np.stack([sharpe(sorted(all_blocks - set(ins))) for ins in splits])
    return is_scores, oos_scores


def _logits(is_scores: np.ndarray, oos_scores: np.ndarray) -> np.ndarray:
    """Logit of the OOS relative rank of each split's IS-best column (NaN: no finite IS score)."""
    n = is_scores.shape[1]
    defined = np.isfinite(is_scores).any(axis=1)
    best = np.argmax(np.where(np.isfinite(is_scores), is_scores, -np.inf), axis=1)
    oos = np.where(np.isfinite(oos_scores), oos_scores, -np.inf)
    chosen = oos[np.arange(oos.shape[0]), best][:, None]
    below = (oos < chosen).sum(axis=1)
    ties = (oos == chosen).sum(axis=1) - 1
    w = (1.0 + below + 0.5 * ties) / (n + 1.0)
    return np.where(defined, np.log(w / (1.0 - w)), np.nan)


def probability_of_backtest_overfitting(
    returns: pd.DataFrame | np.ndarray,
    n_blocks: int = 8,
    metric: str | MetricFn = "sharpe",
) -> PBOResult:
    """Probability of backtest overfitting by CSCV (Bailey, Borwein, Lopez de Prado, Zhu 2015).

    The T rows are cut into ``n_blocks`` contiguous blocks (sizes differ by at most one row).
    For each of the ``C(S, S/2)`` ways to pick half the blocks as in-sample (the rest,
    out-of-sample), the column with the best in-sample metric is taken (the first one on a tie),
    its rank r among the N out-of-sample metrics (1 = worst, ties averaged) gives
    ``w = r / (N + 1)`` and the logit ``ln(w / (1 - w))``. PBO is the fraction of splits with a
    logit <= 0.

    Parameters
    ----------
    returns : pd.DataFrame or np.ndarray
        T x N per-period returns, one column per trial (e.g. a parameter combination); NaN rows
        of a column are skipped by the metric.
    n_blocks : int
        S, even, 2 <= S <= T. 8 gives 70 splits.
    metric : str or callable
        ``"sharpe"`` (per-period; the default), ``"sortino"``, ``"total_return"``, ... or a
        function mapping a ``(t, N)`` array (NaN = missing) to N scores, higher = better. NaN
        scores rank below every finite score.

    Returns
    -------
    PBOResult

    Raises
    ------
    ValueError
        S odd or < 2, S > T, fewer than 2 columns, or not 2-D.
    """
    x = returns.to_numpy(dtype=float, na_value=np.nan) if isinstance(returns, pd.DataFrame) else np.asarray(returns, dtype=float)
    if x.ndim != 2:
        raise ValueError("PBO needs a 2-D T x N matrix of returns (one column per trial)")
    t, n = x.shape
    if n < 2:
        raise ValueError(f"PBO needs at least 2 columns (trials), got {n}")
    if n_blocks < 2 or n_blocks % 2:
        raise ValueError(f"n_blocks must be an even number >= 2, got {n_blocks}")
    if n_blocks > t:
        raise ValueError(f"n_blocks ({n_blocks}) exceeds the number of rows ({t})")
    blocks = np.array_split(np.arange(t), n_blocks)
    splits = list(itertools.combinations(range(n_blocks), n_blocks // 2))
    if isinstance(metric, str) and metric == "sharpe":
        is_scores, oos_scores = _split_sharpes(x, blocks, splits)
    else:
        score = _metric_fn(metric)
        is_scores = np.empty((len(splits), n))
        oos_scores = np.empty((len(splits), n))
        for k, ins in enumerate(splits):
            in_rows = np.concatenate([blocks[b] for b in ins])
            out_rows = np.concatenate([blocks[b] for b in range(n_blocks) if b not in ins])
            is_scores[k] = np.asarray(score(x[in_rows]), dtype=float)
            oos_scores[k] = np.asarray(score(x[out_rows]), dtype=float)
    logits = _logits(is_scores, oos_scores)
    finite = logits[np.isfinite(logits)]
    pbo = float(np.mean(finite <= 0)) if finite.size else float("nan")
    return PBOResult(pbo=pbo, logits=logits, n_splits=len(splits), n_blocks=n_blocks)


# ---------------------------------------------------------------------------------------------
# Stationary block bootstrap
# ---------------------------------------------------------------------------------------------

#: Fewest observations for a bootstrap interval (arch's optimal block length needs 8).
MIN_BOOTSTRAP_OBS = 8

BOOTSTRAP_COLUMNS = (
    "sharpe_lower",
    "sharpe_upper",
    "total_return_lower",
    "total_return_upper",
    "block_length",
    "n_periods",
)


def _block_lengths(p: Panel, cols: np.ndarray, n: int) -> np.ndarray:
    """arch's optimal stationary block length for columns of equal length n, rounded, >= 1."""
    optimal_block_length = bootstrap_tools()[1]
    data = p.x[:n, cols]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        b = optimal_block_length(data)["stationary"].to_numpy(dtype=float)
    b = np.where(np.isfinite(b), np.rint(b), 1.0)
    return np.clip(b, 1.0, float(n))


def _resample_counts(n: int, block: float, n_resamples: int, seed: int) -> np.ndarray:
    """How often each of n positions appears in each resample: an (R, n) matrix.

    Indices come from :class:`arch.bootstrap.StationaryBootstrap`, seeded from (seed, n, block)
    so that a run's interval depends only on its own data and the seed.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, n, int(block)]))
    bs = bootstrap_tools()[0](block, np.arange(n), seed=rng)
    idx = np.stack([pos[0] for pos, _ in bs.bootstrap(n_resamples)])
    flat = (np.arange(n_resamples)[:, None] * n + idx).ravel()
    return np.bincount(flat, minlength=n_resamples * n).reshape(n_resamples, n).astype(float)


def _interval(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column of an (R, G) matrix, NaN samples left out."""
    s = np.sort(samples, axis=0)
    k = np.isfinite(samples).sum(axis=0)
    tail = (1.0 - confidence) / 2.0
    return sorted_quantile(s, k, tail), sorted_quantile(s, k, 1.0 - tail)


def bootstrap_ci(
    returns: Returns,
    periods_per_year: Any,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    block_length: float | None = None,
) -> pd.DataFrame | pd.Series:
    """Stationary block bootstrap percentile intervals for the Sharpe ratio and total return.

    Resample indices come from :class:`arch.bootstrap.StationaryBootstrap` with the mean block
    length from :func:`arch.bootstrap.optimal_block_length` (``stationary`` column, rounded to
    a whole number of periods, at least 1). They are drawn once per distinct (length, block
    length) and applied to every column sharing them; since both statistics ignore the order of
    the returns, each resample enters only as a count per period, so the statistics of all
    columns are two matrix products.

    Parameters
    ----------
    returns : pd.Series, pd.DataFrame or np.ndarray
        Per-period simple returns; NaN rows skipped.
    periods_per_year : float or per-column values
        Annualization of the Sharpe ratio interval (as :func:`~backtests.scoring.metrics.sharpe`).
    n_resamples : int
        Bootstrap resamples per (length, block length) group.
    confidence : float
        Two-sided level, e.g. 0.95 for the 2.5 % and 97.5 % percentiles.
    seed : int
        Seeds a ``numpy`` Generator per group (from ``seed``, the length and the block length).
    block_length : float, optional
        Use this mean block length for every column instead of estimating it.

    Returns
    -------
    pd.DataFrame or pd.Series
        One row per column (a Series for 1-D input) with :data:`BOOTSTRAP_COLUMNS`. NaN bounds
        for columns with fewer than :data:`MIN_BOOTSTRAP_OBS` returns; NaN Sharpe bounds for
        constant returns.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be between 0 and 1")
    if n_resamples < 1:
        raise ValueError("n_resamples must be positive")
    p = Panel.from_returns(returns)
    ppy = periods_per_year_array(periods_per_year, p)
    out = np.full((p.n_columns, len(BOOTSTRAP_COLUMNS)), np.nan)
    out[:, 5] = p.n
    eligible = p.n >= MIN_BOOTSTRAP_OBS
    blocks = np.full(p.n_columns, np.nan)
    for n in np.unique(p.n[eligible]):
        cols = np.flatnonzero(eligible & (p.n == n))
        if block_length is not None:
            blocks[cols] = max(1.0, min(float(block_length), float(n)))
        else:
            blocks[cols] = _block_lengths(p, cols, int(n))
    out[:, 4] = blocks
    groups = sorted({(int(p.n[j]), float(blocks[j])) for j in np.flatnonzero(eligible)})
    for n, block in groups:
        cols = np.flatnonzero(eligible & (p.n == n) & (blocks == block))
        counts = _resample_counts(n, block, n_resamples, seed)
        x = p.x[:n, cols]
        mu = x.mean(axis=0)
        xc = x - mu
        s1 = counts @ xc
        s2 = counts @ (xc * xc)
        with np.errstate(invalid="ignore", divide="ignore"):
            var = (s2 - s1 * s1 / n) / (n - 1)
            sd = np.sqrt(np.where(var > 1e-12 * s2 / n, var, np.nan))  # a resample of one value
            sr = (mu + s1 / n) / sd * np.sqrt(ppy[cols])
        sr[:, p.constant[cols]] = np.nan
        growth = 1.0 + x
        with np.errstate(over="ignore"):
            if (growth > 0).all():
                tr = np.expm1(counts @ np.log(growth))
            else:  # a period lost 100 % or more: track zero wealth and the sign separately
                with np.errstate(divide="ignore"):
                    log_abs = np.where(growth == 0, 0.0, np.log(np.abs(growth)))
                zero_hits = counts @ (growth == 0).astype(float)
                sign = 1.0 - 2.0 * np.mod(counts @ (growth < 0).astype(float), 2.0)
                tr = np.where(zero_hits > 0, -1.0, sign * np.exp(counts @ log_abs) - 1.0)
        out[cols, 0], out[cols, 1] = _interval(sr, confidence)
        out[cols, 2], out[cols, 3] = _interval(tr, confidence)
    if p.kind in ("series", "array1"):
        return pd.Series(out[0], index=list(BOOTSTRAP_COLUMNS), name=p.name)
    index = p.labels if p.labels is not None else pd.RangeIndex(p.n_columns)
    return pd.DataFrame(out, index=index, columns=list(BOOTSTRAP_COLUMNS))
