"""Short windows, all-zero returns, NaN returns, non-overlapping benchmarks: NaN with a reason,
or a clear ValueError for programming misuse; never a crash, inf or silent 0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests import scoring as sc

PPY = 252


def _table(df: pd.DataFrame, **kw):
    table, reasons = sc.metrics_table(df, PPY, **kw)
    values = table.to_numpy(dtype=float)
    assert not np.isinf(values).any()
    # every NaN has a reason, and every reason belongs to a NaN
    for run in table.index:
        nan_keys = {k for k in table.columns if np.isnan(table.loc[run, k])}
        assert nan_keys == set(reasons.get(run, {})), run
    return table, reasons


def test_all_zero_returns():
    df = pd.DataFrame({"flat": np.zeros(30)})
    table, reasons = _table(df)
    row, why = table.loc["flat"], reasons["flat"]
    assert row["total_return"] == 0 and row["annual_volatility"] == 0 and row["max_drawdown"] == 0
    assert np.isnan(row["sharpe"]) and why["sharpe"] == "zero volatility"
    assert why["hit_rate"] == "no non-zero returns"
    assert why["profit_factor"] == "no losing periods"
    assert why["calmar"] == "no drawdown"
    assert why["skew"] == "zero volatility" and why["kurtosis"] == "zero volatility"


def test_constant_nonzero_returns_have_no_tiny_std():
    r = np.full(50, 0.001)  # the mean is not exactly 0.001 in floating point
    assert np.isnan(sc.sharpe(r, PPY))
    assert sc.annual_volatility(r, PPY) == 0.0


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, {"total_return": "no observations", "sharpe": "fewer than 2 observations"}),
        (1, {"sharpe": "fewer than 2 observations", "skew": "fewer than 3 observations"}),
        (3, {"kurtosis": "fewer than 4 observations"}),
    ],
)
def test_window_shorter_than_metric_needs(n, expected):
    rng = np.random.default_rng(n)
    values = np.full(10, np.nan)
    values[:n] = rng.normal(0, 0.01, n) + np.array([0.01, -0.02, 0.005])[:n]
    table, reasons = _table(pd.DataFrame({"short": values, "long": rng.normal(0, 0.01, 10)}))
    for key, reason in expected.items():
        assert np.isnan(table.loc["short", key])
        assert reasons["short"][key] == reason
    assert "long" not in reasons
    assert table.loc["short", "n_periods"] == n


def test_nan_rows_are_skipped_not_zero():
    r = pd.Series([0.01, np.nan, -0.02, np.nan, 0.03, 0.01])
    clean = r.dropna().reset_index(drop=True)
    for fn in (sc.total_return, sc.max_drawdown, sc.max_drawdown_duration, sc.skew, sc.hit_rate):
        assert fn(r) == pytest.approx(fn(clean), rel=1e-12)
    assert sc.sharpe(r, PPY) == pytest.approx(sc.sharpe(clean, PPY), rel=1e-12)


def test_benchmark_that_does_not_overlap():
    idx = pd.date_range("2025-01-01", periods=20, freq="D", tz="UTC")
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"run": rng.normal(0, 0.01, 20)}, index=idx)
    bench = pd.Series(rng.normal(0, 0.01, 20), index=idx + pd.Timedelta(days=100))
    table, reasons = _table(df, benchmark=bench)
    for key in sc.BENCHMARK_KEYS:
        assert np.isnan(table.loc["run", key])
        assert reasons["run"][key] == "benchmark does not overlap"
    assert np.isfinite(table.loc["run", "sharpe"])


def test_per_run_benchmark_frame_and_short_overlap():
    idx = pd.date_range("2025-01-01", periods=10, freq="D", tz="UTC")
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"a": rng.normal(0, 0.01, 10), "b": rng.normal(0, 0.01, 10)}, index=idx)
    bench = pd.DataFrame({"a": rng.normal(0, 0.01, 10), "b": np.nan}, index=idx)
    bench.iloc[0, 1] = 0.01
    table, reasons = _table(df, benchmark=bench)
    assert np.isfinite(table.loc["a", "beta"])
    assert reasons["b"]["beta"] == "fewer than 2 overlapping observations"
    assert table.loc["b", "excess_return"] == pytest.approx((1 + df["b"].iloc[0]) - 1.01)


def test_constant_benchmark():
    r = np.random.default_rng(3).normal(0, 0.01, 20)
    table, reasons = sc.metrics_table(pd.DataFrame({"x": r}), PPY, benchmark=pd.Series(np.full(20, 0.001)))
    assert reasons["x"]["beta"] == "benchmark has zero variance"
    assert reasons["x"]["alpha"] == "benchmark has zero variance"


def test_wiped_out_wealth():
    r = np.array([0.1, -1.5, 0.2])  # a leveraged loss beyond -100 %
    table, reasons = sc.metrics_table(pd.DataFrame({"lev": r}), PPY)
    assert reasons["lev"]["annual_return"] == "terminal wealth is negative"
    assert table.loc["lev", "total_return"] < -1


def test_per_run_periods_per_year():
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"eq": rng.normal(0, 0.01, 50), "crypto": rng.normal(0, 0.01, 50)})
    table, _ = sc.metrics_table(df, pd.Series({"crypto": 365.0, "eq": 252.0}))
    assert table.loc["eq", "sharpe"] == pytest.approx(sc.sharpe(df["eq"], 252))
    assert table.loc["crypto", "sharpe"] == pytest.approx(sc.sharpe(df["crypto"], 365))


def test_programming_misuse_raises():
    df = pd.DataFrame({"a": [0.01, 0.02]})
    with pytest.raises(ValueError, match="periods_per_year"):
        sc.metrics_table(df, 0)
    with pytest.raises(ValueError, match="no value for run"):
        sc.metrics_table(df, pd.Series({"other": 252.0}))
    with pytest.raises(ValueError, match="same columns"):
        sc.metrics_table(df, 252, benchmark=pd.DataFrame({"zzz": [0.0, 0.0]}))
    with pytest.raises(ValueError, match="duplicate"):
        sc.metrics_table(pd.DataFrame([[0.1, 0.2]], columns=["a", "a"]), 252)
    with pytest.raises(ValueError, match="rows"):
        sc.beta(np.zeros(5), np.zeros(4))


def test_max_drawdown_duration_by_hand():
    # wealth: 1.1, 0.99, 1.089, 1.1979 (new peak), 1.07811, ...
    r = np.array([0.10, -0.10, 0.10, 0.10, -0.10, 0.05, 0.0, 0.2])
    # under water at rows 1, 2 (2 periods), then 4, 5, 6 (3 periods), row 7 recovers
    assert sc.max_drawdown_duration(r) == 3
    assert sc.max_drawdown_duration(np.array([-0.01, -0.01])) == 2  # first-period loss counts
    assert sc.max_drawdown_duration(np.array([0.01, 0.02])) == 0


def test_hit_rate_ignores_flat_periods():
    assert sc.hit_rate(np.array([0.0, 0.01, 0.0, -0.01, 0.02, 0.0])) == pytest.approx(2 / 3)


def test_ten_thousand_columns_fast():
    import time

    rng = np.random.default_rng(5)
    df = pd.DataFrame(rng.normal(0, 0.01, (20, 10_000)))
    df.iloc[15:, ::3] = np.nan
    start = time.perf_counter()
    table, _ = sc.metrics_table(df, PPY, benchmark=pd.Series(rng.normal(0, 0.01, 20)))
    assert time.perf_counter() - start < 2.0
    assert table.shape == (10_000, len(sc.METRIC_KEYS) + len(sc.BENCHMARK_KEYS))


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as hs  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

_cell = hs.one_of(
    hs.just(np.nan), hs.just(0.0), hs.floats(-0.5, 0.5, allow_nan=False, allow_subnormal=False)
)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, hs.tuples(hs.integers(0, 12), hs.integers(1, 5)), elements=_cell))
def test_property_no_inf_and_every_nan_explained(values):
    df = pd.DataFrame(values, columns=[f"r{i}" for i in range(values.shape[1])])
    bench = pd.Series(np.linspace(-0.01, 0.02, values.shape[0]))
    table, reasons = _table(df, benchmark=bench)
    assert (table["n_periods"] == df.notna().sum()).all()
    assert set(reasons) <= set(df.columns)
