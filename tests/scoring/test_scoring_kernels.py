"""The compiled metrics table equals the panel (numpy) definitions bit for bit, reasons included."""

from __future__ import annotations

import empyrical as ep
import numpy as np
import pandas as pd
import pytest

from backtests import scoring as sc
from backtests.scoring import kernels


def _case(seed: int, rows: int, cols: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0005, 0.02, (rows, cols))
    if seed % 3 == 0:
        x[rng.random((rows, cols)) < 0.3] = np.nan  # runs of different lengths, gaps
    if seed % 5 == 1 and rows:
        x[:, 0] = 0.0  # a run that never trades: constant, no losses
    if seed % 7 == 2 and rows > 3:
        x[: rows // 2] = np.nan
    if seed % 4 == 3:
        x = np.round(x, 3)  # ties and exact zeros
    if cols > 2:
        x[:, -1] = np.nan  # a run without observations
    b = rng.normal(0, 0.01, (rows, cols))
    b[rng.random((rows, cols)) < 0.1] = np.nan
    df = pd.DataFrame(x, columns=[f"r{i}" for i in range(cols)])
    bench = pd.DataFrame(b, columns=df.columns) if seed % 2 else pd.Series(b[:, 0])
    ppy = pd.Series(rng.choice([252.0, 365.0], cols), index=df.columns)
    return df, ppy, bench, [0.0, 0.0001][seed % 2]


def _assert_same(got, want):
    (t1, r1), (t2, r2) = got, want
    assert list(t1.columns) == list(t2.columns)
    for key in t2.columns:
        assert t1[key].dtype == t2[key].dtype
        assert t1[key].to_numpy().tobytes() == t2[key].to_numpy().tobytes(), key
    assert r1 == r2


# one column sums pairwise in numpy (the reduced axis is contiguous), several add row by row:
# lengths around numpy's pairwise block (128) and its 8-way unrolling
@pytest.mark.parametrize("seed,rows,cols", [
    (0, 0, 1), (1, 1, 1), (2, 7, 1), (3, 129, 1), (4, 300, 1), (5, 1100, 1),
    (6, 0, 3), (7, 2, 4), (8, 60, 5), (9, 260, 17), (10, 33, 130), (11, 500, 3),
])
def test_compiled_table_is_bit_identical_to_the_panel_definitions(seed, rows, cols):
    df, ppy, bench, rf = _case(seed, rows, cols)
    _assert_same(sc.metrics_table(df, ppy, bench, rf), sc.metrics_table(df, ppy, bench, rf, compiled=False))
    _assert_same(sc.metrics_table(df, ppy, None, rf), sc.metrics_table(df, ppy, None, rf, compiled=False))


def test_extreme_values_and_layouts():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 0.05, (90, 6))
    x[5, 1] = np.inf  # wealth becomes inf, then nan
    x[:, 2] = -1.5  # wealth goes negative
    x[10:, 3] = np.nan
    x[:, 4] = 0.01  # constant
    for frame in (pd.DataFrame(x), pd.DataFrame(np.asfortranarray(x)), pd.DataFrame(x[:, ::-1].copy())):
        frame.columns = [f"c{i}" for i in range(6)]
        _assert_same(sc.metrics_table(frame, 252.0, frame["c0"] * 0.5),
                     sc.metrics_table(frame, 252.0, frame["c0"] * 0.5, compiled=False))


def test_compiled_table_matches_empyrical():
    rng = np.random.default_rng(11)
    r = pd.Series(rng.normal(0.0006, 0.015, 400))
    b = pd.Series(rng.normal(0.0003, 0.01, 400))
    table, _ = sc.metrics_table(pd.DataFrame({"a": r, "b": r * 0.5 + b}), 252.0, b)
    for col in table.index:
        x = r if col == "a" else r * 0.5 + b
        row = table.loc[col]
        np.testing.assert_allclose(row["sharpe"], ep.sharpe_ratio(x, annualization=252), rtol=1e-9)
        np.testing.assert_allclose(row["sortino"], ep.sortino_ratio(x, annualization=252), rtol=1e-9)
        np.testing.assert_allclose(row["max_drawdown"], ep.max_drawdown(x), rtol=1e-9)
        np.testing.assert_allclose(row["conditional_value_at_risk"], ep.conditional_value_at_risk(x), rtol=1e-9)
        np.testing.assert_allclose(row["tail_ratio"], ep.tail_ratio(x), rtol=1e-9)
        np.testing.assert_allclose(row["beta"], ep.beta(x, b), rtol=1e-9)
        np.testing.assert_allclose(row["alpha"], ep.alpha(x, b, annualization=252), rtol=1e-9)


def test_kernels_compile_once_for_every_layout():
    x = np.random.default_rng(0).normal(size=(20, 6))
    ro = x.copy()
    ro.flags.writeable = False
    for arr in (x, np.asfortranarray(x), x[:, ::2], ro, np.broadcast_to(x[:, :1], (20, 6))):
        kernels.run_stats(arr, 0.0)
        kernels.pair_stats(arr, arr, 0.0)
    assert len(kernels.run_stats.signatures) == len(kernels.pair_stats.signatures) == 1
