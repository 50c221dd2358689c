"""The compiled passes around vectorbt's kernel give bit for bit what the numpy expressions they
replaced gave (tests/engine/compiled_reference.py), on random studies: NaN weights and open
prices, fills at the open and the close, both episode entries, paired legs (together, before the
event), leverage caps clipping targets, costs with a sell tax, the credit line, resting weights."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from backtests.data.frames import daily_bars
from backtests.data.market_data import MarketData, SymbolInfo
from backtests.engine import compiled
from backtests.engine.costs import SymbolCosts
from backtests.engine.rules import Rules
from backtests.engine.simulate import simulate
from backtests.time.windows import Event, make_window
from tests.engine import compiled_reference

SYMBOLS = {"A": "XNYS", "B": "XNYS", "K": "XKRX"}


def random_data(rng: np.random.Generator) -> MarketData:
    bars, info = {}, {}
    for sym, market in SYMBOLS.items():
        days = pd.bdate_range("2026-03-02", "2026-08-31")
        close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.02, len(days))))
        opn = close * np.exp(rng.normal(0, 0.01, len(days)))
        opn[rng.random(len(days)) < 0.08] = np.nan  # bars without an open price
        frame = pd.DataFrame({"open": opn, "close": close, "volume": 1e6}, index=days)
        bars[sym] = daily_bars(frame, market)
        info[sym] = SymbolInfo(sym, market)
    return MarketData(bars, info)


def random_weights(rng: np.random.Generator, data: MarketData, symbols: list[str], n: int,
                   short: bool) -> pd.DataFrame:
    index = pd.DatetimeIndex(sorted(set().union(*(data.bars[s].index for s in symbols))))
    levels = np.array([0.0, 0.25, 0.5, 1.0] + ([-0.5, -1.0] if short else []))
    vals = rng.choice(levels, size=(len(index), n * len(symbols)))
    vals[rng.random(vals.shape) < 0.6] = np.nan  # unchanged: carried forward
    cols = pd.MultiIndex.from_product([range(n), symbols])
    return pd.DataFrame(vals, index=index, columns=cols)


def windows():
    events = [Event("e1", "e1", "custom", "XNYS", pd.Timestamp("2026-05-14"), "before_open"),
              Event("e2", "e2", "custom", "XNYS", pd.Timestamp("2026-06-23"), "after_close"),
              Event("e3", "e3", "custom", "XKRX", pd.Timestamp("2026-07-20"), "before_open")]
    return [make_window(e, 8, 12) for e in events]


CASES = [
    dict(symbols=["A"], fill="open", entry="change"),
    dict(symbols=["A"], fill="close", entry="state", exit_at_window_end=False),
    dict(symbols=["A", "B"], fill="open", entry="change", max_leverage=1.5, on_unfillable="clip", short=True),
    dict(symbols=["A", "K"], fill="open", entry="change", paired=True, legs="together", max_leverage=2.0,
         on_unfillable="clip"),
    dict(symbols=["A", "K"], fill="open", entry="state", paired=True, legs="before_event", max_leverage=2.0,
         on_unfillable="clip"),
    dict(symbols=["A", "B", "K"], fill="open", entry="change", max_leverage=2.0, on_unfillable="clip",
         market_caps={"XKRX": 0.5}, financing_rate=0.05, short=True, costs=True),
    dict(symbols=["A", "B"], fill="close", entry="change", costs=True, neutral=True, max_leverage=2.0,
         on_unfillable="clip"),
]


def _run(data, weights, n, rules, neutral):
    return simulate(data, weights, n, windows(), rules, keep_weights=True, neutral=neutral)


def _same(a, b):
    for ra, rb in zip(a, b, strict=True):
        np.testing.assert_array_equal(ra.stamps, rb.stamps)
        for name in ("returns", "held", "target"):
            x, y = getattr(ra, name), getattr(rb, name)
            assert (x is None) == (y is None), name
            if x is not None:
                assert x.shape == y.shape and np.array_equal(x, y, equal_nan=True), name
        pd.testing.assert_frame_equal(ra.orders, rb.orders, check_exact=True)
        assert ra.stats.keys() == rb.stats.keys()
        for key in ra.stats:
            np.testing.assert_array_equal(ra.stats[key], rb.stats[key], err_msg=key)
        assert ra.notices == rb.notices


@pytest.mark.parametrize(("case", "seed"), list(itertools.product(range(len(CASES)), (1, 2))))
def test_compiled_passes_equal_the_numpy_reference(case, seed, monkeypatch):
    spec = dict(CASES[case])
    rng = np.random.default_rng(seed * 100 + case)
    data = random_data(rng)
    symbols = spec.pop("symbols")
    short, with_costs, with_neutral = spec.pop("short", False), spec.pop("costs", False), spec.pop("neutral", False)
    costs = {s: SymbolCosts(commission=0.0005, slippage=0.001, sell_tax=0.002 if s == "K" else 0.0,
                            borrow_rate=0.03, long_yield=0.01) for s in symbols} if with_costs else None
    rules = Rules.build(data.info, symbols, costs=costs, market_caps=spec.pop("market_caps", None), **spec)
    n = 9
    weights = random_weights(rng, data, symbols, n, short)
    neutral = np.full((n, len(symbols)), 0.25) if with_neutral else None
    fast = _run(data, weights, n, rules, neutral)
    assert sum(len(r.orders) for r in fast) > 0
    for name in compiled_reference.PASSES:
        monkeypatch.setattr(compiled, name, getattr(compiled_reference, name))
    slow = _run(data, weights, n, rules, neutral)
    _same(fast, slow)


@pytest.mark.parametrize("gw", [1, 2, 3, 7, 8, 9, 17])
def test_account_pass_sums_a_group_in_numpys_order(gw):
    # records of random orders on groups of gw columns: cash, positions, equity and traded value
    rng = np.random.default_rng(gw)
    n_rows, n_groups = 40, 5
    n_cols = n_groups * gw
    cells = np.flatnonzero(rng.random(n_rows * n_cols) < 0.3)
    rec_idx, rec_col = cells // n_cols, cells % n_cols
    order = np.lexsort((rec_idx, rec_col // gw))  # vectorbt's order: by group, then row
    idx, col = rec_idx[order].astype(np.int64), rec_col[order].astype(np.int64)
    side = rng.integers(0, 2, len(idx))
    size = rng.random(len(idx)) * 10.0 ** rng.integers(-3, 4, len(idx))
    price = rng.random(len(idx)) * 100 + 1
    fees = rng.random(len(idx)) * 0.1
    close = rng.random((n_rows, n_cols)) * 100 + 1
    outs = []
    for impl in (compiled, compiled_reference):
        pos, cash, value, traded = (np.empty((n_rows, n_cols)), np.empty((n_rows, n_groups)),
                                    np.empty((n_rows, n_groups)), np.empty(n_groups))
        impl.account_pass(idx, col, side, size, price, fees, close, gw, max(1, gw - 1), 1e6, pos, cash, value, traded)
        rets, exposure, mean_value = np.empty((n_rows - 2, 3)), np.empty(3), np.empty(3)
        impl.window_pass(value, pos, n_rows - 2, 1, 3, gw, max(1, gw - 1), 1e6, rets, exposure, mean_value)
        outs.append((pos, cash, value, traded, rets, exposure, mean_value))
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


def test_decision_values_refuse_infinite_targets():
    vals = np.array([[0.5, np.nan], [np.inf, 0.0]])
    out_v, out_m = np.empty((2, 2)), np.empty((2, 2), dtype=np.int64)
    assert not compiled.decision_values(vals, np.array([1, 2], dtype=np.int64), 0, out_v, out_m)
