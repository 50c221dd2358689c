"""The ma_cross plug-in: no look-ahead, vectorized weights equal the per-combination definition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.data.synthetic import generate
from backtests.strategy.context import StrategyContext
from backtests.audit import assert_no_lookahead
from strategies.ma_cross import MACross


@pytest.fixture(scope="module")
def data():
    return generate(start="2025-06-02", end="2026-08-31").select(["SPY"])


def test_ma_cross_has_no_lookahead(data):
    cuts = assert_no_lookahead(MACross(), data, {"fast": [3, 10], "slow": [5, 30]}, n_cuts=4)
    assert len(cuts) >= 4


def test_ma_cross_weights_match_the_definition(data):
    ctx = StrategyContext(data, {"asset": "SPY"})
    grid = pd.DataFrame({"fast": [3, 10, 30, 10], "slow": [10, 30, 10, 10]})
    w = MACross().target_weights(ctx, grid)
    assert list(w.columns) == [(i, "SPY") for i in range(4)]
    close = data.bars["SPY"]["close"]
    for i, (f, s) in grid.iterrows():
        want = (close.rolling(f).mean() > close.rolling(s).mean()).astype(float)
        np.testing.assert_array_equal(w[(i, "SPY")].to_numpy(), want.to_numpy())
    assert (w[(3, "SPY")] == 0.0).all()  # fast == slow never crosses
    assert set(np.unique(w.to_numpy())) <= {0.0, 1.0}


def test_ma_cross_single_combination_api(data):
    ctx = StrategyContext(data, {"asset": "SPY"})
    one = MACross().weights(ctx, fast=5, slow=20)
    many = MACross().target_weights(ctx, pd.DataFrame({"fast": [5], "slow": [20]}))
    assert list(one.columns) == ["SPY"]
    np.testing.assert_array_equal(one["SPY"].to_numpy(), many.iloc[:, 0].to_numpy())
