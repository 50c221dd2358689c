"""vectorbt's Rust engine and its numba kernel give the same order records, byte for byte."""

from __future__ import annotations

import numpy as np
import pytest

from backtests.engine import kernels
from backtests.engine.kernels import default_call_seq, from_orders

rust = pytest.mark.skipif(kernels._rust() is None, reason="vectorbt-rust not installed at vectorbt's version")


def random_inputs(seed: int, rows: int = 80, n_syms: int = 2, groups: int = 5):
    rng = np.random.default_rng(seed)
    cols = n_syms * groups
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.03, (rows, cols)), axis=0))
    size = np.where(rng.random((rows, cols)) < 0.2, rng.choice([-1.5, -0.6, 0.0, 0.3, 0.6, 1.0], (rows, cols)), np.nan)
    price = np.where(np.isnan(size), np.nan, close * (1 + rng.normal(0, 0.005, (rows, cols))))
    fees = np.where(rng.random((rows, cols)) < 0.5, 0.001, 0.003)
    return dict(shape=(rows, cols), group_lens=np.full(groups, n_syms, dtype=np.int64),
                init_cash=np.full(groups, 1e6),
                params=dict(size=size, price=price, size_type=kernels.SIZE_TARGET_PERCENT,
                            direction=kernels.DIRECTION_BOTH, fees=fees, slippage=np.full((1, cols), 0.0005),
                            min_size=1e-8, close=close))


def run(inputs, engine, **override):
    params = {**inputs["params"], **override}
    return from_orders(inputs["shape"], inputs["group_lens"], inputs["init_cash"], engine=engine, **params)


def test_enum_values_and_call_sequence_are_vectorbts():
    from vectorbt.portfolio.enums import Direction, SizeType
    from vectorbt.portfolio.nb import build_call_seq

    assert kernels.SIZE_TARGET_PERCENT == SizeType.TargetPercent
    assert kernels.DIRECTION_BOTH == Direction.Both
    lens = np.array([3, 1, 2], dtype=np.int64)
    ours, theirs = default_call_seq((4, 6), lens), build_call_seq((4, 6), lens)
    np.testing.assert_array_equal(ours, theirs)
    assert ours.flags.f_contiguous and ours.flags.writeable and ours.dtype == np.int64


@rust
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_rust_records_are_byte_identical_to_numba(seed):
    inputs = random_inputs(seed, n_syms=1 + seed % 3)
    rec_nb, eng_nb = run(inputs, "numba")
    rec_rs, eng_rs = run(inputs, "rust")
    assert (eng_nb, eng_rs) == ("numba", "rust")
    assert len(rec_nb) > 20
    assert rec_nb.dtype == rec_rs.dtype
    assert rec_nb.tobytes() == rec_rs.tobytes()


@rust
def test_compact_arrays_give_the_same_records_as_broadcast_ones():
    inputs = random_inputs(7, n_syms=1, groups=6)
    rows, cols = inputs["shape"]
    close = np.repeat(inputs["params"]["close"][:, :1], cols, axis=1)  # one price path for every column
    full, _ = run(inputs, "numba", close=close, fees=np.full((rows, cols), 0.002))
    for engine in ("numba", "rust"):
        compact, _ = run(inputs, engine, close=close[:, :1], fees=0.002)
        assert compact.tobytes() == full.tobytes()


def test_auto_falls_back_to_numba_where_rust_does_not_apply(monkeypatch):
    inputs = random_inputs(4)
    # random rejections use numba's generator in vectorbt: never dispatched to Rust
    _, eng = run(inputs, "auto", reject_prob=0.1)
    assert eng == "numba"
    with pytest.raises(ValueError, match="Rust engine"):
        run(inputs, "rust", reject_prob=0.1)
    monkeypatch.setattr(kernels, "_rust", lambda: None)  # not installed
    _, eng = run(inputs, "auto")
    assert eng == "numba"
    monkeypatch.setenv("SCARE_KERNEL", "numba")
    assert from_orders(inputs["shape"], inputs["group_lens"], inputs["init_cash"], **inputs["params"])[1] == "numba"
    monkeypatch.setenv("SCARE_KERNEL", "fast")
    with pytest.raises(ValueError, match="SCARE_KERNEL"):
        kernels.requested_engine()


@rust
def test_simulate_is_identical_on_both_engines(monkeypatch):
    from tests.engine.test_execution import us_data, weights, window

    from backtests.engine.costs import SymbolCosts
    from backtests.engine.rules import Rules
    from backtests.engine.simulate import simulate

    md = us_data()
    idx = md.bars["A"].index
    rng = np.random.default_rng(3)
    w = weights(idx, rng.choice([-1.0, 0.0, 0.5, 1.0], (len(idx), 4)), combos=4)
    costs = {"A": SymbolCosts(commission=0.001, sell_tax=0.002, slippage=0.0005, borrow_rate=0.03)}
    out = {}
    for engine in ("numba", "rust"):
        monkeypatch.setenv("SCARE_KERNEL", engine)
        (res,) = simulate(md, w, 4, [window()], Rules.build(md.info, ["A"], costs=costs))
        out[engine] = res
    a, b = out["numba"], out["rust"]
    assert len(a.orders) > 3
    assert a.returns.tobytes() == b.returns.tobytes()
    assert a.held.tobytes() == b.held.tobytes()
    assert a.orders.equals(b.orders)
