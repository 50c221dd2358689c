"""Compiled kernels behind :func:`backtests.scoring.metrics.metrics_table` (plain arrays in and out).

Two layers:

* :func:`run_stats` / :func:`pair_stats`: one compiled pass per run column computes every sum,
  extreme, order statistic and running state the metrics need (rows :data:`STATS` /
  :data:`PAIR_STATS`);
* ``finish_<key>``, one per registered metric (:mod:`backtests.scoring.registry`): per-run
  quantities -> the metric and its NaN reasons, with the same numpy expressions as the metric's
  reference (panel) kernel in :mod:`backtests.scoring.metrics`, so the table is bit-identical to
  it (tests/scoring/test_scoring_kernels.py). :class:`Compiled` runs the pass once and each finish
  once (a finish may read another's result: Calmar reads annual return and max drawdown).

A new metric is a registry entry, its ``finish_<key>`` here (and, when it needs a quantity the
pass does not yet collect, a row of :data:`STATS` filled in :func:`run_stats`), and its test.

Bit-identical needs numpy's summation order: a reduction along axis 0 of a ``(T, N)`` array adds
row after row when ``N > 1`` but uses numpy's pairwise summation when ``N == 1`` (the reduced axis
is then contiguous). :func:`_sum` reproduces both. Elementwise steps inside the loops are the
ones numpy materializes as arrays before reducing (``c * c``, ``1 + r``, ...); numba does not fuse
them into fused multiply-adds (no fastmath).

Memory: no ``(T, N)`` temporaries; per column a few length-``T`` buffers.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from numba import njit, types

from backtests.engine.compiled import pairwise_block as _block
from backtests.engine.compiled import pairwise_sum as _pairwise
from backtests.scoring import registry
from backtests.scoring._nan import Kernel, bench_reasons, div, finalize, too_few
from backtests.scoring._panel import sorted_quantile

#: Rows of the array returned by :func:`run_stats` (per-run quantities, one column per run).
STATS = (
    "n", "final_wealth", "mean", "std", "constant", "m2", "m3", "m4", "drawdown", "duration",
    "downside", "omega_gains", "omega_losses", "gains", "losses", "positive", "nonzero", "drawdown_sq",
)
#: Rows of the array returned by :func:`pair_stats` (returns paired with their benchmark).
PAIR_STATS = (
    "n", "cov", "var", "bench_constant", "resid_sum", "active_mean", "active_std", "final_wealth",
    "bench_final_wealth",
)

_FLAGS = dict(cache=True, nogil=True, error_model="numpy")
# One compiled specialization for every layout (C, F, strided, broadcast, read-only), so a first
# run compiles (or loads from the cache) each kernel once.
_ARR = types.Array(types.float64, 2, "A", readonly=True)
_OUT = types.Array(types.float64, 2, "C")

#: Columns read together (row by row) so that a row-major ``(T, N)`` array is read sequentially.
TILE = 64


@njit(**_FLAGS)
def _sum(a, n, pairwise):
    """Sum of ``a[:n]`` in numpy's order for an axis-0 reduction (see module docstring)."""
    if pairwise:
        return 0.0 + _pairwise(a, n)
    s = 0.0
    for i in range(n):
        s += a[i]
    return s


@njit(**_FLAGS)
def _max(a, b):  # np.maximum: NaN propagates
    if a != a:
        return a
    if b != b:
        return b
    return a if a >= b else b


@njit(**_FLAGS)
def _min(a, b):  # np.minimum: NaN propagates
    if a != a:
        return a
    if b != b:
        return b
    return a if a <= b else b


@njit(**_FLAGS)
def _moments(v, n, pairwise, tmp):
    """(mean, sample std (ddof=1, NaN below 2, 0 when constant), constant, m2, m3, m4) of v[:n]."""
    for i in range(n):
        tmp[i] = v[i]
    mean = _sum(tmp, n, pairwise) / n
    hi, lo = -np.inf, np.inf
    for i in range(n):
        hi = _max(hi, v[i])
        lo = _min(lo, v[i])
    constant = n >= 1 and hi == lo
    for i in range(n):
        c = v[i] - mean
        tmp[i] = c * c
    s2 = _sum(tmp, n, pairwise)
    std = np.sqrt(s2 / (n - 1)) if n >= 2 else np.nan
    if constant and n >= 2:
        std = 0.0
    m2 = s2 / n
    for i in range(n):
        c = v[i] - mean
        c2 = c * c
        tmp[i] = c2 * c
    m3 = _sum(tmp, n, pairwise) / n
    for i in range(n):
        c = v[i] - mean
        c2 = c * c
        tmp[i] = c2 * c2
    m4 = _sum(tmp, n, pairwise) / n
    return mean, std, constant, m2, m3, m4


@njit(**_FLAGS)
def _load_tile(x, j0, tile):
    """Copy columns ``j0 .. j0 + TILE`` of ``x`` (any layout) into rows of ``tile``."""
    t_rows, n_cols = x.shape
    stop = min(j0 + TILE, n_cols)
    if x.strides[0] >= x.strides[1]:  # row-major: read along rows
        for t in range(t_rows):
            for j in range(j0, stop):
                tile[j - j0, t] = x[t, j]
    else:
        for j in range(j0, stop):
            for t in range(t_rows):
                tile[j - j0, t] = x[t, j]


@njit([_OUT(_ARR, types.float64)], **_FLAGS)
def run_stats(x, rf):
    """Per-run quantities of a ``(T, N)`` returns array (NaN = no observation); rows of :data:`STATS`.

    ``rf`` is the per-period risk-free return (also the Sortino threshold; the Omega threshold is
    ``rf`` plus 0). Sums follow numpy's axis-0 order. Quantiles are left to numpy's sort, several
    times faster than numba's on short columns.
    """
    t_rows, n_cols = x.shape
    pairwise = n_cols == 1
    out = np.full((len(STATS), n_cols), np.nan)
    v = np.empty(t_rows)
    tmp = np.empty(t_rows)
    tile = np.empty((TILE, t_rows))
    for j in range(n_cols):
        jj = j % TILE
        if jj == 0:
            _load_tile(x, j, tile)
        n = 0
        for t in range(t_rows):
            r = tile[jj, t]
            if r == r:
                v[n] = r
                n += 1
        out[0, j] = n
        wealth, peak, drawdown = 1.0, 1.0, np.inf
        run, longest = 0, 0
        for i in range(n):
            wealth = wealth * (1.0 + v[i]) if i else 1.0 + v[i]
            peak = _max(peak, _max(wealth, 1.0)) if i else _max(wealth, 1.0)
            drawdown = _min(drawdown, wealth / peak - 1.0) if i else wealth / peak - 1.0
            d = wealth / peak - 1.0
            tmp[i] = d * d
            if wealth < peak:
                run += 1
                longest = max(longest, run)
            else:
                run = 0
        out[17, j] = _sum(tmp, n, pairwise)  # squared drawdowns, for the ulcer index
        out[1, j] = wealth
        if n == 0 and t_rows > 0:
            drawdown = 0.0  # an empty column among others: flat wealth
        out[8, j] = drawdown
        out[9, j] = longest
        mean, std, constant, m2, m3, m4 = _moments(v, n, pairwise, tmp)
        out[2, j], out[3, j], out[4, j] = mean, std, constant
        out[5, j], out[6, j], out[7, j] = m2, m3, m4
        for i in range(n):
            d = _min(v[i] - rf, 0.0)
            tmp[i] = d * d
        out[10, j] = _sum(tmp, n, pairwise)
        for i in range(n):
            a = (v[i] - rf) - 0.0
            tmp[i] = a if a > 0 else 0.0
        out[11, j] = _sum(tmp, n, pairwise)
        for i in range(n):
            a = (v[i] - rf) - 0.0
            tmp[i] = a if a < 0 else 0.0
        out[12, j] = -_sum(tmp, n, pairwise)
        positive, nonzero = 0, 0
        for i in range(n):
            tmp[i] = v[i] if v[i] > 0 else 0.0
            positive += v[i] > 0
            nonzero += v[i] != 0
        out[13, j] = _sum(tmp, n, pairwise)
        for i in range(n):
            tmp[i] = v[i] if v[i] < 0 else 0.0
        out[14, j] = -_sum(tmp, n, pairwise)
        out[15, j], out[16, j] = positive, nonzero
    return out


@njit([_OUT(_ARR, _ARR, types.float64)], **_FLAGS)
def pair_stats(x, b, rf):
    """Per-run quantities of returns paired row by row with a benchmark; rows of :data:`PAIR_STATS`.

    ``x`` and ``b`` are ``(T, N)``; only rows where both are present count. ``resid_sum`` uses the
    beta ``cov / var``, NaN where beta is undefined (fewer than 2 rows, flat benchmark).
    """
    t_rows, n_cols = x.shape
    pairwise = n_cols == 1
    out = np.full((len(PAIR_STATS), n_cols), np.nan)
    v = np.empty(t_rows)
    w = np.empty(t_rows)
    tmp = np.empty(t_rows)
    act = np.empty(t_rows)
    tile_x = np.empty((TILE, t_rows))
    tile_b = np.empty((TILE, t_rows))
    for j in range(n_cols):
        jj = j % TILE
        if jj == 0:
            _load_tile(x, j, tile_x)
            _load_tile(b, j, tile_b)
        n = 0
        for t in range(t_rows):
            r, q = tile_x[jj, t], tile_b[jj, t]
            if r == r and q == q:
                v[n] = r
                w[n] = q
                n += 1
        out[0, j] = n
        for i in range(n):
            tmp[i] = w[i]
        bmean = _sum(tmp, n, pairwise) / n
        for i in range(n):
            tmp[i] = (w[i] - bmean) * v[i]
        cov = _sum(tmp, n, pairwise) / n
        for i in range(n):
            d = w[i] - bmean
            tmp[i] = d * d
        var = _sum(tmp, n, pairwise) / n
        hi, lo = -np.inf, np.inf
        for i in range(n):
            hi = _max(hi, w[i])
            lo = _min(lo, w[i])
        bconst = n >= 1 and hi == lo
        out[1, j], out[2, j], out[3, j] = cov, var, bconst
        beta = cov / var
        if n < 2 or var < 1e-30 or bconst or not np.isfinite(beta):
            beta = np.nan
        for i in range(n):
            tmp[i] = (v[i] - rf) - beta * (w[i] - rf)
        out[4, j] = _sum(tmp, n, pairwise)
        n_act = 0
        for i in range(n):
            a = v[i] - w[i]
            if a == a:  # inf - inf is no observation of the active return either
                act[n_act] = a
                n_act += 1
        mean, std, _, _, _, _ = _moments(act, n_act, pairwise, tmp)
        out[5, j], out[6, j] = mean, std
        wealth, bwealth = 1.0, 1.0
        for i in range(n):
            wealth = wealth * (1.0 + v[i]) if i else 1.0 + v[i]
            bwealth = bwealth * (1.0 + w[i]) if i else 1.0 + w[i]
        out[7, j], out[8, j] = wealth, bwealth
    return out


# ---------------------------------------------------------------------------------------------
# From per-run quantities to metrics: one finish per registered metric
# ---------------------------------------------------------------------------------------------


class Compiled:
    """One compiled pass over ``(T, N)`` returns and the registered metrics computed from it.

    ``compiled[key]`` is ``(values, reasons)`` of a registered metric (each computed once);
    :meth:`table` is every metric of ``metrics_table`` in registry order. ``ppy`` is one value per
    column, ``risk_free`` per period, ``bench`` an optional ``(T, N)`` benchmark row-aligned with
    ``values``. Memory: the returns (and benchmark) plus per-run vectors.
    """

    def __init__(self, values: np.ndarray, ppy: np.ndarray, risk_free: float, bench: np.ndarray | None) -> None:
        self.values, self.ppy, self.rf, self.bench = values, ppy, risk_free, bench
        self.st = dict(zip(STATS, run_stats(values, float(risk_free))))
        self.n = self.st["n"].astype(np.int64)
        self.few1, self.few2 = too_few(self.n, 1), too_few(self.n, 2)
        self._done: dict[str, Kernel] = {}

    def __getitem__(self, key: str) -> Kernel:
        if key not in self._done:
            self._done[key] = globals()[f"finish_{key}"](self)
        return self._done[key]

    def table(self) -> dict[str, Kernel]:
        """Every compiled metric in registry order (benchmark keys only with a benchmark)."""
        return {m.key: self[m.key] for m in registry.METRICS
                if m.compiled and (m.source == "returns" or self.bench is not None)}

    @cached_property
    def tails(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """5th and 95th percentiles and the CVaR tail mean (:func:`tail_stats`)."""
        return tail_stats(self.values, self.n)

    @cached_property
    def pair(self) -> dict[str, np.ndarray]:
        """:func:`pair_stats` of the returns and the benchmark."""
        return dict(zip(PAIR_STATS, pair_stats(self.values, self.bench, float(self.rf))))

    @cached_property
    def pair_n(self) -> np.ndarray:
        return self.pair["n"].astype(np.int64)


def tail_stats(values: np.ndarray, n: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, ...]:
    """5th and 95th percentiles and the CVaR tail mean of each column, sorting a chunk at a time.

    The same expressions as the panel kernels on the same sorted values (NaN sorts last, after a
    column's observations), with a ``(T, chunk)`` temporary instead of a ``(T, N)`` one.
    """
    cols = values.shape[1]
    lo, hi, cvar = (np.full(cols, np.nan) for _ in range(3))
    k = np.floor((n - 1) * 0.05).astype(np.intp) + 1
    for start in range(0, cols, chunk):
        sl = slice(start, min(start + chunk, cols))
        s = np.sort(values[:, sl], axis=0)
        nn = n[sl]
        lo[sl] = sorted_quantile(s, nn, 0.05)
        hi[sl] = sorted_quantile(s, nn, 0.95)
        ok = nn >= 1
        if ok.any():
            kk = k[sl]
            csum = np.cumsum(np.where(np.isnan(s[: kk[ok].max()]), 0.0, s[: kk[ok].max()]), axis=0)
            part = np.full(nn.shape[0], np.nan)
            part[ok] = csum[kk[ok] - 1, np.flatnonzero(ok)] / kk[ok]
            cvar[sl] = part
    return lo, hi, cvar


def finish_n_periods(c: Compiled) -> Kernel:
    return c.n.astype(float), []


def finish_total_return(c: Compiled) -> Kernel:
    return finalize(c.st["final_wealth"] - 1.0, [c.few1])  # final wealth 1 for a run without observations


def finish_annual_return(c: Compiled) -> Kernel:
    end = c.st["final_wealth"]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return finalize(np.power(np.maximum(end, 0.0), div(c.ppy, c.n)) - 1.0,
                        [c.few1, (end < 0, "terminal wealth is negative")])


def finish_annual_volatility(c: Compiled) -> Kernel:
    return finalize(c.st["std"] * np.sqrt(c.ppy), [c.few2])


def finish_sharpe(c: Compiled) -> Kernel:
    std = c.st["std"]
    return finalize(div(c.st["mean"] - c.rf, std) * np.sqrt(c.ppy), [c.few2, (std == 0, "zero volatility")])


def finish_sortino(c: Compiled) -> Kernel:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        downside = np.sqrt(div(c.st["downside"], c.n)) * np.sqrt(c.ppy)
        return finalize(div((c.st["mean"] - c.rf) * c.ppy, downside),
                        [c.few2, (downside == 0, "no returns below the threshold")])


def finish_calmar(c: Compiled) -> Kernel:
    ann, mdd = c["annual_return"], c["max_drawdown"]
    return finalize(div(ann[0], np.abs(mdd[0])), [*ann[1], (mdd[0] == 0, "no drawdown")])


def finish_omega(c: Compiled) -> Kernel:
    losses = c.st["omega_losses"]
    return finalize(div(c.st["omega_gains"], losses), [c.few1, (losses == 0, "no returns below the threshold")])


def finish_tail_ratio(c: Compiled) -> Kernel:
    lo, hi, _ = c.tails
    return finalize(div(np.abs(hi), np.abs(lo)), [c.few1, (lo == 0, "5th percentile is zero")])


def finish_max_drawdown(c: Compiled) -> Kernel:
    return finalize(np.minimum(c.st["drawdown"], 0.0), [c.few1])


def finish_max_drawdown_duration(c: Compiled) -> Kernel:
    return finalize(c.st["duration"], [c.few1])


def finish_value_at_risk(c: Compiled) -> Kernel:
    return finalize(c.tails[0], [c.few1])


def finish_conditional_value_at_risk(c: Compiled) -> Kernel:
    return finalize(c.tails[2], [c.few1])


def finish_ulcer_index(c: Compiled) -> Kernel:
    return finalize(np.sqrt(div(c.st["drawdown_sq"], c.n)), [c.few1])


def _flat(c: Compiled) -> np.ndarray:
    return c.st["constant"].astype(bool) | (c.st["m2"] == 0)


def finish_skew(c: Compiled) -> Kernel:
    return finalize(div(c.st["m3"], c.st["m2"] ** 1.5), [too_few(c.n, 3), (_flat(c), "zero volatility")])


def finish_kurtosis(c: Compiled) -> Kernel:
    return finalize(div(c.st["m4"], c.st["m2"] ** 2), [too_few(c.n, 4), (_flat(c), "zero volatility")])


def finish_excess_kurtosis(c: Compiled) -> Kernel:
    kurt = c["kurtosis"]
    return kurt[0] - 3.0, kurt[1]


def finish_hit_rate(c: Compiled) -> Kernel:
    nonzero = c.st["nonzero"]
    return finalize(div(c.st["positive"], nonzero), [c.few1, (nonzero == 0, "no non-zero returns")])


def finish_profit_factor(c: Compiled) -> Kernel:
    losses = c.st["losses"]
    return finalize(div(c.st["gains"], losses), [c.few1, (losses == 0, "no losing periods")])


def finish_beta(c: Compiled) -> Kernel:
    ps = c.pair
    flat_b = (ps["var"] < 1e-30) | ps["bench_constant"].astype(bool)
    return finalize(div(ps["cov"], ps["var"]), [*bench_reasons(c.pair_n, 2), (flat_b, "benchmark has zero variance")])


def finish_alpha(c: Compiled) -> Kernel:
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        alpha = np.power(c.pair["resid_sum"] / c.pair_n + 1.0, c.ppy) - 1.0
    return finalize(alpha, c["beta"][1])


def finish_information_ratio(c: Compiled) -> Kernel:
    a_std = c.pair["active_std"]
    return finalize(div(c.pair["active_mean"], a_std) * np.sqrt(c.ppy),
                    [*bench_reasons(c.pair_n, 2), (a_std == 0, "zero tracking error")])


def finish_excess_return(c: Compiled) -> Kernel:
    return finalize(c.pair["final_wealth"] - c.pair["bench_final_wealth"], bench_reasons(c.pair_n, 1))
