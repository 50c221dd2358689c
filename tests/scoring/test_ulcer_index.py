"""The ulcer index (Martin 1987): the root mean square of the drawdowns, hand-worked."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtests import scoring as sc


def test_ulcer_index_hand_worked():
    r = [0.10, -0.20, 0.10, 0.05]
    # wealth 1.1, 0.88, 0.968, 1.0164; the peak stays 1.1; drawdowns 0, -0.2, -0.12, -0.076
    dd = [0.0, 0.88 / 1.1 - 1, 0.968 / 1.1 - 1, 1.0164 / 1.1 - 1]
    assert dd == pytest.approx([0.0, -0.2, -0.12, -0.076])
    assert sc.ulcer_index(np.array(r)) == pytest.approx(math.sqrt(sum(d * d for d in dd) / 4), rel=1e-15)
    assert sc.ulcer_index(pd.Series([-0.1])) == pytest.approx(0.1)  # the starting wealth is a peak
    assert sc.ulcer_index(pd.Series([0.01, np.nan, 0.02])) == 0.0  # never under water; NaN skipped
    frame = pd.DataFrame({"a": r, "b": [0.0, 0.0, np.nan, np.nan]})
    assert list(sc.ulcer_index(frame).index) == ["a", "b"] and sc.ulcer_index(frame)["b"] == 0.0


def test_ulcer_index_in_the_table_with_its_reason():
    df = pd.DataFrame({"a": [0.1, -0.2, 0.1, 0.05], "empty": [np.nan] * 4})
    for compiled in (True, False):
        table, reasons = sc.metrics_table(df, 252.0, compiled=compiled)
        assert table.loc["a", "ulcer_index"] == sc.ulcer_index(df["a"])
        assert np.isnan(table.loc["empty", "ulcer_index"]) and reasons["empty"]["ulcer_index"] == "no observations"


def test_ulcer_index_matches_a_direct_computation():
    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 0.03, (300, 7))
    x[rng.random(x.shape) < 0.2] = np.nan
    got = sc.ulcer_index(x)
    for j in range(x.shape[1]):
        v = x[~np.isnan(x[:, j]), j]
        w = np.cumprod(1 + v)
        d = w / np.maximum.accumulate(np.maximum(w, 1.0)) - 1
        assert got[j] == pytest.approx(np.sqrt(np.mean(d**2)), rel=1e-13)
