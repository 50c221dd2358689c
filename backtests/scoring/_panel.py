"""Turn returns in any accepted shape into one column-major panel, and turn results back.

Every scoring function accepts a ``pandas.Series``, a ``pandas.DataFrame``, a 1-D or a 2-D
``numpy`` array of per-period simple returns. Internally it works on a :class:`Panel`: a float
array of shape ``(T, N)`` in which each column's observations (its non-NaN values, in their
original order) have been moved to the top and the rows below them are NaN padding. Runs of
different lengths can then be scored together with plain numpy reductions and no loop over
columns. Results are handed back in the type that came in (empyrical's convention):

=================  ===================================
input              output of a scalar metric
=================  ===================================
Series             float
DataFrame          Series indexed by the columns
1-D ndarray        float
2-D ndarray        1-D ndarray, one value per column
=================  ===================================
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

Kind = Literal["series", "frame", "array1", "array2"]
Returns = pd.Series | pd.DataFrame | np.ndarray

#: Reason attached to a NaN that has no more specific cause.
UNDEFINED = "undefined (non-finite result)"


def _compact(values: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move each column's non-missing values to the top (stable) and return them with counts."""
    n = (~missing).sum(axis=0)
    if missing.any():
        order = np.argsort(missing, axis=0, kind="stable")
        values = np.take_along_axis(np.where(missing, np.nan, values), order, axis=0)
    rows = int(n.max()) if n.size else 0
    return np.ascontiguousarray(values[:rows]), n


def _as_2d(returns: Any) -> tuple[np.ndarray, Kind, pd.Index | None, Hashable]:
    if isinstance(returns, pd.DataFrame):
        if not returns.columns.is_unique:
            raise ValueError("returns has duplicate column labels; run ids must be unique")
        return returns.to_numpy(dtype=float, na_value=np.nan), "frame", returns.columns, None
    if isinstance(returns, pd.Series):
        arr = returns.to_numpy(dtype=float, na_value=np.nan)
        return arr[:, None], "series", None, returns.name
    arr = np.asarray(returns, dtype=float)
    if arr.ndim == 1:
        return arr[:, None], "array1", None, None
    if arr.ndim == 2:
        return arr, "array2", None, None
    raise ValueError(f"returns must be 1-D or 2-D, got an array with {arr.ndim} dimensions")


class Panel:
    """Returns of N runs, each compacted to the top of its column.

    Parameters
    ----------
    values
        ``(T, N)`` float array; NaN marks "no observation".
    kind, labels, name
        How to hand results back (see :meth:`wrap`).
    bench
        Optional ``(T, N)`` benchmark aligned row by row with ``values``; when given, only
        rows where both are present are kept, in both arrays.
    """

    def __init__(
        self,
        values: np.ndarray,
        kind: Kind = "array2",
        labels: pd.Index | None = None,
        name: Hashable = None,
        bench: np.ndarray | None = None,
    ) -> None:
        values = np.asarray(values, dtype=float)
        missing = np.isnan(values)
        if bench is not None:
            missing = missing | np.isnan(bench)
            self.bench, _ = _compact(np.asarray(bench, dtype=float), missing)
        else:
            self.bench = None
        self.x, self.n = _compact(values, missing)
        self.kind = kind
        self.labels = labels
        self.name = name

    @classmethod
    def from_returns(cls, returns: Any) -> Panel:
        arr, kind, labels, name = _as_2d(returns)
        return cls(arr, kind, labels, name)

    @classmethod
    def from_pair(cls, returns: Any, benchmark: Any) -> Panel:
        """Pair returns with a benchmark: aligned by label for pandas, by position for arrays."""
        arr, kind, labels, name = _as_2d(returns)
        bench = _align_benchmark(returns, benchmark, arr.shape)
        return cls(arr, kind, labels, name, bench=bench)

    @property
    def n_columns(self) -> int:
        return self.x.shape[1]

    # -- cached building blocks shared by the metrics -------------------------------------------

    @cached_property
    def mask(self) -> np.ndarray:
        """True where a row holds an observation of its column."""
        return np.arange(self.x.shape[0])[:, None] < self.n[None, :]

    @cached_property
    def zeroed(self) -> np.ndarray:
        """Observations with the padding replaced by 0 (a neutral return)."""
        return np.where(self.mask, self.x, 0.0)

    @cached_property
    def mean(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.zeroed.sum(axis=0) / self.n

    @cached_property
    def std(self) -> np.ndarray:
        """Sample standard deviation (ddof=1); exactly 0 when every observation is equal."""
        centred = np.where(self.mask, self.x - self.mean, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            std = np.sqrt((centred**2).sum(axis=0) / (self.n - 1))
        std = np.where(self.n >= 2, std, np.nan)
        return np.where(self.constant & (self.n >= 2), 0.0, std)

    @cached_property
    def constant(self) -> np.ndarray:
        """True for columns whose observations are all equal (at least one observation)."""
        if self.x.shape[0] == 0:
            return np.zeros(self.n_columns, dtype=bool)
        hi = np.where(self.mask, self.x, -np.inf).max(axis=0)
        lo = np.where(self.mask, self.x, np.inf).min(axis=0)
        return (hi == lo) & (self.n >= 1)

    @cached_property
    def central_moments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Population (biased, divide-by-n) central moments m2, m3, m4."""
        c = np.where(self.mask, self.x - self.mean, 0.0)
        c2 = c * c
        with np.errstate(invalid="ignore", divide="ignore"):
            return c2.sum(0) / self.n, (c2 * c).sum(0) / self.n, (c2 * c2).sum(0) / self.n

    @cached_property
    def wealth(self) -> np.ndarray:
        """Compounded wealth after each row, starting from 1 (flat over the padding)."""
        return np.cumprod(1.0 + self.zeroed, axis=0)

    @cached_property
    def peak(self) -> np.ndarray:
        """Running maximum of wealth, the starting wealth of 1 included."""
        return np.maximum.accumulate(np.maximum(self.wealth, 1.0), axis=0)

    @cached_property
    def final_wealth(self) -> np.ndarray:
        if self.x.shape[0] == 0:
            return np.ones(self.n_columns)
        return self.wealth[-1]

    @cached_property
    def sorted(self) -> np.ndarray:
        """Each column's observations in ascending order (padding NaN sorts last)."""
        return np.sort(self.x, axis=0)

    def quantile(self, q: float) -> np.ndarray:
        """Per-column quantile, numpy's default ``linear`` method; NaN for empty columns."""
        return sorted_quantile(self.sorted, self.n, q)

    def wrap(self, values: np.ndarray) -> Any:
        """Hand one value per column back in the type of the input."""
        values = np.asarray(values, dtype=float)
        if self.kind in ("series", "array1"):
            return float(values[0])
        if self.kind == "frame":
            return pd.Series(values, index=self.labels)
        return values


def sorted_quantile(s: np.ndarray, n: np.ndarray, q: float) -> np.ndarray:
    """Linear-interpolation quantile of columns sorted ascending with ``n`` leading values.

    Reproduces :func:`numpy.percentile`'s default method bit for bit (including numpy's
    symmetric lerp) without ``apply_along_axis``.
    """
    cols = s.shape[1]
    out = np.full(cols, np.nan)
    ok = n >= 1
    if not ok.any():
        return out
    pos = (n[ok] - 1) * q
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, n[ok] - 1)
    t = pos - lo
    idx = np.flatnonzero(ok)
    a = s[lo, idx]
    b = s[hi, idx]
    diff = b - a
    val = a + diff * t
    upper = t >= 0.5
    val[upper] = (b - diff * (1 - t))[upper]
    out[ok] = val
    return out


def _align_benchmark(returns: Any, benchmark: Any, shape: tuple[int, int]) -> np.ndarray:
    """Benchmark as a ``(T, N)`` array row-aligned with ``returns``."""
    t, n = shape
    if isinstance(returns, pd.Series | pd.DataFrame):
        index = returns.index
        if isinstance(benchmark, pd.DataFrame):
            if isinstance(returns, pd.Series):
                if benchmark.shape[1] != 1:
                    raise ValueError("a Series of returns takes a Series (or one-column) benchmark")
                benchmark = benchmark.iloc[:, 0]
            else:
                missing = returns.columns.difference(benchmark.columns)
                if len(missing):
                    raise ValueError(
                        "benchmark DataFrame must have the same columns as returns; missing "
                        + ", ".join(map(str, missing[:5]))
                    )
                b = benchmark.reindex(index=index, columns=returns.columns)
                return b.to_numpy(dtype=float, na_value=np.nan)
        if isinstance(benchmark, pd.Series):
            b = benchmark.reindex(index).to_numpy(dtype=float, na_value=np.nan)
            return np.broadcast_to(b[:, None], (t, n))
        benchmark = np.asarray(benchmark, dtype=float)
    b = np.asarray(benchmark, dtype=float)
    if b.ndim == 1:
        if b.shape[0] != t:
            raise ValueError(f"benchmark has {b.shape[0]} rows, returns have {t}")
        return np.broadcast_to(b[:, None], (t, n))
    if b.shape != (t, n):
        raise ValueError(f"benchmark shape {b.shape} does not match returns shape {(t, n)}")
    return b


def periods_per_year_array(periods_per_year: Any, panel: Panel) -> np.ndarray:
    """One positive annualization factor per column (a scalar, a Series by label or an array)."""
    return ppy_per_column(periods_per_year, panel.n_columns, panel.labels)


def ppy_per_column(periods_per_year: Any, n: int, labels: pd.Index | None) -> np.ndarray:
    """:func:`periods_per_year_array` for ``n`` columns labelled ``labels`` (None: by position)."""
    if isinstance(periods_per_year, pd.Series):
        if labels is None:
            if len(periods_per_year) != n:
                raise ValueError("periods_per_year has the wrong length")
            ppy = periods_per_year.to_numpy(dtype=float)
        else:
            missing = labels.difference(periods_per_year.index)
            if len(missing):
                raise ValueError(
                    "periods_per_year has no value for run(s) " + ", ".join(map(str, missing[:5]))
                )
            ppy = periods_per_year.reindex(labels).to_numpy(dtype=float)
    else:
        ppy = np.asarray(periods_per_year, dtype=float)
        if ppy.ndim == 0:
            ppy = np.full(n, float(ppy))
        elif ppy.shape != (n,):
            raise ValueError(f"periods_per_year must be a scalar or have one value per column ({n})")
    if not np.all(np.isfinite(ppy) & (ppy > 0)):
        raise ValueError("periods_per_year must be finite and positive")
    return ppy
