"""Our value accounting on vectorbt's kernel equals vectorbt's own Portfolio on the same orders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.engine.simulate import _kernel


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_value_matches_portfolio_from_orders(seed):
    import vectorbt as vbt

    rng = np.random.default_rng(seed)
    rows, n_syms, groups = 60, 2, 3
    cols = n_syms * groups
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (rows, cols)), axis=0))
    size = np.where(rng.random((rows, cols)) < 0.2, rng.choice([-0.6, -0.3, 0.0, 0.3, 0.6], (rows, cols)), np.nan)
    price = close * (1 + rng.normal(0, 0.005, (rows, cols)))
    fees = np.where(rng.random((rows, cols)) < 0.5, 0.001, 0.003)
    slippage = np.full((1, cols), 0.0005)
    init = 1e6

    rec = _kernel(close, size, price, fees, slippage, n_syms, init)
    pf = vbt.Portfolio.from_orders(
        close=pd.DataFrame(close), size=size, size_type="targetpercent", price=price, fees=fees,
        slippage=slippage, direction="both", init_cash=init, cash_sharing=True,
        group_by=np.repeat(np.arange(groups), n_syms), call_seq="auto", freq="1D")
    assert len(rec) == len(pf.orders.values) > 10
    for f in ("col", "idx", "size", "price", "fees", "side"):
        np.testing.assert_allclose(rec[f], pf.orders.values[f], rtol=1e-12)
    # value recomputed the way simulate() does it
    col, idx = rec["col"].astype(int), rec["idx"].astype(int)
    signed = np.where(rec["side"] == 0, rec["size"], -rec["size"])
    cash = np.zeros((rows, groups))
    np.add.at(cash, (idx, col // n_syms), -signed * rec["price"] - rec["fees"])
    cash = init + np.cumsum(cash, axis=0)
    pos = np.zeros((rows, cols))
    pos[idx, col] = signed
    pos = np.cumsum(pos, axis=0)
    value = cash + (pos * close).reshape(rows, groups, n_syms).sum(axis=2)
    np.testing.assert_allclose(value, pf.value().to_numpy(), rtol=1e-10)
