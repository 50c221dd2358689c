"""Risk and performance metrics of per-period simple returns, each defined once.

Conventions shared by every function here (see ``docs/metrics.md`` for the full list):

* Input is per-period **simple** returns (0.01 = +1 %), not cumulative, as a ``pandas.Series``,
  ``pandas.DataFrame``, 1-D or 2-D ``numpy`` array. Output follows the input: Series -> float,
  DataFrame -> Series per column, 1-D array -> float, 2-D array -> 1-D array per column.
* NaN means "no observation" (runs have different lengths). A column's returns are its non-NaN
  values, in order; NaN rows are skipped, not treated as a zero return.
* A metric that a column cannot support (too few observations, zero volatility, no losses, ...)
  is NaN, never ``inf`` and never a silent 0. :func:`metrics_table` says why in its reasons map.
* ``periods_per_year`` is required wherever a result is annualized (252 for US equity sessions,
  365 for daily crypto bars, ...); it may be a scalar or one value per column.
* ``risk_free`` and thresholds are **per period**, not annual.
* Nothing loops over columns: 10,000 runs are scored with a handful of numpy reductions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from backtests.scoring import registry
from backtests.scoring._nan import NO_OBS, Kernel, Reasons, bench_reasons, div as _div, finalize as _finalize
from backtests.scoring._nan import too_few as _too_few
from backtests.scoring._panel import (
    UNDEFINED,
    Panel,
    Returns,
    _align_benchmark,
    _as_2d,
    periods_per_year_array,
    ppy_per_column,
)

# ---------------------------------------------------------------------------------------------
# Kernels: Panel (+ per-column arrays) -> (values, [(mask, reason), ...]), first reason wins.
# ---------------------------------------------------------------------------------------------


def _k_total_return(p: Panel) -> Kernel:
    return _finalize(p.final_wealth - 1.0, [_too_few(p.n, 1)])


def _k_annual_return(p: Panel, ppy: np.ndarray) -> Kernel:
    end = p.final_wealth
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        val = np.power(np.maximum(end, 0.0), _div(ppy, p.n)) - 1.0
    return _finalize(val, [_too_few(p.n, 1), (end < 0, "terminal wealth is negative")])


def _k_annual_volatility(p: Panel, ppy: np.ndarray) -> Kernel:
    return _finalize(p.std * np.sqrt(ppy), [_too_few(p.n, 2)])


def _k_sharpe(p: Panel, ppy: np.ndarray, risk_free: float = 0.0) -> Kernel:
    val = _div(p.mean - risk_free, p.std) * np.sqrt(ppy)
    return _finalize(val, [_too_few(p.n, 2), (p.std == 0, "zero volatility")])


def _k_sortino(p: Panel, ppy: np.ndarray, required_return: float = 0.0) -> Kernel:
    adj = p.zeroed - np.where(p.mask, required_return, 0.0)
    downside = np.sqrt(_div((np.minimum(adj, 0.0) ** 2).sum(0), p.n)) * np.sqrt(ppy)
    val = _div((p.mean - required_return) * ppy, downside)
    return _finalize(val, [_too_few(p.n, 2), (downside == 0, "no returns below the threshold")])


def _k_max_drawdown(p: Panel) -> Kernel:
    if p.x.shape[0] == 0:
        return _finalize(np.full(p.n_columns, np.nan), [_too_few(p.n, 1)])
    dd = (p.wealth / p.peak - 1.0).min(axis=0)
    return _finalize(np.minimum(dd, 0.0), [_too_few(p.n, 1)])


def _k_max_drawdown_duration(p: Panel) -> Kernel:
    if p.x.shape[0] == 0:
        return _finalize(np.full(p.n_columns, np.nan), [_too_few(p.n, 1)])
    under = (p.wealth < p.peak) & p.mask
    run = np.cumsum(under, axis=0)
    # subtract the count reached at the last row that was not under water
    reset = np.maximum.accumulate(np.where(under, 0, run), axis=0)
    longest = (run - reset).max(axis=0).astype(float)
    return _finalize(longest, [_too_few(p.n, 1)])


def _k_calmar(p: Panel, ppy: np.ndarray) -> Kernel:
    ann, ann_reasons = _k_annual_return(p, ppy)
    mdd, _ = _k_max_drawdown(p)
    val = _div(ann, np.abs(mdd))
    return _finalize(val, [*ann_reasons, (mdd == 0, "no drawdown")])


def _k_omega(p: Panel, risk_free: float = 0.0, threshold: float = 0.0) -> Kernel:
    adj = np.where(p.mask, p.x - risk_free - threshold, 0.0)
    gains = np.where(adj > 0, adj, 0.0).sum(0)
    losses = -np.where(adj < 0, adj, 0.0).sum(0)
    return _finalize(_div(gains, losses), [_too_few(p.n, 1), (losses == 0, "no returns below the threshold")])


def _k_profit_factor(p: Panel) -> Kernel:
    z = p.zeroed
    gains = np.where(z > 0, z, 0.0).sum(0)
    losses = -np.where(z < 0, z, 0.0).sum(0)
    return _finalize(_div(gains, losses), [_too_few(p.n, 1), (losses == 0, "no losing periods")])


def _k_tail_ratio(p: Panel) -> Kernel:
    lo = p.quantile(0.05)
    hi = p.quantile(0.95)
    return _finalize(_div(np.abs(hi), np.abs(lo)), [_too_few(p.n, 1), (lo == 0, "5th percentile is zero")])


def _k_value_at_risk(p: Panel, cutoff: float = 0.05) -> Kernel:
    return _finalize(p.quantile(cutoff), [_too_few(p.n, 1)])


def _k_conditional_value_at_risk(p: Panel, cutoff: float = 0.05) -> Kernel:
    k = np.floor((p.n - 1) * cutoff).astype(np.intp) + 1
    ok = p.n >= 1
    val = np.full(p.n_columns, np.nan)
    if ok.any():
        csum = np.cumsum(np.where(np.isnan(p.sorted), 0.0, p.sorted), axis=0)
        idx = np.flatnonzero(ok)
        val[ok] = csum[k[ok] - 1, idx] / k[ok]
    return _finalize(val, [_too_few(p.n, 1)])


def _k_skew(p: Panel) -> Kernel:
    m2, m3, _ = p.central_moments
    val = _div(m3, m2**1.5)
    return _finalize(val, [_too_few(p.n, 3), (p.constant | (m2 == 0), "zero volatility")])


def _k_kurtosis(p: Panel) -> Kernel:
    m2, _, m4 = p.central_moments
    val = _div(m4, m2**2)
    return _finalize(val, [_too_few(p.n, 4), (p.constant | (m2 == 0), "zero volatility")])


def _k_excess_kurtosis(p: Panel) -> Kernel:
    val, reasons = _k_kurtosis(p)
    return val - 3.0, reasons


def _k_hit_rate(p: Panel) -> Kernel:
    z = p.zeroed
    nonzero = (z != 0).sum(0)
    val = _div((z > 0).sum(0), nonzero)
    return _finalize(val, [_too_few(p.n, 1), (nonzero == 0, "no non-zero returns")])


def _bench_reasons(p: Panel, need: int) -> Reasons:
    return bench_reasons(p.n, need)


def _k_beta(p: Panel) -> tuple[np.ndarray, Reasons]:
    b = np.where(p.mask, p.bench, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        bmean = b.sum(0) / p.n
    bres = np.where(p.mask, p.bench - bmean, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = (bres * p.zeroed).sum(0) / p.n
        var = (bres**2).sum(0) / p.n
    flat = (var < 1e-30) | _constant(p.bench, p.mask, p.n)
    return _finalize(_div(cov, var), [*_bench_reasons(p, 2), (flat, "benchmark has zero variance")])


def _constant(x: np.ndarray, mask: np.ndarray, n: np.ndarray) -> np.ndarray:
    if x.shape[0] == 0:
        return np.zeros(x.shape[1], dtype=bool)
    return (np.where(mask, x, -np.inf).max(0) == np.where(mask, x, np.inf).min(0)) & (n >= 1)


def _k_alpha(p: Panel, ppy: np.ndarray, risk_free: float = 0.0) -> Kernel:
    beta, reasons = _k_beta(p)
    b = np.where(p.mask, p.bench, 0.0)
    resid = np.where(p.mask, (p.x - risk_free) - beta * (b - risk_free), 0.0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        val = np.power(resid.sum(0) / p.n + 1.0, ppy) - 1.0
    return _finalize(val, reasons)


def _k_information_ratio(p: Panel, ppy: np.ndarray) -> Kernel:
    active = Panel(np.where(p.mask, p.x - p.bench, np.nan))
    val = _div(active.mean, active.std) * np.sqrt(ppy)
    return _finalize(val, [*_bench_reasons(p, 2), (active.std == 0, "zero tracking error")])


def _k_excess_return(p: Panel) -> Kernel:
    bench = Panel(np.where(p.mask, p.bench, np.nan))
    val = p.final_wealth - bench.final_wealth
    return _finalize(val, _bench_reasons(p, 1))


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------


def _one(kernel: Callable[..., Kernel], returns: Returns, *args: Any) -> Any:
    p = Panel.from_returns(returns)
    return p.wrap(kernel(p, *args)[0])


def _one_ppy(kernel: Callable[..., Kernel], returns: Returns, ppy: Any, *args: Any) -> Any:
    p = Panel.from_returns(returns)
    return p.wrap(kernel(p, periods_per_year_array(ppy, p), *args)[0])


def total_return(returns: Returns) -> Any:
    """Compounded return over all observations: ``prod(1 + r) - 1``.

    Parameters
    ----------
    returns : pd.Series, pd.DataFrame or np.ndarray
        Per-period simple returns; NaN rows are skipped.

    Returns
    -------
    float, pd.Series or np.ndarray
        NaN for a column with no observations.
    """
    return _one(_k_total_return, returns)


def annual_return(returns: Returns, periods_per_year: Any) -> Any:
    """Compound annual growth rate: ``(1 + total_return) ** (periods_per_year / n) - 1``.

    ``n`` is the column's number of observations. NaN when there are none, or when compounded
    wealth ended below zero (a leveraged loss of more than 100 %). Same as empyrical's
    ``annual_return``/``cagr``.
    """
    return _one_ppy(_k_annual_return, returns, periods_per_year)


def annual_volatility(returns: Returns, periods_per_year: Any) -> Any:
    """Annualized sample standard deviation, ``std(r, ddof=1) * sqrt(periods_per_year)``.

    Needs at least 2 observations. Same as empyrical's ``annual_volatility``.
    """
    return _one_ppy(_k_annual_volatility, returns, periods_per_year)


def sharpe(returns: Returns, periods_per_year: Any, risk_free: float = 0.0) -> Any:
    """Annualized Sharpe ratio, ``mean(r - rf) / std(r, ddof=1) * sqrt(periods_per_year)``.

    Parameters
    ----------
    returns : pd.Series, pd.DataFrame or np.ndarray
        Per-period simple returns; NaN rows are skipped.
    periods_per_year : float or per-column values
        Annualization factor.
    risk_free : float
        Risk-free return **per period** (not annual), default 0.

    Returns
    -------
    float, pd.Series or np.ndarray
        NaN with fewer than 2 observations or zero volatility (empyrical also gives NaN there;
        it never returns ``inf`` since 0.7).
    """
    return _one_ppy(_k_sharpe, returns, periods_per_year, risk_free)


def sortino(returns: Returns, periods_per_year: Any, required_return: float = 0.0) -> Any:
    """Annualized Sortino ratio (empyrical's convention).

    ``mean(r - req) * ppy / (sqrt(mean(min(r - req, 0) ** 2)) * sqrt(ppy))``: the downside
    deviation averages the squared shortfalls over **all** observations, not only the losing
    ones. ``required_return`` is per period. Needs 2 observations; NaN (empyrical: ``inf``) when
    no return is below ``required_return``.
    """
    return _one_ppy(_k_sortino, returns, periods_per_year, required_return)


def calmar(returns: Returns, periods_per_year: Any) -> Any:
    """Calmar ratio, ``annual_return / |max_drawdown|``; NaN when there was no drawdown."""
    return _one_ppy(_k_calmar, returns, periods_per_year)


def omega(returns: Returns, risk_free: float = 0.0, threshold: float = 0.0) -> Any:
    """Omega ratio: sum of returns above the threshold over the absolute sum below it.

    ``threshold`` and ``risk_free`` are **per period** (empyrical's ``required_return`` is annual
    and converted with ``(1 + req) ** (1 / 252) - 1``; the two agree at 0). NaN when nothing is
    below the threshold. At threshold 0 and ``risk_free`` 0 it equals :func:`profit_factor`.
    """
    return _one(_k_omega, returns, risk_free, threshold)


def tail_ratio(returns: Returns) -> Any:
    """``|95th percentile| / |5th percentile|`` of the returns (numpy's linear percentile)."""
    return _one(_k_tail_ratio, returns)


def max_drawdown(returns: Returns) -> Any:
    """Largest peak-to-trough fall of compounded wealth, a number <= 0 (e.g. -0.25).

    Wealth starts at 1 before the first return, and that starting value counts as a peak, so
    a first-period loss is a drawdown. Same as empyrical's ``max_drawdown``.
    """
    return _one(_k_max_drawdown, returns)


def max_drawdown_duration(returns: Returns) -> Any:
    """Longest stretch, in periods (observations), that wealth spent below a previous peak.

    A stretch ends at the first period whose wealth is back at or above the peak. A drawdown
    still open at the end counts up to the last observation. 0 when wealth never fell.
    """
    return _one(_k_max_drawdown_duration, returns)


def value_at_risk(returns: Returns, cutoff: float = 0.05) -> Any:
    """Historical value at risk: the ``cutoff`` quantile of the returns (a negative number).

    numpy's linear-interpolation percentile, as in empyrical's ``value_at_risk``.
    """
    return _one(_k_value_at_risk, returns, cutoff)


def conditional_value_at_risk(returns: Returns, cutoff: float = 0.05) -> Any:
    """Historical expected shortfall: the mean of the ``floor((n - 1) * cutoff) + 1`` worst returns.

    Same tail size as empyrical's ``conditional_value_at_risk``; a negative number for a loss.
    """
    return _one(_k_conditional_value_at_risk, returns, cutoff)


def skew(returns: Returns) -> Any:
    """Population (biased) skewness ``m3 / m2 ** 1.5``, as ``scipy.stats.skew`` by default.

    Needs 3 observations; NaN when the returns are constant.
    """
    return _one(_k_skew, returns)


def kurtosis(returns: Returns) -> Any:
    """**Raw** (Pearson, not excess) kurtosis ``m4 / m2 ** 2``: 3 for a normal distribution.

    ``scipy.stats.kurtosis`` (and so empyrical's stats list) returns *excess* kurtosis by
    default; this is that value plus 3, which is what the PSR formula takes. Population
    (biased) moments; needs 4 observations; NaN when the returns are constant.
    """
    return _one(_k_kurtosis, returns)


def excess_kurtosis(returns: Returns) -> Any:
    """Excess kurtosis, :func:`kurtosis` minus 3 (0 for a normal distribution)."""
    return _one(_k_excess_kurtosis, returns)


def hit_rate(returns: Returns) -> Any:
    """Fraction of non-zero-return periods that were positive; NaN when all returns are zero.

    Flat periods (no position) are left out, so a strategy that trades twice and wins once
    has a hit rate of 0.5 whatever the length of the window.
    """
    return _one(_k_hit_rate, returns)


def profit_factor(returns: Returns) -> Any:
    """Sum of positive returns over the absolute sum of negative returns; NaN with no losses."""
    return _one(_k_profit_factor, returns)


def beta(returns: Returns, benchmark: Any) -> Any:
    """Beta to the benchmark, ``cov(r, b) / var(b)`` over the rows where both are present.

    ``benchmark`` is a Series/1-D array (the same benchmark for every column) or a frame/2-D
    array with one benchmark per column; pandas inputs are aligned by label. NaN when the two
    do not overlap in at least 2 rows or the benchmark is constant. Same as empyrical's ``beta``.
    """
    p = Panel.from_pair(returns, benchmark)
    return p.wrap(_k_beta(p)[0])


def alpha(returns: Returns, benchmark: Any, periods_per_year: Any, risk_free: float = 0.0) -> Any:
    """Annualized alpha, empyrical's convention: ``(1 + mean(r - rf - beta (b - rf))) ** ppy - 1``.

    Computed over the rows where returns and benchmark are both present; ``risk_free`` is per
    period.
    """
    p = Panel.from_pair(returns, benchmark)
    return p.wrap(_k_alpha(p, periods_per_year_array(periods_per_year, p), risk_free)[0])


def information_ratio(returns: Returns, benchmark: Any, periods_per_year: Any) -> Any:
    """Annualized information ratio, ``mean(r - b) / std(r - b, ddof=1) * sqrt(ppy)``.

    empyrical's ``excess_sharpe`` is the same ratio **without** the ``sqrt(ppy)``. NaN when the
    tracking error is zero or fewer than 2 rows overlap.
    """
    p = Panel.from_pair(returns, benchmark)
    return p.wrap(_k_information_ratio(p, periods_per_year_array(periods_per_year, p))[0])


def excess_return(returns: Returns, benchmark: Any) -> Any:
    """Total return minus the benchmark's total return, both over the rows where both exist."""
    p = Panel.from_pair(returns, benchmark)
    return p.wrap(_k_excess_return(p)[0])


# ---------------------------------------------------------------------------------------------
# The table: one column per registered metric (backtests.scoring.registry)
# ---------------------------------------------------------------------------------------------

#: Metric keys of :func:`metrics_table`, in column order (benchmark keys only with a benchmark).
METRIC_KEYS: tuple[str, ...] = registry.METRIC_KEYS
BENCHMARK_KEYS: tuple[str, ...] = registry.BENCHMARK_KEYS


def _k_n_periods(p: Panel) -> Kernel:
    return p.n.astype(float), []


def _reference(m: registry.Metric, p: Panel, ppy: np.ndarray, risk_free: float) -> Kernel:
    """A registered metric by its reference panel kernel, with the arguments the registry names."""
    args = {"ppy": ppy, "risk_free": risk_free}
    return globals()[m.reference](p, *(args[a] for a in m.args))  # type: ignore[index]


def _table_kernels(p: Panel, ppy: np.ndarray, risk_free: float, pb: Panel | None = None,
                   compiled: Any = None) -> dict[str, Kernel]:
    """Every registered metric of ``metrics_table`` by its reference definition (``pb``: the
    returns paired with their benchmark, for the benchmark keys); a metric whose only definition
    is its compiled kernel is read from ``compiled`` (a :class:`~backtests.scoring.kernels.Compiled`)."""
    out: dict[str, Kernel] = {}
    for m in registry.METRICS:
        if not m.compiled or (m.source == "benchmark" and pb is None):
            continue
        if m.reference is None:
            out[m.key] = compiled[m.key]
        else:
            out[m.key] = _reference(m, pb if m.source == "benchmark" else p, ppy, risk_free)
    return out


def _compiled_table(values: np.ndarray, ppy: np.ndarray, risk_free: float,
                    bench: np.ndarray | None) -> dict[str, Kernel]:
    """:func:`_table_kernels` from one compiled pass over ``(T, N)`` returns (bit for bit the same)."""
    from backtests.scoring.kernels import Compiled

    return Compiled(values, ppy, risk_free, bench).table()


def _collect_reasons(
    labels: pd.Index, results: dict[str, Kernel]
) -> dict[Any, dict[str, str]]:
    reasons: dict[Any, dict[str, str]] = {}
    labels = labels.tolist()  # one conversion: indexing a pandas Index per NaN costs microseconds each
    for key, (values, flags) in results.items():
        nan_cols = np.flatnonzero(np.isnan(values))
        if nan_cols.size == 0:
            continue
        why = np.full(values.shape[0], UNDEFINED, dtype=object)
        assigned = np.zeros(values.shape[0], dtype=bool)
        for mask, message in flags:
            new = mask & ~assigned
            why[new] = message
            assigned |= new
        for j in nan_cols:
            reasons.setdefault(labels[j], {})[key] = why[j]
    return reasons


def metrics_table(
    returns: pd.DataFrame,
    periods_per_year: float | pd.Series,
    benchmark: pd.DataFrame | pd.Series | None = None,
    risk_free: float = 0.0,
    *,
    compiled: bool = True,
) -> tuple[pd.DataFrame, dict[str, dict[str, str]]]:
    """Every metric for every run, and why each NaN is NaN.

    Parameters
    ----------
    returns : pd.DataFrame
        Per-period simple returns, one column per run (column label = run id), NaN where a run
        has no bar. Each run is scored on its own non-NaN rows.
    periods_per_year : float or pd.Series
        Annualization factor, one for all runs or a Series indexed by run id.
    benchmark : pd.Series or pd.DataFrame, optional
        One benchmark Series on the same index, or a DataFrame with the same columns as
        ``returns`` (one benchmark per run). Benchmark-relative metrics use only the rows where
        the run and its benchmark are both present.
    risk_free : float
        Risk-free return per period (used by sharpe, sortino, omega and alpha), default 0.
    compiled : bool
        Compute the table in one compiled pass per run (:mod:`backtests.scoring.kernels`, memory:
        the returns plus per-run vectors) rather than with the panel reductions that define each
        metric; the results are the same bit for bit. (A metric whose only definition is its
        compiled kernel, see :mod:`backtests.scoring.registry`, comes from it either way.)

    Returns
    -------
    table : pd.DataFrame
        Rows = run ids (in column order of ``returns``), columns = :data:`METRIC_KEYS`
        (+ :data:`BENCHMARK_KEYS` when a benchmark is given).
    reasons : dict
        ``{run_id: {metric_key: reason}}`` for every NaN in ``table``; runs without NaN are
        absent.
    """
    if isinstance(returns, pd.Series):
        returns = returns.to_frame()
    if not isinstance(returns, pd.DataFrame):
        raise TypeError("metrics_table takes a DataFrame of returns (one column per run)")
    if not returns.columns.is_unique:
        raise ValueError("returns has duplicate column labels; run ids must be unique")
    if compiled:
        values = returns.to_numpy(copy=False)  # a view of a float64 frame (no second panel)
        if values.dtype != np.float64:
            values = returns.to_numpy(dtype=float, na_value=np.nan)
        ppy = ppy_per_column(periods_per_year, values.shape[1], returns.columns)
        bench = None if benchmark is None else _align_benchmark(returns, benchmark, values.shape)
        results = _compiled_table(values, ppy, risk_free, bench)
        n = results["n_periods"][0]
    else:  # the reference: numpy reductions on compacted panels (tests compare the two)
        p = Panel.from_returns(returns)
        ppy = periods_per_year_array(periods_per_year, p)
        pb = None if benchmark is None else Panel.from_pair(returns, benchmark)
        only_compiled = None
        if any(m.compiled and m.reference is None for m in registry.METRICS):
            from backtests.scoring.kernels import Compiled

            values = returns.to_numpy(dtype=float, na_value=np.nan)
            only_compiled = Compiled(values, ppy, risk_free,
                                     None if benchmark is None else _align_benchmark(returns, benchmark, values.shape))
        results = _table_kernels(p, ppy, risk_free, pb, only_compiled)
        n = p.n
    if benchmark is not None:
        for key in BENCHMARK_KEYS:  # an empty run is "no observations", not a benchmark problem
            values, flags = results[key]
            results[key] = (values, [(n == 0, NO_OBS), *flags])
    table = pd.DataFrame({k: v for k, (v, _) in results.items()}, index=returns.columns)
    table["n_periods"] = table["n_periods"].astype(np.int64)
    return table, _collect_reasons(returns.columns, results)


def reference_kernel(key: str) -> Callable[..., Kernel]:
    """The reference panel kernel of a registered metric (``kernel(panel, *args)``, see
    :attr:`~backtests.scoring.registry.Metric.args`); KeyError for a key without one."""
    m = registry.BY_KEY[key]
    if m.reference is None:
        raise KeyError(key)
    return globals()[m.reference]


# ---------------------------------------------------------------------------------------------
# Public functions of metrics defined only by their compiled kernel (built from the registry)
# ---------------------------------------------------------------------------------------------


def _compiled_function(m: registry.Metric) -> Callable[..., Any]:
    """``scoring.<key>(returns[, benchmark][, periods_per_year][, risk_free])`` for a metric whose
    only definition is its compiled kernel; same shapes in and out as every public metric."""

    def fn(returns: Returns, *args: Any, **kwargs: Any) -> Any:
        names = (["benchmark"] if m.source == "benchmark" else []) + [
            {"ppy": "periods_per_year", "risk_free": "risk_free"}[a] for a in m.args]
        given = dict(zip(names, args))
        given.update(kwargs)
        unknown = set(given) - set(names)
        if unknown or len(args) > len(names):
            raise TypeError(f"{m.key}() takes (returns, {', '.join(names)})" if names else f"{m.key}() takes (returns)")
        arr, kind, labels, _ = _as_2d(returns)
        ppy = ppy_per_column(given.get("periods_per_year", 1.0), arr.shape[1], labels)
        bench = None
        if m.source == "benchmark":
            bench = _align_benchmark(returns, given["benchmark"], arr.shape)
        from backtests.scoring.kernels import Compiled

        values = Compiled(np.ascontiguousarray(arr), ppy, float(given.get("risk_free", 0.0)), bench)[m.key][0]
        if kind in ("series", "array1"):
            return float(values[0])
        return pd.Series(values, index=labels) if kind == "frame" else values

    fn.__name__ = fn.__qualname__ = m.key
    fn.__doc__ = (f"{m.label}: {m.definition}.\n\nUnit: {m.unit}"
                  f"{' (annualized)' if m.annualized else ''}. Defined when: {m.needs}. Per-period simple "
                  "returns in (NaN rows skipped); shapes as every metric here (docs/metrics.md). "
                  "Declared in backtests/scoring/registry.py, computed by its compiled kernel.")
    return fn


def __getattr__(name: str) -> Any:
    m = registry.BY_KEY.get(name)
    if m is not None and m.compiled and m.reference is None:
        fn = _compiled_function(m)
        globals()[name] = fn
        return fn
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
