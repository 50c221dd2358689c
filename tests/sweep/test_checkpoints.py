"""Checkpoint files: what is written comes back exactly, and a changed context is not reused."""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.engine.results import RUN_STATS, run_stats
from backtests.notices import Notice
from backtests.sweep.checkpoints import ARRAYS, Checkpoints
from backtests.sweep.chunks import WindowBlock


def _stats(k: int, paired: bool) -> dict[str, np.ndarray]:
    return {s.name: np.arange(k).astype(s.numpy_dtype) + 1 for s in run_stats(paired)}


def test_checkpoint_round_trip_keeps_every_field(tmp_path):
    """Blocks (orders with text columns, notices, optional arrays, the engine's statistics) come back exactly."""
    orders = pd.DataFrame({"combo": np.array([0, 1]), "symbol": np.array(["QQQ", "SPY"]), "row": np.array([0, 3]),
                           "size": [1.5, -2.0], "price": [10.0, 11.0], "fees": [0.0, 0.1],
                           "side": np.where(np.array([0, 1]) == 0, "buy", "sell"),
                           "fill_time": np.array([5, 6], dtype=np.int64)})
    blocks = [
        WindowBlock(window="w1", combos=np.array([3, 4]), stamps=np.array([7, 8], dtype=np.int64),
                    returns=np.ones((2, 2)), bench=None, held=np.zeros((2, 2, 1)), target=None, orders=orders,
                    stats=_stats(2, paired=True),
                    notices=[Notice("weights_clipped", "clipped", window="w1", count=2).record()]),
        WindowBlock(window="w2", combos=np.array([3, 4]), stamps=np.array([], dtype=np.int64),
                    returns=np.zeros((0, 2)), bench=np.zeros(0), held=None, target=None, orders=orders.iloc[:0],
                    stats=_stats(2, paired=False)),
    ]

    class Task:
        label, keep_weights = "x", True
        strategy = object()
        rules = None

    ck = Checkpoints(tmp_path / "ck", {"config_hash": "c", "data": "d", "scare_code": "s"})
    ck.save(Task, 0, 2, blocks)
    back = ck.load(Task, 0, 2)
    assert back is not None and len(back) == 2
    for a, b in zip(blocks, back):
        assert (a.window, a.notices) == (b.window, b.notices)
        for f in ARRAYS:
            x, y = getattr(a, f), getattr(b, f)
            assert (x is None and y is None) or (np.array_equal(x, y) and x.dtype == y.dtype)
        assert list(a.stats) == list(b.stats)
        for name in a.stats:
            assert np.array_equal(a.stats[name], b.stats[name]) and a.stats[name].dtype == b.stats[name].dtype
        pd.testing.assert_frame_equal(a.orders, b.orders)
    assert set(back[0].stats) == {s.name for s in RUN_STATS}  # a paired strategy's block has them all
    other = Checkpoints(tmp_path / "ck", {"config_hash": "c", "data": "CHANGED", "scare_code": "s"})
    assert other.load(Task, 0, 2) is None and other.recomputed[0][2] == "the data changed"

    class Stated(Task):  # same data, config and code, another exchange state (e.g. a new borrow file)
        class rules:  # noqa: N801 - a stand-in with the one attribute the key reads
            state = type("S", (), {"digest": "other"})()

    assert ck.load(Stated, 0, 2) is None
    assert ck.recomputed[-1][2] == "the exchange state derived from the data changed"
